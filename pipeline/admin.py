"""Admin for the stages (reference data administration maintains) and a read-only
look at requests and their stage changes; the work itself goes through the services."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from .models import REQUIREMENTS, Match, Outcome, Stage, StageChange, TransferRequest


class StageForm(forms.ModelForm):
    required_fields = forms.MultipleChoiceField(
        label=_("required to enter"),
        choices=list(REQUIREMENTS.items()),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = Stage
        fields = [
            "key",
            "name",
            "name_en",
            "position",
            "kind",
            "required_fields",
            "max_days",
            "is_active",
        ]


@admin.register(Stage)
class StageAdmin(SimpleHistoryAdmin):
    form = StageForm
    list_display = ["name", "position", "kind", "max_days", "is_active"]
    list_editable = ["position", "max_days", "is_active"]
    list_filter = ["kind", "is_active"]
    ordering = ["position", "id"]

    # Requests and their history point at stages: retire a stage instead.
    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnly:
    """Requests change only through the pipeline services, which lock, check the
    transitions and record every stage change."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class StageChangeInline(ReadOnly, admin.TabularInline):
    model = StageChange
    fields = readonly_fields = ("changed_at", "from_stage", "to_stage", "changed_by", "note")
    extra = 0


class MatchInline(ReadOnly, admin.TabularInline):
    model = Match
    fields = readonly_fields = (
        "partner",
        "person",
        "status",
        "proposed_at",
        "contacted_at",
        "decided_at",
    )
    extra = 0


class OutcomeInline(ReadOnly, admin.TabularInline):
    model = Outcome
    fields = readonly_fields = ("kind", "funding_programme", "date", "partner", "note")
    extra = 0


@admin.register(TransferRequest)
class TransferRequestAdmin(ReadOnly, SimpleHistoryAdmin):
    list_display = ["title", "organisation", "stage", "stage_entered_at", "responsible_manager"]
    list_filter = ["stage", "kind", "source", "priority"]
    list_select_related = ["organisation", "stage", "responsible_manager"]
    search_fields = ["title", "organisation__name"]
    raw_id_fields = ["organisation", "contact_person", "visit"]
    date_hierarchy = "created_at"
    show_full_result_count = False
    inlines = [StageChangeInline, MatchInline, OutcomeInline]


@admin.register(StageChange)
class StageChangeAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ["request", "from_stage", "to_stage", "changed_at", "changed_by"]
    list_filter = ["to_stage"]
    list_select_related = ["request", "from_stage", "to_stage", "changed_by"]
    raw_id_fields = ["request"]
    show_full_result_count = False
