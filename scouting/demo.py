"""Demo company visits and follow-ups, called by ``seed_demo`` after the core data.

One plan, drawn from a seeded random stream, serves both sizes:

- demo scale (a few hundred visits) goes through the services (``record_visit``,
  ``submit_visit``, ``propose_follow_up``, ``assign_follow_ups``,
  ``complete_follow_up``, ``start_follow_up``, ``cancel_follow_up``), so history,
  guide rules and permission checks behave as in the app. The services stamp
  "now"; afterwards the timestamps (and the history rows' dates) are moved to the
  planned moments, because a demo where every visit was recorded a minute ago
  shows nothing.
- state scale (a million visits) is written with PostgreSQL ``COPY``
  (``bulk_create`` elsewhere): the rows, their M2M links, and one historical
  "created" row per visit and follow-up with the M2M snapshot simple-history keeps.

Demo visits have UUIDs in a fixed range (``DEMO_UUID_FIRST`` onwards); a run that
finds any leaves visits and follow-ups alone.
"""

from __future__ import annotations

import datetime
import json
import random
import time
import uuid
from argparse import ArgumentParser
from array import array
from bisect import bisect, bisect_right
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import AbstractUser, Group
from django.core import mail
from django.db import connection, models, transaction
from django.test.utils import override_settings
from django.utils import timezone

from crm import demo as core
from crm.models import Affiliation, Organisation, Person, Topic
from crm.roles import Role

from .models import FollowUp, FollowUpRule, InterviewGuide, Need, Visit
from .services import (
    assign_follow_ups,
    cancel_follow_up,
    complete_follow_up,
    propose_follow_up,
    record_visit,
    start_follow_up,
    submit_visit,
)

Log = Callable[[str], None]
Row = dict[str, Any]

SCALES = {
    # visits, follow-ups, and the fictional organisations of that scale they are made for
    "demo": (600, 250, 400),
    "state": (1_000_000, 300_000, 300_000),
}
# Above this many visits the services take minutes: write in bulk.
BULK_FROM = 3_000
# Rebuilding indexes once beats updating them row by row from about this size.
SUSPEND_INDEXES_FROM = 50_000
CHUNK = 20_000
DEMO_UUID_FIRST = uuid.UUID("d3e0c0de-0000-4000-8000-000000000000").int
DEMO_UUID_LAST = DEMO_UUID_FIRST + (1 << 48) - 1
BENCH_SCOUTS = 40  # scout01 … scout40, state scale only
BENCH_MANAGERS = 15  # netzwerk01 … netzwerk15
SPAN_DAYS = 548  # visits over the last 18 months
UTC = datetime.UTC

# Shares of the plan (of all visits, of all follow-ups).
FUTURE_DRAFTS = 0.02
PAST_DRAFTS = 0.06
CONFIDENTIAL = 0.10
SECOND_SCOUT = 0.12
REVISIT = 0.30
RULE_SHARE = 0.40  # follow-ups raised by a guide rule rather than proposed
FOLLOW_UP_STATES = (
    ("done", 40),
    ("cancelled", 4),
    ("overdue", 17),
    ("this_week", 7),
    ("later", 24),
    ("no_due", 8),
)
OPEN_STATES = frozenset({"overdue", "this_week", "later", "no_due"})


def _quiet(message: str) -> None:
    return None


def add_arguments(parser: ArgumentParser) -> None:
    """``seed_demo`` options of this app."""
    parser.add_argument(
        "--visits",
        type=int,
        help=f"Number of company visits (demo {SCALES['demo'][0]}, state "
        f"{SCALES['state'][0]:,}; fewer for fewer fictional organisations).",
    )
    parser.add_argument(
        "--follow-ups",
        type=int,
        dest="follow_ups",
        help=f"Number of follow-ups (demo {SCALES['demo'][1]}, state {SCALES['state'][1]:,}; "
        "fewer for fewer fictional organisations).",
    )


def demo_uuid(index: int) -> uuid.UUID:
    """The UUID of the ``index``-th demo visit (a valid version-4 UUID)."""
    return uuid.UUID(int=DEMO_UUID_FIRST + index)


def existing_demo_visits() -> int:
    return Visit.objects.filter(
        uuid__gte=uuid.UUID(int=DEMO_UUID_FIRST), uuid__lte=uuid.UUID(int=DEMO_UUID_LAST)
    ).count()


def check_options(*, scale: str, options: Mapping[str, Any]) -> None:
    counts_for(scale, options, organisations=SCALES[scale][2])


def counts_for(scale: str, options: Mapping[str, Any], *, organisations: int) -> tuple[int, int]:
    """Visits and follow-ups to create; raises ``ValueError`` for negative counts.

    Without explicit counts, the scale's figures shrink with the fictional
    organisations actually there (30 organisations do not get 600 visits).
    """
    visits, follow_ups, made_for = SCALES[scale]
    share = min(1.0, organisations / made_for)
    visits, follow_ups = round(visits * share), round(follow_ups * share)
    if options.get("visits") is not None:
        visits = int(options["visits"])
    if options.get("follow_ups") is not None:
        follow_ups = int(options["follow_ups"])
    if visits < 0 or follow_ups < 0:
        raise ValueError("Counts must not be negative.")
    return visits, follow_ups


def seed(
    *,
    scale: str,
    seed: int,
    bulk: bool,
    log: Log = _quiet,
    options: Mapping[str, Any] | None = None,
) -> dict[str, int]:
    """Create demo visits and follow-ups unless demo visits exist; rows written by label.

    ``options`` are the ``seed_demo`` options (``visits``, ``follow_ups``,
    ``password``); ``bulk`` is forced above ``BULK_FROM`` visits.
    """
    options = options or {}
    n_visits, n_follow_ups = counts_for(
        scale, options, organisations=core.existing_demo_organisations()
    )
    already = existing_demo_visits()
    if already:
        log(
            f"  Übersprungen: {_number(already)} Demo-Besuche sind schon da. "
            "Für andere Mengen eine leere Datenbank verwenden."
        )
        return {}
    if not n_visits:
        return {}
    catalogue = Catalogue.load()
    if not catalogue.organisations:
        log("  Übersprungen: keine fiktiven Organisationen, zu denen Besuche passen.")
        return {}
    bulk = bulk or n_visits >= BULK_FROM
    if not bulk:
        how = "einzeln über die Dienste"
    else:
        how = "COPY" if connection.vendor == "postgresql" else "bulk_create"
    sizes = f"{_number(n_visits)} Besuche, {_number(n_follow_ups)} Wiedervorlagen"
    log(f"  {sizes} ({how}, Seed {seed})")
    started = time.perf_counter()

    def lap(label: str) -> None:
        log(f"  {label}: {time.perf_counter() - started:.1f} s")

    sent_before = len(getattr(mail, "outbox", []))
    # Assignment emails (sent when the transaction commits) go to memory, not to the
    # console or a mail server: these are demo users, and hundreds would drown the output.
    with (
        override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend"),
        transaction.atomic(),
    ):
        team = Team.ensure(
            bench=scale == "state", password=options.get("password") or core.DEMO_PASSWORD
        )
        if not team.scouts or not team.managers:
            log("  Übersprungen: Demo-Scouts oder -Netzwerkmanager:innen fehlen.")
            return {}
        planner = Planner(catalogue, team, seed=seed, visits=n_visits, follow_ups=n_follow_ups)
        skeleton = planner.skeleton()
        follow_ups = planner.follow_ups(skeleton)
        lap("Plan")
        if bulk:
            counts = _write_bulk(planner, skeleton, follow_ups, lap=lap)
        else:
            counts = _write_through_services(planner, skeleton, follow_ups)
            lap("Besuche und Wiedervorlagen über die Dienste")
        if team.created:
            counts["auth.User (Bench)"] = team.created
    unsent = len(getattr(mail, "outbox", [])) - sent_before
    if unsent:
        log(f"  {unsent} Zuweisungs-E-Mails nicht versendet (Demo)")
    if bulk and connection.vendor == "postgresql":
        tables = [m._meta.db_table for m in _bulk_tables()] + ["auth_user", "auth_user_groups"]
        # VACUUM also fills the visibility map (index-only scans), as autovacuum would some
        # time later, in the middle of a benchmark; inside a transaction only ANALYZE runs.
        command = "ANALYZE" if connection.in_atomic_block else "VACUUM (ANALYZE)"
        with connection.cursor() as cursor:
            cursor.execute(f"{command} " + ", ".join(connection.ops.quote_name(t) for t in tables))
        lap(command)
    return counts


# --- What the plan draws from ----------------------------------------------------------


@dataclass
class Team:
    """Who records visits and who works on follow-ups, with how big a share."""

    scouts: list[int]
    scout_weights: list[float]
    managers: list[int]
    manager_weights: list[float]
    users: dict[int, AbstractUser]
    created: int = 0

    @classmethod
    def ensure(cls, *, bench: bool, password: str) -> Team:
        """The demo users; with ``bench`` also ``scout01``… and ``netzwerk01``…, created
        with the role's group if missing (one password hash shared by all)."""
        user_model = get_user_model()
        scouts: list[tuple[str, float]] = [("scout", 0.6), ("scout2", 0.4)]
        managers: list[tuple[str, float]] = [("netzwerk", 0.6), ("netzwerk2", 0.4)]
        created = 0
        if bench:
            # The demo users get half a share so "My follow-ups" stays a few thousand long.
            scouts = [("scout", 1.0), ("scout2", 1.0)]
            scouts += [(f"scout{i:02d}", 1.0) for i in range(1, BENCH_SCOUTS + 1)]
            managers = [("netzwerk", 0.5), ("netzwerk2", 0.5)]
            managers += [(f"netzwerk{i:02d}", 1.0) for i in range(1, BENCH_MANAGERS + 1)]
            created = cls._create_bench_users(
                [n for n, _w in scouts[2:]], [n for n, _w in managers[2:]], password
            )
        names = [n for n, _w in scouts + managers]
        users = {
            u.username: u for u in user_model.objects.filter(username__in=names, is_active=True)
        }
        scouts = [(n, w) for n, w in scouts if n in users]
        managers = [(n, w) for n, w in managers if n in users]
        return cls(
            scouts=[users[n].pk for n, _w in scouts],
            scout_weights=[w for _n, w in scouts],
            managers=[users[n].pk for n, _w in managers],
            manager_weights=[w for _n, w in managers],
            users={u.pk: u for u in users.values()},
            created=created,
        )

    @staticmethod
    def _create_bench_users(scouts: list[str], managers: list[str], password: str) -> int:
        user_model = get_user_model()
        existing = set(
            user_model.objects.filter(username__in=scouts + managers).values_list(
                "username", flat=True
            )
        )
        hashed = make_password(password)  # once: the real hasher takes ~0.3 s per call
        new = []
        for usernames, last_name in ((scouts, "Scout"), (managers, "Netzwerk")):
            for username in usernames:
                if username in existing:
                    continue
                new.append(
                    user_model(
                        username=username,
                        first_name=f"{last_name} {username[-2:]}",
                        last_name="(Bench)",
                        email=f"{username}@{core.DEMO_EMAIL_DOMAIN}",
                        password=hashed,
                    )
                )
        user_model.objects.bulk_create(new)
        groups = {
            role: Group.objects.get(name=role.group_name)
            for role in (Role.SCOUT, Role.NETWORK_MANAGER)
        }
        ids = dict(
            user_model.objects.filter(username__in=[u.username for u in new]).values_list(
                "username", "pk"
            )
        )
        links = [
            user_model.groups.through(
                user_id=ids[u.username],
                group_id=groups[Role.SCOUT if u.username in scouts else Role.NETWORK_MANAGER].pk,
            )
            for u in new
        ]
        user_model.groups.through.objects.bulk_create(links)
        return len(new)


@dataclass
class GuideInfo:
    pk: int
    questions: list[tuple[str, str, list[Any]]]  # (key, kind, choices)
    rules: list[tuple[int, str, Any, int, str, str]]  # (pk, key, value, days, title, text)


@dataclass
class Catalogue:
    """The organisations, people, topics and guide visits refer to."""

    organisations: list[int]
    responsible: dict[int, int]  # organisation → responsible network manager
    people: dict[int, list[int]]  # organisation → people currently affiliated
    org_topics: dict[int, list[int]]  # organisation → topics offered or needed
    topics: list[int]  # topics without children, for visits of organisations without any
    topic_names: dict[int, str]
    guide: GuideInfo | None

    @classmethod
    def load(cls) -> Catalogue:
        organisations, responsible = [], {}
        # Mostly companies (SMEs by far); archived ones are not visited any more.
        for pk, manager in (
            Organisation.objects.filter(external_id__startswith=core.DEMO_ORG_PREFIX)
            .exclude(status=Organisation.Status.ARCHIVED)
            .order_by("pk")
            .values_list("pk", "responsible_manager_id")
        ):
            organisations.append(pk)
            if manager:
                responsible[pk] = manager
        people: dict[int, list[int]] = defaultdict(list)
        for org, person in (
            Affiliation.objects.filter(valid_until__isnull=True)
            .order_by("pk")
            .values_list("organisation_id", "person_id")
        ):
            people[org].append(person)
        org_topics: dict[int, list[int]] = defaultdict(list)
        for through in (Organisation.offered_topics.through, Organisation.needed_topics.through):
            for org, topic in through.objects.order_by("pk").values_list(
                "organisation_id", "topic_id"
            ):
                if topic not in org_topics[org]:
                    org_topics[org].append(topic)
        names, parents = {}, set()
        for pk, name, parent in Topic.objects.order_by("pk").values_list("pk", "name", "parent"):
            names[pk] = name
            parents.add(parent)
        return cls(
            organisations=organisations,
            responsible=responsible,
            people=dict(people),
            org_topics=dict(org_topics),
            topics=[pk for pk in names if pk not in parents],
            topic_names=names,
            guide=cls._guide(),
        )

    @staticmethod
    def _guide() -> GuideInfo | None:
        guide = InterviewGuide.objects.current()
        if guide is None:
            return None
        questions = [(q.key, q.kind, list(q.choices)) for q in guide.questions()]
        rules = [
            (
                r.pk,
                r.question.key,
                r.when_value,
                r.due_in_days,
                r.follow_up_title,
                r.follow_up_description,
            )
            for r in FollowUpRule.objects.filter(question__section__guide=guide)
            .select_related("question")
            .order_by("pk")
        ]
        return GuideInfo(guide.pk, questions, rules)


# --- Vocabulary ------------------------------------------------------------------------

CONTACTS = (
    "der Geschäftsführung", "dem Inhaber", "der Inhaberin", "der Technischen Leitung",
    "der Personalleitung", "dem Innovationsmanagement", "der Leitung Entwicklung",
    "dem Gründerteam", "der Produktionsleitung",
)  # fmt: skip
OPENINGS: dict[str, tuple[str, ...]] = {
    "first_contact": (
        "Erstbesuch vor Ort: Gespräch mit {contact} über {topics}.",
        "Gespräch mit {contact} über {topics}, dazu ein Rundgang durch den Betrieb.",
        "Vorstellung der Angebote der Innovationsagentur; Schwerpunkt des Gesprächs: {topics}.",
        "Erstes Kennenlernen mit {contact}. Thema war vor allem {topics}.",
    ),
    "follow_up": (
        "Folgebesuch zum Stand der Themen {topics}.",
        "Zweites Gespräch mit {contact}; es ging vor allem um {topics}.",
        "Nachfassen nach dem letzten Besuch: {topics}.",
    ),
    "event": (
        "Gespräch am Rande des Transfertags über {topics}.",
        "Kontakt beim Netzwerktreffen; kurzer Austausch zu {topics}.",
    ),
    "other": ("Austausch mit {contact} zu {topics}.",),
}
FORMAT_OPENINGS = {
    "video": ("Videotermin mit {contact} zu {topics}.",),
    "phone": ("Telefonat mit {contact} über {topics}.",),
}
FINDINGS: dict[str, tuple[str, ...]] = {
    Need.TECHNOLOGY_RD: (
        "Das Unternehmen plant ein neues Produkt und sucht Unterstützung bei der Entwicklung.",
        "Ein Prototyp ist vorhanden; offen ist noch die Materialprüfung.",
    ),
    Need.FUNDING: (
        "Interesse an Fördermitteln (ZIM, Innovationsgutschein) für ein Entwicklungsprojekt.",
        "Fragen zur Förderung einer Investition in neue Anlagen.",
    ),
    Need.SKILLED_WORKERS: (
        "Es fehlen Fachkräfte, vor allem in der Fertigung und im Vertrieb.",
        "Mehrere Ausbildungsplätze sind seit Monaten unbesetzt.",
    ),
    Need.DIGITALISATION: (
        "Die Auftragsabwicklung läuft noch auf Papier; Interesse an einem Digitalisierungscheck.",
        "Maschinendaten sollen erfasst und ausgewertet werden.",
    ),
    Need.SUSTAINABILITY: (
        "Die Energiekosten sind stark gestiegen; eine PV-Anlage ist in Planung.",
        "Das Unternehmen möchte seine CO₂-Bilanz erstellen lassen.",
    ),
    Need.SPACE_COWORKING: (
        "Für neue Mitarbeitende fehlen Büroflächen; Interesse an Co-Working in der Region.",
    ),
    Need.COOPERATION_PARTNER: (
        "Gesucht wird ein Partner aus der Forschung für ein gemeinsames Projekt.",
        "Interesse an einer Abschlussarbeit mit der Hochschule.",
    ),
    Need.TRAINING: (
        "Weiterbildungsbedarf der Mitarbeitenden bei Automatisierung und KI.",
        "Interesse an Schulungen zu grünen Kompetenzen.",
    ),
}
NO_NEED = "Aktuell kein konkreter Unterstützungsbedarf; Kontakt halten."
NEXT_STEPS = (
    "Nächster Schritt: Kontakt zu einer passenden Hochschule herstellen.",
    "Wir senden Informationen zu passenden Förderprogrammen.",
    "Folgetermin in drei Monaten vereinbart.",
    "Einladung zum nächsten Netzwerktreffen ausgesprochen.",
    "Die Netzwerkmanager:innen melden sich mit einem Angebot.",
    "",
)
PLANNED = ("Termin vereinbart. Geplante Themen: {topics}.", "Termin bestätigt: {topics}.", "")
TEXT_ANSWERS: dict[str, tuple[str, ...]] = {
    "innovation_obstacles": (
        "Fehlende Zeit im Tagesgeschäft.", "Zu wenig Personal für Entwicklung.",
        "Unsicherheit bei der Finanzierung.", "Kaum Überblick über Förderprogramme.",
    ),
    "transfer_question": (
        "Prüfverfahren für neue Werkstoffe.", "Auswertung von Maschinendaten mit KI.",
        "Recyclingfähigkeit der eigenen Produkte.", "Energieeffizienz der Trocknungsanlage.",
    ),
    "hard_to_fill_roles": (
        "Elektroniker:innen, Mechatroniker:innen", "Fachinformatiker:innen",
        "Berufskraftfahrer:innen", "Ingenieur:innen Maschinenbau", "Auszubildende im Handwerk",
    ),
    "work_models_notes": (
        "Vier-Tage-Woche in der Verwaltung wird erprobt.", "Mobiles Arbeiten an zwei Tagen.",
        "Jobsharing in Leitungsfunktionen ist geplant.",
    ),
    "green_notes": (
        "Interesse an Beratung zur Wärmepumpe.", "Abwärmenutzung wird geprüft.",
        "Der Fuhrpark soll elektrisch werden.",
    ),
}  # fmt: skip
# A yes to these questions goes with a need category.
NEED_OF_ANSWER = {
    "innovation_projects": Need.TECHNOLOGY_RD,
    "skilled_worker_shortage": Need.SKILLED_WORKERS,
    "transfer_interest": Need.COOPERATION_PARTNER,
    "coworking_interest": Need.SPACE_COWORKING,
    "green_skills_need": Need.TRAINING,
    "climate_strategy": Need.SUSTAINABILITY,
}
VISIT_TASKS = (
    ("Kontakt zur Hochschule herstellen", "Passende Professur für die Fragestellung suchen."),
    ("Förderberatung vereinbaren", "Fördermöglichkeiten (ZIM, Innovationsgutschein) klären."),
    ("Einladung zum Netzwerktreffen senden", "Unternehmen zum nächsten Treffen einladen."),
    ("Infos zur Qualifizierung senden", "Angebote zu grünen Kompetenzen zusammenstellen."),
    ("Digitalisierungscheck anbieten", "Termin für den Check mit dem Mittelstand-Zentrum."),
    ("Folgebesuch planen", "In etwa drei Monaten erneut besuchen."),
    ("Kontakt zur Energieagentur vermitteln", "Beratung zu PV und Speicher anfragen."),
    ("Co-Working-Angebot vorstellen", "Freie Plätze in der Region heraussuchen."),
)
ORGANISATION_TASKS = (
    ("Rückruf vereinbaren", "Um Rückruf wegen eines Termins gebeten."),
    ("Unterlagen Innovationsgutschein senden", ""),
    ("Ansprechperson aktualisieren", "Neue Geschäftsführung im Handelsregister eingetragen."),
    ("Besuch anbahnen", "Unternehmen wurde von der Kammer empfohlen."),
    ("Kooperationsanfrage weiterleiten", "Anfrage aus dem Kompetenzportal."),
)
DONE_NOTES = (
    "Termin hat stattgefunden, das Unternehmen stellt einen Antrag.",
    "Kontakt hergestellt, ein Gespräch ist vereinbart.",
    "Informationen per E-Mail gesendet, Eingang bestätigt.",
    "Erledigt im Telefonat.",
    "Unterlagen übergeben, keine weiteren Fragen.",
)
CANCEL_NOTES = (
    "Das Unternehmen hat derzeit kein Interesse.",
    "Doppelt angelegt.",
    "Ansprechperson hat das Unternehmen verlassen.",
)
# Needs named without a guide question behind them: money and digitalisation most often.
EXTRA_NEEDS = (
    [str(n) for n in Need] + [Need.FUNDING, Need.DIGITALISATION] * 2 + [Need.SKILLED_WORKERS]
)
FORMATS = (("on_site", 65), ("video", 18), ("phone", 12), ("event", 5))
PRIORITIES = (("normal", 70), ("high", 15), ("low", 15))


def _cumulative(weights: Sequence[float]) -> list[float]:
    return list(accumulate(weights))


def _pick(rng: random.Random, values: Sequence[Any], cumulative: list[float]) -> Any:
    return values[min(bisect(cumulative, rng.random() * cumulative[-1]), len(values) - 1)]


def _number(n: int) -> str:
    return f"{n:,}".replace(",", ".")


def _dt(ts: float) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(round(ts), tz=UTC)


# --- The plan --------------------------------------------------------------------------


@dataclass
class Skeleton:
    """What follow-up planning needs of every visit, in visiting order (compact arrays)."""

    at: array  # visited_at (POSIX seconds), ascending
    created: array
    submitted: array  # 0 for drafts
    org: array
    scout: array
    second_scout: array  # 0: none
    confidential: bytearray
    revisit: bytearray
    rule: array  # the guide rule the visit's answers raise, 0: none
    submission_order: array = field(default_factory=lambda: array("q"))  # submitted visits
    submission_times: array = field(default_factory=lambda: array("d"))  # ascending

    def __len__(self) -> int:
        return len(self.at)

    def index_submissions(self) -> None:
        order = sorted((t, i) for i, t in enumerate(self.submitted) if t)
        self.submission_order = array("q", (i for _t, i in order))
        self.submission_times = array("d", (t for t, _i in order))


class Planner:
    """Deterministic plan of visits and follow-ups for a seed and size."""

    def __init__(
        self,
        catalogue: Catalogue,
        team: Team,
        *,
        seed: int,
        visits: int,
        follow_ups: int,
        now: datetime.datetime | None = None,
    ) -> None:
        self.catalogue = catalogue
        self.team = team
        self.seed = seed
        self.n_visits = visits
        self.n_follow_ups = follow_ups
        self.rng = random.Random(seed)  # noqa: S311 - reproducible demo data, not secrets
        self.now = (now or timezone.now()).replace(microsecond=0)
        self.tz = timezone.get_current_timezone()
        self.today = timezone.localdate(self.now)
        self.now_ts = self.now.timestamp()
        self.scout_cum = _cumulative(team.scout_weights)
        self.manager_cum = _cumulative(team.manager_weights)
        self.manager_ids = set(team.managers)
        self.left_unassigned = False

    # -- visits

    def _business_moment(self, day: datetime.date, *, forward: bool = False) -> float:
        """A time on a working day: ``day``, or the nearest one before (after) it."""
        if day.weekday() >= 5:
            day += datetime.timedelta(days=7 - day.weekday() if forward else 4 - day.weekday())
        hour = self.rng.randint(8, 16)
        minute = self.rng.choice((0, 15, 30, 45))
        moment = datetime.datetime.combine(day, datetime.time(hour, minute), tzinfo=self.tz)
        return moment.timestamp()

    def skeleton(self) -> Skeleton:
        rng, n = self.rng, self.n_visits
        moments: list[tuple[float, int]] = []  # (visited_at, 0 submitted / 1 past / 2 future draft)
        for i in range(n):
            r = rng.random()
            kind = 2 if r < FUTURE_DRAFTS else 1 if r < FUTURE_DRAFTS + PAST_DRAFTS else 0
            if n >= 20 and i < 2:
                kind = 2 - i  # even a tiny demo has a planned and an unfinished draft
            if kind == 2:
                day = self.today + datetime.timedelta(days=rng.randint(1, 10))
            elif kind == 1:
                day = self.today - datetime.timedelta(days=rng.randint(0, 45))
            else:
                # Half evenly spread, half growing towards today: the programme picked up.
                u = rng.random()
                share = u if rng.random() < 0.5 else 1 - u**0.5
                day = self.today - datetime.timedelta(days=int(share * SPAN_DAYS))
            ts = self._business_moment(day, forward=kind == 2)
            if kind != 2 and ts > self.now_ts - 3600:
                ts -= 86400 * (3 if day.weekday() == 0 else 1)  # later today: the last working day
            moments.append((ts, kind))
        moments.sort()
        sk = Skeleton(
            at=array("d"), created=array("d"), submitted=array("d"), org=array("q"),
            scout=array("q"), second_scout=array("q"), confidential=bytearray(n),
            revisit=bytearray(n), rule=array("q", bytes(8 * n)),
        )  # fmt: skip
        organisations = self.catalogue.organisations
        visited: list[int] = []
        team = self.team
        for i, (ts, kind) in enumerate(moments):
            sk.at.append(ts)
            if kind == 2:
                created = self.now_ts - rng.uniform(600, 7 * 86400)
            else:
                created = min(ts + rng.uniform(1800, 30 * 3600), self.now_ts - 60)
            sk.created.append(created)
            submitted = 0.0
            if kind == 0:
                submitted = min(created + rng.uniform(0, 72 * 3600), self.now_ts - 30)
            sk.submitted.append(submitted)
            if visited and rng.random() < REVISIT:
                sk.org.append(rng.choice(visited))
                sk.revisit[i] = 1
            else:
                org = rng.choice(organisations)
                sk.org.append(org)
                visited.append(org)
            scout = _pick(rng, team.scouts, self.scout_cum)
            sk.scout.append(scout)
            second = 0
            if len(team.scouts) > 1 and rng.random() < SECOND_SCOUT:
                while second in (0, scout):
                    second = _pick(rng, team.scouts, self.scout_cum)
            sk.second_scout.append(second)
            if rng.random() < CONFIDENTIAL or (n >= 20 and i == n // 2):
                sk.confidential[i] = 1
        sk.index_submissions()
        return sk

    # -- follow-ups

    def _states(self) -> list[str]:
        names = [s for s, _w in FOLLOW_UP_STATES]
        states = self.rng.choices(
            names, weights=[w for _s, w in FOLLOW_UP_STATES], k=self.n_follow_ups
        )
        if self.n_follow_ups >= 12:  # even a tiny demo shows each state
            for position, name in enumerate(names):
                if name not in states:
                    states[position * 2] = name
        return states

    def _anchor(self, sk: Skeleton, ts: float, *, free_for_rule: bool) -> int | None:
        """A submitted visit shortly before ``ts`` (for a rule: one not raising one yet)."""
        times = sk.submission_times
        if not times:
            return None
        per_day = max(1, len(times) // SPAN_DAYS)
        j = bisect_right(times, ts) - 1 - self.rng.randint(0, 2 * per_day)
        for k in range(j, max(-1, j - 20 * per_day - 20), -1):
            idx = sk.submission_order[k]
            if not (free_for_rule and sk.rule[idx]):
                return idx
        return None

    def _due(self, state: str) -> datetime.date | None:
        rng, today = self.rng, self.today
        if state == "overdue":
            return today - datetime.timedelta(days=min(200, 1 + int(rng.expovariate(1 / 25))))
        if state == "this_week":
            left = 6 - today.weekday()
            return today + datetime.timedelta(days=rng.randint(0, left))
        if state == "later":
            return today + datetime.timedelta(days=7 - today.weekday() + rng.randint(0, 60))
        if state == "done":
            return today - datetime.timedelta(days=rng.randint(-7, SPAN_DAYS - 20))
        if state == "cancelled":
            return today - datetime.timedelta(days=rng.randint(-14, SPAN_DAYS - 20))
        return None

    def _manager(self) -> int:
        return _pick(self.rng, self.team.managers, self.manager_cum)

    def follow_ups(self, sk: Skeleton) -> list[Row]:
        rng, cat = self.rng, self.catalogue
        rules = cat.guide.rules if cat.guide else []
        planned: list[Row] = []
        planned_rule = False
        for state in self._states():
            due = self._due(state)
            if due is None:
                created = self.now_ts - rng.uniform(3600, 45 * 86400)
            else:
                due_ts = self._noon(due)
                lead = rng.uniform(5, 28) * 86400
                created = min(due_ts - lead, self.now_ts - rng.uniform(600, 3 * 86400))
            row: Row = {"state": state, "visit": None, "rule_id": None, "person_id": None}
            subject = rng.random()
            wanted = rng.random() < RULE_SHARE
            # Even a tiny demo shows a follow-up raised by the guide.
            wanted = wanted or (self.n_follow_ups >= 12 and not planned_rule)
            if rules and due is not None and wanted:
                rule_id, _key, _value, days, title, description = rng.choice(rules)
                # The rule sets the due date: find a visit submitted that long before.
                idx = self._anchor(sk, self._noon(due) - days * 86400, free_for_rule=True)
                if idx is not None:
                    planned_rule = True
                    sk.rule[idx] = rule_id
                    created = sk.submitted[idx]
                    due = timezone.localdate(_dt(created)) + datetime.timedelta(days=days)
                    row.update(visit=idx, rule_id=rule_id, title=title, description=description)
            if row["visit"] is None and subject < 0.7:
                idx = self._anchor(sk, created, free_for_rule=False)
                if idx is not None:
                    created = max(created, sk.submitted[idx] + rng.uniform(600, 2 * 86400))
                    created = min(created, self.now_ts - 60)
                    row["visit"] = idx
            idx = row["visit"]
            if idx is not None:
                org: int | None = sk.org[idx]
                if not row["rule_id"]:
                    row["title"], row["description"] = rng.choice(VISIT_TASKS)
                    people = cat.people.get(sk.org[idx])
                    if people and rng.random() < 0.25:
                        row["person_id"] = rng.choice(people)
                second = sk.second_scout[idx]
                creator = second if second and rng.random() < 0.4 else sk.scout[idx]
            else:
                if rng.random() < 0.7:
                    org = sk.org[rng.randrange(len(sk))]  # mostly companies already visited
                else:
                    org = rng.choice(cat.organisations)
                row["title"], row["description"] = rng.choice(ORGANISATION_TASKS)
                people = cat.people.get(org)
                if people and subject >= 0.92:
                    row["person_id"] = rng.choice(people)
                    org = None  # about the person alone
                if rng.random() < 0.6:
                    creator = self._manager()
                else:
                    creator = _pick(rng, self.team.scouts, self.scout_cum)
            row["organisation_id"] = org
            row["created_by_id"] = creator
            row["created_at"] = created
            row["due_date"] = due
            self._settle(row, sk)
            planned.append(row)
        return planned

    def _noon(self, day: datetime.date) -> float:
        return datetime.datetime.combine(day, datetime.time(12), tzinfo=self.tz).timestamp()

    def _settle(self, row: Row, sk: Skeleton) -> None:
        """Assignee, status, priority and the moments of each step."""
        rng, state = self.rng, row["state"]
        idx, created = row["visit"], row["created_at"]
        if state == "no_due":
            # The first one always: even a tiny demo has something to assign.
            unassigned = rng.random() < 0.6 or not self.left_unassigned
        elif state in OPEN_STATES:
            unassigned = rng.random() < 0.12
        else:
            unassigned = state == "cancelled" and rng.random() < 0.4
        responsible = self.catalogue.responsible.get(row["organisation_id"] or 0)
        if row["rule_id"] and responsible in self.manager_ids:
            unassigned = False  # the rule gave it to the responsible manager already
        assignee = assigned_by = None
        assigned_at = None
        self.left_unassigned |= unassigned
        if not unassigned:
            # Now and then the scout follows up themself.
            scout = idx is not None and rng.random() < 0.04
            assignee = sk.scout[idx] if scout else self._manager()
            if row["rule_id"] and assignee == responsible:
                assigned_at = created  # assigned by the rule on submission
            else:
                assigned_by = self._manager()
                assigned_at = min(created + rng.uniform(600, 3 * 86400), self.now_ts - 30)
        due = row["due_date"]
        end = self.now_ts - 10
        if due is not None:
            end = min(end, self._noon(due) + 10 * 86400)
        start = max(created, assigned_at or created) + 300
        completed_at = closed_at = None
        status = FollowUp.Status.OPEN
        note = ""
        if state == "done":
            status = FollowUp.Status.DONE
            completed_at = min(start + rng.random() * max(0.0, end - start), self.now_ts - 5)
            note = rng.choice(DONE_NOTES)
        elif state == "cancelled":
            status = FollowUp.Status.CANCELLED
            closed_at = min(start + rng.random() * max(0.0, end - start), self.now_ts - 5)
            note = rng.choice(CANCEL_NOTES)
        elif assignee and rng.random() < 0.25:
            status = FollowUp.Status.IN_PROGRESS
            closed_at = min(
                start + rng.random() * max(0.0, self.now_ts - 10 - start), self.now_ts - 5
            )
        priority = "normal"
        if not row["rule_id"] or assigned_by:
            priority = _weighted(rng, PRIORITIES)
        row.update(
            assignee_id=assignee,
            assigned_by_id=assigned_by,
            assigned_at=assigned_at,
            status=status,
            completion_note=note,
            completed_at=completed_at,
            closed_at=closed_at,  # cancelled or started: no field, a history row's date
            priority=priority,
        )

    # -- visit details

    def visit_rows(self, sk: Skeleton) -> Iterator[list[Row]]:
        """Every visit's fields and relations, in chunks; drawn from a stream of its own so
        that they do not depend on how many draws the follow-up plan took."""
        rng = random.Random(self.seed + 1)  # noqa: S311 - reproducible demo data
        cat = self.catalogue
        guide = cat.guide
        rules_by_pk = {r[0]: r for r in guide.rules} if guide else {}
        rule_keys = defaultdict(list)
        for _pk, key, value, *_rest in rules_by_pk.values():
            rule_keys[key].append(value)
        formats = [f for f, _w in FORMATS]
        format_cum = _cumulative([w for _f, w in FORMATS])
        chunk: list[Row] = []
        for i in range(len(sk)):
            org = sk.org[i]
            draft = not sk.submitted[i]
            future = sk.at[i] > self.now_ts
            fmt = _pick(rng, formats, format_cum)
            if fmt == "event":
                purpose = "event"
            elif rng.random() < 0.04:
                purpose = "other"
            else:
                purpose = "follow_up" if sk.revisit[i] else "first_contact"
            own = cat.org_topics.get(org) or []
            k = rng.choice((1, 1, 2, 2, 3))
            topics = rng.sample(own, min(k, len(own)))
            while len(topics) < k and cat.topics:
                extra = rng.choice(cat.topics)
                if extra not in topics:
                    topics.append(extra)
            people = cat.people.get(org) or []
            met = rng.sample(people, min(rng.choice((0, 1, 1, 1, 2)), len(people)))
            answers = (
                {}
                if future
                else self._answers(rng, guide, sk.rule[i], rules_by_pk, rule_keys, draft)
            )
            needs: list[str] = [
                str(NEED_OF_ANSWER[k])
                for k, v in answers.items()
                if v is True and k in NEED_OF_ANSWER
            ]
            if rng.random() < 0.5:
                extra_need = str(rng.choice(EXTRA_NEEDS))
                if extra_need not in needs:
                    needs.append(extra_need)
            needs = needs[:4]
            names = [cat.topic_names[t] for t in topics[:2]]
            topic_text = " und ".join(names) if names else "die aktuelle Lage"
            if future:
                summary = rng.choice(PLANNED).format(topics=topic_text)
                needs = []
            else:
                summary = self._summary(rng, fmt, purpose, topic_text, needs, draft)
            scouts = [sk.scout[i]] + ([sk.second_scout[i]] if sk.second_scout[i] else [])
            created, submitted = _dt(sk.created[i]), _dt(sk.submitted[i]) if not draft else None
            chunk.append(
                {
                    "uuid": demo_uuid(i),
                    "version": 1 if draft else 2,
                    "organisation_id": org,
                    "visited_at": _dt(sk.at[i]),
                    "format": fmt,
                    "purpose": purpose,
                    "needs": needs,
                    "green_skills_interest": rng.random()
                    < (0.6 if answers.get("green_skills_need") else 0.15),
                    "summary": summary,
                    "is_confidential": bool(sk.confidential[i]),
                    "status": Visit.Status.DRAFT if draft else Visit.Status.SUBMITTED,
                    "submitted_at": submitted,
                    "guide_version_id": guide.pk if guide else None,
                    "answers": answers,
                    "created_by_id": sk.scout[i],
                    "created_at": created,
                    "updated_at": submitted or created,
                    "scouts": scouts,
                    "people_met": met,
                    "topics": topics,
                }
            )
            if len(chunk) >= CHUNK:
                yield chunk
                chunk = []
        if chunk:
            yield chunk

    @staticmethod
    def _answers(
        rng: random.Random,
        guide: GuideInfo | None,
        raises: int,
        rules_by_pk: dict[int, tuple[Any, ...]],
        rule_keys: dict[str, list[Any]],
        draft: bool,
    ) -> dict[str, Any]:
        if guide is None:
            return {}
        answered = 0.3 if draft else 0.75
        answers: dict[str, Any] = {}
        for key, kind, choices in guide.questions:
            if rng.random() >= answered:
                continue
            if kind == "yes_no":
                value: Any = rng.random() < 0.4
            elif kind == "choice":
                value = rng.choice(choices) if choices else None
            elif kind == "number":
                value = 0 if rng.random() < 0.4 else rng.randint(1, 12 if "open" in key else 30)
            else:
                value = rng.choice(TEXT_ANSWERS.get(key, ("Siehe Zusammenfassung.",)))
            # Only the visits the plan picked raise a rule's follow-up.
            if key in rule_keys and value in rule_keys[key]:
                if kind == "yes_no":
                    value = not value
                    if value in rule_keys[key]:
                        continue
                else:
                    continue
            if value is not None:
                answers[key] = value
        if raises and raises in rules_by_pk:
            _pk, key, value, *_rest = rules_by_pk[raises]
            answers[key] = value
        return answers

    @staticmethod
    def _summary(
        rng: random.Random, fmt: str, purpose: str, topics: str, needs: list[str], draft: bool
    ) -> str:
        openings = FORMAT_OPENINGS.get(fmt) or OPENINGS[purpose]
        parts = [rng.choice(openings).format(contact=rng.choice(CONTACTS), topics=topics)]
        if draft and rng.random() < 0.5:
            return parts[0]
        parts += [rng.choice(FINDINGS[n]) for n in needs[:2]] or [NO_NEED]
        parts.append(rng.choice(NEXT_STEPS))
        return " ".join(p for p in parts if p)


def _weighted(rng: random.Random, options: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([o for o, _w in options], weights=[w for _o, w in options])[0]


# --- Through the services (demo scale) --------------------------------------------------


def _write_through_services(planner: Planner, sk: Skeleton, plan: list[Row]) -> dict[str, int]:
    team = planner.team
    users = team.users
    orgs = Organisation.objects.in_bulk(
        set(sk.org) | {r["organisation_id"] for r in plan if r["organisation_id"]}
    )
    people = Person.objects.in_bulk({r["person_id"] for r in plan if r["person_id"]})
    guide = (
        InterviewGuide.objects.get(pk=planner.catalogue.guide.pk)
        if planner.catalogue.guide
        else None
    )
    lead = users[team.managers[0]]
    with transaction.atomic():
        visits: list[Visit] = []
        times: list[tuple[datetime.datetime, datetime.datetime | None]] = []
        for chunk in planner.visit_rows(sk):
            for row in chunk:
                recorder = users[row["created_by_id"]]
                visit, _created = record_visit(
                    uuid=row["uuid"],
                    organisation=orgs[row["organisation_id"]],
                    by=recorder,
                    scouts=[users[u] for u in row["scouts"]],
                    people_met=row["people_met"],
                    topics=row["topics"],
                    visited_at=row["visited_at"],
                    format=row["format"],
                    purpose=row["purpose"],
                    needs=row["needs"],
                    green_skills_interest=row["green_skills_interest"],
                    summary=row["summary"],
                    is_confidential=row["is_confidential"],
                    guide_version=guide,
                    answers=row["answers"],
                )
                if row["submitted_at"]:
                    visit = submit_visit(visit, by=recorder)
                visits.append(visit)
                times.append((row["created_at"], row["submitted_at"]))
        follow_ups, events = [], []
        for row in plan:
            follow_up, moments = _follow_up_through_services(
                row,
                visits=visits,
                orgs=orgs,
                people=people,
                users=users,
                lead=lead,
                managers=set(team.managers),
            )
            follow_ups.append(follow_up)
            events.append(moments)
        _backdate_visits(visits, times)
        _backdate_follow_ups(follow_ups, plan, events)
    visit_ids = [v.pk for v in visits]
    follow_up_ids = [f.pk for f in follow_ups]
    return {
        Visit._meta.label: len(visits),
        Visit.history.model._meta.label: Visit.history.filter(id__in=visit_ids).count(),
        FollowUp._meta.label: len(follow_ups),
        FollowUp.history.model._meta.label: FollowUp.history.filter(id__in=follow_up_ids).count(),
    }


def _follow_up_through_services(
    row: Row,
    *,
    visits: list[Visit],
    orgs: dict[int, Organisation],
    people: dict[int, Person],
    users: dict[int, AbstractUser],
    lead: AbstractUser,
    managers: set[int],
) -> tuple[FollowUp, list[float]]:
    """Take one planned follow-up through the services; returns it and the planned
    moment of each history row the steps wrote."""
    visit = visits[row["visit"]] if row["visit"] is not None else None
    moments = [row["created_at"]]
    if row["rule_id"]:
        follow_up = FollowUp.objects.get(visit=visit, rule_id=row["rule_id"])
    else:
        follow_up = propose_follow_up(
            by=users[row["created_by_id"]],
            title=row["title"],
            description=row["description"],
            visit=visit,
            organisation=orgs.get(row["organisation_id"]) if not visit else None,
            person=people.get(row["person_id"]),
            due_date=row["due_date"],
            priority=row["priority"],
        )
    assignee = users.get(row["assignee_id"]) if row["assignee_id"] else None
    if assignee and (follow_up.assignee_id != assignee.pk or follow_up.priority != row["priority"]):
        by = users.get(row["assigned_by_id"]) or lead
        assign_follow_ups([follow_up], assignee=assignee, priority=row["priority"], by=by)
        moments.append(row["assigned_at"])
        follow_up.refresh_from_db()
    closer = assignee or lead
    if row["status"] == FollowUp.Status.DONE:
        follow_up = complete_follow_up(follow_up, note=row["completion_note"], by=closer)
        moments.append(row["completed_at"])
    elif row["status"] == FollowUp.Status.IN_PROGRESS:
        follow_up = start_follow_up(follow_up, by=closer)
        moments.append(row["closed_at"])
    elif row["status"] == FollowUp.Status.CANCELLED:
        # Only network managers cancel.
        by = closer if closer.pk in managers else lead
        follow_up = cancel_follow_up(follow_up, note=row["completion_note"], by=by)
        moments.append(row["closed_at"])
    return follow_up, moments


def _backdate_visits(
    visits: list[Visit], times: list[tuple[datetime.datetime, datetime.datetime | None]]
) -> None:
    """Move the services' "now" to the planned moments: rows and their history."""
    planned = {}
    for visit, (created, submitted) in zip(visits, times, strict=True):
        visit.created_at = created
        visit.submitted_at = submitted
        visit.updated_at = submitted or created
        planned[visit.pk] = (created, submitted)
    # QuerySet-level writes bypass simple-history, which is the point here.
    Visit.objects.bulk_update(visits, ["created_at", "submitted_at", "updated_at"], batch_size=500)
    history = list(Visit.history.filter(id__in=list(planned)).order_by("id", "history_id"))
    last = {h.id: h.history_id for h in history}
    for h in history:
        created, submitted = planned[h.id]
        h.created_at = created
        if h.submitted_at is not None:
            h.submitted_at = submitted
        # The last row of a submitted visit is its submission; the rest is its recording.
        is_submission = submitted is not None and h.history_id == last[h.id]
        h.history_date = submitted if is_submission else created
    Visit.history.model.objects.bulk_update(
        history, ["created_at", "submitted_at", "history_date"], batch_size=500
    )


def _backdate_follow_ups(
    follow_ups: list[FollowUp], plan: list[Row], events: list[list[float]]
) -> None:
    by_pk = {}
    for follow_up, row in zip(follow_ups, plan, strict=True):
        follow_up.created_at = _dt(row["created_at"])
        follow_up.due_date = row["due_date"]
        follow_up.assigned_at = _dt(row["assigned_at"]) if row["assigned_at"] else None
        follow_up.completed_at = _dt(row["completed_at"]) if row["completed_at"] else None
        by_pk[follow_up.pk] = follow_up
    fields = ["created_at", "due_date", "assigned_at", "completed_at"]
    FollowUp.objects.bulk_update(follow_ups, fields, batch_size=500)
    moments = {f.pk: m for f, m in zip(follow_ups, events, strict=True)}
    history = list(FollowUp.history.filter(id__in=list(by_pk)).order_by("id", "history_id"))
    rows_of: dict[int, list[Any]] = defaultdict(list)
    for h in history:
        rows_of[h.id].append(h)
    for pk, rows in rows_of.items():
        final = by_pk[pk]
        for h, moment in zip(rows, moments[pk], strict=False):
            h.history_date = _dt(moment)
            h.created_at = final.created_at
            h.due_date = final.due_date if h.due_date is not None else None
            if h.assigned_at is not None:
                h.assigned_at = final.assigned_at
            if h.completed_at is not None:
                h.completed_at = final.completed_at
    FollowUp.history.model.objects.bulk_update(history, ["history_date", *fields], batch_size=500)


# --- In bulk (state scale) --------------------------------------------------------------


def _bulk_tables() -> list[type[models.Model]]:
    history = Visit.history.model  # type: ignore[attr-defined]
    tables: list[type[models.Model]] = [Visit, history]
    for name in ("scouts", "people_met", "topics"):
        tables.append(getattr(Visit, name).through)
        tables.append(getattr(history, name).model)
    tables += [FollowUp, FollowUp.history.model]  # type: ignore[attr-defined]
    return tables


class Copier:
    """Writes plain rows to one table: COPY on PostgreSQL, bulk_create elsewhere."""

    def __init__(self, model: type[models.Model], attnames: Sequence[str]) -> None:
        self.model = model
        self.attnames = list(attnames)
        fields = {f.attname: f for f in model._meta.concrete_fields}
        self.columns = [str(fields[a].column) for a in self.attnames]
        self.json = [isinstance(fields[a], models.JSONField) for a in self.attnames]
        self.written = 0

    def write(self, rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        if connection.vendor == "postgresql":
            quote = connection.ops.quote_name
            columns = ", ".join(quote(c) for c in self.columns)
            sql = f"COPY {quote(self.model._meta.db_table)} ({columns}) FROM STDIN"
            json_positions = [i for i, is_json in enumerate(self.json) if is_json]
            with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
                for row in rows:
                    values = list(row)
                    for i in json_positions:
                        values[i] = json.dumps(values[i], ensure_ascii=False)
                    copy.write_row(values)
        else:
            objs = [self.model(**dict(zip(self.attnames, row, strict=True))) for row in rows]
            self.model._default_manager.bulk_create(objs, batch_size=500)
        self.written += len(rows)


def _write_bulk(
    planner: Planner, sk: Skeleton, plan: list[Row], *, lap: Callable[[str], None]
) -> dict[str, int]:
    tables = _bulk_tables()
    writer = core.BulkWriter()
    writer.lock(tables)
    if len(sk) >= SUSPEND_INDEXES_FROM and len(sk) >= Visit.objects.count():
        writer.suspend_indexes(tables)
    # Ids are given explicitly: the history rows and M2M snapshots refer to them.
    first_visit = writer.next_id(Visit)
    history_model = Visit.history.model  # type: ignore[attr-defined]
    first_history = writer.next_id(history_model)
    tracked = [
        f.attname
        for f in history_model._meta.concrete_fields
        if f.attname not in core.HISTORY_FIELDS
    ]
    visit_fields = [f.attname for f in Visit._meta.concrete_fields]
    visit_copy = Copier(Visit, visit_fields)
    history_copy = Copier(history_model, [*tracked, *sorted(core.HISTORY_FIELDS)])
    links = {}
    for name, target in (
        ("scouts", "user_id"),
        ("people_met", "person_id"),
        ("topics", "topic_id"),
    ):
        through = getattr(Visit, name).through
        snapshot = getattr(history_model, name).model
        links[name] = (
            Copier(through, ["id", "visit_id", target]),
            Copier(snapshot, ["m2m_history_id", "id", "visit_id", target, "history_id"]),
            [writer.next_id(through), writer.next_id(snapshot)],
        )
    for chunk in planner.visit_rows(sk):
        visit_rows: list[tuple[Any, ...]] = []
        history_rows: list[tuple[Any, ...]] = []
        link_rows: dict[str, tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]] = {
            name: ([], []) for name in links
        }
        for row in chunk:
            offset = visit_copy.written + len(visit_rows)
            row["id"] = first_visit + offset
            history_id = first_history + offset
            visit_rows.append(tuple(row[a] for a in visit_fields))
            history = {
                "history_id": history_id,
                "history_date": row["created_at"],
                "history_change_reason": core.SEED_REASON,
                "history_type": "+",
                "history_user_id": row["created_by_id"],
            }
            history_rows.append(tuple(row.get(a, history.get(a)) for a in history_copy.attnames))
            for name in links:
                ids = links[name][2]
                through_rows, snapshot_rows = link_rows[name]
                for target in row[name]:
                    through_rows.append((ids[0], row["id"], target))
                    snapshot_rows.append((ids[1], ids[0], row["id"], target, history_id))
                    ids[0] += 1
                    ids[1] += 1
        visit_copy.write(visit_rows)
        history_copy.write(history_rows)
        for name, (through_rows, snapshot_rows) in link_rows.items():
            links[name][0].write(through_rows)
            links[name][1].write(snapshot_rows)
    lap(f"Besuche ({_number(visit_copy.written)} mit Scouts, Personen, Themen und Historie)")
    follow_up_copy, follow_up_history = _write_follow_ups(writer, plan, first_visit)
    lap(f"Wiedervorlagen ({_number(follow_up_copy.written)} mit Historie)")
    writer.finish()
    lap("Sequenzen und Indizes")
    counts = {
        Visit._meta.label: visit_copy.written,
        history_model._meta.label: history_copy.written,
        FollowUp._meta.label: follow_up_copy.written,
        follow_up_history.model._meta.label: follow_up_history.written,
    }
    for through_copy, snapshot_copy, _ids in links.values():
        counts[through_copy.model._meta.label] = through_copy.written
        counts[snapshot_copy.model._meta.label] = snapshot_copy.written
    return counts


def _write_follow_ups(
    writer: core.BulkWriter, plan: list[Row], first_visit: int
) -> tuple[Copier, Copier]:
    history_model = FollowUp.history.model  # type: ignore[attr-defined]
    fields = [f.attname for f in FollowUp._meta.concrete_fields]
    tracked = [
        f.attname
        for f in history_model._meta.concrete_fields
        if f.attname not in core.HISTORY_FIELDS
    ]
    rows_copy = Copier(FollowUp, fields)
    history_copy = Copier(history_model, [*tracked, *sorted(core.HISTORY_FIELDS)])
    next_id = writer.next_id(FollowUp)
    next_history = writer.next_id(history_model)
    for start in range(0, len(plan), CHUNK):
        rows, history = [], []
        for planned in plan[start : start + CHUNK]:
            created = _dt(planned["created_at"])
            values = {
                **planned,
                "id": next_id,
                "visit_id": first_visit + planned["visit"]
                if planned["visit"] is not None
                else None,
                "created_at": created,
                "assigned_at": _dt(planned["assigned_at"]) if planned["assigned_at"] else None,
                "completed_at": _dt(planned["completed_at"]) if planned["completed_at"] else None,
                # Follow-ups about transfer requests are seeded with the pipeline.
                "transfer_request_id": None,
                "history_id": next_history,
                "history_date": created,
                "history_change_reason": core.SEED_REASON,
                "history_type": "+",
                "history_user_id": planned["created_by_id"],
            }
            rows.append(tuple(values[a] for a in fields))
            history.append(tuple(values[a] for a in history_copy.attnames))
            next_id += 1
            next_history += 1
        rows_copy.write(rows)
        history_copy.write(history)
    return rows_copy, history_copy
