// The window page: today's desk states as a coloured bar and its queue as a chart.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const d = JSON.parse(document.getElementById("window-data").textContent);
  const bar = document.getElementById("timeline-bar");
  const start = Date.parse(d.day_start) / 1000;
  const end = Math.min(start + 86400, Date.now() / 1000);
  d.timeline.forEach((r, i) => {
    const from = Date.parse(r.ts) / 1000;
    const to = i + 1 < d.timeline.length ? Date.parse(d.timeline[i + 1].ts) / 1000 : end;
    const part = document.createElement("span");
    part.className = "seg state-" + r.state;
    part.style.left = (100 * (from - start) / 86400) + "%";
    part.style.width = Math.max(0.2, 100 * (to - from) / 86400) + "%";
    part.title = t("%(state)s from %(time)s", {state: label("desk_state", r.state), time: clock(r.ts)});
    bar.appendChild(part);
  });
  hwChart("queue-chart", { title: t("People waiting"), t: d.queue_t, range: [start, start + 86400],
                           series: [{ label: t("waiting"), values: d.queue }] });
});
