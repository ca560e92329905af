"""A network manager signs in through the real form on a tablet and a laptop."""

from __future__ import annotations

import pytest
from django.urls import reverse

from crm.management.commands.totp_code import totp_code_for_secret
from crm.roles import Role
from tests.personas import PASSWORD, make_user

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("viewport", ["tablet", "laptop"])
def test_manager_signs_in_and_lands_on_home(page, page_log, login, manager):
    login(page, manager)

    assert page.url.endswith(reverse("crm:home"))
    assert page.locator("html").get_attribute("lang") == "de"
    assert page.locator("nav").get_by_text("Nora Netz").count() == 1
    # Static files are served: Bootstrap's navbar colour is applied.
    background = page.evaluate("getComputedStyle(document.querySelector('nav')).backgroundColor")
    assert background == "rgb(13, 110, 253)"
    assert page_log.problems() == []


def test_wrong_password_shows_german_error(page, page_log, manager):
    page.goto(reverse("account_login"))
    page.locator("input[name=login]").fill("manager")
    page.locator("input[name=password]").fill(PASSWORD + "-falsch")
    with page.expect_navigation():
        page.locator("main form button[type=submit]").click()

    assert page.url.endswith(reverse("account_login"))
    error = page.locator("main .alert-danger")
    assert error.is_visible()
    assert "Passwort" in error.inner_text()
    assert "falsch" in error.inner_text()
    assert page_log.console_errors == []


def test_administration_signs_in_with_second_factor(page, login, administration):
    login(page, administration)

    assert page.url.endswith(reverse("crm:home"))


def test_administration_without_second_factor_sets_it_up(page, page_log, login):
    user = make_user("neu-verwaltung", Role.ADMINISTRATION, with_totp=False)
    login(page, user)
    # Sent on to set up TOTP; allauth first asks for the password again.
    assert reverse("account_reauthenticate") in page.url
    page.locator("main input[name=password]").fill(PASSWORD)
    with page.expect_navigation():
        page.locator("main form button[type=submit]").click()
    assert page.url.endswith(reverse("mfa_activate_totp"))

    # The QR code (a data: URI) is displayed despite the Content-Security-Policy.
    qr_code = page.locator("main img[src^='data:image/svg+xml']")
    assert qr_code.evaluate("img => img.complete && img.naturalWidth > 0")
    secret = page.locator("#authenticator_secret").input_value()
    page.locator("main input[name=code]").fill(totp_code_for_secret(secret, min_seconds_left=3))
    with page.expect_navigation():
        page.locator("main form button[type=submit]").click()

    assert page.url.endswith(reverse("mfa_view_recovery_codes"))
    assert len(page.locator("#recovery_codes").input_value().split()) == 10
    page.goto(reverse("crm:home"))
    assert page.url.endswith(reverse("crm:home"))
    assert page_log.problems() == []
