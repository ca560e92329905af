"""The REST API, mounted at /api/ (see ``crm.urls``)."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.permissions import IsAuthenticated
from rest_framework.routers import DefaultRouter

from pipeline import api as pipeline_api
from reporting import api as reporting_api
from scouting import api as scouting_api

from . import views

app_name = "api"

router = DefaultRouter()
router.register("organisations", views.OrganisationViewSet, basename="organisation")
router.register("people", views.PersonViewSet, basename="person")
router.register("affiliations", views.AffiliationViewSet, basename="affiliation")
router.register("consents", views.ConsentViewSet, basename="consent")
router.register("districts", views.DistrictViewSet, basename="district")
router.register("municipalities", views.MunicipalityViewSet, basename="municipality")
router.register("topics", views.TopicViewSet, basename="topic")
router.register("visits", scouting_api.VisitViewSet, basename="visit")
router.register("follow-ups", scouting_api.FollowUpViewSet, basename="follow-up")
router.register("interview-guides", scouting_api.InterviewGuideViewSet, basename="interview-guide")
router.register(
    "transfer-requests", pipeline_api.TransferRequestViewSet, basename="transfer-request"
)
router.register("stages", pipeline_api.StageViewSet, basename="stage")
router.register("matches", pipeline_api.MatchViewSet, basename="match")
router.register("outcomes", pipeline_api.OutcomeViewSet, basename="outcome")
router.register("reports", reporting_api.ReportViewSet, basename="report")

urlpatterns = [
    path("auth/token/", views.ObtainTokenView.as_view(), name="token"),
    path("auth/token/me/", views.OwnTokenView.as_view(), name="own_token"),
    # The schema and its docs are for signed-in users; the docs page loads its
    # script from a separate URL (split view) because CSP forbids inline scripts.
    path(
        "schema/",
        SpectacularAPIView.as_view(permission_classes=[IsAuthenticated]),
        name="schema",
    ),
    path(
        "docs/",
        SpectacularSwaggerSplitView.as_view(
            url_name="api:schema", permission_classes=[IsAuthenticated]
        ),
        name="docs",
    ),
    path("", include(router.urls)),
]
