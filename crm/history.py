"""Readable change history: who changed which field from what to what, and when."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.core.paginator import Page, Paginator
from django.db import models
from django.utils import formats, timezone
from django.utils.translation import gettext as _

HISTORY_PAGE_SIZE = 20

_TYPE_LABELS = {"+": "created", "~": "changed", "-": "deleted"}
# Bookkeeping fields nobody edits; derived fields such as the size class are shown.
_HIDDEN_FIELDS = {"id", "created_at", "updated_at", "search_text"}


def _derived_fields(record: Any) -> list[Any]:
    return [f for f in record.tracked_fields if not f.editable and f.name not in _HIDDEN_FIELDS]


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
    # A model may say how its own values read (e.g. need codes as their labels).
    describe = getattr(model, "history_value_display", None)
    if describe is not None:
        shown = describe(name, value)
        if shown is not None:
            return str(shown)
    if getattr(model_field, "choices", None):
        return str(dict(model_field.flatchoices).get(value, value))
    if isinstance(value, datetime):
        return formats.date_format(timezone.localtime(value), "d.m.Y H:i")
    if isinstance(value, date):
        return formats.date_format(value, "d.m.Y")
    if isinstance(model_field, models.BooleanField):
        return _("yes") if value else _("no")
    if isinstance(model_field, models.ForeignKey):
        return labels.get((name, value), f"#{value}")
    if isinstance(model_field, models.ManyToManyField):
        names = [labels.get((name, i), f"#{i}") for i in value]
        return ", ".join(sorted(names)) or "—"
    return str(value)


def _label(obj: Any) -> str:
    # People read names, not user names.
    full_name = getattr(obj, "get_full_name", None)
    return (full_name() if callable(full_name) else "") or str(obj)


def _m2m_snapshots(records: list[Any]) -> dict[str, dict[int, list[Any]]]:
    """For each tracked M2M field: history_id -> related ids, one query per field."""
    if not records:
        return {}
    historical_model = type(records[0])
    ids = [r.history_id for r in records]
    snapshots: dict[str, dict[int, list[Any]]] = {}
    for m2m_field in getattr(records[0], "_history_m2m_fields", []):
        # simple-history exposes the M2M snapshot model as a manager named like the field.
        through = getattr(historical_model, m2m_field.name).model
        target = m2m_field.m2m_reverse_field_name()
        rows: dict[int, list[Any]] = {i: [] for i in ids}
        for history_id, related_id in through.objects.filter(history_id__in=ids).values_list(
            "history_id", target
        ):
            rows[history_id].append(related_id)
        snapshots[m2m_field.name] = rows
    return snapshots


def history_page(instance: models.Model, page_number: Any) -> tuple[Page, list[HistoryEntry]]:
    """One page of an object's history, newest first, each entry diffed against the one before."""
    model = type(instance)
    qs = instance.history.select_related("history_user").order_by("-history_date", "-history_id")  # type: ignore[attr-defined]
    paginator = Paginator(qs, HISTORY_PAGE_SIZE)
    page = paginator.get_page(page_number)
    start = (page.number - 1) * HISTORY_PAGE_SIZE
    # One extra, older record so the last entry on the page has something to diff against.
    records = list(qs[start : start + HISTORY_PAGE_SIZE + 1])

    m2m_rows = _m2m_snapshots(records)
    diffs = []
    fk_ids: dict[str, set[Any]] = {}
    m2m_ids: dict[str, set[Any]] = {}
    for index, record in enumerate(records[:HISTORY_PAGE_SIZE]):
        older = records[index + 1] if index + 1 < len(records) else None
        changes = []
        if older is not None and record.history_type == "~":
            delta = record.diff_against(
                older,
                excluded_fields=_HIDDEN_FIELDS | set(m2m_rows),
                foreign_keys_are_objs=False,
            )
            changes = [(c.field, c.old, c.new) for c in delta.changes]
            for name, rows in m2m_rows.items():
                old_ids, new_ids = rows.get(older.history_id, []), rows.get(record.history_id, [])
                if sorted(old_ids) != sorted(new_ids):
                    changes.append((name, old_ids, new_ids))
            # diff_against skips non-editable fields; derived ones matter to readers.
            for f in _derived_fields(record):
                old, new = getattr(older, f.attname), getattr(record, f.attname)
                if old != new:
                    changes.append((f.name, old, new))
        elif record.history_type == "+":
            changes = [
                (f.name, None, getattr(record, f.attname))
                for f in model._meta.concrete_fields
                if f.name not in _HIDDEN_FIELDS
                and hasattr(record, f.attname)
                and getattr(record, f.attname) not in (None, "")
            ]
        for name, old, new in changes:
            try:
                model_field = model._meta.get_field(name)
            except FieldDoesNotExist:
                continue  # a field since removed from the model
            if isinstance(model_field, models.ForeignKey):
                fk_ids.setdefault(name, set()).update(v for v in (old, new) if v is not None)
            elif isinstance(model_field, models.ManyToManyField):
                m2m_ids.setdefault(name, set()).update([*(old or []), *(new or [])])
        diffs.append((record, changes))

    labels: dict[tuple[str, Any], str] = {}
    for name, ids in {**fk_ids, **m2m_ids}.items():
        related = model._meta.get_field(name).related_model
        for obj in related._default_manager.filter(pk__in=ids):  # type: ignore[union-attr]
            labels[(name, obj.pk)] = _label(obj)

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
