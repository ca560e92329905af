"""Readable change history: who changed which field from what to what, and when."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.core.paginator import Page, Paginator
from django.db import models
from django.utils.translation import gettext as _

HISTORY_PAGE_SIZE = 20

_TYPE_LABELS = {"+": "created", "~": "changed", "-": "deleted"}


@dataclass
class FieldChange:
    label: str
    old: str
    new: str


@dataclass
class HistoryEntry:
    when: datetime
    who: str
    kind: str  # created / changed / deleted
    reason: str
    changes: list[FieldChange] = field(default_factory=list)


def _display(
    model: type[models.Model], name: str, value: Any, labels: dict[tuple[str, Any], str]
) -> str:
    if value in (None, ""):
        return "—"
    try:
        model_field = model._meta.get_field(name)
    except FieldDoesNotExist:  # a field since removed still shows its raw value
        return str(value)
    if getattr(model_field, "choices", None):
        return str(dict(model_field.flatchoices).get(value, value))
    if isinstance(model_field, models.BooleanField):
        return _("yes") if value else _("no")
    if isinstance(model_field, models.ForeignKey):
        return labels.get((name, value), f"#{value}")
    if isinstance(model_field, models.ManyToManyField):
        ids = [row.get(model_field.m2m_reverse_field_name()) for row in value] if value else []
        names = [labels.get((name, i), f"#{i}") for i in ids]
        return ", ".join(sorted(names)) or "—"
    return str(value)


def history_page(instance: models.Model, page_number: Any) -> tuple[Page, list[HistoryEntry]]:
    """One page of an object's history, newest first, each entry diffed against the one before."""
    model = type(instance)
    qs = instance.history.select_related("history_user").order_by("-history_date", "-history_id")  # type: ignore[attr-defined]
    paginator = Paginator(qs, HISTORY_PAGE_SIZE)
    page = paginator.get_page(page_number)
    start = (page.number - 1) * HISTORY_PAGE_SIZE
    # One extra, older record so the last entry on the page has something to diff against.
    records = list(qs[start : start + HISTORY_PAGE_SIZE + 1])

    diffs = []
    fk_ids: dict[str, set[Any]] = {}
    m2m_ids: dict[str, set[Any]] = {}
    for index, record in enumerate(records[:HISTORY_PAGE_SIZE]):
        older = records[index + 1] if index + 1 < len(records) else None
        changes = []
        if older is not None and record.history_type == "~":
            delta = record.diff_against(older, foreign_keys_are_objs=False)
            changes = [(c.field, c.old, c.new) for c in delta.changes]
        elif record.history_type == "+":
            changes = [
                (f.name, None, getattr(record, f.attname))
                for f in model._meta.concrete_fields
                if f.name not in ("id",)
                and hasattr(record, f.attname)
                and getattr(record, f.attname) not in (None, "")
                and f.editable
            ]
        for name, old, new in changes:
            try:
                model_field = model._meta.get_field(name)
            except FieldDoesNotExist:
                continue  # a field since removed from the model
            if isinstance(model_field, models.ForeignKey):
                fk_ids.setdefault(name, set()).update(v for v in (old, new) if v is not None)
            elif isinstance(model_field, models.ManyToManyField):
                target = model_field.m2m_reverse_field_name()
                for rows in (old or [], new or []):
                    m2m_ids.setdefault(name, set()).update(r.get(target) for r in rows)
        diffs.append((record, changes))

    labels: dict[tuple[str, Any], str] = {}
    for name, ids in {**fk_ids, **m2m_ids}.items():
        related = model._meta.get_field(name).related_model
        for obj in related._default_manager.filter(pk__in=ids):  # type: ignore[union-attr]
            labels[(name, obj.pk)] = str(obj)

    entries = []
    for record, changes in diffs:
        user = record.history_user
        who = (user.get_full_name() or user.get_username()) if user else _("system")
        entry = HistoryEntry(
            when=record.history_date,
            who=who,
            kind=_TYPE_LABELS[record.history_type],
            reason=record.history_change_reason or "",
        )
        for name, old, new in changes:
            try:
                label = str(model._meta.get_field(name).verbose_name)
            except FieldDoesNotExist:
                label = name
            entry.changes.append(
                FieldChange(
                    label=label[:1].upper() + label[1:],
                    old=_display(model, name, old, labels),
                    new=_display(model, name, new, labels),
                )
            )
        entries.append(entry)
    return page, entries
