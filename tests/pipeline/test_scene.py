"""`pipeline.measure.frame_features`: what it measures from pixels."""

from __future__ import annotations

import numpy as np
import pytest

from core.config import CameraConfig
from pipeline.measure import EDGE_WIDTH, frame_features

CAMERA = CameraConfig.model_validate({
    "id": "cam1", "url": "rtsp://127.0.0.1/x",
    "zones": [
        {"id": "w1-desk", "kind": "desk", "window": "w1", "polygon": [[0.25, 0.0], [0.5, 0.0], [0.5, 0.5]]},
        {"id": "q1", "kind": "queue", "polygon": [[0.0, 0.6], [1.0, 0.6], [1.0, 1.0], [0.0, 1.0]]},
    ],
})


def test_uniform_frame() -> None:
    f = frame_features(np.full((360, 640, 3), 51, np.uint8), CAMERA, patch_px=16)
    assert f.brightness == pytest.approx(0.2, abs=1e-3)
    assert f.contrast == pytest.approx(0.0, abs=1e-6) and f.sharpness == pytest.approx(0.0, abs=1e-9)
    assert f.edges.shape == (36, EDGE_WIDTH)
    assert list(f.desks) == ["w1"]  # desk zones only, by window


def test_desk_patch_covers_the_zone() -> None:
    image = np.zeros((360, 640), np.uint8)
    image[:, 240:] = 255  # right of x=240 white: the zone spans x 160..320, its right half is white
    patch = frame_features(image, CAMERA, patch_px=16).desks["w1"]
    assert patch.box == (160, 0, 320, 180)
    assert patch.gray.shape == patch.mask.shape == (16, 16) and patch.gray.dtype == np.float32
    assert patch.gray[:, :7].max() == 0.0 and patch.gray[:, 9:].min() == 1.0
    # the triangle (0.25,0) (0.5,0) (0.5,0.5): upper right half of the box
    assert patch.mask[1, 14] and not patch.mask[14, 1]
    assert 0.4 < patch.mask.mean() < 0.65


def test_box_mask_marks_covered_thumbnail_pixels() -> None:
    patch = frame_features(np.zeros((360, 640, 3), np.uint8), CAMERA, patch_px=16).desks["w1"]
    covered = patch.box_mask(np.array([[160, 0, 240, 180]], np.float32))  # the left half of the zone's box
    assert covered[:, :8].all() and not covered[:, 8:].any()
    assert not patch.box_mask(np.zeros((0, 4))).any()


def test_sharper_frames_score_higher() -> None:
    rng = np.random.default_rng(0)
    sharp = (rng.random((360, 640)) > 0.5).astype(np.uint8) * 255
    soft = np.repeat(np.repeat(sharp[::8, ::8], 8, axis=0), 8, axis=1)
    assert frame_features(sharp, CAMERA).sharpness > frame_features(soft, CAMERA).sharpness


def test_bad_image_shape() -> None:
    with pytest.raises(ValueError):
        frame_features(np.zeros((4, 4, 4, 4), np.uint8), CAMERA)
