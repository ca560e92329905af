"""The facts table of each subject in a scope, as one SQL statement.

Every event table is read once per statement: the events of the period (visits,
requests received, matches, outcomes, stage changes, completed follow-ups) are selected
by the ORM — so period bounds, time zones and the district scope follow the same rules
as everywhere else — with one bit per kind of event in one integer, stacked with UNION
ALL and grouped by the record they are about (the bits ORed, then one 0/1 column each).
Joined with the record, its organisation, the municipality and the district, that gives
one row per counted record with its breakdown attributes and its event flags; each
indicator is a condition on those columns.

A first version built each indicator as ``pk IN (subquery)`` conditions through the ORM;
PostgreSQL then evaluated every occurrence of a subquery separately (some fifty per
statement), which took over a minute for a year at state scale.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import (
    Case,
    DateField,
    DateTimeField,
    ExpressionWrapper,
    F,
    IntegerField,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.functions import ExtractYear

from crm.models import District, Municipality, Organisation
from pipeline.models import Match, Outcome, Stage, StageChange, TransferRequest
from pipeline.queries import cooperation_stage_ids
from scouting.models import FollowUp


def _flag(condition: Q | None = None) -> Case | Value:
    if condition is None:
        return Value(1, output_field=IntegerField())
    return Case(When(condition, then=1), default=0, output_field=IntegerField())


ZERO = Value(0, output_field=IntegerField())
NONE = Value(None, output_field=IntegerField())  # no year, no organisation


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

    def __init__(self, events: Any, *, quarters: Sequence[Any] = ()) -> None:
        """``quarters``: the calendar quarters that make up the period, when it is made
        of whole quarters (at most ``MAX_QUARTERS``): then each row also tells in which
        of them its events happened (``q_<flag>`` bit masks, or ``bucket`` for one-event
        records), so one statement gives the quarterly trend (``bucketed``)."""
        self.events = events
        self.quarters = list(quarters)
        if len(self.quarters) > MAX_QUARTERS:
            raise ValueError(len(self.quarters))

    # --- Event parts -----------------------------------------------------------------

    def _part(
        self, queryset: QuerySet, unit: str, *, org: str | None = None, day: str, **flags: Any
    ) -> QuerySet:
        """Events of one kind: the record they are about (``unit``), its organisation
        (``org``; the unit itself for organisations; "" for a subject whose records are
        looked up for it after grouping, ``_ORG_OF``), their flags packed in one integer,
        the year of a support event and, with the period's ``quarters``, the index of
        the one their date (field ``day``) lies in: all parts of a subject have the same
        columns (annotations prefixed ``ev_``, so they never clash with a model field)."""
        values: dict[str, Any] = {}
        # One integer for all flags (bit ``_BIT[name]``), not one column each: the
        # grouping then ORs one number per event (a year's organisations: 1.06 million
        # events) instead of taking seven maximums.
        packed: Any = ZERO
        for name, expression in flags.items():
            packed = packed + expression * Value(1 << _BIT[name])
        values["ev_flags"] = ExpressionWrapper(packed, output_field=IntegerField())
        values["ev_event_year"] = self._year(day) if "support" in flags else NONE
        values["ev_bucket"] = ZERO
        if self.quarters:
            # The quarter's index, by comparing with the local start of each later one
            # (cheaper than extracting year and quarter in the local time zone).
            field = queryset.model._meta.get_field(day)
            date_only = isinstance(field, DateField) and not isinstance(field, DateTimeField)
            values["ev_bucket"] = Case(
                *(
                    When(**{f"{day}__lt": q.start if date_only else q.start_at}, then=n)
                    for n, q in enumerate(self.quarters[1:])
                ),
                default=len(self.quarters) - 1,
                output_field=IntegerField(),
            )
        owner = NONE if org == "" else F(org or unit)
        return queryset.annotate(ev_unit=F(unit), ev_org=owner, **values)

    def _year(self, day: str) -> ExtractYear | Value:
        """The local year of a support event in the period, needed only for a period
        across New Year: within one calendar year it is the period's (``facts`` then
        needs no event's time converted to local time — at state scale a third of a
        year's organisations statement)."""
        if self._single_year() is not None:
            return NONE
        return ExtractYear(day)

    def _single_year(self) -> int | None:
        """The period's year when it lies in one calendar year."""
        period = self.events.scope.period
        return period.start.year if period.start.year == period.end.year else None

    def _organisation_parts(self) -> list[QuerySet]:
        e = self.events
        research_partner = Q(partner__kind__in=Organisation.RESEARCH_KINDS)
        return [
            self._part(
                e.visits,
                "organisation_id",
                day="visited_at",
                visited=_flag(),
                green=_flag(Q(green_skills_interest=True)),
                support=_flag(),
            ),
            self._part(
                e.requests_received,
                "organisation_id",
                day="created_at",
                support=_flag(),
            ),
            self._part(
                e.matches_proposed,
                "request__organisation_id",
                day="proposed_at",
                support=_flag(),
            ),
            self._part(
                e.outcomes,
                "request__organisation_id",
                day="date",
                support=_flag(),
                joint=_flag(Q(kind=Outcome.Kind.JOINT_RD) & research_partner),
                innovation=_flag(Q(innovation_introduced=True)),
            ),
            self._part(e.joint_outcomes, "partner_id", day="date", partner=_flag()),
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
            self._part(
                e.requests_received,
                "pk",
                org="",
                day="created_at",
                received=_flag(),
            ),
            self._part(
                accepted,
                "request_id",
                org="",
                day="decided_at",
                matched=_flag(),
            ),
            self._part(
                changes,
                "request_id",
                org="",
                day="changed_at",
                cooperation=_flag(Q(to_stage_id__in=cooperation_ids)),
                closed=_flag(Q(to_stage_id__in=closed_ids)),
            ),
        ]

    def _visit_parts(self) -> list[QuerySet]:
        return [
            self._part(
                self.events.visits,
                "pk",
                org="organisation_id",
                day="visited_at",
                visit=_flag(),
            )
        ]

    def _follow_up_parts(self) -> list[QuerySet]:
        e = self.events
        on_time = Q(due_date__isnull=False, completed_at__date__lte=F("due_date"))
        completed = FollowUp.objects.filter(
            e._org_scope("organisation__"), status=FollowUp.Status.DONE
        ).filter(**e._in_period("completed_at"))
        return [
            self._part(
                completed,
                "pk",
                org="organisation_id",
                day="completed_at",
                on_time=_flag(on_time),
            )
        ]

    # --- Statements --------------------------------------------------------------------

    def facts(
        self, subject: str, conditions: dict[str, str], *, shard: tuple[int, int] = (0, 1)
    ) -> Facts:
        """The facts of ``subject`` with one 0/1 column per entry of ``conditions``
        (name → SQL condition on ``ev.<flag>``, ``o.<organisation column>`` and
        ``m.<municipality column>``); with ``quarters`` also the quarters' columns;
        organisations also ``n_visited``, how many visits in the period each had.
        ``shard=(k, n)``: only the records whose id leaves remainder k when divided by n,
        a power of two (n statements, one per k, give all records once: they can run
        side by side)."""
        parts, flags, unique, counted_as = _SUBJECTS[subject]
        counted = list(counted_as)
        names = ["ev_unit", "ev_org", "ev_bucket", "ev_flags", "ev_event_year"]
        querysets = [part.order_by().values(*names) for part in parts(self)]
        union = querysets[0].union(*querysets[1:], all=True) if querysets[1:] else querysets[0]
        union_sql, union_params = union.query.sql_with_params()
        k, n = shard
        if not (0 <= k < n and n & (n - 1) == 0):
            raise ValueError(shard)
        # Integers only, so nothing needs quoting; "&" rather than "%", which the
        # database drivers take for a parameter.
        sharded = f" WHERE e.ev_unit & {int(n) - 1} = {int(k)}" if n > 1 else ""
        quarterly = ""
        own = [flag for flag in flags if flag != "first_year"]
        if unique:
            # One event per record (a visit, a completed follow-up): nothing to group.
            events = ", ".join(f"{_unpacked('e.ev_flags', flag)} AS {flag}" for flag in own)
            grouped = (
                f"SELECT e.ev_unit AS unit, e.ev_org AS org, e.ev_bucket AS bucket, {events} "
                f"FROM ({union_sql}) e{sharded}"
            )
            if self.quarters:
                quarterly = ", ev.bucket AS bucket"
        else:
            aggregates = [f"{_or_of_all('e.ev_flags', own)} AS flags"]
            aggregates += [f"SUM({_unpacked('e.ev_flags', f)}) AS n_{f}" for f in counted]
            year = self._single_year()
            if "first_year" in flags and year is None:
                support = _unpacked("e.ev_flags", "support")
                aggregates.append(
                    f"MIN(CASE WHEN {support} = 1 THEN e.ev_event_year END) AS first_year"
                )
            if self.quarters:
                # Bit n set: an event of that kind in the period's quarter n.
                aggregates += [
                    f"{_bit_or(_unpacked('e.ev_flags', flag))} AS q_{flag}" for flag in own
                ]
                aggregates.append(f"{_bit_or('1')} AS q_any")
                quarterly = "".join(f", ev.q_{flag} AS q_{flag}" for flag in [*own, "any"])
            kept = [f"g.n_{flag}" for flag in counted]
            # The counted events' own flag, so that their subject's conditions can be
            # asked of the record (``ev.visit``: the organisation had visits).
            kept += [
                f"CASE WHEN g.n_{f} > 0 THEN 1 ELSE 0 END AS {a}" for f, a in counted_as.items()
            ]
            if "first_year" in flags:
                # Within one calendar year the first support event's year is that year.
                support = _unpacked("g.flags", "support")
                kept.append(
                    "g.first_year"
                    if year is None
                    else f"CASE WHEN {support} = 1 THEN {int(year)} END AS first_year"
                )
            if self.quarters:
                kept += [*(f"g.q_{flag}" for flag in own), "g.q_any"]
            unpacked = [f"{_unpacked('g.flags', flag)} AS {flag}" for flag in own]
            org, owner = _ORG_OF.get(subject, ("g.org", ""))
            if org == "g.org":  # from the events themselves
                aggregates.insert(0, "MAX(e.ev_org) AS org")
            grouped = (
                f"SELECT g.unit, {org} AS org, {', '.join([*unpacked, *kept])} FROM ("
                f"SELECT e.ev_unit AS unit, {', '.join(aggregates)} "
                f"FROM ({union_sql}) e{sharded} GROUP BY e.ev_unit) g{owner}"
            )
        selected = ", ".join(
            f"CASE WHEN {condition} THEN 1 ELSE 0 END AS {name}"
            for name, condition in conditions.items()
        )
        counts = "".join(f", ev.n_{flag} AS n_{flag}" for flag in counted)
        sql = (
            "SELECT ev.unit AS id, o.size_class AS size_class, d.key AS district, "
            f"m.area_type AS area_type, ev.org AS org_id, {selected}{counts}{quarterly} "
            f"{_with_places(f'({grouped})')}"
        )
        return Facts(sql, list(union_params))

    def bucketed(self, subject: str, conditions: dict[str, str], table: str) -> str:
        """From ``table`` (the facts of ``subject`` with ``quarters``): one row per
        record and quarter of the period it had events in — ``bucket`` (the quarter's
        index) and the 0/1 columns of ``conditions`` as they hold in that quarter alone.
        Summed per bucket, that is each quarter's figures (the conditions only ever ask
        whether a record had some event, so a quarter's events decide them)."""
        if not self.quarters:
            raise ValueError("facts without quarters")
        selected = ", ".join(
            f"CASE WHEN {condition} THEN 1 ELSE 0 END AS {name}"
            for name, condition in conditions.items()
        )
        _parts, flags, unique, _counted = _SUBJECTS[subject]
        if unique:  # each record's one event lies in one quarter
            events = ", ".join(f"f.{name}" for name in conditions)
            return f"SELECT f.bucket, {events} FROM {table} f"
        # In a quarter, the year of the first support event is that quarter's year.
        years = " UNION ALL ".join(
            f"SELECT {n} AS i, {quarter.start.year} AS year"
            for n, quarter in enumerate(self.quarters)
        )
        shifted = ", ".join(
            f"(f.q_{flag} >> q.i) & 1 AS {flag}" for flag in flags if flag != "first_year"
        )
        ev = (
            f"(SELECT f.id AS unit, f.org_id AS org, q.i AS bucket, q.year AS first_year, "
            f"{shifted} FROM {table} f JOIN ({years}) q ON (f.q_any >> q.i) & 1 = 1)"
        )
        return f"SELECT ev.bucket, {selected} {_with_places(ev)}"


def _unpacked(packed: str, flag: str) -> str:
    """SQL: 0 or 1, the ``flag``'s bit of the ``packed`` flags."""
    return f"(({packed} >> {_BIT[flag]}) & 1)"


def _or_of_all(packed: str, flags: Sequence[str]) -> str:
    """Aggregate: the packed flags of all of a record's events ORed."""
    if connection.vendor == "postgresql":
        return f"bit_or({packed})"
    # SQLite has no bit_or(): each flag's bit is the maximum of that bit.
    return " | ".join(f"MAX({packed} & {1 << _BIT[flag]})" for flag in flags) or "0"


def _bit_or(flag: str) -> str:
    """Aggregate: bit n set when a 0/1 ``flag`` was 1 for an event in quarter n."""
    if connection.vendor == "postgresql":
        return f"bit_or(CAST({flag} AS BIGINT) << e.ev_bucket)"
    # SQLite has no bit_or(); the distinct powers of two summed are the same.
    return f"SUM(DISTINCT {flag} << e.ev_bucket)"


def _with_places(events: str) -> str:
    """``FROM`` the events (``ev``) with their organisation (``o``), municipality
    (``m``) and district (``d``)."""
    return (
        f"FROM {events} ev "
        f"LEFT JOIN {Organisation._meta.db_table} o ON o.id = ev.org "
        f"LEFT JOIN {Municipality._meta.db_table} m ON m.id = o.municipality_id "
        f"LEFT JOIN {District._meta.db_table} d ON d.id = m.district_id"
    )


# Each event flag's bit (its position) in the packed flags (``ev_flags``).
_BIT = {
    name: n
    for n, name in enumerate(
        ("visited", "green", "support", "joint", "innovation", "partner", "received",
         "matched", "cooperation", "closed", "visit", "on_time")
    )
}  # fmt: skip

_ORG_FLAGS = ("visited", "green", "support", "first_year", "joint", "innovation", "partner")

# Subject → its event parts, flags, whether each record has exactly one event, and the
# flags whose events are counted per record (``n_<flag>``; only for records grouped from
# several events) with the flag those events have in their own subject: an
# organisation's visits, so that the visits' figures and the evidence can be read from
# the organisations' facts (``reporting.queries.organisation_and_visit_sums``).
_SUBJECTS: dict[str, tuple[Any, tuple[str, ...], bool, dict[str, str]]] = {
    "organisation": (FactsBuilder._organisation_parts, _ORG_FLAGS, False, {"visited": "visit"}),
    "visit": (FactsBuilder._visit_parts, ("visit",), True, {}),
    "request": (
        FactsBuilder._request_parts,
        ("received", "matched", "cooperation", "closed"),
        False,
        {},
    ),
    "follow_up": (FactsBuilder._follow_up_parts, ("on_time",), True, {}),
}

# How a grouped record's organisation is found, if not from its events (``MAX(ev_org)``):
# an organisation's events are about itself; a request's organisation is looked up once
# per request, not joined to each of its events — no need to ask a year's million events
# whose they are. A LEFT JOIN (every request is there), which the planner drops where
# nothing asks for the organisation (the totals of the whole region). SQL of the
# organisation and of the join, over the grouped records ``g``.
_ORG_OF = {
    "organisation": ("g.unit", ""),
    "request": (
        "r.organisation_id",
        f" LEFT JOIN {TransferRequest._meta.db_table} r ON r.id = g.unit",
    ),
}

# Bit masks of quarters fit a BIGINT up to this many (15 years).
MAX_QUARTERS = 62
