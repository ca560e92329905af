from __future__ import annotations

import datetime
import html as html_lib
import re
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from crm.models import Organisation, Person
from crm.roles import Role
from pipeline.models import Match, Stage, StageChange, TransferRequest
from pipeline.services import advance_request, create_request, propose_match, set_match_status
from scouting.services import record_visit
from tests.personas import make_user

pytestmark = pytest.mark.django_db


def make_request(organisation, by, title="Anfrage", **fields):
    fields.setdefault("kind", "joint_rd")
    fields.setdefault("source", "phone")
    return create_request(organisation=organisation, by=by, title=title, **fields)


# --- Board and list ------------------------------------------------------------------


def test_board_shows_open_stages_with_cards(client_as, transfer_request, manager, stages):
    response = client_as(manager).get(reverse("pipeline:board"))
    assert response.status_code == 200
    columns = response.context["columns"]
    assert [c["stage"].key for c in columns] == [s.key for s in Stage.objects.board_columns()]
    first = columns[0]
    assert first["count"] == 1 and first["cards"][0] == transfer_request
    assert "KI für die Qualitätsprüfung" in response.content.decode()


def test_board_access(client_as, scout, administration, funder, outsider, client):
    url = reverse("pipeline:board")
    assert client_as(scout).get(url).status_code == 200
    assert client_as(administration).get(url).status_code == 200
    assert client_as(funder).get(url).status_code == 403
    assert client_as(outsider).get(url).status_code == 403
    assert client.get(url).status_code == 302


def test_board_query_count_is_constant(client_as, organisation, scout, manager, stages):
    client = client_as(manager)

    def queries():
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(reverse("pipeline:board")).status_code == 200
        return len(ctx)

    for _ in range(2):
        make_request(organisation, scout, responsible_manager=manager)
    few = queries()
    for _ in range(15):
        make_request(organisation, scout, responsible_manager=manager)
    assert queries() == few


def test_list_filters_and_query_count(client_as, organisation, region, scout, manager, stages):
    from crm.models import Organisation

    city = Organisation.objects.create(name="Stadtwerk", municipality=region["urban"])
    rural = make_request(organisation, scout, kind="testing")
    urban = make_request(city, scout, kind="joint_rd")
    advance_request(urban, to=stages["qualifiziert"], by=manager, responsible_manager=manager)
    client = client_as(manager)

    def found(**params):
        response = client.get(reverse("pipeline:request_list"), params)
        assert response.status_code == 200
        return {r.pk for r in response.context["page"].object_list}

    assert found() == {rural.pk, urban.pk}
    assert found(stage=stages["qualifiziert"].pk) == {urban.pk}
    assert found(area_type="rural") == {rural.pk}
    assert found(kind="testing") == {rural.pk}
    assert found(district=region["district"].pk) == {rural.pk}

    def queries():
        with CaptureQueriesContext(connection) as ctx:
            client.get(reverse("pipeline:request_list"))
        return len(ctx)

    few = queries()
    for _ in range(10):
        make_request(organisation, scout)
    assert queries() == few


# --- Create --------------------------------------------------------------------------


def test_scout_creates_a_request(client_as, organisation, person, scout, topics):
    response = client_as(scout).post(
        reverse("pipeline:request_create"),
        {
            "organisation": organisation.pk,
            "contact_person": person.pk,
            "title": "Prüfstand gesucht",
            "description": "Belastungstests",
            "topics": [topics["ai"].pk],
            "kind": "testing",
            "source": "phone",
            "priority": "normal",
        },
    )
    created = TransferRequest.objects.get()
    assert response.status_code == 302 and response["Location"] == created.get_absolute_url()
    assert created.created_by == scout and created.stage == Stage.objects.initial()
    assert created.history.first().history_user == scout


def test_create_refuses_bad_input(client_as, scout, funder):
    response = client_as(scout).post(reverse("pipeline:request_create"), {"title": ""})
    assert response.status_code == 200
    assert response.context["form"].errors["organisation"]
    assert not TransferRequest.objects.exists()
    assert client_as(funder).get(reverse("pipeline:request_create")).status_code == 403


def test_request_from_visit_in_one_step(client_as, organisation, person, scout, topics):
    visit = record_visit(
        uuid=uuid.uuid4(),
        organisation=organisation,
        by=scout,
        people_met=[person],
        topics=[topics["ai"]],
        needs=["technology_rd"],
        summary="Will Bilderkennung einsetzen.",
    )[0]
    assert (
        reverse("pipeline:request_from_visit", args=[visit.uuid])
        in client_as(scout).get(visit.get_absolute_url()).content.decode()
    )
    response = client_as(scout).post(reverse("pipeline:request_from_visit", args=[visit.uuid]))
    created = TransferRequest.objects.get()
    assert response.status_code == 302
    assert created.visit == visit and created.contact_person == person
    assert list(created.topics.all()) == [topics["ai"]]
    assert "Bilderkennung" in created.description


# --- Detail, move, matches, outcomes -------------------------------------------------


def test_detail_shows_stage_history_and_suggestions(
    client_as, transfer_request, university, manager, scout, funder
):
    response = client_as(manager).get(transfer_request.get_absolute_url())
    assert response.status_code == 200
    assert [s.partner for s in response.context["suggestions"]] == [university]
    assert len(response.context["changes"]) == 1
    assert client_as(scout).get(transfer_request.get_absolute_url()).status_code == 200
    assert client_as(funder).get(transfer_request.get_absolute_url()).status_code == 404


def test_manager_moves_through_the_form_with_required_fields(
    client_as, transfer_request, manager, stages
):
    url = reverse("pipeline:request_move", args=[transfer_request.pk])
    client = client_as(manager)
    page = client.get(url, {"to": stages["ohne-ergebnis"].pk})
    assert page.status_code == 200
    refused = client.post(
        url,
        {"to": stages["ohne-ergebnis"].pk, "expected_stage": transfer_request.stage_id},
        follow=True,
    )
    assert "Abschlussgrund" in refused.content.decode()
    transfer_request.refresh_from_db()
    assert transfer_request.stage == stages["eingang"]
    moved = client.post(
        url,
        {
            "to": stages["ohne-ergebnis"].pk,
            "expected_stage": transfer_request.stage_id,
            "closing_reason": "Kein Budget",
            "note": "Telefonat",
        },
    )
    assert moved.status_code == 302
    transfer_request.refresh_from_db()
    assert transfer_request.stage == stages["ohne-ergebnis"]
    change = StageChange.objects.filter(request=transfer_request).latest("changed_at")
    assert change.changed_by == manager and change.note == "Telefonat"


def test_a_stale_move_is_refused_with_a_clear_message(client_as, transfer_request, manager, stages):
    url = reverse("pipeline:request_move", args=[transfer_request.pk])
    old_stage = transfer_request.stage_id
    advance_request(transfer_request, to=stages["qualifiziert"], by=manager)
    response = client_as(manager).post(
        url, {"to": stages["partnersuche"].pk, "expected_stage": old_stage}, follow=True
    )
    assert "inzwischen" in response.content.decode()
    transfer_request.refresh_from_db()
    assert transfer_request.stage == stages["qualifiziert"]


def test_scouts_and_administration_cannot_move(client_as, transfer_request, scout, administration):
    url = reverse("pipeline:request_move", args=[transfer_request.pk])
    assert client_as(scout).get(url).status_code == 403
    assert client_as(administration).post(url, {}).status_code == 403


def test_matches_and_outcomes(client_as, transfer_request, university, manager, scout, stages):
    client = client_as(manager)
    client.post(
        reverse("pipeline:match_add", args=[transfer_request.pk]), {"partner": university.pk}
    )
    match = Match.objects.get()
    assert match.partner == university and match.created_by == manager
    client.post(reverse("pipeline:match_status", args=[match.pk]), {"status": "accepted"})
    match.refresh_from_db()
    assert match.status == Match.Status.ACCEPTED and match.decided_at
    response = client.post(
        reverse("pipeline:outcome_add", args=[transfer_request.pk]),
        {"kind": "joint_rd", "date": "2026-11-01", "partner": university.pk},
    )
    assert response.status_code == 302
    outcome = transfer_request.outcomes.get()
    assert outcome.partner == university and outcome.created_by == manager
    assert (
        client_as(scout)
        .post(reverse("pipeline:match_add", args=[transfer_request.pk]), {"partner": university.pk})
        .status_code
        == 403
    )


def test_history_page(client_as, transfer_request, manager, university):
    match = propose_match(transfer_request, partner=university, by=manager)
    set_match_status(match, status="contacted", by=manager)
    response = client_as(manager).get(
        reverse("pipeline:request_history", args=[transfer_request.pk])
    )
    assert response.status_code == 200


# --- Metrics -------------------------------------------------------------------------


def test_metrics_page_for_staff_and_funders(
    client_as, transfer_request, manager, administration, funder, outsider, stages
):
    advance_request(transfer_request, to=stages["qualifiziert"], by=manager)
    url = reverse("pipeline:metrics")
    page = client_as(manager).get(url)
    assert page.status_code == 200
    assert page.context["parts"] == ["overview", "by_manager", "by_topic", "by_district"]
    overview = client_as(manager).get(url, {"part": "overview"})
    funnel = {row.key: row.entered for row in overview.context["funnel"]}
    assert funnel["eingang"] == 1 and funnel["qualifiziert"] == 1
    by_manager = client_as(manager).get(url, {"part": "by_manager"})
    assert [row.label for row in by_manager.context["rows"]] == ["Nora Netz"]
    assert client_as(administration).get(url).status_code == 200
    # The funding body sees aggregates, not who in the agency handled what.
    as_funder = client_as(funder).get(url)
    assert as_funder.status_code == 200 and "by_manager" not in as_funder.context["parts"]
    assert "Nora Netz" not in as_funder.content.decode()
    refused = client_as(funder).get(url, {"part": "by_manager"})
    assert "Nora Netz" not in refused.content.decode()
    assert client_as(funder).get(url, {"part": "by_district"}).status_code == 200
    assert client_as(outsider).get(url).status_code == 403


def test_metrics_refuse_a_bad_period(client_as, manager):
    response = client_as(manager).get(
        reverse("pipeline:metrics"), {"start": "2026-05-01", "end": "2026-01-01"}
    )
    assert response.status_code == 200 and response.context["form"].errors["end"]


def test_follow_up_attached_to_a_request(client_as, transfer_request, scout, manager):
    url = reverse("pipeline:follow_up_add", args=[transfer_request.pk])
    response = client_as(scout).post(url, {"title": "Partner anrufen", "priority": "normal"})
    assert response.status_code == 302
    follow_up = transfer_request.follow_ups.get()
    assert follow_up.organisation == transfer_request.organisation
    assert follow_up.created_by == scout
    page = client_as(manager).get(transfer_request.get_absolute_url()).content.decode()
    assert "Partner anrufen" in page
    team = client_as(manager).get(reverse("scouting:team_follow_ups")).content.decode()
    assert transfer_request.get_absolute_url() in team


def test_board_marks_requests_over_the_stage_limit_as_stale(client_as, transfer_request, manager):
    import datetime

    from django.utils import timezone

    TransferRequest.objects.filter(pk=transfer_request.pk).update(
        stage_entered_at=timezone.now() - datetime.timedelta(days=20)
    )
    response = client_as(manager).get(reverse("pipeline:board"))
    card = response.context["columns"][0]["cards"][0]
    assert card.days_in_stage == 20 and card.stale
    assert "liegengeblieben" in response.content.decode()


def test_move_page_works_without_javascript(client_as, transfer_request, manager, stages):
    url = reverse("pipeline:request_move", args=[transfer_request.pk])
    page = client_as(manager).get(url)
    assert page.status_code == 200 and page.templates[0].name == "pipeline/move.html"
    client_as(manager).post(
        url,
        {
            "to": stages["partnersuche"].pk,
            "expected_stage": transfer_request.stage_id,
            "next": "https://evil.example/",
        },
    )
    transfer_request.refresh_from_db()
    assert transfer_request.stage == stages["partnersuche"]


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31"])
def test_extreme_dates_in_the_list_filter_are_no_error(client_as, manager, day):
    for name in ("created_from", "created_to"):
        response = client_as(manager).get(reverse("pipeline:request_list"), {name: day})
        assert response.status_code == 200


def test_detail_copes_with_a_stage_change_by_a_deleted_user(client_as, transfer_request, manager):
    StageChange.objects.filter(request=transfer_request).update(changed_by=None)
    response = client_as(manager).get(transfer_request.get_absolute_url())
    assert response.status_code == 200


def test_export_of_the_filtered_list(client_as, transfer_request, organisation, scout, manager):
    make_request(organisation, scout, title="=cmd|' /C calc'!A0", kind="testing")
    url = reverse("pipeline:request_export")
    response = client_as(manager).get(url, {"format": "csv", "kind": "testing"})
    assert response.status_code == 200
    body = b"".join(response.streaming_content).decode()
    assert "'=cmd" in body and "KI für die Qualitätsprüfung" not in body
    xlsx = client_as(manager).get(url, {"format": "xlsx"})
    assert xlsx["Content-Type"].startswith("application/vnd.openxmlformats")
    assert client_as(scout).get(url).status_code == 403
    assert client_as(manager).get(url, {"format": "pdf"}).status_code == 400


def test_manager_edits_the_request_and_history_records_it(
    client_as, transfer_request, person, topics, manager, scout
):
    url = reverse("pipeline:request_edit", args=[transfer_request.pk])
    client = client_as(manager)
    assert client.get(url).status_code == 200
    response = client.post(
        url,
        {
            "contact_person": person.pk,
            "title": "KI-Prüfstand",
            "description": "genauer beschrieben",
            "topics": [topics["energy"].pk],
            "kind": "testing",
            "responsible_manager": manager.pk,
            "priority": "high",
            "expected_volume": "25000",
        },
    )
    assert response.status_code == 302
    transfer_request.refresh_from_db()
    assert transfer_request.title == "KI-Prüfstand" and transfer_request.priority == "high"
    assert list(transfer_request.topics.all()) == [topics["energy"]]
    assert transfer_request.history.first().history_user == manager
    stage_before = transfer_request.stage_id
    assert transfer_request.stage_id == stage_before
    assert client_as(scout).get(url).status_code == 403
    bad = client.post(url, {"title": "", "kind": "testing", "priority": "high"})
    assert bad.status_code == 200 and bad.context["form"].errors["title"]


# --- Contact persons of the chosen organisation (htmx) -------------------------------

# Texts that are new have no German yet; those tests read the English.
ENGLISH = {"Accept-Language": "en"}


@pytest.fixture
def other_organisation(region):
    """An organisation with two contact persons (and the one of ``organisation`` is not
    among them)."""
    other = Organisation.objects.create(
        name="Stadtwerke Braunschweig", municipality=region["urban"]
    )
    for first, last in (("Uwe", "Ziegler"), ("Petra", "Adam")):
        Person.objects.create(first_name=first, last_name=last).affiliations.create(
            organisation=other
        )
    return other


def contact_options(response) -> list[str]:
    return [label for value, label in response.context["form"].fields["contact_person"].choices][1:]


def test_contact_choices_follow_the_chosen_organisation(
    client_as, scout, organisation, person, other_organisation
):
    url = reverse("pipeline:request_contacts")
    response = client_as(scout).get(url, {"organisation": other_organisation.pk}, headers=ENGLISH)
    assert response.status_code == 200
    assert response.templates[0].name == "pipeline/_contact_person.html"
    assert contact_options(response) == ["Petra Adam", "Uwe Ziegler"]
    html = response.content.decode()
    assert 'id="id_contact_person"' in html and 'for="id_contact_person"' in html
    assert 'aria-describedby="contact-person-hint"' in html
    # The hint for screen readers is swapped into the live region out of band.
    assert 'id="contact-person-hint" hx-swap-oob="innerHTML"' in html
    assert "2 contact persons of Stadtwerke Braunschweig" in html
    # The person chosen before stays chosen if they work at the new organisation too.
    kept = client_as(scout).get(url, {"organisation": organisation.pk, "contact_person": person.pk})
    assert contact_options(kept) == ["Anna Schmidt"]
    assert f'<option value="{person.pk}" selected>' in kept.content.decode()
    gone = client_as(scout).get(
        url, {"organisation": other_organisation.pk, "contact_person": person.pk}
    )
    assert f'value="{person.pk}"' not in gone.content.decode()


@pytest.mark.parametrize("raw", ["", "1000000", "abc", "١٢", "9" * 30, "-1"])
def test_an_unknown_organisation_gives_an_empty_contact_list(client_as, manager, person, raw):
    response = client_as(manager).get(reverse("pipeline:request_contacts"), {"organisation": raw})
    assert response.status_code == 200
    assert contact_options(response) == []
    assert "Wählen Sie zuerst die Organisation" in response.content.decode()


def test_an_organisation_without_people_says_so(client_as, scout, region):
    empty = Organisation.objects.create(name="Neu GmbH", municipality=region["rural"])
    response = client_as(scout).get(
        reverse("pipeline:request_contacts"), {"organisation": empty.pk}
    )
    assert contact_options(response) == []
    assert "Von Neu GmbH sind noch keine Ansprechpersonen im CRM." in response.content.decode()


def test_contact_choices_for_those_who_may_create_requests(
    client_as, client, scout, manager, administration, funder, outsider, organisation
):
    url = reverse("pipeline:request_contacts")
    params = {"organisation": organisation.pk}
    assert client_as(scout).get(url, params).status_code == 200
    assert client_as(manager).get(url, params).status_code == 200
    for persona in (administration, funder, outsider):
        assert client_as(persona).get(url, params).status_code == 403
    assert client.get(url, params).status_code == 302
    assert client_as(scout).post(url, params).status_code == 405


def test_request_form_reloads_contacts_and_still_checks_them(
    client_as, scout, organisation, person, other_organisation
):
    url = reverse("pipeline:request_create")
    page = client_as(scout).get(url).content.decode()
    assert f'hx-get="{reverse("pipeline:request_contacts")}"' in page
    assert 'id="contact-person-hint" class="form-text" aria-live="polite"' in page
    assert "Wählen Sie zuerst die Organisation" in page
    # Without JavaScript (or with a stale list) a person of another organisation is refused.
    stranger = other_organisation.affiliations.first().person
    response = client_as(scout).post(
        url,
        {
            "organisation": organisation.pk,
            "contact_person": stranger.pk,
            "title": "Prüfstand",
            "kind": "testing",
            "source": "phone",
            "priority": "normal",
        },
        headers=ENGLISH,
    )
    assert response.status_code == 200
    assert response.context["form"].errors["contact_person"]
    assert not TransferRequest.objects.exists()
    # The page sent back lists the chosen organisation's people.
    assert contact_options(response) == ["Anna Schmidt"]
    assert "1 contact person of Müller Maschinenbau GmbH" in response.content.decode()


def test_edit_page_lists_the_organisations_contacts(client_as, manager, transfer_request):
    page = client_as(manager).get(reverse("pipeline:request_edit", args=[transfer_request.pk]))
    assert contact_options(page) == ["Anna Schmidt"]
    assert 'aria-live="polite"' in page.content.decode()


# --- Board columns: counts and "load more" (htmx) ------------------------------------


def fill_columns(organisation, manager, per_stage: int) -> dict[int, list[TransferRequest]]:
    """``per_stage`` requests in every board column, entered a minute apart (the first
    one longest ago)."""
    start = timezone.now() - datetime.timedelta(days=5)
    made = {}
    for column, stage in enumerate(Stage.objects.board_columns()):
        rows = [
            TransferRequest(
                organisation=organisation,
                title=f"{stage.key} {n:02d}",
                kind="joint_rd",
                source="phone",
                stage=stage,
                responsible_manager=manager,
                stage_entered_at=start + datetime.timedelta(minutes=n, seconds=column),
            )
            for n in range(per_stage)
        ]
        made[stage.pk] = TransferRequest.objects.bulk_create(rows)
    return made


def more_url(html: str, stage: Stage) -> str | None:
    found = re.search(
        rf'hx-get="({re.escape(reverse("pipeline:board_cards", args=[stage.pk]))}[^"]*)"', html
    )
    return html_lib.unescape(found.group(1)) if found else None


def test_board_columns_show_their_total_and_load_more(client_as, manager, organisation, stages):
    made = fill_columns(organisation, manager, per_stage=23)
    client = client_as(manager)
    board = client.get(reverse("pipeline:board"))
    first = board.context["columns"][0]
    assert first["count"] == 23 and len(first["cards"]) == 20 and first["has_more"]
    html = board.content.decode()
    assert "23 Anfragen" in html  # for screen readers, with the visible number
    assert f"{reverse('pipeline:request_list')}?stage={first['stage'].pk}" in html
    url = more_url(html, first["stage"])
    assert url and "after_id=" in url

    more = client.get(url, headers=ENGLISH)
    assert more.status_code == 200
    cards = more.context["column"]["cards"]
    assert cards == made[first["stage"].pk][20:] and not more.context["column"]["has_more"]
    fragment = more.content.decode()
    assert fragment.count("<li ") == 3 and fragment.count(" autofocus") == 1
    # The footer is replaced: no more button, the link to the list stays.
    assert 'id="column-footer-' in fragment and 'hx-swap-oob="true"' in fragment
    assert more_url(fragment, first["stage"]) is None
    assert f"?stage={first['stage'].pk}" in fragment
    assert "3 more requests loaded" in fragment
    # "Move" sends back to the board, not to the fragment.
    assert f'?next={reverse("pipeline:board")}"' in fragment


def test_loading_more_continues_after_the_last_card_shown(client_as, manager, organisation, stages):
    made = fill_columns(organisation, manager, per_stage=25)
    column = Stage.objects.board_columns().first()
    client = client_as(manager)
    url = more_url(client.get(reverse("pipeline:board")).content.decode(), column)
    # Meanwhile two cards already shown leave the column: nothing is skipped.
    for moved in made[column.pk][:2]:
        advance_request(moved, to=stages["ruhend"], by=manager)
    cards = client.get(url).context["column"]["cards"]
    assert cards == made[column.pk][20:]


def test_more_cards_keep_the_only_mine_filter(client_as, manager, scout, organisation, stages):
    other = make_user("manager2", Role.NETWORK_MANAGER)
    made = fill_columns(organisation, manager, per_stage=22)
    column = Stage.objects.board_columns().first()
    TransferRequest.objects.filter(pk=made[column.pk][21].pk).update(responsible_manager=other)
    client = client_as(manager)
    url = more_url(client.get(reverse("pipeline:board"), {"mine": "1"}).content.decode(), column)
    assert "mine=1" in url
    assert client.get(url).context["column"]["cards"] == [made[column.pk][20]]


def test_more_cards_access_and_bad_input(
    client_as, client, scout, manager, administration, funder, outsider, stages
):
    column = Stage.objects.board_columns().first()
    url = reverse("pipeline:board_cards", args=[column.pk])
    for persona in (scout, manager, administration):
        assert client_as(persona).get(url).status_code == 200
    for persona in (funder, outsider):
        assert client_as(persona).get(url).status_code == 403
    assert client.get(url).status_code == 302
    closed = reverse("pipeline:board_cards", args=[stages["ohne-ergebnis"].pk])
    assert client_as(manager).get(closed).status_code == 404
    assert client_as(manager).get(reverse("pipeline:board_cards", args=[10**6])).status_code == 404
    for params in (
        {"after": "gestern", "after_id": "1"},
        {"after": "2026-01-01T10:00:00+01:00"},
        {"after": "2026-01-01T10:00:00+01:00", "after_id": "0"},
        {"after": "2026-01-01T10:00:00+01:00", "after_id": "9" * 30},
    ):
        assert client_as(manager).get(url, params).status_code == 400, params


@pytest.mark.parametrize("persona", ["manager", "scout"])
def test_board_and_more_cards_use_a_constant_number_of_queries(
    request, client_as, persona, organisation, manager, stages
):
    client = client_as(request.getfixturevalue(persona))
    column = Stage.objects.board_columns().first()

    def queries() -> tuple[int, int]:
        with CaptureQueriesContext(connection) as board_ctx:
            board = client.get(reverse("pipeline:board"))
            assert board.status_code == 200
        url = more_url(board.content.decode(), column) or reverse(
            "pipeline:board_cards", args=[column.pk]
        )
        with CaptureQueriesContext(connection) as more_ctx:
            assert client.get(url).status_code == 200
        return len(board_ctx), len(more_ctx)

    fill_columns(organisation, manager, per_stage=5)
    few = queries()
    TransferRequest.objects.all().delete()
    fill_columns(organisation, manager, per_stage=50)
    many = queries()
    assert len(client.get(reverse("pipeline:board")).context["columns"][0]["cards"]) == 20
    assert few == many


# --- Product or process innovation on outcomes (RCR03) -------------------------------


def test_an_outcome_with_an_innovation_is_recorded_and_shown(
    client_as, transfer_request, university, manager
):
    client = client_as(manager)
    page = client.get(transfer_request.get_absolute_url()).content.decode()
    assert 'type="checkbox" name="innovation_introduced"' in page
    assert "RCR03" in page  # the help text says what the tick counts for
    response = client.post(
        reverse("pipeline:outcome_add", args=[transfer_request.pk]),
        {"kind": "joint_rd", "date": "2026-11-01", "innovation_introduced": "on"},
    )
    assert response.status_code == 302
    outcome = transfer_request.outcomes.get()
    assert outcome.innovation_introduced and outcome.created_by == manager
    assert outcome.history.get().history_user == manager
    client.post(
        reverse("pipeline:outcome_add", args=[transfer_request.pk]),
        {"kind": "hire", "date": "2026-11-02"},
    )
    assert not transfer_request.outcomes.get(kind="hire").innovation_introduced
    shown = client.get(transfer_request.get_absolute_url(), headers=ENGLISH).content.decode()
    assert shown.count('success">Product or process innovation introduced</span>') == 1


def test_the_move_records_an_outcome_with_an_innovation(
    client_as, transfer_request, manager, stages
):
    url = reverse("pipeline:request_move", args=[transfer_request.pk])
    client = client_as(manager)
    assert 'name="outcome_innovation_introduced"' in client.get(url).content.decode()
    moved = client.post(
        url,
        {
            "to": stages["erfolgreich"].pk,
            "expected_stage": transfer_request.stage_id,
            "outcome_kind": "contract_research",
            "outcome_innovation_introduced": "on",
        },
    )
    assert moved.status_code == 302
    outcome = transfer_request.outcomes.get()
    assert outcome.kind == "contract_research" and outcome.innovation_introduced
    assert outcome.created_by == manager
    assert outcome.history.get().history_user == manager
    transfer_request.refresh_from_db()
    assert transfer_request.stage == stages["erfolgreich"]
    assert transfer_request.history.first().history_user == manager


def test_an_innovation_without_an_outcome_is_refused_in_the_move(
    client_as, transfer_request, manager, stages
):
    url = reverse("pipeline:request_move", args=[transfer_request.pk])
    response = client_as(manager).post(
        url,
        {
            "to": stages["qualifiziert"].pk,
            "expected_stage": transfer_request.stage_id,
            "outcome_innovation_introduced": "on",
        },
        headers=ENGLISH,
    )
    assert response.status_code == 200
    assert response.context["form"].errors["outcome_kind"] == [
        "Choose the outcome the innovation came from."
    ]
    assert '<details class="mb-3" open>' in response.content.decode()
    transfer_request.refresh_from_db()
    assert transfer_request.stage == stages["eingang"]
    assert not transfer_request.outcomes.exists()


# --- Editing a request changed meanwhile ---------------------------------------------


def edit_data(transfer_request, **changes):
    data = {
        "contact_person": transfer_request.contact_person_id or "",
        "title": transfer_request.title,
        "description": transfer_request.description,
        "topics": [t.pk for t in transfer_request.topics.all()],
        "kind": transfer_request.kind,
        "responsible_manager": transfer_request.responsible_manager_id or "",
        "priority": transfer_request.priority,
        "expected_volume": "",
    }
    return data | changes


def read_at(page) -> str:
    found = re.search(r'<input type="hidden" name="updated_at" value="([^"]+)"', page)
    assert found, "the edit page carries when it was read"
    return html_lib.unescape(found.group(1))


def test_the_edit_page_sends_when_it_was_read(client_as, transfer_request, manager):
    url = reverse("pipeline:request_edit", args=[transfer_request.pk])
    page = client_as(manager).get(url).content.decode()
    stored = TransferRequest.objects.get(pk=transfer_request.pk).updated_at
    assert datetime.datetime.fromisoformat(read_at(page)) == stored
    saved = client_as(manager).post(
        url, edit_data(transfer_request, title="KI-Prüfstand", updated_at=read_at(page))
    )
    assert saved.status_code == 302
    assert TransferRequest.objects.get(pk=transfer_request.pk).title == "KI-Prüfstand"


def test_an_edit_read_before_someone_elses_change_is_not_saved(
    client_as, transfer_request, manager
):
    url = reverse("pipeline:request_edit", args=[transfer_request.pk])
    client = client_as(manager)
    old_page = client.get(url).content.decode()
    colleague = make_user("manager2", Role.NETWORK_MANAGER)
    client_as(colleague).post(
        url,
        edit_data(transfer_request, priority="high", updated_at=read_at(old_page)),
    )
    rows = transfer_request.history.count()

    response = client.post(
        url,
        edit_data(transfer_request, title="Mein Titel", updated_at=read_at(old_page)),
        headers=ENGLISH,
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert "This request was changed by someone else meanwhile; reload it" in html
    current = TransferRequest.objects.get(pk=transfer_request.pk)
    assert (current.title, current.priority) == ("KI für die Qualitätsprüfung", "high")
    assert current.history.count() == rows
    assert current.history.first().history_user == colleague
    # The page now shows the request as it is, read anew: saving again works.
    form = response.context["form"]
    assert not form.is_bound and form["priority"].value() == "high"
    assert form["title"].value() == "KI für die Qualitätsprüfung"
    assert datetime.datetime.fromisoformat(read_at(html)) == current.updated_at
    again = client.post(url, edit_data(current, title="Mein Titel", updated_at=read_at(html)))
    assert again.status_code == 302
    assert TransferRequest.objects.get(pk=transfer_request.pk).title == "Mein Titel"


def test_a_tampered_read_time_is_refused(client_as, transfer_request, manager):
    url = reverse("pipeline:request_edit", args=[transfer_request.pk])
    response = client_as(manager).post(
        url, edit_data(transfer_request, title="Neu", updated_at="gestern")
    )
    assert response.status_code == 200 and response.context["form"].errors["updated_at"]
    assert TransferRequest.objects.get(pk=transfer_request.pk).title != "Neu"
