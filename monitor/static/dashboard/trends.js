// The trends page: four charts from the embedded /api/v1/trends answer, records as markers on each.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const d = JSON.parse(document.getElementById("trends-data").textContent);
  for (const cell of document.querySelectorAll("#markers td[data-label=When]")) {
    cell.textContent = new Date(Number(cell.textContent) * 1000).toISOString().slice(0, 16).replace("T", " ") + " UTC";
  }
  const markers = d.markers.map(m => ({ t: m.t, kind: m.kind, label: m.label }));
  const range = [Date.parse(d.since) / 1000, Date.parse(d.until) / 1000];
  const minutes = v => (v === null ? null : v / 60);
  hwChart("chart-queue", { title: "Queue length (people)", t: d.t, range, markers, series: [
    { label: "mean", values: d.queue }, { label: "max", values: d.queue_max }] });
  hwChart("chart-wait", { title: "Waiting time (min)", t: d.t, range, markers, series: [
    { label: "p50", values: d.wait_p50_s.map(minutes) }, { label: "p90", values: d.wait_p90_s.map(minutes) }] });
  hwChart("chart-staffing", { title: "Staffing against demand", t: d.t, range, markers, series: [
    { label: "windows staffed", values: d.present_windows }, { label: "people waiting", values: d.queue }] });
  hwChart("chart-coverage", { title: "Camera coverage (share live)", t: d.t, range, markers, series: [
    { label: "coverage", values: d.coverage }] });
});
