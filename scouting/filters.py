"""List filters of scouting, shared by the pages and the exports."""

from __future__ import annotations

import datetime

import django_filters
from django.db import connection
from django.db.models import F, QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.filters import StyledFilters, end_of_day, start_of_day, users_with_role
from crm.forms import DateInput, TopicField
from crm.models import District, Municipality, Topic
from crm.roles import Role

from .forms import UserChoiceField
from .models import FollowUp, Need, Visit


def filter_by_need(qs: QuerySet, need: str) -> QuerySet:
    # SQLite has no JSON containment; the quoted code cannot match inside another code.
    if connection.vendor == "postgresql":
        return qs.filter(needs__contains=[need])
    return qs.filter(needs__icontains=f'"{need}"')


class UserFilter(django_filters.ModelChoiceFilter):
    field_class = UserChoiceField


class TopicFilter(django_filters.ModelChoiceFilter):
    field_class = TopicField


def topics_in_order() -> QuerySet:
    # Parents first, each followed by its sub-topics ("Digitalisierung › KI").
    return Topic.objects.select_related("parent").order_by(
        Coalesce("parent__name", "name"), F("parent").asc(nulls_first=True), "name"
    )


class VisitFilter(StyledFilters, django_filters.FilterSet):
    scout = UserFilter(
        label=_("Scout"),
        queryset=users_with_role(Role.SCOUT, Role.NETWORK_MANAGER),
        method="filter_scout",
    )
    visited_from = django_filters.DateFilter(
        label=_("From"),
        field_name="visited_at",
        method="filter_from",
        widget=DateInput(),
    )
    visited_to = django_filters.DateFilter(
        label=_("To"), field_name="visited_at", method="filter_to", widget=DateInput()
    )
    district = django_filters.ModelChoiceFilter(
        label=_("District"),
        queryset=District.objects.all(),
        field_name="organisation__municipality__district",
    )
    area_type = django_filters.ChoiceFilter(
        label=_("Rural/urban"),
        choices=Municipality.AreaType.choices,
        field_name="organisation__municipality__area_type",
    )
    topic = TopicFilter(label=_("Topic"), queryset=topics_in_order(), method="filter_topic")
    need = django_filters.ChoiceFilter(label=_("Need"), choices=Need.choices, method="filter_need")
    status = django_filters.ChoiceFilter(label=_("Status"), choices=Visit.Status.choices)
    organisation = django_filters.NumberFilter(
        label=_("Organisation"),
        field_name="organisation_id",
        min_value=1,
        max_value=2**63 - 1,
        decimal_places=0,
    )

    class Meta:
        model = Visit
        fields: list[str] = []

    def filter_queryset(self, queryset: QuerySet) -> QuerySet:
        start = self.form.cleaned_data.get("visited_from")
        end = self.form.cleaned_data.get("visited_to")
        if start and end and start > end:
            self.form.add_error("visited_to", _("“To” lies before “From”."))
            return queryset.none()
        return super().filter_queryset(queryset)

    def filter_scout(self, qs: QuerySet, name: str, value: object) -> QuerySet:
        # A semi-join keeps one row per visit without DISTINCT.
        went = Visit.scouts.through.objects.filter(user_id=value.pk)  # type: ignore[attr-defined]
        return qs.filter(pk__in=went.values("visit_id"))

    def filter_from(self, qs: QuerySet, name: str, value: datetime.date) -> QuerySet:
        return qs.filter(visited_at__gte=start_of_day(value))

    def filter_to(self, qs: QuerySet, name: str, value: datetime.date) -> QuerySet:
        return qs.filter(visited_at__lt=end_of_day(value))

    def filter_topic(self, qs: QuerySet, name: str, value: Topic) -> QuerySet:
        topic_ids = Topic.family_ids(value.pk)
        tagged = Visit.topics.through.objects.filter(topic_id__in=topic_ids)
        return qs.filter(pk__in=tagged.values("visit_id"))

    def filter_need(self, qs: QuerySet, name: str, value: str) -> QuerySet:
        return filter_by_need(qs, value)


class TeamFollowUpFilter(StyledFilters, django_filters.FilterSet):
    """The managers' team view: one of the standard views, narrowed by assignee/priority."""

    VIEWS = (
        ("open", _("All open")),
        ("unassigned", _("Unassigned")),
        ("overdue", _("Overdue")),
        ("due_this_week", _("Due this week")),
        ("closed", _("Done or cancelled")),
    )

    view = django_filters.ChoiceFilter(
        label=_("Show"), choices=VIEWS, method="filter_view", empty_label=None
    )
    assignee = UserFilter(
        label=_("Assignee"),
        queryset=users_with_role(Role.SCOUT, Role.NETWORK_MANAGER, Role.ADMINISTRATION),
    )
    priority = django_filters.ChoiceFilter(label=_("Priority"), choices=FollowUp.Priority.choices)

    class Meta:
        model = FollowUp
        fields: list[str] = []

    def filter_queryset(self, queryset: QuerySet) -> QuerySet:
        # Without a choice the team view shows the open ones.
        if not self.form.cleaned_data.get("view"):
            queryset = queryset.open()  # type: ignore[attr-defined]
        return super().filter_queryset(queryset)

    def filter_view(self, qs: QuerySet, name: str, value: str) -> QuerySet:
        return follow_ups_in_view(qs, value)


def follow_ups_in_view(qs: QuerySet, view: str) -> QuerySet:
    today = timezone.localdate()
    if view == "unassigned":
        return qs.unassigned()  # type: ignore[attr-defined]
    if view == "overdue":
        return qs.overdue(on=today)  # type: ignore[attr-defined]
    if view == "due_this_week":
        end_of_week = today + datetime.timedelta(days=6 - today.weekday())
        return qs.open().filter(due_date__gte=today, due_date__lte=end_of_week)  # type: ignore[attr-defined]
    if view == "closed":
        return qs.exclude(status__in=FollowUp.OPEN_STATUSES).order_by("-completed_at", "-pk")
    return qs.open()  # type: ignore[attr-defined]
