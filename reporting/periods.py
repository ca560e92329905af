"""Report periods: quarters, half-years, years and custom date ranges, in local time."""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass

from django.utils import timezone
from django.utils.translation import gettext as _

# Periods read from text lie in these years (datetime ends at year 9999).
EARLIEST_YEAR, LATEST_YEAR = 1900, 2999


class PeriodError(ValueError):
    """A period that cannot be read or makes no sense; the message is for the user."""


@dataclass(frozen=True, order=True)
class Period:
    """From ``start`` to ``end``, both days inclusive."""

    start: datetime.date
    end: datetime.date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise PeriodError(_("The period ends before it starts."))

    # --- Construction ------------------------------------------------------------

    @classmethod
    def quarter(cls, year: int, quarter: int) -> Period:
        if not 1 <= quarter <= 4:
            raise PeriodError(_("A quarter is numbered 1 to 4."))
        start = datetime.date(year, 3 * quarter - 2, 1)
        return cls(start, _month_end(year, 3 * quarter))

    @classmethod
    def half_year(cls, year: int, half: int) -> Period:
        if half not in (1, 2):
            raise PeriodError(_("A half-year is numbered 1 or 2."))
        return cls(datetime.date(year, 6 * half - 5, 1), _month_end(year, 6 * half))

    @classmethod
    def year(cls, year: int) -> Period:
        return cls(datetime.date(year, 1, 1), datetime.date(year, 12, 31))

    @classmethod
    def containing_quarter(cls, day: datetime.date) -> Period:
        return cls.quarter(day.year, (day.month - 1) // 3 + 1)

    @classmethod
    def parse(cls, text: str) -> Period:
        """``2026-Q3``, ``2026-H1``, ``2026`` or ``2026-03-01..2026-05-15``."""
        value = text.strip().upper()
        try:
            period = cls._parse(value)
            if period is not None and not (
                period.start.year >= EARLIEST_YEAR and period.end.year <= LATEST_YEAR
            ):
                # The previous period and the quarters of a trend must still be dates.
                raise ValueError(value)
        except ValueError as error:
            if isinstance(error, PeriodError):
                raise
            raise PeriodError(_("“%(text)s” is not a valid period.") % {"text": text}) from None
        if period is not None:
            return period
        raise PeriodError(
            _(
                "“%(text)s” is not a period. Use e.g. 2026-Q3, 2026-H1, 2026 or "
                "2026-03-01..2026-05-15."
            )
            % {"text": text}
        )

    @classmethod
    def _parse(cls, value: str) -> Period | None:
        if m := re.fullmatch(r"(\d{4})-?Q([1-4])", value):
            return cls.quarter(int(m[1]), int(m[2]))
        if m := re.fullmatch(r"(\d{4})-?H([12])", value):
            return cls.half_year(int(m[1]), int(m[2]))
        if re.fullmatch(r"\d{4}", value):
            return cls.year(int(value))
        if m := re.fullmatch(r"(\d{4}-\d{2}-\d{2})\s*(?:\.\.|/)\s*(\d{4}-\d{2}-\d{2})", value):
            return cls(datetime.date.fromisoformat(m[1]), datetime.date.fromisoformat(m[2]))
        return None

    # --- What it is ------------------------------------------------------------------

    @property
    def start_at(self) -> datetime.datetime:
        """Local midnight at the start (inclusive)."""
        return _local_midnight(self.start)

    @property
    def end_at(self) -> datetime.datetime:
        """Local midnight after the last day (exclusive)."""
        return _local_midnight(self.end + datetime.timedelta(days=1))

    @property
    def kind(self) -> str:
        """``quarter``, ``half_year``, ``year`` or ``custom``."""
        if self.start.day != 1 or self.end != _month_end(self.end.year, self.end.month):
            return "custom"
        months = (self.end.year - self.start.year) * 12 + self.end.month - self.start.month + 1
        if months == 3 and self.start.month in (1, 4, 7, 10):
            return "quarter"
        if months == 6 and self.start.month in (1, 7):
            return "half_year"
        if months == 12 and self.start.month == 1:
            return "year"
        return "custom"

    @property
    def code(self) -> str:
        """``2026-Q3``, ``2026-H1``, ``2026`` or ``2026-03-01..2026-05-15``."""
        kind = self.kind
        if kind == "quarter":
            return f"{self.start.year}-Q{(self.start.month - 1) // 3 + 1}"
        if kind == "half_year":
            return f"{self.start.year}-H{1 if self.start.month == 1 else 2}"
        if kind == "year":
            return str(self.start.year)
        return f"{self.start.isoformat()}..{self.end.isoformat()}"

    @property
    def label(self) -> str:
        kind = self.kind
        if kind == "quarter":
            return _("Q%(quarter)s %(year)s") % {
                "quarter": (self.start.month - 1) // 3 + 1,
                "year": self.start.year,
            }
        if kind == "half_year":
            return _("H%(half)s %(year)s") % {
                "half": 1 if self.start.month == 1 else 2,
                "year": self.start.year,
            }
        if kind == "year":
            return str(self.start.year)
        return f"{self.start:%d.%m.%Y}–{self.end:%d.%m.%Y}"

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> Period:
        """The period of the same kind just before: the previous quarter, half-year or
        year; for custom dates the same number of days before."""
        kind = self.kind
        if kind in ("quarter", "half_year", "year"):
            months = {"quarter": 3, "half_year": 6, "year": 12}[kind]
            first = _add_months(self.start, -months)
            return Period(first, self.start - datetime.timedelta(days=1))
        return Period(
            self.start - datetime.timedelta(days=self.days),
            self.start - datetime.timedelta(days=1),
        )

    def quarters(self) -> list[Period]:
        """The calendar quarters for a trend: those within the period when it spans
        two or more, otherwise the four quarters ending with the one it ends in."""
        last = Period.containing_quarter(self.end)
        inside = []
        quarter = Period.containing_quarter(self.start)
        while quarter.start <= self.end:
            inside.append(quarter)
            quarter = Period.containing_quarter(_add_months(quarter.start, 3))
        if len(inside) >= 2:
            return inside
        trend = [last]
        while len(trend) < 4:
            trend.insert(0, trend[0].previous())
        return trend

    def is_finished(self, *, today: datetime.date) -> bool:
        return self.end < today


def _local_midnight(day: datetime.date) -> datetime.datetime:
    # No import from crm.filters: this module is imported while models load.
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


def _month_end(year: int, month: int) -> datetime.date:
    first_next = datetime.date(year + month // 12, month % 12 + 1, 1)
    return first_next - datetime.timedelta(days=1)


def _add_months(day: datetime.date, months: int) -> datetime.date:
    index = day.year * 12 + day.month - 1 + months
    return datetime.date(index // 12, index % 12 + 1, 1)
