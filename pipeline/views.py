"""Pages of the transfer pipeline: board, list, request detail and the actions on it.

Thin: parse, check access, call a service, respond.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    HttpResponseBase,
)
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from crm.dataio.views import export_filtered
from crm.models import Organisation
from crm.pagination import EstimatedCountPaginator
from crm.permissions import require_permission
from crm.roles import Role, has_role
from crm.web import error_text, form_errors, history_response, safe_next
from scouting.forms import FollowUpProposalForm
from scouting.models import FollowUp, Visit
from scouting.services import propose_follow_up

from . import queries, services
from .filters import RequestFilter
from .forms import (
    BoardPageForm,
    MatchForm,
    MatchStatusForm,
    MetricsForm,
    MoveForm,
    OutcomeForm,
    RequestEditForm,
    RequestForm,
)
from .models import Match, Stage, StageChange, TransferRequest

BOARD_CARDS = 20
BOARD_COUNT_CAP = 1000
LIST_PAGE_SIZE = 25


def get_request(user: Any, pk: int, *, action: str = "view") -> TransferRequest:
    """The request if ``user`` may see it (404 otherwise), and may do ``action`` (403)."""
    if not user.has_perm("pipeline.view_transferrequest"):
        raise Http404
    found = (
        TransferRequest.objects.for_user(user)
        .select_related(
            "organisation__municipality__district",
            "contact_person",
            "responsible_manager",
            "stage",
            "visit",
            "created_by",
        )
        .filter(pk=pk)
        .first()
    )
    if found is None:
        raise Http404
    if action != "view" and not user.has_perm(f"pipeline.{action}"):
        raise PermissionDenied
    return found


# --- Board ---------------------------------------------------------------------------


def _board_requests(request: HttpRequest) -> tuple[Any, bool]:
    """The requests the board shows, and whether only the user's own."""
    visible = TransferRequest.objects.for_user(request.user)
    mine = request.GET.get("mine") == "1"
    if mine:
        visible = visible.filter(responsible_manager=request.user)
    return visible, mine


def _column_cards(
    in_stage: Any, stage: Stage, *, after: tuple[datetime.datetime, int] | None = None
) -> tuple[list[TransferRequest], bool]:
    """The next ``BOARD_CARDS`` cards of a column after the card ``after`` (time in
    stage, id), oldest first: what waits longest (and turns stale) is on top; and
    whether more follow. Keyed on the last card, so cards moved meanwhile shift
    nothing."""
    cards_qs = in_stage.select_related("organisation", "responsible_manager").order_by(
        "stage_entered_at", "pk"
    )
    if after is not None:
        entered, pk = after
        cards_qs = cards_qs.filter(
            Q(stage_entered_at__gt=entered) | Q(stage_entered_at=entered, pk__gt=pk)
        )
    cards = list(cards_qs[: BOARD_CARDS + 1])
    now = timezone.now()
    for card in cards:
        card.days_in_stage = (now - card.stage_entered_at).days  # type: ignore[attr-defined]
        card.stale = bool(stage.max_days) and card.days_in_stage > stage.max_days  # type: ignore[attr-defined]
    return cards[:BOARD_CARDS], len(cards) > BOARD_CARDS


def _board_path(mine: bool) -> str:
    return reverse("pipeline:board") + ("?mine=1" if mine else "")


@login_required
@require_GET
def board(request: HttpRequest) -> HttpResponse:
    require_permission(request.user, "pipeline.view_transferrequest")
    visible, mine = _board_requests(request)
    columns = []
    for stage in Stage.objects.board_columns():
        in_stage = visible.filter(stage=stage)
        cards, has_more = _column_cards(in_stage, stage)
        columns.append(
            {
                "stage": stage,
                "cards": cards,
                "has_more": has_more,
                "count": in_stage.order_by()[: BOARD_COUNT_CAP + 1].count(),
            }
        )
    context = {
        "columns": columns,
        "mine": mine,
        "back": _board_path(mine),
        "count_cap": BOARD_COUNT_CAP,
        "board_cards": BOARD_CARDS,
        "can_move": request.user.has_perm("pipeline.change_transferrequest"),
        "can_add": request.user.has_perm("pipeline.add_transferrequest"),
    }
    return render(request, "pipeline/board.html", context)


@login_required
@require_GET
def board_cards(request: HttpRequest, pk: int) -> HttpResponse:
    """htmx: the next cards of a board column (appended below the last one shown),
    with the column's "load more" footer and a screen reader note out of band."""
    require_permission(request.user, "pipeline.view_transferrequest")
    stage = Stage.objects.board_columns().filter(pk=pk).first()
    if stage is None:
        raise Http404
    page = BoardPageForm(request.GET)
    if not page.is_valid():
        return HttpResponseBadRequest(form_errors(page))
    visible, mine = _board_requests(request)
    cards, has_more = _column_cards(visible.filter(stage=stage), stage, after=page.cursor())
    context = {
        "column": {"stage": stage, "cards": cards, "has_more": has_more},
        "mine": mine,
        "back": _board_path(mine),
        "can_move": request.user.has_perm("pipeline.change_transferrequest"),
    }
    return render(request, "pipeline/_board_cards.html", context)


# --- List ----------------------------------------------------------------------------


@login_required
@require_GET
def request_list(request: HttpRequest) -> HttpResponse:
    require_permission(request.user, "pipeline.view_transferrequest")
    filterset = RequestFilter(
        request.GET or None, queryset=TransferRequest.objects.for_user(request.user)
    )
    requests = filterset.qs if filterset.is_bound else filterset.queryset
    page = EstimatedCountPaginator(
        requests.select_related("organisation__municipality", "stage", "responsible_manager")
        .prefetch_related("topics")
        .order_by("-created_at", "-pk"),
        LIST_PAGE_SIZE,
    ).get_page(request.GET.get("page"))
    params = request.GET.copy()
    params.pop("page", None)
    context = {
        "filter": filterset,
        "page": page,
        "querystring": params.urlencode(),
        "can_add": request.user.has_perm("pipeline.add_transferrequest"),
        "can_export": request.user.has_perm(EXPORT_PERMISSION),
        "now": timezone.now(),
    }
    return render(request, "pipeline/request_list.html", context)


EXPORT_PERMISSION = "crm.export_organisation"


@login_required
@require_GET
def request_export(request: HttpRequest) -> HttpResponseBase:
    """The filtered list as CSV (streamed) or XLSX, for network managers and
    administration."""
    require_permission(request.user, "pipeline.view_transferrequest")
    require_permission(request.user, EXPORT_PERMISSION)
    return export_filtered(
        request,
        filterset_class=RequestFilter,
        queryset=TransferRequest.objects.for_user(request.user),
        rows=lambda qs: _export_rows(qs.order_by("-created_at", "-pk")),
        name=_("Transfer requests"),
    )


def _export_rows(qs: Any) -> Any:
    yield [
        _("ID"),
        _("Title"),
        _("Organisation"),
        _("CRM ID of the organisation"),
        _("Municipality"),
        _("District"),
        _("Rural/urban"),
        _("Kind"),
        _("Source"),
        _("Stage"),
        _("In this stage since"),
        _("Responsible"),
        _("Priority"),
        _("Expected volume (EUR)"),
        _("Topics"),
        _("Created"),
        _("Closing reason"),
    ]
    qs = qs.select_related(
        "organisation__municipality__district", "stage", "responsible_manager"
    ).prefetch_related("topics")
    for r in qs.iterator(chunk_size=2000):
        municipality = r.organisation.municipality
        manager = r.responsible_manager
        yield [
            r.pk,
            r.title,
            r.organisation.name,
            r.organisation_id,
            municipality.name if municipality else "",
            municipality.district.name if municipality else "",
            municipality.get_area_type_display() if municipality else "",
            r.get_kind_display(),
            r.get_source_display(),
            r.stage.name,
            timezone.localtime(r.stage_entered_at).replace(tzinfo=None),
            (manager.get_full_name() or manager.get_username()) if manager else "",
            r.get_priority_display(),
            r.expected_volume,
            ", ".join(t.name for t in r.topics.all()),
            timezone.localtime(r.created_at).replace(tzinfo=None),
            r.closing_reason,
        ]


# --- Create --------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def request_create(request: HttpRequest) -> HttpResponse:
    require_permission(request.user, "pipeline.add_transferrequest")
    form = RequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        organisation = data.pop("organisation")
        topics = data.pop("topics")
        if not data.get("responsible_manager"):
            data.pop("responsible_manager")
        try:
            created = services.create_request(
                organisation=organisation, topics=topics, by=request.user, **data
            )
        except ValidationError as error:
            messages.error(request, error_text(error))
        else:
            messages.success(request, _("Transfer request created."))
            return redirect("pipeline:request_detail", pk=created.pk)
    chosen = _organisation(str(form["organisation"].value() or ""))
    context = {"form": form, **_contacts_context(form, chosen)}
    return render(request, "pipeline/request_form.html", context)


def _organisation(raw: str) -> Organisation | None:
    """The organisation with the id ``raw`` (as sent by a form), if there is one."""
    if not (raw.isascii() and raw.isdigit() and len(raw) < 19):
        return None
    return Organisation.objects.filter(pk=int(raw)).first()


def _contacts_context(form: RequestForm, organisation: Organisation | None) -> dict[str, Any]:
    """What the contact person field and its hint need."""
    count = form.fields["contact_person"].queryset.count() if organisation else 0  # type: ignore[attr-defined]
    return {"organisation": organisation, "contact_count": count}


@login_required
@require_GET
def request_contacts(request: HttpRequest) -> HttpResponse:
    """htmx: the contact person choices of the organisation just chosen in the request
    form (with an out-of-band hint for screen readers). An unknown organisation gives
    an empty list; the form checks the choice again when it is sent."""
    require_permission(request.user, "pipeline.add_transferrequest")
    organisation = _organisation(request.GET.get("organisation", ""))
    form = RequestForm(
        initial={
            "organisation": organisation.pk if organisation else None,
            "contact_person": request.GET.get("contact_person", ""),
        }
    )
    context = {"form": form, "oob": True, **_contacts_context(form, organisation)}
    return render(request, "pipeline/_contact_person.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def request_edit(request: HttpRequest, pk: int) -> HttpResponse:
    transfer_request = get_request(request.user, pk, action="change_transferrequest")
    form = RequestEditForm(request.POST or None, instance=transfer_request)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        topics = data.pop("topics")
        read_at = data.pop("updated_at")
        try:
            services.update_request(
                transfer_request,
                by=request.user,
                topics=topics,
                expected_updated_at=read_at,
                **data,
            )
        except services.RequestChanged as error:
            # Shown as it is now (the form has written the sent values onto the object).
            messages.error(request, error_text(error))
            transfer_request = get_request(request.user, pk, action="change_transferrequest")
            form = RequestEditForm(instance=transfer_request)
        except ValidationError as error:
            messages.error(request, error_text(error))
        else:
            messages.success(request, _("Transfer request saved."))
            return redirect(transfer_request)
    context = {
        "form": form,
        "req": transfer_request,
        **_contacts_context(form, transfer_request.organisation),
    }
    return render(request, "pipeline/request_edit.html", context)


@login_required
@require_POST
def request_from_visit(request: HttpRequest, uuid: Any) -> HttpResponse:
    require_permission(request.user, "pipeline.add_transferrequest")
    visit = Visit.objects.for_user(request.user).filter(uuid=uuid).first()
    if visit is None:
        raise Http404
    try:
        created = services.create_request_from_visit(visit, by=request.user)
    except ValidationError as error:
        messages.error(request, error_text(error))
        return redirect(visit)
    messages.success(request, _("Transfer request created from the visit."))
    return redirect("pipeline:request_detail", pk=created.pk)


# --- Detail and actions --------------------------------------------------------------


@login_required
@require_GET
def request_detail(request: HttpRequest, pk: int) -> HttpResponse:
    transfer_request = get_request(request.user, pk)
    changes = (
        StageChange.objects.filter(request=transfer_request)
        .select_related("from_stage", "to_stage", "changed_by")
        .order_by("changed_at", "pk")
    )
    change_rows = _with_durations(list(changes), end=timezone.now())
    manage = request.user.has_perm("pipeline.change_transferrequest")
    matches = transfer_request.matches.select_related("partner", "person").order_by("pk")
    context = {
        "req": transfer_request,
        "topics": transfer_request.topics.select_related("parent"),
        "changes": change_rows,
        "time_in_stages": services.time_in_stages(transfer_request),
        "matches": matches,
        "outcomes": transfer_request.outcomes.select_related("partner").order_by("-date", "-pk"),
        "suggestions": services.suggest_partners(transfer_request, limit=5)
        if manage and not transfer_request.is_closed()
        else [],
        "can_move": manage,
        "can_manage_matches": request.user.has_perm("pipeline.add_match"),
        "can_record_outcome": request.user.has_perm("pipeline.add_outcome"),
        "match_statuses": Match.Status.choices,
        "outcome_form": OutcomeForm(transfer_request=transfer_request),
        "is_stale": transfer_request.is_stale(),
        "follow_ups": FollowUp.objects.for_user(request.user)
        .filter(transfer_request=transfer_request)
        .select_related("assignee")
        .order_by("status", "due_date", "pk"),
        "can_propose_follow_up": request.user.has_perm("scouting.add_followup"),
        "follow_up_form": FollowUpProposalForm(),
    }
    return render(request, "pipeline/request_detail.html", context)


def _with_durations(changes: list[StageChange], *, end: datetime.datetime) -> list[dict]:
    rows = []
    for change, following in zip(changes, [*changes[1:], None], strict=True):
        left = following.changed_at if following is not None else end
        duration = left - change.changed_at
        rows.append({"change": change, "duration": duration, "current": following is None})
    return rows


@login_required
@require_http_methods(["GET", "POST"])
def request_move(request: HttpRequest, pk: int) -> HttpResponse:
    """Move to another stage (the board's drag and drop opens this form in a dialog;
    it is also the keyboard way)."""
    transfer_request = get_request(request.user, pk, action="change_transferrequest")
    initial: dict[str, Any] = {"expected_stage": transfer_request.stage_id}
    if request.GET.get("to", "").isdigit():
        initial["to"] = int(request.GET["to"])
    form = MoveForm(request.POST or None, transfer_request=transfer_request, initial=initial)
    refused = False
    if request.method == "POST" and form.is_valid():
        expected = Stage.objects.filter(pk=form.cleaned_data["expected_stage"]).first()
        try:
            services.advance_request(
                transfer_request,
                to=form.cleaned_data["to"],
                by=request.user,
                note=form.cleaned_data.get("note", ""),
                expected_stage=expected,
                **form.advance_fields(),
            )
        except ValidationError as error:
            messages.error(request, error_text(error))
            refused = True
        else:
            messages.success(
                request,
                _("“%(title)s” moved to “%(stage)s”.")
                % {"title": transfer_request.title, "stage": form.cleaned_data["to"]},
            )
            return redirect(safe_next(request, reverse("pipeline:request_detail", args=[pk])))
    template = "pipeline/_move_form.html" if request.htmx else "pipeline/move.html"  # type: ignore[attr-defined]
    # A refused move shows the form again: it keeps where to go back to (only on this site).
    context = {
        "req": transfer_request,
        "form": form,
        "next": safe_next(request, ""),
        "refused": refused,
    }
    return render(request, template, context)


@login_required
@require_POST
def match_add(request: HttpRequest, pk: int) -> HttpResponse:
    transfer_request = get_request(request.user, pk, action="add_match")
    form = MatchForm(request.POST)
    if not form.is_valid():
        messages.error(request, form_errors(form))
    else:
        try:
            services.propose_match(
                transfer_request,
                partner=form.cleaned_data["partner"],
                note=form.cleaned_data.get("note", ""),
                by=request.user,
            )
        except ValidationError as error:
            messages.error(request, error_text(error))
        else:
            messages.success(request, _("Research partner proposed."))
    return redirect("pipeline:request_detail", pk=pk)


@login_required
@require_POST
def match_status(request: HttpRequest, pk: int) -> HttpResponse:
    match = Match.objects.select_related("request").filter(pk=pk).first()
    if match is None:
        raise Http404
    get_request(request.user, match.request_id, action="change_match")
    form = MatchStatusForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Unknown status."))
    else:
        try:
            services.set_match_status(match, status=form.cleaned_data["status"], by=request.user)
        except ValidationError as error:
            messages.error(request, error_text(error))
    return redirect("pipeline:request_detail", pk=match.request_id)


@login_required
@require_POST
def outcome_add(request: HttpRequest, pk: int) -> HttpResponse:
    transfer_request = get_request(request.user, pk, action="add_outcome")
    form = OutcomeForm(request.POST, transfer_request=transfer_request)
    if not form.is_valid():
        messages.error(request, _("The outcome was not saved: %s") % form_errors(form))
    else:
        try:
            services.record_outcome(transfer_request, by=request.user, **form.cleaned_data)
        except ValidationError as error:
            messages.error(request, error_text(error))
        else:
            messages.success(request, _("Outcome recorded."))
    return redirect("pipeline:request_detail", pk=pk)


@login_required
@require_POST
def follow_up_add(request: HttpRequest, pk: int) -> HttpResponse:
    """A follow-up about the request, through the scouting service."""
    transfer_request = get_request(request.user, pk)
    require_permission(request.user, "scouting.add_followup")
    form = FollowUpProposalForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("The follow-up was not saved: %s") % form_errors(form))
    else:
        try:
            propose_follow_up(
                by=request.user, transfer_request=transfer_request, **form.cleaned_data
            )
        except ValidationError as error:
            messages.error(request, error_text(error))
        else:
            messages.success(request, _("Follow-up proposed."))
    return redirect("pipeline:request_detail", pk=pk)


@login_required
@require_GET
def request_history(request: HttpRequest, pk: int) -> HttpResponse:
    transfer_request = get_request(request.user, pk)
    history_url = reverse("pipeline:request_history", args=[pk])
    return history_response(request, transfer_request, history_url=history_url)


# --- Metrics -------------------------------------------------------------------------


def may_see_metrics(user: Any) -> bool:
    """Everyone who works with requests, and the funding body (aggregates only)."""
    return user.has_perm("pipeline.view_transferrequest") or has_role(user, Role.FUNDING_VIEWER)


METRICS_PARTS = ("overview", "by_manager", "by_topic", "by_district")
METRICS_CACHE_SECONDS = 600


@login_required
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """The figures page; each part is computed on its own request (htmx loads them in
    parallel) and cached for a few minutes: a year at state scale takes seconds."""
    if not may_see_metrics(request.user):
        raise PermissionDenied
    today = timezone.localdate()
    initial = {
        "start": today.replace(year=today.year - 1) + datetime.timedelta(days=1),
        "end": today,
    }
    # Names of staff are for the agency; the funding body sees the other breakdowns.
    staff = request.user.has_perm("pipeline.view_transferrequest")
    params = request.GET.copy()
    part = params.pop("part", [""])[-1]
    form = MetricsForm(params or None, initial=initial, staff=staff)
    if form.is_bound and not form.is_valid():
        return render(request, "pipeline/metrics.html", {"form": form, "invalid": True})
    data = form.cleaned_data if form.is_bound else initial
    if part not in METRICS_PARTS or (part == "by_manager" and not staff):
        parts = [p for p in METRICS_PARTS if staff or p != "by_manager"]
        context = {"form": form, "parts": parts, "querystring": params.urlencode()}
        return render(request, "pipeline/metrics.html", context)
    key = "pipeline:metrics:" + "|".join(
        [part, str(data["start"]), str(data["end"]), str(getattr(data.get("manager"), "pk", ""))]
        + [str(getattr(data.get("district"), "pk", "")), data.get("area_type") or ""]
    )
    context = cache.get(key)
    if context is None:
        context = _metrics_part(part, data)
        context["computed_at"] = timezone.now()
        cache.set(key, context, METRICS_CACHE_SECONDS)
    return render(request, f"pipeline/_metrics_{part}.html", context)


def _metrics_part(part: str, data: dict[str, Any]) -> dict[str, Any]:
    period = (data["start"], data["end"])
    focus = {
        "manager": data.get("manager"),
        "district": data.get("district"),
        "area_type": data.get("area_type") or None,
    }
    if part == "overview":
        return {
            "funnel": queries.funnel(*period, **focus),
            "conversion": queries.conversion_rates(*period, **focus),
            "to_first_match": queries.median_days_to_first_match(*period, **focus),
            "to_cooperation": queries.median_days_to_cooperation(*period, **focus),
        }
    if part == "by_manager":
        rows = queries.by_manager(*period, district=focus["district"], area_type=focus["area_type"])
        return {"title": _("By responsible network manager"), "rows": rows}
    if part == "by_topic":
        return {"title": _("By topic"), "rows": queries.by_topic(*period, **focus)}
    return {
        "title": _("By district"),
        "rows": queries.by_district(*period, manager=focus["manager"]),
    }
