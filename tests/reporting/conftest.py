"""Fixtures for the indicator tests: a builder that records events through the services
and then moves them to chosen moments, and a small hand-made dataset for Q3 2026."""

from __future__ import annotations

import datetime
import uuid
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from django.apps import apps as django_apps

from crm.models import District, Municipality, Organisation, Person
from pipeline.models import Match, Outcome, Stage, StageChange, TransferRequest
from pipeline.services import (
    advance_request,
    create_request,
    propose_match,
    record_outcome,
    set_match_status,
)
from pipeline.stages import install_default_stages
from scouting.guide import install_default_guide
from scouting.models import FollowUp, InterviewGuide, Visit
from scouting.services import (
    cancel_follow_up,
    complete_follow_up,
    propose_follow_up,
    record_visit,
    submit_visit,
)

BERLIN = ZoneInfo("Europe/Berlin")


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0):
    """A moment in local time (Europe/Berlin): CEST (UTC+2) in summer, CET (UTC+1) in
    winter."""
    return datetime.datetime(year, month, day, hour, minute, second, tzinfo=BERLIN)


@pytest.fixture(autouse=True)
def _reference_data(request):
    """Stages and the interview guide come from data migrations; a live-server test run
    earlier in the same worker flushes every table, so put them back."""
    uses_db = request.node.get_closest_marker("django_db") or {
        "db",
        "transactional_db",
    } & set(request.fixturenames)
    if not uses_db:
        return
    request.getfixturevalue("db")
    install_default_stages(django_apps)
    if InterviewGuide.objects.current() is None:
        install_default_guide(django_apps)


class World:
    """Builds organisations and their events. Each event is recorded through its service
    (by today's clock) and then dated with ``update()`` — the services refuse dates in
    the future and stamp ``now``, and the tests need exact moments."""

    def __init__(self, scout, manager) -> None:
        self.scout = scout
        self.manager = manager
        self._count = 0

    # Places and organisations

    def district(self, key: str, name: str) -> District:
        return District.objects.create(key=key, name=name, kind=District.Kind.LANDKREIS)

    def municipality(self, ags: str, name: str, district: District, area_type: str):
        return Municipality.objects.create(
            ags=ags,
            name=name,
            district=district,
            latitude=52.0,
            longitude=10.5,
            area_type=area_type,
        )

    def org(
        self,
        name: str,
        kind: str = Organisation.Kind.SME,
        *,
        employees: int | None = None,
        municipality: Municipality | None = None,
        founded: int | None = None,
    ) -> Organisation:
        return Organisation.objects.create(
            name=name,
            kind=kind,
            employees=employees,
            municipality=municipality,
            founding_year=founded,
        )

    # Visits

    def visit(
        self,
        organisation: Organisation,
        at: datetime.datetime,
        *,
        topics=(),
        green: bool = False,
        draft: bool = False,
    ) -> Visit:
        visit, _created = record_visit(
            uuid=uuid.uuid4(),
            organisation=organisation,
            by=self.scout,
            topics=topics,
            green_skills_interest=green,
        )
        if not draft:
            visit = submit_visit(visit, by=self.scout)
        Visit.objects.filter(pk=visit.pk).update(visited_at=at)
        return visit

    # Transfer requests

    def request(
        self, organisation: Organisation, at: datetime.datetime, *, topics=(), kind="joint_rd"
    ) -> TransferRequest:
        self._count += 1
        transfer_request = create_request(
            organisation=organisation,
            by=self.manager,
            title=f"Anfrage {self._count}",
            kind=kind,
            source=TransferRequest.Source.PHONE,
            responsible_manager=self.manager,
            topics=topics,
        )
        TransferRequest.objects.filter(pk=transfer_request.pk).update(
            created_at=at, stage_entered_at=at
        )
        StageChange.objects.filter(request=transfer_request).update(changed_at=at)
        return transfer_request

    def advance(
        self, transfer_request: TransferRequest, stage: str, at: datetime.datetime, **fields
    ) -> TransferRequest:
        advance_request(
            transfer_request, to=Stage.objects.get(key=stage), by=self.manager, **fields
        )
        change = StageChange.objects.filter(request=transfer_request).latest("pk")
        StageChange.objects.filter(pk=change.pk).update(changed_at=at)
        return transfer_request

    def match(
        self,
        transfer_request: TransferRequest,
        partner: Organisation,
        proposed: datetime.datetime,
        *,
        accepted: datetime.datetime | None = None,
        declined: datetime.datetime | None = None,
    ) -> Match:
        match = propose_match(transfer_request, partner=partner, by=self.manager)
        Match.objects.filter(pk=match.pk).update(proposed_at=proposed)
        for status, decided in (
            (Match.Status.ACCEPTED, accepted),
            (Match.Status.DECLINED, declined),
        ):
            if decided is not None:
                set_match_status(match, status=status, by=self.manager)
                Match.objects.filter(pk=match.pk).update(decided_at=decided)
        return match

    def outcome(
        self,
        transfer_request: TransferRequest,
        kind: str,
        day: datetime.date,
        *,
        partner: Organisation | None = None,
        innovation: bool = False,
    ) -> Outcome:
        outcome = record_outcome(
            transfer_request,
            kind=kind,
            by=self.manager,
            partner=partner,
            innovation_introduced=innovation,
        )
        Outcome.objects.filter(pk=outcome.pk).update(date=day)
        return outcome

    # Follow-ups

    def follow_up(
        self,
        organisation: Organisation | None = None,
        *,
        due: datetime.date | None = None,
        done_at: datetime.datetime | None = None,
        cancelled: bool = False,
        person: Person | None = None,
    ) -> FollowUp:
        follow_up = propose_follow_up(
            by=self.manager,
            title="Rückruf",
            organisation=organisation,
            person=person,
            due_date=due,
        )
        if done_at is not None:
            complete_follow_up(follow_up, note="erledigt", by=self.manager)
            FollowUp.objects.filter(pk=follow_up.pk).update(completed_at=done_at)
        if cancelled:
            cancel_follow_up(follow_up, note="nicht mehr nötig", by=self.manager)
        return follow_up


@pytest.fixture
def world(scout, manager):
    return World(scout, manager)


@pytest.fixture
def places(world):
    """Three districts: Wolfenbüttel (a rural and an urban municipality), Braunschweig
    (urban) and Goslar (rural)."""
    wf = world.district("03158", "Wolfenbüttel")
    bs = world.district("03101", "Braunschweig")
    gs = world.district("03153", "Goslar")
    return SimpleNamespace(
        wf=wf,
        bs=bs,
        gs=gs,
        cremlingen=world.municipality("03158011", "Cremlingen", wf, "rural"),
        wolfenbuettel=world.municipality("03158037", "Wolfenbüttel", wf, "urban"),
        braunschweig=world.municipality("03101000", "Braunschweig", bs, "urban"),
        langelsheim=world.municipality("03153017", "Langelsheim", gs, "rural"),
    )


@pytest.fixture
def dataset(world, places, topics):
    """The third quarter of 2026 (1.7.–30.9.2026), small enough to count by hand.

    Organisations (size class from employees; district, area type from municipality):

    ============  ==================  =====  ==========  ===========  =======
    name          kind                size   district    area         founded
    ============  ==================  =====  ==========  ===========  =======
    mueller       SME                 small  WF          rural        2024
    draft_only    SME                 ""     BS          urban
    tu            university          ""     BS          urban
    fraunhofer    research institute  ""     GS          rural
    bigco         large enterprise    large  WF          urban        2023
    startup       start-up            micro  (none)      (none)       2025
    sme_large     SME (300 staff)     large  GS          rural
    chamber       chamber             ""     WF          urban
    partner_sme   SME                 medium BS          urban
    q2_only       SME                 small  WF          rural
    ============  ==================  =====  ==========  ===========  =======

    Visits (submitted unless said): v1 mueller 10.7. [digital-ai] green-skills; v2
    mueller 5.8. [energy]; v3 mueller 20.9. []; v4 draft_only 1.8. DRAFT [digital]; v5
    tu 20.7. [digital]; v6 chamber 12.8. [energy] green-skills; v7 startup 1.9.
    [digital, digital-ai]; v8 sme_large 15.7. []; v9 q2_only 30.6. 23:59:59 (Q2); v10
    q2_only 1.10. 00:00 (Q4).

    Transfer requests: r1 mueller received 12.7. [digital-ai], tu proposed 20.7. and
    accepted 1.8., in cooperation 10.8., outcome joint R&D with tu 15.9. (innovation
    introduced), closed won 15.9.; r2 bigco received 10.5. (Q2) [energy], fraunhofer
    proposed 5.7. and never decided; r3 sme_large received 16.7. [], outcomes joint
    R&D with partner_sme 25.8. (innovation) and contract research with fraunhofer 26.8.,
    closed won 1.9.; r4 startup received 3.8. [energy], closed lost 10.9.; r6 mueller
    received 10.6. (Q2) [energy], tu proposed 12.6. and declined 20.6. (Q2), outcome
    joint R&D with fraunhofer 2.7.

    Follow-ups: f1 mueller due 15.7. done 15.7. 23:30; f2 mueller due 15.7. done 16.7.
    00:30 (15.7. 22:30 UTC); f3 chamber no due date, done 1.8.; f4 bigco due 20.8.
    cancelled; f5 startup due 30.9. done 1.9.; f6 tu due 30.6. done 29.6. (Q2); f7
    sme_large due 30.9. done 30.9. 23:59:59; f8 about a person only, due 10.8. done 9.8.
    """
    w = world
    p = places
    o = SimpleNamespace(
        mueller=w.org("Müller Maschinenbau", employees=42, municipality=p.cremlingen, founded=2024),
        draft_only=w.org("Nur Entwurf GmbH", municipality=p.braunschweig),
        tu=w.org("TU Braunschweig", Organisation.Kind.UNIVERSITY, municipality=p.braunschweig),
        fraunhofer=w.org(
            "Fraunhofer Goslar", Organisation.Kind.RESEARCH_INSTITUTE, municipality=p.langelsheim
        ),
        bigco=w.org(
            "Großkonzern AG",
            Organisation.Kind.LARGE_ENTERPRISE,
            employees=800,
            municipality=p.wolfenbuettel,
            founded=2023,
        ),
        startup=w.org("Start-up UG", Organisation.Kind.START_UP, employees=5, founded=2025),
        sme_large=w.org("Großer Mittelständler", employees=300, municipality=p.langelsheim),
        chamber=w.org("IHK", Organisation.Kind.CHAMBER, municipality=p.wolfenbuettel),
        partner_sme=w.org("Partner KMU", employees=120, municipality=p.braunschweig),
        q2_only=w.org("Nur Q2 GmbH", employees=10, municipality=p.cremlingen),
    )
    t = topics
    v = SimpleNamespace(
        v1=w.visit(o.mueller, local(2026, 7, 10, 10), topics=[t["ai"]], green=True),
        v2=w.visit(o.mueller, local(2026, 8, 5, 10), topics=[t["energy"]]),
        v3=w.visit(o.mueller, local(2026, 9, 20, 10)),
        v4=w.visit(o.draft_only, local(2026, 8, 1, 10), topics=[t["digital"]], draft=True),
        v5=w.visit(o.tu, local(2026, 7, 20, 10), topics=[t["digital"]]),
        v6=w.visit(o.chamber, local(2026, 8, 12, 10), topics=[t["energy"]], green=True),
        v7=w.visit(o.startup, local(2026, 9, 1, 10), topics=[t["digital"], t["ai"]]),
        v8=w.visit(o.sme_large, local(2026, 7, 15, 10)),
        v9=w.visit(o.q2_only, local(2026, 6, 30, 23, 59, 59)),
        v10=w.visit(o.q2_only, local(2026, 10, 1)),
    )

    r1 = w.request(o.mueller, local(2026, 7, 12, 10), topics=[t["ai"]])
    w.match(r1, o.tu, local(2026, 7, 20, 9), accepted=local(2026, 8, 1, 9))
    w.advance(r1, "in-kooperation", local(2026, 8, 10, 9))
    w.outcome(r1, "joint_rd", datetime.date(2026, 9, 15), partner=o.tu, innovation=True)
    w.advance(r1, "erfolgreich", local(2026, 9, 15, 9))

    r2 = w.request(o.bigco, local(2026, 5, 10, 10), topics=[t["energy"]])
    w.match(r2, o.fraunhofer, local(2026, 7, 5, 9))

    r3 = w.request(o.sme_large, local(2026, 7, 16, 10))
    w.outcome(r3, "joint_rd", datetime.date(2026, 8, 25), partner=o.partner_sme, innovation=True)
    w.outcome(r3, "contract_research", datetime.date(2026, 8, 26), partner=o.fraunhofer)
    w.advance(r3, "erfolgreich", local(2026, 9, 1, 9))

    r4 = w.request(o.startup, local(2026, 8, 3, 10), topics=[t["energy"]])
    w.advance(r4, "ohne-ergebnis", local(2026, 9, 10, 9), closing_reason="Kein Partner")

    r6 = w.request(o.mueller, local(2026, 6, 10, 10), topics=[t["energy"]])
    w.match(r6, o.tu, local(2026, 6, 12, 9), declined=local(2026, 6, 20, 9))
    w.outcome(r6, "joint_rd", datetime.date(2026, 7, 2), partner=o.fraunhofer)
    r = SimpleNamespace(r1=r1, r2=r2, r3=r3, r4=r4, r6=r6)

    someone = Person.objects.create(first_name="Erika", last_name="Mustermann")
    f = SimpleNamespace(
        f1=w.follow_up(
            o.mueller, due=datetime.date(2026, 7, 15), done_at=local(2026, 7, 15, 23, 30)
        ),
        f2=w.follow_up(
            o.mueller, due=datetime.date(2026, 7, 15), done_at=local(2026, 7, 16, 0, 30)
        ),
        f3=w.follow_up(o.chamber, done_at=local(2026, 8, 1, 10)),
        f4=w.follow_up(o.bigco, due=datetime.date(2026, 8, 20), cancelled=True),
        f5=w.follow_up(o.startup, due=datetime.date(2026, 9, 30), done_at=local(2026, 9, 1, 10)),
        f6=w.follow_up(o.tu, due=datetime.date(2026, 6, 30), done_at=local(2026, 6, 29, 10)),
        f7=w.follow_up(
            o.sme_large, due=datetime.date(2026, 9, 30), done_at=local(2026, 9, 30, 23, 59, 59)
        ),
        f8=w.follow_up(person=someone, due=datetime.date(2026, 8, 10), done_at=local(2026, 8, 9)),
    )
    return SimpleNamespace(orgs=o, visits=v, requests=r, follow_ups=f, places=p, topics=t)
