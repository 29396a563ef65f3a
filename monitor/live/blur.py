"""Face blurring for viewers whose role may not see faces: the head region of every person box
(the top `HEAD_FRACTION` of the box, widened a little) is pixelated beyond recognition. With no
current boxes the whole frame is pixelated: the rule fails closed."""

from __future__ import annotations

import cv2
import numpy as np

HEAD_FRACTION = 0.35  # of the box height, from its top: head and shoulders of standing or seated people
MARGIN = 0.12         # of the box width each side, and of the height above: heads move between detections
CELL_PX = 16          # mosaic cell size


def head_regions(xyxy: np.ndarray, width: int, height: int) -> list[tuple[int, int, int, int]]:
    """Pixel rectangles (x1, y1, x2, y2) covering the heads of person boxes given in pixels."""
    regions = []
    for x1, y1, x2, y2 in np.asarray(xyxy, dtype=np.float64).reshape(-1, 4):
        w, h = x2 - x1, y2 - y1
        left = int(max(0.0, x1 - MARGIN * w))
        right = int(min(float(width), x2 + MARGIN * w + 1))
        top = int(max(0.0, y1 - MARGIN * h))
        bottom = int(min(float(height), y1 + HEAD_FRACTION * h + 1))
        if right > left and bottom > top:
            regions.append((left, top, right, bottom))
    return regions


def pixelate(image: np.ndarray, region: tuple[int, int, int, int], cell: int = CELL_PX) -> None:
    """Replace `region` of `image` (in place) with a mosaic of `cell`-pixel squares."""
    x1, y1, x2, y2 = region
    patch = image[y1:y2, x1:x2]
    if patch.size == 0:
        return
    small = cv2.resize(patch, (max(1, (x2 - x1) // cell), max(1, (y2 - y1) // cell)), interpolation=cv2.INTER_AREA)
    image[y1:y2, x1:x2] = cv2.resize(small, (x2 - x1, y2 - y1), interpolation=cv2.INTER_NEAREST)


def blur_faces(image: np.ndarray, xyxy: np.ndarray | None) -> np.ndarray:
    """`image` with the heads of the given person boxes pixelated; everything when `xyxy` is None."""
    height, width = image.shape[:2]
    if xyxy is None:
        pixelate(image, (0, 0, width, height), cell=CELL_PX * 2)
        return image
    for region in head_regions(xyxy, width, height):
        pixelate(image, region)
    return image
