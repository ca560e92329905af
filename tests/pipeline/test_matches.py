"""Matches (Vermittlungen) and outcomes."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from crm.models import Person
from pipeline.models import Match, Outcome
from pipeline.services import (
    PipelineAccessError,
    advance_request,
    propose_match,
    record_outcome,
    set_match_status,
)

pytestmark = pytest.mark.django_db


def test_a_manager_proposes_a_partner_with_a_contact(transfer_request, university, manager):
    professor = Person.objects.create(first_name="Petra", last_name="Professorin")
    professor.affiliations.create(organisation=university)
    match = propose_match(
        transfer_request, partner=university, person=professor, note=" Lehrstuhl KI ", by=manager
    )
    match.refresh_from_db()
    assert (match.status, match.person, match.note, match.created_by) == (
        Match.Status.PROPOSED,
        professor,
        "Lehrstuhl KI",
        manager,
    )
    assert match.proposed_at is not None and match.decided_at is None
    assert match.history.get().history_user == manager


def test_a_partner_is_proposed_once(transfer_request, university, manager):
    propose_match(transfer_request, partner=university, by=manager)
    with pytest.raises(ValidationError, match="bereits|already"):
        propose_match(transfer_request, partner=university, by=manager)
    assert Match.objects.count() == 1


def test_bad_proposals_are_refused(transfer_request, university, organisation, person, manager):
    with pytest.raises(ValidationError) as error:
        propose_match(transfer_request, partner=organisation, by=manager)
    assert "partner" in error.value.message_dict
    with pytest.raises(ValidationError) as error:  # works at the company, not the university
        propose_match(transfer_request, partner=university, person=person, by=manager)
    assert "person" in error.value.message_dict
    assert not Match.objects.exists()


def test_no_proposals_for_a_closed_request(transfer_request, university, manager, stages):
    advance_request(transfer_request, to=stages["ohne-ergebnis"], by=manager, closing_reason="x")
    with pytest.raises(ValidationError, match="abgeschlossen|closed"):
        propose_match(transfer_request, partner=university, by=manager)


@pytest.mark.parametrize("persona", ["scout", "administration", "funder", "outsider"])
def test_only_managers_manage_matches(request, persona, transfer_request, university, manager):
    user = request.getfixturevalue(persona)
    with pytest.raises(PipelineAccessError):
        propose_match(transfer_request, partner=university, by=user)
    match = propose_match(transfer_request, partner=university, by=manager)
    with pytest.raises(PipelineAccessError):
        set_match_status(match, status=Match.Status.ACCEPTED, by=user)
    with pytest.raises(PipelineAccessError):
        record_outcome(transfer_request, kind=Outcome.Kind.HIRE, by=user)
    match.refresh_from_db()
    assert match.status == Match.Status.PROPOSED
    assert not Outcome.objects.exists()


def test_status_dates_follow_the_status(transfer_request, university, manager):
    match = propose_match(transfer_request, partner=university, by=manager)
    contacted = set_match_status(match, status=Match.Status.CONTACTED, by=manager)
    assert contacted.contacted_at is not None and contacted.decided_at is None
    accepted = set_match_status(match, status=Match.Status.ACCEPTED, by=manager, note="Zusage")
    assert accepted.decided_at >= accepted.contacted_at
    assert accepted.contacted_at == contacted.contacted_at
    assert accepted.note == "Zusage"
    # A decision may be revised, but not taken back to "contacted".
    declined = set_match_status(match, status=Match.Status.DECLINED, by=manager)
    assert declined.decided_at >= accepted.decided_at
    with pytest.raises(ValidationError):
        set_match_status(match, status=Match.Status.CONTACTED, by=manager)
    assert [h.history_user for h in match.history.all()] == [manager] * 4


def test_accepting_directly_sets_both_dates(transfer_request, university, manager):
    match = propose_match(transfer_request, partner=university, by=manager)
    accepted = set_match_status(match, status=Match.Status.ACCEPTED, by=manager)
    assert accepted.contacted_at == accepted.decided_at


@pytest.mark.parametrize("status", ["proposed", "bogus"])
def test_bad_statuses_are_refused(transfer_request, university, manager, status):
    match = propose_match(transfer_request, partner=university, by=manager)
    with pytest.raises(ValidationError):
        set_match_status(match, status=status, by=manager)
    match.refresh_from_db()
    assert match.status == Match.Status.PROPOSED


def test_record_an_outcome(transfer_request, university, manager):
    outcome = record_outcome(
        transfer_request,
        kind=Outcome.Kind.STUDENT_PROJECT,
        partner=university,
        date=datetime.date(2026, 6, 1),
        note="Masterarbeit ab Oktober",
        by=manager,
    )
    outcome.refresh_from_db()
    assert (outcome.kind, outcome.partner, outcome.date, outcome.created_by) == (
        "student_project",
        university,
        datetime.date(2026, 6, 1),
        manager,
    )
    assert outcome.history.get().history_user == manager


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"kind": "funding_application"}, "funding_programme"),
        ({"kind": "lottery"}, "kind"),
        ({"kind": "hire", "date": timezone.localdate() + datetime.timedelta(days=30)}, "date"),
    ],
)
def test_bad_outcomes_are_refused(transfer_request, manager, values, field):
    with pytest.raises(ValidationError) as error:
        record_outcome(transfer_request, by=manager, **values)
    assert field in error.value.message_dict
    assert not Outcome.objects.exists()


def test_the_requesting_company_is_not_its_own_outcome_partner(
    transfer_request, organisation, manager
):
    with pytest.raises(ValidationError):
        record_outcome(transfer_request, kind="other", partner=organisation, by=manager)
