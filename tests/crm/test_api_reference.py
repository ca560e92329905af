"""Regions (districts, municipalities) and topics: read by CRM roles, written by administration."""

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from crm.models import District, Municipality, Topic


@pytest.fixture(autouse=True)
def _fresh_throttles():
    cache.clear()


def api(user=None) -> APIClient:
    client = APIClient(headers={"Accept-Language": "en"})
    if user is not None:
        client.force_login(user)
    return client


@pytest.mark.parametrize("persona", ["scout", "manager", "administration"])
def test_reference_lists_work_for_crm_roles(request, persona, region, topics):
    client = api(request.getfixturevalue(persona))
    districts = client.get("/api/districts/")
    assert districts.status_code == 200 and districts.json()["count"] == 2
    municipalities = client.get("/api/municipalities/")
    assert municipalities.status_code == 200
    rows = {m["name"]: m for m in municipalities.json()["results"]}
    assert rows["Cremlingen"]["district_detail"]["name"] == "Wolfenbüttel"
    assert rows["Cremlingen"]["latitude"] == "52.24890"
    assert client.get("/api/topics/").json()["count"] == 3


@pytest.mark.parametrize("persona", ["funder", "outsider"])
@pytest.mark.parametrize("url", ["/api/districts/", "/api/municipalities/", "/api/topics/"])
def test_no_crm_role_gets_403(request, persona, url, region, topics):
    client = api(request.getfixturevalue(persona))
    assert client.get(url).status_code == 403
    assert client.post(url, {"name": "x"}, format="json").status_code == 403


def test_anonymous_is_refused(topics):
    assert api().get("/api/topics/").status_code in (401, 403)


def test_filters(scout, region, topics):
    client = api(scout)

    def names(url, params):
        response = client.get(url, params)
        assert response.status_code == 200, response.content
        return [row["name"] for row in response.json()["results"]]

    assert names("/api/municipalities/", {"district": region["district"].pk}) == ["Cremlingen"]
    assert names("/api/municipalities/", {"area_type": "urban"}) == ["Braunschweig"]
    assert names("/api/municipalities/", {"o": "-population"}) == ["Braunschweig", "Cremlingen"]
    assert names("/api/districts/", {"kind": "kreisfreie_stadt"}) == ["Braunschweig"]
    assert names("/api/topics/", {"parent": topics["digital"].pk}) == ["Künstliche Intelligenz"]
    assert "Künstliche Intelligenz" not in names("/api/topics/", {"top_level": "true"})
    assert client.get("/api/municipalities/", {"area_type": "suburban"}).status_code == 400
    assert client.get("/api/topics/", {"parent": "\x00"}).status_code == 400


def test_municipality_list_query_count_is_constant(scout, region):
    client = api(scout)

    def add(count: int) -> None:
        for _ in range(count):
            n = Municipality.objects.count()
            Municipality.objects.create(
                ags=f"0315{n:04d}",
                name=f"Gemeinde {n}",
                district=region["district"],
                latitude=52,
                longitude=10,
                area_type="rural",
            )

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get("/api/municipalities/", {"page_size": 100}).status_code == 200
        return len(ctx)

    add(3)
    few = queries()
    add(45)
    assert queries() == few


@pytest.mark.parametrize("persona", ["scout", "manager"])
def test_only_administration_writes(request, persona, topics):
    client = api(request.getfixturevalue(persona))
    response = client.post("/api/topics/", {"slug": "water", "name": "Wasser"}, format="json")
    assert response.status_code == 403
    patch = client.patch(f"/api/topics/{topics['energy'].pk}/", {"name": "X"}, format="json")
    assert patch.status_code == 403
    assert not Topic.objects.filter(slug="water").exists()


def test_administration_writes_topics_with_history(administration, topics):
    client = api(administration)
    response = client.post(
        "/api/topics/",
        {"slug": "energy-h2", "name": "Wasserstoff", "parent": topics["energy"].pk},
        format="json",
    )
    assert response.status_code == 201, response.content
    topic = Topic.objects.get(slug="energy-h2")
    assert topic.history.get().history_user == administration

    renamed = client.patch(f"/api/topics/{topic.pk}/", {"name_en": "Hydrogen"}, format="json")
    assert renamed.status_code == 200
    assert topic.history.latest().history_user == administration


@pytest.mark.parametrize(
    ("payload", "field", "message"),
    [
        ({"slug": "digital"}, "slug", "already exists"),
        ({"slug": "kein slug"}, "slug", "Enter a valid"),
        ({"parent": "ai"}, "parent", "Topics can only be nested two levels deep."),
        ({"position": -1}, "position", "greater than or equal to 0"),
    ],
)
def test_topic_bad_input_is_refused(administration, topics, payload, field, message):
    data = {"slug": "new-topic", "name": "Neu", **payload}
    if "parent" in data:
        data["parent"] = topics[data["parent"]].pk
    response = api(administration).post("/api/topics/", data, format="json")
    assert response.status_code == 400
    assert message in " ".join(response.json()[field])
    assert Topic.objects.count() == 3


def test_topic_cannot_be_its_own_parent(administration, topics):
    energy = topics["energy"]
    response = api(administration).patch(
        f"/api/topics/{energy.pk}/", {"parent": energy.pk}, format="json"
    )
    assert response.status_code == 400
    assert "parent" in response.json()
    energy.refresh_from_db()
    assert energy.parent is None


def test_administration_writes_regions_with_history(administration, region):
    client = api(administration)
    district = client.post(
        "/api/districts/",
        {"key": "03151", "name": "Gifhorn", "kind": "landkreis"},
        format="json",
    )
    assert district.status_code == 201, district.content
    municipality = client.post(
        "/api/municipalities/",
        {
            "ags": "03151009",
            "name": "Gifhorn",
            "district": district.json()["id"],
            "latitude": "52.47774",
            "longitude": "10.55110",
            "area_type": "urban",
        },
        format="json",
    )
    assert municipality.status_code == 201, municipality.content
    assert municipality.json()["district_detail"]["key"] == "03151"
    assert District.objects.get(key="03151").history.get().history_user == administration
    assert Municipality.objects.get(ags="03151009").history.get().history_user == administration

    duplicate = client.post(
        "/api/districts/", {"key": "03151", "name": "X", "kind": "landkreis"}, format="json"
    )
    assert duplicate.status_code == 400 and "key" in duplicate.json()
    bad = client.post(
        "/api/municipalities/",
        {"ags": "1", "name": "X", "district": 999999, "latitude": "1000", "longitude": "0"},
        format="json",
    )
    assert bad.status_code == 400
    assert {"district", "latitude", "area_type"} <= set(bad.json())


def test_regions_and_topics_are_not_deleted_through_the_api(administration, region, topics):
    client = api(administration)
    assert client.delete(f"/api/topics/{topics['energy'].pk}/").status_code in (403, 405)
    assert client.delete(f"/api/districts/{region['district'].pk}/").status_code in (403, 405)
    assert Topic.objects.count() == 3 and District.objects.count() == 2


def test_not_found_is_german(client_as, manager):
    response = client_as(manager).get("/api/organisations/999999/", HTTP_ACCEPT_LANGUAGE="de")
    assert response.status_code == 404
    assert "matches the given query" not in response.json()["detail"]
