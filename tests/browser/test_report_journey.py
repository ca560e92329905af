"""Issue journey (impact reports): administration opens the indicator dashboard, follows
a figure to its records, generates the quarter's report, writes the narrative, publishes
it by keyboard and downloads PDF and XLSX; a funding-body viewer on a tablet downloads
the published report and meets no personal data on any page or in any file.

New texts are still being translated, so elements are found by ids, names, hrefs and
roles rather than by what they say."""

from __future__ import annotations

import hashlib
import io
import re
import uuid
from pathlib import Path

import pytest
from django.apps import apps as django_apps
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook
from playwright.sync_api import expect
from pypdf import PdfReader

from crm.models import Organisation, Person
from pipeline.services import create_request
from pipeline.stages import install_default_stages
from reporting import services
from reporting.models import Report, ReportFile
from reporting.periods import Period
from scouting.services import record_visit, submit_visit

pytestmark = pytest.mark.browser

CONTACT = ("Henrike", "Quast")
SUMMARY = "Frau Quast plant eine neue Werkshalle und sucht Fördermittel für die Lackieranlage."
NARRATIVE = {
    "narrative_progress": "Vier Unternehmen im Quartal erreicht.",
    "narrative_problems": "Die Terminfindung im ländlichen Raum dauert länger.",
    "narrative_outlook": "Im nächsten Quartal folgen Sprechtage in Cremlingen.",
}
RCO01 = 4  # three visited SMEs and the start-up with a transfer request


def this_quarter() -> Period:
    return Period.containing_quarter(timezone.localdate())


@pytest.fixture
def activity(db, region, scout, manager):
    """This quarter: three SMEs visited by the scout (one meeting a named contact, with a
    summary that names her) and a start-up's transfer request handled by the manager."""
    install_default_stages(django_apps)  # a live-server test before may have flushed them
    organisations = [
        Organisation.objects.create(
            name=name, kind=Organisation.Kind.SME, municipality=region[place]
        )
        for name, place in (
            ("Harz Hydraulik GmbH", "rural"),
            ("Elm Lackiertechnik GmbH", "rural"),
            ("Löwen Software GmbH", "urban"),
        )
    ]
    contact = Person.objects.create(
        first_name=CONTACT[0], last_name=CONTACT[1], email="h.quast@harz-hydraulik.de"
    )
    contact.affiliations.create(organisation=organisations[0], function="Geschäftsführerin")
    for n, organisation in enumerate(organisations):
        visit, _created = record_visit(
            uuid=uuid.uuid4(),
            organisation=organisation,
            by=scout,
            people_met=[contact] if n == 0 else [],
            summary=SUMMARY if n == 0 else "",
        )
        submit_visit(visit, by=scout)
    start_up = Organisation.objects.create(
        name="Oker Robotics", kind=Organisation.Kind.START_UP, municipality=region["urban"]
    )
    create_request(
        organisation=start_up,
        by=manager,
        title="Greifer",
        kind="joint_rd",
        source="phone",
        responsible_manager=manager,
    )
    return {"contact": contact}


def no_horizontal_overflow(page) -> bool:
    return page.evaluate("document.scrollingElement.scrollWidth <= window.innerWidth")


def dangling_descriptions(form) -> list[str]:
    """Ids that the form's fields name in aria-describedby but the page lacks."""
    return form.evaluate(
        """form => [...form.querySelectorAll("[aria-describedby]")]
            .flatMap(field => field.getAttribute("aria-describedby").split(/\\s+/))
            .filter(id => id && !document.getElementById(id))"""
    )


def first_number(text: str) -> int:
    return int(re.search(r"\d+", text).group())


def sha256_of(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def download(page, href: str) -> bytes:
    """Click the link to ``href`` and return the downloaded file after checking that its
    SHA-256 is the one printed next to the link."""
    link = page.locator(f'a[href="{href}"]')
    shown = link.locator("xpath=..").locator("code").inner_text().strip()
    with page.expect_download() as info:
        link.click()
    path = info.value.path()
    assert sha256_of(path) == shown
    return Path(path).read_bytes()


@pytest.mark.parametrize("viewport", ["laptop"])
def test_administration_generates_publishes_and_downloads_a_quarterly_report(
    page, page_log, login, administration, activity
):
    quarter = this_quarter()
    number = str((quarter.start.month - 1) // 3 + 1)
    login(page, administration)

    # Dashboard: this quarter's RCO01 figure leads to as many records as it says.
    page.locator(f'nav a[href="{reverse("reporting:dashboard")}"]').click()
    page.locator("#id_period_kind").select_option("quarter")
    page.locator("#id_year").fill(str(quarter.start.year))
    page.locator("#id_number").select_option(number)
    page.locator("form.filter-panel button[type=submit]").click()
    figure = page.locator('#indicator-RCO01 a[data-figure="current"]')
    expect(figure).to_be_visible()
    value = first_number(figure.evaluate("link => link.firstChild.textContent"))
    assert value == RCO01
    figure.click()
    expect(page.locator("#records-count")).to_be_visible()
    assert first_number(page.locator("#records-count").inner_text()) == value
    expect(page.locator("table tbody tr")).to_have_count(value)

    # Generate the quarter's report from the report list; a period ending before it
    # starts is refused, with the error tied to its field.
    page.locator(f'nav a[href="{reverse("reporting:report_list")}"]').click()
    create = page.locator(f'form[action="{reverse("reporting:report_create")}"]')
    assert dangling_descriptions(create) == []
    create.locator("[name=period_kind]").select_option("custom")
    create.locator("[name=start]").fill(quarter.end.isoformat())
    create.locator("[name=end]").fill(quarter.start.isoformat())
    with page.expect_response(lambda r: r.request.method == "POST") as refused:
        create.locator("button[type=submit]").click()
    assert refused.value.status == 400
    expect(create.locator("[name=end]")).to_have_attribute("aria-invalid", "true")
    assert dangling_descriptions(create) == []
    assert not Report.objects.exists()
    page_log.failed_responses.remove(f"400 {refused.value.url}")  # expected
    create.locator("[name=period_kind]").select_option("quarter")
    create.locator("[name=year]").fill(str(quarter.start.year))
    create.locator("[name=number]").select_option(number)
    with page.expect_navigation():
        create.locator("button[type=submit]").click()
    report = Report.objects.get()
    # No broker in tests: the computation ran eagerly once the request's work committed.
    assert page.url.endswith(report.get_absolute_url())
    assert report.is_computed() and not report.is_published()
    rco01 = page.locator("#figures-heading ~ .table-responsive tbody tr").filter(
        has=page.locator("th code", has_text=re.compile(r"^RCO01$"))
    )
    expect(rco01.locator("td").nth(2)).to_have_text(str(RCO01))
    records = rco01.locator(f'a[href^="{reverse("reporting:records", args=["RCO01"])}?"]')
    expect(records.first).to_be_visible()

    # The narrative.
    narrative = page.locator(
        f'form[action="{reverse("reporting:report_narrative", args=[report.pk])}"]'
    )
    for name, text in NARRATIVE.items():
        narrative.locator(f"textarea[name={name}]").fill(text)
    with page.expect_navigation():
        narrative.locator("button[type=submit]").click()
    for name, text in NARRATIVE.items():
        expect(page.locator(f"textarea[name={name}]")).to_have_value(text)
    report.refresh_from_db()
    assert report.narrative_outlook == NARRATIVE["narrative_outlook"]

    # The draft, with its form and indicator table, fits a tablet without sideways scrolling.
    page.set_viewport_size({"width": 768, "height": 1024})
    assert no_horizontal_overflow(page)
    page.set_viewport_size({"width": 1366, "height": 768})

    # Publish by keyboard: from the narrative's button, Tab reaches the confirmation and
    # then the publish button.
    confirm = page.locator("#confirm-publish")
    publish = page.locator(
        f'form[action="{reverse("reporting:report_publish", args=[report.pk])}"] '
        "button[type=submit]"
    )
    narrative.locator("button[type=submit]").focus()
    for _step in range(10):
        page.keyboard.press("Tab")
        if confirm.evaluate("element => element === document.activeElement"):
            break
    expect(confirm).to_be_focused()
    page.keyboard.press("Space")
    expect(confirm).to_be_checked()
    page.keyboard.press("Tab")
    expect(publish).to_be_focused()
    with page.expect_navigation():
        page.keyboard.press("Enter")

    report.refresh_from_db()
    assert report.is_published()
    stored = {f.kind: f for f in ReportFile.objects.filter(report=report)}
    assert set(stored) == {"pdf", "xlsx"}
    files = page.locator("section[aria-labelledby=files-heading]")
    for file in stored.values():
        expect(files.locator("code", has_text=file.sha256)).to_have_count(1)
    expect(page.locator("#confirm-publish")).to_have_count(0)
    expect(page.locator("textarea")).to_have_count(0)  # frozen

    pdf = download(page, reverse("reporting:report_download", args=[report.pk, "pdf"]))
    assert pdf.startswith(b"%PDF")
    assert hashlib.sha256(pdf).hexdigest() == stored["pdf"].sha256
    xlsx = download(page, reverse("reporting:report_download", args=[report.pk, "xlsx"]))
    assert hashlib.sha256(xlsx).hexdigest() == stored["xlsx"].sha256
    book = load_workbook(io.BytesIO(xlsx), read_only=True)
    label = report.content["period"]["label"]
    # The figure's row holds the value, then the period it is for.
    value_rows = [row for row in book["RCO01"].iter_rows(values_only=True) if row[2:3] == (label,)]
    assert [row[1] for row in value_rows] == [RCO01]
    assert page_log.problems() == []


@pytest.fixture
def published(activity, administration):
    """This quarter's report, published by administration, and a draft of the quarter
    before that the funding body must not see."""
    quarter = this_quarter()
    report = services.create_report(period=quarter, by=administration)
    services.compute_report(report.pk, by=administration)
    services.update_narrative(
        report,
        progress=NARRATIVE["narrative_progress"],
        problems=NARRATIVE["narrative_problems"],
        outlook=NARRATIVE["narrative_outlook"],
        by=administration,
    )
    report = services.publish_report(report.pk, by=administration)
    draft = services.create_report(period=quarter.previous(), by=administration)
    services.compute_report(draft.pk, by=administration)
    return {"report": report, "draft": draft}


def private_texts(contact, scout, manager, administration) -> list[str]:
    names = [
        f"{contact.first_name} {contact.last_name}",
        f"{contact.last_name}, {contact.first_name}",
        contact.email,
        SUMMARY,
    ]
    for user in (scout, manager, administration):
        names += [user.get_full_name(), f"{user.last_name}, {user.first_name}", user.email]
    return names


def assert_no_private_text(text: str, private: list[str], where: str) -> None:
    # Whitespace folded, since HTML and PDF text break lines anywhere.
    folded = " ".join(text.split())
    for value in private:
        assert " ".join(value.split()) not in folded, f"{value!r} in {where}"
    # The contact's surname and the staff's first names alone would identify them too.
    for word in (CONTACT[1], "Sina", "Nora", "Vera"):
        assert not re.search(rf"\b{word}\b", folded), f"{word!r} in {where}"


def test_funding_body_downloads_the_published_report_and_sees_no_personal_data(
    page, page_log, login, funder, scout, manager, administration, activity, published
):
    report, draft = published["report"], published["draft"]
    private = private_texts(activity["contact"], scout, manager, administration)
    login(page, funder)

    # Only the published report is listed; on a tablet the menu is folded away.
    page.locator("nav button[aria-controls=nav-main]").click()
    page.locator(f'nav a[href="{reverse("reporting:report_list")}"]').click()
    expect(page).to_have_url(re.compile(re.escape(reverse("reporting:report_list")) + "$"))
    expect(page.locator(f'form[action="{reverse("reporting:report_create")}"]')).to_have_count(0)
    expect(page.locator(f'main a[href="{report.get_absolute_url()}"]')).to_have_count(1)
    expect(page.locator(f'main a[href="{draft.get_absolute_url()}"]')).to_have_count(0)
    assert no_horizontal_overflow(page)
    assert_no_private_text(page.content(), private, "the report list")

    # The report itself: figures without drill-down, the narrative, the files.
    page.locator(f'main a[href="{report.get_absolute_url()}"]').click()
    expect(page.get_by_role("heading", level=1)).to_have_text(report.title)
    expect(page.locator("#figures-heading")).to_be_visible()
    expect(page.locator(f'a[href^="{reverse("reporting:dashboard")}"]')).to_have_count(0)
    expect(page.locator("main")).to_contain_text(NARRATIVE["narrative_problems"])
    expect(page.locator("textarea")).to_have_count(0)
    expect(page.locator("#confirm-publish")).to_have_count(0)
    assert no_horizontal_overflow(page)  # wide tables scroll inside their wrapper
    assert_no_private_text(page.content(), private, "the report page")

    pdf = download(page, reverse("reporting:report_download", args=[report.pk, "pdf"]))
    assert pdf.startswith(b"%PDF")
    assert hashlib.sha256(pdf).hexdigest() == report.files.get(kind="pdf").sha256
    text = pdf_text(pdf)
    assert "RCO01" in text and NARRATIVE["narrative_outlook"][:20] in " ".join(text.split())
    assert_no_private_text(text, private, "the PDF")

    xlsx = download(page, reverse("reporting:report_download", args=[report.pk, "xlsx"]))
    book = load_workbook(io.BytesIO(xlsx), read_only=True)
    cells = " | ".join(
        str(value)
        for sheet in book.worksheets
        for row in sheet.iter_rows(values_only=True)
        for value in row
        if value is not None
    )
    assert "Harz Hydraulik GmbH" in cells  # organisations are named; people are not
    assert_no_private_text(cells, private, "the XLSX")
    assert page_log.problems() == []

    # Staff pages stay closed, and drafts do not exist for the funding body.
    forbidden = [
        reverse("reporting:dashboard"),
        reverse("reporting:records", args=["RCO01"]),
        reverse("reporting:report_compare", args=[report.pk]),
    ]
    for url in forbidden:
        assert page.goto(url).status == 403, url
    assert page.goto(draft.get_absolute_url()).status == 404
