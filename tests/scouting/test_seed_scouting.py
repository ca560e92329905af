"""``seed_demo``'s scouting part: demo visits and follow-ups (``scouting.demo``)."""

from __future__ import annotations

import datetime
import uuid
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from crm import demo as core
from crm.models import Affiliation, Organisation
from crm.roles import Role
from scouting import demo
from scouting.models import FollowUp, FollowUpRule, Visit
from scouting.services import propose_follow_up, record_visit, submit_visit

pytestmark = pytest.mark.django_db

SMALL = ("--organisations", "30", "--people", "60", "--visits", "40", "--follow-ups", "20")


def seed(*args: str) -> str:
    # pytest-django runs with DEBUG off, where the command wants --force.
    out = StringIO()
    call_command("seed_demo", "--force", *args, stdout=out)
    return out.getvalue()


def user(username: str):
    return get_user_model().objects.get(username=username)


def snapshot() -> dict[str, int]:
    return {
        "visits": Visit.objects.count(),
        "visit_history": Visit.history.count(),
        "follow_ups": FollowUp.objects.count(),
        "follow_up_history": FollowUp.history.count(),
        "scout_links": Visit.scouts.through.objects.count(),
        "users": get_user_model().objects.count(),
    }


def rule_matches(follow_up: FollowUp) -> bool:
    rule = FollowUpRule.objects.select_related("question").get(pk=follow_up.rule_id or 0)
    assert follow_up.visit is not None
    return follow_up.visit.answers.get(rule.question.key) == rule.when_value


def test_demo_scale_goes_through_the_services_with_realistic_history():
    output = seed(*SMALL)

    assert "einzeln über die Dienste" in output
    assert "scouting.Visit: 40" in output
    now = timezone.now()
    visits = list(
        Visit.objects.select_related("organisation", "created_by").prefetch_related(
            "scouts", "people_met", "topics"
        )
    )
    assert len(visits) == 40
    affiliated = set(Affiliation.objects.values_list("organisation_id", "person_id"))
    for visit in visits:
        scouts = {s.username for s in visit.scouts.all()}
        assert scouts and scouts <= {"scout", "scout2"}
        assert visit.created_by.username in scouts
        assert visit.organisation.external_id.startswith(core.DEMO_ORG_PREFIX)
        assert visit.topics.all()
        assert all((visit.organisation_id, p.pk) in affiliated for p in visit.people_met.all())
        visit.full_clean()  # needs and answers fit the interview guide
        assert now - datetime.timedelta(days=552) < visit.visited_at < now + datetime.timedelta(11)
        history = list(visit.history.order_by("history_id"))
        assert history[0].history_type == "+"
        assert history[0].history_date == visit.created_at
        if visit.is_draft():
            assert visit.submitted_at is None and visit.version == 1
        else:
            assert visit.visited_at <= visit.created_at <= visit.submitted_at <= now
            assert history[-1].history_date == visit.submitted_at
            assert history[-1].status == Visit.Status.SUBMITTED
            assert visit.summary
    drafts = [v for v in visits if v.is_draft()]
    assert any(v.visited_at > now for v in drafts), "a planned visit in the coming days"
    assert any(v.visited_at < now for v in drafts), "an unfinished draft"
    assert len(drafts) < 10
    assert any(v.is_confidential for v in visits)
    assert any(v.scouts.count() == 2 for v in visits)
    kinds = [v.organisation.kind for v in visits]
    assert kinds.count(Organisation.Kind.SME) > len(kinds) / 2

    follow_ups = list(FollowUp.objects.select_related("visit", "assignee"))
    assert len(follow_ups) == 20
    raised = [f for f in follow_ups if f.rule_id]
    assert raised and all(rule_matches(f) for f in raised)
    assert all(f.history.earliest("history_id").history_date == f.created_at for f in follow_ups)
    # Every submitted visit whose answers match a rule raised its follow-up, and no other did.
    rules = list(FollowUpRule.objects.select_related("question"))
    for visit in visits:
        expected = {
            r.pk
            for r in rules
            if not visit.is_draft() and visit.answers.get(r.question.key) == r.when_value
        }
        assert set(visit.follow_ups.exclude(rule=None).values_list("rule", flat=True)) == expected
    assert any(not f.rule_id and f.visit_id for f in follow_ups), "proposed by a scout"
    assignees = {f.assignee.username for f in follow_ups if f.assignee}
    assert assignees <= {"netzwerk", "netzwerk2", "scout", "scout2"} and "netzwerk" in assignees
    today = timezone.localdate()
    assert any(f.is_open() and not f.assignee_id for f in follow_ups)
    assert any(f.is_overdue(on=today) for f in follow_ups)
    done = [f for f in follow_ups if f.status == FollowUp.Status.DONE]
    assert 4 <= len(done) <= 12
    for follow_up in done:
        assert follow_up.completion_note and follow_up.created_at < follow_up.completed_at <= now
        assert follow_up.history.latest("history_id").history_date == follow_up.completed_at
    assert any(f.status == FollowUp.Status.CANCELLED for f in follow_ups)


def test_seeded_visits_keep_to_the_access_rules():
    seed(*SMALL)

    scout, scout2 = user("scout"), user("scout2")
    confidential = Visit.objects.filter(is_confidential=True)
    assert confidential.exists()
    for visit in confidential:
        for persona in (scout, scout2):
            visible = Visit.objects.for_user(persona).filter(pk=visit.pk).exists()
            assert visible == visit.scouts.filter(pk=persona.pk).exists()
    assert not Visit.objects.for_user(user("verwaltung")).filter(is_confidential=True).exists()
    assert Visit.objects.for_user(user("verwaltung")).exists()
    assert not Visit.objects.for_user(user("foerderer")).exists()
    assert Visit.objects.for_user(user("netzwerk")).count() == 40


def test_running_twice_adds_nothing():
    seed(*SMALL)
    before = snapshot()

    output = seed(*SMALL)

    assert snapshot() == before
    assert "Übersprungen: 40 Demo-Besuche" in output


@pytest.mark.parametrize("option", ["--visits", "--follow-ups"])
def test_negative_counts_are_refused_before_anything_is_written(option):
    with pytest.raises(CommandError, match="Counts must not be negative"):
        seed("--organisations", "30", "--people", "60", option, "-1")

    assert not Organisation.objects.exists()
    assert not Visit.objects.exists()


def test_without_force_and_debug_off_nothing_is_written(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG is off"):
        call_command("seed_demo", *SMALL, stdout=StringIO())

    assert not Visit.objects.exists()


def test_bulk_path_writes_consistent_links_history_and_bench_users():
    output = seed(
        "--scale", "state", "--organisations", "60", "--people", "120", "--bulk",
        "--visits", "400", "--follow-ups", "150",
    )  # fmt: skip

    assert ("COPY" if connection.vendor == "postgresql" else "bulk_create") in output
    team = {
        u.username: u.groups.get().name
        for u in get_user_model().objects.filter(username__regex=r"^(scout|netzwerk)\d\d$")
    }
    assert len(team) == demo.BENCH_SCOUTS + demo.BENCH_MANAGERS
    assert team["scout40"] == Role.SCOUT.group_name
    assert team["netzwerk15"] == Role.NETWORK_MANAGER.group_name
    assert Visit.objects.count() == 400 and FollowUp.objects.count() == 150
    assert demo.existing_demo_visits() == 400

    # One historical "created" row per record, with the M2M snapshot of that moment.
    history = Visit.history.model
    assert history.objects.filter(history_type="+").count() == 400
    for name, target in (
        ("scouts", "user_id"),
        ("people_met", "person_id"),
        ("topics", "topic_id"),
    ):
        links = set(getattr(Visit, name).through.objects.values_list("visit_id", target))
        snapshot = set(getattr(history, name).model.objects.values_list("history__id", target))
        assert links == snapshot, name
    per_visit = {v.pk: v for v in Visit.objects.prefetch_related("scouts", "people_met", "topics")}
    affiliated = set(Affiliation.objects.values_list("organisation_id", "person_id"))
    for visit in per_visit.values():
        assert 1 <= visit.scouts.count() <= 2 and 1 <= visit.topics.count() <= 3
        assert visit.people_met.count() <= 2
        assert all((visit.organisation_id, p.pk) in affiliated for p in visit.people_met.all())
        assert visit.created_by in visit.scouts.all()
    assert FollowUp.history.filter(history_type="+").count() == 150
    assert {h.history_date for h in FollowUp.history.all()} == set(
        FollowUp.objects.values_list("created_at", flat=True)
    )

    follow_ups = list(FollowUp.objects.select_related("visit", "assignee"))
    raised = [f for f in follow_ups if f.rule_id]
    assert raised and all(rule_matches(f) for f in raised)
    assert len({(f.visit_id, f.rule_id) for f in raised}) == len(raised)
    for follow_up in follow_ups:
        follow_up.full_clean()
        if follow_up.visit_id:
            assert follow_up.organisation_id == follow_up.visit.organisation_id
            assert follow_up.created_at >= follow_up.visit.submitted_at
    statuses = {f.status for f in follow_ups}
    assert statuses == set(FollowUp.Status.values)
    managers = {f.assignee.username for f in follow_ups if f.assignee}
    assert "netzwerk" in managers and any(m.startswith("netzwerk0") for m in managers)
    assert FollowUp.objects.unassigned().exists() and FollowUp.objects.overdue().exists()

    # Sequences moved past the explicit ids: the services still work afterwards.
    scout = user("scout07")
    visit, _created = record_visit(
        uuid=uuid.uuid4(), organisation=Organisation.objects.first(), by=scout
    )
    visit = submit_visit(visit, by=scout)
    assert visit.pk > max(per_visit)
    assert propose_follow_up(by=scout, title="Nach dem Seed", visit=visit).pk > max(
        f.pk for f in follow_ups
    )


def test_same_seed_gives_the_same_plan():
    seed("--organisations", "30", "--people", "60", "--visits", "0")
    catalogue = demo.Catalogue.load()
    team = demo.Team.ensure(bench=False, password="egal")
    now = timezone.now()

    def plan(seed: int) -> tuple[list, list]:
        planner = demo.Planner(catalogue, team, seed=seed, visits=60, follow_ups=25, now=now)
        skeleton = planner.skeleton()
        follow_ups = planner.follow_ups(skeleton)
        visits = [
            (r["organisation_id"], r["visited_at"], r["summary"], r["answers"], r["scouts"])
            for chunk in planner.visit_rows(skeleton)
            for r in chunk
        ]
        return visits, follow_ups

    assert plan(7) == plan(7)
    assert plan(7) != plan(8)
    assert not Visit.objects.exists()
