// The hazard-point map: every point the person may see as a marker coloured by its level, clustered at low zoom
// (a cluster takes its worst point's colour), filtered in the page by county, township, type and level.
// window.geohazardMap.readyMs is the time from navigation to every shown marker being in the cluster layer.
(function () {
  "use strict";
  var element = document.getElementById("map");
  var config = JSON.parse(document.getElementById("map-config").textContent);
  var levels = config.levels;  // index = rank: none, blue, yellow, orange, red
  var labels = config.labels;
  // Points further apart than this many pixels are not clustered: the markers are 14 px wide.
  var CLUSTER_RADIUS_PX = 50;
  // A view fitted to points never zooms in further than this (one point alone would be at street level).
  var FIT_MAX_ZOOM = 14;
  var MAX_ZOOM = 18;
  // The coordinate grid's lines are at least this far apart on screen.
  var GRID_MIN_SPACING_PX = 90;
  var GRID_STEPS_DEG = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 45];
  var state = window.geohazardMap = {ready: false, readyMs: null, shown: 0, markers: [], timings: {}};

  var map = L.map(element, {maxZoom: MAX_ZOOM, zoomControl: true});
  var icons = levels.map(function (level) {
    return L.divIcon({className: "point-marker level-" + level, iconSize: [14, 14]});
  });
  var group = L.markerClusterGroup({
    chunkedLoading: true,
    maxClusterRadius: CLUSTER_RADIUS_PX,
    showCoverageOnHover: false,
    iconCreateFunction: clusterIcon,
    chunkProgress: function (processed, total) {
      if (processed === total) ready();
    }
  });

  function clusterIcon(cluster) {
    var children = cluster.getAllChildMarkers(), worst = 0, top = levels.length - 1;
    for (var i = 0; i < children.length && worst < top; i++) {
      if (children[i].options.level > worst) worst = children[i].options.level;
    }
    var count = cluster.getChildCount();
    var size = count < 100 ? 30 : count < 1000 ? 36 : 44;
    return L.divIcon({html: "<span>" + count + "</span>", className: "point-cluster level-" + levels[worst],
                      iconSize: [size, size]});
  }

  function ready() {
    element.dataset.state = "ready";
    element.dataset.shown = String(state.shown);
    if (!state.ready) {
      state.ready = true;
      state.readyMs = performance.now();
      element.dispatchEvent(new CustomEvent("map:ready", {bubbles: true}));
    }
  }

  function escapeHtml(text) {
    var span = document.createElement("span");
    span.textContent = text;
    return span.innerHTML;
  }

  // --- The base layer: the operator's tiles, or a plain background with a longitude/latitude grid.

  function baseLayer(tiles) {
    var attribution = tiles.attribution ? escapeHtml(tiles.attribution) : "";
    if (tiles.kind === "none") {
      element.classList.add("plain");
      return new CoordinateGrid();
    }
    var options = {maxZoom: MAX_ZOOM, attribution: attribution};
    if (tiles.maxNativeZoom !== null) options.maxNativeZoom = tiles.maxNativeZoom;
    return L.tileLayer(tiles.url, options);
  }

  var CoordinateGrid = L.LayerGroup.extend({
    onAdd: function (m) {
      L.LayerGroup.prototype.onAdd.call(this, m);
      if (!m.getPane("grid")) m.createPane("grid").style.zIndex = 250;
      this._renderer = this._renderer || L.svg({pane: "grid"});
      m.on("moveend", this.redraw, this);
      this.redraw();
    },
    onRemove: function (m) {
      m.off("moveend", this.redraw, this);
      L.LayerGroup.prototype.onRemove.call(this, m);
    },
    redraw: function () {
      var m = this._map, size = m.getSize(), view = m.getBounds();
      if (!size.x) return;
      var step = gridStep((view.getEast() - view.getWest()) / size.x);
      var decimals = step >= 1 ? 0 : Math.ceil(-Math.log10(step) - 1e-9);
      var far = view.pad(0.5);
      this.clearLayers();
      for (var lon = Math.ceil(far.getWest() / step) * step; lon <= far.getEast(); lon += step) {
        this._line([[far.getSouth(), lon], [far.getNorth(), lon]]);
        this._label(L.latLng(view.getNorth(), lon), format(lon, decimals, "E", "W"), "lon");
      }
      for (var lat = Math.ceil(far.getSouth() / step) * step; lat <= far.getNorth(); lat += step) {
        this._line([[lat, far.getWest()], [lat, far.getEast()]]);
        this._label(L.latLng(lat, view.getEast()), format(lat, decimals, "N", "S"), "lat");
      }
    },
    _line: function (latlngs) {
      this.addLayer(L.polyline(latlngs, {pane: "grid", renderer: this._renderer, className: "map-grid-line",
                                         interactive: false, weight: 1}));
    },
    _label: function (latlng, text, axis) {
      this.addLayer(L.marker(latlng, {pane: "grid", interactive: false, keyboard: false,
                                      icon: L.divIcon({className: "map-grid-label " + axis, html: "<span>" + text + "</span>",
                                                       iconSize: null})}));
    }
  });

  function gridStep(degreesPerPixel) {
    for (var i = 0; i < GRID_STEPS_DEG.length; i++) {
      if (GRID_STEPS_DEG[i] / degreesPerPixel >= GRID_MIN_SPACING_PX) return GRID_STEPS_DEG[i];
    }
    return GRID_STEPS_DEG[GRID_STEPS_DEG.length - 1];
  }

  function format(value, decimals, positive, negative) {
    var rounded = Number(value.toFixed(decimals));
    if (rounded === 0) return "0°";
    return Math.abs(rounded).toFixed(decimals) + "°" + (rounded > 0 ? positive : negative);
  }

  // --- The points.

  function load(data) {
    var started = performance.now();
    state.data = data;
    for (var i = 0; i < data.code.length; i++) {
      state.markers.push(L.marker([data.lat[i], data.lon[i]], {
        icon: icons[data.level[i]], level: data.level[i], point: i, title: data.code[i] + " " + data.name[i],
        zIndexOffset: data.level[i] * 1000
      }));
    }
    state.timings.markersMs = performance.now() - started;
    fillFilters(data);
    if (data.code.length) {
      map.fitBounds(L.latLngBounds(state.markers.map(function (m) { return m.getLatLng(); })),
                    {maxZoom: FIT_MAX_ZOOM, padding: [20, 20], animate: false});
    } else {
      map.setView(config.emptyView.center, config.emptyView.zoom);
    }
    baseLayer(config.tiles).addTo(map);
    group.addTo(map);
    group.on("click", function (e) { openPopup(e.layer); });
    show(false);
  }

  function openPopup(marker) {
    var i = marker.options.point, data = state.data, level = levels[data.level[i]];
    var box = document.createElement("div");
    box.className = "point-popup";
    var name = box.appendChild(document.createElement("strong"));
    name.textContent = data.name[i];
    var code = box.appendChild(document.createElement("div"));
    code.className = "code";
    code.textContent = data.code[i];
    var facts = box.appendChild(document.createElement("div"));
    var badge = document.createElement("span");
    badge.className = "badge level-" + level;
    badge.textContent = labels[level];
    facts.append(labels.level + " ", badge, " · " + labels[data.type[i]]);
    var link = box.appendChild(document.createElement("a"));
    link.href = config.pointPage + encodeURIComponent(data.code[i]);
    link.textContent = labels.open;
    L.popup({offset: [0, -4]}).setLatLng(marker.getLatLng()).setContent(box).openOn(map);
  }

  // --- Filters, applied in the page: the data is already here.

  var county = document.getElementById("filter-county");
  var township = document.getElementById("filter-township");
  var type = document.getElementById("filter-type");
  var levelBoxes = Array.prototype.slice.call(document.querySelectorAll("input[name=level]"));
  var count = document.getElementById("map-count");

  function options(select, values) {
    while (select.options.length > 1) select.remove(1);
    values.forEach(function (value) { select.add(new Option(value, value)); });
  }

  function distinct(values, keep) {
    var seen = {};
    values.forEach(function (value, i) { if (value !== null && keep(i)) seen[value] = true; });
    return Object.keys(seen).sort();
  }

  function fillFilters(data) {
    options(county, distinct(data.county, function () { return true; }));
    fillTownships();
  }

  function fillTownships() {
    var data = state.data, chosen = county.value;
    options(township, distinct(data.township, function (i) { return !chosen || data.county[i] === chosen; }));
  }

  function matches() {
    var data = state.data, c = county.value, t = township.value, k = type.value;
    var on = levels.map(function (level) {
      return levelBoxes.some(function (box) { return box.value === level && box.checked; });
    });
    return function (marker) {
      var i = marker.options.point;
      return on[data.level[i]] && (!c || data.county[i] === c) && (!t || data.township[i] === t) &&
        (!k || data.type[i] === k);
    };
  }

  function show(fit) {
    var shown = state.markers.filter(matches());
    state.shown = shown.length;
    element.dataset.state = "loading";
    count.textContent = labels.count.replace("{shown}", shown.length.toLocaleString())
      .replace("{total}", state.markers.length.toLocaleString());
    map.closePopup();
    group.clearLayers();
    if (fit && shown.length) {
      map.fitBounds(L.latLngBounds(shown.map(function (m) { return m.getLatLng(); })),
                    {maxZoom: FIT_MAX_ZOOM, padding: [20, 20], animate: false});
    }
    if (shown.length) group.addLayers(shown);
    else ready();
  }

  county.addEventListener("change", function () { fillTownships(); show(true); });
  township.addEventListener("change", function () { show(true); });
  type.addEventListener("change", function () { show(false); });
  levelBoxes.forEach(function (box) { box.addEventListener("change", function () { show(false); }); });

  var fetched = performance.now();
  fetch(config.points, {credentials: "same-origin", headers: {Accept: "application/json"}})
    .then(function (response) {
      if (!response.ok) throw new Error("points.json answered " + response.status);
      return response.json();
    })
    .then(function (data) {
      state.timings.fetchMs = performance.now() - fetched;
      load(data);
    })
    .catch(function (error) {
      element.dataset.state = "failed";
      count.textContent = labels.failed + " (" + error.message + ")";
    });
})();
