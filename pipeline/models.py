"""Transfer requests (Transferanfragen) moving through stages towards a cooperation
with a research partner, with the matches proposed and the outcomes reached."""

from __future__ import annotations

import datetime
from functools import reduce
from operator import or_
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from crm.models import Organisation, Person, Topic
from crm.roles import Role, has_role, roles_of
from scouting.models import Visit

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

    AnyUser = AbstractBaseUser | AnonymousUser


# What a stage may demand of a request before it enters it; the names are checked by
# ``pipeline.services.missing_requirements``.
REQUIREMENTS: dict[str, Any] = {
    "contact_person": _("a contact person"),
    "responsible_manager": _("a responsible network manager"),
    "topics": _("at least one topic"),
    "expected_volume": _("the expected volume"),
    "closing_reason": _("a closing reason"),
    "partner": _("an accepted research partner"),
    "outcome": _("an outcome"),
}


# --- Stages --------------------------------------------------------------------------


class StageQuerySet(models.QuerySet["Stage"]):
    def active(self) -> StageQuerySet:
        return self.filter(is_active=True)

    def initial(self) -> Stage | None:
        """The stage new requests start in: the first active open stage."""
        return self.active().filter(kind=Stage.Kind.OPEN).order_by("position", "pk").first()

    def board_columns(self) -> StageQuerySet:
        return self.active().filter(kind=Stage.Kind.OPEN).order_by("position", "pk")


class Stage(models.Model):
    """A stage (Phase) of the pipeline; reference data administration maintains."""

    class Kind(models.TextChoices):
        OPEN = "open", _("open")
        # Neither in progress nor closed: not counted as stale, and left again without
        # reopening (see the default "Ruhend").
        PAUSED = "paused", _("paused")
        WON = "won", _("won")
        LOST = "lost", _("lost")

    OPEN_KINDS = (Kind.OPEN, Kind.PAUSED)
    CLOSED_KINDS = (Kind.WON, Kind.LOST)

    key = models.SlugField(
        _("key"), max_length=40, unique=True, help_text=_("Stable identifier, e.g. for imports.")
    )
    name = models.CharField(_("name (German)"), max_length=80)
    name_en = models.CharField(_("name (English)"), max_length=80, blank=True)
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.OPEN)
    required_fields = models.JSONField(
        _("required to enter"),
        default=list,
        blank=True,
        help_text=_("What a request must have before it may enter this stage."),
    )
    max_days = models.PositiveSmallIntegerField(
        _("limit in days"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text=_("A request staying longer in this stage is marked as stale."),
    )
    is_active = models.BooleanField(_("active"), default=True)

    history = HistoricalRecords()
    objects = StageQuerySet.as_manager()

    class Meta:
        ordering = ["position", "id"]
        verbose_name = _("stage")
        verbose_name_plural = _("stages")

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if not isinstance(self.required_fields, list) or not all(
            isinstance(name, str) for name in self.required_fields
        ):
            raise ValidationError({"required_fields": _("Give a list of requirement names.")})
        unknown = [name for name in self.required_fields if name not in REQUIREMENTS]
        if unknown:
            raise ValidationError(
                {
                    "required_fields": _("Unknown requirements: %(names)s (possible: %(known)s)")
                    % {"names": ", ".join(unknown), "known": ", ".join(REQUIREMENTS)}
                }
            )
        if len(set(self.required_fields)) != len(self.required_fields):
            raise ValidationError({"required_fields": _("A requirement is listed twice.")})
        if self.max_days is not None and self.kind != self.Kind.OPEN:
            raise ValidationError(
                {"max_days": _("Only open stages have a limit; closed or paused ones do not.")}
            )

    def is_closed(self) -> bool:
        return self.kind in self.CLOSED_KINDS

    def requirement_labels(self) -> list[str]:
        return [str(REQUIREMENTS.get(name, name)) for name in self.required_fields]


# --- Transfer requests ---------------------------------------------------------------


class TransferRequestQuerySet(models.QuerySet["TransferRequest"]):
    def for_user(self, user: AnyUser) -> TransferRequestQuerySet:
        """Network managers see all requests; scouts and administration all but those
        from a confidential visit (scouts: unless it is their visit or their request);
        funding-body viewers none (they see aggregates only)."""
        if not user.is_authenticated:
            return self.none()
        if user.is_superuser or has_role(user, Role.NETWORK_MANAGER):  # type: ignore[union-attr]
            return self.all()
        roles = roles_of(user)
        if not roles & {Role.SCOUT, Role.ADMINISTRATION}:
            return self.none()
        visible = Q(visit__isnull=True) | Q(visit__is_confidential=False)
        if Role.SCOUT in roles:
            own = Visit.scouts.through.objects.filter(user_id=user.pk).values("visit_id")
            visible |= Q(visit_id__in=own) | Q(created_by_id=user.pk)
        return self.filter(visible)

    def open(self) -> TransferRequestQuerySet:
        """Not closed: in an open or a paused stage."""
        return self.filter(stage__kind__in=Stage.OPEN_KINDS)

    def closed(self) -> TransferRequestQuerySet:
        return self.filter(stage__kind__in=Stage.CLOSED_KINDS)

    def won(self) -> TransferRequestQuerySet:
        return self.filter(stage__kind=Stage.Kind.WON)

    def in_stage(self, *stages: Stage | int) -> TransferRequestQuerySet:
        return self.filter(stage_id__in=[s if isinstance(s, int) else s.pk for s in stages])

    def stale(self, *, on: datetime.datetime | None = None) -> TransferRequestQuerySet:
        """Requests longer in their stage than its limit at ``on`` (default: now).

        One condition per limited stage (there are a handful), so each is answered from
        the (stage, stage_entered_at) index."""
        moment = on or timezone.now()
        limited = Stage.objects.filter(kind=Stage.Kind.OPEN, max_days__isnull=False)
        conditions = [
            Q(stage_id=pk, stage_entered_at__lt=moment - datetime.timedelta(days=days or 0))
            for pk, days in limited.values_list("pk", "max_days")
        ]
        if not conditions:
            return self.none()
        return self.filter(reduce(or_, conditions))


class TransferRequest(models.Model):
    """A company's need that the agency brokers to a research partner."""

    class Kind(models.TextChoices):
        JOINT_RD = "joint_rd", _("Joint R&D")
        CONTRACT_RESEARCH = "contract_research", _("Contract research")
        TESTING = "testing", _("Testing or lab access")
        STUDENT_PROJECT = "student_project", _("Student project or thesis")
        RECRUITING = "recruiting", _("Skilled workers / recruiting")
        FUNDING_ADVICE = "funding_advice", _("Funding advice")
        NETWORK_CONTACT = "network_contact", _("Network contact")
        SPACE = "space", _("Space / co-working")

    class Source(models.TextChoices):
        VISIT = "visit", _("Company visit")
        EVENT = "event", _("Event")
        PHONE = "phone", _("Phone")
        EMAIL = "email", _("Email")
        WEB_FORM = "web_form", _("Web form")

    class Priority(models.TextChoices):
        LOW = "low", _("low")
        NORMAL = "normal", _("normal")
        HIGH = "high", _("high")

    organisation = models.ForeignKey(
        Organisation,
        on_delete=models.PROTECT,
        related_name="transfer_requests",
        verbose_name=_("requesting organisation"),
    )
    # Erasing a person (GDPR) keeps the request without its contact.
    contact_person = models.ForeignKey(
        Person,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="transfer_requests",
        verbose_name=_("contact person"),
    )
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description of the need"), blank=True)
    topics = models.ManyToManyField(
        Topic, blank=True, related_name="transfer_requests", verbose_name=_("topics")
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    source = models.CharField(_("source"), max_length=10, choices=Source.choices)
    # A discarded draft visit must not be blocked by a request made from it.
    visit = models.ForeignKey(
        Visit,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="transfer_requests",
        verbose_name=_("visit"),
    )
    responsible_manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="managed_transfer_requests",
        verbose_name=_("responsible network manager"),
    )
    priority = models.CharField(
        _("priority"), max_length=10, choices=Priority.choices, default=Priority.NORMAL
    )
    expected_volume = models.DecimalField(
        _("expected volume (EUR)"),
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
    )
    stage = models.ForeignKey(
        Stage,
        on_delete=models.PROTECT,
        related_name="requests",
        verbose_name=_("stage"),
        editable=False,
        db_index=False,  # request_board starts with it
    )
    stage_entered_at = models.DateTimeField(
        _("in this stage since"), default=timezone.now, editable=False
    )
    closing_reason = models.TextField(_("closing reason"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
        editable=False,
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    history = HistoricalRecords(
        m2m_fields=[topics],
        excluded_fields=["updated_at"],
        no_db_index=[
            "organisation",
            "contact_person",
            "visit",
            "responsible_manager",
            "stage",
            "created_by",
        ],
    )
    objects = TransferRequestQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("transfer request")
        verbose_name_plural = _("transfer requests")
        indexes = [
            models.Index(fields=["stage", "stage_entered_at"], name="request_board"),
            models.Index(fields=["-created_at", "-id"], name="request_created"),
            # Impact indicators (requests received in a period) from the index alone.
            models.Index(fields=["created_at", "organisation"], name="request_created_org"),
            # The organisation of the request a match, an outcome or a stage change is
            # about, from the index alone (PostgreSQL; SQLite has no covering indexes).
            models.Index(fields=["id"], include=["organisation"], name="request_organisation"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(expected_volume__isnull=True) | Q(expected_volume__gte=0),
                name="request_volume_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(visit__isnull=True) | Q(source="visit"),
                name="request_visit_is_source",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def clean(self) -> None:
        if self.visit_id and self.source != self.Source.VISIT:
            raise ValidationError({"source": _("A request linked to a visit comes from it.")})
        if (
            self.visit_id
            and self.organisation_id
            and self.visit.organisation_id != self.organisation_id  # type: ignore[union-attr]
        ):
            raise ValidationError(
                {"organisation": _("The organisation differs from the visit's organisation.")}
            )

    def get_absolute_url(self) -> str:
        return reverse("pipeline:request_detail", args=[self.pk])

    def is_closed(self) -> bool:
        return self.stage.is_closed()

    def time_in_stage(self, *, now: datetime.datetime | None = None) -> datetime.timedelta:
        return (now or timezone.now()) - self.stage_entered_at

    def is_stale(self, *, on: datetime.datetime | None = None) -> bool:
        limit = self.stage.max_days
        if self.stage.kind != Stage.Kind.OPEN or limit is None:
            return False
        return self.time_in_stage(now=on) > datetime.timedelta(days=limit)


class StageChange(models.Model):
    """One move of a request between stages; written only by ``advance_request`` (and
    ``create_request`` for the first stage) and never changed afterwards."""

    request = models.ForeignKey(
        TransferRequest,
        on_delete=models.CASCADE,
        related_name="stage_changes",
        verbose_name=_("transfer request"),
        db_index=False,  # stagechange_request starts with it
    )
    from_stage = models.ForeignKey(
        Stage,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("from stage"),
    )
    to_stage = models.ForeignKey(
        Stage,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("to stage"),
        db_index=False,  # stagechange_to starts with it
    )
    changed_at = models.DateTimeField(_("changed"), default=timezone.now)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("changed by"),
    )
    note = models.TextField(_("note"), blank=True)

    class Meta:
        ordering = ["request", "changed_at", "id"]
        verbose_name = _("stage change")
        verbose_name_plural = _("stage changes")
        indexes = [
            models.Index(fields=["request", "changed_at", "id"], name="stagechange_request"),
            # Funnel and conversion metrics: who entered which stage in a period.
            models.Index(fields=["to_stage", "changed_at"], name="stagechange_to"),
            # Impact indicators: every stage change of a period from the index alone.
            models.Index(fields=["changed_at", "request", "to_stage"], name="stagechange_changed"),
        ]

    def __str__(self) -> str:
        return f"{self.from_stage or '—'} → {self.to_stage}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise ValidationError(_("Stage changes are a record and cannot be changed."))
        super().save(*args, **kwargs)


# --- Matches and outcomes ------------------------------------------------------------


class Match(models.Model):
    """A research partner proposed for a request (Vermittlung)."""

    class Status(models.TextChoices):
        PROPOSED = "proposed", _("proposed")
        CONTACTED = "contacted", _("contacted")
        ACCEPTED = "accepted", _("accepted")
        DECLINED = "declined", _("declined")

    DECIDED = (Status.ACCEPTED, Status.DECLINED)

    request = models.ForeignKey(
        TransferRequest,
        on_delete=models.CASCADE,
        related_name="matches",
        verbose_name=_("transfer request"),
        db_index=False,  # match_request_partner_unique starts with it
    )
    partner = models.ForeignKey(
        Organisation,
        on_delete=models.PROTECT,
        related_name="partner_matches",
        verbose_name=_("research partner"),
        db_index=False,  # match_partner_status starts with it
    )
    person = models.ForeignKey(
        Person,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="partner_matches",
        verbose_name=_("contact at the partner"),
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PROPOSED
    )
    proposed_at = models.DateTimeField(_("proposed"), default=timezone.now, editable=False)
    contacted_at = models.DateTimeField(_("contacted"), null=True, blank=True, editable=False)
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True, editable=False)
    note = models.TextField(_("note"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
        editable=False,
    )

    history = HistoricalRecords(no_db_index=["request", "partner", "person", "created_by"])

    class Meta:
        ordering = ["request", "proposed_at", "id"]
        verbose_name = _("match")
        verbose_name_plural = _("matches")
        indexes = [
            # Past cooperations of a partner, for suggestions.
            models.Index(fields=["partner", "status"], name="match_partner_status"),
            # Impact indicators: partners proposed, and accepted, in a period.
            models.Index(fields=["proposed_at", "request"], name="match_proposed"),
            models.Index(
                fields=["decided_at", "request"],
                name="match_accepted",
                condition=Q(status="accepted"),
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["request", "partner"],
                name="match_request_partner_unique",
                violation_error_message=_("This partner has already been proposed."),
            ),
            models.CheckConstraint(
                condition=~Q(status__in=["accepted", "declined"]) | Q(decided_at__isnull=False),
                name="match_decided_has_date",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.request} ↔ {self.partner}"

    def is_decided(self) -> bool:
        return self.status in self.DECIDED


class Outcome(models.Model):
    """What came of a request; counted for the funders' cooperation indicators."""

    class Kind(models.TextChoices):
        JOINT_RD = "joint_rd", _("Joint R&D project")
        CONTRACT_RESEARCH = "contract_research", _("Contract research")
        STUDENT_PROJECT = "student_project", _("Thesis or student project")
        FUNDING_APPLICATION = "funding_application", _("Funding application submitted")
        HIRE = "hire", _("Hire")
        OTHER = "other", _("Other")

    request = models.ForeignKey(
        TransferRequest,
        on_delete=models.CASCADE,
        related_name="outcomes",
        verbose_name=_("transfer request"),
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    funding_programme = models.CharField(
        _("funding programme"),
        max_length=120,
        blank=True,
        help_text=_("For funding applications, e.g. ZIM, innovation voucher, EFRE."),
    )
    date = models.DateField(_("date"), default=timezone.localdate)
    partner = models.ForeignKey(
        Organisation,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="partner_outcomes",
        verbose_name=_("partner"),
    )
    innovation_introduced = models.BooleanField(
        _("product or process innovation introduced"),
        default=False,
        help_text=_(
            "The enterprise introduced a new or improved product or process (counts for the "
            "funder indicator RCR03)."
        ),
    )
    note = models.TextField(_("note"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
        editable=False,
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)

    history = HistoricalRecords(no_db_index=["request", "partner", "created_by"])

    class Meta:
        ordering = ["request", "date", "id"]
        verbose_name = _("outcome")
        verbose_name_plural = _("outcomes")
        # Impact indicators read a period's outcomes from the index alone.
        indexes = [
            models.Index(
                fields=["date", "request", "kind", "partner", "innovation_introduced"],
                name="outcome_reporting",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.date:%d.%m.%Y})"

    def clean(self) -> None:
        if self.kind == self.Kind.FUNDING_APPLICATION and not self.funding_programme.strip():
            raise ValidationError(
                {"funding_programme": _("Name the funding programme applied to.")}
            )
        if self.date and self.date > timezone.localdate() + datetime.timedelta(days=1):
            raise ValidationError({"date": _("An outcome cannot lie in the future.")})
