"""List filters of the pipeline."""

from __future__ import annotations

import datetime

import django_filters
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.forms import DateInput
from crm.models import District, Municipality, Topic
from crm.roles import Role
from scouting.filters import TopicFilter, UserFilter, topics_in_order
from scouting.forms import users_with_role

from .models import Stage, TransferRequest


class RequestFilter(django_filters.FilterSet):
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

    @property
    def form(self):  # type: ignore[no-untyped-def]
        form = super().form
        for field in form.fields.values():
            css = "form-select" if hasattr(field, "choices") else "form-control"
            field.widget.attrs.setdefault("class", css)
        return form

    def filter_topic(self, qs: QuerySet, name: str, value: Topic) -> QuerySet:
        topic_ids = [value.pk, *value.children.values_list("pk", flat=True)]
        tagged = TransferRequest.topics.through.objects.filter(topic_id__in=topic_ids)
        return qs.filter(pk__in=tagged.values("transferrequest_id"))

    def filter_from(self, qs: QuerySet, name: str, value: datetime.date) -> QuerySet:
        return qs.filter(created_at__gte=_start_of(value))

    def filter_to(self, qs: QuerySet, name: str, value: datetime.date) -> QuerySet:
        return qs.filter(created_at__lt=_start_of(min(value, _LATEST) + datetime.timedelta(days=1)))


# Dates far outside any record would overflow in the conversion to UTC.
_EARLIEST, _LATEST = datetime.date(1900, 1, 1), datetime.date(3000, 1, 1)


def _start_of(day: datetime.date) -> datetime.datetime:
    day = min(max(day, _EARLIEST), _LATEST)
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))
