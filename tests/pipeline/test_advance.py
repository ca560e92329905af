"""advance_request: the only way a request changes stage."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import ValidationError

from crm.roles import Role
from pipeline.models import Match, Outcome, StageChange, TransferRequest
from pipeline.services import (
    PipelineAccessError,
    StageChanged,
    advance_request,
    propose_match,
    set_match_status,
    time_in_stages,
)
from tests.personas import make_user

pytestmark = pytest.mark.django_db


def accept_partner(transfer_request, partner, manager):
    match = propose_match(transfer_request, partner=partner, by=manager)
    return set_match_status(match, status=Match.Status.ACCEPTED, by=manager)


def test_a_new_request_starts_in_eingang_with_a_first_stage_change(transfer_request, stages, scout):
    assert transfer_request.stage == stages["eingang"]
    change = transfer_request.stage_changes.get()
    assert (change.from_stage, change.to_stage, change.changed_by) == (
        None,
        stages["eingang"],
        scout,
    )
    assert change.changed_at == transfer_request.stage_entered_at


def test_advance_moves_and_records_who_and_when(transfer_request, stages, manager):
    before = transfer_request.stage_entered_at
    moved = advance_request(
        transfer_request,
        to=stages["qualifiziert"],
        by=manager,
        note="  Bedarf geklärt.  ",
        expected_stage=stages["eingang"],
    )
    moved.refresh_from_db()
    assert moved.stage == stages["qualifiziert"]
    assert moved.stage_entered_at > before
    change = moved.stage_changes.last()
    assert (change.from_stage, change.to_stage, change.changed_by, change.note) == (
        stages["eingang"],
        stages["qualifiziert"],
        manager,
        "Bedarf geklärt.",
    )
    assert change.changed_at == moved.stage_entered_at
    newest = moved.history.first()
    assert newest.history_user == manager
    assert newest.stage_id == stages["qualifiziert"].pk
    assert "Qualifiziert" in newest.history_change_reason
    # The caller's object follows too.
    assert transfer_request.stage == stages["qualifiziert"]


def test_an_open_request_may_skip_stages_and_pause(transfer_request, stages, manager):
    advance_request(transfer_request, to=stages["partnersuche"], by=manager)
    advance_request(transfer_request, to=stages["ruhend"], by=manager)
    advance_request(transfer_request, to=stages["eingang"], by=manager)
    assert [c.to_stage.key for c in transfer_request.stage_changes.all()] == [
        "eingang",
        "partnersuche",
        "ruhend",
        "eingang",
    ]


def test_moving_to_the_current_stage_is_refused(transfer_request, stages, manager):
    with pytest.raises(ValidationError, match="bereits in „Eingang“|already in"):
        advance_request(transfer_request, to=stages["eingang"], by=manager)
    assert transfer_request.stage_changes.count() == 1


def test_an_inactive_stage_cannot_be_entered(transfer_request, stages, manager):
    retired = stages["partnersuche"]
    retired.is_active = False
    retired.save()
    with pytest.raises(ValidationError) as error:
        advance_request(transfer_request, to=retired, by=manager)
    assert error.value.code == "inactive"
    transfer_request.refresh_from_db()
    assert transfer_request.stage == stages["eingang"]


def test_a_missing_requirement_is_named_and_nothing_changes(transfer_request, stages, manager):
    history_rows = transfer_request.history.count()
    with pytest.raises(ValidationError) as error:
        advance_request(transfer_request, to=stages["vermittelt"], by=manager)
    assert error.value.code == "requirements"
    assert "Vermittelt" in error.value.messages[0]
    transfer_request.refresh_from_db()
    assert transfer_request.stage == stages["eingang"]
    assert transfer_request.stage_changes.count() == 1
    assert transfer_request.history.count() == history_rows


def test_an_accepted_partner_lets_the_request_be_matched(
    transfer_request, stages, manager, university
):
    match = propose_match(transfer_request, partner=university, by=manager)
    with pytest.raises(ValidationError):  # proposed is not yet accepted
        advance_request(transfer_request, to=stages["vermittelt"], by=manager)
    set_match_status(match, status=Match.Status.ACCEPTED, by=manager)
    advance_request(transfer_request, to=stages["vermittelt"], by=manager)
    assert transfer_request.stage == stages["vermittelt"]


def test_losing_needs_a_closing_reason_given_in_the_same_call(transfer_request, stages, manager):
    with pytest.raises(ValidationError, match="Abschlussgrund|closing reason"):
        advance_request(transfer_request, to=stages["ohne-ergebnis"], by=manager)
    with pytest.raises(ValidationError):
        advance_request(
            transfer_request, to=stages["ohne-ergebnis"], by=manager, closing_reason="   "
        )
    advance_request(
        transfer_request,
        to=stages["ohne-ergebnis"],
        by=manager,
        closing_reason="Firma hat intern gelöst.",
    )
    transfer_request.refresh_from_db()
    assert transfer_request.closing_reason == "Firma hat intern gelöst."
    assert TransferRequest.objects.closed().get() == transfer_request


def test_winning_needs_an_outcome_which_may_come_with_the_move(
    transfer_request, stages, manager, university
):
    accept_partner(transfer_request, university, manager)
    advance_request(transfer_request, to=stages["in-kooperation"], by=manager)
    with pytest.raises(ValidationError, match="Ergebnis|outcome"):
        advance_request(transfer_request, to=stages["erfolgreich"], by=manager)
    advance_request(
        transfer_request,
        to=stages["erfolgreich"],
        by=manager,
        outcome={
            "kind": Outcome.Kind.FUNDING_APPLICATION,
            "funding_programme": "ZIM",
            "partner": university,
        },
    )
    outcome = transfer_request.outcomes.get()
    assert (outcome.funding_programme, outcome.partner, outcome.created_by) == (
        "ZIM",
        university,
        manager,
    )
    assert TransferRequest.objects.won().get() == transfer_request


def test_an_invalid_outcome_given_with_the_move_rolls_the_move_back(
    transfer_request, stages, manager
):
    with pytest.raises(ValidationError):
        advance_request(
            transfer_request,
            to=stages["erfolgreich"],
            by=manager,
            outcome={"kind": Outcome.Kind.FUNDING_APPLICATION},  # no programme named
        )
    transfer_request.refresh_from_db()
    assert transfer_request.stage == stages["eingang"]
    assert StageChange.objects.count() == 1
    assert Outcome.objects.count() == 0


def test_a_closed_request_can_only_be_reopened_into_an_open_stage(
    transfer_request, stages, manager
):
    advance_request(transfer_request, to=stages["ohne-ergebnis"], by=manager, closing_reason="x")
    for target in ("ruhend", "erfolgreich"):
        with pytest.raises(ValidationError) as error:
            advance_request(transfer_request, to=stages[target], by=manager)
        assert error.value.code == "closed"
    advance_request(transfer_request, to=stages["partnersuche"], by=manager, note="Neuer Anlauf")
    transfer_request.refresh_from_db()
    assert transfer_request.stage == stages["partnersuche"]
    # Closing again needs a fresh reason.
    assert transfer_request.closing_reason == ""
    with pytest.raises(ValidationError):
        advance_request(transfer_request, to=stages["ohne-ergebnis"], by=manager)


def test_a_stale_expected_stage_is_refused_with_the_move_that_happened(
    transfer_request, stages, manager, scout, administration
):
    manager2 = make_user("manager2", Role.NETWORK_MANAGER)
    # Both managers see the request in "Eingang"; the first one moves it.
    seen_by_both = stages["eingang"]
    advance_request(
        transfer_request, to=stages["partnersuche"], by=manager, expected_stage=seen_by_both
    )
    with pytest.raises(StageChanged) as error:
        advance_request(
            TransferRequest.objects.get(pk=transfer_request.pk),
            to=stages["qualifiziert"],
            by=manager2,
            expected_stage=seen_by_both,
        )
    message = error.value.messages[0]
    assert "Eingang" in message and "Partnersuche" in message
    assert error.value.current == stages["partnersuche"]
    # It is a ValidationError, so views showing those show this one too.
    assert isinstance(error.value, ValidationError)
    transfer_request.refresh_from_db()
    assert transfer_request.stage == stages["partnersuche"]
    assert transfer_request.stage_changes.count() == 2


@pytest.mark.parametrize("persona", ["scout", "administration", "funder", "outsider"])
def test_only_network_managers_move_requests(request, persona, transfer_request, stages):
    user = request.getfixturevalue(persona)
    with pytest.raises(PipelineAccessError):
        advance_request(transfer_request, to=stages["qualifiziert"], by=user)
    transfer_request.refresh_from_db()
    assert transfer_request.stage == stages["eingang"]


def test_unknown_fields_are_a_programming_error(transfer_request, stages, manager):
    with pytest.raises(TypeError):
        advance_request(transfer_request, to=stages["qualifiziert"], by=manager, title="x")


def test_a_requirement_met_by_a_field_in_the_call(transfer_request, stages, manager):
    transfer_request.responsible_manager = None
    transfer_request.save()
    with pytest.raises(ValidationError, match="Netzwerkmanager|network manager"):
        advance_request(transfer_request, to=stages["qualifiziert"], by=manager)
    advance_request(
        transfer_request, to=stages["qualifiziert"], by=manager, responsible_manager=manager
    )
    transfer_request.refresh_from_db()
    assert transfer_request.responsible_manager == manager


def test_a_scout_cannot_be_made_responsible_manager(transfer_request, stages, manager, scout):
    with pytest.raises(ValidationError):
        advance_request(
            transfer_request, to=stages["qualifiziert"], by=manager, responsible_manager=scout
        )
    transfer_request.refresh_from_db()
    assert transfer_request.stage == stages["eingang"]


# --- time in stages ------------------------------------------------------------------


def test_time_in_stages_from_the_records(transfer_request, stages, manager):
    start = datetime.datetime(2026, 3, 2, 9, 0, tzinfo=datetime.UTC)
    advance_request(transfer_request, to=stages["partnersuche"], by=manager)
    advance_request(transfer_request, to=stages["ruhend"], by=manager)
    advance_request(transfer_request, to=stages["partnersuche"], by=manager)
    # Stage changes are never edited by the application; set controlled times here.
    offsets = [0, 2, 12, 40]  # days after start
    for change, days in zip(transfer_request.stage_changes.all(), offsets, strict=True):
        StageChange.objects.filter(pk=change.pk).update(
            changed_at=start + datetime.timedelta(days=days)
        )
    now = start + datetime.timedelta(days=45, hours=6)
    spent = time_in_stages(transfer_request, now=now)
    assert [(stage.key, duration) for stage, duration in spent] == [
        ("eingang", datetime.timedelta(days=2)),
        # 10 days the first time, 5 days 6 hours since the return.
        ("partnersuche", datetime.timedelta(days=15, hours=6)),
        ("ruhend", datetime.timedelta(days=28)),
    ]


def test_time_in_stages_of_a_new_request_counts_until_now(transfer_request, stages):
    now = transfer_request.stage_entered_at + datetime.timedelta(hours=3)
    assert time_in_stages(transfer_request, now=now) == [
        (stages["eingang"], datetime.timedelta(hours=3))
    ]
