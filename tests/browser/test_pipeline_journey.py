"""Issue journey (pipeline): a network manager opens a request created from a visit,
accepts a suggested research partner, drags it to "Vermittelt" and then "In
Kooperation" recording an outcome, and the stage history shows each step with time
and person."""

from __future__ import annotations

import re
import uuid

import pytest
from django.apps import apps as django_apps
from playwright.sync_api import expect

from crm.models import Organisation
from pipeline.models import Match, Outcome, Stage, StageChange, TransferRequest
from pipeline.services import create_request_from_visit
from pipeline.stages import install_default_stages
from scouting.services import record_visit, submit_visit

pytestmark = pytest.mark.browser


@pytest.fixture
def request_from_visit(db, organisation, person, topics, scout, manager, region):
    install_default_stages(django_apps)  # a live-server test before may have flushed them
    organisation.responsible_manager = manager
    organisation.save()
    university = Organisation.objects.create(
        name="Technische Universität Braunschweig",
        kind=Organisation.Kind.UNIVERSITY,
        municipality=region["urban"],
    )
    university.offered_topics.set([topics["ai"]])
    visit = record_visit(
        uuid=uuid.uuid4(),
        organisation=organisation,
        by=scout,
        people_met=[person],
        topics=[topics["ai"]],
        needs=["technology_rd"],
        summary="Möchte Bilderkennung in der Qualitätsprüfung einsetzen.",
    )[0]
    submit_visit(visit, by=scout)
    return create_request_from_visit(visit, by=scout)


def drag(page, card, column):
    card.drag_to(column)
    dialog = page.locator("#move-dialog")
    expect(dialog).to_be_visible()
    return dialog


@pytest.mark.parametrize("viewport", ["laptop"])
def test_manager_matches_and_moves_a_request_to_cooperation(
    page, page_log, login, manager, request_from_visit
):
    req = request_from_visit
    login(page, manager)
    page.get_by_role("link", name="Pipeline").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Transfer-Pipeline")
    page.get_by_role("link", name=req.title, exact=True).click()

    # The suggested partner is proposed and accepts.
    expect(page.get_by_text("1 gemeinsames Themenfeld")).to_be_visible()
    page.get_by_role("button", name=re.compile("Vorschlagen.*Technische Universität")).click()
    page.get_by_role("button", name=re.compile("Zugesagt.*Technische Universität")).click()
    expect(page.locator(".badge", has_text="zugesagt")).to_be_visible()
    assert Match.objects.get(request=req).status == Match.Status.ACCEPTED

    # Drag to "Vermittelt": the dialog asks, the move is recorded.
    page.get_by_role("link", name="Pipeline").first.click()
    card = page.locator(f'[data-request="{req.pk}"]')
    vermittelt = page.locator(".pipeline-column", has_text="Vermittelt").locator(".pipeline-cards")
    dialog = drag(page, card, vermittelt)
    expect(dialog.get_by_label("Neue Phase")).to_have_value(
        str(Stage.objects.get(key="vermittelt").pk)
    )
    dialog.get_by_role("button", name="Verschieben").click()
    expect(page.get_by_role("status")).to_contain_text("Vermittelt")
    req.refresh_from_db()
    assert req.stage.key == "vermittelt"

    # Drag on to "In Kooperation", recording the joint project as the outcome.
    card = page.locator(f'[data-request="{req.pk}"]')
    cooperation = page.locator(".pipeline-column", has_text="In Kooperation").locator(
        ".pipeline-cards"
    )
    dialog = drag(page, card, cooperation)
    dialog.get_by_text("Was die Phase verlangt").click()
    dialog.get_by_label("Ergebnis", exact=True).select_option("joint_rd")
    dialog.get_by_label("Partner des Ergebnisses").select_option(
        label="Technische Universität Braunschweig"
    )
    dialog.get_by_role("button", name="Verschieben").click()
    expect(page.get_by_role("status")).to_contain_text("In Kooperation")
    req.refresh_from_db()
    assert req.stage.key == "in-kooperation"
    assert Outcome.objects.get(request=req).kind == "joint_rd"

    # The stage history shows each step with time and person.
    page.goto(req.get_absolute_url())
    history = page.locator("ol.timeline")
    for step in ("Eingang", "Vermittelt", "In Kooperation"):
        expect(history).to_contain_text(step)
    expect(history).to_contain_text("Nora Netz")
    assert list(
        StageChange.objects.filter(request=req)
        .order_by("changed_at")
        .values_list("to_stage__key", "changed_by__username")
    ) == [("eingang", "scout"), ("vermittelt", "manager"), ("in-kooperation", "manager")]
    assert TransferRequest.objects.get(pk=req.pk).outcomes.count() == 1

    # The figures count it: its parts load on their own.
    page.goto("/pipeline/metrics/")
    overview = page.locator("#metrics-overview")
    expect(overview).to_contain_text("Trichter")
    expect(overview.get_by_role("row", name="In Kooperation 1", exact=True)).to_be_visible()
    expect(page.locator("#metrics-by_district")).to_contain_text("LK Wolfenbüttel")
    assert not page_log.problems(), page_log.problems()
