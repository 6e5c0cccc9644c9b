// A hazard point's sensor charts (uPlot): the readings' buckets over the chosen period, the sensor's thresholds as
// lines in their level's colour, and the point's alerts shaded from raised to resolved (or now).
// Each chart's element carries what it drew (data-state, data-points, data-thresholds), and window.geohazardCharts
// keeps it by "device/sensor", so that a test, or a curious officer at the console, can read it back.
(function () {
  "use strict";
  var section = document.getElementById("charts");
  if (!section) return;
  var labels = JSON.parse(section.dataset.labels);
  var css = getComputedStyle(document.documentElement);
  var LEVEL_COLOURS = {};
  ["blue", "yellow", "orange", "red"].forEach(function (level) {
    LEVEL_COLOURS[level] = css.getPropertyValue("--" + level).trim();
  });
  // Shading light enough for the series to read through it.
  var SHADE_ALPHA = "33";
  var HEIGHT_PX = 240;
  var charts = window.geohazardCharts = {};

  function seriesOf(data) {
    // [key, label, scale, stroke, options] of each data series of the sensor's kind.
    var unit = data.unit, perDay = unit + labels.per_day;
    if (data.kind === "rain") {
      return [["rain", labels.rain + " (mm)", "mm", "#1c7ed6", {paths: uPlot.paths.bars({size: [0.8, 40]}), fill: "#1c7ed655"}],
              ["cumulative", labels.cumulative + " (mm)", "total", "#364fc7", {}]];
    }
    if (data.series.velocity) {
      return [["displacement", labels.displacement + " (" + unit + ")", "mm", "#212529", {}],
              ["velocity", labels.velocity + " (" + perDay + ")", "v", "#2b8a3e", {}]];
    }
    return [["value", labels.value, "mm", "#212529", {}]];
  }

  // The range a scale needs to show its series, every threshold they have passed, and the nearest one above them:
  // the next level to watch. Thresholds further up would flatten the series, so they stay off the chart.
  function rangeOf(values, lines) {
    var known = values.filter(function (v) { return v !== null; });
    if (!known.length) return null;
    var lo = Math.min.apply(null, known), hi = Math.max.apply(null, known);
    var levels = lines.map(function (l) { return l.value; });
    var above = levels.filter(function (v) { return v > hi; });
    levels.filter(function (v) { return v <= hi; }).forEach(function (v) { lo = Math.min(lo, v); });
    if (above.length) hi = Math.min.apply(null, above);
    var pad = (hi - lo) * 0.08 || Math.abs(hi) * 0.1 || 1;
    return [lo - pad, hi + pad];
  }

  // Times on the x axis as the duty room writes them, 24-hour clock in China Standard Time.
  var dayTime = uPlot.fmtDate("{HH}:{mm}\n{M}-{D}");
  function timeLabels(u, splits) {
    return splits.map(function (ts) { return dayTime(uPlot.tzDate(new Date(ts * 1e3), "Asia/Shanghai")); });
  }

  function shadeAlerts(data) {
    return function (u) {
      var ctx = u.ctx, box = u.bbox, now = Date.now() / 1000;
      data.alerts.forEach(function (a) {
        var x0 = Math.max(u.valToPos(a.from, "x", true), box.left);
        var x1 = Math.min(u.valToPos(a.to === null ? now : a.to, "x", true), box.left + box.width);
        if (x1 <= x0) return;
        ctx.fillStyle = (LEVEL_COLOURS[a.level] || "#868e96") + SHADE_ALPHA;
        ctx.fillRect(x0, box.top, x1 - x0, box.height);
      });
    };
  }

  function build(el, data) {
    var defs = seriesOf(data);
    var rows = [data.t];
    var series = [{}];
    var scales = {x: {time: true, range: function () { return [data.from, data.to]; }}};
    defs.forEach(function (d) {
      var values = data.series[d[0]];
      var lines = data.thresholds.filter(function (l) { return l.series === d[0]; });
      var range = rangeOf(values, lines);
      rows.push(values);
      series.push(Object.assign({label: d[1], scale: d[2], stroke: d[3], width: 2, spanGaps: false}, d[4]));
      scales[d[2]] = range ? {range: function () { return range; }} : {};
    });
    data.thresholds.forEach(function (l) {
      var def = defs.filter(function (d) { return d[0] === l.series; })[0];
      rows.push(data.t.map(function () { return l.value; }));
      series.push({label: labels.levels[l.level] + " " + l.value, scale: def[2], stroke: LEVEL_COLOURS[l.level],
                   width: 1.5, dash: l.series === "velocity" ? [6, 4] : undefined, points: {show: false}});
    });
    var axes = [{values: timeLabels, space: 70}, {scale: defs[0][2], label: defs[0][1]}];
    if (defs[1]) axes.push({scale: defs[1][2], label: defs[1][1], side: 1, grid: {show: false}});
    var opts = {
      width: Math.max(el.clientWidth, 320), height: HEIGHT_PX, series: series, scales: scales, axes: axes,
      tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1e3), "Asia/Shanghai"); },
      hooks: {drawClear: [shadeAlerts(data)]}
    };
    return new uPlot(opts, rows, el);
  }

  function draw(el, period) {
    var key = el.dataset.key;
    if (charts[key] && charts[key].plot) charts[key].plot.destroy();
    el.textContent = "";
    el.dataset.state = "loading";
    return fetch(el.dataset.url + "?period=" + encodeURIComponent(period), {credentials: "same-origin"})
      .then(function (response) {
        if (!response.ok) throw new Error(response.status + " " + response.statusText);
        return response.json();
      })
      .then(function (data) {
        var chart = {points: data.t.length, thresholds: data.thresholds.length, alerts: data.alerts.length,
                     period: data.period, plot: null};
        charts[key] = chart;
        el.dataset.points = chart.points;
        el.dataset.thresholds = chart.thresholds;
        if (!data.t.length) {
          el.innerHTML = '<p class="chart-empty"></p>';
          el.firstChild.textContent = labels.empty;
          el.dataset.state = "empty";
          return;
        }
        chart.plot = build(el, data);
        chart.series = chart.plot.series.slice(1).map(function (s) { return s.label; });
        if (data.truncated) {
          var note = document.createElement("p");
          note.className = "hint";
          note.textContent = labels.truncated;
          el.appendChild(note);
        }
        el.dataset.state = "drawn";
      })
      .catch(function (error) {
        el.textContent = labels.failed + " (" + error.message + ")";
        el.dataset.state = "failed";
      });
  }

  function drawAll(period) {
    section.querySelectorAll("button[data-period]").forEach(function (b) {
      b.setAttribute("aria-pressed", b.dataset.period === period ? "true" : "false");
    });
    section.querySelectorAll(".chart[data-url]").forEach(function (el) { draw(el, period); });
  }

  section.addEventListener("click", function (e) {
    var button = e.target.closest("button[data-period]");
    if (button) drawAll(button.dataset.period);
  });
  var pressed = section.querySelector('button[data-period][aria-pressed="true"]');
  drawAll(pressed ? pressed.dataset.period : "7d");
})();
