"""API tokens: exchanged for a password (not for two-factor accounts), seen, rotated, revoked."""

import pytest
from django.core.cache import cache
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from crm.models import Person
from crm.roles import Role
from tests.personas import PASSWORD, make_user

TOKEN_URL = "/api/auth/token/"
OWN_URL = "/api/auth/token/me/"


@pytest.fixture(autouse=True)
def _fresh_throttles():
    cache.clear()


def api(user=None, **kwargs) -> APIClient:
    client = APIClient(headers={"Accept-Language": "en"}, **kwargs)
    if user is not None:
        client.force_login(user)
    return client


def with_token(key: str) -> APIClient:
    client = api()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def test_password_exchange_gives_a_working_token(scout, organisation):
    response = api().post(TOKEN_URL, {"username": "scout", "password": PASSWORD}, format="json")
    assert response.status_code == 200, response.content
    key = response.json()["token"]
    assert Token.objects.get(user=scout).key == key
    listed = with_token(key).get("/api/organisations/")
    assert listed.status_code == 200 and listed.json()["count"] == 1
    again = api().post(TOKEN_URL, {"username": "scout", "password": PASSWORD}, format="json")
    assert again.json()["token"] == key


def test_token_writes_name_the_user_in_history(scout):
    key = Token.objects.create(user=scout).key
    response = with_token(key).post(
        "/api/people/", {"first_name": "Tom", "last_name": "Token"}, format="json"
    )
    assert response.status_code == 201
    assert Person.objects.get().history.get().history_user == scout


def test_wrong_password_is_400_and_issues_nothing(scout):
    response = api().post(TOKEN_URL, {"username": "scout", "password": "falsch"}, format="json")
    assert response.status_code == 400
    assert "Unable to log in with provided credentials." in str(response.json())
    assert not Token.objects.exists()


def test_missing_fields_are_400(scout):
    response = api().post(TOKEN_URL, {"username": "scout\x00"}, format="json")
    assert response.status_code == 400
    assert {"username", "password"} <= set(response.json())


def test_inactive_user_gets_no_token(scout):
    scout.is_active = False
    scout.save()
    response = api().post(TOKEN_URL, {"username": "scout", "password": PASSWORD}, format="json")
    assert response.status_code == 400
    assert not Token.objects.exists()


def test_two_factor_accounts_get_no_token_for_a_password(administration, db):
    response = api().post(
        TOKEN_URL, {"username": "verwaltung", "password": PASSWORD}, format="json"
    )
    assert response.status_code == 403
    assert "two-factor" in response.json()["detail"]
    make_user("manager2", Role.NETWORK_MANAGER, with_totp=True)
    response = api().post(TOKEN_URL, {"username": "manager2", "password": PASSWORD}, format="json")
    assert response.status_code == 403
    assert not Token.objects.exists()


def test_administration_without_totp_cannot_get_a_token_either(db):
    make_user("admin2", Role.ADMINISTRATION, with_totp=False)
    response = api().post(TOKEN_URL, {"username": "admin2", "password": PASSWORD}, format="json")
    assert response.status_code == 403


def test_password_guessing_is_throttled(scout):
    client = api()
    codes = [
        client.post(
            TOKEN_URL, {"username": "scout", "password": f"x{i}"}, format="json"
        ).status_code
        for i in range(11)
    ]
    assert codes[:10] == [400] * 10
    assert codes[10] == 429


def test_token_of_a_funder_opens_nothing_personal(funder, person):
    key = Token.objects.create(user=funder).key
    client = with_token(key)
    for url in ("/api/organisations/", "/api/people/", "/api/affiliations/", "/api/consents/"):
        assert client.get(url).status_code == 403


def test_administration_session_without_totp_is_refused(db, organisation):
    admin = make_user("admin2", Role.ADMINISTRATION, with_totp=False)
    assert api(admin).get("/api/organisations/").status_code == 403


def test_own_token_lifecycle(scout):
    client = api(scout)
    assert client.get(OWN_URL).status_code == 404

    created = client.post(OWN_URL)
    assert created.status_code == 201
    key = created.json()["key"]
    shown = client.get(OWN_URL).json()
    assert shown["key_hint"] == f"{key[:4]}…"
    assert "key" not in shown

    rotated = client.post(OWN_URL).json()["key"]
    assert rotated != key
    assert with_token(key).get("/api/topics/").status_code in (401, 403)
    assert with_token(rotated).get("/api/topics/").status_code == 200

    # A token client may rotate or revoke itself.
    assert with_token(rotated).delete(OWN_URL).status_code == 204
    assert not Token.objects.filter(user=scout).exists()


def test_administration_with_totp_creates_its_token_in_a_session(administration):
    response = api(administration).post(OWN_URL)
    assert response.status_code == 201
    assert with_token(response.json()["key"]).get("/api/people/").status_code == 200


def test_own_token_needs_a_signed_in_user(db):
    assert api().get(OWN_URL).status_code in (401, 403)
    assert api().post(OWN_URL).status_code in (401, 403)


def test_own_token_rotation_in_a_session_needs_csrf(scout):
    client = api(scout, enforce_csrf_checks=True)
    response = client.post(OWN_URL)
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    assert not Token.objects.exists()
