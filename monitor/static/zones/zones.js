// The zone editor: the camera's snapshot with its zones drawn over it in SVG, edited with Pointer Events
// (mouse, pen or finger alike). Points are kept in [0,1] frame coordinates, as the site file holds them.
// Save sends the zones with the site file's version it was read at; Test asks the server what the
// analysis sees on the current frame with the zones as drawn.
"use strict";
(() => {
  const root = document.getElementById("zone-editor");
  const api = `/api/v1/cameras/${root.dataset.hall}/${root.dataset.camera}`;
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const NS = "http://www.w3.org/2000/svg";
  const $ = (id) => document.getElementById(id);
  const img = $("snapshot"), svg = $("zones-svg");
  const WIDTH = 1000;  // the SVG's own units across the frame
  const HANDLE_PX = 9;  // a corner's radius on screen: big enough for a finger
  const state = {zones: [], windows: [], others: [], version: null, selected: -1, corner: -1,
                 drawing: null, drag: null, dirty: false, test: null, snapshot: null};
  window.hallwatchZones = state;  // for the browser tests

  // -- geometry -------------------------------------------------------------------------------------
  const height = () => WIDTH * (img.naturalHeight || 9) / (img.naturalWidth || 16);
  const clamp = (v) => Math.round(Math.min(1, Math.max(0, v)) * 10000) / 10000;
  function framePoint(event) {
    const rect = svg.getBoundingClientRect();
    return [clamp((event.clientX - rect.left) / rect.width), clamp((event.clientY - rect.top) / rect.height)];
  }
  const svgXY = ([x, y]) => [x * WIDTH, y * height()];
  const handleRadius = () => HANDLE_PX * WIDTH / Math.max(1, svg.getBoundingClientRect().width);

  function el(name, attrs, parent) {
    const node = document.createElementNS(NS, name);
    for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
    if (parent) parent.appendChild(node);
    return node;
  }

  // -- drawing the SVG --------------------------------------------------------------------------------
  function render() {
    svg.setAttribute("viewBox", `0 0 ${WIDTH} ${height()}`);
    svg.replaceChildren();
    const r = handleRadius();
    state.zones.forEach((zone, i) => {
      const chosen = i === state.selected;
      const group = el("g", {class: `zone kind-${zone.kind}${chosen ? " chosen" : ""}${zone.invalid ? " invalid" : ""}`,
        "data-zone": i}, svg);
      el("polygon", {points: zone.polygon.map((p) => svgXY(p).join(",")).join(" "), "data-zone": i}, group);
      const [lx, ly] = svgXY(zone.polygon[0]);
      const label = el("text", {x: lx + r, y: ly + 3.2 * r, class: "zone-label"}, group);
      label.textContent = zone.id;
      if (!chosen) return;
      zone.polygon.forEach((p, j) => {
        const q = zone.polygon[(j + 1) % zone.polygon.length];
        const [mx, my] = svgXY([(p[0] + q[0]) / 2, (p[1] + q[1]) / 2]);
        el("circle", {cx: mx, cy: my, r: r * 0.6, class: "edge-handle", "data-zone": i, "data-edge": j}, group);
      });
      zone.polygon.forEach((p, j) => {
        const [cx, cy] = svgXY(p);
        el("circle", {cx, cy, r, class: `corner${j === state.corner ? " chosen" : ""}`, "data-zone": i,
          "data-corner": j}, group);
      });
    });
    if (state.drawing) {
      const points = state.drawing.points.map((p) => svgXY(p).join(",")).join(" ");
      el("polyline", {points, class: "drawing"}, svg);
      state.drawing.points.forEach((p, j) => {
        const [cx, cy] = svgXY(p);
        el("circle", {cx, cy, r, class: `corner drawing${j === 0 ? " first" : ""}`, "data-draft": j}, svg);
      });
    }
    if (state.test && $("show-test").checked) renderTest(r);
    renderList();
    renderForm();
  }

  function renderTest(r) {
    const group = el("g", {class: "test-layer"}, svg);
    for (const person of state.test.boxes) {
      const [x1, y1] = svgXY([person.box[0], person.box[1]]), [x2, y2] = svgXY([person.box[2], person.box[3]]);
      el("rect", {x: x1, y: y1, width: x2 - x1, height: y2 - y1, class: person.zones.length ? "box counted" : "box"},
        group);
      const [fx, fy] = svgXY(person.foot);
      el("circle", {cx: fx, cy: fy, r: r * 0.55, class: "foot"}, group);
    }
  }

  function renderList() {
    const list = $("zone-list");
    list.replaceChildren();
    state.zones.forEach((zone, i) => {
      const item = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.className = `zone-item kind-${zone.kind}${i === state.selected ? " chosen" : ""}`;
      button.textContent = `${zone.id} · ${label("zone_kind", zone.kind)}`
        + (zone.window ? ` · ${windowName(zone.window)}` : "");
      button.addEventListener("click", () => { select(i); });
      item.appendChild(button);
      list.appendChild(item);
    });
    if (!state.zones.length) {
      const item = document.createElement("li");
      item.textContent = t("No zones yet: draw one on the picture.");
      list.appendChild(item);
    }
  }

  const windowName = (id) => (state.windows.find((w) => w.id === id) || {name: id}).name;

  function renderForm() {
    const form = $("zone-form");
    const zone = state.zones[state.selected];
    form.hidden = !zone;
    if (!zone) return;
    if (document.activeElement !== $("zone-id")) $("zone-id").value = zone.id;
    $("zone-kind").value = zone.kind;
    const windows = $("zone-window");
    windows.replaceChildren();
    const options = zone.kind === "queue" ? [["", t("every window on this camera")]] : [];
    for (const w of state.windows) options.push([w.id, `${w.name} (${w.id})`]);
    for (const [value, text] of options) {
      const option = document.createElement("option");
      option.value = value;
      option.textContent = text;
      windows.appendChild(option);
    }
    windows.value = zone.window || "";
    $("zone-window-label").hidden = zone.kind === "self_service";
    $("zone-limit-label").hidden = zone.kind !== "queue";
    $("zone-limit").value = zone.limit ?? "";
    $("remove-point").disabled = state.corner < 0 || zone.polygon.length <= 3;
  }

  // -- editing --------------------------------------------------------------------------------------
  function changed() {
    state.dirty = true;
    for (const zone of state.zones) delete zone.invalid;
    render();
  }

  function select(i, corner = -1) {
    state.selected = i;
    state.corner = corner;
    render();
  }

  function newId(kind) {
    const prefix = {desk: "desk", queue: "q", self_service: "ss"}[kind] || "z";
    const taken = new Set([...state.zones.map((z) => z.id), ...state.others]);
    for (let n = 1; ; n += 1) if (!taken.has(`${prefix}${n}`)) return `${prefix}${n}`;
  }

  function startDrawing() {
    state.drawing = {points: []};
    state.selected = -1;
    $("finish").hidden = $("cancel").hidden = false;
    $("draw").hidden = true;
    $("hint").textContent = t("Click or tap each corner of the zone; tap the first corner or Finish to close it.");
    render();
  }

  function stopDrawing() {
    state.drawing = null;
    $("finish").hidden = $("cancel").hidden = true;
    $("draw").hidden = false;
    $("hint").textContent = t("Drag a corner to move it, drag a zone to move it whole, drag the small dot on an edge to add a corner.");
  }

  function finishDrawing() {
    const points = state.drawing ? state.drawing.points : [];
    if (points.length < 3) {
      message(t("A zone needs at least three corners."), true);
      return;
    }
    const kind = "queue";
    state.zones.push({id: newId(kind), kind, window: null, polygon: points});
    stopDrawing();
    select(state.zones.length - 1);
    changed();
  }

  svg.addEventListener("pointerdown", (event) => {
    if (event.button > 0) return;
    event.preventDefault();
    const point = framePoint(event);
    const data = event.target.dataset || {};
    if (state.drawing) {
      if (data.draft === "0" && state.drawing.points.length >= 3) {
        finishDrawing();
      } else {
        state.drawing.points.push(point);
        render();
      }
      return;
    }
    if (data.corner !== undefined) {
      select(Number(data.zone), Number(data.corner));
      state.drag = {pointer: event.pointerId, zone: Number(data.zone), corner: Number(data.corner)};
    } else if (data.edge !== undefined) {
      const zone = state.zones[Number(data.zone)];
      const corner = Number(data.edge) + 1;
      zone.polygon.splice(corner, 0, point);
      select(Number(data.zone), corner);
      state.drag = {pointer: event.pointerId, zone: Number(data.zone), corner};
      changed();
    } else if (data.zone !== undefined) {
      select(Number(data.zone));
      state.drag = {pointer: event.pointerId, zone: Number(data.zone), from: point};
    } else {
      select(-1);
      return;
    }
    svg.setPointerCapture(event.pointerId);
  });

  svg.addEventListener("pointermove", (event) => {
    const drag = state.drag;
    if (!drag || drag.pointer !== event.pointerId) return;
    const point = framePoint(event);
    const zone = state.zones[drag.zone];
    if (drag.corner !== undefined) {
      zone.polygon[drag.corner] = point;
    } else {
      // Move the whole zone, as far as the frame allows.
      let dx = point[0] - drag.from[0], dy = point[1] - drag.from[1];
      for (const [x, y] of zone.polygon) {
        dx = Math.min(Math.max(dx, -x), 1 - x);
        dy = Math.min(Math.max(dy, -y), 1 - y);
      }
      zone.polygon = zone.polygon.map(([x, y]) => [clamp(x + dx), clamp(y + dy)]);
      drag.from = [drag.from[0] + dx, drag.from[1] + dy];
    }
    changed();
  });

  const endDrag = (event) => {
    if (state.drag && state.drag.pointer === event.pointerId) state.drag = null;
  };
  svg.addEventListener("pointerup", endDrag);
  svg.addEventListener("pointercancel", endDrag);

  $("draw").addEventListener("click", startDrawing);
  $("finish").addEventListener("click", finishDrawing);
  $("cancel").addEventListener("click", () => { stopDrawing(); render(); });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && state.drawing) { stopDrawing(); render(); }
  });

  $("zone-id").addEventListener("input", (event) => {
    state.zones[state.selected].id = event.target.value.trim();
    changed();
  });
  $("zone-kind").addEventListener("change", (event) => {
    const zone = state.zones[state.selected];
    zone.kind = event.target.value;
    if (zone.kind === "self_service") zone.window = null;
    if (zone.kind === "desk" && !zone.window && state.windows.length) zone.window = state.windows[0].id;
    if (zone.kind !== "queue") delete zone.limit;
    changed();
  });
  $("zone-window").addEventListener("change", (event) => {
    state.zones[state.selected].window = event.target.value || null;
    changed();
  });
  $("zone-limit").addEventListener("change", (event) => {
    const value = event.target.value === "" ? null : Number(event.target.value);
    state.zones[state.selected].limit = value;
    changed();
  });
  $("remove-point").addEventListener("click", () => {
    const zone = state.zones[state.selected];
    if (!zone || state.corner < 0 || zone.polygon.length <= 3) return;
    zone.polygon.splice(state.corner, 1);
    state.corner = -1;
    changed();
  });
  $("delete-zone").addEventListener("click", () => {
    if (state.selected < 0) return;
    state.zones.splice(state.selected, 1);
    state.selected = -1;
    changed();
  });

  // -- talking to the server ------------------------------------------------------------------------
  function message(text, bad = false) {
    const node = $("message");
    node.textContent = text;
    node.classList.toggle("error", bad);
  }

  // The zone as the API takes it: only what is set.
  function plain(zone) {
    const out = {id: zone.id, kind: zone.kind, polygon: zone.polygon};
    if (zone.kind !== "self_service" && zone.window) out.window = zone.window;
    if (zone.kind === "queue" && zone.windows && zone.windows.length && !zone.window) out.windows = zone.windows;
    if (zone.kind === "queue" && zone.limit) out.limit = zone.limit;
    if (zone.confidence) out.confidence = zone.confidence;
    return out;
  }

  function problems(detail) {
    if (!Array.isArray(detail)) return String(detail);
    return detail.map((d) => {
      const [, where, index] = d.loc || [];
      if (where === "zones" && Number.isInteger(index) && state.zones[index]) state.zones[index].invalid = true;
      return d.field ? d.msg : `${(d.loc || []).slice(1).join(".")}: ${d.msg}`;
    }).join("; ");
  }

  async function send(method, url, body) {
    const response = await fetch(url, {method, headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf},
      body: JSON.stringify(body)});
    const data = await response.json().catch(() => ({detail: response.statusText}));
    return {response, data};
  }

  function take(data) {
    state.zones = data.zones.map((z) => ({...z, polygon: z.polygon.map((p) => [p[0], p[1]])}));
    state.windows = data.windows;
    state.others = data.other_zones;
    state.version = data.version;
    state.snapshot = data.snapshot;
    state.dirty = false;
  }

  async function load() {
    const response = await fetch(`${api}/zones`);
    const data = await response.json();
    if (!response.ok) {
      message(problems(data.detail), true);
      return;
    }
    take(data);
    loadPicture();
    render();
    root.dataset.ready = "true";
  }

  function loadPicture() {
    if (!state.snapshot) return;
    img.src = `${state.snapshot}?t=${Date.now()}`;
  }
  img.addEventListener("load", () => { root.dataset.picture = "live"; render(); });
  img.addEventListener("error", () => {
    message(t("No live picture from this camera now; Test takes one through the camera's own address."), true);
  });
  $("reload-picture").addEventListener("click", () => { state.test = null; $("test-result").hidden = true; loadPicture(); });

  $("save").addEventListener("click", async () => {
    if (state.drawing) finishDrawing();
    message(t("Saving…"));
    const {response, data} = await send("PUT", `${api}/zones`, {version: state.version, zones: state.zones.map(plain)});
    if (response.ok) {
      const selected = state.selected;
      take(data);
      state.selected = selected < state.zones.length ? selected : -1;
      message(t("Saved. The analysis uses the new zones from now on."));
      root.dataset.saved = String(Number(root.dataset.saved || 0) + 1);
    } else if (response.status === 409) {
      message(t("Not saved: the site file was changed meanwhile. Reload the page and edit again. (%(why)s)",
        {why: problems(data.detail)}), true);
    } else {
      message(t("Not saved: %(why)s", {why: problems(data.detail)}), true);
    }
    render();
  });

  $("test").addEventListener("click", async () => {
    message(t("Testing on the current frame…"));
    $("test").disabled = true;
    try {
      const {response, data} = await send("POST", `${api}/test`, {zones: state.zones.map(plain)});
      if (!response.ok) {
        message(t("The test failed: %(why)s", {why: problems(data.detail)}), true);
        return;
      }
      state.test = data;
      img.src = data.image;
      showTest(data);
      message("");
      root.dataset.tested = String(Number(root.dataset.tested || 0) + 1);
    } finally {
      $("test").disabled = false;
      render();
    }
  });
  $("show-test").addEventListener("change", render);

  function showTest(data) {
    $("test-result").hidden = false;
    $("test-summary").textContent = t("%(n)s people found on this frame.", {n: data.people ?? 0});
    const rows = $("test-rows");
    rows.replaceChildren();
    const add = (zone, kind, result) => {
      const row = document.createElement("tr");
      for (const text of [zone, label("zone_kind", kind), result]) {
        const cell = document.createElement("td");
        cell.textContent = text;
        row.appendChild(cell);
      }
      rows.appendChild(row);
    };
    for (const zone of state.zones) {
      if (zone.kind === "desk") {
        const desk = data.desks[zone.window];
        const people = t("%(n)s people", {n: data.desk_people[zone.window] ?? 0});
        add(zone.id, zone.kind, desk ? `${label("desk_state", desk)} · ${people}` : "");
      } else {
        const n = data.zones[zone.id];
        add(zone.id, zone.kind, n === null || n === undefined ? t("not counted (view not trusted)") : t("%(n)s people", {n}));
      }
    }
  }

  window.addEventListener("beforeunload", (event) => {
    if (state.dirty) event.preventDefault();
  });
  window.addEventListener("resize", render);
  load();
})();
