"""REST API: thin views over the CRM core.

Serializers check the shape of a request; writes go through ``save_with_history``
and the core services so that history rows name the acting user and the
model's own validation (``full_clean``) runs, exactly as in the UI.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, cast

from allauth.mfa.models import Authenticator
from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models, transaction
from django.db.models import Prefetch, ProtectedError, QuerySet, RestrictedError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import exceptions, mixins, status, viewsets
from rest_framework.authtoken.models import Token
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer, as_serializer_error
from rest_framework.settings import api_settings
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView

from crm.models import (
    Affiliation,
    ConsentRecord,
    District,
    Municipality,
    Note,
    Organisation,
    Person,
    Topic,
)
from crm.roles import Role, roles_of
from crm.services import (
    DuplicateCandidate,
    create_organisation,
    create_person,
    delete_with_history,
    end_affiliation,
    find_duplicate_organisations,
    find_duplicate_people,
    record_consent,
    save_affiliation,
    save_with_history,
    update_organisation,
    withdraw_consent,
)

from . import filters
from .serializers import (
    AffiliationSerializer,
    ConsentRecordSerializer,
    ConsentWithdrawalSerializer,
    DistrictSerializer,
    DuplicateConflictSerializer,
    MunicipalitySerializer,
    NewTokenSerializer,
    OrganisationSerializer,
    OwnTokenSerializer,
    PersonDetailSerializer,
    PersonSerializer,
    TopicSerializer,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import User

Saver = Callable[..., models.Model]


def _actor(request: Request) -> User:
    """The signed-in user; the permission classes let no one else write."""
    return cast("User", request.user)


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = gettext_lazy("The request conflicts with the current state of the record.")
    default_code = "conflict"


def _validation_error(exc: DjangoValidationError) -> exceptions.ValidationError:
    """A model's ``full_clean`` error as the API's 400 body (``__all__`` → non_field_errors)."""
    detail = as_serializer_error(exc)
    if "__all__" in detail:
        detail[api_settings.NON_FIELD_ERRORS_KEY] = detail.pop("__all__")
    return exceptions.ValidationError(detail)


class CrmViewSet(viewsets.GenericViewSet):
    """Shared behaviour: filtering, refusing NUL bytes, saving and deleting with history."""

    filter_backends = [DjangoFilterBackend]
    # How one record is saved; a core service where the use case has one.
    save_instance: ClassVar[Saver] = staticmethod(save_with_history)

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        # PostgreSQL cannot store or compare text with NUL bytes (a 500); refuse them early.
        for key, values in request.query_params.lists():
            if "\x00" in key or any("\x00" in v for v in values):
                raise exceptions.ValidationError(
                    {key.replace("\x00", ""): [_("Null characters are not allowed.")]}
                )

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, DjangoValidationError):
            exc = _validation_error(exc)
        elif isinstance(exc, ProtectedError | RestrictedError):
            exc = Conflict(_("This record is still referenced elsewhere and cannot be deleted."))
        return super().handle_exception(exc)

    def perform_create(self, serializer: BaseSerializer) -> None:
        instance = self.get_queryset().model(**_fields(serializer))
        serializer.instance = type(self).save_instance(instance, by=_actor(self.request))

    def perform_update(self, serializer: BaseSerializer) -> None:
        instance = serializer.instance
        for name, value in _fields(serializer).items():
            setattr(instance, name, value)
        serializer.instance = type(self).save_instance(instance, by=_actor(self.request))

    def perform_destroy(self, instance: models.Model) -> None:
        delete_with_history(instance, by=_actor(self.request))


def _fields(serializer: BaseSerializer, *, without: Sequence[str] = ()) -> dict[str, Any]:
    """The validated model fields of a request (no write-only switches, no ``without``)."""
    data = dict(serializer.validated_data)
    for name in ("confirm_not_duplicate", *without):
        data.pop(name, None)
    return data


class DuplicateCheckMixin(ABC):
    """Refuse a likely duplicate (409 with the candidates) unless the client confirms it.

    Checked on create, and on update when a field that identifies the record changes,
    as the UI's forms do.
    """

    identity_fields: ClassVar[tuple[str, ...]] = ()

    @abstractmethod
    def find_duplicates(
        self, values: dict[str, Any], *, exclude_pk: int | None
    ) -> list[DuplicateCandidate]: ...

    def _duplicate_conflict(
        self, serializer: BaseSerializer, instance: models.Model | None = None
    ) -> Response | None:
        data = serializer.validated_data
        if data.get("confirm_not_duplicate"):
            return None
        if instance is not None and all(
            data.get(f, getattr(instance, f)) == getattr(instance, f) for f in self.identity_fields
        ):
            return None
        values = {f: data.get(f, getattr(instance, f, "")) for f in self.identity_fields}
        candidates = self.find_duplicates(values, exclude_pk=instance.pk if instance else None)
        if not candidates:
            return None
        return Response(
            {
                "detail": _(
                    "Likely duplicates exist. Check them, or send "
                    "“confirm_not_duplicate”: true to save anyway."
                ),
                "code": "possible_duplicate",
                "duplicates": [
                    {"id": c.record.pk, "name": str(c.record), "reasons": list(c.reasons)}
                    for c in candidates
                ],
            },
            status=status.HTTP_409_CONFLICT,
        )

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)  # type: ignore[attr-defined]
        serializer.is_valid(raise_exception=True)
        conflict = self._duplicate_conflict(serializer)
        if conflict is not None:
            return conflict
        self.perform_create(serializer)  # type: ignore[attr-defined]
        return Response(serializer.data, status=status.HTTP_201_CREATED)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        instance = self.get_object()  # type: ignore[attr-defined]
        serializer = self.get_serializer(  # type: ignore[attr-defined]
            instance, data=request.data, partial=kwargs.pop("partial", False)
        )
        serializer.is_valid(raise_exception=True)
        conflict = self._duplicate_conflict(serializer, instance)
        if conflict is not None:
            return conflict
        self.perform_update(serializer)  # type: ignore[attr-defined]
        # Topics were prefetched before the update; read them afresh.
        instance._prefetched_objects_cache = {}
        return Response(serializer.data)


def _duplicate_schema(serializer: type[BaseSerializer], status_code: int) -> Any:
    return extend_schema(
        responses={
            status_code: serializer,
            409: OpenApiResponse(
                DuplicateConflictSerializer,
                description="Likely duplicates exist; resend with confirm_not_duplicate=true.",
            ),
        }
    )


def _duplicate_checked(serializer: type[BaseSerializer]) -> dict[str, Any]:
    return {
        "create": _duplicate_schema(serializer, 201),
        "update": _duplicate_schema(serializer, 200),
        "partial_update": _duplicate_schema(serializer, 200),
    }


# --- Organisations, people, affiliations ---------------------------------------------


@extend_schema_view(
    **_duplicate_checked(OrganisationSerializer),
    list=extend_schema(
        parameters=[
            OpenApiParameter(
                "topic", int, description="Topic id; a parent topic includes its children."
            )
        ]
    ),
)
class OrganisationViewSet(DuplicateCheckMixin, CrmViewSet, viewsets.ModelViewSet):
    """Organisations; the same filters and sort keys (``o``) as the organisation list page."""

    queryset = Organisation.objects.select_related(
        "municipality__district", "responsible_manager"
    ).prefetch_related(
        Prefetch("offered_topics", queryset=Topic.objects.order_by("pk")),
        Prefetch("needed_topics", queryset=Topic.objects.order_by("pk")),
    )
    serializer_class = OrganisationSerializer
    filterset_class = filters.OrganisationFilter
    topic_fields = ("offered_topics", "needed_topics")
    identity_fields = ("name", "email", "website", "register_number")

    def perform_create(self, serializer: BaseSerializer) -> None:
        data = serializer.validated_data
        serializer.instance = create_organisation(
            Organisation(**_fields(serializer, without=self.topic_fields)),
            offered_topics=data.get("offered_topics", ()),
            needed_topics=data.get("needed_topics", ()),
            by=_actor(self.request),
        )

    def perform_update(self, serializer: BaseSerializer) -> None:
        organisation = cast(Organisation, serializer.instance)
        for name, value in _fields(serializer, without=self.topic_fields).items():
            setattr(organisation, name, value)
        data = serializer.validated_data
        serializer.instance = update_organisation(
            organisation,
            offered_topics=data.get("offered_topics"),
            needed_topics=data.get("needed_topics"),
            by=_actor(self.request),
        )

    def find_duplicates(
        self, values: dict[str, Any], *, exclude_pk: int | None
    ) -> list[DuplicateCandidate]:
        return find_duplicate_organisations(**values, exclude_pk=exclude_pk)


@extend_schema_view(**_duplicate_checked(PersonSerializer))
class PersonViewSet(DuplicateCheckMixin, CrmViewSet, viewsets.ModelViewSet):
    """People; the detail includes affiliations, consent records and notes."""

    queryset = Person.objects.all()
    filterset_class = filters.ApiPersonFilter
    identity_fields = ("first_name", "last_name", "email")

    def get_queryset(self) -> QuerySet[Person]:
        qs = super().get_queryset()
        if self.action == "retrieve":
            qs = qs.prefetch_related(
                Prefetch(
                    "affiliations",
                    queryset=Affiliation.objects.select_related("organisation"),
                ),
                Prefetch("consents", queryset=ConsentRecord.objects.select_related("recorded_by")),
                Prefetch("notes", queryset=Note.objects.select_related("author")),
            )
        return qs

    def get_serializer_class(self) -> type[BaseSerializer]:
        return PersonDetailSerializer if self.action == "retrieve" else PersonSerializer

    def perform_create(self, serializer: BaseSerializer) -> None:
        serializer.instance = create_person(Person(**_fields(serializer)), by=_actor(self.request))

    def find_duplicates(
        self, values: dict[str, Any], *, exclude_pk: int | None
    ) -> list[DuplicateCandidate]:
        return find_duplicate_people(**values, exclude_pk=exclude_pk)


class AffiliationViewSet(CrmViewSet, viewsets.ModelViewSet):
    """Who works where; marking one primary demotes the person's previous primary one."""

    queryset = Affiliation.objects.select_related("person", "organisation")
    serializer_class = AffiliationSerializer
    filterset_class = filters.AffiliationFilter
    save_instance = staticmethod(save_affiliation)

    @extend_schema(request=None, responses={200: AffiliationSerializer})
    @action(detail=True, methods=["post"])
    def end(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """End the affiliation today (it stops being primary)."""
        if not request.user.has_perm("crm.change_affiliation"):
            raise exceptions.PermissionDenied
        affiliation = end_affiliation(self.get_object(), by=_actor(request))
        return Response(self.get_serializer(affiliation).data)


class ConsentViewSet(
    CrmViewSet,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
):
    """The lawful basis for contacting a person; records are withdrawn, never edited."""

    queryset = ConsentRecord.objects.select_related("recorded_by")
    serializer_class = ConsentRecordSerializer
    filterset_class = filters.ConsentFilter
    save_instance = staticmethod(record_consent)

    @extend_schema(request=ConsentWithdrawalSerializer, responses={200: ConsentRecordSerializer})
    @action(detail=True, methods=["post"])
    def withdraw(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        if not request.user.has_perm("crm.change_consentrecord"):
            raise exceptions.PermissionDenied
        consent = self.get_object()
        form = ConsentWithdrawalSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        consent = withdraw_consent(
            consent, by=_actor(request), at=form.validated_data.get("withdrawn_at")
        )
        return Response(self.get_serializer(consent).data)


# --- Regions and topics (reference data) ---------------------------------------------


class ReferenceViewSet(
    CrmViewSet,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
):
    """Read for everyone who may see regions and topics; written by administration."""


class DistrictViewSet(ReferenceViewSet):
    queryset = District.objects.all()
    serializer_class = DistrictSerializer
    filterset_class = filters.DistrictFilter


class MunicipalityViewSet(ReferenceViewSet):
    queryset = Municipality.objects.select_related("district")
    serializer_class = MunicipalitySerializer
    filterset_class = filters.MunicipalityFilter


class TopicViewSet(ReferenceViewSet):
    queryset = Topic.objects.all()
    serializer_class = TopicSerializer
    filterset_class = filters.TopicFilter


# --- Tokens --------------------------------------------------------------------------


class TokenLoginThrottle(AnonRateThrottle):
    """Password guessing through the API is limited per client address."""

    scope = "api_token_login"
    rate = "10/hour"


def needs_second_factor(user: Any) -> bool:
    required = {Role(r) for r in getattr(settings, "MFA_REQUIRED_ROLES", [])}
    return bool(roles_of(user) & required) or Authenticator.objects.filter(user=user).exists()


class ObtainTokenView(APIView):
    """Exchange username and password for the user's API token.

    Not for accounts with two-factor authentication: a password alone must not
    open them. Those users sign in and rotate their token at ``/api/auth/token/me/``.
    """

    authentication_classes = ()
    permission_classes = ()
    throttle_classes = [TokenLoginThrottle]
    serializer_class = AuthTokenSerializer

    @extend_schema(
        request=AuthTokenSerializer,
        responses={200: AuthTokenSerializer},
        auth=[],
    )
    def post(self, request: Request) -> Response:
        serializer = AuthTokenSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        user = serializer.validated_data["user"]
        if needs_second_factor(user):
            raise exceptions.PermissionDenied(
                _(
                    "Accounts with two-factor authentication cannot get a token with a "
                    "password alone. Sign in and create the token at /api/auth/token/me/."
                )
            )
        token, _created = Token.objects.get_or_create(user=user)
        return Response({"token": token.key})


class OwnTokenView(APIView):
    """The signed-in user's own API token: see when it was made, rotate or revoke it."""

    permission_classes = [IsAuthenticated]
    serializer_class = OwnTokenSerializer

    @extend_schema(responses={200: OwnTokenSerializer})
    def get(self, request: Request) -> Response:
        token = Token.objects.filter(user=_actor(request)).first()
        if token is None:
            raise exceptions.NotFound(_("You have no API token."))
        return Response(OwnTokenSerializer(token).data)

    @extend_schema(request=None, responses={201: NewTokenSerializer})
    def post(self, request: Request) -> Response:
        """Issue a new token, replacing the old one; the key is shown only in this answer."""
        with transaction.atomic():
            Token.objects.filter(user=_actor(request)).delete()
            token = Token.objects.create(user=_actor(request))
        return Response(NewTokenSerializer(token).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={204: None})
    def delete(self, request: Request) -> Response:
        Token.objects.filter(user=_actor(request)).delete()
        return Response(status=status.HTTP_204_NO_CONTENT)
