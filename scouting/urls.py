from django.urls import path

from . import views

app_name = "scouting"
urlpatterns = [
    path("visits/", views.visit_list, name="visit_list"),
    path("visits/new/", views.visit_create, name="visit_create"),
    path("visits/export/", views.visit_export, name="visit_export"),
    path("visits/autosave/", views.visit_autosave, name="visit_autosave"),
    path("visits/people/", views.visit_people, name="visit_people"),
    path("visits/<uuid:uuid>/", views.visit_detail, name="visit_detail"),
    path("visits/<uuid:uuid>/edit/", views.visit_edit, name="visit_edit"),
    path("visits/<uuid:uuid>/submit/", views.visit_submit, name="visit_submit"),
    path("visits/<uuid:uuid>/discard/", views.visit_discard, name="visit_discard"),
    path("visits/<uuid:uuid>/history/", views.visit_history, name="visit_history"),
    path("visits/<uuid:uuid>/follow-ups/", views.visit_follow_up_add, name="visit_follow_up_add"),
    path(
        "organisations/<int:pk>/follow-ups/new/",
        views.organisation_follow_up_add,
        name="organisation_follow_up_add",
    ),
    path(
        "people/<int:pk>/follow-ups/new/", views.person_follow_up_add, name="person_follow_up_add"
    ),
    path("follow-ups/", views.my_follow_ups, name="my_follow_ups"),
    path("follow-ups/team/", views.team_follow_ups, name="team_follow_ups"),
    path("follow-ups/assign/", views.follow_up_assign, name="follow_up_assign"),
    path("follow-ups/<int:pk>/", views.follow_up_detail, name="follow_up_detail"),
    path("follow-ups/<int:pk>/edit/", views.follow_up_edit, name="follow_up_edit"),
    path("follow-ups/<int:pk>/complete/", views.follow_up_complete, name="follow_up_complete"),
    path("follow-ups/<int:pk>/start/", views.follow_up_start, name="follow_up_start"),
    path("follow-ups/<int:pk>/cancel/", views.follow_up_cancel, name="follow_up_cancel"),
    path("follow-ups/<int:pk>/history/", views.follow_up_history, name="follow_up_history"),
]
