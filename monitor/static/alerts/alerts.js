// The alerts page: polls /api/v1/alerts every few seconds and updates the table in place (rows whose
// state did not change are left alone, so a note being typed survives a refresh).
"use strict";
(() => {
  const POLL_MS = 3000;
  const page = document.getElementById("alerts-page");
  const body = document.querySelector("#alerts tbody");
  const status = document.getElementById("alert-status");
  const count = document.getElementById("alert-count");
  const more = document.getElementById("more");
  const canHandle = page.dataset.canHandle === "true";
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const params = new URLSearchParams(page.dataset.query);
  let limit = 50;
  let first = true;

  const el = (tag, attrs = {}, ...children) => {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    for (const c of children) node.append(c);
    return node;
  };
  const when = (iso) => new Date(iso).toLocaleString([], {dateStyle: "short", timeStyle: "medium"});
  const signature = (a) => [a.open, a.acked_at, a.case_id, a.case_status, Boolean(a.excused_by)].join("|");
  // An unstaffed window inside an approved absence stays listed, marked as excused (migration 045).
  const excused = (a) => {
    if (!a.excused_by) return "";
    const reasons = [...new Set(a.excused_by.map((e) => e.reason.replaceAll("_", " ")))].join(", ");
    const title = a.excused_by.map((e) => `${e.reason.replaceAll("_", " ")}${e.officer ? ` (${e.officer})` : ""}`
                                          + `${e.note ? `: ${e.note}` : ""}`).join("; ");
    return el("span", {class: "badge excused", title}, `excused (absence: ${reasons})`);
  };

  async function post(url, payload) {
    const response = await fetch(url, {method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf}, body: JSON.stringify(payload)});
    const data = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(typeof data.detail === "string" ? data.detail : `HTTP ${response.status}`);
    return data;
  }

  function handleCell(a) {
    const cell = el("td", {"data-label": "Acknowledged"});
    if (a.acked_at) {
      cell.append(el("span", {class: "badge done ack"}, `${a.acked_by}, ${when(a.acked_at)}`));
      if (a.ack_note) cell.append(" ", el("span", {class: "muted"}, a.ack_note));
    } else if (canHandle) {
      const note = el("input", {name: "note", placeholder: "note", maxlength: "2000"});
      const button = el("button", {type: "button", class: "ack-button"}, "Acknowledge");
      button.addEventListener("click", () => act(button, `/api/v1/alerts/${encodeURIComponent(a.id)}/ack`,
                                                 {note: note.value}));
      cell.append(el("div", {class: "handle"}, note, button));
    } else {
      cell.append("–");
    }
    return cell;
  }

  function caseCell(a) {
    const cell = el("td", {"data-label": "Case"});
    if (a.case_id) {
      cell.append(el("a", {href: `/cases/${a.case_id}`, class: "case-link"}, `case ${a.case_id}`), " ",
                  el("span", {class: `badge ${a.case_status}`}, a.case_status));
    } else if (canHandle) {
      const button = el("button", {type: "button", class: "secondary case-button"}, "Turn into case");
      button.addEventListener("click", () => act(button, `/api/v1/alerts/${encodeURIComponent(a.id)}/case`, {}));
      cell.append(button);
    } else {
      cell.append("–");
    }
    return cell;
  }

  function row(a) {
    const subject = a.subject === a.camera_id ? `camera ${a.camera_id}` : `${a.subject} (camera ${a.camera_id})`;
    const tr = el("tr", {id: `alert-${a.id}`, "data-alert": a.id, "data-sig": signature(a),
                         class: [a.open ? "open" : "closed", a.acked_at ? "acked" : ""].join(" ")},
      el("td", {"data-label": "Started"}, when(a.started_at)),
      el("td", {"data-label": "Hall"}, a.hall_name),
      el("td", {"data-label": "Alert"}, el("span", {class: "kind"}, a.kind.replaceAll("_", " ")), " ",
         el("span", {class: "subject"}, subject), " ", excused(a)),
      el("td", {"data-label": "State"}, el("span", {class: `badge ${a.open ? "overdue" : "closed"} state`},
         a.open ? "open" : `ended ${when(a.ended_at)}`)),
      handleCell(a), caseCell(a));
    return tr;
  }

  async function act(button, url, payload) {
    button.disabled = true;
    try {
      await post(url, payload);
      status.textContent = "Saved.";
    } catch (error) {
      status.textContent = `Not saved: ${error.message}`;
      button.disabled = false;
    }
    await refresh();
  }

  async function refresh() {
    params.set("limit", String(limit));
    params.delete("offset");
    let data;
    try {
      const response = await fetch(`/api/v1/alerts?${params}`, {credentials: "same-origin"});
      if (response.status === 401) { window.location.assign(`/login?next=${encodeURIComponent(location.pathname + location.search)}`); return; }
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      data = await response.json();
    } catch (error) {
      status.textContent = `Cannot reach the server (${error.message}); retrying…`;
      return;
    }
    const existing = new Map([...body.querySelectorAll("tr[data-alert]")].map((tr) => [tr.dataset.alert, tr]));
    const rows = data.data.map((a) => {
      const old = existing.get(a.id);
      if (old && old.dataset.sig === signature(a)) return old;
      const fresh = row(a);
      if (!old && !first) fresh.classList.add("fresh");
      return fresh;
    });
    body.replaceChildren(...rows);
    if (!rows.length) body.append(el("tr", {}, el("td", {colspan: "6"}, "No alerts match.")));
    const open = data.data.filter((a) => a.open).length;
    count.textContent = `(${data.count}, ${open} open on this page)`;
    more.hidden = data.count <= data.data.length;
    status.textContent = `Updated ${new Date().toLocaleTimeString()}`;
    page.dataset.updated = String(Date.now());
    if (first && location.hash) {  // a case links back here: show its alert
      const target = document.getElementById(decodeURIComponent(location.hash.slice(1)));
      if (target) { target.classList.add("fresh"); target.scrollIntoView({block: "center"}); }
    }
    first = false;
  }

  more.addEventListener("click", () => { limit += 50; refresh(); });
  refresh();
  setInterval(refresh, POLL_MS);
})();
