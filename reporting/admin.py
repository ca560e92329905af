"""Admin: reports are made and published on their own pages (the services check and
record every step); here administration can look them up. A published report is
read-only here as everywhere; a draft's narrative can be edited."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.core.validators import MaxLengthValidator
from django.http import HttpRequest, HttpResponse
from simple_history.admin import SimpleHistoryAdmin

from .models import Report, ReportFile
from .services import NARRATIVE_LIMIT


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


class ReportAdminForm(forms.ModelForm):
    """The narrative with the same limit as on the report page and in the API."""

    class Meta:
        model = Report
        fields = ["narrative_progress", "narrative_problems", "narrative_outlook"]
        widgets = {name: forms.Textarea(attrs={"maxlength": NARRATIVE_LIMIT}) for name in fields}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            if isinstance(field, forms.CharField):
                field.max_length = NARRATIVE_LIMIT
                field.validators.append(MaxLengthValidator(NARRATIVE_LIMIT))


def _frozen(obj: Any) -> bool:
    """Published as stored (the history view passes an old state of the report, which
    may still say "draft")."""
    if obj is None:
        return False
    return Report.objects.filter(pk=obj.pk, status=Report.Status.PUBLISHED).exists()


@admin.register(Report)
class ReportAdmin(SimpleHistoryAdmin):
    form = ReportAdminForm
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
        if _frozen(obj):
            return list(self.fields)
        narrative = {"narrative_progress", "narrative_problems", "narrative_outlook"}
        return [f for f in self.fields if f not in narrative]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # reports are generated on the report pages

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if _frozen(obj):
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if _frozen(obj):
            return False
        return super().has_delete_permission(request, obj)

    # The history is for reading. Reverting would bring back an old state of the fields
    # the history keeps (computed at, hash) beside figures it does not keep.
    def revert_disabled(self, request: HttpRequest, obj: Any = None) -> bool:
        return True

    def history_form_view(
        self,
        request: HttpRequest,
        object_id: str,
        version_id: str,
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        if request.method == "POST":
            raise PermissionDenied
        return super().history_form_view(request, object_id, version_id, extra_context)

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        # The bulk delete would skip the per-object check (and fail on published ones).
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions
