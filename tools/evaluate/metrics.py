"""Scores of analysed clips against their truth: pure functions over per-second sequences.

Presence is compared window by window at every second, except the seconds right after a true change
in which the state machine is allowed to lag by design (its hysteresis plus one second of frame
timing): see `lag_skips`. Counts are compared at every second. Waiting times are compared per
closed minute: the analyzer's p50 dwell against the p50 of the dwells of the people who truly left
the queue in that minute."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

TIMING_TOLERANCE_S = 1  # frames are taken once a second: a change can show one frame late


def lag_skips(truth: Sequence[bool], *, present_after_s: float, absent_after_s: float,
              tolerance_s: int = TIMING_TOLERANCE_S, times: Sequence[int] | None = None) -> list[bool]:
    """For each labelled second, whether it lies in the allowed lag after a true change: the seconds
    c .. c + ceil(lag) + tolerance_s - 1, where lag is `absent_after_s` for a change to absent and
    `present_after_s` for a change to present. `times` are the labelled seconds (default 0, 1, 2,
    ...); between two labelled seconds a change is taken to happen at the earliest, one second after
    the earlier one."""
    times = list(range(len(truth))) if times is None else list(times)
    if len(times) != len(truth):
        raise ValueError(f"lengths differ: truth {len(truth)}, times {len(times)}")
    skip = [False] * len(truth)
    for i in range(1, len(truth)):
        if truth[i] != truth[i - 1]:
            lag = present_after_s if truth[i] else absent_after_s
            end = times[i - 1] + 1 + math.ceil(lag) + tolerance_s
            for j in range(i, len(truth)):
                if times[j] >= end:
                    break
                skip[j] = True
    return skip


@dataclass(frozen=True)
class PresenceScore:
    correct: int
    seconds: int  # window-seconds compared
    skipped: int  # window-seconds in an allowed lag
    false_absent_episodes: int  # runs of "absent" while the officer is there
    false_absent_s: int
    false_present_s: int
    unknown_s: int  # "unknown" or no analysed frame while the camera was fine


def presence_score(truth: Sequence[bool], predicted: Sequence[str | None], skip: Sequence[bool]) -> PresenceScore:
    """`predicted[t]` is the analyzer's state at second t ('present', 'absent', 'unknown') or None
    when no frame was analysed; anything but the true state is wrong."""
    if not len(truth) == len(predicted) == len(skip):
        raise ValueError(f"lengths differ: truth {len(truth)}, predicted {len(predicted)}, skip {len(skip)}")
    correct = compared = false_absent = false_present = unknown = episodes = 0
    in_episode = False
    for present, state, skipped in zip(truth, predicted, skip, strict=True):
        if skipped:
            in_episode = False
            continue
        compared += 1
        wrong_absent = present and state == "absent"
        if state == ("present" if present else "absent"):
            correct += 1
        elif wrong_absent:
            false_absent += 1
        elif state == "present":
            false_present += 1
        else:
            unknown += 1
        if wrong_absent and not in_episode:
            episodes += 1
        in_episode = wrong_absent
    return PresenceScore(correct=correct, seconds=compared, skipped=len(truth) - compared,
                         false_absent_episodes=episodes, false_absent_s=false_absent,
                         false_present_s=false_present, unknown_s=unknown)


def absent_flicker_episodes(truth: Sequence[bool], predicted: Sequence[str | None], skip: Sequence[bool]) -> int:
    """Runs of seconds where the state is 'absent' although the officer is at the desk."""
    return presence_score(truth, predicted, skip).false_absent_episodes


def count_errors(truth: Sequence[int], predicted: Sequence[int | None]) -> list[int]:
    """Absolute count error per second; a second without an analysed frame counts as 0 people."""
    if len(truth) != len(predicted):
        raise ValueError(f"lengths differ: truth {len(truth)}, predicted {len(predicted)}")
    return [abs(t - (p or 0)) for t, p in zip(truth, predicted, strict=True)]


def mean(values: Sequence[float]) -> float | None:
    return float(sum(values) / len(values)) if values else None


@dataclass(frozen=True)
class MinuteWait:
    p50_s: float  # median dwell of the people who left the queue in this minute
    mean_s: float
    people: int


def minute_waits(visits: Iterable[tuple[float, float]], *, until_s: float) -> dict[int, MinuteWait]:
    """Minute index (minute k covers [60k, 60k + 60) s) -> dwell of the people who left in it, from
    (enter_s, exit_s) pairs; only minutes that end by `until_s` (complete minutes)."""
    by_minute: dict[int, list[float]] = {}
    for enter, exit_ in visits:
        minute = int(exit_ // 60)
        if (minute + 1) * 60 <= until_s + 1e-9:
            by_minute.setdefault(minute, []).append(exit_ - enter)
    return {m: MinuteWait(p50_s=float(np.percentile(d, 50)), mean_s=float(np.mean(d)), people=len(d))
            for m, d in sorted(by_minute.items())}


@dataclass(frozen=True)
class PredictedWait:
    p50_s: float | None
    littles_s: float | None


@dataclass(frozen=True)
class WaitScore:
    p50_errors: list[float]  # |analyzer p50 - true p50| per minute both have
    littles_errors: list[float]  # |Little's-law estimate - true mean dwell| per minute both have
    minutes_true: int  # minutes in which someone left the queue
    minutes_missed: int  # of those, minutes the analyzer gave no p50 for


def wait_score(truth: dict[int, MinuteWait], predicted: dict[int, PredictedWait]) -> WaitScore:
    """Compare per-minute waits of one queue zone. Little's law (queue length / service rate) estimates
    the mean wait, so it is compared with the true mean dwell."""
    p50_errors: list[float] = []
    littles_errors: list[float] = []
    missed = 0
    for minute, true in truth.items():
        guess = predicted.get(minute)
        if guess is None or guess.p50_s is None:
            missed += 1
        else:
            p50_errors.append(abs(guess.p50_s - true.p50_s))
        if guess is not None and guess.littles_s is not None and math.isfinite(guess.littles_s):
            littles_errors.append(abs(guess.littles_s - true.mean_s))
    return WaitScore(p50_errors=p50_errors, littles_errors=littles_errors, minutes_true=len(truth),
                     minutes_missed=missed)
