"""Pipeline metrics: funnel, conversion rates and lead times, overall and by manager,
parent topic and district. Everything is computed in SQL (one statement per function,
grouped in the database); Python only labels the few rows that come back.

Definitions (the period is ``period_start`` to ``period_end``, both dates inclusive, in
local time):

- A request *entered* a stage in the period if it has a stage change into that stage
  dated in the period (counted once however often it entered). The first stage change
  of every request is its creation, so "entered Eingang" is "new".
- *Progress stages* are the open and won stages in their order; lost and paused stages
  are not steps forward. A request that entered a progress stage *converted* if it
  later in the period entered any progress stage further along (skipping a stage
  counts as passing it).
- The *cohort* of a period is the requests created in it. Overall conversion, lead
  times and breakdowns are about the cohort, counted up to the end of the period, so a
  past year's figures do not change when later work is recorded.
- *Days to first match*: from creation to the first proposed research partner.
  *Days to cooperation*: from creation to the first entry into the cooperation stage
  (key ``in-kooperation``) or any progress stage after it (e.g. straight to won). Medians
  are over the cohort requests that got that far; PostgreSQL uses ``percentile_cont``,
  SQLite (the zero-setup development database) the middle row(s) by window functions.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.models import District, Municipality, Organisation, Topic

from .models import Match, Stage, StageChange, TransferRequest

COOPERATION_STAGE_KEY = "in-kooperation"


# --- Rows --------------------------------------------------------------------------


@dataclass(frozen=True)
class FunnelRow:
    """How many requests entered ``stage`` in the period."""

    stage_id: int
    key: str
    name: str
    kind: str
    entered: int


@dataclass(frozen=True)
class ConversionRow:
    """Of the requests that entered ``from_stage`` in the period, how many went on to
    ``to_stage`` or further along in the period."""

    from_stage: str
    to_stage: str
    entered: int
    converted: int

    @property
    def rate(self) -> float | None:
        return self.converted / self.entered if self.entered else None


@dataclass(frozen=True)
class Conversion:
    """Stage-to-stage rates, and the period's new requests that were won by its end."""

    steps: list[ConversionRow]
    new_requests: int
    won: int

    @property
    def rate_to_won(self) -> float | None:
        return self.won / self.new_requests if self.new_requests else None


@dataclass(frozen=True)
class MedianDays:
    """The median in days (None if no request got that far) over ``requests``."""

    days: float | None
    requests: int


@dataclass(frozen=True)
class BreakdownRow:
    """The period's new requests of one manager, parent topic or district.

    ``key`` is the manager's, topic's or district's id (None: requests without one);
    ``area_type`` is "rural" or "urban" in ``by_district`` and "" elsewhere."""

    key: int | None
    label: str
    new_requests: int
    matched: int
    in_cooperation: int
    won: int
    lost: int
    median_days_to_first_match: float | None
    median_days_to_cooperation: float | None
    area_type: str = ""

    @property
    def rate_to_won(self) -> float | None:
        return self.won / self.new_requests if self.new_requests else None


# --- SQL building blocks -------------------------------------------------------------


def _table(model: Any) -> str:
    return connection.ops.quote_name(model._meta.db_table)


class _Sql:
    """The period and filters of one metrics call as SQL fragments and parameters."""

    def __init__(
        self,
        period_start: datetime.date,
        period_end: datetime.date,
        *,
        manager: Any = None,
        topic: Topic | int | None = None,
        district: District | int | None = None,
        area_type: str | None = None,
    ) -> None:
        if period_end < period_start:
            raise ValueError(_("The period ends before it starts."))
        if area_type not in (None, "", *Municipality.AreaType.values):
            raise ValueError(_("Unknown area type."))
        tz = timezone.get_current_timezone()
        start = datetime.datetime.combine(period_start, datetime.time(), tzinfo=tz)
        end = datetime.datetime.combine(
            period_end + datetime.timedelta(days=1), datetime.time(), tzinfo=tz
        )
        adapt = connection.ops.adapt_datetimefield_value
        self.start, self.end = adapt(start), adapt(end)
        self.postgres = connection.vendor == "postgresql"
        self.t = {
            "request": _table(TransferRequest),
            "change": _table(StageChange),
            "stage": _table(Stage),
            "match": _table(Match),
            "organisation": _table(Organisation),
            "municipality": _table(Municipality),
            "request_topics": _table(TransferRequest.topics.through),
            "topic": _table(Topic),
        }
        # Conditions on the request ``r`` (joined: organisation ``o``, municipality ``mu``).
        self.conditions: list[str] = []
        self.params: list[Any] = []
        self.needs_place = False
        if manager is not None:
            self.conditions.append("r.responsible_manager_id = %s")
            self.params.append(getattr(manager, "pk", manager))
        if topic is not None:
            topic_id = getattr(topic, "pk", topic)
            # A parent topic stands for its subtopics too.
            self.conditions.append(
                f"EXISTS (SELECT 1 FROM {self.t['request_topics']} rt "
                f"JOIN {self.t['topic']} tp ON tp.id = rt.topic_id "
                "WHERE rt.transferrequest_id = r.id AND (tp.id = %s OR tp.parent_id = %s))"
            )
            self.params += [topic_id, topic_id]
        if district is not None:
            self.conditions.append("mu.district_id = %s")
            self.params.append(getattr(district, "pk", district))
            self.needs_place = True
        if area_type:
            self.conditions.append("mu.area_type = %s")
            self.params.append(area_type)
            self.needs_place = True

    @property
    def filtered(self) -> bool:
        return bool(self.conditions)

    def place_joins(self, always: bool = False) -> str:
        if not (self.needs_place or always):
            return ""
        return (
            f" JOIN {self.t['organisation']} o ON o.id = r.organisation_id"
            f" LEFT JOIN {self.t['municipality']} mu ON mu.id = o.municipality_id"
        )

    def where(self) -> str:
        return "".join(f" AND {c}" for c in self.conditions)

    def request_filter(self, column: str) -> tuple[str, list[Any]]:
        """``AND column IN (the filtered requests)``, or nothing without filters."""
        if not self.filtered:
            return "", []
        return (
            f" AND {column} IN (SELECT r.id FROM {self.t['request']} r{self.place_joins()} "
            f"WHERE 1 = 1{self.where()})",
            list(self.params),
        )

    def days(self, later: str, earlier: str) -> str:
        if self.postgres:
            return f"(EXTRACT(EPOCH FROM ({later} - {earlier})) / 86400.0)"
        return f"(julianday({later}) - julianday({earlier}))"


# Sorting and hashing a year of stage changes needs more than PostgreSQL's default 4 MB.
METRICS_WORK_MEM = "64MB"


def _fetch(sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL work_mem = '{METRICS_WORK_MEM}'")
        cursor.execute(sql, params)
        return cursor.fetchall()


def cooperation_stage_ids() -> list[int]:
    """The cooperation stage and the progress stages after it; won stages if there is
    no cooperation stage."""
    progress = list(
        Stage.objects.filter(kind__in=[Stage.Kind.OPEN, Stage.Kind.WON]).values_list(
            "pk", "key", "kind"
        )
    )
    keys = [key for _pk, key, _kind in progress]
    if COOPERATION_STAGE_KEY in keys:
        return [pk for pk, _key, _kind in progress[keys.index(COOPERATION_STAGE_KEY) :]]
    return [pk for pk, _key, kind in progress if kind == Stage.Kind.WON]


def _in_list(ids: list[int]) -> str:
    # Stage ids come from the database, not from the user; an empty list matches nothing.
    return "(" + ", ".join(str(int(pk)) for pk in ids) + ")" if ids else "(NULL)"


# --- Funnel and conversion -----------------------------------------------------------


def funnel(
    period_start: datetime.date,
    period_end: datetime.date,
    *,
    manager: Any = None,
    topic: Topic | int | None = None,
    district: District | int | None = None,
    area_type: str | None = None,
) -> list[FunnelRow]:
    """Per stage (pipeline order; inactive stages only if entered), the requests that
    entered it in the period."""
    q = _Sql(
        period_start, period_end, manager=manager, topic=topic, district=district,
        area_type=area_type,
    )  # fmt: skip
    only, only_params = q.request_filter("sc.request_id")
    counts = dict(
        _fetch(
            f"SELECT sc.to_stage_id, COUNT(DISTINCT sc.request_id) FROM {q.t['change']} sc "
            f"WHERE sc.changed_at >= %s AND sc.changed_at < %s{only} GROUP BY sc.to_stage_id",
            [q.start, q.end, *only_params],
        )
    )
    return [
        FunnelRow(stage.pk, stage.key, stage.name, stage.kind, counts.get(stage.pk, 0))
        for stage in Stage.objects.all()
        if stage.is_active or stage.pk in counts
    ]


def conversion_rates(
    period_start: datetime.date,
    period_end: datetime.date,
    *,
    manager: Any = None,
    topic: Topic | int | None = None,
    district: District | int | None = None,
    area_type: str | None = None,
) -> Conversion:
    """Each progress stage to the next (or further), and new requests to won."""
    q = _Sql(
        period_start, period_end, manager=manager, topic=topic, district=district,
        area_type=area_type,
    )  # fmt: skip
    stages = list(Stage.objects.filter(kind__in=[Stage.Kind.OPEN, Stage.Kind.WON]))
    only, only_params = q.request_filter("sc.request_id")
    # One grouped pass over the period's stage changes: per request, the first and the
    # last entry into each progress stage (no sort, no window: a year at state scale is
    # 300,000 changes). A stage converted if some stage further along was entered after
    # its first entry.
    firsts, lasts, entry_params = [], [], []
    for rank, stage in enumerate(stages, start=1):
        firsts.append(f"MIN(CASE WHEN sc.to_stage_id = %s THEN sc.changed_at END) AS f{rank}")
        lasts.append(f"MAX(CASE WHEN sc.to_stage_id = %s THEN sc.changed_at END) AS l{rank}")
        entry_params.append(stage.pk)
    counts = []
    for rank in range(1, len(stages) + 1):
        further = " OR ".join(f"l{later} > f{rank}" for later in range(rank + 1, len(stages) + 1))
        counts.append(f"COUNT(f{rank}), SUM(CASE WHEN {further or '1 = 0'} THEN 1 ELSE 0 END)")
    if not stages:
        return Conversion(steps=[], new_requests=0, won=0)
    (row,) = _fetch(
        f"""
        WITH per_request AS (
            SELECT sc.request_id, {", ".join(firsts)}, {", ".join(lasts)}
            FROM {q.t["change"]} sc
            WHERE sc.changed_at >= %s AND sc.changed_at < %s
              AND sc.to_stage_id IN {_in_list([s.pk for s in stages])}{only}
            GROUP BY sc.request_id
        )
        SELECT {", ".join(counts)} FROM per_request
        """,
        [*entry_params, *entry_params, q.start, q.end, *only_params],
    )
    rows = [(rank, row[2 * rank - 2], row[2 * rank - 1]) for rank in range(1, len(stages) + 1)]
    by_rank = {rank: (entered, converted or 0) for rank, entered, converted in rows}
    steps = []
    for rank, (stage, following) in enumerate(zip(stages, stages[1:], strict=False), start=1):
        if stage.kind == Stage.Kind.WON:
            break
        entered, converted = by_rank.get(rank, (0, 0))
        steps.append(ConversionRow(stage.name, following.name, int(entered), int(converted)))
    overall = _cohort(q, group=None)
    new_requests = overall[0][1] if overall else 0
    won = overall[0][5] if overall else 0
    return Conversion(steps=steps, new_requests=new_requests, won=won)


# --- Lead times and breakdowns -------------------------------------------------------


def _cohort(q: _Sql, *, group: str | None, join: str = "") -> list[tuple[Any, ...]]:
    """Per group: key, [area type,] new requests, matched, in cooperation, won, lost,
    median days to first match, median days to cooperation.

    ``group`` is an SQL expression on ``r`` (and ``o``/``mu``, ``tp`` through ``join``);
    None puts the whole cohort in one group."""
    cooperation_ids = cooperation_stage_ids()
    won_ids = list(Stage.objects.filter(kind=Stage.Kind.WON).values_list("pk", flat=True))
    lost_ids = list(Stage.objects.filter(kind=Stage.Kind.LOST).values_list("pk", flat=True))
    cooperation, won, lost = _in_list(cooperation_ids), _in_list(won_ids), _in_list(lost_ids)
    key = group or "0"
    # One grouped pass each over the period's matches and its stage changes into the
    # stages that matter (a cohort request has none before the period), joined by hash.
    cohort = f"""
        SELECT {key} AS grp, r.created_at, fm.first_match_at, st.cooperation_at,
               COALESCE(st.won, 0) AS won, COALESCE(st.lost, 0) AS lost
        FROM {q.t["request"]} r{q.place_joins(always="mu." in key)}{join}
        LEFT JOIN (
            SELECT m.request_id, MIN(m.proposed_at) AS first_match_at FROM {q.t["match"]} m
            WHERE m.proposed_at >= %s AND m.proposed_at < %s GROUP BY m.request_id
        ) fm ON fm.request_id = r.id
        LEFT JOIN (
            SELECT sc.request_id,
                MIN(CASE WHEN sc.to_stage_id IN {cooperation} THEN sc.changed_at END)
                    AS cooperation_at,
                MAX(CASE WHEN sc.to_stage_id IN {won} THEN 1 ELSE 0 END) AS won,
                MAX(CASE WHEN sc.to_stage_id IN {lost} THEN 1 ELSE 0 END) AS lost
            FROM {q.t["change"]} sc
            WHERE sc.changed_at >= %s AND sc.changed_at < %s
              AND sc.to_stage_id IN {_in_list(cooperation_ids + won_ids + lost_ids)}
            GROUP BY sc.request_id
        ) st ON st.request_id = r.id
        WHERE r.created_at >= %s AND r.created_at < %s{q.where()}
    """
    params = [q.start, q.end, q.start, q.end, q.start, q.end, *q.params]
    to_match = q.days("first_match_at", "created_at")
    to_cooperation = q.days("cooperation_at", "created_at")
    counts = """COUNT(*), COUNT(first_match_at), COUNT(cooperation_at), SUM(won), SUM(lost)"""
    if q.postgres:
        return _fetch(
            f"""
            WITH cohort AS ({cohort})
            SELECT grp, {counts},
                percentile_cont(0.5) WITHIN GROUP (ORDER BY {to_match}),
                percentile_cont(0.5) WITHIN GROUP (ORDER BY {to_cooperation})
            FROM cohort GROUP BY grp
            """,
            params,
        )
    # SQLite has no percentile function: the middle value, or the mean of the middle two.
    median = """
        SELECT grp, AVG(v) AS median FROM (
            SELECT grp, v, ROW_NUMBER() OVER (PARTITION BY grp ORDER BY v) AS n,
                   COUNT(*) OVER (PARTITION BY grp) AS total
            FROM (SELECT grp, {value} AS v FROM cohort WHERE {value} IS NOT NULL)
        ) WHERE n IN ((total + 1) / 2, (total + 2) / 2) GROUP BY grp
    """
    return _fetch(
        f"""
        WITH cohort AS ({cohort})
        SELECT c.*, m1.median, m2.median
        FROM (SELECT grp, {counts} FROM cohort GROUP BY grp) c
        LEFT JOIN ({median.format(value=to_match)}) m1 ON m1.grp IS c.grp
        LEFT JOIN ({median.format(value=to_cooperation)}) m2 ON m2.grp IS c.grp
        """,
        params,
    )


def _round(days: Any) -> float | None:
    return None if days is None else round(float(days), 1)


def _overall_median(q: _Sql, position: int, count_position: int) -> MedianDays:
    rows = _cohort(q, group=None)
    if not rows:
        return MedianDays(days=None, requests=0)
    return MedianDays(days=_round(rows[0][position]), requests=int(rows[0][count_position]))


def median_days_to_first_match(
    period_start: datetime.date,
    period_end: datetime.date,
    *,
    manager: Any = None,
    topic: Topic | int | None = None,
    district: District | int | None = None,
    area_type: str | None = None,
) -> MedianDays:
    """Median days from creation to the first proposed partner, over the period's new
    requests that had one proposed by the end of the period."""
    q = _Sql(
        period_start, period_end, manager=manager, topic=topic, district=district,
        area_type=area_type,
    )  # fmt: skip
    return _overall_median(q, 6, 2)


def median_days_to_cooperation(
    period_start: datetime.date,
    period_end: datetime.date,
    *,
    manager: Any = None,
    topic: Topic | int | None = None,
    district: District | int | None = None,
    area_type: str | None = None,
) -> MedianDays:
    """Median days from creation to the cooperation stage (or beyond), over the
    period's new requests that got there by the end of the period."""
    q = _Sql(
        period_start, period_end, manager=manager, topic=topic, district=district,
        area_type=area_type,
    )  # fmt: skip
    return _overall_median(q, 7, 3)


def _rows(
    raw: list[tuple[Any, ...]], labels: dict[Any, str], *, area: bool = False
) -> list[BreakdownRow]:
    rows = []
    for values in raw:
        if area:
            (district_id, area_type), rest = _split_place(values[0]), values[1:]
            key: Any = district_id
            label = labels.get(district_id, _("unknown district"))
            if area_type:
                label = f"{label} ({Municipality.AreaType(area_type).label})"
        else:
            key, rest = values[0], values[1:]
            area_type = ""
            label = labels.get(key, "")
        n, matched, cooperating, won, lost, to_match, to_cooperation = rest
        rows.append(
            BreakdownRow(
                key=key,
                label=label,
                new_requests=int(n),
                matched=int(matched),
                in_cooperation=int(cooperating),
                won=int(won or 0),
                lost=int(lost or 0),
                median_days_to_first_match=_round(to_match),
                median_days_to_cooperation=_round(to_cooperation),
                area_type=area_type or "",
            )
        )
    rows.sort(key=lambda r: (-r.new_requests, r.label))
    return rows


def _split_place(value: Any) -> tuple[int | None, str]:
    """``district id|area type`` as grouped in SQL, back into its parts."""
    if value is None:
        return None, ""
    district, _sep, area_type = str(value).partition("|")
    return (int(district) if district else None), area_type


def by_manager(
    period_start: datetime.date,
    period_end: datetime.date,
    *,
    topic: Topic | int | None = None,
    district: District | int | None = None,
    area_type: str | None = None,
) -> list[BreakdownRow]:
    """The period's new requests per responsible network manager (None: nobody)."""
    q = _Sql(period_start, period_end, topic=topic, district=district, area_type=area_type)
    raw = _cohort(q, group="r.responsible_manager_id")
    ids = [row[0] for row in raw if row[0] is not None]
    labels: dict[Any, str] = {
        u.pk: u.get_full_name() or u.get_username()
        for u in get_user_model().objects.filter(pk__in=ids)
    }
    labels[None] = _("no responsible manager")
    return _rows(raw, labels)


def by_topic(
    period_start: datetime.date,
    period_end: datetime.date,
    *,
    manager: Any = None,
    district: District | int | None = None,
    area_type: str | None = None,
) -> list[BreakdownRow]:
    """The period's new requests per parent topic. A request counts once for each parent
    topic among its topics (so the rows may add up to more than all requests); requests
    without topics are left out."""
    q = _Sql(period_start, period_end, manager=manager, district=district, area_type=area_type)
    join = (
        f" JOIN (SELECT DISTINCT rt.transferrequest_id AS request_id,"
        f" COALESCE(tp.parent_id, tp.id) AS parent_id"
        f" FROM {q.t['request_topics']} rt JOIN {q.t['topic']} tp ON tp.id = rt.topic_id) pt"
        " ON pt.request_id = r.id"
    )
    raw = _cohort(q, group="pt.parent_id", join=join)
    labels: dict[Any, str] = dict(
        Topic.objects.filter(pk__in=[row[0] for row in raw]).values_list("pk", "name")
    )
    return _rows(raw, labels)


def by_district(
    period_start: datetime.date,
    period_end: datetime.date,
    *,
    manager: Any = None,
    topic: Topic | int | None = None,
) -> list[BreakdownRow]:
    """The period's new requests per district of the requesting organisation, split
    into its rural and urban municipalities (``area_type``)."""
    q = _Sql(period_start, period_end, manager=manager, topic=topic)
    # One grouping key for (district, area type); both databases concatenate with ||.
    group = (
        "CASE WHEN mu.id IS NULL THEN NULL "
        "ELSE CAST(mu.district_id AS TEXT) || '|' || mu.area_type END"
    )
    raw = _cohort(q, group=group)
    ids = {_split_place(row[0])[0] for row in raw} - {None}
    labels: dict[Any, str] = {d.pk: str(d) for d in District.objects.filter(pk__in=ids)}
    return _rows(raw, labels, area=True)


def by_area_type(
    period_start: datetime.date,
    period_end: datetime.date,
    *,
    manager: Any = None,
    topic: Topic | int | None = None,
) -> list[BreakdownRow]:
    """The period's new requests from rural and from urban municipalities (``key`` is
    None; ``area_type`` says which)."""
    q = _Sql(period_start, period_end, manager=manager, topic=topic)
    raw = _cohort(q, group="mu.area_type")
    rows = []
    for row in _rows(raw, {}):
        area_type = str(row.key or "")
        label = str(Municipality.AreaType(area_type).label) if area_type else _("unknown location")
        rows.append(
            BreakdownRow(
                **{
                    **row.__dict__,
                    "key": None,
                    "label": label,
                    "area_type": area_type,
                }
            )
        )
    return rows
