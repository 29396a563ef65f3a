"""The real-video evaluation clips (eval/clips/real-*) and the tool that labels them
(`tools.evaluate.label`, guide: eval/LABELLING.md)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
import yaml

from tests.fix_sites import REPO
from tools.evaluate import label
from tools.evaluate.dataset import load_clip

EVAL = REPO / "eval"
REAL_CLIPS = sorted(p for p in (EVAL / "clips").glob("real-*") if p.is_dir())
MIN_LABELLED_FRAMES = 150  # over all real clips together
SYNTHETIC = EVAL / "clips" / "ci-still-officers"


def test_there_are_real_clips() -> None:
    assert len(REAL_CLIPS) >= 4, [p.name for p in REAL_CLIPS]


@pytest.mark.parametrize("directory", REAL_CLIPS, ids=[p.name for p in REAL_CLIPS])
def test_real_clip_is_complete(directory: Path) -> None:
    """Files present, H.264 under the size limit, licence, commit and the video's sha256 in
    SOURCE.md, every second labelled and verified by a person, counts equal to boxes and zones."""
    assert label.check(directory) == []
    clip = load_clip(directory)  # and the evaluation reads it
    assert clip.id == directory.name and "real" in clip.tags
    assert len(clip.seconds) == clip.duration_s


def test_enough_labelled_frames() -> None:
    frames = sum(len(label.read_truth(p)["seconds"]) for p in REAL_CLIPS)
    people = sum(len(s["people"]) for p in REAL_CLIPS for s in label.read_truth(p)["seconds"])
    assert frames >= MIN_LABELLED_FRAMES
    assert people >= frames // 2  # frames with people, not an empty room


def test_dataset_lists_every_real_clip() -> None:
    manifest = yaml.safe_load((EVAL / "dataset.yaml").read_text(encoding="utf-8"))
    listed = {str(c["id"]): c.get("subset") for c in manifest["clips"]}
    for directory in REAL_CLIPS:
        assert listed.get(directory.name) == "real", directory.name
    assert set(manifest["subsets"]["real"]) == {p.name for p in REAL_CLIPS}


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Seconds 2-5 of a synthetic clip imported as a real one (4 fps, 1280x720, scaled to 640)."""
    root = tmp_path_factory.mktemp("eval")
    return label.import_video(SYNTHETIC / "video.mp4", "real-test", start=2.0, end=5.0, scale=640, root=root)


def test_import_cuts_and_converts(imported: Path) -> None:
    facts = label.video_facts(imported / "video.mp4")
    assert facts == {"codec": "h264", "pix_fmt": "yuv420p", "size": [640, 360], "fps": 4.0, "frames": 12}
    truth = label.read_truth(imported)
    assert (truth["duration_s"], truth["fps"], truth["size"], truth["labelled_by"]) == (3, 4, [640, 360], "proposed")
    with av.open(str(SYNTHETIC / "video.mp4")) as source:
        frames = [f.to_ndarray(format="bgr24") for _, f in zip(range(9), source.decode(video=0), strict=False)]
    first = label.read_frames(imported / "video.mp4", {0})[0].astype(np.int16)

    def small(image: np.ndarray) -> np.ndarray:
        return image[::2, ::2].astype(np.int16)

    # time 0 of the clip is second 2 of the source (frame 8 at 4 fps), not its first frame
    assert np.abs(first - small(frames[8])).mean() < np.abs(first - small(frames[0])).mean()
    source_md = (imported / "SOURCE.md").read_text(encoding="utf-8")
    assert label.sha256_file(imported / "video.mp4") in source_md and "2 s to 5 s" in source_md
    assert "- Commit: TODO" in source_md


def test_label_a_clip_to_completion(imported: Path, tmp_path: Path) -> None:
    directory = tmp_path / "real-test"
    shutil.copytree(imported, directory)
    label.set_zone(directory, "q1", "queue", ["0.02,0.6", "0.64,0.6", "0.64,1", "0.02,1"])
    label.set_zone(directory, "w1-desk", "desk:w1", ["0.18,0.22", "0.35,0.22", "0.35,0.48", "0.18,0.48"])
    assert label.propose(directory, progress=False) == 3
    truth = label.read_truth(directory)
    assert [s["t"] for s in truth["seconds"]] == [0, 1, 2]
    assert all(s["people"] and not s["verified"] for s in truth["seconds"])
    problems = label.check(directory)
    assert "t=0: not verified" in problems and "SOURCE.md still has TODO lines" in problems

    width, height = truth["size"]
    for second in truth["seconds"]:
        t = second["t"]
        label.edit(directory, t, drop=tuple(range(len(second["people"]))))
        # one person standing in the queue zone, one seated at the desk, one cut by the right edge
        label.edit(directory, t, add=(f"{0.3 * width},{0.5 * height},{0.36 * width},{0.8 * height}",
                                      f"{0.22 * width},{0.25 * height},{0.3 * width},{0.45 * height}",
                                      f"{0.95 * width},{0.4 * height},{width},{0.9 * height},partial"))
        second = label.edit(directory, t, feet=(f"0,{0.26 * width},{0.55 * height}",), verified=True)
        assert second["queues"] == {"q1": 1} and second["desks"] == {"w1": True}
        assert [p["partial"] for p in second["people"]] == [False, False, True]
        assert all("conf" not in p for p in second["people"])
    frame = _image(label.render(directory, 1, tmp_path / "frame.png"))
    assert frame.shape == (720, 1280, 3)  # 640x360 drawn twice as large for reading
    sheet = _image(label.render(directory, 0, tmp_path / "sheet.png", sheet=3))
    assert sheet.shape == (720, 1280, 3)  # three seconds and a blank tile, two to a row, at the video's size

    source = directory / "SOURCE.md"
    text = source.read_text(encoding="utf-8")
    for key, value in (("Repository", "here"), ("Path", "eval/clips/ci-still-officers/video.mp4"),
                       ("Commit", "0" * 40), ("Licence", "CC0-1.0"), ("Attribution", "none"),
                       ("Labels", "a test")):
        text = text.replace(f"- {key}: TODO", f"- {key}: {value}")
    source.write_text(text, encoding="utf-8")
    assert label.check(directory) == []
    assert label.read_truth(directory)["labelled_by"] == "human-verified"

    # moving a zone leaves the counts stale until `counts` recomputes them
    label.set_zone(directory, "q1", "queue", ["0.5,0.6", "0.64,0.6", "0.64,1", "0.5,1"])
    assert any("queues {'q1': 1}" in p for p in label.check(directory))
    label.counts(directory)
    assert label.check(directory) == []
    assert json.loads((directory / "truth.json").read_text())["seconds"][0]["queues"] == {"q1": 0}


def test_edit_rejects_what_it_cannot_apply(imported: Path, tmp_path: Path) -> None:
    directory = tmp_path / "real-test"
    shutil.copytree(imported, directory)
    with pytest.raises(label.LabelError, match="no labelled second 0"):
        label.edit(directory, 0, drop=(0,))
    with pytest.raises(label.LabelError, match="zone kind"):
        label.set_zone(directory, "d", "desk", ["0,0", "1,0", "1,1"])
    with pytest.raises(label.LabelError, match="real clip ids"):
        label.import_video(SYNTHETIC / "video.mp4", "lobby", root=tmp_path)


def _image(path: Path) -> np.ndarray:
    image = cv2.imread(str(path))
    assert image is not None, path
    return image
