// The public pages' scripts: the position buttons (points near me; the report form) and the place selects.
// Nothing else runs on these pages.
(function () {
  "use strict";
  // Ask the browser for its position when the button is pressed; `found` gets the coordinates, the status line says
  // what went wrong (its data-* attributes hold the messages in the reader's language).
  function locateOnClick(button, status, found) {
    button.addEventListener("click", function () {
      if (!navigator.geolocation) {
        status.textContent = status.dataset.unsupported;
        return;
      }
      status.textContent = status.dataset.locating;
      button.disabled = true;
      navigator.geolocation.getCurrentPosition(function (position) {
        button.disabled = false;
        found(position.coords);
      }, function (error) {
        button.disabled = false;
        status.textContent = error.code === error.PERMISSION_DENIED ? status.dataset.denied : status.dataset.failed;
      }, {enableHighAccuracy: true, timeout: 20000, maximumAge: 60000});
    });
  }

  var button = document.getElementById("locate");
  var status = document.getElementById("locate-status");
  if (button && status) {
    locateOnClick(button, status, function (c) {
      window.location.href = button.dataset.target + "?lat=" + c.latitude.toFixed(6) + "&lon=" + c.longitude.toFixed(6);
    });
  }

  // The report form: its position button fills the longitude and latitude (typed ones work as well).
  var reportButton = document.getElementById("report-locate");
  var reportStatus = document.getElementById("report-locate-status");
  if (reportButton && reportStatus) {
    locateOnClick(reportButton, reportStatus, function (c) {
      document.getElementById("lon").value = c.longitude.toFixed(6);
      document.getElementById("lat").value = c.latitude.toFixed(6);
      document.getElementById("accuracy").value = Math.round(c.accuracy);
      reportStatus.textContent = reportStatus.dataset.found;
    });
  }

  // The report's photo is checked for size before it is sent: over a weak signal, a refusal after the upload would
  // cost minutes.
  var reportForm = document.getElementById("report-form");
  var photo = document.getElementById("photo");
  if (reportForm && photo) {
    var photoError = document.getElementById("photo-error");
    var tooLarge = function () {
      var file = photo.files && photo.files[0];
      return Boolean(file && file.size > Number(photo.dataset.maxBytes));
    };
    photo.addEventListener("change", function () {
      photoError.hidden = !tooLarge();
      photoError.textContent = photo.dataset.tooLarge;
    });
    reportForm.addEventListener("submit", function (event) {
      if (tooLarge()) {
        event.preventDefault();
        photoError.textContent = photo.dataset.tooLarge;
        photoError.hidden = false;
      }
    });
  }

  // A township's code begins with its county's, a village's with its township's: each list offers the places of
  // the one chosen above it.
  function narrow(parent, child) {
    var prefix = parent.value;
    Array.prototype.forEach.call(child.options, function (option) {
      var outside = Boolean(option.value && prefix && option.value.indexOf(prefix) !== 0);
      option.hidden = outside;
      option.disabled = outside;
    });
    if (child.selectedOptions.length && child.selectedOptions[0].disabled) child.value = "";
  }
  var county = document.getElementById("county");
  var township = document.getElementById("township");
  var village = document.getElementById("village");
  if (county && township && village) {
    var update = function () { narrow(county, township); narrow(township.value ? township : county, village); };
    county.addEventListener("change", update);
    township.addEventListener("change", update);
    update();
  }
})();

