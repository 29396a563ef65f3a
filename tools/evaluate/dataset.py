"""The evaluation dataset on disk (format: eval/README.md).

A dataset is a directory with `dataset.yaml` (clip ids and named subsets) and `clips/<id>/`, each
holding the video, the site file whose camera the truth applies to, and `truth.json`. A single clip
directory is a dataset of one clip."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from core.errors import HallwatchError

MANIFEST = "dataset.yaml"
TRUTH = "truth.json"


class DatasetError(HallwatchError):
    """The evaluation dataset is missing, malformed or does not match its videos."""


@dataclass(frozen=True)
class Second:
    """What the frame at second `t` of the clip shows."""

    t: int
    desks: dict[str, bool]  # window id -> officer at the desk
    queues: dict[str, int]  # queue zone id -> people waiting
    self_service: dict[str, int]  # self-service zone id -> people
    people: int | None = None  # people labelled in the whole frame (real clips), None when not labelled


@dataclass(frozen=True)
class QueueVisit:
    """One person's stay in a queue zone: from the first frame their foot point is inside to the
    first frame it is outside again."""

    zone: str
    enter_s: float
    exit_s: float
    censored: bool = False  # already queueing when the clip starts: the true dwell is unknown

    @property
    def dwell_s(self) -> float:
        return self.exit_s - self.enter_s


@dataclass(frozen=True)
class Clip:
    id: str
    directory: Path
    video: Path
    site: Path
    camera: str  # HALL/CAMERA in the site file
    duration_s: int
    tags: tuple[str, ...]
    still_officers: tuple[str, ...]  # windows whose officer sits still whenever present
    seconds: tuple[Second, ...]  # every second of a synthetic clip; the labelled seconds of a real one
    queue_visits: tuple[QueueVisit, ...]

    @property
    def real(self) -> bool:
        """Real footage labelled by hand (tag `real`), as opposed to a clip composited from photographs."""
        return "real" in self.tags


def load_dataset(path: str | Path, *, subset: str | None = None, only: list[str] | None = None) -> list[Clip]:
    """The clips of the dataset at `path` (a dataset directory or one clip directory), restricted to a
    named subset and/or to the clip ids in `only`."""
    root = Path(path)
    if (root / TRUTH).is_file():
        clips = [load_clip(root)]
    elif (root / MANIFEST).is_file():
        manifest = _read_yaml(root / MANIFEST)
        ids = [str(entry["id"]) for entry in _list(manifest, "clips", root / MANIFEST)]
        if subset is not None:
            subsets = manifest.get("subsets") or {}
            if subset not in subsets:
                raise DatasetError(f"{root / MANIFEST}: no subset {subset!r}; there are {sorted(subsets)}")
            ids = [str(i) for i in subsets[subset]]
        clips = [load_clip(root / "clips" / clip_id) for clip_id in ids]
    else:
        raise DatasetError(f"{root}: not an evaluation dataset (no {MANIFEST}) nor a clip (no {TRUTH})")
    if only:
        unknown = sorted(set(only) - {c.id for c in clips})
        if unknown:
            raise DatasetError(f"{root}: no clip {', '.join(unknown)} in {subset or 'the dataset'}")
        clips = [c for c in clips if c.id in only]
    if not clips:
        raise DatasetError(f"{root}: no clips to evaluate")
    return clips


def load_clip(directory: Path) -> Clip:
    path = directory / TRUTH
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise DatasetError(f"{path}: not JSON: {exc}") from None
    try:
        seconds = tuple(
            Second(t=int(s["t"]), desks={str(k): bool(v) for k, v in s["desks"].items()},
                   queues={str(k): int(v) for k, v in s["queues"].items()},
                   self_service={str(k): int(v) for k, v in s["self_service"].items()},
                   people=len(s["people"]) if "people" in s else None)
            for s in raw["seconds"] if s.get("verified", True) is not False
        )
        visits = tuple(QueueVisit(zone=str(v["zone"]), enter_s=float(v["enter_s"]), exit_s=float(v["exit_s"]),
                                  censored=bool(v.get("censored", False)))
                       for v in raw.get("queue_visits", []))
        clip = Clip(
            id=str(raw["clip"]), directory=directory, video=directory / str(raw["video"]),
            site=directory / str(raw.get("site", "site.yaml")), camera=str(raw["camera"]),
            duration_s=int(raw["duration_s"]), tags=tuple(str(t) for t in raw.get("tags", [])),
            still_officers=tuple(str(w) for w in raw.get("still_officers", [])),
            seconds=seconds, queue_visits=visits,
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise DatasetError(f"{path}: malformed truth: {type(exc).__name__}: {exc}") from None
    times = [s.t for s in seconds]
    ordered = all(a < b for a, b in zip(times, times[1:], strict=False))
    if clip.real and not (ordered and all(0 <= t <= clip.duration_s for t in times)):
        raise DatasetError(f"{path}: `seconds` must list labelled seconds in order, within the clip")
    if not clip.real and times != list(range(len(seconds))):
        raise DatasetError(f"{path}: `seconds` must list t = 0, 1, 2, ... in order")
    for needed in (clip.video, clip.site):
        if not needed.is_file():
            raise DatasetError(f"{path}: {needed.name} is missing")
    return clip


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise DatasetError(f"{path}: cannot read: {exc}") from None
    if not isinstance(raw, dict):
        raise DatasetError(f"{path}: expected a mapping")
    return raw


def _list(raw: dict[str, Any], key: str, path: Path) -> list[dict[str, Any]]:
    value = raw.get(key)
    if not isinstance(value, list) or not all(isinstance(v, dict) and "id" in v for v in value):
        raise DatasetError(f"{path}: `{key}` must be a list of {{id: ...}} entries")
    return value
