"""Reading uploaded spreadsheets: CSV (any usual encoding and delimiter) and XLSX.

The first row holds the column headings; every further non-empty row is data.
Files are read as streams so that a large file never sits in memory as a whole.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import itertools
import zipfile
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from django.utils.translation import gettext as _

from .fields import cell_text

CSV = "csv"
XLSX = "xlsx"
CSV_DELIMITERS = (";", ",", "\t", "|")
SAMPLE_ROWS = 3

_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # Excel 97-2003 (.xls)
_UTF16_32_BOMS = (
    codecs.BOM_UTF32_LE,
    codecs.BOM_UTF32_BE,
    codecs.BOM_UTF16_LE,
    codecs.BOM_UTF16_BE,
)
_CHUNK = 1024 * 1024
# An XLSX is a zip of XML; refuse archives that would unpack to far more than we accept.
_MAX_XLSX_UNPACKED_BYTES = 1024 * 1024 * 1024
_CONTROL_CHARS = {chr(c) for c in range(32)} - {"\t", "\n", "\r"}


class ImportFileError(Exception):
    """The file cannot be read; the message tells the user why, in their language."""


@dataclass
class TableInfo:
    kind: str
    headers: list[str]
    encoding: str = ""
    delimiter: str = ""
    row_count: int = 0
    samples: list[list[str]] = field(default_factory=list)

    def column_samples(self, index: int) -> list[str]:
        return [row[index] for row in self.samples if index < len(row) and row[index]]


def _rewind(source: IO[bytes]) -> None:
    source.seek(0)


def detect_kind(source: IO[bytes], name: str) -> str:
    """CSV or XLSX, by content (a renamed file still works), refusing other formats."""
    _rewind(source)
    head = source.read(8)
    _rewind(source)
    if not head:
        raise ImportFileError(_("The file is empty."))
    if head.startswith(_ZIP_MAGIC):
        return XLSX
    if head.startswith(_OLE_MAGIC):
        raise ImportFileError(
            _(
                "Old Excel files (.xls) cannot be read. Please save the file as "
                "“Excel workbook (.xlsx)” or as CSV."
            )
        )
    lowered = name.lower()
    if lowered.endswith((".xlsx", ".xlsm")):
        raise ImportFileError(_("The file is not a valid Excel workbook (.xlsx)."))
    if not lowered.endswith((".csv", ".txt", ".tsv")):
        raise ImportFileError(
            _("Only CSV (.csv) and Excel (.xlsx) files can be imported, not “%(name)s”.")
            % {"name": name}
        )
    return CSV


# --- CSV -----------------------------------------------------------------------------


def detect_encoding(source: IO[bytes]) -> str:
    """``utf-8-sig`` when the whole file decodes as UTF-8 (with or without BOM), else cp1252."""
    _rewind(source)
    head = source.read(64 * 1024)
    _rewind(source)
    if head.startswith(_UTF16_32_BOMS) or head.count(b"\x00") > max(2, len(head) // 100):
        raise ImportFileError(
            _(
                "The file is not a text file in a supported encoding (UTF-16 and binary files "
                "cannot be read). Please save it as “CSV UTF-8” or as Excel workbook (.xlsx)."
            )
        )
    for encoding in ("utf-8-sig", "cp1252"):
        decoder = codecs.getincrementaldecoder(encoding)()
        try:
            while chunk := source.read(_CHUNK):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            _rewind(source)
            continue
        _rewind(source)
        sample = head.decode(encoding, errors="replace")
        if sum(ch in _CONTROL_CHARS for ch in sample) > max(2, len(sample) // 100):
            break
        return encoding
    raise ImportFileError(
        _(
            "The file's characters cannot be read: it is neither UTF-8 nor Windows-1252 text. "
            "Please save it as “CSV UTF-8” or as Excel workbook (.xlsx)."
        )
    )


def _text_lines(source: IO[bytes], encoding: str) -> Generator[str, None, None]:
    _rewind(source)
    stream = io.TextIOWrapper(source, encoding=encoding, newline="")
    try:
        for line in stream:
            yield line.replace("\x00", "") if "\x00" in line else line
    finally:
        # Hand the file back unclosed: the caller owns it (and may read it again).
        with contextlib.suppress(ValueError):
            stream.detach()


def sniff_delimiter(source: IO[bytes], encoding: str) -> str:
    """The delimiter that splits the first lines into the most, and consistent, columns."""
    lines = []
    head = _text_lines(source, encoding)
    for line in head:
        lines.append(line)
        if len(lines) >= 20:
            break
    head.close()
    best, best_score = ";", (0, 0)
    for delimiter in CSV_DELIMITERS:
        try:
            rows = [r for r in csv.reader(lines, delimiter=delimiter) if r]
        except csv.Error:
            continue
        if not rows:
            continue
        width = len(rows[0])
        consistent = sum(1 for r in rows if len(r) == width)
        score = (consistent if width > 1 else 0, width)
        if score > best_score:
            best, best_score = delimiter, score
    _rewind(source)
    return best


def _csv_rows(source: IO[bytes], encoding: str, delimiter: str) -> Iterator[list[Any]]:
    lines = _text_lines(source, encoding)
    reader = csv.reader(lines, delimiter=delimiter)
    try:
        yield from reader
    except csv.Error as exc:
        raise ImportFileError(
            _("Record %(line)d of the file cannot be read: %(error)s")
            % {"line": reader.line_num, "error": exc}
        ) from None
    finally:
        lines.close()


# --- XLSX ----------------------------------------------------------------------------


def _open_workbook(source: IO[bytes]) -> Any:
    import openpyxl

    _rewind(source)
    try:
        with zipfile.ZipFile(source) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
        if unpacked > _MAX_XLSX_UNPACKED_BYTES:
            raise ImportFileError(_("The Excel file is too large when unpacked."))
        _rewind(source)
        return openpyxl.load_workbook(source, read_only=True, data_only=True)
    except ImportFileError:
        raise
    except Exception:  # openpyxl raises many kinds for broken files
        raise ImportFileError(_("The file is not a valid Excel workbook (.xlsx).")) from None


def _xlsx_dimension_rows(source: IO[bytes]) -> int | None:
    """Data rows a workbook's first sheet claims to have (blank rows included), if stated."""
    workbook = _open_workbook(source)
    try:
        if not workbook.worksheets:
            return None
        max_row = workbook.worksheets[0].max_row
    finally:
        workbook.close()
        _rewind(source)
    return max_row - 1 if max_row else None


def _xlsx_rows(source: IO[bytes]) -> Iterator[list[Any]]:
    workbook = _open_workbook(source)
    try:
        if not workbook.worksheets:
            return
        for row in workbook.worksheets[0].iter_rows(values_only=True):
            yield list(row)
    finally:
        workbook.close()


# --- Both ----------------------------------------------------------------------------


def _is_blank(row: list[Any]) -> bool:
    return all(cell is None or (isinstance(cell, str) and not cell.strip()) for cell in row)


def _filled(row: list[Any]) -> int:
    return sum(not (cell is None or (isinstance(cell, str) and not cell.strip())) for cell in row)


def _split_header(
    rows: Iterator[list[Any]],
) -> tuple[list[Any] | None, Iterator[tuple[int, list[Any]]]]:
    """The heading row and the numbered rows after it.

    Blank rows before the headings are skipped, and so is a title row ("Firmenliste
    2026" in A1, often merged across the table) when the row after it has several
    cells: a single-cell row followed by another single-cell row is the heading of
    a one-column file. Deterministic, so the check and the import agree.
    """
    numbered: Iterator[tuple[int, list[Any]]] = enumerate(rows, start=1)
    candidate: list[Any] | None = None
    for number, row in numbered:
        filled = _filled(row)
        if filled == 0:
            continue
        if filled >= 2:
            return row, numbered
        if candidate is not None:
            return candidate, itertools.chain([(number, row)], numbered)
        candidate = row
    return candidate, numbered


def _raw_rows(source: IO[bytes], info: TableInfo) -> Iterator[list[Any]]:
    if info.kind == XLSX:
        return _xlsx_rows(source)
    return _csv_rows(source, info.encoding, info.delimiter)


def inspect_table(source: IO[bytes], *, name: str) -> TableInfo:
    """Kind, encoding, delimiter, headings, a few sample rows and the number of data rows."""
    kind = detect_kind(source, name)
    info = TableInfo(kind=kind, headers=[])
    if kind == CSV:
        info.encoding = detect_encoding(source)
        info.delimiter = sniff_delimiter(source, info.encoding)
    estimated_rows = _xlsx_dimension_rows(source) if kind == XLSX else None
    rows = _raw_rows(source, info)
    header_row, data_rows = _split_header(rows)
    if header_row is None:
        raise ImportFileError(_("The first row must contain the column headings."))
    while header_row and (header_row[-1] is None or cell_text(header_row[-1]) == ""):
        header_row.pop()
    info.headers = [
        cell_text(h) or _("Column %(number)d") % {"number": i + 1} for i, h in enumerate(header_row)
    ]
    for _number, row in data_rows:
        if _is_blank(row):
            continue
        info.row_count += 1
        if len(info.samples) < SAMPLE_ROWS:
            info.samples.append([cell_text(c) for c in row[: len(info.headers)]])
        elif estimated_rows is not None:
            # Counting every row of a big workbook takes long; its stated size is close
            # enough to choose between foreground and background, and the check counts.
            info.row_count = max(info.row_count, estimated_rows)
            break
    if hasattr(rows, "close"):
        rows.close()
    _rewind(source)
    if info.row_count == 0:
        raise ImportFileError(_("The file contains column headings but no data rows."))
    return info


def iter_data_rows(source: IO[bytes], info: TableInfo) -> Iterator[tuple[int, list[Any]]]:
    """(row number as the user sees it, cells) for every non-empty data row."""
    _header, data_rows = _split_header(_raw_rows(source, info))
    for number, row in data_rows:
        if not _is_blank(row):
            yield number, row
