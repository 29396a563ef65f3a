"""`detector.providers`: onnxruntime's execution providers by preference, refused clearly when
this onnxruntime lacks one."""

from __future__ import annotations

import onnxruntime as ort
import pytest
from pydantic import ValidationError

from core.config.detector import DetectorConfig, Provider
from core.errors import ModelError
from models import load_detector


def test_the_default_runs_on_the_cpu_provider() -> None:
    detector = load_detector(DetectorConfig(precision="fp32"))
    assert detector.providers == ["CPUExecutionProvider"]  # type: ignore[attr-defined]


def test_a_provider_this_onnxruntime_lacks_is_an_error_naming_what_it_has() -> None:
    missing = next(p for p in Provider if p.value not in ort.get_available_providers())
    with pytest.raises(ModelError, match=f"{missing.value} not available.*it has: .*CPUExecutionProvider"):
        load_detector(DetectorConfig(precision="fp32", providers=[missing, Provider.cpu]))


def test_an_unknown_provider_name_is_a_config_error() -> None:
    with pytest.raises(ValidationError, match="providers"):
        DetectorConfig(providers=["NoSuchExecutionProvider"])
