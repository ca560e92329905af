"""REST API for transfer requests: who sees them, filters, creating (also from a visit),
moving through the stages (409 when moved meanwhile), stage history, suggestions, and
the read-only stages."""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from drf_spectacular.validation import validate_schema
from rest_framework.test import APIClient

from crm.models import Organisation, Person
from crm.roles import Role
from pipeline.models import Match, Outcome, StageChange, TransferRequest
from pipeline.services import (
    advance_request,
    create_request,
    create_request_from_visit,
    propose_match,
    set_match_status,
)
from scouting.services import record_visit
from tests.personas import make_user
from tests.pipeline.conftest import research_partner

URL = "/api/transfer-requests/"
FROM_VISIT = f"{URL}from-visit/"

pytestmark = pytest.mark.django_db


def api(user=None) -> APIClient:
    client = APIClient(headers={"Accept-Language": "en"})
    if user is not None:
        client.force_login(user)
    return client


def detail(pk: int) -> str:
    return f"{URL}{pk}/"


def advance_url(pk: int) -> str:
    return f"{URL}{pk}/advance/"


def new_request(organisation, by, **fields):
    fields.setdefault("title", "Prüfstand gesucht")
    fields.setdefault("kind", TransferRequest.Kind.TESTING)
    fields.setdefault("source", TransferRequest.Source.EMAIL)
    return create_request(organisation=organisation, by=by, **fields)


def make_visit(organisation, by, **fields):
    visit, _created = record_visit(uuid=uuid.uuid4(), organisation=organisation, by=by, **fields)
    return visit


@pytest.fixture
def requests_(transfer_request, organisation, scout, manager):
    """``public`` (the scout's, by phone), ``secret`` (from the scout's confidential
    visit), ``other`` (the manager's, by email)."""
    secret_visit = make_visit(organisation, scout, is_confidential=True, needs=["funding"])
    return {
        "public": transfer_request,
        "secret": create_request_from_visit(secret_visit, by=scout),
        "other": new_request(organisation, manager, title="Abschlussarbeit"),
    }


# --- Reading -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("persona", "visible"),
    [
        ("scout", {"public", "secret", "other"}),
        ("scout2", {"public", "other"}),
        ("manager", {"public", "secret", "other"}),
        ("administration", {"public", "other"}),
    ],
)
def test_list_and_detail_show_what_the_persona_may_see(request, persona, visible, requests_):
    client = api(request.getfixturevalue(persona))
    response = client.get(URL)
    assert response.status_code == 200
    expected = {requests_[name].pk for name in visible}
    assert {row["id"] for row in response.json()["results"]} == expected
    for name, transfer_request in requests_.items():
        pk = transfer_request.pk
        for url in (detail(pk), f"{detail(pk)}stage-changes/", f"{detail(pk)}suggestions/"):
            assert client.get(url).status_code == (200 if name in visible else 404), (name, url)


@pytest.mark.parametrize("persona", ["funder", "outsider"])
def test_no_pipeline_role_gets_403(request, persona, requests_, organisation, stages):
    client = api(request.getfixturevalue(persona))
    pk = requests_["public"].pk
    for url in (URL, detail(pk), f"{detail(pk)}stage-changes/", "/api/stages/"):
        assert client.get(url).status_code == 403, url
    payload = {"title": "x", "organisation": organisation.pk, "kind": "joint_rd"}
    assert client.post(URL, payload | {"source": "phone"}, format="json").status_code == 403
    move = {"to": stages["qualifiziert"].pk}
    assert client.post(advance_url(pk), move, format="json").status_code == 403
    assert TransferRequest.objects.count() == 3
    assert StageChange.objects.count() == 3


def test_anonymous_gets_401(requests_, stages):
    assert api().get(URL).status_code == 401
    assert api().get("/api/stages/").status_code == 401
    pk = requests_["public"].pk
    response = api().post(advance_url(pk), {"to": stages["qualifiziert"].pk}, format="json")
    assert response.status_code == 401
    assert TransferRequest.objects.get(pk=pk).stage == stages["eingang"]


def test_detail_shows_stage_time_in_stages_and_names(
    manager, transfer_request, person, topics, stages
):
    earlier = timezone.now() - datetime.timedelta(days=3)
    transfer_request.stage_changes.update(changed_at=earlier)
    TransferRequest.objects.filter(pk=transfer_request.pk).update(stage_entered_at=earlier)
    advance_request(transfer_request, to=stages["qualifiziert"], by=manager)

    row = api(manager).get(detail(transfer_request.pk)).json()
    assert row["title"] == "KI für die Qualitätsprüfung"
    assert row["organisation_name"] == "Müller Maschinenbau GmbH"
    assert row["contact_person"] == person.pk
    assert row["contact_person_name"] == person.full_name
    assert row["responsible_manager"] == manager.pk
    assert row["responsible_manager_name"] == "Nora Netz"
    assert row["created_by_name"] == "Sina Scout"
    assert row["topics"] == [topics["ai"].pk]
    assert row["visit"] is None
    assert row["stage"]["key"] == "qualifiziert"
    assert row["stage"]["requirement_labels"] == ["a responsible network manager"]
    assert row["days_in_stage"] == 0 and row["is_stale"] is False
    spans = row["time_in_stages"]
    assert [s["stage_name"] for s in spans] == ["Eingang", "Qualifiziert"]
    assert spans[0]["days"] == 3
    assert 3 * 86400 - 60 < spans[0]["seconds"] <= 3 * 86400 + 60
    assert "note" not in row


def test_filters(manager, organisation, scout, topics, region, stages, requests_):
    public, other = requests_["public"], requests_["other"]
    other.topics.set([topics["energy"]])
    advance_request(public, to=stages["qualifiziert"], by=manager)
    # ``other`` is three weeks in "Eingang" (limit 14 days) and from last year.
    long_ago = timezone.now() - datetime.timedelta(days=21)
    TransferRequest.objects.filter(pk=other.pk).update(
        stage_entered_at=long_ago, created_at=timezone.now() - datetime.timedelta(days=400)
    )
    closed = new_request(organisation, scout, title="Erledigt")
    advance_request(closed, to=stages["ohne-ergebnis"], by=manager, closing_reason="Kein Bedarf")
    town = Organisation.objects.create(name="Stadtwerke", municipality=region["urban"])
    in_town = new_request(town, scout, title="Städtisch", source="event")
    client = api(manager)

    def titles(params):
        response = client.get(URL, params)
        assert response.status_code == 200, response.content
        return {row["title"] for row in response.json()["results"]}

    everything = {public.title, requests_["secret"].title, other.title, "Erledigt", "Städtisch"}
    assert titles({}) == everything
    assert titles({"stage": stages["qualifiziert"].pk}) == {public.title}
    assert titles({"manager": manager.pk}) == {public.title}
    assert titles({"manager": "me"}) == {public.title}
    assert titles({"topic": topics["ai"].pk}) == {public.title}
    # A parent topic includes its children.
    assert titles({"topic": topics["digital"].pk}) == {public.title}
    assert titles({"district": region["city_district"].pk}) == {"Städtisch"}
    assert titles({"rural": "false"}) == {"Städtisch"}
    assert titles({"rural": "true"}) == everything - {"Städtisch"}
    assert titles({"kind": "joint_rd"}) == {public.title}
    assert titles({"source": "event"}) == {"Städtisch"}
    assert titles({"source": "visit"}) == {requests_["secret"].title}
    assert titles({"organisation": town.pk}) == {"Städtisch"}
    a_month_ago = str(timezone.localdate() - datetime.timedelta(days=30))
    assert titles({"created_before": a_month_ago}) == {other.title}
    assert titles({"created_after": a_month_ago}) == everything - {other.title}
    assert titles({"open": "false"}) == {"Erledigt"}
    assert titles({"open": "true"}) == everything - {"Erledigt"}
    assert titles({"stale": "true"}) == {other.title}
    assert titles({"stale": "false"}) == everything - {other.title}
    assert in_town.pk in {row["id"] for row in client.get(URL, {"o": "title"}).json()["results"]}
    ordered = [row["title"] for row in client.get(URL, {"o": "title"}).json()["results"]]
    assert ordered == sorted(ordered)


@pytest.mark.parametrize(
    "params",
    [
        {"manager": "someone"},
        {"manager": str(10**30)},
        {"stage": "eingang"},
        {"stage": str(10**30)},
        {"kind": "anything"},
        {"created_after": "gestern"},
        {"o": "description"},
        {"title\x00": "x"},
    ],
)
def test_bad_filters_are_400(manager, requests_, params):
    response = api(manager).get(URL, params)
    assert response.status_code == 400


def test_extreme_dates_do_not_crash(manager, requests_):
    client = api(manager)
    assert client.get(URL, {"created_after": "0001-01-01"}).json()["count"] == 3
    assert client.get(URL, {"created_before": "9999-12-31"}).json()["count"] == 3


def _add(count, organisation, scout, person, topics, manager):
    for i in range(count):
        new_request(
            organisation,
            scout,
            title=f"R{i}",
            contact_person=person,
            responsible_manager=manager,
            topics=[topics["ai"], topics["energy"]],
        )


def _list_queries(client) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(URL, {"page_size": 100})
        assert response.status_code == 200
    return len(ctx)


@pytest.mark.parametrize("persona", ["scout", "manager"])
def test_list_query_count_is_constant(request, persona, organisation, person, topics, scout):
    manager = request.getfixturevalue("manager")
    client = api(request.getfixturevalue(persona))
    _add(5, organisation, scout, person, topics, manager)
    few = _list_queries(client)
    _add(45, organisation, scout, person, topics, manager)
    many = _list_queries(client)
    assert client.get(URL, {"page_size": 100}).json()["count"] == 50
    assert few == many


# --- Creating ------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["scout", "manager"])
def test_scouts_and_managers_create_requests(
    request, persona, organisation, person, topics, stages, manager
):
    user = request.getfixturevalue(persona)
    response = api(user).post(
        URL,
        {
            "organisation": organisation.pk,
            "contact_person": person.pk,
            "title": "  Sensorik für Prüfstände ",
            "description": "Messdaten automatisch auswerten.",
            "topics": [topics["ai"].pk],
            "kind": "testing",
            "source": "event",
            "responsible_manager": manager.pk,
            "priority": "high",
            "expected_volume": "12500.00",
            "note": "Auf der Messe angesprochen.",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    created = TransferRequest.objects.get(pk=body["id"])
    assert created.title == body["title"] == "Sensorik für Prüfstände"
    assert created.created_by == user
    assert created.stage == stages["eingang"]
    assert created.expected_volume == Decimal("12500.00")
    assert body["stage"]["key"] == "eingang"
    assert [s["stage_name"] for s in body["time_in_stages"]] == ["Eingang"]
    change = created.stage_changes.get()
    assert (change.changed_by, change.note) == (user, "Auf der Messe angesprochen.")
    assert {row.history_user for row in created.history.all()} == {user}


def test_the_organisations_manager_is_responsible_by_default(organisation, scout, manager):
    organisation.responsible_manager = manager
    organisation.save()
    payload = {"organisation": organisation.pk, "title": "X", "kind": "space", "source": "web_form"}
    response = api(scout).post(URL, payload, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["responsible_manager"] == manager.pk


def test_administration_may_not_create(administration, organisation):
    payload = {"organisation": organisation.pk, "title": "X", "kind": "space", "source": "phone"}
    response = api(administration).post(URL, payload, format="json")
    assert response.status_code == 403
    assert response.json()["detail"] == "You may not create transfer requests."
    assert not TransferRequest.objects.exists()


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"title": ""}, "title", "This field may not be blank."),
        ({"kind": "lecture"}, "kind", "is not a valid choice"),
        ({"expected_volume": "-5"}, "expected_volume", "greater than or equal to 0"),
        ({"organisation": 10**6}, "organisation", "does not exist"),
        ({"contact_person": "elsewhere"}, "contact_person", "does not work at"),
        ({"responsible_manager": "scout"}, "responsible_manager", "Invalid pk"),
        ({"title": "A\x00B"}, "title", "Null characters are not allowed."),
    ],
)
def test_bad_input_is_refused_and_nothing_is_stored(
    organisation, scout, manager, overrides, field, message
):
    stranger = Organisation.objects.create(name="Andere GmbH")
    elsewhere = Person.objects.create(first_name="Erik", last_name="Extern")
    elsewhere.affiliations.create(organisation=stranger)
    payload = {"organisation": organisation.pk, "title": "X", "kind": "space", "source": "phone"}
    replacements = {"elsewhere": elsewhere.pk, "scout": scout.pk}
    payload |= {k: replacements.get(v, v) for k, v in overrides.items()}
    response = api(scout).post(URL, payload, format="json")
    assert response.status_code == 400, response.content
    assert message in str(response.json()[field])
    assert not TransferRequest.objects.exists()
    assert not StageChange.objects.exists()


def test_no_put_or_delete(manager, transfer_request):
    client = api(manager)
    url = detail(transfer_request.pk)
    assert client.put(url, {"title": "Neu"}, format="json").status_code == 405
    # Nobody has the permission to delete requests.
    assert client.delete(url).status_code == 403
    transfer_request.refresh_from_db()
    assert transfer_request.title == "KI für die Qualitätsprüfung"


# --- Changing a request's own fields -------------------------------------------------


@pytest.fixture
def colleague(organisation):
    """A second person at the requesting organisation."""
    colleague = Person.objects.create(first_name="Bernd", last_name="Becker")
    colleague.affiliations.create(organisation=organisation, function="Entwicklung")
    return colleague


def test_a_manager_changes_the_requests_own_fields(
    manager, transfer_request, colleague, topics, stages
):
    second = make_user("manager2", Role.NETWORK_MANAGER, first_name="Nils", last_name="Neu")
    response = api(manager).patch(
        detail(transfer_request.pk),
        {
            "title": "  KI-Prüfstand ",
            "description": "Genauer beschrieben.",
            "topics": [topics["energy"].pk, topics["digital"].pk],
            "kind": "contract_research",
            "contact_person": colleague.pk,
            "responsible_manager": second.pk,
            "priority": "high",
            "expected_volume": "40000.00",
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["title"] == "KI-Prüfstand"
    assert sorted(body["topics"]) == sorted([topics["energy"].pk, topics["digital"].pk])
    assert body["contact_person_name"] == "Bernd Becker"
    assert body["responsible_manager_name"] == "Nils Neu"
    assert body["stage"]["key"] == "eingang" and body["time_in_stages"]
    transfer_request.refresh_from_db()
    assert (transfer_request.kind, transfer_request.priority) == ("contract_research", "high")
    assert transfer_request.expected_volume == Decimal("40000.00")
    assert transfer_request.contact_person == colleague
    assert transfer_request.responsible_manager == second
    assert transfer_request.stage == stages["eingang"]
    assert transfer_request.stage_changes.count() == 1
    latest = transfer_request.history.first()
    assert latest.history_user == manager and latest.title == "KI-Prüfstand"
    # The topics are part of the history, under the same user.
    assert set(latest.topics.values_list("topic_id", flat=True)) == {
        topics["energy"].pk,
        topics["digital"].pk,
    }


def test_only_the_fields_sent_change(manager, transfer_request, person, topics):
    response = api(manager).patch(detail(transfer_request.pk), {"priority": "low"}, format="json")
    assert response.status_code == 200, response.content
    transfer_request.refresh_from_db()
    assert transfer_request.priority == "low"
    assert transfer_request.title == "KI für die Qualitätsprüfung"
    assert transfer_request.contact_person == person
    assert list(transfer_request.topics.all()) == [topics["ai"]]


def test_contact_and_volume_can_be_cleared_and_an_empty_change_writes_nothing(
    manager, transfer_request
):
    client = api(manager)
    url = detail(transfer_request.pk)
    cleared = client.patch(url, {"contact_person": None, "expected_volume": None}, format="json")
    assert cleared.status_code == 200, cleared.content
    assert cleared.json()["contact_person"] is None
    rows = transfer_request.history.count()
    assert client.patch(url, {}, format="json").status_code == 200
    assert transfer_request.history.count() == rows


def test_the_stage_is_refused_with_the_way_to_move(manager, transfer_request, stages):
    url = detail(transfer_request.pk)
    response = api(manager).patch(
        url, {"stage": stages["qualifiziert"].pk, "title": "Neu"}, format="json"
    )
    assert response.status_code == 400, response.content
    message = response.json()["stage"][0]
    assert "cannot be changed here" in message and advance_url(transfer_request.pk) in message
    german = APIClient(headers={"Accept-Language": "de"})
    german.force_login(manager)
    again = german.patch(url, {"stage": {"key": "qualifiziert"}}, format="json")
    assert again.status_code == 400 and advance_url(transfer_request.pk) in str(again.json())
    transfer_request.refresh_from_db()
    assert transfer_request.stage == stages["eingang"]
    assert transfer_request.title == "KI für die Qualitätsprüfung"


@pytest.mark.parametrize(
    ("field", "value"), [("organisation", 1), ("source", "email"), ("visit", None)]
)
def test_where_the_request_comes_from_stays(manager, transfer_request, field, value):
    response = api(manager).patch(
        detail(transfer_request.pk), {field: value, "title": "Neu"}, format="json"
    )
    assert response.status_code == 400, response.content
    assert "stays as created" in response.json()[field][0]
    transfer_request.refresh_from_db()
    assert transfer_request.title == "KI für die Qualitätsprüfung"
    assert transfer_request.source == "phone"


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"topics": [10**6]}, "topics", "does not exist"),
        ({"topics": "ai"}, "topics", "Expected a list"),
        ({"contact_person": "elsewhere"}, "contact_person", "does not work at"),
        ({"contact_person": 10**6}, "contact_person", "does not exist"),
        ({"expected_volume": "-5"}, "expected_volume", "greater than or equal to 0"),
        ({"expected_volume": "viel"}, "expected_volume", "A valid number is required."),
        ({"title": ""}, "title", "This field may not be blank."),
        ({"title": "A\x00B"}, "title", "Null characters are not allowed."),
        ({"kind": "lecture"}, "kind", "is not a valid choice"),
        ({"priority": "urgent"}, "priority", "is not a valid choice"),
        ({"responsible_manager": "scout"}, "responsible_manager", "Invalid pk"),
    ],
)
def test_bad_changes_are_refused_and_nothing_changes(
    manager, scout, transfer_request, person, topics, overrides, field, message
):
    stranger = Organisation.objects.create(name="Andere GmbH")
    elsewhere = Person.objects.create(first_name="Erik", last_name="Extern")
    elsewhere.affiliations.create(organisation=stranger)
    replacements = {"elsewhere": elsewhere.pk, "scout": scout.pk}
    payload = {"title": "Neu", "priority": "high"} | {
        k: replacements.get(v, v) if isinstance(v, str) else v for k, v in overrides.items()
    }
    rows = transfer_request.history.count()
    response = api(manager).patch(detail(transfer_request.pk), payload, format="json")
    assert response.status_code == 400, response.content
    assert message in str(response.json()[field])
    transfer_request.refresh_from_db()
    assert (transfer_request.title, transfer_request.priority) == (
        "KI für die Qualitätsprüfung",
        "normal",
    )
    assert transfer_request.contact_person == person
    assert list(transfer_request.topics.all()) == [topics["ai"]]
    assert transfer_request.history.count() == rows


@pytest.mark.parametrize(
    ("persona", "code"),
    [("scout", 403), ("administration", 403), ("funder", 403), ("outsider", 403), (None, 401)],
)
def test_only_managers_change_requests(request, persona, code, transfer_request):
    user = request.getfixturevalue(persona) if persona else None
    response = api(user).patch(detail(transfer_request.pk), {"title": "Neu"}, format="json")
    assert response.status_code == code
    if persona in ("scout", "administration"):
        assert response.json()["detail"] == "Only network managers may change transfer requests."
    transfer_request.refresh_from_db()
    assert transfer_request.title == "KI für die Qualitätsprüfung"


def test_changing_a_missing_request_is_404(manager):
    response = api(manager).patch(detail(10**6), {"title": "Neu"}, format="json")
    assert response.status_code == 404


# --- From a visit --------------------------------------------------------------------


def test_create_from_a_visit_carries_it_over(organisation, person, topics, scout):
    visit = make_visit(
        organisation,
        scout,
        people_met=[person],
        topics=[topics["ai"]],
        needs=["technology_rd"],
        summary="Bilderkennung für Frästeile.",
    )
    response = api(scout).post(
        FROM_VISIT, {"visit": str(visit.uuid), "priority": "high"}, format="json"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["visit"] == str(visit.uuid)
    assert body["source"] == "visit"
    assert body["organisation"] == organisation.pk
    assert body["contact_person"] == person.pk
    assert body["topics"] == [topics["ai"].pk]
    assert body["kind"] == "joint_rd"
    assert body["priority"] == "high"
    assert "Bilderkennung für Frästeile." in body["description"]
    assert TransferRequest.objects.get(pk=body["id"]).visit == visit


def test_create_from_a_visit_takes_a_title_and_kind(organisation, scout):
    visit = make_visit(organisation, scout)
    payload = {"visit": str(visit.uuid), "title": "Eigener Titel", "kind": "recruiting"}
    body = api(scout).post(FROM_VISIT, payload, format="json").json()
    assert (body["title"], body["kind"]) == ("Eigener Titel", "recruiting")


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({}, "This field is required."),
        ({"visit": "not-a-uuid"}, "is not a valid UUID."),
        ({"visit": "secret"}, "does not exist"),
        ({"visit": str(uuid.uuid4())}, "does not exist"),
    ],
)
def test_from_visit_refuses_bad_or_invisible_visits(organisation, scout, scout2, payload, message):
    secret = make_visit(organisation, scout, is_confidential=True)
    if payload.get("visit") == "secret":
        payload = {"visit": str(secret.uuid)}
    response = api(scout2).post(FROM_VISIT, payload, format="json")
    assert response.status_code == 400, response.content
    assert message in str(response.json()["visit"])
    assert not TransferRequest.objects.exists()


def test_administration_may_not_create_from_a_visit(administration, organisation, scout):
    visit = make_visit(organisation, scout)
    response = api(administration).post(FROM_VISIT, {"visit": str(visit.uuid)}, format="json")
    assert response.status_code == 403
    assert response.json()["detail"] == "You may not create transfer requests."
    assert not TransferRequest.objects.exists()


# --- Moving --------------------------------------------------------------------------


def test_a_manager_moves_a_request(manager, transfer_request, stages):
    response = api(manager).post(
        advance_url(transfer_request.pk),
        {
            "to": stages["qualifiziert"].pk,
            "expected_stage": stages["eingang"].pk,
            "note": " Bedarf geklärt. ",
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["stage"]["key"] == "qualifiziert"
    transfer_request.refresh_from_db()
    assert transfer_request.stage == stages["qualifiziert"]
    change = transfer_request.stage_changes.last()
    assert (change.from_stage, change.to_stage, change.changed_by, change.note) == (
        stages["eingang"],
        stages["qualifiziert"],
        manager,
        "Bedarf geklärt.",
    )


def test_a_move_made_meanwhile_is_409_with_the_current_stage(manager, transfer_request, stages):
    advance_request(transfer_request, to=stages["partnersuche"], by=manager)
    response = api(manager).post(
        advance_url(transfer_request.pk),
        {"to": stages["qualifiziert"].pk, "expected_stage": stages["eingang"].pk},
        format="json",
    )
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "stage_changed"
    assert body["current_stage"]["key"] == "partnersuche"
    assert "“Eingang” to “Partnersuche”" in body["detail"]
    transfer_request.refresh_from_db()
    assert transfer_request.stage == stages["partnersuche"]
    assert transfer_request.stage_changes.count() == 2


def test_the_required_fields_come_with_the_move(manager, transfer_request, stages):
    client = api(manager)
    refused = client.post(
        advance_url(transfer_request.pk), {"to": stages["ohne-ergebnis"].pk}, format="json"
    )
    assert refused.status_code == 400
    assert refused.json()["non_field_errors"] == [
        "To move the request to “Ohne Ergebnis” it needs a closing reason."
    ]
    transfer_request.refresh_from_db()
    assert transfer_request.stage == stages["eingang"]

    moved = client.post(
        advance_url(transfer_request.pk),
        {"to": stages["ohne-ergebnis"].pk, "closing_reason": "Budget gestrichen"},
        format="json",
    )
    assert moved.status_code == 200, moved.content
    assert moved.json()["closing_reason"] == "Budget gestrichen"


def test_an_outcome_comes_with_the_move_to_won(manager, transfer_request, university, stages):
    response = api(manager).post(
        advance_url(transfer_request.pk),
        {
            "to": stages["erfolgreich"].pk,
            "outcome": {
                "kind": "funding_application",
                "funding_programme": "ZIM",
                "partner": university.pk,
                "note": "Antrag gestellt",
            },
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    outcome = Outcome.objects.get(request=transfer_request)
    assert (outcome.kind, outcome.funding_programme, outcome.partner) == (
        "funding_application",
        "ZIM",
        university,
    )
    assert outcome.created_by == manager


@pytest.mark.parametrize(
    ("payload", "errors"),
    [
        (
            {"outcome": {"kind": "funding_application"}},
            {"outcome": {"funding_programme": ["Name the funding programme applied to."]}},
        ),
        (
            {"outcome": {"kind": "hire", "partner": "own"}},
            {"outcome": {"partner": ["The requesting organisation cannot be its own partner."]}},
        ),
        ({"outcome": {"kind": "party"}}, {"outcome": {"kind": ['"party" is not a valid choice.']}}),
        (
            {},
            {
                "non_field_errors": [
                    "To move the request to “Erfolgreich abgeschlossen” it needs an outcome."
                ]
            },
        ),
    ],
)
def test_a_bad_move_to_won_changes_nothing(manager, transfer_request, stages, payload, errors):
    if payload.get("outcome", {}).get("partner") == "own":
        payload["outcome"]["partner"] = transfer_request.organisation_id
    response = api(manager).post(
        advance_url(transfer_request.pk), {"to": stages["erfolgreich"].pk} | payload, format="json"
    )
    assert response.status_code == 400, response.content
    assert response.json() == errors
    transfer_request.refresh_from_db()
    assert transfer_request.stage == stages["eingang"]
    assert not Outcome.objects.exists()
    assert transfer_request.stage_changes.count() == 1


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (lambda s, u: {}, "to"),
        (lambda s, u: {"to": 10**6}, "to"),
        (lambda s, u: {"to": "eingang"}, "to"),
        (lambda s, u: {"to": s["eingang"].pk, "expected_stage": "x"}, "expected_stage"),
        (lambda s, u: {"to": s["qualifiziert"].pk, "expected_volume": "-1"}, "expected_volume"),
        (
            lambda s, u: {"to": s["qualifiziert"].pk, "responsible_manager": u.pk},
            "responsible_manager",
        ),
        (lambda s, u: {"to": s["qualifiziert"].pk, "outcome": "ZIM"}, "outcome"),
        # Already there.
        (lambda s, u: {"to": s["eingang"].pk}, "non_field_errors"),
    ],
)
def test_bad_moves_are_400(manager, scout, transfer_request, stages, payload, field):
    response = api(manager).post(
        advance_url(transfer_request.pk), payload(stages, scout), format="json"
    )
    assert response.status_code == 400, response.content
    assert field in response.json()
    transfer_request.refresh_from_db()
    assert transfer_request.stage == stages["eingang"]
    assert transfer_request.stage_changes.count() == 1


@pytest.mark.parametrize("persona", ["scout", "administration"])
def test_only_managers_move_requests(request, persona, transfer_request, stages):
    client = api(request.getfixturevalue(persona))
    response = client.post(
        advance_url(transfer_request.pk), {"to": stages["qualifiziert"].pk}, format="json"
    )
    assert response.status_code == 403
    assert response.json()["detail"] == "Only network managers may move transfer requests."
    transfer_request.refresh_from_db()
    assert transfer_request.stage == stages["eingang"]
    assert transfer_request.stage_changes.count() == 1


def test_moving_a_missing_request_is_404(manager, stages):
    response = api(manager).post(advance_url(10**6), {"to": stages["eingang"].pk}, format="json")
    assert response.status_code == 404


# --- Stage history and suggestions ---------------------------------------------------


def test_stage_changes_are_listed_oldest_first(manager, scout, transfer_request, stages):
    advance_request(transfer_request, to=stages["qualifiziert"], by=manager, note="geklärt")
    response = api(scout).get(f"{detail(transfer_request.pk)}stage-changes/")
    assert response.status_code == 200
    rows = response.json()
    assert [(r["from_stage_name"], r["to_stage_name"]) for r in rows] == [
        ("", "Eingang"),
        ("Eingang", "Qualifiziert"),
    ]
    assert [r["changed_by_name"] for r in rows] == ["Sina Scout", "Nora Netz"]
    assert rows[1]["note"] == "geklärt"
    assert rows[0]["from_stage"] is None


def test_stage_changes_cannot_be_written_here(manager, transfer_request, stages):
    url = f"{detail(transfer_request.pk)}stage-changes/"
    response = api(manager).post(url, {"to_stage": stages["qualifiziert"].pk}, format="json")
    assert response.status_code == 405
    assert transfer_request.stage_changes.count() == 1


def test_suggestions_are_ranked_with_their_reasons(
    manager, transfer_request, topics, region, far_town, university
):
    far = research_partner("Universität Göttingen", municipality=far_town, topics=[topics["ai"]])
    related = research_partner(
        "Hochschule Ostfalia", municipality=region["urban"], topics=[topics["digital"]]
    )
    proposed = research_partner("Fraunhofer", municipality=region["urban"], topics=[topics["ai"]])
    propose_match(transfer_request, partner=proposed, by=manager)
    response = api(manager).get(f"{detail(transfer_request.pk)}suggestions/")
    assert response.status_code == 200
    rows = response.json()
    assert [r["partner"] for r in rows] == [university.pk, far.pk, related.pk]
    best = rows[0]
    assert best["partner_name"] == "Technische Universität Braunschweig"
    assert best["shared_topics"] == [topics["ai"].pk]
    assert best["topic_score"] == 10.0
    assert best["score"] == pytest.approx(
        best["topic_score"] + best["distance_score"] + best["cooperation_score"]
    )
    assert best["distance_km"] == pytest.approx(8.8, abs=1)
    assert best["reason"].startswith("1 shared topic: Künstliche Intelligenz; 9 km away")
    assert rows[2]["related_topics"] == [topics["digital"].pk]
    limited = api(manager).get(f"{detail(transfer_request.pk)}suggestions/", {"limit": 1})
    assert [r["partner"] for r in limited.json()] == [university.pk]


@pytest.mark.parametrize("limit", ["0", "51", "viele"])
def test_a_bad_suggestion_limit_is_400(manager, transfer_request, limit):
    response = api(manager).get(f"{detail(transfer_request.pk)}suggestions/", {"limit": limit})
    assert response.status_code == 400
    assert "limit" in response.json()


def test_an_accepted_partner_counts_as_a_cooperation(
    manager, organisation, scout, transfer_request, university, topics
):
    earlier = new_request(organisation, scout, title="Früher", topics=[topics["ai"]])
    match = propose_match(earlier, partner=university, by=manager)
    set_match_status(match, status=Match.Status.ACCEPTED, by=manager)
    row = api(manager).get(f"{detail(transfer_request.pk)}suggestions/").json()[0]
    assert row["cooperations"] == 1
    assert row["cooperation_score"] == 1.5


# --- Stages --------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["scout", "manager", "administration"])
def test_stages_are_read_in_order(request, persona, stages):
    response = api(request.getfixturevalue(persona)).get("/api/stages/")
    assert response.status_code == 200
    rows = response.json()["results"]
    assert [r["key"] for r in rows][:3] == ["eingang", "qualifiziert", "partnersuche"]
    lost = next(r for r in rows if r["key"] == "ohne-ergebnis")
    assert (lost["kind"], lost["required_fields"]) == ("lost", ["closing_reason"])
    assert lost["requirement_labels"] == ["a closing reason"]
    open_ones = api(request.getfixturevalue(persona)).get("/api/stages/", {"kind": "won"})
    assert [r["key"] for r in open_ones.json()["results"]] == ["erfolgreich"]


def test_stages_are_read_only(administration, manager, stages):
    stage = stages["eingang"]
    assert (
        api(administration).post("/api/stages/", {"key": "neu"}, format="json").status_code == 405
    )
    response = api(administration).patch(f"/api/stages/{stage.pk}/", {"name": "X"}, format="json")
    assert response.status_code == 405
    assert api(manager).delete(f"/api/stages/{stage.pk}/").status_code == 403
    stage.refresh_from_db()
    assert stage.name == "Eingang"


# --- Schema --------------------------------------------------------------------------


def test_schema_documents_the_pipeline_api(manager):
    response = api(manager).get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    schema = response.json()
    validate_schema(schema)
    paths = schema["paths"]
    for path in (
        "/api/transfer-requests/",
        "/api/transfer-requests/{id}/",
        "/api/transfer-requests/{id}/advance/",
        "/api/transfer-requests/{id}/stage-changes/",
        "/api/transfer-requests/{id}/suggestions/",
        "/api/transfer-requests/from-visit/",
        "/api/stages/",
        "/api/stages/{id}/",
    ):
        assert path in paths, path
    advance = paths["/api/transfer-requests/{id}/advance/"]["post"]
    assert {"200", "409"} <= set(advance["responses"])
    body = schema["components"]["schemas"]["AdvanceRequest"]["properties"]
    assert {"to", "expected_stage", "note", "closing_reason", "outcome"} <= set(body)
    assert "409" in body["expected_stage"]["description"]
    request_methods = set(paths["/api/transfer-requests/{id}/"])
    assert "patch" in request_methods and not {"put", "delete"} & request_methods
    patch = paths["/api/transfer-requests/{id}/"]["patch"]
    assert "advance" in patch["description"] and "400" in patch["responses"]
    change = schema["components"]["schemas"]["PatchedTransferRequestChangeRequest"]
    assert "stage" not in change["properties"]
    assert {"title", "topics", "contact_person", "expected_volume"} <= set(change["properties"])
    list_params = {p["name"] for p in paths["/api/transfer-requests/"]["get"]["parameters"]}
    assert {
        "stage",
        "manager",
        "topic",
        "district",
        "rural",
        "kind",
        "source",
        "organisation",
        "created_after",
        "created_before",
        "open",
        "stale",
    } <= list_params
    changes = paths["/api/transfer-requests/{id}/stage-changes/"]["get"]["responses"]["200"]
    assert changes["content"]["application/json"]["schema"]["type"] == "array"


# --- Changes based on an old read (409) ----------------------------------------------


def test_a_change_with_the_updated_at_read_is_saved(manager, transfer_request):
    client = api(manager)
    read = client.get(detail(transfer_request.pk)).json()

    response = client.patch(
        detail(transfer_request.pk),
        {"title": "KI-Prüfstand", "updated_at": read["updated_at"]},
        format="json",
    )

    assert response.status_code == 200, response.content
    assert response.json()["title"] == "KI-Prüfstand"
    assert response.json()["updated_at"] != read["updated_at"]
    assert transfer_request.history.first().history_user == manager


def test_a_change_read_before_someone_elses_is_409_with_the_current_request(
    manager, transfer_request, stages
):
    client = api(manager)
    read = client.get(detail(transfer_request.pk)).json()
    colleague = make_user("manager2", Role.NETWORK_MANAGER)
    api(colleague).patch(detail(transfer_request.pk), {"priority": "high"}, format="json")
    rows = transfer_request.history.count()

    response = client.patch(
        detail(transfer_request.pk),
        {"title": "Mein Titel", "priority": "low", "updated_at": read["updated_at"]},
        format="json",
    )

    assert response.status_code == 409, response.content
    body = response.json()
    assert body["code"] == "request_changed"
    assert body["detail"] == (
        "This request was changed by someone else meanwhile; reload it and make your change again."
    )
    current = body["current"]
    assert (current["title"], current["priority"]) == ("KI für die Qualitätsprüfung", "high")
    assert current["updated_at"] != read["updated_at"] and current["time_in_stages"]
    transfer_request.refresh_from_db()
    assert (transfer_request.title, transfer_request.priority) == (
        "KI für die Qualitätsprüfung",
        "high",
    )
    assert transfer_request.history.count() == rows
    # A move counts as a change too; the updated_at answered with the 409 is current.
    advance_request(transfer_request, to=stages["qualifiziert"], by=manager)
    moved = client.patch(
        detail(transfer_request.pk),
        {"title": "Mein Titel", "updated_at": current["updated_at"]},
        format="json",
    )
    assert moved.status_code == 409
    again = client.patch(
        detail(transfer_request.pk),
        {"title": "Mein Titel", "updated_at": moved.json()["current"]["updated_at"]},
        format="json",
    )
    assert again.status_code == 200, again.content


@pytest.mark.parametrize("value", ["gestern", "", 17, None])
def test_a_bad_updated_at_is_refused(manager, transfer_request, value):
    response = api(manager).patch(
        detail(transfer_request.pk), {"title": "Neu", "updated_at": value}, format="json"
    )
    assert response.status_code == 400, response.content
    assert "updated_at" in response.json()
    transfer_request.refresh_from_db()
    assert transfer_request.title == "KI für die Qualitätsprüfung"


def test_updated_at_is_not_a_field_to_change(manager, transfer_request):
    stored = TransferRequest.objects.get(pk=transfer_request.pk).updated_at
    # Equal to the stored one, so it is only the check; the save sets a new one.
    response = api(manager).patch(
        detail(transfer_request.pk),
        {"priority": "low", "updated_at": stored.isoformat()},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert TransferRequest.objects.get(pk=transfer_request.pk).updated_at > stored


def test_schema_documents_the_409_of_a_stale_change(manager):
    schema = api(manager).get("/api/schema/", {"format": "json"}).json()
    validate_schema(schema)
    patch = schema["paths"]["/api/transfer-requests/{id}/"]["patch"]
    assert "409" in patch["responses"]
    change = schema["components"]["schemas"]["PatchedTransferRequestChangeRequest"]
    assert "409" in change["properties"]["updated_at"]["description"]
    assert "current" in schema["components"]["schemas"]["RequestConflict"]["properties"]
