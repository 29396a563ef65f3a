"""One RTSP camera read over TCP in its own thread, under a watchdog.

- Bounded waits: FFmpeg's socket timeout and PyAV's interrupt callback (`timeout=(open, read)`)
  bound every call into FFmpeg, so a frozen server costs at most `read_timeout_s` per read.
- Reconnects with exponential backoff and jitter; a camera that refuses the credentials is retried
  at the slowest pace only (cameras lock accounts after repeated failures).
- Latest-frame semantics: only the newest decoded frame is kept, older ones are simply replaced,
  and pixels are converted to BGR only when a consumer asks for the frame.
- Decoding only what analysis needs: the detection sub-stream when the camera has one (the caller
  passes its URL), keyframes only when they come often enough, and otherwise from each keyframe only
  up to the frames analysis takes (see `ingest.decode`); one decoder thread per camera by default.
- Capture time from the stream's own timestamps, placed on this machine's clock (`StreamClock`): a
  frame decoded late (in a burst, or by a busy machine) keeps the time it was taken.
- The watchdog, one thread for all readers of the process, marks a stream `stalled` when no frame
  has been decoded for `stall_after_s` (or two of the longest keyframe intervals seen, while frames
  come only with keyframes or once per analysis) while it is open; the reader then closes and
  reopens it (at once when packets arrive that never decode, or when its bounded read times out
  when nothing arrives at all). A reader thread stuck inside FFmpeg beyond every bound is abandoned: a fresh
  thread takes over the camera and the stuck one closes its own handle and exits if it ever
  returns (closing a handle from another thread while FFmpeg uses it would crash the process).
- Health: state, rates, counters and offline spells (periods without video, with start and end).
"""

from __future__ import annotations

import logging
import random
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import av
import av.error
import numpy as np

from core.config import CameraConfig, IngestConfig
from core.errors import StreamError, StreamStalled
from core.redact import redact_text, redact_url
from ingest.decode import StreamClock, StreamDecoder, packet_time
from ingest.health import CameraHealth, CameraState, DecodeMode, OfflineSpell, StateChange

log = logging.getLogger(__name__)

RATE_WINDOW_S = 5.0        # fps is measured over this many seconds
RATE_SAMPLES = 256         # timestamps kept for the rates (25 fps x 5 s fits)
SPELL_HISTORY = 256        # finished offline spells kept until take_spells()
TRANSITION_HISTORY = 256   # state changes kept until take_transitions()
WATCHDOG_TICK_S = 0.2
STUCK_GRACE_S = 2.0        # beyond every FFmpeg bound, before a reader thread counts as stuck
MAX_ABANDONED = 2          # stuck threads per camera that may still be alive before no new one starts
TIMEOUT_SHARE = 0.9        # an "invalid data" failure after this share of the socket timeout was a timeout


@dataclass(frozen=True)
class Frame:
    image: np.ndarray  # HxWx3 uint8 BGR
    ts: float          # capture time, unix seconds: see RawFrame.ts
    seq: int           # increases by one per decoded frame
    lag_s: float = 0.0  # how far behind live it arrived: see RawFrame.lag_s

    @property
    def size(self) -> tuple[int, int]:
        return self.image.shape[1], self.image.shape[0]


_MODE_WORDS = {DecodeMode.full: "every frame", DecodeMode.keyframes: "keyframes only",
               DecodeMode.sparse: "up to the analysed frames"}

_LUMA_FORMATS = frozenset({"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "nv12", "nv21",
                           "gray"})


@dataclass(frozen=True)
class RawFrame:
    """The newest frame as decoded, before any colour conversion: enough to tell whether it changed
    (`luma`) without paying for BGR; `CameraReader.convert` makes the BGR `Frame`."""

    frame: av.VideoFrame
    # Capture time, unix seconds, from the stream's own clock: the frame's timestamp placed on this
    # machine's clock where the session's earliest-arriving packets put it (see `StreamClock`), so
    # neither the decoder's schedule (sparse decoding decodes a GOP's frames in a burst) nor a busy
    # machine moves it. Arrival time when the stream has no timestamps.
    ts: float
    seq: int
    # Seconds from capture to the frame being ready here: transport, reordering and decoding while
    # the reader keeps up with the camera, growing when it falls behind (a backlog in the socket).
    lag_s: float = 0.0

    @property
    def size(self) -> tuple[int, int]:
        return self.frame.width, self.frame.height

    def luma(self, step: int = 1) -> np.ndarray:
        """The brightness plane (HxW uint8), every `step`-th pixel each way; a view when it can be."""
        frame = self.frame
        if frame.format.name in _LUMA_FORMATS:
            plane = frame.planes[0]
            rows = np.frombuffer(memoryview(plane), dtype=np.uint8).reshape(-1, plane.line_size)
            return rows[: frame.height : step, : frame.width : step]
        return frame.to_ndarray(format="gray")[::step, ::step]


class NoVideoStream(StreamError):
    """The stream opened but carries no video."""


def open_options(config: IngestConfig) -> dict[str, str]:
    """FFmpeg options for a quick, bounded RTSP open (see FACTS: probing costs seconds otherwise)."""
    return {
        "rtsp_transport": "tcp",
        "timeout": str(int(config.read_timeout_s * 1_000_000)),  # socket I/O timeout, microseconds
        "probesize": "32768",
        "analyzeduration": "0",
        "fflags": "nobuffer",
    }


def classify_error(exc: BaseException, *, elapsed_s: float = 0.0, socket_timeout_s: float | None = None) -> CameraState:
    """The camera state a failure means. `stalled` stands for "timed out waiting for data"; the
    reader turns it into `offline` when it happens while connecting to a camera not known to hang
    (an unreachable host times out too). `elapsed_s` is how long the failed call waited: FFmpeg's
    RTSP demuxer reports a socket timeout during the handshake as invalid data."""
    if isinstance(exc, av.error.HTTPUnauthorizedError | av.error.HTTPForbiddenError | PermissionError):
        return CameraState.unauthorized
    if isinstance(exc, StreamStalled | av.error.ExitError | TimeoutError):
        return CameraState.stalled
    if isinstance(exc, av.error.InvalidDataError) and socket_timeout_s is not None \
            and elapsed_s >= TIMEOUT_SHARE * socket_timeout_s:
        return CameraState.stalled
    if isinstance(exc, av.error.InvalidDataError | av.error.PatchWelcomeError | av.error.DecoderNotFoundError
                  | NoVideoStream):
        return CameraState.bad_stream
    # The error's own words, not its file name: a URL with port 55401 is no "401" answer.
    text = str(getattr(exc, "strerror", None) or exc).lower()
    if re.search(r"\b401\b", text) or "unauthorized" in text:
        return CameraState.unauthorized
    return CameraState.offline


def describe_error(exc: BaseException, state: CameraState, *, opening: bool, elapsed_s: float) -> str:
    """A short message for health and logs, credentials masked."""
    if state is CameraState.stalled and not isinstance(exc, StreamStalled):
        return f"{'no answer' if opening else 'no data'} for {elapsed_s:.1f} s (timed out)"
    return redact_text(str(exc)) or type(exc).__name__


@dataclass
class _Worker:
    """One reader thread. When the watchdog abandons a stuck thread, a new worker takes over and
    the old one may no longer touch the reader's state."""

    generation: int
    thread: threading.Thread = field(init=False)
    beat: float | None = None          # monotonic time the thread last came back from FFmpeg; None when idle
    connected_at: float | None = None  # monotonic time the current stream opened; None when not open
    clock: StreamClock = field(default_factory=StreamClock)  # this session's stream time


class CameraReader:
    def __init__(
        self, name: str, url: str, config: IngestConfig, *, analysis_fps: float | None = None,
        clock: Callable[[], float] = time.time,
    ):
        """`analysis_fps`: how often the consumer takes a frame; it allows keyframe-only decoding
        (see `ingest.decode`). None: the consumer may want every frame, so every frame is decoded."""
        if analysis_fps is not None and not analysis_fps > 0:
            raise ValueError(f"analysis_fps must be positive, not {analysis_fps}")
        self.name = name
        self._url = url
        self._config = config
        self._analysis_fps = analysis_fps
        self._clock = clock
        self._stop = threading.Event()
        self._lock = threading.Lock()
        # the newest frame
        self._latest: RawFrame | None = None
        self._converted: Frame | None = None
        self._seq = 0
        # health
        self._state = CameraState.connecting
        self._error: str | None = None
        self._reconnects = 0
        self._stalls = 0
        self._received_times: deque[float] = deque(maxlen=RATE_SAMPLES)
        self._decoded_times: deque[float] = deque(maxlen=RATE_SAMPLES)
        self._frames_received = 0
        self._frames_decoded = 0
        self._decode_errors = 0
        self._decode_mode = DecodeMode.full
        self._keyframe_interval: float | None = None
        self._keyframe_longest: float | None = None  # the longest recent keyframe interval, across sessions
        self._last_frame_at: float | None = None
        self._last_frame_mono: float | None = None
        self._started_at: float | None = None
        self._offline_since: float | None = None
        self._outage_cause: CameraState | None = None
        self._spells: deque[OfflineSpell] = deque(maxlen=SPELL_HISTORY)
        self._transitions: deque[StateChange] = deque(maxlen=TRANSITION_HISTORY)
        self._rejected_packets = 0
        self._corrupt_frames = 0
        self._lag_s = 0.0
        # threads
        self._generation = 0
        self._worker = self._new_worker()
        self._abandoned: list[threading.Thread] = []

    @classmethod
    def for_camera(
        cls, name: str, camera: CameraConfig, config: IngestConfig, *, clock: Callable[[], float] = time.time,
    ) -> CameraReader:
        """A reader of what analysis needs from this camera: its detection sub-stream when it has
        one, decoded no more often than its analysis rate requires."""
        return cls(name, camera.analysis_url, config, analysis_fps=camera.analysis_fps, clock=clock)

    @property
    def safe_url(self) -> str:
        return redact_url(self._url)

    @property
    def analysis_fps(self) -> float | None:
        return self._analysis_fps

    @property
    def stuck_after_s(self) -> float:
        """How long one call into FFmpeg may take before the watchdog gives up on the thread: the
        open and the stream probe are each bounded by the open timeout, a read by the read timeout."""
        config = self._config
        return 2 * config.open_timeout_s + 2 * config.read_timeout_s + STUCK_GRACE_S

    def start(self) -> CameraReader:
        with self._lock:
            self._started_at = self._clock()
            worker = self._worker
        _WATCHDOG.add(self)
        worker.thread.start()
        return self

    def stop(self, timeout_s: float = 5.0) -> None:
        """Ask the reader to stop and wait up to `timeout_s` for its thread; may be called again."""
        self._stop.set()
        _WATCHDOG.remove(self)
        with self._lock:
            thread = self._worker.thread
        if thread.is_alive() and thread is not threading.current_thread():
            thread.join(timeout_s)

    def latest(self, max_age_s: float | None = None) -> Frame | None:
        """The newest frame, or None before the first one (or when it is older than `max_age_s`).
        Conversion to BGR happens here, once per frame, so frames that analysis never looks at are
        never converted."""
        raw = self.latest_raw(max_age_s)
        return None if raw is None else self.convert(raw)

    def latest_raw(self, max_age_s: float | None = None) -> RawFrame | None:
        """The newest frame without colour conversion, or None (as `latest`)."""
        with self._lock:
            raw = self._latest
        if raw is None or (max_age_s is not None and self._clock() - raw.ts > max_age_s):
            return None
        return raw

    def convert(self, raw: RawFrame) -> Frame:
        """The BGR frame of `raw`, converted once however often it is asked for."""
        with self._lock:
            converted = self._converted
        if converted is not None and converted.seq == raw.seq:
            return converted
        converted = Frame(image=raw.frame.to_ndarray(format="bgr24"), ts=raw.ts, seq=raw.seq, lag_s=raw.lag_s)
        with self._lock:
            if self._latest is not None and self._latest.seq == raw.seq:
                self._converted = converted
        return converted

    def health(self) -> CameraHealth:
        now = self._clock()
        self._check_stall(time.monotonic())
        with self._lock:
            last = self._last_frame_at
            return CameraHealth(
                state=self._state, fps=_rate(self._received_times, now), last_frame_at=last,
                reconnects=self._reconnects, error=self._error,
                last_frame_age_s=round(max(0.0, now - last), 3) if last is not None else None,
                offline_since=self._offline_since, decoded_fps=_rate(self._decoded_times, now),
                decode_mode=self._decode_mode, keyframe_interval_s=self._keyframe_interval,
                frames_received=self._frames_received, frames_decoded=self._frames_decoded,
                decode_errors=self._decode_errors, stalls=self._stalls,
                rejected_packets=self._rejected_packets, corrupt_frames=self._corrupt_frames, lag_s=self._lag_s,
            )

    def take_transitions(self) -> list[StateChange]:
        """The state changes since the last call, oldest first (at most TRANSITION_HISTORY; older
        ones are dropped)."""
        with self._lock:
            changes = list(self._transitions)
            self._transitions.clear()
        return changes

    def take_spells(self) -> list[OfflineSpell]:
        """The offline spells that ended since the last call, oldest first (at most SPELL_HISTORY;
        older ones are dropped). The current spell, if any, is `health().offline_since`."""
        with self._lock:
            spells = list(self._spells)
            self._spells.clear()
        return spells

    # -- the reader thread -----------------------------------------------------------------------

    def _new_worker(self) -> _Worker:
        """Under the lock (or before the reader is shared)."""
        self._generation += 1
        worker = _Worker(generation=self._generation)
        worker.thread = threading.Thread(target=self._run, args=(worker,), name=f"ingest:{self.name}", daemon=True)
        return worker

    def _current(self, worker: _Worker) -> bool:
        return worker is self._worker and not self._stop.is_set()

    def _run(self, worker: _Worker) -> None:
        config = self._config
        backoff = config.reconnect_min_s
        while self._current(worker):
            got_frames = self._session(worker)
            if not self._current(worker):
                break
            with self._lock:
                self._reconnects += 1
                state = self._state
            if got_frames:
                backoff = config.reconnect_min_s
            delay = config.reconnect_max_s if state is CameraState.unauthorized else backoff
            backoff = min(backoff * 2, config.reconnect_max_s)
            self._stop.wait(delay * random.uniform(0.8, 1.2))

    def _session(self, worker: _Worker) -> bool:
        """Open the stream and publish frames until it fails; True if any frame was decoded. Never
        raises: a failure is recorded in the health."""
        config = self._config
        container: av.container.InputContainer | None = None
        got_frames = False
        opening = True
        worker.beat = time.monotonic()
        try:
            container = av.open(self._url, options=open_options(config),
                                timeout=(config.open_timeout_s, config.read_timeout_s))
            opening = False
            worker.beat = time.monotonic()
            if not self._current(worker):
                return False
            if not container.streams.video:
                raise NoVideoStream("the stream has no video")
            stream = container.streams.video[0]
            codec = stream.codec_context
            codec.thread_count = config.decoder_threads
            if config.decoder_threads != 1:
                codec.thread_type = "AUTO"  # frames and slices
            decoder = StreamDecoder(codec, analysis_fps=self._analysis_fps,
                                    keyframes_allowed=config.keyframe_decoding,
                                    sparse_allowed=config.sparse_decoding)
            with self._lock:
                worker.connected_at = worker.beat
            worker.clock = StreamClock()
            for packet in container.demux(stream):
                worker.beat = time.monotonic()
                if not self._current(worker):
                    return got_frames
                if packet.size == 0:  # the flush packet at the end
                    continue
                decoded, rejected, corrupt, mode = decoder.decoded, decoder.rejected, decoder.corrupt, decoder.mode
                worker.clock.observe(packet_time(packet), self._clock())
                frames = decoder.decode(packet, worker.beat)
                self._received(worker, decoder, frames, new_decoded=decoder.decoded - decoded,
                               new_rejected=decoder.rejected - rejected, new_corrupt=decoder.corrupt - corrupt,
                               mode_before=mode)
                got_frames = got_frames or bool(frames)
                if self._check_stall(time.monotonic(), worker):
                    raise StreamStalled("no frame on an open stream")
            if self._current(worker):
                raise StreamError("the stream ended")
        except Exception as exc:  # every failure of a camera is handled the same way: reconnect
            elapsed = time.monotonic() - (worker.beat or 0.0)
            self._failed(worker, exc, opening=opening, elapsed_s=elapsed)
        finally:
            with self._lock:
                worker.connected_at = None
            if container is not None:
                worker.beat = time.monotonic()
                try:
                    container.close()
                except Exception:  # closing a broken connection may fail too; nothing to save
                    pass
            worker.beat = None
        return got_frames

    def _received(self, worker: _Worker, decoder: StreamDecoder, frames: list[av.VideoFrame], *,
                  new_decoded: int, new_rejected: int, new_corrupt: int, mode_before: DecodeMode) -> None:
        """Account for one packet and publish the newest of its good frames."""
        now = self._clock()
        went_live = False
        new_errors = new_rejected + new_corrupt
        captured, lag = worker.clock.capture(frames[-1], now) if frames else (now, 0.0)
        with self._lock:
            if worker is not self._worker:
                return
            self._frames_received += 1
            self._received_times.append(now)
            self._frames_decoded += new_decoded
            if new_decoded > new_corrupt:
                self._decoded_times.extend([now] * (new_decoded - new_corrupt))
            self._decode_errors += new_errors
            self._rejected_packets += new_rejected
            self._corrupt_frames += new_corrupt
            self._decode_mode = decoder.mode
            if decoder.meter.interval_s is not None:
                self._keyframe_interval = round(decoder.meter.interval_s, 3)
            if decoder.meter.longest_s is not None:
                self._keyframe_longest = decoder.meter.longest_s
            if frames:
                self._seq += 1
                self._latest = RawFrame(frames[-1], captured, self._seq, lag)
                self._lag_s = lag
                self._converted = None
                self._last_frame_at = now
                self._last_frame_mono = time.monotonic()
                if self._offline_since is not None:
                    self._end_spell(now)
                went_live = self._state is not CameraState.live
                self._set_state(CameraState.live, None, now)
        if went_live:
            log.info("camera %s (%s): live", self.name, self.safe_url)
        if decoder.mode is not mode_before:
            log.info("camera %s: decoding %s (keyframe every %.2f s, analysis every %s s)", self.name,
                     _MODE_WORDS[decoder.mode],
                     decoder.meter.interval_s or 0.0,
                     f"{1 / self._analysis_fps:.2f}" if self._analysis_fps else "-")
        if new_errors and decoder.errors == new_errors:  # the first in this session
            log.warning("camera %s: undecodable data (%s); skipping it", self.name,
                        redact_text(decoder.last_error or "?"))

    def _failed(self, worker: _Worker, exc: BaseException, *, opening: bool, elapsed_s: float) -> None:
        state = classify_error(exc, elapsed_s=elapsed_s, socket_timeout_s=self._config.read_timeout_s)
        message = describe_error(exc, state, opening=opening, elapsed_s=elapsed_s)
        with self._lock:
            if not self._current(worker):
                return
            if isinstance(exc, StreamStalled) and self._state is CameraState.stalled:
                message = self._error or message  # the watchdog already said why
            elif state is CameraState.stalled and opening and self._outage_cause is not CameraState.stalled:
                state = CameraState.offline  # a timeout while connecting: unreachable, not known to hang
            changed = state is not self._state or message != self._error
            self._enter_outage(state, message)
        if changed:
            log.warning("camera %s (%s): %s: %s", self.name, self.safe_url, state.value, message)

    # -- health bookkeeping (under the lock) ------------------------------------------------------

    def _enter_outage(self, state: CameraState, message: str) -> None:
        if self._offline_since is None:
            self._offline_since = self._last_frame_at if self._last_frame_at is not None else (
                self._started_at if self._started_at is not None else self._clock())
            self._outage_cause = state
        self._set_state(state, message, self._clock())

    def _set_state(self, state: CameraState, error: str | None, now: float) -> None:
        if state is not self._state:
            self._transitions.append(StateChange(ts=now, previous=self._state, state=state, error=error))
        self._state, self._error = state, error

    def _end_spell(self, now: float) -> None:
        assert self._offline_since is not None
        self._spells.append(OfflineSpell(start=self._offline_since, end=now,
                                         cause=self._outage_cause or CameraState.offline))
        self._offline_since = self._outage_cause = None

    def _stall_limit(self, worker: _Worker) -> float:
        """`stall_after_s`, or two of the longest recent keyframe intervals when frames may wait for
        a keyframe (in keyframe and sparse mode, and before the first frame of a connection)."""
        limit = self._config.stall_after_s
        waits_for_keyframes = self._decode_mode is not DecodeMode.full or (
            worker.connected_at is not None
            and (self._last_frame_mono is None or self._last_frame_mono < worker.connected_at))
        if waits_for_keyframes and self._keyframe_longest is not None:
            limit = max(limit, 2 * self._keyframe_longest)
        return limit

    # -- the watchdog's side ---------------------------------------------------------------------

    def _check_stall(self, mono: float, worker: _Worker | None = None) -> bool:
        """Whether the open stream has gone `stall_after_s` without a frame; marks it stalled."""
        with self._lock:
            worker = worker or self._worker
            if worker is not self._worker or worker.connected_at is None or self._stop.is_set():
                return False
            since = max(worker.connected_at, self._last_frame_mono or 0.0)
            idle = mono - since
            if idle <= self._stall_limit(worker):
                return False
            if self._state is CameraState.stalled:
                return True
            message = f"no frame for {idle:.1f} s on an open stream"
            self._stalls += 1
            self._enter_outage(CameraState.stalled, message)
        log.warning("camera %s (%s): stalled: %s", self.name, self.safe_url, message)
        return True

    def _watch(self, mono: float) -> None:
        """One watchdog round: flag a stall, and replace a thread stuck in FFmpeg beyond every bound."""
        self._check_stall(mono)
        with self._lock:
            worker = self._worker
            beat = worker.beat  # once: the reader thread clears it without the lock
            if self._stop.is_set() or beat is None or mono - beat <= self.stuck_after_s:
                return
            stuck_for = mono - beat
            self._abandoned = [t for t in self._abandoned if t.is_alive()]
            if len(self._abandoned) >= MAX_ABANDONED:
                message = (f"{len(self._abandoned)} reader threads stuck in FFmpeg; "
                           "waiting for one to return before starting another")
                if self._error == message:
                    return
                self._enter_outage(CameraState.offline, message)
                fresh = None
            else:
                self._abandoned.append(worker.thread)
                message = f"reader stuck in FFmpeg for {stuck_for:.1f} s; abandoned it, reconnecting"
                self._enter_outage(CameraState.offline, message)
                self._reconnects += 1
                fresh = self._worker = self._new_worker()
        log.error("camera %s (%s): %s", self.name, self.safe_url, message)
        if fresh is not None:
            fresh.thread.start()


class _Watchdog:
    """One thread that looks at every running reader of the process a few times a second."""

    def __init__(self, tick_s: float = WATCHDOG_TICK_S):
        self._tick_s = tick_s
        self._lock = threading.Lock()
        self._readers: set[CameraReader] = set()
        self._thread: threading.Thread | None = None

    def add(self, reader: CameraReader) -> None:
        with self._lock:
            self._readers.add(reader)
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="ingest:watchdog", daemon=True)
                self._thread.start()

    def remove(self, reader: CameraReader) -> None:
        with self._lock:
            self._readers.discard(reader)

    def _loop(self) -> None:
        while True:
            time.sleep(self._tick_s)
            with self._lock:
                readers = list(self._readers)
                if not readers:
                    self._thread = None  # the next add() starts a new one
                    return
            for reader in readers:
                try:
                    reader._watch(time.monotonic())
                except Exception:  # a bug here must not end the watch over every other camera
                    log.exception("watchdog: camera %s", reader.name)


_WATCHDOG = _Watchdog()


def _rate(times: deque[float], now: float) -> float:
    """Events per second over the last RATE_WINDOW_S; falls towards 0 once they stop coming."""
    recent = [t for t in times if now - t <= RATE_WINDOW_S]
    if len(recent) < 2 or recent[-1] <= recent[0]:
        return 0.0
    span = recent[-1] - recent[0]
    if now - recent[-1] > 2 * span / (len(recent) - 1):  # overdue: count the silence too
        span = now - recent[0]
    return round((len(recent) - 1) / span, 2)
