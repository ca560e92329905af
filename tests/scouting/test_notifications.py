"""The assignment email: one templated German email per assignee, with a link."""

from __future__ import annotations

import datetime

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from crm.roles import Role
from scouting.models import FollowUp
from scouting.notifications import notify_assignment
from scouting.services import assign_follow_ups, propose_follow_up
from tests.personas import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _site_url(settings):
    settings.SITE_URL = "https://crm.example.org/"


def follow_up(assignee, *, title="Rückruf", organisation=None, person=None, **fields):
    return FollowUp.objects.create(
        title=title, assignee=assignee, organisation=organisation, person=person, **fields
    )


def html_of(message) -> str:
    [(html, mimetype)] = message.alternatives
    assert mimetype == "text/html"
    return html


def test_assignment_email_is_german_with_text_html_and_link(
    organisation, person, scout, manager, django_capture_on_commit_callbacks
):
    first = propose_follow_up(by=scout, title="Förderprogramm prüfen", organisation=organisation)
    second = propose_follow_up(by=scout, title="Rückruf", person=person)
    with django_capture_on_commit_callbacks():
        assign_follow_ups(
            [first, second],
            assignee=scout,
            due_date=datetime.date(2026, 5, 4),
            priority="high",
            by=manager,
        )
    translation.activate("en")  # the request's language must not choose the email's

    assert notify_assignment([first.pk, second.pk]) == 1

    [message] = mail.outbox
    assert message.to == [scout.email]
    assert message.subject.startswith("[Regio-CRM] ")
    assert "2" in message.subject and "\n" not in message.subject
    assert message.body.startswith("Guten Tag Sina Scout,\n")
    assert "Ihnen wurde zugewiesen:" in message.body
    assert "- Förderprogramm prüfen (Müller Maschinenbau GmbH, fällig am 04.05.2026, hoch)" in (
        message.body
    )
    assert "- Rückruf (Anna Schmidt, fällig am 04.05.2026, hoch)" in message.body
    assert "https://crm.example.org/follow-ups/" in message.body
    assert "Mit freundlichen Grüßen" in message.body
    html = html_of(message)
    assert '<html lang="de">' in html
    assert (
        f'<a href="https://crm.example.org/follow-ups/{first.pk}/">'
        "<strong>Förderprogramm prüfen</strong></a> – Müller Maschinenbau GmbH"
    ) in html
    assert "fällig am 04.05.2026" in html and "Priorität: <strong>hoch</strong>" in html
    assert '<a href="https://crm.example.org/follow-ups/">' in html


def test_single_assignment_subject_names_it_and_text_is_not_html_escaped(organisation, scout):
    item = follow_up(scout, title='F&E-Antrag <"Digital">', organisation=organisation)

    assert notify_assignment([item.pk]) == 1

    [message] = mail.outbox
    assert message.subject == '[Regio-CRM] Neue Wiedervorlage: F&E-Antrag <"Digital">'
    assert '- F&E-Antrag <"Digital"> (Müller Maschinenbau GmbH, ohne Fälligkeitsdatum, normal)' in (
        message.body
    )
    assert "F&amp;E-Antrag &lt;&quot;Digital&quot;&gt;" in html_of(message)
    assert '<"Digital">' not in html_of(message)


def test_each_assignee_gets_only_their_own_follow_ups(organisation, scout, scout2):
    follow_up(scout, title="Für Sina", organisation=organisation)
    follow_up(scout2, title="Für Samuel", organisation=organisation)
    ids = list(FollowUp.objects.values_list("pk", flat=True))

    assert notify_assignment(ids) == 2

    by_recipient = {m.to[0]: m for m in mail.outbox}
    assert set(by_recipient) == {scout.email, scout2.email}
    assert "Für Sina" in by_recipient[scout.email].body
    assert "Für Samuel" not in by_recipient[scout.email].body
    assert "Für Samuel" in by_recipient[scout2.email].body
    assert "Für Sina" not in by_recipient[scout2.email].body


def test_nobody_without_address_deactivated_or_unassigned_is_emailed(organisation, scout, scout2):
    scout.email = ""
    scout.save()
    scout2.is_active = False
    scout2.save()
    ids = [
        follow_up(scout, organisation=organisation).pk,
        follow_up(scout2, organisation=organisation).pk,
        follow_up(None, organisation=organisation).pk,
    ]

    assert notify_assignment(ids) == 0
    assert mail.outbox == []


def test_unknown_or_no_ids_send_nothing(scout):
    assert notify_assignment([]) == 0
    assert notify_assignment([987654]) == 0
    assert mail.outbox == []


def _queries_for(count: int, organisation) -> int:
    users = [make_user(f"empfaenger{count}-{i}", Role.SCOUT) for i in range(count)]
    ids = [follow_up(users[i % count], organisation=organisation).pk for i in range(count * 2)]
    mail.outbox.clear()
    with CaptureQueriesContext(connection) as queries:
        assert notify_assignment(ids) == count
    return len(queries)


def test_query_count_does_not_grow_with_assignees_and_follow_ups(organisation):
    assert _queries_for(2, organisation) == _queries_for(20, organisation) == 1


def test_text_email_links_each_follow_up_and_names_who_assigned_it(
    organisation, scout, manager, django_capture_on_commit_callbacks
):
    follow_up = propose_follow_up(by=scout, title="Rückruf", organisation=organisation)
    with django_capture_on_commit_callbacks(execute=True):
        assign_follow_ups([follow_up], assignee=scout, by=manager)
    body = mail.outbox[-1].body
    assert f"/follow-ups/{follow_up.pk}/" in body
    assert "zugewiesen von Nora Netz" in body
