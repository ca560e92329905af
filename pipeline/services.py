"""Use cases of the transfer pipeline: creating requests, moving them through the
stages, proposing research partners and recording what came of it."""

from __future__ import annotations

import datetime
import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from crm.models import Affiliation, Organisation, Person, Relationship, Topic
from crm.roles import Role, has_role
from crm.services import save_with_history
from scouting.models import Need, Visit

from .models import REQUIREMENTS, Match, Outcome, Stage, StageChange, TransferRequest

User = AbstractBaseUser

# What a client may set when creating a request; stage and authorship are ours.
REQUEST_FIELDS = frozenset(
    {
        "contact_person",
        "title",
        "description",
        "kind",
        "source",
        "visit",
        "responsible_manager",
        "priority",
        "expected_volume",
    }
)
# What may be set in the same call that moves a request (e.g. from a dialog asking for
# the target stage's requirements).
ADVANCE_FIELDS = frozenset(
    {"closing_reason", "expected_volume", "contact_person", "responsible_manager", "outcome"}
)

# The kind of request a visit's need most likely is; the first mapped need wins.
KIND_FOR_NEED = {
    Need.TECHNOLOGY_RD: TransferRequest.Kind.JOINT_RD,
    Need.COOPERATION_PARTNER: TransferRequest.Kind.JOINT_RD,
    Need.FUNDING: TransferRequest.Kind.FUNDING_ADVICE,
    Need.SKILLED_WORKERS: TransferRequest.Kind.RECRUITING,
    Need.SPACE_COWORKING: TransferRequest.Kind.SPACE,
}


class PipelineAccessError(PermissionDenied):
    """The user may not do this in the pipeline."""


class StageChanged(ValidationError):
    """The request was moved by someone else since the client read its stage."""

    def __init__(self, *, expected: Stage, current: Stage) -> None:
        super().__init__(
            _(
                "This request was moved meanwhile from “%(expected)s” to “%(current)s”. "
                "Please reload and try again."
            )
            % {"expected": expected, "current": current},
            code="stage_changed",
        )
        self.expected = expected
        self.current = current


class RequestChanged(ValidationError):
    """The request was changed by someone else since the client read it."""

    def __init__(self, *, current: TransferRequest) -> None:
        super().__init__(
            _(
                "This request was changed by someone else meanwhile; reload it and make "
                "your change again."
            ),
            code="request_changed",
        )
        self.current = current


# --- Requests ------------------------------------------------------------------------


@transaction.atomic
def create_request(
    *,
    organisation: Organisation,
    by: User,
    topics: Iterable[Topic] = (),
    note: str = "",
    **fields: Any,
) -> TransferRequest:
    """A new request in the first open stage. ``responsible_manager`` defaults to the
    organisation's responsible network manager."""
    if not by.has_perm("pipeline.add_transferrequest"):
        raise PipelineAccessError(_("You may not create transfer requests."))
    unknown = set(fields) - REQUEST_FIELDS
    if unknown:
        raise TypeError(f"create_request() got unexpected fields: {sorted(unknown)}")
    stage = Stage.objects.initial()
    if stage is None:
        raise ValidationError(_("No active open stage is configured; ask the administration."))
    if "responsible_manager" not in fields:
        fields["responsible_manager"] = _default_manager(organisation)
    if isinstance(fields.get("title"), str):
        fields["title"] = fields["title"].strip()
    _check_people(organisation, fields)
    now = timezone.now()
    transfer_request = TransferRequest(
        organisation=organisation,
        stage=stage,
        stage_entered_at=now,
        created_by=by,
        created_at=now,
        **fields,
    )
    save_with_history(transfer_request, by=by)
    transfer_request._history_user = by  # type: ignore[attr-defined]
    transfer_request.topics.set(list(topics))
    StageChange.objects.create(
        request=transfer_request, to_stage=stage, changed_at=now, changed_by=by, note=note.strip()
    )
    return transfer_request


def _default_manager(organisation: Organisation) -> User | None:
    """The organisation's network manager, if still one (a scout must not be refused
    because the organisation's manager has left)."""
    manager = organisation.responsible_manager
    if manager is not None and manager.is_active and has_role(manager, Role.NETWORK_MANAGER):
        return manager
    return None


def _check_people(organisation: Organisation, fields: dict[str, Any]) -> None:
    contact = fields.get("contact_person")
    if contact is not None and not _is_affiliated(contact, organisation):
        raise ValidationError(
            {
                "contact_person": _("%(name)s does not work at %(organisation)s.")
                % {"name": contact, "organisation": organisation}
            }
        )
    manager = fields.get("responsible_manager")
    if manager is not None and not (manager.is_active and has_role(manager, Role.NETWORK_MANAGER)):
        raise ValidationError(
            {
                "responsible_manager": _("%(name)s is not an active network manager.")
                % {"name": manager}
            }
        )


def _is_affiliated(person: Person, organisation: Organisation) -> bool:
    return Affiliation.objects.filter(person=person, organisation=organisation).exists()


def create_request_from_visit(visit: Visit, *, by: User, **overrides: Any) -> TransferRequest:
    """A request carrying over the visit's organisation, first person met, topics, and
    its needs and summary as title and description; ``overrides`` replace any of them."""
    if not Visit.objects.for_user(by).filter(pk=visit.pk).exists():
        raise PipelineAccessError(_("This visit belongs to someone else."))
    needs = visit.need_labels()
    when = timezone.localtime(visit.visited_at).strftime("%d.%m.%Y")
    title = _("%(needs)s – %(organisation)s") % {
        "needs": ", ".join(needs) if needs else _("Need"),
        "organisation": visit.organisation,
    }
    description_parts = [_("From the company visit on %(date)s.") % {"date": when}]
    if needs:
        description_parts.append(_("Needs: %(needs)s") % {"needs": ", ".join(needs)})
    if visit.summary.strip():
        description_parts.append(visit.summary.strip())
    kind = next(
        (KIND_FOR_NEED[n] for n in visit.needs if n in KIND_FOR_NEED),
        TransferRequest.Kind.NETWORK_CONTACT,
    )
    values: dict[str, Any] = {
        "organisation": visit.organisation,
        "contact_person": _first_person_met(visit),
        "title": title[:200],
        "description": "\n\n".join(description_parts),
        "kind": kind,
        "topics": list(visit.topics.all()),
    }
    values.update(overrides)
    values["source"] = TransferRequest.Source.VISIT
    values["visit"] = visit
    return create_request(by=by, **values)


def _first_person_met(visit: Visit) -> Person | None:
    """The contact for the request among the people met: whoever is primarily
    affiliated with the organisation first, then by name (the order people were
    picked in is not stored)."""
    primary_here = Affiliation.objects.filter(
        person=OuterRef("pk"), organisation_id=visit.organisation_id, is_primary=True
    )
    return (
        visit.people_met.annotate(primary_here=Exists(primary_here))
        .order_by("-primary_here", "last_name", "first_name", "pk")
        .first()
    )


EDITABLE_FIELDS = frozenset(
    {
        "contact_person",
        "title",
        "description",
        "kind",
        "responsible_manager",
        "priority",
        "expected_volume",
    }
)


@transaction.atomic
def update_request(
    transfer_request: TransferRequest,
    *,
    by: User,
    topics: Iterable[Topic] | None = None,
    expected_updated_at: datetime.datetime | None = None,
    **changes: Any,
) -> TransferRequest:
    """Network managers correct a request's own fields; its stage changes only
    through ``advance_request``.

    ``expected_updated_at`` is the ``updated_at`` the client read; if the request was
    saved since (changed or moved), ``RequestChanged`` is raised and nothing changes.
    Without it, the last change wins."""
    if not by.has_perm("pipeline.change_transferrequest"):
        raise PipelineAccessError(_("Only network managers may change transfer requests."))
    unknown = set(changes) - EDITABLE_FIELDS
    if unknown:
        raise TypeError(f"update_request() got unexpected fields: {sorted(unknown)}")
    locked = TransferRequest.objects.select_for_update().get(pk=transfer_request.pk)
    if expected_updated_at is not None and locked.updated_at != expected_updated_at:
        raise RequestChanged(current=locked)
    _check_people(locked.organisation, changes)
    for name, value in changes.items():
        setattr(locked, name, value.strip() if isinstance(value, str) else value)
    save_with_history(locked, by=by)
    if topics is not None:
        locked._history_user = by  # type: ignore[attr-defined]
        locked.topics.set(list(topics))
    return locked


# --- Moving between stages -----------------------------------------------------------


@transaction.atomic
def advance_request(
    transfer_request: TransferRequest,
    *,
    to: Stage,
    by: User,
    note: str = "",
    expected_stage: Stage | None = None,
    **fields: Any,
) -> TransferRequest:
    """Move a request to stage ``to``: the only way its stage changes.

    ``expected_stage`` is the stage the client saw; if someone moved the request since,
    ``StageChanged`` is raised and nothing changes. ``fields`` may supply what ``to``
    requires (``closing_reason``, ``expected_volume``, ``contact_person``,
    ``responsible_manager``, or ``outcome`` as a dict of ``record_outcome`` arguments).

    From an open or paused stage a request may go to any other active stage; a closed
    (won or lost) request may only be reopened into an open stage.
    """
    if not by.has_perm("pipeline.change_transferrequest"):
        raise PipelineAccessError(_("Only network managers may move transfer requests."))
    unknown = set(fields) - ADVANCE_FIELDS
    if unknown:
        raise TypeError(f"advance_request() got unexpected fields: {sorted(unknown)}")
    locked = _lock(transfer_request)
    current = locked.stage
    if expected_stage is not None and expected_stage.pk != current.pk:
        raise StageChanged(expected=expected_stage, current=current)
    target = Stage.objects.get(pk=to.pk)
    _check_transition(current, target)

    outcome_values = fields.pop("outcome", None)
    for name, value in fields.items():
        setattr(locked, name, value.strip() if isinstance(value, str) else value)
    _check_people(locked.organisation, fields)
    if current.is_closed():
        # Reopened: a later closing needs its own reason.
        locked.closing_reason = fields.get("closing_reason", "").strip()
    pending_outcome = outcome_values is not None
    missing = missing_requirements(locked, target, outcome_given=pending_outcome)
    if missing:
        raise ValidationError(
            _("To move the request to “%(stage)s” it needs %(missing)s.")
            % {"stage": target, "missing": _join_and([REQUIREMENTS[m] for m in missing])},
            code="requirements",
        )

    now = timezone.now()
    locked.stage = target
    locked.stage_entered_at = now
    save_with_history(
        locked,
        by=by,
        reason=_("Moved from “%(from)s” to “%(to)s”") % {"from": current, "to": target},
    )
    StageChange.objects.create(
        request=locked,
        from_stage=current,
        to_stage=target,
        changed_at=now,
        changed_by=by,
        note=note.strip(),
    )
    if outcome_values is not None:
        record_outcome(locked, by=by, **outcome_values)
    transfer_request.stage = locked.stage
    transfer_request.stage_entered_at = locked.stage_entered_at
    return locked


def _lock(transfer_request: TransferRequest) -> TransferRequest:
    """The request, locked for this transaction, with its current stage.

    Locked without joins: PostgreSQL re-checks a row changed by the transaction it
    waited for against the joined rows it read before, and a join on the stage that
    transaction changed would drop the row."""
    locked = TransferRequest.objects.select_for_update().get(pk=transfer_request.pk)
    locked.stage = Stage.objects.get(pk=locked.stage_id)
    return locked


def _check_transition(current: Stage, target: Stage) -> None:
    if target.pk == current.pk:
        raise ValidationError(
            _("The request is already in “%(stage)s”.") % {"stage": target}, code="same_stage"
        )
    if not target.is_active:
        raise ValidationError(
            _("The stage “%(stage)s” is no longer in use.") % {"stage": target}, code="inactive"
        )
    if current.is_closed() and target.kind != Stage.Kind.OPEN:
        raise ValidationError(
            _(
                "The request is closed (“%(current)s”); it can only be reopened into an "
                "open stage, not moved to “%(stage)s”."
            )
            % {"current": current, "stage": target},
            code="closed",
        )


def missing_requirements(
    transfer_request: TransferRequest, stage: Stage, *, outcome_given: bool = False
) -> list[str]:
    """The names of ``stage``'s requirements the request does not meet yet."""
    checks = {
        "contact_person": lambda r: r.contact_person_id is not None,
        "responsible_manager": lambda r: r.responsible_manager_id is not None,
        "topics": lambda r: r.topics.exists(),
        "expected_volume": lambda r: r.expected_volume is not None,
        "closing_reason": lambda r: bool(r.closing_reason.strip()),
        "partner": lambda r: r.matches.filter(status=Match.Status.ACCEPTED).exists(),
        "outcome": lambda r: outcome_given or r.outcomes.exists(),
    }
    return [name for name in stage.required_fields if not checks[name](transfer_request)]


def _join_and(items: list[Any]) -> str:
    texts = [str(item) for item in items]
    if len(texts) <= 1:
        return "".join(texts)
    return _("%(first)s and %(last)s") % {"first": ", ".join(texts[:-1]), "last": texts[-1]}


def time_in_stages(
    transfer_request: TransferRequest, *, now: datetime.datetime | None = None
) -> list[tuple[Stage, datetime.timedelta]]:
    """How long the request spent in each stage, from its stage changes, in the order
    the stages were first entered; a stage entered twice is summed. The current stage
    counts until ``now``."""
    changes = list(
        transfer_request.stage_changes.select_related("to_stage").order_by("changed_at", "pk")
    )
    end = now or timezone.now()
    totals: dict[int, datetime.timedelta] = {}
    stages: dict[int, Stage] = {}
    for change, following in zip(changes, [*changes[1:], None], strict=True):
        left = following.changed_at if following is not None else end
        stage = change.to_stage
        stages.setdefault(stage.pk, stage)
        totals[stage.pk] = totals.get(stage.pk, datetime.timedelta()) + max(
            left - change.changed_at, datetime.timedelta()
        )
    return [(stages[pk], totals[pk]) for pk in totals]


# --- Matches and outcomes ------------------------------------------------------------


def _check_manages(by: User, permission: str) -> None:
    if not by.has_perm(permission):
        raise PipelineAccessError(_("Only network managers may manage matches and outcomes."))


@transaction.atomic
def propose_match(
    transfer_request: TransferRequest,
    *,
    partner: Organisation,
    by: User,
    person: Person | None = None,
    note: str = "",
) -> Match:
    _check_manages(by, "pipeline.add_match")
    locked = _lock(transfer_request)
    if locked.is_closed():
        raise ValidationError(_("This request is closed; reopen it to propose partners."))
    if partner.pk == locked.organisation_id:
        raise ValidationError(
            {"partner": _("The requesting organisation cannot be its own partner.")}
        )
    if person is not None and not _is_affiliated(person, partner):
        raise ValidationError(
            {
                "person": _("%(name)s does not work at %(organisation)s.")
                % {"name": person, "organisation": partner}
            }
        )
    if Match.objects.filter(request=locked, partner=partner).exists():
        raise ValidationError({"partner": _("This partner has already been proposed.")})
    match = Match(request=locked, partner=partner, person=person, note=note.strip(), created_by=by)
    try:
        with transaction.atomic():
            save_with_history(match, by=by)
    except IntegrityError as error:
        raise ValidationError({"partner": _("This partner has already been proposed.")}) from error
    return match


@transaction.atomic
def set_match_status(match: Match, *, status: str, by: User, note: str | None = None) -> Match:
    """Record contacting the partner or their decision. A decision may be revised
    (accepted ↔ declined), but a decided match does not go back to proposed or
    contacted."""
    _check_manages(by, "pipeline.change_match")
    if status not in Match.Status.values:
        raise ValidationError({"status": _("Unknown status.")})
    locked = Match.objects.select_for_update().get(pk=match.pk)
    if status == locked.status:
        raise ValidationError(
            _("The match is already “%(status)s”.") % {"status": locked.get_status_display()}
        )
    if locked.is_decided() and status not in Match.DECIDED:
        raise ValidationError(_("The partner has already decided; record a new decision instead."))
    if status == Match.Status.PROPOSED:
        raise ValidationError(_("A match cannot go back to proposed."))
    now = timezone.now()
    if status == Match.Status.CONTACTED:
        locked.contacted_at = now
    else:
        locked.contacted_at = locked.contacted_at or now
        locked.decided_at = now
    locked.status = status
    if note is not None:
        locked.note = note.strip()
    save_with_history(locked, by=by, reason=str(Match.Status(status).label))
    return locked


@transaction.atomic
def record_outcome(
    transfer_request: TransferRequest,
    *,
    kind: str,
    by: User,
    date: datetime.date | None = None,
    partner: Organisation | None = None,
    funding_programme: str = "",
    note: str = "",
    innovation_introduced: bool = False,
) -> Outcome:
    _check_manages(by, "pipeline.add_outcome")
    if kind not in Outcome.Kind.values:
        raise ValidationError({"kind": _("Unknown kind of outcome.")})
    if partner is not None and partner.pk == transfer_request.organisation_id:
        raise ValidationError(
            {"partner": _("The requesting organisation cannot be its own partner.")}
        )
    outcome = Outcome(
        request=transfer_request,
        kind=kind,
        date=date or timezone.localdate(),
        partner=partner,
        funding_programme=funding_programme.strip(),
        note=note.strip(),
        innovation_introduced=innovation_introduced,
        created_by=by,
    )
    save_with_history(outcome, by=by)
    return outcome


# --- Partner suggestions -------------------------------------------------------------

# Weights: each shared topic outweighs everything else together (a related field 1 +
# nearness up to 4 + track record up to 4.5 = 9.5), so topic overlap always ranks first.
EXACT_TOPIC_POINTS = 10.0
RELATED_TOPIC_POINTS = 1.0
MAX_DISTANCE_POINTS = 4.0
DISTANCE_HORIZON_KM = 150.0
COOPERATION_POINTS = 1.5
MAX_COOPERATION_POINTS = 4.5
COOPERATIONS_CACHE_SECONDS = 600
# Candidates read from the database, best topic overlap first, before the finer ranking.
CANDIDATE_LIMIT = 200


@dataclass
class Suggestion:
    """A candidate research partner and why it is suggested."""

    partner: Organisation
    shared_topics: list[Topic] = field(default_factory=list)
    related_topics: list[Topic] = field(default_factory=list)
    distance_km: float | None = None
    cooperations: int = 0
    topic_score: float = 0.0
    distance_score: float = 0.0
    cooperation_score: float = 0.0

    @property
    def score(self) -> float:
        return self.topic_score + self.distance_score + self.cooperation_score

    @property
    def reason(self) -> str:
        parts = []
        if self.shared_topics:
            parts.append(
                ngettext(
                    "%(count)d shared topic: %(names)s",
                    "%(count)d shared topics: %(names)s",
                    len(self.shared_topics),
                )
                % {
                    "count": len(self.shared_topics),
                    "names": ", ".join(t.name for t in self.shared_topics),
                }
            )
        if self.related_topics:
            parts.append(
                _("related field: %(names)s")
                % {"names": ", ".join(t.name for t in self.related_topics)}
            )
        if self.distance_km is not None:
            parts.append(_("%(km)d km away") % {"km": round(self.distance_km)})
        if self.cooperations:
            parts.append(
                ngettext(
                    "%(count)d successful cooperation",
                    "%(count)d successful cooperations",
                    self.cooperations,
                )
                % {"count": self.cooperations}
            )
        return "; ".join(parts)


def suggest_partners(transfer_request: TransferRequest, *, limit: int = 10) -> list[Suggestion]:
    """Research partners (universities, research institutes) for a request, best first.

    Ranked by the request's topics among the partner's competences (a topic only in
    the same field, i.e. the parent or a sibling, counts little), nearness of their
    municipalities, and past successful cooperations (accepted matches, outcomes with
    the partner, cooperation relationships). Partners already proposed for the request are left out.
    """
    request_topics = list(transfer_request.topics.all())
    exact_ids = {t.pk for t in request_topics}
    # Parents of the request's topics, and the subtopics of those parents (siblings).
    parent_ids = {t.parent_id for t in request_topics if t.parent_id} | {
        t.pk for t in request_topics if t.parent_id is None
    }
    related_ids = (
        parent_ids
        | set(Topic.objects.filter(parent_id__in=parent_ids).values_list("pk", flat=True))
    ) - exact_ids
    if not exact_ids:
        return []
    already = Match.objects.filter(request=transfer_request).values("partner_id")
    candidates = list(
        Organisation.objects.research_partners()
        .active()
        .filter(offered_topics__in=exact_ids | related_ids)
        .exclude(pk=transfer_request.organisation_id)
        .exclude(pk__in=already)
        .annotate(
            exact=Count("offered_topics", filter=Q(offered_topics__in=exact_ids), distinct=True),
            related=Count(
                "offered_topics", filter=Q(offered_topics__in=related_ids), distinct=True
            ),
        )
        .order_by("-exact", "-related", "pk")
        .select_related("municipality")[:CANDIDATE_LIMIT]
    )
    if not candidates:
        return []
    ids = [c.pk for c in candidates]
    offered = defaultdict(set)
    for org_id, topic_id in Organisation.offered_topics.through.objects.filter(
        organisation_id__in=ids, topic_id__in=exact_ids | related_ids
    ).values_list("organisation_id", "topic_id"):
        offered[org_id].add(topic_id)
    topics_by_id = {t.pk: t for t in Topic.objects.filter(pk__in=exact_ids | related_ids)}
    cooperations = _cooperations(ids)
    origin = transfer_request.organisation.municipality

    suggestions = []
    for candidate in candidates:
        shared = sorted(
            (topics_by_id[t] for t in offered[candidate.pk] & exact_ids), key=lambda t: t.name
        )
        related = sorted(
            (topics_by_id[t] for t in offered[candidate.pk] & related_ids), key=lambda t: t.name
        )
        suggestion = Suggestion(
            partner=candidate,
            shared_topics=shared,
            related_topics=related,
            cooperations=cooperations.get(candidate.pk, 0),
        )
        suggestion.topic_score = (
            len(shared) * EXACT_TOPIC_POINTS + min(len(related), 1) * RELATED_TOPIC_POINTS
        )
        if origin is not None and candidate.municipality is not None:
            km = distance_km(origin, candidate.municipality)
            suggestion.distance_km = km
            suggestion.distance_score = MAX_DISTANCE_POINTS * max(0.0, 1 - km / DISTANCE_HORIZON_KM)
        suggestion.cooperation_score = min(
            suggestion.cooperations * COOPERATION_POINTS, MAX_COOPERATION_POINTS
        )
        suggestions.append(suggestion)
    suggestions.sort(key=lambda s: (-s.score, s.partner.name, s.partner.pk))
    return suggestions[:limit]


def _cooperations(partner_ids: list[int]) -> dict[int, int]:
    """Successful cooperations per partner: requests where it was accepted or named in
    an outcome, plus cooperation relationships recorded in the CRM. Counted in SQL:
    a large university has tens of thousands of such requests."""
    if not partner_ids:
        return {}
    # A track record changes slowly; ranking may use figures a few minutes old.
    key = "pipeline:cooperations:" + ",".join(map(str, sorted(partner_ids)))
    cached = cache.get(key)
    if cached is not None:
        return dict(cached)
    counts = _count_cooperations(partner_ids)
    cache.set(key, counts, COOPERATIONS_CACHE_SECONDS)
    return counts


def _count_cooperations(partner_ids: list[int]) -> dict[int, int]:
    in_partners = ", ".join(["%s"] * len(partner_ids))
    matches, outcomes = Match._meta.db_table, Outcome._meta.db_table
    sql = (
        f"SELECT partner_id, COUNT(*) FROM ("  # noqa: S608 - table names from the models
        f" SELECT partner_id, request_id FROM {matches}"
        f" WHERE status = %s AND partner_id IN ({in_partners})"
        f" UNION SELECT partner_id, request_id FROM {outcomes}"
        f" WHERE partner_id IN ({in_partners})"
        f") AS cooperations GROUP BY partner_id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [Match.Status.ACCEPTED, *partner_ids, *partner_ids])
        counts = {int(pk): int(n) for pk, n in cursor.fetchall()}
    relations = Relationship.objects.filter(kind=Relationship.Kind.COOPERATION)
    for side in ("source_id", "target_id"):
        grouped = (
            relations.filter(**{f"{side}__in": partner_ids})
            .order_by()
            .values(side)
            .annotate(n=Count("pk"))
        )
        for row in grouped:
            counts[row[side]] = counts.get(row[side], 0) + row["n"]
    return counts


def distance_km(a: Any, b: Any) -> float:
    """Great-circle distance between two municipalities (haversine)."""
    lat1, lon1, lat2, lon2 = (
        math.radians(float(v)) for v in (a.latitude, a.longitude, b.latitude, b.longitude)
    )
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * 6371.0 * math.asin(math.sqrt(min(1.0, h)))
