/* Pulsebox admin UI: the captured inbox updates itself (new messages appear without a reload). */
(function () {
  "use strict";
  var table = document.getElementById("inbox");
  if (!table) return;
  var body = table.tBodies[0];
  var empty = document.querySelector(".empty");
  var search = table.getAttribute("data-search") || "";
  var EVERY_MS = 2000;

  function cell(row, text) {
    var td = document.createElement("td");
    td.textContent = text;
    row.appendChild(td);
    return td;
  }

  function rowFor(m) {
    var tr = document.createElement("tr");
    tr.setAttribute("data-id", m.id);
    tr.className = "new";
    cell(tr, m.created_at);
    cell(tr, m.to);
    var subject = cell(tr, "");
    var link = document.createElement("a");
    link.href = "/ui/inbox/" + encodeURIComponent(m.id);
    link.textContent = m.subject || "(no subject)";
    subject.appendChild(link);
    cell(tr, String(m.size)).className = "num";
    return tr;
  }

  function refresh() {
    fetch("/ui/inbox/messages.json?q=" + encodeURIComponent(search), { credentials: "same-origin" })
      .then(function (res) { return res.ok ? res.json() : null; })
      .then(function (messages) {
        if (!messages) return;
        var known = {};
        Array.prototype.forEach.call(body.rows, function (tr) { known[tr.getAttribute("data-id")] = true; });
        var first = body.firstChild;
        messages.forEach(function (m) {
          if (!known[String(m.id)]) body.insertBefore(rowFor(m), first);
        });
        if (empty) empty.hidden = body.rows.length > 0;
      })
      .catch(function () { /* offline for a moment: the next turn tries again */ })
      .then(function () { setTimeout(refresh, EVERY_MS); });
  }
  setTimeout(refresh, EVERY_MS);
})();

/* An import under way: its progress bar and counts follow the worker (asked every second). */
(function () {
  "use strict";
  var box = document.getElementById("import");
  if (!box) return;
  var bar = box.querySelector("progress");
  var words = { queued: "Importing…", done: "Done.", failed: "Stopped: " };
  function show(name, value) {
    var field = box.querySelector('[data-field="' + name + '"]');
    if (field) field.textContent = typeof value === "number" ? value.toLocaleString("en") : (value || "");
  }
  function refresh() {
    fetch(box.getAttribute("data-progress"), { credentials: "same-origin" })
      .then(function (res) { return res.ok ? res.json() : null; })
      .then(function (job) {
        if (!job) return setTimeout(refresh, 1000);
        bar.max = job.total || 1;
        bar.value = job.done;
        ["done", "added", "skipped"].forEach(function (k) { show(k, job[k]); });
        show("status", words[job.status] || job.status);
        show("error", job.error);
        if (job.status === "queued") setTimeout(refresh, 1000);
      })
      .catch(function () { setTimeout(refresh, 2000); });
  }
  refresh();
})();

/* A campaign's HTML, previewed as it is typed, in a sandboxed frame (no scripts run in it). */
(function () {
  "use strict";
  var body = document.getElementById("body");
  var frame = document.getElementById("preview");
  if (!body || !frame) return;
  var timer = null;
  function show() { frame.srcdoc = body.value; }
  body.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(show, 300); });
  show();
})();

/* The segment builder: how many contacts its conditions match, asked again as they change. A big list is
   counted a part at a time (each answer says where to go on): the figure grows until it is whole. */
(function () {
  "use strict";
  var form = document.getElementById("segment-builder");
  if (!form) return;
  var out = form.querySelector('[data-field="matching"]');
  var timer = null;
  var asking = 0;  // the latest count: an answer to an older one is dropped
  function show(total, active, done) {
    out.textContent = total.toLocaleString("en") + " contacts (" + active.toLocaleString("en") + " active)" +
      (done ? "" : " so far, counting…");
  }
  function count() {
    var query = new URLSearchParams(new FormData(form));
    query.delete("csrf");
    query.delete("segment_name");
    if (!query.get("var_0") && !query.get("var_1") && !query.get("var_2")) { out.textContent = "–"; return; }
    var mine = ++asking, total = 0, active = 0;
    function part(after) {
      query.set("after", after);
      fetch(form.getAttribute("data-count") + "?" + query.toString(), { credentials: "same-origin" })
        .then(function (res) { return res.json(); })
        .then(function (answer) {
          if (mine !== asking) return;
          if (answer.is_error) { out.textContent = answer.message; return; }
          total += answer.total;
          active += answer.active;
          show(total, active, answer.after === null);
          if (answer.after !== null) part(answer.after);
        })
        .catch(function () { if (mine === asking) out.textContent = "–"; });
    }
    part(0);
  }
  form.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(count, 400); });
  form.addEventListener("change", function () { clearTimeout(timer); timer = setTimeout(count, 100); });
})();
