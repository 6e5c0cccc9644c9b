// What every console page does: count down escalation deadlines. No framework; htmx does the forms.
(function () {
  "use strict";

  function pad(n) { return n < 10 ? "0" + n : String(n); }

  // <time class="countdown" datetime="..." data-overdue="..."> shows the time left as h:mm:ss, or "overdue".
  function tick() {
    var now = Date.now();
    document.querySelectorAll("time.countdown").forEach(function (el) {
      var left = Math.round((Date.parse(el.getAttribute("datetime")) - now) / 1000);
      if (left <= 0) {
        el.textContent = el.dataset.overdue;
        el.classList.add("overdue");
        return;
      }
      var h = Math.floor(left / 3600), m = Math.floor((left % 3600) / 60), s = left % 60;
      el.textContent = (h ? h + ":" + pad(m) : m) + ":" + pad(s);
      el.classList.remove("overdue");
    });
  }
  tick();
  setInterval(tick, 1000);
  document.body.addEventListener("htmx:afterSwap", tick);

  // A form or fragment answered 401: the session ended (signed out elsewhere, reset, idle). The page may handle it
  // (the alert queue must not go quiet without saying so); else the browser goes to the sign-in form.
  document.body.addEventListener("htmx:responseError", function (e) {
    if (e.detail.xhr.status !== 401) return;
    if (window.geohazardSignedOut) window.geohazardSignedOut();
    else window.location = e.detail.xhr.getResponseHeader("X-Sign-In") || document.body.dataset.prefix + "/login";
  });
})();
