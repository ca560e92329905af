"""Forms of the reporting pages."""

from __future__ import annotations

import datetime
from typing import Any

from django import forms
from django.http import QueryDict
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _

from crm.forms import DateInput, _Bootstrap
from crm.models import District

from .periods import Period, PeriodError
from .queries import Scope

EARLIEST_DAY = datetime.date(2000, 1, 1)
LATEST_DAY = datetime.date(2100, 12, 31)
MAX_YEARS = 5

PERIOD_KINDS = [
    ("quarter", _("Quarter")),
    ("half_year", _("Half-year")),
    ("year", _("Year")),
    ("custom", _("From – to")),
]
SCOPE_FIELDS = ("period_kind", "year", "number", "start", "end", "districts")


def default_period(today: datetime.date) -> Period:
    """The last finished quarter."""
    return Period.containing_quarter(today).previous()


def scope_params(scope: Scope) -> list[tuple[str, str]]:
    """The query parameters ``ScopeForm`` reads back as ``scope``."""
    period = scope.period
    kind = period.kind
    params: list[tuple[str, str]] = [("period_kind", kind)]
    if kind == "quarter":
        params += [("year", str(period.start.year)), ("number", str(period.start.month // 3 + 1))]
    elif kind == "half_year":
        params += [
            ("year", str(period.start.year)),
            ("number", "1" if period.start.month == 1 else "2"),
        ]
    elif kind == "year":
        params += [("year", str(period.start.year))]
    else:
        params += [("start", period.start.isoformat()), ("end", period.end.isoformat())]
    params += [("districts", str(pk)) for pk in scope.district_ids]
    return params


def scope_query(scope: Scope) -> str:
    return urlencode(scope_params(scope))


class DistrictsField(forms.ModelMultipleChoiceField):
    """Districts by id; an id no database column can hold is refused like an unknown one
    (SQLite raises on integers beyond 64 bits instead of finding nothing)."""

    def _check_values(self, value: Any) -> Any:
        try:
            values = set(value)
        except TypeError:
            values = set()
        for pk in values:
            text = str(pk).strip()
            if not text.isascii() or not text.isdigit() or int(text) > MAX_ID:
                raise forms.ValidationError(
                    self.error_messages["invalid_pk_value"],
                    code="invalid_pk_value",
                    params={"pk": pk},
                )
        return super()._check_values(value)  # type: ignore[misc]


MAX_ID = 2**63 - 1


def _add_years(day: datetime.date, years: int) -> datetime.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, month=3, day=1)


class ScopeForm(_Bootstrap, forms.Form):
    """What the figures are about: a quarter, half-year, year or dates, and optionally
    some districts. Parameters left out take the defaults (the last finished quarter,
    the whole region)."""

    period_kind = forms.ChoiceField(label=_("Period"), choices=PERIOD_KINDS)
    year = forms.IntegerField(
        label=_("Year"),
        required=False,
        min_value=EARLIEST_DAY.year,
        max_value=LATEST_DAY.year,
        error_messages={
            "min_value": _("Choose a year from 2000 to 2100."),
            "max_value": _("Choose a year from 2000 to 2100."),
            "invalid": _("Enter the year as a number, e.g. 2026."),
        },
    )
    number = forms.TypedChoiceField(
        label=_("Quarter or half-year"),
        choices=[("", "—"), ("1", "1"), ("2", "2"), ("3", "3"), ("4", "4")],
        coerce=int,
        empty_value=None,
        required=False,
        help_text=_("Quarter 1–4, half-year 1–2."),
        error_messages={"invalid_choice": _("Choose 1 to 4 (a half-year: 1 or 2).")},
    )
    start = forms.DateField(label=_("From"), required=False, widget=DateInput())
    end = forms.DateField(label=_("To"), required=False, widget=DateInput())
    districts = DistrictsField(
        label=_("Districts"),
        queryset=District.objects.order_by("name"),
        required=False,
        help_text=_("None selected: the whole region."),
        widget=forms.SelectMultiple(attrs={"size": 4}),
        error_messages={
            "invalid_choice": _("Choose districts from the list."),
            "invalid_pk_value": _("Choose districts from the list."),
        },
    )

    def __init__(
        self,
        data: QueryDict | dict[str, Any] | None = None,
        *,
        today: datetime.date,
        fill_defaults: bool = True,
    ):
        """``fill_defaults=False``: a form that creates something takes no period it was
        not given (a GET shows the default view, a POST without a period is refused)."""
        self.default = default_period(today)
        defaults = dict(scope_params(Scope(self.default)))
        if data is not None and fill_defaults and not data.get("period_kind"):
            data = data.copy()
            for name, value in defaults.items():
                data[name] = value  # replaces (QueryDict.update would append)
        super().__init__(data, initial=defaults)

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        kind = data.get("period_kind")
        try:
            if kind == "custom":
                data["period"] = self._custom_period(data)
            elif kind in ("quarter", "half_year", "year"):
                data["period"] = self._calendar_period(kind, data)
        except PeriodError as error:
            self.add_error(None, str(error))
        return data

    def _calendar_period(self, kind: str, data: dict[str, Any]) -> Period | None:
        year, number = data.get("year"), data.get("number")
        if year is None:
            if "year" not in self.errors:
                self.add_error("year", _("Enter the year."))
            return None
        if kind == "year":
            return Period.year(year)
        if number is None:
            if "number" not in self.errors:
                self.add_error("number", _("Choose the quarter or half-year."))
            return None
        if kind == "half_year":
            if number > 2:
                self.add_error("number", _("A half-year is numbered 1 or 2."))
                return None
            return Period.half_year(year, number)
        return Period.quarter(year, number)

    def _custom_period(self, data: dict[str, Any]) -> Period | None:
        start, end = data.get("start"), data.get("end")
        for name, value in (("start", start), ("end", end)):
            if value is None and name not in self.errors:
                self.add_error(name, _("Enter the date."))
            elif value is not None and not EARLIEST_DAY <= value <= LATEST_DAY:
                self.add_error(name, _("Choose a date from 1 January 2000 to 31 December 2100."))
                return None
        if start is None or end is None:
            return None
        if end < start:
            self.add_error("end", _("“To” lies before “From”."))
            return None
        if end >= _add_years(start, MAX_YEARS):
            self.add_error("end", _("Choose a period of at most five years."))
            return None
        return Period(start, end)

    def scope(self) -> Scope:
        """The scope of a valid form."""
        districts = self.cleaned_data.get("districts") or []
        return Scope(self.cleaned_data["period"], tuple(sorted(d.pk for d in districts)))
