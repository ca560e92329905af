"""Pages of the spreadsheet import and the list exports."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    StreamingHttpResponse,
)
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from crm.filters import OrganisationFilter, PersonFilter
from crm.models import ImportJob
from crm.permissions import organisations_for, people_for, require_permission

from . import services
from .exports import csv_chunks, export_rows, write_xlsx
from .forms import MappingForm, RunForm, UploadForm
from .importer import ACTIONS, MappingError
from .parsing import ImportFileError
from .resources import OrganisationExportResource, PersonExportResource

IMPORT_PERMISSION = "crm.import_organisation"
EXPORT_PERMISSION = "crm.export_organisation"
ROWS_PER_PAGE = 50
JOBS_PER_PAGE = 25


def _job(request: HttpRequest, uuid: Any) -> ImportJob:
    require_permission(request.user, IMPORT_PERMISSION)
    try:
        return ImportJob.objects.select_related("created_by").get(uuid=uuid)
    except ImportJob.DoesNotExist:
        raise Http404 from None


def _page_of_jobs(request: HttpRequest) -> Any:
    jobs = ImportJob.objects.select_related("created_by").defer("summary", "headers", "columns")
    return Paginator(jobs, JOBS_PER_PAGE).get_page(request.GET.get("page"))


# --- Import --------------------------------------------------------------------------


@login_required
@require_GET
def import_list(request: HttpRequest) -> HttpResponse:
    require_permission(request.user, IMPORT_PERMISSION)
    return render(request, "dataio/import_list.html", {"page": _page_of_jobs(request)})


@login_required
@require_http_methods(["GET", "POST"])
def import_upload(request: HttpRequest) -> HttpResponse:
    require_permission(request.user, IMPORT_PERMISSION)
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            job = services.create_job(
                target=form.cleaned_data["target"],
                upload=form.cleaned_data["file"],
                mapping=form.cleaned_data["mapping"],
                by=request.user,  # type: ignore[arg-type]
            )
        except ImportFileError as exc:
            form.add_error("file", str(exc))
        else:
            return redirect("dataio:import_mapping", job.uuid)
    status = 400 if form.errors else 200
    return render(request, "dataio/import_upload.html", {"form": form}, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def import_mapping(request: HttpRequest, uuid: Any) -> HttpResponse:
    job = _job(request, uuid)
    if job.status not in (ImportJob.Status.UPLOADED, ImportJob.Status.PREVIEWED):
        return redirect("dataio:import_detail", job.uuid)
    form = MappingForm(request.POST or None, job=job)
    if request.method == "POST" and form.is_valid():
        try:
            job = services.set_columns(
                job,
                columns=form.columns(),
                save_as=form.cleaned_data["save_as"],
                by=request.user,  # type: ignore[arg-type]
            )
            background = services.start_check(job, by=request.user)  # type: ignore[arg-type]
        except (MappingError, services.ImportRefused) as exc:
            form.add_error(None, str(exc))
        else:
            if background:
                return redirect("dataio:import_detail", job.uuid)
            return redirect("dataio:import_preview", job.uuid)
    status = 400 if form.errors else 200
    return render(request, "dataio/import_mapping.html", {"job": job, "form": form}, status=status)


def _outcome_page(request: HttpRequest, outcome: dict[str, Any]) -> dict[str, Any]:
    """The rows of a check or result, filtered by action and paginated."""
    action = request.GET.get("action", "")
    rows = outcome.get("rows", [])
    if action in ACTIONS:
        rows = [r for r in rows if r["action"] == action]
    else:
        action = ""
    page = Paginator(rows, ROWS_PER_PAGE).get_page(request.GET.get("page"))
    return {
        "outcome": outcome,
        "page": page,
        "action": action,
        "querystring": f"action={action}" if action else "",
    }


@login_required
@require_GET
def import_preview(request: HttpRequest, uuid: Any) -> HttpResponse:
    job = _job(request, uuid)
    if job.status != ImportJob.Status.PREVIEWED:
        return redirect("dataio:import_detail", job.uuid)
    check = job.summary.get("check", {})
    context = {
        "job": job,
        "run_form": RunForm(),
        "importable": check.get("total_rows", 0) > check.get("rejected", 0),
        **_outcome_page(request, check),
    }
    return render(request, "dataio/import_preview.html", context)


@login_required
@require_POST
def import_run(request: HttpRequest, uuid: Any) -> HttpResponse:
    job = _job(request, uuid)
    form = RunForm(request.POST)
    form.is_valid()
    try:
        services.start_import(
            job,
            allow_partial=form.cleaned_data.get("allow_partial", False),
            by=request.user,  # type: ignore[arg-type]
        )
    except services.ImportRefused as exc:
        messages.error(request, str(exc))
        if job.status == ImportJob.Status.PREVIEWED:
            return redirect("dataio:import_preview", job.uuid)
    return redirect("dataio:import_detail", job.uuid)


_IN_PROGRESS = (ImportJob.Status.PREVIEWING, ImportJob.Status.RUNNING)


@login_required
@require_GET
def import_status(request: HttpRequest, uuid: Any) -> HttpResponse:
    """The progress fragment that the detail page polls while a background job runs."""
    require_permission(request.user, IMPORT_PERMISSION)
    try:
        job = ImportJob.objects.only("uuid", "status", "total_rows", "processed_rows").get(
            uuid=uuid
        )
    except ImportJob.DoesNotExist:
        raise Http404 from None
    if request.htmx and job.status not in _IN_PROGRESS:  # type: ignore[attr-defined]
        target = "dataio:import_preview" if job.status == ImportJob.Status.PREVIEWED else None
        return HttpResponseClientRedirect(reverse(target or "dataio:import_detail", args=[uuid]))
    return render(request, "dataio/_import_status.html", {"job": job})


@login_required
@require_GET
def import_detail(request: HttpRequest, uuid: Any) -> HttpResponse:
    job = _job(request, uuid)
    result = job.summary.get("result")
    context: dict[str, Any] = {
        "job": job,
        "in_progress": job.status in _IN_PROGRESS,
    }
    if result:
        context.update(_outcome_page(request, result))
    return render(request, "dataio/import_detail.html", context)


# --- Export --------------------------------------------------------------------------


def export_filtered(
    request: HttpRequest,
    *,
    filterset_class: Any,
    queryset: QuerySet[Any],
    rows: Callable[[QuerySet[Any]], Iterable[list[Any]]],
    name: str,
) -> HttpResponseBase:
    """A list as the user filtered it, as CSV (streamed) or XLSX (``?format=``);
    ``rows`` turns the filtered queryset into headings and cell values."""
    file_format = request.GET.get("format", "csv")
    if file_format not in ("csv", "xlsx"):
        return HttpResponseBadRequest(_("Unknown export format: choose CSV or XLSX."))
    params = request.GET.copy()
    for name_only in ("format", "page"):
        params.pop(name_only, None)
    filterset = filterset_class(params, queryset=queryset)
    if not filterset.is_valid():
        return HttpResponseBadRequest(_("The filter is invalid; please correct it in the list."))
    lines = rows(filterset.qs)
    stem = f"{slugify(name)}-{timezone.localdate().isoformat()}"
    if file_format == "csv":
        response = StreamingHttpResponse(csv_chunks(lines), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{stem}.csv"'
        return response
    return FileResponse(
        write_xlsx(lines, sheet_title=name),
        as_attachment=True,
        filename=f"{stem}.xlsx",
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )


def _export(
    request: HttpRequest,
    *,
    base: Callable[[Any], QuerySet[Any]],
    filterset_class: type[OrganisationFilter | PersonFilter],
    resource: OrganisationExportResource | PersonExportResource,
    name: str,
) -> HttpResponseBase:
    require_permission(request.user, EXPORT_PERMISSION)
    return export_filtered(
        request,
        filterset_class=filterset_class,
        queryset=base(request.user),
        rows=lambda qs: export_rows(resource, resource.prepare(qs)),
        name=name,
    )


@login_required
@require_GET
def export_organisations(request: HttpRequest) -> HttpResponseBase:
    require_permission(request.user, "crm.view_organisation")
    return _export(
        request,
        base=organisations_for,
        filterset_class=OrganisationFilter,
        resource=OrganisationExportResource(),
        name=_("Organisations"),
    )


@login_required
@require_GET
def export_people(request: HttpRequest) -> HttpResponseBase:
    require_permission(request.user, "crm.view_person")
    return _export(
        request,
        base=people_for,
        filterset_class=PersonFilter,
        resource=PersonExportResource(),
        name=_("People"),
    )
