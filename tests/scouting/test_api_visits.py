"""REST API for company visits: visibility, filters, and the idempotent PUT that offline
capture relies on."""

from __future__ import annotations

import datetime
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from drf_spectacular.validation import validate_schema
from rest_framework.test import APIClient

from crm.models import Organisation
from scouting.models import FollowUp, InterviewGuide, Visit
from scouting.services import record_visit, submit_visit

URL = "/api/visits/"

pytestmark = pytest.mark.django_db


def api(user=None) -> APIClient:
    client = APIClient(headers={"Accept-Language": "en"})
    if user is not None:
        client.force_login(user)
    return client


def detail(key) -> str:
    return f"{URL}{key}/"


def make_visit(organisation, by, **fields) -> Visit:
    fields.setdefault("uuid", uuid.uuid4())
    return record_visit(organisation=organisation, by=by, **fields)[0]


@pytest.fixture
def visits(organisation, scout):
    """An open visit and a confidential one, both by ``scout``."""
    return {
        "open": make_visit(organisation, scout, summary="Offen"),
        "confidential": make_visit(
            organisation, scout, summary="Vertraulich", is_confidential=True
        ),
    }


def body(organisation, **overrides):
    data = {
        "organisation": organisation.pk,
        "visited_at": "2026-03-02T10:30:00+01:00",
        "format": "on_site",
        "purpose": "first_contact",
        "needs": ["funding", "skilled_workers"],
        "summary": "Neue Fräsanlage geplant.",
        "answers": {"open_positions": 3},
    }
    data.update(overrides)
    return data


# --- Reading -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("persona", "visible"),
    [
        ("scout", {"open", "confidential"}),
        ("scout2", {"open"}),
        ("manager", {"open", "confidential"}),
        ("administration", {"open"}),
    ],
)
def test_list_and_detail_show_what_the_persona_may_see(request, persona, visible, visits):
    client = api(request.getfixturevalue(persona))
    response = client.get(URL)
    assert response.status_code == 200
    expected = {str(visits[name].uuid) for name in visible}
    assert {row["uuid"] for row in response.json()["results"]} == expected
    assert response.json()["count"] == len(visible)
    for name, visit in visits.items():
        status = client.get(detail(visit.uuid)).status_code
        assert status == (200 if name in visible else 404), name


@pytest.mark.parametrize("persona", ["funder", "outsider"])
def test_no_visit_role_gets_403(request, persona, visits, organisation):
    client = api(request.getfixturevalue(persona))
    visit = visits["open"]
    assert client.get(URL).status_code == 403
    assert client.get(detail(visit.uuid)).status_code == 403
    assert client.put(detail(uuid.uuid4()), body(organisation), format="json").status_code == 403
    response = client.put(
        detail(visit.uuid), body(organisation, version=visit.version), format="json"
    )
    assert response.status_code == 403
    assert Visit.objects.count() == 2
    visit.refresh_from_db()
    assert visit.summary == "Offen" and visit.version == 1


def test_anonymous_gets_401(visits, organisation):
    assert api().get(URL).status_code == 401
    assert api().get(detail(visits["open"].uuid)).status_code == 401
    assert api().put(detail(uuid.uuid4()), body(organisation), format="json").status_code == 401
    assert Visit.objects.count() == 2


def test_detail_shows_every_field(manager, scout, organisation, person, topics):
    guide = InterviewGuide.objects.current()
    visit = make_visit(
        organisation,
        scout,
        people_met=[person],
        topics=[topics["ai"]],
        needs=["funding"],
        answers={"skilled_worker_shortage": True},
        green_skills_interest=True,
    )
    row = api(manager).get(detail(visit.uuid)).json()
    assert row["uuid"] == str(visit.uuid)
    assert row["version"] == 1 and row["status"] == "draft" and row["submitted_at"] is None
    assert row["organisation"] == organisation.pk
    assert row["organisation_name"] == "Müller Maschinenbau GmbH"
    assert row["scouts"] == [scout.pk]
    assert row["people_met"] == [person.pk]
    assert row["topics"] == [topics["ai"].pk]
    assert row["needs"] == ["funding"]
    assert row["answers"] == {"skilled_worker_shortage": True}
    assert row["green_skills_interest"] is True
    assert row["guide_version"] == guide.pk
    assert row["created_by"] == scout.pk
    assert {"visited_at", "format", "purpose", "summary", "is_confidential"} <= set(row)
    assert {"created_at", "updated_at"} <= set(row)


def test_unknown_or_malformed_uuid_is_404(manager, visits):
    for key in (uuid.uuid4(), "abc", "1" * 40):
        assert api(manager).get(detail(key)).status_code == 404


def test_filters(manager, scout, scout2, organisation, region, topics):
    city = Organisation.objects.create(name="Stadtwerke Braunschweig", municipality=region["urban"])
    march = timezone.make_aware(datetime.datetime(2026, 3, 2, 23, 30))
    rural = make_visit(
        organisation,
        scout,
        visited_at=march,
        needs=["funding", "training"],
        topics=[topics["ai"]],
    )
    urban = make_visit(
        city,
        scout2,
        visited_at=march + datetime.timedelta(days=1),
        needs=["technology_rd"],
        topics=[topics["energy"]],
    )
    submit_visit(urban, by=scout2)
    client = api(manager)

    def found(params):
        response = client.get(URL, params)
        assert response.status_code == 200, response.content
        return {row["uuid"] for row in response.json()["results"]}

    both = {str(rural.uuid), str(urban.uuid)}
    assert found({}) == both
    assert found({"scout": scout.pk}) == {str(rural.uuid)}
    assert found({"organisation": city.pk}) == {str(urban.uuid)}
    # Dates are local days: 23:30 on 2 March belongs to 2 March.
    assert found({"visited_before": "2026-03-02"}) == {str(rural.uuid)}
    assert found({"visited_after": "2026-03-03"}) == {str(urban.uuid)}
    assert found({"visited_after": "2026-03-02", "visited_before": "2026-03-03"}) == both
    assert found({"district": region["district"].pk}) == {str(rural.uuid)}
    assert found({"rural": "true"}) == {str(rural.uuid)}
    assert found({"rural": "false"}) == {str(urban.uuid)}
    # A parent topic includes visits tagged with one of its children.
    assert found({"topic": topics["digital"].pk}) == {str(rural.uuid)}
    assert found({"need": "training"}) == {str(rural.uuid)}
    assert found({"need": "technology_rd"}) == {str(urban.uuid)}
    assert found({"need": "digitalisation"}) == set()
    assert found({"status": "submitted"}) == {str(urban.uuid)}
    ordered = client.get(URL, {"o": "visited_at"}).json()["results"]
    assert [row["uuid"] for row in ordered] == [str(rural.uuid), str(urban.uuid)]


@pytest.mark.parametrize(
    "params",
    [
        {"need": "teleportation"},
        {"status": "lost"},
        {"scout": "abc"},
        {"organisation": str(10**30)},
        {"visited_after": "gestern"},
        {"o": "summary"},
        {"need": "funding\x00"},
    ],
)
def test_bad_filters_are_400(manager, visits, params):
    assert api(manager).get(URL, params).status_code == 400


def _add_visits(count, organisation, scout, person, topics):
    for _ in range(count):
        make_visit(
            organisation,
            scout,
            people_met=[person],
            topics=[topics["ai"], topics["energy"]],
            needs=["funding"],
        )


def _list_queries(client) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(URL, {"page_size": 100})
        assert response.status_code == 200
    return len(ctx)


@pytest.mark.parametrize("persona", ["scout", "manager"])
def test_list_query_count_is_constant(request, persona, scout, organisation, person, topics):
    client = api(request.getfixturevalue(persona))
    _add_visits(5, organisation, scout, person, topics)
    few = _list_queries(client)
    _add_visits(45, organisation, scout, person, topics)
    many = _list_queries(client)
    assert client.get(URL, {"page_size": 100}).json()["count"] == 50
    assert few == many


# --- PUT: create ---------------------------------------------------------------------


def test_put_creates_a_visit_with_history(scout, organisation, person, topics):
    key = uuid.uuid4()
    response = api(scout).put(
        detail(key),
        body(organisation, people_met=[person.pk], topics=[topics["energy"].pk]),
        format="json",
    )
    assert response.status_code == 201, response.content
    row = response.json()
    assert row["uuid"] == str(key) and row["version"] == 1 and row["status"] == "draft"
    assert row["scouts"] == [scout.pk]
    visit = Visit.objects.get(uuid=key)
    assert visit.summary == "Neue Fräsanlage geplant."
    assert visit.needs == ["funding", "skilled_workers"]
    assert visit.guide_version == InterviewGuide.objects.current()
    assert list(visit.people_met.all()) == [person]
    assert visit.created_by == scout
    assert {h.history_user for h in visit.history.all()} == {scout}


def test_put_the_same_body_twice_stores_it_once(scout, organisation):
    key = uuid.uuid4()
    client = api(scout)
    first = client.put(detail(key), body(organisation), format="json")
    assert first.status_code == 201
    history = Visit.history.count()
    again = client.put(detail(key), body(organisation), format="json")
    assert again.status_code == 200, again.content
    assert again.json() == first.json()
    visit = Visit.objects.get()
    assert visit.version == 1
    assert Visit.history.count() == history


# --- PUT: update ---------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["scout", "manager"])
def test_put_with_the_current_version_updates(request, persona, scout, organisation, topics):
    user = request.getfixturevalue(persona)
    visit = make_visit(organisation, scout, summary="Alt")
    response = api(user).put(
        detail(visit.uuid),
        body(organisation, version=1, summary="Neu", topics=[topics["ai"].pk]),
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["version"] == 2
    assert response.json()["summary"] == "Neu"
    visit.refresh_from_db()
    assert visit.version == 2 and visit.summary == "Neu"
    assert list(visit.topics.all()) == [topics["ai"]]
    assert visit.history.latest().history_user == user
    assert visit.history.filter(history_user=user, summary="Neu").exists()


def test_retried_update_answers_200_without_a_new_version(scout, organisation):
    visit = make_visit(organisation, scout, summary="Alt")
    client = api(scout)
    payload = body(organisation, version=1, summary="Neu")
    assert client.put(detail(visit.uuid), payload, format="json").status_code == 200
    again = client.put(detail(visit.uuid), payload, format="json")
    assert again.status_code == 200, again.content
    assert again.json()["version"] == 2
    visit.refresh_from_db()
    assert visit.version == 2


@pytest.mark.parametrize("sent_version", [1, None])
def test_stale_put_is_409_and_changes_nothing(scout, manager, organisation, sent_version):
    visit = make_visit(organisation, scout, summary="Alt")
    api(manager).put(
        detail(visit.uuid), body(organisation, version=1, summary="Manager"), format="json"
    )
    visit.refresh_from_db()
    assert visit.version == 2
    payload = body(organisation, summary="Scout")
    if sent_version is not None:
        payload["version"] = sent_version
    response = api(scout).put(detail(visit.uuid), payload, format="json")
    assert response.status_code == 409
    answer = response.json()
    assert answer["code"] == "stale_version"
    assert "changed in the meantime" in answer["detail"] and "version 2" in answer["detail"]
    assert answer["current"]["summary"] == "Manager"
    assert answer["current"]["version"] == 2
    visit.refresh_from_db()
    assert visit.summary == "Manager" and visit.version == 2


def test_another_scout_may_not_put_someone_elses_visit(scout, scout2, organisation, visits):
    client = api(scout2)
    open_visit = visits["open"]
    response = client.put(
        detail(open_visit.uuid), body(organisation, version=1, summary="Fremd"), format="json"
    )
    assert response.status_code == 403
    assert "scouts and network managers" in response.json()["detail"]
    # A visit scout2 cannot see does not exist for them.
    hidden = visits["confidential"]
    response = client.put(
        detail(hidden.uuid), body(organisation, version=1, summary="Fremd"), format="json"
    )
    assert response.status_code == 404
    for visit in visits.values():
        visit.refresh_from_db()
        assert visit.version == 1 and visit.summary != "Fremd"


def test_administration_may_read_but_not_put(administration, organisation, visits):
    client = api(administration)
    visit = visits["open"]
    response = client.put(detail(visit.uuid), body(organisation, version=1), format="json")
    assert response.status_code == 403
    assert client.put(detail(uuid.uuid4()), body(organisation), format="json").status_code == 403
    assert Visit.objects.count() == 2


def test_scout_changes_own_submitted_visit_with_history(scout, organisation):
    visit = submit_visit(make_visit(organisation, scout, summary="Alt"), by=scout)
    response = api(scout).put(
        detail(visit.uuid),
        body(organisation, version=visit.version, summary="Nachgetragen", status="submitted"),
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "submitted"
    latest = Visit.objects.get().history.latest()
    assert latest.summary == "Nachgetragen" and latest.history_user == scout
    assert latest.history_change_reason == "Changed after submission"


def test_submitted_visit_cannot_go_back_to_draft(scout, organisation):
    visit = submit_visit(make_visit(organisation, scout), by=scout)
    response = api(scout).put(
        detail(visit.uuid), body(organisation, version=visit.version, status="draft"), format="json"
    )
    assert response.status_code == 400
    assert "status" in response.json()
    visit.refresh_from_db()
    assert visit.status == "submitted" and visit.version == 2


def test_no_delete_patch_or_post(manager, visits):
    client = api(manager)
    visit = visits["open"]
    # The permission check comes first: nobody has delete_visit, so 403 rather than 405.
    assert client.delete(detail(visit.uuid)).status_code in (403, 405)
    assert client.patch(detail(visit.uuid), {"summary": "x"}, format="json").status_code == 405
    assert client.post(URL, {}, format="json").status_code == 405
    assert Visit.objects.count() == 2


# --- PUT: submitting -----------------------------------------------------------------


def test_put_submitted_raises_the_guide_rule_follow_ups_once(scout, manager, organisation):
    organisation.responsible_manager = manager
    organisation.save()
    key = uuid.uuid4()
    client = api(scout)
    payload = body(organisation, status="submitted", answers={"skilled_worker_shortage": True})
    first = client.put(detail(key), payload, format="json")
    assert first.status_code == 201, first.content
    assert first.json()["status"] == "submitted" and first.json()["version"] == 2
    [follow_up] = FollowUp.objects.all()
    assert follow_up.title == "Fachkräftebedarf klären"
    assert follow_up.assignee == manager

    again = client.put(detail(key), payload, format="json")
    assert again.status_code == 200, again.content
    assert again.json()["version"] == 2
    assert FollowUp.objects.count() == 1
    assert Visit.objects.get().version == 2


def test_put_submits_a_stored_draft_at_its_version(scout, organisation):
    visit = make_visit(organisation, scout, answers={"skilled_worker_shortage": True})
    client = api(scout)
    payload = body(
        organisation, version=1, status="submitted", answers={"skilled_worker_shortage": True}
    )
    response = client.put(detail(visit.uuid), payload, format="json")
    assert response.status_code == 200, response.content
    # One version for the changed fields, one for the submission.
    assert response.json()["version"] == 3
    visit.refresh_from_db()
    assert visit.status == "submitted" and visit.submitted_at is not None
    assert FollowUp.objects.filter(visit=visit).count() == 1
    assert client.put(detail(visit.uuid), payload, format="json").status_code == 200
    assert FollowUp.objects.filter(visit=visit).count() == 1


# --- PUT: validation -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"needs": ["teleportation"]}, "needs", "is not a valid choice"),
        ({"needs": ["funding", "funding"]}, "needs", "listed twice"),
        ({"answers": {"skilled_worker_shortage": "ja"}}, "answers", "Invalid answers to"),
        ({"answers": {"no_such_question": 1}}, "answers", "Unknown questions"),
        ({"answers": {"innovation_obstacles": "Nul\x00"}}, "answers", "Null characters"),
        ({"organisation": 999999}, "organisation", "object does not exist"),
        ({"organisation": None}, "organisation", "may not be null"),
        ({"people_met": [999999]}, "people_met", "object does not exist"),
        ({"topics": [10**30]}, "topics", "object does not exist"),
        ({"format": "telepathy"}, "format", "is not a valid choice"),
        ({"visited_at": "gestern"}, "visited_at", "wrong format"),
        ({"summary": "Nul\x00"}, "summary", "Null characters"),
        ({"status": "archived"}, "status", "is not a valid choice"),
        ({"guide_version": 999999}, "guide_version", "object does not exist"),
    ],
)
def test_put_refuses_bad_input_and_stores_nothing(scout, organisation, overrides, field, message):
    key = uuid.uuid4()
    payload = {**body(organisation), **overrides}
    response = api(scout).put(detail(key), payload, format="json")
    assert response.status_code == 400, response.content
    assert message in str(response.json()[field])
    assert not Visit.objects.exists()
    assert not Visit.history.exists()


def test_put_refuses_a_scout_who_is_not_a_scout(scout, funder, organisation):
    response = api(scout).put(
        detail(uuid.uuid4()), body(organisation, scouts=[funder.pk]), format="json"
    )
    assert response.status_code == 400 and "scouts" in response.json()
    assert not Visit.objects.exists()


def test_put_refuses_non_finite_numbers(scout, organisation):
    response = api(scout).put(
        detail(uuid.uuid4()),
        f'{{"organisation": {organisation.pk}, "answers": {{"rd_staff": 1e400}}}}',
        content_type="application/json",
    )
    assert response.status_code == 400
    assert "answers" in response.json()
    assert not Visit.objects.exists()


def test_failed_update_is_rolled_back_entirely(scout, organisation):
    visit = make_visit(organisation, scout, summary="Alt")
    history = Visit.history.count()
    # The fields are saved before the scouts are replaced; the empty set fails after that.
    response = api(scout).put(
        detail(visit.uuid), body(organisation, version=1, summary="Neu", scouts=[]), format="json"
    )
    assert response.status_code == 400
    assert "at least one scout" in str(response.json()["scouts"])
    visit.refresh_from_db()
    assert visit.summary == "Alt" and visit.version == 1
    assert list(visit.scouts.all()) == [scout]
    assert Visit.history.count() == history


def test_failed_submission_rolls_back_the_creation(scout, scout2, organisation):
    """A new visit that cannot be submitted is not stored as a draft either: here the
    recording scout names only someone else, so may not submit it."""
    response = api(scout).put(
        detail(uuid.uuid4()),
        body(organisation, scouts=[scout2.pk], status="submitted"),
        format="json",
    )
    assert response.status_code == 403
    assert not Visit.objects.exists()
    assert not Visit.history.exists()


# --- Schema --------------------------------------------------------------------------


def test_schema_documents_the_scouting_api(manager):
    response = api(manager).get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    schema = response.json()
    validate_schema(schema)
    for path in (
        "/api/visits/",
        "/api/visits/{uuid}/",
        "/api/follow-ups/",
        "/api/follow-ups/{id}/",
        "/api/follow-ups/assign/",
        "/api/follow-ups/{id}/complete/",
        "/api/interview-guides/{id}/",
        "/api/interview-guides/current/",
    ):
        assert path in schema["paths"], path
    put = schema["paths"]["/api/visits/{uuid}/"]["put"]["responses"]
    assert {"200", "201", "409"} <= set(put)
    assert "delete" not in schema["paths"]["/api/visits/{uuid}/"]
    list_params = {p["name"] for p in schema["paths"]["/api/visits/"]["get"]["parameters"]}
    assert {"scout", "need", "rural", "visited_after", "topic", "status"} <= list_params


def test_put_accepts_the_format_suffix(scout, organisation):
    key = uuid.uuid4()
    response = api(scout).put(f"{URL}{key}.json", body(organisation), format="json")
    assert response.status_code == 201, response.content
    assert Visit.objects.filter(uuid=key).exists()


def test_visited_after_the_first_day_of_year_one_is_no_error(manager):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(manager)
    assert client.get("/api/visits/", {"visited_after": "0001-01-01"}).status_code == 200
