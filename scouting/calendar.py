"""A user's open follow-ups as an iCalendar feed (RFC 5545), and the secret feed URL.

Written by hand to avoid a dependency for the few properties a subscribed calendar
needs. The feed leaves the CRM (calendar providers fetch and store it), so it names
the follow-up and its organisation or person but carries no visit text.
"""

from __future__ import annotations

import datetime
import hashlib
import re
import secrets
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.text import capfirst
from django.utils.translation import gettext as _

from .models import CalendarFeed, FollowUp
from .notifications import absolute_url, follow_up_url

FEED_ITEM_LIMIT = 1000
# Calendar apps poll every few minutes; writing the date each time would be pointless.
LAST_USED_PRECISION = datetime.timedelta(hours=1)
# secrets.token_urlsafe(32) gives 43 characters of [A-Za-z0-9_-].
_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{20,100}")
# iCalendar priorities: 1 is the highest, 9 the lowest.
_PRIORITY: dict[str, int] = {
    FollowUp.Priority.HIGH: 1,
    FollowUp.Priority.NORMAL: 5,
    FollowUp.Priority.LOW: 9,
}
_MAX_LINE_OCTETS = 75
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


# --- The secret URL ------------------------------------------------------------------


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def may_have_feed(user: Any) -> bool:
    return user.is_active and user.has_perm("scouting.view_followup")


@transaction.atomic
def create_calendar_feed(user: Any) -> str:
    """Give ``user`` a new secret feed token, replacing any earlier one (whose URL stops
    working). Returns the token: it is not stored and cannot be shown again."""
    if not may_have_feed(user):
        raise PermissionDenied(_("You may not subscribe to follow-ups."))
    token = secrets.token_urlsafe(32)
    CalendarFeed.objects.update_or_create(
        user=user,
        defaults={
            "token_hash": hash_token(token),
            "created_at": timezone.now(),
            "last_used_at": None,
        },
    )
    return token


@transaction.atomic
def revoke_calendar_feed(user: Any) -> bool:
    """Delete the user's feed; returns whether there was one."""
    deleted, _by_model = CalendarFeed.objects.filter(user=user).delete()
    return bool(deleted)


def calendar_feed_of(user: Any) -> CalendarFeed | None:
    return CalendarFeed.objects.filter(user_id=user.pk).first()


def feed_for_token(token: str) -> CalendarFeed | None:
    """The feed the token opens, if any: the user must still be active and allowed to
    see follow-ups. Only the hash is looked up, so timing says nothing about tokens."""
    if not _TOKEN_SHAPE.fullmatch(token):
        return None
    feed = (
        CalendarFeed.objects.select_related("user")
        .filter(token_hash=hash_token(token), user__is_active=True)
        .first()
    )
    if feed is None or not may_have_feed(feed.user):
        return None
    return feed


def record_feed_use(feed: CalendarFeed, *, now: datetime.datetime | None = None) -> None:
    """Note that the feed was fetched, at most once per LAST_USED_PRECISION."""
    now = now or timezone.now()
    CalendarFeed.objects.filter(pk=feed.pk).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_PRECISION)
    ).update(last_used_at=now)


def feed_url(token: str) -> str:
    return absolute_url(reverse("calendar:feed", args=[token]))


def webcal_url(url: str) -> str:
    """The same address with the webcal scheme, which phones open as a subscription."""
    return "webcal://" + url.split("://", 1)[1]


# --- The iCalendar text --------------------------------------------------------------


def escape_text(value: str) -> str:
    """Escape a TEXT value (RFC 5545, 3.3.11); control characters are dropped."""
    value = value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    value = value.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\\n")
    return _CONTROL_CHARS.sub("", value)


def fold(line: str) -> str:
    """Fold a content line at 75 octets without splitting a UTF-8 character (3.1)."""
    if len(line.encode()) <= _MAX_LINE_OCTETS:
        return line
    parts, current, size = [], "", 0
    for char in line:
        width = len(char.encode())
        if size + width > _MAX_LINE_OCTETS:
            parts.append(current)
            current, size = char, 1 + width  # continuation lines start with a space
        else:
            current += char
            size += width
    parts.append(current)
    return "\r\n ".join(parts)


def _date(day: datetime.date) -> str:
    return day.strftime("%Y%m%d")


def _utc(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")


def open_follow_ups_for_feed(user: Any) -> list[FollowUp]:
    return list(
        FollowUp.objects.open()
        .filter(assignee_id=user.pk, due_date__isnull=False)
        .select_related("organisation", "person")
        .order_by("due_date", "pk")[:FEED_ITEM_LIMIT]
    )


def build_calendar(user: Any, *, now: datetime.datetime | None = None) -> str:
    """The user's open follow-ups with a due date as all-day events, in the site's
    language. Overdue ones stay on their due date."""
    now = now or timezone.now()
    host = urlsplit(settings.SITE_URL).hostname or "localhost"
    with translation.override(settings.LANGUAGE_CODE):
        lines = [
            "BEGIN:VCALENDAR",
            "VERSION:2.0",
            "PRODID:-//Regio-CRM//Follow-ups//DE",
            "CALSCALE:GREGORIAN",
            "METHOD:PUBLISH",
            "X-WR-CALNAME:" + escape_text(_("Follow-ups") + " – Regio-CRM"),
            "X-WR-TIMEZONE:" + settings.TIME_ZONE,
            "REFRESH-INTERVAL;VALUE=DURATION:PT1H",
            "X-PUBLISHED-TTL:PT1H",
        ]
        for follow_up in open_follow_ups_for_feed(user):
            lines += _event(follow_up, host=host, stamp=_utc(now))
        lines.append("END:VCALENDAR")
    return "".join(fold(line) + "\r\n" for line in lines)


def _event(follow_up: FollowUp, *, host: str, stamp: str) -> list[str]:
    due = follow_up.due_date
    if due is None:  # not selected for the feed; keeps the type checker informed
        return []
    link = follow_up_url(follow_up)
    details = []
    if follow_up.organisation is not None:
        details.append(f"{_('Organisation')}: {follow_up.organisation}")
    if follow_up.person is not None:
        details.append(f"{capfirst(_('person'))}: {follow_up.person}")
    details.append(f"{capfirst(_('priority'))}: {follow_up.get_priority_display()}")
    details.append(link)
    return [
        "BEGIN:VEVENT",
        f"UID:followup-{follow_up.pk}@{host}",
        f"DTSTAMP:{stamp}",
        f"DTSTART;VALUE=DATE:{_date(due)}",
        f"DTEND;VALUE=DATE:{_date(due + datetime.timedelta(days=1))}",
        "SUMMARY:" + escape_text(follow_up.title),
        "DESCRIPTION:" + escape_text("\n".join(details)),
        f"URL:{link}",
        f"PRIORITY:{_PRIORITY.get(follow_up.priority, 0)}",
        "STATUS:CONFIRMED",
        "TRANSP:TRANSPARENT",
        "END:VEVENT",
    ]
