// The session page's chart: energy (kWh since the start) and power (kW) over time, with uPlot.
(function () {
  "use strict";
  var el = document.getElementById("session-chart");
  var data = document.getElementById("session-series");
  if (!el || !data || !window.uPlot) return;
  var s = JSON.parse(data.textContent);
  var kwh = s.energy_wh.map(function (v) { return v === null ? null : v / 1000; });
  var kw = s.power_w.map(function (v) { return v === null ? null : v / 1000; });
  function width() { return Math.max(280, el.clientWidth || 600); }
  var plot = new uPlot({
    width: width(),
    height: 280,
    spanGaps: true,
    series: [
      {},
      { label: "Energy (kWh)", stroke: "#0a7c55", width: 2, scale: "kwh" },
      { label: "Power (kW)", stroke: "#0b4b9c", width: 2, scale: "kw" },
    ],
    axes: [{}, { scale: "kwh", label: "kWh" }, { scale: "kw", side: 1, label: "kW", grid: { show: false } }],
  }, [s.t, kwh, kw], el);
  window.addEventListener("resize", function () { plot.setSize({ width: width(), height: 280 }); });
})();
