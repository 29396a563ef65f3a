"""The live wall for tests: the example site's first hall served by the RTSP simulator (a module's fixture;
the second hall's camera is dead), its database with a user of each kind the wall treats differently, the web
app on a real socket with an overlay hub, and what the wall promises about a camera's RTSP connections."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from psycopg_pool import ConnectionPool

from core.config import SiteConfig, load_site
from hallwatch.service import simulator_process
from monitor.app import create_app
from monitor.live import OverlayHub
from monitor.live.source import CameraSource
from storage.migrate import apply_migrations
from storage.samples import sync_site
from tests.fix_auth import add_user
from tests.fix_sites import free_port, site_with_port, write_site
from tests.fix_web import serving

FRAME_TICKS = 9000    # 90 kHz RTP clock at the simulator's 10 fps


@pytest.fixture(scope="module")
def live_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SiteConfig]:
    """The example site's first hall (two cameras) served by the simulator on a free port."""
    tmp = tmp_path_factory.mktemp("live-sim")
    raw = site_with_port(free_port())
    raw["halls"] = raw["halls"][:2]
    raw["halls"][1]["cameras"][0]["url"] = raw["halls"][0]["cameras"][0]["url"].replace("cc-nanguan-1", "nowhere")
    path = write_site(tmp / "site.yaml", raw)
    serving = dict(raw, halls=raw["halls"][:1])  # the second hall's camera is not served: a dead camera
    with simulator_process(write_site(tmp / "served.yaml", serving), tmp / "truth", seed=5):
        yield load_site(path)


@pytest.fixture
def live_pool(fresh_dsn: str, live_site: SiteConfig) -> Iterator[ConnectionPool]:
    """`live_site`'s database: an operator of the province, hall staff of cc-nanguan, a manager of cc-chaoyang."""
    with ConnectionPool(fresh_dsn, min_size=1, max_size=6) as pool:
        apply_migrations(pool)
        with pool.connection() as conn:
            sync_site(conn, live_site)
        for name, role, scope in [("operator", "center_operator", "province"),
                                  ("staff", "hall_staff", "hall/cc-nanguan"),
                                  ("chaoyang", "manager", "hall/cc-chaoyang")]:
            add_user(pool, name, role, scope)
        yield pool


@pytest.fixture
def live_served(live_pool: ConnectionPool, live_site: SiteConfig) -> Iterator[tuple[str, object]]:
    """The web app on a real socket: (base URL, app)."""
    app = create_app(live_site, live_pool)
    app.state.overlay_hub = OverlayHub()
    with serving(app) as url:
        yield url, app


def connection_stats(source: CameraSource) -> dict:
    return {"connects": source.connects, "drops": source.drops, "most_open": source.most_open,
            "open": source.open_connections, "error": source.error}


def one_connection_for_all_viewers(stats: dict) -> bool:
    """What the live wall promises about a camera's RTSP connections: never two open at once, and
    none per viewer: every connection after the first replaced one that failed (a read timeout on
    a starved box is one), so reconnects are allowed and extra viewers' connections are not."""
    return stats["most_open"] == 1 and stats["connects"] == stats["drops"] + 1
