"""Figures as the reports show them: German thousands separators, one decimal for
percentages."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.formats import number_format

register = template.Library()


@register.filter
def figure(value: Any, unit: str = "") -> str:
    """1234 → "1.234"; 35.1 with unit "percent" → "35,1 %"; None → "–"."""
    if value is None or value == "":
        return "–"
    if unit == "percent" or isinstance(value, float):
        text = number_format(value, decimal_pos=1, use_l10n=True, force_grouping=True)
        return f"{text} %" if unit == "percent" else text
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
