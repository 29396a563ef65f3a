"""Turn a panel's SQL into what Grafana's PostgreSQL data source sends to the server, so tests and
`hallwatch bench queries` run exactly that. Follows Grafana's own steps: the frontend replaces
template variables (for SQL data sources, the values of a multi-value or include-All variable are
quoted and joined with commas; a single-value variable's value goes in with quotes doubled), then
the backend replaces `$__interval`, `$__interval_ms`, `$__unixEpochFrom()`/`To()` and expands the
macros (pkg/tsdb/grafana-postgresql-datasource/macros.go; the non-TimescaleDB `$__timeGroup`)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

_VAR = re.compile(r"\$\{(\w+)\}|\$(\w+)")
_MACRO = re.compile(r"\$([_a-zA-Z0-9]+)\(([^\)]*)\)")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


@dataclass(frozen=True)
class Variable:
    """A template variable's current value(s), and how the dashboard defines it."""

    value: str | list[str]
    multi: bool = False
    include_all: bool = False

    def sql(self) -> str:
        if isinstance(self.value, list):
            return ",".join(_quote(v) for v in self.value)
        if self.multi or self.include_all:
            return _quote(self.value)
        return self.value.replace("'", "''")


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def parse_interval(text: str) -> timedelta:
    match = re.fullmatch(r"(\d+)(ms|s|m|h|d|w|y)", text.strip().strip("'"))
    if not match:
        raise ValueError(f"not a Grafana interval: {text!r}")
    return timedelta(seconds=int(match[1]) * _UNITS[match[2]])


def format_interval(interval: timedelta) -> str:
    """Grafana's gtime.FormatInterval: the largest unit that fits, rounded down."""
    ms = int(interval / timedelta(milliseconds=1))
    for unit in ("y", "d", "h", "m", "s", "ms"):
        size = int(_UNITS[unit] * 1000)
        if ms >= size:
            return f"{ms // size}{unit}"
    return "1ms"


def _go_float(x: float) -> str:
    """Go's %v of a float64 (strconv 'g', shortest): %e form when the exponent is < -4 or >= 6,
    e.g. 3600 -> "3600", 0.5 -> "0.5", 1209600 -> "1.2096e+06"."""
    d = Decimal(repr(float(x))).normalize()
    if d == 0:
        return "0"
    sign, digits, exponent = d.as_tuple()
    exp = len(digits) + int(exponent) - 1
    if exp < -4 or exp >= 6:
        mantissa = str(digits[0]) + ("." + "".join(map(str, digits[1:])) if len(digits) > 1 else "")
        return f"{'-' if sign else ''}{mantissa}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    return format(d, "f")


def _rfc3339(t: datetime) -> str:
    t = t.astimezone(UTC)
    text = t.strftime("%Y-%m-%dT%H:%M:%S")
    if t.microsecond:
        text += f".{t.microsecond:06d}".rstrip("0")
    return text + "Z"


def expand(sql: str, *, start: datetime, end: datetime, interval: timedelta,
           variables: Mapping[str, Variable] | None = None) -> str:
    """The SQL Grafana would run for a panel over [start, end] with the given interval."""
    variables = variables or {}

    def variable(match: re.Match[str]) -> str:
        name = match[1] or match[2]
        if name.startswith("__"):
            return match[0]
        if name not in variables:
            raise KeyError(f"template variable ${name} has no value")
        return variables[name].sql()

    sql = _VAR.sub(variable, sql)
    sql = sql.replace("$__interval_ms", str(int(interval / timedelta(milliseconds=1))))
    sql = sql.replace("$__interval", format_interval(interval))
    sql = sql.replace("$__unixEpochFrom()", str(int(start.timestamp())))
    sql = sql.replace("$__unixEpochTo()", str(int(end.timestamp())))

    def macro(match: re.Match[str]) -> str:
        name, args = match[1], [a.strip() for a in match[2].split(",")]
        if name == "__timeFilter":
            return f"{args[0]} BETWEEN '{_rfc3339(start)}' AND '{_rfc3339(end)}'"
        if name == "__timeFrom":
            return f"'{_rfc3339(start)}'"
        if name == "__timeTo":
            return f"'{_rfc3339(end)}'"
        if name in ("__timeGroup", "__timeGroupAlias"):
            seconds = _go_float(parse_interval(args[1]).total_seconds())
            group = f"floor(extract(epoch from {args[0]})/{seconds})*{seconds}"
            return group + (' AS "time"' if name == "__timeGroupAlias" else "")
        raise ValueError(f"macro ${name} is not supported here")

    return _MACRO.sub(macro, sql)
