"""A YOLOv8/11-style ONNX person detector run by onnxruntime on the CPU.

Pre- and post-processing follow Ultralytics: letterbox to the model's input size (keep the aspect
ratio, pad with grey 114, centred; with `fit_frames`, padded only up to a multiple of 32 as
Ultralytics predicts, the fixed-size graph rebuilt for that size by `models.input_size`), BGR -> RGB,
scale to [0, 1]; the output `[1, 4 + nc, N]` holds cx, cy, w, h in input pixels and then one score
per class (no objectness). A box's person score is its best score over the person classes; boxes
above `confidence` go through class-agnostic NMS and are mapped back to the original frame.

`output_format="yolox"` reads a Megvii YOLOX export instead (`tools/export_onnx.py`, no decoding
inside): the input is BGR in [0, 255] (YOLOX >= 0.1.1), the output `[1, N, 5 + nc]` holds per anchor
the grid offsets x, y, log w, log h, objectness and class scores; a box's score is objectness times
its best person-class score, as YOLOX's own `postprocess`. Its graph holds no size-bound constants,
so it runs at the frame's aspect and at other sizes too (`models.input_size`).

`input_side` runs either kind larger or smaller than its file (e.g. 1280 for small people), the graph
rebuilt for that size the same way.
"""

from __future__ import annotations

import ast
import functools
import logging
import threading
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort

from core.errors import ModelError
from models.detections import PERSON, Detections
from models.input_size import fit_to_frame, resize_input

log = logging.getLogger(__name__)

DYNAMIC_SIZE = 640  # input side used when the model's input size is dynamic
MAX_DETECTIONS = 300
PAD_VALUE = 114
OUTPUT_FORMATS = ("yolov8", "yolox")
YOLOX_STRIDES = (8, 16, 32)


class OnnxDetector:
    def __init__(
        self,
        path: str | Path,
        *,
        confidence: float = 0.25,
        iou: float = 0.5,
        threads: int = 0,
        person_class_ids: Sequence[int] | None = None,
        fit_frames: bool = False,
        providers: Sequence[str] = ("CPUExecutionProvider",),
        output_format: str = "yolov8",
        input_side: int | None = None,
    ) -> None:
        """`threads` = 0 lets onnxruntime use all cores; `person_class_ids` None = every class is a
        person; `fit_frames` runs each frame at its own aspect (e.g. 384x640 for 16:9 into a 640x640
        model: the same pixels per person, ~0.6 of the cost); `providers` are onnxruntime's execution
        providers in order of preference; `output_format` "yolov8" (Ultralytics YOLOv8/11) or "yolox"
        (Megvii YOLOX); `input_side` runs the model scaled so its input's longer side is that many pixels (e.g.
        1280 for small people; None: the file's own size). Raises ModelError when the file is missing, not
        ONNX, or not YOLO-shaped, or a provider is not in this onnxruntime."""
        if not 0.0 < confidence < 1.0 or not 0.0 < iou < 1.0:
            raise ValueError(f"confidence and iou must lie in (0, 1), got {confidence} and {iou}")
        if threads < 0:
            raise ValueError(f"threads must be >= 0, got {threads}")
        if input_side is not None and (input_side < 32 or input_side % 32):
            raise ValueError(f"input_side must be a positive multiple of 32, got {input_side}")
        if output_format not in OUTPUT_FORMATS:
            raise ValueError(f"output_format must be one of {OUTPUT_FORMATS}, got {output_format!r}")
        self.output_format = output_format
        self.path = Path(path)
        self.confidence = confidence
        self.iou = iou
        self._threads = threads
        self.providers = check_providers(providers)
        self._session = _open_session(self.path, threads, self.providers)
        self._input = self._session.get_inputs()[0]
        self._input_size, self._input_dtype = _check_input(self.path, self._session)
        self._file_size = self._input_size
        if input_side is not None:  # the file's shape scaled to the asked side, in multiples of the stride
            scale = input_side / max(self._input_size)
            self._input_size = (max(32, round(self._input_size[0] * scale / 32) * 32),
                                max(32, round(self._input_size[1] * scale / 32) * 32))
        self.fit_frames = fit_frames
        self._sessions: dict[tuple[int, int], ort.InferenceSession] = {self._file_size: self._session}
        self._sessions_lock = threading.Lock()
        self.num_classes = _check_output(self.path, self._session, output_format)
        self.class_names = _class_names(self._session)
        if self.class_names is not None and self.num_classes is not None:
            if sorted(self.class_names) != list(range(self.num_classes)):
                raise ModelError(
                    f"{self.path}: metadata names classes {sorted(self.class_names)} but the output has "
                    f"{self.num_classes} class scores"
                )
        self.person_class_ids = None if person_class_ids is None else [int(i) for i in person_class_ids]
        ids, n = self.person_class_ids, self.num_classes
        if ids is not None and (not ids or (n is not None and not all(0 <= i < n for i in ids))):
            raise ModelError(f"{self.path}: person class ids {ids} are not among the model's {n} classes")

    @property
    def input_size(self) -> tuple[int, int]:
        """(height, width) of the network input (the file's, or scaled to `input_side`); with
        `fit_frames` a frame runs at its own aspect within it (`input_size_for`)."""
        return self._input_size

    @property
    def input_shape(self) -> list[int | str | None]:
        """The input shape the file declares, e.g. [1, 3, 640, 640]; a dynamic axis is a str or None."""
        return list(self._input.shape)

    def detect(self, frame: np.ndarray) -> Detections:
        """People in one HxWx3 uint8 BGR frame, boxes in the frame's pixel coordinates."""
        if not (isinstance(frame, np.ndarray) and frame.dtype == np.uint8 and frame.ndim == 3
                and frame.shape[2] == 3 and frame.size > 0):
            got = f"{type(frame).__name__} {getattr(frame, 'dtype', '')} {getattr(frame, 'shape', '')}"
            raise ValueError(f"frame must be a non-empty HxWx3 uint8 BGR array, got {got}")
        size, session = self._session_for(self.input_size_for(frame.shape[:2]))
        yolox = self.output_format == "yolox"
        blob, ratio, pad = letterbox_blob(frame, size, self._input_dtype, rgb01=not yolox)
        (output, *_) = session.run(None, {self._input.name: blob})
        output = np.asarray(output)
        class_ids = self.person_class_ids
        if yolox:  # only the person columns are decoded; the scores that follow are all people's
            output, class_ids = yolox_to_yolov8(self.path, output, size, class_ids), None
        return self._postprocess(output, ratio, pad, frame.shape[:2], class_ids)

    def input_size_for(self, frame_hw: tuple[int, int]) -> tuple[int, int]:
        """(height, width) of the network input a frame of this size is run at."""
        if not self.fit_frames:
            return self._input_size
        return fit_to_frame(self._input_size, frame_hw)

    def _session_for(self, size: tuple[int, int]) -> tuple[tuple[int, int], ort.InferenceSession]:
        """The input size to use and its session, built on first use."""
        with self._sessions_lock:
            session = self._sessions.get(size)
            if session is None:
                try:
                    session = self._sessions[size] = self._resized_session(size)
                except ModelError as exc:  # slower, not wrong: the file's own size still works
                    log.warning("%s; running every frame at the model's %dx%d", exc, *self._file_size)
                    self.fit_frames = False
                    self._input_size = self._file_size
                    return self._file_size, self._session
            return size, session

    def _resized_session(self, size: tuple[int, int]) -> ort.InferenceSession:
        declared = self._input.shape[2:]
        if not all(isinstance(side, int) for side in declared):  # dynamic: the file takes any size
            return self._session
        log.info("%s: building a %dx%d input from its %dx%d graph", self.path, *size, *self._file_size)
        graph = resize_input(self.path, *size, output_format=self.output_format)
        return _open_session(self.path, self._threads, self.providers, graph)

    def detect_batch(self, frames: Sequence[np.ndarray]) -> list[Detections]:
        return [self.detect(frame) for frame in frames]

    def _postprocess(
        self, output: np.ndarray, ratio: float, pad: tuple[int, int], frame_hw: tuple[int, int],
        class_ids: list[int] | None,
    ) -> Detections:
        """People in a [1, 4 + nc, N] output: a box's score is its best over `class_ids` (None: every
        class)."""
        classes = output.shape[1] - 4 if output.ndim == 3 else 0
        if output.ndim != 3 or output.shape[0] != 1 or classes < 1:
            raise ModelError(f"{self.path}: output shape {output.shape} is not YOLO-like [1, 4+classes, N]")
        if class_ids is not None and max(class_ids) >= classes:
            raise ModelError(f"{self.path}: person class ids {class_ids} but {classes} classes")
        pred = output[0].astype(np.float32, copy=False)
        class_scores = pred[4:] if class_ids is None else pred[4:][class_ids]
        scores = class_scores.max(axis=0)
        cx, cy, bw, bh = pred[:4]
        keep = (scores >= self.confidence) & (bw > 0) & (bh > 0)
        if not keep.any():
            return Detections.empty()
        scores, cx, cy, bw, bh = scores[keep], cx[keep], cy[keep], bw[keep], bh[keep]
        xywh = np.stack([cx - bw / 2, cy - bh / 2, bw, bh], axis=1)
        kept = cv2.dnn.NMSBoxes(xywh.tolist(), scores.tolist(), self.confidence, self.iou)
        chosen = np.asarray(kept, dtype=np.int64).reshape(-1)[:MAX_DETECTIONS]
        xyxy = xywh[chosen].copy()
        xyxy[:, 2:] += xyxy[:, :2]
        xyxy -= np.array([pad[0], pad[1], pad[0], pad[1]], dtype=np.float32)
        xyxy /= ratio
        height, width = frame_hw
        xyxy[:, [0, 2]] = xyxy[:, [0, 2]].clip(0, width)
        xyxy[:, [1, 3]] = xyxy[:, [1, 3]].clip(0, height)
        return Detections(
            xyxy=xyxy.astype(np.float32),
            confidence=scores[chosen].astype(np.float32),
            class_id=np.full(len(chosen), PERSON, dtype=np.int32),
        )


def yolox_to_yolov8(path: Path, output: np.ndarray, size: tuple[int, int],
                   class_ids: Sequence[int] | None = None) -> np.ndarray:
    """A YOLOX output [1, N, 5 + nc] (grid offsets, log sizes, objectness, class scores; YOLOX's
    `demo_postprocess`) as a YOLOv8 one [1, 4 + k, N]: cx, cy, w, h in input pixels, then objectness
    x class score for each of `class_ids` in that order (None: all nc classes). Decoding only the
    person class of COCO's 80 takes 0.5 instead of 1.5 ms a frame at 384x640."""
    height, width = size
    xy, stride = _yolox_grid(height, width)
    anchors = len(stride)
    if output.ndim != 3 or output.shape[0] != 1 or output.shape[1] != anchors or output.shape[2] < 6:
        raise ModelError(f"{path}: output shape {output.shape} is not YOLOX-like [1, {anchors}, 5+classes] "
                         f"for a {height}x{width} input")
    classes = output.shape[2] - 5
    if class_ids is not None and not all(0 <= i < classes for i in class_ids):
        raise ModelError(f"{path}: class ids {list(class_ids)} are not among the output's {classes} classes")
    pred = output[0].astype(np.float32, copy=False)
    centre = (pred[:, :2] + xy) * stride
    box = np.exp(np.clip(pred[:, 2:4], -20.0, 20.0)) * stride
    class_scores = pred[:, 5:] if class_ids is None else pred[:, [5 + i for i in class_ids]]
    return np.concatenate([centre, box, class_scores * pred[:, 4:5]], axis=1).T[None]


@functools.lru_cache(maxsize=8)
def _yolox_grid(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Each anchor's grid cell (x, y) and stride for a height x width input, anchors row by row per
    stride (read-only: shared by every call)."""
    grids = [(height // s, width // s, s) for s in YOLOX_STRIDES]
    xy = np.concatenate([np.stack(np.meshgrid(np.arange(w), np.arange(h)), axis=-1).reshape(-1, 2)
                         for h, w, _ in grids]).astype(np.float32)
    stride = np.concatenate([np.full(h * w, s, np.float32) for h, w, s in grids])[:, None]
    xy.setflags(write=False)
    stride.setflags(write=False)
    return xy, stride


def letterbox_blob(frame: np.ndarray, size: tuple[int, int], dtype: type = np.float32,
                   rgb01: bool = True) -> tuple[np.ndarray, float, tuple[int, int]]:
    """Letterbox a BGR frame into `size` (height, width) as Ultralytics does; returns the NCHW blob
    (RGB in [0, 1]; with `rgb01` False, BGR in [0, 255] as YOLOX takes it), the scale and the
    (left, top) pad."""
    h, w = frame.shape[:2]
    in_h, in_w = size
    ratio = min(in_h / h, in_w / w)
    new_w, new_h = round(w * ratio), round(h * ratio)
    if (new_w, new_h) != (w, h):
        frame = cv2.resize(frame, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    dw, dh = (in_w - new_w) / 2, (in_h - new_h) / 2
    top, bottom = round(dh - 0.1), round(dh + 0.1)
    left, right = round(dw - 0.1), round(dw + 0.1)
    if top or bottom or left or right:
        frame = cv2.copyMakeBorder(frame, top, bottom, left, right, cv2.BORDER_CONSTANT, value=(PAD_VALUE,) * 3)
    blob = cv2.dnn.blobFromImage(frame, scalefactor=1 / 255.0 if rgb01 else 1.0, swapRB=rgb01)
    return blob.astype(dtype, copy=False), ratio, (left, top)


def check_providers(providers: Sequence[str]) -> list[str]:
    """The providers as asked, if this onnxruntime has each; else ModelError naming what it has."""
    available = ort.get_available_providers()
    missing = [p for p in providers if p not in available]
    if not providers or missing:
        raise ModelError(f"execution provider(s) {', '.join(missing) or '(none)'} not available in this onnxruntime "
                         f"({ort.__version__}); it has: {', '.join(available)}")
    return list(providers)


def _open_session(path: Path, threads: int, providers: Sequence[str] = ("CPUExecutionProvider",),
                  graph: bytes | None = None) -> ort.InferenceSession:
    """A session for the file, or for `graph` (the file rebuilt, e.g. for another input size)."""
    if not path.exists():
        raise ModelError(f"{path}: no such model file")
    if not path.is_file():
        raise ModelError(f"{path}: not a file")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3
    # Idle pool threads would spin for work between inferences, burning CPU that the readers and
    # the web app need: 0.54 instead of 0.38 CPU-seconds per 640x640 inference on a busy 2-core box.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        return ort.InferenceSession(str(path) if graph is None else graph, sess_options=options,
                                    providers=list(providers))
    except Exception as exc:  # onnxruntime raises its own pybind exception types
        raise ModelError(f"{path}: not a valid ONNX model: {exc}") from exc


def _check_input(path: Path, session: ort.InferenceSession) -> tuple[tuple[int, int], type]:
    inputs = session.get_inputs()
    if len(inputs) != 1:
        raise ModelError(f"{path}: expected one image input, the model has {len(inputs)}")
    shape = inputs[0].shape
    if len(shape) != 4 or (isinstance(shape[1], int) and shape[1] != 3):
        raise ModelError(f"{path}: input shape {shape} is not an image batch [1, 3, H, W]")
    dtypes = {"tensor(float)": np.float32, "tensor(float16)": np.float16}
    if inputs[0].type not in dtypes:
        raise ModelError(f"{path}: input type {inputs[0].type} is not float32 or float16")
    h, w = (side if isinstance(side, int) and side > 0 else DYNAMIC_SIZE for side in shape[2:])
    return (h, w), dtypes[inputs[0].type]


def _check_output(path: Path, session: ort.InferenceSession, output_format: str = "yolov8") -> int | None:
    """The number of classes the first output scores, or None when its shape is dynamic."""
    shape = session.get_outputs()[0].shape
    if output_format == "yolox":
        channels = shape[2] if len(shape) == 3 else None
        if len(shape) != 3 or (isinstance(channels, int) and channels < 6):
            raise ModelError(f"{path}: output shape {shape} is not YOLOX-like [1, N, 5+classes]")
        return channels - 5 if isinstance(channels, int) else None
    channels, boxes = (shape[1], shape[2]) if len(shape) == 3 else (None, None)
    if len(shape) != 3 or (isinstance(channels, int) and channels < 5):
        raise ModelError(f"{path}: output shape {shape} is not YOLO-like [1, 4+classes, N]")
    if isinstance(channels, int) and isinstance(boxes, int) and channels > boxes:
        raise ModelError(
            f"{path}: output shape {shape} looks like [1, N, ...] (YOLOv5-style or transposed); "
            "export a YOLOv8/11 model with Ultralytics, which gives [1, 4+classes, N]"
        )
    return channels - 4 if isinstance(channels, int) else None


def _class_names(session: ort.InferenceSession) -> dict[int, str] | None:
    """Class names from Ultralytics' `names` metadata, e.g. "{0: 'person', 1: 'bicycle'}"."""
    raw = session.get_modelmeta().custom_metadata_map.get("names")
    if raw is None:
        return None
    try:
        names = ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        names = None
    if isinstance(names, dict) and all(isinstance(k, int) and isinstance(v, str) for k, v in names.items()):
        return dict(sorted(names.items()))
    log.warning("ignoring unreadable class names in model metadata: %.80r", raw)
    return None
