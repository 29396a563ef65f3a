// The alerts page: polls /api/v1/alerts every few seconds and updates the table in place (rows whose
// state did not change are left alone, so a note being typed survives a refresh). Opt-in (a switch kept in
// localStorage): a new open alert plays a short sound and shows a desktop notification (Notification API).
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
  const seen = new Set();  // alerts already listed: only the others are news

  // Sound and desktop notification for new alerts, when the reader switched them on in this browser.
  const NOTIFY_KEY = "hallwatch.alerts.notify";
  const toggle = document.getElementById("alert-notify");
  const notifyState = document.getElementById("alert-notify-state");
  const chime = new Audio(page.dataset.sound);
  chime.preload = "auto";
  const notifying = () => localStorage.getItem(NOTIFY_KEY) === "on";
  function showNotifyState() {
    toggle.checked = notifying();
    if (!toggle.checked) notifyState.textContent = "";
    else if (!("Notification" in window)) notifyState.textContent = t("this browser shows no desktop notifications");
    else if (Notification.permission === "denied") notifyState.textContent = t("desktop notifications are blocked for this site; sound only");
    else notifyState.textContent = "";
  }
  toggle.addEventListener("change", async () => {
    localStorage.setItem(NOTIFY_KEY, toggle.checked ? "on" : "off");
    if (toggle.checked) {
      if ("Notification" in window && Notification.permission === "default") {
        try { await Notification.requestPermission(); } catch (error) { /* older browsers: callback form only */ }
      }
      chime.play().catch(() => {});  // a click lets the page play sound later
    }
    showNotifyState();
  });
  showNotifyState();

  function announce(news) {
    if (!news.length || !notifying()) return;
    chime.currentTime = 0;
    chime.play().catch(() => {});
    if (!("Notification" in window) || Notification.permission !== "granted") return;
    for (const a of news.slice(0, 3)) {  // a burst shows a few, then a count
      const body = [a.hall_name, a.subject === a.camera_id ? t("camera %(camera)s", {camera: a.camera_id}) : a.subject,
                    clock(a.started_at, true)].join(" · ");
      const shown = new Notification(t("New alert: %(kind)s", {kind: label("alert_kind", a.kind)}),
                                     {body, tag: a.id, lang: HW_TEXTS.locale});
      shown.addEventListener("click", () => {
        window.focus();
        document.getElementById(`alert-${a.id}`)?.scrollIntoView({block: "center"});
        shown.close();
      });
    }
    if (news.length > 3) {
      new Notification(t("%(count)s more new alerts", {count: news.length - 3}), {tag: "hallwatch-more"});
    }
  }

  const el = (tag, attrs = {}, ...children) => {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    for (const c of children) node.append(c);
    return node;
  };
  const when = (iso) => new Date(iso).toLocaleString(HW_TEXTS.locale, {dateStyle: "short", timeStyle: "medium"});
  const signature = (a) => [a.open, a.acked_at, a.case_id, a.case_status, Boolean(a.excused_by)].join("|");
  // An unstaffed window inside an approved absence stays listed, marked as excused (migration 045).
  const excused = (a) => {
    if (!a.excused_by) return "";
    const reasons = [...new Set(a.excused_by.map((e) => label("absence_reason", e.reason)))].join(", ");
    const title = a.excused_by.map((e) => `${label("absence_reason", e.reason)}${e.officer ? ` (${e.officer})` : ""}`
                                          + `${e.note ? `: ${e.note}` : ""}`).join("; ");
    return el("span", {class: "badge excused", title}, t("excused (absence: %(reasons)s)", {reasons}));
  };

  async function post(url, payload) {
    const response = await fetch(url, {method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf}, body: JSON.stringify(payload)});
    const data = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(typeof data.detail === "string" ? data.detail : `HTTP ${response.status}`);
    return data;
  }

  function handleCell(a) {
    const cell = el("td", {"data-label": t("Acknowledged")});
    if (a.acked_at) {
      cell.append(el("span", {class: "badge done ack"}, `${a.acked_by}, ${when(a.acked_at)}`));
      if (a.ack_note) cell.append(" ", el("span", {class: "muted"}, a.ack_note));
    } else if (canHandle) {
      const note = el("input", {name: "note", placeholder: t("note"), maxlength: "2000"});
      const button = el("button", {type: "button", class: "ack-button"}, t("Acknowledge"));
      button.addEventListener("click", () => act(button, `/api/v1/alerts/${encodeURIComponent(a.id)}/ack`,
                                                 {note: note.value}));
      cell.append(el("div", {class: "handle"}, note, button));
    } else {
      cell.append("–");
    }
    return cell;
  }

  function caseCell(a) {
    const cell = el("td", {"data-label": t("Case")});
    if (a.case_id) {
      cell.append(el("a", {href: `/cases/${a.case_id}`, class: "case-link"}, t("case %(id)s", {id: a.case_id})), " ",
                  el("span", {class: `badge ${a.case_status}`}, label("case_status", a.case_status)));
    } else if (canHandle) {
      const button = el("button", {type: "button", class: "secondary case-button"}, t("Turn into case"));
      button.addEventListener("click", () => act(button, `/api/v1/alerts/${encodeURIComponent(a.id)}/case`, {}));
      cell.append(button);
    } else {
      cell.append("–");
    }
    return cell;
  }

  function row(a) {
    const subject = a.subject === a.camera_id ? t("camera %(camera)s", {camera: a.camera_id})
      : t("%(subject)s (camera %(camera)s)", {subject: a.subject, camera: a.camera_id});
    const tr = el("tr", {id: `alert-${a.id}`, "data-alert": a.id, "data-sig": signature(a),
                         class: [a.open ? "open" : "closed", a.acked_at ? "acked" : ""].join(" ")},
      el("td", {"data-label": t("Started")}, when(a.started_at)),
      el("td", {"data-label": t("Hall")}, a.hall_name),
      el("td", {"data-label": t("Alert")}, el("span", {class: "kind"}, label("alert_kind", a.kind)), " ",
         el("span", {class: "subject"}, subject), " ", excused(a)),
      el("td", {"data-label": t("State")}, el("span", {class: `badge ${a.open ? "overdue" : "closed"} state`},
         a.open ? t("open") : t("ended %(when)s", {when: when(a.ended_at)}))),
      handleCell(a), caseCell(a));
    return tr;
  }

  async function act(button, url, payload) {
    button.disabled = true;
    try {
      await post(url, payload);
      status.textContent = t("Saved.");
    } catch (error) {
      status.textContent = t("Not saved: %(error)s", {error: error.message});
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
      status.textContent = t("Cannot reach the server (%(error)s); retrying…", {error: error.message});
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
    const news = data.data.filter((a) => a.open && !seen.has(a.id));
    for (const a of data.data) seen.add(a.id);
    if (!first) announce(news);
    if (!rows.length) body.append(el("tr", {}, el("td", {colspan: "6"}, t("No alerts match."))));
    const open = data.data.filter((a) => a.open).length;
    count.textContent = t("(%(count)s, %(open)s open on this page)", {count: data.count, open});
    more.hidden = data.count <= data.data.length;
    status.textContent = t("Updated %(time)s", {time: new Date().toLocaleTimeString(HW_TEXTS.locale)});
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
