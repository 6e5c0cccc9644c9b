// The alert queue, live: the server's alert events (SSE) refresh the queue within a moment of the engine's commit,
// and once an officer has armed it, the alarm sounds while an orange or red alert waits to be acknowledged.
(function () {
  "use strict";
  var prefix = document.body.dataset.prefix;
  var queue = document.getElementById("queue");
  var live = document.getElementById("live");
  var button = document.getElementById("arm-alarm");
  // The alarm repeats this often until the alert is acknowledged: often enough to be heard across a duty room.
  var REPEAT_MS = 4000;
  // Events often come in bursts (a storm raising many points at once): one refresh for a burst.
  var REFRESH_DEBOUNCE_MS = 200;

  var alarm = {
    armed: false,
    context: null,
    timer: null,
    arm: function () {
      var Context = window.AudioContext || window.webkitAudioContext;
      this.context = this.context || new Context();
      this.context.resume();
      this.armed = true;
      button.setAttribute("aria-pressed", "true");
      button.textContent = button.dataset.armedLabel;
      button.className = "alarm-on";
      this.check();
    },
    disarm: function () {
      this.armed = false;
      this.stop();
      button.setAttribute("aria-pressed", "false");
      button.textContent = button.dataset.disarmedLabel;
      button.className = "alarm-off";
    },
    // Two falling tones, synthesised: no sound file to load.
    beep: function () {
      var ctx = this.context, t = ctx.currentTime;
      [[880, 0], [660, 0.35]].forEach(function (tone) {
        var osc = ctx.createOscillator(), gain = ctx.createGain();
        osc.frequency.value = tone[0];
        gain.gain.setValueAtTime(0.4, t + tone[1]);
        gain.gain.exponentialRampToValueAtTime(0.001, t + tone[1] + 0.3);
        osc.connect(gain).connect(ctx.destination);
        osc.start(t + tone[1]);
        osc.stop(t + tone[1] + 0.32);
      });
    },
    start: function () {
      if (this.timer) return;
      this.beep();
      this.timer = setInterval(this.beep.bind(this), REPEAT_MS);
      document.body.classList.add("ringing");
    },
    stop: function () {
      clearInterval(this.timer);
      this.timer = null;
      document.body.classList.remove("ringing");
    },
    // Sound while any orange or red alert in the queue is still open (not acknowledged by anyone), and while the
    // queue can no longer tell (signed out): a console that cannot see new alerts must not sit quiet.
    blind: false,
    check: function () {
      var waiting = queue && queue.querySelector('tr[data-state="open"][data-level="orange"], tr[data-state="open"][data-level="red"]');
      if (this.armed && (waiting || this.blind)) this.start(); else this.stop();
    }
  };
  window.geohazardAlarm = alarm;

  if (button) {
    button.addEventListener("click", function () { if (alarm.armed) alarm.disarm(); else alarm.arm(); });
  }
  if (!queue) return;  // an alert's own page: countdowns only

  // data-refreshed counts the queue's refreshes: the first follows the stream's opening (the page may be older).
  queue.dataset.refreshed = "0";
  document.body.addEventListener("htmx:afterSwap", function (e) {
    if (e.target !== queue) return;
    queue.dataset.refreshed = String(Number(queue.dataset.refreshed) + 1);
    alarm.check();
  });

  var pending = null;
  function refresh() {
    if (pending) return;
    pending = setTimeout(function () { pending = null; htmx.trigger(document.body, "queue-changed"); },
                         REFRESH_DEBOUNCE_MS);
  }
  var source = new EventSource(prefix + "/alerts/stream");
  function signedOut() {
    source.close();
    live.dataset.state = "signed-out";
    live.textContent = live.dataset.signedOut;
    document.getElementById("signed-out").hidden = false;
    alarm.blind = true;
    alarm.check();
  }
  window.geohazardSignedOut = signedOut;
  source.onopen = function () { live.dataset.state = "live"; live.textContent = live.dataset.live; refresh(); };
  source.onmessage = refresh;
  source.onerror = function () {
    // CLOSED: the stream was refused (the session ended), not merely lost; EventSource will not try again.
    if (source.readyState === EventSource.CLOSED) { signedOut(); return; }
    live.dataset.state = "lost";
    live.textContent = live.dataset.lost;
  };
  window.addEventListener("beforeunload", function () { source.close(); });
})();
