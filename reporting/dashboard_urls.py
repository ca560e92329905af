"""URL patterns of the indicator dashboard and its drill-down (included by
``reporting.urls``, so their names are "reporting:dashboard" and so on)."""

from django.urls import path

from . import dashboard_views

urlpatterns = [
    path("indikatoren/", dashboard_views.dashboard, name="dashboard"),
    path(
        "indikatoren/<str:code>/aufschluesselung/",
        dashboard_views.dashboard_part,
        name="dashboard_part",
    ),
    path("indikatoren/<str:code>/datensaetze/", dashboard_views.records, name="records"),
    path(
        "indikatoren/<str:code>/datensaetze/export/",
        dashboard_views.records_export,
        name="records_export",
    ),
]
