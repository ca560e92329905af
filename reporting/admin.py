"""Admin: reports are made and published on their own pages (the services check and
record every step); here administration can look them up. A published report is
read-only here as everywhere; a draft's narrative can be edited."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from simple_history.admin import SimpleHistoryAdmin

from .models import Report, ReportFile


class ReportFileInline(admin.TabularInline):
    model = ReportFile
    fields = ["kind", "size", "sha256", "created_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Report)
class ReportAdmin(SimpleHistoryAdmin):
    list_display = ["title", "period_start", "period_end", "version", "status", "published_at"]
    list_filter = ["status", "is_scheduled"]
    search_fields = ["title"]
    fields = [
        "title",
        "period_start",
        "period_end",
        "districts",
        "version",
        "status",
        "is_scheduled",
        "generation",
        "generated_at",
        "published_at",
        "published_by",
        "figures_sha256",
        "narrative_progress",
        "narrative_problems",
        "narrative_outlook",
    ]
    inlines = [ReportFileInline]

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).defer("content", "evidence")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        if obj is not None and obj.is_published():
            return list(self.fields)
        narrative = {"narrative_progress", "narrative_problems", "narrative_outlook"}
        return [f for f in self.fields if f not in narrative]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # reports are generated on the report pages

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.is_published():
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.is_published():
            return False
        return super().has_delete_permission(request, obj)

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        # The bulk delete would skip the per-object check (and fail on published ones).
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions
