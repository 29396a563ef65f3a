"""`hallwatch bench detector`: the scene set is seeded and its boxes and zones stay consistent in every
variant, matching counts what it should, and the bench reports every mode, variant and backend
(timings are measured, not asserted)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from analytics.geometry import Polygon
from models.detections import Detections
from tools.bench.detector import (
    VARIANTS,
    accuracy_scenes,
    example_site,
    format_report,
    main,
    matches,
    run_detector_bench,
)


def dets(xyxy: list[list[float]]) -> Detections:
    n = len(xyxy)
    return Detections(np.array(xyxy, np.float32).reshape(n, 4), np.full(n, 0.9, np.float32), np.zeros(n, np.int32))


@pytest.mark.parametrize(
    ("truth", "found", "expected"),
    [
        ([[0, 0, 10, 10]], [[0, 0, 10, 10]], 1),
        ([[0, 0, 10, 10]], [[0, 0, 10, 20]], 1),           # IoU 0.5 exactly
        ([[0, 0, 10, 10]], [[0, 0, 10, 21]], 0),           # IoU < 0.5
        ([[0, 0, 10, 10]], [[0, 0, 10, 10], [1, 0, 11, 10]], 1),  # one truth is matched once
        ([[0, 0, 10, 10], [1, 0, 11, 10]], [[0, 0, 10, 10]], 1),  # one detection matches once
        ([[0, 0, 10, 10], [100, 0, 110, 10]], [[100, 0, 110, 10], [0, 0, 10, 10]], 2),
        ([], [[0, 0, 10, 10]], 0),
        ([[0, 0, 10, 10]], [], 0),
    ],
)
def test_matches(truth, found, expected) -> None:
    assert matches(np.array(truth, np.float32).reshape(-1, 4), dets(found)) == expected


def test_scenes_are_seeded_and_consistent() -> None:
    scenes = accuracy_scenes(per_camera=1)
    again = accuracy_scenes(per_camera=1)
    cameras = example_site().cameras()
    assert len(scenes) == len(cameras) * len(VARIANTS)
    assert {s.variant for s in scenes} == set(VARIANTS)
    for scene, same in zip(scenes, again, strict=True):
        assert np.array_equal(scene.image, same.image) and np.array_equal(scene.truth, same.truth)
    for scene in scenes:
        height, width = scene.image.shape[:2]
        expected = (1080, 1920) if scene.variant in ("small", "tiny") else (720, 1280)
        assert (height, width) == expected and scene.image.dtype == np.uint8
        assert len(scene.truth) > 0
        assert (scene.truth[:, :2] >= 0).all() and (scene.truth[:, 2] <= width).all()
        assert (scene.truth[:, 3] <= height).all()


@pytest.mark.parametrize("variant", ["small", "tiny"])
def test_small_variants_move_zones_with_the_people(variant: str) -> None:
    """Every standing person's foot point lies in one of the moved floor zones, every officer's box
    centre in a moved desk zone, exactly as in the rendered frame."""
    rendered = accuracy_scenes(per_camera=1, variants=["rendered"])
    small = accuracy_scenes(per_camera=1, variants=[variant])
    for before, after in zip(rendered, small, strict=True):
        assert len(before.truth) == len(after.truth)
        sizes = [(1280, 720), (1920, 1080)]
        inside = []
        for scene, size in zip((before, after), sizes, strict=True):
            feet = np.stack([(scene.truth[:, 0] + scene.truth[:, 2]) / 2, scene.truth[:, 3] - 1], axis=1)
            inside.append(np.stack([Polygon(zone).contains(feet, size) for zone in scene.zones]))
        assert np.array_equal(inside[0], inside[1])
        # People's height relative to the frame's shrinks by the variant's scale.
        scale = ((after.truth[:, 3] - after.truth[:, 1]) / 1080) / ((before.truth[:, 3] - before.truth[:, 1]) / 720)
        assert np.allclose(scale, {"small": 0.5, "tiny": 0.35}[variant], atol=0.01)


def test_unknown_variant() -> None:
    with pytest.raises(ValueError, match="unknown variants"):
        accuracy_scenes(variants=["foggy"])


def test_run_detector_bench_reports_every_choice(capsys: pytest.CaptureFixture[str]) -> None:
    report = run_detector_bench(frames=2, threads=[1], as_json=True, per_camera=1)
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads(json.dumps(report))
    speed = report["speed"]
    assert isinstance(speed, list)
    assert sorted((row["precision"], row["mode"], row["input"], row["frames"], row["threads"]) for row in speed) \
        == sorted((precision, mode, size if mode == "full_frame" else "640x640", frames, 1)
                  for precision, size in (("fp32", "640x640"), ("fp32", "384x640"), ("int8", "384x640"))
                  for mode in ("full_frame", "regions") for frames in ("1280x720", "1920x1080 small"))
    for row in speed:
        assert row["backend"] == "onnxruntime" and row["n"] == 2
        assert 0 < row["median_ms"] <= row["p90_ms"] and row["mean_ms"] > 0 and row["crops_per_frame"] >= 1
    accuracy = report["accuracy"]
    assert isinstance(accuracy, list)
    assert [(row["way"], row["variant"], row["mode"]) for row in accuracy] == [
        (way, variant, mode) for way in ("fp32 square", "fp32 fit", "int8 fit")
        for variant in VARIANTS for mode in ("full_frame", "regions")
    ]
    for row in accuracy:
        assert row["frames"] == 4 and row["people"] > 0 and 0 <= row["found"] <= row["people"]
        assert 0.0 <= row["recall"] <= 1.0 and 0.0 <= row["precision"] <= 1.0
    unavailable = report["unavailable"]
    assert isinstance(unavailable, list) and [row["backend"] for row in unavailable] == ["ultralytics"]
    assert report["machine"]["cores"] >= 1 and report["model"]["input"] == "640x640"  # type: ignore[index]
    table = format_report(report)
    assert "ultralytics  unavailable:" in table and "regions" in table and "tiny" in table


def test_main_passes_its_options(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    seen = {}

    def fake_bench(**kwargs: object) -> dict[str, object]:
        seen.update(kwargs)
        return {}

    monkeypatch.setattr("tools.bench.detector.run_detector_bench", fake_bench)
    assert main(["--frames", "3", "--threads", "2"]) == 0
    assert seen == {"frames": 3, "threads": [2], "as_json": False}


@pytest.mark.parametrize(
    "kwargs", [{"frames": 0}, {"threads": []}, {"threads": [0]}, {"per_camera": 0}],
)
def test_run_detector_bench_rejects(kwargs) -> None:
    with pytest.raises(ValueError, match="need frames"):
        run_detector_bench(as_json=True, **kwargs)
