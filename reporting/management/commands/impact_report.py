"""Generate an impact report from the shell, as administration does in the browser.

    python manage.py impact_report --period 2026-Q3 --format pdf,xlsx --out DIR
    python manage.py impact_report --period 2026 --districts 03153,03158 --out DIR
    python manage.py impact_report --period 2026-Q3 --publish --user verwaltung --out DIR

Without --publish the period's draft is created (or recomputed) and written as a draft;
with --publish it is frozen and the stored files are written.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from crm.models import District
from reporting import services
from reporting.models import ReportFile
from reporting.periods import Period, PeriodError

FORMATS = ("pdf", "xlsx")


class Command(BaseCommand):
    help = "Create or recompute an impact report for a period and write its PDF/XLSX."
    # A report needs neither the URLs nor the admin, which Django's system checks load
    # with every view (0.3 s of a 0.95 s start-up): the checks belong to
    # deploying (`manage.py check --deploy`, `make check`), not to each scheduled run.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--period", required=True, help="2026-Q3, 2026-H1, 2026 or 2026-03-01..2026-05-15"
        )
        parser.add_argument(
            "--districts", default="", help="District keys, comma-separated (default: all)"
        )
        parser.add_argument("--format", default="pdf,xlsx", help="pdf, xlsx or pdf,xlsx")
        parser.add_argument("--out", default=".", help="Directory for the files")
        parser.add_argument("--publish", action="store_true", help="Publish (freeze) it")
        parser.add_argument("--user", default="", help="Username acting (needed to publish)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            period = Period.parse(options["period"])
        except PeriodError as error:
            raise CommandError(str(error)) from None
        formats = [f.strip().lower() for f in options["format"].split(",") if f.strip()]
        unknown = sorted(set(formats) - set(FORMATS))
        if unknown or not formats:
            raise CommandError(f"Unknown format {', '.join(unknown) or '(none)'}: use pdf, xlsx")
        keys = [k.strip() for k in options["districts"].split(",") if k.strip()]
        districts = list(District.objects.filter(key__in=keys))
        missing = sorted(set(keys) - {d.key for d in districts})
        if missing:
            raise CommandError(f"Unknown district key(s): {', '.join(missing)}")
        out = Path(options["out"])
        out.mkdir(parents=True, exist_ok=True)
        user = None
        if options["user"]:
            user = get_user_model().objects.filter(username=options["user"]).first()
            if user is None:
                raise CommandError(f"No user {options['user']!r}")
        if options["publish"] and user is None:
            raise CommandError("--publish needs --user (who publishes)")

        started = time.perf_counter()
        try:
            report = services.create_report(period=period, districts=districts, by=user)
            if options["publish"]:
                report = services.publish_report(report.pk, by=user)
            else:
                report = services.compute_report(report.pk, by=user)
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        self.stdout.write(f"{report.title} (version {report.version}, {report.status})")
        stem = f"wirkungsbericht-{period.code.replace('..', '_')}-v{report.version}"
        for kind in formats:
            if report.is_published():
                stored = report.stored_file(kind)
                assert stored is not None  # publishing stores both files
                data, digest = stored.content(), stored.sha256
            else:
                data = (
                    services.render_pdf(report) if kind == "pdf" else services.render_xlsx(report)
                )
                digest = ReportFile.of(report, kind, data).sha256
            target = out / f"{stem}{'' if report.is_published() else '-entwurf'}.{kind}"
            target.write_bytes(data)
            self.stdout.write(f"  {target}  {len(data):,} bytes  SHA-256 {digest}")
        self.stdout.write(f"Done in {time.perf_counter() - started:.1f} s.")
