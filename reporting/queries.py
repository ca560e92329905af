"""The indicators of the impact report: one registry, each computed in SQL.

Every indicator counts records of one *subject* — organisations, visits, transfer
requests or follow-ups. For a scope (a period and optionally some districts) each
subject has one *facts* queryset: the records that matter in the period, with one
boolean column per indicator saying whether the record counts for it. Figures are
conditional aggregates over those facts (one statement per subject for all totals, one
per breakdown), and the drill-down list of a figure is the same facts filtered by the
same condition — so what a figure says and the records it links to cannot disagree.

Counting rules common to all indicators (each indicator's own rule says the rest):

- A record counts in a period by the date the event *happened* (visit date, date a
  request was received, stage change, match decision or outcome date), in local time
  (Europe/Berlin), both period days inclusive — never by when it was typed in.
- Organisations are counted once per indicator and period however many events they had.
- Enterprises are organisations of kind SME, large enterprise or start-up; research
  institutions those of kind university or research institute.
- The scope's districts are those of the organisation the event is about (for RCO07: of
  the enterprise in the joint project; the research institution may be anywhere).
- Only submitted visits count, drafts never.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from itertools import count
from typing import Any

from django.db import connection, transaction
from django.db.models import (
    BooleanField,
    ExpressionWrapper,
    F,
    Q,
    QuerySet,
    Value,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.models import District, Municipality, Organisation, SizeClass, Topic
from pipeline.models import Match, Outcome, Stage, TransferRequest
from scouting.models import FollowUp, Visit

from .facts import ENTERPRISE, MAX_QUARTERS, RESEARCH, SME, Facts, FactsBuilder
from .periods import Period

# --- Vocabulary ------------------------------------------------------------------------


class Subject(StrEnum):
    ORGANISATION = "organisation"
    VISIT = "visit"
    REQUEST = "request"
    FOLLOW_UP = "follow_up"


class Unit(StrEnum):
    ENTERPRISES = "enterprises"
    ORGANISATIONS = "organisations"
    VISITS = "visits"
    REQUESTS = "requests"
    FOLLOW_UPS = "follow_ups"
    PERCENT = "percent"

    @property
    def label(self) -> str:
        return {
            Unit.ENTERPRISES: _("enterprises"),
            Unit.ORGANISATIONS: _("organisations"),
            Unit.VISITS: _("visits"),
            Unit.REQUESTS: _("requests"),
            Unit.FOLLOW_UPS: _("follow-ups"),
            Unit.PERCENT: "%",
        }[self]


class Breakdown(StrEnum):
    SIZE_CLASS = "size_class"
    DISTRICT = "district"
    AREA_TYPE = "area_type"
    TOPIC = "topic"
    OUTCOME = "outcome"

    @property
    def label(self) -> str:
        return {
            Breakdown.SIZE_CLASS: _("size class"),
            Breakdown.DISTRICT: _("district"),
            Breakdown.AREA_TYPE: _("rural/urban"),
            Breakdown.TOPIC: _("topic"),
            Breakdown.OUTCOME: _("outcome"),
        }[self]


UNKNOWN = ""  # breakdown key of records without the attribute (no size, no municipality …)

STANDARD = (Breakdown.SIZE_CLASS, Breakdown.DISTRICT, Breakdown.AREA_TYPE, Breakdown.TOPIC)


@dataclass(frozen=True)
class Scope:
    """What a figure is about: a period and, optionally, some districts (by id)."""

    period: Period
    district_ids: tuple[int, ...] = ()

    def with_period(self, period: Period) -> Scope:
        return Scope(period, self.district_ids)

    @property
    def cache_key(self) -> str:
        """The scope in cache keys: ``2026-Q3:all``, ``2026:3,7``."""
        return f"{self.period.code}:{','.join(map(str, self.district_ids)) or 'all'}"


# --- The indicators --------------------------------------------------------------------


# An SQL condition on the subject's facts: ``ev.<event flag>`` and ``o.<column of the
# organisation>`` (see reporting.facts). For organisations and requests it must hold in
# a period exactly when it holds in one of the period's quarters — true of "had such an
# event" and of "its first support event was before …": ``trend()`` relies on it, and
# the tests compare its quarters with each quarter computed on its own.
Condition = str


@dataclass(frozen=True)
class Indicator:
    code: str
    version: int
    name: str  # German
    name_en: str
    unit: Unit
    subject: Subject
    rule: str  # German, precise
    rule_en: str
    condition: Condition  # which of the subject's facts count
    breakdowns: tuple[Breakdown, ...] = STANDARD
    # Percentages: ``condition`` is the numerator, ``base`` the denominator (both on the
    # same facts); the drill-down lists the denominator with a column for the numerator.
    base: Condition | None = None
    # Percentages: the indicator whose records hold the denominator's (evidence keeps
    # only the numerator's ids), to tell in a comparison why the base changed.
    base_records: str = ""

    @property
    def column(self) -> str:
        return f"c_{self.code.lower()}"

    @property
    def base_column(self) -> str:
        return f"b_{self.code.lower()}"

    @property
    def is_share(self) -> bool:
        return self.base is not None

    def definition(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "version": self.version,
            "name": self.name,
            "name_en": self.name_en,
            "unit": str(self.unit),
            "subject": str(self.subject),
            "rule": self.rule,
            "rule_en": self.rule_en,
            "breakdowns": [str(b) for b in self.breakdowns],
        }


# Follows "mit", hence the dative.
SUPPORT_RULE = (
    "mindestens einem Unterstützungsereignis im Zeitraum: einem eingereichten "
    "Unternehmensbesuch, einer eingegangenen Transferanfrage, einem vorgeschlagenen "
    "Forschungspartner oder einem festgehaltenen Ergebnis zu einer ihrer Transferanfragen"
)
SUPPORT_RULE_EN = (
    "at least one support event in the period: a submitted company visit, a transfer "
    "request received, a research partner proposed or an outcome recorded for one of "
    "its transfer requests"
)

INDICATORS: tuple[Indicator, ...] = (
    Indicator(
        code="RCO01",
        version=1,
        name="Unterstützte Unternehmen",
        name_en="Enterprises supported",
        unit=Unit.ENTERPRISES,
        subject=Subject.ORGANISATION,
        rule=f"Unternehmen (KMU, Großunternehmen, Start-ups) mit {SUPPORT_RULE}; "
        "jedes Unternehmen einmal je Zeitraum. Das Programm vergibt keine Zuschüsse oder "
        "Finanzierungsinstrumente, daher gleicht RCO01 hier RCO04.",
        rule_en=f"Enterprises (SMEs, large enterprises, start-ups) with {SUPPORT_RULE_EN}; "
        "each enterprise once per period. The programme gives no grants or financial "
        "instruments, so RCO01 equals RCO04 here.",
        condition=f"{ENTERPRISE} AND ev.support = 1",
    ),
    Indicator(
        code="RCO04",
        version=1,
        name="Unternehmen mit nichtfinanzieller Unterstützung",
        name_en="Enterprises with non-financial support",
        unit=Unit.ENTERPRISES,
        subject=Subject.ORGANISATION,
        rule=f"Unternehmen mit {SUPPORT_RULE} — Beratung, Vermittlung und Begleitung "
        "sind nichtfinanzielle Unterstützung; jedes Unternehmen einmal je Zeitraum.",
        rule_en=f"Enterprises with {SUPPORT_RULE_EN} — advice, matching and guidance are "
        "non-financial support; each enterprise once per period.",
        condition=f"{ENTERPRISE} AND ev.support = 1",
    ),
    Indicator(
        code="RCO05",
        version=1,
        name="Unterstützte neue Unternehmen",
        name_en="New enterprises supported",
        unit=Unit.ENTERPRISES,
        subject=Subject.ORGANISATION,
        rule="Unterstützte Unternehmen (wie RCO01), deren erstes Unterstützungsereignis im "
        "Zeitraum weniger als drei Jahre nach der Gründung lag. Erfasst ist nur das "
        "Gründungsjahr; gezählt wird, wenn das Ereignis vor dem 1. Januar des dritten "
        "Jahres nach dem Gründungsjahr lag (Gründung 2024: Ereignis bis 31.12.2026) — so "
        "wird kein älteres Unternehmen gezählt. Ohne Gründungsjahr nicht gezählt.",
        rule_en="Supported enterprises (as RCO01) whose first support event in the period "
        "was less than three years after their founding. Only the founding year is "
        "recorded; an enterprise counts when the event was before 1 January of the third "
        "year after it (founded 2024: event by 31.12.2026), so no older enterprise is "
        "counted. Without a founding year not counted.",
        condition=f"{ENTERPRISE} AND ev.support = 1 AND o.founding_year IS NOT NULL "
        "AND ev.first_year < o.founding_year + 3",
    ),
    Indicator(
        code="RCO07",
        version=1,
        name="Forschungseinrichtungen in gemeinsamen Forschungsprojekten",
        name_en="Research institutions participating in joint research projects",
        unit=Unit.ORGANISATIONS,
        subject=Subject.ORGANISATION,
        rule="Hochschulen und Forschungseinrichtungen, die Partner eines im Zeitraum "
        "festgehaltenen Ergebnisses „Gemeinsames FuE-Projekt“ einer Transferanfrage sind; "
        "jede Einrichtung einmal je Zeitraum, gleich wo sie liegt. Bei einer Auswahl von "
        "Landkreisen zählt der Sitz des anfragenden Unternehmens.",
        rule_en="Universities and research institutes that are the partner of a 'joint R&D "
        "project' outcome of a transfer request recorded in the period; each once per "
        "period, wherever it is. With selected districts, the requesting enterprise's "
        "district decides.",
        condition=f"{RESEARCH} AND ev.partner = 1",
        breakdowns=(Breakdown.DISTRICT, Breakdown.AREA_TYPE),
    ),
    Indicator(
        code="RCO10",
        version=1,
        name="Mit Forschungseinrichtungen kooperierende Unternehmen",
        name_en="Enterprises cooperating with research institutions",
        unit=Unit.ENTERPRISES,
        subject=Subject.ORGANISATION,
        rule="Unternehmen mit einem im Zeitraum festgehaltenen Ergebnis „Gemeinsames "
        "FuE-Projekt“ mit einer Hochschule oder Forschungseinrichtung als Partner. "
        "Auftragsforschung, Prüfleistungen und andere reine Dienstleistungskäufe zählen "
        "nicht. Jedes Unternehmen einmal je Zeitraum.",
        rule_en="Enterprises with a 'joint R&D project' outcome recorded in the period whose "
        "partner is a university or research institute. Contract research, testing and "
        "other mere purchases of services do not count. Each enterprise once per period.",
        condition=f"{ENTERPRISE} AND ev.joint = 1",
    ),
    Indicator(
        code="RCR03",
        version=1,
        name="KMU mit Produkt- oder Prozessinnovation",
        name_en="SMEs introducing product or process innovation",
        unit=Unit.ENTERPRISES,
        subject=Subject.ORGANISATION,
        rule="KMU und Start-ups (nicht Großunternehmen, nicht Größenklasse „groß“) mit einem "
        "im Zeitraum festgehaltenen Ergebnis, bei dem „Produkt- oder Prozessinnovation "
        "eingeführt“ angegeben ist — nur, wo erfasst. Jedes Unternehmen einmal je Zeitraum.",
        rule_en="SMEs and start-ups (not large enterprises, not size class 'large') with an "
        "outcome recorded in the period marked 'product or process innovation introduced' "
        "— only where recorded. Each enterprise once per period.",
        condition=f"{SME} AND o.size_class <> 'large' AND ev.innovation = 1",
    ),
    Indicator(
        code="VISITS",
        version=1,
        name="Unternehmensbesuche",
        name_en="Company visits",
        unit=Unit.VISITS,
        subject=Subject.VISIT,
        rule="Eingereichte Besuche mit Besuchsdatum im Zeitraum (vor Ort, per Video, Telefon "
        "oder auf einer Veranstaltung); Entwürfe zählen nicht. Jeder Besuch einmal, auch "
        "wenn mehrere Scouts teilnahmen.",
        rule_en="Submitted visits dated in the period (on site, video, phone or at an "
        "event); drafts do not count. Each visit once, however many scouts took part.",
        condition="ev.visit = 1",
    ),
    Indicator(
        code="ORGS_VISITED",
        version=1,
        name="Besuchte Organisationen",
        name_en="Organisations visited",
        unit=Unit.ORGANISATIONS,
        subject=Subject.ORGANISATION,
        rule="Organisationen jeder Art mit mindestens einem eingereichten Besuch im "
        "Zeitraum; jede einmal je Zeitraum.",
        rule_en="Organisations of any kind with at least one submitted visit in the period; "
        "each once per period.",
        condition="ev.visited = 1",
    ),
    Indicator(
        code="REQ_RECEIVED",
        version=1,
        name="Eingegangene Transferanfragen",
        name_en="Transfer requests received",
        unit=Unit.REQUESTS,
        subject=Subject.REQUEST,
        rule="Transferanfragen mit Eingangsdatum im Zeitraum.",
        rule_en="Transfer requests received in the period.",
        condition="ev.received = 1",
    ),
    Indicator(
        code="REQ_MATCHED",
        version=1,
        name="Vermittelte Transferanfragen",
        name_en="Transfer requests matched",
        unit=Unit.REQUESTS,
        subject=Subject.REQUEST,
        rule="Transferanfragen, bei denen im Zeitraum ein Forschungspartner zugesagt hat "
        "(Vermittlung „angenommen“, Entscheidungsdatum im Zeitraum); jede Anfrage einmal.",
        rule_en="Transfer requests for which a research partner accepted in the period "
        "(match 'accepted', decided in the period); each request once.",
        condition="ev.matched = 1",
    ),
    Indicator(
        code="REQ_COOPERATION",
        version=1,
        name="Transferanfragen in Kooperation",
        name_en="Transfer requests in cooperation",
        unit=Unit.REQUESTS,
        subject=Subject.REQUEST,
        rule="Transferanfragen, die im Zeitraum in die Phase „In Kooperation“ oder eine "
        "spätere Fortschrittsphase (z. B. „Erfolgreich abgeschlossen“) gewechselt sind; "
        "jede Anfrage einmal.",
        rule_en="Transfer requests that moved in the period into the stage 'in cooperation' "
        "or a later progress stage (e.g. 'successfully closed'); each request once.",
        condition="ev.cooperation = 1",
    ),
    Indicator(
        code="REQ_CLOSED",
        version=1,
        name="Abgeschlossene Transferanfragen nach Ergebnis",
        name_en="Transfer requests closed, by outcome",
        unit=Unit.REQUESTS,
        subject=Subject.REQUEST,
        rule="Transferanfragen, die im Zeitraum in eine abschließende Phase (erfolgreich "
        "oder ohne Ergebnis) gewechselt sind; jede Anfrage einmal. Nach Ergebnis "
        "aufgeschlüsselt zählt eine Anfrage mit mehreren Ergebnisarten bei jeder.",
        rule_en="Transfer requests that moved in the period into a closing stage (won or "
        "lost); each request once. By outcome, a request with several kinds of outcome "
        "counts under each.",
        condition="ev.closed = 1",
        breakdowns=(Breakdown.OUTCOME, *STANDARD),
    ),
    Indicator(
        code="FOLLOW_UPS_ON_TIME",
        version=1,
        name="Fristgerecht erledigte Wiedervorlagen",
        name_en="Follow-ups completed on time",
        unit=Unit.FOLLOW_UPS,
        subject=Subject.FOLLOW_UP,
        rule="Wiedervorlagen mit Fälligkeitsdatum, die im Zeitraum erledigt wurden, und "
        "zwar spätestens am Fälligkeitstag (Ortszeit). Wiedervorlagen ohne Organisation "
        "zählen nur für die ganze Region.",
        rule_en="Follow-ups with a due date completed in the period, on or before the due "
        "day (local time). Follow-ups without an organisation count only for the whole "
        "region.",
        condition="ev.on_time = 1",
        breakdowns=(Breakdown.DISTRICT, Breakdown.AREA_TYPE),
    ),
    Indicator(
        code="RURAL_SHARE",
        version=1,
        name="Anteil der Besuche in ländlichen Gemeinden",
        name_en="Share of visits in rural municipalities",
        unit=Unit.PERCENT,
        subject=Subject.VISIT,
        rule="Anteil der eingereichten Besuche im Zeitraum bei Organisationen in einer "
        "ländlichen Gemeinde an allen eingereichten Besuchen im Zeitraum bei Organisationen "
        "mit bekannter Gemeinde, in Prozent mit einer Nachkommastelle.",
        rule_en="Share of the submitted visits in the period at organisations in a rural "
        "municipality among all submitted visits in the period at organisations whose "
        "municipality is known, in percent with one decimal.",
        condition="m.area_type = 'rural'",
        base="m.id IS NOT NULL",
        base_records="VISITS",
        breakdowns=(Breakdown.SIZE_CLASS, Breakdown.DISTRICT, Breakdown.TOPIC),
    ),
    Indicator(
        code="GREEN_SKILLS",
        version=1,
        name="Interesse an der Green-Skills-Kampagne",
        name_en="Interest in the green-skills campaign",
        unit=Unit.ORGANISATIONS,
        subject=Subject.ORGANISATION,
        rule="Organisationen mit mindestens einem eingereichten Besuch im Zeitraum, bei dem "
        "Interesse an der Green-Skills-Kampagne festgehalten wurde; jede einmal je Zeitraum.",
        rule_en="Organisations with at least one submitted visit in the period that recorded "
        "interest in the green-skills campaign; each once per period.",
        condition="ev.green = 1",
    ),
)

REGISTRY: dict[str, Indicator] = {indicator.code: indicator for indicator in INDICATORS}


def indicator(code: str) -> Indicator:
    """The indicator with ``code`` (case-insensitive); KeyError if there is none."""
    return REGISTRY[code.upper()]


def indicators_of(subject: Subject) -> list[Indicator]:
    return [i for i in INDICATORS if i.subject == subject]


# --- Events in a scope -----------------------------------------------------------------


class _Events:
    """The conditions of a scope as Q objects on the subjects' models.

    Sets of events are subqueries of ids (``pk__in``), which the database evaluates once
    per statement and looks up by hash — not once per row."""

    def __init__(self, scope: Scope) -> None:
        self.scope = scope
        self.start_at = scope.period.start_at
        self.end_at = scope.period.end_at

    # Scope

    def _org_scope(self, prefix: str = "") -> Q:
        if not self.scope.district_ids:
            return Q()
        return Q(**{f"{prefix}municipality__district_id__in": self.scope.district_ids})

    # Event sets (ids of organisations)

    def _in_period(self, field: str) -> dict[str, Any]:
        return {f"{field}__gte": self.start_at, f"{field}__lt": self.end_at}

    @cached_property
    def visits(self) -> QuerySet[Visit]:
        return Visit.objects.submitted().filter(
            self._org_scope("organisation__"), **self._in_period("visited_at")
        )

    @cached_property
    def requests_received(self) -> QuerySet[TransferRequest]:
        return TransferRequest.objects.filter(
            self._org_scope("organisation__"), **self._in_period("created_at")
        )

    @cached_property
    def matches_proposed(self) -> QuerySet[Match]:
        return Match.objects.filter(
            self._org_scope("request__organisation__"), **self._in_period("proposed_at")
        )

    @cached_property
    def outcomes(self) -> QuerySet[Outcome]:
        return Outcome.objects.filter(
            self._org_scope("request__organisation__"),
            date__gte=self.scope.period.start,
            date__lte=self.scope.period.end,
        )

    @cached_property
    def joint_outcomes(self) -> QuerySet[Outcome]:
        return self.outcomes.filter(
            kind=Outcome.Kind.JOINT_RD, partner__kind__in=Organisation.RESEARCH_KINDS
        )

    @cached_property
    def requests_with_events(self) -> QuerySet[TransferRequest]:
        """Requests with a support event in the period: received, a partner proposed or
        an outcome recorded (what an organisation's topics are read from)."""
        return TransferRequest.objects.filter(
            Q(pk__in=self.requests_received.values("pk"))
            | Q(pk__in=self.matches_proposed.values("request_id"))
            | Q(pk__in=self.outcomes.values("request_id"))
        )


# --- Facts -----------------------------------------------------------------------------


def _conditions(subject: Subject, *, per_visit: bool = True) -> dict[str, str]:
    """Column → SQL condition of ``subject``'s indicators (``c_<code>``; percentages
    also ``b_<code>``); organisations also the visits' (``per_visit``)."""
    conditions: dict[str, str] = {}
    for item in indicators_of(subject):
        conditions[item.column] = item.condition
        if item.base is not None:
            conditions[item.base_column] = item.base
    if subject == Subject.ORGANISATION and per_visit:
        # The visits' conditions asked of an organisation (``v_<column>``): they ask
        # only for its place and whether it had a visit (``ev.visit``), so with its
        # number of visits (``n_visited``) they give the visits' figures (``_sums``).
        for name, condition in _conditions(Subject.VISIT).items():
            conditions[f"v_{name}"] = condition
    return conditions


def _facts(subject: Subject, events: _Events, *, shard: tuple[int, int] = (0, 1)) -> Facts:
    """One row per record of ``subject`` with an event in the scope: ``id``,
    ``size_class``, ``district`` (key), ``area_type``, ``org_id`` and a 0/1 column per
    indicator (``c_rco01`` …; percentages also ``b_<code>``)."""
    return FactsBuilder(events).facts(str(subject), _conditions(subject), shard=shard)


def _fetch(sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, list(params))
        return cursor.fetchall()


def _sums(users: Sequence[Indicator], *, per_visit: bool = False) -> tuple[str, list[str]]:
    """SUM expressions over ``f`` and their names: ``a_<column>`` per indicator, for a
    percentage also ``a_<base>`` (numerator within the base) and ``n_<base>`` (base).
    ``per_visit``: the visits' indicators over the organisations' facts, each
    organisation's 0/1 columns (``v_<column>``) weighted by its number of visits."""
    expressions, names = [], []
    weight, prefix = ("f.n_visited * ", "v_") if per_visit else ("", "")
    for item in users:
        column, base = f"f.{prefix}{item.column}", f"f.{prefix}{item.base_column}"
        expressions.append(f"SUM({weight}{column})")
        names.append(f"a_{item.column}")
        if item.is_share:
            expressions.append(f"SUM({weight}{column} * {base})")
            names.append(f"a_{item.base_column}")
            expressions.append(f"SUM({weight}{base})")
            names.append(f"n_{item.base_column}")
    return ", ".join(expressions), names


class Computation:
    """The facts of one scope, each subject's computed once into a temporary table that
    every figure, breakdown and evidence list of that scope then reads. Use through
    ``computing(scope)``."""

    _serial = count(1)

    def __init__(
        self,
        scope: Scope,
        *,
        materialize: bool = True,
        by_quarter: bool | Collection[Subject] = True,
    ) -> None:
        self.scope = scope
        self.events = _Events(scope)
        self.materialize = materialize
        self.tables: dict[Subject, str] = {}
        # A period made of whole quarters (a half-year, a year): its tables (of the
        # subjects ``by_quarter``, or all) also tell in which quarter each record had
        # its events, for the trend (``trend()``).
        self.quarters = quarters_within(scope.period) if materialize and by_quarter else []
        self.by_quarter = set(Subject if by_quarter is True else by_quarter or ())
        self.builder = FactsBuilder(self.events, quarters=self.quarters)
        self._plain = FactsBuilder(self.events)

    def source(self, subject: Subject, *, shard: tuple[int, int] = (0, 1)) -> tuple[str, list[Any]]:
        """What to select the facts from: the temporary table, or the statement itself
        when this computation reads each subject only once (then optionally one
        ``shard`` of the records, see ``FactsBuilder.facts``)."""
        if self.materialize:
            if shard != (0, 1):
                raise ValueError("a computation's tables are not sharded")
            return self.table(subject), []
        facts = _facts(subject, self.events, shard=shard)
        return f"({facts.sql})", list(facts.params)

    def table(self, subject: Subject) -> str:
        if subject not in self.tables:
            builder = self.builder if subject in self.by_quarter else self._plain
            facts = builder.facts(str(subject), _conditions(subject))
            name = f"reporting_facts_{next(self._serial)}"
            with connection.cursor() as cursor, _planner(enable_nestloop="off"):
                cursor.execute(f"DROP TABLE IF EXISTS {name}")
                cursor.execute(f"CREATE TEMPORARY TABLE {name} AS {facts.sql}", facts.params)
                # Autovacuum never sees temporary tables: without statistics the planner
                # takes each for 200 rows and joins the wrong way round. Its size and
                # the columns joined and grouped by are all it needs (all 24 columns of
                # a year's organisations took 0.13 s, these 0.05 s).
                columns = f" ({', '.join(_ANALYZED)})" if connection.vendor == "postgresql" else ""
                cursor.execute(f"ANALYZE {name}{columns}")
            self.tables[subject] = name
        return self.tables[subject]

    def drop(self) -> None:
        with connection.cursor() as cursor:
            for name in self.tables.values():
                cursor.execute(f"DROP TABLE IF EXISTS {name}")
        self.tables.clear()


# The facts tables' columns the planner needs statistics of (``FactsBuilder``'s).
_ANALYZED = ("id", "org_id", "size_class", "district", "area_type")


def quarters_within(period: Period) -> list[Period]:
    """The trend's quarters when the period is made of them (a half-year, a year, whole
    quarters from–to; at most ``MAX_QUARTERS``): then its tables can tell the trend."""
    quarters = period.quarters()
    whole = quarters[0].start == period.start and quarters[-1].end == period.end
    return quarters if whole and len(quarters) <= MAX_QUARTERS else []


@contextmanager
def computing(
    scope: Scope, *, materialize: bool = True, by_quarter: bool | Collection[Subject] = True
) -> Iterator[Computation]:
    """A computation in one transaction. On PostgreSQL without JIT compilation (its
    start-up cost exceeds these statements' run time) and with enough memory to hash
    a year of events. ``by_quarter``: False, no quarters in the tables (no ``trend()``);
    subjects: only theirs (``trend()`` of those)."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL jit = off")
                cursor.execute(f"SET LOCAL work_mem = '{WORK_MEM}'")
        computation = Computation(scope, materialize=materialize, by_quarter=by_quarter)
        yield computation
        computation.drop()  # on an error the rollback removes the tables


WORK_MEM = "64MB"


# --- Figures ---------------------------------------------------------------------------


@dataclass(frozen=True)
class BreakdownRow:
    key: str
    label: str
    value: int | float


@dataclass(frozen=True)
class Figure:
    code: str
    value: int | float
    breakdowns: dict[str, list[BreakdownRow]] = field(default_factory=dict)


def _ratio(part: int, whole: int) -> float:
    return round(100 * part / whole, 1) if whole else 0.0


def _value(item: Indicator, numbers: dict[str, Any]) -> int | float:
    if item.is_share:
        return _ratio(
            int(numbers[f"a_{item.base_column}"] or 0), int(numbers[f"n_{item.base_column}"] or 0)
        )
    return int(numbers[f"a_{item.column}"] or 0)


def totals(
    scope: Scope, *, codes: Sequence[str] | None = None, computation: Computation | None = None
) -> dict[str, int | float]:
    """Every indicator's value (or those in ``codes``)."""
    if computation is None:
        # Totals alone read each subject's facts once anyway: no temporary tables.
        with computing(scope, materialize=False) as computation:
            return totals(scope, codes=codes, computation=computation)
    values: dict[str, int | float] = {}
    for subject in SUMS_STATEMENTS:
        covered = STATEMENT_SUBJECTS[subject]
        if codes is not None and not any(indicator(c).subject in covered for c in codes):
            continue
        for each, sums in statement_sums(subject, computation).items():
            own = [i for i in indicators_of(each) if codes is None or i.code in codes]
            values.update(values_of(own, sums))
    return values


# The statements that give every subject's sums, longest first at state scale (so that
# two connections sharing them out finish at about the same time), and the subjects
# each gives: the organisations' facts also give the visits' sums
# (``organisation_and_visit_sums``), so no statement reads a period's visits twice.
SUMS_STATEMENTS = (Subject.ORGANISATION, Subject.REQUEST, Subject.FOLLOW_UP)
STATEMENT_SUBJECTS = {
    Subject.ORGANISATION: (Subject.ORGANISATION, Subject.VISIT),
    Subject.REQUEST: (Subject.REQUEST,),
    Subject.FOLLOW_UP: (Subject.FOLLOW_UP,),
}


def statement_sums(
    subject: Subject, computation: Computation, *, shard: tuple[int, int] = (0, 1)
) -> dict[Subject, dict[str, int]]:
    """The sums of the subjects one of ``SUMS_STATEMENTS`` gives (``_sums``; the values
    by ``values_of``), one statement; the sums of its shards add up to it."""
    if subject == Subject.ORGANISATION:
        return organisation_and_visit_sums(computation, shard=shard)
    return {subject: subject_sums(subject, computation, indicators_of(subject), shard=shard)}


def values_of(own: Sequence[Indicator], sums: dict[str, int]) -> dict[str, int | float]:
    """The values of ``own`` indicators from their sums (``subject_sums``)."""
    return {item.code: _value(item, sums) for item in own}


def subject_sums(
    subject: Subject,
    computation: Computation,
    own: Sequence[Indicator],
    *,
    shard: tuple[int, int] = (0, 1),
) -> dict[str, int]:
    """The sums behind the values of ``own`` indicators of ``subject`` (``_sums``): the
    sums of a subject's shards add up to the subject's (``_value`` gives the values)."""
    sums, names = _sums(own)
    source, params = computation.source(subject, shard=shard)
    with _planner(enable_nestloop="off", active=not computation.materialize):
        (row,) = _fetch(f"SELECT {sums} FROM {source} f", params)
    return {name: int(number or 0) for name, number in zip(names, row, strict=True)}


def organisation_and_visit_sums(
    computation: Computation, *, shard: tuple[int, int] = (0, 1)
) -> dict[Subject, dict[str, int]]:
    """``subject_sums`` of the organisations' and of the visits' indicators in one
    statement over the organisations' facts (a year at state scale: no second statement
    over 660,000 visits). Shards add up as ``subject_sums``' do."""
    organisations, visits = indicators_of(Subject.ORGANISATION), indicators_of(Subject.VISIT)
    own_sums, own_names = _sums(organisations)
    visit_sums, visit_names = _sums(visits, per_visit=True)
    source, params = computation.source(Subject.ORGANISATION, shard=shard)
    with _planner(enable_nestloop="off", active=not computation.materialize):
        (row,) = _fetch(f"SELECT {own_sums}, {visit_sums} FROM {source} f", params)
    numbers = [int(number or 0) for number in row]
    return {
        Subject.ORGANISATION: dict(zip(own_names, numbers[: len(own_names)], strict=True)),
        Subject.VISIT: dict(zip(visit_names, numbers[len(own_names) :], strict=True)),
    }


def trend(
    computation: Computation, *, subjects: Collection[Subject] | None = None
) -> dict[Period, dict[str, int | float]] | None:
    """Every indicator's value (of ``subjects``, or all) in each quarter of a period made
    of whole quarters, read from the computation's tables in one statement per subject
    — the same figures as ``totals()`` of each quarter (tested). None for other
    periods."""
    if not computation.quarters:
        return None
    values: dict[Period, dict[str, int | float]] = {q: {} for q in computation.quarters}
    builder = computation.builder
    for subject in _chosen(subjects):
        if subject not in computation.by_quarter:
            raise ValueError(f"no quarters in the facts of {subject}")
        own = indicators_of(subject)
        sums, names = _sums(own)
        conditions = _conditions(subject, per_visit=False)  # a quarter's own events
        rows = builder.bucketed(str(subject), conditions, computation.table(subject))
        found = {}
        for bucket, *numbers in _fetch(
            f"SELECT f.bucket, {sums} FROM ({rows}) f GROUP BY f.bucket", []
        ):
            found[bucket] = dict(zip(names, numbers, strict=True))
        for n, quarter in enumerate(computation.quarters):
            values[quarter].update(values_of(own, found.get(n, dict.fromkeys(names, 0))))
    return values


def breakdowns(
    scope: Scope,
    *,
    codes: Sequence[str] | None = None,
    computation: Computation | None = None,
    subjects: Collection[Subject] | None = None,
) -> dict[str, dict[str, list[BreakdownRow]]]:
    """Every indicator's breakdowns (or those in ``codes``, of ``subjects``): code →
    breakdown → rows, one statement per subject and breakdown."""
    if computation is None:
        with computing(scope) as computation:
            return breakdowns(scope, codes=codes, computation=computation, subjects=subjects)
    chosen = _chosen(subjects)
    wanted = [i for i in INDICATORS if (codes is None or i.code in codes) and i.subject in chosen]
    result: dict[str, dict[str, list[BreakdownRow]]] = {i.code: {} for i in wanted}
    labels = BreakdownLabels()

    def users_of(subject: Subject, breakdown: Breakdown) -> list[Indicator]:
        return [i for i in wanted if i.subject == subject and breakdown in i.breakdowns]

    # With the organisations' breakdowns by a place column, the visits' come from the
    # same statement over the organisations' facts (weighted by their visits, as in
    # ``totals()``: a visit's indicators ask only for its organisation's place).
    by_place: dict[Breakdown, dict[str, dict[str, int]]] = {}
    for subject in Subject:
        for breakdown in Breakdown:
            users = users_of(subject, breakdown)
            if not users:
                continue
            if subject == Subject.VISIT and breakdown in by_place:
                counts = by_place[breakdown]
            elif subject == Subject.ORGANISATION and breakdown in _COLUMN_OF:
                visits = users_of(Subject.VISIT, breakdown)
                counts = _grouped(subject, breakdown, computation, users, labels, visits)
                by_place[breakdown] = counts
            else:
                counts = _grouped(subject, breakdown, computation, users, labels)
            for item in users:
                rows = []
                for key, numbers in counts.items():
                    if item.is_share and not numbers[f"n_{item.base_column}"]:
                        continue
                    value = _value(item, numbers)
                    if not item.is_share and not value:
                        continue
                    rows.append(BreakdownRow(key, labels.label(breakdown, key), value))
                result[item.code][str(breakdown)] = labels.ordered(breakdown, rows)
    return result


_COLUMN_OF = {
    Breakdown.SIZE_CLASS: "size_class",
    Breakdown.DISTRICT: "district",
    Breakdown.AREA_TYPE: "area_type",
}


def _grouped(
    subject: Subject,
    breakdown: Breakdown,
    computation: Computation,
    users: Sequence[Indicator],
    labels: BreakdownLabels,
    visits: Sequence[Indicator] = (),
) -> dict[str, dict[str, int]]:
    """Breakdown key → sum name → count. Topics and outcomes are many per record: each
    record counts once per key (and under "unknown" with none). ``visits``: the sums of
    these visits' indicators too, from the organisations' facts (``_sums(per_visit)``)."""
    sums, names = _sums(users)
    if visits:
        if subject != Subject.ORGANISATION or breakdown not in _COLUMN_OF:
            raise ValueError("visits' sums come only with the organisations' places")
        visit_sums, visit_names = _sums(visits, per_visit=True)
        sums, names = f"{sums}, {visit_sums}", names + visit_names
    table = computation.table(subject)
    params: list[Any] = []
    if breakdown in _COLUMN_OF:
        column = _COLUMN_OF[breakdown]
        sql = f"SELECT f.{column}, {sums} FROM {table} f GROUP BY f.{column}"
    elif breakdown == Breakdown.TOPIC:
        # Grouped by the topic's id, named below: joining the topics to a year's 1.1
        # million record–topic pairs cost a sort of them all (at state scale 0.7 s of
        # the visits' 1.5 s).
        pairs, params = _computed_topic_pairs(subject, computation)
        sql = (
            f"SELECT p.root, {sums} FROM {table} f "
            f"LEFT JOIN (SELECT DISTINCT p0.unit, p0.root FROM ({pairs}) p0) p ON p.unit = f.id "
            "GROUP BY p.root"
        )
    elif breakdown == Breakdown.OUTCOME:
        sql = (
            f"SELECT oc.kind, {sums} FROM {table} f LEFT JOIN (SELECT DISTINCT "
            f"request_id, kind FROM {Outcome._meta.db_table}) oc ON oc.request_id = f.id "
            "GROUP BY oc.kind"
        )
    else:
        raise ValueError(breakdown)
    counts: dict[str, dict[str, int]] = {}
    with _planner(enable_hashjoin="off", active=breakdown == Breakdown.TOPIC):
        rows = _fetch(sql, params)
    if breakdown == Breakdown.TOPIC:
        rows = [(labels.topic_slugs.get(root), *numbers) for root, *numbers in rows]
    for key, *numbers in rows:
        bucket = counts.setdefault(key or UNKNOWN, dict.fromkeys(names, 0))
        for name, number in zip(names, numbers, strict=True):
            bucket[name] += int(number or 0)
    return counts


@contextmanager
def _planner(*, active: bool = True, **settings: str) -> Iterator[None]:
    """On PostgreSQL, planner ``settings`` for the statements run inside (then back to
    the transaction's own):

    - ``enable_hashjoin="off"`` for topic breakdowns: the records' topics are looked up
      by index rather than by hashing every visit's topics ever recorded (at state scale
      1.8 million rows for a year's 260,000 visits; half the time);
    - ``enable_nestloop="off"`` for the facts statements: the planner cannot know how
      many records the events are grouped into (it assumes 200) and would look each
      one's organisation up by itself, instead of merging them with the organisations'
      covering index in one pass (a quarter's organisations at state scale: 460 →
      350 ms; a year's four tables 2.9 → 2.6 s)."""
    if not active or connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        before = {name: _set_local(cursor, name, value) for name, value in settings.items()}
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            for name, value in before.items():
                _set_local(cursor, name, value)


def _set_local(cursor: Any, name: str, value: str) -> str:
    """``SET LOCAL name = value``; returns the setting it had."""
    cursor.execute("SELECT current_setting(%s)", [name])
    (before,) = cursor.fetchone()
    cursor.execute("SELECT set_config(%s, %s, true)", [name, value])
    return before


def _computed_topic_pairs(subject: Subject, computation: Computation) -> tuple[str, list[Any]]:
    """``_topic_pairs`` read from the computation's facts tables (cheaper than finding
    the period's visits and requests again)."""
    topic = Topic._meta.db_table
    root = "COALESCE(t.parent_id, t.id)"
    visit_topics = Visit.topics.through._meta.db_table
    request_topics = TransferRequest.topics.through._meta.db_table
    if subject == Subject.VISIT:
        visits = computation.table(Subject.VISIT)
        return (
            f"SELECT vt.visit_id AS unit, {root} AS root FROM {visits} fv "
            f"JOIN {visit_topics} vt ON vt.visit_id = fv.id JOIN {topic} t ON t.id = vt.topic_id",
            [],
        )
    if subject == Subject.REQUEST:
        requests = computation.table(Subject.REQUEST)
        return (
            f"SELECT rt.transferrequest_id AS unit, {root} AS root FROM {requests} fr "
            f"JOIN {request_topics} rt ON rt.transferrequest_id = fr.id "
            f"JOIN {topic} t ON t.id = rt.topic_id",
            [],
        )
    if subject == Subject.ORGANISATION:
        visits = computation.table(Subject.VISIT)
        request_pairs = TransferRequest.topics.through.objects.filter(
            transferrequest_id__in=computation.events.requests_with_events.values("pk")
        ).values(
            unit=F("transferrequest__organisation_id"),
            root=Coalesce("topic__parent_id", "topic_id"),
        )
        sql, params = request_pairs.query.sql_with_params()
        return (
            f"SELECT fv.org_id AS unit, {root} AS root FROM {visits} fv "
            f"JOIN {visit_topics} vt ON vt.visit_id = fv.id JOIN {topic} t ON t.id = vt.topic_id "
            f"UNION ALL {sql}",
            list(params),
        )
    return "SELECT NULL AS unit, NULL AS root WHERE 1 = 0", []


def _topic_pairs(subject: Subject, events: _Events) -> tuple[str, list[Any]]:
    """SQL of (unit, root) pairs: a record and the parent topic of each of its topics
    (a sub-topic counts under its parent). Organisations: the topics of their visits and
    of their requests with an event in the period."""
    root = Coalesce("topic__parent_id", "topic_id")
    if subject == Subject.VISIT:
        pairs = Visit.topics.through.objects.filter(visit_id__in=events.visits.values("pk")).values(
            unit=F("visit_id"), root=root
        )
    elif subject == Subject.REQUEST:
        pairs = TransferRequest.topics.through.objects.values(
            unit=F("transferrequest_id"), root=root
        )
    elif subject == Subject.ORGANISATION:
        visits = Visit.topics.through.objects.filter(
            visit_id__in=events.visits.values("pk")
        ).values(unit=F("visit__organisation_id"), root=root)
        requests = TransferRequest.topics.through.objects.filter(
            transferrequest_id__in=events.requests_with_events.values("pk")
        ).values(unit=F("transferrequest__organisation_id"), root=root)
        pairs = visits.union(requests, all=True)
    else:
        pairs = Visit.topics.through.objects.none().values(unit=F("visit_id"), root=root)
    sql, params = pairs.query.sql_with_params()
    if not sql:  # none(): no pairs at all
        return "SELECT NULL AS unit, NULL AS root WHERE 1 = 0", []
    return sql, list(params)


class BreakdownLabels:
    """Labels of breakdown keys, read once per computation."""

    @cached_property
    def districts(self) -> dict[str, str]:
        return dict(District.objects.values_list("key", "name"))

    @cached_property
    def topics(self) -> dict[str, tuple[int, str]]:
        return {
            slug: (position, name)
            for slug, position, name in Topic.objects.filter(parent__isnull=True).values_list(
                "slug", "position", "name"
            )
        } | {
            slug: (999, name)
            for slug, name in Topic.objects.filter(parent__isnull=False).values_list("slug", "name")
        }

    @cached_property
    def topic_slugs(self) -> dict[int, str]:
        """Topic id → slug: topic breakdowns are grouped by id."""
        return dict(Topic.objects.values_list("pk", "slug"))

    def label(self, breakdown: Breakdown, key: str) -> str:
        if key == UNKNOWN:
            return _("no outcome") if breakdown == Breakdown.OUTCOME else _("unknown")
        if breakdown == Breakdown.SIZE_CLASS:
            return str(SizeClass(key).label) if key in SizeClass.values else key
        if breakdown == Breakdown.DISTRICT:
            return self.districts.get(key, key)
        if breakdown == Breakdown.AREA_TYPE:
            return str(Municipality.AreaType(key).label)
        if breakdown == Breakdown.TOPIC:
            return self.topics.get(key, (0, key))[1]
        if breakdown == Breakdown.OUTCOME:
            return str(Outcome.Kind(key).label) if key in Outcome.Kind.values else key
        return key

    def ordered(self, breakdown: Breakdown, rows: list[BreakdownRow]) -> list[BreakdownRow]:
        """Size classes, area types and outcomes in their natural order, districts and
        topics by name; unknown last."""
        order: dict[str, Any] = {}
        if breakdown == Breakdown.SIZE_CLASS:
            order = {key: n for n, key in enumerate(SizeClass.values)}
        elif breakdown == Breakdown.AREA_TYPE:
            order = {key: n for n, key in enumerate(Municipality.AreaType.values)}
        elif breakdown == Breakdown.OUTCOME:
            order = {key: n for n, key in enumerate(Outcome.Kind.values)}
        elif breakdown == Breakdown.TOPIC:
            return sorted(
                rows,
                key=lambda r: (r.key == UNKNOWN, self.topics.get(r.key, (0, ""))[0], r.label),
            )
        return sorted(rows, key=lambda r: (r.key == UNKNOWN, order.get(r.key, 0), r.label))


def figures(scope: Scope, *, codes: Sequence[str] | None = None) -> list[Figure]:
    """Value and breakdowns of every indicator (or those in ``codes``), in registry order."""
    with computing(scope) as computation:
        values = totals(scope, codes=codes, computation=computation)
        split = breakdowns(scope, codes=codes, computation=computation)
    return [
        Figure(item.code, values[item.code], split[item.code])
        for item in INDICATORS
        if item.code in values
    ]


# --- Records behind a figure -----------------------------------------------------------


MODELS = {
    Subject.ORGANISATION: Organisation,
    Subject.VISIT: Visit,
    Subject.REQUEST: TransferRequest,
    Subject.FOLLOW_UP: FollowUp,
}


def records(code: str, scope: Scope, *, breakdown: str = "", key: str | None = None) -> QuerySet:
    """The records a figure counted (for a percentage: its base, with ``counted`` telling
    which are in the numerator), narrowed to one breakdown key — read from the same facts
    as the figure."""
    item = indicator(code)
    events = _Events(scope)
    facts = _facts(item.subject, events)
    where = [f"f.{item.base_column if item.is_share else item.column} = 1"]
    params: list[Any] = list(facts.params)
    if breakdown:
        condition, extra = _breakdown_condition(item, Breakdown(breakdown), key or "", events)
        where.append(condition)
        params += extra
    # The SQL is built from code constants only; values travel as parameters.
    ids = RawSQL(f"SELECT f.id FROM ({facts.sql}) f WHERE {' AND '.join(where)}", params)  # noqa: S611
    queryset = MODELS[item.subject].objects.filter(pk__in=ids)
    if item.is_share:
        counted = RawSQL(  # noqa: S611
            f"SELECT f.id FROM ({facts.sql}) f WHERE f.{item.column} = 1", list(facts.params)
        )
        return queryset.annotate(
            counted=ExpressionWrapper(Q(pk__in=counted), output_field=BooleanField())
        )
    return queryset.annotate(counted=Value(True, output_field=BooleanField()))


def _breakdown_condition(
    item: Indicator, breakdown: Breakdown, key: str, events: _Events
) -> tuple[str, list[Any]]:
    if breakdown in _COLUMN_OF:
        column = _COLUMN_OF[breakdown]
        if key == UNKNOWN:
            return f"(f.{column} IS NULL OR f.{column} = '')", []
        return f"f.{column} = %s", [key]
    if breakdown == Breakdown.TOPIC:
        pairs, pair_params = _topic_pairs(item.subject, events)
        if key == UNKNOWN:
            return (
                f"f.id NOT IN (SELECT p.unit FROM ({pairs}) p WHERE p.unit IS NOT NULL)",
                pair_params,
            )
        return (
            f"f.id IN (SELECT p.unit FROM ({pairs}) p JOIN {Topic._meta.db_table} t "
            "ON t.id = p.root WHERE t.slug = %s)",
            [*pair_params, key],
        )
    if breakdown == Breakdown.OUTCOME:
        table = Outcome._meta.db_table
        if key == UNKNOWN:
            return f"f.id NOT IN (SELECT request_id FROM {table})", []
        return f"f.id IN (SELECT request_id FROM {table} WHERE kind = %s)", [key]
    raise ValueError(breakdown)


def _stream(sql: str, params: Sequence[Any], *, size: int = 5000) -> Iterator[tuple[Any, ...]]:
    """Rows of a statement, fetched in batches (a server-side cursor on PostgreSQL).
    The next batch is fetched in a thread of its own while the caller uses this one
    (the database formats rows meanwhile: the evidence sheets at state scale, 420,000
    rows, some 0.3 s), so the caller must not use the connection until it has all rows
    or closes the stream."""
    with (
        transaction.atomic(),
        connection.chunked_cursor() as cursor,
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="reporting-fetch") as reader,
    ):
        cursor.execute(sql, list(params))
        ahead = reader.submit(cursor.fetchmany, size)
        while batch := ahead.result():
            ahead = reader.submit(cursor.fetchmany, size)
            yield from batch


def evidence_ids(scope: Scope, *, computation: Computation | None = None) -> dict[str, list[int]]:
    """Code → sorted ids of the records each indicator counted (for a percentage: its
    numerator). Stored with a published report, to tell later which records changed."""
    if computation is None:
        with computing(scope) as computation:
            return evidence_ids(scope, computation=computation)
    if connection.vendor == "postgresql":
        return json.loads(evidence_json(computation))
    ids: dict[str, list[int]] = {}
    for subject in Subject:  # SQLite: no arrays
        own = indicators_of(subject)
        lists = ", ".join(
            f"group_concat(CASE WHEN f.{item.column} = 1 THEN f.id END)" for item in own
        )
        (row,) = _fetch(f"SELECT {lists} FROM {computation.table(subject)} f", [])
        for item, found in zip(own, row, strict=True):
            ids[item.code] = sorted(int(pk) for pk in str(found or "").split(",") if pk)
    return {item.code: ids[item.code] for item in INDICATORS}


def evidence_json(computation: Computation, *, subjects: Collection[Subject] | None = None) -> str:
    """``evidence_ids`` (of ``subjects``' indicators, or all) as JSON text. On PostgreSQL
    the database writes it: a year's evidence at state scale is 2.2 million ids — some
    80 MB as Python lists, 17 MB as text, which ``Report.store_evidence`` hands on as it
    is (and joins the parts of different subjects)."""
    chosen = _chosen(subjects)
    if not chosen:
        return "{}"
    if connection.vendor != "postgresql":
        ids = evidence_ids(computation.scope, computation=computation)
        return json.dumps({c: found for c, found in ids.items() if indicator(c).subject in chosen})
    parts, objects = [], []
    for n, subject in enumerate(chosen):
        own = indicators_of(subject)
        lists = ", ".join(
            f"COALESCE(array_to_json(array_agg(f.id ORDER BY f.id) "
            f"FILTER (WHERE f.{item.column} = 1)), '[]') AS {item.column}"
            for item in own
        )
        parts.append(f"(SELECT {lists} FROM {computation.table(subject)} f) s{n}")
        objects += [f"'{_code(item)}', s{n}.{item.column}" for item in own]
    (row,) = _fetch(
        f"SELECT json_build_object({', '.join(objects)})::text FROM {', '.join(parts)}", []
    )
    return row[0]


def _chosen(subjects: Collection[Subject] | None) -> list[Subject]:
    """``subjects`` in their order in ``Subject`` (all for None)."""
    return [s for s in Subject if subjects is None or s in subjects]


def _code(item: Indicator) -> str:
    """An indicator's code, checked to need no quoting in SQL."""
    if not re.fullmatch(r"[A-Z0-9_]+", item.code):
        raise ValueError(item.code)
    return item.code


# Counts per organisation in the evidence: (indicator, subject) of the record-level
# indicators; their column sums equal the figures (for RURAL_SHARE: its numerator).
EVIDENCE_COUNTS = ("VISITS", "RURAL_SHARE", "REQ_RECEIVED", "REQ_MATCHED", "REQ_COOPERATION")
EVIDENCE_COUNTS += ("REQ_CLOSED", "FOLLOW_UPS_ON_TIME")


def evidence_organisations(computation: Computation) -> Iterator[tuple[Any, ...]]:
    """One row per organisation behind any figure, by name: id, name, kind, size class,
    municipality, district, area type (choices as their labels in the active language);
    1 or None per organisation indicator; then how many of its visits, requests and
    follow-ups each record-level indicator counted (``EVIDENCE_COUNTS``). One statement,
    streamed; consume it inside ``computing()``.

    Visits are counted from the organisations' facts (``n_visited``, ``v_<column>``),
    not from the visits' own: a visit's indicators ask only for its organisation's place
    (a visit's one event is a visit), so an organisation's visits count for one all or
    none — and a publication's first connection need not build the largest table."""
    own = indicators_of(Subject.ORGANISATION)
    counted = {code: indicator(code) for code in EVIDENCE_COUNTS}
    subjects = [Subject.REQUEST, Subject.FOLLOW_UP]  # counted from their own facts
    subqueries = []
    for subject in subjects:
        sums = ", ".join(
            f"SUM(x.{item.column}) AS n_{code.lower()}"
            for code, item in counted.items()
            if item.subject == subject
        )
        subqueries.append(
            f"(SELECT x.org_id, {sums} FROM {computation.table(subject)} x "
            "WHERE x.org_id IS NOT NULL GROUP BY x.org_id)"
        )
    counts = [
        f"CASE WHEN fo.n_visited > 0 THEN fo.n_visited * fo.v_{item.column} END"
        if item.subject == Subject.VISIT
        else f"s{subjects.index(item.subject)}.n_{code.lower()}"
        for code, item in counted.items()
    ]
    flags = ", ".join(f"CASE WHEN fo.{item.column} = 1 THEN 1 END" for item in own)
    joins = " ".join(
        f"LEFT JOIN {sql} s{n} ON s{n}.org_id = o.id" for n, sql in enumerate(subqueries)
    )
    # Every organisation with an event in the period is in its facts or had a request
    # or a follow-up counted.
    behind = " OR ".join(
        ["fo.id IS NOT NULL", *(f"s{n}.org_id IS NOT NULL" for n in range(len(subqueries)))]
    )
    kind, kind_params = _labelled("o.kind", Organisation.Kind.choices, otherwise="o.kind")
    size, size_params = _labelled("o.size_class", SizeClass.choices)
    area, area_params = _labelled("m.area_type", Municipality.AreaType.choices)
    sql = (
        f"SELECT o.id, o.name, {kind}, {size}, m.name, d.name, {area}, {flags}, "
        f"{', '.join(counts)} FROM {Organisation._meta.db_table} o "
        f"LEFT JOIN {computation.table(Subject.ORGANISATION)} fo ON fo.id = o.id {joins} "
        f"LEFT JOIN {Municipality._meta.db_table} m ON m.id = o.municipality_id "
        f"LEFT JOIN {District._meta.db_table} d ON d.id = m.district_id "
        f"WHERE {behind} ORDER BY o.name, o.id"
    )
    yield from _stream(sql, [*kind_params, *size_params, *area_params])


def evidence_requests(computation: Computation) -> Iterator[tuple[Any, ...]]:
    """One row per transfer request behind a figure: id, day received (local time),
    organisation, kind (its label in the active language), stage today, district, and 1
    or None per request indicator."""
    flags = ", ".join(
        f"CASE WHEN f.{item.column} = 1 THEN 1 END" for item in indicators_of(Subject.REQUEST)
    )
    kind, params = _labelled("r.kind", TransferRequest.Kind.choices, otherwise="r.kind")
    sql = (
        f"SELECT f.id, {local_date_sql('r.created_at')}, o.name, {kind}, s.name, d.name, {flags} "
        f"FROM {computation.table(Subject.REQUEST)} f "
        f"JOIN {TransferRequest._meta.db_table} r ON r.id = f.id "
        f"JOIN {Stage._meta.db_table} s ON s.id = r.stage_id "
        f"LEFT JOIN {Organisation._meta.db_table} o ON o.id = f.org_id "
        f"LEFT JOIN {Municipality._meta.db_table} m ON m.id = o.municipality_id "
        f"LEFT JOIN {District._meta.db_table} d ON d.id = m.district_id ORDER BY f.id"
    )
    yield from _stream(sql, params)


def _labelled(
    column: str, choices: Sequence[tuple[str, Any]], *, otherwise: str = "NULL"
) -> tuple[str, list[str]]:
    """SQL of the label (in the active language) of a choice ``column``, ``otherwise``
    for a value without one; and its parameters."""
    cases = " ".join("WHEN %s THEN %s" for _choice in choices)
    params = [str(text) for pair in choices for text in pair]
    return f"CASE {column} {cases} ELSE {otherwise} END", params


def local_date_sql(expression: str) -> str:
    """SQL of the local calendar day of a timestamp column: Django's own conversion,
    its parameters (time zone names) written in as literals. Converting a day in the
    database is much cheaper than a time-zone-aware timestamp in Python."""
    sql, params = connection.ops.datetime_cast_date_sql(
        expression, (), timezone.get_current_timezone_name()
    )
    for param in params:
        if not re.fullmatch(r"[A-Za-z0-9_/+-]+", str(param)):
            raise ValueError(param)
        sql = sql.replace("%s", f"'{param}'", 1)
    return sql
