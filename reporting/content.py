"""What a report contains, as plain JSON-able data.

`reporting.services` computes a `ReportContent` from the database (through
`reporting.queries`) and stores it as the report's figures; the renderers
(`reporting.pdf`, `reporting.xlsx`) turn it into files without touching the ORM. The
evidence (the records behind each figure) reaches the XLSX renderer as `EvidenceSheet`s
whose rows are produced lazily, so a year at state scale is streamed, not held in memory.

Dates are ISO strings (``"2026-09-30"``); values are ints, or floats for percentages
(one decimal). Labels are already translated into the report's language (German).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypedDict


class PeriodContent(TypedDict):
    start: str  # first day, inclusive
    end: str  # last day, inclusive
    label: str  # "3. Quartal 2026", "1. Halbjahr 2026", "2026", "01.03.2026–15.05.2026"


class BreakdownRow(TypedDict):
    key: str  # size class ("micro" …), district key, "rural"/"urban", topic slug, …; "" = unknown
    label: str  # "Kleinstunternehmen (< 10)", "Landkreis Goslar", "ländlich", "unbekannt" …
    value: int | float


class TrendPoint(TypedDict):
    label: str  # "Q3 2026"
    start: str
    end: str
    value: int | float


class IndicatorContent(TypedDict):
    code: str  # "RCO01", "VISITS" …
    version: int
    name: str  # German name
    name_en: str
    unit: str  # "enterprises", "organisations", "visits", "requests", "follow_ups", "percent"
    unit_label: str  # German: "Unternehmen", "Besuche", "%" …
    rule: str  # the precise counting rule, German
    value: int | float
    previous_value: int | float | None  # same indicator, previous period of the same length
    # breakdown name → rows, in display order; names are keys of ReportContent.breakdown_labels
    breakdowns: dict[str, list[BreakdownRow]]
    trend: list[TrendPoint]  # value per quarter (the report's quarters, or the last four)


class NarrativeContent(TypedDict):
    progress: str  # "Fortschritt" — plain text, paragraphs separated by blank lines
    problems: str  # "Probleme"
    outlook: str  # "Ausblick"


class ReportContent(TypedDict):
    title: str  # "Wirkungsbericht 3. Quartal 2026"
    region_name: str  # configurable (settings.REPORT_REGION_NAME)
    programme_name: str  # configurable (settings.REPORT_PROGRAMME_NAME)
    # "" or an absolute path to a PNG/JPEG (settings.REPORT_LOGO); "" = a placeholder box
    logo_path: str
    period: PeriodContent
    previous_period: PeriodContent
    scope_label: str  # "Gesamte Region" or "Landkreise Goslar, Wolfenbüttel"
    version: int  # 1, 2 … when the same period and scope was generated again
    status: str  # "draft" | "published"
    generated_at: str  # ISO datetime, local time
    published_at: str  # "" while draft
    published_by: str  # "" while draft; the publisher's name (staff, not a data subject)
    # SHA-256 (hex) of the canonical JSON of the figures and of the XLSX file, printed in
    # the PDF footer of a published report (a PDF cannot carry its own hash: the UI shows
    # it); "" while draft — the footer then says "Entwurf".
    figures_sha256: str
    xlsx_sha256: str
    breakdown_labels: dict[str, str]  # "size_class" → "Größenklasse", "district" → "Landkreis" …
    indicators: list[IndicatorContent]
    narrative: NarrativeContent


@dataclass
class EvidenceSheet:
    """One XLSX sheet listing the records behind figures, e.g. the organisations counted.

    ``rows`` is an iterable of tuples matching ``columns``; it may be a generator that
    reads the database in batches — the renderer consumes it once, in order.
    Never personal data: organisation names, dates, districts, yes/no flags per
    indicator; no people's names, no visit summaries."""

    title: str  # sheet name, at most 31 characters: "Nachweis Organisationen"
    columns: Sequence[str]
    rows: Iterable[Sequence[Any]]
    note: str = ""  # one line above the table, e.g. what "x" in a column means
    column_widths: Sequence[int] = field(default_factory=tuple)
