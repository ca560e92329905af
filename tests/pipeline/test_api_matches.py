"""REST API for matches (research partners proposed for a request) and outcomes: who
sees them, proposing, recording the partner's answer, recording outcomes."""

from __future__ import annotations

import datetime
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from drf_spectacular.validation import validate_schema
from rest_framework.test import APIClient

from crm.models import Organisation, Person
from pipeline.models import Match, Outcome
from pipeline.services import (
    advance_request,
    create_request,
    create_request_from_visit,
    propose_match,
    record_outcome,
    set_match_status,
)
from scouting.services import record_visit
from tests.pipeline.conftest import research_partner

MATCHES = "/api/matches/"
OUTCOMES = "/api/outcomes/"

pytestmark = pytest.mark.django_db


def api(user=None) -> APIClient:
    client = APIClient(headers={"Accept-Language": "en"})
    if user is not None:
        client.force_login(user)
    return client


def status_url(pk: int) -> str:
    return f"{MATCHES}{pk}/status/"


@pytest.fixture
def secret_request(organisation, scout):
    """A request from the scout's confidential visit."""
    visit, _created = record_visit(
        uuid=uuid.uuid4(), organisation=organisation, by=scout, is_confidential=True
    )
    return create_request_from_visit(visit, by=scout)


@pytest.fixture
def institute(region, topics):
    return research_partner(
        "Fraunhofer-Institut",
        municipality=region["urban"],
        topics=[topics["ai"]],
        kind=Organisation.Kind.RESEARCH_INSTITUTE,
    )


@pytest.fixture
def researcher(institute):
    person = Person.objects.create(first_name="Rita", last_name="Forscher")
    person.affiliations.create(organisation=institute)
    return person


@pytest.fixture
def matches(transfer_request, secret_request, university, institute, manager):
    return {
        "public": propose_match(transfer_request, partner=university, by=manager),
        "secret": propose_match(secret_request, partner=institute, by=manager),
    }


@pytest.fixture
def outcomes(transfer_request, secret_request, university, manager):
    return {
        "public": record_outcome(transfer_request, kind="joint_rd", partner=university, by=manager),
        "secret": record_outcome(secret_request, kind="hire", by=manager),
    }


# --- Reading -------------------------------------------------------------------------


VISIBILITY = [
    ("scout", {"public", "secret"}),
    ("scout2", {"public"}),
    ("manager", {"public", "secret"}),
    ("administration", {"public"}),
]


@pytest.mark.parametrize(("persona", "visible"), VISIBILITY)
def test_matches_show_what_the_persona_may_see(request, persona, visible, matches):
    client = api(request.getfixturevalue(persona))
    response = client.get(MATCHES)
    assert response.status_code == 200
    assert {row["id"] for row in response.json()["results"]} == {
        matches[name].pk for name in visible
    }
    for name, match in matches.items():
        status = client.get(f"{MATCHES}{match.pk}/").status_code
        assert status == (200 if name in visible else 404), name


@pytest.mark.parametrize(("persona", "visible"), VISIBILITY)
def test_outcomes_show_what_the_persona_may_see(request, persona, visible, outcomes):
    client = api(request.getfixturevalue(persona))
    response = client.get(OUTCOMES)
    assert response.status_code == 200
    assert {row["id"] for row in response.json()["results"]} == {
        outcomes[name].pk for name in visible
    }
    for name, outcome in outcomes.items():
        status = client.get(f"{OUTCOMES}{outcome.pk}/").status_code
        assert status == (200 if name in visible else 404), name


@pytest.mark.parametrize("persona", ["funder", "outsider"])
def test_no_pipeline_role_gets_403(request, persona, matches, outcomes, transfer_request):
    client = api(request.getfixturevalue(persona))
    for url in (MATCHES, OUTCOMES, f"{MATCHES}{matches['public'].pk}/"):
        assert client.get(url).status_code == 403, url
    payload = {"request": transfer_request.pk, "partner": matches["public"].partner_id}
    assert client.post(MATCHES, payload, format="json").status_code == 403
    assert client.post(status_url(matches["public"].pk), {"status": "contacted"}).status_code == 403
    assert (
        client.post(OUTCOMES, {"request": transfer_request.pk, "kind": "hire"}).status_code == 403
    )
    assert Match.objects.filter(status=Match.Status.PROPOSED).count() == 2
    assert Outcome.objects.count() == 2


def test_anonymous_gets_401(matches):
    assert api().get(MATCHES).status_code == 401
    assert api().get(OUTCOMES).status_code == 401
    assert api().post(status_url(matches["public"].pk), {"status": "contacted"}).status_code == 401


def test_lists_are_filtered_by_request(
    manager, transfer_request, secret_request, matches, outcomes, university
):
    client = api(manager)
    rows = client.get(MATCHES, {"request": transfer_request.pk}).json()["results"]
    assert [r["id"] for r in rows] == [matches["public"].pk]
    assert rows[0]["partner_name"] == "Technische Universität Braunschweig"
    assert rows[0]["status"] == "proposed" and rows[0]["created_by_name"] == "Nora Netz"
    assert client.get(MATCHES, {"partner": university.pk}).json()["count"] == 1
    assert client.get(MATCHES, {"status": "accepted"}).json()["count"] == 0
    rows = client.get(OUTCOMES, {"request": secret_request.pk}).json()["results"]
    assert [(r["id"], r["kind"]) for r in rows] == [(outcomes["secret"].pk, "hire")]
    assert client.get(OUTCOMES, {"kind": "joint_rd"}).json()["count"] == 1


@pytest.mark.parametrize("url", [MATCHES, OUTCOMES])
@pytest.mark.parametrize(
    "params", [{"request": "eins"}, {"request": str(10**30)}, {"kind": "x", "status": "x"}]
)
def test_bad_filters_are_400(manager, url, params):
    assert api(manager).get(url, params).status_code == 400


def _add(count, organisation, scout, manager, partner):
    for i in range(count):
        transfer_request = create_request(
            organisation=organisation, by=scout, title=f"R{i}", kind="testing", source="phone"
        )
        propose_match(transfer_request, partner=partner, by=manager)
        record_outcome(transfer_request, kind="other", partner=partner, by=manager)


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, {"page_size": 100})
        assert response.status_code == 200
    return len(ctx)


@pytest.mark.parametrize("persona", ["scout", "manager"])
def test_list_query_counts_are_constant(request, persona, organisation, scout, manager, university):
    client = api(request.getfixturevalue(persona))
    _add(5, organisation, scout, manager, university)
    few = {url: _queries(client, url) for url in (MATCHES, OUTCOMES)}
    _add(45, organisation, scout, manager, university)
    many = {url: _queries(client, url) for url in (MATCHES, OUTCOMES)}
    assert client.get(MATCHES, {"page_size": 100}).json()["count"] == 50
    assert client.get(OUTCOMES, {"page_size": 100}).json()["count"] == 50
    assert few == many


# --- Proposing and answering ---------------------------------------------------------


def test_a_manager_proposes_a_partner(manager, transfer_request, institute, researcher):
    response = api(manager).post(
        MATCHES,
        {
            "request": transfer_request.pk,
            "partner": institute.pk,
            "person": researcher.pk,
            "note": " Kennt das Thema. ",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    match = Match.objects.get(pk=body["id"])
    assert (match.request, match.partner, match.person) == (transfer_request, institute, researcher)
    assert match.note == body["note"] == "Kennt das Thema."
    assert body["person_name"] == "Rita Forscher"
    assert body["status"] == "proposed"
    assert match.history.get().history_user == manager


@pytest.mark.parametrize("persona", ["scout", "administration"])
def test_only_managers_propose(request, persona, transfer_request, institute):
    response = api(request.getfixturevalue(persona)).post(
        MATCHES, {"request": transfer_request.pk, "partner": institute.pk}, format="json"
    )
    assert response.status_code == 403
    assert response.json()["detail"] == "Only network managers may manage matches and outcomes."
    assert not Match.objects.exists()


@pytest.mark.parametrize(
    ("payload", "field", "message"),
    [
        ({"partner": "own"}, "partner", "cannot be its own partner"),
        ({"partner": "university"}, "partner", "already been proposed"),
        ({"person": "stranger"}, "person", "does not work at"),
        ({"request": 10**6}, "request", "does not exist"),
        ({"partner": None}, "partner", "may not be null"),
        ({"note": "a\x00b"}, "note", "Null characters are not allowed."),
    ],
)
def test_bad_proposals_are_refused(
    manager, transfer_request, university, institute, matches, payload, field, message
):
    stranger = Person.objects.create(first_name="Sven", last_name="Fremd")
    names = {
        "own": transfer_request.organisation_id,
        "university": university.pk,
        "stranger": stranger.pk,
    }
    body = {"request": transfer_request.pk, "partner": institute.pk}
    body |= {k: names.get(v, v) if isinstance(v, str) else v for k, v in payload.items()}
    response = api(manager).post(MATCHES, body, format="json")
    assert response.status_code == 400, response.content
    assert message in str(response.json()[field])
    assert Match.objects.count() == 2


def test_no_partner_is_proposed_for_a_closed_request(manager, transfer_request, stages, institute):
    advance_request(transfer_request, to=stages["ohne-ergebnis"], by=manager, closing_reason="x")
    response = api(manager).post(
        MATCHES, {"request": transfer_request.pk, "partner": institute.pk}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["non_field_errors"] == [
        "This request is closed; reopen it to propose partners."
    ]
    assert not Match.objects.exists()


def test_a_manager_records_contact_and_decision(manager, matches):
    match = matches["public"]
    client = api(manager)
    contacted = client.post(status_url(match.pk), {"status": "contacted"}, format="json")
    assert contacted.status_code == 200, contacted.content
    assert contacted.json()["status"] == "contacted"
    assert contacted.json()["contacted_at"] is not None
    accepted = client.post(
        status_url(match.pk), {"status": "accepted", "note": "Zusage per Mail"}, format="json"
    )
    assert accepted.status_code == 200, accepted.content
    match.refresh_from_db()
    assert (match.status, match.note) == ("accepted", "Zusage per Mail")
    assert match.decided_at is not None
    assert accepted.json()["decided_at"] is not None
    assert match.history.first().history_user == manager


@pytest.mark.parametrize(
    ("first", "then", "field", "message"),
    [
        ("accepted", "contacted", "non_field_errors", "has already decided"),
        ("contacted", "contacted", "non_field_errors", "already “contacted”"),
        (None, "proposed", "status", "not a valid choice"),
        (None, "maybe", "status", "not a valid choice"),
    ],
)
def test_bad_status_changes_are_refused(manager, matches, first, then, field, message):
    match = matches["public"]
    if first:
        set_match_status(match, status=first, by=manager)
    before = Match.objects.get(pk=match.pk)
    response = api(manager).post(status_url(match.pk), {"status": then}, format="json")
    assert response.status_code == 400, response.content
    assert message in str(response.json()[field])
    after = Match.objects.get(pk=match.pk)
    assert (after.status, after.contacted_at, after.decided_at) == (
        before.status,
        before.contacted_at,
        before.decided_at,
    )


@pytest.mark.parametrize("persona", ["scout", "administration"])
def test_only_managers_change_the_status(request, persona, matches):
    match = matches["public"]
    response = api(request.getfixturevalue(persona)).post(
        status_url(match.pk), {"status": "accepted"}, format="json"
    )
    assert response.status_code == 403
    assert response.json()["detail"] == "Only network managers may manage matches and outcomes."
    match.refresh_from_db()
    assert match.status == "proposed"


def test_the_status_of_a_missing_match_is_404(manager):
    assert api(manager).post(status_url(10**6), {"status": "contacted"}).status_code == 404


def test_matches_are_not_edited_or_deleted_directly(manager, matches):
    url = f"{MATCHES}{matches['public'].pk}/"
    client = api(manager)
    assert client.patch(url, {"status": "accepted"}, format="json").status_code == 405
    assert client.delete(url).status_code == 405
    assert Match.objects.get(pk=matches["public"].pk).status == "proposed"


# --- Outcomes ------------------------------------------------------------------------


def test_a_manager_records_an_outcome(manager, transfer_request, university):
    response = api(manager).post(
        OUTCOMES,
        {
            "request": transfer_request.pk,
            "kind": "funding_application",
            "funding_programme": " ZIM ",
            "partner": university.pk,
            "date": "2026-03-02",
            "note": "Antrag eingereicht",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    outcome = Outcome.objects.get(pk=body["id"])
    assert (outcome.kind, outcome.funding_programme, outcome.partner) == (
        "funding_application",
        "ZIM",
        university,
    )
    assert outcome.date == datetime.date(2026, 3, 2)
    assert body["partner_name"] == "Technische Universität Braunschweig"
    assert outcome.created_by == manager
    assert outcome.history.get().history_user == manager


def test_the_date_defaults_to_today(manager, transfer_request):
    response = api(manager).post(
        OUTCOMES, {"request": transfer_request.pk, "kind": "hire"}, format="json"
    )
    assert response.status_code == 201, response.content
    assert response.json()["date"] == str(timezone.localdate())


@pytest.mark.parametrize("persona", ["scout", "administration"])
def test_only_managers_record_outcomes(request, persona, transfer_request):
    response = api(request.getfixturevalue(persona)).post(
        OUTCOMES, {"request": transfer_request.pk, "kind": "hire"}, format="json"
    )
    assert response.status_code == 403
    assert response.json()["detail"] == "Only network managers may manage matches and outcomes."
    assert not Outcome.objects.exists()


@pytest.mark.parametrize(
    ("payload", "field", "message"),
    [
        ({"kind": "funding_application"}, "funding_programme", "Name the funding programme"),
        ({"kind": "hire", "date": "future"}, "date", "cannot lie in the future"),
        ({"kind": "hire", "partner": "own"}, "partner", "cannot be its own partner"),
        ({"kind": "party"}, "kind", "not a valid choice"),
        ({"kind": "hire", "date": "gestern"}, "date", "wrong format"),
        ({"kind": "hire", "request": 10**6}, "request", "does not exist"),
    ],
)
def test_bad_outcomes_are_refused(manager, transfer_request, payload, field, message):
    names = {
        "own": transfer_request.organisation_id,
        "future": str(timezone.localdate() + datetime.timedelta(days=10)),
    }
    body = {"request": transfer_request.pk}
    body |= {k: names.get(v, v) if isinstance(v, str) else v for k, v in payload.items()}
    response = api(manager).post(OUTCOMES, body, format="json")
    assert response.status_code == 400, response.content
    assert message in str(response.json()[field])
    assert not Outcome.objects.exists()


def test_outcomes_are_not_edited_or_deleted(manager, outcomes):
    url = f"{OUTCOMES}{outcomes['public'].pk}/"
    client = api(manager)
    assert client.patch(url, {"kind": "hire"}, format="json").status_code == 405
    assert client.delete(url).status_code == 405
    assert Outcome.objects.get(pk=outcomes["public"].pk).kind == "joint_rd"


# --- Schema --------------------------------------------------------------------------


def test_schema_documents_matches_and_outcomes(manager):
    schema = api(manager).get("/api/schema/", {"format": "json"}).json()
    validate_schema(schema)
    paths = schema["paths"]
    for path in ("/api/matches/", "/api/matches/{id}/", "/api/matches/{id}/status/"):
        assert path in paths, path
    for path in ("/api/outcomes/", "/api/outcomes/{id}/"):
        assert path in paths, path
    assert {"request", "status", "partner"} <= {
        p["name"] for p in paths["/api/matches/"]["get"]["parameters"]
    }
    assert "request" in {p["name"] for p in paths["/api/outcomes/"]["get"]["parameters"]}


# --- Product or process innovation (RCR03) -------------------------------------------


def test_an_outcome_records_an_innovation(manager, transfer_request, university):
    client = api(manager)
    response = client.post(
        OUTCOMES,
        {
            "request": transfer_request.pk,
            "kind": "joint_rd",
            "partner": university.pk,
            "innovation_introduced": True,
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["innovation_introduced"] is True
    outcome = Outcome.objects.get(pk=response.json()["id"])
    assert outcome.innovation_introduced
    assert outcome.history.get().history_user == manager
    read = client.get(f"{OUTCOMES}{outcome.pk}/").json()
    assert read["innovation_introduced"] is True


def test_an_innovation_is_not_assumed(manager, transfer_request, outcomes):
    response = api(manager).post(
        OUTCOMES, {"request": transfer_request.pk, "kind": "joint_rd"}, format="json"
    )
    assert response.status_code == 201, response.content
    assert response.json()["innovation_introduced"] is False
    rows = api(manager).get(OUTCOMES).json()["results"]
    assert {r["innovation_introduced"] for r in rows} == {False}


@pytest.mark.parametrize("value", ["vielleicht", None, [True]])
def test_a_bad_innovation_flag_is_refused(manager, transfer_request, value):
    response = api(manager).post(
        OUTCOMES,
        {"request": transfer_request.pk, "kind": "joint_rd", "innovation_introduced": value},
        format="json",
    )
    assert response.status_code == 400, response.content
    assert "innovation_introduced" in response.json()
    assert not Outcome.objects.exists()


def test_the_outcome_of_a_move_records_an_innovation(manager, transfer_request, university, stages):
    response = api(manager).post(
        f"/api/transfer-requests/{transfer_request.pk}/advance/",
        {
            "to": stages["erfolgreich"].pk,
            "outcome": {
                "kind": "contract_research",
                "partner": university.pk,
                "innovation_introduced": True,
            },
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    outcome = Outcome.objects.get(request=transfer_request)
    assert outcome.innovation_introduced and outcome.created_by == manager
    assert outcome.history.get().history_user == manager
    refused = api(manager).post(
        f"/api/transfer-requests/{transfer_request.pk}/advance/",
        {"to": stages["eingang"].pk, "outcome": {"kind": "hire", "innovation_introduced": "ja?"}},
        format="json",
    )
    assert refused.status_code == 400
    assert "innovation_introduced" in refused.json()["outcome"]


def test_schema_documents_the_innovation_flag(manager):
    schema = api(manager).get("/api/schema/", {"format": "json"}).json()
    components = schema["components"]["schemas"]
    assert components["Outcome"]["properties"]["innovation_introduced"]["type"] == "boolean"
    assert (
        "RCR03"
        in components["OutcomeRequest"]["properties"]["innovation_introduced"]["description"]
    )
    advance_outcome = components["OutcomeInputRequest"]["properties"]["innovation_introduced"]
    assert advance_outcome["type"] == "boolean" and advance_outcome["default"] is False
