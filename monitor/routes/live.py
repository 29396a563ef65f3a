"""The live video wall: the page, WebRTC signalling, snapshot and MJPEG fallback. A user sees the
cameras inside their scope; roles outside `storage.auth.model.ROLES_SEEING_FACES` get
face-blurred video and pictures. Each view of unblurred video is audited. A stream (MJPEG, or a
WebRTC peer with its overlay channel) lasts only while its session or token, user, role and scope
still allow it, and one user holds at most `live.max_streams_per_user` at once
(`monitor.live.viewers`)."""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from pydantic import BaseModel, Field

from monitor.deps import CurrentUser, DbConn, NavItem, templates
from monitor.i18n import N_
from monitor.live import BadOffer, LiveWall, UnknownCamera
from monitor.live.viewers import STATE_KEY as VIEWERS_KEY
from monitor.live.viewers import Credential, TooManyStreams, Viewer, Viewers
from monitor.live.wall import LiveCamera
from storage.auth.audit import audit
from storage.auth.model import User

log = logging.getLogger(__name__)

MJPEG_BOUNDARY = "hallwatch-frame"
PICTURE_TIMEOUT_S = 8.0  # open + first keyframe + decode, with margin


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    yield
    wall: LiveWall | None = getattr(app.state, "live_wall", None)
    if wall is not None:
        await wall.close()
    viewers: Viewers | None = getattr(app.state, VIEWERS_KEY, None)
    if viewers is not None:
        await viewers.close()


router = APIRouter(lifespan=lifespan)
nav = [NavItem(N_("Live wall"), "/live", order=10)]


def live_wall(request: Request) -> LiveWall:
    """The app's wall, made on first use."""
    return LiveWall.of_app(request.app)


async def live_viewers(request: Request) -> Viewers:
    """The app's open streams (async: made on the event loop that serves them)."""
    return Viewers.of_app(request.app)


WallDep = Annotated[LiveWall, Depends(live_wall)]
ViewersDep = Annotated[Viewers, Depends(live_viewers)]
HallId = Annotated[str, PathParam(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]
CameraId = Annotated[str, PathParam(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]


class LiveCameraPublic(BaseModel):
    key: str
    hall: str
    hall_name: str
    city: str
    camera: str
    name: str
    zones: list[dict[str, Any]]


class LiveCamerasPublic(BaseModel):
    data: list[LiveCameraPublic]
    count: int
    faces: bool = Field(description="whether this user sees faces unblurred")


class OfferCreate(BaseModel):
    sdp: str = Field(min_length=10, max_length=20_000)
    type: str = Field(pattern="^offer$")


class AnswerPublic(BaseModel):
    sdp: str
    type: str
    blurred: bool


def _visible(wall: LiveWall, user: User) -> list[LiveCamera]:
    return [c for c in wall.cameras() if user.scope.allows(c.hall_id, c.city_id)]


def _camera(wall: LiveWall, user: User, hall_id: str, camera_id: str) -> LiveCamera:
    try:
        camera = wall.camera(hall_id, camera_id)
    except UnknownCamera:
        raise HTTPException(status_code=404, detail="no such camera") from None
    if not user.scope.allows(camera.hall_id, camera.city_id):
        raise HTTPException(status_code=404, detail="no such camera")  # out of scope looks like absent
    return camera


def _open_stream(viewers: Viewers, request: Request, user: User, camera: LiveCamera, kind: str) -> Viewer:
    """The new stream's viewer, remembering the credential this request came with; 429 past the limit."""
    credential = Credential.of_request(request)
    if credential is None:  # current_user accepted the request, so it carried one
        raise HTTPException(status_code=401, detail="not authenticated")
    try:
        return viewers.open(user=user, credential=credential, camera=camera, faces=user.sees_faces, kind=kind)
    except TooManyStreams as exc:
        raise HTTPException(status_code=429, detail=str(exc)) from None


@router.get("/live", response_class=HTMLResponse, include_in_schema=False)
def live_page(request: Request, user: CurrentUser, wall: WallDep) -> HTMLResponse:
    cameras = [c.public() for c in _visible(wall, user)]
    return templates.TemplateResponse(request, "live.html", {"cameras": cameras, "faces": user.sees_faces})


@router.get("/api/v1/live/cameras", tags=["live"])
def read_live_cameras(user: CurrentUser, wall: WallDep) -> LiveCamerasPublic:
    data = [LiveCameraPublic(**c.public()) for c in _visible(wall, user)]
    return LiveCamerasPublic(data=data, count=len(data), faces=user.sees_faces)


@router.post("/api/v1/live/{hall_id}/{camera_id}/offer", tags=["live"], responses={429: {}})
async def create_live_answer(request: Request, hall_id: HallId, camera_id: CameraId, offer: OfferCreate,
                             user: CurrentUser, conn: DbConn, wall: WallDep, viewers: ViewersDep) -> AnswerPublic:
    """WebRTC signalling in one exchange: the browser's offer in, the server's answer (all ICE
    candidates included) out. Video is H.264, receive-only; a data channel named `overlay` gets
    the camera's zones and live analytics, and `{"type": "end", "reason"}` before the server ends
    the peer because the right to watch ended."""
    camera = _camera(wall, user, hall_id, camera_id)
    viewer = _open_stream(viewers, request, user, camera, "webrtc")
    try:
        answer = await wall.answer(camera.hall_id, camera.camera_id, offer.sdp, faces=user.sees_faces,
                                   viewer=viewer)
    except BadOffer as exc:
        viewer.close()
        raise HTTPException(status_code=422, detail=str(exc)) from None
    except BaseException:
        viewer.close()
        raise
    if user.sees_faces:
        audit(conn, user=user, action="live.view", subject=f"camera/{camera.key}", details={"stream": "webrtc"})
    return AnswerPublic(sdp=answer.sdp, type=answer.type, blurred=not user.sees_faces)


@router.get("/api/v1/live/{hall_id}/{camera_id}/snapshot.jpg", tags=["live"],
            responses={200: {"content": {"image/jpeg": {}}}}, response_class=Response)
async def read_live_snapshot(hall_id: HallId, camera_id: CameraId, user: CurrentUser, conn: DbConn,
                             wall: WallDep) -> Response:
    """The camera's newest frame as JPEG (face-blurred unless the role may see faces)."""
    camera = _camera(wall, user, hall_id, camera_id)
    source = wall.source(camera.hall_id, camera.camera_id)

    def take() -> tuple[int, bytes] | None:
        with source.watch_frames():
            return wall.picture(camera.hall_id, camera.camera_id, faces=user.sees_faces, timeout=PICTURE_TIMEOUT_S)

    picture = await asyncio.to_thread(take)
    if picture is None:
        raise HTTPException(status_code=503, detail=f"camera {camera.key} sends no pictures")
    if user.sees_faces:
        audit(conn, user=user, action="live.snapshot", subject=f"camera/{camera.key}", details={})
    return Response(picture[1], media_type="image/jpeg", headers={"Cache-Control": "no-store"})


@router.get("/api/v1/live/{hall_id}/{camera_id}/mjpeg", tags=["live"],
            responses={200: {"content": {f"multipart/x-mixed-replace; boundary={MJPEG_BOUNDARY}": {}}},
                       429: {}},
            response_class=StreamingResponse)
async def read_live_mjpeg(request: Request, hall_id: HallId, camera_id: CameraId, user: CurrentUser,
                          conn: DbConn, wall: WallDep, viewers: ViewersDep) -> StreamingResponse:
    """Motion JPEG for browsers or networks where WebRTC does not get through. Decoding and JPEG
    encoding happen once per camera and frame, shared by every MJPEG client of the camera. The
    response ends when the right to watch ends."""
    camera = _camera(wall, user, hall_id, camera_id)
    source = wall.source(camera.hall_id, camera.camera_id)
    faces = user.sees_faces
    viewer = _open_stream(viewers, request, user, camera, "mjpeg")
    if faces:
        try:
            audit(conn, user=user, action="live.view", subject=f"camera/{camera.key}", details={"stream": "mjpeg"})
        except BaseException:
            viewer.close()
            raise

    async def parts() -> AsyncIterator[bytes]:
        try:
            with source.watch_frames():
                seq = -1
                while not viewer.ended and not await request.is_disconnected():
                    picture = await viewer.until_ended(asyncio.to_thread(
                        wall.picture, camera.hall_id, camera.camera_id, faces=faces, after_seq=seq,
                        timeout=PICTURE_TIMEOUT_S))
                    if picture is None:
                        break  # ended, or the camera stopped: the client's <img> shows the last frame
                    seq, jpeg = picture
                    yield (f"--{MJPEG_BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n"
                           .encode() + jpeg + b"\r\n")
        finally:
            viewer.close()

    body = parts()
    weakref.finalize(body, viewer.close)  # a response never sent never starts `parts`, whose finally then never runs
    return StreamingResponse(body, media_type=f"multipart/x-mixed-replace; boundary={MJPEG_BOUNDARY}",
                             headers={"Cache-Control": "no-store"})
