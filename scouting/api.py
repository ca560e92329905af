"""REST API of scouting: visits (written idempotently by offline clients), follow-ups
and the interview guide a client renders its form from.

Thin views as in ``crm.api.views``: serializers check the shape, the services in
``scouting.services`` do the work and record history with the acting user.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

import django_filters
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import transaction
from django.db.models import Prefetch, QuerySet
from django.http import Http404
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, status
from rest_framework.decorators import action
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from crm.api.filters import MAX_ID, id_filter
from crm.api.permissions import RoleModelPermissions
from crm.api.views import CrmViewSet, _actor
from crm.filters import end_of_day, start_of_day
from crm.models import Municipality, Person, Topic
from scouting.filters import filter_by_need

from .api_serializers import (
    FollowUpAssignmentResultSerializer,
    FollowUpAssignmentSerializer,
    FollowUpCompletionSerializer,
    FollowUpSerializer,
    InterviewGuideSerializer,
    VisitConflictSerializer,
    VisitSerializer,
)
from .models import FollowUp, GuideQuestion, GuideSection, InterviewGuide, Need, Visit
from .services import (
    StaleVisit,
    assign_follow_ups,
    complete_follow_up,
    propose_follow_up,
    record_visit,
    submit_visit,
    update_visit,
)

RELATIONS = ("scouts", "people_met", "topics")
UUID_PATTERN = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"


# --- Filters -------------------------------------------------------------------------


class VisitFilter(django_filters.FilterSet):
    scout = id_filter(gettext_lazy("Scout (user id)"), method="filter_scout")
    organisation = id_filter(gettext_lazy("Organisation"), field_name="organisation")
    visited_after = django_filters.DateFilter(
        label=gettext_lazy("Visited on or after"), method="filter_visited_after"
    )
    visited_before = django_filters.DateFilter(
        label=gettext_lazy("Visited on or before"), method="filter_visited_before"
    )
    district = id_filter(
        gettext_lazy("District"), field_name="organisation__municipality__district"
    )
    rural = django_filters.BooleanFilter(
        label=gettext_lazy("Rural (true) or urban (false) municipality of the organisation"),
        method="filter_rural",
    )
    topic = id_filter(
        gettext_lazy("Topic; a parent topic includes its children"), method="filter_topic"
    )
    need = django_filters.ChoiceFilter(
        label=gettext_lazy("Need"), choices=Need.choices, method="filter_need"
    )
    status = django_filters.ChoiceFilter(label=gettext_lazy("Status"), choices=Visit.Status.choices)
    o = django_filters.OrderingFilter(
        label=gettext_lazy("Sort by"),
        fields=(
            ("visited_at", "visited_at"),
            ("updated_at", "updated_at"),
            ("organisation__name", "organisation"),
        ),
    )

    class Meta:
        model = Visit
        fields: list[str] = []

    def filter_scout(self, qs: QuerySet, name: str, value: Any) -> QuerySet:
        own = Visit.scouts.through.objects.filter(user_id=int(value)).values("visit_id")
        return qs.filter(pk__in=own)

    def filter_visited_after(self, qs: QuerySet, name: str, value: datetime.date) -> QuerySet:
        # Day boundaries in local time instead of ``__date``, which cannot use the index.
        return qs.filter(visited_at__gte=start_of_day(value))

    def filter_visited_before(self, qs: QuerySet, name: str, value: datetime.date) -> QuerySet:
        return qs.filter(visited_at__lt=end_of_day(value))

    def filter_rural(self, qs: QuerySet, name: str, value: bool | None) -> QuerySet:
        if value is None:
            return qs
        area = Municipality.AreaType.RURAL if value else Municipality.AreaType.URBAN
        return qs.filter(organisation__municipality__area_type=area)

    def filter_topic(self, qs: QuerySet, name: str, value: Any) -> QuerySet:
        topics = Topic.family_ids(int(value))
        tagged = Visit.topics.through.objects.filter(topic_id__in=topics).values("visit_id")
        return qs.filter(pk__in=tagged)

    def filter_need(self, qs: QuerySet, name: str, value: str) -> QuerySet:
        return filter_by_need(qs, value)


class FollowUpFilter(django_filters.FilterSet):
    assignee = django_filters.CharFilter(
        label=gettext_lazy("Assignee: a user id or “me”"),
        method="filter_assignee",
        max_length=20,
    )
    status = django_filters.ChoiceFilter(
        label=gettext_lazy("Status"), choices=FollowUp.Status.choices
    )
    overdue = django_filters.BooleanFilter(label=gettext_lazy("Overdue"), method="filter_overdue")
    due_before = django_filters.DateFilter(
        label=gettext_lazy("Due on or before"), field_name="due_date", lookup_expr="lte"
    )
    unassigned = django_filters.BooleanFilter(
        label=gettext_lazy("Without assignee"), field_name="assignee", lookup_expr="isnull"
    )
    visit = django_filters.UUIDFilter(label=gettext_lazy("Visit (UUID)"), field_name="visit__uuid")
    organisation = id_filter(gettext_lazy("Organisation"), field_name="organisation")
    o = django_filters.OrderingFilter(
        label=gettext_lazy("Sort by"),
        fields=(("due_date", "due_date"), ("created_at", "created_at"), ("priority", "priority")),
    )

    class Meta:
        model = FollowUp
        fields: list[str] = []

    def filter_assignee(self, qs: QuerySet, name: str, value: str) -> QuerySet:
        if value == "me":
            return qs.filter(assignee_id=self.request.user.pk)  # type: ignore[union-attr]
        if not value.isascii() or not value.isdigit() or not 1 <= int(value) <= MAX_ID:
            raise exceptions.ValidationError({"assignee": [_("Give a user id or “me”.")]})
        return qs.filter(assignee_id=int(value))

    def filter_overdue(self, qs: QuerySet, name: str, value: bool | None) -> QuerySet:
        if value is None:
            return qs
        overdue = FollowUp.objects.overdue().values("pk")
        return qs.filter(pk__in=overdue) if value else qs.exclude(pk__in=overdue)


# --- Permissions ---------------------------------------------------------------------


class MayViewFollowUps(RoleModelPermissions):
    """For actions whose service decides who may do them (completing: the assignee or a
    network manager); everyone else needs at least to see follow-ups."""

    perms_map = {**RoleModelPermissions.perms_map, "POST": ["%(app_label)s.view_%(model_name)s"]}


class MayReadGuides(BasePermission):
    """Reading only: whoever records visits needs the guide; administration maintains it
    (in the admin, as new versions)."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        user = request.user
        return bool(
            request.method in SAFE_METHODS
            and user.is_authenticated
            and (
                user.has_perm("scouting.add_visit") or user.has_perm("scouting.view_interviewguide")
            )
        )


class ScoutingViewSet(CrmViewSet):
    """The CRM API's behaviour, with the services' refusals passed on in their words."""

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, DjangoPermissionDenied):
            exc = exceptions.PermissionDenied(str(exc) or None)
        return super().handle_exception(exc)


# --- Visits --------------------------------------------------------------------------


def _stale_response(visit: Visit, context: Mapping[str, Any]) -> Response:
    return Response(
        {
            "detail": _(
                "This visit has been changed in the meantime (it is now at version "
                "%(version)d). Load it again and re-apply your changes."
            )
            % {"version": visit.version},
            "code": "stale_version",
            "current": VisitSerializer(visit, context=context).data,
        },
        status=status.HTTP_409_CONFLICT,
    )


def _changed_fields(visit: Visit, data: dict[str, Any]) -> dict[str, Any]:
    """The part of ``data`` that differs from the stored visit (relations as sets)."""
    changed = {}
    for name, value in data.items():
        if name in RELATIONS:
            stored = {obj.pk for obj in getattr(visit, name).all()}
            if stored != {obj.pk for obj in value}:
                changed[name] = value
        elif getattr(visit, name) != value:
            changed[name] = value
    return changed


@extend_schema_view(
    update=extend_schema(
        summary="Create or update a visit under its client UUID",
        description=(
            "An unknown UUID creates the visit (201). A stored visit is changed only if the "
            "body carries the version the client last read (200 with the new version); "
            "otherwise the answer is 409 with the stored visit, unless the body matches "
            "what is stored already (a retried request: 200, no new version). "
            "``status: submitted`` submits the visit after saving it."
        ),
        responses={
            200: VisitSerializer,
            201: VisitSerializer,
            409: OpenApiResponse(
                VisitConflictSerializer,
                description="The visit changed since the client read it (or the body carries "
                "no version); ``current`` is the stored visit.",
            ),
        },
    )
)
class VisitViewSet(ScoutingViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    """Company visits the user may see. ``PUT`` stores a visit under the UUID the client
    generated, so that capture works offline and a request sent twice is stored once."""

    serializer_class = VisitSerializer
    filterset_class = VisitFilter
    lookup_field = "uuid"
    lookup_value_regex = UUID_PATTERN

    def get_queryset(self) -> QuerySet[Visit]:
        only_pk = get_user_model().objects.only("pk")
        return (
            Visit.objects.for_user(self.request.user)
            .select_related("organisation")
            .prefetch_related(
                Prefetch("scouts", queryset=only_pk.order_by("pk")),
                Prefetch("people_met", queryset=Person.objects.only("pk").order_by("pk")),
                Prefetch("topics", queryset=Topic.objects.only("pk").order_by("pk")),
            )
        )

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        expected_version = data.pop("version", None)
        wanted_status = data.pop("status", None)
        by = _actor(request)
        key = kwargs[self.lookup_field]
        with transaction.atomic():
            pk = Visit.objects.select_for_update().filter(uuid=key).values_list("pk", flat=True)
            existing = pk.first()
            if existing is None:
                visit, created = record_visit(uuid=key, by=by, **data)
                if created:
                    if wanted_status == Visit.Status.SUBMITTED:
                        submit_visit(visit, by=by)
                    return self._answer(visit, status.HTTP_201_CREATED)
                # Stored by a concurrent request with the same UUID a moment ago.
                existing = visit.pk
            stored = self.get_queryset().filter(pk=existing).first()
            if stored is None:
                raise Http404
            return self._change(stored, data, expected_version, wanted_status)

    def _change(
        self,
        visit: Visit,
        data: dict[str, Any],
        expected_version: int | None,
        wanted_status: str | None,
    ) -> Response:
        by = _actor(self.request)
        if not visit.is_editable_by(by):
            raise exceptions.PermissionDenied(
                _("Only the visit's scouts and network managers may change it.")
            )
        if wanted_status == Visit.Status.DRAFT and not visit.is_draft():
            raise exceptions.ValidationError(
                {"status": [_("A submitted visit cannot be set back to draft.")]}
            )
        changes = _changed_fields(visit, data)
        submit = wanted_status == Visit.Status.SUBMITTED and visit.is_draft()
        if not changes and not submit:
            # Already stored as sent (a retried request): nothing to do, whatever version.
            return self._answer(visit, status.HTTP_200_OK)
        if expected_version != visit.version:
            return _stale_response(visit, self.get_serializer_context())
        try:
            if changes:
                visit = update_visit(visit, expected_version=expected_version, by=by, **changes)
        except StaleVisit:
            visit.refresh_from_db()
            return _stale_response(visit, self.get_serializer_context())
        if submit:
            submit_visit(visit, by=by)
        return self._answer(visit, status.HTTP_200_OK)

    def _answer(self, visit: Visit, code: int) -> Response:
        fresh = self.get_queryset().get(pk=visit.pk)
        return Response(self.get_serializer(fresh).data, status=code)


# --- Follow-ups ----------------------------------------------------------------------


class FollowUpViewSet(
    ScoutingViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin
):
    """Follow-ups (Wiedervorlagen) the user may see. Creating one proposes it; network
    managers assign it, the assignee (or a network manager) completes it."""

    serializer_class = FollowUpSerializer
    filterset_class = FollowUpFilter

    def get_queryset(self) -> QuerySet[FollowUp]:
        return FollowUp.objects.for_user(self.request.user).select_related(
            "visit", "organisation", "person", "assignee"
        )

    def perform_create(self, serializer: Any) -> None:
        serializer.instance = propose_follow_up(
            by=_actor(self.request), **serializer.validated_data
        )

    @extend_schema(
        request=FollowUpAssignmentSerializer,
        responses={200: FollowUpAssignmentResultSerializer},
    )
    @action(detail=False, methods=["post"])
    def assign(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Assign follow-ups to someone, optionally with a due date and priority."""
        if not request.user.has_perm("scouting.change_followup"):
            raise exceptions.PermissionDenied(_("Only network managers may assign follow-ups."))
        form = FollowUpAssignmentSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        ids = set(form.validated_data["ids"])
        follow_ups = list(self.get_queryset().filter(pk__in=ids))
        unknown = sorted(ids - {f.pk for f in follow_ups})
        if unknown:
            raise exceptions.ValidationError(
                {"ids": [_("Unknown follow-ups: %(ids)s") % {"ids": ", ".join(map(str, unknown))}]}
            )
        changed = assign_follow_ups(
            follow_ups,
            assignee=form.validated_data["assignee"],
            due_date=form.validated_data.get("due_date"),
            priority=form.validated_data.get("priority"),
            by=_actor(request),
        )
        fresh = self.get_queryset().filter(pk__in=ids).order_by("pk")
        return Response(
            {"changed": changed, "follow_ups": self.get_serializer(fresh, many=True).data}
        )

    @extend_schema(request=FollowUpCompletionSerializer, responses={200: FollowUpSerializer})
    @action(detail=True, methods=["post"], permission_classes=[MayViewFollowUps])
    def complete(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Mark the follow-up done, with a note on what was done."""
        follow_up = self.get_object()
        form = FollowUpCompletionSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        complete_follow_up(follow_up, note=form.validated_data["note"], by=_actor(request))
        return Response(self.get_serializer(self.get_queryset().get(pk=follow_up.pk)).data)


# --- Interview guides ----------------------------------------------------------------


class InterviewGuideViewSet(ScoutingViewSet, mixins.RetrieveModelMixin):
    """Interview guides with sections and questions, so that a client can render the
    visit form (offline too). Older versions stay readable for the visits that use them."""

    serializer_class = InterviewGuideSerializer
    permission_classes = [MayReadGuides]
    queryset = InterviewGuide.objects.prefetch_related(
        Prefetch(
            "sections",
            queryset=GuideSection.objects.order_by("position", "pk").prefetch_related(
                Prefetch("questions", queryset=GuideQuestion.objects.order_by("position", "pk"))
            ),
        )
    )

    @action(detail=False, methods=["get"])
    def current(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """The guide new visits follow."""
        guide = InterviewGuide.objects.current()
        if guide is None:
            raise exceptions.NotFound(_("No interview guide is active."))
        return Response(self.get_serializer(self.get_queryset().get(pk=guide.pk)).data)
