"""Impact reports: create, compute, write the narrative, publish, compare, schedule."""

from __future__ import annotations

import contextlib
import datetime
import functools
import hashlib
import io
import json
import logging
import queue
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import Max
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _

from crm.filters import users_with_role
from crm.models import District, Organisation
from crm.roles import Role
from crm.services import save_with_history
from scouting.models import Visit

from . import queries
from .content import EvidenceSheet, IndicatorContent, ReportContent
from .models import Report, ReportFile, ReportFrozen, first_working_day_after, scope_key_for
from .periods import Period
from .queries import Breakdown, Scope, Subject

logger = logging.getLogger(__name__)

User = AbstractBaseUser
Progress = Callable[[int, str], None]


class ReportError(ValidationError):
    """A report action that cannot be done as asked; the message is for the user."""


# --- Creating --------------------------------------------------------------------------


def _check(by: Any, permission: str) -> None:
    if by is not None and not by.has_perm(permission):
        raise PermissionDenied(_("Only administration may prepare and publish impact reports."))


def report_title(period: Period, districts: Sequence[District]) -> str:
    title = _("Impact report %(period)s") % {"period": period.label}
    if districts:
        title += " – " + ", ".join(d.name for d in districts)
    return title


def scope_label(districts: Sequence[District]) -> str:
    if not districts:
        return _("Whole region")
    return ", ".join(d.name for d in sorted(districts, key=lambda d: d.name))


# What a computation replaces: not read where a draft is about to be (re)computed or
# published (a year's evidence at state scale: 2.2 million ids, 16 MB of JSON).
_COMPUTED = ("content", "evidence")


@transaction.atomic
def create_report(
    *,
    period: Period,
    districts: Iterable[District] = (),
    by: User | None,
    scheduled: bool = False,
) -> Report:
    """A draft for ``period`` and ``districts`` (none: the whole region), not computed
    yet. If a draft for the same period and scope exists, that draft is returned: it is
    recomputed instead of a second one being made. Next to published reports of the same
    period and scope the draft gets the next version number."""
    _check(by, "reporting.add_report")
    districts = sorted(districts, key=lambda d: d.key)
    if period.start < datetime.date(2000, 1, 1):
        raise ReportError(_("Reports start in the year 2000 at the earliest."))
    if period.start > timezone.localdate():
        raise ReportError(_("This period has not begun yet: there is nothing to report."))
    if period.end >= timezone.localdate() and not scheduled:
        # Allowed, but the figures of an unfinished period will still change.
        logger.info("Report for the unfinished period %s", period.code)
    key = scope_key_for(districts)
    existing = (
        Report.objects.select_for_update()
        .for_period(period, key)
        .drafts()
        .defer(*_COMPUTED)
        .first()
    )
    if existing is not None:
        if scheduled and not existing.is_scheduled:
            # A draft someone started by hand becomes the quarter's scheduled report.
            existing.is_scheduled = True
            save_with_history(existing, by=None, reason=_("Taken over by the schedule"))
        return existing
    last = Report.objects.for_period(period, key).aggregate(last=Max("version"))["last"] or 0
    with translation.override(settings.LANGUAGE_CODE):
        title = report_title(period, districts)
    report = Report(
        title=title,
        period_start=period.start,
        period_end=period.end,
        scope_key=key,
        version=last + 1,
        is_scheduled=scheduled,
        created_by=by,
    )
    save_with_history(report, by=by)
    report.districts.set(districts)
    return report


def scope_of(report: Report) -> Scope:
    return Scope(report.period, tuple(sorted(report.districts.values_list("pk", flat=True))))


# --- Computing -------------------------------------------------------------------------


def _progress_key(report_id: int) -> str:
    return f"reporting:progress:{report_id}"


def report_progress(report: Report) -> tuple[int, str]:
    """Percent done and the current step of a running computation (from the cache, so a
    page can show it while the computation's own transaction is still open)."""
    return cache.get(_progress_key(report.pk), (0, ""))


def _progress_for(report: Report) -> Progress:
    def tell(percent: int, step: str) -> None:
        cache.set(_progress_key(report.pk), (percent, step), 60 * 60)

    return tell


def mark_pending(report: Report) -> None:
    """Say a computation is queued (before the task is sent). Raises ``ReportFrozen``
    if the report is published, also when that happened since ``report`` was read."""
    if report.is_published():
        raise ReportFrozen()
    updated = Report.objects.filter(pk=report.pk, status=Report.Status.DRAFT).update(
        generation=Report.Generation.PENDING
    )
    if not updated:
        raise ReportFrozen()
    cache.set(_progress_key(report.pk), (0, _("waiting to start")), 60 * 60)


def compute_report(report_id: int, *, by: User | None = None) -> Report:
    """Compute a draft's figures and evidence from the database as it is now."""
    report = Report.objects.defer(*_COMPUTED).get(pk=report_id)
    if report.is_published():
        raise ReportFrozen()
    progress = _progress_for(report)
    if not Report.objects.filter(pk=report.pk, status=Report.Status.DRAFT).update(
        generation=Report.Generation.RUNNING, generation_error=""
    ):
        raise ReportFrozen()  # published since it was read
    try:
        with _snapshot() as snapshot, snapshot.computing(report) as computation:
            content, evidence = _compute(report, progress, computation, snapshot)
            report = Report.objects.select_for_update().defer(*_COMPUTED).get(pk=report.pk)
            if report.is_published():
                raise ReportFrozen()
            _set_figures(report, content)
            report.store_evidence(*evidence)
            save_with_history(report, by=by, reason=_("Figures computed"))
    except Exception as error:
        Report.objects.filter(pk=report_id, status=Report.Status.DRAFT).update(
            generation=Report.Generation.FAILED, generation_error=str(error)[:2000]
        )
        progress(100, _("failed"))
        raise
    progress(100, _("done"))
    return report


class _snapshot:
    """One consistent view of the database for all statements of a computation: on
    PostgreSQL a REPEATABLE READ transaction, so figures, evidence and files agree even
    while people keep working."""

    def __enter__(self) -> _snapshot:
        # Only a transaction of its own can choose its isolation level (inside a test's
        # or a request's transaction the outer one decides).
        isolated = connection.vendor == "postgresql" and not connection.in_atomic_block
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        self.exported: str | None = None
        if isolated:
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                # Exported now: PostgreSQL cannot export from a savepoint.
                cursor.execute("SELECT pg_export_snapshot()")
                (self.exported,) = cursor.fetchone()
                # One core for this connection, the other for the one ``alongside``:
                # parallel workers would only compete with it, and cost processor time
                # of their own (a year's report at state scale: some 0.5 s of 11 s).
                cursor.execute("SET LOCAL max_parallel_workers_per_gather = 0")
        return self

    def __exit__(self, *exc: Any) -> Any:
        return self._atomic.__exit__(*exc)

    def alongside(self, work: Callable[[], T]) -> _Alongside[T]:
        """Run ``work`` on a second database connection that sees this snapshot, while
        this connection goes on (PostgreSQL: ``pg_export_snapshot``), so a report's
        statements use both processor cores; elsewhere ``work`` runs on ``result()``."""
        return _Alongside(work, self.exported)

    def computing(self, report: Report) -> AbstractContextManager[queries.Computation]:
        """The report's computation on this connection. With a second connection only
        the tables of the subjects whose figures this one computes (``FIRST``) have
        quarters: the other reads the rest of the trend from tables of its own."""
        by_quarter = True if self.exported is None else FIRST
        return queries.computing(scope_of(report), by_quarter=by_quarter)


# With a second connection, the subjects whose breakdowns, evidence ids and trend the
# first computes: each subject's table is then built once, but for the organisations'
# (the evidence sheets and the totals need it on the first, the topic breakdowns on the
# second). The visits' table only the second builds (the largest; the totals and the
# sheets count visits from the organisations' facts).
FIRST = (Subject.REQUEST, Subject.FOLLOW_UP)


T = TypeVar("T")
Totals = dict[str, int | float]
Breakdowns = dict[str, dict[str, list[queries.BreakdownRow]]]


_SNAPSHOT_ID = re.compile(r"[0-9A-F]+(-[0-9A-F]+)+")


class _Alongside(Generic[T]):
    """``work`` in a thread of its own, in a transaction in the exported ``snapshot``;
    without one (SQLite, or inside a test's transaction) simply on ``result()``."""

    def __init__(self, work: Callable[[], T], snapshot: str | None) -> None:
        self.work = work
        self.snapshot = snapshot
        self.outcome: tuple[bool, Any] | None = None
        self.thread: threading.Thread | None = None
        if snapshot is not None:
            if not _SNAPSHOT_ID.fullmatch(snapshot):  # it is put into the SQL below
                raise ValueError(snapshot)
            self.thread = threading.Thread(target=self._run, name="reporting-alongside")
            self.thread.start()

    def _run(self) -> None:
        # A thread has a database connection of its own, closed when the work is done.
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                cursor.execute(f"SET TRANSACTION SNAPSHOT '{self.snapshot}'")
                # One core for this connection, the other for the calling thread.
                cursor.execute("SET LOCAL max_parallel_workers_per_gather = 0")
                self.outcome = (True, self.work())
        except BaseException as error:  # handed to result() in the calling thread
            self.outcome = (False, error)
        finally:
            connection.close()

    def __enter__(self) -> _Alongside[T]:
        return self

    def __exit__(self, *exc: Any) -> None:
        # Never leave the work running past the snapshot's transaction.
        if self.thread is not None:
            self.thread.join()

    def result(self) -> T:
        if self.thread is None:
            return self.work()
        self.thread.join()
        assert self.outcome is not None
        done, value = self.outcome
        if not done:
            raise value
        return value


def _compute(
    report: Report,
    progress: Progress,
    computation: queries.Computation,
    snapshot: _snapshot,
    *,
    meanwhile: Callable[[], None] | None = None,
) -> tuple[dict[str, Any], tuple[str, ...]]:
    """The figures of ``report``'s scope and the records behind them (evidence ids in
    parts, as JSON text: ``Report.store_evidence``). This connection
    computes the totals and then runs ``meanwhile`` (publishing: the XLSX's evidence
    sheets) while a second one in the same snapshot computes the rest (``alongside``)."""
    scope = computation.scope
    trend_periods = report.period.quarters()
    separate = snapshot.exported is not None

    # Periods whose totals are needed besides the tables' own: the previous period and,
    # unless the tables tell them (a half-year's or a year's), the trend's other
    # quarters. Both connections take from this list when done with their own work.
    before = report.period.previous()
    others = _TotalsWork(
        [
            scope.with_period(period)
            for period in dict.fromkeys([*trend_periods, before])
            if period != report.period
            and (period == before or not queries.quarters_within(report.period))
        ]
    )

    here = FIRST if separate else ()  # the rest is computed ``alongside``

    def alongside() -> _Part:
        """Breakdowns, evidence ids and — from a half-year's or a year's tables — the
        trend of all subjects but those ``here``. On a second connection (``separate``)
        with tables of its own: computing the organisations' twice takes less time than
        one connection doing everything in turn, as the evidence sheets keep this one
        busy mostly in Python."""
        subjects = [s for s in Subject if s not in here]
        with contextlib.ExitStack() as stack:
            own = stack.enter_context(queries.computing(scope)) if separate else computation
            part = _Part.of(own, subjects)
        others.take()
        return part

    with translation.override(settings.LANGUAGE_CODE):
        progress(5, _("computing the figures"))
        with snapshot.alongside(alongside) as other:
            # The organisations' table gives the visits' totals too: none built here.
            values = queries.totals(scope, computation=computation)
            if meanwhile is not None:
                meanwhile()
            part = _Part.of(computation, here)
            others.take()
            progress(55, _("collecting the records behind the figures"))
            part.add(other.result())
        totals_of = {each.period: found for each, found in others.values().items()}
        totals_of[report.period] = values
        trend = part.trend or {quarter: totals_of[quarter] for quarter in trend_periods}
        previous = totals_of[before]
        figures = [
            queries.Figure(item.code, values[item.code], part.split[item.code])
            for item in queries.INDICATORS
        ]
        districts = list(report.districts.order_by("name"))
        indicators: list[IndicatorContent] = []
        for figure in figures:
            item = queries.indicator(figure.code)
            indicators.append(
                {
                    "code": item.code,
                    "version": item.version,
                    "name": item.name,
                    "name_en": item.name_en,
                    "unit": str(item.unit),
                    "unit_label": item.unit.label,
                    "rule": item.rule,
                    "value": figure.value,
                    "previous_value": previous.get(item.code),
                    "breakdowns": {
                        name: [{"key": r.key, "label": r.label, "value": r.value} for r in rows]
                        for name, rows in figure.breakdowns.items()
                    },
                    "trend": [
                        {
                            "label": quarter.label,
                            "start": quarter.start.isoformat(),
                            "end": quarter.end.isoformat(),
                            "value": trend[quarter].get(item.code, 0),
                        }
                        for quarter in trend_periods
                    ],
                }
            )
        previous_period = report.period.previous()
        content = {
            "title": report.title,
            "period": _period_content(report.period),
            "previous_period": _period_content(previous_period),
            "scope_label": scope_label(districts),
            "breakdown_labels": {str(b): b.label for b in Breakdown},
            "indicators": indicators,
        }
    progress(80, _("figures complete"))
    return content, tuple(part.evidence)


@dataclass
class _Part:
    """Some subjects' breakdowns, evidence ids (JSON texts, one per connection) and
    trend (None for a period not made of whole quarters) of a computation."""

    split: Breakdowns
    evidence: list[str]
    trend: dict[Period, Totals] | None

    @classmethod
    def of(cls, computation: queries.Computation, subjects: Sequence[Subject]) -> _Part:
        return cls(
            queries.breakdowns(computation.scope, computation=computation, subjects=subjects),
            [queries.evidence_json(computation, subjects=subjects)],
            queries.trend(computation, subjects=subjects),
        )

    def add(self, other: _Part) -> None:
        """``other`` subjects' part added to this one."""
        self.split.update(other.split)
        self.evidence += other.evidence
        if self.trend is None or other.trend is None:
            self.trend = self.trend or other.trend
            return
        for quarter, found in other.trend.items():
            self.trend[quarter].update(found)


def _period_content(period: Period) -> dict[str, str]:
    return {
        "start": period.start.isoformat(),
        "end": period.end.isoformat(),
        "label": period.label,
    }


def _set_figures(
    report: Report, content: dict[str, Any], *, generated_at: datetime.datetime | None = None
) -> None:
    """Put a computation's figures and indicator versions on ``report`` (saved by the
    caller; its evidence is stored by ``Report.store_evidence``)."""
    report.content = content
    report.indicator_versions = {i.code: i.version for i in queries.INDICATORS}
    report.figures_sha256 = figures_sha256(content)
    report.generation = Report.Generation.DONE
    report.generated_at = generated_at or timezone.now()


def figures_sha256(content: dict[str, Any]) -> str:
    """SHA-256 of the figures in canonical JSON (sorted keys, no spaces): the same
    figures always give the same hash."""
    figures = {
        "period": content["period"],
        "scope_label": content["scope_label"],
        "indicators": [
            {
                "code": i["code"],
                "version": i["version"],
                "value": i["value"],
                "previous_value": i["previous_value"],
                "breakdowns": i["breakdowns"],
                "trend": i["trend"],
            }
            for i in content["indicators"]
        ],
    }
    text = json.dumps(figures, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


# --- Narrative -------------------------------------------------------------------------


NARRATIVE_LIMIT = 20_000


@transaction.atomic
def update_narrative(
    report: Report, *, progress: str, problems: str, outlook: str, by: User
) -> Report:
    _check(by, "reporting.change_report")
    # Saved with the loaded fields only: the figures and evidence are not written again.
    locked = Report.objects.select_for_update().defer(*_COMPUTED).get(pk=report.pk)
    if locked.is_published():
        raise ReportFrozen()
    texts = {"narrative_progress": progress, "narrative_problems": problems}
    texts["narrative_outlook"] = outlook
    for name, text in texts.items():
        # Browsers send line breaks as CRLF but count them as one character.
        cleaned = (text or "").replace("\x00", "").replace("\r\n", "\n").strip()
        if len(cleaned) > NARRATIVE_LIMIT:
            limit = formats.number_format(NARRATIVE_LIMIT, force_grouping=True)
            raise ReportError({name: _("At most %(limit)s characters.") % {"limit": limit}})
        setattr(locked, name, cleaned)
    return save_with_history(locked, by=by)  # type: ignore[return-value]


# --- Rendering -------------------------------------------------------------------------


def report_content(report: Report, *, xlsx_sha256: str = "") -> ReportContent:
    """Everything the renderers need: the stored figures plus narrative and settings."""
    if not report.is_computed():
        raise ReportError(_("The report's figures have not been computed yet."))
    stored = report.content or {}
    published_by = report.published_by
    return {  # type: ignore[typeddict-item]
        **stored,
        "title": report.title,
        "region_name": settings.REPORT_REGION_NAME,
        "programme_name": settings.REPORT_PROGRAMME_NAME,
        "logo_path": str(settings.REPORT_LOGO or ""),
        "version": report.version,
        "status": report.status,
        "generated_at": timezone.localtime(report.generated_at).isoformat(timespec="seconds")
        if report.generated_at
        else "",
        "published_at": timezone.localtime(report.published_at).isoformat(timespec="seconds")
        if report.published_at
        else "",
        # Files go to the funding body: name the role, not the person (who published is
        # kept in the history and shown to staff on the report page).
        "published_by": _("Administration") if published_by else "",
        "figures_sha256": report.figures_sha256 if report.is_published() else "",
        "xlsx_sha256": xlsx_sha256,
        "narrative": {
            "progress": report.narrative_progress,
            "problems": report.narrative_problems,
            "outlook": report.narrative_outlook,
        },
    }


def render_pdf(report: Report, *, xlsx_sha256: str = "") -> bytes:
    with translation.override(settings.LANGUAGE_CODE):
        return _draw_pdf(report_content(report, xlsx_sha256=xlsx_sha256))


def _draw_pdf(content: ReportContent) -> bytes:
    """The PDF of ``content``, in the site's language (in any thread: no database)."""
    from .pdf import render_pdf as render

    with translation.override(settings.LANGUAGE_CODE):
        return render(content)


def render_xlsx(report: Report, *, computation: queries.Computation | None = None) -> bytes:
    """The XLSX with the evidence; inside a publication, from its computation."""
    from .xlsx import write_xlsx

    if computation is None:
        with queries.computing(scope_of(report)) as computation:
            return render_xlsx(report, computation=computation)
    out = io.BytesIO()
    with translation.override(settings.LANGUAGE_CODE):
        write_xlsx(report_content(report), evidence_sheets(computation), out)
    return out.getvalue()


# --- Evidence --------------------------------------------------------------------------


def evidence_sheets(computation: queries.Computation) -> list[EvidenceSheet]:
    """The records behind the figures, read in batches: every organisation with what it
    counted for (1 per organisation indicator; for visits, requests and follow-ups how
    many), and every transfer request. Organisation names, dates and places only — no
    personal data. Each column sums to its figure (follow-ups without an organisation
    have no row to count in); the single visits and follow-ups are listed, and
    exported, on the figure's page in the CRM."""

    # Labels are written in by the database: the rows go from the cursor to the sheet.
    def organisations() -> Iterator[Sequence[Any]]:
        return queries.evidence_organisations(computation)

    def requests() -> Iterator[Sequence[Any]]:
        rows = queries.evidence_requests(computation)
        if connection.vendor == "postgresql":
            return rows
        # SQLite gives the day received as text
        return ([r[0], datetime.date.fromisoformat(r[1]), *r[2:]] for r in rows)

    org_codes = [i.code for i in queries.indicators_of(Subject.ORGANISATION)]
    request_codes = [i.code for i in queries.indicators_of(Subject.REQUEST)]
    return [
        EvidenceSheet(
            title=_("Evidence organisations"),
            columns=[
                _("ID"),
                _("Organisation"),
                _("Kind"),
                _("Size class"),
                _("Municipality"),
                _("District"),
                _("Rural/urban"),
                *org_codes,
                *queries.EVIDENCE_COUNTS,
            ],
            rows=organisations(),
            note=_(
                "1 in the columns %(flags)s: the organisation counts for that indicator. "
                "%(counts)s: how many of its visits, transfer requests or follow-ups that "
                "indicator counted (RURAL_SHARE: its visits in a rural municipality). Every "
                "column adds up to the figure, but for follow-ups without an organisation."
            )
            % {"flags": ", ".join(org_codes), "counts": ", ".join(queries.EVIDENCE_COUNTS)},
        ),
        EvidenceSheet(
            title=_("Evidence requests"),
            columns=[
                _("ID"),
                _("Received"),
                _("Organisation"),
                _("Kind"),
                _("Stage today"),
                _("District"),
                *request_codes,
            ],
            rows=requests(),
            note=_("1: the transfer request counts for the indicator in that column."),
        ),
    ]


# --- Publishing ------------------------------------------------------------------------


def publish_report(report_id: int, *, by: User) -> Report:
    """Freeze a draft: recompute its figures in one consistent snapshot, write the XLSX
    and the PDF, store both with their SHA-256 and the figures, and mark it published.
    From then on nothing about it can change."""
    from .xlsx import ReportWorkbook

    _check(by, "reporting.publish_report")
    report = Report.objects.defer(*_COMPUTED).get(pk=report_id)
    if report.is_published():
        raise ReportError(_("This report is already published."))
    progress = _progress_for(report)
    try:
        with _snapshot() as snapshot, snapshot.computing(report) as computation:
            locked = Report.objects.select_for_update().defer(*_COMPUTED).get(pk=report_id)
            if locked.is_published():
                raise ReportError(_("This report is already published."))
            generated_at = timezone.now()
            out = io.BytesIO()
            workbook = ReportWorkbook(
                out, timezone.localtime(generated_at).isoformat(timespec="seconds")
            )

            def write_evidence() -> None:
                # The long part of the XLSX, while the comparisons are computed.
                progress(40, _("writing the XLSX file"))
                workbook.add_evidence(evidence_sheets(computation))

            content, evidence = _compute(
                locked, progress, computation, snapshot, meanwhile=write_evidence
            )
            _set_figures(locked, content, generated_at=generated_at)
            locked.generation_error = ""  # an earlier attempt's failure is history now
            locked.status = Report.Status.PUBLISHED
            locked.published_at = timezone.now()
            locked.published_by = by  # type: ignore[assignment]
            progress(82, _("writing the XLSX file"))

            def finish_files() -> tuple[ReportFile, ReportFile]:
                """The XLSX finished, then the PDF (which prints the XLSX's SHA-256)
                drawn: Python only, no database, so in a thread while this one stores
                the evidence and the report (the database's work: a year's evidence at
                state scale 0.5 s)."""
                with translation.override(settings.LANGUAGE_CODE):
                    workbook_content = report_content(locked)
                    workbook.add_report(workbook_content)
                    workbook.close(workbook_content)
                    xlsx = ReportFile.of(locked, ReportFile.Kind.XLSX, out.getvalue())
                    out.close()  # one copy of the file in memory is enough
                    progress(94, _("writing the PDF file"))
                    drawn = _draw_pdf(report_content(locked, xlsx_sha256=xlsx.sha256))
                return xlsx, ReportFile.of(locked, ReportFile.Kind.PDF, drawn)

            with ThreadPoolExecutor(max_workers=1, thread_name_prefix="report-files") as pool:
                files = pool.submit(finish_files)
                locked.store_evidence(*evidence)
                save_with_history(locked, by=by, reason=_("Published"))
                for stored in files.result():
                    stored.save()
    except Exception as error:
        # The draft and its figures are as they were; say why publishing failed.
        Report.objects.filter(pk=report_id, status=Report.Status.DRAFT).update(
            generation=Report.Generation.DONE,
            generation_error=_("Publishing failed: %(error)s") % {"error": str(error)[:1500]},
        )
        progress(100, _("failed"))
        raise
    progress(100, _("published"))
    return locked


# --- Comparing -------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordChange:
    pk: int
    label: str
    url: str


@dataclass(frozen=True)
class FigureChange:
    code: str
    name: str
    unit: str
    before: int | float | None
    after: int | float | None
    added: list[RecordChange]
    removed: list[RecordChange]
    more_added: int
    more_removed: int
    # A percentage whose base changed: the indicator listing those records (VISITS).
    base_code: str = ""

    @property
    def changed(self) -> bool:
        return self.before != self.after or bool(self.added or self.removed)


COMPARISON_LIST_LIMIT = 50


def compare_reports(older: Report, newer: Report) -> list[FigureChange]:
    """Which figures differ between two computed reports of the same period and scope,
    and which records explain it (counted in one, not in the other)."""
    if not (older.is_computed() and newer.is_computed()):
        raise ReportError(_("Both reports must have computed figures to be compared."))
    before_values = {i["code"]: i["value"] for i in (older.content or {})["indicators"]}
    after_values = {i["code"]: i["value"] for i in (newer.content or {})["indicators"]}
    before_ids = older.evidence or {}
    after_ids = newer.evidence or {}

    @functools.cache  # a share's base records are another indicator's (VISITS)
    def differ(code: str) -> tuple[list[int], list[int]]:
        old, new = set(before_ids.get(code, [])), set(after_ids.get(code, []))
        return sorted(new - old), sorted(old - new)

    changes = []
    for item in queries.INDICATORS:
        added, removed = differ(item.code)
        base_changed = bool(item.base_records) and any(differ(item.base_records))
        change = FigureChange(
            code=item.code,
            name=item.name,
            unit=str(item.unit),
            before=before_values.get(item.code),
            after=after_values.get(item.code),
            added=_describe(item.subject, added[:COMPARISON_LIST_LIMIT]),
            removed=_describe(item.subject, removed[:COMPARISON_LIST_LIMIT]),
            more_added=max(0, len(added) - COMPARISON_LIST_LIMIT),
            more_removed=max(0, len(removed) - COMPARISON_LIST_LIMIT),
            base_code=item.base_records if base_changed else "",
        )
        if change.changed:
            changes.append(change)
    return changes


def _describe(subject: Subject, ids: Sequence[int]) -> list[RecordChange]:
    """Names and links of records by id (a removed record may no longer exist)."""
    from pipeline.models import TransferRequest
    from scouting.models import FollowUp

    if not ids:
        return []
    found: dict[int, RecordChange] = {}
    if subject == Subject.ORGANISATION:
        for org in Organisation.objects.filter(pk__in=ids).only("pk", "name"):
            found[org.pk] = RecordChange(org.pk, org.name, org.get_absolute_url())
    elif subject == Subject.VISIT:
        for visit in Visit.objects.filter(pk__in=ids).select_related("organisation"):
            label = _("Visit on %(date)s: %(organisation)s") % {
                "date": formats.date_format(timezone.localdate(visit.visited_at), "d.m.Y"),
                "organisation": visit.organisation.name,
            }
            found[visit.pk] = RecordChange(visit.pk, label, visit.get_absolute_url())
    elif subject == Subject.REQUEST:
        for request in TransferRequest.objects.filter(pk__in=ids).select_related("organisation"):
            label = _("Transfer request #%(pk)s: %(organisation)s") % {
                "pk": request.pk,
                "organisation": request.organisation.name,
            }
            found[request.pk] = RecordChange(request.pk, label, request.get_absolute_url())
    elif subject == Subject.FOLLOW_UP:
        for follow_up in FollowUp.objects.filter(pk__in=ids).select_related("organisation"):
            label = _("Follow-up #%(pk)s: %(organisation)s") % {
                "pk": follow_up.pk,
                "organisation": follow_up.organisation.name if follow_up.organisation else "–",
            }
            found[follow_up.pk] = RecordChange(follow_up.pk, label, follow_up.get_absolute_url())
    return [
        found.get(pk) or RecordChange(pk, _("#%(pk)s (deleted)") % {"pk": pk}, "") for pk in ids
    ]


def previous_publication(report: Report) -> Report | None:
    """The latest published version of the same period and scope before this one."""
    return (
        Report.objects.for_period(report.period, report.scope_key)
        .published()
        .filter(version__lt=report.version)
        .order_by("-version")
        .defer("evidence")  # read by the comparison only
        .first()
    )


# --- Dashboard -------------------------------------------------------------------------


DASHBOARD_SECONDS = 5 * 60  # the running period
DASHBOARD_FINISHED_SECONDS = 6 * 60 * 60  # a finished one (the page offers to recompute)


def _dashboard_key(scope: Scope) -> str:
    return f"reporting:dashboard:{scope.cache_key}"


def cached_dashboard_figures(scope: Scope) -> dict[str, Any] | None:
    return cache.get(_dashboard_key(scope))


def forget_dashboard_figures(scope: Scope) -> None:
    """Recompute on the next view: the figures of the period and of the one before (the
    dashboard shows both), and — through a new ``cache_epoch`` — the breakdowns and
    record lists cached for them, so that a figure and its records never disagree."""
    for each in (scope, scope.with_period(scope.period.previous())):
        cache.delete_many([_dashboard_key(each), _totals_key(each)])
        key = _epoch_key(each)
        try:
            cache.incr(key)
        except ValueError:  # not cached (yet, or any more)
            cache.set(key, 1, EPOCH_SECONDS)


# Longer than anything keyed by an epoch lives, so an expired epoch finds none of its keys.
EPOCH_SECONDS = 24 * 60 * 60


def _epoch_key(scope: Scope) -> str:
    return _dashboard_key(scope).replace(":dashboard:", ":epoch:", 1)


def cache_epoch(scope: Scope) -> int:
    """Part of the cache keys of what is computed for ``scope``; changes when its
    figures are recomputed on request."""
    return int(cache.get(_epoch_key(scope), 0))


def dashboard_figures(scope: Scope) -> dict[str, Any]:
    """Every indicator's value in the period and in the one before, computed now and
    cached. The dashboard never waits for it (it loads the table afterwards),
    ``warm_dashboard`` computes the default view every morning, and each period's values
    are cached on their own (the period before this one is often the one viewed before).
    """
    current, previous = periods_totals([scope, scope.with_period(scope.period.previous())])
    figures = {
        "current": current["values"],
        "previous": previous["values"],
        "computed_at": min(current["computed_at"], previous["computed_at"]),
    }
    cache.set(_dashboard_key(scope), figures, _cache_seconds(scope))
    return figures


def periods_totals(scopes: Sequence[Scope]) -> list[dict[str, Any]]:
    """``{"values": code → value, "computed_at": …}`` of each scope, from the cache or
    computed now (``_computed_totals``) and cached."""
    keys = [_totals_key(scope) for scope in scopes]
    cached = cache.get_many(keys)
    missing = [scope for scope, key in zip(scopes, keys, strict=True) if key not in cached]
    if missing:
        cached.update(_cached_totals(_computed_totals(missing)))
    return [cached[key] for key in keys]


def _cached_totals(computed: dict[Scope, Totals]) -> dict[str, dict[str, Any]]:
    """Cache each scope's values just computed; cache key → what was cached."""
    computed_at = timezone.now()
    entries = {}
    for scope, values in computed.items():
        key = _totals_key(scope)
        entries[key] = {"values": values, "computed_at": computed_at}
        cache.set(key, entries[key], _cache_seconds(scope))
    return entries


class _TotalsWork:
    """The statements behind some scopes' totals, one per scope and statement
    (``queries.SUMS_STATEMENTS``; with ``halves``, a single scope's organisations — the
    longest statement — in two halves),
    taken by whichever connection is free (``take``) and added up (``values``)."""

    Item = tuple[Scope, Subject, tuple[int, int]]

    def __init__(self, scopes: Sequence[Scope], *, halves: bool = False) -> None:
        self.scopes = list(scopes)
        split = halves and len(self.scopes) == 1
        self.items: list[_TotalsWork.Item] = [
            (scope, subject, (half, n))
            for subject in queries.SUMS_STATEMENTS
            for n in [2 if split and subject == Subject.ORGANISATION else 1]
            for scope in self.scopes
            for half in range(n)
        ]
        self.queue: queue.SimpleQueue[_TotalsWork.Item] = queue.SimpleQueue()
        for item in self.items:
            self.queue.put(item)
        self.done: dict[_TotalsWork.Item, dict[str, int]] = {}

    def _compute(self, item: Item) -> None:
        scope, subject, shard = item
        with queries.computing(scope, materialize=False) as computation:
            for each, sums in queries.statement_sums(subject, computation, shard=shard).items():
                self.done[(scope, each, shard)] = sums

    def take(self) -> None:
        """Compute statements on this thread's connection until none is left."""
        while True:
            try:
                item = self.queue.get_nowait()
            except queue.Empty:
                return
            self._compute(item)

    def finish(self) -> None:
        """Compute here what another connection took and did not finish."""
        for item in self.items:
            if item not in self.done:
                self._compute(item)

    def values(self) -> dict[Scope, Totals]:
        added: dict[tuple[Scope, Subject], dict[str, int]] = {}
        for (scope, subject, _shard), sums in self.done.items():
            total = added.setdefault((scope, subject), dict.fromkeys(sums, 0))
            for name, number in sums.items():
                total[name] += number
        values: dict[Scope, Totals] = {scope: {} for scope in self.scopes}
        for (scope, subject), sums in added.items():
            values[scope].update(queries.values_of(queries.indicators_of(subject), sums))
        return values


def _computed_totals(scopes: Sequence[Scope]) -> dict[Scope, Totals]:
    """Every indicator's value in each scope, in one snapshot. On PostgreSQL two
    connections share the statements out (``_TotalsWork``), each on one core without
    parallel workers: much of a statement's time (grouping the events by record,
    merging them with the organisations) is serial, so this leaves no core idle. At
    state scale a quarter and the one before cold in ~0.6 s instead of ~2.1 s."""
    with _snapshot() as snapshot:
        two = snapshot.exported is not None
        work = _TotalsWork(scopes, halves=two)
        with snapshot.alongside(work.take) as other:
            work.take()
            try:
                other.result()
            except DatabaseError:
                # No second connection (the server's limit reached, say): what it had
                # taken is computed here; the figures only take longer.
                logger.warning("Dashboard figures on one connection", exc_info=True)
        work.finish()
    return work.values()


def _totals_key(scope: Scope) -> str:
    return _dashboard_key(scope).replace(":dashboard:", ":totals:", 1)


def _cache_seconds(scope: Scope) -> int:
    finished = scope.period.end < timezone.localdate()
    return DASHBOARD_FINISHED_SECONDS if finished else DASHBOARD_SECONDS


def warm_dashboard(*, today: datetime.date | None = None) -> Scope:
    """Compute, for the whole region, the dashboard's default view (the last finished
    quarter and the one before) and the periods the running half-year and year are
    compared with (the last half-year and year): a view of a running period then
    computes that period alone (at state scale the running year 1.4 → 0.85 s). Always
    anew, whatever is cached, so the figures of finished periods stay cached however
    long the previous run's entries had left."""
    today = today or timezone.localdate()
    scope = Scope(Period.containing_quarter(today).previous())
    half_year = Period.half_year(today.year, 1 if today.month <= 6 else 2)
    periods = [scope.period, scope.period.previous(), half_year.previous()]
    periods.append(Period.year(today.year - 1))
    _cached_totals(_computed_totals([Scope(period) for period in dict.fromkeys(periods)]))
    dashboard_figures(scope)
    return scope


# --- Schedule --------------------------------------------------------------------------


def due_quarter(today: datetime.date) -> Period | None:
    """The finished quarter whose draft is due on or before ``today``: the previous
    quarter, once its first working day after the end has come."""
    quarter = Period.containing_quarter(today).previous()
    if today < first_working_day_after(quarter.end):
        return None
    return quarter


def create_scheduled_draft(*, today: datetime.date | None = None) -> Report | None:
    """On the first working day after a quarter (or later, if the scheduler was down),
    create and compute the quarter's draft for the whole region and email
    administration — once per quarter, however often this runs."""
    today = today or timezone.localdate()
    quarter = due_quarter(today)
    if quarter is None:
        return None
    report = (
        Report.objects.filter(period_start=quarter.start, period_end=quarter.end, is_scheduled=True)
        .defer("evidence")
        .first()
    )
    if report is not None and (report.is_published() or report.is_computed()):
        return None
    if report is None:
        try:
            with transaction.atomic():
                report = create_report(period=quarter, by=None, scheduled=True)
        except IntegrityError:
            return None  # another worker was quicker
    # else: an earlier run created the draft, but its computation failed or was cut
    # off (the task is retried after a database error): compute it now.
    report = compute_report(report.pk)
    transaction.on_commit(lambda: notify_draft_ready(report))
    return report


def notify_draft_ready(report: Report) -> int:
    """Email every active administration user with an address that the draft is ready."""
    url = settings.SITE_URL.rstrip("/") + reverse("reporting:report_detail", args=[report.pk])
    messages = []
    with translation.override(settings.LANGUAGE_CODE):
        for user in users_with_role(Role.ADMINISTRATION).exclude(email=""):
            context = {
                "report": report,
                "url": url,
                "name": user.get_full_name() or user.get_username(),
                "REGION_NAME": settings.REGION_NAME,
            }
            subject = render_to_string("reporting/email/draft_ready_subject.txt", context)
            message = EmailMultiAlternatives(
                settings.EMAIL_SUBJECT_PREFIX + subject.strip(),
                render_to_string("reporting/email/draft_ready.txt", context),
                to=[user.email],
            )
            message.attach_alternative(
                render_to_string("reporting/email/draft_ready.html", context), "text/html"
            )
            messages.append(message)
    if not messages:
        return 0
    with get_connection() as mail:
        return mail.send_messages(messages) or 0
