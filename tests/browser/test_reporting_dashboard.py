"""Issue journey (impact reports): administration opens the indicator dashboard, picks a
quarter, follows the RCO01 figure to the records it counts, comes back, opens the
breakdown of the company visits and follows a district's figure to that district's
visits."""

from __future__ import annotations

import uuid

import pytest
from django.apps import apps as django_apps
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from crm.models import Organisation
from pipeline.services import create_request
from pipeline.stages import install_default_stages
from reporting.periods import Period
from scouting.services import record_visit, submit_visit

pytestmark = pytest.mark.browser


def submitted_visit(organisation, scout):
    visit = record_visit(uuid=uuid.uuid4(), organisation=organisation, by=scout)[0]
    return submit_visit(visit, by=scout)


@pytest.fixture
def activity(db, region, organisation, scout):
    """Three visits in Wolfenbüttel's district and one in Braunschweig this quarter, and a
    transfer request from a start-up."""
    install_default_stages(django_apps)  # a live-server test before may have flushed them
    for n in range(2):
        rural = Organisation.objects.create(
            name=f"Landtechnik {n} GmbH", kind=Organisation.Kind.SME, municipality=region["rural"]
        )
        submitted_visit(rural, scout)
    submitted_visit(organisation, scout)
    city = Organisation.objects.create(
        name="Löwen Software GmbH", kind=Organisation.Kind.SME, municipality=region["urban"]
    )
    submitted_visit(city, scout)
    start_up = Organisation.objects.create(
        name="Oker Robotics", kind=Organisation.Kind.START_UP, municipality=region["urban"]
    )
    create_request(
        organisation=start_up, by=scout, title="Greifer", kind="joint_rd", source="phone"
    )
    return region


def rows_of(page):
    return page.locator("table tbody tr")


@pytest.mark.parametrize("viewport", ["laptop"])
def test_administration_traces_figures_to_their_records(
    page, page_log, login, administration, activity
):
    quarter = Period.containing_quarter(timezone.localdate())
    login(page, administration)
    dashboard = reverse("reporting:dashboard")
    page.locator(f'nav a[href="{dashboard}"]').click()
    expect(page.get_by_role("heading", level=1)).to_be_visible()

    # Pick this quarter (the page opens on the last finished one).
    page.locator("#id_period_kind").select_option("quarter")
    page.locator("#id_year").fill(str(quarter.start.year))
    page.locator("#id_number").select_option(str((quarter.start.month - 1) // 3 + 1))
    page.locator("form.filter-panel button[type=submit]").click()
    expect(page.locator("#indicators-heading")).to_contain_text(quarter.label)

    # The RCO01 figure leads to as many records as it says.
    figure = page.locator('#indicator-RCO01 a[data-figure="current"]')
    assert figure.evaluate("link => link.firstChild.textContent") == "5"
    expect(figure).to_contain_text("RCO01")  # the link says what it is, for screen readers
    figure.click()
    expect(page.locator("#records-count")).to_contain_text("5")
    expect(rows_of(page)).to_have_count(5)
    expect(page.get_by_role("link", name="Oker Robotics")).to_be_visible()

    # Back on the dashboard, the visits by district.
    page.go_back()
    details = page.locator('details[data-indicator="VISITS"]')
    details.locator("summary").click()
    districts = details.locator('[data-breakdown="district"]')
    expect(districts).to_be_visible()
    rural_row = districts.get_by_role("row").filter(has_text="Wolfenbüttel")
    expect(rural_row.get_by_role("link")).to_contain_text("3")
    rural_row.get_by_role("link").click()

    # Only that district's visits.
    expect(page.locator("#records-count")).to_contain_text("3")
    expect(page.locator(".records-scope")).to_contain_text("Wolfenbüttel")
    expect(rows_of(page)).to_have_count(3)
    for row in rows_of(page).all():
        expect(row).to_contain_text("LK Wolfenbüttel")
    expect(page.get_by_text("Löwen Software GmbH")).to_have_count(0)
    assert page_log.problems() == []
