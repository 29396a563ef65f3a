"""What analytics needs to know about a frame's pixels, as plain numpy data.

`pipeline.measure.frame_features` computes these from an image (it may use OpenCV; analytics may not).
Patches are small grey thumbnails, so references and comparisons stay cheap and pure numpy."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True, eq=False)
class ZonePatch:
    """A zone's bounding box in pixels, resized to a small grey thumbnail."""

    box: tuple[int, int, int, int]  # x0, y0, x1, y1 in frame pixels (x1, y1 exclusive)
    gray: np.ndarray                # float32 (h, w), 0-1
    mask: np.ndarray                # bool (h, w): inside the zone's polygon

    def __post_init__(self) -> None:
        if self.gray.ndim != 2 or self.gray.shape != self.mask.shape or self.mask.dtype != np.bool_:
            raise ValueError("gray and mask must be 2-D arrays of the same shape, mask boolean")

    def box_mask(self, xyxy: np.ndarray) -> np.ndarray:
        """Thumbnail pixels covered by any of the pixel boxes `xyxy` (N, 4)."""
        h, w = self.gray.shape
        x0, y0, x1, y1 = self.box
        cols = x0 + (np.arange(w) + 0.5) * (x1 - x0) / w
        rows = y0 + (np.arange(h) + 0.5) * (y1 - y0) / h
        covered = np.zeros((h, w), dtype=bool)
        for bx0, by0, bx1, by1 in np.asarray(xyxy, dtype=np.float64).reshape(-1, 4):
            covered |= ((rows >= by0) & (rows <= by1))[:, None] & ((cols >= bx0) & (cols <= bx1))[None, :]
        return covered


@dataclass(frozen=True, eq=False)
class FrameFeatures:
    """Whole-frame measurements for the view checks, and a patch per desk zone (by window id)."""

    brightness: float   # mean grey, 0-1
    contrast: float     # grey standard deviation, 0-1
    sharpness: float    # variance of the Laplacian of the grey frame (0-1 scale) at a fixed width
    edges: np.ndarray   # float32 (h, w): gradient magnitude thumbnail of the frame, for "moved"
    desks: dict[str, ZonePatch] = field(default_factory=dict)


def masked_difference(a: np.ndarray, b: np.ndarray, valid: np.ndarray) -> float | None:
    """Mean absolute difference of two grey patches over `valid` pixels, after removing each one's
    mean there (so a change of light over the whole patch is not a change); None when nothing is valid."""
    if not valid.any():
        return None
    da = a[valid] - a[valid].mean()
    db = b[valid] - b[valid].mean()
    return float(np.abs(da - db).mean())


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Normalised cross-correlation of two same-shaped arrays, -1..1 (0 when either is flat)."""
    da = a - a.mean()
    db = b - b.mean()
    denominator = float(np.sqrt((da * da).sum() * (db * db).sum()))
    return float((da * db).sum() / denominator) if denominator > 1e-12 else 0.0


def phase_shift(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """The translation (dx, dy), in pixels, that best maps `b` onto `a` (phase correlation with a
    Hann window); whole pixels, each within half the array's size."""
    window = np.hanning(a.shape[0])[:, None] * np.hanning(a.shape[1])[None, :]
    fa = np.fft.fft2((a - a.mean()) * window)
    fb = np.fft.fft2((b - b.mean()) * window)
    cross = fa * np.conj(fb)
    surface = np.real(np.fft.ifft2(cross / (np.abs(cross) + 1e-9)))
    iy, ix = np.unravel_index(int(np.argmax(surface)), surface.shape)
    dy = iy if iy <= a.shape[0] // 2 else iy - a.shape[0]
    dx = ix if ix <= a.shape[1] // 2 else ix - a.shape[1]
    return float(dx), float(dy)
