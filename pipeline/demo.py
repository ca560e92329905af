"""Demo transfer requests, called by ``seed_demo`` after the core and scouting data.

One plan, drawn from a seeded random stream, serves both sizes:

- demo scale (about 150 requests over the last 18 months) goes through the services
  (``create_request_from_visit``, ``create_request``, ``propose_match``,
  ``set_match_status``, ``advance_request`` with closing reasons and outcomes), so
  requirements, history and permission checks behave as in the app. The services
  stamp "now"; each step's rows and history rows are then moved to its planned moment.
- state scale (200,000 requests, about a million stage changes) is written with
  PostgreSQL ``COPY`` (``bulk_create`` elsewhere): requests with their topics, stage
  changes, matches, outcomes, and one historical "created" row per request, match and
  outcome (with the topic snapshot simple-history keeps).

About a third of the requests come from demo visits with needs; the others from events,
calls, emails and the web form. A run that finds requests of demo organisations adds
none.
"""

from __future__ import annotations

import datetime
import random
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import connection, models, transaction
from django.db.models import Max, Min
from django.utils import timezone
from simple_history.signals import post_create_historical_record

from crm import demo as core
from crm.models import Affiliation, Organisation, Person, SizeClass, Topic
from scouting.demo import Copier, Team
from scouting.models import Visit

from .models import Match, Outcome, Stage, StageChange, TransferRequest
from .services import (
    KIND_FOR_NEED,
    advance_request,
    create_request,
    create_request_from_visit,
    propose_match,
    set_match_status,
)

Log = Callable[[str], None]

SCALES = {"demo": 150, "state": 200_000}  # requests, for the scale's organisations
MADE_FOR = {"demo": 400, "state": 300_000}
BULK_FROM = 3_000
SUSPEND_INDEXES_FROM = 50_000
CHUNK = 20_000
SPAN_DAYS = 548
DAY = 86_400.0
FROM_VISIT = 0.35
UTC = datetime.UTC

# Where a request ends up (if time allows: recent ones have not got that far yet).
FATES = (
    ("eingang", 2), ("qualifiziert", 3), ("partnersuche", 6), ("vermittelt", 6),
    ("in-kooperation", 14), ("won", 42), ("lost", 17), ("paused", 10),
)  # fmt: skip
# Days between entering one stage and the next, (low, high).
GAPS = {
    "qualifiziert": (1, 10), "partnersuche": (2, 20), "vermittelt": (7, 40),
    "in-kooperation": (5, 30), "erfolgreich": (30, 120), "ohne-ergebnis": (5, 60),
    "ruhend": (10, 40),
}  # fmt: skip
SOURCES = (("event", 25), ("phone", 30), ("email", 25), ("web_form", 20))
KINDS = (
    ("joint_rd", 25), ("contract_research", 20), ("testing", 15), ("student_project", 12),
    ("recruiting", 8), ("funding_advice", 10), ("network_contact", 7), ("space", 3),
)  # fmt: skip
OUTCOMES = (
    ("joint_rd", 30), ("contract_research", 25), ("student_project", 15),
    ("funding_application", 20), ("hire", 5), ("other", 5),
)  # fmt: skip
PROGRAMMES = ("ZIM", "Innovationsgutschein", "EFRE")
# Research outcomes after which an SME reports a new product or process (RCR03).
INNOVATION_KINDS = frozenset({"joint_rd", "contract_research"})
INNOVATION_SHARE = 0.3
TITLES = {
    "joint_rd": "Gemeinsames Entwicklungsprojekt zu {topic}",
    "contract_research": "Auftragsforschung: {topic}",
    "testing": "Prüfung und Laborzugang ({topic})",
    "student_project": "Abschlussarbeit zu {topic}",
    "recruiting": "Fachkräfte mit Schwerpunkt {topic} gesucht",
    "funding_advice": "Förderberatung für ein Vorhaben zu {topic}",
    "network_contact": "Kontakt in das Netzwerk {topic}",
    "space": "Räume für ein Team ({topic})",
}
DESCRIPTIONS = (
    "Das Unternehmen sucht eine Hochschule oder ein Institut mit Erfahrung in {topic}.",
    "Anfrage nach einer ersten Einschätzung durch die Forschung; Budget ist vorhanden.",
    "Ein Prototyp liegt vor, es fehlen Messungen und eine wissenschaftliche Begleitung.",
    "Die Geschäftsführung möchte das Thema {topic} mit einem Partner angehen.",
)
CLOSING_REASONS = (
    "Das Unternehmen hat das Vorhaben zurückgestellt.",
    "Kein passender Partner mit freien Kapazitäten gefunden.",
    "Das Unternehmen hat selbst einen Partner außerhalb der Region gefunden.",
    "Die Finanzierung kam nicht zustande.",
    "Ansprechperson hat das Unternehmen verlassen; kein Interesse mehr.",
)
OUTCOME_NOTES = (
    "Projektstart vereinbart.", "Vertrag unterschrieben.", "Antrag eingereicht.",
    "Abschlussarbeit ausgeschrieben.", "",
)  # fmt: skip


def _quiet(message: str) -> None:
    return None


def _number(n: int) -> str:
    return f"{n:,}".replace(",", ".")


def _dt(ts: float) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(round(ts), tz=UTC)


def _weighted(rng: random.Random, options: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([o for o, _w in options], weights=[w for _o, w in options])[0]


def add_arguments(parser: Any) -> None:
    parser.add_argument(
        "--transfer-requests",
        type=int,
        dest="transfer_requests",
        help=f"Number of transfer requests (demo {SCALES['demo']}, state "
        f"{SCALES['state']:,}; fewer for fewer fictional organisations).",
    )


def requests_for(scale: str, options: Mapping[str, Any], *, organisations: int) -> int:
    """How many requests to create; raises ``ValueError`` for a negative count."""
    count = round(SCALES[scale] * min(1.0, organisations / MADE_FOR[scale]))
    if options.get("transfer_requests") is not None:
        count = int(options["transfer_requests"])
    if count < 0:
        raise ValueError("Counts must not be negative.")
    return count


def check_options(*, scale: str, options: Mapping[str, Any]) -> None:
    requests_for(scale, options, organisations=MADE_FOR[scale])


def existing_demo_requests() -> int:
    return TransferRequest.objects.filter(
        organisation__external_id__startswith=core.DEMO_ORG_PREFIX
    ).count()


# --- The plan ------------------------------------------------------------------------


@dataclass
class Catalogue:
    """What requests refer to: companies, their people, visits with needs, partners."""

    companies: list[int]
    responsible: dict[int, int]
    people: dict[int, list[int]]
    topics: list[int]  # subtopics (or topics without children)
    parent: dict[int, int]
    topic_names: dict[int, str]
    partners: list[int]
    partners_by_topic: dict[int, list[int]]  # topic or parent topic → partners offering it
    visits: list[tuple[int, int, float, int, list[str], list[int]]]
    stages: dict[str, int]
    smes: set[int] = field(default_factory=set)  # companies counted as SMEs (RCR03)

    @classmethod
    def load(cls, rng: random.Random, *, visits_wanted: int) -> Catalogue:
        companies, responsible, smes = [], {}, set()
        sme_kinds = {Organisation.Kind.SME, Organisation.Kind.START_UP}
        for pk, manager, kind, size in (
            Organisation.objects.filter(external_id__startswith=core.DEMO_ORG_PREFIX)
            .exclude(kind__in=Organisation.RESEARCH_KINDS)
            .exclude(status=Organisation.Status.ARCHIVED)
            .order_by("pk")
            .values_list("pk", "responsible_manager_id", "kind", "size_class")
        ):
            companies.append(pk)
            if manager:
                responsible[pk] = manager
            if kind in sme_kinds and size != SizeClass.LARGE:
                smes.add(pk)
        people: dict[int, list[int]] = defaultdict(list)
        for org, person in (
            Affiliation.objects.filter(valid_until__isnull=True, organisation_id__in=companies)
            .order_by("pk")
            .values_list("organisation_id", "person_id")
            if len(companies) < 5_000
            else Affiliation.objects.filter(valid_until__isnull=True)
            .order_by("pk")
            .values_list("organisation_id", "person_id")
        ):
            people[org].append(person)
        names, parent, has_children = {}, {}, set()
        for pk, name, up in Topic.objects.order_by("pk").values_list("pk", "name", "parent"):
            names[pk] = name
            if up:
                parent[pk] = up
                has_children.add(up)
        partners = list(
            Organisation.objects.research_partners()
            .active()
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        by_topic: dict[int, list[int]] = defaultdict(list)
        for org, topic in (
            Organisation.offered_topics.through.objects.filter(organisation_id__in=partners)
            .order_by("pk")
            .values_list("organisation_id", "topic_id")
        ):
            for key in {topic, parent.get(topic, topic)}:
                if org not in by_topic[key]:
                    by_topic[key].append(org)
        return cls(
            companies=companies,
            responsible=responsible,
            people=dict(people),
            topics=[pk for pk in names if pk not in has_children],
            parent=parent,
            topic_names=names,
            partners=partners,
            partners_by_topic=dict(by_topic),
            visits=cls._visits(rng, visits_wanted, set(companies)),
            stages=dict(Stage.objects.values_list("key", "pk")),
            smes=smes,
        )

    @staticmethod
    def _visits(
        rng: random.Random, wanted: int, companies: set[int]
    ) -> list[tuple[int, int, float, int, list[str], list[int]]]:
        """Up to ``wanted`` submitted demo visits with needs: (id, organisation, submitted
        timestamp, scout, needs, topics), drawn by random id without reading the table."""
        if not wanted:
            return []
        bounds = Visit.objects.aggregate(low=Min("pk"), high=Max("pk"))
        if bounds["low"] is None:
            return []
        found: dict[int, tuple[int, int, float, int, list[str]]] = {}
        for _attempt in range(6):
            ids = {rng.randint(bounds["low"], bounds["high"]) for _ in range(wanted * 3)}
            for pk, org, submitted, scout, needs in (
                Visit.objects.filter(pk__in=ids, status=Visit.Status.SUBMITTED)
                .exclude(needs=[])
                .values_list("pk", "organisation_id", "submitted_at", "created_by_id", "needs")
            ):
                if org in companies and scout:
                    found[pk] = (pk, org, submitted.timestamp(), scout, list(needs))
            if len(found) >= wanted or bounds["high"] - bounds["low"] < wanted * 3:
                break
        chosen = sorted(found)[: max(wanted, 0)]
        topics: dict[int, list[int]] = defaultdict(list)
        for visit, topic in (
            Visit.topics.through.objects.filter(visit_id__in=chosen)
            .order_by("pk")
            .values_list("visit_id", "topic_id")
        ):
            topics[visit].append(topic)
        return [(*found[pk], topics[pk]) for pk in chosen]


@dataclass
class PlannedMatch:
    partner: int
    proposed: float
    contacted: float | None = None
    decided: float | None = None
    status: str = Match.Status.PROPOSED


@dataclass
class PlannedRequest:
    organisation: int
    created: float
    created_by: int
    manager: int | None
    kind: str
    source: str
    topics: list[int]
    title: str
    description: str
    moves: list[tuple[str, float]]  # (stage key, moment); the first is the creation
    visit: int | None = None
    contact: int | None = None
    priority: str = "normal"
    volume: Decimal | None = None
    matches: list[PlannedMatch] = field(default_factory=list)
    outcome: dict[str, Any] | None = None
    closing_reason: str = ""


class Planner:
    def __init__(
        self, catalogue: Catalogue, team: Team, *, seed: int, now: datetime.datetime | None = None
    ) -> None:
        self.cat = catalogue
        self.team = team
        self.rng = random.Random(seed + 4)  # noqa: S311 - reproducible demo data
        # Its own stream, so the innovation flag leaves the rest of the plan as it was.
        self.innovation_rng = random.Random(seed + 5)  # noqa: S311
        self.now_ts = (now or timezone.now()).timestamp()
        self.managers = set(team.managers)

    def requests(self, n: int) -> Iterator[PlannedRequest]:
        rng, cat = self.rng, self.cat
        from_visit = min(round(n * FROM_VISIT), len(cat.visits))
        visit_slots = set(rng.sample(range(n), from_visit)) if from_visit else set()
        visits = iter(cat.visits)
        for i in range(n):
            visit = next(visits) if i in visit_slots else None
            yield self._request(rng, visit)

    def _request(self, rng: random.Random, visit: Any) -> PlannedRequest:
        cat = self.cat
        if visit is not None:
            visit_id, org, submitted, scout, needs, topics = visit
            created = min(submitted + rng.uniform(0.2, 14) * DAY, self.now_ts - 3600)
            kind = next(
                (str(KIND_FOR_NEED[n]) for n in needs if n in KIND_FOR_NEED), "network_contact"
            )
            source, creator = "visit", scout
        else:
            visit_id, org, topics = None, rng.choice(cat.companies), []
            u = rng.random()
            share = u if rng.random() < 0.5 else 1 - u**0.5  # more recent ones more often
            created = self.now_ts - share * SPAN_DAYS * DAY - rng.uniform(0, DAY)
            kind, source = _weighted(rng, KINDS), _weighted(rng, SOURCES)
            creator = 0
        if not topics and cat.topics:
            topics = rng.sample(cat.topics, min(len(cat.topics), rng.choice((1, 1, 2))))
        manager = cat.responsible.get(org)
        if manager not in self.managers:
            manager = self.team.managers[
                min(len(self.team.managers) - 1, int(rng.random() * len(self.team.managers)))
            ]
        creator = creator or (manager if rng.random() < 0.7 else rng.choice(self.team.scouts))
        topic_name = cat.topic_names.get(topics[0], "Innovation") if topics else "Innovation"
        people = cat.people.get(org) or []
        planned = PlannedRequest(
            organisation=org,
            created=created,
            created_by=creator,
            manager=manager if rng.random() < 0.95 else None,
            kind=kind,
            source=source,
            topics=topics,
            title=TITLES[kind].format(topic=topic_name),
            description=rng.choice(DESCRIPTIONS).format(topic=topic_name),
            moves=[("eingang", created)],
            visit=visit_id,
            contact=rng.choice(people) if people and rng.random() < 0.85 else None,
            priority=_weighted(rng, (("normal", 70), ("high", 18), ("low", 12))),
            volume=Decimal(rng.choice((5, 10, 20, 25, 50, 80, 120, 250)) * 1000)
            if rng.random() < 0.5
            else None,
        )
        self._moves(rng, planned)
        return planned

    def _path(self, rng: random.Random) -> list[str]:
        fate = _weighted(rng, FATES)
        forward = ["qualifiziert", "partnersuche", "vermittelt", "in-kooperation", "erfolgreich"]
        if fate == "won":
            path = forward if rng.random() < 0.9 else forward[:3] + ["erfolgreich"]
        elif fate == "lost":
            path = forward[: rng.choice((1, 2, 3, 3, 3))] + ["ohne-ergebnis"]
        elif fate == "paused":
            path = forward[:2] + ["ruhend"]
            if rng.random() < 0.8:  # taken up again later
                path += forward[1 : rng.choice((3, 4, 5))]
        else:
            path = forward[: forward.index(fate) + 1] if fate != "eingang" else []
        if fate in ("won", "in-kooperation") and rng.random() < 0.5:
            # The company put the project on hold for a while after the match.
            at = path.index("vermittelt") + 1
            path[at:at] = ["ruhend", "vermittelt"]
        if path[:1] == ["qualifiziert"] and rng.random() < 0.15:
            path = path[1:]  # clear enough to search for a partner at once
        return path

    def _moves(self, rng: random.Random, planned: PlannedRequest) -> None:
        moment = planned.created
        for key in self._path(rng):
            low, high = GAPS.get(key, (5, 30))
            if planned.moves[-1][0] == "ruhend":
                low, high = 30, 90
            moment += rng.uniform(low, high) * DAY
            if moment > self.now_ts - 3600:
                break
            planned.moves.append((key, moment))
        self._matches(rng, planned)
        last_key, last_at = planned.moves[-1]
        if last_key == "ohne-ergebnis":
            planned.closing_reason = rng.choice(CLOSING_REASONS)
        if last_key == "erfolgreich":
            accepted = next(m for m in planned.matches if m.status == Match.Status.ACCEPTED)
            kind = _weighted(rng, OUTCOMES)
            planned.outcome = {
                "kind": kind,
                "partner": accepted.partner,
                "date": timezone.localdate(_dt(last_at)),
                "funding_programme": rng.choice(PROGRAMMES)
                if kind == "funding_application"
                else "",
                "note": rng.choice(OUTCOME_NOTES),
                "innovation_introduced": kind in INNOVATION_KINDS
                and planned.organisation in self.cat.smes
                and self.innovation_rng.random() < INNOVATION_SHARE,
            }

    def _matches(self, rng: random.Random, planned: PlannedRequest) -> None:
        keys = [k for k, _t in planned.moves]
        if "partnersuche" not in keys or not self.cat.partners:
            return
        at = dict(reversed(planned.moves))  # the first entry into each stage
        search = at["partnersuche"]
        position = keys.index("partnersuche")
        following = (
            planned.moves[position + 1][1] if position + 1 < len(keys) else self.now_ts - 600
        )
        candidates = [
            p
            for t in planned.topics
            for p in self.cat.partners_by_topic.get(t, [])
            + self.cat.partners_by_topic.get(self.cat.parent.get(t, t), [])
        ]
        wanted = rng.choice((1, 1, 2, 2, 3))
        chosen: list[int] = []
        while len(chosen) < min(wanted, len(self.cat.partners)):
            pool = candidates if candidates and rng.random() < 0.85 else self.cat.partners
            partner = rng.choice(pool)
            if partner not in chosen and partner != planned.organisation:
                chosen.append(partner)
        window = max(600.0, following - search)
        matched = "vermittelt" in keys
        for n, partner in enumerate(chosen):
            proposed = search + rng.uniform(0.02, 0.4) * window
            match = PlannedMatch(partner=partner, proposed=proposed)
            if matched and n == 0:
                match.contacted = proposed + rng.uniform(0.1, 0.4) * (at["vermittelt"] - proposed)
                match.decided = match.contacted + rng.uniform(0.3, 0.9) * (
                    at["vermittelt"] - match.contacted
                )
                match.status = Match.Status.ACCEPTED
            elif rng.random() < 0.6:
                limit = self.now_ts - 600
                match.contacted = min(proposed + rng.uniform(1, 10) * DAY, limit)
                if rng.random() < 0.6 or matched or keys[-1] == "ohne-ergebnis":
                    match.decided = min(match.contacted + rng.uniform(1, 20) * DAY, limit)
                    match.status = Match.Status.DECLINED
                else:
                    match.status = Match.Status.CONTACTED
            planned.matches.append(match)


# --- Seeding -------------------------------------------------------------------------


def seed(
    *,
    scale: str,
    seed: int,
    bulk: bool,
    log: Log = _quiet,
    options: Mapping[str, Any] | None = None,
) -> dict[str, int]:
    """Create demo transfer requests unless requests of demo organisations exist."""
    options = options or {}
    n = requests_for(scale, options, organisations=core.existing_demo_organisations())
    already = existing_demo_requests()
    if already:
        log(
            f"  Übersprungen: {_number(already)} Transferanfragen zu Demo-Organisationen sind "
            "schon da. Für andere Mengen eine leere Datenbank verwenden."
        )
        return {}
    if not n:
        return {}
    rng = random.Random(seed + 3)  # noqa: S311 - reproducible demo data
    started = time.perf_counter()

    def lap(label: str) -> None:
        log(f"  {label}: {time.perf_counter() - started:.1f} s")

    bulk = bulk or n >= BULK_FROM
    with transaction.atomic():
        team = Team.ensure(
            bench=scale == "state", password=options.get("password") or core.DEMO_PASSWORD
        )
        catalogue = Catalogue.load(rng, visits_wanted=round(n * FROM_VISIT))
        missing = {"eingang", "partnersuche", "vermittelt", "erfolgreich", "ohne-ergebnis"} - set(
            catalogue.stages
        )
        if not catalogue.companies or not team.managers or missing:
            log("  Übersprungen: keine Demo-Unternehmen, Netzwerkmanager:innen oder Phasen.")
            return {}
        how = "einzeln über die Dienste"
        if bulk:
            how = "COPY" if connection.vendor == "postgresql" else "bulk_create"
        log(f"  {_number(n)} Transferanfragen ({how}, Seed {seed})")
        planner = Planner(catalogue, team, seed=seed)
        lap("Plan (Stammdaten gelesen)")
        if bulk:
            counts = _write_bulk(planner, n, lap=lap)
        else:
            counts = _write_through_services(planner, n)
            lap("Transferanfragen über die Dienste")
    if bulk and connection.vendor == "postgresql":
        tables = [m._meta.db_table for m in _bulk_tables()]
        command = "ANALYZE" if connection.in_atomic_block else "VACUUM (ANALYZE)"
        with connection.cursor() as cursor:
            cursor.execute(f"{command} " + ", ".join(connection.ops.quote_name(t) for t in tables))
        lap(command)
    return counts


# --- Through the services (demo scale) -----------------------------------------------


class _Clock:
    """Collects the history rows each step writes, to date them to the step's moment."""

    def __init__(self) -> None:
        self.moment: float = 0.0
        self.rows: list[tuple[type[models.Model], int, float]] = []

    def __call__(self, sender: Any, history_instance: Any, **kwargs: Any) -> None:
        self.rows.append((type(history_instance), history_instance.history_id, self.moment))


def _write_through_services(planner: Planner, n: int) -> dict[str, int]:
    from django.contrib.auth import get_user_model

    users = get_user_model().objects.in_bulk(set(planner.team.managers) | set(planner.team.scouts))
    plans = list(planner.requests(n))
    orgs = Organisation.objects.in_bulk(
        {p.organisation for p in plans} | {m.partner for p in plans for m in p.matches}
    )
    visits = Visit.objects.in_bulk({p.visit for p in plans if p.visit})
    topics = Topic.objects.in_bulk({t for p in plans for t in p.topics})
    stages = {s.key: s for s in Stage.objects.all()}
    people = Person.objects.in_bulk({p.contact for p in plans if p.contact})
    clock = _Clock()
    post_create_historical_record.connect(clock, weak=False)
    made: list[TransferRequest] = []
    try:
        for plan in plans:
            made.append(_one_request(plan, clock, users, orgs, visits, topics, stages, people))
    finally:
        post_create_historical_record.disconnect(clock)
    by_model: dict[type[models.Model], dict[float, list[int]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for model, history_id, moment in clock.rows:
        by_model[model][moment].append(history_id)
    for model, moments in by_model.items():
        for moment, ids in moments.items():
            model._default_manager.filter(history_id__in=ids).update(history_date=_dt(moment))
    ids = [r.pk for r in made]
    return {
        TransferRequest._meta.label: len(made),
        StageChange._meta.label: StageChange.objects.filter(request_id__in=ids).count(),
        Match._meta.label: Match.objects.filter(request_id__in=ids).count(),
        Outcome._meta.label: Outcome.objects.filter(request_id__in=ids).count(),
    }


def _one_request(
    plan: PlannedRequest,
    clock: _Clock,
    users: dict[Any, Any],
    orgs: dict[int, Organisation],
    visits: dict[int, Visit],
    topics: dict[int, Topic],
    stages: dict[str, Stage],
    people: dict[int, Any],
) -> TransferRequest:
    manager = users.get(plan.manager) if plan.manager else None
    lead = manager or users[planner_lead(users)]
    clock.moment = plan.created
    common = {
        "responsible_manager": manager,
        "priority": plan.priority,
        "expected_volume": plan.volume,
    }
    if plan.visit and plan.visit in visits:
        request = create_request_from_visit(visits[plan.visit], by=users[plan.created_by], **common)
    else:
        request = create_request(
            organisation=orgs[plan.organisation],
            by=users[plan.created_by],
            topics=[topics[t] for t in plan.topics],
            title=plan.title,
            description=plan.description,
            kind=plan.kind,
            source=plan.source,
            contact_person=people.get(plan.contact or 0),
            **common,
        )
    created = _dt(plan.created)
    TransferRequest.objects.filter(pk=request.pk).update(
        created_at=created, stage_entered_at=created
    )
    StageChange.objects.filter(request=request).update(changed_at=created)
    TransferRequest.history.filter(id=request.pk).update(
        created_at=created, stage_entered_at=created
    )
    events: list[tuple[float, int, str, Any]] = [
        (moment, 1, "move", key) for key, moment in plan.moves[1:]
    ]
    for m in plan.matches:
        events.append((m.proposed, 0, "propose", m))
        if m.contacted is not None and m.decided is None:
            events.append((m.contacted, 0, "contact", m))
        if m.decided is not None:
            events.append((m.decided, 0, "decide", m))
    events.sort(key=lambda e: (e[0], e[1]))
    match_of: dict[int, Match] = {}
    for moment, _order, what, item in events:
        clock.moment = moment
        when = _dt(moment)
        if what == "move":
            fields: dict[str, Any] = {}
            if item == "ohne-ergebnis":
                fields["closing_reason"] = plan.closing_reason
            if item == "erfolgreich" and plan.outcome:
                fields["outcome"] = {
                    **plan.outcome,
                    "partner": orgs[plan.outcome["partner"]],
                }
            needs_manager = "responsible_manager" in stages[item].required_fields
            if needs_manager and request.responsible_manager_id is None:
                fields["responsible_manager"] = lead
            request = advance_request(request, to=stages[item], by=lead, **fields)
            TransferRequest.objects.filter(pk=request.pk).update(stage_entered_at=when)
            last = StageChange.objects.filter(request=request).order_by("-pk").first()
            StageChange.objects.filter(pk=last.pk).update(changed_at=when)  # type: ignore[union-attr]
            Outcome.objects.filter(request=request).update(created_at=when)
        elif what == "propose":
            match = propose_match(request, partner=orgs[item.partner], by=lead)
            Match.objects.filter(pk=match.pk).update(proposed_at=when)
            match_of[id(item)] = match
        else:
            match = match_of.get(id(item))
            if match is None:
                continue
            status = Match.Status.CONTACTED if what == "contact" else item.status
            set_match_status(match, status=status, by=lead)
            values = {"contacted_at": _dt(item.contacted or moment)}
            if what == "decide":
                values["decided_at"] = when
            Match.objects.filter(pk=match.pk).update(**values)
    return request


def planner_lead(users: dict[Any, Any]) -> Any:
    """A network manager to act where the plan names none."""
    from crm.roles import Role, has_role

    return next(pk for pk, u in sorted(users.items()) if has_role(u, Role.NETWORK_MANAGER))


# --- In bulk (state scale) -----------------------------------------------------------


def _bulk_tables() -> list[type[models.Model]]:
    history = TransferRequest.history.model  # type: ignore[attr-defined]
    return [
        TransferRequest,
        history,
        TransferRequest.topics.through,
        history.topics.model,
        StageChange,
        Match,
        Match.history.model,  # type: ignore[attr-defined]
        Outcome,
        Outcome.history.model,  # type: ignore[attr-defined]
    ]


def _history_copier(model: type[models.Model]) -> Copier:
    history_model = model.history.model  # type: ignore[attr-defined]
    tracked = [
        f.attname
        for f in history_model._meta.concrete_fields
        if f.attname not in core.HISTORY_FIELDS
    ]
    return Copier(history_model, [*tracked, *sorted(core.HISTORY_FIELDS)])


def _write_bulk(planner: Planner, n: int, *, lap: Callable[[str], None]) -> dict[str, int]:
    tables = _bulk_tables()
    writer = core.BulkWriter()
    writer.lock(tables)
    if n >= SUSPEND_INDEXES_FROM and n >= TransferRequest.objects.count():
        writer.suspend_indexes(tables)
    stages = planner.cat.stages
    request_fields = [f.attname for f in TransferRequest._meta.concrete_fields]
    request_copy = Copier(TransferRequest, request_fields)
    request_history = _history_copier(TransferRequest)
    topic_through = TransferRequest.topics.through
    topic_snapshot = TransferRequest.history.model.topics.model  # type: ignore[attr-defined]
    topic_copy = Copier(topic_through, ["id", "transferrequest_id", "topic_id"])
    snapshot_copy = Copier(
        topic_snapshot, ["m2m_history_id", "id", "transferrequest_id", "topic_id", "history_id"]
    )
    change_copy = Copier(
        StageChange,
        ["id", "request_id", "from_stage_id", "to_stage_id", "changed_at", "changed_by_id", "note"],
    )
    match_fields = [f.attname for f in Match._meta.concrete_fields]
    match_copy, match_history = Copier(Match, match_fields), _history_copier(Match)
    outcome_fields = [f.attname for f in Outcome._meta.concrete_fields]
    outcome_copy, outcome_history = Copier(Outcome, outcome_fields), _history_copier(Outcome)
    ids = {
        model: writer.next_id(model)
        for model in (
            TransferRequest, request_history.model, topic_through, topic_snapshot, StageChange,
            Match, match_history.model, Outcome, outcome_history.model,
        )
    }  # fmt: skip

    def take(model: type[models.Model]) -> int:
        ids[model] += 1
        return ids[model] - 1

    rows: dict[Copier, list[tuple[Any, ...]]] = defaultdict(list)

    def add(copier: Copier, values: dict[str, Any]) -> None:
        rows[copier].append(tuple(values.get(a) for a in copier.attnames))

    def flush() -> None:
        for copier in (
            request_copy, request_history, topic_copy, snapshot_copy, change_copy,
            match_copy, match_history, outcome_copy, outcome_history,
        ):  # fmt: skip
            copier.write(rows.pop(copier, []))

    def history(values: dict[str, Any], history_id: int, at: datetime.datetime, by: Any) -> dict:
        return {
            **values,
            "history_id": history_id,
            "history_date": at,
            "history_change_reason": core.SEED_REASON,
            "history_type": "+",
            "history_user_id": by,
        }

    for count, plan in enumerate(planner.requests(n), start=1):
        created = _dt(plan.created)
        last_key, last_at = plan.moves[-1]
        request_id = take(TransferRequest)
        values = {
            "id": request_id,
            "organisation_id": plan.organisation,
            "contact_person_id": plan.contact,
            "title": plan.title,
            "description": plan.description,
            "kind": plan.kind,
            "source": plan.source,
            "visit_id": plan.visit,
            "responsible_manager_id": plan.manager,
            "priority": plan.priority,
            "expected_volume": plan.volume,
            "stage_id": stages[last_key],
            "stage_entered_at": _dt(last_at),
            "closing_reason": plan.closing_reason,
            "created_by_id": plan.created_by,
            "created_at": created,
            "updated_at": _dt(last_at),
        }
        add(request_copy, values)
        history_id = take(request_history.model)
        add(request_history, history(values, history_id, created, plan.created_by))
        for topic in plan.topics:
            link = take(topic_through)
            add(topic_copy, {"id": link, "transferrequest_id": request_id, "topic_id": topic})
            add(
                snapshot_copy,
                {
                    "m2m_history_id": take(topic_snapshot),
                    "id": link,
                    "transferrequest_id": request_id,
                    "topic_id": topic,
                    "history_id": history_id,
                },
            )
        previous = None
        for key, moment in plan.moves:
            add(
                change_copy,
                {
                    "id": take(StageChange),
                    "request_id": request_id,
                    "from_stage_id": previous,
                    "to_stage_id": stages[key],
                    "changed_at": _dt(moment),
                    "changed_by_id": plan.created_by if previous is None else plan.manager,
                    "note": "",
                },
            )
            previous = stages[key]
        for m in plan.matches:
            match = {
                "id": take(Match),
                "request_id": request_id,
                "partner_id": m.partner,
                "person_id": None,
                "status": m.status,
                "proposed_at": _dt(m.proposed),
                "contacted_at": _dt(m.contacted) if m.contacted else None,
                "decided_at": _dt(m.decided) if m.decided else None,
                "note": "",
                "created_by_id": plan.manager,
            }
            add(match_copy, match)
            add(
                match_history,
                history(match, take(match_history.model), match["proposed_at"], plan.manager),
            )
        if plan.outcome:
            outcome = {
                "id": take(Outcome),
                "request_id": request_id,
                "kind": plan.outcome["kind"],
                "funding_programme": plan.outcome["funding_programme"],
                "date": plan.outcome["date"],
                "partner_id": plan.outcome["partner"],
                "innovation_introduced": plan.outcome["innovation_introduced"],
                "note": plan.outcome["note"],
                "created_by_id": plan.manager,
                "created_at": _dt(last_at),
            }
            add(outcome_copy, outcome)
            add(
                outcome_history,
                history(outcome, take(outcome_history.model), _dt(last_at), plan.manager),
            )
        if count % CHUNK == 0:
            flush()
    flush()
    lap(f"Transferanfragen ({_number(request_copy.written)} mit Phasenwechseln und Historie)")
    writer.finish()
    lap("Sequenzen und Indizes")
    return {
        copier.model._meta.label: copier.written
        for copier in (
            request_copy, request_history, topic_copy, snapshot_copy, change_copy,
            match_copy, match_history, outcome_copy, outcome_history,
        )
    }  # fmt: skip
