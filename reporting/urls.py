"""Reporting pages, under /berichte/ in the namespace "reporting"."""

from django.urls import path

from . import dashboard_urls, views

app_name = "reporting"
urlpatterns = [
    *dashboard_urls.urlpatterns,
    path("", views.report_list, name="report_list"),
    path("neu/", views.report_create, name="report_create"),
    path("<int:pk>/", views.report_detail, name="report_detail"),
    path("<int:pk>/fortschritt/", views.report_progress, name="report_progress"),
    path("<int:pk>/berechnen/", views.report_compute, name="report_compute"),
    path("<int:pk>/neue-version/", views.report_regenerate, name="report_regenerate"),
    path("<int:pk>/text/", views.report_narrative, name="report_narrative"),
    path("<int:pk>/veroeffentlichen/", views.report_publish, name="report_publish"),
    path("<int:pk>/vergleich/", views.report_compare, name="report_compare"),
    path("<int:pk>/datei/<str:kind>/", views.report_download, name="report_download"),
]
