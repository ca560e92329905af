"""API representations: shape checks only; the views save through services.

Relations are written as ids (``municipality``, ``offered_topics``) and read
back in full where a client needs more than the id (``municipality_detail``).
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.authtoken.models import Token

from crm.filters import managers
from crm.models import (
    Affiliation,
    ConsentRecord,
    District,
    Municipality,
    Note,
    Organisation,
    Person,
    SizeClass,
    Topic,
    acting_user_label,
)

# --- Regions and topics --------------------------------------------------------------


class DistrictSerializer(serializers.ModelSerializer[District]):
    class Meta:
        model = District
        fields = ["id", "key", "name", "kind"]


class MunicipalitySerializer(serializers.ModelSerializer[Municipality]):
    district_detail = DistrictSerializer(source="district", read_only=True)

    class Meta:
        model = Municipality
        fields = [
            "id",
            "ags",
            "name",
            "district",
            "district_detail",
            "latitude",
            "longitude",
            "population",
            "area_type",
            "postal_codes",
        ]


class TopicSerializer(serializers.ModelSerializer[Topic]):
    class Meta:
        model = Topic
        fields = ["id", "slug", "name", "name_en", "parent", "position"]


# --- Organisations and people --------------------------------------------------------


class DuplicateCandidateSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    reasons = serializers.ListField(child=serializers.CharField())


class DuplicateConflictSerializer(serializers.Serializer):
    """The body of a 409 answer: the record looks like one that already exists."""

    detail = serializers.CharField()
    code = serializers.CharField()
    duplicates = DuplicateCandidateSerializer(many=True)


_CONFIRM_HELP = _(
    "Set to true to create the record although likely duplicates exist "
    "(the answer without it is 409 with the candidates)."
)


class OrganisationSerializer(serializers.ModelSerializer[Organisation]):
    size_class = serializers.ChoiceField(
        choices=SizeClass.choices,
        allow_blank=True,
        read_only=True,
        help_text=_("Derived from the number of employees; empty when that is unknown."),
    )
    municipality_detail = MunicipalitySerializer(
        source="municipality", read_only=True, allow_null=True
    )
    responsible_manager = serializers.PrimaryKeyRelatedField(
        queryset=managers(), allow_null=True, required=False
    )
    responsible_manager_name = serializers.SerializerMethodField()
    confirm_not_duplicate = serializers.BooleanField(
        write_only=True, required=False, default=False, help_text=_CONFIRM_HELP
    )

    class Meta:
        model = Organisation
        fields = [
            "id",
            "kind",
            "name",
            "legal_form",
            "employees",
            "size_class",
            "sector",
            "founding_year",
            "street",
            "postal_code",
            "city",
            "municipality",
            "municipality_detail",
            "website",
            "email",
            "phone",
            "register_number",
            "external_id",
            "responsible_manager",
            "responsible_manager_name",
            "status",
            "directory_consent",
            "offered_topics",
            "needed_topics",
            "created_at",
            "updated_at",
            "confirm_not_duplicate",
        ]
        read_only_fields = ["created_at", "updated_at"]

    def get_responsible_manager_name(self, obj: Organisation) -> str:
        return acting_user_label(obj.responsible_manager) if obj.responsible_manager else ""


class AffiliationSerializer(serializers.ModelSerializer[Affiliation]):
    person_name = serializers.CharField(source="person.full_name", read_only=True)
    organisation_name = serializers.CharField(source="organisation.name", read_only=True)
    is_current = serializers.SerializerMethodField()

    class Meta:
        model = Affiliation
        fields = [
            "id",
            "person",
            "person_name",
            "organisation",
            "organisation_name",
            "function",
            "department",
            "email",
            "phone",
            "valid_from",
            "valid_until",
            "is_primary",
            "is_current",
        ]
        # One primary affiliation per person is kept by the service, which demotes the old one.
        validators: list = []

    def get_is_current(self, obj: Affiliation) -> bool:
        return obj.is_current()


class ConsentRecordSerializer(serializers.ModelSerializer[ConsentRecord]):
    recorded_by_name = serializers.SerializerMethodField()
    is_effective = serializers.SerializerMethodField()

    class Meta:
        model = ConsentRecord
        fields = [
            "id",
            "person",
            "purpose",
            "lawful_basis",
            "given_at",
            "source",
            "withdrawn_at",
            "is_effective",
            "recorded_by",
            "recorded_by_name",
        ]
        read_only_fields = ["withdrawn_at", "recorded_by"]

    def get_recorded_by_name(self, obj: ConsentRecord) -> str:
        return acting_user_label(obj.recorded_by) if obj.recorded_by else ""

    def get_is_effective(self, obj: ConsentRecord) -> bool:
        return obj.is_effective()


class ConsentWithdrawalSerializer(serializers.Serializer):
    withdrawn_at = serializers.DateTimeField(
        required=False, help_text=_("When the consent was withdrawn; now if omitted.")
    )


class NoteSerializer(serializers.ModelSerializer[Note]):
    author_name = serializers.SerializerMethodField()

    class Meta:
        model = Note
        fields = ["id", "text", "author", "author_name", "created_at"]
        read_only_fields = fields

    def get_author_name(self, obj: Note) -> str:
        return acting_user_label(obj.author) if obj.author else ""


class PersonSerializer(serializers.ModelSerializer[Person]):
    confirm_not_duplicate = serializers.BooleanField(
        write_only=True, required=False, default=False, help_text=_CONFIRM_HELP
    )

    class Meta:
        model = Person
        fields = [
            "id",
            "salutation",
            "title",
            "first_name",
            "last_name",
            "full_name",
            "email",
            "phone",
            "mobile",
            "preferred_language",
            "external_id",
            "created_at",
            "updated_at",
            "confirm_not_duplicate",
        ]
        read_only_fields = ["full_name", "created_at", "updated_at"]


class PersonDetailSerializer(PersonSerializer):
    """A person with affiliations, consent records and the notes the reader may see."""

    affiliations = AffiliationSerializer(many=True, read_only=True)
    consents = ConsentRecordSerializer(many=True, read_only=True)
    notes = serializers.SerializerMethodField()
    can_be_emailed = serializers.SerializerMethodField()

    class Meta(PersonSerializer.Meta):
        fields = [
            *PersonSerializer.Meta.fields,
            "affiliations",
            "consents",
            "notes",
            "can_be_emailed",
        ]

    def get_can_be_emailed(self, obj: Person) -> bool:
        # From the prefetched consents, so the detail needs no extra query.
        return bool(obj.email) and any(
            c.purpose == ConsentRecord.Purpose.EMAIL_CONTACT and c.is_effective()
            for c in obj.consents.all()
        )

    @extend_schema_field(NoteSerializer(many=True))
    def get_notes(self, obj: Person) -> list[dict[str, Any]]:
        request = self.context.get("request")
        if not (request and request.user.has_perm("crm.view_note")):
            return []
        return NoteSerializer(obj.notes.all(), many=True, context=self.context).data  # type: ignore[return-value]


# --- Tokens --------------------------------------------------------------------------


class OwnTokenSerializer(serializers.ModelSerializer[Token]):
    """The caller's token without its secret: only the first characters identify it."""

    key_hint = serializers.SerializerMethodField()

    class Meta:
        model = Token
        fields = ["key_hint", "created"]

    def get_key_hint(self, obj: Token) -> str:
        return f"{obj.key[:4]}…"


class NewTokenSerializer(serializers.ModelSerializer[Token]):
    """A freshly issued token; the only answer that shows the whole key."""

    class Meta:
        model = Token
        fields = ["key", "created"]
