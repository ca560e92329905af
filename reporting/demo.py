"""Demo impact reports (``seed_demo``): at demo scale, the last finished quarter's report
published with a sample narrative — so that the funding-body viewer finds one — and the
quarter before as a computed draft for administration to finish. At state scale nothing:
the benchmark generates reports itself."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from django.contrib.auth import get_user_model
from django.utils import timezone

from crm.roles import Role

from . import services
from .models import Report
from .periods import Period

NARRATIVE = {
    "progress": (
        "Die Scouts haben im Quartal vor allem kleine Unternehmen im ländlichen Raum "
        "besucht. Mehrere Transferanfragen führten zu gemeinsamen FuE-Projekten mit den "
        "Hochschulen der Region.\n\nDie Netzwerkarbeit zum Thema Kreislaufwirtschaft "
        "wurde mit zwei Veranstaltungen fortgesetzt."
    ),
    "problems": (
        "Die Vermittlung in Auftragsforschung dauert wegen ausgelasteter Labore länger als geplant."
    ),
    "outlook": (
        "Im nächsten Quartal liegt der Schwerpunkt auf Unternehmen ohne bisherigen "
        "Kontakt zur Forschung und auf der Green-Skills-Kampagne."
    ),
}


def seed(
    *,
    scale: str,
    seed: int,
    bulk: bool,
    log: Callable[[str], None] = lambda message: None,
    options: Mapping[str, Any] | None = None,
) -> dict[str, int]:
    if scale != "demo":
        return {}
    if Report.objects.exists():
        log("  Übersprungen: Es gibt schon Wirkungsberichte.")
        return {}
    admin = (
        get_user_model()
        .objects.filter(groups__name=Role.ADMINISTRATION.group_name, is_active=True)
        .order_by("pk")
        .first()
    )
    if admin is None:
        log("  Übersprungen: keine Verwaltungs-Benutzer:in.")
        return {}
    last = Period.containing_quarter(timezone.localdate()).previous()
    published = services.create_report(period=last, by=admin)
    services.compute_report(published.pk, by=admin)
    services.update_narrative(published, **NARRATIVE, by=admin)
    services.publish_report(published.pk, by=admin)
    draft = services.create_report(period=last.previous(), by=admin)
    services.compute_report(draft.pk, by=admin)
    log(f"  Wirkungsbericht {last.code} veröffentlicht, {last.previous().code} als Entwurf")
    return {"Wirkungsberichte": 2}
