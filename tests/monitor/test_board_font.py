"""The public board's Chinese font: the subset the app ships (monitor/static/fonts, made by
scripts/make-font-subset.py) holds every character the catalogue and the board can show, and in headless Chromium
the board loads it from the app and draws its Chinese and Latin text with it, not with a font of the machine.
Screenshots of the board of a hall named in Chinese and of one named in English go to artifacts/screenshots/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from fontTools.ttLib import TTFont
from psycopg_pool import ConnectionPool

from core.config import SiteConfig
from monitor.app import create_app
from tests.fix_records import desk, roster_now
from tests.fix_sites import REPO, SITE
from tests.fix_web import ARTIFACTS, serving

FONTS = REPO / "monitor" / "static" / "fonts"
WOFF2 = FONTS / "NotoSansSC-hallwatch.woff2"
TTF = FONTS / "NotoSansSC-hallwatch.ttf"
FAMILY = "Noto Sans SC Hallwatch"
FONT_URL = "/static/fonts/NotoSansSC-hallwatch.woff2"
CATALOGUE = REPO / "monitor" / "locale" / "zh_CN" / "LC_MESSAGES" / "messages.po"
BOARD_FILES = [REPO / "monitor" / "templates" / "board.html", REPO / "monitor" / "static" / "dashboard" / "board.js",
               REPO / "monitor" / "static" / "texts.js"]
MAX_BYTES = 2_500_000
REMAKE = "run scripts/make-font-subset.py (monitor/static/fonts/SOURCE.md) to add them"


def cmap(path: Path) -> set[str]:
    return {chr(code) for code in TTFont(path).getBestCmap()}


def catalogue_characters() -> set[str]:
    with CATALOGUE.open("rb") as f:
        catalogue = read_po(f, locale="zh_CN")
    texts: list[str | None] = []
    for message in catalogue:
        for part in (message.id, message.string):  # a plural message holds a tuple of forms
            texts.extend(part if isinstance(part, tuple | list) else [part])
    return {c for text in texts if text for c in text}


def drawn(chars: set[str]) -> set[str]:
    """The characters a font must draw: not spaces or control characters."""
    return {c for c in chars if c.isprintable() and not c.isspace()}


def gb2312_level_1() -> set[str]:
    return {bytes([0xA0 + row, 0xA0 + cell]).decode("gb2312")
            for row in range(16, 56) for cell in range(1, 95) if (row, cell) < (55, 90)}


# -- the files


@pytest.mark.parametrize("path", [WOFF2, TTF], ids=["woff2", "ttf"])
def test_subset_draws_every_character_of_the_catalogue_and_the_board(path: Path) -> None:
    have = cmap(path)
    wanted = drawn(catalogue_characters() | {c for f in BOARD_FILES for c in f.read_text(encoding="utf-8")})
    assert len(wanted) > 500  # the catalogue was read: hundreds of distinct hanzi
    missing = sorted(wanted - have)
    assert not missing, f"{path.name} lacks {''.join(missing)!r}: {REMAKE}"


def test_subset_has_the_common_hanzi_ascii_and_cjk_punctuation() -> None:
    have = cmap(TTF)
    level_1 = gb2312_level_1()
    assert len(level_1) == 3755
    assert not sorted(level_1 - have)
    assert {chr(c) for c in range(0x21, 0x7F)} <= have
    assert set("，。、：；！？（）《》【】“”‘’—…·￥") <= have
    assert cmap(WOFF2) == have  # one subset in two formats


def test_fonts_are_small_truetype_and_openly_licensed() -> None:
    ttf, woff2 = TTFont(TTF), TTFont(WOFF2)
    assert "glyf" in ttf and "CFF " not in ttf  # ReportLab embeds TrueType outlines only
    assert woff2.flavor == "woff2"
    for font in (ttf, woff2):
        names = font["name"]
        assert names.getDebugName(1) == FAMILY
        assert "SIL Open Font License" in (names.getDebugName(13) or "")
        assert font["OS/2"].fsType == 0  # installable: may be embedded in pages and PDFs
    for path in (TTF, WOFF2):
        assert path.stat().st_size < MAX_BYTES, (path.name, path.stat().st_size)
    licence = (FONTS / "OFL.txt").read_text(encoding="utf-8")
    assert "SIL OPEN FONT LICENSE Version 1.1" in licence
    assert (ttf["name"].getDebugName(0) or "unset") in licence  # the upstream copyright notice travels with it
    source = (FONTS / "SOURCE.md").read_text(encoding="utf-8")
    assert "fonts-noto-cjk" in source and "scripts/make-font-subset.py" in source


# -- in Chromium


def chinese_site() -> SiteConfig:
    """The example site with Chaoyang's hall and windows named in Chinese, as a Chinese province names them."""
    halls = []
    for hall in SITE.halls:
        if hall.id == "cc-chaoyang":
            windows = [w.model_copy(update={"name": f"{n}号窗口"}) for n, w in enumerate(hall.windows, 1)]
            hall = hall.model_copy(update={"name": "朝阳区出入境服务大厅", "windows": windows})
        halls.append(hall)
    return SITE.model_copy(update={"halls": halls})


BOARDS = {  # viewer's language: the site, and the officers rostered at w1 and w2
    "zh_CN": (chinese_site(), ("李伟", "王芳")),
    "en": (SITE, ("Li Wei", "Wang Fang")),
}


@pytest.fixture(params=list(BOARDS))
def board(request: pytest.FixtureRequest, pool: ConnectionPool) -> Iterator[tuple[str, str, tuple[str, str]]]:
    """Chaoyang's board served with one officer at a staffed window and one at an empty one: (viewer's
    language, base URL, officers)."""
    site, officers = BOARDS[request.param]
    roster_now(pool, "cc-chaoyang", "w1", "JL0001", officers[0])
    roster_now(pool, "cc-chaoyang", "w2", "JL0002", officers[1])
    desk(pool, "cc-chaoyang", "w1", "present")
    desk(pool, "cc-chaoyang", "w2", "absent")
    with serving(create_app(site, pool)) as url:
        yield request.param, url, officers


def platform_fonts(cdp, selector: str) -> list[dict]:
    """The fonts Chromium drew the text of the element at `selector` with (CDP CSS.getPlatformFontsForNode)."""
    root = cdp.send("DOM.getDocument", {"depth": 0})["root"]["nodeId"]
    node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
    assert node, selector
    fonts: list[dict] = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
    return fonts


def test_board_draws_its_text_with_the_font_served_by_the_app(board, browser) -> None:
    lang, served, officers = board
    context = browser.new_context(viewport={"width": 1920, "height": 1080})
    context.add_cookies([{"name": "hw_lang", "value": lang, "url": served}])
    page = context.new_page()
    responses = []
    page.on("response", lambda r: responses.append((r.url, r.status, r.headers.get("content-type"))))
    # Hold the board's polls, so the windows drawn by the server stay the nodes measured below (board.js
    # redraws them every 2 s; test_dashboard_web covers the redrawing).
    held = []
    page.route("**/api/v1/board/**", lambda route: held.append(route))
    page.goto(served + "/board/cc-chaoyang")
    loaded = page.evaluate("""() => document.fonts.ready.then(() =>
        [...document.fonts].map(f => ({family: f.family.replace(/"/g, ""), status: f.status})))""")
    assert {"family": FAMILY, "status": "loaded"} in loaded, loaded
    fonts = [(url, status, kind) for url, status, kind in responses if "/fonts/" in url]
    assert fonts == [(served + FONT_URL, 200, "font/woff2")], responses  # from the app, once, and nothing else

    text = page.locator("body").inner_text()
    assert "在岗" in text and "On duty" in text and officers[0] in text  # bilingual, whatever the viewer's language
    cdp = context.new_cdp_session(page)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    measured = {}
    for selector in ("h1", '[data-window="w1"] .window-name', '[data-window="w1"] .officer',
                     '[data-window="w1"] .duty', '[data-window="w2"] .duty', "#connection"):
        used = platform_fonts(cdp, selector)
        measured[selector] = used
        assert used, selector
        assert all(f["isCustomFont"] and f["familyName"] == FAMILY for f in used), (selector, used)
    # Chinese was among what it drew: the staffed window's state reads "在岗 Staffed", every glyph from that font.
    assert "在岗" in page.locator('[data-window="w1"] .duty').inner_text()
    assert sum(f["glyphCount"] for f in measured['[data-window="w1"] .duty']) >= len("在岗Staffed")
    # A family nobody has would fall back to the machine's fonts: the board's must not be one of those.
    page.evaluate("""() => {
        const probe = document.createElement("span");
        probe.id = "probe";
        probe.style.fontFamily = '"No Such Font Hallwatch", sans-serif';
        probe.textContent = "在岗公示";
        document.body.append(probe);
    }""")
    assert not any(f["isCustomFont"] for f in platform_fonts(cdp, "#probe"))
    page.evaluate("() => document.getElementById('probe').remove()")

    ARTIFACTS.joinpath("screenshots").mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "screenshots" / f"board-font-{lang}.png"), full_page=True)
    for route in held:
        route.abort()
    context.close()
