"""Creating transfer requests, from scratch and from a visit; who sees them."""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from crm.models import Person
from pipeline.models import Stage, StageChange, TransferRequest
from pipeline.services import (
    PipelineAccessError,
    create_request,
    create_request_from_visit,
)
from scouting.services import record_visit

pytestmark = pytest.mark.django_db


def new_request(organisation, by, **fields):
    fields.setdefault("title", "Prüfstand gesucht")
    fields.setdefault("kind", TransferRequest.Kind.TESTING)
    fields.setdefault("source", TransferRequest.Source.EMAIL)
    return create_request(organisation=organisation, by=by, **fields)


def test_a_scout_creates_a_request_with_history(organisation, person, topics, scout, manager):
    created = new_request(
        organisation,
        scout,
        title="  Prüfstand gesucht  ",
        contact_person=person,
        responsible_manager=manager,
        expected_volume=Decimal("25000.00"),
        topics=[topics["energy"]],
    )
    created.refresh_from_db()
    assert created.title == "Prüfstand gesucht"
    assert created.created_by == scout
    assert list(created.topics.all()) == [topics["energy"]]
    assert {row.history_user for row in created.history.all()} == {scout}
    # The topics are part of the history as well.
    assert list(created.history.first().topics.values_list("topic_id", flat=True)) == [
        topics["energy"].pk
    ]


def test_the_organisations_manager_is_responsible_by_default(organisation, scout, manager):
    organisation.responsible_manager = manager
    organisation.save()
    assert new_request(organisation, scout).responsible_manager == manager


@pytest.mark.parametrize("persona", ["administration", "funder", "outsider"])
def test_only_scouts_and_managers_create_requests(request, persona, organisation):
    with pytest.raises(PipelineAccessError):
        new_request(organisation, request.getfixturevalue(persona))
    assert not TransferRequest.objects.exists()


def test_a_manager_creates_requests_too(organisation, manager):
    assert new_request(organisation, manager).created_by == manager


def test_bad_input_is_refused_and_nothing_is_stored(organisation, scout):
    stranger = Person.objects.create(first_name="Max", last_name="Fremd")
    cases = [
        ({"title": ""}, "title"),
        ({"kind": "magic"}, "kind"),
        ({"expected_volume": Decimal("-1")}, "expected_volume"),
        ({"contact_person": stranger}, "contact_person"),
        ({"responsible_manager": scout}, "responsible_manager"),
    ]
    for fields, field in cases:
        with pytest.raises(ValidationError) as error:
            new_request(organisation, scout, **fields)
        assert field in error.value.message_dict, fields
    assert not TransferRequest.objects.exists()
    assert not StageChange.objects.exists()


def test_no_open_stage_configured_is_a_clear_error(organisation, scout):
    Stage.objects.filter(kind=Stage.Kind.OPEN).update(is_active=False)
    with pytest.raises(ValidationError, match="Phase|stage"):
        new_request(organisation, scout)


def test_the_database_refuses_a_negative_volume(organisation, scout):
    created = new_request(organisation, scout)
    with pytest.raises(IntegrityError), transaction.atomic():
        TransferRequest.objects.filter(pk=created.pk).update(expected_volume=-5)


# --- from a visit --------------------------------------------------------------------


def make_visit(organisation, by, **fields):
    return record_visit(uuid=uuid.uuid4(), organisation=organisation, by=by, **fields)[0]


def test_create_from_visit_carries_everything_over(organisation, person, topics, scout):
    colleague = Person.objects.create(first_name="Bernd", last_name="Zweiter")
    colleague.affiliations.create(organisation=organisation)
    visit = make_visit(
        organisation,
        scout,
        people_met=[person, colleague],
        topics=[topics["ai"], topics["energy"]],
        needs=["technology_rd", "funding"],
        summary="Will Ausschuss mit Bilderkennung senken.",
        visited_at=datetime.datetime(2026, 5, 4, 10, tzinfo=datetime.UTC),
    )
    created = create_request_from_visit(visit, by=scout)
    created.refresh_from_db()
    assert created.organisation == organisation
    assert created.contact_person == person
    assert set(created.topics.all()) == {topics["ai"], topics["energy"]}
    assert (created.source, created.visit) == (TransferRequest.Source.VISIT, visit)
    assert created.kind == TransferRequest.Kind.JOINT_RD
    assert "Müller Maschinenbau" in created.title
    assert "04.05.2026" in created.description
    assert "Bilderkennung" in created.description
    assert created.created_by == scout
    assert created.stage.key == "eingang"


def test_create_from_visit_takes_overrides(organisation, topics, scout):
    visit = make_visit(organisation, scout, needs=["skilled_workers"], topics=[topics["ai"]])
    created = create_request_from_visit(
        visit, by=scout, title="Abschlussarbeit KI", kind="student_project", topics=[]
    )
    assert (created.title, created.kind) == ("Abschlussarbeit KI", "student_project")
    assert not created.topics.exists()
    assert created.contact_person is None
    assert created.visit == visit


def test_a_visit_without_mapped_needs_becomes_a_network_contact(organisation, scout):
    visit = make_visit(organisation, scout, needs=["training"])
    assert create_request_from_visit(visit, by=scout).kind == "network_contact"


def test_someone_elses_confidential_visit_is_refused(organisation, scout, scout2):
    visit = make_visit(organisation, scout, is_confidential=True)
    with pytest.raises(PipelineAccessError):
        create_request_from_visit(visit, by=scout2)
    assert not TransferRequest.objects.exists()


def test_the_source_cannot_be_overridden(organisation, scout):
    visit = make_visit(organisation, scout)
    created = create_request_from_visit(visit, by=scout, source="phone")
    assert created.source == "visit"


def test_a_request_linked_to_a_visit_of_another_organisation_is_refused(
    organisation, region, scout
):
    from crm.models import Organisation

    other = Organisation.objects.create(name="Andere GmbH", municipality=region["urban"])
    visit = make_visit(other, scout)
    with pytest.raises(ValidationError) as error:
        new_request(organisation, scout, source="visit", visit=visit)
    assert "organisation" in error.value.message_dict


# --- visibility ----------------------------------------------------------------------


def test_who_sees_which_requests(organisation, scout, scout2, manager, administration, funder):
    plain = new_request(organisation, scout2)
    confidential_visit = make_visit(organisation, scout, is_confidential=True)
    secret = create_request_from_visit(confidential_visit, by=scout)

    def visible(user):
        return set(TransferRequest.objects.for_user(user))

    assert visible(manager) == {plain, secret}
    assert visible(scout) == {plain, secret}
    assert visible(scout2) == {plain}
    assert visible(administration) == {plain}
    assert visible(funder) == set()


def test_outsiders_and_anonymous_see_nothing(organisation, scout, outsider):
    from django.contrib.auth.models import AnonymousUser

    new_request(organisation, scout)
    assert not TransferRequest.objects.for_user(outsider).exists()
    assert not TransferRequest.objects.for_user(AnonymousUser()).exists()


# --- stale and open ------------------------------------------------------------------


def test_stale_requests_are_those_beyond_their_stages_limit(organisation, scout, stages):
    fresh = new_request(organisation, scout)
    old = new_request(organisation, scout)
    now = old.stage_entered_at
    TransferRequest.objects.filter(pk=old.pk).update(
        stage_entered_at=now - datetime.timedelta(days=15)
    )
    TransferRequest.objects.filter(pk=fresh.pk).update(
        stage_entered_at=now - datetime.timedelta(days=13)
    )
    # Unlimited and paused stages are never stale.
    paused = new_request(organisation, scout)
    TransferRequest.objects.filter(pk=paused.pk).update(
        stage=stages["ruhend"], stage_entered_at=now - datetime.timedelta(days=900)
    )
    assert list(TransferRequest.objects.stale(on=now)) == [old]
    old.refresh_from_db()
    fresh.refresh_from_db()
    assert old.is_stale(on=now) and not fresh.is_stale(on=now)
    assert set(TransferRequest.objects.open()) == {fresh, old, paused}
    assert list(TransferRequest.objects.in_stage(stages["ruhend"])) == [paused]


def test_no_limits_means_nothing_is_stale(organisation, scout):
    new_request(organisation, scout)
    Stage.objects.update(max_days=None)
    assert not TransferRequest.objects.stale().exists()


def test_a_departed_manager_is_not_made_responsible(organisation, scout):
    from tests.personas import make_user

    former = make_user("former")  # no longer in the network managers' group
    organisation.responsible_manager = former
    organisation.save()
    assert new_request(organisation, scout).responsible_manager is None
