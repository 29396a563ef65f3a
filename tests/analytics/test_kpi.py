"""The scorecard arithmetic in analytics/kpi.py: intervals, presence against the roster, star ratings and
league tables, as tables of (input, expected)."""

import pytest

from analytics.kpi import (
    DeskPoint,
    DeskState,
    Interval,
    Level,
    PresenceKpi,
    StarMethod,
    Tally,
    league_table,
    merge,
    presence_kpi,
    rollup,
    score,
    subtract,
    wait_over_sla,
)

P, A, U = DeskState.present, DeskState.absent, DeskState.unknown
METHOD = StarMethod(weights={"overtime": 0.3, "errors": 0.2, "complaints": 0.3, "presence": 0.2},
                    penalties={"overtime": 2.0, "errors": 10.0, "complaints": 20.0},
                    thresholds=(60.0, 70.0, 80.0, 90.0, 95.0))


def iv(a: float, b: float) -> Interval:
    return Interval(a, b)


@pytest.mark.parametrize(("given", "expected"), [
    ([], []),
    ([iv(0, 10), iv(5, 20), iv(30, 40)], [iv(0, 20), iv(30, 40)]),
    ([iv(30, 40), iv(0, 10), iv(10, 12)], [iv(0, 12), iv(30, 40)]),
    ([iv(5, 5), iv(1, 2)], [iv(1, 2)]),  # empty intervals vanish
])
def test_merge(given, expected) -> None:
    assert merge(given) == expected


@pytest.mark.parametrize(("intervals", "holes", "expected"), [
    ([iv(0, 100)], [], [iv(0, 100)]),
    ([iv(0, 100)], [iv(20, 30)], [iv(0, 20), iv(30, 100)]),
    ([iv(0, 100)], [iv(-5, 10), iv(90, 200)], [iv(10, 90)]),
    ([iv(0, 100)], [iv(0, 100)], []),
    ([iv(0, 10), iv(20, 30)], [iv(5, 25)], [iv(0, 5), iv(25, 30)]),
    ([iv(0, 10)], [iv(40, 50)], [iv(0, 10)]),
])
def test_subtract(intervals, holes, expected) -> None:
    assert subtract(intervals, holes) == expected


def test_interval_rejects_backwards() -> None:
    with pytest.raises(ValueError, match="ends before"):
        Interval(10, 5)


def points(*pairs: tuple[float, DeskState]) -> list[DeskPoint]:
    return [DeskPoint(ts, state) for ts, state in pairs]


@pytest.mark.parametrize(("samples", "rostered", "excused", "expected"), [
    # present all shift, one sample per second
    ([(t, P) for t in range(0, 100)], [iv(0, 100)], [], PresenceKpi(100, 0, 100, 0, 0)),
    # absent from 60 on
    ([(t, P if t < 60 else A) for t in range(0, 100)], [iv(0, 100)], [], PresenceKpi(100, 0, 60, 40, 0)),
    # a 51 s gap after the sample at 19: it holds for 10 s (hold_s), the other 41 s are unknown, not absent
    ([(t, P) for t in range(0, 20)] + [(t, A) for t in range(70, 100)], [iv(0, 100)], [],
     PresenceKpi(100, 0, 29, 30, 41)),
    # explicit unknown samples (camera down) count as unknown
    ([(t, U if 40 <= t < 50 else P) for t in range(0, 100)], [iv(0, 100)], [], PresenceKpi(100, 0, 90, 0, 10)),
    # absent during an excused training hour is not counted at all
    ([(t, A if 20 <= t < 50 else P) for t in range(0, 100)], [iv(0, 100)], [iv(20, 50)],
     PresenceKpi(100, 30, 70, 0, 0)),
    # samples outside the roster do not count; two shifts in one day (flexible hours)
    ([(t, A) for t in range(0, 300)], [iv(10, 20), iv(200, 230)], [], PresenceKpi(40, 0, 0, 40, 0)),
    # no samples at all: everything unknown
    ([], [iv(0, 50)], [iv(0, 10)], PresenceKpi(50, 10, 0, 0, 40)),
])
def test_presence_kpi(samples, rostered, excused, expected) -> None:
    assert presence_kpi(points(*samples), rostered, excused, hold_s=10) == expected


def test_presence_share_ignores_unknown() -> None:
    kpi = PresenceKpi(rostered_s=100, excused_s=20, present_s=30, absent_s=10, unknown_s=40)
    assert kpi.presence == 0.75 and kpi.coverage == 0.5
    assert PresenceKpi(rostered_s=10, unknown_s=10).presence is None


@pytest.mark.parametrize(("p90", "littles", "over"), [
    (1900.0, None, True), (1700.0, 5000.0, False), (None, 1801.0, True), (None, None, False), (1800.0, None, False),
])
def test_wait_over_sla(p90, littles, over) -> None:
    assert wait_over_sla(p90, littles, sla_s=1800) is over


@pytest.mark.parametrize(("tally", "points_", "stars"), [
    (Tally(PresenceKpi(100, 0, 100, 0, 0), windows=1), 100.0, 5),
    (Tally(PresenceKpi(100, 0, 50, 50, 0), windows=1), 90.0, 4),
    (Tally(PresenceKpi(100, 0, 100, 0, 0), complaints=1, windows=1), 94.0, 4),
    (Tally(PresenceKpi(100, 0, 100, 0, 0), complaints=5, errors=10, overtime=60, windows=1), 20.0, 0),
    # per window: five complaints over five windows weigh like one complaint at one window
    (Tally(PresenceKpi(500, 0, 500, 0, 0), complaints=5, windows=5), 94.0, 4),
    # no presence data: the other weights are renormalised
    (Tally(PresenceKpi(100, 0, 0, 0, 100), complaints=1, windows=1), 92.5, 4),
])
def test_score(tally, points_, stars) -> None:
    result = score(tally, METHOD)
    assert result.points == points_ and result.stars == stars


def test_score_without_any_data() -> None:
    method = StarMethod(weights={"overtime": 0, "errors": 0, "complaints": 0, "presence": 1},
                        penalties=METHOD.penalties, thresholds=METHOD.thresholds)
    assert score(Tally(), method).points is None and score(Tally(), method).stars == 0


@pytest.mark.parametrize(("weights", "thresholds", "message"), [
    ({"overtime": 0, "errors": 0, "complaints": 0, "presence": 0}, (1, 2, 3, 4, 5), "not all zero"),
    ({"overtime": 1, "errors": 0, "complaints": 0}, (1, 2, 3, 4, 5), "weights need"),
    ({"overtime": 1, "errors": 0, "complaints": 0, "presence": 0}, (5, 4, 3, 2, 1), "ascend"),
])
def test_star_method_validation(weights, thresholds, message) -> None:
    with pytest.raises(ValueError, match=message):
        StarMethod(weights=weights, penalties=METHOD.penalties, thresholds=thresholds)


TALLIES = {
    ("h1", "w1"): Tally(PresenceKpi(100, 0, 100, 0, 0), windows=1),
    ("h1", "w2"): Tally(PresenceKpi(100, 0, 80, 20, 0), overtime=3, windows=1),
    ("h1", None): Tally(complaints=1),
    ("h2", "w1"): Tally(PresenceKpi(100, 10, 90, 0, 0), errors=1, windows=1),
    ("h3", "w1"): Tally(PresenceKpi(100, 0, 100, 0, 0), windows=1),
}
CITY_OF = {"h1": "c1", "h2": "c1", "h3": "c2"}


@pytest.mark.parametrize(("level", "expected"), [
    (Level.window, {("h1", "w1"): (0, 1), ("h1", "w2"): (0, 1), ("h2", "w1"): (0, 1), ("h3", "w1"): (0, 1)}),
    (Level.hall, {"h1": (1, 2), "h2": (0, 1), "h3": (0, 1)}),
    (Level.city, {"c1": (1, 3), "c2": (0, 1)}),
    (Level.province, {"province": (1, 4)}),
])
def test_rollup(level, expected) -> None:
    rolled = rollup(TALLIES, level=level, city_of=CITY_OF)
    assert {k: (t.complaints, t.windows) for k, t in rolled.items()} == expected
    total = sum((t.presence for t in rolled.values()), PresenceKpi())
    assert total.rostered_s == 400 and total.present_s == 370  # nothing lost or counted twice


def test_league_table_ranks_ties_and_order() -> None:
    table = league_table(rollup(TALLIES, level=Level.window, city_of=CITY_OF), METHOD)
    assert [(row.rank, row.key) for row in table] == [
        (1, ("h1", "w1")), (1, ("h3", "w1")), (3, ("h2", "w1")), (4, ("h1", "w2"))]
    assert table[0].tally.three_zeros and not table[-1].tally.three_zeros
    assert table[2].score.points == 98.0  # one error at 10 points, weight 0.2
