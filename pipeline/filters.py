"""List filters of the pipeline."""

from __future__ import annotations

import datetime

import django_filters
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from crm.filters import StyledFilters, end_of_day, start_of_day, users_with_role
from crm.forms import DateInput
from crm.models import District, Municipality, Topic
from crm.roles import Role
from scouting.filters import TopicFilter, UserFilter, topics_in_order

from .models import Stage, TransferRequest


class RequestFilter(StyledFilters, django_filters.FilterSet):
    stage = django_filters.ModelChoiceFilter(
        label=_("Stage"), queryset=Stage.objects.active().order_by("position", "pk")
    )
    responsible_manager = UserFilter(
        label=_("Responsible"), queryset=users_with_role(Role.NETWORK_MANAGER)
    )
    topic = TopicFilter(label=_("Topic"), queryset=topics_in_order(), method="filter_topic")
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
    kind = django_filters.ChoiceFilter(label=_("Kind"), choices=TransferRequest.Kind.choices)
    source = django_filters.ChoiceFilter(label=_("Source"), choices=TransferRequest.Source.choices)
    created_from = django_filters.DateFilter(
        label=_("Created from"), method="filter_from", widget=DateInput()
    )
    created_to = django_filters.DateFilter(
        label=_("Created until"), method="filter_to", widget=DateInput()
    )
    organisation = django_filters.NumberFilter(
        label=_("Organisation"), field_name="organisation_id", min_value=1, max_value=2**63 - 1
    )

    class Meta:
        model = TransferRequest
        fields: list[str] = []

    def filter_topic(self, qs: QuerySet, name: str, value: Topic) -> QuerySet:
        topic_ids = Topic.family_ids(value.pk)
        tagged = TransferRequest.topics.through.objects.filter(topic_id__in=topic_ids)
        return qs.filter(pk__in=tagged.values("transferrequest_id"))

    def filter_from(self, qs: QuerySet, name: str, value: datetime.date) -> QuerySet:
        return qs.filter(created_at__gte=start_of_day(value))

    def filter_to(self, qs: QuerySet, name: str, value: datetime.date) -> QuerySet:
        return qs.filter(created_at__lt=end_of_day(value))
