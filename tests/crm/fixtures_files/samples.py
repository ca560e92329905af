"""Small spreadsheets built by the tests themselves, as bytes or uploaded files."""

from __future__ import annotations

import io
from collections.abc import Sequence

from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl import Workbook

Rows = Sequence[Sequence[object]]

ORGANISATION_HEADERS = [
    "Firma",
    "Art",
    "Rechtsform",
    "Mitarbeiter",
    "Branche",
    "Gründungsjahr",
    "Straße",
    "PLZ",
    "Ort",
    "AGS",
    "Webseite",
    "E-Mail",
    "Telefon",
    "Handelsregister",
    "Kundennummer",
]


def organisation_row(number: int, **overrides: object) -> list[object]:
    values: dict[str, object] = {
        "Firma": f"Müller Werkzeugbau {number} GmbH",
        "Art": "KMU",
        "Rechtsform": "GmbH",
        "Mitarbeiter": "1.234" if number % 2 else str(number % 300),
        "Branche": "C – Verarbeitendes Gewerbe",
        "Gründungsjahr": "1998",
        "Straße": f"Hauptstraße {number}",
        "PLZ": "38162",
        "Ort": "Cremlingen",
        "AGS": "03158011",
        "Webseite": f"www.werkzeugbau-{number}.de",
        "E-Mail": f"info@werkzeugbau-{number}.de",
        "Telefon": "+49 5306 1234",
        "Handelsregister": f"HRB {100000 + number}",
        "Kundennummer": f"K-{number:05d}",
    }
    values.update(overrides)
    return [values[h] for h in ORGANISATION_HEADERS]


def organisation_rows(count: int, start: int = 1) -> list[list[object]]:
    return [organisation_row(n) for n in range(start, start + count)]


PERSON_HEADERS = [
    "Anrede",
    "Titel",
    "Vorname",
    "Nachname",
    "E-Mail",
    "Telefon",
    "Externe ID",
    "Firma",
    "Funktion",
    "Abteilung",
]


def person_row(number: int, *, organisation: str = "", **overrides: object) -> list[object]:
    values: dict[str, object] = {
        "Anrede": "Frau",
        "Titel": "Dr.",
        "Vorname": "Jörg" if number % 2 else "Anna",
        "Nachname": f"Schäfer{number}",
        "E-Mail": f"person{number}@example.org",
        "Telefon": "0531 12345",
        "Externe ID": f"P-{number}",
        "Firma": organisation,
        "Funktion": "Geschäftsführung" if organisation else "",
        "Abteilung": "",
    }
    values.update(overrides)
    return [values[h] for h in PERSON_HEADERS]


def csv_bytes(
    headers: Sequence[str],
    rows: Rows,
    *,
    delimiter: str = ";",
    encoding: str = "utf-8",
    bom: bool = False,
) -> bytes:
    def cell(value: object) -> str:
        text = "" if value is None else str(value)
        if any(c in text for c in (delimiter, '"', "\n", "\r")):
            text = '"' + text.replace('"', '""') + '"'
        return text

    lines = [delimiter.join(cell(v) for v in row) for row in [list(headers), *rows]]
    data = ("\r\n".join(lines) + "\r\n").encode(encoding)
    return (b"\xef\xbb\xbf" + data) if bom else data


def xlsx_bytes(headers: Sequence[str], rows: Rows) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(list(headers))
    for row in rows:
        sheet.append(list(row))
    output = io.BytesIO()
    workbook.save(output)
    return output.getvalue()


def upload(name: str, content: bytes) -> SimpleUploadedFile:
    content_type = (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        if name.endswith(".xlsx")
        else "text/csv"
    )
    return SimpleUploadedFile(name, content, content_type=content_type)
