"""Extension points through which domain apps add to core pages without the core
importing them: entries on an organisation's or person's timeline, and panels on
the start page. Apps register in their ``AppConfig.ready``.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.http import HttpRequest


@dataclass(frozen=True)
class TimelineEntry:
    when: datetime.datetime
    kind: str  # a short, translated label: "Notiz", "Unternehmensbesuch", …
    text: str
    who: Any = None  # a user or None
    url: str = ""
    badges: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Panel:
    """A start-page panel: a template and its context, rendered in ``order``."""

    template: str
    context: dict[str, Any]
    order: int = 100


# (user, organisation, person, limit) -> entries, newest first
TimelineProvider = Callable[..., list[TimelineEntry]]
PanelProvider = Callable[[HttpRequest], list[Panel]]

_timeline_providers: list[TimelineProvider] = []
_panel_providers: list[PanelProvider] = []


def register_timeline_provider(provider: TimelineProvider) -> None:
    if provider not in _timeline_providers:
        _timeline_providers.append(provider)


def register_panel_provider(provider: PanelProvider) -> None:
    if provider not in _panel_providers:
        _panel_providers.append(provider)


def timeline_entries(
    *, user: Any, organisation: Any = None, person: Any = None, limit: int
) -> list[TimelineEntry]:
    """Every provider's newest ``limit`` entries, merged newest first."""
    entries: list[TimelineEntry] = []
    for provider in _timeline_providers:
        entries += provider(user=user, organisation=organisation, person=person, limit=limit)
    entries.sort(key=lambda e: e.when, reverse=True)
    return entries[:limit]


def panels(request: HttpRequest) -> list[Panel]:
    found: list[Panel] = []
    for provider in _panel_providers:
        found += provider(request)
    return sorted(found, key=lambda p: p.order)
