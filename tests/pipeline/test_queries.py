"""Pipeline metrics (``pipeline.queries``) on a tiny hand-made pipeline.

The period is the first quarter of 2026. Every moment is noon, local time, unless a
test is about the period's edges. Stages: E(ingang), Q(ualifiziert), P(artnersuche),
V(ermittelt), K (In Kooperation), W (Erfolgreich, won), L (Ohne Ergebnis, lost),
R (Ruhend, paused); progress stages are E Q P V K W.

    request  manager  topics      place           created  moves (and first match)
    A        M1       KI          WF rural        10.01.   Q 12.01, P 20.01, match 25.01,
                                                           V 01.02, K 09.02, W 01.03
    B        M1       Energie     BS urban        15.01.   P 19.01, match 21.01, L 01.02
    C        M2       KI          WF rural        01.02.   Q 03.02, P 10.02, match 11.02,
                                                           V 01.03, K 11.03
    D        –        –           BS urban        20.03.   –
    F        M2       KI, Energie WF rural        25.03.   Q 02.04 (after the period)
    G        M1       Digital.    BS urban        05.01.   R 20.01, P 20.02, match 10.04
    X        M2       Energie     BS urban        01.12.25 Q 05.12, P 05.01, V 20.01,
                                                           W 15.02 (created before)

KI (AI) is a subtopic of "Digitalisierung & KI"; WF is LK Wolfenbüttel, BS Braunschweig.
"""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation

from crm.models import Organisation
from crm.roles import Role
from pipeline import queries
from pipeline.models import Match, Stage, StageChange, TransferRequest
from tests.personas import make_user

pytestmark = pytest.mark.django_db

Q1 = (datetime.date(2026, 1, 1), datetime.date(2026, 3, 31))


def at(day: str, hour: int = 12, minute: int = 0) -> datetime.datetime:
    """``dd.mm.yy`` at ``hour``:``minute`` local time."""
    moment = datetime.datetime.strptime(day, "%d.%m.%y").replace(hour=hour, minute=minute)
    return timezone.make_aware(moment)


def make_request(organisation, *, manager, topics, moves, matches=()):
    """A request with its stage changes; ``moves`` are (stage, moment), the first its
    creation. Written directly: the metrics read history that the services wrote long ago."""
    first_stage, created = moves[0]
    last_stage, entered = moves[-1]
    request = TransferRequest.objects.create(
        organisation=organisation,
        title="Anfrage",
        kind="joint_rd",
        source="phone",
        responsible_manager=manager,
        stage=last_stage,
        stage_entered_at=entered,
        created_at=created,
    )
    request.topics.set(topics)
    previous = None
    for stage, moment in moves:
        StageChange.objects.create(
            request=request, from_stage=previous, to_stage=stage, changed_at=moment
        )
        previous = stage
    for n, proposed in enumerate(matches):
        partner = Organisation.objects.create(
            name=f"Institut {request.pk}-{n}", kind=Organisation.Kind.RESEARCH_INSTITUTE
        )
        Match.objects.create(request=request, partner=partner, proposed_at=proposed)
    return request


@pytest.fixture
def pipeline(stages, organisation, region, topics):
    s = stages
    keys = ("eingang", "qualifiziert", "partnersuche", "vermittelt", "in-kooperation")
    e, q, p, v, k = (s[key] for key in keys)
    w, lost, paused = s["erfolgreich"], s["ohne-ergebnis"], s["ruhend"]
    m1 = make_user("m1", Role.NETWORK_MANAGER, first_name="Mia", last_name="Eins")
    m2 = make_user("m2", Role.NETWORK_MANAGER, first_name="Max", last_name="Zwei")
    rural = organisation
    urban = Organisation.objects.create(
        name="Stadtwerk GmbH", kind=Organisation.Kind.SME, municipality=region["urban"]
    )
    ai, energy, digital = topics["ai"], topics["energy"], topics["digital"]
    made = {
        "A": make_request(
            rural, manager=m1, topics=[ai],
            moves=[(e, at("10.01.26")), (q, at("12.01.26")), (p, at("20.01.26")),
                   (v, at("01.02.26")), (k, at("09.02.26")), (w, at("01.03.26"))],
            matches=[at("25.01.26"), at("28.01.26")],
        ),
        "B": make_request(
            urban, manager=m1, topics=[energy],
            moves=[(e, at("15.01.26")), (p, at("19.01.26")), (lost, at("01.02.26"))],
            matches=[at("21.01.26")],
        ),
        "C": make_request(
            rural, manager=m2, topics=[ai],
            moves=[(e, at("01.02.26")), (q, at("03.02.26")), (p, at("10.02.26")),
                   (v, at("01.03.26")), (k, at("11.03.26"))],
            matches=[at("11.02.26")],
        ),
        "D": make_request(urban, manager=None, topics=[], moves=[(e, at("20.03.26"))]),
        "F": make_request(
            rural, manager=m2, topics=[ai, energy],
            moves=[(e, at("25.03.26")), (q, at("02.04.26"))],
        ),
        "G": make_request(
            urban, manager=m1, topics=[digital],
            moves=[(e, at("05.01.26")), (paused, at("20.01.26")), (p, at("20.02.26"))],
            matches=[at("10.04.26")],
        ),
        "X": make_request(
            urban, manager=m2, topics=[energy],
            moves=[(e, at("01.12.25")), (q, at("05.12.25")), (p, at("05.01.26")),
                   (v, at("20.01.26")), (w, at("15.02.26"))],
        ),
    }  # fmt: skip
    return {"requests": made, "m1": m1, "m2": m2, **topics, **region}


def entered(rows):
    return {row.key: row.entered for row in rows}


def test_funnel_counts_requests_entering_each_stage_in_the_period(pipeline):
    rows = queries.funnel(*Q1)

    assert [row.key for row in rows] == [s.key for s in Stage.objects.all()]
    assert entered(rows) == {
        "eingang": 6,  # A B C D F G (X entered in December)
        "qualifiziert": 2,  # A C (X in December, F in April)
        "partnersuche": 5,  # A B C G X
        "vermittelt": 3,  # A C X
        "in-kooperation": 2,  # A C
        "erfolgreich": 2,  # A X
        "ohne-ergebnis": 1,  # B
        "ruhend": 1,  # G
    }


def test_funnel_filters_by_manager_topic_and_district(pipeline):
    by_m1 = entered(queries.funnel(*Q1, manager=pipeline["m1"]))  # A B G
    assert (by_m1["eingang"], by_m1["partnersuche"], by_m1["erfolgreich"]) == (3, 3, 1)

    # The parent topic stands for its subtopics: A C F G (KI or Digitalisierung).
    by_topic = entered(queries.funnel(*Q1, topic=pipeline["digital"]))
    assert (by_topic["eingang"], by_topic["partnersuche"], by_topic["vermittelt"]) == (4, 3, 2)

    # LK Wolfenbüttel: A C F.
    by_district = entered(queries.funnel(*Q1, district=pipeline["district"]))
    assert (by_district["eingang"], by_district["in-kooperation"]) == (3, 2)
    urban = entered(queries.funnel(*Q1, area_type="urban"))  # B D G X
    assert (urban["eingang"], urban["partnersuche"], urban["erfolgreich"]) == (3, 3, 1)


def test_conversion_from_stage_to_next_and_overall_to_won(pipeline):
    conversion = queries.conversion_rates(*Q1)

    steps = [(s.from_stage, s.to_stage, s.entered, s.converted) for s in conversion.steps]
    assert steps == [
        # E: A→Q, B→P (skipping Q counts), C→Q, G→P after pausing; D stays, F moves in April.
        ("Eingang", "Qualifiziert", 6, 4),
        ("Qualifiziert", "Partnersuche", 2, 2),  # A C
        # P: A C X went on to Vermittelt; B was lost, G is still searching.
        ("Partnersuche", "Vermittelt", 5, 3),
        # V: A C to In Kooperation, X straight to won.
        ("Vermittelt", "In Kooperation", 3, 3),
        ("In Kooperation", "Erfolgreich abgeschlossen", 2, 1),  # A won, C still cooperating
    ]
    assert conversion.steps[0].rate == pytest.approx(4 / 6)
    # New in the period: A B C D F G; won by its end: A (X was created in December).
    assert (conversion.new_requests, conversion.won) == (6, 1)
    assert conversion.rate_to_won == pytest.approx(1 / 6)


def test_median_days_to_first_match_and_to_cooperation(pipeline):
    # First matches of the period's new requests: B 6, C 10, A 15 days (A's second match
    # does not count, G's comes after the period).
    assert queries.median_days_to_first_match(*Q1) == queries.MedianDays(days=10.0, requests=3)
    # To In Kooperation: A 30 days (10.01.–09.02.), C 38 days (01.02.–11.03.): mean of two.
    assert queries.median_days_to_cooperation(*Q1) == queries.MedianDays(days=34.0, requests=2)
    # M1's new requests A B G: matches after 15 and 6 days.
    assert queries.median_days_to_first_match(*Q1, manager=pipeline["m1"]).days == 10.5
    assert queries.median_days_to_cooperation(*Q1, manager=pipeline["m1"]).days == 30.0
    nothing = queries.median_days_to_cooperation(*Q1, topic=pipeline["energy"])  # B F
    assert nothing == queries.MedianDays(days=None, requests=0)


def row_figures(row):
    return (
        row.new_requests,
        row.matched,
        row.in_cooperation,
        row.won,
        row.lost,
        row.median_days_to_first_match,
        row.median_days_to_cooperation,
    )


def test_breakdown_by_manager(pipeline):
    rows = queries.by_manager(*Q1)

    assert [(r.key, r.label) for r in rows[:2]] == [
        (pipeline["m1"].pk, "Mia Eins"),
        (pipeline["m2"].pk, "Max Zwei"),
    ]
    assert rows[2].key is None and rows[2].label
    assert row_figures(rows[0]) == (3, 2, 1, 1, 1, 10.5, 30.0)  # A B G
    assert row_figures(rows[1]) == (2, 1, 1, 0, 0, 10.0, 38.0)  # C F
    assert row_figures(rows[2]) == (1, 0, 0, 0, 0, None, None)  # D
    assert rows[0].rate_to_won == pytest.approx(1 / 3)


def test_breakdown_by_parent_topic_counts_a_request_once_per_parent(pipeline):
    rows = {r.key: r for r in queries.by_topic(*Q1)}

    # D has no topics; F (KI and Energie) counts for both parents.
    assert set(rows) == {pipeline["digital"].pk, pipeline["energy"].pk}
    digital = rows[pipeline["digital"].pk]
    assert digital.label == "Digitalisierung & KI"
    # A C F G; matches A 15, C 10; cooperation A 30, C 38.
    assert row_figures(digital) == (4, 2, 2, 1, 0, 12.5, 34.0)
    assert row_figures(rows[pipeline["energy"].pk]) == (2, 1, 0, 0, 1, 6.0, None)  # B F


def test_breakdown_by_district_with_rural_and_urban(pipeline):
    rows = queries.by_district(*Q1)

    assert [(r.key, r.area_type) for r in rows] == [
        (pipeline["city_district"].pk, "urban"),  # "Braunschweig …" sorts first
        (pipeline["district"].pk, "rural"),
    ]
    assert rows[1].label.startswith("LK Wolfenbüttel")
    assert row_figures(rows[0]) == (3, 1, 0, 0, 1, 6.0, None)  # B D G
    assert row_figures(rows[1]) == (3, 2, 2, 1, 0, 12.5, 34.0)  # A C F
    areas = {r.area_type: r.new_requests for r in queries.by_area_type(*Q1)}
    assert areas == {"urban": 3, "rural": 3}
    only_m2 = queries.by_district(*Q1, manager=pipeline["m2"])  # C F, both rural
    assert [(r.area_type, r.new_requests) for r in only_m2] == [("rural", 2)]


def test_the_period_runs_from_midnight_to_midnight_local_time(stages, organisation):
    e = stages["eingang"]
    make_request(organisation, manager=None, topics=[], moves=[(e, at("01.01.26", 0, 0))])
    make_request(organisation, manager=None, topics=[], moves=[(e, at("31.03.26", 23, 59))])
    make_request(organisation, manager=None, topics=[], moves=[(e, at("31.12.25", 23, 59))])
    make_request(organisation, manager=None, topics=[], moves=[(e, at("01.04.26", 0, 0))])

    assert entered(queries.funnel(*Q1))["eingang"] == 2
    assert queries.conversion_rates(*Q1).new_requests == 2
    one_day = datetime.date(2026, 3, 31)
    assert entered(queries.funnel(one_day, one_day))["eingang"] == 1


def test_an_empty_period_gives_zeros_not_errors(stages):
    assert set(entered(queries.funnel(*Q1)).values()) == {0}
    conversion = queries.conversion_rates(*Q1)
    assert conversion.new_requests == 0 and conversion.rate_to_won is None
    assert all(s.entered == 0 and s.rate is None for s in conversion.steps)
    assert queries.median_days_to_first_match(*Q1) == queries.MedianDays(None, 0)
    assert queries.by_manager(*Q1) == []


def count_queries(call):
    with CaptureQueriesContext(connection) as captured:
        call()
    return len(captured.captured_queries)


def test_metrics_take_a_fixed_number_of_queries(pipeline, stages, organisation):
    calls = [
        lambda: queries.funnel(*Q1),
        lambda: queries.conversion_rates(*Q1),
        lambda: queries.by_topic(*Q1),
    ]
    before = [count_queries(call) for call in calls]
    for day in ("02.01.26", "03.01.26", "04.01.26"):
        make_request(
            organisation, manager=pipeline["m1"], topics=[pipeline["ai"]],
            moves=[(stages["eingang"], at(day)), (stages["partnersuche"], at(day, 14))],
            matches=[at(day, 15)],
        )  # fmt: skip

    assert [count_queries(call) for call in calls] == before
    # Stage lookups and one statement per figure (PostgreSQL: in a savepoint that raises
    # work_mem, three more each).
    assert before[0] <= 5


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((datetime.date(2026, 3, 31), datetime.date(2026, 1, 1)), {}, "period ends before"),
        (Q1, {"area_type": "suburban"}, "Unknown area type"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(stages, args, kwargs, message):
    with translation.override("en"), pytest.raises(ValueError, match=message):
        queries.funnel(*args, **kwargs)
