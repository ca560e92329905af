"""A realistic impact report for the third quarter of 2026, written by hand.

Its breakdowns add up to their totals (except "Ergebnis", where a request with several
kinds of outcome counts under each), every trend ends with the value of the period and
the one before, and the labels are German with umlauts, "ß", "€" and "&". Build a fresh
copy per test with ``sample_content()``; tests may change it freely."""

from __future__ import annotations

import copy

from reporting.content import BreakdownRow, IndicatorContent, ReportContent, TrendPoint

FIGURES_SHA256 = "3f5a0c2e9b1d4f6a8c7e0b2d4f6a8c1e3b5d7f9a0c2e4b6d8f0a1c3e5b7d9f1a"
XLSX_SHA256 = "9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b1a0f9e8d"

SIZE_CLASSES = [
    ("micro", "Kleinst (< 10)"),
    ("small", "Klein (< 50)"),
    ("medium", "Mittel (< 250)"),
    ("large", "Groß (≥ 250)"),
    ("", "unbekannt"),
]
DISTRICTS = [
    ("goettingen", "Landkreis Göttingen"),
    ("goslar", "Landkreis Goslar"),
    ("wolfenbuettel", "Landkreis Wolfenbüttel"),
]
AREA_TYPES = [("rural", "ländlich"), ("urban", "städtisch"), ("", "unbekannt")]
TOPICS = [
    ("digitalisierung", "Digitalisierung & KI"),
    ("energie", "Energie und Klimaschutz"),
    ("kreislauf", "Kreislaufwirtschaft"),
    ("gesundheit", "Gesundheitswirtschaft"),
    ("", "ohne Themenfeld"),
]
OUTCOMES = [
    ("joint_rd", "Gemeinsames FuE-Projekt"),
    ("contract_research", "Auftragsforschung"),
    ("funding_application", "Förderantrag gestellt (≥ 50.000 €)"),
    ("", "ohne Ergebnis"),
]
QUARTERS = [
    ("Q4 2025", "2025-10-01", "2025-12-31"),
    ("Q1 2026", "2026-01-01", "2026-03-31"),
    ("Q2 2026", "2026-04-01", "2026-06-30"),
    ("Q3 2026", "2026-07-01", "2026-09-30"),
]


def _rows(labels: list[tuple[str, str]], values: list[int | float]) -> list[BreakdownRow]:
    assert len(labels) == len(values)
    return [
        {"key": k, "label": label, "value": v} for (k, label), v in zip(labels, values, strict=True)
    ]


def _trend(values: list[int | float]) -> list[TrendPoint]:
    return [
        {"label": label, "start": start, "end": end, "value": value}
        for (label, start, end), value in zip(QUARTERS, values, strict=True)
    ]


def _indicator(
    code: str,
    name: str,
    name_en: str,
    unit: str,
    unit_label: str,
    rule: str,
    value: int | float,
    previous: int | float | None,
    breakdowns: dict[str, list[BreakdownRow]],
    trend: list[int | float],
) -> IndicatorContent:
    return {
        "code": code,
        "version": 1,
        "name": name,
        "name_en": name_en,
        "unit": unit,
        "unit_label": unit_label,
        "rule": rule,
        "value": value,
        "previous_value": previous,
        "breakdowns": breakdowns,
        "trend": _trend(trend),
    }


SUPPORT = (
    "einem eingereichten Besuch, einer Transferanfrage oder einer Vermittlung mit "
    "Ereignisdatum im Zeitraum"
)

_INDICATORS: list[IndicatorContent] = [
    _indicator(
        "RCO01",
        "Unterstützte Unternehmen",
        "Enterprises supported",
        "enterprises",
        "Unternehmen",
        f"Unternehmen (KMU, Großunternehmen, Start-ups) mit {SUPPORT}; jedes Unternehmen "
        "einmal je Zeitraum.",
        1234,
        1180,
        {
            "size_class": _rows(SIZE_CLASSES, [498, 401, 212, 64, 59]),
            "district": _rows(DISTRICTS, [587, 351, 296]),
            "area_type": _rows(AREA_TYPES, [640, 571, 23]),
            "topic": _rows(TOPICS, [402, 311, 207, 188, 126]),
        },
        [1012, 1096, 1180, 1234],
    ),
    _indicator(
        "RCO04",
        "Unternehmen mit nichtfinanzieller Unterstützung",
        "Enterprises with non-financial support",
        "enterprises",
        "Unternehmen",
        f"Unternehmen mit {SUPPORT} — Beratung, Vermittlung und Begleitung sind "
        "nichtfinanzielle Unterstützung; jedes Unternehmen einmal je Zeitraum.",
        1234,
        1180,
        {
            "size_class": _rows(SIZE_CLASSES, [498, 401, 212, 64, 59]),
            "district": _rows(DISTRICTS, [587, 351, 296]),
            "area_type": _rows(AREA_TYPES, [640, 571, 23]),
            "topic": _rows(TOPICS, [402, 311, 207, 188, 126]),
        },
        [1012, 1096, 1180, 1234],
    ),
    _indicator(
        "RCO05",
        "Unterstützte neue Unternehmen",
        "New enterprises supported",
        "enterprises",
        "Unternehmen",
        "Unterstützte Unternehmen (wie RCO01), deren erstes Unterstützungsereignis im "
        "Zeitraum weniger als drei Jahre nach der Gründung lag.",
        87,
        92,
        {
            "size_class": _rows(SIZE_CLASSES, [61, 19, 3, 0, 4]),
            "district": _rows(DISTRICTS, [49, 21, 17]),
            "area_type": _rows(AREA_TYPES, [28, 57, 2]),
            "topic": _rows(TOPICS, [41, 22, 12, 8, 4]),
        },
        [71, 80, 92, 87],
    ),
    _indicator(
        "RCO07",
        "Forschungseinrichtungen in gemeinsamen Forschungsprojekten",
        "Research institutions participating in joint research projects",
        "organisations",
        "Organisationen",
        "Hochschulen und Forschungseinrichtungen, die Partner eines im Zeitraum "
        "festgehaltenen Ergebnisses „Gemeinsames FuE-Projekt“ sind; jede einmal je Zeitraum.",
        6,
        0,
        {
            "district": _rows(DISTRICTS, [4, 1, 1]),
            "area_type": _rows(AREA_TYPES, [1, 5, 0]),
            "topic": _rows(TOPICS, [2, 2, 1, 1, 0]),
        },
        [3, 2, 0, 6],
    ),
    _indicator(
        "RCO10",
        "Mit Forschungseinrichtungen kooperierende Unternehmen",
        "Enterprises cooperating with research institutions",
        "enterprises",
        "Unternehmen",
        "Unternehmen mit einem im Zeitraum festgehaltenen Ergebnis „Gemeinsames "
        "FuE-Projekt“ mit einer Hochschule oder Forschungseinrichtung als Partner.",
        23,
        17,
        {
            "size_class": _rows(SIZE_CLASSES, [6, 9, 5, 2, 1]),
            "district": _rows(DISTRICTS, [12, 6, 5]),
            "area_type": _rows(AREA_TYPES, [9, 14, 0]),
            "topic": _rows(TOPICS, [8, 7, 4, 3, 1]),
        },
        [14, 19, 17, 23],
    ),
    _indicator(
        "RCR03",
        "KMU mit Produkt- oder Prozessinnovation",
        "SMEs introducing product or process innovation",
        "enterprises",
        "Unternehmen",
        "KMU und Start-ups mit einem im Zeitraum festgehaltenen Ergebnis, bei dem "
        "„Produkt- oder Prozessinnovation eingeführt“ angegeben ist — nur, wo erfasst.",
        41,
        36,
        {
            "size_class": _rows(SIZE_CLASSES, [14, 16, 9, 0, 2]),
            "district": _rows(DISTRICTS, [19, 12, 10]),
            "area_type": _rows(AREA_TYPES, [17, 24, 0]),
            "topic": _rows(TOPICS, [15, 11, 7, 5, 3]),
        },
        [29, 33, 36, 41],
    ),
    _indicator(
        "VISITS",
        "Unternehmensbesuche",
        "Company visits",
        "visits",
        "Besuche",
        "Eingereichte Besuche mit Besuchsdatum im Zeitraum (vor Ort, per Video, Telefon "
        "oder auf einer Veranstaltung); Entwürfe zählen nicht.",
        2517,
        2406,
        {
            "size_class": _rows(SIZE_CLASSES, [1003, 812, 431, 142, 129]),
            "district": _rows(DISTRICTS, [1190, 702, 625]),
            "area_type": _rows(AREA_TYPES, [1039, 1421, 57]),
            "topic": _rows(TOPICS, [811, 640, 433, 390, 243]),
        },
        [2101, 2288, 2406, 2517],
    ),
    _indicator(
        "ORGS_VISITED",
        "Besuchte Organisationen",
        "Organisations visited",
        "organisations",
        "Organisationen",
        "Organisationen jeder Art mit mindestens einem eingereichten Besuch im Zeitraum; "
        "jede einmal je Zeitraum.",
        1489,
        1437,
        {
            "size_class": _rows(SIZE_CLASSES, [561, 470, 249, 81, 128]),
            "district": _rows(DISTRICTS, [702, 419, 368]),
            "area_type": _rows(AREA_TYPES, [612, 843, 34]),
            "topic": _rows(TOPICS, [480, 377, 262, 221, 149]),
        },
        [1288, 1362, 1437, 1489],
    ),
    _indicator(
        "REQ_RECEIVED",
        "Eingegangene Transferanfragen",
        "Transfer requests received",
        "requests",
        "Anfragen",
        "Transferanfragen mit Eingangsdatum im Zeitraum.",
        318,
        287,
        {
            "size_class": _rows(SIZE_CLASSES, [121, 104, 58, 19, 16]),
            "district": _rows(DISTRICTS, [151, 88, 79]),
            "area_type": _rows(AREA_TYPES, [129, 181, 8]),
            "topic": _rows(TOPICS, [112, 83, 51, 44, 28]),
        },
        [254, 301, 287, 318],
    ),
    _indicator(
        "REQ_MATCHED",
        "Vermittelte Transferanfragen",
        "Transfer requests matched",
        "requests",
        "Anfragen",
        "Transferanfragen, bei denen im Zeitraum ein Forschungspartner zugesagt hat; jede "
        "Anfrage einmal.",
        142,
        131,
        {
            "size_class": _rows(SIZE_CLASSES, [50, 47, 29, 9, 7]),
            "district": _rows(DISTRICTS, [70, 38, 34]),
            "area_type": _rows(AREA_TYPES, [55, 84, 3]),
            "topic": _rows(TOPICS, [51, 38, 24, 18, 11]),
        },
        [109, 127, 131, 142],
    ),
    _indicator(
        "REQ_COOPERATION",
        "Transferanfragen in Kooperation",
        "Transfer requests in cooperation",
        "requests",
        "Anfragen",
        "Transferanfragen, die im Zeitraum in die Phase „In Kooperation“ oder eine spätere "
        "Fortschrittsphase gewechselt sind; jede Anfrage einmal.",
        57,
        49,
        {
            "size_class": _rows(SIZE_CLASSES, [18, 20, 12, 4, 3]),
            "district": _rows(DISTRICTS, [29, 15, 13]),
            "area_type": _rows(AREA_TYPES, [22, 35, 0]),
            "topic": _rows(TOPICS, [21, 16, 9, 7, 4]),
        },
        [38, 45, 49, 57],
    ),
    _indicator(
        "REQ_CLOSED",
        "Abgeschlossene Transferanfragen nach Ergebnis",
        "Transfer requests closed, by outcome",
        "requests",
        "Anfragen",
        "Transferanfragen, die im Zeitraum in eine abschließende Phase gewechselt sind; "
        "nach Ergebnis zählt eine Anfrage mit mehreren Ergebnisarten bei jeder.",
        64,
        58,
        {
            "outcome": _rows(OUTCOMES, [21, 17, 12, 19]),
            "size_class": _rows(SIZE_CLASSES, [22, 21, 13, 5, 3]),
            "district": _rows(DISTRICTS, [31, 18, 15]),
            "area_type": _rows(AREA_TYPES, [26, 37, 1]),
            "topic": _rows(TOPICS, [23, 17, 11, 8, 5]),
        },
        [47, 52, 58, 64],
    ),
    _indicator(
        "FOLLOW_UPS_ON_TIME",
        "Fristgerecht erledigte Wiedervorlagen",
        "Follow-ups completed on time",
        "follow_ups",
        "Wiedervorlagen",
        "Wiedervorlagen mit Fälligkeitsdatum, die im Zeitraum spätestens am Fälligkeitstag "
        "erledigt wurden (Ortszeit).",
        903,
        874,
        {
            "district": _rows(DISTRICTS, [433, 251, 219]),
            "area_type": _rows(AREA_TYPES, [371, 512, 20]),
        },
        [811, 850, 874, 903],
    ),
    _indicator(
        "RURAL_SHARE",
        "Anteil der Besuche in ländlichen Gemeinden",
        "Share of visits in rural municipalities",
        "percent",
        "%",
        "Anteil der eingereichten Besuche im Zeitraum bei Organisationen in einer "
        "ländlichen Gemeinde an allen mit bekannter Gemeinde, in Prozent mit einer "
        "Nachkommastelle.",
        42.2,
        39.8,
        {
            "size_class": _rows(SIZE_CLASSES, [47.5, 40.1, 35.6, 28.9, 44.0]),
            "district": _rows(DISTRICTS, [31.4, 55.2, 49.7]),
            "topic": _rows(TOPICS, [33.0, 51.8, 46.2, 38.5, 49.1]),
        },
        [37.1, 38.4, 39.8, 42.2],
    ),
    _indicator(
        "GREEN_SKILLS",
        "Interesse an der Green-Skills-Kampagne",
        "Interest in the green-skills campaign",
        "organisations",
        "Organisationen",
        "Organisationen mit mindestens einem eingereichten Besuch im Zeitraum, bei dem "
        "Interesse an der Green-Skills-Kampagne festgehalten wurde; jede einmal je Zeitraum.",
        176,
        None,
        {
            "size_class": _rows(SIZE_CLASSES, [71, 55, 30, 9, 11]),
            "district": _rows(DISTRICTS, [80, 52, 44]),
            "area_type": _rows(AREA_TYPES, [91, 82, 3]),
            "topic": _rows(TOPICS, [22, 97, 41, 6, 10]),
        },
        [0, 0, 0, 176],
    ),
]

PROGRESS = """\
Im 3. Quartal 2026 haben die Innovationsscouts 2.517 Unternehmensbesuche durchgeführt, \
4,6 % mehr als im Vorquartal. Besonders gefragt waren Beratungen zu Digitalisierung & KI \
sowie zur Energieeffizienz.

Sechs Forschungseinrichtungen sind neu in gemeinsame FuE-Projekte eingestiegen; \
im Vorquartal war es keine. Die Kooperation zwischen der Hochschule Ostfalia und \
drei Maschinenbau-KMU aus dem Landkreis Wolfenbüttel ist ein gutes Beispiel.

Die Green-Skills-Kampagne ist im Juli gestartet; 176 Organisationen haben Interesse bekundet."""

PROBLEMS = """\
Bei Anfragen mit einem Fördervolumen < 50.000 € fehlen oft passende Partner; \
die Vermittlungsquote liegt dort unter dem Durchschnitt.

Zwei Scout-Stellen waren im August unbesetzt (Elternzeit & Krankheit)."""

OUTLOOK = """\
Im 4. Quartal 2026 sind zwei Transfertage in Goslar und Göttingen geplant.
Ziel: mindestens 60 Transferanfragen in Kooperation."""


def sample_content(*, published: bool = True) -> ReportContent:
    """The Q3 2026 report of the whole region, published (with hashes) or as a draft."""
    content: ReportContent = {
        "title": "Wirkungsbericht 3. Quartal 2026",
        "region_name": "Innovationsregion Südniedersachsen",
        "programme_name": "Innovationsscouting & Wissenstransfer (EFRE 2021–2027)",
        "logo_path": "",
        "period": {"start": "2026-07-01", "end": "2026-09-30", "label": "3. Quartal 2026"},
        "previous_period": {
            "start": "2026-04-01",
            "end": "2026-06-30",
            "label": "2. Quartal 2026",
        },
        "scope_label": "Gesamte Region",
        "version": 2,
        "status": "published" if published else "draft",
        "generated_at": "2026-10-02T14:35:12",
        "published_at": "2026-10-05T09:10:00" if published else "",
        "published_by": "Dr. Jürgen Weiß" if published else "",
        "figures_sha256": FIGURES_SHA256 if published else "",
        "xlsx_sha256": XLSX_SHA256 if published else "",
        "breakdown_labels": {
            "size_class": "Größenklasse",
            "district": "Landkreis",
            "area_type": "Ländlich/städtisch",
            "topic": "Themenfeld",
            "outcome": "Ergebnis",
        },
        "indicators": copy.deepcopy(_INDICATORS),
        "narrative": {"progress": PROGRESS, "problems": PROBLEMS, "outlook": OUTLOOK},
    }
    return content
