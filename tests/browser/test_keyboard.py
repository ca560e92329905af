"""The main CRM forms work with the keyboard alone."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from crm.models import Organisation

pytestmark = pytest.mark.browser


def test_skip_link_search_and_create_by_keyboard(page, page_log, login, manager, organisation):
    login(page, manager)
    page.goto("/organisations/")

    # The first Tab reaches the skip link, which moves focus into the main content.
    page.keyboard.press("Tab")
    expect(page.locator(".skip-link")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()

    # Global search: focus the box, type, Enter.
    page.locator("#global-search").focus()
    page.keyboard.type("Müller")
    page.keyboard.press("Enter")
    expect(page.get_by_role("link", name="Müller Maschinenbau GmbH")).to_be_visible()

    # Create an organisation: every field is reached with Tab, Enter submits.
    page.goto("/organisations/new/")
    page.locator("#id_name").focus()
    page.keyboard.type("Tastatur Technik GmbH")
    page.keyboard.press("Tab")
    expect(page.locator("#id_kind")).to_be_focused()
    page.locator("#id_legal_form").focus()
    page.keyboard.type("GmbH")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Tastatur Technik GmbH")
    assert Organisation.objects.filter(name="Tastatur Technik GmbH").exists()

    # The detail tabs switch with the arrow keys (Bootstrap's tablist).
    page.locator("#overview-tab").focus()
    page.keyboard.press("ArrowRight")
    expect(page.locator("#people-tab")).to_be_focused()
    expect(page.locator("#people")).to_be_visible()
    assert page_log.problems() == []
