"""Editing the site file in place (`core.config.sitefile`): comments, other cameras and the rest of the
file survive a change of one camera's zones; a change that would make the site invalid is refused with the
field named and leaves the file as it was; a save from an outdated read is refused."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from core.config import ZoneKind, load_site
from core.config.sitefile import SiteFile, SiteFileConflict, SiteFileInvalid
from core.errors import ConfigError
from tests.fix_sites import EXAMPLE_SITE

SITE_TEXT = """\
# The hall's cameras (a comment at the top)
province: {id: jl, name: Jilin}
cities: [{id: cc, name: Changchun}]
halls:
  - id: h1
    city: cc
    name: Hall one   # named after the street
    size: large
    flow: one_window_quick
    windows: [{id: w1, name: Window 1}, {id: w2, name: Window 2}]
    cameras:
      - id: cam1
        url: rtsp://viewer:${PROBE_TEST_PASSWORD}@127.0.0.1/x   # from the environment
        zones:
          - {id: d1, kind: desk, window: w1, polygon: [[0.1, 0.1], [0.3, 0.1], [0.3, 0.3]]}  # desk of window 1
          - {id: q1, kind: queue, polygon: [[0.1, 0.5], [0.3, 0.5], [0.3, 0.9]]}  # the long queue
      - id: cam2   # over the door
        url: rtsp://127.0.0.1/y
        zones:
          - {id: d2, kind: desk, window: w2, polygon: [[0.50, 0.10], [0.70, 0.10], [0.70, 0.30]]}
detector: {confidence: 0.1}   # tuned on site
"""
NEW_ZONES = [
    {"id": "q1", "kind": "queue", "window": "w1", "limit": 6,
     "polygon": [[0.1, 0.5], [0.41234567, 0.5], [0.4, 0.95], [0.1, 0.9]]},
    {"id": "d1", "kind": "desk", "window": "w1", "polygon": [[0.1, 0.1], [0.3, 0.1], [0.3, 0.3]]},
    {"id": "ss", "kind": ZoneKind.self_service, "polygon": [(0.6, 0.6), (0.9, 0.6), (0.9, 0.9), (0.6, 0.9)]},
]


@pytest.fixture
def site_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PROBE_TEST_PASSWORD", "s3cret")
    path = tmp_path / "site.yaml"
    path.write_text(SITE_TEXT)
    os.chmod(path, 0o640)
    return path


def test_unchanged_round_trip_is_byte_identical(site_file: Path) -> None:
    assert SiteFile.read(site_file).text() == SITE_TEXT
    assert SiteFile.read(EXAMPLE_SITE).text() == EXAMPLE_SITE.read_text()


def test_new_zones_keep_comments_and_other_cameras(site_file: Path) -> None:
    edit = SiteFile.read(site_file)
    edit.set_zones("h1", "cam1", NEW_ZONES)
    site = edit.save()
    text = site_file.read_text()
    lines = text.splitlines()
    # Everything but cam1's zones is as it was, comments and the ${VAR} reference included.
    before = SITE_TEXT.splitlines()
    assert lines[:14] == before[:14] and lines[17:] == before[16:]
    assert "url: rtsp://viewer:${PROBE_TEST_PASSWORD}@127.0.0.1/x   # from the environment" in text
    # A zone keeps its comment when it moves; new zones are flow maps; coordinates are rounded.
    assert lines[14].strip().startswith("- {id: q1, kind: queue, polygon: [[0.1, 0.5], [0.4123, 0.5]")
    assert lines[14].endswith("# the long queue") and "window: w1" in lines[14] and "limit: 6" in lines[14]
    assert lines[15].endswith("# desk of window 1")
    assert lines[16].strip() == \
        "- {id: ss, kind: self_service, polygon: [[0.6, 0.6], [0.9, 0.6], [0.9, 0.9], [0.6, 0.9]]}"
    # The file is what the service loads, and what save() returned.
    assert load_site(site_file) == site
    hall, camera = site.find_camera("h1/cam1")
    assert [z.id for z in camera.zones] == ["q1", "d1", "ss"]
    assert camera.zones[0].polygon[1] == (0.4123, 0.5) and camera.zones[0].limit == 6
    assert site.find_camera("h1/cam2")[1] == load_site(site_file).find_camera("h1/cam2")[1]
    assert os.stat(site_file).st_mode & 0o777 == 0o640
    assert sorted(p.name for p in site_file.parent.iterdir()) == ["site.yaml"]  # no temporary file left


@pytest.mark.parametrize(("zones", "field", "message"), [
    ([{"id": "q1", "kind": "queue", "polygon": [[0.1, 0.5], [1.3, 0.5], [0.3, 0.9]]}],
     "halls[h1].cameras[cam1].zones[q1].polygon[1][0]", "less than or equal to 1"),
    ([{"id": "q1", "kind": "queue", "polygon": [[0.1, 0.5], [0.3, 0.5]]}],
     "halls[h1].cameras[cam1].zones[q1].polygon", "at least 3"),
    ([{"id": "q1", "kind": "queue", "polygon": [[0.1, 0.1], [0.2, 0.2], [0.3, 0.3]]}],
     "halls[h1].cameras[cam1].zones[q1].polygon", "no area"),
    ([{"id": "d9", "kind": "desk", "polygon": [[0.1, 0.1], [0.3, 0.1], [0.3, 0.3]]}],
     "halls[h1].cameras[cam1].zones[d9]", "needs `window`"),
    ([{"id": "d9", "kind": "desk", "window": "w2", "polygon": [[0.1, 0.1], [0.3, 0.1], [0.3, 0.3]]}],
     "halls[h1]", "one desk zone per window"),
    ([{"id": "q1", "kind": "queue", "window": "w7", "polygon": [[0.1, 0.1], [0.3, 0.1], [0.3, 0.3]]}],
     "halls[h1]", "window 'w7' is not one of"),
    ([{"id": "Bad Id", "kind": "queue", "polygon": [[0.1, 0.1], [0.3, 0.1], [0.3, 0.3]]}],
     "halls[h1].cameras[cam1].zones[Bad Id].id", "pattern"),
])
def test_invalid_zones_are_refused_and_the_file_is_unchanged(site_file: Path, zones: list[dict], field: str,
                                                             message: str) -> None:
    edit = SiteFile.read(site_file)
    edit.set_zones("h1", "cam1", zones)
    with pytest.raises(SiteFileInvalid) as refused:
        edit.save()
    assert any(p.where == field and message in p.message for p in refused.value.problems), \
        refused.value.problems
    assert site_file.read_text() == SITE_TEXT
    assert "s3cret" not in str(refused.value)


def test_a_save_from_an_outdated_read_is_refused(site_file: Path) -> None:
    first, second = SiteFile.read(site_file), SiteFile.read(site_file)
    first.set_zones("h1", "cam1", NEW_ZONES)
    first.save()
    second.set_zones("h1", "cam1", NEW_ZONES[:1])
    with pytest.raises(SiteFileConflict):
        second.save()
    assert [z.id for z in load_site(site_file).find_camera("h1/cam1")[1].zones] == ["q1", "d1", "ss"]


def test_add_camera_appends_it_to_its_hall(site_file: Path) -> None:
    edit = SiteFile.read(site_file)
    edit.add_camera("h1", {"id": "cam3", "name": "Self-service corner", "url": "rtsp://u:p@10.0.0.9/main",
                           "analysis_fps": 1.0, "detect_url": None})
    site = edit.save()
    assert [c.id for c in site.halls[0].cameras] == ["cam1", "cam2", "cam3"]
    assert site_file.read_text().startswith(SITE_TEXT.split("detector:")[0])
    with pytest.raises(SiteFileInvalid, match=r"halls\[h1\]: .*duplicate id 'cam3'"):
        edit.add_camera("h1", {"id": "cam3", "url": "rtsp://10.0.0.10/main"})
        edit.save()


def test_unknown_hall_or_camera_is_an_error(site_file: Path) -> None:
    edit = SiteFile.read(site_file)
    with pytest.raises(ConfigError, match="no camera h1/cam9"):
        edit.set_zones("h1", "cam9", [])
    with pytest.raises(ConfigError, match="no hall h9"):
        edit.add_camera("h9", {"id": "cam1", "url": "rtsp://x/y"})
