// The live wall: a grid of tiles, each playing one camera over WebRTC (receive-only H.264) with
// the analytics drawn on a canvas from the "overlay" data channel; MJPEG when WebRTC fails.
// The layout and the camera of each tile are kept in localStorage, so they survive a reload.
// When the server ends a stream because the right to watch it ended (logout, expiry, scope), the
// overlay channel says why first: the tile shows it and does not fall back to MJPEG.
"use strict";

(function () {
  const STORE = "hallwatch.live.v1";
  const STATE_TEXT = {idle: t("idle"), connecting: t("connecting"), mjpeg: t("MJPEG"), "no picture": t("no picture"),
                      live: t("live")};
  const NO_FRAME_MS = 12000;       // WebRTC without a frame this long: fall back to MJPEG
  const ICE_GATHER_MS = 3000;      // non-trickle: send the offer once gathering is done or after this
  const cameras = JSON.parse(document.getElementById("live-cameras").textContent);
  const byKey = Object.fromEntries(cameras.map((c) => [c.key, c]));
  const csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  const wall = document.getElementById("wall");
  const layoutSelect = document.getElementById("layout");
  const overlayToggle = document.getElementById("show-overlay");
  const tiles = [];
  window.hallwatchLive = { tiles };

  function load() {
    try {
      const saved = JSON.parse(localStorage.getItem(STORE) || "null");
      if (saved && typeof saved.layout === "string" && Array.isArray(saved.tiles)) return saved;
    } catch (e) { /* a broken entry is replaced below */ }
    return { layout: "2x2", tiles: cameras.slice(0, 4).map((c) => c.key), modes: {}, overlay: true };
  }
  const state = load();
  state.modes = state.modes || {};
  function save() { localStorage.setItem(STORE, JSON.stringify(state)); }

  function parts(key) { const [hall, camera] = key.split("/"); return { hall, camera }; }
  function apiBase(key) { const p = parts(key); return `/api/v1/live/${encodeURIComponent(p.hall)}/${encodeURIComponent(p.camera)}`; }

  class Tile {
    constructor(index) {
      this.index = index;
      this.el = document.getElementById("tile-template").content.firstElementChild.cloneNode(true);
      this.el.dataset.tile = String(index);
      this.select = this.el.querySelector(".camera-select");
      this.stateEl = this.el.querySelector(".tile-state");
      this.video = this.el.querySelector("video");
      this.img = this.el.querySelector("img.mjpeg");
      this.canvas = this.el.querySelector("canvas");
      this.modeButton = this.el.querySelector("button.mode");
      this.snapshot = this.el.querySelector("a.snapshot");
      this.key = null; this.pc = null; this.generation = 0;
      this.stats = { frames: 0, rtp: [], overlayMessages: 0, config: null, overlay: null, firstFrameMs: null, mode: null };
      const none = document.createElement("option"); none.value = ""; none.textContent = "— no camera —";
      this.select.append(none);
      for (const c of cameras) {
        const o = document.createElement("option"); o.value = c.key; o.textContent = `${c.hall_name} · ${c.name}`;
        this.select.append(o);
      }
      this.select.addEventListener("change", () => { state.tiles[this.index] = this.select.value || null; save(); this.play(this.select.value || null); });
      this.modeButton.addEventListener("click", () => {
        if (!this.key) return;
        state.modes[this.key] = this.mode() === "mjpeg" ? "webrtc" : "mjpeg"; save(); this.play(this.key);
      });
      new ResizeObserver(() => this.draw()).observe(this.el.querySelector(".stage"));
    }

    mode() { return (this.key && state.modes[this.key]) || "webrtc"; }
    // `state` stays in English in data-state (for scripts and tests); the tile shows it translated.
    setState(state, cls, shown) {
      this.stateEl.textContent = shown || STATE_TEXT[state] || state;
      this.stateEl.className = "tile-state " + (cls || ""); this.el.dataset.state = state;
    }

    stop() {
      this.generation += 1;
      if (this.pc) { this.pc.close(); this.pc = null; }
      this.video.srcObject = null; this.img.removeAttribute("src"); this.img.hidden = true; this.video.hidden = false;
      clearTimeout(this.watchdog);
      this.stats = { frames: 0, rtp: [], overlayMessages: 0, config: null, overlay: null, firstFrameMs: null, mode: null };
      this.draw();
    }

    play(key) {
      this.stop();
      this.key = key || null;
      this.select.value = this.key || "";
      this.snapshot.hidden = !this.key;
      if (!this.key) { this.setState("idle"); return; }
      this.snapshot.href = apiBase(this.key) + "/snapshot.jpg";
      this.stats.config = { zones: (byKey[this.key] || {}).zones || [] };
      this.modeButton.textContent = this.mode() === "mjpeg" ? "WebRTC" : "MJPEG";
      if (this.mode() === "mjpeg") this.playMjpeg(); else this.playWebrtc();
    }

    playMjpeg() {
      this.stats.mode = "mjpeg"; this.video.hidden = true; this.img.hidden = false;
      this.img.onload = () => { this.setState("mjpeg", "playing"); this.draw(); };
      this.img.onerror = () => this.setState("no picture", "failed");
      this.img.src = apiBase(this.key) + "/mjpeg";
      this.setState("connecting");
    }

    async playWebrtc() {
      const generation = this.generation;
      const started = performance.now();
      this.stats.mode = "webrtc";
      this.setState("connecting");
      const pc = new RTCPeerConnection({ iceServers: [] });
      this.pc = pc;
      pc.addTransceiver("video", { direction: "recvonly" });
      const channel = pc.createDataChannel("overlay");
      channel.onmessage = (event) => this.onOverlay(JSON.parse(event.data));
      pc.ontrack = (event) => { this.video.srcObject = event.streams[0] || new MediaStream([event.track]); };
      pc.onconnectionstatechange = () => {
        if (generation !== this.generation) return;
        if (pc.connectionState === "failed") this.fallBack("WebRTC failed");
      };
      const onFrame = (now, meta) => {
        if (generation !== this.generation) return;
        if (this.stats.frames === 0) { this.stats.firstFrameMs = performance.now() - started; this.setState("live", "playing"); }
        this.stats.frames += 1;
        if (meta && meta.rtpTimestamp !== undefined) {
          this.stats.rtp.push(meta.rtpTimestamp);
          if (this.stats.rtp.length > 300) this.stats.rtp.shift();
        }
        this.video.requestVideoFrameCallback(onFrame);
      };
      this.video.requestVideoFrameCallback(onFrame);
      this.watchdog = setTimeout(() => {
        if (generation === this.generation && this.stats.frames === 0) this.fallBack("no WebRTC video");
      }, NO_FRAME_MS);
      try {
        await pc.setLocalDescription(await pc.createOffer());
        await gathered(pc);
        const response = await fetch(apiBase(this.key) + "/offer", {
          method: "POST", credentials: "same-origin",
          headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
          body: JSON.stringify({ sdp: pc.localDescription.sdp, type: pc.localDescription.type }),
        });
        if (!response.ok) throw new Error(`offer refused: ${response.status}`);
        const answer = await response.json();
        if (generation !== this.generation) return;
        this.el.dataset.blurred = String(answer.blurred);
        await pc.setRemoteDescription({ sdp: answer.sdp, type: answer.type });
      } catch (error) {
        if (generation === this.generation) this.fallBack(String(error.message || error));
      }
    }

    fallBack(why) {
      console.warn(`tile ${this.index} ${this.key}: ${why}; showing MJPEG`);
      const key = this.key;
      this.stop(); this.key = key; this.stats.config = { zones: (byKey[key] || {}).zones || [] };
      this.playMjpeg();
    }

    ended(reason) {
      const key = this.key;
      this.stop(); this.key = key;
      this.setState(`ended: ${reason}`, "failed", t("ended: %(reason)s", {reason: t(reason)}));
    }

    onOverlay(message) {
      this.stats.overlayMessages += 1;
      if (message.type === "end") { this.ended(message.reason); return; }
      if (message.type === "config") this.stats.config = message;
      else if (message.type === "overlay") this.stats.overlay = message;
      this.draw();
    }

    // The picture's rectangle inside the stage (object-fit: contain letterboxes it).
    pictureRect() {
      const w = this.canvas.clientWidth, h = this.canvas.clientHeight;
      const media = this.video.hidden ? this.img : this.video;
      const mw = media.videoWidth || media.naturalWidth || 16, mh = media.videoHeight || media.naturalHeight || 9;
      const scale = Math.min(w / mw, h / mh);
      return { x: (w - mw * scale) / 2, y: (h - mh * scale) / 2, w: mw * scale, h: mh * scale };
    }

    draw() {
      const ratio = window.devicePixelRatio || 1;
      const c = this.canvas;
      c.width = Math.round(c.clientWidth * ratio); c.height = Math.round(c.clientHeight * ratio);
      const ctx = c.getContext("2d");
      ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
      ctx.clearRect(0, 0, c.clientWidth, c.clientHeight);
      if (!this.key || !this.stats.config) return;
      const r = this.pictureRect();
      const px = ([x, y]) => [r.x + x * r.w, r.y + y * r.h];
      const overlay = this.stats.overlay || { desks: {}, zones: {}, boxes: [] };
      ctx.lineWidth = 2; ctx.font = "bold 13px system-ui, sans-serif";
      for (const zone of this.stats.config.zones || []) {
        let color = "#4da3ff", text = zone.id;
        if (zone.kind === "desk") {
          const s = overlay.desks[zone.window] || "unknown";
          color = s === "present" ? "#3ccf6e" : s === "absent" ? "#ff5a4f" : "#a0a8b4";
          text = `${zone.window}: ${label("desk_state", s)}`;
        } else {
          const n = overlay.zones[zone.id];
          color = zone.kind === "queue" ? "#4da3ff" : "#c58cff";
          text = `${zone.id}: ${n === null || n === undefined ? "–" : n}`;
        }
        ctx.strokeStyle = color; ctx.beginPath();
        zone.polygon.forEach((p, i) => { const [x, y] = px(p); if (i) ctx.lineTo(x, y); else ctx.moveTo(x, y); });
        ctx.closePath(); ctx.stroke();
        const [lx, ly] = px(zone.polygon[0]);
        ctx.fillStyle = "rgba(0,0,0,.6)"; ctx.fillRect(lx, ly, ctx.measureText(text).width + 8, 18);
        ctx.fillStyle = color; ctx.fillText(text, lx + 4, ly + 13);
      }
      ctx.strokeStyle = "#ffd23f";
      for (const [x1, y1, x2, y2] of overlay.boxes || []) {
        const [ax, ay] = px([x1, y1]), [bx, by] = px([x2, y2]);
        ctx.strokeRect(ax, ay, bx - ax, by - ay);
      }
    }
  }

  function gathered(pc) {
    if (pc.iceGatheringState === "complete") return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => { if (pc.iceGatheringState === "complete") { pc.removeEventListener("icegatheringstatechange", done); resolve(); } };
      pc.addEventListener("icegatheringstatechange", done);
      setTimeout(resolve, ICE_GATHER_MS);
    });
  }

  function layout(name) {
    const cols = Math.max(1, Math.min(4, parseInt(name, 10) || 2));
    wall.style.setProperty("--cols", String(cols));
    const count = cols * cols;
    while (tiles.length > count) { tiles.pop().stop(); wall.lastElementChild.remove(); }
    while (tiles.length < count) {
      const tile = new Tile(tiles.length);
      tiles.push(tile); wall.append(tile.el);
      const key = state.tiles[tile.index];
      tile.play(key && byKey[key] ? key : null);
    }
    state.layout = `${cols}x${cols}`; layoutSelect.value = state.layout; save();
  }

  layoutSelect.addEventListener("change", () => layout(layoutSelect.value));
  overlayToggle.checked = state.overlay !== false;
  wall.classList.toggle("no-overlay", !overlayToggle.checked);
  overlayToggle.addEventListener("change", () => {
    state.overlay = overlayToggle.checked; save(); wall.classList.toggle("no-overlay", !overlayToggle.checked);
  });
  window.addEventListener("pagehide", () => tiles.forEach((t) => t.stop()));
  layout(state.layout);
})();
