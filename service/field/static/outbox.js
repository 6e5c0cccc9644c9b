// The outbox: reports wait in the phone's IndexedDB until the server has taken them (idb, vendored). The same
// script runs in the app's pages and in its service worker, so a waiting report is sent when the signal comes back
// even with the app closed (Background Sync: the browser wakes the worker; no push service is involved).
// - Each report carries a client id made on the phone: sent again after a lost answer, it is stored once (the server
//   answers a repeat with the report it has).
// - A report goes only in the name of the person who made it: the phone activated for someone else keeps it, held.
// - A report the server refuses (a 4xx other than a session or token problem) stays, marked refused with the
//   server's reason, until the monitor tries again or deletes it: nothing is lost without a person's say.
// - Dangerous reports go first; one upload that hangs on a weak signal is given up after a time and tried again.
/* global idb */
(function (scope) {
  "use strict";
  var DB_NAME = "geohazard-field";
  var WAITING = "outbox";
  var SENT = "sent";
  var SESSION = "session";
  var KEEP_SENT = 20;
  var ENDPOINT = "/field/reports";
  // A report's upload is given up after 30 s and 20 s more per MB (2G carries about 10 KB/s at worst).
  var TIMEOUT_BASE_MS = 30000;
  var TIMEOUT_PER_MB_MS = 20000;
  var MAX_PASSES = 3;
  var inPage = typeof document !== "undefined";
  var database = null;
  var flushing = null;

  function open() {
    if (!database) {
      database = idb.openDB(DB_NAME, 2, {
        upgrade: function (db, oldVersion) {
          if (oldVersion < 1) {
            db.createObjectStore(WAITING, {keyPath: "client_id"});
            db.createObjectStore(SENT, {keyPath: "client_id"});
          }
          if (oldVersion < 2) {
            db.createObjectStore(SESSION, {keyPath: "key"});
          }
        }
      });
      // A failed opening (storage full, a private window) is tried afresh next time, not kept.
      database.catch(function () { database = null; });
    }
    return database;
  }

  function changed() {
    if (inPage) {
      scope.dispatchEvent(new CustomEvent("outbox-changed"));
    } else {
      scope.clients.matchAll({includeUncontrolled: true}).then(function (clients) {
        clients.forEach(function (client) { client.postMessage("outbox-changed"); });
      });
    }
  }

  function newClientId() {
    if (scope.crypto && crypto.randomUUID) {
      return crypto.randomUUID();
    }
    // A version 4 UUID from the phone's random numbers, where randomUUID is missing (an older browser).
    var bytes = crypto.getRandomValues(new Uint8Array(16));
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    var hex = Array.prototype.map.call(bytes, function (b) { return (b + 0x100).toString(16).slice(1); }).join("");
    return [hex.slice(0, 8), hex.slice(8, 12), hex.slice(12, 16), hex.slice(16, 20), hex.slice(20)].join("-");
  }

  // --- the phone's session, as the worker needs it (it has no page to read it from) --------------------------------
  function pageSession(html) {
    var found = {};
    ["csrf-token", "field-person", "field-person-name"].forEach(function (name) {
      var match = new RegExp('<meta name="' + name + '" content="([^"]*)">').exec(html);
      found[name] = match ? match[1] : "";
    });
    return found["csrf-token"] ?
      {key: "phone", csrf: found["csrf-token"], person_id: found["field-person"],
       person_name: found["field-person-name"]} : null;
  }

  // Keep the session a page was rendered with (its <meta> elements), for the worker and for pages from the cache.
  function remember() {
    function meta(name) {
      var element = document.querySelector('meta[name="' + name + '"]');
      return element ? element.content : "";
    }
    if (!meta("csrf-token")) { return Promise.resolve(null); }
    var session = {key: "phone", csrf: meta("csrf-token"), person_id: meta("field-person"),
                   person_name: meta("field-person-name")};
    return open().then(function (db) { return db.put(SESSION, session); }).then(function () { return session; });
  }

  function session() {
    return open().then(function (db) { return db.get(SESSION, "phone"); });
  }

  // The session as the server has it now (a cached page may carry a session replaced since); null without one.
  function freshSession() {
    return fetch("/field/outbox", {credentials: "same-origin", cache: "no-store"}).then(function (response) {
      return response.ok && !response.redirected ? response.text() : "";
    }).then(function (html) {
      var fresh = pageSession(html);
      if (!fresh) { return null; }
      return open().then(function (db) { return db.put(SESSION, fresh); }).then(function () { return fresh; });
    });
  }

  // --- sending ----------------------------------------------------------------------------------------------------
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

  function post(item, current) {
    var bytes = item.photos.reduce(function (sum, photo) { return sum + photo.size; }, 0);
    var controller = new AbortController();
    var timer = setTimeout(function () { controller.abort(); }, TIMEOUT_BASE_MS + TIMEOUT_PER_MB_MS * bytes / 1e6);
    var headers = {"X-CSRF-Token": current ? current.csrf : "", "Accept": "application/json"};
    if (item.person_id) { headers["X-Field-Person"] = item.person_id; }
    return fetch(ENDPOINT, {
      method: "POST", body: formOf(item), credentials: "same-origin", headers: headers, signal: controller.signal
    }).finally(function () { clearTimeout(timer); });
  }

  function reason(response) {
    return response.json().then(function (body) {
      var detail = body && body.detail;
      if (Array.isArray(detail)) {
        return {text: detail.map(function (e) { return (e.loc || []).slice(1).join(".") + ": " + e.msg; }).join("; ")};
      }
      return {text: detail || String(response.status), held: Boolean(body && body.held)};
    }, function () { return {text: "HTTP " + response.status}; });
  }

  function held(item, current) {
    return Boolean(item.person_id && current && current.person_id && item.person_id !== current.person_id);
  }

  function keep(db, item, state, error, isHeld) {
    item.state = state;
    item.error = error;
    item.held = Boolean(isHeld);
    return db.put(WAITING, item).then(function () { return state === "refused" ? "refused" : "kept"; });
  }

  // Send one report: "sent", "kept" (try again later) or "refused" (the server will not take it as it is).
  function send(db, item) {
    return session().then(function (current) {
      if (held(item, current)) {
        return keep(db, item, "waiting", null, true);
      }
      item.tries = (item.tries || 0) + 1;
      item.tried_at = new Date().toISOString();
      return post(item, current).then(function (response) {
        if (response.status !== 403) { return response; }
        // The token may be a replaced session's: once more with the session the server has now, if it is still
        // the maker's.
        return freshSession().then(function (fresh) {
          return fresh && !held(item, fresh) ? post(item, fresh) : response;
        });
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
        return reason(response).then(function (why) {
          var again = response.status === 401 || response.status === 403 || response.status === 408 ||
            response.status === 429 || response.status >= 500 || why.held;
          return keep(db, item, again ? "waiting" : "refused", why.text, why.held);
        });
      }, function () {
        return keep(db, item, "waiting", null, false);  // no signal, or it hung: it waits, nothing to tell
      });
    });
  }

  // Dangerous reports first, then the oldest.
  function urgency(a, b) {
    var dangerA = a.fields.judgement === "dangerous" ? 0 : 1;
    var dangerB = b.fields.judgement === "dangerous" ? 0 : 1;
    return dangerA - dangerB || (a.created_at < b.created_at ? -1 : 1);
  }

  function sendAll() {
    var summary = {sent: 0, kept: 0, refused: 0};
    var tried = {};
    function pass(n) {
      return open().then(function (db) {
        return db.getAll(WAITING).then(function (items) {
          var waiting = items.filter(function (item) { return item.state !== "refused" && !tried[item.client_id]; });
          waiting.sort(urgency);
          // One after another: a weak signal carries one report better than several at once.
          return waiting.reduce(function (done, item) {
            return done.then(function () {
              tried[item.client_id] = true;
              return send(db, item).then(function (outcome) { summary[outcome] += 1; changed(); });
            });
          }, Promise.resolve()).then(function () {
            // Reports made while this pass ran are sent by the next one.
            return waiting.length && n < MAX_PASSES ? pass(n + 1) : summary;
          });
        });
      });
    }
    return pass(1);
  }

  // Send every waiting report; one flush at a time in this page, and across the app's pages and its worker where
  // the browser has Web Locks (the server would take a repeat once anyway).
  function flush() {
    if (flushing) {
      return flushing;
    }
    var run = navigator.locks ? navigator.locks.request("geohazard-outbox", sendAll) : sendAll();
    flushing = run.then(function (summary) { flushing = null; changed(); return summary; },
                        function (error) { flushing = null; changed(); throw error; });
    return flushing;
  }

  // Keep a report: it is the phone's until the server has it. Rejects when the phone cannot store it.
  function add(item) {
    return session().then(function (current) {
      item.client_id = item.client_id || newClientId();
      item.created_at = new Date().toISOString();
      item.state = "waiting";
      item.tries = 0;
      item.person_id = current ? current.person_id : "";
      item.person_name = current ? current.person_name : "";
      return open().then(function (db) { return db.put(WAITING, item); });
    }).then(function () {
      changed();
      return item;
    });
  }

  // Send one report straight away, without the outbox: for a phone that could not store it.
  function sendNow(item) {
    return session().then(function (current) { return post(item, current); }).then(function (response) {
      if (!response.ok) { throw new Error("HTTP " + response.status); }
      return response.json();
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

  // A refused report tried again (the monitor says so: the cause may have been put right since).
  function retry(clientId) {
    return open().then(function (db) {
      return db.get(WAITING, clientId).then(function (item) {
        if (!item) { return null; }
        item.state = "waiting";
        item.error = null;
        return db.put(WAITING, item);
      });
    }).then(function () { changed(); return flush(); });
  }

  scope.Outbox = {add: add, flush: flush, remember: remember, waiting: waiting, sent: sent, remove: remove,
                  retry: retry, sendNow: sendNow, forgetOldSent: forgetOldSent};
})(self);
