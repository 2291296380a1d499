/* Pulsebox Web Push: the snippet a website includes (SendPulse-compatible `oSpP`). */
(function (config) {
  "use strict";

  var STORAGE_KEY = "pulsebox-push";
  var queued = window.oSpP;
  if (queued && queued.pulsebox) return; // included twice: the first copy does the work

  var variables = {};
  var pushTimer = null;
  var permissionAsked = null; // one prompt at a time (load + a click may overlap)
  var posting = Promise.resolve(); // posts run one after another, each sees the last one's record

  function warn(err) {
    console.warn("Pulsebox push:", err);
  }

  function setVariable(name, value) {
    if (typeof name === "string" && name && (typeof value === "string" || typeof value === "number")) {
      variables[name] = value;
    }
  }

  // Before the script loaded the page pushed either [name, value] arrays or flat name, value pairs.
  if (Array.isArray(queued)) {
    for (var i = 0; i < queued.length; i++) {
      if (Array.isArray(queued[i])) setVariable(queued[i][0], queued[i][1]);
      else setVariable(queued[i], queued[++i]);
    }
  }

  // First match wins: Chromium-based browsers also say "Chrome" and "Safari", so they come first.
  var BROWSERS = [["Yandex", /YaBrowser\//], ["Edge", /Edg(e|A|iOS)?\//], ["Opera", /OPR\/|Opera|OPT\//],
    ["Samsung Internet", /SamsungBrowser\//], ["Vivaldi", /Vivaldi\//], ["Firefox", /Firefox\/|FxiOS\//],
    ["Chrome", /Chrome\/|CriOS\/|Chromium\//], ["Safari", /Safari\//]];
  var SYSTEMS = [["Windows", /Windows/], ["Android", /Android/], ["iOS", /iPhone|iPad|iPod/],
    ["ChromeOS", /CrOS/], ["macOS", /Mac OS X|Macintosh/], ["Linux", /Linux|X11/]];

  function detect(table) {
    for (var k = 0; k < table.length; k++) if (table[k][1].test(navigator.userAgent)) return table[k][0];
    return "Other";
  }

  function detectBrowser() {
    return detect(BROWSERS);
  }

  function detectOs() {
    var os = detect(SYSTEMS);
    // iPadOS asks for the desktop site and calls itself a Mac; touch gives it away.
    return os === "macOS" && navigator.maxTouchPoints > 1 ? "iOS" : os;
  }

  var supported = window.isSecureContext && "serviceWorker" in navigator &&
    "PushManager" in window && "Notification" in window;

  var api = {
    pulsebox: true,
    push: function (name, value) {
      if (Array.isArray(name)) setVariable(name[0], name[1]);
      else setVariable(name, value);
      if (!supported) return;
      clearTimeout(pushTimer);
      pushTimer = setTimeout(repost, 500);
    },
    detectBrowser: detectBrowser,
    detectOs: detectOs,
    subscribe: function () { return Promise.resolve(null); },
    unsubscribe: function () { return Promise.resolve(false); },
    getSubscription: function () { return Promise.resolve(null); }
  };
  window.oSpP = api;
  // Without push support the page keeps a harmless oSpP (its calls must not throw) and nothing more happens.
  if (!supported) return;

  function base64urlToBytes(text) {
    var raw = atob(text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4));
    var bytes = new Uint8Array(raw.length);
    for (var j = 0; j < raw.length; j++) bytes[j] = raw.charCodeAt(j);
    return bytes;
  }

  var serverKey = base64urlToBytes(config.vapidPublicKey);

  function sameKey(sub) {
    var key = sub.options && sub.options.applicationServerKey;
    if (!key) return true; // the browser does not tell: keep the subscription rather than churn
    key = new Uint8Array(key);
    if (key.length !== serverKey.length) return false;
    for (var j = 0; j < key.length; j++) if (key[j] !== serverKey[j]) return false;
    return true;
  }

  // pushManager.subscribe needs an active worker; `ready` may answer for another site worker
  // with a narrower scope, then wait for ours to activate.
  function activated(reg) {
    var worker = reg.installing || reg.waiting;
    if (reg.active || !worker) return Promise.resolve(reg);
    return new Promise(function (resolve) {
      worker.addEventListener("statechange", function () {
        if (worker.state === "activated") resolve(reg);
      });
    });
  }

  var registration = navigator.serviceWorker.register(config.workerPath, { scope: "/" })
    .then(function (reg) {
      return navigator.serviceWorker.ready.then(function (ready) {
        return ready.scope === reg.scope ? ready : activated(reg);
      });
    });

  function getSubscription() {
    return registration.then(function (reg) { return reg.pushManager.getSubscription(); });
  }

  function askPermission() {
    if (Notification.permission !== "default") return Promise.resolve(Notification.permission);
    if (!permissionAsked) {
      permissionAsked = new Promise(function (resolve) {
        // Older Safari only takes a callback; newer browsers return a Promise.
        var answer = Notification.requestPermission(resolve);
        if (answer && answer.then) answer.then(resolve, function () { resolve(Notification.permission); });
      }).then(function (permission) {
        permissionAsked = null;
        return permission;
      });
    }
    return permissionAsked;
  }

  function ensureSubscription(reg) {
    return reg.pushManager.getSubscription().then(function (sub) {
      if (sub && sameKey(sub)) return sub;
      var dropped = sub ? sub.unsubscribe().catch(warn) : Promise.resolve();
      return dropped.then(function () {
        return reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: serverKey });
      });
    });
  }

  function loadRecord() {
    try {
      return JSON.parse(localStorage.getItem(STORAGE_KEY)) || null;
    } catch (e) {
      return null; // storage disabled or garbage: post again, harmless
    }
  }

  function saveRecord(record) {
    try {
      if (record) localStorage.setItem(STORAGE_KEY, JSON.stringify(record));
      else localStorage.removeItem(STORAGE_KEY);
    } catch (e) { /* storage disabled: every page view posts, still correct */ }
  }

  function send(sub) {
    var json = sub.toJSON();
    var saved = loadRecord();
    var sameApp = saved && saved.appkey === config.appkey;
    var known = (sameApp && saved.variables) || {};
    var changed = !sameApp || saved.endpoint !== json.endpoint;
    // Send every variable posted so far plus the page's, so a page without them does not wipe them.
    var merged = {};
    Object.keys(known).forEach(function (k) { merged[k] = known[k]; });
    Object.keys(variables).forEach(function (k) {
      if (merged[k] !== variables[k]) changed = true;
      merged[k] = variables[k];
    });
    if (!changed) return Promise.resolve(saved.id);

    var body = {
      appkey: config.appkey,
      subscription: json,
      lang: (navigator.language || "").split("-")[0].toLowerCase(),
      browser: detectBrowser(),
      os: detectOs(),
      url: location.href,
      variables: merged
    };
    // The browser changed the endpoint (or we resubscribed): let the server move the old one.
    if (sameApp && saved.endpoint && saved.endpoint !== json.endpoint) body.old_endpoint = saved.endpoint;

    // text/plain keeps this a CORS simple request: no preflight.
    return fetch(config.subscribeUrl, {
      method: "POST",
      headers: { "Content-Type": "text/plain;charset=UTF-8" },
      body: JSON.stringify(body)
    }).then(function (res) {
      return res.json();
    }).then(function (answer) {
      if (!answer || !answer.result) throw new Error("subscribe refused: " + JSON.stringify(answer));
      saveRecord({ id: answer.id, endpoint: json.endpoint, appkey: config.appkey, variables: merged });
      return answer.id;
    });
  }

  function post(sub) {
    var done = posting.then(function () { return send(sub); });
    posting = done.catch(function () {});
    return done;
  }

  function subscribe() {
    if (Notification.permission === "denied") return Promise.resolve(null);
    // Ask first, synchronously in the caller's click, before any await loses the user gesture.
    return askPermission().then(function (permission) {
      if (permission !== "granted") return null;
      return registration.then(ensureSubscription).then(function (sub) {
        return post(sub).then(function () { return sub; });
      });
    });
  }

  function repost() {
    if (Notification.permission !== "granted") return;
    getSubscription().then(function (sub) { return sub && post(sub); }).catch(warn);
  }

  api.subscribe = subscribe;
  api.getSubscription = getSubscription;
  api.unsubscribe = function () {
    return getSubscription().then(function (sub) {
      saveRecord(null);
      return sub ? sub.unsubscribe() : false;
    });
  };

  // SendPulse's default: ask on load. Browsers that demand a click keep the prompt for oSpP.subscribe().
  registration.then(function () {
    if (Notification.permission !== "denied") return subscribe();
  }).catch(warn);
})(__PULSEBOX_CONFIG__);
