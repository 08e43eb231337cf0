// The session page's chart: energy (kWh since the start) and power (kW) over time, with uPlot.
// While the session runs, the live feed swaps in a fresh chart fragment with every batch of meter
// values; the chart is drawn again from it.
(function () {
  "use strict";
  var plot = null;

  function width(el) { return Math.max(280, el.clientWidth || 600); }

  function draw() {
    var el = document.getElementById("session-chart");
    var data = document.getElementById("session-series");
    if (!el || !data || !window.uPlot || el.dataset.drawn) return;
    el.dataset.drawn = "1";
    var s = JSON.parse(data.textContent);
    var kwh = s.energy_wh.map(function (v) { return v === null ? null : v / 1000; });
    var kw = s.power_w.map(function (v) { return v === null ? null : v / 1000; });
    if (plot) plot.destroy();
    plot = new uPlot({
      width: width(el),
      height: 280,
      spanGaps: true,
      series: [
        {},
        { label: "Energy (kWh)", stroke: "#0a7c55", width: 2, scale: "kwh" },
        { label: "Power (kW)", stroke: "#0b4b9c", width: 2, scale: "kw" },
      ],
      axes: [{}, { scale: "kwh", label: "kWh" }, { scale: "kw", side: 1, label: "kW", grid: { show: false } }],
    }, [s.t, kwh, kw], el);
  }

  draw();
  document.body.addEventListener("htmx:afterSettle", draw);
  window.addEventListener("resize", function () {
    var el = document.getElementById("session-chart");
    if (plot && el) plot.setSize({ width: width(el), height: 280 });
  });
})();
