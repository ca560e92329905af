"""Admin for the interview guide (administration configures it) and for operators'
look at visits and follow-ups; day-to-day work happens in the CRM pages."""

from operator import attrgetter
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from simple_history.admin import SimpleHistoryAdmin

from .models import FollowUp, FollowUpRule, GuideQuestion, GuideSection, InterviewGuide, Visit
from .services import copy_guide_as_new_version, guide_is_in_use


class FrozenOnceUsed:
    """A guide version that visits answered is kept as it was: change a copy instead."""

    # Where the admin's object keeps the id of its guide, e.g. "section.guide_id".
    guide_id_path = "guide_id"

    def guide_id_of(self, obj: Any) -> int | None:
        return attrgetter(self.guide_id_path)(obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and guide_is_in_use(self.guide_id_of(obj)):
            return False
        return super().has_change_permission(request, obj)  # type: ignore[misc]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and guide_is_in_use(self.guide_id_of(obj)):
            return False
        return super().has_delete_permission(request, obj)  # type: ignore[misc]


class ReadOnly:
    """Visits and follow-ups change only through the CRM pages and the API, whose
    services keep versions, rules and notifications right."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class GuideSectionInline(admin.TabularInline):
    model = GuideSection
    extra = 0


@admin.register(InterviewGuide)
class InterviewGuideAdmin(FrozenOnceUsed, SimpleHistoryAdmin):
    list_display = ["name", "version", "is_active", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["name"]
    inlines = [GuideSectionInline]
    actions = ["copy_as_new_version", "activate"]

    guide_id_path = "pk"

    @admin.action(
        description=gettext_lazy("Copy as a new version (to change it)"), permissions=["add"]
    )
    def copy_as_new_version(self, request: HttpRequest, queryset: QuerySet) -> None:
        for guide in queryset:
            copy = copy_guide_as_new_version(guide, by=request.user)  # type: ignore[arg-type]
            self.message_user(
                request,
                _("Version %(version)d of “%(name)s” created (inactive).")
                % {"version": copy.version, "name": copy.name},
                messages.SUCCESS,
            )

    @admin.action(description=gettext_lazy("Use for new visits"), permissions=["change"])
    def activate(self, request: HttpRequest, queryset: QuerySet) -> None:
        # Allowed on versions in use too: switching versions changes no stored answer.
        for guide in queryset.order_by("version"):
            others = InterviewGuide.objects.filter(name=guide.name, is_active=True)
            for other in others.exclude(pk=guide.pk):
                other.is_active = False
                other._change_reason = _("Replaced by version %(version)d") % {  # type: ignore[attr-defined]
                    "version": guide.version
                }
                other.save(update_fields=["is_active"])
            guide.is_active = True
            guide._change_reason = _("Activated")  # type: ignore[attr-defined]
            guide.save(update_fields=["is_active"])
        self.message_user(request, _("New visits use the activated version."))


class GuideQuestionInline(admin.TabularInline):
    model = GuideQuestion
    extra = 0


@admin.register(GuideSection)
class GuideSectionAdmin(FrozenOnceUsed, SimpleHistoryAdmin):
    list_display = ["title", "guide", "position"]
    list_filter = ["guide"]
    list_select_related = ["guide"]
    inlines = [GuideQuestionInline]

    guide_id_path = "guide_id"


class FollowUpRuleInline(admin.TabularInline):
    model = FollowUpRule
    extra = 0
    raw_id_fields = ["assignee"]


@admin.register(GuideQuestion)
class GuideQuestionAdmin(FrozenOnceUsed, SimpleHistoryAdmin):
    list_display = ["text", "key", "kind", "section", "position"]
    list_filter = ["kind", "section__guide"]
    search_fields = ["text", "key"]
    list_select_related = ["section", "section__guide"]
    inlines = [FollowUpRuleInline]

    guide_id_path = "section.guide_id"


@admin.register(FollowUpRule)
class FollowUpRuleAdmin(FrozenOnceUsed, SimpleHistoryAdmin):
    list_display = ["follow_up_title", "question", "when_value", "assignee_role", "due_in_days"]
    list_select_related = ["question"]
    raw_id_fields = ["question", "assignee"]

    guide_id_path = "question.section.guide_id"


@admin.register(Visit)
class VisitAdmin(ReadOnly, SimpleHistoryAdmin):
    list_display = ["organisation", "visited_at", "status", "is_confidential", "version"]
    list_filter = ["status", "format", "purpose", "is_confidential"]
    search_fields = ["organisation__name", "uuid"]
    raw_id_fields = ["organisation", "people_met", "scouts", "guide_version"]
    filter_horizontal = ["topics"]
    readonly_fields = ["uuid", "version", "status", "submitted_at", "created_by", "created_at"]
    list_select_related = ["organisation"]
    date_hierarchy = "visited_at"
    show_full_result_count = False


@admin.register(FollowUp)
class FollowUpAdmin(ReadOnly, SimpleHistoryAdmin):
    list_display = ["title", "assignee", "due_date", "priority", "status"]
    list_filter = ["status", "priority"]
    search_fields = ["title"]
    raw_id_fields = ["visit", "organisation", "person", "assignee"]
    readonly_fields = ["rule", "assigned_by", "assigned_at", "completed_at", "created_by"]
    list_select_related = ["assignee"]
    show_full_result_count = False
