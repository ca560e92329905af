"""Issue journey (scouting): on a tablet a scout logs a visit with a new contact person
and a need whose guide answer raises a follow-up; a network manager sees it on the
start page and assigns it with a due date; the assignee finds it under "Meine
Wiedervorlagen"."""

from __future__ import annotations

import datetime
import re

import pytest
from django.apps import apps as django_apps
from django.utils import timezone
from playwright.sync_api import expect

from crm.models import ConsentRecord, Person
from scouting.guide import install_default_guide
from scouting.models import FollowUp, InterviewGuide, Visit

pytestmark = pytest.mark.browser


class Taps:
    """Counts what the scout does: every click, choice and filled field."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, locator, action: str = "click", *args):
        self.count += 1
        return getattr(locator, action)(*args)


@pytest.fixture
def default_guide(db):
    """The data migration's guide; a live-server test before this one flushed it."""
    if InterviewGuide.objects.current() is None:
        install_default_guide(django_apps)
    return InterviewGuide.objects.current()


def test_scout_logs_visit_and_manager_assigns_follow_up(
    page, page_log, login, scout, scout2, manager, organisation, person, default_guide
):
    login(page, scout)
    tap = Taps()

    # From the start page, the visit form in about fifteen taps and fields.
    tap(page.get_by_role("link", name="Besuch erfassen").first)
    expect(page.get_by_role("heading", level=1)).to_have_text("Besuch erfassen")
    tap(page.get_by_label(re.compile("^Nach Namen suchen")), "fill", "Müller Masch")
    # The tablet keyboard's "Go" key picks the first suggestion; it does not send the form.
    expect(page.get_by_role("option", name=re.compile("Müller Maschinenbau GmbH"))).to_be_visible()
    tap(page.get_by_label(re.compile("^Nach Namen suchen")), "press", "Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Besuch erfassen")
    assert page.locator("#id_organisation").input_value() == str(organisation.pk)
    # Picking the organisation loads its contact persons.
    expect(page.get_by_text("Anna Schmidt")).to_be_visible()
    tap(page.get_by_text("Neue Ansprechperson hinzufügen"))
    tap(page.get_by_label("Vorname", exact=True), "fill", "Jens")
    tap(page.get_by_label("Nachname", exact=True), "fill", "Jansen")
    tap(
        page.get_by_label("Grundlage für die Speicherung der Kontaktdaten (DSGVO)"),
        "select_option",
        "consent",
    )
    tap(page.get_by_text("Fachkräfte", exact=True).first)
    tap(page.get_by_label("Zusammenfassung"), "fill", "Sucht zwei Mechatroniker:innen.")
    tap(page.locator("summary", has_text="Fachkräfte"))
    shortage = page.get_by_role("group", name="Hat das Unternehmen einen Fachkräftemangel?")
    tap(shortage.get_by_text("ja", exact=True))
    tap(page.get_by_role("button", name="Speichern und einreichen"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Müller Maschinenbau GmbH")
    expect(page.get_by_text("Fachkräftebedarf klären")).to_be_visible()
    assert tap.count <= 15, f"{tap.count} taps and fields"

    visit = Visit.objects.get()
    assert visit.status == Visit.Status.SUBMITTED and visit.needs == ["skilled_workers"]
    new_person = Person.objects.get(last_name="Jansen")
    assert set(visit.people_met.all()) == {new_person}
    assert ConsentRecord.objects.get(person=new_person).lawful_basis == "consent"
    follow_up = FollowUp.objects.get(visit=visit)
    assert follow_up.assignee is None

    # The network manager starts the day on the dashboard and assigns it.
    page.context.clear_cookies()
    login(page, manager)
    page.goto("/")
    team = page.locator("section", has=page.get_by_role("heading", name="Teamübersicht"))
    expect(team).to_contain_text("Müller Maschinenbau GmbH")
    team.get_by_role("link", name="Fachkräftebedarf klären").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Fachkräftebedarf klären")
    due = timezone.localdate() + datetime.timedelta(days=10)
    page.get_by_label(re.compile("^Zuständig")).select_option(str(scout2.pk))
    page.get_by_label("Fällig am").fill(due.isoformat())
    page.get_by_role("button", name="Zuweisen").click()
    expect(page.get_by_role("status")).to_contain_text("zugewiesen")
    follow_up.refresh_from_db()
    assert follow_up.assignee == scout2 and follow_up.due_date == due
    assert follow_up.assigned_by == manager

    # The assignee sees it under "Meine Wiedervorlagen".
    page.context.clear_cookies()
    login(page, scout2)
    page.get_by_role("link", name="Wiedervorlagen").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Meine Wiedervorlagen")
    expect(page.get_by_role("link", name="Fachkräftebedarf klären")).to_be_visible()
    expect(page.get_by_text(due.strftime("%d.%m.%Y"))).to_be_visible()
    assert not page_log.problems(), page_log.problems()


def test_duplicate_warning_offers_the_existing_organisation(
    page, page_log, login, scout, organisation, person, region, default_guide
):
    login(page, scout)
    page.goto("/visits/new/")
    page.get_by_text("Noch nicht im CRM? Neue Organisation anlegen").click()
    page.get_by_label("Name der neuen Organisation").fill("Mueller Maschinenbau")
    warning = page.locator("#new-org-duplicates")
    expect(warning).to_contain_text("Müller Maschinenbau GmbH")
    warning.get_by_role("button", name="Diese verwenden").click()
    assert page.locator("#id_organisation").input_value() == str(organisation.pk)
    assert page.get_by_label("Name der neuen Organisation").input_value() == ""
    # The organisation's contact persons are offered now.
    expect(page.get_by_text("Anna Schmidt")).to_be_visible()
    assert not page_log.problems(), page_log.problems()


def test_scouting_pages_fit_a_tablet(
    page, page_log, login, scout, manager, organisation, person, default_guide
):
    import uuid as uuid_lib

    from scouting.services import propose_follow_up, record_visit

    visit, _created = record_visit(
        uuid=uuid_lib.uuid4(), organisation=organisation, by=scout, people_met=[person]
    )
    follow_up = propose_follow_up(by=scout, title="Rückruf", visit=visit)
    login(page, manager)
    for path in (
        "/",
        "/visits/",
        "/visits/new/",
        visit.get_absolute_url(),
        f"/visits/{visit.uuid}/edit/",
        "/follow-ups/",
        "/follow-ups/team/",
        f"/follow-ups/{follow_up.pk}/",
        person.get_absolute_url(),
        organisation.get_absolute_url(),
        "/calendar/",
    ):
        page.goto(path)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 768, f"{path} is {width} px wide"
    assert not page_log.problems(), page_log.problems()
