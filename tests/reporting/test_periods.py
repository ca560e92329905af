"""Report periods: reading them, naming them, the one before and the quarters of a trend."""

from __future__ import annotations

import datetime

import pytest
from django.utils import translation

from reporting.periods import Period, PeriodError

D = datetime.date
UTC = datetime.UTC


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


@pytest.mark.parametrize(
    ("text", "start", "end", "kind", "code", "label"),
    [
        ("2026-Q1", D(2026, 1, 1), D(2026, 3, 31), "quarter", "2026-Q1", "Q1 2026"),
        ("2026-Q3", D(2026, 7, 1), D(2026, 9, 30), "quarter", "2026-Q3", "Q3 2026"),
        (" 2026q4 ", D(2026, 10, 1), D(2026, 12, 31), "quarter", "2026-Q4", "Q4 2026"),
        ("2026-H1", D(2026, 1, 1), D(2026, 6, 30), "half_year", "2026-H1", "H1 2026"),
        ("2026-h2", D(2026, 7, 1), D(2026, 12, 31), "half_year", "2026-H2", "H2 2026"),
        ("2026", D(2026, 1, 1), D(2026, 12, 31), "year", "2026", "2026"),
        (
            "2026-03-01..2026-05-15",
            D(2026, 3, 1),
            D(2026, 5, 15),
            "custom",
            "2026-03-01..2026-05-15",
            "01.03.2026–15.05.2026",
        ),
        (
            "2026-03-01 / 2026-03-31",  # a whole month is a custom period
            D(2026, 3, 1),
            D(2026, 3, 31),
            "custom",
            "2026-03-01..2026-03-31",
            "01.03.2026–31.03.2026",
        ),
        ("2024-02-29..2024-02-29", D(2024, 2, 29), D(2024, 2, 29), "custom", None, None),
    ],
)
def test_parse(text, start, end, kind, code, label):
    period = Period.parse(text)
    assert (period.start, period.end, period.kind) == (start, end, kind)
    if code:
        assert period.code == code
        assert Period.parse(period.code) == period
    if label:
        assert period.label == label


def test_dates_of_the_kinds():
    assert Period.quarter(2026, 2) == Period(D(2026, 4, 1), D(2026, 6, 30))
    assert Period.half_year(2024, 1).end == D(2024, 6, 30)
    assert Period.year(2024).days == 366
    assert Period.quarter(2024, 1).days == 31 + 29 + 31
    assert Period.containing_quarter(D(2026, 11, 24)) == Period.parse("2026-Q4")
    # Three months not starting a quarter are a custom period.
    assert Period(D(2026, 2, 1), D(2026, 4, 30)).kind == "custom"
    assert Period(D(2026, 7, 1), D(2027, 6, 30)).kind == "custom"


def test_boundaries_are_local_midnights():
    """Both days inclusive: from local midnight of the first day to local midnight after
    the last, CEST (UTC+2) in summer and CET (UTC+1) in winter."""
    q3 = Period.parse("2026-Q3")
    assert q3.start_at.astimezone(UTC) == datetime.datetime(2026, 6, 30, 22, tzinfo=UTC)
    assert q3.end_at.astimezone(UTC) == datetime.datetime(2026, 9, 30, 22, tzinfo=UTC)
    year = Period.parse("2026")
    assert year.start_at.astimezone(UTC) == datetime.datetime(2025, 12, 31, 23, tzinfo=UTC)
    assert year.end_at.astimezone(UTC) == datetime.datetime(2026, 12, 31, 23, tzinfo=UTC)
    # The day the clocks go forward (29.3.2026) has 23 hours.
    day = Period.parse("2026-03-29..2026-03-29")
    assert day.end_at.astimezone(UTC) - day.start_at.astimezone(UTC) == datetime.timedelta(hours=23)


@pytest.mark.parametrize(
    ("text", "previous"),
    [
        ("2026-Q1", "2025-Q4"),
        ("2026-Q3", "2026-Q2"),
        ("2026-H1", "2025-H2"),
        ("2026-H2", "2026-H1"),
        ("2026", "2025"),
        # Custom: the same number of days just before (76 days: 15.12.–28.2.).
        ("2026-03-01..2026-05-15", "2025-12-15..2026-02-28"),
        ("2024-03-01..2024-03-31", "2024-01-30..2024-02-29"),
        ("2026-01-01..2026-01-01", "2025-12-31..2025-12-31"),
    ],
)
def test_previous(text, previous):
    period = Period.parse(text)
    assert period.previous() == Period.parse(previous)
    assert period.previous().days == period.days or period.kind != "custom"


@pytest.mark.parametrize(
    ("text", "quarters"),
    [
        # One quarter or less: the four quarters ending with it, for a trend.
        ("2026-Q1", ["2025-Q2", "2025-Q3", "2025-Q4", "2026-Q1"]),
        ("2026-08-01..2026-08-31", ["2025-Q4", "2026-Q1", "2026-Q2", "2026-Q3"]),
        # Two or more: those it touches.
        ("2026-H2", ["2026-Q3", "2026-Q4"]),
        ("2026", ["2026-Q1", "2026-Q2", "2026-Q3", "2026-Q4"]),
        ("2026-03-15..2026-04-15", ["2026-Q1", "2026-Q2"]),
    ],
)
def test_quarters(text, quarters):
    assert [q.code for q in Period.parse(text).quarters()] == quarters


def test_is_finished():
    q3 = Period.parse("2026-Q3")
    assert q3.is_finished(today=D(2026, 10, 1))
    assert not q3.is_finished(today=D(2026, 9, 30))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "is not a period"),
        ("Q3 2026", "is not a period"),
        ("2026-Q5", "is not a period"),
        ("2026-H3", "is not a period"),
        ("26", "is not a period"),
        ("2026-03-01..", "is not a period"),
        ("2026-02-30..2026-03-31", "is not a valid period"),
        ("2026-13-01..2026-12-31", "is not a valid period"),
        ("2026-05-15..2026-03-01", "The period ends before it starts."),
        # Years so far off that the previous period or a trend would leave the calendar.
        ("0000", "is not a valid period"),
        ("0001-Q1", "is not a valid period"),
        ("9999-Q3", "is not a valid period"),
        ("9999-Q4", "is not a valid period"),
    ],
)
def test_invalid_input_is_refused_with_a_message(text, message):
    with pytest.raises(PeriodError, match=message):
        Period.parse(text)


def test_invalid_construction_is_refused():
    with pytest.raises(PeriodError, match="numbered 1 to 4"):
        Period.quarter(2026, 0)
    with pytest.raises(PeriodError, match="numbered 1 or 2"):
        Period.half_year(2026, 3)
    with pytest.raises(PeriodError, match="ends before it starts"):
        Period(D(2026, 2, 1), D(2026, 1, 31))


def test_edge_years_still_have_a_previous_period_and_a_trend():
    first, last = Period.parse("1900-Q1"), Period.parse("2999-Q4")
    assert first.previous().code == "1899-Q4"
    assert len(first.quarters()) == len(last.quarters()) == 4
    assert last.end_at.year == 3000
