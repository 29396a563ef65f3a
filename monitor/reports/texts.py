"""What the PDF and the Excel file of a report say, in the reader's language: the texts (marked for the
catalogue), stored values by their names (monitor.labels), numbers, days and moments in the site's time zone."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal

from core.i18n import N_
from monitor.api import ScoreRow
from monitor.i18n import gettext_for
from monitor.labels import label_text
from monitor.reports.data import MonthlyReport

TITLE = N_("Monthly report")
SUBTITLE = N_("%(unit)s · %(level)s · %(month)s")
GENERATED = N_("Made %(when)s (%(zone)s), covering the month up to %(until)s.")
SCORECARD = N_("Scorecard")
LEAGUE = N_("League table by %(level)s")
WAITS = N_("Waits per day")
WAITS_CHART = N_("Queue wait per day, minutes")
NO_WAITS = N_("No measured waits this month.")
COMPLAINTS = N_("Complaints")
INSPECTIONS = N_("Inspections")
FINDINGS = N_("Findings")
CASES = N_("Cases")
BY_STATUS = N_("By status")
BY_CATEGORY = N_("By category")
BY_KIND = N_("By kind")
BY_SEVERITY = N_("By severity")
COUNT = N_("Count")
TOTAL = N_("Total")
OVERDUE = N_("Overdue")
DAY = N_("Day")
P50 = N_("Median wait (min)")
P90 = N_("90th percentile wait (min)")
SERVED = N_("Served")
QUEUE_MINUTES = N_("Queue minutes measured")
SCORE = N_("Score")
STARS = N_("Stars")
THREE_ZEROS = N_("Three zeros")
OVERTIME = N_("Overtime")
ERRORS = N_("Errors")
PRESENCE = N_("Presence")
COVERAGE = N_("Video coverage")
UNSTAFFED = N_("Unstaffed")
UNSTAFFED_EXCUSED = N_("Unstaffed, excused")
WINDOWS = N_("Windows")
YES = N_("Yes")
NO = N_("No")
CASES_NOTE = N_("Cases opened this month, by their status at the end of the period.")
COMPLAINTS_NOTE = N_("Complaints received this month, by their status now.")
INSPECTIONS_NOTE = N_("Inspections carried out this month and their findings.")
SCORE_NOTE = N_("Overtime counts queue minutes whose 90th-percentile wait is over %(minutes)s min; errors are "
                "inspection findings of the error kind; complaints are complaints upheld.")


class Speaker:
    """Texts, names, numbers and dates in one language and time zone."""

    def __init__(self, locale: str, timezone: str) -> None:
        self.locale = locale
        self.zone = ZoneInfo(timezone)
        self._babel = Locale.parse(locale)

    def __call__(self, text: str, **values: Any) -> str:
        return gettext_for(self.locale, text, **values)

    def label(self, value: object, group: str) -> str:
        return gettext_for(self.locale, label_text(value, group))

    def number(self, value: float | int | None, digits: int = 0) -> str:
        if value is None:
            return "–"
        return format_decimal(value, format="#,##0" + ("." + "0" * digits if digits else ""), locale=self._babel)

    def percent(self, share: float | None) -> str:
        return "–" if share is None else f"{self.number(100 * share, 1)}%"

    def day(self, value: date) -> str:
        return format_date(value, format="yyyy-MM-dd", locale=self._babel)

    def when(self, value: datetime) -> str:
        return format_datetime(value, format="yyyy-MM-dd HH:mm", tzinfo=self.zone, locale=self._babel)

    def yes_no(self, value: bool) -> str:
        return self(YES) if value else self(NO)


def title(say: Speaker, report: MonthlyReport) -> str:
    return f"{say(TITLE)}: {report.name}, {report.month}"


def subtitle(say: Speaker, report: MonthlyReport) -> str:
    return say(SUBTITLE, unit=report.name, level=say.label(report.level, "level"), month=report.month)


def generated(say: Speaker, report: MonthlyReport) -> str:
    return say(GENERATED, when=say.when(report.generated_at), zone=report.timezone, until=say.when(report.until))


def minutes(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 60, 1)


def scorecard_lines(say: Speaker, report: MonthlyReport) -> list[tuple[str, str, float | int | str | None]]:
    """(label, shown text, raw value for a spreadsheet) of the unit's scorecard."""
    s = report.summary
    if s is None:
        return [(say(SCORE), "–", None)]
    return [(say(SCORE), say.number(s.score, 1), s.score), (say(STARS), f"{s.stars} / 5", s.stars),
            (say(THREE_ZEROS), say.yes_no(s.three_zeros), say.yes_no(s.three_zeros)),
            (say(OVERTIME), say.number(s.overtime), s.overtime), (say(ERRORS), say.number(s.errors), s.errors),
            (say(COMPLAINTS), say.number(s.complaints), s.complaints),
            (say(PRESENCE), say.percent(s.presence), s.presence), (say(COVERAGE), say.percent(s.coverage), s.coverage),
            (say(UNSTAFFED), say.number(s.unstaffed), s.unstaffed),
            (say(UNSTAFFED_EXCUSED), say.number(s.unstaffed_excused), s.unstaffed_excused),
            (say(WINDOWS), say.number(s.windows), s.windows)]


def league_header(say: Speaker, level: str) -> list[str]:
    return ["#", say.label(level, "level"), say(SCORE), say(STARS), say(THREE_ZEROS), say(OVERTIME), say(ERRORS),
            say(COMPLAINTS), say(PRESENCE)]


def league_values(say: Speaker, row: ScoreRow) -> list[float | int | str | None]:
    """A league table row's raw values, in `league_header`'s order."""
    return [row.rank, row.name, row.score, row.stars, say.yes_no(row.three_zeros), row.overtime, row.errors,
            row.complaints, row.presence]


def count_sections(report: MonthlyReport) -> list[tuple[str, str, str, dict[str, int]]]:
    """(section, sub-heading, label group, counts) of the tables of counts, in the report's order."""
    return [(COMPLAINTS, BY_STATUS, "complaint_status", report.complaints_by_status),
            (COMPLAINTS, BY_CATEGORY, "complaint_category", report.complaints_by_category),
            (INSPECTIONS, BY_KIND, "inspection_kind", report.inspections_by_kind),
            (FINDINGS, BY_SEVERITY, "severity", report.findings_by_severity),
            (FINDINGS, BY_CATEGORY, "finding_category", report.findings_by_category),
            (CASES, BY_STATUS, "case_status", report.cases_by_status)]
