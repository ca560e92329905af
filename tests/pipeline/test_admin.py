"""Administration maintains the stages in the admin; requests are read-only there."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from pipeline.models import Stage

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(administration):
    administration.is_staff = True
    administration.save()
    client = Client()
    client.force_login(administration)
    return client


def stage_form(stage, **changes):
    data = {
        "key": stage.key,
        "name": stage.name,
        "name_en": stage.name_en,
        "position": stage.position,
        "kind": stage.kind,
        "required_fields": stage.required_fields,
        "max_days": stage.max_days or "",
        "is_active": "on" if stage.is_active else "",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v != ""}


def test_administration_edits_a_stage_with_history(staff, stages, administration):
    stage = stages["partnersuche"]
    url = reverse("admin:pipeline_stage_change", args=[stage.pk])
    assert staff.get(url).status_code == 200
    response = staff.post(url, stage_form(stage, max_days=45, required_fields=["topics"]))
    assert response.status_code == 302
    stage.refresh_from_db()
    assert (stage.max_days, stage.required_fields) == (45, ["topics"])
    assert stage.history.first().history_user == administration


def test_a_bad_stage_edit_is_refused(staff, stages):
    stage = stages["erfolgreich"]
    url = reverse("admin:pipeline_stage_change", args=[stage.pk])
    response = staff.post(url, stage_form(stage, max_days=10))
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["max_days"]
    response = staff.post(url, stage_form(stage, required_fields=["budget"]))
    assert response.context["adminform"].form.errors["required_fields"]
    stage.refresh_from_db()
    assert (stage.max_days, stage.required_fields) == (None, ["outcome"])


def test_stages_are_not_deleted_and_requests_not_changed(staff, stages, transfer_request):
    stage = stages["ruhend"]
    delete = reverse("admin:pipeline_stage_delete", args=[stage.pk])
    assert staff.post(delete, {"post": "yes"}).status_code == 403
    assert Stage.objects.filter(pk=stage.pk).exists()
    change = reverse("admin:pipeline_transferrequest_change", args=[transfer_request.pk])
    assert staff.get(change).status_code == 200  # shown read-only
    assert staff.post(change, {"title": "Umbenannt"}).status_code == 403
    assert reverse("admin:pipeline_transferrequest_changelist")
    assert staff.get(reverse("admin:pipeline_stagechange_changelist")).status_code == 200


def test_a_manager_without_staff_rights_has_no_admin(client_as, manager, stages):
    response = client_as(manager).get(reverse("admin:pipeline_stage_changelist"))
    assert response.status_code == 302
