// The supervision center's wall: halls by city coloured by state, the province's totals, the open alerts,
// a rotating set of cameras with their zones drawn over them, and today's queue and staffing.
//
// Meant to stay open on a wall for days, so nothing may pile up:
// - every refresh updates nodes made once (cities, halls, the ticker's fixed rows, camera tiles); a hall or
//   city that left the answer is dropped with its node; the chart is made once and given new data;
// - listeners are added only when a node is made; one timer per loop, set again when its work ended;
// - every request has a deadline and is aborted past it (or when the page goes), so a hung request never
//   stalls the loop; the browser's resource-timing buffer is emptied after each refresh;
// - a camera tile releases its MJPEG stream (removes the <img> src, which closes the connection) before it
//   shows the next camera, when the page is hidden and when it goes; a stream that ended or failed is
//   opened again at the next rotation, and every stream is renewed after STREAM_RENEW_MS;
// - "today" starts at midnight on the server's clock in the site's time zone (a wall PC's clock may drift).
"use strict";
(() => {
  const root = document.getElementById("center");
  const REFRESH_MS = Number(root.dataset.refresh) * 1000;
  const ROTATE_MS = Number(root.dataset.rotate) * 1000;
  const MAX_TILES = Number(root.dataset.tiles);
  const TICKER_ROWS = 12;
  const TREND_EVERY_MS = 60000;       // today's trend changes slowly: fetched once a minute
  const CAMERAS_EVERY_MS = 3600000;   // the list of cameras (site file changes): once an hour
  const STREAM_RENEW_MS = 600000;     // a stream that may have ended unseen is opened again after this
  const DENSE_FROM = 24;              // more halls than this: smaller tiles showing only what is wrong
  const FETCH_DEADLINE_MS = Math.min(30000, Math.max(8000, REFRESH_MS));
  const COUNTS = ["unstaffed", "long_queues", "waits_over_sla", "cameras_down"];
  const hallsEl = document.getElementById("halls");
  const errorEl = document.getElementById("center-error");
  const atEl = document.getElementById("center-at");
  const tickerEl = document.getElementById("ticker");
  const tickerCount = document.getElementById("ticker-count");
  const tickerNone = document.getElementById("ticker-none");
  const camsEl = document.getElementById("cams");
  const trendEl = document.getElementById("center-trend");

  const el = (tag, cls) => { const node = document.createElement(tag); if (cls) node.className = cls; return node; };
  const stateOf = (s) => COUNTS.find((k) => s[k] > 0) || "ok";  // the worst first: the tile's colour
  const failure = (error) => t("Cannot reach the server (%(error)s); retrying…", {error: error.message});

  // -- requests: each with a deadline, all aborted when the page goes
  const inflight = new Set();

  async function getJson(url) {
    const control = new AbortController();
    const deadline = setTimeout(() => control.abort(new Error(t("no answer in time"))), FETCH_DEADLINE_MS);
    inflight.add(control);
    try {
      const response = await fetch(url, {credentials: "same-origin", cache: "no-store", signal: control.signal});
      if (response.status === 401) {
        window.location.assign(`/login?next=${encodeURIComponent(location.pathname + location.search)}`);
      }
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      return await response.json();
    } catch (error) {
      throw control.signal.aborted && control.signal.reason instanceof Error ? control.signal.reason : error;
    } finally {
      clearTimeout(deadline);
      inflight.delete(control);
    }
  }

  // -- halls by city, and the totals
  const cities = new Map();  // id -> {node, link, sum, list}
  const halls = new Map();   // id -> {node, name, counts: {key: span}}
  let serverNow = null;      // the server's clock at the last overview

  function countTexts(s) {
    return {unstaffed: t("%(n)s/%(of)s unstaffed", {n: s.unstaffed, of: s.windows}),
            long_queues: t("%(n)s long queues", {n: s.long_queues}),
            waits_over_sla: t("%(n)s waits over SLA", {n: s.waits_over_sla}),
            cameras_down: t("%(n)s/%(of)s cameras down", {n: s.cameras_down, of: s.cameras})};
  }

  function cityPanel(c) {
    let panel = cities.get(c.id);
    if (!panel) {
      const node = el("section", "city"), head = el("h2"), link = el("a"), sum = el("span", "city-sum");
      const list = el("div", "city-halls");
      node.dataset.city = c.id; link.href = `/overview/cities/${encodeURIComponent(c.id)}`;
      head.append(link, " ", sum); node.append(head, list);
      panel = {node, link, sum, list};
      cities.set(c.id, panel);
    }
    panel.link.textContent = c.name;
    panel.node.dataset.state = stateOf(c.state);
    panel.sum.textContent = t("%(n)s halls", {n: c.halls.length});
    return panel;
  }

  function hallTile(h) {
    let tile = halls.get(h.id);
    if (!tile) {
      const node = el("a", "hall"), name = el("span", "hall-name"), box = el("span", "hall-counts");
      node.dataset.hall = h.id; node.href = `/overview/halls/${encodeURIComponent(h.id)}`;
      const counts = {};
      for (const k of COUNTS) { counts[k] = el("span", "count"); counts[k].dataset.count = k; box.append(counts[k]); }
      node.append(name, box);
      tile = {node, name, counts};
      halls.set(h.id, tile);
    }
    const s = h.state, texts = countTexts(s);
    tile.name.textContent = h.name;
    tile.node.dataset.state = stateOf(s);
    tile.node.title = `${h.name}: ${COUNTS.map((k) => texts[k]).join(", ")}`;
    for (const k of COUNTS) {
      tile.counts[k].textContent = texts[k];
      tile.counts[k].classList.toggle("on", s[k] > 0);
    }
    return tile;
  }

  function showOverview(o) {
    const seenCities = new Set(), seenHalls = new Set();
    const panels = o.cities.map((c) => {
      seenCities.add(c.id);
      const panel = cityPanel(c);
      panel.list.replaceChildren(...c.halls.map((h) => { seenHalls.add(h.id); return hallTile(h).node; }));
      return panel.node;
    });
    if (!panels.length) { const none = el("p", "muted"); none.textContent = t("No halls inside your scope."); panels.push(none); }
    hallsEl.replaceChildren(...panels);
    hallsEl.classList.toggle("dense", seenHalls.size > DENSE_FROM);
    for (const id of [...cities.keys()]) if (!seenCities.has(id)) cities.delete(id);
    for (const id of [...halls.keys()]) if (!seenHalls.has(id)) halls.delete(id);
    for (const box of document.querySelectorAll("#totals .total")) {
      const n = o.state[box.dataset.count];
      box.querySelector("dd").textContent = String(n);
      box.classList.toggle("on", n > 0);
    }
    serverNow = o.generated_at;
    atEl.dateTime = o.generated_at;
    atEl.textContent = t("live at") + " " + clock(o.generated_at);
  }

  // -- the ticker: a fixed set of rows, filled with the newest open alerts
  const rows = Array.from({length: TICKER_ROWS}, () => {
    const li = el("li"), link = el("a"), when = el("time"), hall = el("span", "t-hall"), kind = el("span", "t-kind");
    const subject = el("span", "t-subject");
    link.append(when, " ", hall, " ", kind, " ", subject); li.append(link); li.hidden = true; tickerEl.append(li);
    return {li, link, when, hall, kind, subject};
  });
  let shownAlerts = null;  // the ids shown after the last refresh; null before the first

  function showAlerts(page) {
    const now = new Set();
    rows.forEach((row, i) => {
      const a = page.data[i];
      row.li.hidden = !a;
      if (!a) { delete row.li.dataset.alert; delete row.li.dataset.kind; row.li.classList.remove("fresh"); return; }
      now.add(a.id);
      row.li.dataset.alert = a.id;
      row.li.dataset.kind = a.kind;
      row.li.classList.toggle("fresh", shownAlerts !== null && !shownAlerts.has(a.id));
      row.link.href = `/alerts?state=open#${encodeURIComponent(`alert-${a.id}`)}`;
      row.when.dateTime = a.started_at;
      row.when.textContent = clock(a.started_at);
      row.hall.textContent = a.hall_name;
      row.kind.textContent = label("alert_kind", a.kind);
      row.subject.textContent = a.subject === a.camera_id ? t("camera %(camera)s", {camera: a.camera_id}) : a.subject;
    });
    shownAlerts = now;  // after the first refresh, anything unseen is news
    tickerCount.textContent = String(page.count);
    tickerNone.hidden = page.count > 0;
  }

  // -- cameras: a few tiles showing MJPEG, moving on to the next cameras every ROTATE_MS
  let cameras = [], camerasAt = -Infinity, offset = 0, status = null;
  const tiles = [];

  class CamTile {
    constructor() {
      this.node = document.getElementById("cam-template").content.firstElementChild.cloneNode(true);
      this.img = this.node.querySelector("img");
      this.canvas = this.node.querySelector("canvas");
      this.link = this.node.querySelector("figcaption a");
      this.stateEl = this.node.querySelector(".cam-state");
      this.camera = null;
      this.openedAt = -Infinity;
      this.img.addEventListener("load", () => { if (this.camera) { this.setState("live"); this.draw(); } });
      this.img.addEventListener("error", () => { if (this.camera) this.setState("no picture"); });
    }

    setState(state) {
      this.node.dataset.state = state;
      this.stateEl.textContent = state === "live" ? t("live") : state === "no picture" ? t("no picture") : t("connecting");
    }

    // Shows `camera`; the stream is opened again when it is another camera, when the last one failed or
    // stopped, or when it is older than STREAM_RENEW_MS (an MJPEG stream that ended fires no event).
    show(camera) {
      const same = this.camera && this.camera.key === camera.key;
      if (same && this.node.dataset.state !== "no picture" && Date.now() - this.openedAt < STREAM_RENEW_MS) return;
      this.release();
      this.camera = camera;
      this.node.dataset.camera = camera.key;
      this.link.href = `/overview/halls/${encodeURIComponent(camera.hall)}`;
      this.link.textContent = `${camera.hall_name} · ${camera.name}`;
      this.setState("connecting");
      this.img.src = `/api/v1/live/${encodeURIComponent(camera.hall)}/${encodeURIComponent(camera.camera)}/mjpeg`;
      this.openedAt = Date.now();
      this.draw();
    }

    release() { this.img.removeAttribute("src"); }  // closes the MJPEG connection

    stop() { this.release(); this.camera = null; this.openedAt = -Infinity; this.setState("connecting"); }

    // The camera's zones over the picture (object-fit: contain), with the newest desk states and counts.
    draw() {
      const c = this.canvas, ratio = window.devicePixelRatio || 1;
      const w = c.clientWidth, h = c.clientHeight;
      if (c.width !== Math.round(w * ratio) || c.height !== Math.round(h * ratio)) {
        c.width = Math.round(w * ratio); c.height = Math.round(h * ratio);
      }
      const ctx = c.getContext("2d");
      ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
      ctx.clearRect(0, 0, w, h);
      if (!this.camera) return;
      const hall = status && status.halls.find((x) => x.id === this.camera.hall);
      const desks = Object.fromEntries((hall ? hall.windows : []).map((x) => [x.id, x.state]));
      const people = Object.fromEntries((hall ? hall.zones : []).map((z) => [z.id, z.people]));
      const cam = hall && hall.cameras.find((x) => x.id === this.camera.camera);
      this.node.dataset.cameraState = cam ? cam.state : "";
      const mw = this.img.naturalWidth || 16, mh = this.img.naturalHeight || 9;
      const scale = Math.min(w / mw, h / mh);
      const x0 = (w - mw * scale) / 2, y0 = (h - mh * scale) / 2;
      const px = ([x, y]) => [x0 + x * mw * scale, y0 + y * mh * scale];
      ctx.lineWidth = 2; ctx.font = "bold 14px system-ui, sans-serif";
      for (const zone of this.camera.zones || []) {
        let colour = zone.kind === "queue" ? "#4da3ff" : "#c58cff", text;
        if (zone.kind === "desk") {
          const s = desks[zone.window] || "unknown";
          colour = s === "present" ? "#3ccf6e" : s === "absent" ? "#ff5a4f" : "#a0a8b4";
          text = `${zone.window}: ${label("desk_state", s)}`;
        } else {
          const n = people[zone.id];
          text = `${zone.id}: ${n === null || n === undefined ? "–" : n}`;
        }
        ctx.strokeStyle = colour; ctx.beginPath();
        zone.polygon.forEach((p, i) => { const [x, y] = px(p); if (i) ctx.lineTo(x, y); else ctx.moveTo(x, y); });
        ctx.closePath(); ctx.stroke();
        const [lx, ly] = px(zone.polygon[0]);
        ctx.fillStyle = "rgba(0,0,0,.6)"; ctx.fillRect(lx, ly, ctx.measureText(text).width + 8, 19);
        ctx.fillStyle = colour; ctx.fillText(text, lx + 4, ly + 14);
      }
      if (cam && cam.state !== "live") {  // the analysis lost the camera: say so over the picture
        const text = label("camera_state", cam.state);
        ctx.font = "bold 18px system-ui, sans-serif";
        ctx.fillStyle = "rgba(120,20,20,.85)"; ctx.fillRect(8, h - 34, ctx.measureText(text).width + 16, 26);
        ctx.fillStyle = "#fff"; ctx.fillText(text, 16, h - 15);
      }
    }
  }

  async function loadCameras() {
    if (!MAX_TILES || Date.now() - camerasAt < CAMERAS_EVERY_MS) return;
    cameras = (await getJson("/api/v1/live/cameras")).data;
    camerasAt = Date.now();
    const wanted = Math.min(MAX_TILES, cameras.length);
    while (tiles.length > wanted) { const tile = tiles.pop(); tile.stop(); tile.node.remove(); }
    while (tiles.length < wanted) { const tile = new CamTile(); tiles.push(tile); camsEl.append(tile.node); }
    camsEl.dataset.tiles = String(tiles.length);
    camsEl.hidden = !tiles.length;
  }

  function showCameras() {
    if (!tiles.length || document.hidden) return;
    offset %= cameras.length;
    tiles.forEach((tile, i) => tile.show(cameras[(offset + i) % cameras.length]));
  }

  let rotations = 0;

  async function rotate() {
    try {
      await loadCameras();
      if (rotations > 0) offset += tiles.length;
      showCameras();
    } catch (error) {
      errorEl.textContent = failure(error);
    } finally {
      rotations += 1;
      root.dataset.rotations = String(rotations);
      setTimeout(rotate, ROTATE_MS);
    }
  }

  // -- today's queue and staffing: one chart, made once and given new data each time
  let chart = null;

  function midnight(iso) {  // the start of the day `iso` falls on, on the site's clock
    const at = new Date(iso).getTime();
    const [h, m, s] = clock(iso).split(":").map(Number);
    return new Date(at - ((h * 60 + m) * 60 + s) * 1000 - (at % 1000));
  }

  const chartSize = () => ({width: Math.max(320, trendEl.clientWidth), height: 220});

  function makeChart(data) {
    const grid = {stroke: "#2a3b52", width: 1}, ticks = {stroke: "#2a3b52", width: 1};
    const axis = {stroke: "#c3ccd8", grid, ticks, font: "14px system-ui, sans-serif"};
    const hhmm = (u, splits) => splits.map((v) => clock(new Date(v * 1000).toISOString()).slice(0, 5));
    return new uPlot({
      ...chartSize(),
      legend: {live: false},
      cursor: {show: false},
      tzDate: (ts) => (HW_TZ ? uPlot.tzDate(new Date(ts * 1e3), HW_TZ) : new Date(ts * 1e3)),
      scales: {x: {time: true}},
      series: [{}, {label: t("people waiting"), stroke: "#4da3ff", width: 2, scale: "y", spanGaps: false},
               {label: t("windows staffed"), stroke: "#3ccf6e", width: 2, scale: "y2", spanGaps: false}],
      axes: [{...axis, values: hhmm}, {...axis, scale: "y"}, {...axis, scale: "y2", side: 1, grid: {show: false}}],
    }, data, trendEl);
  }

  async function loadTrend() {
    if (!serverNow) return;
    const d = await getJson(`/api/v1/trends?since=${encodeURIComponent(midnight(serverNow).toISOString())}`);
    const data = [d.t, d.queue, d.present_windows];
    if (chart) chart.setData(data); else chart = makeChart(data);
    trendEl.dataset.points = String(d.t.length);
  }

  window.addEventListener("resize", () => {
    if (chart) chart.setSize(chartSize());
    for (const tile of tiles) tile.draw();
  });

  // -- the refresh loop
  let refreshes = 0, trendAt = -Infinity;

  async function refresh() {
    try {
      const jobs = [getJson("/api/v1/overview").then(showOverview),
                    getJson(`/api/v1/alerts?state=open&limit=${TICKER_ROWS}`).then(showAlerts)];
      if (tiles.length) {
        jobs.push(getJson("/api/v1/status").then((s) => { status = s; for (const tile of tiles) tile.draw(); }));
      }
      const results = await Promise.allSettled(jobs);
      hallsEl.classList.toggle("stale", results[0].status === "rejected");  // old states must not look current
      if (Date.now() - trendAt >= TREND_EVERY_MS && serverNow) {
        trendAt = Date.now();
        results.push(...await Promise.allSettled([loadTrend()]));
      }
      const failed = results.find((r) => r.status === "rejected");
      errorEl.textContent = failed ? failure(failed.reason) : "";
      performance.clearResourceTimings();  // the browser would keep an entry per request
    } finally {
      refreshes += 1;
      root.dataset.refreshes = String(refreshes);
      setTimeout(refresh, REFRESH_MS);
    }
  }

  document.addEventListener("visibilitychange", () => {
    if (document.hidden) for (const tile of tiles) tile.stop();
    else showCameras();
  });
  window.addEventListener("pagehide", () => {
    for (const tile of tiles) tile.stop();
    for (const control of inflight) control.abort();
  });
  window.addEventListener("pageshow", (event) => { if (event.persisted) showCameras(); });  // back from a drill-down
  const fullscreen = document.getElementById("center-fullscreen");
  fullscreen.hidden = !document.fullscreenEnabled;
  fullscreen.addEventListener("click", () => root.requestFullscreen().catch(() => {}));

  refresh();
  rotate();
})();
