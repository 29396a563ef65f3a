"""Detect where the pixels are: run the detector on crops of a camera's zones.

A YOLO model sees a fixed input (640x640 for the default model). Squashing a whole 1280x720 frame
into it halves every person; squashing a 1920x1080 frame divides them by three, and small people
are missed. Frigate runs its detector on *regions* instead: squares around the motion, at least the
model's input size, so that objects are seen at (up to) full resolution. hallwatch knows in advance
where people matter - the configured zones - so its regions come from the zones, once per camera
and frame size (`regions_for_camera`):

1. each zone's bounding box in pixels, grown by `margin` of its size on every side (people standing
   in a floor zone rise above it);
2. grown about its centre to the model's input aspect and to at least the input size divided by
   `max_upscale` (1.0: a crop is never enlarged, as in Frigate);
3. shifted into the frame, and clipped to it where the frame is smaller;
4. two regions whose intersection is at least `merge_overlap` of the smaller one are replaced by
   one region around both zones' boxes (again as in 2 and 3), until no two overlap that much.

`RegionDetector` runs the inner detector on each crop, maps the boxes back to frame coordinates,
drops a box cut by its region's edge when another region's uncut box covers it, and merges what is
left with class-agnostic NMS.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np

from models.detections import Detections

if TYPE_CHECKING:
    from models.onnx_detector import OnnxDetector

__all__ = ["Region", "RegionDetector", "regions_for_camera"]

ZonePolygon = Sequence[tuple[float, float]]
Box = tuple[float, float, float, float]  # x0, y0, x1, y1 in pixels
EDGE_TOLERANCE_PX = 2.0  # a box within this of a region's inner edge is cut by it
CUT_COVER = 0.6  # a cut box is dropped when another region's whole box covers this much of it


@dataclass(frozen=True, order=True)
class Region:
    """A crop of the frame in pixels; x1 and y1 are exclusive."""

    x0: int
    y0: int
    x1: int
    y1: int

    def __post_init__(self) -> None:
        if not (0 <= self.x0 < self.x1 and 0 <= self.y0 < self.y1):
            raise ValueError(f"a region needs 0 <= x0 < x1 and 0 <= y0 < y1, got {self}")

    @property
    def width(self) -> int:
        return self.x1 - self.x0

    @property
    def height(self) -> int:
        return self.y1 - self.y0

    @property
    def area(self) -> int:
        return self.width * self.height

    def intersection(self, other: Region) -> int:
        w = min(self.x1, other.x1) - max(self.x0, other.x0)
        h = min(self.y1, other.y1) - max(self.y0, other.y0)
        return max(0, w) * max(0, h)

    def fits(self, frame_size: tuple[int, int]) -> bool:
        """Whether the region lies inside a frame of `frame_size` (width, height)."""
        return self.x1 <= frame_size[0] and self.y1 <= frame_size[1]

    def contains(self, xyxy: np.ndarray) -> np.ndarray:
        """(N,) bool: which boxes lie wholly inside the region."""
        boxes = np.asarray(xyxy, dtype=np.float64).reshape(-1, 4)
        return np.asarray(
            (boxes[:, 0] >= self.x0) & (boxes[:, 1] >= self.y0) & (boxes[:, 2] <= self.x1) & (boxes[:, 3] <= self.y1)
        )

    def cuts(self, xyxy: np.ndarray, frame_size: tuple[int, int], tolerance: float = EDGE_TOLERANCE_PX) -> np.ndarray:
        """(N,) bool: which boxes found in this region's crop (in frame pixels) reach an edge of the
        region that is not an edge of the frame - the object may go on beyond it."""
        boxes = np.asarray(xyxy, dtype=np.float64).reshape(-1, 4)
        width, height = frame_size
        cut = np.zeros(len(boxes), dtype=bool)
        if self.x0 > 0:
            cut |= boxes[:, 0] <= self.x0 + tolerance
        if self.y0 > 0:
            cut |= boxes[:, 1] <= self.y0 + tolerance
        if self.x1 < width:
            cut |= boxes[:, 2] >= self.x1 - tolerance
        if self.y1 < height:
            cut |= boxes[:, 3] >= self.y1 - tolerance
        return cut


def regions_for_camera(
    zones: Sequence[ZonePolygon],
    frame_size: tuple[int, int],
    input_size: tuple[int, int],
    *,
    margin: float = 0.1,
    max_upscale: float = 1.0,
    merge_overlap: float = 0.5,
) -> list[Region]:
    """The crops to run a detector with `input_size` (height, width) on, for zones given as polygons
    of (x, y) in [0, 1] frame coordinates and frames of `frame_size` (width, height). Without zones,
    the whole frame. Sorted top to bottom, left to right."""
    width, height = frame_size
    in_h, in_w = input_size
    if width < 1 or height < 1 or in_h < 1 or in_w < 1:
        raise ValueError(f"frame_size {frame_size} and input_size {input_size} must be positive")
    if margin < 0 or max_upscale < 1.0 or not 0.0 < merge_overlap <= 1.0:
        raise ValueError(
            f"need margin >= 0, max_upscale >= 1 and 0 < merge_overlap <= 1, got {margin}, {max_upscale}, "
            f"{merge_overlap}"
        )
    shape = _Shape(frame_size, input_size, max_upscale)
    regions: list[tuple[Box, Region]] = []
    for index, zone in enumerate(zones):
        points = np.asarray(zone, dtype=np.float64)
        if points.ndim != 2 or points.shape[1] != 2 or len(points) < 3:
            raise ValueError(f"zone {index}: a polygon needs at least 3 (x, y) vertices, got shape {points.shape}")
        if not np.isfinite(points).all() or points.min() < 0.0 or points.max() > 1.0:
            raise ValueError(f"zone {index}: vertices must lie in [0, 1] frame coordinates")
        x0, y0 = points.min(axis=0) * (width, height)
        x1, y1 = points.max(axis=0) * (width, height)
        grow_x, grow_y = margin * (x1 - x0), margin * (y1 - y0)
        content = (float(x0 - grow_x), float(y0 - grow_y), float(x1 + grow_x), float(y1 + grow_y))
        regions.append((content, shape.around(*content)))
    if not regions:
        return [Region(0, 0, width, height)]
    return sorted(set(_merge(regions, shape, merge_overlap)), key=lambda r: (r.y0, r.x0, r.y1, r.x1))


class _Shape:
    """Turns a box into a region at the input's aspect, at least the minimum size, inside the frame."""

    def __init__(self, frame_size: tuple[int, int], input_size: tuple[int, int], max_upscale: float) -> None:
        self.width, self.height = frame_size
        self.in_h, self.in_w = input_size
        self.min_scale = 1.0 / max_upscale

    def around(self, x0: float, y0: float, x1: float, y1: float) -> Region:
        scale = max((x1 - x0) / self.in_w, (y1 - y0) / self.in_h, self.min_scale)
        w, h = min(self.width, math.ceil(scale * self.in_w)), min(self.height, math.ceil(scale * self.in_h))
        left = _fit(round((x0 + x1) / 2 - w / 2), w, self.width)
        top = _fit(round((y0 + y1) / 2 - h / 2), h, self.height)
        return Region(left, top, left + w, top + h)


def _fit(start: int, size: int, limit: int) -> int:
    """`start` moved so that [start, start + size) lies in [0, limit) (size <= limit)."""
    return max(0, min(start, limit - size))


def _merge(regions: list[tuple[Box, Region]], shape: _Shape, merge_overlap: float) -> list[Region]:
    """Merge (content box, region) pairs whose regions overlap a lot into one region around both
    contents - not around both regions, which would lose resolution for nothing."""
    regions = list(regions)
    while True:
        pair = next(
            (
                (i, j)
                for i in range(len(regions))
                for j in range(i + 1, len(regions))
                if (a := regions[i][1]).intersection(b := regions[j][1]) >= merge_overlap * min(a.area, b.area)
            ),
            None,
        )
        if pair is None:
            return [region for _, region in regions]
        (a0, a1, a2, a3), (b0, b1, b2, b3) = regions[pair[0]][0], regions[pair[1]][0]
        content = (min(a0, b0), min(a1, b1), max(a2, b2), max(a3, b3))
        regions = [r for k, r in enumerate(regions) if k not in pair] + [(content, shape.around(*content))]


class RegionDetector:
    """A `Detector` that runs `inner` on crops of the frame and returns boxes in frame coordinates.

    Built with fixed `regions` (in pixels of the frames it will see; a frame they do not fit is a
    ValueError), or with `for_zones`, which computes the regions for each frame size it meets."""

    def __init__(
        self,
        inner: OnnxDetector,
        regions: Sequence[Region],
        *,
        edge_tolerance: float = EDGE_TOLERANCE_PX,
        cut_cover: float = CUT_COVER,
    ) -> None:
        if not regions:
            raise ValueError("a RegionDetector needs at least one region")
        if edge_tolerance < 0 or not 0.0 < cut_cover <= 1.0:
            raise ValueError(f"need edge_tolerance >= 0 and 0 < cut_cover <= 1, got {edge_tolerance}, {cut_cover}")
        self.inner = inner
        self.edge_tolerance = edge_tolerance
        self.cut_cover = cut_cover
        self._fixed: list[Region] | None = list(regions)  # None: computed from _zones per frame size
        self._zones: list[ZonePolygon] = []
        self._options: dict[str, float] = {}
        self._by_size: dict[tuple[int, int], list[Region]] = {}

    @classmethod
    def for_zones(
        cls,
        inner: OnnxDetector,
        zones: Sequence[ZonePolygon],
        *,
        margin: float = 0.1,
        max_upscale: float = 1.0,
        merge_overlap: float = 0.5,
        edge_tolerance: float = EDGE_TOLERANCE_PX,
        cut_cover: float = CUT_COVER,
    ) -> RegionDetector:
        """Regions from `zones` (polygons in [0, 1] frame coordinates), computed per frame size."""
        options = {"margin": margin, "max_upscale": max_upscale, "merge_overlap": merge_overlap}
        zones = [list(zone) for zone in zones]
        # Check the zones and options now rather than at the first frame.
        in_h, in_w = inner.input_size
        regions = regions_for_camera(zones, (in_w, in_h), inner.input_size, **options)
        detector = cls(inner, regions, edge_tolerance=edge_tolerance, cut_cover=cut_cover)
        detector._fixed = None
        detector._zones = zones
        detector._options = options
        return detector

    def regions(self, frame_size: tuple[int, int]) -> list[Region]:
        """The crops used for frames of `frame_size` (width, height)."""
        if self._fixed is not None:
            outside = [r for r in self._fixed if not r.fits(frame_size)]
            if outside:
                raise ValueError(f"region {outside[0]} does not fit a {frame_size[0]}x{frame_size[1]} frame")
            return list(self._fixed)
        found = self._by_size.get(frame_size)
        if found is None:
            found = regions_for_camera(self._zones, frame_size, self.inner.input_size, **self._options)
            self._by_size[frame_size] = found
        return list(found)

    def detect(self, frame: np.ndarray) -> Detections:
        """People in one HxWx3 uint8 BGR frame, boxes in the frame's pixel coordinates."""
        if not (isinstance(frame, np.ndarray) and frame.ndim == 3 and frame.size > 0):
            got = f"{type(frame).__name__} {getattr(frame, 'shape', '')}"
            raise ValueError(f"frame must be a non-empty HxWx3 uint8 BGR array, got {got}")
        frame_size = (frame.shape[1], frame.shape[0])
        regions = self.regions(frame_size)
        boxes, scores, classes, owner = [], [], [], []
        for index, region in enumerate(regions):
            found = self.inner.detect(frame[region.y0 : region.y1, region.x0 : region.x1])
            boxes.append(found.xyxy + np.array([region.x0, region.y0, region.x0, region.y0], np.float32))
            scores.append(found.confidence)
            classes.append(found.class_id)
            owner.append(np.full(len(found), index, dtype=np.int32))
        merged = Detections(np.concatenate(boxes), np.concatenate(scores), np.concatenate(classes))
        if len(regions) == 1:
            return merged
        return self._merge(merged, np.concatenate(owner), regions, frame_size)

    def _merge(
        self, found: Detections, owner: np.ndarray, regions: list[Region], frame_size: tuple[int, int]
    ) -> Detections:
        if len(found) == 0:
            return found
        cut = np.zeros(len(found), dtype=bool)
        for index, region in enumerate(regions):
            mine = owner == index
            cut[mine] = region.cuts(found.xyxy[mine], frame_size, self.edge_tolerance)
        keep = ~cut
        for i in np.flatnonzero(cut):
            whole = ~cut & (owner != owner[i])
            if whole.any() and _cover(found.xyxy[i], found.xyxy[whole]).max() >= self.cut_cover:
                keep[i] = False
        found = found.filter(keep)
        xywh = found.xyxy.copy()
        xywh[:, 2:] -= xywh[:, :2]
        kept = cv2.dnn.NMSBoxes(xywh.tolist(), found.confidence.tolist(), 0.0, self.inner.iou)
        chosen = np.sort(np.asarray(kept, dtype=np.int64).reshape(-1))
        mask = np.zeros(len(found), dtype=bool)
        mask[chosen] = True
        return found.filter(mask)


def _cover(box: np.ndarray, others: np.ndarray) -> np.ndarray:
    """(M,) fraction of `box`'s area that each of `others` covers."""
    w = (np.minimum(box[2], others[:, 2]) - np.maximum(box[0], others[:, 0])).clip(0)
    h = (np.minimum(box[3], others[:, 3]) - np.maximum(box[1], others[:, 1])).clip(0)
    area = max(float((box[2] - box[0]) * (box[3] - box[1])), 1e-6)
    return np.asarray(w * h / area)
