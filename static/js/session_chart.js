// The session page's chart: energy (kWh since the start) and power (kW) over time, with uPlot.
// While the session runs, the live feed swaps in a fresh chart fragment with every batch of meter
// values; the chart is drawn again from it.
//
// The time axis spans the session (start to stop, or to now), so one sample does not stretch it
// over years; both value axes start at zero, so a few hundred watts of noise look like noise; times
// are ISO 24-hour in the viewer's time zone (data-tz), as on every other page.
(function () {
  "use strict";
  var plot = null;
  var HEIGHT = 280;

  function width(el) { return Math.max(280, el.clientWidth || 600); }

  function fromZero(u, min, max) {
    var top = max > 0 ? max * 1.1 : 1;
    return [0, top];
  }

  function draw() {
    var el = document.getElementById("session-chart");
    var data = document.getElementById("session-series");
    if (!el || !data || !window.uPlot || el.dataset.drawn) return;
    el.dataset.drawn = "1";
    var s = JSON.parse(data.textContent);
    var zone = el.dataset.tz || "UTC";
    var kwh = s.energy_wh.map(function (v) { return v === null ? null : v / 1000; });
    var kw = s.power_w.map(function (v) { return v === null ? null : v / 1000; });
    var first = Math.min(s.start, s.t[0]);
    var last = Math.max(s.end, s.t[s.t.length - 1]);
    if (last - first < 60) last = first + 60;
    var clock = uPlot.fmtDate("{HH}:{mm}");
    var day = uPlot.fmtDate("{YYYY}-{MM}-{DD} {HH}:{mm}");
    var full = uPlot.fmtDate("{YYYY}-{MM}-{DD} {HH}:{mm}:{ss}");
    var sameDay = uPlot.fmtDate("{YYYY}-{MM}-{DD}");
    var local = function (ts) { return uPlot.tzDate(new Date(ts * 1000), zone); };
    if (plot) plot.destroy();
    plot = new uPlot({
      width: width(el),
      height: HEIGHT,
      spanGaps: true,
      tzDate: local,
      scales: {
        x: { time: true, range: function () { return [first, last]; } },
        kwh: { range: fromZero },
        kw: { range: fromZero },
      },
      series: [
        { label: "Time (" + (el.dataset.tzLabel || zone) + ")", value: function (u, ts) { return ts == null ? "—" : full(local(ts)); } },
        { label: "Energy (kWh)", stroke: "#0a7c55", width: 2, scale: "kwh" },
        { label: "Power (kW)", stroke: "#0b4b9c", width: 2, scale: "kw" },
      ],
      axes: [
        {
          // The first tick and every tick on a new day carry the date; the others only the time.
          values: function (u, splits) {
            return splits.map(function (ts, i) {
              var d = local(ts);
              var newDay = i === 0 || sameDay(local(splits[i - 1])) !== sameDay(d);
              return newDay ? day(d) : clock(d);
            });
          },
        },
        { scale: "kwh", label: "kWh" },
        { scale: "kw", side: 1, label: "kW", grid: { show: false } },
      ],
    }, [s.t, kwh, kw], el);
    el.chart = plot;
  }

  draw();
  document.body.addEventListener("htmx:afterSettle", draw);
  window.addEventListener("resize", function () {
    var el = document.getElementById("session-chart");
    if (plot && el) plot.setSize({ width: width(el), height: HEIGHT });
  });
})();
