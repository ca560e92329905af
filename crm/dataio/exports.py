"""Writing exported rows as CSV (streamed) or XLSX, safe to open in a spreadsheet.

A text cell starting with =, +, -, @, a tab or a carriage return would be read
as a formula by Excel or LibreOffice ("CSV injection"), so it gets a leading
apostrophe; the import takes that apostrophe off again.
"""

from __future__ import annotations

import csv
import datetime
import tempfile
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import IO, Any

from django.db.models import QuerySet
from import_export.resources import Resource
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from .fields import FORMULA_TRIGGERS

CHUNK_SIZE = 2000
_ROWS_PER_WRITE = 200


def escape_formula(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def _csv_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, datetime.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, float | Decimal):
        return str(value).replace(".", ",")
    return escape_formula(str(value))


def _xlsx_value(value: Any) -> Any:
    if isinstance(value, str):
        return escape_formula(ILLEGAL_CHARACTERS_RE.sub("", value))
    return value


def export_rows(resource: Resource, queryset: QuerySet[Any]) -> Iterator[list[Any]]:
    """Headings, then one list of cell values per record, read in chunks."""
    yield resource.get_export_headers()
    for record in queryset.iterator(chunk_size=CHUNK_SIZE):
        yield resource.export_resource(record, force_native_type=True)


class _Line:
    """A file-like object that hands back what csv.writer writes to it."""

    def write(self, text: str) -> str:
        return text


def csv_chunks(rows: Iterable[list[Any]]) -> Iterator[str]:
    """UTF-8 text with BOM, semicolons and CRLF: what German Excel opens without asking."""
    writer = csv.writer(_Line(), delimiter=";", lineterminator="\r\n")
    yield "\ufeff"
    lines: list[str] = []
    for row in rows:
        lines.append(writer.writerow([_csv_text(v) for v in row]))
        if len(lines) >= _ROWS_PER_WRITE:
            yield "".join(lines)
            lines = []
    if lines:
        yield "".join(lines)


def write_xlsx(rows: Iterable[list[Any]], *, sheet_title: str) -> IO[bytes]:
    """An XLSX workbook in a temporary file (deleted once closed), positioned at its start."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=sheet_title[:31] or "Export")
    for row in rows:
        sheet.append([_xlsx_value(v) for v in row])
    output = tempfile.TemporaryFile(suffix=".xlsx")  # noqa: SIM115 - the response closes it
    workbook.save(output)
    output.seek(0)
    return output
