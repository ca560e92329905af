"""The per-user iCalendar feed and the page that creates and revokes its secret URL."""

from __future__ import annotations

import datetime
import hashlib
import re
import uuid

import pytest
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from crm.roles import Role
from scouting.calendar import (
    build_calendar,
    create_calendar_feed,
    escape_text,
    fold,
    revoke_calendar_feed,
)
from scouting.models import CalendarFeed, FollowUp
from scouting.services import record_visit
from tests.personas import make_user

pytestmark = pytest.mark.django_db

DAY = datetime.date(2026, 11, 24)


@pytest.fixture(autouse=True)
def _site_url(settings):
    settings.SITE_URL = "https://crm.example.org"


def follow_up(assignee, title, due, organisation, **fields) -> FollowUp:
    if fields.get("status") == FollowUp.Status.DONE:
        fields.setdefault("completed_at", timezone.now())
    return FollowUp.objects.create(
        title=title, assignee=assignee, due_date=due, organisation=organisation, **fields
    )


def feed_path(token: str) -> str:
    return f"/calendar/feed/{token}.ics"


# --- A small RFC 5545 reader for the tests -------------------------------------------


def unescape(value: str) -> str:
    return re.sub(r"\\([\\;,nN])", lambda m: "\n" if m.group(1) in "nN" else m.group(1), value)


def parse(raw: bytes) -> dict:
    """Check the physical format and return the calendar as nested dicts:
    {"props": {name: [(params, value)]}, "events": [{name: (params, value)}]}."""
    assert raw.endswith(b"\r\n")
    physical = raw[:-2].split(b"\r\n")
    for line in physical:
        assert b"\n" not in line and b"\r" not in line, line
        assert len(line) <= 75, (len(line), line)
        line.decode("utf-8")  # a fold never splits a character
    text = re.sub(r"\r\n[ \t]", "", raw.decode("utf-8"))
    stack: list[str] = []
    calendar: dict = {"props": {}, "events": []}
    event: dict | None = None
    for line in text[:-2].split("\r\n"):
        name_params, value = line.split(":", 1)
        name, *params = name_params.split(";")
        if name == "BEGIN":
            stack.append(value)
            if value == "VEVENT":
                event = {}
        elif name == "END":
            assert stack and stack.pop() == value, f"END:{value} does not close {stack}"
            if value == "VEVENT":
                calendar["events"].append(event)
                event = None
        elif event is not None:
            assert name not in event, f"{name} twice in one event"
            event[name] = (params, value)
        else:
            calendar["props"].setdefault(name, []).append((params, value))
    assert stack == [], f"not closed: {stack}"
    return calendar


def events_by_summary(calendar: dict) -> dict[str, dict]:
    return {unescape(e["SUMMARY"][1]): e for e in calendar["events"]}


# --- The iCalendar text --------------------------------------------------------------


def test_feed_is_valid_icalendar_with_one_all_day_event_per_open_follow_up(
    organisation, person, scout
):
    title = 'Förderantrag; Teil 1, "Digitalisierung" \\ Ärger mit Übergrößen\nZweite Zeile'
    high = follow_up(scout, title, DAY, organisation, priority="high")
    FollowUp.objects.create(
        title="Rückruf", assignee=scout, due_date=DAY + datetime.timedelta(days=3), person=person
    )
    follow_up(scout, "Längst überfällig", DAY - datetime.timedelta(days=30), organisation)
    now = datetime.datetime(2026, 11, 24, 7, 5, 9, tzinfo=datetime.UTC)

    raw = build_calendar(scout, now=now).encode("utf-8")

    calendar = parse(raw)
    props = calendar["props"]
    assert raw.startswith(b"BEGIN:VCALENDAR\r\n") and raw.endswith(b"END:VCALENDAR\r\n")
    assert props["VERSION"] == [([], "2.0")]
    assert props["PRODID"][0][1].startswith("-//")
    assert props["CALSCALE"] == [([], "GREGORIAN")]
    assert props["METHOD"] == [([], "PUBLISH")]
    assert props["X-WR-CALNAME"][0][1]
    events = events_by_summary(calendar)
    assert set(events) == {title, "Rückruf", "Längst überfällig"}
    event = events[title]
    assert event["UID"] == ([], f"followup-{high.pk}@crm.example.org")
    assert event["DTSTAMP"] == ([], "20261124T070509Z")
    assert event["DTSTART"] == (["VALUE=DATE"], "20261124")
    assert event["DTEND"] == (["VALUE=DATE"], "20261125")
    assert event["PRIORITY"] == ([], "1")
    assert event["STATUS"] == ([], "CONFIRMED")
    assert event["URL"] == ([], f"https://crm.example.org/follow-ups/{high.pk}/")
    # Escaped on the wire, exact after unescaping; the long line was folded.
    assert 'Förderantrag\\; Teil 1\\, "Digitalisierung" \\\\ Ärger' in event["SUMMARY"][1]
    assert "\\nZweite Zeile" in event["SUMMARY"][1]
    assert b"\r\n " in raw
    description = unescape(event["DESCRIPTION"][1])
    assert "Organisation: Müller Maschinenbau GmbH" in description
    assert "Priorität: hoch" in description
    assert f"https://crm.example.org/follow-ups/{high.pk}/" in description
    assert "Person: Anna Schmidt" in unescape(events["Rückruf"]["DESCRIPTION"][1])
    assert events["Rückruf"]["PRIORITY"] == ([], "5")
    # Overdue follow-ups stay on their due date.
    assert events["Längst überfällig"]["DTSTART"] == (["VALUE=DATE"], "20261025")
    # Ordered by due date.
    starts = [e["DTSTART"][1] for e in calendar["events"]]
    assert starts == sorted(starts)


def test_feed_holds_only_the_owners_open_follow_ups_with_a_due_date(
    organisation, scout, scout2, manager
):
    follow_up(scout, "Offen", DAY, organisation)
    follow_up(scout, "In Arbeit", DAY, organisation, status=FollowUp.Status.IN_PROGRESS)
    follow_up(scout, "Erledigt", DAY, organisation, status=FollowUp.Status.DONE)
    follow_up(scout, "Abgebrochen", DAY, organisation, status=FollowUp.Status.CANCELLED)
    follow_up(scout, "Ohne Datum", None, organisation)
    follow_up(scout2, "Samuels", DAY, organisation)
    follow_up(None, "Niemandes", DAY, organisation)

    assert set(events_by_summary(parse(build_calendar(scout).encode()))) == {"Offen", "In Arbeit"}
    assert set(events_by_summary(parse(build_calendar(scout2).encode()))) == {"Samuels"}
    # Managers see every follow-up in the CRM, but their feed is what is theirs.
    assert events_by_summary(parse(build_calendar(manager).encode())) == {}


def test_a_confidential_visits_summary_never_reaches_the_feed(organisation, scout):
    visit, _created = record_visit(
        uuid=uuid.uuid4(),
        organisation=organisation,
        by=scout,
        is_confidential=True,
        summary="Geheim: Übernahme durch Wettbewerber geplant",
    )
    FollowUp.objects.create(
        title="Gespräch nachbereiten",
        visit=visit,
        organisation=organisation,
        assignee=scout,
        due_date=DAY,
    )

    text = build_calendar(scout)

    assert "Gespräch nachbereiten" in text
    assert "Übernahme" not in text.replace("\r\n ", "") and "Geheim" not in text


def test_folding_never_splits_a_character_and_escaping_covers_text_specials():
    line = "SUMMARY:" + "ä€𝄞" * 40
    folded = fold(line).encode()
    assert all(len(part) <= 75 for part in folded.split(b"\r\n"))
    assert [part.decode() for part in folded.split(b"\r\n")]  # every part is valid UTF-8
    assert folded.replace(b"\r\n ", b"").decode() == line
    assert fold("SHORT:ok") == "SHORT:ok"
    assert escape_text("a\\b;c,d\r\ne\nf\rg\x00h\ti") == "a\\\\b\\;c\\,d\\ne\\nf\\ng" + "h\ti"


def test_the_feed_is_capped(organisation, scout, monkeypatch):
    monkeypatch.setattr("scouting.calendar.FEED_ITEM_LIMIT", 3)
    for i in range(5):
        follow_up(scout, f"Nr {i}", DAY + datetime.timedelta(days=i), organisation)

    assert set(events_by_summary(parse(build_calendar(scout).encode()))) == {
        "Nr 0",
        "Nr 1",
        "Nr 2",
    }


# --- The secret URL ------------------------------------------------------------------


def test_anonymous_calendar_app_fetches_the_feed_with_the_token(organisation, scout):
    follow_up(scout, "Heute", DAY, organisation)
    token = create_calendar_feed(scout)

    response = Client().get(feed_path(token))

    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert response["Cache-Control"] == "private, max-age=300"
    assert "Heute" in set(events_by_summary(parse(response.content)))
    # Calendar apps get no session and no cookie.
    assert not response.cookies
    assert not Session.objects.exists()


def test_only_the_hash_of_the_token_is_stored(scout):
    token = create_calendar_feed(scout)

    feed = CalendarFeed.objects.get(user=scout)
    assert feed.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in feed.token_hash and len(token) >= 43


def test_unknown_malformed_and_revoked_tokens_get_404(scout):
    token = create_calendar_feed(scout)
    client = Client()
    for bad in ("A" * 43, "kurz", "x" * 200, token[:-1] + ("A" if token[-1] != "A" else "B")):
        assert client.get(feed_path(bad)).status_code == 404, bad

    assert revoke_calendar_feed(scout) is True
    assert client.get(feed_path(token)).status_code == 404
    assert revoke_calendar_feed(scout) is False


def test_a_new_token_replaces_the_old_url(scout):
    old = create_calendar_feed(scout)
    new = create_calendar_feed(scout)

    assert old != new
    assert Client().get(feed_path(old)).status_code == 404
    assert Client().get(feed_path(new)).status_code == 200
    assert CalendarFeed.objects.filter(user=scout).count() == 1


def test_deactivated_users_and_users_without_the_role_lose_their_feed(scout, scout2):
    token, token2 = create_calendar_feed(scout), create_calendar_feed(scout2)
    scout.is_active = False
    scout.save()
    scout2.groups.clear()

    assert Client().get(feed_path(token)).status_code == 404
    assert Client().get(feed_path(token2)).status_code == 404


def test_last_used_is_written_at_most_once_an_hour(scout):
    token = create_calendar_feed(scout)
    client = Client()

    client.get(feed_path(token))
    first = CalendarFeed.objects.get(user=scout).last_used_at
    assert first is not None
    client.get(feed_path(token))
    assert CalendarFeed.objects.get(user=scout).last_used_at == first

    CalendarFeed.objects.filter(user=scout).update(
        last_used_at=first - datetime.timedelta(minutes=61)
    )
    client.get(feed_path(token))
    assert CalendarFeed.objects.get(user=scout).last_used_at > first


def test_only_get_and_head_reach_the_feed(scout):
    token = create_calendar_feed(scout)
    assert Client().head(feed_path(token)).status_code == 200
    assert Client().post(feed_path(token)).status_code == 405


def test_the_mfa_requirement_does_not_redirect_the_feed(client_as):
    unprotected = make_user("verwaltung2", Role.ADMINISTRATION, with_totp=False)
    token = create_calendar_feed(unprotected)

    assert client_as(unprotected).get(feed_path(token)).status_code == 200


def test_create_refuses_users_who_may_not_see_follow_ups(funder, outsider):
    from django.core.exceptions import PermissionDenied

    for user in (funder, outsider):
        with pytest.raises(PermissionDenied):
            create_calendar_feed(user)
    assert not CalendarFeed.objects.exists()


# --- The settings page ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("persona", "status"),
    [
        ("scout", 200),
        ("scout2", 200),
        ("manager", 200),
        ("administration", 200),
        ("funder", 403),
        ("outsider", 403),
    ],
)
def test_settings_page_access(request, client_as, persona, status):
    user = request.getfixturevalue(persona)
    assert client_as(user).get("/calendar/").status_code == status


def test_anonymous_users_are_sent_to_sign_in():
    client = Client()
    for path in ("/calendar/", "/calendar/create/", "/calendar/revoke/"):
        response = client.get(path)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert Client().post("/calendar/create/").status_code == 302
    assert not CalendarFeed.objects.exists()


def test_creating_shows_the_url_once(client_as, scout):
    client = client_as(scout)
    page = client.get("/calendar/")
    assert page.status_code == 200
    assert "Outlook" in page.content.decode() and "iPhone" in page.content.decode()

    response = client.post("/calendar/create/")

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    html = response.content.decode()
    match = re.search(r'value="http://testserver/calendar/feed/([A-Za-z0-9_-]+)\.ics"', html)
    assert match, html
    token = match.group(1)
    assert f'href="webcal://testserver/calendar/feed/{token}.ics"' in html
    assert Client().get(feed_path(token)).status_code == 200
    # Afterwards the page says a feed exists but cannot show its address again.
    later = client.get("/calendar/").content.decode()
    assert token not in later
    assert 'action="/calendar/revoke/"' in later


def test_revoking_deletes_the_feed(client_as, scout):
    token = create_calendar_feed(scout)
    client = client_as(scout)

    response = client.post("/calendar/revoke/", follow=True)

    assert response.redirect_chain == [("/calendar/", 302)]
    assert not CalendarFeed.objects.filter(user=scout).exists()
    assert Client().get(feed_path(token)).status_code == 404
    # Revoking again is harmless and says so.
    assert client.post("/calendar/revoke/").status_code == 302


def test_one_user_cannot_touch_anothers_feed(client_as, scout, scout2):
    token = create_calendar_feed(scout)

    client_as(scout2).post("/calendar/revoke/")
    client_as(scout2).post("/calendar/create/")

    assert Client().get(feed_path(token)).status_code == 200
    assert CalendarFeed.objects.count() == 2


def test_create_and_revoke_need_post_and_the_role(client_as, scout, funder, outsider):
    for path in ("/calendar/create/", "/calendar/revoke/"):
        assert client_as(scout).get(path).status_code == 405
    assert not CalendarFeed.objects.exists()
    for user in (funder, outsider):
        assert client_as(user).post("/calendar/create/").status_code == 403
        assert client_as(user).post("/calendar/revoke/").status_code == 403
    assert not CalendarFeed.objects.exists()


def test_new_address_uses_the_host_the_user_came_from(client_as, scout, settings):
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "crm.example.org"]
    response = client_as(scout).post(reverse("calendar:create"), HTTP_HOST="crm.example.org")
    assert "http://crm.example.org/calendar/feed/" in response.content.decode()
