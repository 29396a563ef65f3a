"""The live video wall: shared per-camera RTSP sources forwarded over WebRTC without transcoding,
a face-blurred stream per camera for roles that may not see faces, snapshot and MJPEG fallback,
and the analytics overlay sent over a data channel."""

from monitor.live.overlay import Overlay, OverlayHub
from monitor.live.wall import BadOffer, LiveWall, UnknownCamera

__all__ = ["BadOffer", "LiveWall", "Overlay", "OverlayHub", "UnknownCamera"]
