"""The impact report as an XLSX workbook: an overview, one sheet per indicator, the
definitions, then the evidence sheets (the records behind the figures).

The workbook is written as SpreadsheetML straight into the ZIP, one sheet after the
other, so the evidence rows stream through and memory stays flat. openpyxl's write-only
mode does the same but builds an XML element per cell: without lxml (not installed) it
took 28 s for 300,000 rows × 8 columns here, this writer about 3 s. Only the features
the report needs are written: shared and inline strings, numbers, booleans, dates, a
few styles, column widths and a frozen header row.

Text cells that a spreadsheet would read as a formula get a leading apostrophe (the same
rule as the CSV/XLSX exports). The output is byte-for-byte the same for the same
content: ZIP timestamps and document properties come from ``generated_at``."""

from __future__ import annotations

import datetime
import math
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from decimal import Decimal
from typing import IO, Any, BinaryIO, NamedTuple

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.utils import get_column_letter

from crm.dataio.exports import escape_formula

try:  # Intel's ISA-L deflate (the isal package): a pinned dependency, but optional here
    from isal import isal_zlib
except ImportError:  # pragma: no cover - zlib writes the same format, slower
    isal_zlib = None

from .content import EvidenceSheet, IndicatorContent, ReportContent
from .pdf import change_numbers

# Excel's limits: rows per sheet, characters per cell, characters in a sheet name.
MAX_SHEET_ROWS = 1_048_576
MAX_CELL_CHARS = 32_767
MAX_SHEET_NAME = 31
# Deflate level 1: the evidence XML is repetitive, so the file is only ~20 % larger
# than at the default level 6, and written in two thirds of the time.
COMPRESS_LEVEL = 1
# The sheets' own entries are deflated by ISA-L where installed: the same format,
# slightly smaller than zlib's level 1 makes it, in less than a third of the time (a
# year's evidence at state scale, 213 MB of XML: 0.62 → 0.18 s, 32.6 → 31.0 MB).
ISAL_LEVEL = 1

# Cell styles: indexes into cellXfs of _STYLES_XML.
DEFAULT, BOLD, DATE, DATETIME, TITLE, WRAP, HEADER = range(7)

_MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_DOC_REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
_XML_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_EXCEL_EPOCH = datetime.date(1899, 12, 30).toordinal()
_FORBIDDEN_IN_SHEET_NAMES = str.maketrans({c: " " for c in "[]:*?/\\"})

_STYLES_XML = (
    _XML_HEAD + f'<styleSheet xmlns="{_MAIN_NS}">'
    '<numFmts count="2">'
    '<numFmt numFmtId="164" formatCode="DD.MM.YYYY"/>'
    '<numFmt numFmtId="165" formatCode="DD.MM.YYYY HH:MM"/>'
    "</numFmts>"
    '<fonts count="3">'
    '<font><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
    '<font><b/><sz val="14"/><name val="Calibri"/><family val="2"/></font>'
    "</fonts>"
    '<fills count="3">'
    '<fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill>'
    '<fill><patternFill patternType="solid"><fgColor rgb="FFE9ECEF"/>'
    '<bgColor indexed="64"/></patternFill></fill>'
    "</fills>"
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="7">'
    '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="165" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="0" fontId="2" fillId="0" borderId="0" xfId="0" applyFont="1"/>'
    '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0" applyAlignment="1">'
    '<alignment vertical="top" wrapText="1"/></xf>'
    '<xf numFmtId="0" fontId="1" fillId="2" borderId="0" xfId="0" applyFont="1" applyFill="1"/>'
    "</cellXfs>"
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)


class Styled(NamedTuple):
    """A cell value with one of the styles above (plain values get the default)."""

    value: Any
    style: int


# --- Cells -----------------------------------------------------------------------------


def _xml_text(text: str) -> str:
    if "&" not in text and "<" not in text and ">" not in text:
        return text
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _xml_attribute(text: str) -> str:
    return _xml_text(text).replace('"', "&quot;")


def _cell_text(value: str) -> str:
    """What a text cell shows: without characters XML does not allow, a formula behind
    an apostrophe, at most ``MAX_CELL_CHARS`` (not yet XML-escaped); "" for no cell."""
    if not value.isprintable():  # fast path: only then can it hold control characters
        value = ILLEGAL_CHARACTERS_RE.sub("", value)
    return escape_formula(value)[:MAX_CELL_CHARS] if value else ""


def _string_cell(ref: str, value: str, style: int) -> str:
    value = _cell_text(value)
    if not value:
        return ""
    s = f' s="{style}"' if style else ""
    return (
        f'<c r="{ref}"{s} t="inlineStr"><is><t xml:space="preserve">{_xml_text(value)}</t></is></c>'
    )


def _number_cell(ref: str, value: int | float | Decimal, style: int) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        return _string_cell(ref, str(value), style)
    s = f' s="{style}"' if style else ""
    return f'<c r="{ref}"{s}><v>{value}</v></c>'


def _bool_cell(ref: str, value: bool, style: int) -> str:
    s = f' s="{style}"' if style else ""
    return f'<c r="{ref}"{s} t="b"><v>{int(value)}</v></c>'


def _date_cell(ref: str, value: datetime.date, style: int) -> str:
    return f'<c r="{ref}" s="{style or DATE}"><v>{value.toordinal() - _EXCEL_EPOCH}</v></c>'


def _datetime_cell(ref: str, value: datetime.datetime, style: int) -> str:
    if timezone.is_aware(value):
        value = timezone.localtime(value).replace(tzinfo=None)
    seconds = value.hour * 3600 + value.minute * 60 + value.second
    serial = value.toordinal() - _EXCEL_EPOCH + seconds / 86400
    return f'<c r="{ref}" s="{style or DATETIME}"><v>{serial!r}</v></c>'


def _none_cell(ref: str, value: None, style: int) -> str:
    return f'<c r="{ref}" s="{style}"/>' if style else ""


_CELL_WRITERS: dict[type, Callable[[str, Any, int], str]] = {
    str: _string_cell,
    int: _number_cell,
    float: _number_cell,
    Decimal: _number_cell,
    bool: _bool_cell,
    datetime.date: _date_cell,
    datetime.datetime: _datetime_cell,
    type(None): _none_cell,
}


def _cell(ref: str, value: Any, style: int = DEFAULT) -> str:
    if type(value) is Styled:
        value, style = value
    writer = _CELL_WRITERS.get(type(value))
    if writer is None:  # subclasses (e.g. an enum's str) and anything else
        for kind in (bool, datetime.datetime, datetime.date, str, int, float, Decimal):
            if isinstance(value, kind):
                return _CELL_WRITERS[kind](ref, value, style)
        return _string_cell(ref, str(value), style)
    return writer(ref, value, style)


class _SharedStrings:
    """The workbook's shared strings: a text that repeats (a kind, a district, a
    municipality …) is written once and referenced by number — a third of the XML to
    write and compress for the evidence sheets. Up to ``LIMIT`` texts; later new ones
    are written in the cell."""

    LIMIT = 20_000

    def __init__(self) -> None:
        self.index: dict[str, int] = {}  # text as given → its number, -1: empty once cleaned
        self.texts: list[str] = []  # XML-escaped, in number order

    def cell(self, ref: str, value: str) -> str:
        number = self.index.get(value)
        if number is None:
            if len(self.index) >= self.LIMIT:
                return _string_cell(ref, value, DEFAULT)
            text = _cell_text(value)
            number = self.index[value] = len(self.texts) if text else -1
            if text:
                self.texts.append(_xml_text(text))
        return f'<c r="{ref}" t="s"><v>{number}</v></c>' if number >= 0 else ""

    def xml(self) -> str:
        items = "".join(f'<si><t xml:space="preserve">{text}</t></si>' for text in self.texts)
        return f'{_XML_HEAD}<sst xmlns="{_MAIN_NS}" uniqueCount="{len(self.texts)}">{items}</sst>'


class _Columns:
    """Column letters, computed once per column index."""

    def __init__(self) -> None:
        self._letters: list[str] = []

    def __getitem__(self, count: int) -> list[str]:
        while len(self._letters) < count:
            self._letters.append(get_column_letter(len(self._letters) + 1))
        return self._letters


_COLUMNS = _Columns()


def _row_xml(number: int, values: Sequence[Any], width: int, shared: _SharedStrings) -> str:
    """A row; an empty cell in column ``width`` when the row would end before it, so
    that readers which size rows by their last cell (openpyxl, read-only) see every
    row of a sheet equally wide.

    The common cases inline — no value, a whole number, a text — and a plain value of an
    exact type with one call per cell: the evidence sheets have 250,000 rows and more."""
    row = str(number)
    letters = _COLUMNS[max(len(values), width)]
    cells: list[str] = []
    append = cells.append
    cell = ""
    for letter, value in zip(letters, values, strict=False):
        kind = type(value)
        if value is None:
            cell = ""
            continue
        if kind is int:
            cell = f'<c r="{letter}{row}"><v>{value}</v></c>'
        elif kind is str:
            cell = shared.cell(letter + row, value)
        elif (writer := _CELL_WRITERS.get(kind)) is not None:
            cell = writer(letter + row, value, DEFAULT)
        else:
            cell = _cell(letter + row, value)
        append(cell)
    if width and (len(values) < width or (len(values) == width and not cell)):
        append(f'<c r="{letters[width - 1]}{row}"/>')
    return f'<row r="{row}">{"".join(cells)}</row>'


# --- Package ---------------------------------------------------------------------------


class _Sheet(NamedTuple):
    name: str
    path: str  # inside the ZIP, e.g. "xl/worksheets/sheet3.xml"


class _Package:
    """The ZIP with its sheets; sheets are written one at a time, parts at the end."""

    def __init__(self, out: IO[bytes], generated_at: str) -> None:
        self.moment = _local_datetime(generated_at)
        self.zip = zipfile.ZipFile(
            out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=COMPRESS_LEVEL
        )
        self.sheets: list[_Sheet] = []
        self.last_sheets: list[_Sheet] = []  # written before, listed after ``sheets``
        self.shared = _SharedStrings()
        self._names: set[str] = set()

    def _entry(self, name: str) -> zipfile.ZipInfo:
        moment = max(self.moment, datetime.datetime(1980, 1, 1))
        info = zipfile.ZipInfo(name, date_time=moment.timetuple()[:6])
        info.compress_type = zipfile.ZIP_DEFLATED
        # The ZipFile's compresslevel only reaches entries it names itself; sheets are
        # streamed into entries named here (Python 3.11 keeps the level privately).
        if hasattr(info, "compress_level"):
            info.compress_level = COMPRESS_LEVEL
        else:
            info._compresslevel = COMPRESS_LEVEL  # type: ignore[attr-defined]
        info.create_system = 3
        info.external_attr = 0o644 << 16
        return info

    def write_part(self, name: str, xml: str) -> None:
        self.zip.writestr(self._entry(name), xml.encode("utf-8"), compresslevel=COMPRESS_LEVEL)

    def unique_name(self, title: str) -> str:
        """A valid sheet name, unique in the workbook (Excel compares case-insensitively)."""
        base = " ".join(title.translate(_FORBIDDEN_IN_SHEET_NAMES).split()).strip("'").strip()
        base = base or "Tabelle"
        name, counter = base[:MAX_SHEET_NAME], 1
        while name.casefold() in self._names or name.casefold() == "history":
            counter += 1
            suffix = f" ({counter})"
            name = base[: MAX_SHEET_NAME - len(suffix)] + suffix
        self._names.add(name.casefold())
        return name

    def write_sheet(
        self,
        title: str,
        rows: Iterable[Sequence[Any]],
        *,
        widths: Sequence[float] = (),
        frozen_rows: int = 0,
        last: bool = False,
    ) -> None:
        """One worksheet from ``rows`` (plain values or `Styled`), streamed into the ZIP;
        as many columns as ``widths`` has entries (or the rows have, if more). ``last``:
        listed after every sheet written without it."""
        name = self.unique_name(title)
        first = not last and not self.sheets
        path = f"xl/worksheets/sheet{len(self.sheets) + len(self.last_sheets) + 1}.xml"
        (self.last_sheets if last else self.sheets).append(_Sheet(name, path))
        with self.zip.open(self._entry(path), "w") as stream:
            _deflate_faster(stream)
            stream.write(_sheet_head(widths, frozen_rows, first=first))
            batch: list[str] = []
            for number, values in enumerate(rows, 1):
                batch.append(_row_xml(number, values, len(widths), self.shared))
                if len(batch) == 500:
                    stream.write("".join(batch).encode("utf-8"))
                    batch = []
            stream.write(("".join(batch) + "</sheetData></worksheet>").encode("utf-8"))

    def close(self, content: ReportContent) -> None:
        c, sheets = content, self.sheets + self.last_sheets
        sheet_entries = "".join(
            f'<sheet name="{_xml_attribute(s.name)}" sheetId="{i}" r:id="rId{i}"/>'
            for i, s in enumerate(sheets, 1)
        )
        self.write_part(
            "xl/workbook.xml",
            f'{_XML_HEAD}<workbook xmlns="{_MAIN_NS}" xmlns:r="{_DOC_REL_NS}">'
            '<workbookPr/><bookViews><workbookView activeTab="0"/></bookViews>'
            f"<sheets>{sheet_entries}</sheets></workbook>",
        )
        relationships = "".join(
            f'<Relationship Id="rId{i}" Type="{_DOC_REL_NS}/worksheet" '
            f'Target="{s.path.removeprefix("xl/")}"/>'
            for i, s in enumerate(sheets, 1)
        )
        self.write_part(
            "xl/_rels/workbook.xml.rels",
            f'{_XML_HEAD}<Relationships xmlns="{_PKG_REL_NS}">{relationships}'
            f'<Relationship Id="rId{len(sheets) + 1}" Type="{_DOC_REL_NS}/styles" '
            'Target="styles.xml"/>'
            f'<Relationship Id="rId{len(sheets) + 2}" Type="{_DOC_REL_NS}/sharedStrings" '
            'Target="sharedStrings.xml"/></Relationships>',
        )
        self.write_part("xl/sharedStrings.xml", self.shared.xml())
        self.write_part("xl/styles.xml", _STYLES_XML)
        created = _w3c_datetime(self.moment)
        self.write_part(
            "docProps/core.xml",
            _XML_HEAD + "<cp:coreProperties "
            'xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
            'xmlns:dc="http://purl.org/dc/elements/1.1/" '
            'xmlns:dcterms="http://purl.org/dc/terms/" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
            f"<dc:title>{_xml_text(c['title'])}</dc:title>"
            f"<dc:subject>{_xml_text(c['period']['label'])}</dc:subject>"
            f"<dc:creator>{_xml_text(c['region_name'])}</dc:creator>"
            "<dc:language>de-DE</dc:language>"
            f'<dcterms:created xsi:type="dcterms:W3CDTF">{created}</dcterms:created>'
            f'<dcterms:modified xsi:type="dcterms:W3CDTF">{created}</dcterms:modified>'
            "</cp:coreProperties>",
        )
        self.write_part(
            "docProps/app.xml",
            f"{_XML_HEAD}<Properties xmlns="
            '"http://schemas.openxmlformats.org/officeDocument/2006/extended-properties">'
            "<Application>regio-crm</Application></Properties>",
        )
        self.write_part(
            "_rels/.rels",
            f'{_XML_HEAD}<Relationships xmlns="{_PKG_REL_NS}">'
            f'<Relationship Id="rId1" Type="{_DOC_REL_NS}/officeDocument" '
            'Target="xl/workbook.xml"/>'
            f'<Relationship Id="rId2" Type="{_PKG_REL_NS}/metadata/core-properties" '
            'Target="docProps/core.xml"/>'
            f'<Relationship Id="rId3" Type="{_DOC_REL_NS}/extended-properties" '
            'Target="docProps/app.xml"/></Relationships>',
        )
        office = "application/vnd.openxmlformats-officedocument"
        overrides = "".join(
            f'<Override PartName="/{s.path}" ContentType="{office}.spreadsheetml.worksheet+xml"/>'
            for s in sheets
        )
        self.write_part(
            "[Content_Types].xml",
            f"{_XML_HEAD}<Types "
            'xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" '
            'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" '
            f'ContentType="{office}.spreadsheetml.sheet.main+xml"/>'
            f"{overrides}"
            '<Override PartName="/xl/styles.xml" '
            f'ContentType="{office}.spreadsheetml.styles+xml"/>'
            '<Override PartName="/xl/sharedStrings.xml" '
            f'ContentType="{office}.spreadsheetml.sharedStrings+xml"/>'
            '<Override PartName="/docProps/core.xml" '
            'ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>'
            '<Override PartName="/docProps/app.xml" '
            f'ContentType="{office}.extended-properties+xml"/>'
            "</Types>",
        )
        self.zip.close()


def _deflate_faster(stream: IO[bytes]) -> None:
    """ISA-L's deflate for a ZIP entry just opened for writing, before its first byte
    (zipfile has no setting for it: the entry's compressor is swapped)."""
    if isal_zlib is not None and hasattr(stream, "_compressor"):
        stream._compressor = isal_zlib.compressobj(ISAL_LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS)


def _sheet_head(widths: Sequence[float], frozen_rows: int, *, first: bool) -> bytes:
    selected = ' tabSelected="1"' if first else ""
    pane = (
        f'<pane ySplit="{frozen_rows}" topLeftCell="A{frozen_rows + 1}" '
        'activePane="bottomLeft" state="frozen"/>'
        '<selection pane="bottomLeft"/>'
        if frozen_rows
        else ""
    )
    cols = "".join(
        f'<col min="{i}" max="{i}" width="{w}" customWidth="1"/>' for i, w in enumerate(widths, 1)
    )
    return (
        f'{_XML_HEAD}<worksheet xmlns="{_MAIN_NS}" xmlns:r="{_DOC_REL_NS}">'
        f'<sheetViews><sheetView workbookViewId="0"{selected}>{pane}</sheetView></sheetViews>'
        '<sheetFormatPr defaultRowHeight="15"/>'
        f"{f'<cols>{cols}</cols>' if cols else ''}<sheetData>"
    ).encode()


def _local_datetime(iso: str) -> datetime.datetime:
    """``generated_at`` as a naive local datetime (it is local time already, by contract)."""
    moment = datetime.datetime.fromisoformat(iso)
    if timezone.is_aware(moment):
        moment = timezone.localtime(moment).replace(tzinfo=None)
    return moment


def _w3c_datetime(local: datetime.datetime) -> str:
    moment = timezone.make_aware(local).astimezone(datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


# --- Sheets ----------------------------------------------------------------------------


def _date(iso: str) -> datetime.date:
    return datetime.date.fromisoformat(iso)


def _bold(*values: Any) -> list[Styled]:
    return [Styled(v, BOLD) for v in values]


def _header(*values: Any) -> list[Styled]:
    return [Styled(v, HEADER) for v in values]


def _status(content: ReportContent) -> str:
    return _("published") if content["status"] == "published" else _("draft")


def _overview_rows(content: ReportContent) -> Iterator[Sequence[Any]]:
    c = content
    yield [Styled(c["title"], TITLE)]
    yield []
    yield [*_bold(_("Region")), c["region_name"]]
    yield [*_bold(_("Programme")), c["programme_name"]]
    for label, period in ((_("Period"), c["period"]), (_("Previous period"), c["previous_period"])):
        yield [*_bold(label), period["label"], _date(period["start"]), _date(period["end"])]
    yield [*_bold(_("Area")), c["scope_label"]]
    yield [*_bold(_("Version")), c["version"]]
    yield [*_bold(_("Status")), _status(c)]
    yield [*_bold(_("Generated")), _local_datetime(c["generated_at"])]
    if c["status"] == "published":
        if c["published_at"]:
            yield [*_bold(_("Published")), _local_datetime(c["published_at"])]
        if c["published_by"]:
            yield [*_bold(_("Published by")), c["published_by"]]
        # The XLSX hash cannot be part of the file it is the hash of.
        if c["figures_sha256"]:
            yield [*_bold(_("Figures SHA-256")), c["figures_sha256"]]
    yield []
    yield _header(
        _("Code"),
        _("Indicator"),
        _("Unit"),
        _("Value"),
        _("Previous period"),
        pgettext("figures", "Change"),
        _("Change in %"),
    )
    for indicator in c["indicators"]:
        absolute, relative = change_numbers(indicator["value"], indicator["previous_value"])
        yield [
            indicator["code"],
            indicator["name"],
            indicator["unit_label"],
            indicator["value"],
            indicator["previous_value"],
            absolute,
            relative,
        ]


def _indicator_rows(indicator: IndicatorContent, content: ReportContent) -> Iterator[Sequence[Any]]:
    absolute, relative = change_numbers(indicator["value"], indicator["previous_value"])
    labels = content["breakdown_labels"]
    yield [Styled(f"{indicator['code']} – {indicator['name']}", TITLE)]
    yield [*_bold(_("Name (English)")), indicator["name_en"]]
    yield [*_bold(_("Unit")), indicator["unit_label"]]
    yield [*_bold(_("Version")), indicator["version"]]
    yield [*_bold(_("Counting rule")), Styled(indicator["rule"], WRAP)]
    yield []
    yield [*_bold(_("Value")), indicator["value"], content["period"]["label"]]
    yield [
        *_bold(_("Previous period")),
        indicator["previous_value"],
        content["previous_period"]["label"],
    ]
    yield [*_bold(pgettext("figures", "Change")), absolute]
    yield [*_bold(_("Change in %")), relative]
    for name, rows in indicator["breakdowns"].items():
        yield []
        yield _header(labels.get(name, name), _("Value"))
        for row in rows:
            yield [row["label"], row["value"]]
    if indicator["trend"]:
        yield []
        yield [*_bold(_("Trend by quarter"))]
        yield _header(
            _("Quarter"), _("Value"), pgettext("period", "Start"), pgettext("period", "End")
        )
        for point in indicator["trend"]:
            yield [point["label"], point["value"], _date(point["start"]), _date(point["end"])]


def _definition_rows(content: ReportContent) -> Iterator[Sequence[Any]]:
    yield _header(
        _("Code"), _("Name"), _("Name (English)"), _("Unit"), _("Version"), _("Counting rule")
    )
    for indicator in content["indicators"]:
        yield [
            indicator["code"],
            Styled(indicator["name"], WRAP),
            Styled(indicator["name_en"], WRAP),
            indicator["unit_label"],
            indicator["version"],
            Styled(indicator["rule"], WRAP),
        ]


def _evidence_heading(sheet: EvidenceSheet) -> list[Sequence[Any]]:
    return [*([[sheet.note]] if sheet.note else []), _header(*sheet.columns)]


def _chunks(rows: Iterable[Sequence[Any]], size: int) -> Iterator[Iterator[Sequence[Any]]]:
    """``rows`` in consecutive runs of at most ``size``; at least one run, maybe empty.
    Each run must be consumed before the next is taken."""
    iterator = iter(rows)
    first: Any = next(iterator, _END)
    while True:
        yield _run(first, iterator, size)
        first = next(iterator, _END)
        if first is _END:
            return


_END = object()


def _run(first: Any, rest: Iterator[Sequence[Any]], size: int) -> Iterator[Sequence[Any]]:
    if first is _END:
        return
    yield first
    # zip takes from range first, so it stops without consuming a row of the next run
    for _index, row in zip(range(size - 1), rest, strict=False):
        yield row


def _chain(heading: list[Sequence[Any]], rows: Iterator[Sequence[Any]]) -> Iterator[Sequence[Any]]:
    yield from heading
    yield from rows


class ReportWorkbook:
    """The report's workbook, written in two steps in either order: the evidence sheets
    (long, read from the database) and the report's own sheets (overview, one per
    indicator, definitions) — listed in that order, report first. Publishing writes the
    evidence while the comparisons are still being computed."""

    def __init__(self, out: BinaryIO, generated_at: str) -> None:
        self.package = _Package(out, generated_at)

    def add_report(self, content: ReportContent) -> None:
        package = self.package
        package.write_sheet(
            _("Overview"), _overview_rows(content), widths=(24, 48, 18, 14, 14, 14, 16)
        )
        for indicator in content["indicators"]:
            package.write_sheet(
                indicator["code"], _indicator_rows(indicator, content), widths=(34, 16, 18, 14)
            )
        package.write_sheet(
            _("Definitions"),
            _definition_rows(content),
            widths=(20, 40, 40, 16, 9, 90),
            frozen_rows=1,
        )

    def add_evidence(self, evidence: Iterable[EvidenceSheet]) -> None:
        """Each sheet's rows consumed once, in order; a sheet longer than Excel's limit
        continues on "<title> (2)" and so on."""
        for sheet in evidence:
            heading = _evidence_heading(sheet)
            widths = tuple(sheet.column_widths)[: len(sheet.columns)]
            widths += tuple(
                min(max(len(str(column)) + 4, 12), 50) for column in sheet.columns[len(widths) :]
            )
            for rows in _chunks(sheet.rows, MAX_SHEET_ROWS - len(heading)):
                self.package.write_sheet(
                    sheet.title,
                    _chain(heading, rows),
                    widths=widths,
                    frozen_rows=len(heading),
                    last=True,
                )

    def close(self, content: ReportContent) -> None:
        self.package.close(content)


def write_xlsx(content: ReportContent, evidence: Iterable[EvidenceSheet], out: BinaryIO) -> None:
    """Write the report and its evidence sheets (rows consumed once, in order) to ``out``."""
    workbook = ReportWorkbook(out, content["generated_at"])
    workbook.add_report(content)
    workbook.add_evidence(evidence)
    workbook.close(content)
