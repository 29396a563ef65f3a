// Adding a camera: the address is checked live first (connect, codec, picture size, frame rate, keyframe
// interval, one picture), and the camera is added to the site file only after that, then its zones are drawn.
"use strict";
(() => {
  const form = document.getElementById("camera-form");
  if (!form) return;
  const $ = (id) => document.getElementById(id);
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  let checked = null;  // the address the last successful check was for

  function message(text, bad = false) {
    $("probe-message").textContent = text;
    $("probe-message").classList.toggle("error", bad);
  }

  function detailText(detail) {
    if (!Array.isArray(detail)) return String(detail);
    return detail.map((d) => `${(d.loc || []).slice(1).join(".")}: ${d.msg}`).join("; ");
  }

  async function post(url, body) {
    const response = await fetch(url, {method: "POST", body: JSON.stringify(body),
      headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf}});
    const data = await response.json().catch(() => ({detail: response.statusText}));
    return {response, data};
  }

  function show(result) {
    const rows = $("probe-rows");
    rows.replaceChildren();
    const size = result.width ? `${result.width} × ${result.height}` : "";
    const keyframes = result.keyframe_interval_frames
      ? t("every %(n)s frames (%(s)s s)", {n: result.keyframe_interval_frames, s: result.keyframe_interval_s})
      : t("not measured (fewer than two keyframes)");
    const lines = [
      [t("State"), label("camera_state", result.state) + (result.error ? ` · ${result.error}` : "")],
      [t("Address"), result.url],
    ];
    if (result.ok) {
      lines.push([t("Codec"), `${result.codec.toUpperCase()}${result.profile ? ` (${result.profile})` : ""}`],
        [t("Picture size"), size], [t("Frames per second"), result.fps ?? ""], [t("Keyframes"), keyframes]);
    }
    lines.push([t("Checked in"), t("%(s)s s", {s: result.seconds})]);
    for (const [name, value] of lines) {
      const row = document.createElement("tr");
      const th = document.createElement("th");
      th.textContent = name;
      const td = document.createElement("td");
      td.textContent = String(value);
      row.append(th, td);
      rows.appendChild(row);
    }
    $("probe-picture").hidden = !result.image;
    if (result.image) $("probe-picture").src = result.image;
    $("probe-result").hidden = false;
  }

  function canAdd() {
    $("add-camera").disabled = !($("allow-offline").checked || checked === $("camera-url").value.trim());
  }
  $("camera-url").addEventListener("input", canAdd);
  $("allow-offline").addEventListener("change", canAdd);

  $("probe").addEventListener("click", async () => {
    const url = $("camera-url").value.trim();
    message(t("Connecting to the camera and watching its stream for a few seconds…"));
    $("probe").disabled = true;
    try {
      const {response, data} = await post(`/api/v1/halls/${$("camera-hall").value}/cameras/probe`, {url});
      if (!response.ok) {
        message(detailText(data.detail), true);
        return;
      }
      show(data);
      checked = data.ok ? url : null;
      message(data.ok ? t("The camera answers. Check what it sends, then add it.")
        : t("The camera does not answer as it should."), !data.ok);
      form.dataset.probed = data.state;
    } finally {
      $("probe").disabled = false;
      canAdd();
    }
  });

  $("add-camera").addEventListener("click", async () => {
    const listing = await fetch("/api/v1/cameras").then((r) => r.json());
    const body = {version: listing.version, id: $("camera-id").value.trim(), url: $("camera-url").value.trim(),
      analysis_fps: Number($("camera-fps").value || 1), allow_offline: $("allow-offline").checked};
    if ($("camera-name").value.trim()) body.name = $("camera-name").value.trim();
    message(t("Adding the camera…"));
    const {response, data} = await post(`/api/v1/halls/${$("camera-hall").value}/cameras`, body);
    if (!response.ok) {
      message(t("Not added: %(why)s", {why: detailText(data.detail)}), true);
      return;
    }
    window.location.assign(data.editor);
  });
})();
