"""Admin for operators and administration: reference data, users, audit trails.

Day-to-day work on organisations and people happens in the CRM pages; the admin
exists for reference data (regions, topics), saved import mappings and merges.
"""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from .models import (
    District,
    ImportMapping,
    MergeRecord,
    Municipality,
    Organisation,
    Person,
    Topic,
)

admin.site.site_header = _("Regio-CRM administration")
admin.site.site_title = _("Regio-CRM")


@admin.register(District)
class DistrictAdmin(SimpleHistoryAdmin):
    list_display = ["name", "key", "kind"]
    search_fields = ["name", "key"]


@admin.register(Municipality)
class MunicipalityAdmin(SimpleHistoryAdmin):
    list_display = ["name", "ags", "district", "area_type", "population"]
    list_filter = ["district", "area_type"]
    search_fields = ["name", "ags"]
    list_select_related = ["district"]


@admin.register(Topic)
class TopicAdmin(SimpleHistoryAdmin):
    list_display = ["name", "name_en", "parent", "position", "slug"]
    list_filter = [("parent", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["name", "name_en", "slug"]
    list_select_related = ["parent"]


@admin.register(Organisation)
class OrganisationAdmin(SimpleHistoryAdmin):
    list_display = ["name", "kind", "municipality", "status"]
    list_filter = ["kind", "status", "size_class"]
    search_fields = ["name", "register_number", "external_id"]
    raw_id_fields = ["municipality", "responsible_manager"]
    filter_horizontal = ["offered_topics", "needed_topics"]
    list_select_related = ["municipality"]
    show_full_result_count = False


@admin.register(Person)
class PersonAdmin(SimpleHistoryAdmin):
    list_display = ["last_name", "first_name", "email"]
    search_fields = ["last_name", "first_name", "email"]
    show_full_result_count = False


@admin.register(ImportMapping)
class ImportMappingAdmin(SimpleHistoryAdmin):
    list_display = ["name", "target", "created_by", "created_at"]
    list_filter = ["target"]


@admin.register(MergeRecord)
class MergeRecordAdmin(admin.ModelAdmin):
    list_display = ["merged_label", "kind", "survivor_id", "merged_by", "merged_at"]
    list_filter = ["kind"]
    readonly_fields = [f.name for f in MergeRecord._meta.fields]

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False
