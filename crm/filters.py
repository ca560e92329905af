"""List filters shared by the pages, the exports and the API."""

from __future__ import annotations

import datetime

import django_filters
from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet
from django.forms import Select
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .models import Affiliation, District, Municipality, Organisation, Person, SizeClass, Topic
from .roles import Role
from .search import clean_query, is_searchable, search

# Dates far outside any record would overflow in the conversion to UTC (year 1, 9999).
_EARLIEST_DAY, _LATEST_DAY = datetime.date(1900, 1, 1), datetime.date(3000, 1, 1)


def start_of_day(day: datetime.date) -> datetime.datetime:
    """Local midnight at the start of ``day``: filtering a timestamp by day this way uses
    its index, unlike ``__date``."""
    day = min(max(day, _EARLIEST_DAY), _LATEST_DAY)
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


def end_of_day(day: datetime.date) -> datetime.datetime:
    """Local midnight at the end of ``day`` (exclusive)."""
    return start_of_day(min(day, _LATEST_DAY) + datetime.timedelta(days=1))


def users_with_role(*roles: Role) -> QuerySet:
    """Active users with one of ``roles``, by name."""
    return (
        get_user_model()
        .objects.filter(groups__name__in=[r.group_name for r in roles], is_active=True)
        .distinct()
        .order_by("last_name", "first_name", "username")
    )


def managers() -> QuerySet:
    return users_with_role(Role.NETWORK_MANAGER)


class StyledFilters:
    """Bootstrap classes on a filter set's form, so list templates stay plain."""

    @property
    def form(self):  # type: ignore[no-untyped-def]
        form = super().form  # type: ignore[misc]
        for field in form.fields.values():
            css = "form-select" if isinstance(field.widget, Select) else "form-control"
            field.widget.attrs.setdefault("class", css)
        return form


class _SearchMixin(StyledFilters):
    def filter_search(self, qs: QuerySet, name: str, value: str) -> QuerySet:
        return qs  # applied last, in filter_queryset, once the other filters have narrowed qs

    def filter_queryset(self, queryset: QuerySet) -> QuerySet:
        # Search runs after the other filters: it ranks a bounded pool of matches, which
        # must be drawn from records that pass the filters.
        filtered = super().filter_queryset(queryset)  # type: ignore[misc]
        query = clean_query(self.form.cleaned_data.get("q"))  # type: ignore[attr-defined]
        # Ordering by relevance only when the user has not chosen a sort order.
        wants_rank = not self.data.get("o")  # type: ignore[attr-defined]
        return search(filtered, query, order=wants_rank) if query else filtered

    @property
    def query_too_short(self) -> bool:
        query = clean_query(self.data.get("q"))  # type: ignore[attr-defined]
        return bool(query) and not is_searchable(query)


class OrganisationFilter(_SearchMixin, django_filters.FilterSet):
    q = django_filters.CharFilter(label=_("Search"), method="filter_search")
    # distinct=False: no to-many join here, and DISTINCT would sort every match.
    kind = django_filters.MultipleChoiceFilter(
        label=_("Kind"), choices=Organisation.Kind.choices, distinct=False
    )
    district = django_filters.ModelChoiceFilter(
        label=_("District"),
        queryset=District.objects.all(),
        field_name="municipality__district",
    )
    area_type = django_filters.ChoiceFilter(
        label=_("Rural/urban"),
        choices=Municipality.AreaType.choices,
        field_name="municipality__area_type",
    )
    topic = django_filters.ModelChoiceFilter(
        label=_("Topic"), queryset=Topic.objects.all(), method="filter_topic"
    )
    size_class = django_filters.ChoiceFilter(label=_("Size class"), choices=SizeClass.choices)
    status = django_filters.ChoiceFilter(label=_("Status"), choices=Organisation.Status.choices)
    responsible_manager = django_filters.ModelChoiceFilter(
        label=_("Responsible manager"), queryset=managers()
    )
    o = django_filters.OrderingFilter(
        label=_("Sort by"),
        fields=(
            ("name", "name"),
            ("updated_at", "updated"),
            ("employees", "employees"),
            ("municipality__name", "municipality"),
        ),
        field_labels={
            "name": _("Name"),
            "updated_at": _("Last change"),
            "employees": _("Employees"),
            "municipality__name": _("Municipality"),
        },
    )

    class Meta:
        model = Organisation
        fields: list[str] = []

    def filter_topic(self, qs: QuerySet, name: str, value: Topic) -> QuerySet:
        # A parent topic also finds organisations tagged with one of its children.
        # Semi-joins through the link tables avoid DISTINCT over the whole result.
        topic_ids = Topic.family_ids(value.pk)
        offered = Organisation.offered_topics.through.objects.filter(topic_id__in=topic_ids)
        needed = Organisation.needed_topics.through.objects.filter(topic_id__in=topic_ids)
        return qs.filter(
            Q(pk__in=offered.values("organisation_id")) | Q(pk__in=needed.values("organisation_id"))
        )


class PersonFilter(_SearchMixin, django_filters.FilterSet):
    q = django_filters.CharFilter(label=_("Search"), method="filter_search")
    organisation = django_filters.NumberFilter(
        label=_("Organisation"),
        field_name="affiliations__organisation",
        min_value=1,
        max_value=2**63 - 1,
        decimal_places=0,
    )
    district = django_filters.ModelChoiceFilter(
        label=_("District"),
        queryset=District.objects.all(),
        method="filter_district",
    )
    language = django_filters.ChoiceFilter(
        label=_("Preferred language"),
        choices=Person.Language.choices,
        field_name="preferred_language",
    )
    o = django_filters.OrderingFilter(
        label=_("Sort by"),
        fields=(("last_name", "last_name"), ("updated_at", "updated")),
        field_labels={"last_name": _("Name"), "updated_at": _("Last change")},
    )

    class Meta:
        model = Person
        fields: list[str] = []

    def filter_district(self, qs: QuerySet, name: str, value: District) -> QuerySet:
        affiliated = Affiliation.objects.filter(organisation__municipality__district=value)
        return qs.filter(pk__in=affiliated.values("person_id"))
