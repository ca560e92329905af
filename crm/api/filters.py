"""API list filters: the UI's filter sets for organisations and people, small ones for the rest.

Every filter set sorts with ``o`` (as the UI does), so the API has one ordering
parameter everywhere.
"""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from crm.filters import OrganisationFilter, PersonFilter
from crm.models import (
    Affiliation,
    ConsentRecord,
    District,
    Municipality,
    Organisation,
    Person,
    Topic,
)

# Ids beyond a signed 64-bit integer crash SQLite ("Python int too large") in FK lookups.
MAX_ID = 2**63 - 1


def id_filter(label: Any, **kwargs: Any) -> django_filters.NumberFilter:
    """An id filter; ids beyond the database's integer range are refused instead of
    crashing SQLite."""
    return django_filters.NumberFilter(
        label=label, min_value=1, max_value=MAX_ID, decimal_places=0, **kwargs
    )


__all__ = [
    "AffiliationFilter",
    "ApiPersonFilter",
    "ConsentFilter",
    "DistrictFilter",
    "MunicipalityFilter",
    "OrganisationFilter",
    "TopicFilter",
]


class ApiPersonFilter(PersonFilter):
    """The UI's person filter, with the organisation id bounded to the database's range."""

    organisation = django_filters.NumberFilter(
        label=_("Organisation"),
        field_name="affiliations__organisation",
        min_value=1,
        max_value=MAX_ID,
        decimal_places=0,
    )


class AffiliationFilter(django_filters.FilterSet):
    person = django_filters.ModelChoiceFilter(label=_("Person"), queryset=Person.objects.all())
    organisation = django_filters.ModelChoiceFilter(
        label=_("Organisation"), queryset=Organisation.objects.all()
    )
    is_primary = django_filters.BooleanFilter(label=_("Primary affiliation"))
    o = django_filters.OrderingFilter(
        label=_("Sort by"),
        fields=(
            ("organisation__name", "organisation"),
            ("person__last_name", "person"),
            ("valid_from", "valid_from"),
        ),
    )

    class Meta:
        model = Affiliation
        fields: list[str] = []


class ConsentFilter(django_filters.FilterSet):
    person = django_filters.ModelChoiceFilter(label=_("Person"), queryset=Person.objects.all())
    purpose = django_filters.ChoiceFilter(label=_("Purpose"), choices=ConsentRecord.Purpose.choices)
    effective = django_filters.BooleanFilter(label=_("Effective now"), method="filter_effective")
    o = django_filters.OrderingFilter(label=_("Sort by"), fields=(("given_at", "given_at"),))

    class Meta:
        model = ConsentRecord
        fields: list[str] = []

    def filter_effective(self, qs: QuerySet, name: str, value: bool | None) -> QuerySet:
        if value is None:
            return qs
        effective = ConsentRecord.objects.effective().values("pk")
        return qs.filter(pk__in=effective) if value else qs.exclude(pk__in=effective)


class DistrictFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(label=_("Kind"), choices=District.Kind.choices)
    o = django_filters.OrderingFilter(label=_("Sort by"), fields=(("name", "name"), ("key", "key")))

    class Meta:
        model = District
        fields: list[str] = []


class MunicipalityFilter(django_filters.FilterSet):
    district = django_filters.ModelChoiceFilter(
        label=_("District"), queryset=District.objects.all()
    )
    area_type = django_filters.ChoiceFilter(
        label=_("Rural/urban"), choices=Municipality.AreaType.choices
    )
    o = django_filters.OrderingFilter(
        label=_("Sort by"),
        fields=(("name", "name"), ("ags", "ags"), ("population", "population")),
    )

    class Meta:
        model = Municipality
        fields: list[str] = []


class TopicFilter(django_filters.FilterSet):
    parent = django_filters.ModelChoiceFilter(label=_("Parent topic"), queryset=Topic.objects.all())
    top_level = django_filters.BooleanFilter(
        label=_("Top-level topics only"), field_name="parent", lookup_expr="isnull"
    )
    o = django_filters.OrderingFilter(
        label=_("Sort by"), fields=(("position", "position"), ("name", "name"))
    )

    class Meta:
        model = Topic
        fields: list[str] = []
