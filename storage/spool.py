"""A bounded, durable queue of samples on local disk, for while the database cannot take them.

Each sample writer holds one spool, a numbered slot `<root>/0`, `<root>/1`, ... under the spool
root (by default `<data dir>/spool`), so that several writers on one machine (workers) never share
one. A slot names the database its samples are for in a file `target` (the connection parameters
without the password); a slot left with samples by a process that is gone is claimed by the next
writer of the same database, which replays it (`open_spools`), and left alone by any other.

Layout of a slot: segment files `000000000001.jsonl`, `000000000002.jsonl`, ... (the oldest has
the smallest number), `target`, and a `.lock` that one process at a time holds (flock). A segment
is JSON lines: a header `{"hallwatch_spool": 1}`, then one object per sample, its type tag and its fields:

    {"type": "zone", "ts": "2026-11-26T09:00:00+00:00", "hall_id": "h1", "zone_id": "q1", ...}

Datetimes are ISO 8601 strings with their UTC offset (naive ones stay naive); `null` is None.
Segments are only appended to; each is fsynced when it is closed. When the spool would grow past
`max_bytes`, its oldest segment is deleted with a warning naming how many samples were lost. What
is left when a process stops is read again by the next one; a line torn by a crash is skipped and
counted as lost.

Not thread-safe: one thread (the sample writer's) owns a spool."""

from __future__ import annotations

import fcntl
import itertools
import json
import logging
import os
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from pathlib import Path
from typing import IO, Any, get_type_hints

from core.errors import DatabaseError
from pipeline.rows import (
    DeskSample,
    EventCloseSample,
    EventOpenSample,
    HealthSample,
    OfflineSpellSample,
    Sample,
    WaitSample,
    ZoneSample,
)

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
_HEADER = json.dumps({"hallwatch_spool": FORMAT_VERSION}).encode() + b"\n"
_SUFFIX = ".jsonl"

_TAGS: dict[type, str] = {DeskSample: "desk", ZoneSample: "zone", HealthSample: "health", OfflineSpellSample: "spell",
                          EventOpenSample: "event_open", EventCloseSample: "event_close", WaitSample: "wait"}
_KINDS: dict[str, type] = {tag: kind for kind, tag in _TAGS.items()}
_DATETIME_FIELDS: dict[type, frozenset[str]] = {
    kind: frozenset(name for name, hint in get_type_hints(kind).items() if hint in (datetime, datetime | None))
    for kind in _TAGS
}
_FIELD_NAMES: dict[type, tuple[str, ...]] = {kind: tuple(f.name for f in fields(kind)) for kind in _TAGS}


class SpoolBusy(DatabaseError):
    """Another sample writer holds this spool."""


def open_spools(root: Path, *, target: str = "", max_bytes: int = 1 << 30) -> tuple[Spool, list[Spool]]:
    """This writer's spool (the lowest free slot under `root` that holds no samples for another
    target) and the spools that writers of the same `target` left with samples in, to be replayed
    and then closed."""
    root.mkdir(parents=True, exist_ok=True)
    highest = max((int(p.name) for p in root.iterdir() if p.name.isdigit() and p.is_dir()), default=-1)
    own: Spool | None = None
    left: list[Spool] = []
    for slot in itertools.count():
        if own is not None and slot > highest:
            break
        try:
            spool = Spool(root / str(slot), max_bytes=max_bytes)
        except SpoolBusy:
            continue
        if spool.pending and spool.target != target:
            log.info("spool %s holds %d samples for another database (%s): left for a writer of that one",
                     spool.directory, spool.pending, spool.target or "unknown")
            spool.close()
        elif own is None:
            spool.target = target
            own = spool
        elif spool.pending:
            left.append(spool)
        else:
            spool.close()
    assert own is not None
    return own, left


def encode_sample(sample: Sample) -> bytes:
    """One spool line (with its newline)."""
    kind = type(sample)
    record: dict[str, Any] = {"type": _TAGS[kind]}
    for name in _FIELD_NAMES[kind]:
        value = getattr(sample, name)
        record[name] = value.isoformat() if isinstance(value, datetime) else value
    return json.dumps(record, separators=(",", ":")).encode() + b"\n"


def decode_sample(line: bytes | str) -> Sample:
    """The sample of one spool line; ValueError when the line is not one."""
    try:
        record = json.loads(line)
        kind = _KINDS[record.pop("type")]
        for name in _DATETIME_FIELDS[kind]:
            if record.get(name) is not None:
                record[name] = datetime.fromisoformat(record[name])
        sample: Sample = kind(**record)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"not a spooled sample: {exc!r}") from None
    return sample


@dataclass
class _Segment:
    seq: int
    path: Path
    nbytes: int
    samples: int
    file: IO[bytes] | None = field(default=None, repr=False)  # open while it is the one written to


@dataclass(frozen=True)
class SpoolSegment:
    """The samples of the oldest closed segment, for `Spool.remove()` once they are stored."""

    seq: int
    path: Path
    samples: list[Sample]
    unreadable: int  # lines that were not samples (a torn write), already counted as lost


class Spool:
    def __init__(self, directory: Path, *, max_bytes: int = 1 << 30, segment_bytes: int = 4 << 20) -> None:
        if max_bytes < 4096:
            raise ValueError(f"max_bytes must be at least 4096, not {max_bytes}")
        if segment_bytes < 1024:
            raise ValueError(f"segment_bytes must be at least 1024, not {segment_bytes}")
        self.directory = directory
        self.max_bytes = max_bytes
        # Small enough that deleting the oldest segment always makes room.
        self.segment_bytes = min(segment_bytes, max_bytes // 4)
        self.dropped = 0  # samples lost: deleted when full, or unreadable
        # Kept as plain counters so that other threads may read them while the owner writes.
        self.pending = 0  # samples waiting in the spool
        self.nbytes = 0
        self._closed: deque[_Segment] = deque()
        self._current: _Segment | None = None
        self._next_seq = 1
        self._full_warned_at: float | None = None  # monotonic; losses are logged once a minute
        self._lock_file = self._take_lock()
        try:
            self._load()
        except BaseException:
            self._lock_file.close()
            raise

    # -- what is in it

    @property
    def target(self) -> str:
        """The database the samples are for ("" when not named)."""
        try:
            return (self.directory / "target").read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return ""

    @target.setter
    def target(self, value: str) -> None:
        if value != self.target:
            temporary = self.directory / "target.tmp"
            temporary.write_text(value + "\n", encoding="utf-8")
            temporary.replace(self.directory / "target")

    @property
    def segment_files(self) -> list[Path]:
        """The segment files now on disk, oldest first."""
        return sorted(p for p in self.directory.glob(f"*{_SUFFIX}") if p.stem.isdigit())

    # -- writing

    def append(self, samples: Sequence[Sample]) -> None:
        """Add samples after everything already spooled (flushed to the OS, fsynced on close)."""
        lines = [encode_sample(s) for s in samples]
        start = 0
        while start < len(lines):
            current = self._current
            if current is None or current.nbytes >= self.segment_bytes:
                current = self._open_segment()
            room = self.segment_bytes - current.nbytes
            end, size = start, 0
            while end < len(lines) and (end == start or size + len(lines[end]) <= room):
                size += len(lines[end])
                end += 1
            self._make_room(size)
            assert current.file is not None
            current.file.write(b"".join(lines[start:end]))
            current.file.flush()
            current.nbytes += size
            current.samples += end - start
            self.nbytes += size
            self.pending += end - start
            start = end

    def seal(self) -> None:
        """Close the segment being written (fsync), so that it can be read back."""
        current = self._current
        if current is None:
            return
        self._current = None
        assert current.file is not None
        current.file.flush()
        os.fsync(current.file.fileno())
        current.file.close()
        current.file = None
        self._fsync_directory()
        if current.samples:
            self._closed.append(current)
        else:
            current.path.unlink(missing_ok=True)
            self.nbytes -= current.nbytes

    def close(self) -> None:
        try:
            self.seal()
        finally:
            self._lock_file.close()

    # -- reading back

    def oldest(self) -> SpoolSegment | None:
        """The oldest segment's samples (sealing the current one if it is all there is); None
        when the spool is empty. Unreadable segments are set aside as `*.bad`, with a warning."""
        while True:
            if not self._closed:
                if self._current is None or not self._current.samples:
                    return None
                self.seal()
                continue
            segment = self._closed[0]
            try:
                return self._read(segment)
            except (OSError, ValueError) as exc:
                self._forget(self._closed.popleft())
                self.dropped += segment.samples
                bad = segment.path.with_suffix(".bad")
                try:
                    segment.path.rename(bad)
                except OSError:
                    bad = segment.path
                log.warning("spool segment %s cannot be read (%s): set aside as %s, %d samples lost",
                            segment.path, exc, bad.name, segment.samples)

    def remove(self, segment: SpoolSegment) -> None:
        """Delete a segment returned by `oldest()` whose samples are stored."""
        if not self._closed or self._closed[0].seq != segment.seq:
            raise ValueError(f"segment {segment.path.name} is not the oldest one")
        self._forget(self._closed.popleft())
        segment.path.unlink(missing_ok=True)

    # -- internals

    def _take_lock(self) -> IO[bytes]:
        self.directory.mkdir(parents=True, exist_ok=True)
        lock_file = (self.directory / ".lock").open("ab")
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock_file.close()
            raise SpoolBusy(f"the spool {self.directory} is in use by another sample writer") from None
        return lock_file

    def _forget(self, segment: _Segment) -> None:
        self.pending -= segment.samples
        self.nbytes -= segment.nbytes

    def _load(self) -> None:
        numbered = sorted((int(p.stem), p) for p in self.directory.iterdir() if p.stem.isdigit())
        self._next_seq = numbered[-1][0] + 1 if numbered else 1
        for seq, path in numbered:
            if path.suffix != _SUFFIX:
                continue
            data = path.read_bytes()
            samples = max(0, data.count(b"\n") - 1)  # minus the header; a torn last line is not counted
            if samples == 0:
                if len(data) > len(_HEADER):
                    self.dropped += 1
                    log.warning("spool segment %s: skipped 1 unreadable line (a write torn by a crash)", path.name)
                path.unlink()
                continue
            self._closed.append(_Segment(seq, path, len(data), samples))
            self.pending += samples
            self.nbytes += len(data)
        if self._closed:
            log.info("spool %s holds %d samples in %d segments from an earlier run",
                     self.directory, self.pending, len(self._closed))

    def _open_segment(self) -> _Segment:
        self.seal()
        seq, self._next_seq = self._next_seq, self._next_seq + 1
        path = self.directory / f"{seq:012d}{_SUFFIX}"
        handle = path.open("xb")
        handle.write(_HEADER)
        handle.flush()
        self._current = _Segment(seq, path, len(_HEADER), 0, handle)
        self.nbytes += len(_HEADER)
        return self._current

    def _make_room(self, incoming: int) -> None:
        while self._closed and self.nbytes + incoming > self.max_bytes:
            oldest = self._closed.popleft()
            self._forget(oldest)
            oldest.path.unlink(missing_ok=True)
            self.dropped += oldest.samples
            now = time.monotonic()
            if self._full_warned_at is None or now - self._full_warned_at >= 60.0:
                self._full_warned_at = now
                log.warning("spool %s is full (limit %d bytes): deleted its oldest segment, losing %d samples "
                            "(%d samples lost so far; further losses are logged once a minute)",
                            self.directory, self.max_bytes, oldest.samples, self.dropped)
            else:
                log.debug("spool %s is full: deleted segment %s, losing %d samples (%d so far)",
                          self.directory, oldest.path.name, oldest.samples, self.dropped)

    def _read(self, segment: _Segment) -> SpoolSegment:
        lines = segment.path.read_bytes().split(b"\n")
        header = json.loads(lines[0]) if lines[0] else None
        if not isinstance(header, dict) or header.get("hallwatch_spool") != FORMAT_VERSION:
            raise ValueError(f"unknown header {lines[0][:80]!r}")
        samples: list[Sample] = []
        unreadable = 0
        for line in lines[1:]:
            if not line:
                continue
            try:
                samples.append(decode_sample(line))
            except ValueError:
                unreadable += 1
        if unreadable:
            self.dropped += unreadable
            log.warning("spool segment %s: skipped %d unreadable lines (a write torn by a crash)",
                        segment.path.name, unreadable)
        return SpoolSegment(segment.seq, segment.path, samples, unreadable)

    def _fsync_directory(self) -> None:
        fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
