// The phone app's pages: the service worker, the signal indicator, the outbox's count and sending, the home page's
// refresh and offline copies, the report form (position, photos shrunk on the phone) and the DANGER button.
/* global Outbox */
(function () {
  "use strict";
  var PAGES_CACHE = "field-pages";
  var REFRESH_MS = 60 * 1000;
  // The home page saves every point's pages at most this often (each save is a few requests per point over what
  // may be 2G), unless the points changed.
  var SAVE_EVERY_MS = 15 * 60 * 1000;

  function $(id) { return document.getElementById(id); }
  function format(template, values) {
    return template.replace(/\{(\w+)\}/g, function (_, name) { return values[name]; });
  }
  var signedIn = Boolean(document.querySelector('meta[name="csrf-token"]'));

  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/field/sw.js", {scope: "/field/"});
    // The worker sends the outbox too, and says when it changed it.
    navigator.serviceWorker.addEventListener("message", function (event) {
      if (event.data === "outbox-changed") { window.dispatchEvent(new CustomEvent("outbox-changed")); }
    });
  }
  // Ask the browser to send the outbox when the signal comes back, even with the app closed (Background Sync).
  function syncLater() {
    if (!("serviceWorker" in navigator)) { return Promise.resolve(); }
    return navigator.serviceWorker.ready.then(function (registration) {
      return registration.sync ? registration.sync.register("outbox") : null;
    }).catch(function () { /* no Background Sync here: the pages send it while open */ });
  }

  // --- the signal, the outbox's count, and any dangerous report not yet sent ----------------------------------------
  var network = $("network");
  function showNetwork() {
    if (!network) { return; }
    network.textContent = navigator.onLine ? network.dataset.online : network.dataset.offline;
    network.className = "network " + (navigator.onLine ? "online" : "offline");
  }
  function showOutbox() {
    Outbox.waiting().then(function (items) {
      var badge = $("outbox-count");
      if (badge) {
        badge.textContent = items.length;
        badge.hidden = items.length === 0;
      }
      // The activation page says how many reports wait for it (a revoked phone keeps its outbox).
      var waitingNote = $("waiting-note");
      if (waitingNote) {
        waitingNote.textContent = format(waitingNote.dataset.note, {count: items.length});
        waitingNote.hidden = items.length === 0;
      }
      // A dangerous report not sent yet is said on every page, with the way to the point's contacts: call.
      var danger = items.filter(function (item) { return item.fields.judgement === "dangerous"; })[0];
      var banner = $("danger-waiting");
      if (banner) {
        banner.hidden = !danger;
        if (danger) {
          banner.querySelector("a").href = "/field/points/" + encodeURIComponent(danger.fields.point) + "#card";
        }
      }
    });
  }
  function flushWhenOnline() {
    if (navigator.onLine && signedIn) {
      // A failure of the phone's storage is the only way here (each report's own failure is kept with it): said
      // on the console, and tried again at the next minute.
      Outbox.flush().catch(function (error) { console.warn("outbox not sent:", error); });
    }
  }
  window.addEventListener("online", function () { showNetwork(); flushWhenOnline(); refreshNow(); });
  window.addEventListener("offline", showNetwork);
  window.addEventListener("outbox-changed", showOutbox);
  showNetwork();
  showOutbox();
  if (signedIn) {
    Outbox.remember().then(flushWhenOnline, flushWhenOnline);
    setInterval(flushWhenOnline, REFRESH_MS);
  } else if ("caches" in window && $("code")) {
    // On the activation page the phone has no session: what it saved for the last one is not to be shown offline.
    caches.delete(PAGES_CACHE);
  }

  // --- the home page: tasks and alerts every minute; every point's pages kept for use without signal -------------
  var now = $("now");
  function refreshNow() {
    var current = $("now");
    if (!current || !navigator.onLine) { return; }
    fetch("/field/now", {credentials: "same-origin"}).then(function (response) {
      if (response.redirected && new URL(response.url).pathname === "/field/activate") {
        window.location.href = "/field/activate";  // the phone was revoked: say so, not old tasks
        return null;
      }
      return response.ok ? response.text() : null;
    }).then(function (html) {
      if (!html) { return; }
      var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("now");
      if (fresh) { current.replaceWith(document.adoptNode(fresh)); }
    }).catch(function () { /* no signal: the last copy stays, with its time */ });
  }
  if (now) {
    setInterval(refreshNow, REFRESH_MS);
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "visible") { refreshNow(); }
    });
    if (navigator.storage && navigator.storage.persist) {
      navigator.storage.persist();  // waiting reports must not be evicted when the phone runs short of space
    }
    keepOffline();
  }
  // The pages saved for another person (the phone activated again for someone else) are dropped first: this
  // person must not open that person's points, nor miss their own.
  function forgetOtherPersonsPages() {
    var person = document.querySelector('meta[name="field-person"]').content;
    var saved = localStorage.getItem("geohazard-field-person");
    localStorage.setItem("geohazard-field-person", person);
    if (saved && saved !== person) {
      localStorage.removeItem("geohazard-field-saved");
      return caches.delete(PAGES_CACHE);
    }
    return Promise.resolve();
  }
  function keepOffline() {
    if (!("caches" in window)) { return; }
    var forgotten = forgetOtherPersonsPages();
    var urls = ["/field/", "/field/now", "/field/outbox"];
    document.querySelectorAll("[data-offline]").forEach(function (link) {
      link.dataset.offline.split(" ").forEach(function (url) { if (url) { urls.push(url); } });
    });
    var ready = $("offline-ready");
    var last = JSON.parse(localStorage.getItem("geohazard-field-saved") || "{}");
    if (last.urls === urls.join(" ") && Date.now() - last.at < SAVE_EVERY_MS) {
      ready.textContent = ready.dataset.ready;
      ready.dataset.state = "ready";
      return;
    }
    if (!navigator.onLine) { return; }
    forgotten.then(function () { return caches.open(PAGES_CACHE); }).then(function (cache) {
      // One after another: the monitor's signal is for the reports first.
      return urls.reduce(function (done, url) {
        return done.then(function () {
          return fetch(url, {credentials: "same-origin"}).then(function (response) {
            return response.ok && !response.redirected ? cache.put(url, response) : null;
          });
        });
      }, Promise.resolve());
    }).then(function () {
      localStorage.setItem("geohazard-field-saved", JSON.stringify({urls: urls.join(" "), at: Date.now()}));
      ready.textContent = ready.dataset.ready;
      ready.dataset.state = "ready";
    }).catch(function () { /* the signal went while saving: the next visit tries again */ });
  }

  // --- position -------------------------------------------------------------------------------------------------
  var lastFix = null;
  function distanceM(lat1, lon1, lat2, lon2) {
    var rad = Math.PI / 180;
    var a = Math.pow(Math.sin((lat2 - lat1) * rad / 2), 2) +
      Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.pow(Math.sin((lon2 - lon1) * rad / 2), 2);
    return 2 * 6371000 * Math.asin(Math.sqrt(a));
  }
  function watchPosition(onFix, onError) {
    if (!navigator.geolocation) { onError(null); return; }
    navigator.geolocation.watchPosition(function (position) {
      lastFix = position.coords;
      onFix(position.coords);
    }, onError, {enableHighAccuracy: true, maximumAge: 60000, timeout: 30000});
  }
  // The position a report carries: the phone's fix, or, with none, the point's with a note saying so.
  function positionFields(lon, lat, note, noFixNote) {
    if (lastFix) {
      return {lon: lastFix.longitude.toFixed(6), lat: lastFix.latitude.toFixed(6),
              accuracy_m: Math.round(lastFix.accuracy), note: note};
    }
    return {lon: lon, lat: lat, accuracy_m: null, note: note ? note + "\n" + noFixNote : noFixNote};
  }

  // --- photos: shrunk on the phone to the configured size before they wait in the outbox --------------------------
  function shrink(file, maxPx) {
    return createImageBitmap(file, {imageOrientation: "from-image"}).then(function (bitmap) {
      var scale = Math.min(1, maxPx / Math.max(bitmap.width, bitmap.height));
      var canvas = document.createElement("canvas");
      canvas.width = Math.round(bitmap.width * scale);
      canvas.height = Math.round(bitmap.height * scale);
      canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
      bitmap.close();
      return new Promise(function (resolve) { canvas.toBlob(resolve, "image/jpeg", 0.85); });
    });
  }

  // Keep the report, ask for it to be sent when the signal comes (even with the app closed), send it now, and show
  // the outbox once it is sent or after a few seconds of a weak signal. A phone that cannot store it (full, a
  // private window) sends it straight away; `failed` says so when that fails too.
  var SEND_WAIT_MS = 5000;
  var SYNC_WAIT_MS = 2000;
  function queueAndGo(item, failed) {
    function delay(ms) { return new Promise(function (resolve) { setTimeout(resolve, ms); }); }
    return Outbox.add(item).then(function () {
      // Asked for before the page is left (leaving could cut the request short); a worker not active yet
      // (the very first visit) does not hold the page.
      var registered = Promise.race([syncLater(), delay(SYNC_WAIT_MS)]);
      var tried = navigator.onLine ? Outbox.flush() : Promise.resolve();
      var sentOrWaited = Promise.race([tried, delay(SEND_WAIT_MS)]).catch(function () { return null; });
      return Promise.all([registered, sentOrWaited]).then(function () {
        window.location.href = "/field/outbox";
      });
    }, function () {
      return Outbox.sendNow(item).then(function () {
        window.location.href = "/field/outbox";
      }, failed);
    });
  }

  // --- the report form ------------------------------------------------------------------------------------------
  var form = $("report-form");
  if (form) {
    var photos = [];
    var statusBox = $("position");
    var status = $("position-status");
    var pointLon = parseFloat(form.dataset.pointLon);
    var pointLat = parseFloat(form.dataset.pointLat);
    watchPosition(function (c) {
      status.textContent = format(statusBox.dataset.found, {
        accuracy: Math.round(c.accuracy), distance: Math.round(distanceM(c.latitude, c.longitude, pointLat, pointLon))
      });
      statusBox.dataset.state = "found";
    }, function (error) {
      status.textContent = error && error.code === 1 ? statusBox.dataset.denied : statusBox.dataset.failed;
    });
    // The task of the link; a form saved before the task was given has no choice for it yet: one is added.
    var task = new URLSearchParams(window.location.search).get("task");
    var taskSelect = $("task");
    if (task && /^\d+$/.test(task)) {
      var known = Array.prototype.some.call(taskSelect.options, function (option) { return option.value === task; });
      if (!known) { taskSelect.add(new Option(format(taskSelect.dataset.other, {id: task}), task)); }
      taskSelect.value = task;
    }

    // Photos are added one by one (a phone's camera gives one per shot), shrunk one at a time (a cheap phone has
    // little memory), up to the report's limit.
    var photoStatus = $("photo-status");
    var photoInput = $("photos");
    var photosMax = parseInt(form.dataset.photosMax, 10);
    var showPhotos = function () {
      photoStatus.textContent = photos.length ? format(photoStatus.dataset.count, {
        count: photos.length, size: Math.round(photos.reduce(function (s, b) { return s + b.size; }, 0) / 1024)
      }) : "";
      $("clear-photos").hidden = photos.length === 0;
    };
    photoInput.addEventListener("change", function () {
      var files = Array.prototype.slice.call(photoInput.files);
      photoInput.value = "";
      if (photos.length + files.length > photosMax) {
        files = files.slice(0, Math.max(0, photosMax - photos.length));
        photoStatus.textContent = format(photoStatus.dataset.tooMany, {count: photosMax});
      } else {
        photoStatus.textContent = photoStatus.dataset.shrinking;
      }
      $("send").disabled = true;
      files.reduce(function (done, file) {
        return done.then(function () {
          return shrink(file, parseInt(form.dataset.photoMaxPx, 10)).then(function (blob) { photos.push(blob); });
        });
      }, Promise.resolve()).then(showPhotos, function () {
        showPhotos();
        photoStatus.textContent = photoStatus.dataset.unreadable;
      }).then(function () { $("send").disabled = false; });
    });
    $("clear-photos").addEventListener("click", function () { photos = []; showPhotos(); });

    // What is ticked and typed is kept as a draft while the form is filled: Android may close the tab while the
    // camera is open. The photos are not (a draft holds text); the draft goes once the report is in the outbox.
    var draftKey = "geohazard-field-draft:" + form.dataset.point;
    var saveDraft = function () {
      var draft = {findings: [], cracks: {}, judgement: form.querySelector('input[name="judgement"]:checked').value,
                   note: form.elements.note.value, task: taskSelect.value};
      form.querySelectorAll('input[name="findings"]:checked').forEach(function (input) {
        draft.findings.push(input.value);
      });
      form.querySelectorAll('input[name="crack"]').forEach(function (input) {
        draft.cracks[input.dataset.device + "/" + input.dataset.sensor] = input.value;
      });
      localStorage.setItem(draftKey, JSON.stringify(draft));
    };
    var draft = JSON.parse(localStorage.getItem(draftKey) || "null");
    if (draft) {
      form.querySelectorAll('input[name="findings"]').forEach(function (input) {
        input.checked = draft.findings.indexOf(input.value) >= 0;
      });
      form.querySelectorAll('input[name="crack"]').forEach(function (input) {
        input.value = draft.cracks[input.dataset.device + "/" + input.dataset.sensor] || "";
      });
      form.querySelectorAll('input[name="judgement"]').forEach(function (input) {
        input.checked = input.value === draft.judgement;
      });
      form.elements.note.value = draft.note;
      if (!task && draft.task) { taskSelect.value = draft.task; }
    }
    form.addEventListener("input", saveDraft);
    form.addEventListener("change", saveDraft);

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var findings = Array.prototype.map.call(form.querySelectorAll('input[name="findings"]:checked'),
                                              function (input) { return input.value; });
      var alone = findings.indexOf("nothing_abnormal") < 0 || findings.length === 1;
      $("findings-error").hidden = findings.length > 0 && alone;
      if (!findings.length || !alone) { $("findings").scrollIntoView(); return; }
      var measurements = [];
      form.querySelectorAll('input[name="crack"]').forEach(function (input) {
        var value = parseFloat(input.value);
        if (isFinite(value)) {
          measurements.push({device: input.dataset.device, sensor: input.dataset.sensor, value_mm: value});
        }
      });
      var position = positionFields(form.dataset.pointLon, form.dataset.pointLat, form.elements.note.value.trim(),
                                    form.dataset.noFix);
      $("send").disabled = true;
      localStorage.removeItem(draftKey);
      queueAndGo({
        point_name: form.dataset.pointName,
        fields: {
          point: form.dataset.point, task: taskSelect.value || null, reported_at: new Date().toISOString(),
          lon: position.lon, lat: position.lat, accuracy_m: position.accuracy_m, findings: findings,
          judgement: form.querySelector('input[name="judgement"]:checked').value, note: position.note || null,
          measurements: measurements
        },
        photos: photos
      }, function () {
        $("send").disabled = false;
        saveDraft();
        $("form-status").textContent = form.dataset.lost;
      });
    });
  }

  // --- the DANGER button: choose what is seen, and it is sent at once (or as soon as there is signal) ------------
  var dangerOpen = $("danger-open");
  if (dangerOpen) {
    var dialog = $("danger-dialog");
    var dangerForm = $("danger-form");
    watchPosition(function () {}, function () {});
    dangerOpen.addEventListener("click", function () { dialog.showModal(); });
    dangerForm.addEventListener("change", function () { $("danger-error").hidden = true; });
    dangerForm.addEventListener("submit", function (event) {
      if (event.submitter && event.submitter.value === "cancel") { return; }
      event.preventDefault();
      var findings = Array.prototype.map.call(dangerForm.querySelectorAll('input[name="findings"]:checked'),
                                              function (input) { return input.value; });
      $("danger-error").hidden = findings.length > 0;
      if (!findings.length) { return; }
      $("danger-send").disabled = true;
      var position = positionFields(dangerForm.dataset.lon, dangerForm.dataset.lat, dangerForm.dataset.note,
                                    dangerForm.dataset.noFix);
      queueAndGo({
        point_name: dangerForm.dataset.pointName,
        fields: {
          point: dangerForm.dataset.point, reported_at: new Date().toISOString(), lon: position.lon,
          lat: position.lat, accuracy_m: position.accuracy_m, findings: findings, judgement: "dangerous",
          note: position.note
        },
        photos: []
      }, function () {
        $("danger-send").disabled = false;
        $("danger-error").textContent = dangerForm.dataset.lost;
        $("danger-error").hidden = false;
      });
    });
  }

  // --- the outbox page ------------------------------------------------------------------------------------------
  var list = $("outbox-list");
  if (list) {
    var message = $("outbox-message");
    var button = function (text, onClick) {
      var element = document.createElement("button");
      element.type = "button";
      element.className = "plain";
      element.textContent = text;
      element.addEventListener("click", onClick);
      return element;
    };
    var render = function () {
      Promise.all([Outbox.waiting(), Outbox.sent()]).then(function (both) {
        var waiting = both[0];
        var sent = both[1];
        list.textContent = "";
        list.dataset.count = waiting.length;
        if (!waiting.length) {
          var empty = document.createElement("li");
          empty.className = "empty";
          empty.textContent = list.dataset.empty;
          list.appendChild(empty);
        }
        waiting.forEach(function (item) {
          var li = document.createElement("li");
          li.className = "waiting " + item.state + (item.fields.judgement === "dangerous" ? " dangerous" : "");
          li.dataset.clientId = item.client_id;
          var title = document.createElement("strong");
          title.textContent = item.point_name;
          var detail = document.createElement("small");
          detail.textContent = [
            item.state === "refused" ? list.dataset.refused : list.dataset.waiting,
            new Date(item.fields.reported_at).toLocaleString(),
            item.photos.length + " " + list.dataset.photos,
            (item.tries || 0) + " " + list.dataset.tries
          ].join(" · ") + (item.error ? " · " + item.error : "") +
            (item.held ? " · " + format(list.dataset.otherPerson, {name: item.person_name || "?"}) : "");
          li.append(title, detail);
          if (item.state === "refused") {
            li.appendChild(button(list.dataset.retry, function () { Outbox.retry(item.client_id); }));
            li.appendChild(button(list.dataset.delete, function () {
              if (window.confirm(list.dataset.confirmDelete)) { Outbox.remove(item.client_id); }
            }));
          }
          list.appendChild(li);
        });
        var sentList = $("sent-list");
        if (sentList) { sentList.remove(); }
        if (sent.length) {
          sentList = document.createElement("ol");
          sentList.id = "sent-list";
          sentList.className = "outbox sent";
          sent.forEach(function (item) {
            var li = document.createElement("li");
            li.className = "sent" + (item.far_from_point ? " far" : "");
            li.dataset.reportId = item.report_id;
            li.textContent = item.point_name + " · " + new Date(item.sent_at).toLocaleString() + " · #" +
              item.report_id + (item.alert_id ? " · " + list.dataset.alert + item.alert_id : "") +
              (item.far_from_point ? " · " + list.dataset.far : "");
            sentList.appendChild(li);
          });
          var heading = $("sent-heading");
          heading.hidden = false;
          heading.after(sentList);
        }
      });
    };
    window.addEventListener("outbox-changed", render);
    render();
    Outbox.forgetOldSent();
    var sendNow = $("send-now");
    if (sendNow) {
      sendNow.addEventListener("click", function () {
        message.textContent = message.dataset.sending;
        Outbox.flush().then(function (summary) {
          message.textContent = format(message.dataset.done, summary);
        }, function () { message.textContent = message.dataset.failed; });
      });
    }
  }
})();
