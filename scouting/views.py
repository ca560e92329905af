"""Pages of scouting: visits, follow-ups and the dashboards' panels."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.extensions import Panel, TimelineEntry

from .models import Visit

PREVIOUS_LOGIN_SESSION_KEY = "scouting_previous_login"


def remember_previous_login(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    previous = user.last_login or timezone.now()
    request.session[PREVIOUS_LOGIN_SESSION_KEY] = previous.isoformat()


def visit_timeline(*, user: Any, organisation: Any, person: Any, limit: int) -> list[TimelineEntry]:
    if not user.has_perm("scouting.view_visit"):
        return []
    visits = Visit.objects.for_user(user)
    visits = (
        visits.filter(organisation=organisation)
        if organisation is not None
        else visits.filter(people_met=person)
    )
    entries = []
    for visit in visits.select_related("created_by").order_by("-visited_at", "-pk")[:limit]:
        badges = [visit.get_format_display()]
        if visit.is_draft():
            badges.append(_("draft"))
        if visit.is_confidential:
            badges.append(_("confidential"))
        entries.append(
            TimelineEntry(
                when=visit.visited_at,
                kind=_("Company visit"),
                who=visit.created_by,
                text=visit.summary or _("Visit without summary"),
                url=visit.get_absolute_url(),
                badges=tuple(badges),
            )
        )
    return entries


def dashboard_panels(request: HttpRequest) -> list[Panel]:
    return []
