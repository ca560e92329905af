"""The iCalendar feed of a user's follow-ups and the page to create or revoke it."""

app_name = "calendar"
urlpatterns: list = []
