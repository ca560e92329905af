"""``seed_demo``'s pipeline part: demo transfer requests (``pipeline.demo``)."""

from __future__ import annotations

import datetime
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from crm.models import Affiliation, Organisation
from pipeline import demo
from pipeline.models import Match, Outcome, Stage, StageChange, TransferRequest
from pipeline.services import create_request

pytestmark = pytest.mark.django_db

SMALL = (
    "--organisations", "40", "--people", "80", "--visits", "60", "--follow-ups", "5",
    "--transfer-requests", "40",
)  # fmt: skip


def seed(*args: str) -> str:
    # pytest-django runs with DEBUG off, where the command wants --force.
    out = StringIO()
    call_command("seed_demo", "--force", *args, stdout=out)
    return out.getvalue()


def snapshot() -> dict[str, int]:
    return {
        "requests": TransferRequest.objects.count(),
        "request_history": TransferRequest.history.count(),
        "stage_changes": StageChange.objects.count(),
        "matches": Match.objects.count(),
        "outcomes": Outcome.objects.count(),
    }


def check_consistent(requests: list[TransferRequest]) -> None:
    """Each request's stage changes tell its story: created in the first stage, moved
    forward in time, ending in its current stage; matches and outcomes fit."""
    now = timezone.now()
    affiliated = set(Affiliation.objects.values_list("organisation_id", "person_id"))
    for request in requests:
        changes = list(request.stage_changes.order_by("changed_at", "pk"))
        assert changes[0].from_stage is None and changes[0].to_stage.key == "eingang"
        assert changes[0].changed_at == request.created_at
        assert changes[-1].to_stage_id == request.stage_id
        assert changes[-1].changed_at == request.stage_entered_at
        for before, after in zip(changes, changes[1:], strict=False):
            assert after.from_stage_id == before.to_stage_id
            assert before.changed_at < after.changed_at
        assert now - datetime.timedelta(days=600) < request.created_at <= now
        assert request.stage_entered_at <= now
        if request.contact_person_id:
            assert (request.organisation_id, request.contact_person_id) in affiliated
        if request.visit_id:
            assert request.source == "visit"
            assert request.visit.organisation_id == request.organisation_id
            assert request.visit.submitted_at < request.created_at
        partners = {m.partner_id for m in request.matches.all()}
        for match in request.matches.all():
            assert match.partner.is_research_partner()
            assert match.proposed_at >= request.created_at
            if match.decided_at:
                assert match.proposed_at <= match.decided_at <= now
        reached = {c.to_stage.key for c in changes}
        if "vermittelt" in reached:
            accepted = request.matches.filter(status=Match.Status.ACCEPTED).first()
            assert accepted is not None
            entered = next(c for c in changes if c.to_stage.key == "vermittelt").changed_at
            assert accepted.decided_at <= entered
        if request.stage.kind == Stage.Kind.WON:
            outcome = request.outcomes.get()
            assert outcome.partner_id in partners
            assert outcome.date == timezone.localdate(request.stage_entered_at)
            if outcome.kind == Outcome.Kind.FUNDING_APPLICATION:
                assert outcome.funding_programme
            if outcome.innovation_introduced:  # only after research, only for SMEs (RCR03)
                assert outcome.kind in demo.INNOVATION_KINDS
                assert request.organisation.kind in ("sme", "start_up")
                assert request.organisation.size_class != "large"
        if request.stage.kind == Stage.Kind.LOST:
            assert request.closing_reason


def test_demo_scale_goes_through_the_services_with_realistic_stories():
    output = seed(*SMALL)

    assert "einzeln über die Dienste" in output
    assert "pipeline.TransferRequest: 40" in output
    requests = list(
        TransferRequest.objects.select_related("stage", "visit").prefetch_related(
            "matches__partner", "stage_changes__to_stage", "outcomes"
        )
    )
    assert len(requests) == 40
    check_consistent(requests)
    kinds = {r.stage.kind for r in requests}
    assert {Stage.Kind.OPEN, Stage.Kind.WON, Stage.Kind.LOST} <= kinds
    assert any(r.visit_id for r in requests), "some come from a visit"
    assert any(r.source != "visit" for r in requests)
    assert TransferRequest.objects.stale().exists()
    assert StageChange.objects.count() > 2.5 * len(requests)
    assert Match.objects.filter(status=Match.Status.ACCEPTED).exists()
    # The services wrote the history; each row is dated to its step, not to "now".
    for request in requests:
        history = list(request.history.order_by("history_id"))
        assert history[0].history_type == "+"
        assert history[0].history_date == request.created_at
        assert history[-1].history_date <= timezone.now() - datetime.timedelta(minutes=30)
        assert history[-1].stage_id == request.stage_id
    assert all(
        m.history.earliest("history_id").history_date == m.proposed_at for m in Match.objects.all()
    )


def test_seeded_requests_keep_to_the_access_rules():
    seed(*SMALL)

    users = {u.username: u for u in get_user_model().objects.all()}
    assert TransferRequest.objects.for_user(users["netzwerk"]).count() == 40
    assert not TransferRequest.objects.for_user(users["foerderer"]).exists()
    from_confidential = TransferRequest.objects.filter(visit__is_confidential=True)
    visible = TransferRequest.objects.for_user(users["verwaltung"])
    assert not visible.filter(pk__in=from_confidential).exists()


def test_running_twice_adds_nothing():
    seed(*SMALL)
    before = snapshot()

    output = seed(*SMALL)

    assert snapshot() == before
    assert "Übersprungen: 40 Transferanfragen" in output


def test_a_negative_count_is_refused_before_anything_is_written():
    with pytest.raises(CommandError, match="Counts must not be negative"):
        seed("--organisations", "20", "--people", "40", "--transfer-requests", "-1")

    assert not Organisation.objects.exists()
    assert not TransferRequest.objects.exists()


def test_bulk_path_writes_consistent_requests_with_history():
    output = seed(
        "--scale", "state", "--organisations", "60", "--people", "120", "--bulk",
        "--visits", "200", "--follow-ups", "10", "--transfer-requests", "300",
    )  # fmt: skip

    assert ("COPY" if connection.vendor == "postgresql" else "bulk_create") in output
    assert demo.existing_demo_requests() == 300
    requests = list(
        TransferRequest.objects.select_related("stage", "visit").prefetch_related(
            "matches__partner", "stage_changes__to_stage", "outcomes"
        )
    )
    check_consistent(requests)
    changes = StageChange.objects.count()
    assert 3.5 * 300 < changes < 6 * 300, changes  # about five per request at state scale
    assert TransferRequest.objects.stale().exists()
    assert TransferRequest.objects.filter(source="visit").count() > 60
    # One historical "created" row per request, match and outcome, with the topic snapshot.
    for model in (TransferRequest, Match, Outcome):
        assert model.history.filter(history_type="+").count() == model.objects.count()
    # About a third of the SMEs' research outcomes brought an innovation, recorded in both.
    research = Outcome.objects.filter(kind__in=demo.INNOVATION_KINDS)
    assert research.filter(innovation_introduced=True).exists()
    assert research.filter(innovation_introduced=False).exists()
    assert Outcome.history.filter(innovation_introduced=True).count() == (
        Outcome.objects.filter(innovation_introduced=True).count()
    )
    links = set(
        TransferRequest.topics.through.objects.values_list("transferrequest_id", "topic_id")
    )
    snapshot_model = TransferRequest.history.model.topics.model
    snapshot_links = set(snapshot_model.objects.values_list("history__id", "topic_id"))
    assert links and links == snapshot_links
    # Sequences were moved past the copied ids: the app creates the next request.
    manager = get_user_model().objects.get(username="netzwerk")
    new = create_request(
        organisation=Organisation.objects.filter(kind="sme").first(),
        by=manager,
        title="Neue Anfrage",
        kind="testing",
        source="email",
    )
    assert new.stage_changes.count() == 1

    again = seed(
        "--scale", "state", "--organisations", "60", "--bulk", "--transfer-requests", "300"
    )
    assert "Übersprungen: 301 Transferanfragen" in again
