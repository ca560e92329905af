from django.urls import path

from . import views

app_name = "pipeline"
urlpatterns = [
    path("", views.board, name="board"),
    path("stages/<int:pk>/cards/", views.board_cards, name="board_cards"),
    path("metrics/", views.metrics, name="metrics"),
    path("requests/", views.request_list, name="request_list"),
    path("requests/new/", views.request_create, name="request_create"),
    path("requests/contacts/", views.request_contacts, name="request_contacts"),
    path("requests/export/", views.request_export, name="request_export"),
    path("requests/from-visit/<uuid:uuid>/", views.request_from_visit, name="request_from_visit"),
    path("requests/<int:pk>/", views.request_detail, name="request_detail"),
    path("requests/<int:pk>/edit/", views.request_edit, name="request_edit"),
    path("requests/<int:pk>/move/", views.request_move, name="request_move"),
    path("requests/<int:pk>/matches/", views.match_add, name="match_add"),
    path("requests/<int:pk>/outcomes/", views.outcome_add, name="outcome_add"),
    path("requests/<int:pk>/follow-ups/", views.follow_up_add, name="follow_up_add"),
    path("requests/<int:pk>/history/", views.request_history, name="request_history"),
    path("matches/<int:pk>/status/", views.match_status, name="match_status"),
]
