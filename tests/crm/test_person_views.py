import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from crm.models import Affiliation, ConsentRecord, Organisation, Person


def test_person_list_query_count_is_constant(client_as, manager, organisation):
    client = client_as(manager)
    url = reverse("crm:person_list")

    def count():
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url).status_code == 200
        return len(ctx)

    for i in range(5):
        p = Person.objects.create(last_name=f"Person {i}")
        Affiliation.objects.create(person=p, organisation=organisation, is_primary=True)
    few = count()
    for i in range(5, 50):
        p = Person.objects.create(last_name=f"Person {i}")
        Affiliation.objects.create(person=p, organisation=organisation, is_primary=True)
    assert count() == few


@pytest.mark.parametrize("persona", ["funder", "outsider"])
def test_people_are_private(request, client_as, persona, person):
    client = client_as(request.getfixturevalue(persona))
    assert client.get(reverse("crm:person_list")).status_code == 403
    assert client.get(reverse("crm:person_detail", args=[person.pk])).status_code == 404


def test_scout_creates_person_at_organisation_with_duplicate_warning(
    client_as, scout, person, organisation
):
    client = client_as(scout)
    url = reverse("crm:person_create") + f"?organisation={organisation.pk}"
    data = {
        "first_name": "Anna",
        "last_name": "Schmitt",
        "preferred_language": "de",
        "function": "Einkauf",
    }
    response = client.post(url, data)
    assert response.status_code == 200 and "Anna Schmidt" in response.content.decode()
    response = client.post(
        url, {**data, "confirm_not_duplicate": "on", "organisation": organisation.pk}
    )
    assert response.status_code == 302
    created = Person.objects.get(last_name="Schmitt")
    affiliation = created.affiliations.get()
    assert affiliation.organisation == organisation and affiliation.function == "Einkauf"
    assert created.history.earliest().history_user == scout


def test_create_person_refuses_missing_last_name(client_as, scout):
    response = client_as(scout).post(
        reverse("crm:person_create"), {"first_name": "Nur", "preferred_language": "de"}
    )
    assert response.status_code == 200 and Person.objects.count() == 0


def test_person_detail_shows_consent_state(client_as, scout, person):
    page = client_as(scout).get(reverse("crm:person_detail", args=[person.pk])).content.decode()
    assert "Anna Schmidt" in page and "Müller Maschinenbau GmbH" in page


def test_consent_add_and_withdraw(client_as, scout, manager, person):
    client = client_as(scout)
    response = client.post(
        reverse("crm:consent_add", args=[person.pk]),
        {
            "purpose": "email_contact",
            "lawful_basis": "consent",
            "given_at": "2026-11-20T10:00",
            "source": "Besuch",
        },
    )
    assert response.status_code == 302
    consent = ConsentRecord.objects.get()
    assert consent.recorded_by == scout and person.can_be_emailed()
    client.post(
        reverse("crm:consent_add", args=[person.pk]),
        {"purpose": "email_contact", "lawful_basis": "", "source": ""},
    )
    assert ConsentRecord.objects.count() == 1  # invalid input changes nothing
    client_as(manager).post(reverse("crm:consent_withdraw", args=[consent.pk]))
    assert not person.can_be_emailed()


def test_affiliation_add_and_end(client_as, scout, manager, person):
    other = Organisation.objects.create(name="Neue Firma GmbH")
    client_as(scout).post(
        reverse("crm:affiliation_add", args=[person.pk]),
        {"organisation": other.pk, "function": "CTO"},
    )
    assert person.affiliations.count() == 2
    response = client_as(scout).post(
        reverse("crm:affiliation_add", args=[person.pk]), {"organisation": "", "function": "x"}
    )
    assert response.status_code == 302 and person.affiliations.count() == 2
    affiliation = person.affiliations.get(organisation=other)
    client_as(manager).post(reverse("crm:affiliation_end", args=[affiliation.pk]))
    affiliation.refresh_from_db()
    assert affiliation.valid_until is not None


def test_person_edit_and_history(client_as, scout, person):
    client = client_as(scout)
    response = client.post(
        reverse("crm:person_edit", args=[person.pk]),
        {
            "first_name": "Anna",
            "last_name": "Schmidt",
            "email": "anna@neu.de",
            "preferred_language": "en",
        },
    )
    assert response.status_code == 302
    history = client.get(reverse("crm:person_history", args=[person.pk])).content.decode()
    assert "anna@neu.de" in history and "a.schmidt@mueller-maschinenbau.de" in history


def test_person_merge_requires_permission(client_as, scout, manager, person):
    duplicate = Person.objects.create(first_name="Anna", last_name="Schmidt")
    url = reverse("crm:person_merge", args=[person.pk])
    assert client_as(scout).post(url, {"other": duplicate.pk, "confirm": "on"}).status_code == 403
    assert client_as(manager).post(url, {"other": duplicate.pk, "confirm": "on"}).status_code == 302
    assert not Person.objects.filter(pk=duplicate.pk).exists()


def test_global_search(client_as, scout, funder, person, organisation):
    page = client_as(scout).get(reverse("crm:search"), {"q": "schmidt"}).content.decode()
    assert "Anna Schmidt" in page
    page = client_as(scout).get(reverse("crm:search"), {"q": "Mueller"}).content.decode()
    assert "Müller Maschinenbau GmbH" in page
    assert client_as(funder).get(reverse("crm:search"), {"q": "schmidt"}).status_code == 403
