"""Spreadsheets often carry a title row (and blank rows) above the headings."""

import io

from openpyxl import Workbook

from crm.dataio.parsing import inspect_table, iter_data_rows


def _xlsx(rows):
    workbook = Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    buffer.seek(0)
    return buffer


def test_title_row_and_blank_row_above_the_headings_are_skipped():
    source = _xlsx(
        [
            ["Firmenliste Region 2026"],
            [None, None],
            ["Firma", "PLZ", "Ort"],
            ["Okertal Solar GmbH", "38162", "Cremlingen"],
        ]
    )
    info = inspect_table(source, name="liste.xlsx")
    assert info.headers == ["Firma", "PLZ", "Ort"]
    assert info.row_count == 1
    rows = list(iter_data_rows(source, info))
    assert rows == [(4, ["Okertal Solar GmbH", "38162", "Cremlingen"])]  # row 4 as in Excel


def test_a_one_column_file_keeps_its_heading():
    source = io.BytesIO(b"Name\nOkertal Solar GmbH\nHarzer Holz KG\n")
    info = inspect_table(source, name="namen.csv")
    assert info.headers == ["Name"]
    assert [row for _n, row in iter_data_rows(source, info)] == [
        ["Okertal Solar GmbH"],
        ["Harzer Holz KG"],
    ]
