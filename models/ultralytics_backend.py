"""The Ultralytics backend: `.pt` weights run through Ultralytics (and torch), and their export to
ONNX for the fast default backend. Optional: it needs `pip install 'hallwatch[ultralytics]'` (the
~6 GB torch stack), which the core install leaves out.

Ultralytics reaches for the network by default (settings sync, weight downloads, auto-installing
missing packages); `_ultralytics()` turns all of that off before the first import, so nothing is
downloaded at run time."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import ModelError
from models.detections import PERSON, Detections

INSTALL_HINT = "install the Ultralytics backend with: pip install 'hallwatch[ultralytics]'"


def _ultralytics() -> Any:
    os.environ.setdefault("YOLO_OFFLINE", "1")
    os.environ.setdefault("YOLO_AUTOINSTALL", "0")
    os.environ.setdefault("YOLO_VERBOSE", "False")
    os.environ.setdefault("YOLO_CONFIG_DIR", str(Path(tempfile.gettempdir()) / "hallwatch-ultralytics"))
    try:
        import ultralytics
    except ImportError:
        raise ModelError(f"Ultralytics is not installed; {INSTALL_HINT}") from None
    return ultralytics


def load_yolo(weights: str | Path) -> Any:
    """An Ultralytics YOLO model from a local `.pt` file; never a download."""
    path = Path(weights)
    if not path.is_file():
        raise ModelError(f"{path}: no such weights file (weights are never downloaded: name a local file)")
    yolo = _ultralytics().YOLO
    try:
        return yolo(str(path), task="detect")
    except Exception as exc:  # torch raises many types for a bad file
        raise ModelError(f"{path}: not loadable Ultralytics weights: {type(exc).__name__}: {exc}") from None


class UltralyticsDetector:
    """People in a frame with Ultralytics `predict`. Classes named 'person' are people; weights
    without one (like the default fall-detection model, whose `Normal` and `Fall` both are people)
    count every class, as the ONNX backend does."""

    def __init__(self, weights: str | Path, *, confidence: float = 0.25, iou: float = 0.5,
                 imgsz: int | tuple[int, int] = 640, threads: int = 0) -> None:
        self.path = Path(weights)
        self.model = load_yolo(self.path)
        if threads:
            import torch

            torch.set_num_threads(threads)
        self.confidence, self.iou, self.imgsz = confidence, iou, imgsz
        names: dict[int, str] = dict(self.model.names)
        person = [i for i, name in names.items() if name.strip().lower() == "person"]
        self.class_names = names
        self.person_class_ids: list[int] | None = person or None

    def detect(self, frame: np.ndarray) -> Detections:
        return self.detect_batch([frame])[0]

    def detect_batch(self, frames: Sequence[np.ndarray]) -> list[Detections]:
        results = self.model.predict(list(frames), imgsz=self.imgsz, conf=self.confidence, iou=self.iou,
                                     classes=self.person_class_ids, device="cpu", verbose=False)
        return [_detections(result.boxes) for result in results]


def _detections(boxes: Any) -> Detections:
    if boxes is None or len(boxes) == 0:
        return Detections.empty()
    xyxy = boxes.xyxy.cpu().numpy().astype(np.float32)
    confidence = boxes.conf.cpu().numpy().astype(np.float32)
    return Detections(xyxy=xyxy, confidence=confidence, class_id=np.full(len(xyxy), PERSON, dtype=np.int32))


def export_onnx(weights: str | Path, out: str | Path, *, imgsz: tuple[int, int] = (384, 640)) -> Path:
    """Export `.pt` weights to an ONNX file with a fixed (height, width) input, e.g. 384x640 for
    16:9 frames, so that no input pixels are spent on letterbox padding. Returns the written file."""
    out, weights = Path(out), Path(weights)
    if not weights.is_file():
        raise ModelError(f"{weights}: no such weights file")
    out.parent.mkdir(parents=True, exist_ok=True)
    # Ultralytics writes the export beside the weights, which may be a read-only package dir.
    with tempfile.TemporaryDirectory(prefix="hallwatch-export-") as tmp:
        copy = Path(tmp) / weights.name
        shutil.copyfile(weights, copy)
        model = load_yolo(copy)
        try:
            written = Path(model.export(format="onnx", imgsz=list(imgsz), dynamic=False, simplify=False,
                                        device="cpu"))
        except Exception as exc:
            raise ModelError(f"{weights}: ONNX export failed: {type(exc).__name__}: {exc}") from None
        shutil.move(written, out)
    return out
