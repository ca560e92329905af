"""REST API for follow-ups (Wiedervorlagen): visibility, filters, proposing, assigning,
completing."""

from __future__ import annotations

import datetime
import uuid

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from crm.models import Organisation
from crm.roles import Role
from scouting.models import FollowUp
from scouting.services import assign_follow_ups, propose_follow_up, record_visit
from tests.personas import make_user

URL = "/api/follow-ups/"
ASSIGN = f"{URL}assign/"

pytestmark = pytest.mark.django_db


def api(user=None) -> APIClient:
    client = APIClient(headers={"Accept-Language": "en"})
    if user is not None:
        client.force_login(user)
    return client


def detail(pk: int) -> str:
    return f"{URL}{pk}/"


def complete_url(pk: int) -> str:
    return f"{URL}{pk}/complete/"


@pytest.fixture
def secret_visit(organisation, scout):
    visit, _created = record_visit(
        uuid=uuid.uuid4(), organisation=organisation, by=scout, is_confidential=True
    )
    return visit


@pytest.fixture
def follow_ups(organisation, scout, scout2, manager, secret_visit):
    """One about scout's confidential visit, one unassigned, one assigned to scout2."""
    about_secret = propose_follow_up(by=scout, title="Geheim", visit=secret_visit)
    unassigned = propose_follow_up(by=manager, title="Offen", organisation=organisation)
    assigned = propose_follow_up(by=manager, title="Zugewiesen", organisation=organisation)
    assign_follow_ups([assigned], assignee=scout2, by=manager)
    return {"secret": about_secret, "unassigned": unassigned, "assigned": assigned}


# --- Reading -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("persona", "visible"),
    [
        ("scout", {"secret"}),
        ("scout2", {"assigned"}),
        ("manager", {"secret", "unassigned", "assigned"}),
        ("administration", {"unassigned", "assigned"}),
    ],
)
def test_list_and_detail_show_what_the_persona_may_see(request, persona, visible, follow_ups):
    client = api(request.getfixturevalue(persona))
    response = client.get(URL)
    assert response.status_code == 200
    expected = {follow_ups[name].pk for name in visible}
    assert {row["id"] for row in response.json()["results"]} == expected
    for name, follow_up in follow_ups.items():
        status = client.get(detail(follow_up.pk)).status_code
        assert status == (200 if name in visible else 404), name


@pytest.mark.parametrize("persona", ["funder", "outsider"])
def test_no_follow_up_role_gets_403(request, persona, follow_ups, organisation):
    client = api(request.getfixturevalue(persona))
    follow_up = follow_ups["assigned"]
    assert client.get(URL).status_code == 403
    assert client.get(detail(follow_up.pk)).status_code == 403
    payload = {"title": "x", "organisation": organisation.pk}
    assert client.post(URL, payload, format="json").status_code == 403
    assert client.post(complete_url(follow_up.pk), {}, format="json").status_code == 403
    assert FollowUp.objects.count() == 3
    assert FollowUp.objects.open().count() == 3


def test_anonymous_gets_401(follow_ups):
    assert api().get(URL).status_code == 401
    assert api().post(ASSIGN, {}, format="json").status_code == 401


def test_detail_shows_names_and_the_visit_uuid(manager, scout2, follow_ups, secret_visit):
    row = api(manager).get(detail(follow_ups["secret"].pk)).json()
    assert row["visit"] == str(secret_visit.uuid)
    assert row["organisation_name"] == "Müller Maschinenbau GmbH"
    assert row["status"] == "open" and row["is_overdue"] is False
    assigned = api(manager).get(detail(follow_ups["assigned"].pk)).json()
    assert assigned["assignee"] == scout2.pk
    assert assigned["assignee_name"] == "Samuel Späher"


def test_filters(manager, scout2, follow_ups, organisation, secret_visit):
    today = timezone.localdate()
    late = follow_ups["unassigned"]
    late.due_date = today - datetime.timedelta(days=2)
    late.save()
    done = propose_follow_up(by=manager, title="Erledigt", organisation=organisation)
    done.status, done.completed_at = FollowUp.Status.DONE, timezone.now()
    done.due_date = today - datetime.timedelta(days=5)
    done.save()
    client = api(manager)

    def titles(params):
        response = client.get(URL, params)
        assert response.status_code == 200, response.content
        return {row["title"] for row in response.json()["results"]}

    assert titles({"assignee": scout2.pk}) == {"Zugewiesen"}
    assert titles({"assignee": "me"}) == set()
    assert api(scout2).get(URL, {"assignee": "me"}).json()["count"] == 1
    assert titles({"status": "done"}) == {"Erledigt"}
    # Overdue means open and due before today; the closed one is not overdue.
    assert titles({"overdue": "true"}) == {"Offen"}
    assert titles({"overdue": "false"}) == {"Geheim", "Zugewiesen", "Erledigt"}
    assert titles({"due_before": str(today - datetime.timedelta(days=2))}) == {"Offen", "Erledigt"}
    assert titles({"unassigned": "true"}) == {"Geheim", "Offen", "Erledigt"}
    assert titles({"visit": str(secret_visit.uuid)}) == {"Geheim"}
    assert titles({"organisation": organisation.pk}) == {
        "Geheim",
        "Offen",
        "Zugewiesen",
        "Erledigt",
    }


@pytest.mark.parametrize(
    "params",
    [
        {"assignee": "someone"},
        {"assignee": str(10**30)},
        {"status": "lost"},
        {"visit": "not-a-uuid"},
        {"due_before": "morgen"},
        {"o": "title"},
    ],
)
def test_bad_filters_are_400(manager, follow_ups, params):
    response = api(manager).get(URL, params)
    assert response.status_code == 400


def _add(count, organisation, scout, manager):
    created = [
        propose_follow_up(by=scout, title=f"F{i}", organisation=organisation) for i in range(count)
    ]
    assign_follow_ups(created, assignee=scout, by=manager)


def _list_queries(client) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(URL, {"page_size": 100})
        assert response.status_code == 200
    return len(ctx)


@pytest.mark.parametrize("persona", ["scout", "manager"])
def test_list_query_count_is_constant(request, persona, organisation, person, scout, manager):
    client = api(request.getfixturevalue(persona))
    _add(5, organisation, scout, manager)
    few = _list_queries(client)
    _add(45, organisation, scout, manager)
    many = _list_queries(client)
    assert client.get(URL, {"page_size": 100}).json()["count"] == 50
    assert few == many


# --- Proposing -----------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["scout", "manager"])
def test_scouts_and_managers_propose(request, persona, secret_visit, organisation):
    user = request.getfixturevalue(persona)
    response = api(user).post(
        URL,
        {
            "title": " Förderberatung ",
            "visit": str(secret_visit.uuid),
            "due_date": "2026-06-01",
            "priority": "high",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    row = response.json()
    assert row["title"] == "Förderberatung"
    assert row["organisation"] == organisation.pk and row["assignee"] is None
    follow_up = FollowUp.objects.get(pk=row["id"])
    assert follow_up.created_by == user and follow_up.priority == "high"
    assert follow_up.history.get().history_user == user


def test_administration_may_not_propose(administration, organisation):
    response = api(administration).post(
        URL, {"title": "x", "organisation": organisation.pk}, format="json"
    )
    assert response.status_code == 403
    assert not FollowUp.objects.exists()


@pytest.mark.parametrize(
    ("payload", "field", "message"),
    [
        ({"title": "Ohne Bezug"}, "non_field_errors", "must be about a visit"),
        ({"title": "", "organisation": "ORG"}, "title", "may not be blank"),
        ({"title": "x", "organisation": 999999}, "organisation", "object does not exist"),
        ({"title": "x", "visit": "HIDDEN"}, "visit", "does not exist"),
        ({"title": "x", "visit": "abc"}, "visit", "valid UUID"),
        ({"title": "x", "organisation": "ORG", "priority": "urgent"}, "priority", "valid choice"),
        ({"title": "x\x00", "organisation": "ORG"}, "title", "Null characters"),
        ({"title": "x", "organisation": "OTHER", "visit": "OWN"}, "organisation", "differs"),
    ],
)
def test_propose_refuses_bad_input(
    scout2, manager, organisation, secret_visit, payload, field, message
):
    own = record_visit(uuid=uuid.uuid4(), organisation=organisation, by=scout2)[0]
    other = Organisation.objects.create(name="Andere GmbH")
    values = {
        "ORG": organisation.pk,
        "OTHER": other.pk,
        "HIDDEN": str(secret_visit.uuid),  # scout's confidential visit: unknown to scout2
        "OWN": str(own.uuid),
    }
    data = {k: values.get(v, v) if isinstance(v, str) else v for k, v in payload.items()}
    response = api(scout2).post(URL, data, format="json")
    assert response.status_code == 400, response.content
    assert message in str(response.json()[field])
    assert not FollowUp.objects.exists()


# --- Assigning -----------------------------------------------------------------------


def test_manager_assigns_in_bulk_and_the_assignee_is_emailed(
    manager, scout, follow_ups, django_capture_on_commit_callbacks
):
    ids = [follow_ups["unassigned"].pk, follow_ups["assigned"].pk]
    with django_capture_on_commit_callbacks(execute=True):
        response = api(manager).post(
            ASSIGN,
            {"ids": ids, "assignee": scout.pk, "due_date": "2026-07-01", "priority": "high"},
            format="json",
        )
    assert response.status_code == 200, response.content
    answer = response.json()
    assert answer["changed"] == 2
    assert [row["assignee"] for row in answer["follow_ups"]] == [scout.pk, scout.pk]
    for pk in ids:
        follow_up = FollowUp.objects.get(pk=pk)
        assert follow_up.assignee == scout and follow_up.assigned_by == manager
        assert follow_up.due_date == datetime.date(2026, 7, 1) and follow_up.priority == "high"
        assert follow_up.history.latest().history_user == manager
    assert [m.to for m in mail.outbox] == [[scout.email]]


@pytest.mark.parametrize("persona", ["scout", "scout2", "administration"])
def test_only_managers_assign(request, persona, scout, follow_ups):
    response = api(request.getfixturevalue(persona)).post(
        ASSIGN, {"ids": [follow_ups["unassigned"].pk], "assignee": scout.pk}, format="json"
    )
    assert response.status_code == 403
    assert FollowUp.objects.get(pk=follow_ups["unassigned"].pk).assignee is None


def test_assign_refuses_bad_input_and_changes_nothing(manager, scout, funder, follow_ups):
    client = api(manager)
    unassigned = follow_ups["unassigned"].pk
    retired = make_user("retired", Role.SCOUT, is_active=False)
    closed = follow_ups["assigned"]
    closed.status, closed.completed_at = FollowUp.Status.DONE, timezone.now()
    closed.save()
    cases = [
        ({"ids": [unassigned, 999999], "assignee": scout.pk}, "ids", "Unknown follow-ups: 999999"),
        ({"ids": [], "assignee": scout.pk}, "ids", "may not be empty"),
        ({"ids": [unassigned], "assignee": funder.pk}, "assignee", "does not exist"),
        ({"ids": [unassigned], "assignee": retired.pk}, "assignee", "deactivated"),
        ({"ids": [unassigned], "assignee": scout.pk, "priority": "x"}, "priority", "valid choice"),
        ({"ids": [unassigned, closed.pk], "assignee": scout.pk}, "non_field_errors", "cannot be"),
        ({"ids": [10**30], "assignee": scout.pk}, "ids", "less than or equal"),
    ]
    for payload, field, message in cases:
        response = client.post(ASSIGN, payload, format="json")
        assert response.status_code == 400, (payload, response.content)
        assert message in str(response.json()[field]), (payload, response.json())
    assert FollowUp.objects.get(pk=unassigned).assignee is None


# --- Completing ----------------------------------------------------------------------


def test_assignee_completes_with_a_note(scout2, follow_ups):
    follow_up = follow_ups["assigned"]
    response = api(scout2).post(
        complete_url(follow_up.pk), {"note": " Angebot verschickt "}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "done"
    assert response.json()["completion_note"] == "Angebot verschickt"
    follow_up.refresh_from_db()
    assert follow_up.status == "done" and follow_up.completed_at is not None
    assert follow_up.history.latest().history_user == scout2

    again = api(scout2).post(complete_url(follow_up.pk), {}, format="json")
    assert again.status_code == 400
    assert "already closed" in str(again.json())


def test_manager_completes_any(manager, follow_ups):
    response = api(manager).post(complete_url(follow_ups["unassigned"].pk), {}, format="json")
    assert response.status_code == 200
    assert FollowUp.objects.get(pk=follow_ups["unassigned"].pk).status == "done"


def test_administration_completes_what_is_assigned_to_it(administration, manager, follow_ups):
    follow_up = follow_ups["unassigned"]
    client = api(administration)
    refused = client.post(complete_url(follow_up.pk), {}, format="json")
    assert refused.status_code == 403
    assert "assignee or a network manager" in refused.json()["detail"]
    assign_follow_ups([follow_up], assignee=administration, by=manager)
    assert client.post(complete_url(follow_up.pk), {}, format="json").status_code == 200


def test_others_may_not_complete(scout, scout2, follow_ups):
    # scout sees the follow-up about their visit but is not its assignee.
    secret = follow_ups["secret"]
    refused = api(scout).post(complete_url(secret.pk), {}, format="json")
    assert refused.status_code == 403
    # scout2 cannot even see it.
    assert api(scout2).post(complete_url(secret.pk), {}, format="json").status_code == 404
    secret.refresh_from_db()
    assert secret.status == "open"


def test_actions_accept_the_format_suffix(manager, scout, follow_ups):
    client = api(manager)
    unassigned = follow_ups["unassigned"].pk
    response = client.post(
        f"{URL}assign.json", {"ids": [unassigned], "assignee": scout.pk}, format="json"
    )
    assert response.status_code == 200, response.content
    response = client.post(f"{URL}{unassigned}/complete.json", {}, format="json")
    assert response.status_code == 200, response.content
    assert FollowUp.objects.get(pk=unassigned).status == "done"
