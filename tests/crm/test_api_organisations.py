import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from crm.models import Organisation, Topic

URL = "/api/organisations/"


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


# --- Reading -------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["scout", "manager", "administration"])
def test_list_works_for_crm_roles(request, persona, organisation, topics):
    organisation.offered_topics.add(topics["ai"])
    response = api(request.getfixturevalue(persona)).get(URL)
    assert response.status_code == 200
    assert response.json()["count"] == 1
    row = response.json()["results"][0]
    assert row["name"] == "Müller Maschinenbau GmbH"
    assert row["size_class"] == "small"
    assert row["offered_topics"] == [topics["ai"].pk]
    assert row["municipality"] == organisation.municipality_id
    assert row["municipality_detail"]["name"] == "Cremlingen"
    assert row["municipality_detail"]["area_type"] == "rural"
    assert row["municipality_detail"]["district_detail"]["name"] == "Wolfenbüttel"
    assert "search_text" not in row


def test_detail_works(manager, organisation):
    response = api(manager).get(detail(organisation.pk))
    assert response.status_code == 200
    assert response.json()["register_number"] == "HRB 12345"


def test_unknown_or_malformed_id_is_404(manager, organisation):
    for pk in ("999999", "abc", str(10**30)):
        assert api(manager).get(f"{URL}{pk}/").status_code == 404


def test_anonymous_is_refused(organisation):
    assert api().get(URL).status_code in (401, 403)
    assert api().post(URL, {"name": "X"}, format="json").status_code in (401, 403)


def test_invalid_token_is_refused(organisation):
    client = api()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    response = client.get(URL)
    # 401 once TokenAuthentication comes first in the settings, 403 while session does.
    assert response.status_code in (401, 403)
    assert response.json()["detail"] == "Invalid token."


@pytest.mark.parametrize("persona", ["funder", "outsider"])
def test_no_crm_role_gets_403_everywhere(request, persona, organisation):
    client = api(request.getfixturevalue(persona))
    assert client.get(URL).status_code == 403
    assert client.get(detail(organisation.pk)).status_code == 403
    assert client.post(URL, {"name": "Neu GmbH"}, format="json").status_code == 403
    assert client.patch(detail(organisation.pk), {"name": "X"}, format="json").status_code == 403
    assert client.delete(detail(organisation.pk)).status_code == 403
    assert Organisation.objects.get().name == "Müller Maschinenbau GmbH"


def test_filters_match_the_ui(manager, organisation, region, topics):
    city = Organisation.objects.create(
        name="Stadtwerke Braunschweig",
        kind="large_enterprise",
        municipality=region["urban"],
        employees=900,
    )
    city.needed_topics.add(topics["ai"])
    client = api(manager)

    def names(params):
        response = client.get(URL, params)
        assert response.status_code == 200, response.content
        return [row["name"] for row in response.json()["results"]]

    assert names({"area_type": "rural"}) == ["Müller Maschinenbau GmbH"]
    assert names({"size_class": "large"}) == ["Stadtwerke Braunschweig"]
    assert names({"q": "MÜLLER"}) == ["Müller Maschinenbau GmbH"]
    assert names({"district": region["city_district"].pk}) == ["Stadtwerke Braunschweig"]
    assert names({"kind": ["sme", "large_enterprise"], "o": "-name"}) == [
        "Stadtwerke Braunschweig",
        "Müller Maschinenbau GmbH",
    ]
    # A parent topic also finds organisations tagged with one of its children.
    assert names({"topic": topics["digital"].pk}) == ["Stadtwerke Braunschweig"]
    assert names({"o": "-employees"}) == ["Stadtwerke Braunschweig", "Müller Maschinenbau GmbH"]


@pytest.mark.parametrize(
    "params",
    [
        {"kind": "spaceship"},
        {"o": "search_text"},
        {"district": "abc"},
        {"topic": str(10**30)},
        {"page_size": "x", "page": "999"},
    ],
)
def test_bad_filters_are_refused(manager, organisation, params):
    response = api(manager).get(URL, params)
    assert response.status_code in (400, 404)


@pytest.mark.parametrize("params", [{"q": "Mül\x00ler"}, {"status": "active\x00"}, {"x\x00": "1"}])
def test_nul_bytes_in_query_are_400_not_500(manager, organisation, params):
    response = api(manager).get(URL, params)
    assert response.status_code == 400
    assert "Null characters are not allowed." in str(response.json())


def _list_queries(client: APIClient) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(URL, {"page_size": 100})
        assert response.status_code == 200
    return len(ctx)


def _add_organisations(count: int, region, topics, manager) -> None:
    for i in range(count):
        organisation = Organisation.objects.create(
            name=f"Firma {Organisation.objects.count():03d}",
            municipality=region["urban" if i % 2 else "rural"],
            employees=i,
            responsible_manager=manager,
        )
        organisation.offered_topics.add(topics["ai"], topics["energy"])
        organisation.needed_topics.add(topics["digital"])


def test_list_query_count_is_constant(manager, region, topics):
    client = api(manager)
    _add_organisations(5, region, topics, manager)
    few = _list_queries(client)
    _add_organisations(45, region, topics, manager)
    many = _list_queries(client)
    assert client.get(URL, {"page_size": 100}).json()["count"] == 50
    assert few == many


# --- Writing -------------------------------------------------------------------------


def _payload(**overrides):
    data = {
        "name": "Schulze Sensorik GmbH",
        "kind": "sme",
        "employees": 260,
        "city": "Braunschweig",
        "email": "info@schulze-sensorik.de",
    }
    data.update(overrides)
    return data


def test_create_saves_with_history_and_derived_fields(scout, region, topics):
    response = api(scout).post(
        URL,
        _payload(
            municipality=region["urban"].pk,
            offered_topics=[topics["ai"].pk],
            needed_topics=[topics["energy"].pk],
        ),
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["size_class"] == "large"
    assert body["offered_topics"] == [topics["ai"].pk]
    assert body["municipality_detail"]["district_detail"]["key"] == "03101"
    assert "confirm_not_duplicate" not in body
    organisation = Organisation.objects.get(pk=body["id"])
    assert organisation.size_class == "large"
    assert "schulze sensorik" in organisation.search_text
    assert list(organisation.needed_topics.all()) == [topics["energy"]]
    history = organisation.history.all()
    assert history and all(h.history_user == scout for h in history)
    assert history.earliest().history_type == "+"


@pytest.mark.parametrize(
    ("payload", "field", "message"),
    [
        ({"name": ""}, "name", "This field may not be blank."),
        ({"employees": -1}, "employees", "Ensure this value is greater than or equal to 0."),
        ({"founding_year": 999}, "founding_year", "greater than or equal to 1000"),
        ({"kind": "spaceship"}, "kind", "is not a valid choice."),
        ({"municipality": 999999}, "municipality", "object does not exist."),
        ({"offered_topics": [999999]}, "offered_topics", "object does not exist."),
        ({"website": "not a url"}, "website", "Enter a valid URL."),
        ({"name": "Nul\x00 GmbH"}, "name", "Null characters are not allowed."),
        ({"size_class": "micro", "employees": "many"}, "employees", "A valid integer"),
    ],
)
def test_create_refuses_bad_input(scout, region, payload, field, message):
    response = api(scout).post(URL, _payload(**payload), format="json")
    assert response.status_code == 400
    assert message in " ".join(response.json()[field])
    assert not Organisation.objects.exists()


def test_responsible_manager_must_be_a_network_manager(scout, manager, region):
    client = api(scout)
    refused = client.post(URL, _payload(responsible_manager=scout.pk), format="json")
    assert refused.status_code == 400 and "responsible_manager" in refused.json()
    created = client.post(URL, _payload(responsible_manager=manager.pk), format="json")
    assert created.status_code == 201
    assert created.json()["responsible_manager_name"] == "Nora Netz"


def test_likely_duplicate_is_409_until_confirmed(scout, organisation):
    client = api(scout)
    payload = _payload(name="Mueller Maschinenbau KG", email="kontakt@mueller-maschinenbau.de")
    response = client.post(URL, payload, format="json")
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "possible_duplicate"
    [candidate] = body["duplicates"]
    assert candidate["id"] == organisation.pk
    assert candidate["name"] == "Müller Maschinenbau GmbH"
    assert "same email or web domain" in candidate["reasons"]
    assert Organisation.objects.count() == 1

    confirmed = client.post(URL, {**payload, "confirm_not_duplicate": True}, format="json")
    assert confirmed.status_code == 201
    assert Organisation.objects.count() == 2


def test_renaming_into_a_likely_duplicate_is_409_until_confirmed(manager, organisation):
    other = Organisation.objects.create(name="Schulze Sensorik GmbH", employees=12)
    client = api(manager)
    unrelated = client.patch(detail(other.pk), {"employees": 13}, format="json")
    assert unrelated.status_code == 200

    response = client.patch(detail(other.pk), {"name": "Müller Maschinenbau AG"}, format="json")
    assert response.status_code == 409
    assert [c["id"] for c in response.json()["duplicates"]] == [organisation.pk]
    other.refresh_from_db()
    assert other.name == "Schulze Sensorik GmbH"

    confirmed = client.patch(
        detail(other.pk),
        {"name": "Müller Maschinenbau AG", "confirm_not_duplicate": True},
        format="json",
    )
    assert confirmed.status_code == 200
    other.refresh_from_db()
    assert other.name == "Müller Maschinenbau AG"


def test_saving_a_record_unchanged_does_not_find_itself(manager, organisation):
    response = api(manager).put(
        detail(organisation.pk),
        {"name": organisation.name, "email": organisation.email, "city": "Sickte"},
        format="json",
    )
    assert response.status_code == 200, response.content


def test_update_records_history_user_and_runs_model_validation(manager, organisation, topics):
    client = api(manager)
    response = client.patch(
        detail(organisation.pk),
        {"employees": 5, "needed_topics": [topics["energy"].pk]},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["size_class"] == "micro"
    assert response.json()["needed_topics"] == [topics["energy"].pk]
    organisation.refresh_from_db()
    assert organisation.size_class == "micro"
    assert organisation.history.latest().history_user == manager

    refused = client.patch(detail(organisation.pk), {"employees": 3_000_000}, format="json")
    assert refused.status_code == 400 and "employees" in refused.json()
    organisation.refresh_from_db()
    assert organisation.employees == 5


def test_update_does_not_touch_topics_left_out(manager, organisation, topics):
    organisation.offered_topics.add(topics["ai"])
    response = api(manager).patch(detail(organisation.pk), {"city": "Sickte"}, format="json")
    assert response.status_code == 200
    assert list(organisation.offered_topics.all()) == [topics["ai"]]


@pytest.mark.parametrize("persona", ["scout", "manager"])
def test_delete_needs_delete_permission(request, persona, organisation):
    response = api(request.getfixturevalue(persona)).delete(detail(organisation.pk))
    assert response.status_code == 403
    assert Organisation.objects.filter(pk=organisation.pk).exists()


def test_administration_deletes_with_history(administration, organisation):
    pk = organisation.pk
    response = api(administration).delete(detail(pk))
    assert response.status_code == 204
    assert not Organisation.objects.filter(pk=pk).exists()
    deleted = Organisation.history.filter(id=pk, history_type="-").get()
    assert deleted.history_user == administration


def test_topic_ids_are_only_topics(scout):
    assert not Topic.objects.exists()
    response = api(scout).post(URL, _payload(needed_topics=["x"]), format="json")
    assert response.status_code == 400
