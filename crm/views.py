"""Pages of the CRM core: thin views that parse, check access, call a service, respond."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Prefetch, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from . import permissions, services
from .extensions import TimelineEntry, panels, timeline_entries
from .filters import OrganisationFilter, PersonFilter
from .forms import (
    AffiliationForm,
    BulkOrganisationForm,
    ConsentForm,
    MergeForm,
    NoteForm,
    OrganisationForm,
    PersonForm,
    RelationshipForm,
)
from .models import (
    Affiliation,
    ConsentRecord,
    MergeRecord,
    Note,
    Organisation,
    Person,
    Relationship,
)
from .pagination import EstimatedCountPaginator, approximate_count
from .roles import Role, has_role
from .search import clean_query, is_searchable, search
from .web import form_errors, history_response, safe_next

LIST_PAGE_SIZE = 25
DETAIL_LIST_LIMIT = 50
# The global search and typeahead show the best 20 of at most this many matches.
QUICK_SEARCH_POOL = 300
TYPEAHEAD_LIMIT = 10


def healthz(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain")


def _page(request: HttpRequest, qs: QuerySet, size: int = LIST_PAGE_SIZE) -> Any:
    return EstimatedCountPaginator(qs, size).get_page(request.GET.get("page"))


def _querystring_without_page(request: HttpRequest) -> str:
    params = request.GET.copy()
    params.pop("page", None)
    return params.urlencode()


def _partial_or_page(
    request: HttpRequest, page_template: str, partial_template: str, context: dict[str, Any]
) -> HttpResponse:
    """htmx requests aimed at the results region get only the fragment."""
    if getattr(request, "htmx", False) and request.htmx.target == "results":  # type: ignore[attr-defined]
        return render(request, partial_template, context)
    return render(request, page_template, context)


@login_required
def home(request: HttpRequest) -> HttpResponse:
    context: dict[str, Any] = {}
    if request.user.has_perm("crm.view_organisation"):
        # Estimated on large tables: an exact count of 300,000 rows costs ~60 ms each.
        context["organisation_count"] = approximate_count(Organisation)
        context["person_count"] = approximate_count(Person)
        context["recent_organisations"] = Organisation.objects.select_related(
            "municipality"
        ).order_by("-updated_at")[:8]
        context["my_organisations"] = (
            Organisation.objects.filter(responsible_manager=request.user)
            .select_related("municipality")
            .order_by("name")[:8]
        )
    context["panels"] = panels(request)
    return render(request, "crm/home.html", context)


# --- Organisations -------------------------------------------------------------------


@login_required
def organisation_list(request: HttpRequest) -> HttpResponse:
    permissions.require_permission(request.user, "crm.view_organisation")
    base = Organisation.objects.select_related(
        "municipality__district", "responsible_manager"
    ).order_by("name", "id")
    filterset = OrganisationFilter(request.GET or None, queryset=base)
    qs = filterset.qs if filterset.is_bound else base
    page = _page(request, qs)
    can_bulk = request.user.has_perm("crm.change_organisation") and has_role(
        request.user, Role.NETWORK_MANAGER, Role.ADMINISTRATION
    )
    context = {
        "filter": filterset,
        "page": page,
        "querystring": _querystring_without_page(request),
        "can_bulk": can_bulk,
        "bulk_form": BulkOrganisationForm() if can_bulk else None,
        "can_export": request.user.has_perm("crm.export_organisation"),
    }
    return _partial_or_page(
        request, "crm/organisation_list.html", "crm/_organisation_results.html", context
    )


@login_required
@require_POST
def organisation_bulk(request: HttpRequest) -> HttpResponse:
    if not (
        request.user.has_perm("crm.change_organisation")
        and has_role(request.user, Role.NETWORK_MANAGER, Role.ADMINISTRATION)
    ):
        raise PermissionDenied
    form = BulkOrganisationForm(request.POST)
    if not form.is_valid():
        for error in form.errors.values():
            messages.error(request, " ".join(error))
        return redirect(request.POST.get("next") or "crm:organisation_list")
    changed = services.bulk_update_organisations(
        list(form.cleaned_data["ids"]),
        by=request.user,
        responsible_manager=form.cleaned_data.get("responsible_manager")
        if form.cleaned_data["action"] == "assign_manager"
        else None,
        status=form.cleaned_data.get("status")
        if form.cleaned_data["action"] == "set_status"
        else None,
    )
    messages.success(request, _("%(count)d organisations updated.") % {"count": changed})
    return redirect(_safe_next(request, "crm:organisation_list"))


def _safe_next(request: HttpRequest, fallback: str) -> str:
    return safe_next(request, reverse(fallback))


def _organisation_duplicates(form: OrganisationForm, exclude_pk: int | None = None) -> list:
    data = form.cleaned_data
    return services.find_duplicate_organisations(
        name=data.get("name", ""),
        email=data.get("email", ""),
        website=data.get("website", ""),
        register_number=data.get("register_number", ""),
        exclude_pk=exclude_pk,
    )


@login_required
@require_http_methods(["GET", "POST"])
def organisation_create(request: HttpRequest) -> HttpResponse:
    permissions.require_permission(request.user, "crm.add_organisation")
    duplicates: list = []
    if request.method == "POST":
        form = OrganisationForm(request.POST)
        if form.is_valid():
            duplicates = _organisation_duplicates(form)
            if duplicates and not form.cleaned_data.get("confirm_not_duplicate"):
                messages.warning(
                    request,
                    _(
                        "There are similar organisations. Please check them; if yours is "
                        "different, confirm below and save again."
                    ),
                )
            else:
                organisation = services.create_organisation(
                    form.save(commit=False),
                    offered_topics=form.cleaned_data["offered_topics"],
                    needed_topics=form.cleaned_data["needed_topics"],
                    by=request.user,
                )
                messages.success(request, _("Organisation “%s” created.") % organisation.name)
                return redirect(organisation)
    else:
        form = OrganisationForm(initial={"responsible_manager": _default_manager(request)})
    return render(
        request,
        "crm/organisation_form.html",
        {"form": form, "duplicates": duplicates, "creating": True},
    )


def _default_manager(request: HttpRequest) -> Any:
    return request.user.pk if has_role(request.user, Role.NETWORK_MANAGER) else None


@login_required
def organisation_duplicates(request: HttpRequest) -> HttpResponse:
    """htmx: likely duplicates while the user types the name, domain or register number."""
    permissions.require_permission(request.user, "crm.view_organisation")
    exclude = request.GET.get("exclude")
    duplicates = services.find_duplicate_organisations(
        # The visit form names its field for a new organisation differently.
        name=clean_query(request.GET.get("name") or request.GET.get("new_organisation_name")),
        email=clean_query(request.GET.get("email")),
        website=clean_query(request.GET.get("website")),
        register_number=clean_query(request.GET.get("register_number")),
        exclude_pk=int(exclude) if exclude and exclude.isdigit() else None,
    )
    # pick=1: offered in a form that can use an existing organisation instead (visits).
    context = {"duplicates": duplicates, "live": True, "pick": request.GET.get("pick") == "1"}
    return render(request, "crm/_duplicates.html", context)


@login_required
def organisation_detail(request: HttpRequest, pk: int) -> HttpResponse:
    organisation = permissions.get_organisation(request.user, pk)
    # A university has thousands of people and relationships: show the first ones and
    # link to the full, filterable person list.
    # Ordered without joins, so the first rows come without sorting thousands.
    affiliations = organisation.affiliations.select_related("person").order_by("-is_primary", "-pk")
    relationships_out = (
        Relationship.objects.filter(source=organisation).select_related("target").order_by("-pk")
    )
    relationships_in = (
        Relationship.objects.filter(target=organisation).select_related("source").order_by("-pk")
    )
    relationship_count = relationships_out.count() + relationships_in.count()
    relationships = list(relationships_out[:DETAIL_LIST_LIMIT])
    relationships += list(relationships_in[: DETAIL_LIST_LIMIT - len(relationships)])
    timeline = _timeline(request.user, organisation=organisation)
    context = {
        "organisation": organisation,
        "affiliations": affiliations[:DETAIL_LIST_LIMIT],
        "affiliation_count": affiliations.count(),
        "relationships": relationships,
        "relationship_count": relationship_count,
        "detail_list_limit": DETAIL_LIST_LIMIT,
        "offered_topics": organisation.offered_topics.select_related("parent"),
        "needed_topics": organisation.needed_topics.select_related("parent"),
        "timeline": timeline,
        "note_form": NoteForm(),
        "relationship_form": RelationshipForm(),
        "can_change": request.user.has_perm("crm.change_organisation"),
        "can_merge": request.user.has_perm("crm.merge_organisation"),
        "can_add_note": request.user.has_perm("crm.add_note"),
        "can_add_relationship": request.user.has_perm("crm.add_relationship"),
        "can_delete_relationship": request.user.has_perm("crm.delete_relationship"),
        "can_add_person": request.user.has_perm("crm.add_person"),
        "merges": MergeRecord.objects.filter(
            kind=MergeRecord.Kind.ORGANISATION, survivor_id=organisation.pk
        ).select_related("merged_by")[:10],
    }
    return render(request, "crm/organisation_detail.html", context)


def _timeline(
    user: Any, *, organisation: Organisation | None = None, person: Person | None = None
) -> list[TimelineEntry]:
    """Notes, and what other apps (visits, transfer requests) register."""
    return timeline_entries(
        user=user, organisation=organisation, person=person, limit=DETAIL_LIST_LIMIT
    )


def note_timeline(
    *, user: Any, organisation: Organisation | None, person: Person | None, limit: int
) -> list[TimelineEntry]:
    notes = Note.objects.select_related("author").order_by("-created_at", "-pk")
    notes = notes.filter(organisation=organisation) if organisation else notes.filter(person=person)
    return [
        TimelineEntry(when=n.created_at, kind=_("Note"), who=n.author, text=n.text)
        for n in notes[:limit]
    ]


@login_required
@require_http_methods(["GET", "POST"])
def organisation_edit(request: HttpRequest, pk: int) -> HttpResponse:
    organisation = permissions.get_organisation(request.user, pk, action="change")
    duplicates: list = []
    if request.method == "POST":
        form = OrganisationForm(request.POST, instance=organisation)
        if form.is_valid():
            identity_changed = {"name", "email", "website", "register_number"} & set(
                form.changed_data
            )
            if identity_changed:
                duplicates = _organisation_duplicates(form, exclude_pk=organisation.pk)
            if duplicates and not form.cleaned_data.get("confirm_not_duplicate"):
                messages.warning(request, _("The changed data resembles other organisations."))
            else:
                services.update_organisation(
                    form.save(commit=False),
                    offered_topics=form.cleaned_data["offered_topics"],
                    needed_topics=form.cleaned_data["needed_topics"],
                    by=request.user,
                )
                messages.success(request, _("Changes saved."))
                return redirect(organisation)
    else:
        form = OrganisationForm(instance=organisation)
    return render(
        request,
        "crm/organisation_form.html",
        {"form": form, "organisation": organisation, "duplicates": duplicates},
    )


@login_required
def organisation_history(request: HttpRequest, pk: int) -> HttpResponse:
    organisation = permissions.get_organisation(request.user, pk)
    return _history(request, organisation, "crm:organisation_history")


@login_required
@require_http_methods(["GET", "POST"])
def organisation_merge(request: HttpRequest, pk: int) -> HttpResponse:
    survivor = permissions.get_organisation(request.user, pk, action="merge")
    return _merge(
        request,
        survivor,
        merge=services.merge_organisations,
        kind="organisation",
        not_found=_("There is no organisation with this ID."),
    )


def _history(request: HttpRequest, obj: Any, url_name: str) -> HttpResponse:
    return history_response(request, obj, history_url=reverse(url_name, args=[obj.pk]))


def _merge(
    request: HttpRequest, survivor: Any, *, merge: Any, kind: str, not_found: str
) -> HttpResponse:
    """Preview (GET ?other=) and perform (POST) the merge of a duplicate into ``survivor``."""
    model = type(survivor)
    other = None
    form = MergeForm(request.POST or None, initial={"other": request.GET.get("other")})
    if request.method == "GET" and request.GET.get("other", "").isdigit():
        other = model.objects.filter(pk=int(request.GET["other"])).first()
    if request.method == "POST" and form.is_valid():
        other = model.objects.filter(pk=form.cleaned_data["other"]).first()
        if other is None:
            form.add_error("other", not_found)
        else:
            try:
                merge(survivor, other, by=request.user)
            except services.MergeError as error:
                form.add_error("other", str(error))
            else:
                messages.success(
                    request,
                    _("“%(merged)s” was merged into “%(survivor)s”.")
                    % {"merged": other, "survivor": survivor},
                )
                return redirect(survivor)
    return render(
        request,
        "crm/merge.html",
        {
            "form": form,
            "survivor": survivor,
            "other": other,
            "kind": kind,
            "other_affiliations": other.affiliations.count() if other else 0,
        },
    )


@login_required
def organisation_typeahead(request: HttpRequest) -> HttpResponse:
    permissions.require_permission(request.user, "crm.view_organisation")
    query = clean_query(request.GET.get("q") or request.GET.get("organisation_search"))
    results = []
    if is_searchable(query):
        results = list(
            search(
                Organisation.objects.select_related("municipality"),
                query,
                pool=QUICK_SEARCH_POOL,
            )[:TYPEAHEAD_LIMIT]
        )
    return render(
        request,
        "crm/_typeahead.html",
        {"results": results, "query": query, "for": request.GET.get("for", "")},
    )


@login_required
@require_POST
def organisation_note_add(request: HttpRequest, pk: int) -> HttpResponse:
    organisation = permissions.get_organisation(request.user, pk)
    permissions.require_permission(request.user, "crm.add_note")
    form = NoteForm(request.POST)
    if form.is_valid():
        services.add_note(
            text=form.cleaned_data["text"], by=request.user, organisation=organisation
        )
        messages.success(request, _("Note added."))
    else:
        messages.error(request, _("The note could not be saved: it is empty or too long."))
    return redirect(organisation)


@login_required
@require_POST
def relationship_add(request: HttpRequest, pk: int) -> HttpResponse:
    organisation = permissions.get_organisation(request.user, pk)
    permissions.require_permission(request.user, "crm.add_relationship")
    form = RelationshipForm(request.POST, instance=Relationship(source=organisation))
    if form.is_valid():
        try:
            services.save_relationship(form.instance, by=request.user)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, _("Relationship added."))
    else:
        messages.error(request, _("The relationship could not be saved: %s") % form_errors(form))
    return redirect(organisation)


@login_required
@require_POST
def relationship_delete(request: HttpRequest, pk: int) -> HttpResponse:
    relationship = permissions.get_relationship(request.user, pk, action="delete")
    source = relationship.source
    services.delete_with_history(relationship, by=request.user)
    messages.success(request, _("Relationship removed."))
    return redirect(source)


# --- People --------------------------------------------------------------------------


def _people_with_primary(qs: QuerySet[Person]) -> QuerySet[Person]:
    return qs.prefetch_related(
        Prefetch(
            "affiliations",
            queryset=Affiliation.objects.filter(is_primary=True).select_related(
                "organisation__municipality"
            ),
            to_attr="primary_affiliations",
        )
    )


@login_required
def person_list(request: HttpRequest) -> HttpResponse:
    permissions.require_permission(request.user, "crm.view_person")
    base = Person.objects.order_by("last_name", "first_name", "id")
    filterset = PersonFilter(request.GET or None, queryset=base)
    qs = filterset.qs if filterset.is_bound else base
    page = _page(request, _people_with_primary(qs))
    context = {
        "filter": filterset,
        "page": page,
        "querystring": _querystring_without_page(request),
        "can_export": request.user.has_perm("crm.export_organisation"),
    }
    return _partial_or_page(request, "crm/person_list.html", "crm/_person_results.html", context)


def _person_duplicates(form: PersonForm, exclude_pk: int | None = None) -> list:
    data = form.cleaned_data
    return services.find_duplicate_people(
        first_name=data.get("first_name", ""),
        last_name=data.get("last_name", ""),
        email=data.get("email", ""),
        exclude_pk=exclude_pk,
    )


@login_required
@require_http_methods(["GET", "POST"])
def person_create(request: HttpRequest) -> HttpResponse:
    permissions.require_permission(request.user, "crm.add_person")
    organisation = None
    org_id = request.POST.get("organisation") or request.GET.get("organisation")
    if org_id and str(org_id).isdigit():
        organisation = permissions.get_organisation(request.user, int(org_id))
    duplicates: list = []
    if request.method == "POST":
        form = PersonForm(request.POST)
        function = request.POST.get("function", "").strip()[:120]
        if form.is_valid():
            duplicates = _person_duplicates(form)
            if duplicates and not form.cleaned_data.get("confirm_not_duplicate"):
                messages.warning(
                    request,
                    _(
                        "There are similar people. Please check them; if yours is different, "
                        "confirm below and save again."
                    ),
                )
            else:
                person = services.create_person(
                    form.save(commit=False),
                    by=request.user,
                    organisation=organisation,
                    function=function,
                )
                messages.success(request, _("“%s” created.") % person.full_name)
                return redirect(organisation or person)
    else:
        form = PersonForm()
    return render(
        request,
        "crm/person_form.html",
        {
            "form": form,
            "duplicates": duplicates,
            "creating": True,
            "organisation": organisation,
            "function": request.POST.get("function", ""),
        },
    )


@login_required
def person_duplicates(request: HttpRequest) -> HttpResponse:
    permissions.require_permission(request.user, "crm.view_person")
    exclude = request.GET.get("exclude")
    duplicates = services.find_duplicate_people(
        first_name=clean_query(request.GET.get("first_name")),
        last_name=clean_query(request.GET.get("last_name")),
        email=clean_query(request.GET.get("email")),
        exclude_pk=int(exclude) if exclude and exclude.isdigit() else None,
    )
    return render(request, "crm/_duplicates.html", {"duplicates": duplicates, "live": True})


@login_required
def person_detail(request: HttpRequest, pk: int) -> HttpResponse:
    person = permissions.get_person(request.user, pk)
    context = {
        "person": person,
        "affiliations": person.affiliations.select_related("organisation__municipality"),
        "consents": person.consents.select_related("recorded_by"),
        "can_be_emailed": person.can_be_emailed(),
        "timeline": _timeline(request.user, person=person),
        "note_form": NoteForm(),
        "consent_form": ConsentForm(),
        "affiliation_form": AffiliationForm(),
        "can_change": request.user.has_perm("crm.change_person"),
        "can_merge": request.user.has_perm("crm.merge_person"),
        "can_add_note": request.user.has_perm("crm.add_note"),
        "can_add_consent": request.user.has_perm("crm.add_consentrecord"),
        "can_change_consent": request.user.has_perm("crm.change_consentrecord"),
        "can_add_affiliation": request.user.has_perm("crm.add_affiliation"),
        "can_change_affiliation": request.user.has_perm("crm.change_affiliation"),
        "merges": MergeRecord.objects.filter(
            kind=MergeRecord.Kind.PERSON, survivor_id=person.pk
        ).select_related("merged_by")[:10],
    }
    return render(request, "crm/person_detail.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def person_edit(request: HttpRequest, pk: int) -> HttpResponse:
    person = permissions.get_person(request.user, pk, action="change")
    duplicates: list = []
    if request.method == "POST":
        form = PersonForm(request.POST, instance=person)
        if form.is_valid():
            if {"first_name", "last_name", "email"} & set(form.changed_data):
                duplicates = _person_duplicates(form, exclude_pk=person.pk)
            if duplicates and not form.cleaned_data.get("confirm_not_duplicate"):
                messages.warning(request, _("The changed data resembles other people."))
            else:
                services.save_with_history(form.save(commit=False), by=request.user)
                messages.success(request, _("Changes saved."))
                return redirect(person)
    else:
        form = PersonForm(instance=person)
    return render(
        request, "crm/person_form.html", {"form": form, "person": person, "duplicates": duplicates}
    )


@login_required
def person_history(request: HttpRequest, pk: int) -> HttpResponse:
    person = permissions.get_person(request.user, pk)
    return _history(request, person, "crm:person_history")


@login_required
@require_http_methods(["GET", "POST"])
def person_merge(request: HttpRequest, pk: int) -> HttpResponse:
    survivor = permissions.get_person(request.user, pk, action="merge")
    return _merge(
        request,
        survivor,
        merge=services.merge_people,
        kind="person",
        not_found=_("There is no person with this ID."),
    )


@login_required
@require_POST
def person_note_add(request: HttpRequest, pk: int) -> HttpResponse:
    person = permissions.get_person(request.user, pk)
    permissions.require_permission(request.user, "crm.add_note")
    form = NoteForm(request.POST)
    if form.is_valid():
        services.add_note(text=form.cleaned_data["text"], by=request.user, person=person)
        messages.success(request, _("Note added."))
    else:
        messages.error(request, _("The note could not be saved: it is empty or too long."))
    return redirect(person)


@login_required
@require_POST
def affiliation_add(request: HttpRequest, pk: int) -> HttpResponse:
    person = permissions.get_person(request.user, pk)
    permissions.require_permission(request.user, "crm.add_affiliation")
    form = AffiliationForm(request.POST, instance=Affiliation(person=person))
    if form.is_valid():
        services.save_affiliation(form.instance, by=request.user)
        messages.success(request, _("Affiliation added."))
    else:
        messages.error(request, _("The affiliation could not be saved: %s") % form_errors(form))
    return redirect(person)


@login_required
@require_POST
def affiliation_end(request: HttpRequest, pk: int) -> HttpResponse:
    """Mark an affiliation as ended today (people change jobs; the past stays visible)."""
    affiliation = permissions.get_affiliation(request.user, pk, action="change")
    try:
        services.end_affiliation(affiliation, by=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, _("Affiliation ended."))
    return redirect(_safe_next(request, "crm:person_list"))


@login_required
@require_POST
def consent_add(request: HttpRequest, pk: int) -> HttpResponse:
    person = permissions.get_person(request.user, pk)
    permissions.require_permission(request.user, "crm.add_consentrecord")
    form = ConsentForm(request.POST, instance=ConsentRecord(person=person))
    if form.is_valid():
        services.record_consent(form.instance, by=request.user)
        messages.success(request, _("Consent record saved."))
    else:
        messages.error(request, _("The consent record could not be saved: %s") % form_errors(form))
    return redirect(person)


@login_required
@require_POST
def consent_withdraw(request: HttpRequest, pk: int) -> HttpResponse:
    consent = permissions.get_consent(request.user, pk, action="change")
    try:
        services.withdraw_consent(consent, by=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, _("Consent withdrawn."))
    return redirect(consent.person)


# --- Search --------------------------------------------------------------------------


@login_required
def global_search(request: HttpRequest) -> HttpResponseBase:
    can_orgs = request.user.has_perm("crm.view_organisation")
    can_people = request.user.has_perm("crm.view_person")
    if not (can_orgs or can_people):
        raise PermissionDenied
    query = clean_query(request.GET.get("q"))
    organisations: list[Organisation] = []
    people: list[Person] = []
    too_short = bool(query) and not is_searchable(query)
    if query and not too_short:
        if can_orgs:
            organisations = list(
                search(
                    Organisation.objects.select_related("municipality__district"),
                    query,
                    pool=QUICK_SEARCH_POOL,
                )[:20]
            )
        if can_people:
            people = list(
                _people_with_primary(search(Person.objects.all(), query, pool=QUICK_SEARCH_POOL))[
                    :20
                ]
            )
    return render(
        request,
        "crm/search.html",
        {
            "global_q": query,
            "organisations": organisations,
            "people": people,
            "too_short": too_short,
        },
    )
