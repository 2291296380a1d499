/* Pulsebox Web Push: the service worker, imported by the small file the site serves (it sets self.PULSEBOX). */
(function () {
  "use strict";

  var config = self.PULSEBOX || {};
  var DELIVERY_WAIT_MS = 3000;

  function warn(err) {
    console.warn("Pulsebox push:", err);
  }

  function base64urlToBytes(text) {
    var raw = atob(text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4));
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    return bytes;
  }

  self.addEventListener("install", function (event) {
    event.waitUntil(self.skipWaiting());
  });

  self.addEventListener("activate", function (event) {
    event.waitUntil(self.clients.claim());
  });

  // Report delivery, but never let a failing or slow report keep the notification from showing.
  function reportDelivered(url) {
    if (typeof url !== "string" || !url) return Promise.resolve();
    var report = fetch(url, { method: "POST", mode: "no-cors", keepalive: true }).catch(warn);
    var timeout = new Promise(function (resolve) { setTimeout(resolve, DELIVERY_WAIT_MS); });
    return Promise.race([report, timeout]);
  }

  function readPayload(data) {
    if (!data) return { body: "" };
    try {
      var payload = data.json();
      if (payload && typeof payload === "object" && !Array.isArray(payload)) return payload;
    } catch (e) { /* not JSON: fall through to the text */ }
    var text = "";
    try { text = data.text(); } catch (e) { /* binary: no text either */ }
    return { body: text };
  }

  function showPush(payload) {
    var buttons = Array.isArray(payload.buttons) ? payload.buttons.filter(function (b) {
      return b && typeof b.title === "string";
    }) : [];
    var options = {
      body: typeof payload.body === "string" ? payload.body : "",
      data: { click: payload.click || null, buttons: buttons },
      actions: buttons.map(function (b, i) { return { action: "b" + i, title: b.title }; }),
      requireInteraction: false
    };
    // A null icon or image would be turned into the URL "null": leave them out instead.
    if (payload.icon) options.icon = payload.icon;
    if (payload.image) options.image = payload.image;
    if (payload.tag) options.tag = payload.tag;
    return self.registration.showNotification(titleOf(payload), options);
  }

  // A userVisibleOnly push must show something: without a title, the site's name.
  function titleOf(payload) {
    return typeof payload.title === "string" && payload.title ? payload.title : self.location.hostname;
  }

  self.addEventListener("push", function (event) {
    var payload = readPayload(event.data);
    event.waitUntil(reportDelivered(payload.delivered).then(function () {
      return showPush(payload);
    }).catch(function (err) {
      // Options this browser rejects must not cost the message: show its bare text.
      warn(err);
      return self.registration.showNotification(titleOf(payload), {
        body: typeof payload.body === "string" ? payload.body : ""
      });
    }).catch(warn));
  });

  self.addEventListener("notificationclick", function (event) {
    var notification = event.notification;
    var data = notification.data || {};
    notification.close();
    var url = data.click;
    var match = /^b(\d+)$/.exec(event.action || "");
    var button = match && data.buttons && data.buttons[Number(match[1])];
    if (button && button.click) url = button.click;
    if (url) event.waitUntil(self.clients.openWindow(url).catch(warn));
  });

  // The browser renewed (or dropped) the subscription: subscribe again if needed and tell the
  // server, which moves the old endpoint's subscriber and variables to the new one.
  function resubscribe(event) {
    var old = event.oldSubscription;
    if (!config.subscribeUrl) return Promise.reject(new Error("self.PULSEBOX is not set"));
    var renewed = event.newSubscription ? Promise.resolve(event.newSubscription) :
      self.registration.pushManager.subscribe({
        userVisibleOnly: true,
        applicationServerKey: (old && old.options && old.options.applicationServerKey) ||
          base64urlToBytes(config.vapidPublicKey)
      });
    return renewed.then(function (sub) {
      return fetch(config.subscribeUrl, {
        method: "POST",
        // text/plain keeps this a CORS simple request, as in the snippet.
        headers: { "Content-Type": "text/plain;charset=UTF-8" },
        body: JSON.stringify({
          appkey: config.appkey,
          subscription: sub.toJSON(),
          old_endpoint: old ? old.endpoint : null
        })
      });
    }).then(function (res) {
      if (!res.ok) throw new Error("subscribe answered HTTP " + res.status);
    });
  }

  self.addEventListener("pushsubscriptionchange", function (event) {
    event.waitUntil(resubscribe(event).catch(warn));
  });
})();
