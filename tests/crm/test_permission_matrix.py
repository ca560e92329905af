"""Every URL the project defines, requested with GET by every persona.

The test walks the URL configuration itself, so a new URL fails here until
someone decides who may open it. To add one:

1. Put its name in EXPECTATIONS with the status each persona should get
   (or let a PREFIX_RULES entry cover a whole family of URLs).
2. If it takes a parameter the helpers below do not know yet, add the value to
   PARAM_VALUES (by parameter name) or the object to OBJECT_BY_SEGMENT (for
   `pk`, by the URL's first path segment), or the kwargs to KWARGS_BY_URL.

Statuses: 200 shown, 302 sent elsewhere (anonymous: to the login page),
403 may know it exists but may not do this, 404 may not even know it exists
(personal data), 405 GET not allowed.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.core.cache import cache
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve, reverse

from crm.models import ConsentRecord, ImportJob, Note, Organisation, Relationship
from pipeline.services import create_request, propose_match, record_outcome
from pipeline.stages import install_default_stages
from reporting import services as report_services
from reporting.periods import Period
from scouting.models import InterviewGuide
from scouting.services import propose_follow_up, record_visit

PERSONAS = ("anon", "scout", "manager", "administration", "funder", "outsider")
SIGNED_IN = PERSONAS[1:]


def statuses(anon: int = 302, others: int | None = None, **by_persona: int) -> dict[str, int]:
    """Expected statuses: `anon` for anonymous, `others` for every signed-in persona
    not named in `by_persona`."""
    expected = {"anon": anon}
    for persona in SIGNED_IN:
        expected[persona] = by_persona.get(persona, others if others is not None else 200)
    unknown = set(by_persona) - set(SIGNED_IN)
    assert not unknown, f"unknown personas {unknown}"
    return expected


# Common shapes.
EVERYONE = statuses(anon=200, others=200)
SIGNED_IN_ONLY = statuses(anon=302, others=200)
# Contact work (organisations, people): the CRM roles; for the others the records do
# not exist (404) or the list is refused (403).
CRM_LIST = statuses(funder=403, outsider=403)
CRM_RECORD = statuses(funder=404, outsider=404)
# Something only the network manager and administration may do.
MANAGER_ACTION = statuses(scout=403, funder=403, outsider=403)
MANAGER_RECORD_ACTION = statuses(scout=403, funder=404, outsider=404)
# Logging visits: scouts and network managers.
VISIT_WRITE = statuses(administration=403, funder=403, outsider=403)
ADMINISTRATION_ONLY = statuses(scout=403, manager=403, funder=403, outsider=403)
# Actions that only accept POST: GET shows that signing in comes first, nothing more.
POST_ONLY = statuses(others=405)
# The API answers 401 (with a token challenge) rather than redirecting to a login page.
API = statuses(anon=401, funder=403, outsider=403)

# Expected status of a GET, by URL name ("namespace:name"), for every persona.
EXPECTATIONS: dict[str, dict[str, int]] = {
    # --- crm web UI ---
    "crm:home": SIGNED_IN_ONLY,
    "crm:search": CRM_LIST,
    "crm:organisation_list": CRM_LIST,
    "crm:organisation_create": CRM_LIST,
    "crm:organisation_bulk": POST_ONLY,
    "crm:organisation_duplicates": CRM_LIST,
    "crm:organisation_typeahead": CRM_LIST,
    "crm:organisation_detail": CRM_RECORD,
    "crm:organisation_edit": CRM_RECORD,
    "crm:organisation_history": CRM_RECORD,
    "crm:organisation_merge": MANAGER_RECORD_ACTION,
    "crm:organisation_note_add": POST_ONLY,
    "crm:relationship_add": POST_ONLY,
    "crm:relationship_delete": POST_ONLY,
    "crm:person_list": CRM_LIST,
    "crm:person_create": CRM_LIST,
    "crm:person_duplicates": CRM_LIST,
    "crm:person_detail": CRM_RECORD,
    "crm:person_edit": CRM_RECORD,
    "crm:person_history": CRM_RECORD,
    "crm:person_merge": MANAGER_RECORD_ACTION,
    "crm:person_note_add": POST_ONLY,
    "crm:affiliation_add": POST_ONLY,
    "crm:affiliation_end": POST_ONLY,
    "crm:consent_add": POST_ONLY,
    "crm:consent_withdraw": POST_ONLY,
    # --- scouting: the fixture visit is the scout's draft, not confidential ---
    "scouting:visit_list": CRM_LIST,
    "scouting:visit_create": VISIT_WRITE,
    "scouting:visit_export": MANAGER_ACTION,
    "scouting:visit_autosave": POST_ONLY,
    "scouting:visit_people": VISIT_WRITE,
    "scouting:visit_detail": CRM_RECORD,
    "scouting:visit_edit": statuses(administration=403, funder=404, outsider=404),
    "scouting:visit_submit": POST_ONLY,
    "scouting:visit_discard": POST_ONLY,
    "scouting:visit_history": CRM_RECORD,
    "scouting:visit_follow_up_add": POST_ONLY,
    "scouting:organisation_follow_up_add": statuses(administration=403, funder=404, outsider=404),
    "scouting:person_follow_up_add": statuses(administration=403, funder=404, outsider=404),
    "scouting:my_follow_ups": CRM_LIST,
    "scouting:team_follow_ups": statuses(scout=403, administration=403, funder=403, outsider=403),
    "scouting:follow_up_assign": POST_ONLY,
    # The fixture follow-up was proposed by the scout on the visit.
    "scouting:follow_up_detail": CRM_RECORD,
    "scouting:follow_up_edit": statuses(scout=403, administration=403, funder=404, outsider=404),
    "scouting:follow_up_complete": POST_ONLY,
    "scouting:follow_up_start": POST_ONLY,
    "scouting:follow_up_cancel": POST_ONLY,
    "scouting:follow_up_history": CRM_RECORD,
    # --- pipeline: the fixture request was created by the scout ---
    "pipeline:board": CRM_LIST,
    "pipeline:request_list": CRM_LIST,
    # Aggregates only: the funding body may see them.
    "pipeline:metrics": statuses(outsider=403),
    "pipeline:request_create": VISIT_WRITE,
    "pipeline:request_export": MANAGER_ACTION,
    "pipeline:request_from_visit": POST_ONLY,
    "pipeline:request_detail": CRM_RECORD,
    "pipeline:request_edit": statuses(scout=403, administration=403, funder=404, outsider=404),
    "pipeline:request_move": statuses(scout=403, administration=403, funder=404, outsider=404),
    "pipeline:match_add": POST_ONLY,
    "pipeline:match_status": POST_ONLY,
    "pipeline:outcome_add": POST_ONLY,
    "pipeline:follow_up_add": POST_ONLY,
    "pipeline:request_history": CRM_RECORD,
    "pipeline:board_cards": CRM_LIST,
    "pipeline:request_contacts": VISIT_WRITE,
    # --- reporting: the fixture report is published ---
    "reporting:dashboard": MANAGER_ACTION,
    "reporting:dashboard_part": MANAGER_ACTION,
    "reporting:records": MANAGER_ACTION,
    "reporting:records_export": ADMINISTRATION_ONLY,
    # Funders read published reports (drafts do not exist for them).
    "reporting:report_list": statuses(scout=403, outsider=403),
    "reporting:report_create": POST_ONLY,
    "reporting:report_detail": statuses(scout=403, outsider=403),
    "reporting:report_progress": statuses(scout=403, outsider=403),
    "reporting:report_download": statuses(scout=403, outsider=403),
    "reporting:report_compute": POST_ONLY,
    "reporting:report_regenerate": POST_ONLY,
    "reporting:report_narrative": POST_ONLY,
    "reporting:report_publish": POST_ONLY,
    # Comparing lists records: staff only; version 1 has nothing to compare with.
    "reporting:report_compare": statuses(
        scout=403, funder=403, outsider=403, manager=404, administration=404
    ),
    # --- calendar subscription of follow-ups ---
    "calendar:settings": CRM_LIST,
    "calendar:create": POST_ONLY,
    "calendar:revoke": POST_ONLY,
    # Fetched by calendar apps without a session; an unknown token is simply not there.
    "calendar:feed": statuses(anon=404, others=404),
    # --- imports and exports ---
    "dataio:import_list": ADMINISTRATION_ONLY,
    "dataio:import_upload": ADMINISTRATION_ONLY,
    "dataio:import_detail": ADMINISTRATION_ONLY,
    # The fixture's import is finished: mapping and preview send back to its page.
    "dataio:import_mapping": statuses(administration=302, others=403),
    "dataio:import_preview": statuses(administration=302, others=403),
    "dataio:import_run": POST_ONLY,
    "dataio:import_status": ADMINISTRATION_ONLY,
    "dataio:export_organisations": MANAGER_ACTION,
    "dataio:export_people": MANAGER_ACTION,
    # --- REST API ---
    "api:api-root": statuses(anon=401),
    "api:token": statuses(anon=405, others=405),
    # Nobody has a token yet.
    "api:own_token": statuses(anon=401, others=404),
    "api:schema": statuses(anon=401),
    "api:docs": statuses(anon=401),
    "api:organisation-list": API,
    "api:organisation-detail": API,
    "api:person-list": API,
    "api:person-detail": API,
    "api:affiliation-list": API,
    "api:affiliation-detail": API,
    "api:affiliation-end": statuses(anon=401, others=405, funder=403, outsider=403),
    "api:consent-list": API,
    "api:consent-detail": API,
    "api:consent-withdraw": statuses(anon=401, others=405, funder=403, outsider=403),
    "api:district-list": API,
    "api:district-detail": API,
    "api:municipality-list": API,
    "api:municipality-detail": API,
    "api:topic-list": API,
    "api:topic-detail": API,
    "api:visit-list": API,
    "api:visit-detail": API,
    "api:follow-up-list": API,
    "api:follow-up-detail": API,
    "api:follow-up-assign": statuses(anon=401, others=405, funder=403, outsider=403),
    "api:follow-up-complete": statuses(anon=401, others=405, funder=403, outsider=403),
    "api:interview-guide-current": API,
    "api:interview-guide-detail": API,
    "api:transfer-request-list": API,
    "api:transfer-request-detail": API,
    "api:transfer-request-stage-changes": API,
    "api:transfer-request-suggestions": API,
    "api:transfer-request-advance": statuses(anon=401, others=405, funder=403, outsider=403),
    "api:transfer-request-from-visit": statuses(anon=401, others=405, funder=403, outsider=403),
    "api:stage-list": API,
    "api:stage-detail": API,
    "api:match-list": API,
    "api:match-detail": API,
    "api:match-status": statuses(anon=401, others=405, funder=403, outsider=403),
    "api:outcome-list": API,
    "api:outcome-detail": API,
    "api:report-list": statuses(anon=401, scout=403, outsider=403),
    "api:report-detail": statuses(anon=401, scout=403, outsider=403),
    "api:report-files": statuses(anon=401, scout=403, outsider=403),
    # --- sign-in, password, two-factor (django-allauth) ---
    "account_login": statuses(anon=200, others=302),
    "account_logout": statuses(anon=302),
    "account_inactive": EVERYONE,
    "account_signup": statuses(anon=200, others=302),
    "account_reauthenticate": SIGNED_IN_ONLY,
    "account_email": SIGNED_IN_ONLY,
    "account_email_verification_sent": EVERYONE,
    "account_confirm_email": EVERYONE,
    "account_change_password": SIGNED_IN_ONLY,
    "account_set_password": statuses(anon=302, others=302),
    "account_reset_password": EVERYONE,
    "account_reset_password_done": EVERYONE,
    "account_reset_password_from_key": EVERYONE,
    "account_reset_password_from_key_done": EVERYONE,
    "account_confirm_login_code": statuses(anon=302, others=302),
    "mfa_index": SIGNED_IN_ONLY,
    "mfa_authenticate": statuses(anon=302, others=302),
    # Only for someone with a second factor; the others are sent to the password.
    "mfa_reauthenticate": statuses(others=302, administration=200),
    # Adding a factor asks for the password again first (allauth reauthentication).
    "mfa_activate_totp": statuses(anon=302, others=302),
    "mfa_deactivate_totp": statuses(anon=302, others=404, administration=302),
    "mfa_view_recovery_codes": statuses(anon=302, others=404),
    "mfa_generate_recovery_codes": statuses(anon=302, others=302),
    "mfa_download_recovery_codes": statuses(anon=302, others=404),
    # --- other ---
    # The admin's login page tells signed-in non-staff users they lack access.
    # Wrapped by allauth: anonymous visitors go to the real sign-in, non-staff are refused.
    "admin:login": statuses(anon=302, others=403),
    "set_language": statuses(anon=302, others=302),
    "healthz": EVERYONE,
}

# Families of URLs that behave alike, by name prefix; EXPECTATIONS wins over these.
# Nobody among the personas is staff, so the Django admin sends everyone to its login.
PREFIX_RULES: list[tuple[str, dict[str, int]]] = [
    ("admin:", statuses(anon=302, others=302)),
]

# URLs without a name, by their full route: (path to request, expected statuses).
UNNAMED: dict[str, tuple[str, dict[str, int]]] = {
    "admin/(?P<url>.*)$": ("/admin/does-not-exist/", statuses(anon=302, others=302)),
    # Served in DEBUG only; a file that does not exist.
    "^media/(?P<path>.*)$": ("/media/does-not-exist.txt", statuses(anon=404, others=404)),
}
# Unnamed admin routes ("admin/auth/user/<path:object_id>/" redirects to the change page).
UNNAMED_PREFIX_RULES: list[tuple[str, dict[str, int]]] = [
    ("admin/", statuses(anon=302, others=302)),
]


# --- Concrete URLs -------------------------------------------------------------------

# Which fixture object a `pk` means, by the URL's first path segment (after "api/").
OBJECT_BY_SEGMENT = {
    "organisations": "organisation",
    "people": "person",
    "relationships": "relationship",
    "affiliations": "affiliation",
    "consents": "consent",
    "districts": "district",
    "municipalities": "municipality",
    "topics": "topic",
    "follow-ups": "follow_up",
    "interview-guides": "interview_guide",
    "requests": "transfer_request",
    "transfer-requests": "transfer_request",
    "matches": "match",
    "outcomes": "outcome",
    "stages": "stage",
    "berichte": "report",
    "reports": "report",
}
# Values for other parameters, by name: a constant or a function of the objects.
PARAM_VALUES: dict[str, Any] = {
    "uuid": lambda objects: objects["import_job"].uuid,
    "code": "RCO01",
    "kind": "pdf",
    "format": "json",
    "token": "not-a-valid-token",
    "key": "not-a-valid-key",
    "uidb36": "0",
    "app_label": "auth",
    "content_type_id": lambda objects: ContentType.objects.get_for_model(Organisation).pk,
}
# Whole kwargs for a URL where the rules above do not fit, by URL name.
KWARGS_BY_URL: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "admin:view_on_site": lambda objects: {
        "content_type_id": ContentType.objects.get_for_model(Organisation).pk,
        "object_id": objects["organisation"].pk,
    },
}


@dataclass(frozen=True)
class Route:
    name: str | None  # "namespace:name", None for unnamed patterns
    route: str  # the full route, prefixes included
    params: tuple[str, ...]  # named parameters
    positional: int = 0  # unnamed regex groups (django-simple-history's admin URLs)

    @property
    def label(self) -> str:
        base = self.name or self.route
        params = list(self.params) + ["?"] * self.positional
        return f"{base}({','.join(params)})" if params else base


def _params(pattern: Any) -> tuple[str, ...]:
    converters = getattr(pattern, "converters", None)
    if converters:
        return tuple(converters)
    return tuple(pattern.regex.groupindex)


def _positional(pattern: Any) -> int:
    if getattr(pattern, "converters", None):
        return 0
    return pattern.regex.groups - len(pattern.regex.groupindex)


def walk(resolver: URLResolver, prefix: str = "", namespace: str = "") -> Iterator[Route]:
    """Every URL pattern under `resolver`, with its namespaced name and its parameters."""
    for entry in resolver.url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            inner = namespace
            if entry.namespace:
                inner = f"{namespace}:{entry.namespace}" if namespace else entry.namespace
            for found in walk(entry, route, inner):
                yield Route(
                    found.name,
                    found.route,
                    _params(entry.pattern) + found.params,
                    _positional(entry.pattern) + found.positional,
                )
        elif isinstance(entry, URLPattern):
            name = entry.name and (f"{namespace}:{entry.name}" if namespace else entry.name)
            yield Route(name, route, _params(entry.pattern), _positional(entry.pattern))


ROUTES = list(walk(get_resolver()))


def expected_for(route: Route) -> dict[str, int] | None:
    if route.name is None:
        if route.route in UNNAMED:
            return UNNAMED[route.route][1]
        return next((s for p, s in UNNAMED_PREFIX_RULES if route.route.startswith(p)), None)
    if route.name in EXPECTATIONS:
        return EXPECTATIONS[route.name]
    return next((s for p, s in PREFIX_RULES if route.name.startswith(p)), None)


def _admin_object_id(route: Route) -> Any:
    """admin/<app_label>/<model>/<object_id>/...: the pk of an existing instance."""
    match = re.match(r"admin/(\w+)/(\w+)/", route.route)
    assert match, f"cannot tell the model of {route.route}"
    model = apps.get_model(match.group(1), match.group(2))
    instance = model._default_manager.order_by("pk").first()
    return instance.pk if instance else 0


def _value(route: Route, param: str, objects: dict[str, Any]) -> Any:
    if param == "pk":
        segment = (
            route.route.removeprefix("api/").removeprefix("pipeline/").lstrip("^").split("/")[0]
        )
        if segment in OBJECT_BY_SEGMENT:
            return objects[OBJECT_BY_SEGMENT[segment]].pk
    elif param in ("object_id", "id") and route.route.startswith("admin/"):
        return _admin_object_id(route)
    elif param == "uuid" and "visits/" in route.route:
        return objects["visit"].uuid
    elif param in PARAM_VALUES:
        value = PARAM_VALUES[param]
        return value(objects) if callable(value) else value
    raise AssertionError(
        f"No value for parameter {param!r} of {route.label} ({route.route}): add one to "
        "PARAM_VALUES or OBJECT_BY_SEGMENT, or the kwargs to KWARGS_BY_URL."
    )


def path_for(route: Route, objects: dict[str, Any]) -> str:
    if route.name is None:
        assert route.route in UNNAMED or route.route.startswith("admin/"), route.route
        if route.route in UNNAMED:
            return UNNAMED[route.route][0]
        return "/" + re.sub(
            r"<(?:\w+:)?(\w+)>", lambda m: str(_value(route, m.group(1), objects)), route.route
        )
    if route.positional:
        # Only django-simple-history's admin views (<object_id>/history/<history_id>/).
        assert route.route.startswith("admin/"), f"{route.label}: add a rule for its groups"
        args = [_admin_object_id(route)] + [0] * (route.positional - 1)
        path = reverse(route.name, args=args)
    else:
        if route.name in KWARGS_BY_URL:
            kwargs = KWARGS_BY_URL[route.name](objects)
        else:
            kwargs = {param: _value(route, param, objects) for param in route.params}
        path = reverse(route.name, kwargs=kwargs)
    # reverse() picks the first pattern of that name that takes these kwargs; make
    # sure it is the one under test.
    resolved = resolve(path).route.replace("^", "")
    assert resolved == route.route.replace("^", ""), (path, resolved, route.route)
    return path


# --- The matrix ----------------------------------------------------------------------


@pytest.fixture
def objects(region, topics, organisation, person, scout, manager, administration) -> dict[str, Any]:
    partner = Organisation.objects.create(name="TU Braunschweig", kind="university")
    visit, _created = record_visit(uuid=uuid.uuid4(), organisation=organisation, by=scout)
    install_default_stages(apps)  # a browser test in this worker may have flushed them
    transfer_request = create_request(
        organisation=organisation, by=scout, title="Prüfstand", kind="testing", source="phone"
    )
    match = propose_match(transfer_request, partner=partner, by=manager)
    report = report_services.create_report(period=Period.quarter(2026, 3), by=administration)
    report_services.compute_report(report.pk)
    report = report_services.publish_report(report.pk, by=administration)
    return {
        "report": report,
        "transfer_request": transfer_request,
        "match": match,
        "outcome": record_outcome(transfer_request, kind="other", by=manager),
        "stage": transfer_request.stage,
        "visit": visit,
        "interview_guide": InterviewGuide.objects.current(),
        "follow_up": propose_follow_up(by=scout, title="Rückruf", visit=visit),
        "district": region["district"],
        "municipality": region["rural"],
        "topic": topics["digital"],
        "organisation": organisation,
        "person": person,
        "affiliation": person.affiliations.get(),
        "relationship": Relationship.objects.create(
            source=organisation, target=partner, kind="cooperation"
        ),
        "consent": ConsentRecord.objects.create(
            person=person, purpose="email_contact", lawful_basis="consent", source="Besuch"
        ),
        "note": Note.objects.create(organisation=organisation, text="Erstgespräch", author=manager),
        "import_job": ImportJob.objects.create(
            target="organisations",
            original_name="firmen.csv",
            status=ImportJob.Status.DONE,
            created_by=administration,
        ),
    }


@pytest.fixture
def clients(scout, manager, administration, funder, outsider) -> dict[str, Client]:
    users = {
        "scout": scout,
        "manager": manager,
        "administration": administration,
        "funder": funder,
        "outsider": outsider,
    }
    result = {"anon": Client(raise_request_exception=False)}
    for persona, user in users.items():
        client = Client(raise_request_exception=False)
        client.force_login(user)
        result[persona] = client
    return result


@pytest.mark.django_db
def test_every_url_answers_each_persona_as_expected(objects, clients):
    """One walk over all URLs (one database setup instead of one per URL); the failure
    lists every URL that answers differently or has no expectations yet."""
    problems = []
    for route in ROUTES:
        cache.clear()  # rate limits must not build up across hundreds of requests
        try:
            path = path_for(route, objects)
        except AssertionError as exc:
            problems.append(str(exc))
            continue
        actual = {persona: clients[persona].get(path).status_code for persona in PERSONAS}
        expected = expected_for(route)
        if expected is None:
            problems.append(
                f"{route.label} {path}: no expectations; add {route.name or route.route!r} "
                f"to EXPECTATIONS (it answers {actual})"
            )
        elif actual != expected:
            differing = {
                p: f"{expected[p]}->{actual[p]}" for p in PERSONAS if actual[p] != expected[p]
            }
            problems.append(f"{route.label} {path}: expected->actual {differing}")
    assert not problems, "\n".join(["", *problems])


def test_expectations_name_only_existing_urls():
    names = {route.name for route in ROUTES if route.name}
    assert set(EXPECTATIONS) - names == set()
