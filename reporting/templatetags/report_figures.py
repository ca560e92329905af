"""Figures as the reports show them: German thousands separators, one decimal for
percentages."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.formats import number_format

from reporting.queries import Unit

register = template.Library()
UNITS = {str(unit) for unit in Unit}


def format_value(value: int | float, unit: Unit) -> str:
    """1.234 or 35,1 % (in the active language's notation)."""
    if unit == Unit.PERCENT:
        return f"{number_format(value, 1, force_grouping=True)} %"
    return number_format(value, 0, force_grouping=True)


def format_change(current: int | float, previous: int | float, unit: Unit) -> str:
    """+12, −3 or ±0; for percentages in percentage points with one decimal."""
    places = 1 if unit == Unit.PERCENT else 0
    difference = round(current - previous, places)
    sign = "+" if difference > 0 else "−" if difference < 0 else "±"
    return sign + number_format(abs(difference), places, force_grouping=True)


@register.filter
def figure(value: Any, unit: str = "") -> str:
    """1234 → "1.234"; 35.1 with unit "percent" → "35,1 %"; None → "–"."""
    if value is None or value == "":
        return "–"
    if unit in UNITS:
        return format_value(value, Unit(unit))
    if isinstance(value, float):
        return number_format(value, decimal_pos=1, use_l10n=True, force_grouping=True)
    return number_format(value, use_l10n=True, force_grouping=True)


@register.filter
def signed_figure(value: Any, unit: str = "") -> str:
    """A change: "+12", "−3", "+1,5 Pp." for percentages (percentage points)."""
    if value is None:
        return "–"
    sign = "+" if value > 0 else ("−" if value < 0 else "±")
    if unit == "percent":
        text = number_format(abs(value), decimal_pos=1, use_l10n=True, force_grouping=True)
        return f"{sign}{text} Pp."
    if isinstance(value, float):
        return sign + number_format(abs(value), decimal_pos=1, use_l10n=True, force_grouping=True)
    return sign + number_format(abs(value), use_l10n=True, force_grouping=True)
