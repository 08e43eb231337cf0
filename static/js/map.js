// A map of locations (the operator's overview, partner networks, the driver's partner charge points).
// Markers come from the page's #map-points JSON; tiles from MAP_TILE_URL. When the tile server cannot
// be reached the markers (and the list beside the map) still work. When a live region swaps in a
// new #map-points (EVSE statuses changed), the markers are redrawn in place.
(function () {
  "use strict";
  var el = document.getElementById("map");
  if (!el || !window.L) return;
  var map = L.map(el, { scrollWheelZoom: false });
  if (el.dataset.tiles) {
    var tiles = L.tileLayer(el.dataset.tiles, { maxZoom: 19, attribution: el.dataset.attribution || "" });
    tiles.on("tileerror", function () { el.classList.add("tiles-failed"); });
    tiles.addTo(map);
  }
  var COLORS = { available: "#0a7c55", busy: "#b7791f", down: "#b3261e" };
  var markers = L.layerGroup().addTo(map);
  var drawn = null;
  var placed = false;

  function status(p) {
    // A point either names its status (partner EVSEs) or counts stations online (our network).
    if (p.status) return p.status;
    return p.online === p.total ? "available" : (p.online ? "busy" : "down");
  }

  function draw() {
    var data = document.getElementById("map-points");
    if (!data || data.textContent === drawn) return;
    drawn = data.textContent;
    markers.clearLayers();
    var bounds = [];
    JSON.parse(drawn).forEach(function (p) {
      var s = status(p);
      var marker = L.circleMarker([p.lat, p.lng], {
        radius: 9, weight: 2, color: COLORS[s] || "#6b7280", className: "map-marker map-marker-" + s,
      }).addTo(markers);
      var link = document.createElement("a");
      link.href = p.url || "/stations/?location=" + encodeURIComponent(p.id);
      link.textContent = p.label || p.name + " (" + p.online + "/" + p.total + " online)";
      marker.bindPopup(link);
      bounds.push([p.lat, p.lng]);
    });
    if (placed || !bounds.length) return;
    placed = true;
    if (bounds.length === 1) map.setView(bounds[0], 14);
    else map.fitBounds(bounds, { padding: [30, 30] });
  }

  draw();
  new MutationObserver(draw).observe(document.body, { childList: true, subtree: true });
})();
