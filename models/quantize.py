"""int8 versions of Ultralytics YOLO ONNX exports, built on this machine and cached.

onnxruntime's static quantization (QDQ, int8 weights per channel, uint8 activations) calibrated on
the hall frames in `models/calibration/` (rendered from real photographs, see its generate.py).
The Detect head's decoding (box distribution, anchors, sigmoid) stays float: it is cheap and its
values span ranges that int8 would crush. On this 2-core AMD EPYC (AVX-512 VNNI) the int8 model
costs ~0.35 of the float one per frame and finds the same people (docs/accuracy.md).

A source that was quantized dynamically already (onnxruntime's `quantize_dynamic`: ConvInteger on
uint8 activations quantized per frame, as some published YOLOv8n int8 files are) is first turned
back into float Convs from its int8 weights (`float_convs`), then quantized statically like any
float export: ~0.2 of the cost of running the dynamic file as it is, the same people found.

The cached file is named by the source's sha256, the calibration set's digest and the onnxruntime
version, so a change in any of them builds anew; a sidecar holds the built file's sha256, checked on
every load, so a damaged cache is rebuilt rather than used.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from core.errors import ModelError

log = logging.getLogger(__name__)

class NotQuantizable(ModelError):
    """The model is not a graph this module knows how to quantize (not a fixed-size Ultralytics export)."""


CALIBRATION_DIR = Path(__file__).resolve().parent / "calibration"
CACHE_ENV = "HALLWATCH_MODEL_CACHE"


def cache_dir() -> Path:
    """Where built models are kept: $HALLWATCH_MODEL_CACHE, else the user's cache directory."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    import platformdirs

    return Path(platformdirs.user_cache_dir("hallwatch")) / "models"


def calibration_files(directory: Path = CALIBRATION_DIR) -> list[Path]:
    files = sorted(directory.glob("*.jpg"))
    if not files:
        raise ModelError(f"{directory}: no calibration frames (*.jpg); run `python -m tools.calibration`")
    return files


def int8_path(source: Path, directory: Path | None = None, calibration: Path = CALIBRATION_DIR) -> Path:
    import onnxruntime

    from models.registry import sha256_of

    digest = hashlib.sha256()
    for path in calibration_files(calibration):
        digest.update(path.name.encode() + path.read_bytes())
    key = f"{sha256_of(source)[:16]}-cal{digest.hexdigest()[:12]}-ort{onnxruntime.__version__}"
    return (directory or cache_dir()) / f"{source.stem}-{key}-int8.onnx"


def quantized_model(source: Path, directory: Path | None = None, calibration: Path = CALIBRATION_DIR) -> Path:
    """The int8 model of `source`, from the cache or built now (about a minute on 2 cores; one
    process builds while others wait for it)."""
    from models.registry import sha256_of

    target = int8_path(source, directory, calibration)
    sidecar = target.with_name(target.name + ".sha256")
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.with_name(target.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if target.exists() and sidecar.exists() and sidecar.read_text().strip() == sha256_of(target):
            return target
        if target.exists():
            log.warning("%s does not match its recorded sha256: building it again", target)
        log.info("building the int8 model of %s (calibrating on %d frames; once per machine)",
                 source, len(calibration_files(calibration)))
        build_int8(source, target, calibration)
        sidecar.write_text(sha256_of(target) + "\n")
        log.info("int8 model ready: %s", target)
    return target


def build_int8(source: Path, target: Path, calibration: Path = CALIBRATION_DIR) -> None:
    import onnx
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from models.onnx_detector import letterbox_blob

    try:
        model = onnx.load(str(source))
    except Exception as exc:  # protobuf's DecodeError and friends: the float path names the fault
        raise NotQuantizable(f"{source}: not readable as ONNX ({type(exc).__name__})") from exc
    dims = model.graph.input[0].type.tensor_type.shape.dim if len(model.graph.input) == 1 else []
    size = (dims[2].dim_value, dims[3].dim_value) if len(dims) == 4 else (0, 0)
    if not all(size):
        raise NotQuantizable(f"{source}: int8 needs one fixed [1, 3, H, W] input")
    name = model.graph.input[0].name
    dynamic = any(node.op_type == "ConvInteger" for node in model.graph.node)
    if dynamic:
        model = float_convs(model, source)
    head = _decoding_nodes(model, source)

    class Frames(CalibrationDataReader):
        def __init__(self) -> None:
            self.blobs: Iterator[np.ndarray] = (letterbox_blob(frame, size)[0] for frame in _frames(calibration))

        def get_next(self) -> dict[str, np.ndarray] | None:
            blob = next(self.blobs, None)
            return None if blob is None else {name: blob}

    with tempfile.TemporaryDirectory(prefix="hallwatch-int8-", dir=target.parent) as scratch:
        prepared, built = Path(scratch) / "prepared.onnx", Path(scratch) / "int8.onnx"
        if dynamic:
            onnx.save(model, str(Path(scratch) / "float.onnx"))
            source = Path(scratch) / "float.onnx"
        quant_pre_process(str(source), str(prepared))
        quantize_static(str(prepared), str(built), Frames(), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, nodes_to_exclude=head)
        os.replace(built, target)


def float_convs(model: Any, source: Path) -> Any:
    """The graph of an onnxruntime `quantize_dynamic` output with each DynamicQuantizeLinear ->
    ConvInteger -> Cast -> Mul(scale) [-> Add(bias)] chain replaced by one float Conv whose weights are
    the int8 ones dequantized; NotQuantizable when a chain is not of that shape."""
    from onnx import helper, numpy_helper

    graph = model.graph
    constants = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    producer = {out: node for node in graph.node for out in node.output}
    users: dict[str, list[Any]] = {}
    for node in graph.node:
        for name in node.input:
            users.setdefault(name, []).append(node)

    def only_user(name: str, op: str) -> Any:
        found = users.get(name, [])
        if len(found) != 1 or found[0].op_type != op:
            raise NotQuantizable(f"{source}: {name} does not feed one {op}: not an onnxruntime dynamic int8 graph")
        return found[0]

    replaced: dict[str, Any] = {}
    dropped: set[str] = set()
    weights = []
    for node in graph.node:
        if node.op_type != "ConvInteger":
            continue
        quantize = producer.get(node.input[0])
        if quantize is None or quantize.op_type != "DynamicQuantizeLinear" or node.input[1] not in constants:
            raise NotQuantizable(f"{source}: {node.name} is not a dynamically quantized Conv")
        cast = only_user(node.output[0], "Cast")
        scale = only_user(cast.output[0], "Mul")
        scales = producer[next(name for name in scale.input if name != cast.output[0])]  # x_scale * w_scale
        w_scale = constants[next(name for name in scales.input if name != quantize.output[1])]
        w_zero = constants[node.input[3]] if len(node.input) > 3 else np.zeros((), np.uint8)
        weight = (constants[node.input[1]].astype(np.float32) - _per_channel(w_zero)) * _per_channel(w_scale)
        inputs, output = [quantize.input[0], f"{node.input[1]}_float"], scale.output[0]
        weights.append(numpy_helper.from_array(weight.astype(np.float32), inputs[1]))
        adds = users.get(scale.output[0], [])
        if len(adds) == 1 and adds[0].op_type == "Add":
            bias = next(name for name in adds[0].input if name != scale.output[0])
            shaped = producer.get(bias)
            bias = shaped.input[0] if shaped is not None and shaped.op_type == "Reshape" else bias
            if bias in constants and constants[bias].ndim == 1:
                inputs.append(bias)
                output = adds[0].output[0]
                dropped.add(adds[0].name)
        attributes = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        replaced[node.name] = helper.make_node("Conv", inputs, [output], name=node.name.removesuffix("_quant"),
                                               **attributes)
        dropped.update({cast.name, scale.name})
    nodes = [replaced.get(node.name, node) for node in graph.node if node.name not in dropped]
    while True:  # drop what no longer feeds anything: the quantizers, scale products, bias reshapes
        needed = {name for node in nodes for name in node.input} | {out.name for out in graph.output}
        alive = [node for node in nodes if any(out in needed for out in node.output)]
        if len(alive) == len(nodes):
            break
        nodes = alive
    del graph.node[:]
    graph.node.extend(nodes)
    graph.initializer.extend(weights)
    needed = {name for node in nodes for name in node.input}
    kept = [t for t in graph.initializer if t.name in needed]
    del graph.initializer[:]
    graph.initializer.extend(kept)
    return model


def _per_channel(value: np.ndarray) -> np.ndarray:
    """A scalar, or one value per output channel shaped to broadcast over Conv weights [C, ...]."""
    value = value.astype(np.float32)
    return value.reshape(-1, 1, 1, 1) if value.size > 1 else value.reshape(())


def _frames(calibration: Path) -> Iterator[np.ndarray]:
    for path in calibration_files(calibration):
        image = cv2.imread(str(path))
        if image is None:
            raise ModelError(f"{path}: not a readable image")
        yield image


def _decoding_nodes(model: object, source: Path) -> list[str]:
    """The Detect head's nodes other than its convolution branches (`/model.N/cv2`, `/cv3`): the
    part that turns feature maps into boxes and scores."""
    graph = model.graph  # type: ignore[attr-defined]
    output = graph.output[0].name
    last = next((node for node in graph.node if output in node.output), None)
    parts = last.name.split("/") if last is not None else []
    if len(parts) < 3 or not parts[1].startswith("model."):
        raise NotQuantizable(f"{source}: not an Ultralytics export (no /model.N/ Detect head)")
    prefix = f"/{parts[1]}/"
    return [node.name for node in graph.node if node.name.startswith(prefix) and not node.name.startswith(
        (f"{prefix}cv2", f"{prefix}cv3"))]
