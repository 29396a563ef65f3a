// Time-series charts drawn with the vendored uPlot (monitor/static/vendor/uplot). Each chart is kept in
// window.hwCharts[id] with the data it was given, so pages (and tests) can read what is plotted.
"use strict";

window.hwCharts = window.hwCharts || {};

const MARK_COLOURS = { complaint: "#b3261e", inspection: "#1f5fae", finding: "#a15c00" };
const SERIES_COLOURS = ["#1f5fae", "#b3261e", "#1b7f3b", "#a15c00", "#5b2a9c"];

// Draws each record marker as a vertical line at its time, coloured by kind.
function markerPlugin(markers) {
  return {
    hooks: {
      draw: [u => {
        const ctx = u.ctx;
        ctx.save();
        ctx.lineWidth = 2 * devicePixelRatio;
        for (const m of markers) {
          const x = u.valToPos(m.t, "x", true);
          if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) continue;
          ctx.strokeStyle = MARK_COLOURS[m.kind] || "#444";
          ctx.setLineDash([4 * devicePixelRatio, 3 * devicePixelRatio]);
          ctx.beginPath();
          ctx.moveTo(x, u.bbox.top);
          ctx.lineTo(x, u.bbox.top + u.bbox.height);
          ctx.stroke();
        }
        ctx.restore();
      }],
    },
  };
}

// A value with no neighbours draws no line: show it as a point (uPlot hides points on dense charts).
function isolatedPoints(u, seriesIdx, show) {
  if (show) return null;
  const values = u.data[seriesIdx];
  const out = [];
  for (let i = 0; i < values.length; i++) {
    if (values[i] != null && values[i - 1] == null && values[i + 1] == null) out.push(i);
  }
  return out.length ? out : null;
}

// spec: {title, t: [unix s], series: [{label, values, scale?}], markers?: [{t, kind, label}], step?: bool,
//        range?: [from, to] unix s (the whole chosen range, so markers outside the data still show)}
function hwChart(id, spec) {
  const el = document.getElementById(id);
  if (!el || typeof uPlot === "undefined") return null;
  const data = [spec.t, ...spec.series.map(s => s.values)];
  const width = Math.max(320, el.clientWidth || 800);
  const opts = {
    title: spec.title,
    width,
    height: spec.height || 240,
    plugins: [markerPlugin(spec.markers || [])],
    scales: { x: { time: true, range: spec.range ? () => spec.range : undefined } },
    tzDate: (ts) => (HW_TZ ? uPlot.tzDate(new Date(ts * 1e3), HW_TZ) : new Date(ts * 1e3)),  // the site's clock
    series: [{}, ...spec.series.map((s, i) => ({
      label: s.label, stroke: SERIES_COLOURS[i % SERIES_COLOURS.length], width: 2, spanGaps: false,
      scale: s.scale || "y", points: { filter: isolatedPoints }, paths: spec.step ? uPlot.paths.stepped({ align: 1 }) : undefined,
    }))],
    axes: [{}, { scale: "y" }, ...(spec.series.some(s => s.scale === "y2") ? [{ scale: "y2", side: 1 }] : [])],
  };
  const plot = new uPlot(opts, data, el);
  el.dataset.points = String(spec.t.length);
  window.hwCharts[id] = { plot, spec };
  return plot;
}
window.hwChart = hwChart;
