"""API representations of the transfer pipeline: shape checks only.

The views in ``pipeline.api`` write through ``pipeline.services``; the services and
the models' own validation check what only the data can tell (who works where,
which stage a request may enter, what it needs to enter it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from crm.filters import managers
from crm.models import Organisation, Person, Topic, acting_user_label
from scouting.models import Visit

from .models import Match, Outcome, Stage, StageChange, TransferRequest
from .services import Suggestion, time_in_stages


def _user_label(user: Any) -> str:
    return acting_user_label(user) if user is not None else ""


def _limit_to_visible(field: serializers.Field, queryset: QuerySet) -> None:
    # What the user may not see is "not found", not "forbidden".
    field.queryset = queryset  # type: ignore[attr-defined]


# --- Stages --------------------------------------------------------------------------


class StageSerializer(serializers.ModelSerializer[Stage]):
    requirement_labels = serializers.ListField(
        child=serializers.CharField(),
        read_only=True,
        help_text=_("What a request needs to enter the stage, in words."),
    )

    class Meta:
        model = Stage
        fields = [
            "id",
            "key",
            "name",
            "name_en",
            "position",
            "kind",
            "required_fields",
            "requirement_labels",
            "max_days",
            "is_active",
        ]
        read_only_fields = fields


class TimeInStageSerializer(serializers.Serializer):
    stage = serializers.IntegerField(source="stage.pk")
    stage_name = serializers.CharField(source="stage.name")
    seconds = serializers.IntegerField(help_text=_("Time spent in the stage, in seconds."))
    days = serializers.IntegerField(help_text=_("Whole days spent in the stage."))


# --- Transfer requests ---------------------------------------------------------------


class TransferRequestSerializer(serializers.ModelSerializer[TransferRequest]):
    """A request as listed and created; its stage changes only through ``advance``."""

    organisation = serializers.PrimaryKeyRelatedField(queryset=Organisation.objects.all())
    organisation_name = serializers.CharField(source="organisation.name", read_only=True)
    contact_person = serializers.PrimaryKeyRelatedField(
        queryset=Person.objects.all(), required=False, allow_null=True
    )
    contact_person_name = serializers.CharField(
        source="contact_person.full_name", read_only=True, default=""
    )
    topics = serializers.PrimaryKeyRelatedField(
        many=True, queryset=Topic.objects.all(), required=False
    )
    responsible_manager = serializers.PrimaryKeyRelatedField(
        queryset=managers(),
        required=False,
        allow_null=True,
        help_text=_(
            "User id of an active network manager; the organisation's responsible manager "
            "if left out."
        ),
    )
    responsible_manager_name = serializers.SerializerMethodField()
    visit = serializers.UUIDField(
        source="visit_uuid",
        read_only=True,
        allow_null=True,
        help_text=_("The visit the request comes from (create it with “from-visit”)."),
    )
    stage = StageSerializer(read_only=True)
    is_stale = serializers.SerializerMethodField()
    days_in_stage = serializers.SerializerMethodField()
    note = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        default="",
        help_text=_("A note on the first stage change."),
    )
    created_by_name = serializers.SerializerMethodField()

    class Meta:
        model = TransferRequest
        fields = [
            "id",
            "organisation",
            "organisation_name",
            "contact_person",
            "contact_person_name",
            "title",
            "description",
            "topics",
            "kind",
            "source",
            "visit",
            "responsible_manager",
            "responsible_manager_name",
            "priority",
            "expected_volume",
            "stage",
            "stage_entered_at",
            "days_in_stage",
            "is_stale",
            "closing_reason",
            "note",
            "created_by",
            "created_by_name",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "stage_entered_at",
            "closing_reason",
            "created_by",
            "created_at",
            "updated_at",
        ]

    def get_responsible_manager_name(self, obj: TransferRequest) -> str:
        return _user_label(obj.responsible_manager)

    def get_created_by_name(self, obj: TransferRequest) -> str:
        return _user_label(obj.created_by)

    def get_is_stale(self, obj: TransferRequest) -> bool:
        return obj.is_stale()

    def get_days_in_stage(self, obj: TransferRequest) -> int:
        return obj.time_in_stage().days


class TransferRequestDetailSerializer(TransferRequestSerializer):
    time_in_stages = serializers.SerializerMethodField(
        help_text=_("Time spent in each stage, in the order first entered; summed if re-entered.")
    )

    class Meta(TransferRequestSerializer.Meta):
        fields = [*TransferRequestSerializer.Meta.fields, "time_in_stages"]

    @extend_schema_field(TimeInStageSerializer(many=True))
    def get_time_in_stages(self, obj: TransferRequest) -> list[dict[str, Any]]:
        rows = [
            {"stage": stage, "seconds": int(span.total_seconds()), "days": span.days}
            for stage, span in time_in_stages(obj)
        ]
        return TimeInStageSerializer(rows, many=True).data  # type: ignore[return-value]


# What a change of a request refuses to take, and why: the stage moves only through
# ``advance``; where a request comes from stays as created.
FIXED_ON_CHANGE = {
    "stage": _(
        "The stage cannot be changed here. Move the request with POST to %(advance_url)s "
        "(it checks what the new stage requires and records the move)."
    ),
    "organisation": _("The requesting organisation stays as created."),
    "source": _("The source stays as created."),
    "visit": _("The visit stays as created."),
}


class TransferRequestChangeSerializer(serializers.ModelSerializer[TransferRequest]):
    """A change of a request's own fields (PATCH): only the fields sent are changed."""

    contact_person = serializers.PrimaryKeyRelatedField(
        queryset=Person.objects.all(),
        required=False,
        allow_null=True,
        help_text=_("A person working at the requesting organisation, or null."),
    )
    topics = serializers.PrimaryKeyRelatedField(
        many=True,
        queryset=Topic.objects.all(),
        required=False,
        help_text=_("Replaces the request's topics."),
    )
    responsible_manager = serializers.PrimaryKeyRelatedField(
        queryset=managers(),
        required=False,
        allow_null=True,
        help_text=_("User id of an active network manager, or null."),
    )
    updated_at = serializers.DateTimeField(
        required=False,
        write_only=True,
        help_text=_(
            "The request's updated_at as the client last read it. If the request has been "
            "changed or moved since, nothing changes and the answer is 409 with the "
            "current request. Without it, the last change wins."
        ),
    )

    class Meta:
        model = TransferRequest
        fields = [
            "title",
            "description",
            "topics",
            "kind",
            "contact_person",
            "responsible_manager",
            "priority",
            "expected_volume",
            "updated_at",
        ]

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        """Refuses the fixed fields by name, together with any other error."""
        sent = data if isinstance(data, Mapping) else {}
        url = self.context.get("advance_url", "…/advance/")
        refused = {
            name: [str(message) % {"advance_url": url}]
            for name, message in FIXED_ON_CHANGE.items()
            if name in sent
        }
        try:
            values = super().to_internal_value(data)
        except serializers.ValidationError as error:
            if refused and isinstance(error.detail, dict):
                raise serializers.ValidationError({**error.detail, **refused}) from error
            raise
        if refused:
            raise serializers.ValidationError(refused)
        return values


class RequestConflictSerializer(serializers.Serializer):
    """The body of a 409 answer: the request was changed since the client read it."""

    detail = serializers.CharField()
    code = serializers.CharField()
    current = TransferRequestDetailSerializer()


class FromVisitSerializer(serializers.Serializer):
    """A request made from a visit: organisation, first person met, topics and needs
    are carried over; the optional fields replace what would be derived."""

    visit = serializers.SlugRelatedField(
        slug_field="uuid",
        queryset=Visit.objects.none(),
        help_text=_("The UUID of the visit."),
    )
    title = serializers.CharField(max_length=200, required=False)
    kind = serializers.ChoiceField(choices=TransferRequest.Kind.choices, required=False)
    priority = serializers.ChoiceField(choices=TransferRequest.Priority.choices, required=False)
    responsible_manager = serializers.PrimaryKeyRelatedField(
        queryset=managers(), required=False, allow_null=True
    )
    expected_volume = serializers.DecimalField(
        max_digits=12, decimal_places=2, min_value=0, required=False, allow_null=True
    )
    note = serializers.CharField(required=False, allow_blank=True)

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        request = self.context.get("request")
        if request is not None:
            _limit_to_visible(fields["visit"], Visit.objects.for_user(request.user))
        return fields


class OutcomeInputSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=Outcome.Kind.choices)
    date = serializers.DateField(required=False, help_text=_("Today if left out."))
    partner = serializers.PrimaryKeyRelatedField(
        queryset=Organisation.objects.all(), required=False, allow_null=True
    )
    funding_programme = serializers.CharField(
        max_length=120,
        required=False,
        allow_blank=True,
        help_text=_("For funding applications, e.g. ZIM, innovation voucher, EFRE."),
    )
    innovation_introduced = serializers.BooleanField(
        required=False,
        default=False,
        help_text=Outcome._meta.get_field("innovation_introduced").help_text,
    )
    note = serializers.CharField(required=False, allow_blank=True)


class AdvanceSerializer(serializers.Serializer):
    """Move a request to another stage, supplying what that stage requires."""

    to = serializers.PrimaryKeyRelatedField(
        queryset=Stage.objects.all(), help_text=_("The id of the stage to move to.")
    )
    expected_stage = serializers.PrimaryKeyRelatedField(
        queryset=Stage.objects.all(),
        required=False,
        allow_null=True,
        help_text=_(
            "The id of the stage the client last saw the request in. If someone has moved "
            "it since, nothing changes and the answer is 409 with the current stage. "
            "Recommended for every client that shows a stage before moving."
        ),
    )
    note = serializers.CharField(required=False, allow_blank=True, default="")
    closing_reason = serializers.CharField(required=False, allow_blank=True)
    expected_volume = serializers.DecimalField(
        max_digits=12, decimal_places=2, min_value=0, required=False, allow_null=True
    )
    contact_person = serializers.PrimaryKeyRelatedField(
        queryset=Person.objects.all(), required=False, allow_null=True
    )
    responsible_manager = serializers.PrimaryKeyRelatedField(
        queryset=managers(), required=False, allow_null=True
    )
    outcome = OutcomeInputSerializer(
        required=False, help_text=_("Recorded with the move, e.g. for a won stage.")
    )


class StageConflictSerializer(serializers.Serializer):
    """The body of a 409 answer: the request was moved since the client read it."""

    detail = serializers.CharField()
    code = serializers.CharField()
    current_stage = StageSerializer()


class StageChangeSerializer(serializers.ModelSerializer[StageChange]):
    from_stage_name = serializers.CharField(source="from_stage.name", read_only=True, default="")
    to_stage_name = serializers.CharField(source="to_stage.name", read_only=True)
    changed_by_name = serializers.SerializerMethodField()

    class Meta:
        model = StageChange
        fields = [
            "id",
            "from_stage",
            "from_stage_name",
            "to_stage",
            "to_stage_name",
            "changed_at",
            "changed_by",
            "changed_by_name",
            "note",
        ]
        read_only_fields = fields

    def get_changed_by_name(self, obj: StageChange) -> str:
        return _user_label(obj.changed_by)


class SuggestionSerializer(serializers.Serializer):
    partner = serializers.IntegerField(source="partner.pk")
    partner_name = serializers.CharField(source="partner.name")
    score = serializers.FloatField()
    topic_score = serializers.FloatField()
    distance_score = serializers.FloatField()
    cooperation_score = serializers.FloatField()
    shared_topics = serializers.SerializerMethodField()
    related_topics = serializers.SerializerMethodField()
    distance_km = serializers.FloatField(allow_null=True)
    cooperations = serializers.IntegerField(help_text=_("Past successful cooperations."))
    reason = serializers.CharField(help_text=_("Why the partner is suggested, in words."))

    def get_shared_topics(self, obj: Suggestion) -> list[int]:
        return [t.pk for t in obj.shared_topics]

    def get_related_topics(self, obj: Suggestion) -> list[int]:
        return [t.pk for t in obj.related_topics]


# --- Matches and outcomes ------------------------------------------------------------


class _OfVisibleRequest(serializers.ModelSerializer):
    """A record of a request: only requests the user may see can be named."""

    request = serializers.PrimaryKeyRelatedField(
        queryset=TransferRequest.objects.none(), help_text=_("The id of the transfer request.")
    )

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        request = self.context.get("request")
        if request is not None:
            _limit_to_visible(fields["request"], TransferRequest.objects.for_user(request.user))
        return fields


class MatchSerializer(_OfVisibleRequest):
    partner = serializers.PrimaryKeyRelatedField(queryset=Organisation.objects.all())
    partner_name = serializers.CharField(source="partner.name", read_only=True)
    person = serializers.PrimaryKeyRelatedField(
        queryset=Person.objects.all(), required=False, allow_null=True
    )
    person_name = serializers.CharField(source="person.full_name", read_only=True, default="")
    created_by_name = serializers.SerializerMethodField()

    class Meta:
        model = Match
        fields = [
            "id",
            "request",
            "partner",
            "partner_name",
            "person",
            "person_name",
            "status",
            "proposed_at",
            "contacted_at",
            "decided_at",
            "note",
            "created_by",
            "created_by_name",
        ]
        # Proposing names the partner; the status changes through its own action.
        read_only_fields = [
            "status",
            "proposed_at",
            "contacted_at",
            "decided_at",
            "created_by",
        ]
        # The service answers "already proposed" in its own words.
        validators: list = []

    def get_created_by_name(self, obj: Match) -> str:
        return _user_label(obj.created_by)


class MatchStatusSerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=[c for c in Match.Status.choices if c[0] != Match.Status.PROPOSED]
    )
    note = serializers.CharField(
        required=False, allow_blank=True, help_text=_("Replaces the match's note if given.")
    )


class OutcomeSerializer(_OfVisibleRequest):
    partner = serializers.PrimaryKeyRelatedField(
        queryset=Organisation.objects.all(), required=False, allow_null=True
    )
    partner_name = serializers.CharField(source="partner.name", read_only=True, default="")
    date = serializers.DateField(required=False, help_text=_("Today if left out."))
    created_by_name = serializers.SerializerMethodField()

    class Meta:
        model = Outcome
        fields = [
            "id",
            "request",
            "kind",
            "funding_programme",
            "date",
            "partner",
            "partner_name",
            "innovation_introduced",
            "note",
            "created_by",
            "created_by_name",
            "created_at",
        ]
        read_only_fields = ["created_by", "created_at"]

    def get_created_by_name(self, obj: Outcome) -> str:
        return _user_label(obj.created_by)
