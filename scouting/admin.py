"""Admin for the interview guide (administration configures it) and for operators'
look at visits and follow-ups; day-to-day work happens in the CRM pages."""

from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from .models import FollowUp, FollowUpRule, GuideQuestion, GuideSection, InterviewGuide, Visit


class GuideSectionInline(admin.TabularInline):
    model = GuideSection
    extra = 0


@admin.register(InterviewGuide)
class InterviewGuideAdmin(SimpleHistoryAdmin):
    list_display = ["name", "version", "is_active", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["name"]
    inlines = [GuideSectionInline]


class GuideQuestionInline(admin.TabularInline):
    model = GuideQuestion
    extra = 0


@admin.register(GuideSection)
class GuideSectionAdmin(SimpleHistoryAdmin):
    list_display = ["title", "guide", "position"]
    list_filter = ["guide"]
    list_select_related = ["guide"]
    inlines = [GuideQuestionInline]


class FollowUpRuleInline(admin.TabularInline):
    model = FollowUpRule
    extra = 0
    raw_id_fields = ["assignee"]


@admin.register(GuideQuestion)
class GuideQuestionAdmin(SimpleHistoryAdmin):
    list_display = ["text", "key", "kind", "section", "position"]
    list_filter = ["kind", "section__guide"]
    search_fields = ["text", "key"]
    list_select_related = ["section", "section__guide"]
    inlines = [FollowUpRuleInline]


@admin.register(FollowUpRule)
class FollowUpRuleAdmin(SimpleHistoryAdmin):
    list_display = ["follow_up_title", "question", "when_value", "assignee_role", "due_in_days"]
    list_select_related = ["question"]
    raw_id_fields = ["question", "assignee"]


@admin.register(Visit)
class VisitAdmin(SimpleHistoryAdmin):
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
class FollowUpAdmin(SimpleHistoryAdmin):
    list_display = ["title", "assignee", "due_date", "priority", "status"]
    list_filter = ["status", "priority"]
    search_fields = ["title"]
    raw_id_fields = ["visit", "organisation", "person", "assignee"]
    readonly_fields = ["rule", "assigned_by", "assigned_at", "completed_at", "created_by"]
    list_select_related = ["assignee"]
    show_full_result_count = False
