from __future__ import annotations

import datetime
import uuid

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from scouting.models import FollowUp
from scouting.services import assign_follow_ups, propose_follow_up, record_visit

pytestmark = pytest.mark.django_db


def proposal(organisation, by, title="Rückruf", **extra):
    return propose_follow_up(by=by, title=title, organisation=organisation, **extra)


def today():
    return timezone.localdate()


# --- My follow-ups -------------------------------------------------------------------


def test_my_follow_ups_lists_only_mine_by_view(client_as, organisation, scout, manager):
    mine_overdue = proposal(organisation, manager, "überfällig")
    mine_later = proposal(organisation, manager, "später")
    others = proposal(organisation, manager, "fremd")
    assign_follow_ups(
        [mine_overdue], assignee=scout, due_date=today() - datetime.timedelta(days=2), by=manager
    )
    assign_follow_ups(
        [mine_later], assignee=scout, due_date=today() + datetime.timedelta(days=30), by=manager
    )
    assign_follow_ups([others], assignee=manager, by=manager)
    client = client_as(scout)

    def titles(view):
        response = client.get(reverse("scouting:my_follow_ups"), {"view": view})
        assert response.status_code == 200
        return {f.title for f in response.context["page"].object_list}

    assert titles("open") == {"überfällig", "später"}
    assert titles("overdue") == {"überfällig"}
    assert titles("closed") == set()
    assert titles("nonsense") == {"überfällig", "später"}


def test_assignee_completes_from_the_list(client_as, organisation, scout, manager):
    follow_up = proposal(organisation, manager)
    assign_follow_ups([follow_up], assignee=scout, by=manager)
    client = client_as(scout)
    response = client.post(
        reverse("scouting:follow_up_complete", args=[follow_up.pk]),
        {"note": "Angerufen", "next": reverse("scouting:my_follow_ups")},
    )
    assert response.status_code == 302 and response["Location"] == reverse("scouting:my_follow_ups")
    follow_up.refresh_from_db()
    assert follow_up.status == FollowUp.Status.DONE and follow_up.completion_note == "Angerufen"
    assert follow_up.history.first().history_user == scout
    again = client.post(reverse("scouting:follow_up_complete", args=[follow_up.pk]), follow=True)
    assert "bereits" in again.content.decode() or "already" in again.content.decode()


def test_someone_elses_follow_up_cannot_be_completed(
    client_as, organisation, scout, scout2, manager
):
    follow_up = proposal(organisation, manager)
    assign_follow_ups([follow_up], assignee=scout, by=manager)
    url = reverse("scouting:follow_up_complete", args=[follow_up.pk])
    # scout2 cannot even see it.
    assert client_as(scout2).post(url, {"note": "x"}).status_code == 404
    follow_up.refresh_from_db()
    assert follow_up.is_open()


def test_open_external_redirects_are_ignored(client_as, organisation, scout, manager):
    follow_up = proposal(organisation, manager)
    assign_follow_ups([follow_up], assignee=scout, by=manager)
    response = client_as(scout).post(
        reverse("scouting:follow_up_complete", args=[follow_up.pk]),
        {"next": "https://evil.example/"},
    )
    assert "evil" not in response["Location"]


def test_start_marks_in_progress(client_as, organisation, scout, manager):
    follow_up = proposal(organisation, manager)
    assign_follow_ups([follow_up], assignee=scout, by=manager)
    client_as(scout).post(reverse("scouting:follow_up_start", args=[follow_up.pk]))
    follow_up.refresh_from_db()
    assert follow_up.status == FollowUp.Status.IN_PROGRESS


def test_my_follow_ups_query_count_is_constant(client_as, organisation, person, scout, manager):
    client = client_as(scout)

    def queries():
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(reverse("scouting:my_follow_ups")).status_code == 200
        return len(ctx)

    def add(n):
        items = [proposal(organisation, manager, person=person) for _ in range(n)]
        assign_follow_ups(items, assignee=scout, due_date=today(), by=manager)

    add(2)
    few = queries()
    add(20)
    assert queries() == few


# --- Team view and assignment --------------------------------------------------------


def test_team_view_is_for_managers_only(client_as, scout, administration, funder, manager):
    url = reverse("scouting:team_follow_ups")
    assert client_as(manager).get(url).status_code == 200
    assert client_as(scout).get(url).status_code == 403
    assert client_as(administration).get(url).status_code == 403
    assert client_as(funder).get(url).status_code == 403


def test_team_view_filters(client_as, organisation, scout, manager):
    unassigned = proposal(organisation, scout, "offen")
    overdue = proposal(organisation, scout, "überfällig")
    this_week = proposal(organisation, scout, "diese Woche")
    assign_follow_ups(
        [overdue], assignee=scout, due_date=today() - datetime.timedelta(days=1), by=manager
    )
    assign_follow_ups([this_week], assignee=manager, due_date=today(), by=manager)
    client = client_as(manager)

    def titles(**params):
        response = client.get(reverse("scouting:team_follow_ups"), params)
        assert response.status_code == 200
        return {f.title for f in response.context["page"].object_list}

    assert titles() == {"offen", "überfällig", "diese Woche"}
    assert titles(view="unassigned") == {unassigned.title}
    assert titles(view="overdue") == {"überfällig"}
    assert titles(view="due_this_week") == {"diese Woche"}
    assert titles(view="open", assignee=scout.pk) == {"überfällig"}


def test_bulk_assign_sets_assignee_due_date_and_emails(
    client_as, organisation, scout, scout2, manager, django_capture_on_commit_callbacks
):
    items = [proposal(organisation, scout, f"Aufgabe {i}") for i in range(3)]
    due = today() + datetime.timedelta(days=7)
    with django_capture_on_commit_callbacks(execute=True):
        response = client_as(manager).post(
            reverse("scouting:follow_up_assign"),
            {
                "ids": [f.pk for f in items[:2]],
                "assignee": scout2.pk,
                "due_date": due.isoformat(),
                "priority": "high",
            },
        )
    assert response.status_code == 302
    assigned = FollowUp.objects.filter(assignee=scout2)
    assert assigned.count() == 2
    assert all(f.due_date == due and f.priority == "high" for f in assigned)
    assert all(f.assigned_by == manager for f in assigned)
    assert FollowUp.objects.get(pk=items[2].pk).assignee is None
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [scout2.email]


def test_assign_refuses_bad_input_and_changes_nothing(client_as, organisation, scout, manager):
    follow_up = proposal(organisation, scout)
    client = client_as(manager)
    url = reverse("scouting:follow_up_assign")
    no_ids = client.post(url, {"assignee": scout.pk}, follow=True)
    assert "mindestens" in no_ids.content.decode() or "at least" in no_ids.content.decode()
    client.post(url, {"ids": [follow_up.pk], "assignee": 999999})
    client.post(url, {"ids": [follow_up.pk], "assignee": scout.pk, "due_date": "31.02.2026"})
    follow_up.refresh_from_db()
    assert follow_up.assignee is None


def test_scouts_cannot_assign(client_as, organisation, scout):
    follow_up = proposal(organisation, scout)
    response = client_as(scout).post(
        reverse("scouting:follow_up_assign"), {"ids": [follow_up.pk], "assignee": scout.pk}
    )
    assert response.status_code == 403
    follow_up.refresh_from_db()
    assert follow_up.assignee is None


def test_team_view_query_count_is_constant(client_as, organisation, person, scout, manager):
    client = client_as(manager)

    def queries():
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(reverse("scouting:team_follow_ups")).status_code == 200
        return len(ctx)

    visit = record_visit(uuid=uuid.uuid4(), organisation=organisation, by=scout)[0]
    for _ in range(2):
        assign_follow_ups(
            [proposal(organisation, scout, person=person, visit=visit)], assignee=scout, by=manager
        )
    few = queries()
    for _ in range(20):
        assign_follow_ups(
            [proposal(organisation, scout, person=person, visit=visit)], assignee=scout, by=manager
        )
    assert queries() == few


# --- Detail, edit, cancel ------------------------------------------------------------


def test_detail_access(client_as, organisation, scout, scout2, manager, funder):
    follow_up = proposal(organisation, scout)
    url = reverse("scouting:follow_up_detail", args=[follow_up.pk])
    assert client_as(scout).get(url).status_code == 200
    assert client_as(manager).get(url).status_code == 200
    assert client_as(scout2).get(url).status_code == 404
    assert client_as(funder).get(url).status_code == 404
    assert (
        client_as(manager)
        .get(reverse("scouting:follow_up_history", args=[follow_up.pk]))
        .status_code
        == 200
    )


def test_manager_edits_and_cancels(client_as, organisation, scout, manager):
    follow_up = proposal(organisation, scout)
    client = client_as(manager)
    edit = reverse("scouting:follow_up_edit", args=[follow_up.pk])
    assert client.get(edit).status_code == 200
    response = client.post(
        edit, {"title": "Neuer Titel", "description": "", "due_date": "", "priority": "low"}
    )
    assert response.status_code == 302
    follow_up.refresh_from_db()
    assert follow_up.title == "Neuer Titel" and follow_up.priority == "low"
    invalid = client.post(edit, {"title": "", "priority": "low"})
    assert invalid.status_code == 200 and invalid.context["form"].errors["title"]
    client.post(
        reverse("scouting:follow_up_cancel", args=[follow_up.pk]), {"note": "erledigt sich"}
    )
    follow_up.refresh_from_db()
    assert follow_up.status == FollowUp.Status.CANCELLED
    assert client_as(scout).get(edit).status_code == 403


# --- Follow-ups about an organisation or a person ------------------------------------


def test_scout_creates_a_follow_up_about_an_organisation(client_as, organisation, scout):
    url = reverse("scouting:organisation_follow_up_add", args=[organisation.pk])
    assert url in client_as(scout).get(organisation.get_absolute_url()).content.decode()
    response = client_as(scout).post(url, {"title": "Messe-Einladung", "priority": "normal"})
    follow_up = FollowUp.objects.get()
    assert response.status_code == 302
    assert follow_up.organisation == organisation and follow_up.visit is None
    assert follow_up.assignee is None and follow_up.created_by == scout


def test_manager_creates_and_assigns_a_follow_up_about_a_person(
    client_as, person, scout, manager, django_capture_on_commit_callbacks
):
    url = reverse("scouting:person_follow_up_add", args=[person.pk])
    due = (today() + datetime.timedelta(days=5)).isoformat()
    with django_capture_on_commit_callbacks(execute=True):
        client_as(manager).post(
            url,
            {"title": "Anrufen", "priority": "high", "due_date": due, "assign-assignee": scout.pk},
        )
    follow_up = FollowUp.objects.get()
    assert follow_up.person == person and follow_up.assignee == scout
    assert follow_up.due_date.isoformat() == due and follow_up.assigned_by == manager
    assert mail.outbox and mail.outbox[0].to == [scout.email]


def test_follow_up_about_a_subject_refuses_bad_input(client_as, organisation, manager, funder):
    url = reverse("scouting:organisation_follow_up_add", args=[organisation.pk])
    empty = client_as(manager).post(url, {"title": "", "priority": "normal"})
    assert empty.status_code == 200 and empty.context["form"].errors["title"]
    unknown = client_as(manager).post(
        url, {"title": "x", "priority": "normal", "assign-assignee": 999999}
    )
    assert unknown.status_code == 200
    assert not FollowUp.objects.exists()
    assert client_as(funder).get(url).status_code == 404


def test_a_confidential_visit_is_not_linked_for_an_assignee_who_cannot_open_it(
    client_as, organisation, scout, scout2, manager
):
    secret = record_visit(
        uuid=uuid.uuid4(), organisation=organisation, by=scout, is_confidential=True
    )[0]
    follow_up = proposal(organisation, scout, "Vertraulich nachfassen", visit=secret)
    assign_follow_ups([follow_up], assignee=scout2, by=manager)
    for url in (
        reverse("scouting:my_follow_ups"),
        reverse("scouting:follow_up_detail", args=[follow_up.pk]),
    ):
        page = client_as(scout2).get(url).content.decode()
        assert "Vertraulich nachfassen" in page
        assert secret.get_absolute_url() not in page
    assert (
        secret.get_absolute_url()
        in client_as(manager)
        .get(reverse("scouting:follow_up_detail", args=[follow_up.pk]))
        .content.decode()
    )
