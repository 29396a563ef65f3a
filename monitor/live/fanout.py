"""One stream of encoded access units handed to every viewer whole.

Each viewer has its own bounded queue and its own position in the stream, so viewers never share a
consumer (sharing one is how aiortc's `MediaRelay` over one `MediaPlayer` ends up giving viewer A
frames 1, 3, 5 and viewer B frames 2, 4, 6 — aiortc issue 1089). A viewer starts at a keyframe; a
viewer that falls behind loses its queue and waits for the next keyframe rather than receiving a
stream with holes that its decoder would smear."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

QUEUE_UNITS = 30  # 3 s at 10 fps: more means the viewer is too far behind to be live


@dataclass(frozen=True)
class AccessUnit:
    """One encoded picture: Annex B bytes, whether it starts a GOP, and its capture time."""

    data: bytes
    key: bool
    ts: float  # time.monotonic() when it arrived
    seq: int   # per stream, increasing by one per unit


class Subscriber:
    """A viewer's place in a stream. Units are offered on the viewer's event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, maxsize: int = QUEUE_UNITS):
        self.loop = loop
        self._queue: asyncio.Queue[AccessUnit | None] = asyncio.Queue(maxsize)
        self._need_key = True
        self.received = 0
        self.resyncs = 0  # times it fell behind and skipped to a keyframe

    def offer(self, unit: AccessUnit | None) -> None:
        if unit is None:  # end of stream
            self._drain()
            self._queue.put_nowait(None)
            return
        if self._queue.full():
            self._drain()
            self._need_key = True
            self.resyncs += 1
        if self._need_key and not unit.key:
            return
        self._need_key = False
        self.received += 1
        self._queue.put_nowait(unit)

    def _drain(self) -> None:
        while not self._queue.empty():
            self._queue.get_nowait()

    async def get(self) -> AccessUnit | None:
        """The next unit, or None once the stream has ended."""
        return await self._queue.get()


class Fanout:
    """Publishes units from a producer thread to every subscriber's loop."""

    def __init__(self, name: str, on_change: Callable[[int], None] | None = None):
        self.name = name
        self._subscribers: list[Subscriber] = []
        self._lock = threading.Lock()
        self._on_change = on_change  # called with the new subscriber count
        self.published = 0

    def subscribe(self, loop: asyncio.AbstractEventLoop) -> Subscriber:
        subscriber = Subscriber(loop)
        with self._lock:
            self._subscribers.append(subscriber)
            count = len(self._subscribers)
        if self._on_change:
            self._on_change(count)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        with self._lock:
            if subscriber not in self._subscribers:
                return
            self._subscribers.remove(subscriber)
            count = len(self._subscribers)
        if self._on_change:
            self._on_change(count)

    @property
    def count(self) -> int:
        with self._lock:
            return len(self._subscribers)

    def publish(self, unit: AccessUnit | None) -> None:
        with self._lock:
            targets = list(self._subscribers)
        if unit is not None:
            self.published += 1
        for subscriber in targets:
            try:
                subscriber.loop.call_soon_threadsafe(subscriber.offer, unit)
            except RuntimeError:  # its loop has closed: the viewer is gone
                self.unsubscribe(subscriber)
