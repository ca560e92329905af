"""The default stages, installed by a data migration (and again by tests after a
live-server test flushed the tables)."""

from __future__ import annotations

from typing import Any

# key, German name, English name, kind, limit in days, requirements
DEFAULT_STAGES: list[tuple[str, str, str, str, int | None, list[str]]] = [
    ("eingang", "Eingang", "Received", "open", 14, []),
    ("qualifiziert", "Qualifiziert", "Qualified", "open", 30, ["responsible_manager"]),
    ("partnersuche", "Partnersuche", "Partner search", "open", 60, []),
    ("vermittelt", "Vermittelt", "Matched", "open", 60, ["partner"]),
    # Cooperations run for months or years: no limit.
    ("in-kooperation", "In Kooperation", "In cooperation", "open", None, ["partner"]),
    (
        "erfolgreich",
        "Erfolgreich abgeschlossen",
        "Completed successfully",
        "won",
        None,
        ["outcome"],
    ),
    ("ohne-ergebnis", "Ohne Ergebnis", "Closed without result", "lost", None, ["closing_reason"]),
    ("ruhend", "Ruhend", "Dormant", "paused", None, []),
]


def install_default_stages(apps: Any) -> None:
    """Create the default stages that are missing (idempotent); ``apps`` is the
    migration's app registry."""
    stage_model = apps.get_model("pipeline", "Stage")
    for position, (key, name, name_en, kind, max_days, required) in enumerate(
        DEFAULT_STAGES, start=1
    ):
        stage_model.objects.get_or_create(
            key=key,
            defaults={
                "name": name,
                "name_en": name_en,
                "position": position * 10,
                "kind": kind,
                "max_days": max_days,
                "required_fields": required,
            },
        )
