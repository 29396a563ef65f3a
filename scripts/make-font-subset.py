#!/usr/bin/env python3
"""Make the board's Chinese font: a subset of Noto Sans CJK SC Regular (SIL OFL 1.1) from Debian's
fonts-noto-cjk, committed to the repository so that a hall's display renders Chinese without fonts of its own.

Writes, under monitor/static/fonts/:
- NotoSansSC-hallwatch.woff2: for the web (CFF outlines, as upstream draws them);
- NotoSansSC-hallwatch.ttf: the same glyphs as TrueType outlines (glyf), converted from CFF with fontTools' cu2qu
  as fontTools' `Snippets/otf2ttf.py` does, because ReportLab embeds only TrueType;
- OFL.txt (the licence, from Debian's copyright file, with the font's notices) and SOURCE.md (where from, how made).
The same inputs make the same font bytes.

The characters: ASCII, Latin-1, general punctuation, GB2312's symbol rows 1-2, CJK symbols and punctuation,
full-width forms, GB2312 level 1 (the 3,755 common hanzi, rows 16-55), and every character of the Chinese
catalogue (monitor/locale/zh_CN/LC_MESSAGES/messages.po), the board's own files and the example site files.
Run it again after the catalogue gains a character outside that set (tests/monitor/test_board_font.py fails
and names it). A dev tool, not a run-time dependency:

    apt-get install fonts-noto-cjk
    .venv/bin/python -m pip install fonttools brotli
    .venv/bin/python scripts/make-font-subset.py
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from fontTools import subset
from fontTools.pens.cu2quPen import Cu2QuPen
from fontTools.pens.ttGlyphPen import TTGlyphPen
from fontTools.ttLib import TTCollection, TTFont, newTable

REPO = Path(__file__).resolve().parent.parent
FONTS = REPO / "monitor" / "static" / "fonts"
SOURCE = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
SOURCE_FAMILY = "Noto Sans CJK SC"
PACKAGE = "fonts-noto-cjk"
COPYRIGHT_FILE = Path(f"/usr/share/doc/{PACKAGE}/copyright")
FAMILY = "Noto Sans SC Hallwatch"   # its own name: never taken for an installed Noto Sans CJK SC, nor it for this
POSTSCRIPT = "NotoSansSC-Hallwatch-Regular"
STEM = "NotoSansSC-hallwatch"
TEXT_FILES = ("monitor/locale/zh_CN/LC_MESSAGES/messages.po", "monitor/templates/board.html",
              "monitor/static/dashboard/board.js", "monitor/static/texts.js")
TEXT_GLOBS = ("examples/*.yaml",)
# As fontTools' Snippets/otf2ttf.py: 1 unit of tolerance (of 1000 per em), outer contours clockwise.
MAX_ERR = 1.0
REVERSE_DIRECTION = True
POST_FORMAT = 2.0


def gb2312_rows(first: int, last: int) -> set[str]:
    """The characters of GB2312 rows `first`..`last` (EUC-CN bytes 0xA0+row, 0xA1..0xFE), from Python's codec."""
    chars = set()
    for row in range(first, last + 1):
        for cell in range(1, 95):
            try:
                chars.add(bytes([0xA0 + row, 0xA0 + cell]).decode("gb2312"))
            except UnicodeDecodeError:
                continue  # an unassigned cell (row 55 ends at 89; the symbol rows have gaps)
    return chars


def range_characters() -> set[str]:
    """The blocks taken whole, as far as the font has them."""
    chars = {chr(c) for c in range(0x20, 0x7F)}                  # ASCII
    chars |= {chr(c) for c in range(0xA0, 0x100)}                # Latin-1: ·, ×, ÷, °, ©
    chars |= {chr(c) for c in range(0x2010, 0x2040)}             # general punctuation: — … ‘ ’ “ ” ‰ ※
    chars |= {chr(c) for c in range(0x3000, 0x3040)}             # CJK symbols and punctuation: 、。《》【】
    chars |= {chr(c) for c in range(0xFF01, 0xFF5F)}             # full-width forms: ，：（）！？
    chars |= {chr(c) for c in range(0xFFE0, 0xFFE7)}             # full-width ￥ ￡ ￠
    return chars


def required_characters() -> set[str]:
    """The characters the subset must have: GB2312's symbols (rows 1-2: №, ℃, arrows, ①, Ⅰ) and level-1 hanzi,
    and every character of the catalogue, the board's files and the example sites."""
    hanzi = gb2312_rows(16, 55)
    if len(hanzi) != 3755:
        raise SystemExit(f"GB2312 level 1 should have 3755 hanzi, Python's codec gave {len(hanzi)}")
    chars = hanzi | gb2312_rows(1, 2)
    paths = [REPO / name for name in TEXT_FILES] + [p for pattern in TEXT_GLOBS for p in sorted(REPO.glob(pattern))]
    for path in paths:
        chars |= set(path.read_text(encoding="utf-8"))
    return {c for c in chars if c.isprintable() and not c.isspace()}


def source_font(path: Path) -> TTFont:
    """The Simplified Chinese face of the collection."""
    if path.suffix.lower() in (".ttc", ".otc"):
        for font in TTCollection(path).fonts:
            if font["name"].getDebugName(1) == SOURCE_FAMILY:
                return font
        raise SystemExit(f"{path} holds no face named {SOURCE_FAMILY!r}")
    return TTFont(path)


def rename(font: TTFont) -> None:
    """Family "Noto Sans SC Hallwatch", Regular; the copyright, licence and trademark records stay as they were."""
    version = font["name"].getDebugName(5) or ""
    records = {1: FAMILY, 2: "Regular", 3: f"{POSTSCRIPT};{version}", 4: f"{FAMILY} Regular", 6: POSTSCRIPT,
               16: FAMILY, 17: "Regular"}
    name = font["name"]
    name.names = [r for r in name.names if r.nameID not in records]
    for name_id, text in records.items():
        name.setName(text, name_id, 3, 1, 0x409)
        name.setName(text, name_id, 1, 0, 0)
    if "CFF " in font:
        cff = font["CFF "].cff
        cff.fontNames = [POSTSCRIPT]
        top = cff.topDictIndex[0]
        for key, value in (("FullName", f"{FAMILY} Regular"), ("FamilyName", FAMILY), ("CIDFontName", POSTSCRIPT)):
            if hasattr(top, key):
                setattr(top, key, value)


def glyphs_to_quadratic(font: TTFont) -> dict[str, object]:
    glyph_set = font.getGlyphSet()
    quadratic = {}
    for name in font.getGlyphOrder():
        tt_pen = TTGlyphPen(glyph_set)
        glyph_set[name].draw(Cu2QuPen(tt_pen, MAX_ERR, reverse_direction=REVERSE_DIRECTION))
        quadratic[name] = tt_pen.glyph()
    return quadratic


def otf_to_ttf(font: TTFont) -> None:
    """CFF outlines to TrueType quadratic ones, in place: fontTools' Snippets/otf2ttf.py."""
    if font.sfntVersion != "OTTO" or "CFF " not in font:
        raise SystemExit("the source is not an OpenType/CFF font")
    order = font.getGlyphOrder()
    font["loca"] = newTable("loca")
    font["glyf"] = glyf = newTable("glyf")
    glyf.glyphOrder = order
    glyf.glyphs = glyphs_to_quadratic(font)
    del font["CFF "]
    if "VORG" in font:
        del font["VORG"]
    glyf.compile(font)
    hmtx = font["hmtx"]
    for name, glyph in glyf.glyphs.items():
        if hasattr(glyph, "xMin"):
            hmtx[name] = (hmtx[name][0], glyph.xMin)
    font["maxp"] = maxp = newTable("maxp")
    maxp.tableVersion = 0x00010000
    maxp.maxZones = 1
    maxp.maxTwilightPoints = maxp.maxStorage = maxp.maxFunctionDefs = maxp.maxInstructionDefs = 0
    maxp.maxStackElements = maxp.maxSizeOfInstructions = 0
    maxp.maxComponentElements = max(len(getattr(g, "components", [])) for g in glyf.glyphs.values())
    maxp.compile(font)
    post = font["post"]
    post.formatType = POST_FORMAT
    post.extraNames = []
    post.mapping = {}
    post.glyphOrder = order
    font.sfntVersion = "\x00\x01\x00\x00"


def make_subset(source: Path, out: Path) -> dict[str, int]:
    font = source_font(source)
    cmap = font.getBestCmap()
    required = required_characters()
    missing = sorted(c for c in required if ord(c) not in cmap)
    if missing:
        print(f"not in {source.name}, left out: {''.join(missing)!r}", file=sys.stderr, flush=True)
    chars = {c for c in range_characters() | required if ord(c) in cmap}
    options = subset.Options()
    # Kerning, ligatures and the punctuation spacing a browser may apply (chws, halt, palt). Not `locl`: the
    # face's default glyphs are the Simplified Chinese ones, and locl would add the Japanese, Korean and
    # Traditional forms (7,500 glyphs instead of 4,300).
    options.layout_features = ["ccmp", "kern", "liga", "calt", "chws", "halt", "palt"]
    options.name_IDs = [0, 1, 2, 3, 4, 5, 6, 7, 13, 14, 16, 17]   # keep the copyright and licence records
    options.name_languages = ["*"]
    options.hinting = False                   # CFF hints do not survive the TrueType conversion anyway
    options.desubroutinize = False
    options.notdef_outline = True
    options.drop_tables += ["BASE", "vhea", "vmtx", "VORG"]   # horizontal text only
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=sorted(ord(c) for c in chars))
    subsetter.subset(font)
    rename(font)
    font.recalcTimestamp = False              # the same input makes the same bytes
    out.mkdir(parents=True, exist_ok=True)
    woff2 = out / f"{STEM}.woff2"
    font.flavor = "woff2"
    font.save(woff2)
    ttf_font = TTFont(woff2, recalcTimestamp=False)   # a fresh copy of the subset, then converted
    ttf_font.flavor = None
    otf_to_ttf(ttf_font)
    ttf = out / f"{STEM}.ttf"
    ttf_font.save(ttf)
    return {"characters": len(font.getBestCmap()), "glyphs": len(font.getGlyphOrder()),
            "woff2_bytes": woff2.stat().st_size, "ttf_bytes": ttf.stat().st_size}


def ofl_from_debian() -> str:
    """The SIL Open Font License as Debian's copyright file quotes it (the `License: SIL-1.1` paragraph)."""
    lines = COPYRIGHT_FILE.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines)
                 if line.strip() == "License: SIL-1.1" and (i == 0 or not lines[i - 1].startswith("Copyright")))
    body = []
    for line in lines[start + 1:]:
        if not line.startswith(" "):
            break
        body.append("" if line == " ." else line[1:])
    return "\n".join(body).strip("\n") + "\n"


def copyright_notices(font: TTFont) -> list[str]:
    """The Original Version's notices: the font's own copyright and trademark records, and Debian's record."""
    debian = next((line.removeprefix("Copyright:").strip()
                   for line in COPYRIGHT_FILE.read_text(encoding="utf-8").splitlines()
                   if line.startswith("Copyright:")), None)
    notices = [font["name"].getDebugName(0) or "", font["name"].getDebugName(7) or ""]
    if debian:
        notices.append(f"Copyright {debian} (as recorded for the upstream files in Debian's {PACKAGE} package)")
    return [n for n in notices if n]


def licence_text(notices: list[str]) -> str:
    return (f"{FAMILY} ({STEM}.woff2, {STEM}.ttf) is a subset of {SOURCE_FAMILY} Regular, a Modified Version under "
            "the licence below; SOURCE.md says how it was made.\n\n"
            + "\n".join(notices) + "\n\n"
            "This Font Software is licensed under the SIL Open Font License, Version 1.1.\n"
            "This license is copied below, and is also available with a FAQ at: https://openfontlicense.org\n\n"
            + ofl_from_debian())


def package_version() -> str:
    done = subprocess.run(["dpkg-query", "-W", "-f=${Version}", PACKAGE], capture_output=True, text=True, check=False)
    return done.stdout.strip() or "unknown (not installed through dpkg)"


def source_md(source: Path, notices: list[str], made: dict[str, int]) -> str:
    version = source_font(source)["name"].getDebugName(5)
    return f"""# The board's Chinese font

`{STEM}.woff2` (for the web) and `{STEM}.ttf` (TrueType outlines, for ReportLab's PDFs) are one
subset of **{SOURCE_FAMILY} Regular** ({version}), renamed **{FAMILY}** so that it is never taken for
the full font a machine may have installed. They are committed here so that a hall's display renders Chinese
without fonts of its own (`monitor/static/app.css` declares the face; the public board uses it first).

| | |
|---|---|
| Debian package | `{PACKAGE}` {package_version()} (`{source}`, face `{SOURCE_FAMILY}`) |
| upstream | Noto CJK, <https://github.com/googlefonts/noto-cjk> (Adobe's Source Han Sans, branded Noto) |
| licence | SIL Open Font License 1.1, `OFL.txt` |
| notices | {"; ".join(notices)} |
| characters | {made["characters"]} ({made["glyphs"]} glyphs) |
| sizes | `{STEM}.woff2` {made["woff2_bytes"]:,} bytes, `{STEM}.ttf` {made["ttf_bytes"]:,} bytes |
| made | {datetime.now(UTC):%Y-%m-%d} by `scripts/make-font-subset.py` |

## What is in it

ASCII; Latin-1; general punctuation; CJK symbols and punctuation; full-width forms; GB2312's symbol rows 1-2
(№, ℃, arrows, circled and Roman numerals); the 3,755 hanzi of GB2312 level 1 (rows 16-55, listed by Python's
`gb2312` codec), which covers the names of people and places in common characters; and every character of
`monitor/locale/zh_CN/LC_MESSAGES/messages.po`, the board's template and scripts, and `examples/*.yaml`.
A character outside that set (a rare surname character, say) falls back to the display's own fonts.
`tests/monitor/test_board_font.py` fails when the catalogue or the board gains a character the subset lacks.

## How it was made

fontTools' subsetter on the Simplified Chinese face of the collection: the characters above; the layout
features `ccmp kern liga calt chws halt palt` (not `locl`, whose Japanese, Korean and Traditional forms
would add 3,000 glyphs the Simplified face does not use); the name records 0-7, 13, 14, 16, 17 (copyright,
licence, trademark); no hinting; no vertical metrics (`vhea`, `vmtx`, `VORG`) or `BASE`. The `.woff2` keeps
the CFF outlines. The `.ttf` converts them to quadratic TrueType outlines with fontTools' `cu2qu`
(tolerance 1 unit of 1000 per em, contours reversed, `post` format 2), as fontTools' `Snippets/otf2ttf.py`
does, because ReportLab embeds TrueType (`glyf`) fonts only. Only the regular weight: the board's bold text
is emboldened by the browser, and a bold face would double the 1.8 MB.

To make it again (a dev tool; nothing here is needed at run time):

```sh
apt-get install {PACKAGE}
.venv/bin/python -m pip install fonttools brotli
.venv/bin/python scripts/make-font-subset.py
```

It rewrites `{STEM}.woff2`, `{STEM}.ttf`, `OFL.txt` and this file.
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, default=SOURCE, help=f"the Noto Sans CJK collection (default {SOURCE})")
    parser.add_argument("--out", type=Path, default=FONTS, help="the folder to write to")
    args = parser.parse_args()
    made = make_subset(args.source, args.out)
    notices = copyright_notices(source_font(args.source))
    (args.out / "OFL.txt").write_text(licence_text(notices), encoding="utf-8")
    (args.out / "SOURCE.md").write_text(source_md(args.source, notices, made), encoding="utf-8")
    for key, value in made.items():
        print(f"{key}: {value}")


if __name__ == "__main__":
    main()
