// The overview's map of locations. Markers come from the page; tiles from MAP_TILE_URL. When the
// tile server cannot be reached the markers (and the list below the map) still work.
(function () {
  "use strict";
  var el = document.getElementById("map");
  var data = document.getElementById("map-points");
  if (!el || !data || !window.L) return;
  var points = JSON.parse(data.textContent);
  var map = L.map(el, { scrollWheelZoom: false });
  if (el.dataset.tiles) {
    var tiles = L.tileLayer(el.dataset.tiles, { maxZoom: 19, attribution: el.dataset.attribution || "" });
    tiles.on("tileerror", function () { el.classList.add("tiles-failed"); });
    tiles.addTo(map);
  }
  var bounds = [];
  points.forEach(function (p) {
    var marker = L.circleMarker([p.lat, p.lng], {
      radius: 9, weight: 2, color: p.online === p.total ? "#0a7c55" : (p.online ? "#b7791f" : "#b3261e"),
    }).addTo(map);
    var link = document.createElement("a");
    link.href = "/stations/?location=" + encodeURIComponent(p.id);
    link.textContent = p.name + " (" + p.online + "/" + p.total + " online)";
    marker.bindPopup(link);
    bounds.push([p.lat, p.lng]);
  });
  if (bounds.length === 1) map.setView(bounds[0], 14);
  else map.fitBounds(bounds, { padding: [30, 30] });
})();
