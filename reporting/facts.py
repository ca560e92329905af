"""The facts table of each subject in a scope, as one SQL statement.

Every event table is read once per statement: the events of the period (visits,
requests received, matches, outcomes, stage changes, completed follow-ups) are selected
by the ORM — so period bounds, time zones and the district scope follow the same rules
as everywhere else — with one 0/1 column per kind of event, stacked with UNION ALL and
grouped by the record they are about. Joined with the record, its organisation, the
municipality and the district, that gives one row per counted record with its breakdown
attributes and its event flags; each indicator is a condition on those columns.

A first version built each indicator as ``pk IN (subquery)`` conditions through the ORM;
PostgreSQL then evaluated every occurrence of a subquery separately (some fifty per
statement), which took over a minute for a year at state scale.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import Case, F, IntegerField, Q, QuerySet, Value, When
from django.db.models.functions import ExtractYear

from crm.models import District, Municipality, Organisation
from pipeline.models import Match, Outcome, Stage, StageChange
from pipeline.queries import cooperation_stage_ids
from scouting.models import FollowUp


def _flag(condition: Q | None = None) -> Case | Value:
    if condition is None:
        return Value(1, output_field=IntegerField())
    return Case(When(condition, then=1), default=0, output_field=IntegerField())


ZERO = Value(0, output_field=IntegerField())
NO_YEAR = Value(None, output_field=IntegerField())


def sql_list(values: Sequence[str]) -> str:
    """A literal SQL list of code constants (checked, so nothing needs quoting)."""
    for value in values:
        if not re.fullmatch(r"[a-z_]+", value):
            raise ValueError(value)
    return "(" + ", ".join(f"'{value}'" for value in values) + ")"


ENTERPRISE = f"o.kind IN {sql_list(Organisation.ENTERPRISE_KINDS)}"
RESEARCH = f"o.kind IN {sql_list(Organisation.RESEARCH_KINDS)}"
SME = f"o.kind IN {sql_list([Organisation.Kind.SME, Organisation.Kind.START_UP])}"


@dataclass(frozen=True)
class Facts:
    """``SELECT id, size_class, district, area_type, org_id, <one 0/1 column per
    condition> …`` of one subject, and its parameters."""

    sql: str
    params: list[Any]


class FactsBuilder:
    """Builds the facts statements of one scope (see ``reporting.queries._Events`` for
    the period bounds and the district scope)."""

    def __init__(self, events: Any) -> None:
        self.events = events

    # --- Event parts -----------------------------------------------------------------

    def _organisation_parts(self) -> list[QuerySet]:
        e = self.events
        research_partner = Q(partner__kind__in=Organisation.RESEARCH_KINDS)
        return [
            _part(
                e.visits,
                "organisation_id",
                visited=_flag(),
                green=_flag(Q(green_skills_interest=True)),
                support=_flag(),
                event_year=ExtractYear("visited_at"),
            ),
            _part(
                e.requests_received,
                "organisation_id",
                support=_flag(),
                event_year=ExtractYear("created_at"),
            ),
            _part(
                e.matches_proposed,
                "request__organisation_id",
                support=_flag(),
                event_year=ExtractYear("proposed_at"),
            ),
            _part(
                e.outcomes,
                "request__organisation_id",
                support=_flag(),
                event_year=ExtractYear("date"),
                joint=_flag(Q(kind=Outcome.Kind.JOINT_RD) & research_partner),
                innovation=_flag(Q(innovation_introduced=True)),
            ),
            _part(e.joint_outcomes, "partner_id", partner=_flag()),
        ]

    def _request_parts(self) -> list[QuerySet]:
        e = self.events
        request_scope = e._org_scope("request__organisation__")
        closed_ids = list(
            Stage.objects.filter(kind__in=Stage.CLOSED_KINDS).values_list("pk", flat=True)
        )
        cooperation_ids = cooperation_stage_ids()
        accepted = Match.objects.filter(request_scope, status=Match.Status.ACCEPTED).filter(
            **e._in_period("decided_at")
        )
        changes = (
            StageChange.objects.filter(request_scope)
            .filter(to_stage_id__in=[*cooperation_ids, *closed_ids])
            .filter(**e._in_period("changed_at"))
        )
        return [
            _part(e.requests_received, "pk", org="organisation_id", received=_flag()),
            _part(accepted, "request_id", org="request__organisation_id", matched=_flag()),
            _part(
                changes,
                "request_id",
                org="request__organisation_id",
                cooperation=_flag(Q(to_stage_id__in=cooperation_ids)),
                closed=_flag(Q(to_stage_id__in=closed_ids)),
            ),
        ]

    def _visit_parts(self) -> list[QuerySet]:
        return [_part(self.events.visits, "pk", org="organisation_id", visit=_flag())]

    def _follow_up_parts(self) -> list[QuerySet]:
        e = self.events
        on_time = Q(due_date__isnull=False, completed_at__date__lte=F("due_date"))
        completed = FollowUp.objects.filter(
            e._org_scope("organisation__"), status=FollowUp.Status.DONE
        ).filter(**e._in_period("completed_at"))
        return [_part(completed, "pk", org="organisation_id", on_time=_flag(on_time))]

    # --- Statements --------------------------------------------------------------------

    def facts(self, subject: str, conditions: dict[str, str]) -> Facts:
        """The facts of ``subject`` with one 0/1 column per entry of ``conditions``
        (name → SQL condition on ``ev.<flag>``, ``o.<organisation column>`` and
        ``m.<municipality column>``)."""
        parts, flags, unique = {
            "organisation": (self._organisation_parts, _ORG_FLAGS, False),
            "visit": (self._visit_parts, ("visit",), True),
            "request": (
                self._request_parts,
                ("received", "matched", "cooperation", "closed"),
                False,
            ),
            "follow_up": (self._follow_up_parts, ("on_time",), True),
        }[subject]
        names = ["ev_unit", "ev_org", *(f"ev_{f}" for f in _columns(flags))]
        querysets = [part.order_by().values(*names) for part in parts()]
        union = querysets[0].union(*querysets[1:], all=True) if querysets[1:] else querysets[0]
        union_sql, union_params = union.query.sql_with_params()
        if unique:
            # One event per record (a visit, a completed follow-up): nothing to group.
            events = ", ".join(f"e.ev_{flag} AS {flag}" for flag in flags)
            grouped = f"SELECT e.ev_unit AS unit, e.ev_org AS org, {events} FROM ({union_sql}) e"
        else:
            aggregates = ", ".join(
                "MIN(CASE WHEN e.ev_support = 1 THEN e.ev_event_year END) AS first_year"
                if flag == "first_year"
                else f"MAX(e.ev_{flag}) AS {flag}"
                for flag in flags
            )
            grouped = (
                f"SELECT e.ev_unit AS unit, MAX(e.ev_org) AS org, {aggregates} "
                f"FROM ({union_sql}) e GROUP BY e.ev_unit"
            )
        selected = ", ".join(
            f"CASE WHEN {condition} THEN 1 ELSE 0 END AS {name}"
            for name, condition in conditions.items()
        )
        sql = (
            "SELECT ev.unit AS id, o.size_class AS size_class, d.key AS district, "
            f"m.area_type AS area_type, ev.org AS org_id, {selected} "
            f"FROM ({grouped}) ev "
            f"LEFT JOIN {Organisation._meta.db_table} o ON o.id = ev.org "
            f"LEFT JOIN {Municipality._meta.db_table} m ON m.id = o.municipality_id "
            f"LEFT JOIN {District._meta.db_table} d ON d.id = m.district_id"
        )
        return Facts(sql, list(union_params))


def _columns(flags: Sequence[str]) -> list[str]:
    """The event columns behind ``flags`` (``first_year`` comes from two)."""
    columns: list[str] = []
    for flag in flags:
        columns += ["support", "event_year"] if flag == "first_year" else [flag]
    return list(dict.fromkeys(columns))


def _part(queryset: QuerySet, unit: str, *, org: str | None = None, **flags: Any) -> QuerySet:
    """Events of one kind: the record they are about (``unit``), its organisation
    (``org``; the unit itself for organisations) and their flags, every other flag 0 —
    all parts of a subject have the same columns (annotations prefixed ``ev_``, so they
    never clash with a model field)."""
    values = {f"ev_{name}": ZERO for name in _ALL_EVENT_COLUMNS}
    values["ev_event_year"] = NO_YEAR
    values.update({f"ev_{name}": expression for name, expression in flags.items()})
    return queryset.annotate(ev_unit=F(unit), ev_org=F(org or unit), **values)


_ALL_EVENT_COLUMNS = (
    "visited", "green", "support", "event_year", "joint", "innovation", "partner",
    "received", "matched", "cooperation", "closed", "visit", "on_time",
)  # fmt: skip

_ORG_FLAGS = ("visited", "green", "support", "first_year", "joint", "innovation", "partner")
