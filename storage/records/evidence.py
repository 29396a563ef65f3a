"""Evidence photos: a snapshot the server takes from a hall camera's live stream, or an uploaded
photo. Type and size are checked, the bytes stored with their sha256 (checked again on every read),
and a copy with the head region of every detected person blurred is made once, when stored."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from core.errors import Refusal, StreamError
from core.i18n import N_
from core.redact import redact_text, redact_url
from storage.auth.audit import audit
from storage.auth.model import User
from storage.records.common import NotFound, RecordError, WorkflowError
from storage.records.inspections import InspectionStatus, get_inspection, visible_sql

if TYPE_CHECKING:
    from models import Detector

_MAGIC = {b"\xff\xd8\xff": "image/jpeg", b"\x89PNG\r\n\x1a\n": "image/png"}
HEAD_FRACTION = 0.28  # the top of a person box that holds the head, blurred with a margin


class EvidenceCorrupt(RecordError):
    """Stored bytes no longer match their sha256."""


class SnapshotError(Refusal, StreamError):
    """The camera asked for a snapshot gives none (its address masked)."""


@dataclass(frozen=True)
class Photo:
    data: bytes
    content_type: str
    image: np.ndarray  # decoded BGR


def check_photo(data: bytes, *, max_bytes: int) -> Photo:
    """JPEG or PNG, at most `max_bytes`, and it must decode: the extension or a client's word is not trusted."""
    import cv2

    if not data:
        raise RecordError(N_("the photo is empty"))
    if len(data) > max_bytes:
        raise RecordError(N_("the photo has %(size)s bytes; at most %(limit)s are accepted"), size=len(data),
                          limit=max_bytes)
    content_type = next((t for magic, t in _MAGIC.items() if data.startswith(magic)), None)
    if content_type is None:
        raise RecordError(N_("only JPEG and PNG photos are accepted"))
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None or image.size == 0:
        raise RecordError(N_("the %(type)s photo cannot be decoded"), type=content_type)
    return Photo(data=data, content_type=content_type, image=image)


def blur_heads(image: np.ndarray, detector: Detector) -> tuple[np.ndarray, int]:
    """A copy with the head region (top of each person box, widened a little) blurred beyond recognition."""
    import cv2

    out = image.copy()
    height, width = image.shape[:2]
    boxes = detector.detect(image).xyxy
    for x1, y1, x2, y2 in boxes:
        box_w, box_h = x2 - x1, y2 - y1
        hx1, hx2 = int(max(0, x1 - 0.1 * box_w)), int(min(width, x2 + 0.1 * box_w))
        hy1, hy2 = int(max(0, y1 - 0.05 * box_h)), int(min(height, y1 + HEAD_FRACTION * box_h))
        if hx2 - hx1 < 2 or hy2 - hy1 < 2:
            continue
        region = out[hy1:hy2, hx1:hx2]
        small = cv2.resize(region, (max(1, (hx2 - hx1) // 12), max(1, (hy2 - hy1) // 12)),
                           interpolation=cv2.INTER_AREA)
        out[hy1:hy2, hx1:hx2] = cv2.GaussianBlur(cv2.resize(small, (hx2 - hx1, hy2 - hy1),
                                                            interpolation=cv2.INTER_NEAREST), (0, 0), 3)
    return out, len(boxes)


def encode(image: np.ndarray, content_type: str) -> bytes:
    import cv2

    ok, buffer = cv2.imencode(".png" if content_type == "image/png" else ".jpg", image)
    if not ok:
        raise RecordError(N_("cannot encode the image"))
    return buffer.tobytes()


def snapshot(url: str, *, open_timeout_s: float = 5.0, read_timeout_s: float = 3.0, max_frames: int = 100) -> bytes:
    """One JPEG of the camera's live picture, opened the way `ingest.sources` reads RTSP (TCP, bounded)."""
    import av
    import cv2

    options = {"rtsp_transport": "tcp", "timeout": str(int(read_timeout_s * 1e6)), "probesize": "32768",
               "analyzeduration": "0"}
    try:
        with av.open(url, options=options, timeout=(open_timeout_s, read_timeout_s)) as container:
            stream = container.streams.video[0]
            for count, frame in enumerate(container.decode(stream)):
                image = frame.to_ndarray(format="bgr24")
                if image.size or count >= max_frames:
                    break
    except (av.error.FFmpegError, OSError, IndexError) as exc:
        raise SnapshotError(N_("%(camera)s: no snapshot: %(reason)s"), camera=redact_url(url),
                            reason=redact_text(str(exc))) from None
    ok, buffer = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])
    if not ok:
        raise SnapshotError(N_("%(camera)s: cannot encode the snapshot"), camera=redact_url(url))
    return bytes(buffer.tobytes())


def store_evidence(conn: psycopg.Connection, *, user: User, inspection_id: int, photo: Photo, detector: Detector,
                   source: str, taken_at: datetime, camera_id: str | None = None,
                   finding_id: int | None = None) -> int:
    row = get_inspection(conn, user=user, inspection_id=inspection_id, audit_read=False)
    if row["status"] not in ("planned", "carried_out"):
        raise WorkflowError(N_("inspection %(inspection)s is %(status)s: no more evidence"), inspection=inspection_id,
                            status=InspectionStatus(row["status"]))
    if finding_id is not None and finding_id not in {f["id"] for f in row["finding_list"]}:
        raise RecordError(N_("finding %(finding)s is not part of inspection %(inspection)s"), finding=finding_id,
                          inspection=inspection_id)
    blurred_image, people = blur_heads(photo.image, detector)
    blurred = encode(blurred_image, photo.content_type)
    found = conn.execute(
        "INSERT INTO evidence (inspection_id, finding_id, source, camera_id, taken_at, content_type, size, sha256,"
        " data, blurred_sha256, blurred, faces_blurred, created_by)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
        (inspection_id, finding_id, source, camera_id, taken_at, photo.content_type, len(photo.data),
         hashlib.sha256(photo.data).hexdigest(), photo.data, hashlib.sha256(blurred).hexdigest(), blurred, people,
         user.id)).fetchone()
    assert found is not None
    audit(conn, user=user, action="evidence.create", subject=f"evidence/{found[0]}",
          details={"inspection": inspection_id, "source": source, "camera": camera_id, "size": len(photo.data),
                   "sha256": hashlib.sha256(photo.data).hexdigest(), "people_blurred": people})
    return int(found[0])


def read_evidence(conn: psycopg.Connection, *, user: User, evidence_id: int) -> dict[str, Any]:
    """The photo as this user may see it: unblurred for roles that may see faces (audited every time),
    blurred for everyone else. The bytes are checked against their sha256 first."""
    visible, params = visible_sql(user)
    column = sql.SQL("e.data, e.sha256" if user.sees_faces else "e.blurred AS data, e.blurred_sha256 AS sha256")
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(sql.SQL("SELECT e.id, e.inspection_id, e.content_type, {} FROM evidence e"
                            " JOIN inspection i ON i.id = e.inspection_id WHERE e.id = %(id)s AND {}")
                    .format(column, visible), {**params, "id": evidence_id})
        row = cur.fetchone()
    if row is None:
        raise NotFound(N_("no evidence %(evidence)s"), evidence=evidence_id)
    if hashlib.sha256(row["data"]).hexdigest() != row["sha256"]:
        audit(conn, user=user, action="evidence.hash_mismatch", subject=f"evidence/{evidence_id}", details={})
        conn.commit()  # the alarm stays recorded although the request fails
        raise EvidenceCorrupt(N_("evidence %(evidence)s does not match its sha256: it was altered in storage"),
                              evidence=evidence_id)
    row["blurred"] = not user.sees_faces
    if user.sees_faces:
        audit(conn, user=user, action="evidence.view_unblurred", subject=f"evidence/{evidence_id}",
              details={"inspection": row["inspection_id"]})
    return row
