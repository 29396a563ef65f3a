"""Detections to test with: synthetic ones at given pixel boxes (`mock_detections`, for analytics), real
photographs with their people's boxes labelled by hand (`photo`, GROUND_TRUTH, MIN_FOUND) and the matching of
detections to them (`iou`, `found`), and tiny detector models written by hand (`write_onnx`)."""

from __future__ import annotations

import struct
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from models.detections import Detections
from tests.fix_sites import REPO

PHOTOS = REPO / "tools" / "simulator" / "photos"


def mock_detections(xyxy: list[tuple[float, float, float, float]], confidence: float | list[float] = 0.9) -> Detections:
    """People at the given pixel boxes, all with one confidence or one each."""
    if not xyxy:
        return Detections.empty()
    arr = np.asarray(xyxy, dtype=np.float32)
    conf = np.broadcast_to(np.asarray(confidence, dtype=np.float32), (len(arr),)).copy()
    return Detections(xyxy=arr, confidence=conf, class_id=np.zeros(len(arr), np.int32))


# -- real photographs

# Person boxes (x1, y1, x2, y2) labelled by hand on the original images.
GROUND_TRUTH = {
    "bus.jpg": [  # 810x1080 (portrait: letterboxed left and right)
        (50, 398, 245, 905),   # beige coat
        (222, 405, 345, 860),  # black coat
        (668, 395, 810, 880),  # walking out on the right, cut by the frame
        (0, 555, 78, 875),     # camouflage trousers, cut by the left edge
    ],
    "zidane.jpg": [  # 1280x720 (landscape: letterboxed top and bottom)
        (122, 200, 1150, 720),  # Zidane, arm stretched out to the pointing hand
        (750, 42, 1135, 720),   # Ancelotti
    ],
    "astronaut.jpg": [(20, 15, 365, 512)],
    "camera.jpg": [(0, 65, 330, 512)],
}
MIN_FOUND = {"bus.jpg": 3, "zidane.jpg": 2, "astronaut.jpg": 1, "camera.jpg": 1}


def photo(name: str) -> np.ndarray:
    image = cv2.imread(str(PHOTOS / name))
    assert image is not None, name
    return image


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of (N,4) and (M,4) xyxy boxes."""
    a, b = np.asarray(a, np.float64)[:, None], np.asarray(b, np.float64)[None]
    w = (np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0])).clip(0)
    h = (np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1])).clip(0)
    inter = w * h
    area = lambda box: (box[..., 2] - box[..., 0]) * (box[..., 3] - box[..., 1])  # noqa: E731
    return inter / (area(a) + area(b) - inter)


def found(truth: Sequence[tuple[int, ...]], detections: Detections, min_iou: float = 0.5) -> int:
    """How many true boxes a distinct detection matches with IoU >= min_iou (greedy, best first)."""
    if len(detections) == 0:
        return 0
    overlaps = iou(np.array(truth), detections.xyxy)
    hits = 0
    while overlaps.size and overlaps.max() >= min_iou:
        t, d = np.unravel_index(overlaps.argmax(), overlaps.shape)
        overlaps[t, :] = overlaps[:, d] = 0
        hits += 1
    return hits


# Hand-encoded ONNX (protobuf wire format), so the tests need no `onnx` package: one Reshape node
# from the input `images` to `output0`.

def _varint(n: int) -> bytes:
    out = b""
    while True:
        out += bytes([(n & 0x7F) | (0x80 if n > 0x7F else 0)])
        n >>= 7
        if not n:
            return out


def _field(number: int, value: int | str | bytes) -> bytes:
    if isinstance(value, int):
        return _varint(number << 3) + _varint(value)
    data = value.encode() if isinstance(value, str) else value
    return _varint(number << 3 | 2) + _varint(len(data)) + data


def _value_info(name: str, shape: tuple[int | str, ...]) -> bytes:
    dims = b"".join(_field(1, _field(1 if isinstance(d, int) else 2, d)) for d in shape)
    tensor_type = _field(1, 1) + _field(2, dims)  # elem_type FLOAT, shape
    return _field(1, name) + _field(2, _field(1, tensor_type))


def write_onnx(
    path: Path, *, output_shape: tuple[int, ...], input_shape: tuple[int | str, ...] = (1, 3, 8, 8),
    declared_output: tuple[int | str, ...] | None = None, names: str | None = None,
) -> Path:
    target = struct.pack(f"<{len(output_shape)}q", *output_shape)
    shape_init = _field(1, len(output_shape)) + _field(2, 7) + _field(8, "shape") + _field(9, target)
    node = _field(1, "images") + _field(1, "shape") + _field(2, "output0") + _field(4, "Reshape")
    graph = (
        _field(1, node) + _field(2, "g") + _field(5, shape_init)
        + _field(11, _value_info("images", input_shape))
        + _field(12, _value_info("output0", declared_output or output_shape))
    )
    model = _field(1, 7) + _field(8, _field(1, "") + _field(2, 13)) + _field(7, graph)
    if names is not None:
        model += _field(14, _field(1, "names") + _field(2, names))
    path.write_bytes(model)
    return path
