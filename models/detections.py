"""`Detections`: the one currency between `models/` and `analytics/`.

A small equivalent of supervision's `Detections`: parallel numpy arrays, one row per detected
object, checked when built. Boxes are in pixel coordinates of the original frame. This module
imports numpy only, so analytics can use it without pulling in OpenCV or onnxruntime.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PERSON = 0  # class_id of a person


@dataclass(frozen=True, eq=False)
class Detections:
    xyxy: np.ndarray        # float32 (N, 4): x1, y1, x2, y2 in pixels, x1 <= x2, y1 <= y2
    confidence: np.ndarray  # float32 (N,)
    class_id: np.ndarray    # int32 (N,); 0 = person

    def __post_init__(self) -> None:
        _check("xyxy", self.xyxy, np.float32, ndim=2)
        n = self.xyxy.shape[0]
        if self.xyxy.shape != (n, 4):
            raise ValueError(f"xyxy must have shape (N, 4), got {self.xyxy.shape}")
        _check("confidence", self.confidence, np.float32, ndim=1)
        _check("class_id", self.class_id, np.int32, ndim=1)
        if self.confidence.shape[0] != n or self.class_id.shape[0] != n:
            raise ValueError(
                f"xyxy, confidence and class_id must have the same length, got "
                f"{n}, {self.confidence.shape[0]} and {self.class_id.shape[0]}"
            )
        if not np.isfinite(self.xyxy).all() or not np.isfinite(self.confidence).all():
            raise ValueError("xyxy and confidence must be finite")
        if (self.xyxy[:, 2:] < self.xyxy[:, :2]).any():
            raise ValueError("boxes must have x1 <= x2 and y1 <= y2")

    @classmethod
    def empty(cls) -> Detections:
        return cls(
            xyxy=np.zeros((0, 4), dtype=np.float32),
            confidence=np.zeros(0, dtype=np.float32),
            class_id=np.zeros(0, dtype=np.int32),
        )

    def __len__(self) -> int:
        return int(self.xyxy.shape[0])

    def filter(self, mask: np.ndarray) -> Detections:
        """The detections where the boolean `mask` (N,) is true."""
        mask = np.asarray(mask)
        if mask.dtype != np.bool_ or mask.shape != (len(self),):
            raise ValueError(
                f"mask must be a bool array of shape ({len(self)},), got {mask.dtype} {mask.shape}"
            )
        return Detections(self.xyxy[mask], self.confidence[mask], self.class_id[mask])

    @property
    def foot_points(self) -> np.ndarray:
        """(N, 2) float32 bottom-centre of each box: where a person stands."""
        return np.stack([(self.xyxy[:, 0] + self.xyxy[:, 2]) / 2, self.xyxy[:, 3]], axis=1)

    @property
    def centers(self) -> np.ndarray:
        """(N, 2) float32 centre of each box."""
        return np.stack(
            [(self.xyxy[:, 0] + self.xyxy[:, 2]) / 2, (self.xyxy[:, 1] + self.xyxy[:, 3]) / 2], axis=1
        )


def _check(name: str, array: object, dtype: type, *, ndim: int) -> None:
    if not isinstance(array, np.ndarray):
        raise ValueError(f"{name} must be a numpy array, got {type(array).__name__}")
    if array.dtype != dtype:
        raise ValueError(f"{name} must have dtype {np.dtype(dtype).name}, got {array.dtype}")
    if array.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimension(s), got shape {array.shape}")
