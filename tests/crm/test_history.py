from django.urls import reverse

from crm import services
from crm.history import HISTORY_PAGE_SIZE, history_page
from crm.models import Organisation


def test_history_shows_field_derived_and_topic_changes(manager, topics, region):
    org = services.create_organisation(
        Organisation(name="X GmbH", employees=5, municipality=region["rural"]),
        by=manager,
        offered_topics=[topics["ai"]],
    )
    org.employees = 70
    services.update_organisation(org, by=manager, offered_topics=[topics["ai"], topics["energy"]])
    _page, entries = history_page(org, 1)
    newest, field_change = entries[0], entries[1]
    assert [(c.old, c.new) for c in newest.changes] == [
        ("Künstliche Intelligenz", "Energie, Künstliche Intelligenz")
    ]
    assert {c.old for c in field_change.changes} >= {"5"}
    assert {c.new for c in field_change.changes} >= {"70"}
    assert len(field_change.changes) == 2  # employees and the derived size class
    assert entries[-1].kind == "created" and entries[-1].who == "Nora Netz"


def test_history_is_paginated_with_a_constant_number_of_queries(
    client_as, manager, organisation, django_assert_max_num_queries
):
    for i in range(HISTORY_PAGE_SIZE + 5):
        organisation.employees = i
        organisation.save()
    client = client_as(manager)
    url = reverse("crm:organisation_history", args=[organisation.pk])
    first = client.get(url)
    assert len(first.context["entries"]) == HISTORY_PAGE_SIZE
    second = client.get(url, {"page": 2})
    assert second.context["entries"][-1].kind == "created"
    with django_assert_max_num_queries(15):
        client.get(url)
