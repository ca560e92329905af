"""The impact-report indicators, checked against values worked out by hand.

Each indicator's rule text in the registry is the specification. The dataset of Q3 2026
is described in ``conftest.dataset``; the rules' edge cases (period boundaries and time
zones, the three-year rule, joint research, innovation, follow-ups on time) each get a
small world of their own. All moments are local time (Europe/Berlin)."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from crm.models import Municipality, Organisation, Person, SizeClass
from pipeline.models import TransferRequest
from reporting.periods import Period
from reporting.queries import (
    INDICATORS,
    REGISTRY,
    UNKNOWN,
    Breakdown,
    Scope,
    Subject,
    breakdowns,
    evidence_ids,
    figures,
    indicator,
    records,
    totals,
)

from .conftest import local

pytestmark = pytest.mark.django_db

Q2 = Period.parse("2026-Q2")
Q3 = Period.parse("2026-Q3")
Q4 = Period.parse("2026-Q4")
Q1_2027 = Period.parse("2027-Q1")

# District keys of the ``places`` fixture.
WF, BS, GS = "03158", "03101", "03153"


def region(period: Period = Q3) -> Scope:
    return Scope(period)


def pks(queryset) -> set[int]:
    return set(queryset.values_list("pk", flat=True))


def names(code: str, scope: Scope, **narrow) -> set[str]:
    """Names of the organisations an organisation figure counted."""
    return set(records(code, scope, **narrow).values_list("name", flat=True))


def split(code: str, scope: Scope, breakdown: Breakdown) -> list[tuple[str, int | float]]:
    return [(row.key, row.value) for row in breakdowns(scope, codes=[code])[code][breakdown]]


# --- Registry --------------------------------------------------------------------------


def test_registry_codes_are_unique_and_defined():
    codes = [item.code for item in INDICATORS]
    assert len(codes) == len(set(codes)) == len(REGISTRY)
    assert indicator("rco01") is REGISTRY["RCO01"]
    with pytest.raises(KeyError):
        indicator("RCO99")
    for item in INDICATORS:
        definition = item.definition()
        assert definition["rule"] and definition["rule_en"] and definition["name"]
        assert item.is_share == (item.code == "RURAL_SHARE")


def test_support_rule_reads_as_german():
    """ "mit" takes the dative: the rule said "mit mindestens ein Unterstützungsereignis"."""
    for code in ("RCO01", "RCO04"):
        rule = indicator(code).rule
        assert "mit mindestens einem Unterstützungsereignis im Zeitraum: einem " in rule
        assert "mindestens ein Unterstützungsereignis" not in rule


# --- The Q3 2026 dataset: every figure by hand ----------------------------------------


def test_every_total_by_hand(dataset):
    expected = {
        # Enterprises with a support event in Q3: mueller (3 visits, r1 received, tu
        # proposed, outcomes — still once), bigco (only: fraunhofer proposed 5.7. on its
        # Q2 request), startup (v7, r4), sme_large (v8, r3). Not: draft_only (a draft
        # only), tu/chamber (not enterprises), partner_sme (only a partner), q2_only
        # (visits at 30.6. 23:59:59 and 1.10. 00:00).
        "RCO01": 4,
        "RCO04": 4,
        # mueller (founded 2024, events in 2026 < 1.1.2027) and startup (2025); bigco was
        # founded 2023 (2026 is not before 1.1.2026), sme_large has no founding year.
        "RCO05": 2,
        # Partners of joint R&D outcomes dated in Q3: tu (r1, 15.9.) and fraunhofer (r6,
        # 2.7.; its contract research for r3 would not count). partner_sme is no
        # research institution.
        "RCO07": 2,
        # mueller (two joint R&D outcomes with research partners: once); sme_large's joint
        # R&D partner is an enterprise.
        "RCO10": 1,
        # mueller (r1: innovation introduced); sme_large's innovation does not count: 300
        # employees make it size class large.
        "RCR03": 1,
        # v1, v2, v3, v5, v6, v7, v8 (v4 is a draft, v9 in Q2, v10 in Q4).
        "VISITS": 7,
        # mueller, tu, chamber, startup, sme_large: any kind, each once.
        "ORGS_VISITED": 5,
        # r1 (12.7.), r3 (16.7.), r4 (3.8.); r2 and r6 came in Q2.
        "REQ_RECEIVED": 3,
        # r1 (tu accepted 1.8.); r6's match was declined (and in Q2).
        "REQ_MATCHED": 1,
        # r1 (in cooperation 10.8., then won 15.9.: once), r3 (won 1.9.).
        "REQ_COOPERATION": 2,
        # r1 and r3 won, r4 lost.
        "REQ_CLOSED": 3,
        # f1 (done on the due day at 23:30), f5 (early, no district), f7 (30.9.
        # 23:59:59), f8 (about a person only: region-wide). Not f2 (done the day
        # after at 00:30, though 22:30 UTC of the due day), f3 (no due date), f4
        # (cancelled), f6 (Q2).
        "FOLLOW_UPS_ON_TIME": 4,
        # Submitted Q3 visits at organisations with a municipality: v1, v2, v3
        # (Cremlingen, rural), v5 (Braunschweig, urban), v6 (Wolfenbüttel, urban), v8
        # (Langelsheim, rural); v7's start-up has none. 4 rural of 6 = 66.7 %.
        "RURAL_SHARE": 66.7,
        # mueller (v1) and chamber (v6).
        "GREEN_SKILLS": 2,
    }
    assert totals(region()) == expected
    assert totals(region(), codes=["VISITS", "RCO07"]) == {"VISITS": 7, "RCO07": 2}
    assert [(f.code, f.value) for f in figures(region())] == list(expected.items())


def test_breakdowns_by_hand(dataset):
    scope = region()
    # RCO01 counts mueller (small, WF, rural), bigco (large, WF, urban), startup (micro,
    # no municipality), sme_large (300 employees: large, GS, rural). Size classes in
    # their natural order, districts by name (Goslar, Wolfenbüttel), unknown last.
    assert split("RCO01", scope, Breakdown.SIZE_CLASS) == [("micro", 1), ("small", 1), ("large", 2)]
    assert split("RCO01", scope, Breakdown.DISTRICT) == [(GS, 1), (WF, 2), (UNKNOWN, 1)]
    assert split("RCO01", scope, Breakdown.AREA_TYPE) == [
        ("urban", 1),
        ("rural", 2),
        (UNKNOWN, 1),
    ]
    # Topics of the organisations' Q3 visits and of their requests with a Q3 event
    # (received, partner proposed, outcome), sub-topics under their parent: mueller (v1
    # digital-ai, v2 energy, r1 digital-ai) and startup (v7 digital and digital-ai, r4
    # energy) under both; bigco under energy (r2, received in Q2, fraunhofer proposed
    # in Q3); sme_large (v8, r3) had none.
    assert split("RCO01", scope, Breakdown.TOPIC) == [
        ("digital", 2),
        ("energy", 3),
        (UNKNOWN, 1),
    ]
    # VISITS: v1–v3 mueller (small, WF, rural), v5 tu (no employees: unknown size, BS,
    # urban), v6 chamber (unknown size, WF, urban), v7 startup (micro, none), v8
    # sme_large (large, GS, rural).
    assert split("VISITS", scope, Breakdown.SIZE_CLASS) == [
        ("micro", 1),
        ("small", 3),
        ("large", 1),
        (UNKNOWN, 2),
    ]
    assert split("VISITS", scope, Breakdown.DISTRICT) == [(BS, 1), (GS, 1), (WF, 4), (UNKNOWN, 1)]
    assert split("VISITS", scope, Breakdown.AREA_TYPE) == [
        ("urban", 2),
        ("rural", 4),
        (UNKNOWN, 1),
    ]
    # digital: v1 (digital-ai), v5, v7 (digital and digital-ai: once); energy: v2, v6;
    # no topic: v3, v8.
    assert split("VISITS", scope, Breakdown.TOPIC) == [("digital", 3), ("energy", 2), (UNKNOWN, 2)]
    # One organisation with two topics counts under each: mueller and startup.
    assert split("ORGS_VISITED", scope, Breakdown.TOPIC) == [
        ("digital", 3),  # mueller, tu, startup
        ("energy", 3),  # mueller, chamber, startup
        (UNKNOWN, 1),  # sme_large
    ]
    # Rural share per district: WF 3 rural (v1–v3) of 4 (v6 urban) = 75.0; BS 0 of 1
    # (v5); GS 1 of 1 (v8); the start-up's visit has no district and no base.
    assert split("RURAL_SHARE", scope, Breakdown.DISTRICT) == [
        (BS, 0.0),
        (GS, 100.0),
        (WF, 75.0),
    ]
    # Per size class: small 3 of 3; large 1 of 1 (v8); unknown 0 of 2 (v5, v6); micro
    # has no visit with a municipality.
    assert split("RURAL_SHARE", scope, Breakdown.SIZE_CLASS) == [
        ("small", 100.0),
        ("large", 100.0),
        (UNKNOWN, 0.0),
    ]
    # Per topic: digital v1 rural, v5 urban (v7 has no municipality) = 50.0; energy v2
    # rural, v6 urban = 50.0; none v3, v8 rural = 100.0.
    assert split("RURAL_SHARE", scope, Breakdown.TOPIC) == [
        ("digital", 50.0),
        ("energy", 50.0),
        (UNKNOWN, 100.0),
    ]
    # r1 and r3 had joint R&D outcomes, r3 contract research too (counts under each);
    # r4 closed lost without an outcome.
    assert split("REQ_CLOSED", scope, Breakdown.OUTCOME) == [
        ("joint_rd", 2),
        ("contract_research", 1),
        (UNKNOWN, 1),
    ]
    assert split("REQ_RECEIVED", scope, Breakdown.TOPIC) == [
        ("digital", 1),  # r1 (digital-ai)
        ("energy", 1),  # r4
        (UNKNOWN, 1),  # r3
    ]
    # f1 mueller (WF, rural), f7 sme_large (GS, rural); f5 (no municipality) and f8
    # (no organisation) unknown.
    assert split("FOLLOW_UPS_ON_TIME", scope, Breakdown.DISTRICT) == [
        (GS, 1),
        (WF, 1),
        (UNKNOWN, 2),
    ]
    # RCO07 by the research institutions' own place: tu in BS, fraunhofer in GS.
    assert split("RCO07", scope, Breakdown.DISTRICT) == [(BS, 1), (GS, 1)]
    assert set(breakdowns(scope, codes=["RCO07"])["RCO07"]) == {"district", "area_type"}


def test_breakdown_labels(dataset):
    with translation.override("en"):
        figure = {f.code: f for f in figures(region(), codes=["RCO01", "REQ_CLOSED"])}
        labels = {b: [row.label for row in rows] for b, rows in figure["RCO01"].breakdowns.items()}
        outcome = [row.label for row in figure["REQ_CLOSED"].breakdowns["outcome"]]
    assert labels["district"] == ["Goslar", "Wolfenbüttel", "unknown"]
    assert labels["size_class"] == ["micro (< 10)", "small (< 50)", "large (≥ 250)"]
    assert labels["area_type"] == ["urban", "rural", "unknown"]
    assert labels["topic"] == ["Digitalisierung & KI", "Energie", "unknown"]
    assert outcome == ["Joint R&D project", "Contract research", "no outcome"]


def test_records_are_the_counted_ones(dataset):
    o, v, r, f = dataset.orgs, dataset.visits, dataset.requests, dataset.follow_ups
    scope = region()
    # Organisations
    assert names("RCO01", scope) == {o.mueller.name, o.bigco.name, o.startup.name, o.sme_large.name}
    assert names("RCO07", scope) == {o.tu.name, o.fraunhofer.name}
    assert names("RCO01", scope, breakdown="size_class", key="large") == {
        o.bigco.name,
        o.sme_large.name,
    }
    assert names("RCO01", scope, breakdown="topic", key="digital") == {
        o.mueller.name,
        o.startup.name,
    }
    assert names("RCO01", scope, breakdown="topic", key=UNKNOWN) == {o.sme_large.name}
    assert names("RCO01", scope, breakdown="topic", key="energy") == {
        o.mueller.name,
        o.bigco.name,
        o.startup.name,
    }
    assert names("RCO01", scope, breakdown="district", key=UNKNOWN) == {o.startup.name}
    assert names("ORGS_VISITED", scope, breakdown="size_class", key=UNKNOWN) == {
        o.tu.name,
        o.chamber.name,
    }
    # Visits
    assert pks(records("VISITS", scope)) == {
        v.v1.pk, v.v2.pk, v.v3.pk, v.v5.pk, v.v6.pk, v.v7.pk, v.v8.pk,
    }  # fmt: skip
    assert pks(records("VISITS", scope, breakdown="topic", key=UNKNOWN)) == {v.v3.pk, v.v8.pk}
    assert pks(records("VISITS", scope, breakdown="topic", key="digital")) == {
        v.v1.pk,
        v.v5.pk,
        v.v7.pk,
    }
    assert pks(records("VISITS", scope, breakdown="district", key=WF)) == {
        v.v1.pk,
        v.v2.pk,
        v.v3.pk,
        v.v6.pk,
    }
    # A share lists its base, ``counted`` marks the numerator.
    rural = dict(records("RURAL_SHARE", scope).values_list("pk", "counted"))
    assert rural == {
        v.v1.pk: True, v.v2.pk: True, v.v3.pk: True, v.v8.pk: True,
        v.v5.pk: False, v.v6.pk: False,
    }  # fmt: skip
    # Requests
    assert pks(records("REQ_CLOSED", scope)) == {r.r1.pk, r.r3.pk, r.r4.pk}
    assert pks(records("REQ_CLOSED", scope, breakdown="outcome", key=UNKNOWN)) == {r.r4.pk}
    assert pks(records("REQ_CLOSED", scope, breakdown="outcome", key="joint_rd")) == {
        r.r1.pk,
        r.r3.pk,
    }
    assert pks(records("REQ_RECEIVED", scope, breakdown="topic", key=UNKNOWN)) == {r.r3.pk}
    assert pks(records("REQ_MATCHED", scope)) == {r.r1.pk}
    # Follow-ups
    assert pks(records("FOLLOW_UPS_ON_TIME", scope)) == {f.f1.pk, f.f5.pk, f.f7.pk, f.f8.pk}
    assert pks(records("FOLLOW_UPS_ON_TIME", scope, breakdown="district", key=UNKNOWN)) == {
        f.f5.pk,
        f.f8.pk,
    }


def _assert_records_agree(scope: Scope) -> None:
    """Every figure and every breakdown row equals what its records say, and the evidence
    is the counted records."""
    evidence = evidence_ids(scope)
    for figure in figures(scope):
        item = indicator(figure.code)
        listed = records(figure.code, scope)
        counted = sorted(pk for pk, flag in listed.values_list("pk", "counted") if flag)
        assert evidence[figure.code] == counted, figure.code
        if item.is_share:
            assert figure.value == _share(listed), figure.code
        else:
            assert figure.value == listed.count() == len(counted), figure.code
        for breakdown, rows in figure.breakdowns.items():
            for row in rows:
                narrowed = records(figure.code, scope, breakdown=breakdown, key=row.key)
                value = _share(narrowed) if item.is_share else narrowed.count()
                assert row.value == value, (figure.code, breakdown, row.key)
            if breakdown not in ("topic", "outcome") and not item.is_share:
                # Single-valued attributes: the rows add up to the total.
                assert sum(row.value for row in rows) == figure.value, (figure.code, breakdown)


def _share(queryset) -> float:
    flags = list(queryset.values_list("counted", flat=True))
    return round(100 * sum(flags) / len(flags), 1) if flags else 0.0


def test_records_agree_with_every_figure_and_breakdown(dataset):
    places = dataset.places
    _assert_records_agree(region())
    _assert_records_agree(Scope(Period.parse("2026"), (places.wf.pk, places.gs.pk)))


def test_nothing_to_count(places):
    result = figures(region())
    assert all(figure.value == 0 for figure in result)
    assert all(rows == [] for figure in result for rows in figure.breakdowns.values())
    assert all(ids == [] for ids in evidence_ids(Scope(Q3, (places.wf.pk,))).values())


@pytest.mark.parametrize(
    ("period", "districts"),
    [("2026", ()), ("2026", ("wf", "gs")), ("2020", ("wf",))],
    ids=["region", "districts", "nothing"],
)
def test_evidence_as_json_text_is_the_evidence(dataset, places, period, districts):
    """A report stores its evidence as JSON text written by the database (PostgreSQL) or
    by Python (SQLite): the same ids in the same order, empty lists included."""
    import json

    from reporting.queries import computing, evidence_json

    scope = Scope(Period.parse(period), tuple(getattr(places, name).pk for name in districts))
    with computing(scope) as computation:
        stored = json.loads(evidence_json(computation))
        assert stored == evidence_ids(scope, computation=computation)
    assert stored.keys() == {item.code for item in INDICATORS}
    assert bool(stored["VISITS"]) is (period == "2026")


def test_every_subject_has_evidence(dataset):
    evidence = evidence_ids(region())
    v, r, f, o = dataset.visits, dataset.requests, dataset.follow_ups, dataset.orgs
    assert evidence["VISITS"] == sorted(
        [v.v1.pk, v.v2.pk, v.v3.pk, v.v5.pk, v.v6.pk, v.v7.pk, v.v8.pk]
    )
    assert evidence["RURAL_SHARE"] == sorted([v.v1.pk, v.v2.pk, v.v3.pk, v.v8.pk])
    assert evidence["REQ_COOPERATION"] == sorted([r.r1.pk, r.r3.pk])
    assert evidence["FOLLOW_UPS_ON_TIME"] == sorted([f.f1.pk, f.f5.pk, f.f7.pk, f.f8.pk])
    assert evidence["RCO10"] == [o.mueller.pk]
    assert {i.subject for i in INDICATORS} == set(Subject)


@pytest.mark.parametrize("districts", [(), ("wf", "gs")], ids=["region", "districts"])
def test_evidence_sheets_add_up_to_the_figures(dataset, places, districts):
    """Each evidence column adds up to its figure (a percentage: to its numerator), and
    the organisations listed are those behind a figure; visits are counted from the
    organisations' facts, so this also checks that against the visits' own."""
    from reporting.queries import EVIDENCE_COUNTS, computing, indicators_of
    from reporting.services import evidence_sheets
    from scouting.models import FollowUp

    scope = Scope(Q3, tuple(getattr(places, name).pk for name in districts))
    expected = totals(scope)
    ids = evidence_ids(scope)
    with translation.override("de"), computing(scope) as computation:
        organisations, requests = [list(sheet.rows) for sheet in evidence_sheets(computation)]
    org_codes = [i.code for i in indicators_of(Subject.ORGANISATION)]
    request_codes = [i.code for i in indicators_of(Subject.REQUEST)]
    cells_of = zip(*(row[7:] for row in organisations), strict=True)
    columns = dict(zip([*org_codes, *EVIDENCE_COUNTS], cells_of, strict=True))
    # A follow-up without an organisation (f8) has no row to count in.
    on_time = FollowUp.objects.filter(pk__in=ids["FOLLOW_UPS_ON_TIME"])
    expected["FOLLOW_UPS_ON_TIME"] = on_time.exclude(organisation=None).count()
    for code, cells in columns.items():
        numerator = len(ids[code]) if indicator(code).is_share else expected[code]
        assert sum(cell or 0 for cell in cells) == numerator, code
    assert columns["VISITS"].count(None) == len(organisations) - len(
        set(Organisation.objects.filter(visits__pk__in=ids["VISITS"]).values_list("pk"))
    )
    request_cells = zip(*(row[6:] for row in requests), strict=True)
    for code, cells in zip(request_codes, request_cells, strict=True):
        assert sum(cell or 0 for cell in cells) == expected[code], code
    with translation.override("de"):  # choices as their German labels
        kinds = {str(label) for label in Organisation.Kind.labels}
        sizes = {*(str(label) for label in SizeClass.labels), None}
        areas = {*(str(label) for label in Municipality.AreaType.labels), None}
        request_kinds = {str(label) for label in TransferRequest.Kind.labels}
    assert {row[2] for row in organisations} <= kinds and "KMU" in kinds
    assert {row[3] for row in organisations} <= sizes
    assert {row[6] for row in organisations} <= areas and "ländlich" in areas
    assert {row[3] for row in requests} <= request_kinds
    assert all(isinstance(row[1], datetime.date) for row in requests)
    listed = [row[0] for row in organisations]
    assert len(listed) == len(set(listed))
    assert [row[1] for row in organisations] == sorted(row[1] for row in organisations)


def test_district_scope_counts_only_organisations_there(dataset):
    places, o = dataset.places, dataset.orgs
    wolfenbuettel = Scope(Q3, (places.wf.pk,))
    assert totals(wolfenbuettel) == {
        "RCO01": 2,  # mueller, bigco
        "RCO04": 2,
        "RCO05": 1,  # mueller
        # mueller's partners tu (Braunschweig) and fraunhofer (Goslar): the requesting
        # enterprise's district decides, the institution may be anywhere.
        "RCO07": 2,
        "RCO10": 1,  # mueller
        "RCR03": 1,  # mueller
        "VISITS": 4,  # v1, v2, v3, v6
        "ORGS_VISITED": 2,  # mueller, chamber
        "REQ_RECEIVED": 1,  # r1
        "REQ_MATCHED": 1,  # r1
        "REQ_COOPERATION": 1,  # r1
        "REQ_CLOSED": 1,  # r1
        "FOLLOW_UPS_ON_TIME": 1,  # f1 (f8 has no organisation, f5 no municipality)
        "RURAL_SHARE": 75.0,  # v1–v3 of v1–v3, v6
        "GREEN_SKILLS": 2,  # mueller, chamber
    }
    assert split("VISITS", wolfenbuettel, Breakdown.DISTRICT) == [(WF, 4)]
    assert names("RCO07", wolfenbuettel) == {o.tu.name, o.fraunhofer.name}
    # tu lies in Braunschweig, but no enterprise there had a joint project.
    braunschweig = Scope(Q3, (places.bs.pk,))
    assert totals(braunschweig, codes=["RCO01", "RCO07", "VISITS", "ORGS_VISITED"]) == {
        "RCO01": 0,  # draft_only's visit is a draft
        "RCO07": 0,
        "VISITS": 1,  # v5
        "ORGS_VISITED": 1,  # tu
    }
    two = Scope(Q3, (places.wf.pk, places.gs.pk))
    assert names("RCO01", two) == {o.mueller.name, o.bigco.name, o.sme_large.name}
    assert totals(two, codes=["VISITS", "RURAL_SHARE"]) == {
        "VISITS": 5,  # v1, v2, v3, v6, v8
        "RURAL_SHARE": 80.0,  # v1, v2, v3, v8 of five
    }


def test_figures_take_the_same_number_of_queries_for_more_data(world, places, topics):
    uni = world.org("Universität", Organisation.Kind.UNIVERSITY, municipality=places.braunschweig)
    scope = region()

    def add_enterprises(count: int) -> None:
        for n in range(count):
            enterprise = world.org(
                f"Firma {world._count} {n}",
                employees=20 + n,
                municipality=places.cremlingen if n % 2 else places.braunschweig,
                founded=2025,
            )
            world.visit(
                enterprise, local(2026, 7, 10), topics=[topics["ai"], topics["energy"]], green=True
            )
            transfer_request = world.request(enterprise, local(2026, 7, 11), topics=[topics["ai"]])
            world.match(transfer_request, uni, local(2026, 7, 12), accepted=local(2026, 7, 13))
            world.advance(transfer_request, "in-kooperation", local(2026, 7, 14))
            world.outcome(
                transfer_request,
                "joint_rd",
                datetime.date(2026, 8, 1),
                partner=uni,
                innovation=True,
            )
            world.advance(transfer_request, "erfolgreich", local(2026, 8, 2))
            world.follow_up(enterprise, due=datetime.date(2026, 8, 5), done_at=local(2026, 8, 4))

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            result = figures(scope)
        assert {f.code: f.value for f in result}["RCO01"] == enterprises
        return len(captured)

    add_enterprises(1)
    enterprises = 1
    one = queries()
    add_enterprises(4)
    enterprises = 5
    five = queries()
    assert one == five, f"{one} queries for one enterprise, {five} for five"


# --- Period boundaries and time zones --------------------------------------------------

# When an event happened (local time) and the quarter it belongs to.
MOMENTS = [
    ("1 s before Q3", local(2026, 6, 30, 23, 59, 59), Q2),
    ("30.6. 23:30 = 21:30 UTC", local(2026, 6, 30, 23, 30), Q2),
    ("Q3 starts", local(2026, 7, 1), Q3),
    ("1.7. 00:30 = 30.6. 22:30 UTC", local(2026, 7, 1, 0, 30), Q3),
    ("last second of Q3", local(2026, 9, 30, 23, 59, 59), Q3),
    ("Q4 starts", local(2026, 10, 1), Q4),
    ("31.12. 23:30 = 22:30 UTC (winter)", local(2026, 12, 31, 23, 30), Q4),
    ("1.1.2027 00:30 = 31.12. 23:30 UTC", local(2027, 1, 1, 0, 30), Q1_2027),
]


def test_local_time_offsets():
    utc = datetime.UTC
    assert local(2026, 7, 1, 0, 30).astimezone(utc) == datetime.datetime(
        2026, 6, 30, 22, 30, tzinfo=utc
    )
    assert local(2027, 1, 1, 0, 30).astimezone(utc) == datetime.datetime(
        2026, 12, 31, 23, 30, tzinfo=utc
    )
    assert Q3.start_at.astimezone(utc) == datetime.datetime(2026, 6, 30, 22, 0, tzinfo=utc)
    assert Q3.end_at.astimezone(utc) == datetime.datetime(2026, 9, 30, 22, 0, tzinfo=utc)
    assert Q4.end_at.astimezone(utc) == datetime.datetime(2026, 12, 31, 23, 0, tzinfo=utc)


@pytest.mark.parametrize("event", ["visit", "request", "match"])
def test_events_count_in_the_quarter_they_happened_in_local_time(event, world, places, topics):
    university = world.org("Uni", Organisation.Kind.UNIVERSITY, municipality=places.braunschweig)
    for label, moment, _quarter in MOMENTS:
        enterprise = world.org(label, municipality=places.cremlingen)
        if event == "visit":
            world.visit(enterprise, moment)
        elif event == "request":
            world.request(enterprise, moment)
        else:
            earlier = world.request(enterprise, local(2026, 1, 15, 12))
            world.match(earlier, university, moment)
    # A draft and a university visited do not make supported enterprises.
    world.visit(world.org("Entwurf", municipality=places.cremlingen), local(2026, 8, 1), draft=True)
    world.visit(university, local(2026, 8, 1))

    expected = {
        Q2: {"1 s before Q3", "30.6. 23:30 = 21:30 UTC"},
        Q3: {"Q3 starts", "1.7. 00:30 = 30.6. 22:30 UTC", "last second of Q3"},
        Q4: {"Q4 starts", "31.12. 23:30 = 22:30 UTC (winter)"},
        Q1_2027: {"1.1.2027 00:30 = 31.12. 23:30 UTC"},
    }
    for quarter, enterprises in expected.items():
        assert names("RCO01", region(quarter)) == enterprises, quarter.code
        assert names("RCO04", region(quarter)) == enterprises, quarter.code
    # The three Q3 moments (and for visits the university's).
    own = {"visit": ("VISITS", 4), "request": ("REQ_RECEIVED", 3)}.get(event)
    if own:
        assert totals(region(Q3), codes=[own[0]]) == {own[0]: own[1]}
    # The year 2026 holds all but the last moment.
    assert len(names("RCO01", region(Period.parse("2026")))) == 7 + (event == "match")


def test_outcome_dates_bound_the_period(world, places):
    enterprise = world.org("Firma", municipality=places.cremlingen)
    transfer_request = world.request(enterprise, local(2026, 1, 15))
    for day in (datetime.date(2026, 6, 30), datetime.date(2026, 10, 1)):
        world.outcome(transfer_request, "other", day, innovation=True)
    assert totals(region(Q3), codes=["RCO01", "RCR03"]) == {"RCO01": 0, "RCR03": 0}
    world.outcome(transfer_request, "other", datetime.date(2026, 9, 30), innovation=True)
    assert totals(region(Q3), codes=["RCO01", "RCR03"]) == {"RCO01": 1, "RCR03": 1}


# --- RCO05: new enterprises ------------------------------------------------------------


def test_rco05_counts_enterprises_less_than_three_years_old(world, places):
    def enterprise(name: str, founded: int | None):
        return world.org(name, municipality=places.cremlingen, founded=founded)

    a = enterprise("a 2024, visit 31.12.2026 23:30", 2024)
    world.visit(a, local(2026, 12, 31, 23, 30))
    b = enterprise("b 2024, visit 1.1.2027 00:30", 2024)
    world.visit(b, local(2027, 1, 1, 0, 30))  # 2026-12-31 23:30 UTC, but 2027 locally
    c = enterprise("c 2023, visit 2026", 2023)
    world.visit(c, local(2026, 8, 1))
    d = enterprise("d without founding year", None)
    world.visit(d, local(2026, 8, 1))
    e = enterprise("e 2024, visits 20.12.2026 and 10.1.2027", 2024)
    world.visit(e, local(2026, 12, 20))
    world.visit(e, local(2027, 1, 10))
    f = enterprise("f 2026, only an outcome", 2026)
    world.outcome(world.request(f, local(2026, 1, 5)), "other", datetime.date(2026, 8, 1))
    h = enterprise("h 2024, request 1.11.2026", 2024)
    world.request(h, local(2026, 11, 1))

    assert names("RCO01", region(Q3)) == {c.name, d.name, f.name}
    assert names("RCO05", region(Q3)) == {f.name}
    assert names("RCO01", region(Q4)) == {a.name, e.name, h.name}
    assert names("RCO05", region(Q4)) == {a.name, e.name, h.name}
    # In 2027 the companies founded 2024 are three years old.
    assert names("RCO01", region(Q1_2027)) == {b.name, e.name}
    assert names("RCO05", region(Q1_2027)) == set()
    # Over December and January, e's first event in the period (20.12.2026) decides.
    winter = Period.parse("2026-12-01..2027-01-31")
    assert names("RCO01", region(winter)) == {a.name, b.name, e.name}
    assert names("RCO05", region(winter)) == {a.name, e.name}


# --- RCO07 and RCO10: joint research ---------------------------------------------------


def test_joint_research_counts_enterprise_and_research_institution(world, places):
    p = places
    uni = world.org("Uni BS", Organisation.Kind.UNIVERSITY, municipality=p.braunschweig)
    uni_nowhere = world.org("Uni ohne Ort", Organisation.Kind.UNIVERSITY)
    institute = world.org(
        "Institut GS", Organisation.Kind.RESEARCH_INSTITUTE, municipality=p.langelsheim
    )
    joint = world.org("Gemeinsam WF", municipality=p.cremlingen)
    contract = world.org("Auftrag WF", municipality=p.cremlingen)
    with_enterprise = world.org("Mit Firma GS", municipality=p.langelsheim)
    enterprise_partner = world.org("Partnerfirma BS", municipality=p.braunschweig)
    earlier = world.org("Früher WF", municipality=p.cremlingen)

    def outcome(requester, kind, day, partner):
        transfer_request = world.request(requester, local(2026, 1, 10))
        world.outcome(transfer_request, kind, day, partner=partner)

    outcome(joint, "joint_rd", datetime.date(2026, 7, 1), uni)
    outcome(joint, "joint_rd", datetime.date(2026, 9, 30), uni_nowhere)
    outcome(contract, "contract_research", datetime.date(2026, 8, 1), institute)
    outcome(with_enterprise, "joint_rd", datetime.date(2026, 8, 1), enterprise_partner)
    outcome(earlier, "joint_rd", datetime.date(2026, 6, 30), institute)

    assert names("RCO10", region(Q3)) == {joint.name}
    assert names("RCO07", region(Q3)) == {uni.name, uni_nowhere.name}
    # Contract research and a joint project with an enterprise are support all the same.
    assert names("RCO01", region(Q3)) == {joint.name, contract.name, with_enterprise.name}
    assert names("RCO10", region(Q2)) == {earlier.name}
    assert names("RCO07", region(Q2)) == {institute.name}

    # With districts, the requesting enterprise's district decides for RCO07.
    assert totals(Scope(Q3, (p.wf.pk,)), codes=["RCO07", "RCO10"]) == {"RCO07": 2, "RCO10": 1}
    assert totals(Scope(Q3, (p.bs.pk,)), codes=["RCO07", "RCO10"]) == {"RCO07": 0, "RCO10": 0}
    assert totals(Scope(Q3, (p.gs.pk,)), codes=["RCO07", "RCO10"]) == {"RCO07": 0, "RCO10": 0}
    # ... and the breakdown shows where the institutions are.
    assert split("RCO07", Scope(Q3, (p.wf.pk,)), Breakdown.DISTRICT) == [(BS, 1), (UNKNOWN, 1)]


# --- RCR03: innovation -----------------------------------------------------------------


def test_rcr03_counts_smes_that_introduced_an_innovation(world, places):
    def with_outcome(
        name, kind=Organisation.Kind.SME, *, employees=None, innovation=True, day=None
    ):
        enterprise = world.org(name, kind, employees=employees, municipality=places.cremlingen)
        transfer_request = world.request(enterprise, local(2026, 1, 10))
        world.outcome(
            transfer_request, "other", day or datetime.date(2026, 8, 1), innovation=innovation
        )
        return enterprise

    small = with_outcome("KMU klein", employees=20)
    with_outcome("KMU ohne Innovation", employees=20, innovation=False)
    with_outcome("Großunternehmen", Organisation.Kind.LARGE_ENTERPRISE, employees=100)
    with_outcome("KMU mit 250", employees=250)  # size class large
    medium = with_outcome("KMU mit 249", employees=249)
    startup = with_outcome("Start-up", Organisation.Kind.START_UP)  # no head count: counted
    with_outcome("KMU im Juni", employees=20, day=datetime.date(2026, 6, 30))

    assert names("RCR03", region(Q3)) == {small.name, medium.name, startup.name}
    assert totals(region(Q3), codes=["RCR03", "RCO01"]) == {"RCR03": 3, "RCO01": 6}


# --- Visits, organisations, follow-ups, requests ---------------------------------------


def test_follow_ups_on_time_by_local_day(world, places):
    org = world.org("Firma", municipality=places.cremlingen)
    person = Person.objects.create(last_name="Ohne Firma")
    due = datetime.date(2026, 7, 15)
    on_due_day = world.follow_up(org, due=due, done_at=local(2026, 7, 15, 23, 30))
    # 16.7. 00:30 local is 15.7. 22:30 UTC: the day after, so late.
    world.follow_up(org, due=due, done_at=local(2026, 7, 16, 0, 30))
    early = world.follow_up(
        person=person, due=datetime.date(2026, 8, 31), done_at=local(2026, 8, 1)
    )
    world.follow_up(org, done_at=local(2026, 8, 1))  # no due date
    world.follow_up(org, due=due, cancelled=True)
    world.follow_up(org, due=due)  # still open
    world.follow_up(org, due=datetime.date(2026, 7, 1), done_at=local(2026, 6, 30, 23, 59, 59))
    # Winter: 15.12. 23:30 local is 22:30 UTC, 16.12. 00:30 local is 15.12. 23:30 UTC.
    winter = world.follow_up(
        org, due=datetime.date(2026, 12, 15), done_at=local(2026, 12, 15, 23, 30)
    )
    world.follow_up(org, due=datetime.date(2026, 12, 15), done_at=local(2026, 12, 16, 0, 30))

    assert pks(records("FOLLOW_UPS_ON_TIME", region(Q3))) == {on_due_day.pk, early.pk}
    assert pks(records("FOLLOW_UPS_ON_TIME", region(Q4))) == {winter.pk}
    assert pks(records("FOLLOW_UPS_ON_TIME", Scope(Q3, (places.wf.pk,)))) == {on_due_day.pk}
    assert totals(region(Q2), codes=["FOLLOW_UPS_ON_TIME"]) == {"FOLLOW_UPS_ON_TIME": 1}


def test_request_figures_count_each_request_once(world, places):
    org = world.org("Firma", municipality=places.cremlingen)
    uni1 = world.org("Uni 1", Organisation.Kind.UNIVERSITY, municipality=places.braunschweig)
    uni2 = world.org("Uni 2", Organisation.Kind.UNIVERSITY, municipality=places.braunschweig)
    # Closed, reopened and closed again in Q3: one closed request.
    twice = world.request(org, local(2026, 7, 5))
    world.advance(twice, "ohne-ergebnis", local(2026, 7, 10), closing_reason="Kein Bedarf")
    world.advance(twice, "eingang", local(2026, 7, 20))
    world.advance(twice, "ohne-ergebnis", local(2026, 8, 1), closing_reason="Wieder kein Bedarf")
    # Two partners accepted, cooperation and success in Q3: matched, cooperating, closed once.
    won = world.request(org, local(2026, 6, 1))
    world.match(won, uni1, local(2026, 6, 2), accepted=local(2026, 7, 10))
    world.match(won, uni2, local(2026, 6, 3), accepted=local(2026, 8, 10))
    world.advance(won, "in-kooperation", local(2026, 8, 15))
    world.outcome(won, "joint_rd", datetime.date(2026, 8, 31), partner=uni1)
    world.advance(won, "erfolgreich", local(2026, 9, 1))
    # Declined in Q3, accepted in Q2, only as far as "matched": none of these count.
    declined = world.request(org, local(2026, 6, 1))
    world.match(declined, uni1, local(2026, 6, 2), declined=local(2026, 7, 10))
    accepted_before = world.request(org, local(2026, 6, 1))
    world.match(accepted_before, uni1, local(2026, 6, 2), accepted=local(2026, 6, 30, 23, 59))
    world.advance(accepted_before, "vermittelt", local(2026, 7, 5))

    scope = region(Q3)
    assert pks(records("REQ_RECEIVED", scope)) == {twice.pk}
    assert pks(records("REQ_MATCHED", scope)) == {won.pk}
    assert pks(records("REQ_COOPERATION", scope)) == {won.pk}
    assert pks(records("REQ_CLOSED", scope)) == {twice.pk, won.pk}
    assert split("REQ_CLOSED", scope, Breakdown.OUTCOME) == [("joint_rd", 1), (UNKNOWN, 1)]
    assert totals(region(Q2), codes=["REQ_MATCHED", "REQ_RECEIVED"]) == {
        "REQ_MATCHED": 1,  # accepted_before
        "REQ_RECEIVED": 3,  # won, declined, accepted_before
    }


def test_visits_and_organisations_visited(world, places, topics):
    mueller = world.org("Müller", employees=5, municipality=places.cremlingen)
    chamber = world.org("Kammer", Organisation.Kind.CHAMBER, municipality=places.wolfenbuettel)
    nowhere = world.org("Ohne Gemeinde")
    for day in (1, 2, 3):
        world.visit(mueller, local(2026, 7, day), green=day == 3)
    world.visit(chamber, local(2026, 8, 1), topics=[topics["ai"]])
    world.visit(nowhere, local(2026, 8, 2), green=True)
    world.visit(chamber, local(2026, 8, 3), draft=True, green=True)

    assert totals(region(Q3), codes=["VISITS", "ORGS_VISITED", "GREEN_SKILLS", "RURAL_SHARE"]) == {
        "VISITS": 5,  # 3 at mueller, 1 chamber, 1 nowhere; not the draft
        "ORGS_VISITED": 3,  # each once, any kind
        "GREEN_SKILLS": 2,  # mueller (3.7.), nowhere; the chamber's is a draft
        "RURAL_SHARE": 75.0,  # 3 rural (mueller) of 4 with a municipality
    }
    assert split("ORGS_VISITED", region(Q3), Breakdown.TOPIC) == [("digital", 1), (UNKNOWN, 2)]
    # No visit with a known municipality: no share, not a division by zero.
    assert totals(region(Q2), codes=["RURAL_SHARE", "VISITS"]) == {"RURAL_SHARE": 0.0, "VISITS": 0}


@pytest.mark.parametrize(
    "period",
    [
        Period.year(2026),
        Period.half_year(2026, 2),
        Period(datetime.date(2026, 4, 1), datetime.date(2026, 9, 30)),
        Period(datetime.date(2025, 10, 1), datetime.date(2027, 3, 31)),
    ],
    ids=str,
)
@pytest.mark.parametrize("districts", [(), ("wf", "gs")], ids=["region", "districts"])
def test_trend_of_whole_quarters_is_each_quarters_totals(dataset, places, period, districts):
    """A year's or half-year's trend is read from the period's own tables (which
    quarter each record had events in); it must say what each quarter's figures say."""
    from reporting.queries import computing, trend

    ids = tuple(getattr(places, name).pk for name in districts)
    scope = Scope(period, ids)
    with computing(scope) as computation:
        quarterly = trend(computation)
    assert quarterly is not None and list(quarterly) == period.quarters()
    for quarter, values in quarterly.items():
        assert values == totals(Scope(quarter, ids)), quarter
    assert any(values["VISITS"] for values in quarterly.values())


def test_a_quarters_trend_reaches_before_it_so_it_is_computed_per_quarter(dataset):
    from reporting.queries import computing, trend

    with computing(region(Q3)) as computation:
        assert trend(computation) is None


@pytest.mark.parametrize("shards", [2, 4])
@pytest.mark.parametrize("districts", [(), ("wf", "gs")], ids=["region", "districts"])
def test_shards_of_the_records_add_up_to_the_totals(dataset, places, districts, shards):
    """The dashboard splits a subject's records into shards by id for two connections
    (``services._computed_totals``): every record counts in exactly one of them."""
    from reporting import services
    from reporting.queries import Subject, computing, indicators_of, subject_sums

    ids = tuple(getattr(places, name).pk for name in districts)
    scope = Scope(Period.year(2026), ids)
    with computing(scope, materialize=False) as computation:
        for subject in Subject:
            own = indicators_of(subject)
            whole = subject_sums(subject, computation, own)
            parts = [
                subject_sums(subject, computation, own, shard=(k, shards)) for k in range(shards)
            ]
            assert {name: sum(part[name] for part in parts) for name in whole} == whole, subject
            if subject == Subject.ORGANISATION:
                assert sum(1 for part in parts if any(part.values())) > 1  # really split
    assert services._computed_totals([scope]) == {scope: totals(scope)}


def test_streamed_rows_come_in_order_and_can_be_left_early(db):
    """The next batch is read ahead in a thread; left early, the stream waits for it
    and closes its cursor, and the connection goes on."""
    from reporting.queries import _stream

    sql = " UNION ALL ".join(f"SELECT {n} AS n" for n in range(1, 8)) + " ORDER BY n"
    assert [row[0] for row in _stream(sql, [], size=2)] == [1, 2, 3, 4, 5, 6, 7]
    rows = _stream(sql, [], size=2)
    assert next(rows) == (1,) and next(rows) == (2,) and next(rows) == (3,)
    rows.close()
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)


def test_visits_figures_from_the_organisations_facts_are_the_visits_own(dataset, places):
    """Totals read the visits' figures from the organisations' facts (their number of
    visits, weighted): the same as from the visits' own facts, which reports use."""
    from reporting.queries import computing, indicators_of, subject_sums, values_of

    scopes = [region(), Scope(Q3, (places.wf.pk,)), Scope(Period.parse("2026")), region(Q2)]
    for scope in scopes:
        with computing(scope) as computation:
            visits = indicators_of(Subject.VISIT)
            own = values_of(visits, subject_sums(Subject.VISIT, computation, visits))
        found = totals(scope)
        assert {code: found[code] for code in own} == own, scope
    assert totals(region())["VISITS"] and 0 < totals(region())["RURAL_SHARE"] < 100


def test_visits_breakdowns_by_place_from_the_organisations_facts_are_the_visits_own(
    dataset, places
):
    """With the organisations' breakdowns, the visits' by size class, district and area
    type come from the organisations' facts: the same as from the visits' own."""
    from reporting.queries import computing

    places_only = [Breakdown.SIZE_CLASS, Breakdown.DISTRICT, Breakdown.AREA_TYPE]
    scopes = [region(), Scope(Q3, (places.wf.pk,)), Scope(Period.parse("2026")), region(Q2)]
    visit_codes = [i.code for i in INDICATORS if i.subject == Subject.VISIT]
    for scope in scopes:
        with computing(scope) as computation:
            alone = breakdowns(scope, computation=computation, subjects=[Subject.VISIT])
            tables = set(computation.tables)
            with CaptureQueriesContext(connection) as queries:
                both = breakdowns(scope, computation=computation, subjects=[*Subject][:2])
            visits_table = computation.tables[Subject.VISIT]
        assert tables == {Subject.VISIT}  # alone: from the visits' own facts
        grouped = [q["sql"] for q in queries if f"FROM {visits_table} f GROUP BY" in q["sql"]]
        assert grouped == [], "the visits' breakdowns by place read the visits' facts"
        for code in visit_codes:
            for name in map(str, places_only):
                assert both[code].get(name) == alone[code].get(name), (scope, code, name)
    split = breakdowns(region())["VISITS"][str(Breakdown.DISTRICT)]
    assert len(split) > 1 and sum(row.value for row in split) == totals(region())["VISITS"]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's statistics")
def test_facts_tables_are_analysed_for_their_size_and_join_columns(dataset):
    """The planner knows each table's size (else it assumes a few hundred rows) and
    the columns joined and grouped by; the indicator columns are left out (cheaper)."""
    from reporting.queries import _ANALYZED, computing

    with computing(region()) as computation:
        for subject in Subject:
            table = computation.table(subject)
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT count(*) FROM {table}")
                (rows,) = cursor.fetchone()
                cursor.execute("SELECT reltuples FROM pg_class WHERE relname = %s", [table])
                assert cursor.fetchone() == (rows,), subject
                cursor.execute("SELECT attname FROM pg_stats WHERE tablename = %s", [table])
                assert {name for (name,) in cursor.fetchall()} == set(_ANALYZED), subject
