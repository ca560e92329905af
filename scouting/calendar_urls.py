"""The iCalendar feed of a user's follow-ups and the page to create or revoke it."""

from django.urls import path

from . import calendar_views

app_name = "calendar"
urlpatterns = [
    path("", calendar_views.calendar_settings, name="settings"),
    path("create/", calendar_views.calendar_create, name="create"),
    path("revoke/", calendar_views.calendar_revoke, name="revoke"),
    path("feed/<str:token>.ics", calendar_views.calendar_feed, name="feed"),
]
