"""A monthly report as a PDF, with ReportLab (pure Python, no system libraries): tables and charts drawn with
ReportLab's own graphics.

Chinese text is set in the subset of Noto Sans SC the app ships (`monitor/static/fonts/*.ttf`, SIL Open Font
Licence), embedded in the PDF as a TrueType subset of the glyphs the report uses with a ToUnicode map, so the
report reads the same on any machine and its text can be searched and copied, whatever fonts the reader has.
Only if that file is missing (a broken install) does it fall back to `STSong-Light`, an Adobe CID font that
ReportLab knows the metrics of and that the PDF names without carrying its glyphs (the reader's PDF viewer then
supplies a Chinese font); a warning says so. English reports use Helvetica, unless a name in them holds
characters beyond Latin-1."""

from __future__ import annotations

import io
import logging
from collections.abc import Sequence
from functools import cache
from importlib import resources
from pathlib import Path
from xml.sax.saxutils import escape

from reportlab.graphics.charts.barcharts import VerticalBarChart
from reportlab.graphics.charts.legends import Legend
from reportlab.graphics.charts.linecharts import HorizontalLineChart
from reportlab.graphics.shapes import Drawing, String
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Flowable, KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from monitor.reports import texts as T
from monitor.reports.data import MonthlyReport
from monitor.reports.texts import Speaker

log = logging.getLogger(__name__)

CJK_FONT = "NotoSansSC"  # the embedded TrueType subset
CID_FONT = "STSong-Light"  # the fallback without a font file
LATIN_FONT = "Helvetica"
BLUE, ORANGE, GREY = colors.HexColor("#2b6cb0"), colors.HexColor("#dd6b20"), colors.HexColor("#cbd5e0")
WIDTH = A4[0] - 36 * mm


def font_file() -> Path | None:
    """The shipped Chinese TrueType font (Noto Sans SC, subset), or None when the install lacks it."""
    folder = Path(str(resources.files("monitor") / "static" / "fonts"))
    found = sorted(folder.glob("NotoSansSC*.ttf")) or sorted(folder.glob("*.ttf"))
    return found[0] if found else None


@cache
def _cjk_font() -> str:
    path = font_file()
    if path is not None:
        pdfmetrics.registerFont(TTFont(CJK_FONT, str(path)))
        return CJK_FONT
    log.warning("no Chinese TrueType font in monitor/static/fonts: reports name %s and rely on the reader's fonts",
                CID_FONT)
    pdfmetrics.registerFont(UnicodeCIDFont(CID_FONT))
    return CID_FONT


def font_for(report: MonthlyReport, locale: str) -> str:
    """The Chinese font for Chinese, or for any name beyond Latin-1; Helvetica otherwise."""
    names = [report.name, *(r.name for rows in report.units.values() for r in rows)]
    if not (locale.startswith("zh") or any(ord(ch) > 0xFF for name in names for ch in name)):
        return LATIN_FONT
    font = _cjk_font()
    if font == CJK_FONT:
        # The shipped font is a subset: a rare character in a name would print as an empty box.
        covered = pdfmetrics.getFont(font).face.charToGlyph
        missing = sorted({ch for name in names for ch in name if ord(ch) > 0x20 and ord(ch) not in covered})
        if missing:
            log.warning("the report of %s has characters the shipped font lacks: %s", report.name, "".join(missing))
    return font


class _Styles:
    def __init__(self, font: str) -> None:
        base = getSampleStyleSheet()
        self.title = ParagraphStyle("title", parent=base["Title"], fontName=font, fontSize=17, leading=22)
        self.h2 = ParagraphStyle("h2", parent=base["Heading2"], fontName=font, fontSize=13, leading=17,
                                 spaceBefore=8)
        self.body = ParagraphStyle("body", parent=base["BodyText"], fontName=font, fontSize=9, leading=12)
        self.small = ParagraphStyle("small", parent=self.body, fontSize=8, leading=10, textColor=colors.grey)
        self.cell = ParagraphStyle("cell", parent=self.body, fontSize=8.5, leading=10)  # wraps a long name
        self.font = font


def _table(rows: Sequence[Sequence[str | Flowable]], styles: _Styles, widths: list[float] | None = None,
           numeric_from: int = 1) -> Table:
    table = Table(rows, colWidths=widths, repeatRows=1, hAlign="LEFT")
    table.setStyle(TableStyle([
        ("FONT", (0, 0), (-1, -1), styles.font, 8.5),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#edf2f7")),
        ("GRID", (0, 0), (-1, -1), 0.25, GREY),
        ("ALIGN", (numeric_from, 1), (-1, -1), "RIGHT"),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("TOPPADDING", (0, 0), (-1, -1), 2), ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
    ]))
    return table


def _bars(labels: list[str], values: list[float], font: str, height: float = 55 * mm,
          colour: colors.Color = BLUE, top: float | None = None) -> Drawing:
    drawing = Drawing(WIDTH, height)
    chart = VerticalBarChart()
    chart.x, chart.y, chart.width, chart.height = 30, 40, int(WIDTH - 45), int(height - 50)
    chart.data = [values or [0]]
    chart.categoryAxis.categoryNames = labels or [""]
    chart.categoryAxis.labels.fontName = font
    chart.categoryAxis.labels.fontSize = 7
    chart.categoryAxis.labels.angle = 30 if len(labels) > 6 else 0
    chart.categoryAxis.labels.boxAnchor = "ne" if len(labels) > 6 else "n"
    chart.valueAxis.labels.fontName = font
    chart.valueAxis.labels.fontSize = 7
    chart.valueAxis.valueMin = 0
    chart.valueAxis.valueMax = top if top is not None else max([*values, 1]) * 1.15
    chart.bars[0].fillColor = colour
    chart.bars[0].strokeColor = None
    drawing.add(chart)
    return drawing


def _waits_chart(say: Speaker, report: MonthlyReport, font: str) -> Drawing:
    height = 65 * mm
    drawing = Drawing(WIDTH, height)
    chart = HorizontalLineChart()
    chart.x, chart.y, chart.width, chart.height = 30, 30, int(WIDTH - 45), int(height - 55)
    p50 = [T.minutes(w.p50_s) for w in report.waits]
    p90 = [T.minutes(w.p90_s) for w in report.waits]
    chart.data = [p50, p90]  # None: a day without a measurement, drawn as a gap
    chart.categoryAxis.categoryNames = [f"{w.day.day}" for w in report.waits]
    chart.categoryAxis.labels.fontSize = 6
    chart.categoryAxis.labels.fontName = font
    chart.valueAxis.labels.fontName = font
    chart.valueAxis.labels.fontSize = 7
    chart.valueAxis.valueMin = 0
    measured = [v for v in p50 + p90 if v is not None]
    chart.valueAxis.valueMax = max([*measured, report.wait_sla_s / 60]) * 1.15
    for n, colour in enumerate((BLUE, ORANGE)):
        chart.lines[n].strokeColor = colour
        chart.lines[n].strokeWidth = 1.5
    drawing.add(chart)
    legend = Legend()
    legend.x, legend.y = 35, int(height - 8)
    legend.fontName, legend.fontSize = font, 7
    legend.alignment = "right"
    legend.columnMaximum = 1
    legend.colorNamePairs = [(BLUE, say(T.P50)), (ORANGE, say(T.P90))]
    drawing.add(legend)
    drawing.add(String(WIDTH - 10, height - 8, say(T.WAITS_CHART), fontName=font, fontSize=7, textAnchor="end"))
    return drawing


def _paragraph(text: str, style: ParagraphStyle) -> Paragraph:
    return Paragraph(escape(text), style)


def render_pdf(report: MonthlyReport, locale: str) -> bytes:
    """The report as PDF bytes, in `locale`, times in the report's time zone."""
    say = Speaker(locale, report.timezone)
    font = font_for(report, locale)
    st = _Styles(font)
    story: list[Flowable] = [
        _paragraph(T.title(say, report), st.title),
        _paragraph(T.subtitle(say, report), st.body),
        _paragraph(T.generated(say, report), st.small),
        Spacer(0, 4 * mm),
        _paragraph(say(T.SCORECARD), st.h2),
        _table([[label, shown] for label, shown, _raw in T.scorecard_lines(say, report)], st,
               widths=[60 * mm, 40 * mm]),
        _paragraph(say(T.SCORE_NOTE, minutes=round(report.wait_sla_s / 60)), st.small),
    ]
    for level, league in report.units.items():
        if not league:
            continue
        header = T.league_header(say, level)
        body: list[list[str | Flowable]] = [
            [str(r.rank), _paragraph(r.name, st.cell), say.number(r.score, 1), f"{r.stars} / 5",
             say.yes_no(r.three_zeros), say.number(r.overtime), say.number(r.errors), say.number(r.complaints),
             say.percent(r.presence)]
            for r in league]
        story += [_paragraph(say(T.LEAGUE, level=say.label(level, "level")), st.h2),
                  _table([header, *body], st, numeric_from=2,
                         widths=[8 * mm, 52 * mm, 16 * mm, 14 * mm, 16 * mm, 16 * mm, 16 * mm, 16 * mm, 20 * mm])]
        if 1 < len(league) <= 40:
            story.append(_bars([r.name for r in league], [r.score or 0.0 for r in league], font, top=100))

    story.append(_paragraph(say(T.WAITS), st.h2))
    if any(w.p50_s is not None for w in report.waits):
        story.append(_waits_chart(say, report, font))
        days = [[say(T.DAY), say(T.P50), say(T.P90), say(T.SERVED), say(T.QUEUE_MINUTES)]]
        days += [[say.day(w.day), say.number(T.minutes(w.p50_s), 1), say.number(T.minutes(w.p90_s), 1),
                  say.number(w.served), say.number(w.minutes)] for w in report.waits if w.minutes]
        story.append(_table(days, st))
    else:
        story.append(_paragraph(say(T.NO_WAITS), st.body))

    notes = {T.COMPLAINTS: T.COMPLAINTS_NOTE, T.INSPECTIONS: T.INSPECTIONS_NOTE, T.CASES: T.CASES_NOTE}
    shown_section = None
    for section, heading, group, counts in T.count_sections(report):
        if section != shown_section:
            story.append(_paragraph(say(section), st.h2))
            if section in notes:
                story.append(_paragraph(say(notes[section]), st.small))
            shown_section = section
        labels = [say.label(value, group) for value in counts]
        rows = [[say(heading), say(T.COUNT)]]
        rows += [[label, say.number(n)] for label, n in zip(labels, counts.values(), strict=True)]
        total: int = sum(counts.values())
        rows.append([say(T.TOTAL), say.number(total)])
        if group == "case_status":
            rows.append([say(T.OVERDUE), say.number(report.cases_overdue)])
        parts: list[Flowable] = [_table(rows, st, widths=[60 * mm, 25 * mm])]
        if group in ("complaint_category", "severity") and total:
            parts.append(_bars(labels, [float(n) for n in counts.values()], font, height=45 * mm,
                               colour=ORANGE if group == "severity" else BLUE))
        story.append(KeepTogether(parts))

    out = io.BytesIO()
    doc = SimpleDocTemplate(out, pagesize=A4, leftMargin=18 * mm, rightMargin=18 * mm, topMargin=16 * mm,
                            bottomMargin=16 * mm, title=T.title(say, report), author="hallwatch",
                            subject=T.subtitle(say, report))
    doc.build(story)
    return out.getvalue()
