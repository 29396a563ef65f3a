// Keeps the server-rendered status page current: polls /api/v1/status and updates the values in
// place. The structure (halls, windows, zones, cameras) comes from the site file and does not change.
"use strict";

const POLL_MS = 1000;

function sinceText(iso) {
  if (!iso) return "";
  const seconds = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (seconds < 90) return t("for %(n)s s", {n: seconds});
  const minutes = Math.round(seconds / 60);
  return minutes < 90 ? t("for %(n)s min", {n: minutes}) : t("for %(n)s h", {n: Math.round(minutes / 60)});
}

function setClass(el, prefix, value) {
  for (const c of [...el.classList]) if (c.startsWith(prefix)) el.classList.remove(c);
  el.classList.add(prefix + value);
}

function apply(status) {
  const at = document.getElementById("generated-at");
  at.dateTime = status.generated_at;
  at.textContent = clock(status.generated_at);
  for (const hall of status.halls) {
    for (const w of hall.windows) {
      const el = document.querySelector(`[data-window="${hall.id}/${w.id}"]`);
      if (!el) continue;
      setClass(el, "state-", w.state);
      el.querySelector(".state").textContent = label("desk_state", w.state);
      el.querySelector(".state").dataset.state = w.state;
      el.querySelector(".since").dataset.since = w.since || "";
    }
    for (const z of hall.zones) {
      const el = document.querySelector(`[data-zone="${hall.id}/${z.id}"] .count`);
      if (el) el.textContent = z.people === null ? "–" : String(z.people);
    }
    for (const c of hall.cameras) {
      const el = document.querySelector(`[data-camera="${hall.id}/${c.id}"]`);
      if (!el) continue;
      setClass(el, "camera-", c.state);
      el.querySelector(".state").textContent = label("camera_state", c.state);
      el.querySelector(".age").textContent =
        c.last_frame_age_s === null ? "" : t("%(s)s s", {s: c.last_frame_age_s.toFixed(1)});
    }
  }
}

function tickSince() {
  for (const el of document.querySelectorAll(".since")) el.textContent = sinceText(el.dataset.since);
}

async function poll() {
  const badge = document.getElementById("connection");
  try {
    const response = await fetch("/api/v1/status", { cache: "no-store" });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    apply(await response.json());
    badge.textContent = t("live");
    badge.className = "ok";
  } catch (err) {
    badge.textContent = t("connection lost, retrying");
    badge.className = "down";
  }
  tickSince();
  setTimeout(poll, POLL_MS);
}

tickSince();
setTimeout(poll, POLL_MS);
