from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from scouting.guide import DEFAULT_GUIDE_NAME
from scouting.models import FollowUp, InterviewGuide, Visit

pytestmark = pytest.mark.django_db


def make_visit(organisation, *scouts, **fields) -> Visit:
    visit = Visit.objects.create(organisation=organisation, **fields)
    visit.scouts.set(scouts)
    return visit


def test_needs_accept_the_fixed_categories(organisation):
    visit = Visit(organisation=organisation, needs=["funding", "skilled_workers"])
    visit.full_clean()


@pytest.mark.parametrize(
    "needs", [["funding", "teleportation"], ["funding", "funding"], "funding", [1]]
)
def test_needs_refuse_unknown_duplicate_or_malformed_values(organisation, needs):
    visit = Visit(organisation=organisation, needs=needs)
    with pytest.raises(ValidationError) as error:
        visit.full_clean()
    assert "needs" in error.value.message_dict


def test_answers_are_checked_against_the_guide(organisation):
    guide = InterviewGuide.objects.current()
    visit = Visit(organisation=organisation, guide_version=guide)
    visit.answers = {"skilled_worker_shortage": True, "open_positions": 3}
    visit.full_clean()
    for bad in (
        {"no_such_question": True},
        {"skilled_worker_shortage": "ja"},
        {"open_positions": True},
        {"innovation_focus": "Zeitreisen"},
    ):
        visit.answers = bad
        with pytest.raises(ValidationError):
            visit.full_clean()
    visit.guide_version = None
    visit.answers = {"skilled_worker_shortage": True}
    with pytest.raises(ValidationError):
        visit.full_clean()


def test_default_guide_is_installed_in_german():
    guide = InterviewGuide.objects.current()
    assert guide is not None and guide.name == DEFAULT_GUIDE_NAME
    titles = list(guide.sections.values_list("title", flat=True))
    assert titles == [
        "Innovation",
        "Wissens- und Technologietransfer",
        "Fachkräfte",
        "Neue Arbeitsformen",
        "Grüne Transformation",
    ]
    for section in guide.sections.all():
        assert 3 <= section.questions.count() <= 4
    rule = guide.questions().get(key="skilled_worker_shortage").rules.get()
    assert (rule.when_value, rule.follow_up_title, rule.due_in_days) == (
        True,
        "Fachkräftebedarf klären",
        14,
    )
    assert rule.assignee_role == "network_manager"


def test_guide_versions_are_unique_per_name():
    with pytest.raises(IntegrityError), transaction.atomic():
        InterviewGuide.objects.create(name=DEFAULT_GUIDE_NAME, version=1)


def test_confidential_visits_only_for_their_scouts_and_managers(
    organisation, scout, scout2, manager, administration, funder, outsider
):
    open_visit = make_visit(organisation, scout)
    secret = make_visit(organisation, scout, is_confidential=True)
    others_secret = make_visit(organisation, scout2, is_confidential=True)

    def visible(user):
        return set(Visit.objects.for_user(user))

    assert visible(scout) == {open_visit, secret}
    assert visible(scout2) == {open_visit, others_secret}
    assert visible(manager) == {open_visit, secret, others_secret}
    assert visible(administration) == {open_visit}
    assert visible(funder) == set()
    assert visible(outsider) == set()


def test_visit_with_two_scouts_is_listed_once(organisation, scout, scout2):
    make_visit(organisation, scout, scout2, is_confidential=True)
    assert Visit.objects.for_user(scout).count() == 1


def test_edit_rights(organisation, scout, scout2, manager, administration):
    visit = make_visit(organisation, scout)
    assert visit.is_editable_by(scout)
    assert visit.is_editable_by(manager)
    assert not visit.is_editable_by(scout2)
    assert not visit.is_editable_by(administration)


def test_submit_twice_is_refused(organisation):
    visit = make_visit(organisation)
    visit.submit()
    assert visit.status == Visit.Status.SUBMITTED and visit.submitted_at
    with pytest.raises(ValidationError):
        visit.submit()


def test_submitted_visit_needs_a_date(organisation):
    with pytest.raises(IntegrityError), transaction.atomic():
        Visit.objects.create(organisation=organisation, status=Visit.Status.SUBMITTED)


def test_follow_up_needs_a_subject(organisation):
    follow_up = FollowUp(title="Anrufen")
    with pytest.raises(ValidationError):
        follow_up.full_clean()
    with pytest.raises(IntegrityError), transaction.atomic():
        follow_up.save()
    FollowUp.objects.create(title="Anrufen", organisation=organisation)


def test_overdue_due_by_and_unassigned(organisation, manager):
    today = datetime.date(2026, 3, 10)

    def follow_up(title, due, **extra):
        return FollowUp.objects.create(
            title=title, organisation=organisation, due_date=due, **extra
        )

    late = follow_up("late", today - datetime.timedelta(days=1), assignee=manager)
    due_today = follow_up("today", today)
    this_week = follow_up("week", today + datetime.timedelta(days=4))
    undated = follow_up("undated", None)
    follow_up(
        "done",
        today - datetime.timedelta(days=5),
        status=FollowUp.Status.DONE,
        completed_at=timezone.now(),
    )
    in_progress = follow_up(
        "working", today - datetime.timedelta(days=2), status=FollowUp.Status.IN_PROGRESS
    )

    assert set(FollowUp.objects.overdue(on=today)) == {late, in_progress}
    assert set(FollowUp.objects.due_by(today)) == {late, due_today, in_progress}
    assert set(FollowUp.objects.due_by(today + datetime.timedelta(days=7))) == {
        late,
        due_today,
        this_week,
        in_progress,
    }
    assert set(FollowUp.objects.unassigned()) == {due_today, this_week, undated, in_progress}
    assert late.is_overdue(on=today) and not due_today.is_overdue(on=today)
    assert not undated.is_overdue(on=today)


def test_follow_ups_for_user(organisation, scout, scout2, manager, administration, funder):
    secret_visit = make_visit(organisation, scout, is_confidential=True)
    about_secret = FollowUp.objects.create(title="geheim", visit=secret_visit)
    mine = FollowUp.objects.create(title="mir", organisation=organisation, assignee=scout2)
    general = FollowUp.objects.create(title="allgemein", organisation=organisation)

    assert set(FollowUp.objects.for_user(manager)) == {about_secret, mine, general}
    assert set(FollowUp.objects.for_user(scout)) == {about_secret}
    assert set(FollowUp.objects.for_user(scout2)) == {mine}
    assert set(FollowUp.objects.for_user(administration)) == {mine, general}
    assert set(FollowUp.objects.for_user(funder)) == set()
