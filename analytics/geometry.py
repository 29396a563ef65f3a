"""Zones as polygons in [0,1] frame coordinates, tested against points in pixels."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


class Polygon:
    def __init__(self, vertices: Sequence[tuple[float, float]]) -> None:
        points = np.asarray(vertices, dtype=np.float64)
        if points.ndim != 2 or points.shape[1] != 2 or len(points) < 3:
            raise ValueError(f"a polygon needs at least 3 (x, y) vertices, got shape {points.shape}")
        if points.min() < 0.0 or points.max() > 1.0:
            raise ValueError("polygon vertices must lie in [0, 1] frame coordinates")
        self.vertices = points

    def contains(self, points: np.ndarray, frame_size: tuple[int, int]) -> np.ndarray:
        """Boolean mask of which pixel points (N,2) lie inside; `frame_size` is (width, height).
        Even-odd ray casting; a point exactly on an edge may fall either way."""
        pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        width, height = frame_size
        x = pts[:, 0:1] / width
        y = pts[:, 1:2] / height
        x1, y1 = self.vertices[:, 0], self.vertices[:, 1]
        x2, y2 = np.roll(x1, -1), np.roll(y1, -1)
        crosses = (y1 > y) != (y2 > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            x_at_y = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
        inside = np.logical_and(crosses, x < x_at_y)
        return np.asarray(np.count_nonzero(inside, axis=1) % 2 == 1)
