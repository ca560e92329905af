import pytest
from django.contrib.auth.models import Permission
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from crm.models import Affiliation, ConsentRecord, Note, Organisation, Person
from tests.personas import make_user

URL = "/api/people/"


@pytest.fixture(autouse=True)
def _fresh_throttles():
    cache.clear()


def api(user=None) -> APIClient:
    client = APIClient(headers={"Accept-Language": "en"})
    if user is not None:
        client.force_login(user)
    return client


def detail(pk: int) -> str:
    return f"{URL}{pk}/"


@pytest.mark.parametrize("persona", ["scout", "manager", "administration"])
def test_list_works_for_crm_roles(request, persona, person):
    response = api(request.getfixturevalue(persona)).get(URL)
    assert response.status_code == 200
    [row] = response.json()["results"]
    assert row["full_name"] == "Anna Schmidt"
    assert row["email"] == "a.schmidt@mueller-maschinenbau.de"
    assert "affiliations" not in row


def test_detail_nests_affiliations_consents_and_notes(scout, manager, person, organisation):
    ConsentRecord.objects.create(
        person=person,
        purpose=ConsentRecord.Purpose.EMAIL_CONTACT,
        lawful_basis=ConsentRecord.LawfulBasis.CONSENT,
        source="Besuchsformular",
        recorded_by=scout,
    )
    Note.objects.create(person=person, text="Interessiert an KI-Förderung", author=manager)
    response = api(scout).get(detail(person.pk))
    assert response.status_code == 200
    body = response.json()
    [affiliation] = body["affiliations"]
    assert affiliation["organisation"] == organisation.pk
    assert affiliation["organisation_name"] == "Müller Maschinenbau GmbH"
    assert affiliation["is_primary"] is True
    [consent] = body["consents"]
    assert consent["purpose"] == "email_contact"
    assert consent["is_effective"] is True
    assert consent["recorded_by_name"] == "Sina Scout"
    [note] = body["notes"]
    assert note["text"] == "Interessiert an KI-Förderung"
    assert note["author_name"] == "Nora Netz"
    assert body["can_be_emailed"] is True


def test_detail_cannot_be_emailed_without_lawful_basis(scout, person):
    assert api(scout).get(detail(person.pk)).json()["can_be_emailed"] is False


@pytest.mark.parametrize("persona", ["funder", "outsider"])
def test_no_crm_role_gets_403_everywhere(request, persona, person):
    client = api(request.getfixturevalue(persona))
    assert client.get(URL).status_code == 403
    assert client.get(detail(person.pk)).status_code == 403
    assert client.post(URL, {"last_name": "Neu"}, format="json").status_code == 403
    assert client.put(detail(person.pk), {"last_name": "X"}, format="json").status_code == 403
    assert client.delete(detail(person.pk)).status_code == 403
    assert Person.objects.get().last_name == "Schmidt"


def test_anonymous_is_refused(person):
    assert api().get(URL).status_code in (401, 403)
    assert api().get(detail(person.pk)).status_code in (401, 403)


def test_filters_match_the_ui(manager, person, organisation, region):
    other_org = Organisation.objects.create(name="Stadtwerke", municipality=region["urban"])
    other = Person.objects.create(first_name="Jörg", last_name="Özdemir", preferred_language="en")
    other.affiliations.create(organisation=other_org)
    client = api(manager)

    def names(params):
        response = client.get(URL, params)
        assert response.status_code == 200, response.content
        return [row["last_name"] for row in response.json()["results"]]

    assert names({"organisation": organisation.pk}) == ["Schmidt"]
    assert names({"district": region["city_district"].pk}) == ["Özdemir"]
    assert names({"language": "en"}) == ["Özdemir"]
    assert names({"q": "OEZDEMIR"}) == ["Özdemir"]
    assert names({"o": "-last_name"}) == ["Özdemir", "Schmidt"]


@pytest.mark.parametrize(
    "params",
    [{"organisation": str(10**30)}, {"organisation": "1.5"}, {"language": "fr"}, {"q": "\x00"}],
)
def test_bad_filters_are_400(manager, person, params):
    assert api(manager).get(URL, params).status_code == 400


def _list_queries(client: APIClient) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(URL, {"page_size": 100}).status_code == 200
    return len(ctx)


def _add_people(count: int, organisation: Organisation) -> None:
    for _ in range(count):
        n = Person.objects.count()
        person = Person.objects.create(first_name="Vor", last_name=f"Name {n:03d}")
        person.affiliations.create(organisation=organisation, is_primary=True)


def test_list_query_count_is_constant(manager, organisation):
    client = api(manager)
    _add_people(5, organisation)
    few = _list_queries(client)
    _add_people(45, organisation)
    many = _list_queries(client)
    assert few == many


def test_detail_query_count_does_not_grow_with_relations(manager, person, organisation, scout):
    client = api(manager)

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(detail(person.pk)).status_code == 200
        return len(ctx)

    few = queries()
    for i in range(10):
        org = Organisation.objects.create(name=f"Firma {i}")
        person.affiliations.create(organisation=org)
        ConsentRecord.objects.create(
            person=person, purpose="events", lawful_basis="consent", source="x", recorded_by=scout
        )
        Note.objects.create(person=person, text=f"Notiz {i}", author=scout)
    assert queries() == few


# --- Writing -------------------------------------------------------------------------


def test_create_saves_with_history(scout):
    response = api(scout).post(
        URL,
        {"first_name": "Jana", "last_name": "Krüger", "email": "jana@example.org"},
        format="json",
    )
    assert response.status_code == 201, response.content
    person = Person.objects.get(pk=response.json()["id"])
    assert "kruger" not in person.search_text and "krueger" in person.search_text
    assert person.history.get().history_user == scout


@pytest.mark.parametrize(
    ("payload", "field", "message"),
    [
        ({"last_name": ""}, "last_name", "This field may not be blank."),
        ({"email": "kein-email"}, "email", "Enter a valid email address."),
        ({"preferred_language": "fr"}, "preferred_language", "is not a valid choice."),
        ({"first_name": "x" * 101}, "first_name", "no more than 100 characters"),
        ({"first_name": "A\x00"}, "first_name", "Null characters are not allowed."),
    ],
)
def test_create_refuses_bad_input(scout, payload, field, message):
    response = api(scout).post(URL, {"last_name": "Krüger", **payload}, format="json")
    assert response.status_code == 400
    assert message in " ".join(response.json()[field])
    assert not Person.objects.exists()


def test_likely_duplicate_is_409_until_confirmed(scout, person):
    client = api(scout)
    payload = {"first_name": "Anna", "last_name": "Schmitt", "email": "anna@example.org"}
    response = client.post(URL, payload, format="json")
    assert response.status_code == 409
    [candidate] = response.json()["duplicates"]
    assert candidate == {"id": person.pk, "name": "Anna Schmidt", "reasons": ["similar name"]}
    assert Person.objects.count() == 1

    same_email = client.post(
        URL, {"last_name": "Anders", "email": "A.Schmidt@mueller-maschinenbau.de"}, format="json"
    )
    assert same_email.status_code == 409
    assert same_email.json()["duplicates"][0]["reasons"] == ["same email address"]

    confirmed = client.post(URL, {**payload, "confirm_not_duplicate": True}, format="json")
    assert confirmed.status_code == 201
    assert Person.objects.count() == 2


def test_changing_email_to_someone_elses_is_409_until_confirmed(manager, person):
    other = Person.objects.create(first_name="Bernd", last_name="Bauer", email="b@example.org")
    client = api(manager)
    payload = {"email": "a.schmidt@mueller-maschinenbau.de"}
    response = client.patch(detail(other.pk), payload, format="json")
    assert response.status_code == 409
    assert response.json()["duplicates"][0]["id"] == person.pk
    other.refresh_from_db()
    assert other.email == "b@example.org"
    confirmed = client.patch(
        detail(other.pk), {**payload, "confirm_not_duplicate": True}, format="json"
    )
    assert confirmed.status_code == 200


def test_update_records_history_user(manager, person):
    response = api(manager).patch(detail(person.pk), {"title": "Dr."}, format="json")
    assert response.status_code == 200
    assert response.json()["full_name"] == "Dr. Anna Schmidt"
    assert person.history.latest().history_user == manager


def test_update_refuses_bad_input_and_changes_nothing(manager, person):
    response = api(manager).put(detail(person.pk), {"first_name": "Anna"}, format="json")
    assert response.status_code == 400
    assert "last_name" in response.json()
    person.refresh_from_db()
    assert person.last_name == "Schmidt"


@pytest.mark.parametrize("persona", ["scout", "manager"])
def test_delete_needs_delete_permission(request, persona, person):
    assert api(request.getfixturevalue(persona)).delete(detail(person.pk)).status_code == 403
    assert Person.objects.filter(pk=person.pk).exists()


def test_administration_deletes_with_history(administration, person):
    pk = person.pk
    assert api(administration).delete(detail(pk)).status_code == 204
    assert not Person.objects.filter(pk=pk).exists()
    assert not Affiliation.objects.filter(person_id=pk).exists()
    assert Person.history.get(id=pk, history_type="-").history_user == administration
    # Cascaded deletions are attributed too.
    cascaded = Affiliation.history.get(person_id=pk, history_type="-")
    assert cascaded.history_user == administration


def test_token_delete_attributes_cascaded_history(administration, person):
    key = Token.objects.create(user=administration).key
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.delete(detail(person.pk)).status_code == 204
    cascaded = Affiliation.history.get(person_id=person.pk, history_type="-")
    assert cascaded.history_user == administration


def test_notes_need_their_own_view_permission(person, scout):
    Note.objects.create(person=person, text="intern", author=scout)
    reader = make_user("reader")
    reader.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="crm", codename__in=["view_person", "view_affiliation"]
        )
    )
    body = api(reader).get(detail(person.pk)).json()
    assert body["last_name"] == "Schmidt"
    assert body["notes"] == []
