"""The calendar settings page and the secret iCalendar feed it hands out."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST, require_safe

from crm.permissions import require_permission

from . import calendar


@login_required
def calendar_settings(request: HttpRequest) -> HttpResponse:
    require_permission(request.user, "scouting.view_followup")
    return _settings_page(request)


@never_cache  # the page shows the secret address once; no cache may keep it
@login_required
@require_POST
def calendar_create(request: HttpRequest) -> HttpResponse:
    require_permission(request.user, "scouting.view_followup")
    token = calendar.create_calendar_feed(request.user)
    # The address the user reached the CRM at (SITE_URL is for emails, sent without one).
    url = request.build_absolute_uri(reverse("calendar:feed", args=[token]))
    return _settings_page(request, new_url=url, new_webcal_url=calendar.webcal_url(url))


@login_required
@require_POST
def calendar_revoke(request: HttpRequest) -> HttpResponse:
    require_permission(request.user, "scouting.view_followup")
    if calendar.revoke_calendar_feed(request.user):
        messages.success(request, _("Your calendar address has been deleted. It no longer works."))
    else:
        messages.info(request, _("You have no calendar address."))
    return redirect("calendar:settings")


def _settings_page(request: HttpRequest, **extra: str) -> HttpResponse:
    feed = calendar.calendar_feed_of(request.user)
    return render(request, "scouting/calendar_settings.html", {"feed": feed, **extra})


@require_safe
def calendar_feed(request: HttpRequest, token: str) -> HttpResponse:
    """The feed itself: calendar apps cannot sign in, so the secret token is the key."""
    feed = calendar.feed_for_token(token)
    if feed is None:
        raise Http404
    calendar.record_feed_use(feed)
    response = HttpResponse(
        calendar.build_calendar(feed.user), content_type="text/calendar; charset=utf-8"
    )
    response["Cache-Control"] = "private, max-age=300"
    response["Content-Disposition"] = 'inline; filename="follow-ups.ics"'
    return response
