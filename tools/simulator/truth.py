"""Ground-truth files: one JSON line per change of what a camera shows.

`TRUTH_DIR/{hall_id}__{camera_id}.jsonl`, each line
`{"ts": <UTC unix seconds>, "hall": ..., "camera": ..., "desks": {...}, "queues": {...},
"self_service": {...}}`, where ts is the wall-clock time at which the first frame showing the new
state was pushed. Lines are flushed as they are written, so a reader may follow the file live.
"""

from __future__ import annotations

import bisect
import json
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from tools.simulator.errors import SimulatorError
from tools.simulator.script import CameraTruth

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TruthChange:
    ts: float
    hall: str
    camera: str
    truth: CameraTruth


def truth_path(truth_dir: Path, hall_id: str, camera_id: str) -> Path:
    return Path(truth_dir) / f"{hall_id}__{camera_id}.jsonl"


class TruthWriter:
    """Writes one camera's truth file, replacing any file left by an earlier run."""

    def __init__(self, truth_dir: Path, hall_id: str, camera_id: str):
        self.hall_id = hall_id
        self.camera_id = camera_id
        self.path = truth_path(truth_dir, hall_id, camera_id)
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file: TextIO | None = self.path.open("w", encoding="utf-8")
        except OSError as exc:
            raise SimulatorError(f"cannot write ground truth to {self.path}: {exc.strerror}") from None

    def write(self, ts: float, truth: CameraTruth) -> None:
        line = json.dumps({"ts": ts, "hall": self.hall_id, "camera": self.camera_id, **truth.to_json()})
        with self._lock:
            if self._file is None:
                raise SimulatorError(f"truth file {self.path} is closed")
            self._file.write(line + "\n")
            self._file.flush()

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None


def parse_truth_line(line: str) -> TruthChange:
    raw: dict[str, Any] = json.loads(line)
    return TruthChange(
        ts=float(raw["ts"]),
        hall=str(raw["hall"]),
        camera=str(raw["camera"]),
        truth=CameraTruth(
            desks={str(k): bool(v) for k, v in raw["desks"].items()},
            queues={str(k): int(v) for k, v in raw["queues"].items()},
            self_service={str(k): int(v) for k, v in raw["self_service"].items()},
        ),
    )


def load_truth(path: str | Path) -> list[TruthChange]:
    """Every complete line of a truth file, in order. A last line still being written (no newline
    yet) is left out."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SimulatorError(f"cannot read ground truth {path}: {exc.strerror}") from None
    changes: list[TruthChange] = []
    for number, line in enumerate(text.split("\n")[:-1], start=1):
        if not line.strip():
            continue
        try:
            changes.append(parse_truth_line(line))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise SimulatorError(f"{path}:{number}: not a truth line: {exc}") from None
    return changes


def truth_at(changes: list[TruthChange], ts: float) -> CameraTruth | None:
    """What the camera showed at wall-clock time ts; None before the first change."""
    index = bisect.bisect_right([c.ts for c in changes], ts)
    return changes[index - 1].truth if index else None
