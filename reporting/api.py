"""REST API of impact reports: read reports (funding-body viewers: published ones only),
download their files, and — administration, drafts only — change the narrative. A
published report refuses every change with 409."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, serializers
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from crm.api.permissions import RoleModelPermissions
from crm.api.views import Conflict, CrmViewSet, _actor

from . import services
from .models import Report, ReportFrozen
from .views import file_response


class ReportFileSerializer(serializers.Serializer):
    kind = serializers.CharField()
    size = serializers.IntegerField()
    sha256 = serializers.CharField()
    url = serializers.CharField()


class ReportSerializer(serializers.ModelSerializer):
    districts = serializers.SlugRelatedField(slug_field="key", many=True, read_only=True)
    period = serializers.SerializerMethodField()
    figures = serializers.SerializerMethodField()
    files = serializers.SerializerMethodField()

    class Meta:
        model = Report
        fields = [
            "id",
            "title",
            "period",
            "period_start",
            "period_end",
            "districts",
            "version",
            "status",
            "is_scheduled",
            "generation",
            "generated_at",
            "published_at",
            "figures_sha256",
            "indicator_versions",
            "narrative_progress",
            "narrative_problems",
            "narrative_outlook",
            "figures",
            "files",
        ]
        read_only_fields = [f for f in fields if not f.startswith("narrative_")]

    def get_period(self, report: Report) -> str:
        return report.period.code

    def get_figures(self, report: Report) -> list[dict[str, Any]] | None:
        """Code, name, unit, value, previous value and breakdowns of every indicator."""
        if not report.is_computed() or not self.context.get("detail"):
            return None
        return [
            {
                key: item[key]
                for key in (
                    "code",
                    "version",
                    "name",
                    "unit",
                    "value",
                    "previous_value",
                    "breakdowns",
                )
            }
            for item in (report.content or {}).get("indicators", [])
        ]

    def get_files(self, report: Report) -> list[dict[str, Any]]:
        if not report.is_published():
            return []
        request = self.context["request"]
        return [
            {
                "kind": f.kind,
                "size": f.size,
                "sha256": f.sha256,
                "url": request.build_absolute_uri(
                    reverse("api:report-files", kwargs={"pk": report.pk, "kind": f.kind})
                ),
            }
            for f in report.files.all()
        ]


class NarrativeSerializer(serializers.Serializer):
    narrative_progress = serializers.CharField(allow_blank=True, required=False, max_length=20000)
    narrative_problems = serializers.CharField(allow_blank=True, required=False, max_length=20000)
    narrative_outlook = serializers.CharField(allow_blank=True, required=False, max_length=20000)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        unknown = set(self.initial_data) - set(self.fields)
        if unknown:
            raise serializers.ValidationError(
                _("Only the narrative of a draft can be changed here, not: %(fields)s.")
                % {"fields": ", ".join(sorted(unknown))}
            )
        return attrs


@extend_schema_view(
    list=extend_schema(summary="Impact reports (funding-body viewers: published only)"),
    retrieve=extend_schema(summary="An impact report with its figures and files"),
    partial_update=extend_schema(
        summary="Change a draft's narrative",
        description="Administration only. A published report answers 409: it never changes.",
        request=NarrativeSerializer,
        responses={200: ReportSerializer, 409: OpenApiResponse(description="Published")},
    ),
)
class ReportViewSet(
    CrmViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.UpdateModelMixin
):
    serializer_class = ReportSerializer
    permission_classes = [RoleModelPermissions]
    http_method_names = ["get", "patch", "head", "options"]

    def get_queryset(self) -> Any:
        queryset = Report.objects.for_user(self.request.user).prefetch_related("districts")
        if self.action == "list":
            return queryset.defer("content", "evidence").prefetch_related("files")
        return queryset.defer("evidence")

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "detail": self.action != "list"}

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, ReportFrozen):
            exc = Conflict(_("A published report cannot be changed."))
        elif isinstance(exc, DjangoPermissionDenied):
            exc = exceptions.PermissionDenied(str(exc) or None)
        return super().handle_exception(exc)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        report = self.get_object()
        if report.is_published():
            raise ReportFrozen()
        data = NarrativeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = {
            "progress": report.narrative_progress,
            "problems": report.narrative_problems,
            "outlook": report.narrative_outlook,
        }
        for name, value in data.validated_data.items():
            values[name.removeprefix("narrative_")] = value
        report = services.update_narrative(report, **values, by=_actor(request))
        return Response(self.get_serializer(report).data)

    @extend_schema(
        summary="Download a report file",
        description="``pdf`` or ``xlsx`` of a published report, as stored at publication.",
        responses={(200, "application/octet-stream"): OpenApiTypes.BINARY},
    )
    @action(detail=True, methods=["get"], url_path=r"files/(?P<kind>pdf|xlsx)")
    def files(
        self, request: Request, pk: str | None = None, kind: str = "", **_suffix: Any
    ) -> HttpResponse:
        report = self.get_object()
        stored = report.stored_file(kind)
        if stored is None:
            raise Http404(gettext_lazy("Only published reports have stored files."))
        return file_response(stored)
