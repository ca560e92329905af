"""Company visits, the interview guide they follow, and the follow-ups they raise."""

from __future__ import annotations

import datetime
import uuid as uuid_lib
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from crm.models import Organisation, Person, Topic
from crm.roles import Role, has_role, roles_of

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

    AnyUser = AbstractBaseUser | AnonymousUser


SUMMARY_MAX_LENGTH = 10_000


class Need(models.TextChoices):
    """The fixed categories a visit's findings are counted in."""

    TECHNOLOGY_RD = "technology_rd", _("Technology / R&D")
    FUNDING = "funding", _("Funding")
    SKILLED_WORKERS = "skilled_workers", _("Skilled workers")
    DIGITALISATION = "digitalisation", _("Digitalisation")
    SUSTAINABILITY = "sustainability", _("Sustainability / energy / green transformation")
    SPACE_COWORKING = "space_coworking", _("Space / co-working")
    COOPERATION_PARTNER = "cooperation_partner", _("Cooperation partner")
    TRAINING = "training", _("Training")


# --- Interview guide -----------------------------------------------------------------


class InterviewGuideQuerySet(models.QuerySet["InterviewGuide"]):
    def current(self) -> InterviewGuide | None:
        """The active guide new visits use (the newest if several are active)."""
        return self.filter(is_active=True).order_by("-created_at", "-version").first()


class InterviewGuide(models.Model):
    """One version of the questions a scout works through; versions are never edited
    once visits use them, a change is a new version."""

    name = models.CharField(_("name"), max_length=120)
    version = models.PositiveIntegerField(_("version"), validators=[MinValueValidator(1)])
    is_active = models.BooleanField(_("active"), default=False)
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)

    history = HistoricalRecords()
    objects = InterviewGuideQuerySet.as_manager()

    class Meta:
        ordering = ["name", "-version"]
        verbose_name = _("interview guide")
        verbose_name_plural = _("interview guides")
        constraints = [
            models.UniqueConstraint(fields=["name", "version"], name="guide_name_version_unique"),
            models.CheckConstraint(condition=Q(version__gte=1), name="guide_version_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.name} (v{self.version})"

    def questions(self) -> models.QuerySet[GuideQuestion]:
        return GuideQuestion.objects.filter(section__guide=self).order_by(
            "section__position", "position"
        )


class GuideSection(models.Model):
    guide = models.ForeignKey(
        InterviewGuide,
        on_delete=models.CASCADE,
        related_name="sections",
        verbose_name=_("interview guide"),
    )
    title = models.CharField(_("title"), max_length=200)
    position = models.PositiveSmallIntegerField(_("position"), default=0)

    history = HistoricalRecords()

    class Meta:
        ordering = ["guide", "position", "id"]
        verbose_name = _("guide section")
        verbose_name_plural = _("guide sections")

    def __str__(self) -> str:
        return self.title


class GuideQuestion(models.Model):
    class Kind(models.TextChoices):
        YES_NO = "yes_no", _("yes/no")
        CHOICE = "choice", _("choice")
        NUMBER = "number", _("number")
        TEXT = "text", _("text")

    section = models.ForeignKey(
        GuideSection, on_delete=models.CASCADE, related_name="questions", verbose_name=_("section")
    )
    key = models.SlugField(
        _("key"), max_length=60, help_text=_("Stable identifier answers are stored under.")
    )
    text = models.CharField(_("question"), max_length=300)
    kind = models.CharField(_("kind of answer"), max_length=10, choices=Kind.choices)
    choices = models.JSONField(
        _("choices"), default=list, blank=True, help_text=_("Only for choice questions.")
    )
    position = models.PositiveSmallIntegerField(_("position"), default=0)

    history = HistoricalRecords()

    class Meta:
        ordering = ["section", "position", "id"]
        verbose_name = _("guide question")
        verbose_name_plural = _("guide questions")
        constraints = [
            models.UniqueConstraint(fields=["section", "key"], name="guide_question_key_unique")
        ]

    def __str__(self) -> str:
        return self.text

    def clean(self) -> None:
        if self.kind == self.Kind.CHOICE:
            if not isinstance(self.choices, list) or not self.choices:
                raise ValidationError({"choices": _("A choice question needs choices.")})
            if not all(isinstance(c, str) and c for c in self.choices):
                raise ValidationError({"choices": _("Every choice must be a non-empty text.")})
        elif self.choices:
            raise ValidationError({"choices": _("Only choice questions have choices.")})
        if self.section_id:
            same_key = GuideQuestion.objects.filter(
                section__guide_id=self.section.guide_id, key=self.key
            ).exclude(pk=self.pk)
            if same_key.exists():
                raise ValidationError({"key": _("This key is already used in this guide.")})

    def accepts(self, value: Any) -> bool:
        """Whether ``value`` is a well-formed answer to this question (None: unanswered)."""
        if value is None:
            return True
        if self.kind == self.Kind.YES_NO:
            return isinstance(value, bool)
        if self.kind == self.Kind.NUMBER:
            return isinstance(value, int | float) and not isinstance(value, bool)
        if self.kind == self.Kind.CHOICE:
            return value in self.choices
        return isinstance(value, str)


class FollowUpRule(models.Model):
    """Raises a follow-up when a submitted visit answers ``question`` with ``when_value``."""

    question = models.ForeignKey(
        GuideQuestion, on_delete=models.CASCADE, related_name="rules", verbose_name=_("question")
    )
    when_value = models.JSONField(_("when the answer is"))
    follow_up_title = models.CharField(_("follow-up title"), max_length=200)
    follow_up_description = models.TextField(_("follow-up description"), blank=True)
    assignee_role = models.CharField(
        _("responsible role"), max_length=20, choices=[(r.value, r.label) for r in Role], blank=True
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("assignee"),
    )
    due_in_days = models.PositiveSmallIntegerField(_("due in (days)"), default=14)

    history = HistoricalRecords()

    class Meta:
        ordering = ["question", "id"]
        verbose_name = _("follow-up rule")
        verbose_name_plural = _("follow-up rules")

    def __str__(self) -> str:
        return f"{self.question.key} = {self.when_value!r} → {self.follow_up_title}"

    def clean(self) -> None:
        if self.question_id and not self.question.accepts(self.when_value):
            raise ValidationError({"when_value": _("This is not a possible answer.")})

    def matches(self, answers: dict[str, Any]) -> bool:
        return self.question.key in answers and answers[self.question.key] == self.when_value


# --- Visits --------------------------------------------------------------------------


class VisitQuerySet(models.QuerySet["Visit"]):
    def for_user(self, user: AnyUser) -> VisitQuerySet:
        """The visits ``user`` may see: confidential ones only by their scouts and
        network managers; administration reads the rest; funding-body viewers none."""
        if not user.is_authenticated:
            return self.none()
        if user.is_superuser or has_role(user, Role.NETWORK_MANAGER):  # type: ignore[union-attr]
            return self.all()
        roles = roles_of(user)
        if not roles & {Role.SCOUT, Role.ADMINISTRATION}:
            return self.none()
        visible = Q(is_confidential=False)
        if Role.SCOUT in roles:
            # A subquery instead of a join keeps one row per visit without DISTINCT.
            own = Visit.scouts.through.objects.filter(user_id=user.pk).values("visit_id")
            visible |= Q(pk__in=own)
        return self.filter(visible)

    def drafts(self) -> VisitQuerySet:
        return self.filter(status=Visit.Status.DRAFT)

    def submitted(self) -> VisitQuerySet:
        return self.filter(status=Visit.Status.SUBMITTED)


class Visit(models.Model):
    """A company visit (Unternehmensbesuch) and what the scouts found out."""

    class Format(models.TextChoices):
        ON_SITE = "on_site", _("on site")
        VIDEO = "video", _("video call")
        PHONE = "phone", _("phone")
        EVENT = "event", _("at an event")

    class Purpose(models.TextChoices):
        FIRST_CONTACT = "first_contact", _("first contact")
        FOLLOW_UP = "follow_up", _("follow-up")
        EVENT = "event", _("event")
        OTHER = "other", _("other")

    class Status(models.TextChoices):
        DRAFT = "draft", _("draft")
        SUBMITTED = "submitted", _("submitted")

    # Generated by the client so that a visit sent twice (offline capture) is stored once.
    uuid = models.UUIDField(_("UUID"), unique=True, default=uuid_lib.uuid4, editable=False)
    version = models.PositiveIntegerField(_("version"), default=1, editable=False)
    # Indexed by visit_org_visited and visit_org_status, which both start with it.
    organisation = models.ForeignKey(
        Organisation,
        on_delete=models.PROTECT,
        related_name="visits",
        verbose_name=_("organisation"),
        db_index=False,
    )
    visited_at = models.DateTimeField(_("date and time"), default=timezone.now)
    scouts = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="scouting_visits", verbose_name=_("scouts")
    )
    people_met = models.ManyToManyField(
        Person, blank=True, related_name="visits", verbose_name=_("people met")
    )
    format = models.CharField(
        _("format"), max_length=10, choices=Format.choices, default=Format.ON_SITE
    )
    purpose = models.CharField(
        _("purpose"), max_length=15, choices=Purpose.choices, default=Purpose.FIRST_CONTACT
    )
    topics = models.ManyToManyField(
        Topic, blank=True, related_name="visits", verbose_name=_("topics discussed")
    )
    needs = models.JSONField(_("needs"), default=list, blank=True)
    green_skills_interest = models.BooleanField(
        _("interested in the green-skills campaign"), default=False
    )
    summary = models.TextField(
        _("summary"), blank=True, validators=[MaxLengthValidator(SUMMARY_MAX_LENGTH)]
    )
    is_confidential = models.BooleanField(
        _("confidential"),
        default=False,
        help_text=_("Only the visit's scouts and the network managers can see it."),
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.DRAFT, editable=False
    )
    submitted_at = models.DateTimeField(_("submitted"), null=True, blank=True, editable=False)
    guide_version = models.ForeignKey(
        InterviewGuide,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="visits",
        verbose_name=_("interview guide"),
    )
    answers = models.JSONField(_("answers"), default=dict, blank=True)
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
        m2m_fields=[scouts, people_met, topics],
        excluded_fields=["updated_at"],
        no_db_index=["organisation", "guide_version", "created_by"],
    )
    objects = VisitQuerySet.as_manager()

    class Meta:
        ordering = ["-visited_at", "-id"]
        verbose_name = _("company visit")
        verbose_name_plural = _("company visits")
        indexes = [
            models.Index(fields=["-visited_at", "-id"], name="visit_visited"),
            models.Index(fields=["organisation", "-visited_at"], name="visit_org_visited"),
            models.Index(fields=["status", "-visited_at"], name="visit_status_visited"),
            # Lists filtered by district (through the organisation), status and need
            # are counted from this index alone, without reading the visits.
            models.Index(fields=["organisation", "status", "needs"], name="visit_org_status"),
            # "Visits submitted since my last login" on the managers' start page.
            models.Index(
                fields=["-submitted_at"],
                name="visit_submitted",
                condition=Q(submitted_at__isnull=False),
            ),
            # Impact indicators: a period's submitted visits read from the index alone,
            # also one row per visit (its id: a year's visits facts at state scale
            # 1.3 → 0.8 s; PostgreSQL only, elsewhere without).
            models.Index(
                fields=["visited_at", "organisation", "green_skills_interest"],
                name="visit_reporting",
                condition=Q(status="submitted"),
                include=["id"],
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(version__gte=1), name="visit_version_positive"),
            models.CheckConstraint(
                condition=Q(status="draft") | Q(submitted_at__isnull=False),
                name="visit_submitted_has_date",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.organisation} – {timezone.localtime(self.visited_at):%d.%m.%Y}"

    def clean(self) -> None:
        errors: dict[str, Any] = {}
        if not isinstance(self.needs, list):
            errors["needs"] = _("Needs must be a list of categories.")
        else:
            unknown = [n for n in self.needs if n not in Need.values]
            if unknown:
                errors["needs"] = _("Unknown need categories: %(codes)s") % {
                    "codes": ", ".join(map(str, unknown))
                }
            elif len(set(self.needs)) != len(self.needs):
                errors["needs"] = _("A need category is listed twice.")
        answer_error = self._answers_error()
        if answer_error:
            errors["answers"] = answer_error
        date_error = self._date_error()
        if date_error:
            errors["visited_at"] = date_error
        if errors:
            raise ValidationError(errors)

    # Visits are recorded for the programme's years; a draft may be planned ahead.
    EARLIEST_VISIT = datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)
    PLANNING_HORIZON = datetime.timedelta(days=366)

    def _date_error(self) -> str | None:
        if self.visited_at is None:
            return None
        now = timezone.now()
        if self.visited_at < self.EARLIEST_VISIT:
            return str(_("Visits before 2000 cannot be recorded; please check the date."))
        if self.visited_at > now + self.PLANNING_HORIZON:
            return str(_("This date is more than a year ahead; please check it."))
        # A day's leeway for clocks and time zones of the devices visits come from.
        if not self.is_draft() and self.visited_at > now + datetime.timedelta(days=1):
            return str(_("A visit in the future cannot be submitted yet."))
        return None

    def _answers_error(self) -> str | None:
        if not isinstance(self.answers, dict):
            return str(_("Answers must map question keys to values."))
        if not self.answers:
            return None
        if self.guide_version_id is None:
            return str(_("Answers need the interview guide they belong to."))
        questions = {q.key: q for q in self.guide_version.questions()}  # type: ignore[union-attr]
        unknown = sorted(set(self.answers) - set(questions))
        if unknown:
            return str(_("Unknown questions: %(keys)s") % {"keys": ", ".join(map(str, unknown))})
        invalid = [k for k, v in self.answers.items() if not questions[k].accepts(v)]
        if invalid:
            return str(_("Invalid answers to: %(keys)s") % {"keys": ", ".join(sorted(invalid))})
        return None

    def get_absolute_url(self) -> str:
        return reverse("scouting:visit_detail", args=[self.uuid])

    @classmethod
    def history_value_display(cls, field: str, value: Any) -> str | None:
        """How the history shows needs and guide answers (None: the default)."""
        if field == "needs" and isinstance(value, list):
            labels = dict(Need.choices)
            return ", ".join(str(labels.get(n, n)) for n in value) or "—"
        if field == "answers" and isinstance(value, dict):
            return "; ".join(f"{key}: {_answer_text(v)}" for key, v in value.items()) or "—"
        return None

    def is_draft(self) -> bool:
        return self.status == self.Status.DRAFT

    def need_labels(self) -> list[str]:
        labels = dict(Need.choices)
        return [str(labels.get(n, n)) for n in self.needs]

    def has_scout(self, user: AnyUser) -> bool:
        return bool(user.pk) and self.scouts.filter(pk=user.pk).exists()

    def is_editable_by(self, user: AnyUser) -> bool:
        """Network managers edit every visit; scouts their own, drafts and submitted."""
        if not user.is_authenticated:
            return False
        if user.is_superuser or has_role(user, Role.NETWORK_MANAGER):  # type: ignore[union-attr]
            return True
        return has_role(user, Role.SCOUT) and self.has_scout(user)

    def submit(self, *, at: datetime.datetime | None = None) -> None:
        if not self.is_draft():
            raise ValidationError(_("This visit has already been submitted."), code="submitted")
        self.status = self.Status.SUBMITTED
        self.submitted_at = at or timezone.now()


def _answer_text(value: Any) -> str:
    if isinstance(value, bool):
        return str(_("yes") if value else _("no"))
    return str(value)


# --- Follow-ups ----------------------------------------------------------------------


class FollowUpQuerySet(models.QuerySet["FollowUp"]):
    def open(self) -> FollowUpQuerySet:
        return self.filter(status__in=FollowUp.OPEN_STATUSES)

    def overdue(self, *, on: datetime.date | None = None) -> FollowUpQuerySet:
        return self.open().filter(due_date__lt=on or timezone.localdate())

    def due_by(self, day: datetime.date) -> FollowUpQuerySet:
        """Open follow-ups due on or before ``day`` (the overdue ones included)."""
        return self.open().filter(due_date__lte=day)

    def unassigned(self) -> FollowUpQuerySet:
        return self.open().filter(assignee__isnull=True)

    def assigned_to(self, user: AnyUser) -> FollowUpQuerySet:
        return self.filter(assignee_id=user.pk)

    def for_user(self, user: AnyUser) -> FollowUpQuerySet:
        """Network managers see all; others what is assigned to them or what they
        raised, and administration also those not about a confidential visit."""
        if not user.is_authenticated:
            return self.none()
        if user.is_superuser or has_role(user, Role.NETWORK_MANAGER):  # type: ignore[union-attr]
            return self.all()
        roles = roles_of(user)
        if not roles & {Role.SCOUT, Role.ADMINISTRATION}:
            return self.none()
        visible = Q(assignee_id=user.pk) | Q(created_by_id=user.pk)
        if Role.SCOUT in roles:
            own = Visit.scouts.through.objects.filter(user_id=user.pk).values("visit_id")
            visible |= Q(visit_id__in=own)
        if Role.ADMINISTRATION in roles:
            visible |= Q(visit__isnull=True) | Q(visit__is_confidential=False)
        return self.filter(visible)


class FollowUp(models.Model):
    """A follow-up (Wiedervorlage): something someone has to do by a date."""

    class Priority(models.TextChoices):
        LOW = "low", _("low")
        NORMAL = "normal", _("normal")
        HIGH = "high", _("high")

    class Status(models.TextChoices):
        OPEN = "open", _("open")
        IN_PROGRESS = "in_progress", _("in progress")
        DONE = "done", _("done")
        CANCELLED = "cancelled", _("cancelled")

    OPEN_STATUSES = (Status.OPEN, Status.IN_PROGRESS)

    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    visit = models.ForeignKey(
        Visit,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="follow_ups",
        verbose_name=_("visit"),
    )
    organisation = models.ForeignKey(
        Organisation,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="follow_ups",
        verbose_name=_("organisation"),
    )
    # Erasing a person (GDPR) takes the follow-ups about them along.
    person = models.ForeignKey(
        Person,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="follow_ups",
        verbose_name=_("person"),
    )
    transfer_request = models.ForeignKey(
        "pipeline.TransferRequest",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="follow_ups",
        verbose_name=_("transfer request"),
    )
    rule = models.ForeignKey(
        FollowUpRule,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="follow_ups",
        verbose_name=_("raised by rule"),
        editable=False,
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="follow_ups",
        verbose_name=_("assignee"),
    )
    due_date = models.DateField(_("due date"), null=True, blank=True)
    priority = models.CharField(
        _("priority"), max_length=10, choices=Priority.choices, default=Priority.NORMAL
    )
    status = models.CharField(
        _("status"), max_length=15, choices=Status.choices, default=Status.OPEN
    )
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("assigned by"),
        editable=False,
    )
    assigned_at = models.DateTimeField(_("assigned at"), null=True, blank=True, editable=False)
    completion_note = models.TextField(_("completion note"), blank=True)
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True, editable=False)
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

    history = HistoricalRecords(
        no_db_index=[
            "visit",
            "organisation",
            "person",
            "transfer_request",
            "rule",
            "assignee",
            "assigned_by",
        ]
    )
    objects = FollowUpQuerySet.as_manager()

    class Meta:
        ordering = ["due_date", "id"]
        verbose_name = _("follow-up")
        verbose_name_plural = _("follow-ups")
        indexes = [
            models.Index(fields=["status", "due_date"], name="followup_status_due"),
            models.Index(fields=["due_date", "id"], name="followup_due"),
            models.Index(fields=["assignee", "status", "due_date"], name="followup_assignee"),
            # The open ones in due order, with the assignee for the start page's counts
            # (unassigned, overdue, per assignee) read from the index alone (no INCLUDE:
            # SQLite would warn about it).
            models.Index(
                fields=["due_date", "id", "assignee"],
                name="followup_open_due",
                condition=Q(status__in=["open", "in_progress"]),
            ),
            # Impact indicators: follow-ups completed in a period, from the index alone.
            models.Index(
                fields=["completed_at", "organisation", "due_date"],
                name="followup_done_reporting",
                condition=Q(status="done"),
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(visit__isnull=False)
                | Q(organisation__isnull=False)
                | Q(person__isnull=False)
                | Q(transfer_request__isnull=False),
                name="followup_has_subject",
                violation_error_message=_(
                    "A follow-up must be about a visit, an organisation, a person or a "
                    "transfer request."
                ),
            ),
            models.CheckConstraint(
                condition=~Q(status="done") | Q(completed_at__isnull=False),
                name="followup_done_has_date",
            ),
            # A rule raises at most one follow-up per visit, however often it is applied.
            models.UniqueConstraint(
                fields=["visit", "rule"],
                condition=Q(visit__isnull=False, rule__isnull=False),
                name="followup_one_per_visit_rule",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def clean(self) -> None:
        if not (
            self.visit_id or self.organisation_id or self.person_id or self.transfer_request_id
        ):
            raise ValidationError(
                _(
                    "A follow-up must be about a visit, an organisation, a person or a "
                    "transfer request."
                )
            )
        if (
            self.visit_id
            and self.organisation_id
            and self.visit.organisation_id != self.organisation_id  # type: ignore[union-attr]
        ):
            raise ValidationError(
                {"organisation": _("The organisation differs from the visit's organisation.")}
            )

    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES

    def is_overdue(self, *, on: datetime.date | None = None) -> bool:
        day = on or timezone.localdate()
        return self.is_open() and self.due_date is not None and self.due_date < day


# --- Calendar feed -------------------------------------------------------------------


class CalendarFeed(models.Model):
    """A user's secret iCalendar feed of their open follow-ups.

    Only a hash of the token is stored: the feed URL is shown once when it is
    created. Revoking deletes the row, so the old URL stops working at once.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="calendar_feed",
        verbose_name=_("user"),
    )
    token_hash = models.CharField(_("token hash"), max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("calendar feed")
        verbose_name_plural = _("calendar feeds")

    def __str__(self) -> str:
        return str(self.user)
