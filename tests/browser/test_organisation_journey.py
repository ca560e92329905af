"""Issue journey: a network manager creates an organisation with a person, is warned
about a near-duplicate, edits a field and sees old and new value in the history tab."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from crm.models import Organisation

pytestmark = pytest.mark.browser


def field(page, label):
    """A form field by its visible label; required fields carry a trailing asterisk."""
    return page.get_by_label(re.compile(rf"^{re.escape(label)}( \*)?$"))


@pytest.mark.parametrize("viewport", ["tablet", "laptop"])
def test_manager_creates_edits_and_reads_history(page, page_log, login, manager, region):
    login(page, manager)

    # Create an organisation from the list page.
    page.goto("/organisations/")
    page.get_by_role("link", name="Neue Organisation").first.click()
    field(page, "Name").fill("Okertal Solar GmbH")
    field(page, "Art").select_option("sme")
    field(page, "Beschäftigte").fill("12")
    field(page, "PLZ").fill("38162")
    field(page, "Ort").fill("Cremlingen")
    page.get_by_role("button", name="Speichern").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Okertal Solar GmbH")
    organisation = Organisation.objects.get(name="Okertal Solar GmbH")
    assert organisation.size_class == "small"

    # Add a person who works there.
    page.get_by_role("link", name="Person hinzufügen").click()
    field(page, "Vorname").fill("Jana")
    field(page, "Nachname").fill("Krüger")
    field(page, "Funktion in der Organisation").fill("Geschäftsführerin")
    page.get_by_role("button", name="Speichern").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Okertal Solar GmbH")
    page.get_by_role("tab", name=re.compile("Personen")).click()
    expect(page.get_by_role("link", name="Jana Krüger")).to_be_visible()

    # A near-duplicate is flagged while typing, and saving it needs confirmation.
    page.goto("/organisations/new/")
    field(page, "Name").fill("Okertal Solar")
    field(page, "Name").blur()
    warning = page.locator("#duplicate-warning")
    expect(warning).to_contain_text("Okertal Solar GmbH")
    expect(warning).to_contain_text("Mögliche Duplikate")
    page.get_by_role("button", name="Speichern").click()
    expect(page.get_by_label(re.compile("andere Organisation"))).to_be_visible()
    assert Organisation.objects.filter(name__startswith="Okertal").count() == 1

    # Edit a field of the original.
    page.goto(organisation.get_absolute_url())
    page.get_by_role("link", name="Bearbeiten").click()
    field(page, "Beschäftigte").fill("64")
    page.get_by_role("button", name="Speichern").click()
    expect(page.locator(".alert-success")).to_be_visible()

    # The history tab shows who changed what from what to what.
    page.get_by_role("tab", name="Verlauf").click()
    history = page.locator("#history")
    expect(history).to_contain_text("Nora Netz")
    change = history.locator("tr", has_text="Beschäftigte").first
    expect(change.locator("del")).to_have_text("12")
    expect(change.locator("ins")).to_have_text("64")
    expect(history.locator("tr", has_text="Größenklasse").first.locator("ins")).to_contain_text(
        "Mittel"
    )
    assert page_log.problems() == []
