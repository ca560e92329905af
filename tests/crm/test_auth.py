"""Sign-in, two-factor authentication, password reset and the closed sign-up."""

from __future__ import annotations

import datetime
import re

import pytest
from allauth.account.adapter import get_adapter
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import SECRET_SESSION_KEY
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.core import mail
from django.core.cache import cache
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from crm.management.commands.totp_code import current_totp_code, totp_code_for_secret
from crm.roles import Role
from tests.personas import PASSWORD, make_user

pytestmark = pytest.mark.django_db

# Informal German ("Du") that allauth's own catalogue uses and we must not show.
INFORMAL = re.compile(r"\b(du|dich|dir|dein|deine|deinen|deinem|deiner)\b", re.IGNORECASE)


@pytest.fixture(autouse=True)
def fresh_rate_limits():
    """Rate limits and used TOTP codes live in the cache; every test starts clean."""
    cache.clear()
    yield
    cache.clear()


def sign_in(client: Client, login: str, password: str = PASSWORD):
    return client.post(reverse("account_login"), {"login": login, "password": password})


def text_of(response) -> str:
    return response.content.decode()


# --- Sign-in -------------------------------------------------------------------------


def test_login_page_is_german_labelled_and_offers_no_sign_up(client):
    response = client.get(reverse("account_login"))

    assert response.status_code == 200
    html = text_of(response)
    assert '<html lang="de">' in html
    assert '<label class="form-label" for="id_login">' in html
    assert '<label class="form-label" for="id_password">' in html
    assert 'autocomplete="current-password"' in html
    assert reverse("account_signup") not in html
    assert reverse("account_reset_password") in html
    assert not INFORMAL.search(html)


def test_manager_signs_in_with_username_and_lands_on_home(manager):
    client = Client()
    response = sign_in(client, "manager")

    assert response.status_code == 302
    assert response["Location"] == reverse("crm:home")
    assert client.get(reverse("crm:home")).status_code == 200


def test_sign_in_by_email_address_works(manager):
    response = sign_in(Client(), "manager@example.org")

    assert response.status_code == 302
    assert response["Location"] == reverse("crm:home")


def test_wrong_password_is_refused_with_message(manager):
    client = Client()
    response = sign_in(client, "manager", "falsch-falsch-falsch")

    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
    errors = response.context["form"].non_field_errors().as_data()
    assert [e.code for e in errors] == ["username_password_mismatch"]
    with translation.override("de"):
        expected = str(get_adapter().error_messages["username_password_mismatch"])
    assert expected in text_of(response)
    assert 'class="alert alert-danger"' in text_of(response)


def test_sixth_failed_login_within_five_minutes_is_refused(manager):
    client = Client()
    for _attempt in range(5):
        response = sign_in(client, "manager", "falsch-falsch-falsch")
        codes = [e.code for e in response.context["form"].non_field_errors().as_data()]
        assert codes == ["username_password_mismatch"]

    # The sixth attempt is refused before the password is even checked: the right
    # password does not get a brute-forcer in either.
    response = sign_in(client, "manager", PASSWORD)

    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
    codes = [e.code for e in response.context["form"].non_field_errors().as_data()]
    assert codes == ["too_many_login_attempts"]
    with translation.override("de"):
        expected = str(get_adapter().error_messages["too_many_login_attempts"])
    assert expected in text_of(response)


def test_five_failures_from_one_address_block_other_accounts_too(manager, scout):
    client = Client()
    for _attempt in range(5):
        sign_in(client, "manager", "falsch-falsch-falsch")

    # The per-address limit (5 failures in 5 minutes) stops guessing across accounts ...
    response = sign_in(client, "scout")
    assert response.status_code == 200
    codes = [e.code for e in response.context["form"].non_field_errors().as_data()]
    assert codes == ["too_many_login_attempts"]
    # ... until the window has passed (simulated by emptying the cache).
    cache.clear()
    assert sign_in(Client(), "scout").status_code == 302


def test_inactive_user_cannot_sign_in(manager):
    manager.is_active = False
    manager.save()
    client = Client()

    response = sign_in(client, "manager")

    assert response.status_code == 302
    assert response["Location"] == reverse("account_inactive")
    assert "_auth_user_id" not in client.session
    assert client.get(reverse("crm:home")).status_code == 302


def test_logout_asks_for_confirmation_and_needs_post(manager):
    client = Client()
    client.force_login(manager)

    page = client.get(reverse("account_logout"))
    assert page.status_code == 200
    assert "_auth_user_id" in client.session
    assert f'action="{reverse("account_logout")}"' in text_of(page)

    response = client.post(reverse("account_logout"))
    assert response.status_code == 302
    assert response["Location"] == reverse("account_login")
    assert "_auth_user_id" not in client.session


# --- Sign-up is closed ---------------------------------------------------------------


def test_signup_url_shows_closed_page_without_form(client):
    response = client.get(reverse("account_signup"))

    assert response.status_code == 200
    assert [t.name for t in response.templates][0] == "account/signup_closed.html"
    html = text_of(response)
    assert "<form" not in html.split("<main", 1)[1].split("</main>", 1)[0]
    assert 'name="password1"' not in html


def test_signup_post_creates_no_account(client):
    response = client.post(
        reverse("account_signup"),
        {
            "username": "eindringling",
            "email": "e@example.org",
            "password1": "Sehr-Langes-Passwort-1",
            "password2": "Sehr-Langes-Passwort-1",
        },
    )

    assert response.status_code == 200
    assert not get_user_model().objects.filter(username="eindringling").exists()


# --- Session ---------------------------------------------------------------------------


def test_idle_session_expires_and_each_request_extends_it(manager, settings):
    assert settings.SESSION_COOKIE_AGE == 120 * 60
    assert settings.SESSION_SAVE_EVERY_REQUEST is True
    client = Client()
    sign_in(client, "manager")
    key = client.session.session_key

    # Activity moves the expiry forward (idle timeout, not absolute).
    Session.objects.filter(session_key=key).update(
        expire_date=timezone.now() + datetime.timedelta(minutes=1)
    )
    assert client.get(reverse("crm:home")).status_code == 200
    expiry = Session.objects.get(session_key=key).expire_date
    assert expiry > timezone.now() + datetime.timedelta(minutes=119)

    # After the idle time the session is gone and the user must sign in again.
    Session.objects.filter(session_key=key).update(
        expire_date=timezone.now() - datetime.timedelta(seconds=1)
    )
    response = client.get(reverse("crm:home"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


# --- Two-factor authentication -------------------------------------------------------


def test_administration_without_totp_is_sent_to_set_it_up():
    user = make_user("verwaltung2", Role.ADMINISTRATION, with_totp=False)
    client = Client()
    client.force_login(user)

    response = client.get(reverse("crm:home"))

    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_activate_totp")
    # Pages to set up the second factor (or leave) stay reachable.
    assert client.get(reverse("mfa_index")).status_code == 200
    # The API answers with a plain 403 rather than a redirect.
    assert client.get("/api/").status_code == 403


def test_administration_with_totp_passes(administration):
    assert Authenticator.objects.filter(user=administration).exists()
    client = Client()
    client.force_login(administration)

    assert client.get(reverse("crm:home")).status_code == 200


@pytest.mark.parametrize("role", [Role.SCOUT, Role.NETWORK_MANAGER, Role.FUNDING_VIEWER])
def test_other_roles_are_not_forced_to_use_totp(role):
    user = make_user(f"user-{role}", role, with_totp=False)
    client = Client()
    client.force_login(user)

    assert client.get(reverse("crm:home")).status_code == 200


def test_administration_sets_up_totp_after_first_sign_in():
    user = make_user("neu-verwaltung", Role.ADMINISTRATION, with_totp=False)
    client = Client()

    response = sign_in(client, "neu-verwaltung")
    assert response.status_code == 302
    response = client.get(response["Location"])
    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_activate_totp")

    # Adding a second factor asks for the password again (allauth's reauthentication).
    response = client.get(reverse("mfa_activate_totp"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_reauthenticate"))
    reauth = client.get(response["Location"])
    assert reauth.status_code == 200
    assert 'autocomplete="current-password"' in text_of(reauth)
    response = client.post(response["Location"], {"password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_activate_totp")

    page = client.get(reverse("mfa_activate_totp"))
    assert page.status_code == 200
    html = text_of(page)
    # The QR code is a data: URI image, allowed by img-src 'self' data:.
    assert re.search(r'<img [^>]*src="data:image/svg\+xml;base64,[A-Za-z0-9+/=]+"', html)
    assert "data:" in page["Content-Security-Policy"].split("img-src", 1)[1].split(";")[0]
    secret = client.session[SECRET_SESSION_KEY]
    assert secret in html

    wrong = client.post(reverse("mfa_activate_totp"), {"code": "000000"})
    assert wrong.status_code == 200
    assert not Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()

    code = totp_code_for_secret(secret, min_seconds_left=2)
    response = client.post(reverse("mfa_activate_totp"), {"code": code})
    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_view_recovery_codes")
    assert Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()

    codes_page = client.get(reverse("mfa_view_recovery_codes"))
    assert codes_page.status_code == 200
    assert 'id="recovery_codes"' in text_of(codes_page)
    assert client.get(reverse("crm:home")).status_code == 200


def test_full_totp_sign_in(administration):
    client = Client()

    response = sign_in(client, "verwaltung")
    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_authenticate")
    # Password alone does not sign in.
    assert "_auth_user_id" not in client.session
    assert client.get(reverse("crm:home")).status_code == 302

    page = client.get(reverse("mfa_authenticate"))
    assert page.status_code == 200
    assert 'autocomplete="one-time-code"' in text_of(page)

    wrong = client.post(reverse("mfa_authenticate"), {"code": "000000"})
    assert wrong.status_code == 200
    assert "_auth_user_id" not in client.session
    assert wrong.context["form"].errors

    code = current_totp_code(administration, min_seconds_left=2)
    response = client.post(reverse("mfa_authenticate"), {"code": code})
    assert response.status_code == 302
    assert response["Location"] == reverse("crm:home")
    assert client.get(reverse("crm:home")).status_code == 200


def test_totp_code_cannot_be_replayed(administration):
    code = current_totp_code(administration, min_seconds_left=3)
    first = Client()
    sign_in(first, "verwaltung")
    assert first.post(reverse("mfa_authenticate"), {"code": code}).status_code == 302

    second = Client()
    sign_in(second, "verwaltung")
    response = second.post(reverse("mfa_authenticate"), {"code": code})
    assert response.status_code == 200
    assert "_auth_user_id" not in second.session


def test_admin_site_login_cannot_skip_the_second_factor(administration):
    administration.is_staff = True
    administration.save()
    client = Client()

    client.post(
        reverse("admin:login") + "?next=/", {"username": "verwaltung", "password": PASSWORD}
    )

    assert "_auth_user_id" not in client.session


def test_recovery_code_signs_in_instead_of_totp(administration):
    from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes

    recovery_code = RecoveryCodes.activate(administration).get_unused_codes()[0]
    client = Client()
    sign_in(client, "verwaltung")

    response = client.post(reverse("mfa_authenticate"), {"code": recovery_code})

    assert response.status_code == 302
    assert response["Location"] == reverse("crm:home")


def test_mfa_pages_render_for_administration(administration):
    from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes

    RecoveryCodes.activate(administration)
    client = Client()
    sign_in(client, "verwaltung")
    client.post(
        reverse("mfa_authenticate"),
        {"code": current_totp_code(administration, min_seconds_left=2)},
    )
    assert client.get(reverse("mfa_index")).status_code == 200

    # Showing recovery codes asks for the password again first.
    response = client.get(reverse("mfa_view_recovery_codes"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_reauthenticate"))
    client.post(response["Location"], {"password": PASSWORD})

    for name in (
        "mfa_index",
        "mfa_view_recovery_codes",
        "mfa_generate_recovery_codes",
        "mfa_deactivate_totp",
    ):
        response = client.get(reverse(name))
        assert response.status_code == 200, name
        assert not INFORMAL.search(text_of(response)), name
    for name in ("mfa_generate_recovery_codes", "mfa_deactivate_totp"):
        assert f'action="{reverse(name)}"' in text_of(client.get(reverse(name))), name
    codes = client.get(reverse("mfa_download_recovery_codes"))
    assert codes.status_code == 200
    assert len(codes.content.split()) == 10


# --- Password change and reset -------------------------------------------------------


def test_password_change_needs_current_password(manager):
    client = Client()
    client.force_login(manager)
    url = reverse("account_change_password")
    assert client.get(url).status_code == 200

    wrong = client.post(
        url,
        {"oldpassword": "nicht-richtig", "password1": "Neu-Passwort-2026!", "password2": "x"},
    )
    assert wrong.status_code == 200
    assert set(wrong.context["form"].errors) == {"oldpassword", "password2"}

    response = client.post(
        url,
        {
            "oldpassword": PASSWORD,
            "password1": "Neu-Passwort-2026!",
            "password2": "Neu-Passwort-2026!",
        },
    )
    assert response.status_code == 302
    manager.refresh_from_db()
    assert manager.check_password("Neu-Passwort-2026!")


def test_password_reset_by_email_link(manager):
    client = Client()
    assert client.get(reverse("account_reset_password")).status_code == 200

    response = client.post(reverse("account_reset_password"), {"email": "manager@example.org"})
    assert response.status_code == 302
    assert response["Location"] == reverse("account_reset_password_done")
    assert client.get(response["Location"]).status_code == 200

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["manager@example.org"]
    assert message.subject.startswith("[Regio-CRM] ")
    link = re.search(r"https?://\S+/accounts/password/reset/key/\S+/", message.body)
    assert link, message.body
    assert "signup" not in message.body
    assert not INFORMAL.search(message.body)
    html_body, mimetype = message.alternatives[0]
    assert mimetype == "text/html"
    assert link.group(0) in html_body

    path = link.group(0).split("://", 1)[1].split("/", 1)[1]
    page = client.get("/" + path, follow=True)
    assert page.status_code == 200
    form_url = page.redirect_chain[-1][0] if page.redirect_chain else "/" + path
    response = client.post(
        form_url, {"password1": "Neu-Passwort-2026!", "password2": "Neu-Passwort-2026!"}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("account_reset_password_from_key_done")
    assert sign_in(Client(), "manager", "Neu-Passwort-2026!").status_code == 302


def test_password_reset_link_cannot_be_guessed(client):
    response = client.get("/accounts/password/reset/key/1-falsch/", follow=True)

    assert response.status_code == 200
    assert response.context["token_fail"] is True
    assert reverse("account_reset_password") in text_of(response)


def test_password_reset_for_unknown_address_does_not_reveal_or_invite_sign_up(client):
    response = client.post(reverse("account_reset_password"), {"email": "niemand@example.org"})

    # Same answer as for a known address (no account enumeration) ...
    assert response.status_code == 302
    assert response["Location"] == reverse("account_reset_password_done")
    # ... and the email sent instead offers no self-registration.
    assert len(mail.outbox) == 1
    assert "signup" not in mail.outbox[0].body
    assert "niemand@example.org" in mail.outbox[0].body


# --- totp_code management command ------------------------------------------------------


def test_totp_code_command_prints_a_code_allauth_accepts(administration, settings, capsys):
    from allauth.mfa.totp.internal.auth import TOTP

    settings.DEBUG = True
    call_command("totp_code", "verwaltung")

    code = capsys.readouterr().out.strip()
    assert re.fullmatch(r"\d{6}", code)
    authenticator = Authenticator.objects.get(user=administration, type="totp")
    assert TOTP(authenticator).validate_code(code)


def test_totp_code_command_refuses_without_debug(administration, settings):
    settings.DEBUG = False

    with pytest.raises(CommandError, match="only with DEBUG on"):
        call_command("totp_code", "verwaltung")


def test_totp_code_command_explains_unknown_user_or_missing_authenticator(manager, settings):
    settings.DEBUG = True

    with pytest.raises(CommandError, match="No user"):
        call_command("totp_code", "gibt-es-nicht")
    with pytest.raises(CommandError, match="no authenticator app"):
        call_command("totp_code", "manager")
