import pytest
from django.core.cache import cache
from django.utils import timezone
from rest_framework.test import APIClient

from crm.models import ConsentRecord

URL = "/api/consents/"


@pytest.fixture(autouse=True)
def _fresh_throttles():
    cache.clear()


def api(user=None) -> APIClient:
    client = APIClient(headers={"Accept-Language": "en"})
    if user is not None:
        client.force_login(user)
    return client


@pytest.fixture
def consent(person, scout):
    return ConsentRecord.objects.create(
        person=person,
        purpose=ConsentRecord.Purpose.NEWSLETTER,
        lawful_basis=ConsentRecord.LawfulBasis.CONSENT,
        source="Messestand",
        given_at=timezone.now() - timezone.timedelta(days=30),
        recorded_by=scout,
    )


def test_list_and_filters(manager, consent, person):
    withdrawn = ConsentRecord.objects.create(
        person=person,
        purpose=ConsentRecord.Purpose.EVENTS,
        lawful_basis=ConsentRecord.LawfulBasis.CONSENT,
        source="E-Mail",
        given_at=timezone.now() - timezone.timedelta(days=10),
        withdrawn_at=timezone.now() - timezone.timedelta(days=1),
    )
    client = api(manager)
    response = client.get(URL, {"person": person.pk})
    assert response.status_code == 200
    assert response.json()["count"] == 2

    def ids(params):
        return [row["id"] for row in client.get(URL, params).json()["results"]]

    assert ids({"effective": "true"}) == [consent.pk]
    assert ids({"effective": "false"}) == [withdrawn.pk]
    assert ids({"purpose": "events"}) == [withdrawn.pk]
    assert client.get(URL, {"purpose": "spam"}).status_code == 400


@pytest.mark.parametrize("persona", ["funder", "outsider"])
def test_no_crm_role_gets_403(request, persona, consent, person):
    client = api(request.getfixturevalue(persona))
    assert client.get(URL).status_code == 403
    assert client.get(f"{URL}{consent.pk}/").status_code == 403
    payload = {"person": person.pk, "purpose": "events", "lawful_basis": "consent", "source": "x"}
    assert client.post(URL, payload, format="json").status_code == 403
    assert client.post(f"{URL}{consent.pk}/withdraw/").status_code == 403
    consent.refresh_from_db()
    assert consent.withdrawn_at is None


def test_anonymous_is_refused(consent):
    assert api().get(URL).status_code in (401, 403)
    assert api().post(f"{URL}{consent.pk}/withdraw/").status_code in (401, 403)


def test_create_records_who_and_history(scout, person):
    response = api(scout).post(
        URL,
        {
            "person": person.pk,
            "purpose": "email_contact",
            "lawful_basis": "legitimate_interest",
            "source": "Unternehmensbesuch",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["recorded_by"] == scout.pk and body["is_effective"] is True
    consent = ConsentRecord.objects.get(pk=body["id"])
    assert consent.recorded_by == scout
    assert consent.history.get().history_user == scout
    assert person.can_be_emailed()


@pytest.mark.parametrize(
    ("payload", "field", "message"),
    [
        ({"purpose": "spam"}, "purpose", "is not a valid choice."),
        ({"source": ""}, "source", "This field may not be blank."),
        ({"person": 999999}, "person", "object does not exist."),
        ({"given_at": "morgen"}, "given_at", "Datetime has wrong format."),
    ],
)
def test_create_refuses_bad_input(scout, person, payload, field, message):
    data = {"person": person.pk, "purpose": "events", "lawful_basis": "consent", "source": "x"}
    response = api(scout).post(URL, {**data, **payload}, format="json")
    assert response.status_code == 400
    assert message in " ".join(response.json()[field])
    assert not ConsentRecord.objects.exists()


def test_withdrawn_and_recorded_by_cannot_be_set_on_create(scout, manager, person):
    response = api(scout).post(
        URL,
        {
            "person": person.pk,
            "purpose": "events",
            "lawful_basis": "consent",
            "source": "x",
            "withdrawn_at": "2020-01-01T00:00:00Z",
            "recorded_by": manager.pk,
        },
        format="json",
    )
    assert response.status_code == 201
    consent = ConsentRecord.objects.get()
    assert consent.withdrawn_at is None and consent.recorded_by == scout


def test_records_are_not_edited_or_deleted(administration, consent):
    client = api(administration)
    assert client.patch(f"{URL}{consent.pk}/", {"source": "y"}, format="json").status_code == 405
    # Without a delete permission the permission check answers before the router does.
    assert client.delete(f"{URL}{consent.pk}/").status_code in (403, 405)
    consent.refresh_from_db()
    assert consent.source == "Messestand"


def test_withdraw(manager, consent):
    client = api(manager)
    response = client.post(f"{URL}{consent.pk}/withdraw/", {}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["is_effective"] is False
    consent.refresh_from_db()
    assert consent.withdrawn_at is not None
    latest = consent.history.latest()
    assert latest.history_user == manager
    assert latest.history_change_reason == "Consent withdrawn"

    again = client.post(f"{URL}{consent.pk}/withdraw/")
    assert again.status_code == 400
    assert "already been withdrawn" in str(again.json()["non_field_errors"])


def test_withdraw_refuses_a_date_before_the_consent(manager, consent):
    response = api(manager).post(
        f"{URL}{consent.pk}/withdraw/", {"withdrawn_at": "2000-01-01T00:00:00Z"}, format="json"
    )
    assert response.status_code == 400
    assert "Withdrawal cannot precede the consent." in str(response.json()["withdrawn_at"])
    consent.refresh_from_db()
    assert consent.withdrawn_at is None


def test_withdraw_with_format_suffix(manager, person):
    consent = ConsentRecord.objects.create(
        person=person, purpose="email_contact", lawful_basis="consent", source="Besuch"
    )
    response = api(manager).post(f"{URL}{consent.pk}/withdraw.json")
    assert response.status_code == 200, response.content
