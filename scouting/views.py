"""Pages of scouting: visits, follow-ups and the start page's panels.

Thin: parse, check access, call a service, respond.
"""

from __future__ import annotations

import datetime
import uuid as uuid_lib
from typing import Any

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
)
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.text import Truncator
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from crm import permissions as crm_permissions
from crm.dataio.views import export_filtered
from crm.extensions import Panel, TimelineEntry
from crm.models import District, Municipality, Organisation, Person
from crm.pagination import EstimatedCountPaginator
from crm.roles import Role, has_role
from crm.services import find_duplicate_organisations, find_duplicate_people
from crm.web import error_text, form_errors, history_response, safe_next

from . import services
from .filters import TeamFollowUpFilter, VisitFilter, follow_ups_in_view
from .forms import (
    AssignForm,
    CompleteForm,
    FollowUpEditForm,
    FollowUpProposalForm,
    VisitForm,
)
from .models import FollowUp, InterviewGuide, Need, Visit
from .permissions import get_follow_up, get_visit, may_manage_follow_ups, require

PREVIOUS_LOGIN_SESSION_KEY = "scouting_previous_login"
LIST_PAGE_SIZE = 25
PANEL_ITEMS = 5
EXPORT_PERMISSION = "crm.export_organisation"
DISTRICT_STATS_SECONDS = 120


def remember_previous_login(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    # On a first login there is nothing to compare with: the panel shows the last week.
    if user.last_login is not None:
        request.session[PREVIOUS_LOGIN_SESSION_KEY] = user.last_login.isoformat()


def _page(request: HttpRequest, qs: QuerySet) -> Any:
    return EstimatedCountPaginator(qs, LIST_PAGE_SIZE).get_page(request.GET.get("page"))


def _querystring_without(request: HttpRequest, *names: str) -> str:
    params = request.GET.copy()
    for name in ("page", *names):
        params.pop(name, None)
    return params.urlencode()


# --- Visits --------------------------------------------------------------------------


def _visit_rows(qs: QuerySet[Visit]) -> QuerySet[Visit]:
    return qs.select_related("organisation__municipality").prefetch_related(
        "scouts", Prefetch("topics")
    )


@login_required
@require_GET
def visit_list(request: HttpRequest) -> HttpResponse:
    require(request.user, "scouting.view_visit")
    filterset = VisitFilter(request.GET or None, queryset=Visit.objects.for_user(request.user))
    visits = filterset.qs if filterset.is_bound else filterset.queryset
    page = _page(request, _visit_rows(visits.order_by("-visited_at", "-pk")))
    organisation_id = request.GET.get("organisation", "")
    context = {
        "filter": filterset,
        "page": page,
        "querystring": _querystring_without(request),
        "filtered_organisation": (
            Organisation.objects.filter(pk=int(organisation_id)).first()
            if organisation_id.isdigit() and len(organisation_id) < 19
            else None
        ),
        "without_organisation": _querystring_without(request, "organisation"),
        "can_export": request.user.has_perm(EXPORT_PERMISSION),
        "can_add": request.user.has_perm("scouting.add_visit"),
    }
    if request.htmx and request.htmx.target == "results":  # type: ignore[attr-defined]
        return render(request, "scouting/_visit_results.html", context)
    return render(request, "scouting/visit_list.html", context)


@login_required
@require_GET
def visit_export(request: HttpRequest) -> HttpResponseBase:
    require(request.user, "scouting.view_visit")
    require(request.user, EXPORT_PERMISSION)
    return export_filtered(
        request,
        filterset_class=VisitFilter,
        queryset=Visit.objects.for_user(request.user),
        rows=lambda qs: _visit_export_rows(qs.order_by("-visited_at", "-pk")),
        name=_("Company visits"),
    )


def _visit_export_rows(qs: QuerySet[Visit]) -> Any:
    need_labels = dict(Need.choices)
    yield [
        _("UUID"),
        _("Date"),
        _("Organisation"),
        _("CRM ID of the organisation"),
        _("Municipality"),
        _("District"),
        _("Rural/urban"),
        _("Scouts"),
        _("Format"),
        _("Purpose"),
        _("Topics"),
        _("Needs"),
        _("Green-skills interest"),
        _("Confidential"),
        _("Status"),
        _("Summary"),
    ]
    qs = qs.select_related("organisation__municipality__district").prefetch_related(
        "scouts", "topics"
    )
    for visit in qs.iterator(chunk_size=2000):
        municipality = visit.organisation.municipality
        yield [
            str(visit.uuid),
            timezone.localtime(visit.visited_at).replace(tzinfo=None),
            visit.organisation.name,
            visit.organisation_id,
            municipality.name if municipality else "",
            municipality.district.name if municipality else "",
            municipality.get_area_type_display() if municipality else "",
            ", ".join(u.get_full_name() or u.get_username() for u in visit.scouts.all()),
            visit.get_format_display(),
            visit.get_purpose_display(),
            ", ".join(t.name for t in visit.topics.all()),
            ", ".join(str(need_labels.get(n, n)) for n in visit.needs),
            _("yes") if visit.green_skills_interest else _("no"),
            _("yes") if visit.is_confidential else _("no"),
            visit.get_status_display(),
            # A confidential visit's findings stay in the CRM.
            "" if visit.is_confidential else visit.summary,
        ]


@login_required
@require_http_methods(["GET", "POST"])
def visit_create(request: HttpRequest) -> HttpResponse:
    require(request.user, "scouting.add_visit")
    guide = InterviewGuide.objects.current()
    initial: dict[str, Any] = {"uuid": uuid_lib.uuid4()}
    organisation = None
    if request.GET.get("organisation", "").isdigit():
        organisation = Organisation.objects.filter(pk=int(request.GET["organisation"])).first()
        if organisation is not None:
            initial["organisation"] = organisation.pk
    return _visit_form(request, visit=None, guide=guide, initial=initial, organisation=organisation)


@login_required
@require_http_methods(["GET", "POST"])
def visit_edit(request: HttpRequest, uuid: uuid_lib.UUID) -> HttpResponse:
    visit = get_visit(request.user, uuid, action="change")
    guide = visit.guide_version or InterviewGuide.objects.current()
    initial = VisitForm.initial_for(visit)
    initial["co_scouts"] = [u.pk for u in visit.scouts.all() if u.pk != request.user.pk]
    return _visit_form(
        request, visit=visit, guide=guide, initial=initial, organisation=visit.organisation
    )


def _visit_form(
    request: HttpRequest,
    *,
    visit: Visit | None,
    guide: InterviewGuide | None,
    initial: dict[str, Any],
    organisation: Organisation | None,
) -> HttpResponse:
    duplicates: list = []
    person_duplicates: list = []
    if request.method == "POST":
        form = VisitForm(request.POST, guide=guide, user=request.user, initial=initial)
        stored = _stored_visit(form, editing=visit)
        if (
            form.is_valid()
            and stored is not None
            and stored.version != form.cleaned_data.get("version")
        ):
            # Sent again (reload, back button) or saved meanwhile in another tab.
            form = _reconciled_form(request, stored, guide=guide)
            messages.error(request, _stale_message(stored.version))
        elif form.is_valid():
            duplicates, person_duplicates = _possible_duplicates(form)
            if (duplicates or person_duplicates) and not form.cleaned_data.get(
                "confirm_not_duplicate"
            ):
                messages.warning(
                    request,
                    _(
                        "There are similar records. Please check them; if yours is different, "
                        "confirm below and save again."
                    ),
                )
            else:
                saved = _save_visit_form(request, form, visit=visit, guide=guide)
                if saved is not None:
                    return redirect(saved)
        else:
            messages.error(request, _("Please correct the marked fields."))
        organisation = form.cleaned_data.get("organisation") if form.is_valid() else organisation
    else:
        form = VisitForm(guide=guide, user=request.user, initial=initial, organisation=organisation)
    context = {
        "form": form,
        "visit": visit,
        "guide": guide,
        "organisation": organisation or form._organisation_from_data(),
        "duplicates": duplicates,
        "person_duplicates": person_duplicates,
        "can_add_organisation": request.user.has_perm("crm.add_organisation"),
        "can_add_person": request.user.has_perm("crm.add_person"),
        "may_autosave": visit is None or visit.is_draft(),
    }
    return render(request, "scouting/visit_form.html", context)


def _stored_visit(form: VisitForm, *, editing: Visit | None) -> Visit | None:
    raw = form.data.get("uuid")
    if editing is not None:
        if raw != str(editing.uuid):
            form.add_error(None, _("This form belongs to another visit; please reload it."))
        return editing
    try:
        key = uuid_lib.UUID(str(raw))
    except ValueError:
        return None
    return Visit.objects.filter(uuid=key).first()


NEW_PERSON_FIELDS = (
    "new_person_first_name",
    "new_person_last_name",
    "new_person_function",
    "new_person_email",
    "new_person_phone",
    "new_person_lawful_basis",
)


def _reconciled_form(request: HttpRequest, stored: Visit, *, guide: Any) -> VisitForm:
    """The user's input on top of what is stored now: what the earlier sending created
    (the new organisation, the new contact, the proposed follow-up) is taken from the
    stored visit instead of being created a second time."""
    data = request.POST.copy()
    data["version"] = str(stored.version)
    data["organisation"] = str(stored.organisation_id)
    data["new_organisation_name"] = ""
    met = {
        (p.first_name.strip().lower(), p.last_name.strip().lower()): p.pk
        for p in stored.people_met.all()
    }
    new_person = (
        data.get("new_person_first_name", "").strip().lower(),
        data.get("new_person_last_name", "").strip().lower(),
    )
    if new_person[1] and new_person in met:
        for name in NEW_PERSON_FIELDS:
            data[name] = ""
        data.setlist("people_met", sorted({*data.getlist("people_met"), str(met[new_person])}))
    title = data.get("follow_up_title", "").strip()
    if title and stored.follow_ups.filter(title=title).exists():
        data["follow_up_title"] = data["follow_up_description"] = ""
    return VisitForm(data, guide=guide, user=request.user, organisation=stored.organisation)


def _stale_message(version: int) -> str:
    return _(
        "This visit was saved or changed in the meantime (now version %(version)d). "
        "Your entries are still below: please check them and save again."
    ) % {"version": version}


def _possible_duplicates(form: VisitForm) -> tuple[list, list]:
    data = form.cleaned_data
    organisations: list = []
    people: list = []
    if data.get("organisation") is None and data.get("new_organisation_name"):
        organisations = find_duplicate_organisations(name=data["new_organisation_name"])
    if form.has_new_person():
        people = find_duplicate_people(
            first_name=data.get("new_person_first_name", ""),
            last_name=data["new_person_last_name"],
            email=data.get("new_person_email", ""),
        )
    return organisations, people


def _save_visit_form(
    request: HttpRequest, form: VisitForm, *, visit: Visit | None, guide: InterviewGuide | None
) -> Visit | None:
    """Store the form through the service; None (with a message) if it was refused."""
    data = form.cleaned_data
    user = request.user
    new_organisation = None
    if data.get("organisation") is None:
        require(user, "crm.add_organisation")
        new_organisation = Organisation(
            name=data["new_organisation_name"].strip(),
            kind=data.get("new_organisation_kind") or Organisation.Kind.SME,
            municipality=data["new_organisation_municipality"],
        )
    new_contact = None
    if form.has_new_person():
        require(user, "crm.add_person")
        new_contact = services.NewContact(
            person=Person(
                first_name=data.get("new_person_first_name", "").strip(),
                last_name=data["new_person_last_name"].strip(),
                email=data.get("new_person_email", ""),
                phone=data.get("new_person_phone", "").strip(),
            ),
            lawful_basis=data["new_person_lawful_basis"],
            function=data.get("new_person_function", "").strip(),
        )
    submit = "submit" in request.POST
    try:
        saved = services.capture_visit(
            uuid=data["uuid"],
            expected_version=data.get("version"),
            by=user,
            organisation=data.get("organisation"),
            new_organisation=new_organisation,
            new_contact=new_contact,
            scouts=_scouts_for(visit, user, data.get("co_scouts") or []),
            people_met=data.get("people_met") or [],
            topics=data.get("topics") or [],
            follow_up={
                "title": data.get("follow_up_title", "").strip(),
                "description": data.get("follow_up_description", ""),
            },
            submit=submit,
            visited_at=data["visited_at"],
            format=data["format"],
            purpose=data["purpose"],
            needs=data.get("needs") or [],
            green_skills_interest=data.get("green_skills_interest", False),
            summary=data.get("summary", "").strip(),
            is_confidential=data.get("is_confidential", False),
            guide_version=guide,
            answers=form.answers(),
        )
    except services.StaleVisit as stale:
        # Lost a race with another save after the check above.
        form.data = form.data.copy()
        form.data["version"] = str(stale.current)
        messages.error(request, _stale_message(stale.current))
        return None
    except ValidationError as error:
        messages.error(request, error_text(error))
        return None
    if submit:
        messages.success(request, _("Visit submitted. The network managers see it now."))
    elif saved.is_draft():
        messages.success(request, _("Visit saved as a draft."))
    else:
        messages.success(request, _("Changes saved."))
    return saved


def _scouts_for(visit: Visit | None, user: Any, co_scouts: list[Any]) -> list[Any]:
    """The recording scout plus the others; someone editing another's visit (a network
    manager) does not become one of its scouts."""
    if visit is None or visit.scouts.filter(pk=user.pk).exists():
        return [user, *co_scouts]
    return list(co_scouts)


@login_required
@require_POST
def visit_autosave(request: HttpRequest) -> HttpResponse:
    """htmx: store the draft as the scout types (only the visit's own fields; a new
    organisation or person is created when the form is saved)."""
    require(request.user, "scouting.add_visit")
    guide_id = request.POST.get("guide")
    guide = (
        InterviewGuide.objects.filter(pk=int(guide_id)).first()
        if guide_id and guide_id.isdigit()
        else InterviewGuide.objects.current()
    )
    form = VisitForm(request.POST, guide=guide, user=request.user)
    context: dict[str, Any] = {"saved": None, "problem": None}
    if not form.is_valid() or form.cleaned_data.get("organisation") is None:
        if form.cleaned_data.get("organisation") is None if hasattr(form, "cleaned_data") else True:
            context["problem"] = _("The draft is saved as soon as an organisation is chosen.")
        else:
            context["problem"] = _("The draft cannot be saved yet: please check the form.")
        return render(request, "scouting/_autosave_status.html", context)
    data = form.cleaned_data
    existing = Visit.objects.filter(uuid=data["uuid"]).first()
    if existing is not None and not existing.is_draft():
        context["problem"] = _("Submitted visits are saved with the button only.")
        return render(request, "scouting/_autosave_status.html", context)
    try:
        visit = services.capture_visit(
            uuid=data["uuid"],
            expected_version=data.get("version"),
            by=request.user,
            organisation=data["organisation"],
            scouts=_scouts_for(existing, request.user, data.get("co_scouts") or []),
            people_met=data.get("people_met") or [],
            topics=data.get("topics") or [],
            visited_at=data["visited_at"],
            format=data["format"],
            purpose=data["purpose"],
            needs=data.get("needs") or [],
            green_skills_interest=data.get("green_skills_interest", False),
            summary=data.get("summary", "").strip(),
            is_confidential=data.get("is_confidential", False),
            guide_version=guide,
            answers=form.answers(),
        )
    except services.StaleVisit:
        context["problem"] = _(
            "This draft was changed elsewhere (in another tab or by someone else). "
            "Reload the page before you continue."
        )
    except (ValidationError, PermissionDenied) as error:
        context["problem"] = (
            error_text(error) if isinstance(error, ValidationError) else _("Not allowed.")
        )
    else:
        context["saved"] = visit
    return render(request, "scouting/_autosave_status.html", context)


@login_required
@require_GET
def visit_people(request: HttpRequest) -> HttpResponse:
    """htmx: the people picker for the organisation just chosen in the visit form."""
    require(request.user, "scouting.add_visit")
    raw = request.GET.get("organisation", "")
    organisation = Organisation.objects.filter(pk=int(raw)).first() if raw.isdigit() else None
    form = VisitForm(
        guide=None, user=request.user, organisation=organisation, initial={"uuid": uuid_lib.uuid4()}
    )
    return render(
        request,
        "scouting/_people_picker.html",
        {"form": form, "organisation": organisation},
    )


@login_required
@require_GET
def visit_detail(request: HttpRequest, uuid: uuid_lib.UUID) -> HttpResponse:
    visit = get_visit(request.user, uuid)
    questions = list(visit.guide_version.questions()) if visit.guide_version else []
    answers = [
        (q, visit.answers[q.key]) for q in questions if visit.answers and q.key in visit.answers
    ]
    follow_ups = (
        FollowUp.objects.for_user(request.user)
        .filter(visit=visit)
        .select_related("assignee")
        .order_by("status", "due_date", "pk")
    )
    context = {
        "visit": visit,
        "scouts": visit.scouts.all(),
        "people_met": visit.people_met.all(),
        "topics": visit.topics.select_related("parent"),
        "answers": answers,
        "follow_ups": follow_ups,
        "can_edit": request.user.has_perm("scouting.change_visit")
        and visit.is_editable_by(request.user),
        "can_propose": request.user.has_perm("scouting.add_followup"),
        "proposal_form": FollowUpProposalForm(),
    }
    return render(request, "scouting/visit_detail.html", context)


@login_required
@require_POST
def visit_submit(request: HttpRequest, uuid: uuid_lib.UUID) -> HttpResponse:
    visit = get_visit(request.user, uuid, action="change")
    try:
        services.submit_visit(visit, by=request.user)
    except ValidationError as error:
        messages.error(request, error_text(error))
    else:
        messages.success(request, _("Visit submitted. The network managers see it now."))
    return redirect(visit)


@login_required
@require_POST
def visit_discard(request: HttpRequest, uuid: uuid_lib.UUID) -> HttpResponse:
    visit = get_visit(request.user, uuid, action="change")
    try:
        services.discard_draft(visit, by=request.user)
    except ValidationError as error:
        messages.error(request, error_text(error))
        return redirect(visit)
    messages.success(request, _("The draft has been discarded."))
    return redirect("scouting:visit_list")


@login_required
@require_GET
def visit_history(request: HttpRequest, uuid: uuid_lib.UUID) -> HttpResponse:
    visit = get_visit(request.user, uuid)
    history_url = reverse("scouting:visit_history", args=[visit.uuid])
    return history_response(request, visit, history_url=history_url)


@login_required
@require_POST
def visit_follow_up_add(request: HttpRequest, uuid: uuid_lib.UUID) -> HttpResponse:
    visit = get_visit(request.user, uuid)
    require(request.user, "scouting.add_followup")
    form = FollowUpProposalForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("The follow-up was not saved: %s") % form_errors(form))
        return redirect(visit)
    try:
        services.propose_follow_up(by=request.user, visit=visit, **form.cleaned_data)
    except ValidationError as error:
        messages.error(request, error_text(error))
    else:
        messages.success(request, _("Follow-up proposed."))
    return redirect(visit)


@login_required
@require_http_methods(["GET", "POST"])
def organisation_follow_up_add(request: HttpRequest, pk: int) -> HttpResponse:
    organisation = crm_permissions.get_organisation(request.user, pk)
    return _follow_up_form(request, organisation=organisation)


@login_required
@require_http_methods(["GET", "POST"])
def person_follow_up_add(request: HttpRequest, pk: int) -> HttpResponse:
    person = crm_permissions.get_person(request.user, pk)
    return _follow_up_form(request, person=person)


def _follow_up_form(
    request: HttpRequest, *, organisation: Organisation | None = None, person: Person | None = None
) -> HttpResponse:
    """A follow-up about an organisation or a person; network managers may assign it
    right away."""
    require(request.user, "scouting.add_followup")
    manage = may_manage_follow_ups(request.user)
    subject = organisation or person
    form = FollowUpProposalForm(request.POST or None)
    assign_form = AssignForm(request.POST or None, prefix="assign") if manage else None
    if request.method == "POST" and form.is_valid():
        assignee_wanted = bool(request.POST.get("assign-assignee"))
        if assign_form is not None and assignee_wanted and not assign_form.is_valid():
            messages.error(request, _("Please correct the marked fields."))
        else:
            try:
                with transaction.atomic():
                    follow_up = services.propose_follow_up(
                        by=request.user,
                        organisation=organisation,
                        person=person,
                        **form.cleaned_data,
                    )
                    if assign_form is not None and assignee_wanted:
                        services.assign_follow_ups(
                            [follow_up],
                            assignee=assign_form.cleaned_data["assignee"],
                            due_date=form.cleaned_data.get("due_date"),
                            priority=form.cleaned_data.get("priority"),
                            by=request.user,
                        )
            except ValidationError as error:
                messages.error(request, error_text(error))
            else:
                messages.success(request, _("Follow-up created."))
                return redirect("scouting:follow_up_detail", pk=follow_up.pk)
    return render(
        request,
        "scouting/follow_up_new.html",
        {"form": form, "assign_form": assign_form, "subject": subject},
    )


def visit_timeline(*, user: Any, organisation: Any, person: Any, limit: int) -> list[TimelineEntry]:
    """Visits on an organisation's or person's timeline (registered in apps.py)."""
    if not user.has_perm("scouting.view_visit"):
        return []
    visits = Visit.objects.for_user(user)
    if organisation is not None:
        visits = visits.filter(organisation=organisation)
    else:
        met = Visit.people_met.through.objects.filter(person_id=person.pk)
        visits = visits.filter(pk__in=met.values("visit_id"))
    entries = []
    for visit in visits.select_related("created_by").order_by("-visited_at", "-pk")[:limit]:
        badges = [visit.get_format_display()]
        if visit.is_draft():
            badges.append(_("draft"))
        if visit.is_confidential:
            badges.append(_("confidential"))
        entries.append(
            TimelineEntry(
                when=visit.visited_at,
                kind=_("Company visit"),
                who=visit.created_by,
                text=Truncator(visit.summary).chars(280) or _("Visit without summary"),
                url=visit.get_absolute_url(),
                badges=tuple(badges),
            )
        )
    return entries


# --- Follow-ups ----------------------------------------------------------------------


def _follow_up_rows(qs: QuerySet[FollowUp]) -> QuerySet[FollowUp]:
    return qs.select_related("organisation", "person", "visit", "assignee")


def _visit_hidden_from(user: Any) -> Any:
    """Whether a follow-up's visit is one ``user`` may not open (a confidential visit
    of other scouts): the list then does not link it."""
    visible = Visit.objects.for_user(user).filter(pk=OuterRef("visit_id"))
    return Q(visit__isnull=False) & ~Exists(visible)


MY_VIEWS = (
    ("open", _("open")),
    ("overdue", _("overdue")),
    ("due_this_week", _("due this week")),
    ("closed", _("done or cancelled")),
)


@login_required
@require_GET
def my_follow_ups(request: HttpRequest) -> HttpResponse:
    require(request.user, "scouting.view_followup")
    view = request.GET.get("view", "open")
    if view not in dict(MY_VIEWS):
        view = "open"
    mine = FollowUp.objects.assigned_to(request.user).annotate(
        visit_hidden=_visit_hidden_from(request.user)
    )
    qs = follow_ups_in_view(mine, view)
    if view != "closed":
        qs = qs.order_by("due_date", "pk")
    context = {
        "page": _page(request, _follow_up_rows(qs)),
        "view": view,
        "views": [(key, str(label)) for key, label in MY_VIEWS],
        "querystring": _querystring_without(request),
        "complete_form": CompleteForm(),
        "today": timezone.localdate(),
        "proposed": FollowUp.objects.filter(created_by=request.user, assignee__isnull=True)
        .open()
        .count(),
    }
    return render(request, "scouting/my_follow_ups.html", context)


@login_required
@require_GET
def team_follow_ups(request: HttpRequest) -> HttpResponse:
    require(request.user, "scouting.view_followup")
    if not may_manage_follow_ups(request.user):
        raise PermissionDenied
    params = request.GET.copy()
    params.setdefault("view", "open")
    filterset = TeamFollowUpFilter(params, queryset=FollowUp.objects.all())
    qs = filterset.qs
    if params.get("view") != "closed":
        qs = qs.order_by("due_date", "pk")
    context = {
        "filter": filterset,
        "page": _page(request, _follow_up_rows(qs)),
        "querystring": _querystring_without(request),
        "assign_form": AssignForm(),
        "today": timezone.localdate(),
        "current_view": params.get("view"),
        "views": TeamFollowUpFilter.VIEWS,
        "base_querystring": _querystring_without(request, "view"),
    }
    return render(request, "scouting/team_follow_ups.html", context)


@login_required
@require_POST
def follow_up_assign(request: HttpRequest) -> HttpResponse:
    """Assign the checked follow-ups (one from a detail page, many from the team view)."""
    require(request.user, "scouting.view_followup")
    if not may_manage_follow_ups(request.user):
        raise PermissionDenied
    fallback = reverse("scouting:team_follow_ups")
    ids = [int(i) for i in request.POST.getlist("ids") if i.isdigit()]
    form = AssignForm(request.POST)
    if not ids:
        messages.error(request, _("Select at least one follow-up."))
        return redirect(safe_next(request, fallback))
    if not form.is_valid():
        messages.error(request, _("Nothing was assigned: %s") % form_errors(form))
        return redirect(safe_next(request, fallback))
    chosen = FollowUp.objects.for_user(request.user).filter(pk__in=ids)
    try:
        changed = services.assign_follow_ups(
            chosen,
            assignee=form.cleaned_data["assignee"],
            due_date=form.cleaned_data.get("due_date"),
            priority=form.cleaned_data.get("priority") or None,
            by=request.user,
        )
    except ValidationError as error:
        messages.error(request, _("Nothing was assigned: %s") % error_text(error))
    else:
        assignee = form.cleaned_data["assignee"]
        messages.success(
            request,
            _("%(count)d follow-up(s) assigned to %(name)s.")
            % {"count": changed, "name": assignee.get_full_name() or assignee.get_username()},
        )
    return redirect(safe_next(request, fallback))


@login_required
@require_GET
def follow_up_detail(request: HttpRequest, pk: int) -> HttpResponse:
    follow_up = get_follow_up(request.user, pk)
    manage = may_manage_follow_ups(request.user)
    follow_up.visit_hidden = bool(  # type: ignore[attr-defined]
        follow_up.visit_id
        and not Visit.objects.for_user(request.user).filter(pk=follow_up.visit_id).exists()
    )
    context = {
        "follow_up": follow_up,
        "may_manage": manage,
        "may_complete": follow_up.is_open()
        and (manage or follow_up.assignee_id == request.user.pk),
        "assign_form": AssignForm(
            initial={
                "assignee": follow_up.assignee_id,
                "due_date": follow_up.due_date,
                "priority": "",
            }
        ),
        "complete_form": CompleteForm(),
        "today": timezone.localdate(),
    }
    return render(request, "scouting/follow_up_detail.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def follow_up_edit(request: HttpRequest, pk: int) -> HttpResponse:
    follow_up = get_follow_up(request.user, pk)
    if not may_manage_follow_ups(request.user):
        raise PermissionDenied
    form = FollowUpEditForm(request.POST or None, instance=follow_up)
    if request.method == "POST" and form.is_valid():
        try:
            services.change_follow_up(
                follow_up,
                by=request.user,
                **{name: form.cleaned_data[name] for name in FollowUpEditForm.Meta.fields},
            )
        except ValidationError as error:
            messages.error(request, error_text(error))
        else:
            messages.success(request, _("Follow-up saved."))
            return redirect("scouting:follow_up_detail", pk=follow_up.pk)
    return render(request, "scouting/follow_up_form.html", {"form": form, "follow_up": follow_up})


@login_required
@require_POST
def follow_up_complete(request: HttpRequest, pk: int) -> HttpResponse:
    follow_up = get_follow_up(request.user, pk)
    form = CompleteForm(request.POST)
    if not form.is_valid():
        messages.error(request, form_errors(form))
    else:
        try:
            services.complete_follow_up(follow_up, note=form.cleaned_data["note"], by=request.user)
        except ValidationError as error:
            messages.error(request, error_text(error))
        else:
            messages.success(request, _("Follow-up “%s” done.") % follow_up.title)
    return redirect(safe_next(request, reverse("scouting:follow_up_detail", args=[pk])))


@login_required
@require_POST
def follow_up_start(request: HttpRequest, pk: int) -> HttpResponse:
    follow_up = get_follow_up(request.user, pk)
    try:
        services.start_follow_up(follow_up, by=request.user)
    except ValidationError as error:
        messages.error(request, error_text(error))
    return redirect(safe_next(request, reverse("scouting:follow_up_detail", args=[pk])))


@login_required
@require_POST
def follow_up_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    follow_up = get_follow_up(request.user, pk)
    form = CompleteForm(request.POST)
    note = form.cleaned_data["note"] if form.is_valid() else ""
    try:
        services.cancel_follow_up(follow_up, note=note, by=request.user)
    except ValidationError as error:
        messages.error(request, error_text(error))
    else:
        messages.success(request, _("Follow-up cancelled."))
    return redirect("scouting:follow_up_detail", pk=pk)


@login_required
@require_GET
def follow_up_history(request: HttpRequest, pk: int) -> HttpResponse:
    follow_up = get_follow_up(request.user, pk)
    history_url = reverse("scouting:follow_up_history", args=[pk])
    return history_response(request, follow_up, history_url=history_url)


# --- Start page ----------------------------------------------------------------------


def dashboard_panels(request: HttpRequest) -> list[Panel]:
    """The scout's and the network manager's panels on the start page."""
    user = request.user
    found: list[Panel] = []
    if user.has_perm("scouting.view_followup"):
        found.append(Panel("scouting/_panel_my_follow_ups.html", _my_follow_up_panel(user), 20))
    if user.has_perm("scouting.add_visit") and has_role(user, Role.SCOUT):
        found.append(Panel("scouting/_panel_scout.html", _scout_panel(user), 10))
    if may_manage_follow_ups(user):
        found.append(Panel("scouting/_panel_manager.html", _manager_panel(request), 10))
    if user.has_perm("scouting.view_visit"):
        found.append(Panel("scouting/_panel_districts.html", district_quarter_stats(), 40))
    return found


def _my_follow_up_panel(user: Any) -> dict[str, Any]:
    mine = FollowUp.objects.assigned_to(user).open()
    today = timezone.localdate()
    counts = mine.aggregate(open=Count("pk"), overdue=Count("pk", filter=Q(due_date__lt=today)))
    return {
        "items": list(
            mine.select_related("organisation", "person").order_by("due_date", "pk")[:PANEL_ITEMS]
        ),
        "counts": counts,
        "today": today,
    }


def _scout_panel(user: Any) -> dict[str, Any]:
    own = Visit.objects.filter(
        pk__in=Visit.scouts.through.objects.filter(user_id=user.pk).values("visit_id")
    ).select_related("organisation")
    return {
        # By visit date: the (status, visited_at) index finds the scout's few first.
        "drafts": list(own.drafts().order_by("-visited_at", "-pk")[:PANEL_ITEMS]),
        "recent": list(own.submitted().order_by("-visited_at", "-pk")[:PANEL_ITEMS]),
    }


def _manager_panel(request: HttpRequest) -> dict[str, Any]:
    today = timezone.localdate()
    since = parse_datetime(request.session.get(PREVIOUS_LOGIN_SESSION_KEY, "") or "")
    if since is None:
        since = timezone.now() - datetime.timedelta(days=7)
    new_visits = Visit.objects.submitted().filter(submitted_at__gte=since)
    open_follow_ups = FollowUp.objects.open()
    # One pass over the open follow-ups (an index-only scan of followup_open_due),
    # grouped by assignee: the unassigned group and the overdue sums come from it too.
    groups = list(
        open_follow_ups.order_by()
        .values("assignee_id")
        .annotate(open=Count("pk"), overdue=Count("pk", filter=Q(due_date__lt=today)))
    )
    counts = {
        "unassigned": sum(g["open"] for g in groups if g["assignee_id"] is None),
        "overdue": sum(g["overdue"] for g in groups),
    }
    assigned = sorted(
        (g for g in groups if g["assignee_id"] is not None),
        key=lambda g: (-g["overdue"], -g["open"], g["assignee_id"]),
    )[:15]
    users = get_user_model().objects.in_bulk([g["assignee_id"] for g in assigned])
    by_assignee = [{**g, "user": users.get(g["assignee_id"])} for g in assigned]
    return {
        "since": since,
        "new_visit_count": new_visits[:1000].count(),
        "new_visits": list(
            new_visits.select_related("organisation").order_by("-submitted_at", "-pk")[:8]
        ),
        "unassigned": list(
            open_follow_ups.filter(assignee__isnull=True)
            .select_related("organisation", "person")
            .order_by("due_date", "pk")[:PANEL_ITEMS]
        ),
        "overdue": list(
            open_follow_ups.filter(due_date__lt=today)
            .select_related("organisation", "person", "assignee")
            .order_by("due_date", "pk")[:PANEL_ITEMS]
        ),
        "counts": counts,
        "by_assignee": by_assignee,
        "today": today,
    }


def quarter_of(day: datetime.date) -> tuple[datetime.date, datetime.date]:
    first_month = 3 * ((day.month - 1) // 3) + 1
    start = day.replace(month=first_month, day=1)
    end = (start + datetime.timedelta(days=95)).replace(day=1)
    return start, end


def district_quarter_stats() -> dict[str, Any]:
    """Submitted visits per district this quarter with the share in rural municipalities.

    One aggregate query, cached for a few minutes: it is the same for every reader
    and only counts, no confidential detail.
    """
    start, end = quarter_of(timezone.localdate())
    key = f"scouting:district-quarter:{start.isoformat()}"
    stats = cache.get(key)
    if stats is None:
        tz = timezone.get_current_timezone()
        rows = (
            Visit.objects.submitted()
            .filter(
                visited_at__gte=datetime.datetime.combine(start, datetime.time.min, tzinfo=tz),
                visited_at__lt=datetime.datetime.combine(end, datetime.time.min, tzinfo=tz),
            )
            .values("organisation__municipality__district")
            .annotate(
                visits=Count("pk"),
                rural=Count(
                    "pk",
                    filter=Q(organisation__municipality__area_type=Municipality.AreaType.RURAL),
                ),
            )
        )
        counted = {r["organisation__municipality__district"]: r for r in rows}
        districts = []
        for district in District.objects.order_by("name"):
            row = counted.get(district.pk, {"visits": 0, "rural": 0})
            districts.append(
                {
                    "name": str(district),
                    "pk": district.pk,
                    "visits": row["visits"],
                    "rural_share": row["rural"] / row["visits"] if row["visits"] else None,
                }
            )
        total = sum(d["visits"] for d in districts)
        rural = sum(r["rural"] for r in counted.values())
        stats = {
            "computed_at": timezone.now(),
            "start": start,
            "end": end - datetime.timedelta(days=1),
            "districts": districts,
            "total": total,
            "rural_share": rural / total if total else None,
            "without_district": counted.get(None, {"visits": 0})["visits"],
        }
        cache.set(key, stats, DISTRICT_STATS_SECONDS)
    return stats
