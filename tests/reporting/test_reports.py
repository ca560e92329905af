"""Report lifecycle: create, compute, narrative, publish (frozen files and hashes),
regenerate after a correction (a new version and what changed), schedule, command."""

from __future__ import annotations

import datetime
import hashlib
import io
import threading
import time
import uuid
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied
from django.core.management import CommandError, call_command
from django.db import IntegrityError, OperationalError, connection, transaction
from openpyxl import load_workbook
from pypdf import PdfReader

from crm.models import Organisation
from reporting import services
from reporting.models import (
    Report,
    ReportFile,
    ReportFrozen,
    first_working_day_after,
    public_holidays,
)
from reporting.periods import Period
from scouting.models import Visit
from scouting.services import record_visit, submit_visit

BERLIN = ZoneInfo("Europe/Berlin")
Q3 = Period.quarter(2026, 3)


def visit_at(organisation, scout, moment: datetime.datetime, **fields) -> Visit:
    visit, _created = record_visit(uuid=uuid.uuid4(), organisation=organisation, by=scout, **fields)
    visit = submit_visit(visit, by=scout)
    Visit.objects.filter(pk=visit.pk).update(visited_at=moment)
    return visit


@pytest.fixture
def enterprises(region, scout):
    """Two SMEs visited in Q3 2026 (one twice), one in Q2."""
    rural = Organisation.objects.create(
        name="Müller Maschinenbau GmbH", kind="sme", employees=42, municipality=region["rural"]
    )
    urban = Organisation.objects.create(
        name="=Formel AG", kind="sme", employees=5, municipality=region["urban"]
    )
    visit_at(rural, scout, datetime.datetime(2026, 7, 3, 10, tzinfo=BERLIN))
    visit_at(rural, scout, datetime.datetime(2026, 8, 3, 10, tzinfo=BERLIN))
    visit_at(urban, scout, datetime.datetime(2026, 9, 30, 23, 30, tzinfo=BERLIN))
    visit_at(urban, scout, datetime.datetime(2026, 6, 30, 23, 30, tzinfo=BERLIN))
    return {"rural": rural, "urban": urban}


def figure(report: Report, code: str):
    return next(i for i in report.content["indicators"] if i["code"] == code)


def test_compute_stores_figures_evidence_and_versions(enterprises, administration):
    report = services.create_report(period=Q3, by=administration)
    assert report.status == Report.Status.DRAFT and report.version == 1
    assert report.title == "Wirkungsbericht Q3 2026"
    report = services.compute_report(report.pk, by=administration)

    assert report.is_computed()
    assert figure(report, "RCO01")["value"] == 2  # each enterprise once
    assert figure(report, "VISITS")["value"] == 3  # 30.09. 23:30 local is still Q3
    assert figure(report, "VISITS")["previous_value"] == 1
    assert figure(report, "RURAL_SHARE")["value"] == pytest.approx(66.7)
    assert sorted(report.evidence["RCO01"]) == sorted(o.pk for o in enterprises.values())
    assert report.indicator_versions["RCO01"] == 1
    assert len(report.figures_sha256) == 64
    assert [p["label"] for p in figure(report, "VISITS")["trend"]] == [
        "Q4 2025",
        "Q1 2026",
        "Q2 2026",
        "Q3 2026",
    ]
    assert report.history.first().history_user == administration


def test_only_administration_creates_and_publishes(enterprises, manager, scout, funder):
    for user in (manager, scout, funder):
        with pytest.raises(PermissionDenied):
            services.create_report(period=Q3, by=user)


def test_same_period_reuses_the_draft(enterprises, administration, region):
    first = services.create_report(period=Q3, by=administration)
    again = services.create_report(period=Q3, by=administration)
    assert again.pk == first.pk
    other_scope = services.create_report(
        period=Q3, districts=[region["district"]], by=administration
    )
    assert other_scope.pk != first.pk and other_scope.scope_key == "03158"
    with pytest.raises(IntegrityError), transaction.atomic():
        Report.objects.create(
            title="x", period_start=Q3.start, period_end=Q3.end, scope_key="", version=2
        )


def test_district_scope_counts_only_its_organisations(enterprises, administration, region):
    report = services.create_report(period=Q3, districts=[region["district"]], by=administration)
    report = services.compute_report(report.pk)
    assert report.evidence["RCO01"] == [enterprises["rural"].pk]
    assert report.title == "Wirkungsbericht Q3 2026 – Wolfenbüttel"


def test_narrative_is_saved_with_history_and_refused_when_too_long(enterprises, administration):
    report = services.create_report(period=Q3, by=administration)
    services.update_narrative(
        report, progress=" Gut\x00 voran ", problems="", outlook="Mehr", by=administration
    )
    report.refresh_from_db()
    assert report.narrative_progress == "Gut voran"
    with pytest.raises(services.ReportError):
        services.update_narrative(
            report, progress="x" * 20_001, problems="", outlook="", by=administration
        )
    report.refresh_from_db()
    assert report.narrative_progress == "Gut voran"


def test_narrative_line_breaks_count_once(enterprises, administration):
    """Browsers send line breaks as CRLF but count them as one character (maxlength)."""
    report = services.create_report(period=Q3, by=administration)
    text = "Zeile\r\n" * 2_500 + "x" * 5_000  # 22,500 sent, 20,000 as the browser counts
    services.update_narrative(report, progress=text, problems="", outlook="", by=administration)
    report.refresh_from_db()
    assert len(report.narrative_progress) == 20_000
    assert "\r" not in report.narrative_progress
    with pytest.raises(services.ReportError, match="20.000"):  # German grouping
        services.update_narrative(
            report, progress="x" * 20_001, problems="", outlook="", by=administration
        )


def test_a_period_that_has_not_begun_is_refused(enterprises, administration, monkeypatch):
    monkeypatch.setattr(services.timezone, "localdate", lambda *a, **k: datetime.date(2026, 9, 1))
    with pytest.raises(services.ReportError):
        services.create_report(period=Period.quarter(2026, 4), by=administration)
    # The running quarter may be previewed (its figures will still change).
    assert services.create_report(period=Q3, by=administration).pk
    assert Report.objects.count() == 1


def test_a_report_published_meanwhile_is_not_marked_for_computing(enterprises, administration):
    """A second tab or a double click: the page read the draft, then another request
    published it. Marking it pending must neither change the published row nor fail
    with a database error."""
    report = services.compute_report(services.create_report(period=Q3, by=administration).pk)
    stale = Report.objects.get(pk=report.pk)
    services.publish_report(report.pk, by=administration)
    with pytest.raises(ReportFrozen):
        services.mark_pending(stale)
    with pytest.raises(ReportFrozen):
        services.compute_report(report.pk)
    stored = Report.objects.get(pk=report.pk)
    assert stored.is_published() and stored.generation == Report.Generation.DONE


def test_publishing_after_a_failed_attempt_forgets_the_failure(enterprises, administration):
    report = services.compute_report(services.create_report(period=Q3, by=administration).pk)
    # What a failed publication leaves on the draft.
    Report.objects.filter(pk=report.pk).update(generation_error="Publishing failed: disk full")
    report = services.publish_report(report.pk, by=administration)
    assert Report.objects.get(pk=report.pk).generation_error == ""


@pytest.mark.skipif(connection.vendor != "postgresql", reason="a shared snapshot")
def test_both_connections_compute_in_the_same_snapshot(
    transactional_db, enterprises, administration, scout, monkeypatch
):
    """Breakdowns, evidence, trend and the previous period are computed on a second
    connection that imports the first one's snapshot: visits committed meanwhile count
    nowhere in the report."""
    report = services.create_report(period=Q3, by=administration)
    threads = []
    alongside = services._snapshot.alongside

    def visits_committed_meanwhile(self, work):
        def record() -> None:
            try:
                for day in (datetime.date(2026, 5, 4), datetime.date(2026, 8, 20)):
                    moment = datetime.datetime.combine(day, datetime.time(10), tzinfo=BERLIN)
                    visit_at(enterprises["urban"], scout, moment)
            finally:
                connection.close()

        recorder = threading.Thread(target=record)
        recorder.start()
        recorder.join()
        return alongside(self, work)

    monkeypatch.setattr(services._snapshot, "alongside", visits_committed_meanwhile)
    run = services._Alongside._run

    def run_and_note(self) -> None:
        threads.append(threading.current_thread().name)
        run(self)

    monkeypatch.setattr(services._Alongside, "_run", run_and_note)
    report = services.compute_report(report.pk, by=administration)

    assert threads == ["reporting-alongside"]  # the second connection did its part
    assert Visit.objects.count() == 6  # the visits were there, committed
    visits = figure(report, "VISITS")
    assert visits["value"] == 3 and len(report.evidence["VISITS"]) == 3  # not 4
    assert sum(row["value"] for row in visits["breakdowns"]["district"]) == 3
    assert visits["previous_value"] == 1  # not 2
    assert [p["value"] for p in visits["trend"]] == [0, 0, 1, 3]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="a second connection")
def test_each_connection_of_a_snapshot_runs_without_parallel_workers(transactional_db):
    """Two connections keep both cores busy; parallel workers would compete with them."""

    def setting() -> str:
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_setting('max_parallel_workers_per_gather')")
            return cursor.fetchone()[0]

    outside = setting()
    assert outside != "0"  # the server's default: a test that could fail
    with services._snapshot() as snapshot:
        with snapshot.alongside(setting) as other:
            here = setting()
        assert (here, other.result()) == ("0", "0")
    assert setting() == outside  # only for the snapshot's transaction


@pytest.mark.skipif(connection.vendor != "postgresql", reason="a second connection")
def test_a_years_figures_shared_by_two_connections_are_the_figures(
    transactional_db, dataset, administration
):
    """A year's report on two connections, each computing some subjects' breakdowns,
    evidence and trend from tables of its own, gives what the queries give alone."""
    from reporting import queries

    year = Period.year(2026)
    report = services.compute_report(
        services.create_report(period=year, by=administration).pk, by=administration
    )
    scope = queries.Scope(year)
    totals, split = queries.totals(scope), queries.breakdowns(scope)
    quarters = [queries.totals(scope.with_period(quarter)) for quarter in year.quarters()]
    previous = queries.totals(scope.with_period(year.previous()))
    for item in report.content["indicators"]:
        code = item["code"]
        assert item["value"] == totals[code], code
        assert item["previous_value"] == previous[code], code
        assert [p["value"] for p in item["trend"]] == [q[code] for q in quarters], code
        assert {
            name: [(row["key"], row["value"]) for row in rows]
            for name, rows in item["breakdowns"].items()
        } == {name: [(r.key, r.value) for r in rows] for name, rows in split[code].items()}
    assert report.evidence == queries.evidence_ids(scope)
    # Both connections had something to count.
    assert all(totals[code] for code in ("VISITS", "RCO01", "REQ_RECEIVED", "FOLLOW_UPS_ON_TIME"))


def test_dashboard_totals_are_each_periods_totals(enterprises):
    """Shared out by subject (on PostgreSQL between two connections), the dashboard's
    figures are still every period's and district's own totals."""
    from reporting import queries

    district = enterprises["urban"].municipality.district_id
    scopes = [
        queries.Scope(Q3),
        queries.Scope(Q3.previous()),
        queries.Scope(Period.year(2026), (district,)),
    ]
    computed = services._computed_totals(scopes)
    assert computed == {scope: queries.totals(scope) for scope in scopes}
    assert computed[scopes[0]]["VISITS"] == 3 and computed[scopes[1]]["VISITS"] == 1


@pytest.mark.skipif(connection.vendor != "postgresql", reason="a second connection")
def test_dashboard_totals_use_a_second_connection(transactional_db, enterprises, monkeypatch):
    from reporting import queries

    threads = []
    run = services._Alongside._run

    def run_and_note(self) -> None:
        threads.append(threading.current_thread().name)
        run(self)

    monkeypatch.setattr(services._Alongside, "_run", run_and_note)
    scope = queries.Scope(Q3)
    figures = services.dashboard_figures(scope)
    assert threads == ["reporting-alongside"]
    assert figures["current"] == queries.totals(scope)
    assert figures["previous"] == queries.totals(scope.with_period(Q3.previous()))
    with connection.cursor() as cursor:  # the planner settings did not outlive it
        cursor.execute("SHOW enable_nestloop")
        assert cursor.fetchone() == ("on",)
    # A single period: its organisations in two halves, one on each connection.
    # The visits' figures come with the organisations' (one statement for both).
    shards = []
    subject_sums, both = queries.subject_sums, queries.organisation_and_visit_sums

    def noted(subject, computation, own, *, shard):
        shards.append((str(subject), shard))
        return subject_sums(subject, computation, own, shard=shard)

    def noted_both(computation, *, shard):
        shards.append(("organisation", shard))
        return both(computation, shard=shard)

    monkeypatch.setattr(queries, "subject_sums", noted)
    monkeypatch.setattr(queries, "organisation_and_visit_sums", noted_both)
    year = scope.with_period(Period.year(2026))
    computed = services._computed_totals([year])
    monkeypatch.undo()
    assert computed == {year: queries.totals(year)}
    assert computed[year]["VISITS"] > 0 and computed[year]["RURAL_SHARE"] > 0
    assert sorted(s for s in shards if s[0] == "organisation") == [
        ("organisation", (0, 2)),
        ("organisation", (1, 2)),
    ]
    assert not [s for s in shards if s[0] == "visit"]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="a second connection")
def test_dashboard_totals_without_a_second_connection(transactional_db, enterprises, monkeypatch):
    """When the second connection fails (the server's limit reached, say), this one
    computes what it had taken: the figures only take longer."""
    from reporting import queries

    subject_sums = queries.subject_sums
    failed = []

    def failing_alongside(*args, **kwargs):
        if threading.current_thread().name == "reporting-alongside":
            failed.append(args[0])
            raise OperationalError("sorry, too many clients already")
        time.sleep(0.05)  # so that the second connection surely takes some
        return subject_sums(*args, **kwargs)

    monkeypatch.setattr(queries, "subject_sums", failing_alongside)
    scope = queries.Scope(Period.year(2026))
    assert services._computed_totals([scope]) == {scope: queries.totals(scope)}
    two = [queries.Scope(Q3), queries.Scope(Q3.previous())]
    assert services._computed_totals(two) == {each: queries.totals(each) for each in two}
    assert failed  # the second connection had taken some and failed


@pytest.fixture
def published(enterprises, administration):
    report = services.create_report(period=Q3, by=administration)
    services.compute_report(report.pk)
    services.update_narrative(
        report,
        progress="Fortschritt <gut> & schnell",
        problems="Keine",
        outlook="Ausblick",
        by=administration,
    )
    return services.publish_report(report.pk, by=administration)


def test_a_published_reports_evidence_cannot_be_replaced(published):
    before = Report.objects.get(pk=published.pk).evidence
    with pytest.raises(ReportFrozen):
        published.store_evidence("{}")
    assert Report.objects.get(pk=published.pk).evidence == before and before["VISITS"]


def test_publishing_freezes_files_and_hashes(published, administration):
    report = Report.objects.get(pk=published.pk)
    assert report.is_published() and report.published_by == administration
    files = {f.kind: f for f in report.files.all()}
    assert set(files) == {"pdf", "xlsx"}
    for stored in files.values():
        assert stored.sha256 == hashlib.sha256(bytes(stored.data)).hexdigest()
        assert stored.size == len(bytes(stored.data))

    pdf = PdfReader(io.BytesIO(bytes(files["pdf"].data)))
    text = "\n".join(page.extract_text() for page in pdf.pages)
    compact = text.replace("\n", "").replace(" ", "")
    assert report.figures_sha256 in compact  # footer
    assert files["xlsx"].sha256 in compact
    assert "Fortschritt <gut> & schnell" in text

    book = load_workbook(io.BytesIO(bytes(files["xlsx"].data)), read_only=True)
    assert "RCO01" in book.sheetnames
    cells = [row for row in book["RCO01"].iter_rows(values_only=True)]
    assert any(2 in row for row in cells if row)
    evidence = [s for s in book.sheetnames if "rganisation" in s][0]
    names = [row[1] for row in book[evidence].iter_rows(values_only=True) if row and row[1]]
    assert "'=Formel AG" in names  # formula-escaped


def test_files_are_finished_in_a_thread_without_the_database(
    enterprises, administration, monkeypatch
):
    """The XLSX is finished and the PDF drawn in a thread while the report is stored:
    that thread must not query (it would have a connection outside the snapshot)."""
    from django.db.backends.utils import CursorWrapper

    queried_in: set[str] = set()
    execute = CursorWrapper.execute

    def noting(self, *args, **kwargs):
        queried_in.add(threading.current_thread().name)
        return execute(self, *args, **kwargs)

    monkeypatch.setattr(CursorWrapper, "execute", noting)
    drawn_in: list[str] = []
    draw = services._draw_pdf

    def drawing(content):
        drawn_in.append(threading.current_thread().name)
        return draw(content)

    monkeypatch.setattr(services, "_draw_pdf", drawing)
    report = services.create_report(period=Q3, by=administration)
    report = services.publish_report(report.pk, by=administration)
    assert drawn_in and drawn_in[0].startswith("report-files")
    assert not {name for name in queried_in if name.startswith("report-files")}
    assert {f.kind for f in report.files.all()} == {"pdf", "xlsx"}


def test_figures_in_pdf_and_xlsx_agree_with_stored_figures(published):
    report = Report.objects.get(pk=published.pk)
    pdf = PdfReader(io.BytesIO(bytes(report.files.get(kind="pdf").data)))
    text = " ".join(page.extract_text() for page in pdf.pages)
    book = load_workbook(io.BytesIO(bytes(report.files.get(kind="xlsx").data)), read_only=True)
    for item in report.content["indicators"]:
        assert item["code"] in text
        values = [v for row in book[item["code"]].iter_rows(values_only=True) for v in row]
        assert item["value"] in values, item["code"]


def test_published_report_cannot_change(published, administration):
    report = Report.objects.get(pk=published.pk)
    report.narrative_outlook = "anders"
    with pytest.raises(ReportFrozen):
        report.save()
    with pytest.raises(ReportFrozen):
        report.delete()
    with pytest.raises(ReportFrozen):
        services.update_narrative(report, progress="x", problems="", outlook="", by=administration)
    with pytest.raises(ReportFrozen):
        services.compute_report(report.pk)
    with pytest.raises(services.ReportError):
        services.publish_report(report.pk, by=administration)
    stored = report.files.first()
    with pytest.raises(ReportFrozen):
        stored.save()
    with pytest.raises(ReportFrozen):
        stored.delete()
    report.refresh_from_db()
    assert report.narrative_outlook == "Ausblick"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="database trigger")
def test_database_refuses_changes_that_bypass_the_model(published):
    with pytest.raises(IntegrityError), transaction.atomic():
        Report.objects.filter(pk=published.pk).update(narrative_outlook="anders")
    with pytest.raises(IntegrityError), transaction.atomic():
        ReportFile.objects.filter(report=published).update(sha256="0" * 64)
    with pytest.raises(IntegrityError), transaction.atomic():
        ReportFile.objects.filter(report=published).delete()
    with pytest.raises(IntegrityError), transaction.atomic():
        published.districts.clear()
        published.districts.add(*__import__("crm.models").models.District.objects.all())


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's storage")
def test_large_values_are_stored_without_pglz(db):
    """Stored files are compressed already; the evidence is compressed with lz4 where
    the server has it (publishing waited half a second for each with pglz)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT attname, attstorage, attcompression FROM pg_attribute WHERE attname IN "
            "('data', 'evidence') AND attrelid IN "
            "('reporting_reportfile'::regclass, 'reporting_report'::regclass)"
        )
        found = {name: (storage, compression) for name, storage, compression in cursor}
        cursor.execute(
            "SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' "
            "AND 'lz4' = ANY(enumvals)"
        )
        lz4 = cursor.fetchone() is not None
    assert found["data"][0] == "e"  # EXTERNAL: out of line, never compressed
    assert found["evidence"][1] == ("l" if lz4 else "")


def test_regenerating_reproduces_the_figures_unless_facts_were_corrected(
    published, enterprises, administration, scout
):
    again = services.create_report(period=Q3, by=administration)
    assert again.pk != published.pk and again.version == 2
    again = services.compute_report(again.pk)
    assert again.figures_sha256 == published.figures_sha256
    assert services.compare_reports(published, again) == []

    # A correction: a visit typed in late (dated in Q3) and one moved out of Q3.
    late = Organisation.objects.create(name="Nachzügler KG", kind="sme", employees=3)
    visit_at(late, scout, datetime.datetime(2026, 9, 1, 9, tzinfo=BERLIN))
    moved = Visit.objects.filter(organisation=enterprises["urban"], visited_at__month=10)
    assert not moved.exists()
    Visit.objects.filter(
        organisation=enterprises["urban"], visited_at__gte=Q3.start_at, visited_at__lt=Q3.end_at
    ).update(visited_at=datetime.datetime(2026, 10, 2, 9, tzinfo=BERLIN))

    again = services.compute_report(again.pk)
    assert again.figures_sha256 != published.figures_sha256
    changes = {c.code: c for c in services.compare_reports(published, again)}
    rco01 = changes["RCO01"]
    assert (rco01.before, rco01.after) == (2, 2)
    assert [r.label for r in rco01.added] == ["Nachzügler KG"]
    assert [r.label for r in rco01.removed] == ["=Formel AG"]
    assert changes["VISITS"].before == 3 and changes["VISITS"].after == 3
    assert "RCO07" not in changes
    # The share of rural visits rose because its base lost the urban visit (the late
    # one's organisation has no municipality): no numerator record changed.
    share = changes["RURAL_SHARE"]
    assert (share.before, share.after) == (pytest.approx(66.7), 100.0)
    assert (share.added, share.removed, share.base_code) == ([], [], "VISITS")
    assert rco01.base_code == ""
    # The published one is untouched.
    published.refresh_from_db()
    assert figure(published, "RCO01")["value"] == 2


# --- Schedule ----------------------------------------------------------------------------


def test_working_days_skip_weekends_and_holidays():
    assert datetime.date(2026, 4, 3) in public_holidays(2026)  # Karfreitag
    assert datetime.date(2026, 4, 6) in public_holidays(2026)  # Ostermontag
    # Q4 2026 ends on Thursday 31.12.; 1.1. is a holiday, 2.1. a Saturday.
    assert first_working_day_after(datetime.date(2026, 12, 31)) == datetime.date(2027, 1, 4)
    # Q3 2026 ends on Wednesday 30.09.
    assert first_working_day_after(datetime.date(2026, 9, 30)) == datetime.date(2026, 10, 1)
    # Q1 2027 ends on Wednesday 31.03.; 1.4. is Thursday (Karfreitag is 26.3.).
    assert first_working_day_after(datetime.date(2027, 3, 31)) == datetime.date(2027, 4, 1)


def test_the_finished_quarter_is_due_from_its_first_working_day():
    assert services.due_quarter(datetime.date(2027, 1, 1)) is None  # holiday
    assert services.due_quarter(datetime.date(2027, 1, 3)) is None  # Sunday
    assert services.due_quarter(datetime.date(2027, 1, 4)) == Period.quarter(2026, 4)
    # Later in the quarter (beat was down): still the previous quarter.
    assert services.due_quarter(datetime.date(2027, 3, 15)) == Period.quarter(2026, 4)


def test_quarterly_draft_is_created_once_and_mailed(
    enterprises, administration, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        report = services.create_scheduled_draft(today=datetime.date(2026, 10, 1))
    assert report is not None and report.is_scheduled and report.is_computed()
    assert (report.period_start, report.period_end) == (Q3.start, Q3.end)
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [administration.email]
    assert "Wirkungsbericht Q3 2026" in mail.outbox[0].subject
    assert f"/berichte/{report.pk}/" in mail.outbox[0].body
    # Running again that day, the next day or after publication changes nothing.
    assert services.create_scheduled_draft(today=datetime.date(2026, 10, 1)) is None
    assert services.create_scheduled_draft(today=datetime.date(2026, 10, 2)) is None
    services.publish_report(report.pk, by=administration)
    assert services.create_scheduled_draft(today=datetime.date(2026, 10, 5)) is None
    assert Report.objects.count() == 1 and len(mail.outbox) == 1


def test_scheduled_draft_is_computed_on_the_next_run_after_a_failure(
    enterprises, administration, monkeypatch, django_capture_on_commit_callbacks
):
    """The task is retried after a database error; the retry found the draft created
    and stopped, leaving it uncomputed and nobody told."""
    compute = services._compute
    calls = []

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("connection lost")
        return compute(*args, **kwargs)

    monkeypatch.setattr(services, "_compute", flaky)
    with pytest.raises(OperationalError):
        services.create_scheduled_draft(today=datetime.date(2026, 10, 1))
    failed = Report.objects.get()
    assert failed.is_scheduled and failed.generation == Report.Generation.FAILED
    with django_capture_on_commit_callbacks(execute=True):
        report = services.create_scheduled_draft(today=datetime.date(2026, 10, 1))
    assert report is not None and report.pk == failed.pk and report.is_computed()
    assert len(mail.outbox) == 1
    assert services.create_scheduled_draft(today=datetime.date(2026, 10, 2)) is None


def test_scheduled_draft_takes_over_a_manual_draft(enterprises, administration):
    manual = services.create_report(period=Q3, by=administration)
    report = services.create_scheduled_draft(today=datetime.date(2026, 10, 1))
    assert report.pk == manual.pk and report.is_scheduled
    assert Report.objects.count() == 1


def test_quarterly_task_runs_the_service(enterprises, administration, settings, monkeypatch):
    from reporting import tasks

    monkeypatch.setattr(services.timezone, "localdate", lambda *a, **k: datetime.date(2026, 10, 1))
    report_id = tasks.create_quarterly_draft.delay().get()
    assert Report.objects.get(pk=report_id).is_scheduled
    assert tasks.create_quarterly_draft.delay().get() is None


def test_beat_schedule_has_the_quarterly_job():
    from crm.celery import app

    entry = app.conf.beat_schedule["reporting-quarterly-draft"]
    assert entry["task"] == "reporting.tasks.create_quarterly_draft"


# --- Command -----------------------------------------------------------------------------


def test_command_writes_draft_files(enterprises, tmp_path):
    out = io.StringIO()
    call_command(
        "impact_report",
        "--period",
        "2026-Q3",
        "--format",
        "pdf,xlsx",
        "--out",
        tmp_path,
        stdout=out,
    )
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == [
        "wirkungsbericht-2026-Q3-v1-entwurf.pdf",
        "wirkungsbericht-2026-Q3-v1-entwurf.xlsx",
    ]
    assert "SHA-256" in out.getvalue()
    assert Report.objects.get().is_computed()


def test_command_publishes(enterprises, administration, tmp_path):
    call_command(
        "impact_report",
        "--period",
        "2026-Q3",
        "--format",
        "pdf",
        "--out",
        tmp_path,
        "--publish",
        "--user",
        administration.username,
        stdout=io.StringIO(),
    )
    report = Report.objects.get()
    assert report.is_published()
    data = (tmp_path / "wirkungsbericht-2026-Q3-v1.pdf").read_bytes()
    assert hashlib.sha256(data).hexdigest() == report.files.get(kind="pdf").sha256


@pytest.mark.parametrize(
    "args, message",
    [
        (["--period", "2026-Q5"], "2026-Q5"),
        (["--period", "2026-Q3", "--format", "docx"], "Unknown format"),
        (["--period", "2026-Q3", "--districts", "99999"], "Unknown district"),
        (["--period", "2026-Q3", "--publish"], "--publish needs --user"),
        (["--period", "2026-Q3", "--publish", "--user", "nobody"], "No user"),
    ],
)
def test_command_refuses_bad_input(db, tmp_path, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("impact_report", *args, "--out", tmp_path, stdout=io.StringIO())
    assert not Report.objects.exists()


def test_morning_job_warms_the_dashboards_default_view(enterprises, settings, monkeypatch):
    from reporting import queries, tasks

    scope = services.warm_dashboard(today=datetime.date(2026, 11, 24))
    assert scope.period == Q3
    cached = services.cached_dashboard_figures(scope)
    assert cached["current"]["RCO01"] == 2 and cached["previous"]["VISITS"] == 1
    assert tasks.warm_dashboard.delay().get()  # runs through Celery (eagerly here)
    from crm.celery import app

    warming = app.conf.beat_schedule["reporting-warm-dashboard"]
    assert warming["task"] == "reporting.tasks.warm_dashboard"
    assert warming["schedule"].hour == {0, 6, 12, 18}  # as long as finished periods stay cached
    # What the running half-year and year are compared with is ready too, so viewing
    # them computes the running period alone.
    computed = []
    monkeypatch.setattr(services, "_computed_totals", lambda scopes: computed.append(scopes))
    for period in (Period.year(2025), Period.half_year(2026, 1), Q3, Q3.previous()):
        assert services.periods_totals([queries.Scope(period)])  # cached, not computed
    assert computed == []


def test_each_periods_dashboard_figures_are_cached_on_their_own(enterprises, monkeypatch):
    from django.core.cache import cache

    from reporting import queries

    cache.clear()
    computed = []
    compute = services._computed_totals

    def counted(scopes):
        computed.extend(scope.period.code for scope in scopes)
        return compute(scopes)

    monkeypatch.setattr(services, "_computed_totals", counted)
    q4 = queries.Scope(Period.quarter(2026, 4))
    services.dashboard_figures(q4)
    assert computed == ["2026-Q4", "2026-Q3"]
    figures = services.dashboard_figures(queries.Scope(Q3))  # Q3 was the period before
    assert computed == ["2026-Q4", "2026-Q3", "2026-Q2"]
    assert figures["current"]["VISITS"] == 3 and figures["previous"]["VISITS"] == 1

    services.forget_dashboard_figures(queries.Scope(Q3))  # "recompute" drops both
    services.dashboard_figures(queries.Scope(Q3))
    assert computed[3:] == ["2026-Q3", "2026-Q2"]


def test_demo_seed_publishes_last_quarters_report(
    region, administration, django_capture_on_commit_callbacks
):
    from reporting import demo

    counts = demo.seed(scale="demo", seed=1, bulk=False)
    assert counts == {"Wirkungsberichte": 2}
    published = Report.objects.published().get()
    assert published.narrative_progress and published.files.count() == 2
    assert Report.objects.drafts().get().is_computed()
    assert demo.seed(scale="demo", seed=1, bulk=False) == {}  # once
    assert demo.seed(scale="state", seed=1, bulk=True) == {}
