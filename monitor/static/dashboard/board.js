// The public on-duty board keeps itself current: it polls /api/v1/board/<hall> and redraws the windows.
"use strict";

const BOARD_POLL_MS = 2000;


function boardWindow(w) {
  const card = document.createElement("article");
  card.className = `window ${w.duty}`;
  card.dataset.window = w.id;
  card.dataset.duty = w.duty;
  const name = document.createElement("div");
  name.className = "window-name";
  name.textContent = w.name;
  const officers = document.createElement("div");
  officers.className = "officers";
  for (const o of w.officers.length ? w.officers : [null]) {
    const line = document.createElement("div");
    line.className = "officer";
    if (o === null) {
      line.textContent = "—";
    } else {
      line.textContent = o.name + " ";
      const badge = document.createElement("span");
      badge.className = "badge-no";
      badge.textContent = o.badge + (o.away ? " (" + both("away") + ")" : "");
      line.appendChild(badge);
    }
    officers.appendChild(line);
  }
  const duty = document.createElement("div");
  duty.className = "duty";
  duty.textContent = bothLabels("duty", w.duty);
  card.append(name, officers, duty);
  return card;
}

async function pollBoard() {
  const hall = document.body.dataset.hall;
  const badge = document.getElementById("connection");
  try {
    const response = await fetch(`/api/v1/board/${encodeURIComponent(hall)}`, { cache: "no-store" });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const board = await response.json();
    document.getElementById("windows").replaceChildren(...board.windows.map(boardWindow));
    document.getElementById("clock").textContent = clock(board.at, true);
    badge.textContent = both("live");
  } catch (err) {
    badge.textContent = both("reconnecting…");
  }
  setTimeout(pollBoard, BOARD_POLL_MS);
}

document.addEventListener("DOMContentLoaded", () => setTimeout(pollBoard, BOARD_POLL_MS));
