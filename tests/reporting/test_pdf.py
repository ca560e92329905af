from __future__ import annotations

import re
import time
from io import BytesIO

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.utils import translation
from django.utils.translation import gettext
from PIL import Image as PILImage
from pypdf import PdfReader

from reporting.fonts import register_fonts
from reporting.pdf import _trend_labels, number, render_pdf
from tests.reporting.sample_content import FIGURES_SHA256, XLSX_SHA256, sample_content


def _pages(pdf: bytes) -> list[str]:
    """Each page's text with runs of whitespace (wrapped lines) made single spaces."""
    return [" ".join(page.extract_text().split()) for page in PdfReader(BytesIO(pdf)).pages]


@pytest.fixture(scope="module")
def published() -> bytes:
    with translation.override("de"):
        return render_pdf(sample_content())


@pytest.fixture(scope="module")
def published_pages(published) -> list[str]:
    return _pages(published)


@pytest.fixture(scope="module")
def draft() -> bytes:
    with translation.override("de"):
        return render_pdf(sample_content(published=False))


def test_the_cover_names_report_period_scope_and_publisher(published_pages):
    cover = published_pages[0]
    for text in (
        "Innovationsregion Südniedersachsen",
        "Innovationsscouting & Wissenstransfer (EFRE 2021–2027)",
        "Wirkungsbericht 3. Quartal 2026",
        "3. Quartal 2026",
        "Gesamte Region",
        "01.07.2026–30.09.2026",
        "02.10.2026",
        "05.10.2026",
        "Dr. Jürgen Weiß",
        "Logo",  # the placeholder: the sample has no logo file
    ):
        assert text in cover, text
    assert "Seite" not in cover, "the cover has no footer"


def test_the_summary_lists_every_indicator_with_german_numbers(published_pages):
    summary = published_pages[2]
    assert "Zusammenfassung" in summary
    for indicator in sample_content()["indicators"]:
        value, previous = number(indicator["value"]), number(indicator["previous_value"])
        pattern = rf"{re.escape(indicator['code'])} .*?{re.escape(value)} {re.escape(previous)}"
        assert re.search(pattern, summary), indicator["code"]
    assert "RCO01 Unterstützte Unternehmen Unternehmen 1.234 1.180 +54 +4,6 %" in summary
    assert "42,2 39,8 +2,4 +6,0 %" in summary  # one decimal, decimal comma
    assert "6 0 +6 –" in summary  # previous 0: no relative change
    assert "176 – – –" in summary  # no previous value at all


def test_umlauts_euro_and_special_characters_survive(published, published_pages):
    text = " ".join(published_pages)
    for word in ("Landkreis Göttingen", "Landkreis Wolfenbüttel", "Groß (≥ 250)", "€"):
        assert word in text
    assert b"DejaVuSans" in published and b"/FontFile2" in published  # embedded TrueType


def test_charts_and_breakdown_tables_show_every_breakdown(published_pages):
    text = " ".join(published_pages)
    content = sample_content()
    for indicator in content["indicators"]:
        assert f"{indicator['code']} – {indicator['name']}" in text
        for name in indicator["breakdowns"]:
            assert content["breakdown_labels"][name] in text
    assert "Q3 2026" in text  # trend chart category


def test_the_narrative_is_plain_text_with_markup_characters_escaped(published_pages):
    text = " ".join(published_pages)
    assert "Bei Anfragen mit einem Fördervolumen < 50.000 € fehlen oft passende Partner" in text
    assert "Zwei Scout-Stellen waren im August unbesetzt (Elternzeit & Krankheit)." in text
    assert "Ziel: mindestens 60 Transferanfragen in Kooperation." in text


def test_markup_in_the_narrative_is_shown_not_interpreted():
    content = sample_content()
    content["narrative"]["progress"] = 'Ein <b>Tag</b> & <font color="red">keine Farbe</font>'
    content["narrative"]["problems"] = "   \n\n  "
    content["narrative"]["outlook"] = ""
    text = " ".join(_pages(render_pdf(content)))
    assert 'Ein <b>Tag</b> & <font color="red">keine Farbe</font>' in text
    assert text.count(gettext("No information given")) == 2


def test_the_annex_defines_every_indicator(published_pages):
    annex = " ".join(published_pages[-3:])
    for indicator in sample_content()["indicators"]:
        assert " ".join(indicator["rule"].split()) in annex, indicator["code"]
        assert indicator["name_en"] in annex


def test_every_page_but_the_cover_is_numbered_and_carries_the_hashes(published, published_pages):
    pages = published_pages
    count = len(pages) - 1
    assert "Seite 1 von" in pages[1]
    for number_, page in enumerate(pages[1:], 1):
        assert gettext("Page %(number)s of %(count)s") % {"number": number_, "count": count} in page
        assert FIGURES_SHA256 in page and XLSX_SHA256 in page
        assert "Wirkungsbericht 3. Quartal 2026" in page  # running header
    assert FIGURES_SHA256 not in pages[0]
    assert PdfReader(BytesIO(published)).page_labels[1:3] == ["1", "2"]


def test_a_draft_says_so_and_carries_no_hashes(draft):
    pages = _pages(draft)
    assert "Entwurf" in pages[0]
    for page in pages[1:]:
        assert gettext("Draft – not published") in page
    assert FIGURES_SHA256 not in " ".join(pages)
    assert "Dr. Jürgen Weiß" not in pages[0]


def test_the_table_of_contents_points_to_the_right_pages(published):
    reader = PdfReader(BytesIO(published))
    contents = " ".join(reader.pages[1].extract_text().split())
    title = "RCO01 – Unterstützte Unternehmen"
    assert title in contents and "Zusammenfassung" in contents

    def flatten(items):
        for item in items:
            yield from flatten(item) if isinstance(item, list) else [item]

    entries = {item.title: item for item in flatten(reader.outline)}
    page_index = reader.get_destination_page_number(entries[title])
    # the breakdown heading (not the chart heading, which names the indicator too)
    assert entries[title].title in reader.pages[page_index].extract_text()
    number_ = reader.page_labels[page_index]
    assert re.search(rf"(?<!\d){number_} {re.escape(title)}", contents)


def test_the_same_content_gives_the_same_bytes(published):
    assert render_pdf(sample_content()) == published
    changed = sample_content()
    changed["indicators"][0]["value"] = 1235
    assert render_pdf(changed) != published


def test_a_logo_is_embedded_and_an_unreadable_one_falls_back_to_the_placeholder(tmp_path):
    logo = tmp_path / "logo.png"
    PILImage.new("RGB", (400, 120), (31, 95, 139)).save(logo)
    content = sample_content()
    content["logo_path"] = str(logo)
    pdf = render_pdf(content)
    assert b"/Subtype /Image" in pdf
    assert "Logo" not in _pages(pdf)[0]

    content["logo_path"] = str(tmp_path / "missing.png")
    assert "Logo" in _pages(render_pdf(content))[0]


def test_rendering_is_fast():
    content = sample_content()
    started = time.perf_counter()
    render_pdf(content)
    assert time.perf_counter() - started < 2


def test_missing_fonts_are_a_clear_error(settings, tmp_path):
    settings.BASE_DIR = tmp_path
    register_fonts.cache_clear()
    try:
        with pytest.raises(ImproperlyConfigured, match="vendor_static.sh"):
            register_fonts()
    finally:
        register_fonts.cache_clear()


def _quarters(first_year: int, first_quarter: int, count: int) -> list[dict]:
    points = []
    year, quarter = first_year, first_quarter
    for n in range(count):
        month = 3 * quarter - 2
        points.append(
            {"label": f"Q{quarter} {year}", "start": f"{year}-{month:02}-01", "end": "", "value": n}
        )
        year, quarter = (year + 1, 1) if quarter == 4 else (year, quarter + 1)
    return points


def test_a_long_trend_is_labelled_by_year_so_that_labels_do_not_overlap():
    """A five-year report has 21 quarters: their labels ran into one another."""
    assert _trend_labels(_quarters(2026, 1, 4)) == ["Q1 2026", "Q2 2026", "Q3 2026", "Q4 2026"]
    five_years = _trend_labels(_quarters(2024, 1, 21))
    assert [label for label in five_years if label] == [str(y) for y in range(2024, 2030)]
    assert five_years[4] == "2025" and five_years[1] == ""
    # The command takes any length: every few years then.
    decades = [label for label in _trend_labels(_quarters(2000, 3, 106)) if label]
    assert decades == ["2004", "2008", "2012", "2016", "2020", "2024"]
    content = sample_content()
    for indicator in content["indicators"]:
        indicator["trend"] = _quarters(2024, 1, 21)  # type: ignore[typeddict-item]
    text = " ".join(_pages(render_pdf(content)))
    assert "Q1 2024" not in text and "2027" in text
