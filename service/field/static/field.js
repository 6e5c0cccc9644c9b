// The phone app's pages: the service worker, the signal indicator, the outbox's count and sending, the home page's
// refresh and offline copies, the report form (position, photos shrunk on the phone) and the DANGER button.
/* global Outbox */
(function () {
  "use strict";
  var PAGES_CACHE = "field-pages";
  var REFRESH_MS = 60 * 1000;

  function $(id) { return document.getElementById(id); }
  function format(template, values) {
    return template.replace(/\{(\w+)\}/g, function (_, name) { return values[name]; });
  }

  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/field/sw.js", {scope: "/field/"});
  }

  // --- the signal, and the outbox's count ----------------------------------------------------------------------
  var network = $("network");
  function showNetwork() {
    if (!network) { return; }
    network.textContent = navigator.onLine ? network.dataset.online : network.dataset.offline;
    network.className = "network " + (navigator.onLine ? "online" : "offline");
  }
  function showCount() {
    var badge = $("outbox-count");
    if (!badge || !window.Outbox) { return; }
    Outbox.waiting().then(function (items) {
      badge.textContent = items.length;
      badge.hidden = items.length === 0;
    });
  }
  // The activation page says how many reports wait for it (a revoked phone keeps its outbox).
  var waitingNote = $("waiting-note");
  if (waitingNote && window.Outbox) {
    Outbox.waiting().then(function (items) {
      waitingNote.textContent = format(waitingNote.dataset.note, {count: items.length});
      waitingNote.hidden = items.length === 0;
    });
  }
  function flushWhenOnline() {
    if (navigator.onLine && window.Outbox && document.querySelector('meta[name="csrf-token"]')) {
      Outbox.flush();
    }
  }
  window.addEventListener("online", function () { showNetwork(); flushWhenOnline(); refreshNow(); });
  window.addEventListener("offline", showNetwork);
  window.addEventListener("outbox-changed", showCount);
  showNetwork();
  showCount();
  flushWhenOnline();
  setInterval(flushWhenOnline, REFRESH_MS);

  // --- the home page: tasks and alerts every minute; every point's pages kept for use without signal -------------
  var now = $("now");
  function refreshNow() {
    var current = $("now");
    if (!current || !navigator.onLine) { return; }
    fetch("/field/now", {credentials: "same-origin"}).then(function (response) {
      if (!response.ok || response.redirected) { return null; }
      return response.text();
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
    keepOffline();
  }
  // The pages saved for another person (the phone activated again for someone else) are dropped first: this
  // person must not open that person's points, nor miss their own.
  function forgetOtherPersonsPages() {
    var person = document.querySelector('meta[name="field-person"]').content;
    var saved = localStorage.getItem("geohazard-field-person");
    localStorage.setItem("geohazard-field-person", person);
    return saved && saved !== person ? caches.delete(PAGES_CACHE) : Promise.resolve();
  }
  function keepOffline() {
    if (!("caches" in window)) { return; }
    var forgotten = forgetOtherPersonsPages();
    if (!navigator.onLine) { return; }
    var urls = ["/field/", "/field/now", "/field/outbox"];
    document.querySelectorAll("[data-offline]").forEach(function (link) {
      link.dataset.offline.split(" ").forEach(function (url) { if (url) { urls.push(url); } });
    });
    forgotten.then(function () { return caches.open(PAGES_CACHE); }).then(function (cache) {
      return Promise.all(urls.map(function (url) {
        return fetch(url, {credentials: "same-origin"}).then(function (response) {
          if (response.ok && !response.redirected) { return cache.put(url, response); }
          return null;
        });
      }));
    }).then(function () {
      var ready = $("offline-ready");
      if (ready) { ready.textContent = ready.dataset.ready; ready.dataset.state = "ready"; }
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

  // Keep the report, send it at once, and show the outbox once it is sent, or after a few seconds of a weak signal
  // (leaving the page may cut that try short: the outbox tries again, and the server stores a repeat once).
  var SEND_WAIT_MS = 5000;
  function queueAndGo(item) {
    return Outbox.add(item).then(function () {
      var tried = navigator.onLine ? Outbox.flush() : Promise.resolve();
      var waited = new Promise(function (resolve) { setTimeout(resolve, SEND_WAIT_MS); });
      return Promise.race([tried, waited]).catch(function () { return null; });
    }).then(function () {
      window.location.href = "/field/outbox";
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
    var task = new URLSearchParams(window.location.search).get("task");
    if (task && form.querySelector('#task option[value="' + task + '"]')) { $("task").value = task; }

    var photoStatus = $("photo-status");
    var photosMax = parseInt(form.dataset.photosMax, 10);
    $("photos").addEventListener("change", function (event) {
      var files = Array.prototype.slice.call(event.target.files, 0, photosMax);
      if (event.target.files.length > photosMax) {
        photoStatus.textContent = format(photoStatus.dataset.tooMany, {count: photosMax});
      } else {
        photoStatus.textContent = photoStatus.dataset.shrinking;
      }
      $("send").disabled = true;
      Promise.all(files.map(function (file) {
        return shrink(file, parseInt(form.dataset.photoMaxPx, 10));
      })).then(function (blobs) {
        photos = blobs;
        photoStatus.textContent = blobs.map(function (b) { return Math.round(b.size / 1024) + " KB"; }).join(", ");
      }, function () {
        photos = [];
        event.target.value = "";
        photoStatus.textContent = photoStatus.dataset.unreadable;
      }).then(function () { $("send").disabled = false; });
    });

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var findings = Array.prototype.map.call(form.querySelectorAll('input[name="findings"]:checked'),
                                              function (input) { return input.value; });
      var alone = findings.indexOf("nothing_abnormal") < 0 || findings.length === 1;
      $("findings-error").hidden = findings.length > 0 && alone;
      if (!findings.length || !alone) { $("findings").scrollIntoView(); return; }
      var measurements = [];
      form.querySelectorAll('input[name="crack"]').forEach(function (input) {
        if (input.value !== "") {
          measurements.push({device: input.dataset.device, sensor: input.dataset.sensor,
                             value_mm: parseFloat(input.value)});
        }
      });
      var position = positionFields(form.dataset.pointLon, form.dataset.pointLat, form.elements.note.value.trim(),
                                    form.dataset.noFix);
      $("send").disabled = true;
      queueAndGo({
        point_name: form.dataset.pointName,
        fields: {
          point: form.dataset.point, task: $("task").value || null, reported_at: new Date().toISOString(),
          lon: position.lon, lat: position.lat, accuracy_m: position.accuracy_m, findings: findings,
          judgement: form.querySelector('input[name="judgement"]:checked').value, note: position.note || null,
          measurements: measurements
        },
        photos: photos
      }).then(function () { $("form-status").textContent = form.dataset.queued; });
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
      });
    });
  }

  // --- the outbox page ------------------------------------------------------------------------------------------
  var list = $("outbox-list");
  if (list) {
    var message = $("outbox-message");
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
          li.className = "waiting " + item.state;
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
            var remove = document.createElement("button");
            remove.type = "button";
            remove.className = "plain";
            remove.textContent = list.dataset.delete;
            remove.addEventListener("click", function () {
              if (window.confirm(list.dataset.confirmDelete)) { Outbox.remove(item.client_id); }
            });
            li.appendChild(remove);
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
    if (sendNow) sendNow.addEventListener("click", function () {
      message.textContent = message.dataset.sending;
      Outbox.flush().then(function (summary) {
        message.textContent = format(message.dataset.done, summary);
      }, function () { message.textContent = message.dataset.failed; });
    });
  }
})();
