"""The daily digest: who gets which follow-ups, what the email says, sent once a day."""

from __future__ import annotations

import datetime
import smtplib

import pytest
from celery.schedules import crontab
from django.core import mail
from django.core.mail import EmailMultiAlternatives
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation

from crm.celery import app
from crm.roles import Role
from scouting import tasks
from scouting.models import FollowUp
from scouting.notifications import DIGEST_ITEM_LIMIT, send_daily_digest
from tests.personas import make_user

pytestmark = pytest.mark.django_db

DAY = datetime.date(2026, 11, 24)


def days(n: int) -> datetime.date:
    return DAY + datetime.timedelta(days=n)


def follow_up(assignee, title, due, organisation, **fields) -> FollowUp:
    if fields.get("status") == FollowUp.Status.DONE:
        fields.setdefault("completed_at", timezone.now())
    return FollowUp.objects.create(
        title=title, assignee=assignee, due_date=due, organisation=organisation, **fields
    )


def german(msgid: str, **values) -> str:
    with translation.override("de"):
        return translation.gettext(msgid) % values


def german_plural(singular: str, plural: str, count: int, **values) -> str:
    with translation.override("de"):
        return translation.ngettext(singular, plural, count) % {"counter": count, **values}


def digests() -> dict[str, mail.EmailMessage]:
    return {message.to[0]: message for message in mail.outbox}


@pytest.fixture
def settings_site(settings):
    settings.SITE_URL = "https://crm.example.org"


def test_each_user_gets_their_overdue_and_due_today_follow_ups(
    settings_site, organisation, scout, scout2, administration
):
    follow_up(scout, "Überfällig", days(-3), organisation, priority="high")
    follow_up(scout, "Termin heute", DAY, organisation)
    follow_up(scout, "In Arbeit", days(-1), organisation, status=FollowUp.Status.IN_PROGRESS)
    follow_up(scout, "Nächste Woche", days(3), organisation)
    follow_up(scout, "Übernächste Woche", days(10), organisation)
    follow_up(scout, "Ohne Datum", None, organisation)
    follow_up(scout, "Erledigt", days(-2), organisation, status=FollowUp.Status.DONE)
    follow_up(scout, "Abgebrochen", DAY, organisation, status=FollowUp.Status.CANCELLED)
    follow_up(scout2, "Samuels Aufgabe", DAY, organisation)
    follow_up(administration, "Erst nächste Woche", days(2), organisation)
    translation.activate("en")  # the caller's language must not choose the email's

    assert send_daily_digest(on=DAY) == 2

    sent = digests()
    # Administration has something next week only: nothing to say today.
    assert set(sent) == {scout.email, scout2.email}
    body = sent[scout.email].body
    for listed in ("Überfällig", "Termin heute", "In Arbeit"):
        assert f"- {listed} (Müller Maschinenbau GmbH, fällig am" in body
    for absent in ("Nächste Woche", "Übernächste", "Ohne Datum", "Erledigt", "Abgebrochen"):
        assert absent not in body
    assert "Samuels Aufgabe" not in body
    assert "Samuels Aufgabe" in sent[scout2.email].body
    assert "Termin heute" not in sent[scout2.email].body
    assert german("Due today (%(number)s):", number=1) in body
    assert german("Overdue (%(number)s):", number=2) in body
    assert (
        german_plural(
            "%(counter)s follow-up is due in the next %(upcoming_days)s days.",
            "%(counter)s follow-ups are due in the next %(upcoming_days)s days.",
            1,
            upcoming_days=7,
        )
        in body
    )
    # Due today first, then the oldest overdue.
    assert body.index("Termin heute") < body.index("- Überfällig") < body.index("In Arbeit")
    # Scouts get no team section.
    assert german("For the team:") not in body


def test_email_content_is_german_with_dates_subject_html_and_link(
    settings_site, organisation, person, scout
):
    overdue = follow_up(scout, "F&E-Antrag <prüfen>", days(-3), organisation, priority="high")
    FollowUp.objects.create(title="Rückruf", assignee=scout, due_date=DAY, person=person)

    send_daily_digest(on=DAY)

    [message] = mail.outbox
    assert message.subject == "[Regio-CRM] " + german(
        "Your follow-ups for %(date)s", date="24.11.2026"
    )
    assert message.body.startswith("Guten Tag Sina Scout,\n")
    assert "- F&E-Antrag <prüfen> (Müller Maschinenbau GmbH, fällig am 21.11.2026, hoch)" in (
        message.body
    )
    assert "- Rückruf (Anna Schmidt, fällig am 24.11.2026, normal)" in message.body
    assert "https://crm.example.org/follow-ups/" in message.body
    assert "Mit freundlichen Grüßen" in message.body
    [(html, mimetype)] = message.alternatives
    assert mimetype == "text/html" and '<html lang="de">' in html
    assert "<strong>F&amp;E-Antrag &lt;prüfen&gt;</strong>" in html
    assert f'<a href="https://crm.example.org/follow-ups/{overdue.pk}/">' in html
    assert "fällig am 21.11.2026" in html and "Priorität: <strong>hoch</strong>" in html
    assert '<a href="https://crm.example.org/follow-ups/">' in html


def test_deactivated_users_and_users_without_address_get_nothing(organisation, scout, scout2):
    follow_up(scout, "Heute", DAY, organisation)
    follow_up(scout2, "Heute", DAY, organisation)
    scout.is_active = False
    scout.save()
    scout2.email = ""
    scout2.save()

    assert send_daily_digest(on=DAY) == 0
    assert mail.outbox == []


def test_managers_also_get_the_teams_unassigned_and_overdue_counts(
    settings_site, organisation, scout, manager, administration
):
    follow_up(None, "Niemandem zugewiesen", days(5), organisation)
    follow_up(None, "Niemandem zugewiesen, überfällig", days(-1), organisation)
    follow_up(scout, "Sinas überfällige", days(-2), organisation)
    follow_up(manager, "Noras heutige", DAY, organisation)
    follow_up(None, "Erledigt", days(-9), organisation, status=FollowUp.Status.DONE)
    retired = make_user("ehemalig", Role.NETWORK_MANAGER, is_active=False)

    assert send_daily_digest(on=DAY) == 2

    sent = digests()
    assert set(sent) == {scout.email, manager.email}
    assert retired.email not in sent
    body = sent[manager.email].body
    assert "- Noras heutige (" in body
    assert "Sinas überfällige" not in body  # the team is counted, not listed
    assert german("For the team:") in body
    assert (
        german_plural(
            "%(counter)s open follow-up without an assignee",
            "%(counter)s open follow-ups without an assignee",
            2,
        )
        in body
    )
    assert (
        german_plural(
            "%(counter)s overdue follow-up in the team",
            "%(counter)s overdue follow-ups in the team",
            2,
        )
        in body
    )
    assert "https://crm.example.org/follow-ups/team/" in body
    [(html, _mimetype)] = sent[manager.email].alternatives
    assert '<a href="https://crm.example.org/follow-ups/team/?view=unassigned">' in html
    assert '<a href="https://crm.example.org/follow-ups/team/?view=overdue">' in html
    assert german("For the team:") not in sent[scout.email].body
    assert "/follow-ups/team/" not in sent[scout.email].body


def test_a_manager_with_nothing_due_and_a_tidy_team_gets_nothing(organisation, manager, scout):
    follow_up(manager, "Nächste Woche", days(3), organisation)
    follow_up(scout, "Übermorgen", days(2), organisation)

    assert send_daily_digest(on=DAY) == 0
    assert mail.outbox == []


def test_long_lists_are_cut_with_a_count_of_the_rest(organisation, scout):
    FollowUp.objects.bulk_create(
        FollowUp(
            title=f"Alt {i:02d}", assignee=scout, due_date=days(-1 - i), organisation=organisation
        )
        for i in range(DIGEST_ITEM_LIMIT + 5)
    )
    follow_up(scout, "Heute", DAY, organisation)

    send_daily_digest(on=DAY)

    body = mail.outbox[0].body
    assert body.count("\n- ") == DIGEST_ITEM_LIMIT
    assert "- Heute (" in body  # due today comes before the long overdue list
    assert german("Overdue (%(number)s):", number=DIGEST_ITEM_LIMIT + 5) in body
    assert german("… and %(number)s more", number=6) in body
    # The oldest overdue are listed first; the most recent ones are counted.
    assert f"Alt {DIGEST_ITEM_LIMIT + 4:02d}" in body and "Alt 00" not in body


def test_no_second_digest_on_the_same_day(organisation, scout, manager):
    follow_up(scout, "Heute", DAY, organisation)
    follow_up(None, "Offen", DAY, organisation)

    assert send_daily_digest(on=DAY) == 2
    assert send_daily_digest(on=DAY) == 0
    assert len(mail.outbox) == 2

    assert send_daily_digest(on=days(1)) == 2
    assert len(mail.outbox) == 4


def test_a_failed_send_is_retried_for_that_user_only(organisation, scout, scout2, monkeypatch):
    follow_up(scout, "Heute", DAY, organisation)
    follow_up(scout2, "Heute", DAY, organisation)
    real_send = EmailMultiAlternatives.send

    def send_then_fail(message, fail_silently=False):
        if message.to == [scout2.email]:
            raise smtplib.SMTPServerDisconnected("gone")
        return real_send(message, fail_silently)

    monkeypatch.setattr(EmailMultiAlternatives, "send", send_then_fail)
    with pytest.raises(smtplib.SMTPServerDisconnected):
        send_daily_digest(on=DAY)
    assert [m.to for m in mail.outbox] == [[scout.email]]

    monkeypatch.setattr(EmailMultiAlternatives, "send", real_send)
    assert send_daily_digest(on=DAY) == 1
    assert [m.to for m in mail.outbox] == [[scout.email], [scout2.email]]


def test_the_default_day_is_today_in_berlin(organisation, scout):
    follow_up(scout, "Heute", timezone.localdate(), organisation)
    follow_up(scout, "Morgen", timezone.localdate() + datetime.timedelta(days=1), organisation)

    assert send_daily_digest() == 1
    assert "- Heute (" in mail.outbox[0].body and "- Morgen (" not in mail.outbox[0].body


def _queries_for(count: int, organisation) -> int:
    users = [make_user(f"digest{count}-{i}", Role.SCOUT) for i in range(count)]
    managers = [make_user(f"netz{count}-{i}", Role.NETWORK_MANAGER) for i in range(2)]
    for i, user in enumerate(users + managers):
        follow_up(user, f"Heute {i}", DAY, organisation)
        follow_up(user, f"Überfällig {i}", days(-i - 1), organisation)
        follow_up(user, f"Bald {i}", days(2), organisation)
    follow_up(None, f"Offen {count}", DAY, organisation)
    mail.outbox.clear()
    with CaptureQueriesContext(connection) as queries:
        assert send_daily_digest(on=DAY + datetime.timedelta(days=count)) >= count
    return len(queries)


def test_query_count_does_not_grow_with_users_or_follow_ups(organisation):
    assert _queries_for(2, organisation) == _queries_for(20, organisation) == 4


def test_beat_runs_the_registered_digest_task_every_morning():
    app.loader.import_default_modules()
    entry = app.conf.beat_schedule["scouting-daily-digest"]
    assert entry["task"] == tasks.send_daily_digest.name
    assert entry["task"] in app.tasks
    assert entry["schedule"] == crontab(hour=6, minute=30)
    assert app.conf.timezone == "Europe/Berlin"


def test_the_task_sends_the_digest(organisation, scout):
    follow_up(scout, "Heute", timezone.localdate(), organisation)

    assert tasks.send_daily_digest.apply().get() == 1
    assert [m.to for m in mail.outbox] == [[scout.email]]
