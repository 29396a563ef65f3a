"""A monthly report as an Excel workbook (openpyxl), with Excel's own charts: numbers stay numbers (presence
as a percentage-formatted share, waits in minutes), so the reader can sort, sum and chart them further.

Sheets: the scorecard, one league table per level inside the unit, waits per day, complaints, inspections and
findings, cases. Headings in the reader's language; stored values by their names."""

from __future__ import annotations

import io
import re

from openpyxl import Workbook
from openpyxl.chart import BarChart, LineChart, Reference
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from monitor.reports import texts as T
from monitor.reports.data import MonthlyReport
from monitor.reports.texts import Speaker

HEAD = Font(bold=True)
HEAD_FILL = PatternFill("solid", fgColor="EDF2F7")
PERCENT = "0.0%"


def sheet_title(text: str) -> str:
    """A valid sheet name: at most 31 characters, none of []:*?/\\."""
    return re.sub(r"[\[\]:*?/\\]", " ", text)[:31]


def _header(ws: Worksheet, row: int, values: list[str]) -> None:
    for col, value in enumerate(values, start=1):
        cell = ws.cell(row=row, column=col, value=value)
        cell.font, cell.fill = HEAD, HEAD_FILL


def _widths(ws: Worksheet, widths: list[int]) -> None:
    for col, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(col)].width = width


def _bar_chart(ws: Worksheet, title: str, first_row: int, last_row: int, anchor: str, *, y_max: float | None = None,
               label_col: int = 1, value_col: int = 2) -> None:
    chart = BarChart()
    chart.title = title
    chart.legend = None
    chart.height, chart.width = 7.5, 16
    chart.add_data(Reference(ws, min_col=value_col, min_row=first_row - 1, max_row=last_row), titles_from_data=True)
    chart.set_categories(Reference(ws, min_col=label_col, min_row=first_row, max_row=last_row))
    chart.y_axis.scaling.min = 0
    if y_max is not None:
        chart.y_axis.scaling.max = y_max
    ws.add_chart(chart, anchor)


def render_xlsx(report: MonthlyReport, locale: str) -> bytes:
    """The report as .xlsx bytes, in `locale`, times in the report's time zone."""
    say = Speaker(locale, report.timezone)
    book = Workbook()
    ws = book.active
    assert ws is not None
    ws.title = sheet_title(say(T.SCORECARD))
    ws["A1"] = T.title(say, report)
    ws["A1"].font = Font(bold=True, size=14)
    ws["A2"] = T.subtitle(say, report)
    ws["A3"] = T.generated(say, report)
    for n, (label, _shown, raw) in enumerate(T.scorecard_lines(say, report), start=5):
        ws.cell(row=n, column=1, value=label).font = HEAD
        cell = ws.cell(row=n, column=2, value=raw)
        if label in (say(T.PRESENCE), say(T.COVERAGE)):
            cell.number_format = PERCENT
        elif label == say(T.SCORE):
            cell.number_format = "0.0"
    ws.cell(row=n + 2, column=1, value=say(T.SCORE_NOTE, minutes=round(report.wait_sla_s / 60)))
    _widths(ws, [28, 14])

    for level, rows in report.units.items():
        sheet = book.create_sheet(sheet_title(say(T.LEAGUE, level=say.label(level, "level"))))
        _header(sheet, 1, T.league_header(say, level))
        for n, row in enumerate(rows, start=2):
            for col, value in enumerate(T.league_values(say, row), start=1):
                sheet.cell(row=n, column=col, value=value)
            sheet.cell(row=n, column=3).number_format = "0.0"
            sheet.cell(row=n, column=9).number_format = PERCENT
        _widths(sheet, [5, 34, 9, 7, 11, 10, 9, 11, 10])
        if 1 < len(rows) <= 60:
            _bar_chart(sheet, say(T.SCORE), 2, len(rows) + 1, "K2", y_max=100, label_col=2, value_col=3)

    waits = book.create_sheet(sheet_title(say(T.WAITS)))
    _header(waits, 1, [say(T.DAY), say(T.P50), say(T.P90), say(T.SERVED), say(T.QUEUE_MINUTES)])
    for n, w in enumerate(report.waits, start=2):
        waits.cell(row=n, column=1, value=w.day).number_format = "yyyy-mm-dd"
        waits.cell(row=n, column=2, value=T.minutes(w.p50_s))
        waits.cell(row=n, column=3, value=T.minutes(w.p90_s))
        waits.cell(row=n, column=4, value=w.served)
        waits.cell(row=n, column=5, value=w.minutes)
    _widths(waits, [12, 18, 24, 10, 22])
    if report.waits:
        chart = LineChart()
        chart.title = say(T.WAITS_CHART)
        chart.height, chart.width = 8, 18
        chart.add_data(Reference(waits, min_col=2, max_col=3, min_row=1, max_row=len(report.waits) + 1),
                       titles_from_data=True)
        chart.set_categories(Reference(waits, min_col=1, min_row=2, max_row=len(report.waits) + 1))
        chart.x_axis.number_format = "d"
        chart.y_axis.scaling.min = 0
        chart.display_blanks = "gap"  # a day without a measurement is a gap, never a zero
        waits.add_chart(chart, "G2")

    sheets: dict[str, Worksheet] = {}
    charts: dict[str, int] = {}  # charts on each sheet so far, stacked beside the tables
    for section, heading, group, counts in T.count_sections(report):
        sheet = sheets.get(section)
        if sheet is None:
            sheet = sheets[section] = book.create_sheet(sheet_title(say(section)))
            sheet.cell(row=1, column=1, value=say({T.COMPLAINTS: T.COMPLAINTS_NOTE, T.INSPECTIONS: T.INSPECTIONS_NOTE,
                                                   T.FINDINGS: T.INSPECTIONS_NOTE, T.CASES: T.CASES_NOTE}[section]))
            _widths(sheet, [30, 10])
        top = sheet.max_row + 2
        _header(sheet, top, [say(heading), say(T.COUNT)])
        for n, (value, count) in enumerate(counts.items(), start=top + 1):
            sheet.cell(row=n, column=1, value=say.label(value, group))
            sheet.cell(row=n, column=2, value=count)
        last = top + len(counts)
        sheet.cell(row=last + 1, column=1, value=say(T.TOTAL)).font = HEAD
        sheet.cell(row=last + 1, column=2, value=sum(counts.values())).font = HEAD
        if group == "case_status":
            sheet.cell(row=last + 2, column=1, value=say(T.OVERDUE)).font = HEAD
            sheet.cell(row=last + 2, column=2, value=report.cases_overdue)
        if group in ("complaint_category", "severity", "inspection_kind", "case_status"):
            charts[section] = charts.get(section, 0) + 1
            _bar_chart(sheet, f"{say(section)}: {say(heading)}", top + 1, last, f"D{2 + 16 * (charts[section] - 1)}")

    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
