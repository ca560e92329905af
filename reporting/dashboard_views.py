"""The indicator dashboard and the records behind each of its figures.

Thin: parse the scope, check access, ask ``reporting.queries``, format for people.
"""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Exists, OuterRef, QuerySet
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    StreamingHttpResponse,
)
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateformat import format as date_format
from django.utils.http import urlencode
from django.utils.text import slugify
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from crm.dataio.exports import csv_chunks, write_xlsx
from crm.models import Municipality, Organisation, SizeClass
from crm.roles import Role, has_role
from crm.web import form_errors
from pipeline.models import TransferRequest
from scouting.models import Visit

from . import queries, services
from .forms import ScopeForm, scope_query
from .queries import UNKNOWN, Breakdown, Indicator, Scope, Subject, Unit
from .templatetags.report_figures import format_change, format_value

CACHE_SECONDS = 300
RECORDS_PER_PAGE = 25
MAX_KEY_LENGTH = 100


# --- Access ----------------------------------------------------------------------------


def may_see_indicators(user: Any) -> bool:
    """Administration and network managers; the drill-down names organisations, so the
    funding body reads the published reports instead."""
    return user.is_superuser or has_role(user, Role.ADMINISTRATION, Role.NETWORK_MANAGER)


def may_export_records(user: Any) -> bool:
    return user.is_superuser or has_role(user, Role.ADMINISTRATION)


def _require(allowed: bool) -> None:
    if not allowed:
        raise PermissionDenied


def _indicator(code: str) -> Indicator:
    try:
        return queries.indicator(code)
    except KeyError:
        raise Http404 from None


def _scope_form(request: HttpRequest) -> ScopeForm:
    return ScopeForm(request.GET, today=timezone.localdate())


# --- Formatting ------------------------------------------------------------------------


def _name(item: Indicator) -> str:
    return item.name if (get_language() or "de").startswith("de") else item.name_en


def _rule(item: Indicator) -> str:
    return item.rule if (get_language() or "de").startswith("de") else item.rule_en


def _records_url(code: str, scope: Scope, *, breakdown: str = "", key: str | None = None) -> str:
    query = scope_query(scope)
    if breakdown:
        query += "&" + urlencode({"breakdown": breakdown, "key": key or ""})
    return f"{reverse('reporting:records', args=[code])}?{query}"


def _link_text(item: Indicator, period_label: str, detail: str = "") -> str:
    """What a figure's link leads to, for screen readers (the figure alone says little)."""
    if detail:
        return _("%(code)s, %(period)s, %(detail)s: show the records") % {
            "code": item.code,
            "period": period_label,
            "detail": detail,
        }
    return _("%(code)s, %(period)s: show the records") % {
        "code": item.code,
        "period": period_label,
    }


# --- Dashboard -------------------------------------------------------------------------


@dataclass(frozen=True)
class IndicatorRow:
    item: Indicator
    name: str
    rule: str
    unit: str
    value: str
    value_url: str
    value_link_text: str
    previous: str
    previous_url: str
    previous_link_text: str
    change: str
    part_url: str


def _cache_key(*parts: Any) -> str:
    return "reporting:" + ":".join(str(p) for p in parts)


def _indicator_rows(scope: Scope, figures: dict[str, Any]) -> list[IndicatorRow]:
    before = scope.with_period(scope.period.previous())
    query = scope_query(scope)
    rows = []
    for item in queries.INDICATORS:
        current, previous = figures["current"][item.code], figures["previous"][item.code]
        rows.append(
            IndicatorRow(
                item=item,
                name=_name(item),
                rule=_rule(item),
                unit=item.unit.label,
                value=format_value(current, item.unit),
                value_url=_records_url(item.code, scope),
                value_link_text=_link_text(item, scope.period.label),
                previous=format_value(previous, item.unit),
                previous_url=_records_url(item.code, before),
                previous_link_text=_link_text(item, before.period.label),
                change=format_change(current, previous, item.unit),
                part_url=f"{reverse('reporting:dashboard_part', args=[item.code])}?{query}",
            )
        )
    return rows


@login_required
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    """Every indicator for a period next to the period before; the breakdowns load per
    indicator on demand (``dashboard_part``), as each takes a statement per dimension."""
    _require(may_see_indicators(request.user))
    form = _scope_form(request)
    context: dict[str, Any] = {"form": form}
    if form.is_valid():
        scope = form.scope()
        if request.GET.get("refresh") == "1":
            services.forget_dashboard_figures(scope)
        figures = services.cached_dashboard_figures(scope)
        if figures is None and request.GET.get("part") == "table":
            figures = services.dashboard_figures(scope)
        query = scope_query(scope)
        base = reverse("reporting:dashboard")
        context.update(
            period=scope.period,
            previous_period=scope.period.previous(),
            districts=services.scope_label(list(form.cleaned_data["districts"])),
            table_url=f"{base}?{query}&part=table",
            refresh_url=f"{base}?{query}&refresh=1",
        )
        if figures is not None:
            context.update(rows=_indicator_rows(scope, figures), computed_at=figures["computed_at"])
        if request.GET.get("part") == "table":
            return render(request, "reporting/_indicator_table.html", context)
    return render(request, "reporting/dashboard.html", context)


@dataclass(frozen=True)
class BreakdownCell:
    label: str
    value: str
    url: str
    link_text: str


@login_required
@require_GET
def dashboard_part(request: HttpRequest, code: str) -> HttpResponse:
    """htmx: the breakdown tables of one indicator."""
    _require(may_see_indicators(request.user))
    item = _indicator(code)
    form = _scope_form(request)
    if not form.is_valid():
        return HttpResponseBadRequest(form_errors(form))
    scope = form.scope()
    key = _cache_key(
        "breakdowns",
        get_language(),
        item.code,
        scope.cache_key,
        services.cache_epoch(scope),
    )
    computed = cache.get(key)
    if computed is None:
        computed = {
            "split": queries.breakdowns(scope, codes=[item.code])[item.code],
            "computed_at": timezone.now(),
        }
        cache.set(key, computed, CACHE_SECONDS)
    tables = []
    for breakdown in item.breakdowns:
        label = breakdown.label
        cells = [
            BreakdownCell(
                label=row.label,
                value=format_value(row.value, item.unit),
                url=_records_url(item.code, scope, breakdown=str(breakdown), key=row.key),
                link_text=_link_text(item, scope.period.label, f"{label} {row.label}"),
            )
            for row in computed["split"].get(str(breakdown), [])
        ]
        tables.append({"breakdown": str(breakdown), "label": label, "cells": cells})
    context = {
        "item": item,
        "name": _name(item),
        "tables": tables,
        "period": scope.period,
        "computed_at": computed["computed_at"],
    }
    return render(request, "reporting/_breakdowns.html", context)


# --- Records behind a figure -----------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    """One value of a listed record: ``value`` goes into the export, ``text`` (default:
    the value) onto the page, as a link when there is a ``url``."""

    value: Any
    text: str | None = None
    url: str = ""
    hidden: str = ""  # appended to the link for screen readers
    badge: str = ""

    @property
    def shown(self) -> str:
        if self.text is not None:
            return self.text
        return "" if self.value is None else str(self.value)


def _day(value: datetime.datetime | datetime.date | None) -> datetime.date | None:
    if isinstance(value, datetime.datetime):
        return timezone.localtime(value).date()
    return value


def _date_cell(value: datetime.datetime | datetime.date | None, **extra: Any) -> Cell:
    day = _day(value)
    return Cell(day, date_format(day, "d.m.Y") if day else "—", **extra)


def _yes_no(flag: bool) -> str:
    return _("yes") if flag else _("no")


def _place_cells(organisation: Organisation | None) -> list[Cell]:
    municipality = organisation.municipality if organisation else None
    if municipality is None:
        return [Cell("", "—"), Cell("", "—"), Cell("", "—")]
    return [
        Cell(str(municipality.district)),
        Cell(municipality.name),
        Cell(str(Municipality.AreaType(municipality.area_type).label)),
    ]


def _organisation_cell(organisation: Organisation | None) -> Cell:
    if organisation is None:
        return Cell("", "—")
    return Cell(organisation.name, url=organisation.get_absolute_url())


_ORGANISATION_PLACE = (
    "organisation__municipality__name",
    "organisation__municipality__area_type",
    "organisation__municipality__district__name",
    "organisation__municipality__district__kind",
)


def _listing(item: Indicator, queryset: QuerySet, user: Any) -> QuerySet:
    """The records with what their columns need, in list order, read in one statement
    (only the fields shown: no summaries, no people)."""
    if item.subject == Subject.ORGANISATION:
        return (
            queryset.select_related("municipality__district")
            .only(
                "name",
                "kind",
                "size_class",
                "municipality__name",
                "municipality__area_type",
                "municipality__district__name",
                "municipality__district__kind",
            )
            .order_by("name", "pk")
        )
    if item.subject == Subject.VISIT:
        visible = Visit.objects.for_user(user).filter(pk=OuterRef("pk"))
        return (
            queryset.select_related("organisation__municipality__district")
            .only(
                "uuid",
                "visited_at",
                "format",
                "is_confidential",
                "organisation__name",
                *_ORGANISATION_PLACE,
            )
            .annotate(may_open=Exists(visible))
            .order_by("-visited_at", "-pk")
        )
    if item.subject == Subject.REQUEST:
        readable = TransferRequest.objects.for_user(user).filter(pk=OuterRef("pk"))
        return (
            queryset.select_related("organisation__municipality__district", "stage")
            .only("title", "created_at", "stage__name", "organisation__name", *_ORGANISATION_PLACE)
            .annotate(may_open=Exists(readable))
            .order_by("-created_at", "-pk")
        )
    return (
        queryset.select_related("organisation__municipality__district")
        .only("completed_at", "due_date", "organisation__name", *_ORGANISATION_PLACE)
        .order_by("-completed_at", "-pk")
    )


def _headings(item: Indicator) -> list[str]:
    place = [_("District"), _("Municipality"), _("Rural/urban")]
    headings = {
        Subject.ORGANISATION: [_("ID"), _("Organisation"), _("Kind"), _("Size class"), *place],
        Subject.VISIT: [
            _("ID"),
            _("Visit date"),
            _("Organisation"),
            *place,
            _("Format"),
            _("Confidential"),
        ],
        Subject.REQUEST: [
            _("ID"),
            _("Received"),
            _("Transfer request"),
            _("Organisation"),
            *place,
            _("Stage"),
        ],
        Subject.FOLLOW_UP: [
            _("ID"),
            _("Completed"),
            _("Due date"),
            _("Organisation"),
            *place,
        ],
    }[item.subject]
    return [*headings, _("Counted")] if item.is_share else headings


def _cells(item: Indicator, record: Any) -> list[Cell]:
    if item.subject == Subject.ORGANISATION:
        size = (
            str(SizeClass(record.size_class).label) if record.size_class in SizeClass.values else ""
        )
        cells = [
            Cell(record.pk),
            _organisation_cell(record),
            Cell(record.get_kind_display()),
            Cell(size, size or "—"),
            *_place_cells(record),
        ]
    elif item.subject == Subject.VISIT:
        open_text = _("open the visit")
        cells = [
            Cell(record.pk),
            _date_cell(
                record.visited_at,
                url=record.get_absolute_url() if record.may_open else "",
                hidden=open_text if record.may_open else "",
            ),
            _organisation_cell(record.organisation),
            *_place_cells(record.organisation),
            Cell(record.get_format_display()),
            Cell(
                _yes_no(record.is_confidential),
                "",
                badge=_("confidential") if record.is_confidential else "",
            ),
        ]
    elif item.subject == Subject.REQUEST:
        if record.may_open:
            title = Cell(record.title, url=record.get_absolute_url())
        else:
            title = Cell("", "", badge=_("confidential"))
        cells = [
            Cell(record.pk),
            _date_cell(record.created_at),
            title,
            _organisation_cell(record.organisation),
            *_place_cells(record.organisation),
            Cell(record.stage.name),
        ]
    else:
        cells = [
            Cell(record.pk),
            _date_cell(record.completed_at),
            _date_cell(record.due_date),
            _organisation_cell(record.organisation),
            *_place_cells(record.organisation),
        ]
    if item.is_share:
        cells.append(Cell(_yes_no(record.counted)))
    return cells


@dataclass(frozen=True)
class RecordsRequest:
    """A drill-down as asked for: which figure, or what is wrong with the question."""

    item: Indicator
    form: ScopeForm
    breakdown: str
    key: str
    errors: list[str]

    @property
    def scope(self) -> Scope:
        return self.form.scope()

    def records(self) -> QuerySet:
        return queries.records(
            self.item.code, self.scope, breakdown=self.breakdown, key=self.key or UNKNOWN
        )


def _records_request(request: HttpRequest, code: str) -> RecordsRequest:
    item = _indicator(code)
    form = _scope_form(request)
    errors = [] if form.is_valid() else [form_errors(form)]
    breakdown = request.GET.get("breakdown", "")
    key = request.GET.get("key", "")
    if breakdown and breakdown not in {str(b) for b in item.breakdowns}:
        errors.append(
            _("%(code)s has no breakdown “%(breakdown)s”.")
            % {"code": item.code, "breakdown": breakdown[:MAX_KEY_LENGTH]}
        )
    if len(key) > MAX_KEY_LENGTH or "\x00" in key:
        errors.append(_("The breakdown key is invalid."))
    return RecordsRequest(item, form, breakdown, key if breakdown else "", errors)


def _record_ids(asked: RecordsRequest, user: Any) -> tuple[list[int], set[int] | None]:
    """The ids of a figure's records in list order (and, for a percentage, those in its
    numerator): computing them reads a whole period's facts, seconds at state scale, so
    they are kept for ten minutes and paging through them costs next to nothing."""
    key = _cache_key(
        "records",
        asked.item.code,
        asked.scope.cache_key,
        services.cache_epoch(asked.scope),
        asked.breakdown,
        hashlib.sha256(asked.key.encode()).hexdigest()[:16],
    )
    cached = cache.get(key)
    if cached is None:
        listing = _listing(asked.item, asked.records(), user)
        if asked.item.is_share:
            rows = list(listing.values_list("pk", "counted"))
            cached = ([pk for pk, _c in rows], {pk for pk, c in rows if c})
        else:
            cached = (list(listing.values_list("pk", flat=True)), None)
        cache.set(key, cached, RECORD_IDS_SECONDS)
    return cached


RECORD_IDS_SECONDS = 10 * 60


@login_required
@require_GET
def records(request: HttpRequest, code: str) -> HttpResponse:
    """The records a figure counted, 25 to a page; their number is the figure (for a
    percentage: the base, with the counted ones marked)."""
    _require(may_see_indicators(request.user))
    asked = _records_request(request, code)
    context: dict[str, Any] = {"item": asked.item, "name": _name(asked.item)}
    if asked.errors:
        context["errors"] = asked.errors
        return render(request, "reporting/records.html", context, status=400)
    scope = asked.scope
    ids, counted_ids = _record_ids(asked, request.user)
    page = Paginator(ids, RECORDS_PER_PAGE).get_page(request.GET.get("page"))
    model = queries.MODELS[asked.item.subject]
    shown = {
        record.pk: record
        for record in _listing(
            asked.item, model.objects.filter(pk__in=list(page.object_list)), request.user
        )
    }
    page.object_list = [shown[pk] for pk in page.object_list if pk in shown]
    counted = None
    if counted_ids is not None:
        counted = len(counted_ids)
        for record in page.object_list:
            record.counted = record.pk in counted_ids
    breakdown_label = key_label = ""
    if asked.breakdown:
        breakdown_label = Breakdown(asked.breakdown).label
        key_label = queries.BreakdownLabels().label(Breakdown(asked.breakdown), asked.key)
    params = request.GET.copy()
    params.pop("page", None)
    context.update(
        rule=_rule(asked.item),
        period=scope.period,
        districts=services.scope_label(list(asked.form.cleaned_data["districts"])),
        breakdown_label=breakdown_label,
        key_label=key_label,
        page=page,
        headings=_headings(asked.item),
        rows=[_cells(asked.item, record) for record in page.object_list],
        counted=counted,
        share=_share(counted, page.paginator.count) if counted is not None else "",
        querystring=params.urlencode(),
        dashboard_url=f"{reverse('reporting:dashboard')}?{scope_query(scope)}",
        can_export=may_export_records(request.user),
        export_url=f"{reverse('reporting:records_export', args=[asked.item.code])}?"
        + params.urlencode(),
    )
    return render(request, "reporting/records.html", context)


def _share(part: int, whole: int) -> str:
    return format_value(round(100 * part / whole, 1) if whole else 0.0, Unit.PERCENT)


def _export_lines(item: Indicator, listing: QuerySet) -> Iterator[list[Any]]:
    yield _headings(item)
    for record in listing.iterator(chunk_size=2000):
        yield [cell.value for cell in _cells(item, record)]


@login_required
@require_GET
def records_export(request: HttpRequest, code: str) -> HttpResponseBase:
    """The same records as CSV (streamed) or XLSX, for administration; cells that a
    spreadsheet would read as formulas are escaped by the shared writers."""
    _require(may_export_records(request.user))
    asked = _records_request(request, code)
    file_format = request.GET.get("format", "csv")
    if file_format not in ("csv", "xlsx"):
        return HttpResponseBadRequest(_("Unknown export format: choose CSV or XLSX."))
    if asked.errors:
        return HttpResponseBadRequest(" ".join(asked.errors))
    scope = asked.scope
    lines = _export_lines(asked.item, _listing(asked.item, asked.records(), request.user))
    name = f"{asked.item.code} {scope.period.code}"
    if asked.breakdown:
        name += f" {asked.breakdown} {asked.key or 'unknown'}"
    stem = f"{slugify(name)}-{timezone.localdate().isoformat()}"
    if file_format == "csv":
        response = StreamingHttpResponse(csv_chunks(lines), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{stem}.csv"'
        return response
    return FileResponse(
        write_xlsx(lines, sheet_title=f"{asked.item.code} {scope.period.code}"),
        as_attachment=True,
        filename=f"{stem}.xlsx",
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
