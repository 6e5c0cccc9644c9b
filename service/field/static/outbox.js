// The outbox: reports wait in the phone's IndexedDB until the server has taken them (idb, vendored).
// Each report carries a client id made on the phone, so sending it again after a lost answer stores nothing twice:
// the server answers a repeat with the report it already has. A report the server refuses (a 4xx other than a
// missing session) stays, marked refused with the server's reason, until the monitor deletes it: nothing is lost.
/* global idb */
(function () {
  "use strict";
  var DB_NAME = "geohazard-field";
  var WAITING = "outbox";
  var SENT = "sent";
  var KEEP_SENT = 20;
  var ENDPOINT = "/field/reports";
  var database = null;
  var flushing = null;

  function open() {
    database = database || idb.openDB(DB_NAME, 1, {
      upgrade: function (db) {
        db.createObjectStore(WAITING, {keyPath: "client_id"});
        db.createObjectStore(SENT, {keyPath: "client_id"});
      }
    });
    return database;
  }

  function changed() {
    window.dispatchEvent(new CustomEvent("outbox-changed"));
  }

  function newClientId() {
    if (window.crypto && crypto.randomUUID) {
      return crypto.randomUUID();
    }
    // A version 4 UUID from the phone's random numbers, where randomUUID is missing (an older browser).
    var bytes = crypto.getRandomValues(new Uint8Array(16));
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    var hex = Array.prototype.map.call(bytes, function (b) { return (b + 0x100).toString(16).slice(1); }).join("");
    return [hex.slice(0, 8), hex.slice(8, 12), hex.slice(12, 16), hex.slice(16, 20), hex.slice(20)].join("-");
  }

  function meta(name) {
    var element = document.querySelector('meta[name="' + name + '"]');
    return element ? element.content : "";
  }

  // The phone's CSRF token as the server has it now: a page from the cache may carry the token of a session that
  // was replaced since (the phone activated again), so a refused token is fetched afresh once before giving up.
  var token = null;
  function csrfToken() {
    return token || meta("csrf-token");
  }
  function freshToken() {
    return fetch("/field/outbox", {credentials: "same-origin", cache: "no-store"}).then(function (response) {
      return response.ok && !response.redirected ? response.text() : "";
    }).then(function (html) {
      var found = /<meta name="csrf-token" content="([^"]+)">/.exec(html);
      token = found ? found[1] : null;
      return token;
    });
  }

  function formOf(item) {
    var form = new FormData();
    var fields = item.fields;
    Object.keys(fields).forEach(function (name) {
      var value = fields[name];
      if (value === null || value === undefined || value === "") {
        return;
      }
      if (name === "findings") {
        value.forEach(function (finding) { form.append("findings", finding); });
      } else if (name === "measurements") {
        if (value.length) { form.append("measurements", JSON.stringify(value)); }
      } else {
        form.append(name, String(value));
      }
    });
    form.append("client_id", item.client_id);
    item.photos.forEach(function (photo, i) { form.append("photos", photo, "photo-" + (i + 1) + ".jpg"); });
    return form;
  }

  function reason(response) {
    return response.json().then(function (body) {
      var detail = body && body.detail;
      if (Array.isArray(detail)) {
        return detail.map(function (e) { return (e.loc || []).slice(1).join(".") + ": " + e.msg; }).join("; ");
      }
      return detail || String(response.status);
    }, function () { return "HTTP " + response.status; });
  }

  function post(item) {
    return fetch(ENDPOINT, {
      method: "POST", body: formOf(item), credentials: "same-origin",
      headers: {"X-CSRF-Token": csrfToken(), "Accept": "application/json"}
    });
  }

  // Send one report: "sent", "kept" (try again later) or "refused" (the server will never take it as it is).
  // A report made on this phone by another person (the phone activated again for someone else) is kept, unsent:
  // it must not be filed in the new person's name.
  function send(db, item) {
    var person = meta("field-person");
    if (item.person_id && person && item.person_id !== person) {
      item.state = "waiting";
      item.held = true;
      return db.put(WAITING, item).then(function () { return "kept"; });
    }
    item.held = false;
    item.tries = (item.tries || 0) + 1;
    item.tried_at = new Date().toISOString();
    return post(item).then(function (response) {
      if (response.status !== 403) {
        return response;
      }
      return freshToken().then(function (fresh) { return fresh ? post(item) : response; });
    }).then(function (response) {
      if (response.ok) {
        return response.json().then(function (report) {
          var tx = db.transaction([WAITING, SENT], "readwrite");
          tx.objectStore(WAITING).delete(item.client_id);
          tx.objectStore(SENT).put({
            client_id: item.client_id, point_name: item.point_name, made_at: item.fields.reported_at,
            sent_at: new Date().toISOString(), report_id: report.id, alert_id: report.alert_id,
            far_from_point: report.far_from_point, dangerous: item.fields.judgement === "dangerous"
          });
          return tx.done.then(function () { return "sent"; });
        });
      }
      return reason(response).then(function (text) {
        var again = response.status === 401 || response.status === 403 || response.status === 408 ||
          response.status === 429 || response.status >= 500;
        item.state = again ? "waiting" : "refused";
        item.error = text;
        return db.put(WAITING, item).then(function () { return again ? "kept" : "refused"; });
      });
    }, function () {
      item.state = "waiting";
      item.error = null;  // no signal: nothing to tell but that it waits
      return db.put(WAITING, item).then(function () { return "kept"; });
    });
  }

  function sendAll() {
    return open().then(function (db) {
      return db.getAll(WAITING).then(function (items) {
        var waiting = items.filter(function (item) { return item.state !== "refused"; });
        waiting.sort(function (a, b) { return a.created_at < b.created_at ? -1 : 1; });
        var summary = {sent: 0, kept: 0, refused: 0};
        // One after another: a weak signal carries one report better than several at once.
        return waiting.reduce(function (done, item) {
          return done.then(function () {
            return send(db, item).then(function (outcome) { summary[outcome] += 1; });
          });
        }, Promise.resolve()).then(function () { return summary; });
      });
    });
  }

  // Send every waiting report; one flush at a time in this page, and in all the app's pages where the browser
  // has Web Locks (a second flush while one runs waits for it: the server would take a repeat anyway).
  function flush() {
    if (flushing) {
      return flushing;
    }
    var run = navigator.locks ? navigator.locks.request("geohazard-outbox", sendAll) : sendAll();
    flushing = run.then(function (summary) { flushing = null; changed(); return summary; },
                        function (error) { flushing = null; changed(); throw error; });
    return flushing;
  }

  function add(item) {
    item.client_id = item.client_id || newClientId();
    item.person_id = meta("field-person");
    item.person_name = meta("field-person-name");
    item.created_at = new Date().toISOString();
    item.state = "waiting";
    item.tries = 0;
    return open().then(function (db) { return db.put(WAITING, item); }).then(function () {
      changed();
      return item;
    });
  }

  function waiting() {
    return open().then(function (db) { return db.getAll(WAITING); });
  }

  function sent() {
    return open().then(function (db) { return db.getAll(SENT); }).then(function (items) {
      items.sort(function (a, b) { return a.sent_at < b.sent_at ? 1 : -1; });
      return items;
    });
  }

  // The last few sent reports are kept for the monitor to see what went; older ones are forgotten.
  function forgetOldSent() {
    return open().then(function (db) {
      return sent().then(function (items) {
        return Promise.all(items.slice(KEEP_SENT).map(function (item) { return db.delete(SENT, item.client_id); }));
      });
    });
  }

  function remove(clientId) {
    return open().then(function (db) { return db.delete(WAITING, clientId); }).then(changed);
  }

  window.Outbox = {add: add, flush: flush, waiting: waiting, sent: sent, remove: remove, forgetOldSent: forgetOldSent};
})();
