"""An alert from the camera simulator, end to end: a scripted desk empties while people wait, and the
alert for exactly that window shows up on the /alerts page already open in headless Chromium.

Real parts all the way: the GStreamer RTSP simulator (a child process) playing a story in a loop
(desk w1 staffed 12 s, then empty 16 s; w2 staffed throughout; three people in the queue q1 both
windows serve), the pipeline (reader, ONNX detector, analytics, sample writer) as `hallwatch run` builds
it, a real PostgreSQL, the web app on a socket, and Chromium polling /alerts.

What is checked, and why these bounds hold on any load: a frame's capture time is when the pipeline
received it, never before the simulator pushed it, and the simulator's truth file says when that was.
So the alert must start inside a span in which the script had w1 empty, and end (officer back) inside
the staffed span that follows. Window w2 sees the same people waiting all along and must get no
unstaffed alert; that the pipeline saw w2 staffed with people waiting is checked too, so that absence
means something. Screenshots: artifacts/alerts-e2e-*.png.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from psycopg_pool import ConnectionPool

from analytics.camera import CameraResult
from analytics.presence import DeskState
from core.config import load_site
from hallwatch.service import simulator_process, web_detector_config
from models import load_detector
from monitor.app import create_app
from pipeline.loop import Pipeline
from storage.migrate import apply_migrations
from storage.records.alerts import AlertKey
from storage.samples import sync_site
from storage.writer import SampleWriter
from tests.fix_auth import add_user, page_login
from tests.fix_sites import free_port, site_with_port, write_site
from tests.fix_web import ARTIFACTS, serving
from tools.simulator import load_truth
from tools.simulator.truth import truth_path

pytestmark = pytest.mark.slow

HALL, CAMERA = "cc-nanguan", "cam1"
STAFFED_S, EMPTY_S = 12.0, 16.0
WAITING = 3
STORY = {"cameras": {f"{HALL}/{CAMERA}": [
    {"for_s": STAFFED_S, "desks": {"w1": True, "w2": True}, "queues": {"q1": WAITING}, "self_service": {"ss": 0}},
    {"for_s": EMPTY_S, "desks": {"w1": False, "w2": True}, "queues": {"q1": WAITING}, "self_service": {"ss": 0}},
]}}
# An absent desk (unseen for 4 s) with at least 2 of the 3 people waiting for 3 s opens the alert; it
# closes 3 s after the officer is back. Both fit well inside the scripted spans.
EVENTS = {"unstaffed_people": 2, "unstaffed_after_s": 3.0, "clear_after_s": 3.0}
LIVE_TIMEOUT_S = 90.0          # simulator up, detector loaded, both officers seen
ALERT_TIMEOUT_MS = 120_000     # at most ~1.5 story loops
ENDED_TIMEOUT_MS = 60_000
UNSTAFFED = f"{HALL}:unstaffed_while_waiting"


@dataclass(frozen=True)
class Span:
    start: float
    end: float  # inf: still going when the truth file was read


def scripted_site(tmp: Path) -> Path:
    """The example's first hall with its camera of windows 1 and 2 only, on a free port."""
    raw = site_with_port(free_port())
    hall = raw["halls"][0]
    hall["windows"] = [w for w in hall["windows"] if w["id"] in ("w1", "w2")]
    hall["cameras"] = [c for c in hall["cameras"] if c["id"] == CAMERA]
    raw["halls"] = [hall]
    raw["cities"] = [c for c in raw["cities"] if c["id"] == hall["city"]]
    raw["analytics"] = {"events": EVENTS}
    return write_site(tmp / "site.yaml", raw)


@pytest.fixture
def pipeline_live(tmp_path: Path, fresh_dsn: str) -> Iterator[dict]:
    """Simulator, pipeline and web app running; yields once the pipeline has seen both officers."""
    site_path = scripted_site(tmp_path)
    site = load_site(site_path)
    story = tmp_path / "story.yaml"
    story.write_text(yaml.safe_dump(STORY, sort_keys=False))
    truth_dir = tmp_path / "truth"
    staffed = threading.Event()

    def on_result(hall_id: str, camera_id: str, result: CameraResult, *_: object) -> None:
        if all(r.state is DeskState.present for r in result.desks.values()) and len(result.desks) == 2:
            staffed.set()

    with ConnectionPool(fresh_dsn, min_size=1, max_size=6) as pool:
        apply_migrations(pool)
        with pool.connection() as conn:
            sync_site(conn, site)
        add_user(pool, "op", "center_operator")
        detector = load_detector(web_detector_config(site.detector))
        with simulator_process(site_path, truth_dir, seed=11, story=story):
            writer = SampleWriter(pool, spool_dir=tmp_path / "spool").start()
            pipeline = Pipeline(site, detector, writer.put, on_result=on_result)
            stop = threading.Event()
            worker = threading.Thread(target=pipeline.run, args=(stop,), name="pipeline", daemon=True)
            worker.start()
            try:
                with serving(create_app(site, pool)) as base:
                    assert staffed.wait(LIVE_TIMEOUT_S), "the pipeline never saw both officers at their desks"
                    yield {"pool": pool, "base": base, "live_at": time.time(),
                           "truth": truth_path(truth_dir, HALL, CAMERA)}
            finally:
                stop.set()
                worker.join(15)
                writer.close()


def spans(path: Path, window: str, *, staffed: bool) -> list[Span]:
    """When the script had `window` staffed (or not), by the simulator's wall clock."""
    changes = load_truth(path)
    out: list[Span] = []
    for change, following in zip(changes, [*changes[1:], None], strict=True):
        if change.truth.desks[window] is staffed:
            end = following.ts if following is not None else float("inf")
            if out and out[-1].end == change.ts:
                out[-1] = Span(out[-1].start, end)
            else:
                out.append(Span(change.ts, end))
    return out


def containing(found: list[Span], ts: float) -> Span | None:
    return next((s for s in found if s.start <= ts < s.end), None)


def epoch(value: datetime) -> float:
    return value.astimezone(UTC).timestamp()


def test_an_emptied_desk_raises_the_alert_for_exactly_that_window(pipeline_live: dict, browser) -> None:
    base, pool, live_at = pipeline_live["base"], pipeline_live["pool"], pipeline_live["live_at"]
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page_login(page, base, "/alerts", "op")
    page.wait_for_selector("#alerts-page[data-updated]")
    page.evaluate("window.notReloaded = true")

    row = page.locator(f'tr[data-alert^="{UNSTAFFED}:w1:"]').first
    row.wait_for(timeout=ALERT_TIMEOUT_MS)
    seen_at = time.time()
    alert_id = str(row.get_attribute("data-alert"))
    assert "Window unstaffed while people wait" in row.inner_text() and "w1 (camera cam1)" in row.inner_text()
    assert "open" in row.locator(".state").inner_text()
    assert page.evaluate("window.notReloaded") is True
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "alerts-e2e-open.png"), full_page=True)

    started = epoch(AlertKey.parse(alert_id).started_at)
    empty = containing(spans(pipeline_live["truth"], "w1", staffed=False), started)
    assert empty is not None, (alert_id, spans(pipeline_live["truth"], "w1", staffed=False))

    # The officer comes back: the same row turns to ended, still without a reload.
    page.locator(f'tr[data-alert="{alert_id}"].closed').wait_for(timeout=ENDED_TIMEOUT_MS)
    assert page.evaluate("window.notReloaded") is True
    page.screenshot(path=str(ARTIFACTS / "alerts-e2e-ended.png"), full_page=True)
    truth = pipeline_live["truth"]
    with pool.connection() as conn:
        ended = conn.execute("SELECT ended_at FROM event_close WHERE event_ref(hall_id, kind, subject, ts) = %s",
                             (alert_id,)).fetchone()
        details = conn.execute("SELECT details FROM event_open WHERE event_ref(hall_id, kind, subject, ts) = %s",
                               (alert_id,)).fetchone()
        unstaffed = conn.execute("SELECT subject, ts FROM event_open WHERE kind = 'unstaffed_while_waiting'"
                                 " ORDER BY ts").fetchall()
        w2_states = dict(conn.execute("SELECT state, count(*) FROM desk_sample WHERE window_id = 'w2'"
                                      " AND ts >= to_timestamp(%s) GROUP BY state", (live_at,)).fetchall())
        waiting = conn.execute("SELECT count(*) FROM zone_sample WHERE zone_id = 'q1' AND people >= %s"
                               " AND ts >= to_timestamp(%s)", (EVENTS["unstaffed_people"], live_at)).fetchone()
    assert ended is not None and details is not None and waiting is not None
    empty = containing(spans(truth, "w1", staffed=False), started)  # read again: now it has an end
    back = containing(spans(truth, "w1", staffed=True), epoch(ended[0]))
    assert empty is not None and back is not None and back.start == empty.end, (ended, spans(truth, "w1", staffed=True))
    assert details[0]["waiting"] >= EVENTS["unstaffed_people"]

    # Every unstaffed alert is about w1 and began while the script had w1 empty; w2 never got one,
    # though the pipeline saw it staffed with people waiting in front of it the whole time.
    assert [s for s, _ in unstaffed] == ["w1"] * len(unstaffed), unstaffed
    empties = spans(truth, "w1", staffed=False)
    assert all(containing(empties, epoch(ts)) for _, ts in unstaffed), (unstaffed, empties)
    assert page.locator(f'tr[data-alert^="{UNSTAFFED}:w2:"]').count() == 0
    assert w2_states.get("present", 0) >= 10 and waiting[0] >= 10, (w2_states, waiting)
    (ARTIFACTS / "alerts-e2e.json").write_text(json.dumps({
        "alert_started_after_desk_emptied_s": round(started - empty.start, 2),
        "alert_on_page_after_desk_emptied_s": round(seen_at - empty.start, 2),
        "alert_ended_after_officer_back_s": round(epoch(ended[0]) - empty.end, 2),
        "w2_desk_samples": w2_states, "q1_samples_with_people_waiting": waiting[0],
    }, indent=2))
