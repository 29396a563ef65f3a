"""Cameras and their zones, edited in the browser by administrators (issue 15).

- `/cameras`: the cameras of the halls inside the admin's scope, and a form that adds a camera after
  checking its URL live (`ingest.probe`: connect, codec, picture size, frame rate, keyframe interval).
- `/cameras/{hall}/{camera}`: the zone editor: the camera's live snapshot (the live wall's snapshot
  route) with its zones drawn over it, edited with the mouse or a finger (`static/zones/zones.js`).
- Saving writes the site file in place (`core.config.sitefile`: comments kept, the whole site validated
  before an atomic rename, refused when the file changed since it was read), makes the new site the web
  app's at once, and tells the service (`app.state.on_site_change`), which restarts only the changed
  cameras' analysis; a service in another process sees the file change itself (`hallwatch.service`).
- "Test" runs the site's detector on the camera's current frame with the zones being edited, through the
  path `hallwatch analyze` takes (`pipeline.measure.analyse`), and answers the boxes, foot points, counts
  per zone and desk states.

Only admins, and only for halls inside their scope (as for users: a city admin edits that city's halls);
a hall outside it answers 404, as if it did not exist. Every save, camera added, URL probed and test run is
audited under `camera/<hall>/<camera>`. Camera passwords never leave the server: URLs are masked in every
answer and audit row.
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from typing import Annotated, Any

import cv2
import numpy as np
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from analytics.camera import CameraAnalyzer
from analytics.counting import in_zone
from analytics.geometry import Polygon
from core.config import CameraConfig, HallConfig, SiteConfig, ZoneConfig, ZoneKind
from core.config.sitefile import SiteFile, SiteFileConflict, SiteFileInvalid
from core.errors import ConfigError, HallwatchError
from core.redact import redact_text, redact_url
from ingest.probe import ProbeResult, probe_camera
from models import Detector, load_detector
from monitor.api import halls_for, unprocessable
from monitor.deps import DbConn, NavItem, SiteDep, require_roles, templates
from monitor.i18n import N_
from monitor.live import LiveWall, UnknownCamera
from pipeline.loop import camera_detector
from pipeline.measure import analyse
from storage.auth.audit import audit
from storage.auth.model import Role, User
from storage.samples import sync_site

log = logging.getLogger(__name__)

router = APIRouter()
nav = [NavItem(N_("Cameras"), "/cameras", frozenset({Role.admin}), order=89)]
Admin = Annotated[User, Depends(require_roles(Role.admin))]
ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"
HallId = Annotated[str, PathParam(pattern=ID_PATTERN)]
CameraId = Annotated[str, PathParam(pattern=ID_PATTERN)]
FRAME_TIMEOUT_S = 8.0   # as the live wall's snapshot: open + first keyframe + decode, with margin
PROBE_BUDGET_S = 10.0   # three keyframe intervals of a camera with a keyframe every 3 s
_DETECTOR_LOCK = threading.Lock()


# ---- models ---------------------------------------------------------------------------------------------

class WindowPublic(BaseModel):
    id: str
    name: str


class CameraZonesPublic(BaseModel):
    hall: str
    hall_name: str
    camera: str
    name: str
    url: str = Field(description="masked")
    windows: list[WindowPublic]
    zones: list[ZoneConfig]
    other_zones: list[str] = Field(description="zone ids of the hall's other cameras (a zone id is unique in a hall)")
    version: str = Field(description="the site file's version this was read at; send it back with a change")
    snapshot: str = Field(description="the live wall's snapshot of this camera")


class ZonesUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: str = Field(pattern=r"^[0-9a-f]{64}$")
    zones: list[ZoneConfig] = Field(max_length=64)


class ZonesTest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    zones: list[ZoneConfig] | None = Field(default=None, max_length=64,
                                           description="the zones to test (default: the saved ones)")


class BoxPublic(BaseModel):
    box: tuple[float, float, float, float] = Field(description="x1, y1, x2, y2 in [0,1] frame coordinates")
    foot: tuple[float, float] = Field(description="the bottom centre: where the person stands")
    confidence: float
    zones: list[str] = Field(description="the zones this person counts in")


class ZonesTestPublic(BaseModel):
    width: int
    height: int
    people: int | None
    boxes: list[BoxPublic]
    zones: dict[str, int | None] = Field(description="queue and self-service zones: people standing there")
    desks: dict[str, str] = Field(description="window -> desk state after this one frame")
    desk_people: dict[str, int]
    seconds: float
    image: str = Field(description="the analysed frame, as a data: URL (JPEG)")


class ProbeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(min_length=8, max_length=2000, pattern=r"^rtsps?://[^/\s]+")


class ProbePublic(BaseModel):
    ok: bool
    url: str
    state: str
    error: str | None
    codec: str | None
    profile: str | None
    width: int | None
    height: int | None
    fps: float | None
    keyframe_interval_frames: int | None
    keyframe_interval_s: float | None
    keyframes: int
    packets: int
    seconds: float
    image: str | None = Field(description="the first picture, as a data: URL (JPEG)")


class CameraCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: str = Field(pattern=r"^[0-9a-f]{64}$")
    id: str = Field(pattern=ID_PATTERN)
    name: str | None = Field(default=None, min_length=1, max_length=200)
    url: str = Field(min_length=8, max_length=2000, pattern=r"^rtsps?://[^/\s]+")
    analysis_fps: float = Field(default=1.0, gt=0.0, le=10.0)
    allow_offline: bool = Field(default=False, description="save even when the URL does not answer now")


class CameraCreated(BaseModel):
    hall: str
    camera: str
    probe: ProbePublic
    editor: str


class HallCamerasPublic(BaseModel):
    hall: str
    hall_name: str
    cameras: list[dict[str, Any]]


class CamerasPublic(BaseModel):
    data: list[HallCamerasPublic]
    version: str | None = Field(description="the site file's version (None when the web app has no site file)")


# ---- helpers --------------------------------------------------------------------------------------------

def _hall_camera(site: SiteConfig, user: User, hall_id: str, camera_id: str | None = None) \
        -> tuple[HallConfig, CameraConfig | None]:
    """The hall (and camera) inside the admin's scope; 404 otherwise, as if absent."""
    hall = next((h for h in site.halls if h.id == hall_id), None)
    if hall is None or not user.scope.allows(hall.id, hall.city):
        raise HTTPException(status_code=404, detail="no such hall")
    if camera_id is None:
        return hall, None
    camera = next((c for c in hall.cameras if c.id == camera_id), None)
    if camera is None:
        raise HTTPException(status_code=404, detail="no such camera")
    return hall, camera


def _site_file(request: Request) -> SiteFile:
    path = getattr(request.app.state, "site_path", None)
    if path is None:
        raise HTTPException(status_code=409, detail="this web app was started without a site file to edit")
    try:
        return SiteFile.read(path)
    except ConfigError as exc:
        raise HTTPException(status_code=409, detail=str(exc)) from None


def _apply(request: Request, conn: DbConn, site: SiteConfig) -> None:
    """The saved site becomes the web app's, the database's geography and the service's (if one listens)."""
    request.app.state.site = site
    sync_site(conn, site)
    wall = getattr(request.app.state, "live_wall", None)
    if wall is not None:  # its camera list and zone overlays
        wall.update_site(site)
    listener = getattr(request.app.state, "on_site_change", None)
    if listener is not None:
        try:
            listener(site)
        except Exception:  # the file is saved; the service's file watch applies it anyway
            log.exception("applying the saved site to the running service failed")


def _refused(exc: SiteFileInvalid, zones: bool) -> HTTPException:
    """A 422 in FastAPI's shape; a problem inside the edited camera's zones names the zone's field."""
    detail = []
    for problem in exc.problems:
        loc: list[str | int] = ["body", "zones" if zones else "id"]
        parts = list(problem.loc)
        if zones and len(parts) >= 6 and parts[0] == "halls" and parts[4] == "zones":
            loc = ["body", "zones", *parts[5:]]
        detail.append({"loc": loc, "msg": f"{problem.where}: {problem.message}", "type": "value_error",
                       "field": problem.where})
    return HTTPException(status_code=422, detail=detail)


def _zones_public(request: Request, hall: HallConfig, camera: CameraConfig, version: str) -> CameraZonesPublic:
    return CameraZonesPublic(
        hall=hall.id, hall_name=hall.name, camera=camera.id, name=camera.name or camera.id, url=camera.safe_url,
        windows=[WindowPublic(id=w.id, name=w.name) for w in hall.windows], zones=list(camera.zones),
        other_zones=sorted(z.id for c in hall.cameras if c.id != camera.id for z in c.zones), version=version,
        snapshot=f"/api/v1/live/{hall.id}/{camera.id}/snapshot.jpg")


def _stream_url(url: str) -> str:
    """The address as the service will open it: `${VAR}` read from the environment, checked as the site file
    checks it (a 422 naming `url` otherwise)."""
    try:
        return CameraConfig.model_validate({"id": "probe", "url": url}).url
    except ValidationError as exc:
        raise unprocessable("url", redact_text(exc.errors()[0]["msg"])) from None


def _data_url(jpeg: bytes | None) -> str | None:
    return None if jpeg is None else "data:image/jpeg;base64," + base64.b64encode(jpeg).decode("ascii")


def _probe_public(result: ProbeResult) -> ProbePublic:
    return ProbePublic(**result.public(), image=_data_url(result.jpeg))


def _detector(request: Request, site: SiteConfig) -> Detector:
    """The site's detector, loaded once for the web app's tests of zones (and again if the site's detector
    settings change)."""
    state = request.app.state
    with _DETECTOR_LOCK:
        loaded: tuple[Any, Detector] | None = getattr(state, "zone_test_detector", None)
        if loaded is None or loaded[0] != site.detector:
            loaded = state.zone_test_detector = (site.detector, load_detector(site.detector))
        return loaded[1]


def _frame(request: Request, site: SiteConfig, hall: HallConfig, camera: CameraConfig) -> np.ndarray:
    """The camera's current picture (BGR): from the live wall's shared connection to the camera, or, for a
    camera the wall does not know yet (added since the web app started), from a probe of its URL."""
    wall = LiveWall.of_app(request.app)
    try:
        source = wall.source(hall.id, camera.id)
    except UnknownCamera:
        result = probe_camera(camera.analysis_url, site.ingest, budget_s=FRAME_TIMEOUT_S)
        if result.image is None:
            raise HTTPException(status_code=503, detail=f"camera {hall.id}/{camera.id}: {result.error}") from None
        return result.image
    with source.watch_frames():
        frame = source.wait_frame(-1, FRAME_TIMEOUT_S)
    if frame is None:
        raise HTTPException(status_code=503, detail=f"camera {hall.id}/{camera.id} sends no pictures")
    return frame.bgr()


# ---- pages ----------------------------------------------------------------------------------------------

@router.get("/cameras", response_class=HTMLResponse, include_in_schema=False)
def cameras_page(request: Request, admin: Admin, site: SiteDep) -> HTMLResponse:
    halls = halls_for(site, admin)
    editable = getattr(request.app.state, "site_path", None) is not None
    return templates.TemplateResponse(request, "zones_cameras.html", {"halls": halls, "editable": editable})


@router.get("/cameras/{hall_id}/{camera_id}", response_class=HTMLResponse, include_in_schema=False)
def zones_page(request: Request, hall_id: HallId, camera_id: CameraId, admin: Admin, site: SiteDep) -> HTMLResponse:
    hall, camera = _hall_camera(site, admin, hall_id, camera_id)
    assert camera is not None
    return templates.TemplateResponse(request, "zones.html", {"hall": hall, "camera": camera,
                                                              "kinds": [k.value for k in ZoneKind]})


# ---- API ------------------------------------------------------------------------------------------------

@router.get("/api/v1/cameras", tags=["cameras"])
def read_cameras(request: Request, admin: Admin, site: SiteDep) -> CamerasPublic:
    """The cameras of the halls inside the admin's scope (URLs masked), and the site file's version."""
    path = getattr(request.app.state, "site_path", None)
    version = _site_file(request).version if path is not None else None
    data = [HallCamerasPublic(hall=h.id, hall_name=h.name, cameras=[
        {"id": c.id, "name": c.name or c.id, "url": c.safe_url, "zones": len(c.zones),
         "analysis_fps": c.analysis_fps} for c in h.cameras]) for h in halls_for(site, admin)]
    return CamerasPublic(data=data, version=version)


@router.get("/api/v1/cameras/{hall_id}/{camera_id}/zones", tags=["cameras"], responses={409: {}})
def read_camera_zones(request: Request, hall_id: HallId, camera_id: CameraId, admin: Admin,
                      site: SiteDep) -> CameraZonesPublic:
    """The camera's zones as the site file says now, with the file's version to send back with a change."""
    _hall_camera(site, admin, hall_id, camera_id)
    edit = _site_file(request)
    try:
        site = edit.validate()
    except SiteFileInvalid as exc:
        raise HTTPException(status_code=409, detail=f"the site file is invalid: {exc}") from None
    hall, camera = _hall_camera(site, admin, hall_id, camera_id)
    assert camera is not None
    return _zones_public(request, hall, camera, edit.version)


@router.put("/api/v1/cameras/{hall_id}/{camera_id}/zones", tags=["cameras"], responses={409: {}})
def update_camera_zones(request: Request, hall_id: HallId, camera_id: CameraId, body: ZonesUpdate, admin: Admin,
                        conn: DbConn, site: SiteDep) -> CameraZonesPublic:
    """Replace the camera's zones in the site file (validated as a whole site first; 409 when the file
    changed since `version`) and apply them without a restart."""
    _hall_camera(site, admin, hall_id, camera_id)
    edit = _site_file(request)
    try:
        before = edit.validate().find_camera(f"{hall_id}/{camera_id}")[1]
    except (SiteFileInvalid, ConfigError) as exc:
        raise HTTPException(status_code=409, detail=f"the site file is invalid: {exc}") from None
    edit.set_zones(hall_id, camera_id, [zone.model_dump(mode="json", exclude_defaults=True) for zone in body.zones])
    try:
        saved = edit.save(expected_version=body.version)
    except SiteFileInvalid as exc:
        raise _refused(exc, zones=True) from None
    except SiteFileConflict as exc:
        raise HTTPException(status_code=409, detail=str(exc)) from None
    hall, camera = saved.find_camera(f"{hall_id}/{camera_id}")
    audit(conn, user=admin, action="camera.zones_saved", subject=f"camera/{hall_id}/{camera_id}",
          details={"before": [z.model_dump(mode="json", exclude_defaults=True) for z in before.zones],
                   "after": [z.model_dump(mode="json", exclude_defaults=True) for z in camera.zones]})
    _apply(request, conn, saved)
    return _zones_public(request, hall, camera, edit.version)


@router.post("/api/v1/cameras/{hall_id}/{camera_id}/test", tags=["cameras"], responses={409: {}, 503: {}})
def test_camera_zones(request: Request, hall_id: HallId, camera_id: CameraId, admin: Admin, conn: DbConn,
                      site: SiteDep, body: ZonesTest | None = None) -> ZonesTestPublic:
    """What `hallwatch analyze` sees on the camera's current frame, with the zones given (unsaved ones too)
    or the saved ones: the detector's people (boxes, foot points), people per queue and self-service zone,
    and the desks' states after this one frame."""
    hall, camera = _hall_camera(site, admin, hall_id, camera_id)
    assert camera is not None
    _site_file(request)  # zones are tested to be edited: only where the site file may be changed
    if body is not None and body.zones is not None:
        try:
            camera = CameraConfig.model_validate({**camera.model_dump(exclude={"zones"}),
                                                  "zones": [z.model_dump() for z in body.zones]})
            HallConfig.model_validate({**hall.model_dump(exclude={"cameras"}), "cameras": [camera.model_dump()]})
        except ValidationError as exc:  # named by field, without the input (the camera's URL is in it)
            raise unprocessable("zones", redact_text("; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'hall'}: {e['msg']}" for e in exc.errors()))) from None
    started = time.monotonic()
    image = _frame(request, site, hall, camera)
    try:
        detector = camera_detector(_detector(request, site), camera, site.detector)
    except (HallwatchError, ValueError) as exc:
        raise HTTPException(status_code=503, detail=f"the detector cannot run: {exc}") from None
    height, width = image.shape[:2]
    detections = detector.detect(image)
    analyzer = CameraAnalyzer.from_site(site, camera)
    result = analyse(analyzer, detections, time.time(), (width, height), image)
    kinds = {z.id: z.kind for z in camera.zones}
    counted: dict[str, set[int]] = {}
    for zone in camera.zones:
        if zone.kind is not ZoneKind.desk:
            confidence = zone.confidence if zone.confidence is not None else site.analytics.confidence.floor
            mask = in_zone(detections, Polygon(zone.polygon), (width, height), confidence)
            counted[zone.id] = {int(i) for i in np.flatnonzero(mask)}
    boxes = []
    for i in range(len(detections)):
        x1, y1, x2, y2 = (float(v) for v in detections.xyxy[i])
        boxes.append(BoxPublic(box=(x1 / width, y1 / height, x2 / width, y2 / height),
                               foot=((x1 + x2) / 2 / width, y2 / height), confidence=float(detections.confidence[i]),
                               zones=[z for z, members in counted.items() if i in members]))
    ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 80])
    audit(conn, user=admin, action="camera.zones_tested", subject=f"camera/{hall.id}/{camera.id}",
          details={"people": result.people, "zones": dict(result.zones_raw)})
    return ZonesTestPublic(
        width=width, height=height, people=result.people, boxes=boxes,
        zones={z: n for z, n in result.zones_raw.items() if kinds.get(z) is not ZoneKind.desk},
        desks={w: r.state.value for w, r in result.desks.items()}, desk_people=dict(result.desk_people),
        seconds=round(time.monotonic() - started, 3), image=_data_url(jpeg.tobytes() if ok else None) or "")


@router.post("/api/v1/halls/{hall_id}/cameras/probe", tags=["cameras"], responses={409: {}})
def probe_camera_url(request: Request, hall_id: HallId, body: ProbeRequest, admin: Admin, conn: DbConn,
                     site: SiteDep) -> ProbePublic:
    """Connect to a camera URL and report what it sends (codec, size, frame rate, keyframe interval, one
    picture) or why it does not, within about ten seconds; the password is masked in the answer."""
    hall, _ = _hall_camera(site, admin, hall_id)
    _site_file(request)  # a camera is probed to be added: only where the site file may be changed
    result = probe_camera(_stream_url(body.url), site.ingest, budget_s=PROBE_BUDGET_S)
    audit(conn, user=admin, action="camera.probe", subject=f"camera/{hall.id}/",
          details={"url": redact_url(body.url), "state": result.state.value, "codec": result.codec})
    return _probe_public(result)


@router.post("/api/v1/halls/{hall_id}/cameras", tags=["cameras"], status_code=201, responses={409: {}})
def create_camera(request: Request, hall_id: HallId, body: CameraCreate, admin: Admin, conn: DbConn,
                  site: SiteDep) -> CameraCreated:
    """Add a camera to the hall in the site file, after checking its URL live (refused when it does not
    answer, unless `allow_offline`); its zones are drawn next, in the editor."""
    hall, _ = _hall_camera(site, admin, hall_id)
    edit = _site_file(request)
    result = probe_camera(_stream_url(body.url), site.ingest, budget_s=PROBE_BUDGET_S)
    if not result.ok and not body.allow_offline:
        raise unprocessable("url", f"{result.url}: {result.state.value}: {result.error}")
    try:
        edit.add_camera(hall.id, {"id": body.id, "name": body.name, "url": body.url,
                                  "analysis_fps": body.analysis_fps})
        saved = edit.save(expected_version=body.version)
    except SiteFileInvalid as exc:
        raise _refused(exc, zones=False) from None
    except SiteFileConflict as exc:
        raise HTTPException(status_code=409, detail=str(exc)) from None
    except ConfigError as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None
    audit(conn, user=admin, action="camera.create", subject=f"camera/{hall.id}/{body.id}",
          details={"url": redact_url(body.url), "state": result.state.value, "codec": result.codec,
                   "size": [result.width, result.height], "keyframe_interval_s": result.keyframe_interval_s})
    _apply(request, conn, saved)
    return CameraCreated(hall=hall.id, camera=body.id, probe=_probe_public(result),
                         editor=f"/cameras/{hall.id}/{body.id}")
