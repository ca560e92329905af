import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from crm.models import Organisation, Relationship


def test_list_requires_login(client):
    response = client.get(reverse("crm:organisation_list"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


@pytest.mark.parametrize("persona", ["scout", "manager", "administration"])
def test_list_works_for_crm_roles(request, client_as, persona, organisation):
    response = client_as(request.getfixturevalue(persona)).get(reverse("crm:organisation_list"))
    assert response.status_code == 200
    assert "Müller Maschinenbau GmbH" in response.content.decode()


@pytest.mark.parametrize("persona", ["funder", "outsider"])
def test_list_refused_without_crm_role(request, client_as, persona):
    response = client_as(request.getfixturevalue(persona)).get(reverse("crm:organisation_list"))
    assert response.status_code == 403


def test_list_filters_and_search(client_as, manager, organisation, region):
    Organisation.objects.create(
        name="Stadtwerke Braunschweig",
        kind="large_enterprise",
        municipality=region["urban"],
        employees=900,
    )
    client = client_as(manager)
    url = reverse("crm:organisation_list")
    rural = client.get(url, {"area_type": "rural"}).content.decode()
    assert "Müller Maschinenbau" in rural and "Stadtwerke" not in rural
    large = client.get(url, {"size_class": "large"}).content.decode()
    assert "Stadtwerke" in large and "Müller Maschinenbau" not in large
    found = client.get(url, {"q": "MÜLLER"}).content.decode()
    assert "Müller Maschinenbau" in found and "Stadtwerke" not in found
    by_kind = client.get(url, {"kind": "sme", "district": region["district"].pk}).content.decode()
    assert "Müller Maschinenbau" in by_kind


def test_list_search_refuses_nul_bytes_quietly(client_as, manager, organisation):
    response = client_as(manager).get(reverse("crm:organisation_list"), {"q": "Mül\x00ler"})
    assert response.status_code == 200


def test_list_htmx_returns_only_results(client_as, manager, organisation):
    response = client_as(manager).get(
        reverse("crm:organisation_list"), HTTP_HX_REQUEST="true", HTTP_HX_TARGET="results"
    )
    assert "<html" not in response.content.decode()


def _list_queries(client, url):
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx)


def test_list_query_count_is_constant(client_as, manager, region, topics):
    client = client_as(manager)
    url = reverse("crm:organisation_list")
    for i in range(5):
        Organisation.objects.create(
            name=f"Firma {i}", municipality=region["rural"], responsible_manager=manager
        )
    few = _list_queries(client, url)
    for i in range(5, 50):
        Organisation.objects.create(
            name=f"Firma {i}", municipality=region["urban"], responsible_manager=manager
        )
    assert _list_queries(client, url) == few


def test_create_warns_about_duplicates_then_saves_on_confirmation(client_as, manager, organisation):
    client = client_as(manager)
    data = {"name": "Mueller Maschinenbau", "kind": "sme", "status": "active"}
    response = client.post(reverse("crm:organisation_create"), data)
    assert response.status_code == 200
    assert "Müller Maschinenbau GmbH" in response.content.decode()
    assert Organisation.objects.count() == 1
    response = client.post(
        reverse("crm:organisation_create"), {**data, "confirm_not_duplicate": "on"}
    )
    assert response.status_code == 302
    created = Organisation.objects.get(name="Mueller Maschinenbau")
    assert created.history.earliest().history_user == manager


def test_create_refuses_bad_input(client_as, manager):
    response = client_as(manager).post(
        reverse("crm:organisation_create"),
        {
            "name": "",
            "kind": "nonsense",
            "status": "active",
            "employees": "-3",
            "email": "kein-mail",
        },
    )
    assert response.status_code == 200
    assert Organisation.objects.count() == 0
    assert "invalid-feedback" in response.content.decode()


def test_create_requires_permission(client_as, funder):
    assert (
        client_as(funder).post(reverse("crm:organisation_create"), {"name": "X"}).status_code == 403
    )


def test_duplicate_check_fragment(client_as, scout, organisation):
    response = client_as(scout).get(
        reverse("crm:organisation_duplicates"), {"name": "Müller Maschinenbau"}
    )
    assert "Müller Maschinenbau GmbH" in response.content.decode()


def test_edit_records_old_and_new_value_in_history(client_as, manager, organisation):
    client = client_as(manager)
    url = reverse("crm:organisation_edit", args=[organisation.pk])
    form = client.get(url).context["form"]
    data = {
        k: v
        for k, v in form.initial.items()
        if v is not None and k not in ("offered_topics", "needed_topics")
    }
    data["employees"] = 75
    response = client.post(url, data)
    assert response.status_code == 302, response.context["form"].errors
    history = client.get(
        reverse("crm:organisation_history", args=[organisation.pk])
    ).content.decode()
    assert "42" in history and "75" in history and "Nora Netz" in history


def test_detail_and_history_hidden_from_outsiders(client_as, outsider, funder, organisation):
    for user in (outsider, funder):
        client = client_as(user)
        assert (
            client.get(reverse("crm:organisation_detail", args=[organisation.pk])).status_code
            == 404
        )
        assert (
            client.get(reverse("crm:organisation_history", args=[organisation.pk])).status_code
            == 404
        )


def test_detail_shows_people_and_unknown_id_is_404(client_as, scout, person, organisation):
    client = client_as(scout)
    page = client.get(reverse("crm:organisation_detail", args=[organisation.pk])).content.decode()
    assert "Anna Schmidt" in page
    assert client.get(reverse("crm:organisation_detail", args=[999999])).status_code == 404


def test_scout_cannot_merge(client_as, scout, organisation):
    assert (
        client_as(scout).get(reverse("crm:organisation_merge", args=[organisation.pk])).status_code
        == 403
    )


def test_manager_merges_via_page(client_as, manager, organisation):
    duplicate = Organisation.objects.create(name="Müller Maschinenbau")
    client = client_as(manager)
    url = reverse("crm:organisation_merge", args=[organisation.pk])
    assert client.post(url, {"other": duplicate.pk}).status_code == 200  # confirmation missing
    assert Organisation.objects.filter(pk=duplicate.pk).exists()
    assert client.post(url, {"other": organisation.pk, "confirm": "on"}).status_code == 200
    response = client.post(url, {"other": duplicate.pk, "confirm": "on"})
    assert response.status_code == 302
    assert not Organisation.objects.filter(pk=duplicate.pk).exists()


def test_bulk_assign_manager(client_as, manager, administration, organisation):
    second = Organisation.objects.create(name="Zweite GmbH")
    response = client_as(administration).post(
        reverse("crm:organisation_bulk"),
        {
            "action": "assign_manager",
            "ids": [organisation.pk, second.pk],
            "responsible_manager": manager.pk,
        },
    )
    assert response.status_code == 302
    assert Organisation.objects.filter(responsible_manager=manager).count() == 2


def test_bulk_refused_for_scouts_and_bad_input_changes_nothing(
    client_as, scout, manager, organisation
):
    url = reverse("crm:organisation_bulk")
    assert (
        client_as(scout)
        .post(url, {"action": "set_status", "ids": [organisation.pk], "status": "archived"})
        .status_code
        == 403
    )
    client_as(manager).post(url, {"action": "set_status", "ids": [organisation.pk]})
    organisation.refresh_from_db()
    assert organisation.status == "active"


def test_note_and_relationship(client_as, manager, organisation):
    client = client_as(manager)
    partner = Organisation.objects.create(name="TU Braunschweig", kind="university")
    client.post(
        reverse("crm:organisation_note_add", args=[organisation.pk]), {"text": "Gespräch geführt"}
    )
    assert organisation.notes.get().author == manager
    client.post(
        reverse("crm:relationship_add", args=[organisation.pk]),
        {"target": partner.pk, "kind": "cooperation"},
    )
    rel = Relationship.objects.get()
    assert rel.target == partner
    client.post(
        reverse("crm:relationship_add", args=[organisation.pk]),
        {"target": organisation.pk, "kind": "other"},
    )
    assert Relationship.objects.count() == 1  # self-relationship refused
    client.post(reverse("crm:relationship_delete", args=[rel.pk]))
    assert Relationship.objects.count() == 0


def test_typeahead(client_as, scout, organisation):
    response = client_as(scout).get(reverse("crm:organisation_typeahead"), {"q": "müller"})
    assert f'data-pick-id="{organisation.pk}"' in response.content.decode()


def test_long_filtered_lists_say_more_than(client_as, manager, monkeypatch):
    monkeypatch.setattr("crm.pagination.COUNT_CAP", 3)
    for i in range(5):
        Organisation.objects.create(name=f"Firma {i}")
    page = client_as(manager).get(reverse("crm:organisation_list"), {"status": "active"})
    assert page.context["page"].paginator.is_capped
    assert (
        client_as(manager)
        .get(reverse("crm:organisation_list"), {"q": "Firma 1"})
        .context["page"]
        .paginator.count
        == 1
    )


def test_search_and_typeahead_list_organisations_without_municipality(client_as, scout):
    Organisation.objects.create(name="Ortlose Werkstatt GmbH")
    client = client_as(scout)
    assert (
        "Ortlose Werkstatt" in client.get(reverse("crm:search"), {"q": "ortlose"}).content.decode()
    )
    response = client.get(reverse("crm:organisation_typeahead"), {"q": "ortlose"})
    assert "Ortlose Werkstatt" in response.content.decode()


@pytest.mark.parametrize("query", ["a", "ab", "&", "!!", "😀", "%", "_"])
def test_too_short_queries_match_nothing_and_say_why(client_as, manager, organisation, query):
    client = client_as(manager)
    response = client.get(reverse("crm:organisation_list"), {"q": query})
    assert response.status_code == 200
    assert response.context["page"].paginator.count == 0
    assert "mindestens drei Buchstaben oder Ziffern" in response.content.decode()
    page = client.get(reverse("crm:search"), {"q": query}).content.decode()
    assert "mindestens drei Buchstaben oder Ziffern" in page


def test_search_combines_with_filters(client_as, manager, organisation, region):
    Organisation.objects.create(name="Müller Logistik", kind="large_enterprise")
    response = client_as(manager).get(
        reverse("crm:organisation_list"), {"q": "müller", "kind": "large_enterprise"}
    )
    assert [o.name for o in response.context["page"].object_list] == ["Müller Logistik"]


def test_detail_of_a_large_organisation_stays_small(client_as, manager, organisation, monkeypatch):
    from crm.models import Affiliation, Person

    monkeypatch.setattr("crm.views.DETAIL_LIST_LIMIT", 3)
    for i in range(5):
        person = Person.objects.create(last_name=f"Mitarbeiter {i}")
        Affiliation.objects.create(person=person, organisation=organisation)
        partner = Organisation.objects.create(name=f"Partner {i}")
        Relationship.objects.create(source=partner, target=organisation, kind="cooperation")
    page = client_as(manager).get(reverse("crm:organisation_detail", args=[organisation.pk]))
    assert len(page.context["affiliations"]) == 3 and page.context["affiliation_count"] == 5
    assert len(page.context["relationships"]) == 3 and page.context["relationship_count"] == 5
    assert f"?organisation={organisation.pk}" in page.content.decode()


def test_refusals_are_german_pages_in_the_site_layout(client_as, scout, funder, organisation):
    refused = client_as(scout).get(reverse("crm:organisation_merge", args=[organisation.pk]))
    assert refused.status_code == 403
    assert "Zugriff verweigert" in refused.content.decode()
    hidden = client_as(funder).get(reverse("crm:organisation_detail", args=[organisation.pk]))
    assert hidden.status_code == 404 and "Nicht gefunden" in hidden.content.decode()


def test_absurd_page_numbers_end_at_the_last_page(client_as, manager, organisation):
    response = client_as(manager).get(
        reverse("crm:organisation_list"), {"page": "999999999999999999999"}
    )
    assert response.status_code == 200 and response.context["page"].number == 1
