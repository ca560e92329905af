from __future__ import annotations

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from pipeline.models import Match, Stage, StageChange, TransferRequest
from pipeline.services import advance_request, create_request, propose_match, set_match_status
from scouting.services import record_visit

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
