"""Partner suggestions on a small hand-made dataset.

Cremlingen (the company) lies 9 km from Braunschweig and 94 km from Göttingen. The
reasons are checked in English (the msgids); German comes with the translations.
"""

from __future__ import annotations

import pytest
from django.utils import translation

from crm.models import Organisation, Relationship, Topic
from pipeline.models import Match
from pipeline.services import (
    create_request,
    distance_km,
    propose_match,
    record_outcome,
    set_match_status,
    suggest_partners,
)
from tests.pipeline.conftest import research_partner

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


@pytest.fixture
def robotics(topics):
    return Topic.objects.create(slug="digital-robotics", name="Robotik", parent=topics["digital"])


def names(suggestions):
    return [s.partner.name for s in suggestions]


def test_distance_between_municipalities(region, far_town):
    assert round(distance_km(region["rural"], region["urban"])) == 9
    assert round(distance_km(region["rural"], far_town)) == 94


def test_topic_overlap_beats_distance(transfer_request, region, far_town, topics):
    transfer_request.topics.add(topics["energy"])
    research_partner("Nahe Hochschule", municipality=region["urban"], topics=[topics["ai"]])
    research_partner(
        "Ferne Universität", municipality=far_town, topics=[topics["ai"], topics["energy"]]
    )
    ranked = suggest_partners(transfer_request)
    assert names(ranked) == ["Ferne Universität", "Nahe Hochschule"]
    far, near = ranked
    assert far.distance_score < near.distance_score
    assert far.topic_score > near.topic_score
    assert far.reason == "2 shared topics: Energie, Künstliche Intelligenz; 94 km away"


def test_at_equal_topics_the_nearer_partner_wins(transfer_request, region, far_town, topics):
    research_partner("Ferne Universität", municipality=far_town, topics=[topics["ai"]])
    research_partner(
        "Nahe Hochschule",
        municipality=region["urban"],
        topics=[topics["ai"]],
        kind=Organisation.Kind.RESEARCH_INSTITUTE,
    )
    ranked = suggest_partners(transfer_request)
    assert names(ranked) == ["Nahe Hochschule", "Ferne Universität"]
    assert ranked[0].distance_km == pytest.approx(8.9, abs=0.5)


def test_past_cooperations_count_but_not_more_than_a_topic(
    transfer_request, organisation, region, topics, manager, scout
):
    experienced = research_partner(
        "Erfahrenes Institut", municipality=region["urban"], topics=[topics["ai"]]
    )
    research_partner("Neues Institut", municipality=region["urban"], topics=[topics["ai"]])
    expert = research_partner(
        "Vielseitige Hochschule", municipality=region["urban"], topics=[topics["ai"]]
    )
    transfer_request.topics.add(topics["energy"])
    expert.offered_topics.add(topics["energy"])
    # Two earlier requests: one accepted match, one outcome with the partner.
    for title in ("Früher 1", "Früher 2"):
        earlier = create_request(
            organisation=organisation, by=scout, title=title, kind="joint_rd", source="phone"
        )
        if title.endswith("1"):
            match = propose_match(earlier, partner=experienced, by=manager)
            set_match_status(match, status=Match.Status.ACCEPTED, by=manager)
        else:
            record_outcome(earlier, kind="contract_research", partner=experienced, by=manager)
    Relationship.objects.create(source=organisation, target=experienced, kind="cooperation")
    Relationship.objects.create(source=organisation, target=experienced, kind="supplier")

    ranked = suggest_partners(transfer_request)
    assert names(ranked) == ["Vielseitige Hochschule", "Erfahrenes Institut", "Neues Institut"]
    assert ranked[1].cooperations == 3
    assert ranked[1].reason.endswith("; 3 successful cooperations")


def test_a_shared_parent_topic_counts_less_than_the_topic(
    transfer_request, region, topics, robotics
):
    research_partner("Robotik-Institut", municipality=region["urban"], topics=[robotics])
    research_partner("KI-Institut", municipality=region["urban"], topics=[topics["ai"]])
    research_partner("Energie-Institut", municipality=region["urban"], topics=[topics["energy"]])
    ranked = suggest_partners(transfer_request)
    assert names(ranked) == ["KI-Institut", "Robotik-Institut"]
    assert ranked[1].shared_topics == [] and ranked[1].related_topics == [robotics]
    assert ranked[1].reason == "related field: Robotik; 9 km away"


def test_only_active_research_partners_not_yet_proposed(
    transfer_request, region, topics, manager, university
):
    company = Organisation.objects.create(name="Software GmbH", municipality=region["urban"])
    company.offered_topics.add(topics["ai"])
    archived = research_partner(
        "Alte Akademie", municipality=region["urban"], topics=[topics["ai"]]
    )
    archived.status = Organisation.Status.ARCHIVED
    archived.save()
    other = research_partner("Fachhochschule", municipality=None, topics=[topics["ai"]])
    assert names(suggest_partners(transfer_request)) == [
        "Technische Universität Braunschweig",
        "Fachhochschule",
    ]
    propose_match(transfer_request, partner=university, by=manager)
    ranked = suggest_partners(transfer_request)
    assert [s.partner for s in ranked] == [other]
    assert ranked[0].distance_km is None


def test_a_request_without_topics_gets_no_suggestions(transfer_request, university):
    transfer_request.topics.clear()
    assert suggest_partners(transfer_request) == []


def test_the_limit_and_a_constant_number_of_queries(
    transfer_request, region, topics, django_assert_max_num_queries
):
    for number in range(15):
        research_partner(
            f"Institut {number:02d}", municipality=region["urban"], topics=[topics["ai"]]
        )
    with django_assert_max_num_queries(8):
        ranked = suggest_partners(transfer_request, limit=5)
    assert names(ranked) == [f"Institut {n:02d}" for n in range(5)]


def test_a_shared_topic_outweighs_nearness_and_track_record_together(
    transfer_request, organisation, region, far_town, topics, robotics, manager, scout
):
    research_partner("Ferne Universität", municipality=far_town, topics=[topics["ai"]])
    near = research_partner("Nahes Institut", municipality=region["urban"], topics=[robotics])
    for number in range(4):
        earlier = create_request(
            organisation=organisation,
            by=scout,
            title=f"Früher {number}",
            kind="joint_rd",
            source="phone",
        )
        record_outcome(earlier, kind="joint_rd", partner=near, by=manager)
    ranked = suggest_partners(transfer_request)
    assert names(ranked) == ["Ferne Universität", "Nahes Institut"]
    assert ranked[1].cooperations == 4
