"""Load the region's reference data, demo users and fictional demo records."""

from __future__ import annotations

import importlib
import importlib.util
import time
from pathlib import Path
from types import ModuleType
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from crm import demo

SCALES = {
    # organisations, people
    "demo": (400, 800),
    "state": (300_000, 600_000),
}
# Above this many organisations the object-by-object writer takes too long.
BULK_THRESHOLD = 2_000


def app_demo_modules() -> list[ModuleType]:
    """The ``demo`` modules of the project's domain apps, in ``INSTALLED_APPS`` order.

    The core does not import the apps built around it: an app takes part by having
    a ``demo`` module with ``seed(*, scale, seed, bulk, log, options)`` returning
    rows written by label and, for options of its own, ``add_arguments(parser)``
    and ``check_options(*, scale, options)`` (raises ``ValueError`` before anything
    is written). Project apps live at the repository root; third-party apps do not.
    """
    root = Path(settings.BASE_DIR).resolve()
    modules = []
    for config in apps.get_app_configs():
        if config.name == "crm" or Path(config.path).resolve().parent != root:
            continue
        name = f"{config.name}.demo"
        if importlib.util.find_spec(name) is not None:
            modules.append(importlib.import_module(name))
    return modules


class Command(BaseCommand):
    help = (
        "Lädt Landkreise, Gemeinden, Themenfelder und Einrichtungen der Region, legt "
        "Demo-Benutzer:innen je Rolle an und erzeugt fiktive Unternehmen und Personen."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--scale",
            choices=sorted(SCALES),
            default="demo",
            help="demo: ~400 organisations, ~800 people; state: 300,000 and 600,000 (bulk). "
            "The apps' demo records (visits, …) scale along.",
        )
        parser.add_argument("--organisations", type=int, help="Number of fictional organisations.")
        parser.add_argument("--people", type=int, help="Number of fictional people.")
        parser.add_argument("--seed", type=int, default=2026, help="Random seed (default 2026).")
        parser.add_argument(
            "--bulk",
            action="store_true",
            help="Write with COPY/bulk_create even for small counts (automatic above "
            f"{BULK_THRESHOLD} organisations).",
        )
        parser.add_argument(
            "--password",
            default=demo.DEMO_PASSWORD,
            help=f"Password of all demo users (default {demo.DEMO_PASSWORD}).",
        )
        parser.add_argument(
            "--fixtures", type=Path, default=demo.FIXTURES_DIR, help="Reference data directory."
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="Run with DEBUG off too. The demo users then have a published password.",
        )
        parser.add_argument(
            "--no-synthetic",
            action="store_true",
            help="Load only reference data and users, no fictional records.",
        )
        for module in app_demo_modules():
            if hasattr(module, "add_arguments"):
                module.add_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG and not options["force"]:
            raise CommandError(
                "DEBUG is off: this looks like a production database. seed_demo sets a "
                "published password for the users admin, verwaltung, … Use --force on a "
                "demo or benchmark server."
            )
        organisations, people = SCALES[options["scale"]]
        if options["organisations"] is not None:
            organisations = options["organisations"]
        if options["people"] is not None:
            people = options["people"]
        if organisations < 0 or people < 0:
            raise CommandError("Counts must not be negative.")
        bulk = options["bulk"] or organisations > BULK_THRESHOLD
        for module in app_demo_modules():
            if hasattr(module, "check_options"):
                try:
                    module.check_options(scale=options["scale"], options=options)
                except ValueError as exc:
                    raise CommandError(str(exc)) from exc
        started = time.perf_counter()

        self.stdout.write(self.style.MIGRATE_HEADING("Referenzdaten"))
        try:
            reference = demo.load_reference_data(options["fixtures"], log=self.stdout.write)
        except FileNotFoundError as exc:
            raise CommandError(str(exc)) from exc
        for name, outcome in reference.items():
            self.stdout.write(f"  {name}: {outcome}")

        self.stdout.write(self.style.MIGRATE_HEADING("Demo-Benutzer:innen"))
        accounts = demo.ensure_demo_users(options["password"])

        if not options["no_synthetic"]:
            self._synthetic(organisations, people, options["seed"], bulk)
            self._apps(options, bulk)

        self._print_accounts(accounts, options["password"])
        self.stdout.write(f"Fertig in {time.perf_counter() - started:.1f} s.")

    def _synthetic(self, organisations: int, people: int, seed: int, bulk: bool) -> None:
        how = "COPY" if bulk and connection.vendor == "postgresql" else "bulk_create"
        self.stdout.write(
            self.style.MIGRATE_HEADING(
                f"Fiktive Daten: {organisations} Organisationen, {people} Personen "
                f"({how if bulk else 'einzeln gespeichert'}, Seed {seed})"
            )
        )
        result = demo.seed_synthetic(
            organisations=organisations,
            people=people,
            seed=seed,
            bulk=bulk,
            log=self.stdout.write,
        )
        if result.skipped_existing:
            self.stdout.write(
                f"  Übersprungen: {result.skipped_existing} Demo-Organisationen sind schon da. "
                "Für andere Mengen eine leere Datenbank verwenden."
            )
            return
        for label, count in sorted(result.counts.items()):
            self.stdout.write(f"  {label}: {count:,}".replace(",", "."))

    def _apps(self, options: dict[str, Any], bulk: bool) -> None:
        """Each domain app's demo records, after the core ones they refer to."""
        for module in app_demo_modules():
            app = module.__name__.rsplit(".", 1)[0]
            self.stdout.write(self.style.MIGRATE_HEADING(f"Demo-Daten: {app}"))
            started = time.perf_counter()
            try:
                counts = module.seed(
                    scale=options["scale"],
                    seed=options["seed"],
                    bulk=bulk,
                    log=self.stdout.write,
                    options=options,
                )
            except ValueError as exc:
                raise CommandError(str(exc)) from exc
            for label, count in sorted(counts.items()):
                self.stdout.write(f"  {label}: {count:,}".replace(",", "."))
            self.stdout.write(f"  {app}: {time.perf_counter() - started:.1f} s")

    def _print_accounts(self, accounts: list[demo.DemoAccount], password: str) -> None:
        self.stdout.write(self.style.MIGRATE_HEADING("Anmeldung (Demo)"))
        width = max(len(a.username) for a in accounts)
        role_width = max(len(a.role_label) for a in accounts)
        self.stdout.write(f"  {'Benutzer':<{width}}  {'Rolle':<{role_width}}  Name / Passwort")
        for a in accounts:
            self.stdout.write(
                f"  {a.username:<{width}}  {a.role_label:<{role_width}}  {a.full_name} / {password}"
            )
        for a in accounts:
            if a.totp_secret:
                self.stdout.write(
                    f"\n  {a.username} braucht einen zweiten Faktor (TOTP). Geheimnis für eine "
                    f"Authenticator-App: {a.totp_secret}\n"
                    f"  Aktuellen Code anzeigen: python manage.py totp_code {a.username}"
                )
