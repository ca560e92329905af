"""API representations of visits, follow-ups and interview guides: shape checks only.

The views in ``scouting.api`` save through ``scouting.services``; the model's own
validation (``full_clean``) checks what only the data can tell (answers against the
guide, a follow-up's subject).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from crm.api.filters import MAX_ID
from crm.models import Organisation, Person, Topic, acting_user_label
from crm.roles import Role

from .models import FollowUp, GuideQuestion, GuideSection, InterviewGuide, Need, Visit


def _users_with(*roles: Role) -> QuerySet:
    # Deactivated users stay valid ids so that a stored visit can be sent back unchanged;
    # the services refuse to give new work to them.
    return (
        get_user_model()
        .objects.filter(groups__name__in=[r.group_name for r in roles])
        .distinct()
        .order_by("pk")
    )


def _check_json_value(value: Any) -> None:
    """PostgreSQL cannot store NUL characters in JSON (a 500 instead of a 400)."""
    if isinstance(value, str) and "\x00" in value:
        raise serializers.ValidationError(_("Null characters are not allowed."))
    if isinstance(value, dict):
        for key, item in value.items():
            _check_json_value(key)
            _check_json_value(item)
    elif isinstance(value, list):
        for item in value:
            _check_json_value(item)


# --- Visits --------------------------------------------------------------------------


class VisitSerializer(serializers.ModelSerializer[Visit]):
    organisation = serializers.PrimaryKeyRelatedField(queryset=Organisation.objects.all())
    organisation_name = serializers.CharField(source="organisation.name", read_only=True)
    scouts = serializers.PrimaryKeyRelatedField(
        many=True,
        queryset=_users_with(Role.SCOUT, Role.NETWORK_MANAGER),
        required=False,
        help_text=_("User ids; the recording user if left out when the visit is created."),
    )
    people_met = serializers.PrimaryKeyRelatedField(
        many=True, queryset=Person.objects.all(), required=False
    )
    topics = serializers.PrimaryKeyRelatedField(
        many=True, queryset=Topic.objects.all(), required=False
    )
    needs = serializers.ListField(
        child=serializers.ChoiceField(choices=Need.choices), required=False, max_length=len(Need)
    )
    answers = serializers.DictField(
        child=serializers.JSONField(),
        required=False,
        help_text=_("Answers by question key of the visit's interview guide."),
    )
    guide_version = serializers.PrimaryKeyRelatedField(
        queryset=InterviewGuide.objects.all(),
        required=False,
        allow_null=True,
        help_text=_("The interview guide answered; the current one if left out on creation."),
    )
    version = serializers.IntegerField(
        min_value=1,
        max_value=MAX_ID,
        required=False,
        help_text=_(
            "The version the client last read; required to change a stored visit "
            "(a different one is answered with 409)."
        ),
    )
    status = serializers.ChoiceField(
        choices=Visit.Status.choices,
        required=False,
        help_text=_("Send “submitted” to submit the visit; a submitted visit stays submitted."),
    )

    class Meta:
        model = Visit
        fields = [
            "uuid",
            "version",
            "organisation",
            "organisation_name",
            "visited_at",
            "scouts",
            "people_met",
            "format",
            "purpose",
            "topics",
            "needs",
            "green_skills_interest",
            "summary",
            "is_confidential",
            "status",
            "submitted_at",
            "guide_version",
            "answers",
            "created_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["uuid", "submitted_at", "created_by", "created_at", "updated_at"]

    def validate_answers(self, value: dict[str, Any]) -> dict[str, Any]:
        _check_json_value(value)
        return value


class VisitConflictSerializer(serializers.Serializer):
    """The body of a 409 answer: the visit changed since the client read it."""

    detail = serializers.CharField()
    code = serializers.CharField()
    current = VisitSerializer()


# --- Follow-ups ----------------------------------------------------------------------


class FollowUpSerializer(serializers.ModelSerializer[FollowUp]):
    visit = serializers.SlugRelatedField(
        slug_field="uuid",
        queryset=Visit.objects.none(),
        required=False,
        allow_null=True,
        help_text=_("The UUID of the visit the follow-up comes from."),
    )
    organisation_name = serializers.CharField(
        source="organisation.name", read_only=True, default=""
    )
    person_name = serializers.CharField(source="person.full_name", read_only=True, default="")
    assignee_name = serializers.SerializerMethodField()
    is_overdue = serializers.SerializerMethodField()

    class Meta:
        model = FollowUp
        fields = [
            "id",
            "title",
            "description",
            "visit",
            "organisation",
            "organisation_name",
            "person",
            "person_name",
            "rule",
            "assignee",
            "assignee_name",
            "due_date",
            "priority",
            "status",
            "is_overdue",
            "assigned_by",
            "assigned_at",
            "completion_note",
            "completed_at",
            "created_by",
            "created_at",
        ]
        # Proposing sets what is to be done; assigning and completing are their own actions.
        read_only_fields = [
            "rule",
            "assignee",
            "status",
            "assigned_by",
            "assigned_at",
            "completion_note",
            "completed_at",
            "created_by",
            "created_at",
        ]
        # The one-per-visit-and-rule constraint concerns rule-raised follow-ups only, which
        # clients cannot create; DRF would otherwise make ``visit`` required.
        validators: list = []

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        request = self.context.get("request")
        if request is not None:
            # A visit the user may not see is "not found", not "forbidden".
            visit = fields["visit"]
            visit.queryset = Visit.objects.for_user(request.user)  # type: ignore[attr-defined]
        return fields

    def get_assignee_name(self, obj: FollowUp) -> str:
        return acting_user_label(obj.assignee) if obj.assignee else ""

    def get_is_overdue(self, obj: FollowUp) -> bool:
        return obj.is_overdue()


class FollowUpAssignmentSerializer(serializers.Serializer):
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID),
        allow_empty=False,
        max_length=500,
        help_text=_("The follow-ups to assign."),
    )
    assignee = serializers.PrimaryKeyRelatedField(
        queryset=_users_with(Role.SCOUT, Role.NETWORK_MANAGER, Role.ADMINISTRATION)
    )
    due_date = serializers.DateField(required=False)
    priority = serializers.ChoiceField(choices=FollowUp.Priority.choices, required=False)


class FollowUpAssignmentResultSerializer(serializers.Serializer):
    changed = serializers.IntegerField(help_text=_("How many follow-ups changed."))
    follow_ups = FollowUpSerializer(many=True)


class FollowUpCompletionSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, default="")


# --- Interview guides ----------------------------------------------------------------


class GuideQuestionSerializer(serializers.ModelSerializer[GuideQuestion]):
    class Meta:
        model = GuideQuestion
        fields = ["key", "text", "kind", "choices", "position"]


class GuideSectionSerializer(serializers.ModelSerializer[GuideSection]):
    questions = GuideQuestionSerializer(many=True, read_only=True)

    class Meta:
        model = GuideSection
        fields = ["id", "title", "position", "questions"]


class InterviewGuideSerializer(serializers.ModelSerializer[InterviewGuide]):
    sections = GuideSectionSerializer(many=True, read_only=True)

    class Meta:
        model = InterviewGuide
        fields = ["id", "name", "version", "is_active", "created_at", "sections"]
