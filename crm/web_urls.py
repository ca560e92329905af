from django.urls import path

from . import views

app_name = "crm"
urlpatterns = [
    path("", views.home, name="home"),
    path("search/", views.global_search, name="search"),
    path("organisations/", views.organisation_list, name="organisation_list"),
    path("organisations/new/", views.organisation_create, name="organisation_create"),
    path("organisations/bulk/", views.organisation_bulk, name="organisation_bulk"),
    path(
        "organisations/duplicates/", views.organisation_duplicates, name="organisation_duplicates"
    ),
    path("organisations/typeahead/", views.organisation_typeahead, name="organisation_typeahead"),
    path("organisations/<int:pk>/", views.organisation_detail, name="organisation_detail"),
    path("organisations/<int:pk>/edit/", views.organisation_edit, name="organisation_edit"),
    path(
        "organisations/<int:pk>/history/", views.organisation_history, name="organisation_history"
    ),
    path("organisations/<int:pk>/merge/", views.organisation_merge, name="organisation_merge"),
    path(
        "organisations/<int:pk>/notes/", views.organisation_note_add, name="organisation_note_add"
    ),
    path("organisations/<int:pk>/relationships/", views.relationship_add, name="relationship_add"),
    path("relationships/<int:pk>/delete/", views.relationship_delete, name="relationship_delete"),
    path("people/", views.person_list, name="person_list"),
    path("people/new/", views.person_create, name="person_create"),
    path("people/duplicates/", views.person_duplicates, name="person_duplicates"),
    path("people/<int:pk>/", views.person_detail, name="person_detail"),
    path("people/<int:pk>/edit/", views.person_edit, name="person_edit"),
    path("people/<int:pk>/history/", views.person_history, name="person_history"),
    path("people/<int:pk>/merge/", views.person_merge, name="person_merge"),
    path("people/<int:pk>/notes/", views.person_note_add, name="person_note_add"),
    path("people/<int:pk>/affiliations/", views.affiliation_add, name="affiliation_add"),
    path("affiliations/<int:pk>/end/", views.affiliation_end, name="affiliation_end"),
    path("people/<int:pk>/consents/", views.consent_add, name="consent_add"),
    path("consents/<int:pk>/withdraw/", views.consent_withdraw, name="consent_withdraw"),
]
