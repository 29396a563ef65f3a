"""The demo's login and history.

Login: on a database with no users, `hallwatch demo` creates an administrator with a random password and keeps
it in a file beside the database (readable by its owner only), so the demo opens with a login that works and no
password is ever built into the code.

History: a fresh demo database gets `--days` (default 30) of made-up history ending when the demo starts
(`tools.demo_history`), none with `--empty`, so every page has something to show. Seeding 30 days takes a few
minutes on two cores, so it runs in a process of its own (`history_in_background`), at a lower CPU priority,
beside the web app and the live pipeline: the web app is up at once, and the pages fill in as the history is
stored (trends and scorecards first, then records). The history ends where the live samples begin, so the two
never overlap; a database that already holds samples from before the start, or a history, gets none."""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import os
import secrets
import shutil
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from multiprocessing.process import BaseProcess
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

import psycopg
from psycopg_pool import ConnectionPool

from core.config import SiteConfig
from core.logs import setup_logging
from storage import open_database
from storage.auth.audit import audit
from storage.auth.model import Role, Scope
from storage.auth.users import count_users, create_user
from storage.samples import sync_site
from storage.server import default_data_dir

if TYPE_CHECKING:  # the history's code (OpenCV, the detector) is loaded when a history is seeded, not by `--help`
    from models import Detector
    from tools.demo_history import SeedReport

log = logging.getLogger(__name__)

DEMO_USER = "admin"
HISTORY_DAYS = 30
MAX_DAYS = 366
NICENESS = 10  # the history's process yields the CPU to the live wall and the web app
STOP_S = 30.0  # how long a stopping demo waits for the history's process to let go of the database


def demo_site_file(data_dir: Path | None, example: Path) -> Path:
    """The demo's own copy of the example site, in its data directory (made on the first start), so that the
    admins' zone editor changes the demo's cameras and never the repository's example."""
    path = (data_dir or default_data_dir()) / "site.yaml"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(example, path)
    return path


def demo_login(site: SiteConfig, data_dir: Path | None) -> tuple[str, Path | None]:
    """The demo user's name and the file that holds its password (None: the database already had
    users, which the demo leaves alone)."""
    folder = data_dir or default_data_dir()
    secret = folder / "demo-login.txt"
    with open_database(data_dir=data_dir) as db, db.pool.connection() as conn:
        if count_users(conn) > 0:
            return DEMO_USER, secret if secret.exists() else None
        sync_site(conn, site)
        password = secrets.token_urlsafe(12)
        user = create_user(conn, name=DEMO_USER, role=Role.admin, scope=Scope.parse("province"), password=password)
        audit(conn, user=None, action="user.create", subject=f"user/{user.id}",
              details={"name": user.name, "role": user.role.value, "scope": "province", "via": "demo"})
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(secret, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(f"{DEMO_USER}\n{password}\n")
    return DEMO_USER, secret


def add_history_args(parser: argparse.ArgumentParser) -> None:
    """`hallwatch demo`'s options for the history it starts with."""
    parser.add_argument("--days", type=_days, default=HISTORY_DAYS,
                        help="days of made-up history to start with, seeded in the background while the demo runs "
                             "(default: %(default)s; 0: none)")
    parser.add_argument("--empty", action="store_true", help="start with an empty database: no history")


def _days(text: str) -> int:
    try:
        days = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("give a whole number of days") from None
    if not 0 <= days <= MAX_DAYS:
        raise argparse.ArgumentTypeError(f"give 0 to {MAX_DAYS} days")
    return days


def seed_demo(pool: ConnectionPool, site: SiteConfig, *, days: int, seed: int, empty: bool = False,
              now: datetime | None = None, detector: Detector | None = None) -> SeedReport | None:
    """Seed `days` of history ending at `now` (default: this second) unless `empty` (or no days), the history is
    there already, or the database holds samples from before `now` (a demo that ran before: a history would
    overlap them; samples of the live pipeline started at `now` do not count). None when nothing was seeded."""
    from tools.demo_history import demo_seeded, seed_history

    if empty or days <= 0:
        return None
    end = now or datetime.now(UTC)
    with pool.connection() as conn:
        if demo_seeded(conn) or has_samples_before(conn, end):
            return None
    return seed_history(pool, site, days=days, seed=seed, now=end, detector=detector)


def has_samples_before(conn: psycopg.Connection, end: datetime) -> bool:
    row = conn.execute("SELECT EXISTS (SELECT 1 FROM desk_sample WHERE ts < %s)"
                       " OR EXISTS (SELECT 1 FROM camera_health WHERE ts < %s)", (end, end)).fetchone()
    return row == (True,)


def demo_history(site: SiteConfig, data_dir: Path | None, *, days: int, seed: int, end: datetime) -> None:
    """`hallwatch demo`'s history, in the demo's own database, reported in the log."""
    log.info("seeding %d days of demo history in the background; the pages fill in as it is stored", days)
    with open_database(data_dir=data_dir, pool_size=2) as db:
        report = seed_demo(db.pool, site, days=days, seed=seed, now=end)
    if report is None:
        log.info("the database has data already: no demo history added")
    else:
        log.info("demo history of %d days seeded in %.1f s (%s; marked as demo data)", report.days,
                 sum(report.seconds.values()), ", ".join(f"{k} {v:.0f} s" for k, v in report.seconds.items()))


@contextmanager
def history_in_background(site: SiteConfig, data_dir: Path | None, *, days: int, seed: int,
                          empty: bool) -> Iterator[BaseProcess | None]:
    """Seed the demo's history (`demo_history`, ending now) in a process of its own while the block runs, and
    stop it, if it is still at work, when the block ends: it lets go of the database and exits."""
    if empty or days <= 0:
        log.info("starting empty: no demo history")
        yield None
        return
    end = datetime.now(UTC).replace(microsecond=0)
    level = logging.getLevelName(logging.getLogger().getEffectiveLevel())
    process = multiprocessing.get_context("spawn").Process(
        target=_seed_in_process, args=(site, data_dir, days, seed, end, level, os.getpid()), name="demo-history")
    process.start()
    try:
        yield process
    finally:
        if process.is_alive():
            process.terminate()  # SIGTERM: it unwinds as from Ctrl-C, letting go of the embedded database
            process.join(STOP_S)
        if process.is_alive():
            log.warning("the demo history's process did not stop in %.0f s: killing it", STOP_S)
            process.kill()
        process.join()


def _seed_in_process(site: SiteConfig, data_dir: Path | None, days: int, seed: int, end: datetime,
                     level: str, parent: int) -> None:
    from hallwatch.service import PARENT_PID_ENV, die_with_parent

    setup_logging(level)
    signal.signal(signal.SIGTERM, _exit)
    os.environ[PARENT_PID_ENV] = str(parent)
    die_with_parent()  # a demo killed outright (SIGKILL) takes its history's process with it
    os.nice(NICENESS)
    try:
        demo_history(site, data_dir, days=days, seed=seed, end=end)
    except (KeyboardInterrupt, SystemExit):
        log.warning("demo history stopped before it was complete: the pages show what was stored")
    except Exception:
        log.exception("the demo history failed; the demo runs on without it")
        sys.exit(1)


def _exit(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)
