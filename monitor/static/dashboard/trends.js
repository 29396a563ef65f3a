// The trends page: four charts from the embedded /api/v1/trends answer, records as markers on each.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const d = JSON.parse(document.getElementById("trends-data").textContent);
  const markers = d.markers.map(m => ({ t: m.t, kind: m.kind, label: m.label }));
  const range = [Date.parse(d.since) / 1000, Date.parse(d.until) / 1000];
  const minutes = v => (v === null ? null : v / 60);
  hwChart("chart-queue", { title: t("Queue length (people)"), t: d.t, range, markers, series: [
    { label: t("mean"), values: d.queue }, { label: t("max"), values: d.queue_max }] });
  hwChart("chart-wait", { title: t("Waiting time (min)"), t: d.t, range, markers, series: [
    { label: "p50", values: d.wait_p50_s.map(minutes) }, { label: "p90", values: d.wait_p90_s.map(minutes) }] });
  hwChart("chart-staffing", { title: t("Staffing against demand"), t: d.t, range, markers, series: [
    { label: t("windows staffed"), values: d.present_windows }, { label: t("people waiting"), values: d.queue }] });
  hwChart("chart-coverage", { title: t("Camera coverage (share live)"), t: d.t, range, markers, series: [
    { label: t("coverage"), values: d.coverage }] });
});
