"""REST API of the transfer pipeline: requests, stages (read), stage changes (read; made
through ``advance`` only), matches, outcomes and partner suggestions.

Thin views as in ``crm.api.views``: serializers check the shape, the services in
``pipeline.services`` do the work, check who may do it and record history.
"""

from __future__ import annotations

import datetime
from typing import Any, ClassVar

import django_filters
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import F, Prefetch, QuerySet
from django.urls import reverse
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.permissions import SAFE_METHODS
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import APIView

from crm.api.filters import MAX_ID, id_filter
from crm.api.permissions import RoleModelPermissions
from crm.api.views import CrmViewSet, _actor
from crm.filters import end_of_day, start_of_day
from crm.models import Municipality, Topic

from .api_serializers import (
    AdvanceSerializer,
    FromVisitSerializer,
    MatchSerializer,
    MatchStatusSerializer,
    OutcomeSerializer,
    RequestConflictSerializer,
    StageChangeSerializer,
    StageConflictSerializer,
    StageSerializer,
    SuggestionSerializer,
    TransferRequestChangeSerializer,
    TransferRequestDetailSerializer,
    TransferRequestSerializer,
)
from .models import Match, Outcome, Stage, StageChange, TransferRequest
from .services import (
    RequestChanged,
    StageChanged,
    advance_request,
    create_request,
    create_request_from_visit,
    propose_match,
    record_outcome,
    set_match_status,
    suggest_partners,
    update_request,
)

MAY_NOT_CREATE = gettext_lazy("You may not create transfer requests.")
MAY_NOT_MOVE = gettext_lazy("Only network managers may move transfer requests.")
MAY_NOT_CHANGE = gettext_lazy("Only network managers may change transfer requests.")
MAY_NOT_MANAGE = gettext_lazy("Only network managers may manage matches and outcomes.")
# What a refused outcome (recorded with a move) names; nested under "outcome" in the answer.
OUTCOME_FIELDS = frozenset(
    {"kind", "date", "partner", "funding_programme", "innovation_introduced"}
)


def _visible_requests(user: Any) -> QuerySet[TransferRequest]:
    return TransferRequest.objects.for_user(user)


def _of_visible_requests(qs: QuerySet, user: Any) -> QuerySet:
    """Records of requests the user may see; no subquery for those who see them all."""
    visible = _visible_requests(user)
    if not visible.query.has_filters():
        return qs
    return qs.filter(request__in=visible.values("pk"))


# --- Filters -------------------------------------------------------------------------


class TransferRequestFilter(django_filters.FilterSet):
    stage = id_filter(gettext_lazy("Stage"), field_name="stage")
    manager = django_filters.CharFilter(
        label=gettext_lazy("Responsible network manager: a user id or “me”"),
        method="filter_manager",
        max_length=20,
    )
    topic = id_filter(
        gettext_lazy("Topic; a parent topic includes its children"), method="filter_topic"
    )
    district = id_filter(
        gettext_lazy("District"), field_name="organisation__municipality__district"
    )
    rural = django_filters.BooleanFilter(
        label=gettext_lazy("Rural (true) or urban (false) municipality of the organisation"),
        method="filter_rural",
    )
    kind = django_filters.ChoiceFilter(
        label=gettext_lazy("Kind"), choices=TransferRequest.Kind.choices
    )
    source = django_filters.ChoiceFilter(
        label=gettext_lazy("Source"), choices=TransferRequest.Source.choices
    )
    organisation = id_filter(gettext_lazy("Requesting organisation"), field_name="organisation")
    created_after = django_filters.DateFilter(
        label=gettext_lazy("Created on or after"), method="filter_created_after"
    )
    created_before = django_filters.DateFilter(
        label=gettext_lazy("Created on or before"), method="filter_created_before"
    )
    open = django_filters.BooleanFilter(
        label=gettext_lazy("Open (true: in an open or paused stage) or closed (false)"),
        method="filter_open",
    )
    stale = django_filters.BooleanFilter(
        label=gettext_lazy("Longer in its stage than the stage's limit"), method="filter_stale"
    )
    o = django_filters.OrderingFilter(
        label=gettext_lazy("Sort by"),
        fields=(
            ("created_at", "created_at"),
            ("stage_entered_at", "stage_entered_at"),
            ("title", "title"),
            ("organisation__name", "organisation"),
        ),
    )

    class Meta:
        model = TransferRequest
        fields: list[str] = []

    def filter_manager(self, qs: QuerySet, name: str, value: str) -> QuerySet:
        if value == "me":
            return qs.filter(responsible_manager_id=self.request.user.pk)  # type: ignore[union-attr]
        if not value.isascii() or not value.isdigit() or not 1 <= int(value) <= MAX_ID:
            raise exceptions.ValidationError({"manager": [_("Give a user id or “me”.")]})
        return qs.filter(responsible_manager_id=int(value))

    def filter_topic(self, qs: QuerySet, name: str, value: Any) -> QuerySet:
        topics = Topic.family_ids(int(value))
        through = TransferRequest.topics.through.objects
        return qs.filter(pk__in=through.filter(topic_id__in=topics).values("transferrequest_id"))

    def filter_rural(self, qs: QuerySet, name: str, value: bool | None) -> QuerySet:
        if value is None:
            return qs
        area = Municipality.AreaType.RURAL if value else Municipality.AreaType.URBAN
        return qs.filter(organisation__municipality__area_type=area)

    def filter_created_after(self, qs: QuerySet, name: str, value: datetime.date) -> QuerySet:
        # Day boundaries in local time instead of ``__date``, which cannot use the index.
        return qs.filter(created_at__gte=start_of_day(value))

    def filter_created_before(self, qs: QuerySet, name: str, value: datetime.date) -> QuerySet:
        return qs.filter(created_at__lt=end_of_day(value))

    def filter_open(self, qs: QuerySet, name: str, value: bool | None) -> QuerySet:
        if value is None:
            return qs
        return qs.filter(stage__kind__in=Stage.OPEN_KINDS if value else Stage.CLOSED_KINDS)

    def filter_stale(self, qs: QuerySet, name: str, value: bool | None) -> QuerySet:
        if value is None:
            return qs
        stale = TransferRequest.objects.stale()
        return qs & stale if value else qs.exclude(pk__in=stale.values("pk"))


class StageFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(label=gettext_lazy("Kind"), choices=Stage.Kind.choices)
    is_active = django_filters.BooleanFilter(label=gettext_lazy("Active"))

    class Meta:
        model = Stage
        fields: list[str] = []


class MatchFilter(django_filters.FilterSet):
    request = id_filter(gettext_lazy("Transfer request"), field_name="request")
    partner = id_filter(gettext_lazy("Research partner"), field_name="partner")
    status = django_filters.ChoiceFilter(label=gettext_lazy("Status"), choices=Match.Status.choices)

    class Meta:
        model = Match
        fields: list[str] = []


class OutcomeFilter(django_filters.FilterSet):
    request = id_filter(gettext_lazy("Transfer request"), field_name="request")
    kind = django_filters.ChoiceFilter(label=gettext_lazy("Kind"), choices=Outcome.Kind.choices)

    class Meta:
        model = Outcome
        fields: list[str] = []


# --- Permissions ---------------------------------------------------------------------


class PipelinePermissions(RoleModelPermissions):
    """Role model permissions; a refused write says why, in the view's words for the
    action (``refusals``)."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        if super().has_permission(request, view):
            return True
        if request.user.is_authenticated and request.method not in SAFE_METHODS:
            refusal = getattr(view, "refusals", {}).get(getattr(view, "action", None))
            if refusal:
                self.message = str(refusal)
        return False


class MayChange(PipelinePermissions):
    """For actions that change a record with POST (moving a request, a match's status)."""

    perms_map = {
        **RoleModelPermissions.perms_map,
        "POST": ["%(app_label)s.change_%(model_name)s"],
    }


class PipelineViewSet(CrmViewSet):
    """The CRM API's behaviour, with the services' refusals passed on in their words."""

    permission_classes = [PipelinePermissions]
    refusals: ClassVar[dict[str, Promise]] = {}

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, DjangoPermissionDenied):
            exc = exceptions.PermissionDenied(str(exc) or None)
        return super().handle_exception(exc)


class SuggestionQuerySerializer(serializers.Serializer):
    limit = serializers.IntegerField(
        min_value=1, max_value=50, default=10, help_text=gettext_lazy("How many partners.")
    )


# --- Stages --------------------------------------------------------------------------


class StageViewSet(PipelineViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    """The pipeline's stages in order; administration maintains them in the admin."""

    queryset = Stage.objects.order_by("position", "pk")
    serializer_class = StageSerializer
    filterset_class = StageFilter


# --- Transfer requests ---------------------------------------------------------------


@extend_schema_view(
    create=extend_schema(
        summary="Create a transfer request",
        description=(
            "The request starts in the first open stage. To make one from a company "
            "visit (linked, with its organisation, person, topics and needs), use "
            "``from-visit``."
        ),
        request=TransferRequestSerializer,
        responses={201: TransferRequestDetailSerializer},
    ),
    partial_update=extend_schema(
        summary="Change a transfer request's own fields",
        description=(
            "Network managers correct title, description, topics, kind, contact person, "
            "responsible network manager, priority and expected volume; only the fields "
            "sent change (``topics`` replaces the list), and the change is recorded in "
            "the request's history with the acting user. The contact person must work at "
            "the requesting organisation. ``stage`` is refused: a request changes stage "
            "only through ``advance``. ``organisation``, ``source`` and ``visit`` stay as "
            "created and are refused too. There is no ``PUT``. Send the ``updated_at`` "
            "the client read: if the request was changed or moved since, nothing changes "
            "and the answer is 409 with the current request (without it, the last change "
            "wins)."
        ),
        request=TransferRequestChangeSerializer,
        responses={
            200: TransferRequestDetailSerializer,
            400: OpenApiResponse(
                description="Bad input, or a field that cannot be changed here (each "
                "named with the reason); nothing was changed."
            ),
            409: OpenApiResponse(
                RequestConflictSerializer,
                description="The request was changed since ``updated_at``; nothing was "
                "changed and ``current`` is the request as it is now.",
            ),
        },
    ),
)
class TransferRequestViewSet(
    PipelineViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin
):
    """Transfer requests the user may see. Network managers change a request's own
    fields with ``PATCH``; its stage changes only through ``advance``."""

    filterset_class = TransferRequestFilter
    refusals = {
        "create": MAY_NOT_CREATE,
        "from_visit": MAY_NOT_CREATE,
        "advance": MAY_NOT_MOVE,
        "partial_update": MAY_NOT_CHANGE,
    }

    def get_queryset(self) -> QuerySet[TransferRequest]:
        return (
            _visible_requests(self.request.user)
            .select_related(
                "organisation", "contact_person", "responsible_manager", "stage", "created_by"
            )
            .annotate(visit_uuid=F("visit__uuid"))
            .prefetch_related(Prefetch("topics", queryset=Topic.objects.only("pk").order_by("pk")))
        )

    def get_serializer_class(self) -> type[serializers.BaseSerializer]:
        if self.action == "list":
            return TransferRequestSerializer
        if self.action == "partial_update":
            return TransferRequestChangeSerializer
        return TransferRequestDetailSerializer

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        form = TransferRequestSerializer(data=request.data, context=self.get_serializer_context())
        form.is_valid(raise_exception=True)
        data = dict(form.validated_data)
        created = create_request(by=_actor(request), **data)
        return self._answer(created, status.HTTP_201_CREATED)

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        transfer_request = self.get_object()
        context = {
            **self.get_serializer_context(),
            "advance_url": reverse("api:transfer-request-advance", args=[transfer_request.pk]),
        }
        form = TransferRequestChangeSerializer(data=request.data, partial=True, context=context)
        form.is_valid(raise_exception=True)
        data = dict(form.validated_data)
        topics = data.pop("topics", None)
        read_at = data.pop("updated_at", None)
        if data or topics is not None:
            try:
                update_request(
                    transfer_request,
                    by=_actor(request),
                    topics=topics,
                    expected_updated_at=read_at,
                    **data,
                )
            except RequestChanged as error:
                current = self.get_queryset().get(pk=transfer_request.pk)
                return Response(
                    {
                        "detail": error.messages[0],
                        "code": "request_changed",
                        "current": TransferRequestDetailSerializer(current, context=context).data,
                    },
                    status=status.HTTP_409_CONFLICT,
                )
        return self._answer(transfer_request, status.HTTP_200_OK)

    @extend_schema(
        summary="Create a transfer request from a company visit",
        request=FromVisitSerializer,
        responses={201: TransferRequestDetailSerializer},
    )
    @action(detail=False, methods=["post"], url_path="from-visit")
    def from_visit(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """The visit's organisation, first person met, topics, needs and summary are
        carried over; the optional fields replace what would be derived."""
        form = FromVisitSerializer(data=request.data, context=self.get_serializer_context())
        form.is_valid(raise_exception=True)
        data = dict(form.validated_data)
        visit = data.pop("visit")
        created = create_request_from_visit(visit, by=_actor(request), **data)
        return self._answer(created, status.HTTP_201_CREATED)

    @extend_schema(
        summary="Move a transfer request to another stage",
        request=AdvanceSerializer,
        responses={
            200: TransferRequestDetailSerializer,
            409: OpenApiResponse(
                StageConflictSerializer,
                description="The request is no longer in ``expected_stage``; nothing was "
                "changed and ``current_stage`` is where it is now.",
            ),
        },
    )
    @action(detail=True, methods=["post"], permission_classes=[MayChange])
    def advance(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """The only way a request changes stage: checks the move and what the target
        stage requires, which may be supplied in the same call, and records a stage
        change (who, when, note)."""
        transfer_request = self.get_object()
        form = AdvanceSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = dict(form.validated_data)
        to = data.pop("to")
        try:
            advance_request(transfer_request, to=to, by=_actor(request), **data)
        except StageChanged as error:
            return Response(
                {
                    "detail": error.messages[0],
                    "code": "stage_changed",
                    "current_stage": StageSerializer(error.current).data,
                },
                status=status.HTTP_409_CONFLICT,
            )
        except DjangoValidationError as error:
            fields = set(getattr(error, "error_dict", ()))
            if "outcome" in data and fields and fields <= OUTCOME_FIELDS:
                raise exceptions.ValidationError({"outcome": as_serializer_error(error)}) from error
            raise
        return self._answer(transfer_request, status.HTTP_200_OK)

    @extend_schema(
        summary="The stage history of a transfer request",
        responses={200: StageChangeSerializer(many=True)},
    )
    @action(
        detail=True,
        methods=["get"],
        url_path="stage-changes",
        filter_backends=[],
        pagination_class=None,
    )
    def stage_changes(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Every move of the request, oldest first (the first is its creation)."""
        transfer_request = self.get_object()
        changes = (
            StageChange.objects.filter(request=transfer_request)
            .select_related("from_stage", "to_stage", "changed_by")
            .order_by("changed_at", "pk")
        )
        return Response(StageChangeSerializer(changes, many=True).data)

    @extend_schema(
        summary="Research partners suggested for a transfer request",
        parameters=[SuggestionQuerySerializer],
        responses={200: SuggestionSerializer(many=True)},
    )
    @action(detail=True, methods=["get"], filter_backends=[], pagination_class=None)
    def suggestions(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Candidates best first, ranked by shared topics, nearness and past successful
        cooperations, each with its score parts and the reason in words. Partners
        already proposed are left out."""
        transfer_request = self.get_object()
        query = SuggestionQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        ranked = suggest_partners(transfer_request, limit=query.validated_data["limit"])
        return Response(SuggestionSerializer(ranked, many=True).data)

    def _answer(self, transfer_request: TransferRequest, code: int) -> Response:
        fresh = self.get_queryset().get(pk=transfer_request.pk)
        serializer = TransferRequestDetailSerializer(fresh, context=self.get_serializer_context())
        return Response(serializer.data, status=code)


# --- Matches and outcomes ------------------------------------------------------------


class MatchViewSet(
    PipelineViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin
):
    """Research partners proposed for the requests the user may see. Creating one
    proposes the partner; its status changes through ``status``."""

    serializer_class = MatchSerializer
    filterset_class = MatchFilter
    refusals = {"create": MAY_NOT_MANAGE, "status": MAY_NOT_MANAGE}

    def get_queryset(self) -> QuerySet[Match]:
        return _of_visible_requests(
            Match.objects.select_related("partner", "person", "created_by"), self.request.user
        )

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        form = self.get_serializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = dict(form.validated_data)
        match = propose_match(data.pop("request"), by=_actor(request), **data)
        fresh = self.get_queryset().get(pk=match.pk)
        return Response(self.get_serializer(fresh).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Record contacting the partner or their decision",
        request=MatchStatusSerializer,
        responses={200: MatchSerializer},
    )
    @action(detail=True, methods=["post"], permission_classes=[MayChange])
    def status(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """A decided match may change its decision (accepted ↔ declined) but not go back
        to contacted."""
        match = self.get_object()
        form = MatchStatusSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        set_match_status(match, by=_actor(request), **form.validated_data)
        fresh = self.get_queryset().get(pk=match.pk)
        return Response(self.get_serializer(fresh).data)


class OutcomeViewSet(
    PipelineViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin
):
    """What came of the requests the user may see; counted for the funders' indicators."""

    serializer_class = OutcomeSerializer
    filterset_class = OutcomeFilter
    refusals = {"create": MAY_NOT_MANAGE}

    def get_queryset(self) -> QuerySet[Outcome]:
        return _of_visible_requests(
            Outcome.objects.select_related("partner", "created_by"), self.request.user
        )

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        form = self.get_serializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = dict(form.validated_data)
        outcome = record_outcome(data.pop("request"), by=_actor(request), **data)
        fresh = self.get_queryset().get(pk=outcome.pk)
        return Response(self.get_serializer(fresh).data, status=status.HTTP_201_CREATED)
