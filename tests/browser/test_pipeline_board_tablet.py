"""The pipeline board on a tablet (768 × 1024): the columns scroll sideways without
cutting anything off, a network manager moves a request with the "Verschieben" link
(the keyboard way instead of dragging), loads more cards of a long column, and the
new-request form reloads the contact persons of the organisation picked."""

from __future__ import annotations

import datetime
import re

import pytest
from django.apps import apps as django_apps
from django.utils import timezone
from playwright.sync_api import expect

from crm.models import Organisation, Person
from pipeline.models import Stage, StageChange, TransferRequest
from pipeline.services import create_request
from pipeline.stages import install_default_stages

pytestmark = pytest.mark.browser


@pytest.fixture
def stages(db):
    """The default stages (a live-server test before may have flushed them), with
    "Partnersuche" asking for the expected volume, so that the move needs a field."""
    install_default_stages(django_apps)
    Stage.objects.filter(key="partnersuche").update(required_fields=["expected_volume"])
    return {stage.key: stage for stage in Stage.objects.all()}


def new_request(organisation, by, title, **fields):
    return create_request(
        organisation=organisation, by=by, title=title, kind="joint_rd", source="phone", **fields
    )


@pytest.fixture
def board_requests(stages, organisation, person, scout, manager):
    """One request in the first column and one in the last, far to the right."""
    first = new_request(
        organisation, scout, "Sensorik für den Prüfstand", responsible_manager=manager
    )
    last = new_request(organisation, scout, "Gemeinsames Forschungsprojekt")
    TransferRequest.objects.filter(pk=last.pk).update(stage=stages["in-kooperation"])
    return {"first": first, "last": last}


def column(page, name):
    return page.locator(".pipeline-column", has=page.get_by_role("heading", name=re.compile(name)))


def assert_not_covered(locator):
    """What the user taps is the element itself, not something lying over it."""
    assert locator.evaluate(
        """el => {
            const box = el.getBoundingClientRect();
            const hit = document.elementFromPoint(box.x + box.width / 2, box.y + box.height / 2);
            return el === hit || el.contains(hit);
        }"""
    )


def test_manager_moves_a_request_with_the_move_link_on_a_tablet(
    page, page_log, login, manager, board_requests, stages
):
    req = board_requests["first"]
    login(page, manager)
    # Below laptop width the navigation hides behind its toggle.
    page.get_by_role("button", name="Navigation ein-/ausblenden").click()
    page.get_by_role("link", name="Pipeline", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Transfer-Pipeline")

    # The columns scroll sideways inside the board; the page itself does not.
    board = page.locator(".pipeline-board")
    assert board.evaluate("el => el.scrollWidth > el.clientWidth")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    # Each column header says how many requests it holds.
    expect(column(page, "^Eingang").get_by_role("heading")).to_contain_text("1")

    # A card in the last column is reached by scrolling the board and is shown whole.
    far = page.locator(f'[data-request="{board_requests["last"].pk}"]')
    far.scroll_into_view_if_needed()
    expect(far).to_be_in_viewport(ratio=1)
    far_move = far.get_by_role("link", name=re.compile("^Verschieben"))
    expect(far_move).to_be_in_viewport(ratio=1)
    assert_not_covered(far_move)

    # The card in the first column and its "Verschieben" link: visible, not covered.
    board.evaluate("el => { el.scrollLeft = 0; }")
    card = page.locator(f'[data-request="{req.pk}"]')
    expect(card).to_be_in_viewport(ratio=1)
    move = card.get_by_role("link", name=re.compile(rf"^Verschieben\s*: {re.escape(req.title)}$"))
    expect(move).to_be_in_viewport(ratio=1)
    assert_not_covered(move)

    # The keyboard way: the link opens the move form.
    move.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=2)).to_have_text(f"„{req.title}“ verschieben")
    page.get_by_label("Neue Phase").focus()
    page.get_by_label("Neue Phase").select_option(label="Partnersuche")
    page.get_by_role("button", name="Verschieben").press("Enter")

    # The stage wants the expected volume: refused, nothing moved, the field is open.
    expect(page.get_by_role("status")).to_contain_text("das erwartete Volumen")
    req.refresh_from_db()
    assert req.stage == stages["eingang"]
    volume = page.get_by_label("Erwartetes Volumen (EUR)")
    expect(volume).to_be_visible()
    expect(page.get_by_label("Neue Phase")).to_have_value(str(stages["partnersuche"].pk))
    volume.fill("25000")
    volume.press("Enter")

    # Back on the board, the card is in its new column.
    expect(page.get_by_role("status")).to_contain_text("nach „Partnersuche“ verschoben")
    expect(page.get_by_role("heading", level=1)).to_have_text("Transfer-Pipeline")
    moved = column(page, "^Partnersuche").locator(f'[data-request="{req.pk}"]')
    expect(moved).to_be_visible()
    expect(column(page, "^Eingang").locator(f'[data-request="{req.pk}"]')).to_have_count(0)
    req.refresh_from_db()
    assert req.stage == stages["partnersuche"] and req.expected_volume == 25000

    # The stage history of the request shows the move, with who made it.
    moved.get_by_role("link", name=req.title, exact=True).click()
    history = page.locator("ol.timeline")
    expect(history).to_contain_text("Partnersuche")
    expect(history).to_contain_text("Nora Netz")
    assert list(
        StageChange.objects.filter(request=req)
        .order_by("changed_at", "pk")
        .values_list("to_stage__key", "changed_by__username")
    ) == [("eingang", "scout"), ("partnersuche", "manager")]
    assert not page_log.problems(), page_log.problems()


def test_more_cards_of_a_long_column_load_by_keyboard(
    page, page_log, login, manager, stages, organisation
):
    start = timezone.now() - datetime.timedelta(days=3)
    TransferRequest.objects.bulk_create(
        TransferRequest(
            organisation=organisation,
            title=f"Anfrage {n:02d}",
            kind="testing",
            source="email",
            stage=stages["eingang"],
            stage_entered_at=start + datetime.timedelta(minutes=n),
        )
        for n in range(1, 23)
    )
    login(page, manager)
    page.goto("/pipeline/")
    first = column(page, "^Eingang")
    expect(first.get_by_role("heading")).to_contain_text("22")
    expect(first.locator(".pipeline-card")).to_have_count(20)

    more = first.locator(f"#column-footer-{stages['eingang'].pk} button")
    more.scroll_into_view_if_needed()
    expect(more).to_be_visible()
    more.focus()
    page.keyboard.press("Enter")

    # The two oldest-but-newest cards are appended; focus moves to the first of them.
    expect(first.locator(".pipeline-card")).to_have_count(22)
    expect(first.get_by_role("link", name="Anfrage 21", exact=True)).to_be_focused()
    expect(more).to_have_count(0)
    expect(first.get_by_role("link", name="Alle in dieser Phase")).to_be_visible()
    expect(page.locator("#board-live")).to_contain_text("Eingang")
    titles = first.locator(".pipeline-card > .card-body > a.fw-semibold").all_inner_texts()
    assert titles == [f"Anfrage {n:02d}" for n in range(1, 23)]
    assert not page_log.problems(), page_log.problems()


def test_new_request_form_reloads_the_contact_persons(
    page, page_log, login, scout, stages, organisation, person, region
):
    other = Organisation.objects.create(
        name="Stadtwerke Wolfenbüttel", municipality=region["rural"]
    )
    for first_name, last_name in (("Uwe", "Ziegler"), ("Petra", "Adam")):
        Person.objects.create(first_name=first_name, last_name=last_name).affiliations.create(
            organisation=other
        )
    login(page, scout)
    page.goto("/pipeline/requests/new/")
    contact = page.locator("#id_contact_person")
    hint = page.locator("#contact-person-hint")
    expect(hint).to_have_attribute("aria-live", "polite")
    expect(contact.locator("option")).to_have_count(1)

    search = page.get_by_role("searchbox", name="Organisation", exact=True)
    search.fill("Stadtwerke Wolf")
    expect(page.get_by_role("option", name=re.compile("Stadtwerke Wolfenbüttel"))).to_be_visible()
    search.press("Enter")
    expect(contact.locator("option")).to_have_count(3)
    expect(hint).to_contain_text("Stadtwerke Wolfenbüttel")
    expect(contact.locator("option").nth(1)).to_have_text("Petra Adam")

    # Changing the organisation replaces the list; the label still names the field.
    search.fill("Müller Masch")
    expect(page.get_by_role("option", name=re.compile("Müller Maschinenbau GmbH"))).to_be_visible()
    search.press("Enter")
    expect(contact.locator("option")).to_have_count(2)
    expect(hint).to_contain_text("Müller Maschinenbau GmbH")
    page.get_by_label("Ansprechperson").select_option(label="Anna Schmidt")
    page.get_by_label("Titel").fill("Prüfstand gesucht")
    page.locator("#id_kind").select_option("testing")
    page.locator("#id_source").select_option("phone")
    page.get_by_role("button", name="Anlegen").click()
    expect(page.get_by_role("status")).to_contain_text("Transferanfrage angelegt")
    created = TransferRequest.objects.get(title="Prüfstand gesucht")
    assert created.organisation == organisation and created.contact_person == person
    assert not page_log.problems(), page_log.problems()
