"""A WebRTC video track that forwards encoded access units: aiortc packetizes them into RTP
(`H264Encoder.pack`) without decoding or encoding anything."""

from __future__ import annotations

import asyncio
import fractions

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from monitor.live.fanout import Fanout

RTP_CLOCK = 90_000
_TIME_BASE = fractions.Fraction(1, RTP_CLOCK)


class ForwardedTrack(MediaStreamTrack):
    """One viewer's copy of a shared stream. Timestamps come from the arrival clock, relative to
    this viewer's first unit, so they increase across camera reconnects (a camera's own
    timestamps restart) and every viewer's stream starts at zero."""

    kind = "video"

    def __init__(self, fanout: Fanout):
        super().__init__()
        self._fanout = fanout
        self._subscriber = fanout.subscribe(asyncio.get_running_loop())
        self._t0: float | None = None
        self._last_pts = -1
        self.sent = 0

    async def recv(self) -> av.Packet:  # type: ignore[override]  # aiortc accepts packets
        if self.readyState != "live":
            raise MediaStreamError
        unit = await self._subscriber.get()
        if unit is None:
            self.stop()
            raise MediaStreamError
        if self._t0 is None:
            self._t0 = unit.ts
        packet = av.Packet(unit.data)
        pts = max(int((unit.ts - self._t0) * RTP_CLOCK), self._last_pts + 1)
        self._last_pts = pts
        packet.pts = pts
        packet.time_base = _TIME_BASE
        self.sent += 1
        return packet

    @property
    def resyncs(self) -> int:
        return self._subscriber.resyncs

    def stop(self) -> None:
        super().stop()
        self._fanout.unsubscribe(self._subscriber)
