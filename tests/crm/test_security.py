"""HTTP-level protections: Content-Security-Policy, CSRF, security headers, no inline code."""

from __future__ import annotations

import json
import re

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from tests.crm.test_settings import production_env, run
from tests.personas import PASSWORD

# A <script> without src (inline code; JSON data blocks would be allowed, we have none),
# a <style> element, a style="" attribute or an on*="" event handler attribute.
INLINE_CODE = re.compile(
    r"<script(?![^>]*\bsrc=)[^>]*>|<style[\s>]|\sstyle\s*=|\son[a-z]+\s*=", re.IGNORECASE
)


@pytest.fixture(autouse=True)
def fresh_rate_limits():
    cache.clear()


def csp_directives(header: str) -> dict[str, list[str]]:
    directives = {}
    for part in header.split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


def assert_strict_csp(response) -> None:
    directives = csp_directives(response["Content-Security-Policy"])
    assert directives["default-src"] == ["'self'"]
    assert directives["script-src"] == ["'self'"]
    assert directives["style-src"] == ["'self'"]
    assert directives["img-src"] == ["'self'", "data:"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["object-src"] == ["'none'"]
    assert "'unsafe-inline'" not in response["Content-Security-Policy"]
    assert "'unsafe-eval'" not in response["Content-Security-Policy"]


# --- Content-Security-Policy and other headers -----------------------------------------


@pytest.mark.django_db
def test_pages_carry_a_strict_csp_and_security_headers(manager):
    client = Client()
    anonymous = client.get(reverse("account_login"))
    client.force_login(manager)
    signed_in = client.get(reverse("crm:home"))

    for response in (anonymous, signed_in):
        assert response.status_code == 200
        assert_strict_csp(response)
        assert response["X-Frame-Options"] == "DENY"
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Referrer-Policy"] == "same-origin"


PRODUCTION_REQUEST = """
import json, django
django.setup()
from django.test import Client
secure = Client().get("/accounts/login/", secure=True, HTTP_HOST="crm.example.org")
plain = Client().get("/accounts/login/", HTTP_HOST="crm.example.org")
print(json.dumps({
    "status": secure.status_code,
    "headers": dict(secure.headers),
    "csrf_cookie_secure": bool(secure.cookies["csrftoken"]["secure"]),
    "plain_status": plain.status_code,
    "plain_location": plain.get("Location"),
}))
"""


def test_production_settings_serve_csp_hsts_and_redirect_to_https():
    """The login page needs no database, so it is rendered in a fresh interpreter
    with production settings; plain static storage spares us a collectstatic."""
    result = run(["-c", PRODUCTION_REQUEST], production_env(PLAIN_STATIC_STORAGE="1"))
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout.strip().splitlines()[-1])

    assert outcome["status"] == 200
    headers = outcome["headers"]
    directives = csp_directives(headers["Content-Security-Policy"])
    assert directives["script-src"] == ["'self'"]
    assert directives["style-src"] == ["'self'"]
    assert headers["Strict-Transport-Security"].startswith("max-age=31536000")
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert outcome["csrf_cookie_secure"] is True
    assert outcome["plain_status"] == 301
    assert outcome["plain_location"] == "https://crm.example.org/accounts/login/"


# --- No inline scripts or styles (the CSP would block them) --------------------------


ANONYMOUS_PAGES = [
    "account_login",
    "account_signup",
    "account_reset_password",
    "account_reset_password_done",
]
SIGNED_IN_PAGES = ["account_change_password", "account_logout", "mfa_index", "crm:home"]


@pytest.mark.django_db
@pytest.mark.parametrize("name", ANONYMOUS_PAGES)
def test_anonymous_pages_have_no_inline_code(client, name):
    response = client.get(reverse(name))

    assert response.status_code == 200
    html = response.content.decode()
    assert not INLINE_CODE.search(html), INLINE_CODE.search(html)


@pytest.mark.django_db
@pytest.mark.parametrize("name", SIGNED_IN_PAGES)
def test_signed_in_pages_have_no_inline_code(manager, name):
    client = Client()
    client.force_login(manager)
    response = client.get(reverse(name))

    assert response.status_code == 200
    html = response.content.decode()
    assert not INLINE_CODE.search(html), INLINE_CODE.search(html)


# --- CSRF ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_login_post_without_csrf_token_is_refused(manager):
    client = Client(enforce_csrf_checks=True)

    response = client.post(reverse("account_login"), {"login": "manager", "password": PASSWORD})

    assert response.status_code == 403
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_login_post_with_csrf_token_is_accepted(manager):
    client = Client(enforce_csrf_checks=True)
    client.get(reverse("account_login"))
    token = client.cookies["csrftoken"].value

    response = client.post(
        reverse("account_login"),
        {"login": "manager", "password": PASSWORD, "csrfmiddlewaretoken": token},
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("crm:home")


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["account_logout", "account_change_password", "set_language"])
def test_signed_in_posts_without_csrf_token_are_refused(manager, name):
    client = Client(enforce_csrf_checks=True)
    client.force_login(manager)

    response = client.post(reverse(name), {"language": "en"})

    assert response.status_code == 403
    assert "_auth_user_id" in client.session


@pytest.mark.django_db
def test_session_cookie_is_http_only_and_same_site(manager):
    client = Client()
    response = client.post(reverse("account_login"), {"login": "manager", "password": PASSWORD})

    cookie = response.cookies["sessionid"]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"
