from __future__ import annotations

import datetime
import uuid

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from scouting.models import FollowUp, InterviewGuide, Visit
from scouting.services import (
    FollowUpAccessError,
    StaleVisit,
    VisitAccessError,
    assign_follow_ups,
    complete_follow_up,
    notify_assignment,
    propose_follow_up,
    record_visit,
    submit_visit,
    update_visit,
)

pytestmark = pytest.mark.django_db


def record(organisation, by, **fields):
    fields.setdefault("uuid", uuid.uuid4())
    return record_visit(organisation=organisation, by=by, **fields)[0]


# --- record_visit --------------------------------------------------------------------


def test_record_visit_stores_a_draft_with_history(organisation, person, topics, scout):
    visit, created = record_visit(
        uuid=uuid.uuid4(),
        organisation=organisation,
        by=scout,
        people_met=[person],
        topics=[topics["digital"]],
        needs=["funding"],
        summary="Neue Fräsanlage geplant.",
    )
    assert created
    visit.refresh_from_db()
    assert visit.status == Visit.Status.DRAFT and visit.version == 1
    assert list(visit.scouts.all()) == [scout]
    assert list(visit.people_met.all()) == [person]
    assert visit.created_by == scout
    assert visit.guide_version == InterviewGuide.objects.current()
    # The row itself and each related set changed: every history row names the scout.
    assert {h.history_user for h in visit.history.all()} == {scout}


def test_record_visit_is_idempotent_on_the_uuid(organisation, scout):
    key = uuid.uuid4()
    first, created = record_visit(uuid=key, organisation=organisation, by=scout, summary="A")
    again, created_again = record_visit(uuid=str(key), organisation=organisation, by=scout)
    assert created and not created_again
    assert again.pk == first.pk and again.summary == "A"
    assert Visit.objects.filter(uuid=key).count() == 1


def test_record_visit_does_not_reveal_someone_elses_confidential_visit(organisation, scout, scout2):
    key = uuid.uuid4()
    record_visit(uuid=key, organisation=organisation, by=scout, is_confidential=True)
    with pytest.raises(VisitAccessError):
        record_visit(uuid=key, organisation=organisation, by=scout2)


def test_record_visit_refuses_administration_and_funders(organisation, administration, funder):
    for user in (administration, funder):
        with pytest.raises(PermissionDenied):
            record(organisation, user)
    assert not Visit.objects.exists()


def test_record_visit_refuses_bad_needs(organisation, scout):
    with pytest.raises(ValidationError):
        record(organisation, scout, needs=["unknown"])
    assert not Visit.objects.exists()


def test_record_visit_refuses_fields_the_services_own(organisation, scout):
    with pytest.raises(TypeError):
        record(organisation, scout, status=Visit.Status.SUBMITTED)


# --- update_visit --------------------------------------------------------------------


def test_update_increments_the_version(organisation, topics, scout):
    visit = record(organisation, scout)
    visit = update_visit(
        visit, expected_version=1, by=scout, summary="Ergänzt", topics=[topics["energy"]]
    )
    assert visit.version == 2
    visit = update_visit(visit, expected_version=2, by=scout, needs=["training"])
    visit.refresh_from_db()
    assert (visit.version, visit.summary, visit.needs) == (3, "Ergänzt", ["training"])
    assert list(visit.topics.all()) == [topics["energy"]]
    assert visit.history.first().history_user == scout


def test_stale_update_is_refused(organisation, scout, manager):
    visit = record(organisation, scout)
    update_visit(visit, expected_version=1, by=manager, summary="Neuer Stand")
    with pytest.raises(StaleVisit) as error:
        update_visit(visit, expected_version=1, by=scout, summary="Alter Stand")
    assert (error.value.expected, error.value.current) == (1, 2)
    visit.refresh_from_db()
    assert visit.summary == "Neuer Stand" and visit.version == 2


def test_scout_cannot_edit_another_scouts_visit(organisation, scout, scout2, administration):
    visit = record(organisation, scout)
    for user in (scout2, administration):
        with pytest.raises(VisitAccessError):
            update_visit(visit, expected_version=1, by=user, summary="Fremd")
    visit.refresh_from_db()
    assert visit.version == 1 and visit.summary == ""


def test_manager_can_edit_any_visit(organisation, scout, manager):
    visit = record(organisation, scout, is_confidential=True)
    visit = update_visit(visit, expected_version=1, by=manager, summary="Vom Netzwerk")
    assert visit.version == 2
    assert visit.history.first().history_user == manager


def test_scout_edits_own_submitted_visit_with_history(organisation, scout):
    visit = submit_visit(record(organisation, scout), by=scout)
    visit = update_visit(visit, expected_version=visit.version, by=scout, summary="Nachtrag")
    # Look the row up by its reason: M2M snapshots of the same save may share its timestamp.
    changed = visit.history.filter(history_change_reason="Nach dem Einreichen geändert").get()
    assert changed.history_user == scout
    assert changed.summary == "Nachtrag"


def test_update_refuses_bad_input(organisation, scout):
    visit = record(organisation, scout)
    with pytest.raises(ValidationError):
        update_visit(visit, expected_version=1, by=scout, needs=["nonsense"])
    with pytest.raises(ValidationError):
        update_visit(visit, expected_version=1, by=scout, scouts=[])
    with pytest.raises(TypeError):
        update_visit(visit, expected_version=1, by=scout, version=7)
    visit.refresh_from_db()
    assert visit.version == 1


# --- submit_visit and guide rules ----------------------------------------------------


def test_submit_applies_the_follow_up_rule_exactly_once(
    organisation, scout, manager, django_capture_on_commit_callbacks
):
    organisation.responsible_manager = manager
    organisation.save()
    visit = record(
        organisation, scout, answers={"skilled_worker_shortage": True, "open_positions": 4}
    )
    with django_capture_on_commit_callbacks(execute=True):
        visit = submit_visit(visit, by=scout)
    assert visit.status == Visit.Status.SUBMITTED and visit.submitted_at
    assert visit.version == 2
    follow_up = FollowUp.objects.get()
    assert follow_up.title == "Fachkräftebedarf klären"
    assert follow_up.visit == visit and follow_up.organisation == organisation
    assert follow_up.assignee == manager
    assert follow_up.due_date == timezone.localdate() + datetime.timedelta(days=14)
    assert follow_up.history.get().history_user == scout
    assert [m.to for m in mail.outbox] == [[manager.email]]

    with pytest.raises(ValidationError):
        submit_visit(visit, by=scout)
    assert FollowUp.objects.count() == 1


def test_submit_without_matching_answer_raises_nothing(organisation, scout):
    visit = record(organisation, scout, answers={"skilled_worker_shortage": False})
    submit_visit(visit, by=scout)
    assert not FollowUp.objects.exists()


def test_rule_without_responsible_manager_leaves_follow_up_unassigned(organisation, scout):
    visit = record(organisation, scout, answers={"skilled_worker_shortage": True})
    submit_visit(visit, by=scout)
    assert FollowUp.objects.unassigned().count() == 1


def test_only_the_visits_scouts_and_managers_submit(organisation, scout, scout2):
    visit = record(organisation, scout)
    with pytest.raises(VisitAccessError):
        submit_visit(visit, by=scout2)
    visit.refresh_from_db()
    assert visit.is_draft()


# --- follow-ups ----------------------------------------------------------------------


def test_scout_proposes_a_follow_up_from_a_visit(organisation, scout):
    visit = record(organisation, scout)
    follow_up = propose_follow_up(by=scout, title=" Förderberatung ", visit=visit)
    assert follow_up.title == "Förderberatung"
    assert follow_up.organisation == organisation and follow_up.assignee is None
    assert follow_up.history.get().history_user == scout


def test_propose_refuses_funders_foreign_visits_and_no_subject(organisation, scout, scout2, funder):
    secret = record(organisation, scout, is_confidential=True)
    with pytest.raises(FollowUpAccessError):
        propose_follow_up(by=funder, title="x", organisation=organisation)
    with pytest.raises(VisitAccessError):
        propose_follow_up(by=scout2, title="x", visit=secret)
    with pytest.raises(ValidationError):
        propose_follow_up(by=scout, title="Ohne Bezug")
    assert not FollowUp.objects.exists()


def test_assignment_emails_in_german_only_after_commit(
    organisation, person, scout, manager, django_capture_on_commit_callbacks
):
    first = propose_follow_up(by=scout, title="Förderprogramm prüfen", organisation=organisation)
    second = propose_follow_up(by=scout, title="Rückruf", person=person)
    due = datetime.date(2026, 5, 4)
    with django_capture_on_commit_callbacks() as callbacks:
        changed = assign_follow_ups(
            [first, second], assignee=scout, due_date=due, priority="high", by=manager
        )
        assert mail.outbox == []
    assert changed == 2 and len(callbacks) == 1
    callbacks[0]()
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [scout.email]
    assert message.subject == "[Regio-CRM] 2 neue Wiedervorlagen für Sie"
    assert "Guten Tag Sina Scout," in message.body
    assert "Ihnen wurde zugewiesen:" in message.body
    assert "- Förderprogramm prüfen (Müller Maschinenbau GmbH, fällig am 04.05.2026, hoch)" in (
        message.body
    )
    assert "Rückruf (Anna Schmidt" in message.body
    assert "„Meine Wiedervorlagen“" in message.body

    for follow_up in (first, second):
        follow_up.refresh_from_db()
        assert (follow_up.assignee, follow_up.assigned_by) == (scout, manager)
        assert follow_up.due_date == due and follow_up.priority == "high"
        assert follow_up.history.first().history_user == manager


def test_single_assignment_subject_and_no_mail_without_address(
    organisation, scout, manager, django_capture_on_commit_callbacks
):
    follow_up = propose_follow_up(by=scout, title="Besuch nachbereiten", organisation=organisation)
    with django_capture_on_commit_callbacks(execute=True):
        assign_follow_ups([follow_up], assignee=manager, by=manager)
    assert mail.outbox[0].subject == "[Regio-CRM] Neue Wiedervorlage: Besuch nachbereiten"
    assert "ohne Fälligkeit" in mail.outbox[0].body

    mail.outbox.clear()
    scout.email = ""
    scout.save()
    with django_capture_on_commit_callbacks(execute=True):
        assign_follow_ups([follow_up], assignee=scout, by=manager)
    assert mail.outbox == []
    assert notify_assignment([follow_up.pk]) == 0


def test_reassigning_to_the_same_person_sends_nothing(
    organisation, scout, manager, django_capture_on_commit_callbacks
):
    follow_up = propose_follow_up(by=scout, title="x", organisation=organisation)
    assign_follow_ups([follow_up], assignee=scout, by=manager)
    with django_capture_on_commit_callbacks() as callbacks:
        changed = assign_follow_ups([follow_up], assignee=scout, by=manager)
    assert changed == 0 and callbacks == []


def test_only_managers_assign(organisation, scout, administration):
    follow_up = propose_follow_up(by=scout, title="x", organisation=organisation)
    for user in (scout, administration):
        with pytest.raises(FollowUpAccessError):
            assign_follow_ups([follow_up], assignee=user, by=user)
    follow_up.refresh_from_db()
    assert follow_up.assignee is None


def test_closed_follow_ups_cannot_be_assigned(organisation, scout, manager):
    follow_up = propose_follow_up(by=scout, title="x", organisation=organisation)
    complete_follow_up(follow_up, note="erledigt", by=manager)
    with pytest.raises(ValidationError):
        assign_follow_ups([follow_up], assignee=scout, by=manager)


def test_assignee_completes_a_follow_up(organisation, scout, scout2, manager):
    follow_up = propose_follow_up(by=scout, title="x", organisation=organisation)
    assign_follow_ups([follow_up], assignee=scout2, by=manager)
    with pytest.raises(FollowUpAccessError):
        complete_follow_up(follow_up, note="nicht meins", by=scout)
    done = complete_follow_up(follow_up, note=" Termin vereinbart ", by=scout2)
    assert done.status == FollowUp.Status.DONE and done.completed_at
    assert done.completion_note == "Termin vereinbart"
    assert done.history.first().history_user == scout2
    with pytest.raises(ValidationError):
        complete_follow_up(done, note="nochmal", by=scout2)
