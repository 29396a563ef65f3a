"""The live wall's server side: camera sources shared by all viewers, WebRTC peers (one per tile),
and the overlay data channel of each peer.

Signalling is one HTTP exchange: the browser posts an offer (a receive-only video transceiver and
a data channel named "overlay"), the server answers with every ICE candidate gathered, so no
trickle ICE is needed. Video is H.264 only. A viewer who may see faces gets the camera's own
bitstream when it is H.264 browsers decode; otherwise (H.265, or an H.264 profile browsers refuse)
the camera's H.264 sub-stream (`detect_url`) when it has one, otherwise the camera's one shared
transcode. A viewer who may not see faces gets the camera's one shared face-blurred stream."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiortc import RTCDataChannel, RTCPeerConnection, RTCRtpSender, RTCSessionDescription

from core.config import CameraConfig, SiteConfig, ZoneKind
from core.errors import HallwatchError
from monitor.live.blurred import BlurredPictures, BlurredStream, DetectorFactory
from monitor.live.fanout import Fanout
from monitor.live.overlay import Overlay, OverlayHub
from monitor.live.reencode import TranscodedStream
from monitor.live.source import CameraSource
from monitor.live.track import ForwardedTrack

if TYPE_CHECKING:
    from monitor.live.viewers import Viewer

log = logging.getLogger(__name__)

END_FLUSH_S = 1.0  # how long an ended peer waits for its "end" message to leave


class UnknownCamera(HallwatchError):
    """No such hall/camera in the site."""


class BadOffer(HallwatchError):
    """The browser's offer cannot be answered (no video, no H.264)."""


@dataclass(frozen=True)
class LiveCamera:
    hall_id: str
    hall_name: str
    city_id: str
    camera_id: str
    name: str
    zones: list[dict[str, Any]]

    @property
    def key(self) -> str:
        return f"{self.hall_id}/{self.camera_id}"

    def public(self) -> dict[str, Any]:
        return {"key": self.key, "hall": self.hall_id, "hall_name": self.hall_name, "city": self.city_id,
                "camera": self.camera_id, "name": self.name, "zones": self.zones}


@dataclass
class Peer:
    pc: RTCPeerConnection
    camera: LiveCamera
    track: ForwardedTrack
    stream: str  # camera | substream | transcoded | blurred
    tasks: list[asyncio.Task[None]]
    viewer: Viewer | None = None           # the right it is watched with; ending it ends the peer
    channel: RTCDataChannel | None = None  # the overlay channel, once the browser opened it

    @property
    def blurred(self) -> bool:
        return self.stream == "blurred"


class LiveWall:
    """Everything live for one site. Create it on the event loop that serves the web app."""

    def __init__(self, site: SiteConfig, *, pool: Any = None, overlay: OverlayHub | None = None,
                 detector: DetectorFactory | None = None, linger_s: float = 5.0, poll_s: float = 2.0,
                 detect_every_s: float = 1.0):
        self.site = site
        self._pool = pool
        self.overlay = overlay or OverlayHub()
        self._detector = detector if detector is not None else _site_detector(site)
        self._linger_s = linger_s
        self._poll_s = poll_s
        self._detect_every_s = detect_every_s
        self._cameras = {c.key: c for c in _cameras(site)}
        self._sources: dict[str, CameraSource] = {}
        self._blurred: dict[str, BlurredStream] = {}
        self._transcoded: dict[str, TranscodedStream] = {}
        self._pictures: dict[str, BlurredPictures] = {}
        self._peers: dict[RTCPeerConnection, Peer] = {}
        self._poller: asyncio.Task[None] | None = None

    @classmethod
    def of_app(cls, app: Any) -> LiveWall:
        """The app's wall, made on first use (on the app's event loop); the pipeline's
        `app.state.overlay_hub` feeds its overlays."""
        wall: LiveWall | None = getattr(app.state, "live_wall", None)
        if wall is None:
            wall = app.state.live_wall = cls(app.state.site, pool=app.state.pool,
                                             overlay=getattr(app.state, "overlay_hub", None))
        return wall

    def update_site(self, site: SiteConfig) -> None:
        """A changed site file (the zone editor, an edit on disk): cameras and their zones as it says from
        the next request on. Open connections to a camera whose URL changed end when their viewers leave."""
        cameras = {c.key: c for c in _cameras(site)}
        self.site, self._cameras = site, cameras  # one assignment each: readers see the old or the new

    # -- cameras and shared streams ------------------------------------------------------------------

    def cameras(self) -> list[LiveCamera]:
        return list(self._cameras.values())

    def camera(self, hall_id: str, camera_id: str) -> LiveCamera:
        camera = self._cameras.get(f"{hall_id}/{camera_id}")
        if camera is None:
            raise UnknownCamera(f"no camera {hall_id}/{camera_id}")
        return camera

    def source(self, hall_id: str, camera_id: str) -> CameraSource:
        """The camera's main stream."""
        camera = self.camera(hall_id, camera_id)
        return self._source(camera.key, self._config(hall_id, camera_id).url)

    def substream(self, hall_id: str, camera_id: str) -> CameraSource | None:
        """The camera's detection sub-stream, if it has one and the site lets the wall play it."""
        camera = self.camera(hall_id, camera_id)
        url = self._config(hall_id, camera_id).detect_url
        return self._source(f"{camera.key}:sub", url) if url and self.site.live.substream else None

    def _config(self, hall_id: str, camera_id: str) -> CameraConfig:
        return next(c for h, c in self.site.cameras() if h.id == hall_id and c.id == camera_id)

    def _source(self, name: str, url: str) -> CameraSource:
        source = self._sources.get(name)
        if source is None:
            ingest = self.site.ingest
            source = CameraSource(name, url, open_timeout_s=ingest.open_timeout_s,
                                  read_timeout_s=ingest.read_timeout_s, linger_s=self._linger_s,
                                  reconnect_min_s=ingest.reconnect_min_s, reconnect_max_s=ingest.reconnect_max_s)
            self._sources[name] = source
        return source

    def _reencode(self) -> dict[str, Any]:
        live = self.site.live
        return {"max_height": live.reencode_max_height, "max_fps": live.reencode_max_fps,
                "kbps": live.reencode_kbps, "linger_s": self._linger_s}

    def blurred(self, hall_id: str, camera_id: str) -> BlurredStream:
        """The camera's one face-blurred stream."""
        source = self.source(hall_id, camera_id)
        stream = self._blurred.get(source.name)
        if stream is None:
            stream = BlurredStream(source, self._detector, detect_every_s=self._detect_every_s, **self._reencode())
            self._blurred[source.name] = stream
        return stream

    def transcoded(self, hall_id: str, camera_id: str) -> TranscodedStream:
        """The camera's one transcode of its main stream to H.264."""
        source = self.source(hall_id, camera_id)
        stream = self._transcoded.get(source.name)
        if stream is None:
            stream = TranscodedStream(source, **self._reencode())
            self._transcoded[source.name] = stream
        return stream

    def transcodes(self) -> dict[str, TranscodedStream]:
        """The transcodes made so far, by camera: at most one per camera, however many watch."""
        return dict(self._transcoded)

    async def stream_for(self, hall_id: str, camera_id: str, *, faces: bool) -> tuple[Fanout, str]:
        """The fanout a viewer gets and which stream it is: "camera" (its own H.264, forwarded),
        "substream" (its H.264 sub-stream, forwarded), "transcoded" or "blurred" (both encoded here,
        once per camera). Waits, the first time, until the camera says what it sends."""
        if not faces:
            return self.blurred(hall_id, camera_id).packets, "blurred"
        source = self.source(hall_id, camera_id)
        if not await self._known(source):
            return source.packets, "camera"  # a camera not seen yet: as H.264, its viewers wait for it
        if source.forwardable:
            return source.packets, "camera"
        substream = self.substream(hall_id, camera_id)
        if substream is not None:
            await self._known(substream)
            if substream.forwardable:
                return substream.packets, "substream"
        return self.transcoded(hall_id, camera_id).packets, "transcoded"

    async def _known(self, source: CameraSource) -> bool:
        """Whether the source's codec is known, connecting and waiting for it the first time."""
        if source.codec is not None:
            return True
        return await asyncio.to_thread(source.wait_known, self.site.ingest.open_timeout_s + 1.0)

    def picture(self, hall_id: str, camera_id: str, *, faces: bool, after_seq: int = -1,
                timeout: float = 5.0) -> tuple[int, bytes] | None:
        """The newest frame as JPEG (seq, bytes), face-blurred unless `faces`; blocks up to `timeout`.
        Call inside `source(...).watch_frames()`."""
        source = self.source(hall_id, camera_id)
        if faces:
            return source.wait_jpeg(after_seq, timeout)
        frame = source.wait_frame(after_seq, timeout)
        if frame is None:
            return None
        pictures = self._pictures.setdefault(source.name, BlurredPictures(self._detector,
                                                                          every_s=self._detect_every_s))
        return pictures.jpeg(frame)

    # -- WebRTC --------------------------------------------------------------------------------------

    async def answer(self, hall_id: str, camera_id: str, sdp: str, *, faces: bool,
                     viewer: Viewer | None = None) -> RTCSessionDescription:
        """The answer to a browser's offer; the peer lives until either side closes it or `viewer`
        is ended (then the overlay channel says why, and the peer closes)."""
        camera = self.camera(hall_id, camera_id)
        fanout, stream = await self.stream_for(hall_id, camera_id, faces=faces)
        track = ForwardedTrack(fanout)
        pc = RTCPeerConnection()
        peer = Peer(pc=pc, camera=camera, track=track, stream=stream, tasks=[], viewer=viewer)
        self._peers[pc] = peer
        # The sending transceiver exists before the offer is applied, so that its codec preference
        # (H.264 only: the packets are H.264) rules the negotiation; aiortc would pick VP8 otherwise.
        transceiver = pc.addTransceiver(track, direction="sendonly")
        transceiver.setCodecPreferences(
            [c for c in RTCRtpSender.getCapabilities("video").codecs if c.mimeType.lower() == "video/h264"])
        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
            if transceiver.mid is None:
                raise BadOffer("the offer has no video to receive")
        except BadOffer:
            await self._close_peer(pc)
            raise
        except Exception as exc:  # aiortc's SDP parser raises many kinds on malformed input
            await self._close_peer(pc)
            raise BadOffer(f"not a usable offer: {type(exc).__name__}") from None

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            log.debug("%s: peer %s", camera.key, pc.connectionState)
            if pc.connectionState in ("failed", "closed"):
                await self._close_peer(pc)

        @pc.on("datachannel")
        def on_channel(channel: RTCDataChannel) -> None:
            if channel.label == "overlay":
                peer.channel = channel
                peer.tasks.append(asyncio.ensure_future(self._pump_overlay(peer, channel)))

        try:
            await pc.setLocalDescription(await pc.createAnswer())
        except Exception:
            await self._close_peer(pc)
            raise
        self._ensure_poller()
        if viewer is not None:
            viewer.on_end(lambda reason: self._end_peer(pc, reason))
        log.info("%s: viewer joined (%s stream, %d peers)", camera.key, stream, len(self._peers))
        return pc.localDescription

    async def _close_peer(self, pc: RTCPeerConnection) -> None:
        peer = self._peers.pop(pc, None)
        if peer is None:
            return
        peer.track.stop()
        for task in peer.tasks:
            task.cancel()
        if peer.viewer is not None:
            peer.viewer.close()
        await pc.close()
        log.info("%s: viewer left (%d peers)", peer.camera.key, len(self._peers))

    async def _end_peer(self, pc: RTCPeerConnection, reason: str) -> None:
        """Tell the browser why over the overlay channel (best effort, briefly), then close the peer."""
        peer = self._peers.get(pc)
        if peer is None:
            return
        for task in peer.tasks:
            task.cancel()  # no overlay after the end
        channel = peer.channel
        if channel is not None and channel.readyState == "open":
            flushed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

            @channel.on("bufferedamountlow")
            def on_flushed() -> None:
                if not flushed.done():
                    flushed.set_result(None)

            with contextlib.suppress(Exception):  # the channel may close under us
                channel.send(json.dumps({"type": "end", "reason": reason}))
                await asyncio.wait_for(flushed, END_FLUSH_S)
        await self._close_peer(pc)

    @property
    def peers(self) -> int:
        return len(self._peers)

    # -- overlays ------------------------------------------------------------------------------------

    async def _pump_overlay(self, peer: Peer, channel: RTCDataChannel) -> None:
        """Send the camera's zones once, then every overlay change (and a heartbeat each second)."""
        loop = asyncio.get_running_loop()
        changed = asyncio.Event()
        camera = peer.camera

        def on_overlay(_overlay: Overlay) -> None:
            loop.call_soon_threadsafe(changed.set)

        unsubscribe = self.overlay.subscribe(camera.hall_id, camera.camera_id, on_overlay)
        try:
            channel.send(json.dumps({"type": "config", "camera": camera.key, "zones": camera.zones,
                                     "blurred": peer.blurred}))
            while channel.readyState == "open":
                overlay = self.overlay.latest(camera.hall_id, camera.camera_id)
                message = overlay.message() if overlay else {"type": "overlay", "ts": None, "boxes": [],
                                                              "desks": {}, "zones": {}}
                message["sent"] = time.time()
                channel.send(json.dumps(message))
                changed.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(changed.wait(), 1.0)
        except Exception as exc:  # the channel closed under us
            log.debug("%s: overlay channel ended: %s", camera.key, exc)
        finally:
            unsubscribe()

    def _ensure_poller(self) -> None:
        if self._pool is not None and (self._poller is None or self._poller.done()):
            self._poller = asyncio.ensure_future(self._poll_states())

    async def _poll_states(self) -> None:
        """Desk states and zone counts from the database, for the cameras someone watches."""
        from storage.status import latest_samples

        while self._peers:
            watched = {(p.camera.hall_id, p.camera.camera_id) for p in self._peers.values()}
            try:
                latest = await asyncio.to_thread(self._read_latest, latest_samples)
            except Exception as exc:
                log.warning("live overlay: database unavailable: %s", type(exc).__name__)
            else:
                for hall_id, camera_id in watched:
                    desks, zones = _camera_states(self.site, hall_id, camera_id, latest)
                    self.overlay.publish_states(hall_id, camera_id, latest.now.timestamp(), desks, zones)
            await asyncio.sleep(self._poll_s)

    def _read_latest(self, latest_samples: Callable[..., Any]) -> Any:
        with self._pool.connection(timeout=3.0) as conn:
            return latest_samples(conn, horizon="1 minute")

    async def close(self) -> None:
        for pc in list(self._peers):
            await self._close_peer(pc)
        if self._poller is not None:
            self._poller.cancel()
        await asyncio.to_thread(self._close_streams)

    def _close_streams(self) -> None:
        for stream in [*self._blurred.values(), *self._transcoded.values()]:
            stream.close()
        for source in self._sources.values():
            source.close()


STATE_FRESH_S = 10.0  # as monitor.status.STALE_S: older rows are not shown as current


def _camera_states(site: SiteConfig, hall_id: str, camera_id: str,
                   latest: Any) -> tuple[dict[str, str], dict[str, int | None]]:
    hall, camera = site.find_camera(f"{hall_id}/{camera_id}")
    desks: dict[str, str] = {}
    zones: dict[str, int | None] = {}
    for zone in camera.zones:
        if zone.kind is ZoneKind.desk and zone.window is not None:
            row = latest.desks.get((hall.id, zone.window))
            fresh = row is not None and (latest.now - row["ts"]).total_seconds() <= STATE_FRESH_S
            desks[zone.window] = row["state"] if row is not None and fresh else "unknown"
        elif zone.kind is not ZoneKind.desk:
            row = latest.zones.get((hall.id, zone.id))
            fresh = row is not None and (latest.now - row["ts"]).total_seconds() <= STATE_FRESH_S
            zones[zone.id] = row["people"] if row is not None and fresh else None
    return desks, zones


def _cameras(site: SiteConfig) -> list[LiveCamera]:
    return [
        LiveCamera(hall_id=hall.id, hall_name=hall.name, city_id=hall.city, camera_id=camera.id,
                   name=camera.name or camera.id,
                   zones=[{"id": z.id, "kind": z.kind.value, "window": z.window,
                           "polygon": [list(p) for p in z.polygon]} for z in camera.zones])
        for hall, camera in site.cameras()
    ]


def _site_detector(site: SiteConfig) -> DetectorFactory:
    """Loads the site's detector once, on first use, for every camera's blurring."""
    lock = threading.Lock()
    loaded: list[object] = []

    def load() -> object:
        with lock:
            if not loaded:
                from models import load_detector

                loaded.append(load_detector(site.detector))
            return loaded[0]

    return load
