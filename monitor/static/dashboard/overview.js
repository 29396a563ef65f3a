// Keeps the overview current: polls /api/v1/overview and updates every node's counts and each window's state.
"use strict";

const OVERVIEW_POLL_MS = 3000;

function pill(cls, title, text) {
  const el = document.createElement("span");
  el.className = `pill ${cls}`;
  el.title = title;
  el.textContent = text;
  return el;
}

function updateNode(node, s) {
  const el = document.querySelector(`.node-state[data-node="${node}"]`);
  if (!el) return;
  el.dataset.unstaffed = s.unstaffed;
  el.dataset.longQueues = s.long_queues;
  el.dataset.waitsOverSla = s.waits_over_sla;
  el.dataset.camerasDown = s.cameras_down;
  el.replaceChildren(
    pill(s.unstaffed ? "bad" : "ok", t("windows unstaffed now"), t("%(n)s/%(of)s unstaffed", {n: s.unstaffed, of: s.windows})),
    pill(s.long_queues ? "bad" : "ok", t("queues over their limit"), t("%(n)s long queues", {n: s.long_queues})),
    pill(s.waits_over_sla ? "bad" : "ok", t("open waits over SLA"), t("%(n)s waits over SLA", {n: s.waits_over_sla})),
    pill(s.cameras_down ? "warn" : "ok", t("cameras not live"),
         t("%(n)s/%(of)s cameras down", {n: s.cameras_down, of: s.cameras})));
  const li = el.closest("li.node");
  if (li) li.classList.toggle("alerting", Boolean(s.unstaffed || s.long_queues || s.waits_over_sla || s.cameras_down));
}

function updateWindow(hallId, w) {
  for (const el of document.querySelectorAll(`[data-window="${hallId}/${w.id}"]`)) {
    for (const c of [...el.classList]) if (c.startsWith("state-")) el.classList.remove(c);
    el.classList.add(`state-${w.state}`);
    const state = el.querySelector(".state");
    state.textContent = label("desk_state", w.state);
    state.dataset.state = w.state;
    el.querySelector(".queue").textContent = t("%(n)s waiting", {n: w.queue === null ? "–" : w.queue});
    el.querySelector(".alerts").replaceChildren(...w.alerts.map(a => pill("bad alert", a, label("alert_kind", a))));
  }
}

async function pollOverview() {
  try {
    const response = await fetch("/api/v1/overview", { cache: "no-store" });
    if (response.ok) {
      const o = await response.json();
      updateNode("province", o.state);
      for (const c of o.cities) {
        updateNode(`city/${c.id}`, c.state);
        for (const h of c.halls) {
          updateNode(`hall/${h.id}`, h.state);
          for (const w of h.windows) updateWindow(h.id, w);
        }
      }
      const at = document.getElementById("generated-at");
      at.dateTime = o.generated_at;
      at.textContent = clock(o.generated_at);
    }
  } finally {
    setTimeout(pollOverview, OVERVIEW_POLL_MS);
  }
}

document.addEventListener("DOMContentLoaded", () => setTimeout(pollOverview, OVERVIEW_POLL_MS));
