"""Emails about follow-ups: the assignment notice and the daily digest.

Every email is a subject/text/html template triplet under ``scouting/email/``,
rendered in the site language (German) whatever language is active.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db.models import Case, Count, Exists, F, OuterRef, Q, Value, When, Window
from django.db.models.functions import RowNumber
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from crm.roles import Role

from .models import FollowUp

# A digest lists at most this many follow-ups and counts the rest ("and N more").
DIGEST_ITEM_LIMIT = 50
DIGEST_UPCOMING_DAYS = 7
# The "already sent" marks only need to outlive their day.
DIGEST_GUARD_SECONDS = 2 * 24 * 60 * 60


def absolute_url(path: str) -> str:
    """``path`` on the site as users reach it (emails and calendars have no request)."""
    return settings.SITE_URL.rstrip("/") + path


def follow_up_url(follow_up: FollowUp) -> str:
    return absolute_url(reverse("scouting:follow_up_detail", args=[follow_up.pk]))


@dataclass(frozen=True)
class MailItem:
    """One follow-up as an email lists it."""

    title: str
    about: str
    due_date: datetime.date | None
    priority: str
    is_high_priority: bool
    url: str
    assigned_by: str = ""

    @classmethod
    def of(cls, follow_up: FollowUp) -> MailItem:
        # Organisation and person are select_related by the callers; no visit text is used.
        about = follow_up.organisation or follow_up.person
        return cls(
            title=follow_up.title,
            about=str(about) if about else "",
            due_date=follow_up.due_date,
            priority=str(follow_up.get_priority_display()),
            is_high_priority=follow_up.priority == FollowUp.Priority.HIGH,
            url=follow_up_url(follow_up),
            assigned_by=_display_name(follow_up.assigned_by) if follow_up.assigned_by else "",
        )


def _display_name(user: Any) -> str:
    return user.get_full_name() or user.get_username()


def _message(
    template: str, context: dict[str, Any], *, to: str, connection: Any = None
) -> EmailMultiAlternatives:
    base = f"scouting/email/{template}"
    context = {
        "REGION_NAME": settings.REGION_NAME,
        "LANGUAGE_CODE": translation.get_language(),
        **context,
    }
    subject = " ".join(render_to_string(f"{base}_subject.txt", context).split())
    message = EmailMultiAlternatives(
        settings.EMAIL_SUBJECT_PREFIX + subject,
        render_to_string(f"{base}.txt", context),
        to=[to],
        connection=connection,
    )
    message.attach_alternative(render_to_string(f"{base}.html", context), "text/html")
    return message


# --- Assignment ----------------------------------------------------------------------


def notify_assignment(follow_up_ids: Iterable[int]) -> int:
    """Email each assignee (active, with an address) the follow-ups just given to them.

    Returns the number of emails sent. Runs after commit, so it reads current rows.
    """
    rows = (
        FollowUp.objects.filter(
            pk__in=list(follow_up_ids), assignee__isnull=False, assignee__is_active=True
        )
        .exclude(assignee__email="")
        .select_related("assignee", "assigned_by", "organisation", "person")
        .order_by("due_date", "pk")
    )
    by_assignee: dict[int, list[FollowUp]] = defaultdict(list)
    for follow_up in rows:
        by_assignee[follow_up.assignee_id].append(follow_up)  # type: ignore[index]
    if not by_assignee:
        return 0
    sent = 0
    with translation.override(settings.LANGUAGE_CODE), get_connection() as connection:
        for items in by_assignee.values():
            user = items[0].assignee
            context = {
                "name": _display_name(user),
                "items": [MailItem.of(f) for f in items],
                "follow_ups_url": absolute_url(reverse("scouting:my_follow_ups")),
            }
            _message("assignment", context, to=user.email, connection=connection).send()  # type: ignore[union-attr]
            sent += 1
    return sent


# --- Daily digest --------------------------------------------------------------------


@dataclass
class _Digest:
    overdue_count: int = 0
    due_today_count: int = 0
    upcoming_count: int = 0
    overdue: list[MailItem] = field(default_factory=list)
    due_today: list[MailItem] = field(default_factory=list)

    def has_due_items(self) -> bool:
        return bool(self.overdue_count or self.due_today_count)


def send_daily_digest(*, on: datetime.date | None = None) -> int:
    """Email every active user with an address their overdue and due-today follow-ups,
    and network managers the team's unassigned and overdue counts.

    A user with nothing due and (for managers) nothing open in the team gets no email;
    a user already sent the digest of ``on`` (default: today in the site's time zone)
    is skipped, so a second run on the same day sends nothing twice. Returns the number
    of emails sent. Four queries whatever the number of users and follow-ups.
    """
    day = on or timezone.localdate(timezone=timezone.get_default_timezone())
    with translation.override(settings.LANGUAGE_CODE):
        digests = _personal_digests(day)
        users = list(_digest_recipients(digests))
        team: dict[str, int] = {}
        if any(user.is_manager for user in users):
            team = FollowUp.objects.open().aggregate(
                unassigned=Count("pk", filter=Q(assignee__isnull=True)),
                overdue=Count("pk", filter=Q(due_date__lt=day)),
            )
        sent = 0
        with get_connection() as connection:
            for user in users:
                digest = digests.get(user.pk, _Digest())
                show_team = user.is_manager and bool(team["unassigned"] or team["overdue"])
                if not digest.has_due_items() and not show_team:
                    continue
                guard = f"scouting:digest:{day.isoformat()}:{user.pk}"
                if not cache.add(guard, True, timeout=DIGEST_GUARD_SECONDS):
                    continue
                context = {
                    "name": _display_name(user),
                    "day": day,
                    "digest": digest,
                    "overdue_more": digest.overdue_count - len(digest.overdue),
                    "due_today_more": digest.due_today_count - len(digest.due_today),
                    "upcoming_days": DIGEST_UPCOMING_DAYS,
                    "show_team": show_team,
                    "team": team,
                    "follow_ups_url": absolute_url(reverse("scouting:my_follow_ups")),
                    "team_url": absolute_url(reverse("scouting:team_follow_ups")),
                }
                try:
                    _message("digest", context, to=user.email, connection=connection).send()
                except Exception:
                    cache.delete(guard)  # a retry of the task may try this user again
                    raise
                sent += 1
    return sent


def _personal_digests(day: datetime.date) -> dict[int, _Digest]:
    """Per assignee: counts of overdue, due-today and upcoming follow-ups, and the first
    DIGEST_ITEM_LIMIT of the due ones (due today first, then the oldest overdue)."""
    horizon = day + datetime.timedelta(days=DIGEST_UPCOMING_DAYS)
    relevant = (
        FollowUp.objects.open()
        .filter(assignee__isnull=False, assignee__is_active=True, due_date__lte=horizon)
        .exclude(assignee__email="")
    )
    counts = (
        relevant.values("assignee_id")
        .annotate(
            overdue=Count("pk", filter=Q(due_date__lt=day)),
            due_today=Count("pk", filter=Q(due_date=day)),
            upcoming=Count("pk", filter=Q(due_date__gt=day)),
        )
        .order_by()
    )
    digests = {
        row["assignee_id"]: _Digest(
            overdue_count=row["overdue"],
            due_today_count=row["due_today"],
            upcoming_count=row["upcoming"],
        )
        for row in counts
    }
    today_first = Case(When(due_date=day, then=Value(0)), default=Value(1))
    # The limit per assignee is applied in the database, so a user with thousands of
    # overdue follow-ups costs no more memory than one with fifty.
    listed = (
        relevant.filter(due_date__lte=day)
        .annotate(
            rank=Window(
                RowNumber(),
                partition_by=[F("assignee_id")],
                order_by=[today_first.asc(), F("due_date").asc(), F("pk").asc()],
            )
        )
        .filter(rank__lte=DIGEST_ITEM_LIMIT)
        .select_related("organisation", "person", "assigned_by")
        .order_by("assignee_id", "rank")
    )
    for follow_up in listed.iterator(chunk_size=2000):
        digest = digests.get(follow_up.assignee_id)  # type: ignore[arg-type]
        if digest is None:  # changed between the two queries
            continue
        target = digest.due_today if follow_up.due_date == day else digest.overdue
        target.append(MailItem.of(follow_up))
    return digests


def _digest_recipients(digests: dict[int, _Digest]) -> Iterable[Any]:
    """Active users with an address who have something due, and all network managers."""
    user_model = get_user_model()
    is_manager = user_model.groups.through.objects.filter(
        user_id=OuterRef("pk"), group__name=Role.NETWORK_MANAGER.group_name
    )
    with_due_items = [pk for pk, digest in digests.items() if digest.has_due_items()]
    return (
        user_model.objects.filter(is_active=True)
        .exclude(email="")
        .annotate(is_manager=Exists(is_manager))
        .filter(Q(pk__in=with_due_items) | Q(is_manager=True))
        .order_by("pk")
    )
