from django.urls import path

from . import views

app_name = "dataio"
urlpatterns = [
    path("imports/", views.import_list, name="import_list"),
    path("imports/new/", views.import_upload, name="import_upload"),
    path("imports/<uuid:uuid>/", views.import_detail, name="import_detail"),
    path("imports/<uuid:uuid>/mapping/", views.import_mapping, name="import_mapping"),
    path("imports/<uuid:uuid>/preview/", views.import_preview, name="import_preview"),
    path("imports/<uuid:uuid>/run/", views.import_run, name="import_run"),
    path("imports/<uuid:uuid>/status/", views.import_status, name="import_status"),
    path("export/organisations/", views.export_organisations, name="export_organisations"),
    path("export/people/", views.export_people, name="export_people"),
]
