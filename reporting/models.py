"""Impact reports (Wirkungsberichte): drafts that are computed, then published and frozen.

A published report never changes: its figures, evidence and files are kept as they were
at publication. The model refuses changes to a published report and its files (``save``
and ``delete`` raise), the admin and the API show it read-only, and on PostgreSQL a
trigger refuses an UPDATE or DELETE that bypasses the model (migration 0002).
"""

from __future__ import annotations

import datetime
import hashlib
import json
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from crm.models import District
from crm.roles import Role, has_role

from .periods import Period


class ReportFrozen(ValidationError):
    """Raised on any attempt to change a published report."""

    def __init__(self) -> None:
        super().__init__(gettext("A published report cannot be changed."), code="frozen")


class ReportQuerySet(models.QuerySet["Report"]):
    def published(self) -> ReportQuerySet:
        return self.filter(status=Report.Status.PUBLISHED)

    def drafts(self) -> ReportQuerySet:
        return self.filter(status=Report.Status.DRAFT)

    def for_user(self, user: Any) -> ReportQuerySet:
        """Administration and network managers see every report, funding-body viewers
        only published ones, everybody else none."""
        if not user.is_authenticated or not user.has_perm("reporting.view_report"):
            return self.none()
        if user.has_perm("reporting.add_report") or has_role(user, Role.NETWORK_MANAGER):
            return self.all()
        return self.published()

    def for_period(self, period: Period, scope_key: str = "") -> ReportQuerySet:
        return self.filter(period_start=period.start, period_end=period.end, scope_key=scope_key)


class Report(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("draft")
        PUBLISHED = "published", _("published")

    class Generation(models.TextChoices):
        PENDING = "pending", _("waiting")
        RUNNING = "running", _("running")
        DONE = "done", _("done")
        FAILED = "failed", _("failed")

    title = models.CharField(_("title"), max_length=200)
    period_start = models.DateField(_("period from"))
    period_end = models.DateField(_("period to"))
    districts = models.ManyToManyField(
        District,
        blank=True,
        related_name="+",
        verbose_name=_("districts"),
        help_text=_("None: the whole region."),
    )
    # The sorted district keys, "" for the whole region: "the same period and scope" is
    # one indexed comparison.
    scope_key = models.CharField(_("scope"), max_length=300, blank=True, editable=False)
    version = models.PositiveIntegerField(_("version"), default=1, editable=False)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.DRAFT, editable=False
    )
    is_scheduled = models.BooleanField(_("created on schedule"), default=False, editable=False)
    narrative_progress = models.TextField(_("progress"), blank=True)
    narrative_problems = models.TextField(_("problems"), blank=True)
    narrative_outlook = models.TextField(_("outlook"), blank=True)

    # What generation computed: the figures as shown (reporting.content.ReportContent
    # without the narrative) and the ids of the records behind each indicator.
    content = models.JSONField(_("figures"), null=True, blank=True, editable=False)
    evidence = models.JSONField(_("evidence"), null=True, blank=True, editable=False)
    indicator_versions = models.JSONField(
        _("indicator versions"), default=dict, blank=True, editable=False
    )
    figures_sha256 = models.CharField(_("SHA-256 of the figures"), max_length=64, blank=True)
    generation = models.CharField(
        _("computation"),
        max_length=10,
        choices=Generation.choices,
        default=Generation.PENDING,
        editable=False,
    )
    generation_error = models.TextField(_("computation error"), blank=True, editable=False)
    generated_at = models.DateTimeField(_("computed"), null=True, blank=True, editable=False)

    # PROTECT: a published report's row must not change when a user is removed.
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
        editable=False,
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    published_at = models.DateTimeField(_("published"), null=True, blank=True, editable=False)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("published by"),
        editable=False,
    )

    # Without the districts: they are set once, when the report is made, and never
    # change (``scope_key``, kept in every history row, names them). Tracking them made
    # simple-history read the report back on every save, with the fields it leaves out:
    # a year's evidence at state scale is 2.2 million ids, 16 MB of JSON.
    history = HistoricalRecords(
        excluded_fields=["content", "evidence", "generation", "generation_error"],
        no_db_index=["created_by", "published_by"],
    )
    objects = ReportQuerySet.as_manager()

    class Meta:
        ordering = ["-period_end", "-period_start", "scope_key", "-version"]
        verbose_name = _("impact report")
        verbose_name_plural = _("impact reports")
        permissions = [("publish_report", _("Can publish impact reports"))]
        constraints = [
            models.UniqueConstraint(
                fields=["period_start", "period_end", "scope_key", "version"],
                name="report_version_unique",
            ),
            # Generating again while a draft exists recomputes that draft.
            models.UniqueConstraint(
                fields=["period_start", "period_end", "scope_key"],
                condition=Q(status="draft"),
                name="report_one_draft",
            ),
            # The quarterly schedule creates each quarter's report once.
            models.UniqueConstraint(
                fields=["period_start", "period_end"],
                condition=Q(is_scheduled=True),
                name="report_scheduled_once",
            ),
            models.CheckConstraint(
                condition=Q(period_end__gte=models.F("period_start")),
                name="report_period_order",
            ),
            models.CheckConstraint(
                condition=Q(status="draft") | Q(published_at__isnull=False, figures_sha256__gt=""),
                name="report_published_complete",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.title} (v{self.version})"

    def get_absolute_url(self) -> str:
        return reverse("reporting:report_detail", args=[self.pk])

    @property
    def period(self) -> Period:
        return Period(self.period_start, self.period_end)

    def is_published(self) -> bool:
        return self.status == self.Status.PUBLISHED

    def is_computed(self) -> bool:
        return self.generation == self.Generation.DONE and self.content is not None

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk and Report.objects.filter(pk=self.pk, status=self.Status.PUBLISHED).exists():
            raise ReportFrozen()
        super().save(*args, **kwargs)

    def store_evidence(self, *parts: str) -> None:
        """Write the evidence of a draft given as JSON objects in text, in parts of
        different keys (``queries.evidence_json``): on PostgreSQL as parameters of their
        own, not copied into the statement's text (a year's at state scale is 17 MB),
        and joined there. ``evidence`` is read again when next used, and not written by
        ``save()`` (unless assigned)."""
        table = self._meta.db_table
        sql = f"UPDATE {table} SET evidence = %s WHERE id = %s AND status = %s"  # noqa: S608
        if connection.vendor == "postgresql":
            joined = " || ".join("%s::jsonb" for _part in parts) or "'{}'::jsonb"
            sql = sql.replace("evidence = %s", f"evidence = {joined}") + " RETURNING id"
            params = [*parts, self.pk, self.Status.DRAFT.value]
            updated = _one_row_in_binary(sql, params) is not None
        else:
            evidence: dict[str, Any] = {}
            for part in parts:
                evidence.update(json.loads(part))
            with connection.cursor() as cursor:
                cursor.execute(sql, [json.dumps(evidence), self.pk, self.Status.DRAFT.value])
                updated = cursor.rowcount == 1
        if not updated:
            raise ReportFrozen()
        self.__dict__.pop("evidence", None)  # deferred: loaded when read

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        if Report.objects.filter(pk=self.pk, status=self.Status.PUBLISHED).exists():
            raise ReportFrozen()
        return super().delete(*args, **kwargs)

    def stored_file(self, kind: str) -> ReportFile | None:
        """The stored PDF or XLSX of a published report (None for drafts), its bytes
        read by ``ReportFile.content()``."""
        if not self.is_published():
            return None
        return self.files.defer("data").filter(kind=kind).first()


def scope_key_for(districts: Any) -> str:
    """The ``scope_key`` of a set of districts (empty: the whole region)."""
    return ",".join(sorted(d.key for d in districts))


class ReportFile(models.Model):
    """A published report's PDF or XLSX, stored in the database with the figures so that
    a backup holds both and nobody changes one without the other."""

    class Kind(models.TextChoices):
        PDF = "pdf", "PDF"
        XLSX = "xlsx", "XLSX"

    CONTENT_TYPES = {
        Kind.PDF: "application/pdf",
        Kind.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    }

    report = models.ForeignKey(
        Report, on_delete=models.PROTECT, related_name="files", verbose_name=_("report")
    )
    kind = models.CharField(_("kind"), max_length=4, choices=Kind.choices)
    data = models.BinaryField(_("content"))
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    size = models.PositiveIntegerField(_("size in bytes"))
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)

    class Meta:
        ordering = ["report", "kind"]
        verbose_name = _("report file")
        verbose_name_plural = _("report files")
        constraints = [
            models.UniqueConstraint(fields=["report", "kind"], name="reportfile_one_per_kind")
        ]

    def __str__(self) -> str:
        return self.filename

    @property
    def filename(self) -> str:
        report = self.report
        return (
            f"wirkungsbericht-{report.period.code.replace('..', '_')}-v{report.version}.{self.kind}"
        )

    @property
    def content_type(self) -> str:
        return self.CONTENT_TYPES[self.kind]

    @classmethod
    def of(cls, report: Report, kind: str, data: bytes) -> ReportFile:
        return cls(
            report=report,
            kind=kind,
            data=data,
            sha256=hashlib.sha256(data).hexdigest(),
            size=len(data),
        )

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk:
            raise ReportFrozen()
        if connection.vendor == "postgresql" and not args and not kwargs:
            self._insert_as_bytes()
            return
        super().save(*args, **kwargs)

    def content(self) -> bytes:
        """The file's bytes. Query stored files with ``.defer("data")``: on PostgreSQL
        they are then read as binary (Django's cursors receive a file as hexadecimal
        text twice its size)."""
        if "data" in self.get_deferred_fields() and connection.vendor == "postgresql":
            row = _one_row_in_binary(
                f"SELECT data FROM {self._meta.db_table} WHERE id = %s",  # noqa: S608
                [self.pk],
                binary_result=True,
            )
            if row is None:
                raise ReportFile.DoesNotExist(self.pk)
            return bytes(row[0])
        return bytes(self.data)

    def _insert_as_bytes(self) -> None:
        """Insert the row with the file as a binary parameter. Django's PostgreSQL
        cursors write parameters into the statement's text, a file as hexadecimal text
        twice its size (and copies of that): for a year's 18 MB XLSX some 80 MB more
        memory than the file itself."""
        row = _one_row_in_binary(
            f"INSERT INTO {self._meta.db_table} "  # noqa: S608
            "(report_id, kind, data, sha256, size, created_at) "
            "VALUES (%s, %s, %b, %s, %s, %s) RETURNING id",
            [self.report_id, self.kind, bytes(self.data), self.sha256, self.size, self.created_at],
        )
        assert row is not None  # an INSERT … RETURNING returns its row
        (self.pk,) = row
        self._state.adding = False
        self._state.db = connection.alias

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise ReportFrozen()


def _one_row_in_binary(
    sql: str, params: list[Any], *, binary_result: bool = False
) -> tuple[Any, ...] | None:
    """One row of a statement run with psycopg's own cursor on Django's connection (in
    its transaction): ``%b`` parameters, and with ``binary_result`` the row, travel as
    bytes — not as the hexadecimal text Django's cursors use for binary data."""
    import psycopg

    connection.ensure_connection()
    with psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, params, binary=binary_result)
        return cursor.fetchone()


def first_working_day_after(day: datetime.date) -> datetime.date:
    """The first day after ``day`` that is neither a weekend nor a public holiday in Lower
    Saxony."""
    candidate = day + datetime.timedelta(days=1)
    while candidate.weekday() >= 5 or candidate in public_holidays(candidate.year):
        candidate += datetime.timedelta(days=1)
    return candidate


def public_holidays(year: int) -> set[datetime.date]:
    """Statutory public holidays in Lower Saxony (where the agency works)."""
    easter = _easter_sunday(year)
    day = datetime.timedelta(days=1)
    return {
        datetime.date(year, 1, 1),
        easter - 2 * day,  # Karfreitag
        easter + day,  # Ostermontag
        datetime.date(year, 5, 1),
        easter + 39 * day,  # Christi Himmelfahrt
        easter + 50 * day,  # Pfingstmontag
        datetime.date(year, 10, 3),
        datetime.date(year, 10, 31),  # Reformationstag (Niedersachsen since 2018)
        datetime.date(year, 12, 25),
        datetime.date(year, 12, 26),
    }


def _easter_sunday(year: int) -> datetime.date:
    """Gregorian Easter (anonymous algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    l_ = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * l_) // 451
    month, day = divmod(h + l_ - 7 * m + 114, 31)
    return datetime.date(year, month, day + 1)
