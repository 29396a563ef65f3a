"""Every page in both languages at desktop and phone size, in Chromium, on a database holding three days of the
demo's history (made by the live code paths, tools.demo_history): each page answers, runs without a script
error, speaks the language asked for, and is kept as a screenshot in artifacts/screenshots/pages/ so that a
reviewer sees every page as its users would. The pages are found by walking the app's routes, so a new page
is shot without anyone listing it. And the header's language switch, driven in the browser."""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.routing import APIRoute
from psycopg_pool import ConnectionPool

from monitor.app import route_modules
from tests.fix_auth import add_user, page_login
from tests.fix_db import new_database, site_pool
from tests.fix_sites import SITE
from tests.fix_web import ARTIFACTS, serving

SHOTS = ARTIFACTS / "screenshots" / "pages"
SIZES = {"desktop": {"width": 1366, "height": 768}, "phone": {"width": 390, "height": 844}}
LANGUAGES = {"zh_CN": "zh-CN", "en": "en"}
NOT_PAGES = {"/metrics", "/reports/monthly", "/login"}  # Prometheus text, a download; /login is where we start
HAN = re.compile(r"[\u4e00-\u9fff]")
NOW = datetime(2026, 12, 2, 11, 0, tzinfo=UTC)  # a Wednesday morning: halls open, queues


@pytest.fixture(scope="module")
def pool(pg_server: str) -> Iterator[ConnectionPool]:
    """A database of the module's own, as `pool` makes it, holding three days of history."""
    from tools.demo_history import seed_history

    with new_database(pg_server, prefix="shots") as dsn, site_pool(dsn, max_size=8) as pool:
        seed_history(pool, SITE, days=3, seed=7, now=NOW, live_hours=0.25)
        add_user(pool, "shots", "admin")
        yield pool


def pages() -> list[str]:
    found = []
    for name in route_modules():
        for route in importlib.import_module(name).router.routes:
            if isinstance(route, APIRoute) and "GET" in route.methods and not route.include_in_schema \
                    and route.path not in NOT_PAGES:
                found.append(route.path)
    return sorted(set(found))


def first_ids(pool: ConnectionPool) -> dict[str, str]:
    """Ids of records the history made, for the pages that show one record."""
    with pool.connection() as conn:
        def first(sql: str) -> str:
            row = conn.execute(sql).fetchone()
            assert row is not None, f"the history has nothing for {sql}"
            return str(row[0])
        return {"hall_id": "cc-nanguan", "city_id": "cc", "window_id": "w1", "camera_id": "cam1",
                "complaint_id": first("SELECT min(id) FROM complaint"),
                "inspection_id": first("SELECT min(id) FROM inspection"),
                "case_id": first("SELECT min(id) FROM work_case"),
                "officer_id": first("SELECT min(id) FROM officer")}


def test_every_page_in_both_languages_at_desktop_and_phone_size(pool: ConnectionPool, browser) -> None:
    from monitor.app import create_app

    ids = first_ids(pool)
    paths = [re.sub(r"{(\w+)}", lambda m: ids[m[1]], p) for p in pages()]
    assert len(paths) >= 30, paths  # the walk really found the app's pages
    SHOTS.mkdir(parents=True, exist_ok=True)
    shot = 0
    with serving(create_app(SITE, pool)) as base:
        for language, html_lang in LANGUAGES.items():
            for size_name, size in SIZES.items():
                context = browser.new_context(viewport=size, locale=html_lang)
                context.add_cookies([{"name": "hw_lang", "value": language, "url": base}])
                page = context.new_page()
                errors: list[str] = []
                page.on("pageerror", lambda exc, errors=errors: errors.append(str(exc)))
                page_login(page, base, "/", "shots")
                for path in paths:
                    response = page.goto(base + path, wait_until="load")
                    assert response is not None and response.status == 200, (path, response and response.status)
                    page.wait_for_load_state("networkidle")
                    board = path.startswith("/board/")  # a hall's public board: always Chinese with English beside it
                    assert page.get_attribute("html", "lang") == ("zh-CN" if board else html_lang), path
                    # The navigation's links are the catalogue's (the rest of a page may hold names from the site
                    # file, and the language switch names each language in its own).
                    links = page.locator(".topnav a")
                    words = " ".join(links.all_inner_texts()) if links.count() else page.inner_text("body")
                    if language == "zh_CN" or board:
                        assert HAN.search(words), (path, words)
                    else:
                        assert not HAN.search(words), (path, words)
                    assert not errors, (language, size_name, path, errors)
                    name = path.strip("/").replace("/", "_") or "status"
                    page.screenshot(path=str(SHOTS / f"{name}.{language}.{size_name}.png"), full_page=True)
                    shot += 1
                context.close()
    assert shot == len(paths) * len(LANGUAGES) * len(SIZES)


def test_the_language_switch_in_the_header_changes_the_page_and_is_remembered(pool: ConnectionPool, browser) -> None:
    from monitor.app import create_app

    add_user(pool, "switcher", "center_operator")
    with serving(create_app(SITE, pool)) as base:  # the site's default is English (SITE)
        page = browser.new_page()
        page_login(page, base, "/alerts", "switcher")
        assert page.get_attribute("html", "lang") == "en" and "Alerts" in page.inner_text(".topnav")
        page.select_option("form.language select", "zh_CN")
        page.wait_for_function("document.documentElement.lang === 'zh-CN'")
        assert page.url == f"{base}/alerts" and "告警" in page.inner_text(".topnav")
        page.close()
        # Remembered for the user, not only in this browser: a new browser context signs in to Chinese.
        fresh = browser.new_context().new_page()
        page_login(fresh, base, "/alerts", "switcher")
        assert fresh.get_attribute("html", "lang") == "zh-CN"
        fresh.select_option("form.language select", "en")
        fresh.wait_for_function("document.documentElement.lang === 'en'")
        assert "Alerts" in fresh.inner_text(".topnav") and not HAN.search(" ".join(
            fresh.locator(".topnav a").all_inner_texts()))
