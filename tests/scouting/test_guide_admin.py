from __future__ import annotations

import uuid

import pytest
from django.test import Client
from django.urls import reverse

from scouting.models import FollowUpRule, GuideQuestion, InterviewGuide, Visit
from scouting.services import copy_guide_as_new_version, record_visit

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(administration):
    administration.is_staff = True
    administration.save()
    client = Client()
    client.force_login(administration)
    return client


def test_copy_makes_an_inactive_new_version_with_everything(administration):
    guide = InterviewGuide.objects.current()
    copy = copy_guide_as_new_version(guide, by=administration)
    assert copy.version == guide.version + 1 and not copy.is_active
    assert list(copy.questions().values_list("key", flat=True)) == list(
        guide.questions().values_list("key", flat=True)
    )
    assert FollowUpRule.objects.filter(question__section__guide=copy).count() == (
        FollowUpRule.objects.filter(question__section__guide=guide).count()
    )
    assert copy.history.get().history_user == administration
    assert InterviewGuide.objects.current() == guide


def test_a_guide_answered_by_visits_cannot_be_changed_in_the_admin(staff, organisation, scout):
    guide = InterviewGuide.objects.current()
    question = guide.questions().first()
    url = reverse("admin:scouting_guidequestion_change", args=[question.pk])
    assert staff.post(url, {"text": "Vorher unbenutzt"}).status_code in (200, 302)
    record_visit(uuid=uuid.uuid4(), organisation=organisation, by=scout)
    assert Visit.objects.get().guide_version == guide
    response = staff.post(url, {"text": "Geändert"})
    assert response.status_code == 403
    question.refresh_from_db()
    assert question.text != "Geändert"
    guide_url = reverse("admin:scouting_interviewguide_delete", args=[guide.pk])
    assert staff.post(guide_url, {"post": "yes"}).status_code == 403


def test_copy_and_activate_actions(staff, organisation, scout):
    guide = InterviewGuide.objects.current()
    changelist = reverse("admin:scouting_interviewguide_changelist")
    staff.post(changelist, {"action": "copy_as_new_version", "_selected_action": [guide.pk]})
    copy = InterviewGuide.objects.get(version=guide.version + 1)
    question = GuideQuestion.objects.filter(section__guide=copy).first()
    # The copy is not in use yet: it can be changed.
    change = reverse("admin:scouting_guidequestion_change", args=[question.pk])
    assert staff.get(change).context["has_change_permission"]
    staff.post(changelist, {"action": "activate", "_selected_action": [copy.pk]})
    guide.refresh_from_db()
    assert InterviewGuide.objects.current() == copy and not guide.is_active
    visit, _created = record_visit(uuid=uuid.uuid4(), organisation=organisation, by=scout)
    assert visit.guide_version == copy


def test_visits_and_follow_ups_are_read_only_in_the_admin(staff, organisation, scout):
    visit, _created = record_visit(uuid=uuid.uuid4(), organisation=organisation, by=scout)
    change = reverse("admin:scouting_visit_change", args=[visit.pk])
    assert staff.get(change).status_code in (200, 403)
    assert staff.post(change, {"summary": "x"}).status_code == 403
    assert staff.get(reverse("admin:scouting_visit_add")).status_code == 403
    assert staff.get(reverse("admin:scouting_followup_add")).status_code == 403
