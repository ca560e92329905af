"""Reading uploaded files and cells: encodings, delimiters, XLSX, headings, values."""

from __future__ import annotations

import io

import pytest
from django.utils import translation

from crm.dataio.fields import (
    CellError,
    cell_text,
    choice_parser,
    field_map,
    parse_sector,
    suggest_columns,
    suggest_field,
)
from crm.dataio.parsing import ImportFileError, inspect_table, iter_data_rows
from tests.crm.fixtures_files.samples import csv_bytes, xlsx_bytes


@pytest.fixture(autouse=True)
def english():
    """Messages are asserted in English, the msgids; German comes from the .po file."""
    with translation.override("en"):
        yield


HEADERS = ["Firmenname", "PLZ", "Ort"]
ROWS = [
    ["Müller & Söhne GmbH", "38162", "Cremlingen"],
    ["Straßenbau Weiß KG", "38100", "Braunschweig"],
]


def _read(content: bytes, name: str = "liste.csv") -> tuple[list[str], list[list[str]]]:
    stream = io.BytesIO(content)
    info = inspect_table(stream, name=name)
    rows = [[cell_text(c) for c in cells] for _line, cells in iter_data_rows(stream, info)]
    return info.headers, rows


@pytest.mark.parametrize(
    ("encoding", "bom", "delimiter"),
    [
        ("utf-8", False, ";"),
        ("utf-8", True, ";"),
        ("utf-8", True, ","),
        ("cp1252", False, ";"),
        ("cp1252", False, ","),
        ("utf-8", False, "\t"),
    ],
)
def test_csv_encodings_and_delimiters_are_detected(encoding, bom, delimiter):
    content = csv_bytes(HEADERS, ROWS, encoding=encoding, bom=bom, delimiter=delimiter)
    stream = io.BytesIO(content)
    info = inspect_table(stream, name="liste.csv")
    assert info.delimiter == delimiter
    assert info.encoding == ("utf-8-sig" if encoding == "utf-8" else "cp1252")
    assert info.headers == HEADERS  # no BOM glued to the first heading
    assert info.row_count == 2
    assert [[cell_text(c) for c in r] for _n, r in iter_data_rows(stream, info)] == ROWS


def test_cp1252_umlauts_survive():
    headers, rows = _read(
        csv_bytes(["Straße", "Gründungsjahr"], [["Kölner Str. 1", "1990"]], encoding="cp1252")
    )
    assert headers == ["Straße", "Gründungsjahr"]
    assert rows == [["Kölner Str. 1", "1990"]]


def test_commas_inside_quoted_cells_do_not_fool_the_sniffer():
    content = b'Name,Ort\r\n"Meyer, Schulz & Partner",Peine\r\n"A, B",Goslar\r\n'
    headers, rows = _read(content)
    assert headers == ["Name", "Ort"]
    assert rows[0] == ["Meyer, Schulz & Partner", "Peine"]


def test_xlsx_is_read_with_native_numbers():
    content = xlsx_bytes(["Firma", "Mitarbeiter", "PLZ"], [["Weiß GmbH", 42, 1234]])
    stream = io.BytesIO(content)
    info = inspect_table(stream, name="liste.xlsx")
    assert info.kind == "xlsx"
    assert info.headers == ["Firma", "Mitarbeiter", "PLZ"]
    rows = list(iter_data_rows(stream, info))
    assert rows == [(2, ["Weiß GmbH", 42, 1234])]


def test_renamed_xlsx_is_recognised_by_content():
    content = xlsx_bytes(["Firma"], [["Weiß GmbH"]])
    assert inspect_table(io.BytesIO(content), name="liste.csv").kind == "xlsx"


def test_blank_rows_are_skipped_and_row_numbers_kept():
    content = b"Name;Ort\r\nA;B\r\n;\r\n\r\nC;D\r\n"
    stream = io.BytesIO(content)
    info = inspect_table(stream, name="x.csv")
    assert info.row_count == 2
    assert [n for n, _r in iter_data_rows(stream, info)] == [2, 5]


def test_nul_bytes_in_cells_are_stripped():
    headers, rows = _read(b"Name;Ort\r\nM\x00\xc3\xbcller;Peine\r\n")
    assert rows == [["Müller", "Peine"]]


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        (b"", "leer.csv", "empty"),
        ("Name;Ort\r\nA;B\r\n".encode("utf-16"), "utf16.csv", "UTF-16"),
        (bytes(range(256)) * 20, "junk.csv", "cannot be read"),
        (bytes(range(1, 256)) * 20, "junk2.csv", "cannot be read"),
        (b"\x81\x8d\x8f\x90\x9d" * 10, "cp.csv", "neither UTF-8 nor Windows-1252"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "alt.xls", ".xls"),
        (b"PK\x03\x04broken zip", "kaputt.xlsx", "not a valid Excel"),
        (b"%PDF-1.4 something", "brief.pdf", "Only CSV"),
        (b"Name;Ort\r\n", "nur-kopf.csv", "no data rows"),
        (b"\r\n\r\nName;Ort\r\n", "leerzeile.csv", "headings"),
    ],
)
def test_unreadable_files_are_refused_with_a_clear_message(content, name, message):
    with pytest.raises(ImportFileError) as info:
        inspect_table(io.BytesIO(content), name=name)
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("Firma", "name"),
        ("Firmenname", "name"),
        ("UNTERNEHMEN", "name"),
        (" Name ", "name"),
        ("PLZ", "postal_code"),
        ("Ort", "city"),
        ("Stadt", "city"),
        ("Straße", "street"),
        ("Strasse", "street"),
        ("Str.", "street"),
        ("Mitarbeiter", "employees"),
        ("Beschäftigte", "employees"),
        ("Beschaeftigte", "employees"),
        ("MA", "employees"),
        ("Handelsregister", "register_number"),
        ("HRB", "register_number"),
        ("Registernummer", "register_number"),
        ("E-Mail", "email"),
        ("Mail", "email"),
        ("Webseite", "website"),
        ("Homepage", "website"),
        ("Internet", "website"),
        ("Rechtsform", "legal_form"),
        ("Branche", "sector"),
        ("WZ", "sector"),
        ("Gründungsjahr", "founding_year"),
        ("Grundungsjahr", "founding_year"),
        ("AGS", "municipality_ags"),
        ("Gemeindeschlüssel", "municipality_ags"),
        ("Gemeinde", "municipality_name"),
        ("Externe ID", "external_id"),
        ("ID", "external_id"),
        ("Kundennummer", "external_id"),
        ("Art", "kind"),
        ("Typ", "kind"),
        ("Telefon", "phone"),
        ("CRM-ID", "crm_id"),
        ("Lieblingsfarbe", ""),
    ],
)
def test_organisation_headings_are_recognised(header, field):
    assert suggest_field("organisations", header) == field


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("Vorname", "first_name"),
        ("Nachname", "last_name"),
        ("Anrede", "salutation"),
        ("Titel", "title"),
        ("Telefon", "phone"),
        ("Mobil", "mobile"),
        ("Funktion", "function"),
        ("Position", "function"),
        ("Abteilung", "department"),
        ("Externe ID", "external_id"),
        ("E-Mail", "email"),
        ("Firma", "organisation_name"),
        ("Handelsregister", "organisation_register_number"),
        ("Organisation (externe ID)", "organisation_external_id"),
    ],
)
def test_person_headings_are_recognised(header, field):
    assert suggest_field("people", header) == field


def test_a_field_is_suggested_for_one_column_only():
    columns = suggest_columns("organisations", ["Firma", "Firmenname", "PLZ"])
    assert columns == {"0": "name", "1": "", "2": "postal_code"}


def test_saved_mapping_wins_and_follows_headings_in_any_order():
    saved = {"Bezeichnung": "name", "Postleitzahl": "postal_code"}
    columns = suggest_columns("organisations", ["postleitzahl", "BEZEICHNUNG", "Ort"], saved)
    assert columns == {"0": "postal_code", "1": "name", "2": "city"}


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("C", "C"),
        ("c", "C"),
        ("C – Verarbeitendes Gewerbe", "C"),
        ("C - Manufacturing", "C"),
        ("Verarbeitendes Gewerbe", "C"),
        ("25.62", "C"),
        ("62", "J"),
        ("Baugewerbe", "F"),
    ],
)
def test_sector_values(text, code):
    assert parse_sector(text, text) == code


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("KMU", "sme"),
        ("SME", "sme"),
        ("sme", "sme"),
        ("Hochschule", "university"),
        ("Large enterprise", "large_enterprise"),
        ("Start-up", "start_up"),
    ],
)
def test_kind_values(text, code):
    assert choice_parser("kind")(text, text) == code


def test_unknown_kind_names_the_allowed_values():
    with pytest.raises(CellError) as info:
        choice_parser("kind")("Verein", "Verein")
    assert "SME" in str(info.value)


@pytest.mark.parametrize(
    ("raw", "value"),
    [("1.234", 1234), ("1234", 1234), ("1 234", 1234), ("1.234,0", 1234), (42, 42), (42.0, 42)],
)
def test_german_numbers(raw, value):
    parse = field_map("organisations")["employees"].parse
    assert parse(raw, cell_text(raw)) == value


@pytest.mark.parametrize("raw", ["12,5", "-3", "viele", 2.5])
def test_bad_numbers_are_refused(raw):
    parse = field_map("organisations")["employees"].parse
    with pytest.raises(CellError):
        parse(raw, cell_text(raw))


def test_website_gets_a_scheme_and_emails_are_checked():
    specs = field_map("organisations")
    assert specs["website"].parse("www.example.de", "www.example.de") == "https://www.example.de"
    assert specs["email"].parse("x", "Info@Example.DE") == "Info@example.de"
    with pytest.raises(CellError):
        specs["email"].parse("x", "info@")
    with pytest.raises(CellError):
        specs["website"].parse("x", "nicht eine url")


def test_postal_code_and_ags_get_their_leading_zero_back():
    specs = field_map("organisations")
    assert specs["postal_code"].parse(1067, "1067") == "01067"
    assert specs["municipality_ags"].parse(3158011, "3158011") == "03158011"


def test_cell_text_trims_and_undoes_export_escaping():
    assert cell_text("  Müller  ") == "Müller"
    assert cell_text("'=1+1") == "=1+1"
    assert cell_text("'+49 531 1") == "+49 531 1"
    assert cell_text("O'Brien") == "O'Brien"
    assert cell_text(None) == ""
    assert cell_text(38162.0) == "38162"
