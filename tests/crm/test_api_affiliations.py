import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from crm.models import Affiliation, Organisation, Person

URL = "/api/affiliations/"


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


@pytest.fixture
def second_org(region):
    return Organisation.objects.create(name="TU Braunschweig", kind="university")


def test_list_and_filters(scout, person, organisation, second_org):
    other = Person.objects.create(first_name="Jörg", last_name="Özdemir")
    other.affiliations.create(organisation=second_org, function="Professor")
    client = api(scout)
    response = client.get(URL)
    assert response.status_code == 200
    assert response.json()["count"] == 2
    by_person = client.get(URL, {"person": person.pk}).json()["results"]
    assert [(a["person_name"], a["organisation_name"]) for a in by_person] == [
        ("Anna Schmidt", "Müller Maschinenbau GmbH")
    ]
    by_org = client.get(URL, {"organisation": second_org.pk}).json()["results"]
    assert [a["function"] for a in by_org] == ["Professor"]
    ordered = client.get(URL, {"o": "-person"}).json()["results"]
    assert [a["person_name"] for a in ordered] == ["Jörg Özdemir", "Anna Schmidt"]


@pytest.mark.parametrize(
    "params", [{"person": "999999"}, {"organisation": str(10**30)}, {"o": "x"}, {"person": "\x00"}]
)
def test_bad_filters_are_400(scout, person, params):
    assert api(scout).get(URL, params).status_code == 400


@pytest.mark.parametrize("persona", ["funder", "outsider"])
def test_no_crm_role_gets_403(request, persona, person):
    affiliation = person.affiliations.get()
    client = api(request.getfixturevalue(persona))
    assert client.get(URL).status_code == 403
    assert client.get(detail(affiliation.pk)).status_code == 403
    assert client.post(URL, {}, format="json").status_code == 403
    assert client.delete(detail(affiliation.pk)).status_code == 403


def test_anonymous_is_refused(person):
    assert api().get(URL).status_code in (401, 403)


def test_query_count_is_constant(manager, organisation):
    client = api(manager)

    def add(count: int) -> None:
        for _ in range(count):
            person = Person.objects.create(last_name=f"N{Person.objects.count()}")
            person.affiliations.create(organisation=organisation, is_primary=True)

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(URL, {"page_size": 100}).status_code == 200
        return len(ctx)

    add(5)
    few = queries()
    add(45)
    assert queries() == few


def test_create_primary_demotes_the_old_one_with_history(scout, person, organisation, second_org):
    old = person.affiliations.get()
    response = api(scout).post(
        URL,
        {
            "person": person.pk,
            "organisation": second_org.pk,
            "function": "Lehrbeauftragte",
            "is_primary": True,
            "valid_from": "2024-01-01",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["is_primary"] is True and body["is_current"] is True
    old.refresh_from_db()
    assert old.is_primary is False
    assert old.history.latest().history_user == scout
    new = Affiliation.objects.get(pk=body["id"])
    assert new.history.get().history_user == scout


@pytest.mark.parametrize(
    ("payload", "field", "message"),
    [
        (
            {"valid_from": "2024-05-01", "valid_until": "2024-01-01"},
            "valid_until",
            "The end date lies before the start date.",
        ),
        ({"person": 999999}, "person", "object does not exist."),
        ({"organisation": None}, "organisation", "This field may not be null."),
        ({"email": "x@"}, "email", "Enter a valid email address."),
        ({"valid_from": "gestern"}, "valid_from", "Date has wrong format."),
    ],
)
def test_create_refuses_bad_input(scout, person, second_org, payload, field, message):
    data = {"person": person.pk, "organisation": second_org.pk, **payload}
    response = api(scout).post(URL, data, format="json")
    assert response.status_code == 400
    assert message in " ".join(response.json()[field])
    assert person.affiliations.count() == 1


def test_update_records_history_user(manager, person):
    affiliation = person.affiliations.get()
    response = api(manager).patch(
        detail(affiliation.pk), {"department": "Entwicklung"}, format="json"
    )
    assert response.status_code == 200
    assert affiliation.history.latest().history_user == manager


def test_end_affiliation(scout, person):
    affiliation = person.affiliations.get()
    client = api(scout)
    response = client.post(f"{detail(affiliation.pk)}end/")
    assert response.status_code == 200, response.content
    assert response.json()["valid_until"] == timezone.localdate().isoformat()
    assert response.json()["is_primary"] is False
    assert affiliation.history.latest().history_user == scout
    again = client.post(f"{detail(affiliation.pk)}end/")
    assert again.status_code == 400
    assert "already ended" in str(again.json()["non_field_errors"])


def test_scout_may_not_delete_but_manager_may(scout, manager, person):
    affiliation = person.affiliations.get()
    assert api(scout).delete(detail(affiliation.pk)).status_code == 403
    assert api(manager).delete(detail(affiliation.pk)).status_code == 204
    assert not Affiliation.objects.filter(pk=affiliation.pk).exists()
    deleted = Affiliation.history.get(id=affiliation.pk, history_type="-")
    assert deleted.history_user == manager


def test_end_with_format_suffix(scout, person):
    # The router also offers end.json; the action must accept the format argument.
    affiliation = person.affiliations.get()
    response = api(scout).post(detail(affiliation.pk).rstrip("/") + "/end.json")
    assert response.status_code == 200, response.content
