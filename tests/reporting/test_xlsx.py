from __future__ import annotations

import datetime
import zipfile
from collections.abc import Iterator
from io import BytesIO
from typing import Any

import pytest
from django.utils.translation import gettext, pgettext
from openpyxl import load_workbook

from reporting import xlsx
from reporting.content import EvidenceSheet
from reporting.xlsx import write_xlsx
from tests.reporting.sample_content import FIGURES_SHA256, XLSX_SHA256, sample_content

DAY = datetime.date(2026, 7, 1)


def _organisations() -> EvidenceSheet:
    return EvidenceSheet(
        title="Nachweis Organisationen",
        columns=["Organisation", "Telefon (Zentrale)", "Landkreis", "Erster Kontakt", "RCO01"],
        rows=[
            ('=HYPERLINK("https://example.org","klicken")', "+49 551 123456", "Landkreis Goslar",
             datetime.date(2026, 7, 3), "x"),
            ("Müller & Söhne GmbH <Werk 2>", "-", "Landkreis Göttingen",
             datetime.date(2026, 9, 30), ""),
            ("@Formel", "\tmit Tab", "Landkreis Wolfenbüttel", None, True),
        ],
        note="x = für RCO01 gezählt",
        column_widths=(40, 18, 24, 14, 8),
    )  # fmt: skip


def _visits(count: int = 5000) -> EvidenceSheet:
    def rows() -> Iterator[tuple[Any, ...]]:
        for number in range(1, count + 1):
            day = DAY + datetime.timedelta(days=number % 92)
            yield (number, day, "Landkreis Wolfenbüttel", 1.5)

    return EvidenceSheet(
        title="Nachweis Besuche",
        columns=["Nr.", "Besuchsdatum", "Landkreis", "Stunden"],
        rows=rows(),
    )


def _write(content=None, evidence=None) -> bytes:
    out = BytesIO()
    evidence = [_organisations(), _visits()] if evidence is None else evidence
    write_xlsx(content or sample_content(), evidence, out)
    return out.getvalue()


@pytest.fixture(scope="module")
def workbook_bytes() -> bytes:
    return _write()


@pytest.fixture
def workbook(workbook_bytes):
    book = load_workbook(BytesIO(workbook_bytes), read_only=True)
    yield book
    book.close()


def _rows(sheet) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in sheet.iter_rows(values_only=True)]


def _trimmed(row: tuple[Any, ...]) -> tuple[Any, ...]:
    values = list(row)
    while values and values[-1] is None:
        values.pop()
    return tuple(values)


def test_sheets_come_in_order(workbook):
    codes = [indicator["code"] for indicator in sample_content()["indicators"]]
    assert workbook.sheetnames == [
        gettext("Overview"),
        *codes,
        gettext("Definitions"),
        "Nachweis Organisationen",
        "Nachweis Besuche",
    ]
    assert workbook.sheetnames[0] == "Übersicht"


def test_the_overview_has_the_report_facts_and_the_summary_table(workbook):
    rows = [_trimmed(row) for row in _rows(workbook[gettext("Overview")])]
    content = sample_content()
    assert rows[0] == (content["title"],)
    facts = {row[0]: row[1:] for row in rows if len(row) >= 2}
    assert facts[gettext("Period")] == (
        "3. Quartal 2026",
        datetime.datetime(2026, 7, 1),
        datetime.datetime(2026, 9, 30),
    )
    assert facts[gettext("Figures SHA-256")] == (FIGURES_SHA256,)
    assert facts[gettext("Published by")] == ("Dr. Jürgen Weiß",)
    assert facts[gettext("Generated")] == (datetime.datetime(2026, 10, 2, 14, 35, 12),)
    # the XLSX's own hash cannot be in the XLSX
    assert not any(XLSX_SHA256 in str(value) for row in rows for value in row)

    header = rows.index(
        (
            gettext("Code"),
            gettext("Indicator"),
            gettext("Unit"),
            gettext("Value"),
            gettext("Previous period"),
            pgettext("figures", "Change"),
            gettext("Change in %"),
        )
    )
    summary = rows[header + 1 :]
    assert len(summary) == len(content["indicators"])
    by_code = {row[0]: row for row in summary}
    assert by_code["RCO01"] == (
        "RCO01", "Unterstützte Unternehmen", "Unternehmen", 1234, 1180, 54, 4.6
    )  # fmt: skip
    assert by_code["RURAL_SHARE"][3:] == (42.2, 39.8, 2.4, 6.0)
    assert by_code["RCO07"][3:] == (6, 0, 6)  # previous 0: no relative change
    assert by_code["GREEN_SKILLS"][3:] == (176,)


def test_each_indicator_sheet_holds_its_value_breakdowns_and_trend(workbook):
    content = sample_content()
    labels = content["breakdown_labels"]
    for indicator in content["indicators"]:
        rows = [_trimmed(row) for row in _rows(workbook[indicator["code"]])]
        assert rows[0] == (f"{indicator['code']} – {indicator['name']}",)
        facts = {row[0]: row[1:] for row in rows if row}
        assert facts[gettext("Value")][0] == indicator["value"]
        previous = facts[gettext("Previous period")]
        assert previous[0] == indicator["previous_value"]
        assert previous[-1] == "2. Quartal 2026"
        assert facts[gettext("Counting rule")] == (indicator["rule"],)

        for name, breakdown in indicator["breakdowns"].items():
            start = rows.index((labels[name], gettext("Value"))) + 1
            expected = [(row["label"], row["value"]) for row in breakdown]
            assert rows[start : start + len(expected)] == expected, (indicator["code"], name)

        start = rows.index((gettext("Trend by quarter"),)) + 2
        assert rows[start : start + len(indicator["trend"])] == [
            (
                point["label"],
                point["value"],
                datetime.datetime.fromisoformat(point["start"]),
                datetime.datetime.fromisoformat(point["end"]),
            )
            for point in indicator["trend"]
        ]


def test_the_definitions_sheet_lists_every_indicator(workbook):
    rows = _rows(workbook[gettext("Definitions")])
    assert [row[0] for row in rows[1:]] == [i["code"] for i in sample_content()["indicators"]]
    rco01 = rows[1]
    assert rco01[1:5] == ("Unterstützte Unternehmen", "Enterprises supported", "Unternehmen", 1)
    assert rco01[5].startswith("Unternehmen (KMU, Großunternehmen, Start-ups)")


def test_evidence_rows_are_written_with_escaped_formulas_and_real_dates(workbook):
    rows = _rows(workbook["Nachweis Organisationen"])
    assert rows[0][0] == "x = für RCO01 gezählt"
    assert rows[1] == ("Organisation", "Telefon (Zentrale)", "Landkreis", "Erster Kontakt", "RCO01")
    assert rows[2] == (
        '\'=HYPERLINK("https://example.org","klicken")',
        "'+49 551 123456",
        "Landkreis Goslar",
        datetime.datetime(2026, 7, 3),
        "x",
    )
    assert rows[3][:2] == ("Müller & Söhne GmbH <Werk 2>", "'-")
    assert rows[4] == ("'@Formel", "'\tmit Tab", "Landkreis Wolfenbüttel", None, True)
    date_cell = workbook["Nachweis Organisationen"]["D3"]
    assert date_cell.is_date and date_cell.number_format == "DD.MM.YYYY"


def test_a_generator_of_evidence_rows_is_streamed_to_the_end(workbook):
    rows = _rows(workbook["Nachweis Besuche"])
    assert rows[0] == ("Nr.", "Besuchsdatum", "Landkreis", "Stunden")
    assert len(rows) == 1 + 5000
    assert rows[1] == (1, datetime.datetime(2026, 7, 2), "Landkreis Wolfenbüttel", 1.5)
    assert rows[-1][0] == 5000


def test_text_from_the_content_is_escaped_too():
    content = sample_content()
    content["indicators"][0]["name"] = "=1+1"
    content["scope_label"] = "-Landkreis\x07 Goslar"
    book = load_workbook(BytesIO(_write(content, [])), read_only=True)
    rows = _rows(book[gettext("Overview")])
    area = next(row for row in rows if row and row[0] == gettext("Area"))
    assert area[1] == "'-Landkreis Goslar"  # control character dropped, formula escaped
    assert any(row[:2] == ("RCO01", "'=1+1") for row in rows)
    assert _rows(book["RCO01"])[0][0] == "RCO01 – =1+1"  # not at the start: no formula


def test_the_same_content_gives_the_same_bytes(workbook_bytes):
    assert _write() == workbook_bytes
    book = load_workbook(BytesIO(workbook_bytes))  # the full reader parses styles as well
    # generated_at is local time (Europe/Berlin, summer time); the properties are UTC
    assert book.properties.created == datetime.datetime(2026, 10, 2, 12, 35, 12)
    assert book.properties.modified == book.properties.created
    assert book.properties.title == "Wirkungsbericht 3. Quartal 2026"


def test_sheet_names_are_made_valid_and_unique():
    evidence = [
        EvidenceSheet("Nachweis: Anfragen/Vermittlungen [2026] mit sehr langem Titel", ["A"], []),
        EvidenceSheet("RCO01", ["A"], [(1,)]),
        EvidenceSheet("rco01", ["A"], [(2,)]),
    ]
    names = load_workbook(BytesIO(_write(evidence=evidence)), read_only=True).sheetnames
    assert names[-3:] == ["Nachweis Anfragen Vermittlungen", "RCO01 (2)", "rco01 (3)"]
    assert all(len(name) <= 31 for name in names)


def test_an_empty_evidence_sheet_keeps_its_columns():
    book = load_workbook(BytesIO(_write(evidence=[EvidenceSheet("Leer", ["A", "B"], [])])))
    assert _rows(book["Leer"]) == [("A", "B")]


def test_evidence_beyond_the_sheet_limit_continues_on_the_next_sheet(monkeypatch):
    monkeypatch.setattr(xlsx, "MAX_SHEET_ROWS", 2000)
    book = load_workbook(BytesIO(_write(evidence=[_visits(4500)])), read_only=True)
    assert book.sheetnames[-3:] == [
        "Nachweis Besuche",
        "Nachweis Besuche (2)",
        "Nachweis Besuche (3)",
    ]
    parts = [_rows(book[name]) for name in book.sheetnames[-3:]]
    assert [len(rows) for rows in parts] == [2000, 2000, 503]
    assert all(rows[0][0] == "Nr." for rows in parts)
    numbers = [row[0] for rows in parts for row in rows[1:]]
    assert numbers == list(range(1, 4501))


def test_sheets_are_deflated_by_isa_l_into_a_valid_zip(monkeypatch):
    pytest.importorskip("isal")
    from isal import isal_zlib

    used = []
    real = isal_zlib.compressobj

    def counting(*args, **kwargs):
        used.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(isal_zlib, "compressobj", counting)
    archive = zipfile.ZipFile(BytesIO(_write()))
    assert archive.testzip() is None  # every entry's CRC checks out
    sheets = [i for i in archive.infolist() if i.filename.startswith("xl/worksheets/")]
    assert len(used) == len(sheets) and used[0][0] == xlsx.ISAL_LEVEL
    visits = archive.read(sheets[-1].filename)
    assert visits.count(b"<row ") == 5001 and visits.endswith(b"</worksheet>")
