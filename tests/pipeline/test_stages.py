"""The stages: default set, validation of administration's edits, the record."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from pipeline.models import Stage, StageChange

pytestmark = pytest.mark.django_db


def test_the_default_stages(stages):
    assert [(s.name, s.kind) for s in Stage.objects.all()] == [
        ("Eingang", "open"),
        ("Qualifiziert", "open"),
        ("Partnersuche", "open"),
        ("Vermittelt", "open"),
        ("In Kooperation", "open"),
        ("Erfolgreich abgeschlossen", "won"),
        ("Ohne Ergebnis", "lost"),
        ("Ruhend", "paused"),
    ]
    assert stages["erfolgreich"].required_fields == ["outcome"]
    assert stages["ohne-ergebnis"].required_fields == ["closing_reason"]
    assert Stage.objects.initial() == stages["eingang"]
    assert [s.key for s in Stage.objects.board_columns()] == [
        "eingang",
        "qualifiziert",
        "partnersuche",
        "vermittelt",
        "in-kooperation",
    ]
    for stage in stages.values():
        stage.full_clean()


@pytest.mark.parametrize(
    ("required", "kind", "max_days", "field"),
    [
        (["budget"], "open", None, "required_fields"),
        ("closing_reason", "open", None, "required_fields"),
        (["outcome", "outcome"], "won", None, "required_fields"),
        ([], "won", 30, "max_days"),
        ([], "open", 0, "max_days"),
    ],
)
def test_bad_stage_settings_are_refused(required, kind, max_days, field):
    stage = Stage(key="neu", name="Neu", kind=kind, required_fields=required, max_days=max_days)
    with pytest.raises(ValidationError) as error:
        stage.full_clean()
    assert field in error.value.message_dict


def test_stage_changes_cannot_be_edited(transfer_request):
    change = transfer_request.stage_changes.get()
    change.note = "nachträglich"
    with pytest.raises(ValidationError):
        change.save()
    assert StageChange.objects.get().note == ""
