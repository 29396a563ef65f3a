"""The site file edited in place, for the admin pages: a camera's zones replaced, a camera added.

The file is read and written with ruamel.yaml's round trip, so comments, key order, flow style and
indentation survive; only the camera that changed is touched. A change is written to a temporary file
beside the site file, that file is validated as the whole site (`load_site`, the same pydantic tree the
service loads), and only then renamed over the site file: a save either leaves a valid file or changes
nothing. Each read carries the file's version (sha256 of its bytes); a save made from an older version
is refused, so two editors never overwrite each other unknowingly.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError
from ruamel.yaml.util import load_yaml_guess_indent

from core.config import SiteConfig, field_path, load_site
from core.errors import ConfigError
from core.redact import redact_text

__all__ = ["Problem", "SiteFile", "SiteFileConflict", "SiteFileInvalid", "file_version"]

COORDINATE_DIGITS = 4  # a 10,000th of the frame: finer than any camera's pixels
ZONE_KEYS = ("id", "kind", "window", "windows", "limit", "confidence", "polygon")  # the order keys are written in
_WRITE_LOCK = threading.Lock()  # one save at a time in this process; other processes meet the version check


@dataclass(frozen=True)
class Problem:
    where: str                     # the field path, items named by id: halls[h1].cameras[cam1].zones[q1].polygon
    message: str
    loc: tuple[int | str, ...]     # pydantic's location in the site tree


class SiteFileInvalid(ConfigError):
    """The change would make the site invalid; each problem names its field."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("; ".join(f"{p.where}: {p.message}" for p in problems))


class SiteFileConflict(ConfigError):
    """The file changed since the version the change was made from."""


def file_version(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class SiteFile:
    """One read of the site file: its round-trip tree, the version it was read at, and the dumper that
    writes it back in the file's own indentation."""

    path: Path
    tree: CommentedMap
    version: str
    _yaml: YAML

    @classmethod
    def read(cls, path: str | Path) -> SiteFile:
        path = Path(path)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read the site file: {exc.strerror}") from None
        text = data.decode("utf-8")
        yaml = YAML()
        yaml.preserve_quotes = True
        yaml.width = 4096  # never fold a long line the author wrote as one
        try:
            _, sequence_indent, offset = load_yaml_guess_indent(text)
            yaml.indent(mapping=offset or 2, sequence=sequence_indent or 2, offset=offset or 0)
            tree = yaml.load(text)
        except YAMLError as exc:
            raise ConfigError(f"{path}: the site file is not valid YAML: {exc}") from None
        if not isinstance(tree, CommentedMap):
            raise ConfigError(f"{path}: the site file is not a mapping")
        return cls(path, tree, file_version(data), yaml)

    # -- reading --------------------------------------------------------------------------------------

    def camera(self, hall_id: str, camera_id: str) -> CommentedMap:
        cameras = self._hall(hall_id).get("cameras")
        for camera in cameras if isinstance(cameras, list) else []:
            if isinstance(camera, Mapping) and camera.get("id") == camera_id:
                return camera  # type: ignore[return-value]
        raise ConfigError(f"no camera {hall_id}/{camera_id} in the site file")

    def _hall(self, hall_id: str) -> CommentedMap:
        halls = self.tree.get("halls")
        for hall in halls if isinstance(halls, list) else []:
            if isinstance(hall, Mapping) and hall.get("id") == hall_id:
                return hall  # type: ignore[return-value]
        raise ConfigError(f"no hall {hall_id} in the site file")

    # -- changing -------------------------------------------------------------------------------------

    def set_zones(self, hall_id: str, camera_id: str, zones: Sequence[Mapping[str, Any]]) -> None:
        """Replace the camera's zones. A zone that keeps its id keeps its place in the file's tree
        (and the comments on it); new zones are written in flow style, as the example site does."""
        camera = self.camera(hall_id, camera_id)
        old = camera.get("zones")
        by_id = {z.get("id"): z for z in old if isinstance(z, CommentedMap)} if isinstance(old, list) else {}
        items = [_update_zone(by_id.get(zone.get("id")), zone) for zone in zones]
        if isinstance(old, CommentedSeq):
            comments = {id(item): old.ca.items.get(i) for i, item in enumerate(old)}
            old.ca.items.clear()
            old[:] = items
            for i, item in enumerate(items):  # a comment follows its zone to the zone's new place
                if comments.get(id(item)) is not None:
                    old.ca.items[i] = comments[id(item)]
        else:
            camera["zones"] = CommentedSeq(items)

    def add_camera(self, hall_id: str, camera: Mapping[str, Any]) -> None:
        """Append a camera (id, name, url, analysis_fps, ...) with no zones yet to the hall."""
        hall = self._hall(hall_id)
        entry = CommentedMap((key, value) for key, value in camera.items() if value is not None)
        entry.setdefault("zones", _flow([]))
        cameras = hall.get("cameras")
        if isinstance(cameras, list):
            cameras.append(entry)
        else:
            hall["cameras"] = CommentedSeq([entry])

    # -- writing --------------------------------------------------------------------------------------

    def text(self) -> str:
        out = io.StringIO()
        self._yaml.dump(self.tree, out)
        return out.getvalue()

    def validate(self) -> SiteConfig:
        """The changed tree as the site, or SiteFileInvalid naming each field at fault."""
        raw = self._yaml.load(self.text())  # what the file will hold, not the tree as edited in memory
        try:
            return SiteConfig.model_validate(raw)
        except ValidationError as exc:
            raise SiteFileInvalid([Problem(field_path(raw, p["loc"]) or "(top level)", redact_text(p["msg"]),
                                           tuple(p["loc"])) for p in exc.errors()]) from None

    def save(self, *, expected_version: str | None = None) -> SiteConfig:
        """Write the changed file if it is a valid site and the file on disk is still at
        `expected_version` (default: the version read); returns the site as the file now says."""
        site = self.validate()
        text = self.text()
        with _WRITE_LOCK:
            current = file_version(self.path.read_bytes())
            if current != (expected_version or self.version):
                raise SiteFileConflict(f"{self.path}: the site file was changed meanwhile; reload and edit again")
            mode = self.path.stat().st_mode & 0o777
            fd, temp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as f:
                    f.write(text)
                    f.flush()
                    os.fsync(f.fileno())
                os.chmod(temp, mode)
                site = load_site(temp)  # the bytes that go live, read back as the service reads them
                os.replace(temp, self.path)
            except BaseException:
                Path(temp).unlink(missing_ok=True)
                raise
            _fsync_dir(self.path.parent)
        self.version = file_version(text.encode("utf-8"))
        return site


def _update_zone(existing: CommentedMap | None, zone: Mapping[str, Any]) -> CommentedMap:
    """The zone as the file should hold it: the existing entry changed in place, or a new flow map."""
    values = {key: _plain(zone[key]) for key in ZONE_KEYS if zone.get(key) not in (None, [])}
    values.update({key: _plain(value) for key, value in zone.items() if key not in ZONE_KEYS})
    if "polygon" in values:
        values["polygon"] = _flow([_flow([round(float(c), COORDINATE_DIGITS) for c in point])
                                   for point in values["polygon"]])
    if "windows" in values:
        values["windows"] = _flow(list(values["windows"]))
    if existing is None:
        entry = CommentedMap(values.items())
        entry.fa.set_flow_style()
        return entry
    for key in [k for k in existing if k not in values]:
        del existing[key]
    for key, value in values.items():
        if key not in existing or not _same(existing[key], value):  # an unchanged value keeps how it was written
            existing[key] = value
    return existing


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _plain(value: Any) -> Any:
    """Enum members and tuples as YAML writes them: their values and lists."""
    if isinstance(value, str):
        return str(value)
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def _flow(items: Iterable[Any]) -> CommentedSeq:
    seq = CommentedSeq(items)
    seq.fa.set_flow_style()
    return seq


def _fsync_dir(path: Path) -> None:
    """Make the rename itself durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
