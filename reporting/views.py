"""Pages of impact reports: list, create, compute, narrative, publish, download, compare.

Who may do what: administration prepares and publishes; network managers read every
report; funding-body viewers read and download published reports only (drafts do not
exist for them: 404)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Prefetch
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from crm.extensions import Panel
from crm.permissions import require_permission
from crm.web import error_text

from . import services, tasks
from .dashboard_views import may_see_indicators
from .forms import ScopeForm, scope_query
from .models import Report, ReportFile, ReportFrozen


def get_report(user: Any, pk: int) -> Report:
    """The report if ``user`` may see it; 404 otherwise (a funder never learns of
    drafts)."""
    require_permission(user, "reporting.view_report")
    # Without the evidence (a year's: 2.2 million ids at state scale, 16 MB of JSON);
    # the comparison, the only page that needs it, loads it when it reads it.
    report = Report.objects.for_user(user).filter(pk=pk).defer("evidence").first()
    if report is None:
        raise Http404(_("No such report."))
    return report


def report_panels(request: HttpRequest) -> list[Panel]:
    """Start page: the latest published reports with their files, for everyone who may
    read reports (for the funding body the start page holds nothing else)."""
    user = request.user
    if not user.has_perm("reporting.view_report"):
        return []
    reports = list(
        Report.objects.published()
        .prefetch_related("districts", Prefetch("files", ReportFile.objects.defer("data")))
        .defer("content", "evidence")
        .order_by("-published_at")[:5]
    )
    return [Panel("reporting/_panel_reports.html", {"reports": reports}, order=5)]


def _listed_reports(user: Any) -> Any:
    return (
        Report.objects.for_user(user).prefetch_related("districts").defer("content", "evidence")
    )[:200]


@login_required
@require_GET
def report_list(request: HttpRequest) -> HttpResponse:
    require_permission(request.user, "reporting.view_report")
    can_create = request.user.has_perm("reporting.add_report")
    form = ScopeForm(None, today=timezone.localdate()) if can_create else None
    return render(
        request,
        "reporting/report_list.html",
        {"reports": _listed_reports(request.user), "form": form, "can_create": can_create},
    )


@login_required
@require_POST
def report_create(request: HttpRequest) -> HttpResponse:
    """Create (or recompute) the draft of a period and scope and compute it in the
    background."""
    require_permission(request.user, "reporting.add_report")
    form = ScopeForm(request.POST, today=timezone.localdate(), fill_defaults=False)
    if not form.is_valid():
        return render(
            request,
            "reporting/report_list.html",
            {"reports": _listed_reports(request.user), "form": form, "can_create": True},
            status=400,
        )
    try:
        report = services.create_report(
            period=form.cleaned_data["period"],
            districts=form.cleaned_data.get("districts") or [],
            by=request.user,
        )
    except ValidationError as error:
        messages.error(request, error_text(error))
        return redirect("reporting:report_list")
    _start_computation(request, report)
    return redirect(report)


def _start_computation(request: HttpRequest, report: Report) -> None:
    try:
        services.mark_pending(report)
    except ReportFrozen:  # published meanwhile (a second tab, a double click)
        messages.error(request, _("A published report cannot be changed."))
        return
    tasks.compute_report.delay_on_commit(report.pk, request.user.pk)


@login_required
@require_GET
def report_detail(request: HttpRequest, pk: int) -> HttpResponse:
    report = get_report(request.user, pk)
    user = request.user
    content = report.content if report.is_computed() else None
    rows = []
    if content:
        for item in content["indicators"]:
            rows.append({**item, "change": _change(item["value"], item["previous_value"])})
    files = {f.kind: f for f in report.files.defer("data")} if report.is_published() else {}
    previous = services.previous_publication(report)
    # Staff see who did what and follow figures to their records; funders do not.
    staff = may_see_indicators(user)
    scope = services.scope_of(report) if staff else None
    context = {
        "report": report,
        "content": content,
        "rows": rows,
        "files": files,
        "previous": previous,
        "progress": services.report_progress(report),
        "running": report.generation in (Report.Generation.PENDING, Report.Generation.RUNNING),
        "unfinished": not report.is_published()
        and not report.period.is_finished(today=timezone.localdate()),
        "can_change": user.has_perm("reporting.change_report") and not report.is_published(),
        "can_publish": user.has_perm("reporting.publish_report")
        and not report.is_published()
        and report.is_computed(),
        "can_regenerate": user.has_perm("reporting.add_report"),
        "show_people": staff,
        "drill_down": staff,
        "scope_query": scope_query(scope) if staff else "",
        "previous_scope_query": scope_query(scope.with_period(report.period.previous()))
        if staff
        else "",
    }
    return render(request, "reporting/report_detail.html", context)


def _change(value: Any, previous: Any) -> dict[str, Any] | None:
    if previous is None:
        return None
    difference = value - previous
    percent = round(100 * difference / previous, 1) if previous else None
    return {"difference": difference, "percent": percent}


@login_required
@require_GET
def report_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """htmx: the progress of a computation; reloads the page once it is finished."""
    report = get_report(request.user, pk)
    running = report.generation in (Report.Generation.PENDING, Report.Generation.RUNNING)
    response = render(
        request,
        "reporting/_report_progress.html",
        {"report": report, "progress": services.report_progress(report), "running": running},
    )
    if not running and request.htmx:
        response["HX-Refresh"] = "true"
    return response


@login_required
@require_POST
def report_compute(request: HttpRequest, pk: int) -> HttpResponse:
    report = get_report(request.user, pk)
    require_permission(request.user, "reporting.change_report")
    if report.is_published():
        messages.error(request, _("A published report cannot be changed."))
        return redirect(report)
    _start_computation(request, report)
    return redirect(report)


@login_required
@require_POST
def report_regenerate(request: HttpRequest, pk: int) -> HttpResponse:
    """Generate the same period and scope again: a new version beside the published
    one (or the existing draft, recomputed)."""
    report = get_report(request.user, pk)
    require_permission(request.user, "reporting.add_report")
    try:
        draft = services.create_report(
            period=report.period, districts=list(report.districts.all()), by=request.user
        )
    except ValidationError as error:
        messages.error(request, error_text(error))
        return redirect(report)
    _start_computation(request, draft)
    return redirect(draft)


@login_required
@require_POST
def report_narrative(request: HttpRequest, pk: int) -> HttpResponse:
    report = get_report(request.user, pk)
    require_permission(request.user, "reporting.change_report")
    # A text the request does not carry stays as it is (the page's form sends all three).
    post = request.POST
    try:
        services.update_narrative(
            report,
            progress=post.get("narrative_progress", report.narrative_progress),
            problems=post.get("narrative_problems", report.narrative_problems),
            outlook=post.get("narrative_outlook", report.narrative_outlook),
            by=request.user,
        )
    except ValidationError as error:
        messages.error(request, error_text(error))
        return redirect(report)
    messages.success(request, _("The narrative has been saved."))
    return redirect(report)


@login_required
@require_POST
def report_publish(request: HttpRequest, pk: int) -> HttpResponse:
    report = get_report(request.user, pk)
    require_permission(request.user, "reporting.publish_report")
    if report.is_published():
        messages.error(request, _("This report is already published."))
        return redirect(report)
    if not report.is_computed():
        messages.error(request, _("The report's figures have not been computed yet."))
        return redirect(report)
    if request.POST.get("confirm") != "yes":
        messages.error(request, _("Please confirm that the report may be published."))
        return redirect(report)
    try:
        services.mark_pending(report)
    except ReportFrozen:  # published by a request a moment earlier (a double click)
        messages.error(request, _("This report is already published."))
        return redirect(report)
    try:
        tasks.publish_report.delay_on_commit(report.pk, request.user.pk)
    except ValidationError as error:  # eager mode: the task ran right here
        Report.objects.filter(pk=report.pk, status=Report.Status.DRAFT).update(
            generation=Report.Generation.DONE
        )
        messages.error(request, error_text(error))
        return redirect(report)
    report.refresh_from_db()
    if report.is_published():
        messages.success(request, _("The report has been published; it can no longer change."))
    return redirect(report)


@login_required
@require_GET
def report_download(request: HttpRequest, pk: int, kind: str) -> HttpResponse:
    """A published report's stored file; for a draft a preview rendered now."""
    report = get_report(request.user, pk)
    if kind not in ReportFile.Kind.values:
        raise Http404
    if report.is_published():
        stored = report.stored_file(kind)
        if stored is None:
            raise Http404
        return file_response(stored)
    if not report.is_computed():
        raise Http404(_("The report's figures have not been computed yet."))
    data = services.render_pdf(report) if kind == "pdf" else services.render_xlsx(report)
    preview = ReportFile.of(report, kind, data)
    return file_response(preview, filename=preview.filename.replace(f".{kind}", f"-entwurf.{kind}"))


def file_response(file: ReportFile, *, filename: str = "") -> HttpResponse:
    """A report file as a download, with its SHA-256 in a header (pages and API)."""
    response = HttpResponse(file.content(), content_type=file.content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename or file.filename}"'
    response["X-Content-SHA256"] = file.sha256
    return response


@login_required
@require_GET
def report_compare(request: HttpRequest, pk: int) -> HttpResponse:
    """htmx: how this report's figures differ from the previous publication of the same
    period and scope, and which records explain it."""
    report = get_report(request.user, pk)
    if not may_see_indicators(request.user):
        raise PermissionDenied
    previous = services.previous_publication(report)
    if previous is None or not report.is_computed():
        raise Http404(_("There is nothing to compare with."))
    try:
        changes = services.compare_reports(previous, report)
    except ReportFrozen:
        raise Http404 from None
    return render(
        request,
        "reporting/_report_comparison.html",
        {"report": report, "previous": previous, "changes": changes},
    )
