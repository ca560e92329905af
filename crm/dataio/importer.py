"""The batch import engine: rows in, outcomes out, bulk writes with history.

Rows are handled in batches. Per batch the queries are fixed in number, whatever
the batch size: one lookup of the referenced municipalities or organisations,
one of the existing records the rows may match (and for people one of their
affiliations), then bulk inserts and updates that also write the history rows
naming the importing user (see ``writers``). Rows that change nothing are not
written at all.

Matching a row to an existing record, in this order: the CRM ID of an export,
the external ID, then the register number (organisations) or the email address
(people). A row with none of these matches by exact name (people: and, when
given, the organisation they belong to) if that name is unambiguous.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from django.contrib.auth.models import User
from django.db import models, transaction
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.models import Affiliation, ImportMapping, Municipality, Organisation, Person

from .fields import (
    AFFILIATION_KEYS,
    IGNORE,
    ORGANISATION_REFERENCE_KEYS,
    CellError,
    ImportField,
    cell_text,
    field_map,
    fields_for,
)
from .writers import create_with_history, update_with_history

CREATE = "create"
UPDATE = "update"
UNCHANGED = "unchanged"
REJECT = "reject"
ACTIONS = (CREATE, UPDATE, UNCHANGED, REJECT)

DEFAULT_BATCH_SIZE = 2000
# How many row outcomes a result keeps for display: rejected rows first.
MAX_REJECTED_KEPT = 5000
MAX_OTHERS_KEPT = 2000
_VALUE_SHOWN = 60

Progress = Callable[[str, int], None]
"""Called after each batch with the phase ("check" or "import") and rows done."""


class MappingError(ValueError):
    """The column mapping is incomplete or contradictory; the message says how."""


# --- Results -------------------------------------------------------------------------


@dataclass
class RowOutcome:
    line: int
    action: str
    label: str
    messages: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "line": self.line,
            "action": self.action,
            "label": self.label,
            "messages": self.messages,
        }


@dataclass
class ImportResult:
    """What an import did (or, as a check, would do), with counts and per-row outcomes."""

    target: str
    total_rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    written: bool = False
    rows: list[RowOutcome] = field(default_factory=list)
    rows_truncated: bool = False
    seconds: float = 0.0
    _kept_rejected: int = 0
    _kept_others: int = 0

    def add(self, outcome: RowOutcome) -> None:
        self.total_rows += 1
        if outcome.action == CREATE:
            self.created += 1
        elif outcome.action == UPDATE:
            self.updated += 1
        elif outcome.action == UNCHANGED:
            self.unchanged += 1
        else:
            self.rejected += 1
        if outcome.action == REJECT and self._kept_rejected < MAX_REJECTED_KEPT:
            self._kept_rejected += 1
            self.rows.append(outcome)
        elif outcome.action != REJECT and self._kept_others < MAX_OTHERS_KEPT:
            self._kept_others += 1
            self.rows.append(outcome)
        else:
            self.rows_truncated = True

    @property
    def rows_per_second(self) -> float:
        return self.total_rows / self.seconds if self.seconds else 0.0

    def as_summary(self) -> dict[str, Any]:
        return {
            "total_rows": self.total_rows,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
            "written": self.written,
            "seconds": round(self.seconds, 3),
            "rows_truncated": self.rows_truncated,
            "rows": [r.as_dict() for r in sorted(self.rows, key=lambda r: r.line)],
        }


# --- Columns and rows ----------------------------------------------------------------


@dataclass(frozen=True)
class BoundColumn:
    index: int
    header: str
    spec: ImportField


def bind_columns(target: str, headers: list[str], columns: dict[Any, str]) -> list[BoundColumn]:
    """Resolve a mapping (column index or heading → field key) against a file's headings.

    Raises MappingError when a required field is not mapped, a field is mapped
    twice or a key or column is unknown.
    """
    specs = field_map(target)
    bound: list[BoundColumn] = []
    used: dict[str, str] = {}
    for column, key in columns.items():
        if not key or key == IGNORE:
            continue
        if key not in specs:
            raise MappingError(_("“%(key)s” is not a field that can be imported.") % {"key": key})
        index = _column_index(headers, column)
        header = headers[index]
        if key in used:
            raise MappingError(
                _("The columns “%(first)s” and “%(second)s” are both assigned to %(field)s.")
                % {"first": used[key], "second": header, "field": specs[key].label}
            )
        used[key] = header
        bound.append(BoundColumn(index=index, header=header, spec=specs[key]))
    missing = [str(specs[k].label) for k in specs if specs[k].required and k not in used]
    if missing:
        raise MappingError(
            _("Please assign a column to the required field: %(fields)s.")
            % {"fields": ", ".join(missing)}
        )
    return sorted(bound, key=lambda b: b.index)


def _column_index(headers: list[str], column: Any) -> int:
    if isinstance(column, int) or (isinstance(column, str) and column.isdigit()):
        index = int(column)
        if 0 <= index < len(headers):
            return index
    elif column in headers:
        return headers.index(column)
    raise MappingError(_("The file has no column “%(column)s”.") % {"column": column})


@dataclass
class ParsedRow:
    line: int
    values: dict[str, Any]
    errors: list[str]
    columns: dict[str, str]  # field key → heading, for messages


def _shown(value: object) -> str:
    text = cell_text(value) if not isinstance(value, str) else value
    return text if len(text) <= _VALUE_SHOWN else text[: _VALUE_SHOWN - 1] + "…"


def parse_row(
    line: int,
    cells: list[Any],
    bound: list[BoundColumn],
    headers: dict[str, str] | None = None,
) -> ParsedRow:
    """The row's non-empty cells parsed into field values, and what was wrong with it.

    ``headers`` (field key → column heading) can be passed to share one dict per file.
    """
    values: dict[str, Any] = {}
    errors: list[str] = []
    width = len(cells)
    for column in bound:
        index = column.index
        raw = cells[index] if index < width else None
        # Plain text is the common case; cell_text handles numbers, dates and NUL bytes.
        if type(raw) is str and "\x00" not in raw and not raw.startswith("'"):
            text = raw.strip()
        else:
            text = cell_text(raw) if raw is not None else ""
        spec = column.spec
        if not text:
            if spec.required:
                errors.append(
                    _("Column “%(column)s” is empty, but %(field)s is required.")
                    % {"column": column.header, "field": spec.label}
                )
            continue
        try:
            values[spec.key] = spec.parse(raw, text)
        except CellError as exc:
            errors.append(
                _("Column “%(column)s”, value “%(value)s”: %(problem)s")
                % {"column": column.header, "value": _shown(text), "problem": exc}
            )
    if headers is None:
        headers = {c.spec.key: c.header for c in bound}
    return ParsedRow(line=line, values=values, errors=errors, columns=headers)


def batched(iterable: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(iterable)
    while batch := list(islice(iterator, size)):
        yield batch


# --- Shared matching logic -----------------------------------------------------------


@dataclass
class _FileState:
    """What earlier rows of the same file claimed: keys seen and records matched."""

    seen: dict[tuple[str, str], int] = field(default_factory=dict)
    matched: dict[int, int] = field(default_factory=dict)


def _group(records: Iterable[Any], key: Callable[[Any], str]) -> dict[str, list[Any]]:
    grouped: dict[str, list[Any]] = defaultdict(list)
    for record in records:
        value = key(record)
        if value:
            grouped[value].append(record)
    return grouped


def _display(value: Any) -> str:
    if value is None or value == "":
        return "–"
    return _shown(str(value))


class _Builder:
    """Makes unsaved model instances from attribute values, with the model's defaults.

    Positional construction skips Django's keyword handling, which costs more than
    the rest of planning a row; the defaults (e.g. ``created_at``) are taken once.
    """

    def __init__(self, model: type[models.Model]) -> None:
        self.model = model
        fields = model._meta.concrete_fields
        self.position = {f.attname: i for i, f in enumerate(fields)}
        self.template = [None if f.primary_key else f.get_default() for f in fields]

    def build(self, attrs: dict[str, Any]) -> Any:
        args = self.template.copy()
        position = self.position
        for attname, value in attrs.items():
            args[position[attname]] = value
        return self.model(*args)


class _Importer(ABC):
    """One import pass over a file's rows; subclasses know their model."""

    model: type[models.Model]
    # (field key, how it is told apart, message when two rows share it)
    duplicate_keys: tuple[tuple[str, Callable[[Any], str]], ...] = ()

    def __init__(
        self,
        *,
        bound: list[BoundColumn],
        by: User | None,
        write: bool,
        change_reason: str,
    ) -> None:
        self.bound = bound
        self.by = by
        self.write = write
        self.change_reason = change_reason
        self.mapped = {c.spec.key for c in bound}
        self.specs = {c.spec.key: c.spec for c in bound}
        self.state = _FileState()
        self.changed_attrs: set[str] = set()

    # Template for subclasses: plan a batch of valid rows, then write it.
    @abstractmethod
    def plan(self, rows: list[ParsedRow]) -> list[RowOutcome]: ...

    @abstractmethod
    def flush(self) -> None: ...

    def process(self, rows: list[ParsedRow]) -> list[RowOutcome]:
        outcomes: dict[int, RowOutcome] = {}
        valid: list[ParsedRow] = []
        for row in rows:
            duplicate = self._duplicate_messages(row)
            if row.errors or duplicate:
                outcomes[row.line] = RowOutcome(
                    row.line, REJECT, self.label(row.values), row.errors + duplicate
                )
            else:
                valid.append(row)
        for outcome in self.plan(valid):
            outcomes[outcome.line] = outcome
        return [outcomes[row.line] for row in rows]

    @abstractmethod
    def label(self, values: dict[str, Any]) -> str: ...

    def _duplicate_messages(self, row: ParsedRow) -> list[str]:
        messages = []
        for key, normalise in self.duplicate_keys:
            value = row.values.get(key)
            if value in (None, ""):
                continue
            seen_key = (key, normalise(value))
            first = self.state.seen.get(seen_key)
            if first is None:
                self.state.seen[seen_key] = row.line
            else:
                messages.append(
                    _("Column “%(column)s”: “%(value)s” already appears in row %(line)d.")
                    % {"column": row.columns[key], "value": _shown(value), "line": first}
                )
        return messages

    def _claim(self, row: ParsedRow, record: models.Model) -> str | None:
        """Refuse a second row of the file that updates the same record."""
        first = self.state.matched.get(record.pk)
        if first is not None:
            return _("Row %(line)d of this file already updates the same record.") % {"line": first}
        self.state.matched[record.pk] = row.line
        return None

    @staticmethod
    def _match(
        row: ParsedRow, candidates: list[tuple[str, list[Any]]], noun: str
    ) -> tuple[Any, str | None]:
        """The one record the row's keys point to, or a reason why there is none.

        ``candidates`` lists, by priority, (key, records having the row's value).
        """
        found: list[tuple[str, Any]] = []
        for key, records in candidates:
            if len(records) > 1:
                return None, _(
                    "Column “%(column)s”: %(count)d existing %(noun)s have “%(value)s”; "
                    "please clean up the duplicates first."
                ) % {
                    "column": row.columns.get(key, key),
                    "count": len(records),
                    "noun": noun,
                    "value": _shown(row.values.get(key, "")),
                }
            if records:
                found.append((key, records[0]))
        distinct = {record.pk for _key, record in found}
        if len(distinct) > 1:
            return None, _("The columns %(columns)s point to different existing records.") % {
                "columns": ", ".join(f"“{row.columns.get(k, k)}”" for k, _r in found)
            }
        return (found[0][1] if found else None), None

    def _apply(
        self, record: models.Model, values: dict[str, Any], keys: Iterable[str]
    ) -> list[str]:
        """Set the row's non-empty values on ``record``; describe what changed.

        The changed attributes are added to ``self.changed_attrs``: only they are written.
        """
        changes = []
        for key in keys:
            if key not in values:
                continue
            spec = self.specs[key]
            attr = spec.attr
            assert attr is not None
            old = getattr(record, attr)
            new = values[key]
            if old != new:
                setattr(record, attr, new)
                self.changed_attrs.add(attr)
                changes.append(
                    _("%(field)s: %(old)s → %(new)s")
                    % {"field": spec.label, "old": _display(old), "new": _display(new)}
                )
        return changes


# --- Organisations -------------------------------------------------------------------

_ORG_ATTR_KEYS = tuple(
    f.key for f in fields_for(ImportMapping.Target.ORGANISATIONS) if f.attr is not None
)


class OrganisationImporter(_Importer):
    model = Organisation
    duplicate_keys = (
        ("crm_id", str),
        ("external_id", str),
        ("register_number", str.lower),
    )

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.attr_keys = [k for k in _ORG_ATTR_KEYS if k in self.mapped]
        self.builder = _Builder(Organisation)
        self.to_create: list[Organisation] = []
        self.to_update: list[Organisation] = []

    def label(self, values: dict[str, Any]) -> str:
        return str(values.get("name", "")) or "–"

    @staticmethod
    def _is_keyless(values: dict[str, Any]) -> bool:
        return not any(values.get(k) for k in ("crm_id", "external_id", "register_number"))

    def _duplicate_messages(self, row: ParsedRow) -> list[str]:
        messages = super()._duplicate_messages(row)
        if not messages and self._is_keyless(row.values) and row.values.get("name"):
            # Without any key a row is matched by name, so a name may appear only once.
            seen_key = ("name", row.values["name"].lower())
            first = self.state.seen.setdefault(seen_key, row.line)
            if first != row.line:
                messages.append(
                    _(
                        "Row %(line)d has the same name and neither has an external ID or "
                        "register number to tell them apart."
                    )
                    % {"line": first}
                )
        return messages

    def _municipalities(
        self, rows: list[ParsedRow]
    ) -> tuple[dict[str, Municipality], dict[str, list[Municipality]]]:
        keys = {r.values["municipality_ags"] for r in rows if "municipality_ags" in r.values}
        names = {
            r.values["municipality_name"].lower() for r in rows if "municipality_name" in r.values
        }
        if not keys and not names:
            return {}, {}
        found = list(
            Municipality.objects.annotate(name_lower=Lower("name"))
            .filter(Q(ags__in=keys) | Q(name_lower__in=names))
            .only("id", "ags", "name")
            .order_by()
        )
        return {m.ags: m for m in found}, _group(found, lambda m: m.name.lower())

    def _resolve_municipality(
        self,
        row: ParsedRow,
        by_ags: dict[str, Municipality],
        by_name: dict[str, list[Municipality]],
    ) -> tuple[Municipality | None, str | None]:
        if "municipality_ags" in row.values:
            ags = row.values["municipality_ags"]
            if ags not in by_ags:
                return None, _(
                    "Column “%(column)s”, value “%(value)s”: no municipality has this key."
                ) % {"column": row.columns["municipality_ags"], "value": ags}
            return by_ags[ags], None
        if "municipality_name" in row.values:
            name = row.values["municipality_name"]
            matches = by_name.get(name.lower(), [])
            if len(matches) != 1:
                problem = (
                    _("no municipality has this name.")
                    if not matches
                    else _("several municipalities have this name; use the AGS instead.")
                )
                return None, _("Column “%(column)s”, value “%(value)s”: %(problem)s") % {
                    "column": row.columns["municipality_name"],
                    "value": _shown(name),
                    "problem": problem,
                }
            return matches[0], None
        return None, None

    def _existing(self, rows: list[ParsedRow]) -> list[Organisation]:
        pks = {r.values["crm_id"] for r in rows if "crm_id" in r.values}
        external = {r.values["external_id"] for r in rows if "external_id" in r.values}
        registers = {r.values["register_number"] for r in rows if "register_number" in r.values}
        names = {r.values["name"] for r in rows if self._is_keyless(r.values)}
        condition = Q()
        for lookup, values in (
            ("pk__in", pks),
            ("external_id__in", external),
            ("register_number__in", registers),
            ("name__in", names),
        ):
            if values:
                condition |= Q(**{lookup: values})
        if not condition:
            return []
        return list(Organisation.objects.filter(condition).order_by())

    def plan(self, rows: list[ParsedRow]) -> list[RowOutcome]:
        if not rows:
            return []
        by_ags, by_muni_name = self._municipalities(rows)
        existing = self._existing(rows)
        by_pk = {o.pk: o for o in existing}
        by_external = _group(existing, lambda o: o.external_id)
        by_register = _group(existing, lambda o: o.register_number)
        by_name = _group(existing, lambda o: o.name)
        noun = _("organisations")
        outcomes = []
        for row in rows:
            values = row.values
            label = self.label(values)
            municipality, problem = self._resolve_municipality(row, by_ags, by_muni_name)
            if problem:
                outcomes.append(RowOutcome(row.line, REJECT, label, [problem]))
                continue
            if "crm_id" in values and values["crm_id"] not in by_pk:
                outcomes.append(
                    RowOutcome(
                        row.line,
                        REJECT,
                        label,
                        [
                            _("Column “%(column)s”: there is no organisation with CRM ID %(id)s.")
                            % {"column": row.columns["crm_id"], "id": values["crm_id"]}
                        ],
                    )
                )
                continue
            candidates = [
                ("crm_id", [by_pk[values["crm_id"]]] if "crm_id" in values else []),
                ("external_id", by_external.get(values.get("external_id", ""), [])),
                ("register_number", by_register.get(values.get("register_number", ""), [])),
            ]
            if self._is_keyless(values):
                candidates.append(("name", by_name.get(values["name"], [])))
            record, problem = self._match(row, candidates, noun)
            if problem is None and record is not None:
                problem = self._conflicting_external_id(row, record) or self._claim(row, record)
            if problem:
                outcomes.append(RowOutcome(row.line, REJECT, label, [problem]))
                continue
            if record is None:
                outcomes.append(self._plan_create(row, municipality))
            else:
                outcomes.append(self._plan_update(row, record, municipality))
        return outcomes

    def _conflicting_external_id(self, row: ParsedRow, record: Organisation) -> str | None:
        new = row.values.get("external_id")
        if new and record.external_id and record.external_id != new:
            return _(
                "The organisation found (“%(name)s”) has the external ID “%(old)s”, "
                "the file says “%(new)s”."
            ) % {"name": _shown(record.name), "old": record.external_id, "new": _shown(new)}
        return None

    def _plan_create(self, row: ParsedRow, municipality: Municipality | None) -> RowOutcome:
        if self.write:
            values = row.values
            attrs = {str(self.specs[k].attr): values[k] for k in self.attr_keys if k in values}
            if municipality is not None:
                attrs["municipality_id"] = municipality.pk
            organisation = self.builder.build(attrs)
            organisation.refresh_derived_fields()  # save() is bypassed by the bulk insert
            self.to_create.append(organisation)
        return RowOutcome(row.line, CREATE, self.label(row.values))

    def _plan_update(
        self, row: ParsedRow, record: Organisation, municipality: Municipality | None
    ) -> RowOutcome:
        changes = self._apply(record, row.values, self.attr_keys)
        if municipality is not None and record.municipality_id != municipality.pk:
            old = record.municipality_id
            record.municipality = municipality
            changes.append(
                _("%(field)s: %(old)s → %(new)s")
                % {
                    "field": _("municipality"),
                    "old": _("#%(id)s") % {"id": old} if old else "–",
                    "new": municipality.name,
                }
            )
            self.changed_attrs.add("municipality")
        if not changes:
            return RowOutcome(row.line, UNCHANGED, record.name)
        record.refresh_derived_fields()
        record.updated_at = timezone.now()
        self.to_update.append(record)
        return RowOutcome(row.line, UPDATE, record.name, changes)

    def flush(self) -> None:
        if self.write:
            create_with_history(self.to_create, Organisation, by=self.by, reason=self.change_reason)
            update_with_history(
                self.to_update,
                Organisation,
                fields=sorted(self.changed_attrs) + ["search_text", "size_class", "updated_at"],
                by=self.by,
                reason=self.change_reason,
            )
        self.to_create, self.to_update, self.changed_attrs = [], [], set()


# --- People with affiliations --------------------------------------------------------

_PERSON_ATTR_KEYS = tuple(
    f.key
    for f in fields_for(ImportMapping.Target.PEOPLE)
    if f.attr is not None and f.key not in AFFILIATION_KEYS
)


class PersonImporter(_Importer):
    model = Person
    duplicate_keys = (
        ("crm_id", str),
        ("external_id", str),
        ("email", str.lower),
    )

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.attr_keys = [k for k in _PERSON_ATTR_KEYS if k in self.mapped]
        self.builder = _Builder(Person)
        self.affiliation_keys = [k for k in AFFILIATION_KEYS if k in self.mapped]
        self.references = [k for k in ORGANISATION_REFERENCE_KEYS if k in self.mapped]
        self.to_create: list[Person] = []
        self.to_update: list[Person] = []
        # (person, or its index in to_create, organisation, function, department)
        self.new_affiliations: list[tuple[Person, Organisation, dict[str, Any]]] = []
        self.changed_affiliations: list[Affiliation] = []
        self.affiliation_fields: set[str] = set()

    def label(self, values: dict[str, Any]) -> str:
        name = " ".join(
            str(values[k]) for k in ("title", "first_name", "last_name") if values.get(k)
        )
        email = values.get("email")
        return f"{name} <{email}>" if name and email else (name or email or "–")

    @staticmethod
    def _is_keyless(values: dict[str, Any]) -> bool:
        return not any(values.get(k) for k in ("crm_id", "external_id", "email"))

    @staticmethod
    def _name_key(first: str, last: str) -> str:
        return f"{first.strip().lower()}\x1f{last.strip().lower()}"

    def _duplicate_messages(self, row: ParsedRow) -> list[str]:
        messages = super()._duplicate_messages(row)
        values = row.values
        if not messages and self._is_keyless(values) and values.get("last_name"):
            # Without a key a row is matched by name (and organisation): once per file.
            seen_key = (
                "name",
                "\x1f".join(
                    [self._name_key(values.get("first_name", ""), values["last_name"])]
                    + [str(values.get(k, "")).lower() for k in self.references]
                ),
            )
            first = self.state.seen.setdefault(seen_key, row.line)
            if first != row.line:
                messages.append(
                    _(
                        "Row %(line)d has the same name and neither has an email address or "
                        "external ID to tell them apart."
                    )
                    % {"line": first}
                )
        return messages

    def _organisations(self, rows: list[ParsedRow]) -> dict[str, dict[str, list[Organisation]]]:
        wanted = {k: {r.values[k] for r in rows if k in r.values} for k in self.references}
        lookups = {
            "organisation_external_id": "external_id__in",
            "organisation_register_number": "register_number__in",
            "organisation_name": "name__in",
        }
        condition = Q()
        for key, values in wanted.items():
            if values:
                condition |= Q(**{lookups[key]: values})
        if not condition:
            return {}
        found = list(
            Organisation.objects.filter(condition)
            .only("id", "name", "external_id", "register_number")
            .order_by()
        )
        return {
            "organisation_external_id": _group(found, lambda o: o.external_id),
            "organisation_register_number": _group(found, lambda o: o.register_number),
            "organisation_name": _group(found, lambda o: o.name),
        }

    def _resolve_organisation(
        self, row: ParsedRow, index: dict[str, dict[str, list[Organisation]]]
    ) -> tuple[Organisation | None, str | None]:
        chosen: Organisation | None = None
        for key in self.references:
            value = row.values.get(key)
            if not value:
                continue
            matches = index.get(key, {}).get(value, [])
            problem = None
            if not matches:
                problem = _("no organisation found.")
            elif len(matches) > 1:
                problem = _("%(count)d organisations match; use an unambiguous column.") % {
                    "count": len(matches)
                }
            elif chosen is not None and chosen.pk != matches[0].pk:
                problem = _("points to another organisation than the other columns.")
            if problem:
                return None, _("Column “%(column)s”, value “%(value)s”: %(problem)s") % {
                    "column": row.columns[key],
                    "value": _shown(value),
                    "problem": problem,
                }
            chosen = chosen or matches[0]
        return chosen, None

    def _existing(self, rows: list[ParsedRow]) -> list[Person]:
        pks = {r.values["crm_id"] for r in rows if "crm_id" in r.values}
        external = {r.values["external_id"] for r in rows if "external_id" in r.values}
        emails = {r.values["email"].lower() for r in rows if "email" in r.values}
        last_names = {
            r.values["last_name"].strip().lower() for r in rows if self._is_keyless(r.values)
        }
        condition = Q()
        for lookup, values in (
            ("pk__in", pks),
            ("external_id__in", external),
            ("email_lower__in", emails),
            ("last_name_lower__in", last_names),
        ):
            if values:
                condition |= Q(**{lookup: values})
        if not condition:
            return []
        return list(
            Person.objects.annotate(email_lower=Lower("email"), last_name_lower=Lower("last_name"))
            .filter(condition)
            .order_by()
        )

    def plan(self, rows: list[ParsedRow]) -> list[RowOutcome]:
        if not rows:
            return []
        organisations = self._organisations(rows) if self.references else {}
        existing = self._existing(rows)
        affiliations: dict[int, list[Affiliation]] = defaultdict(list)
        if self.references and existing:
            linked = Affiliation.objects.filter(person__in=[p.pk for p in existing]).order_by()
            for affiliation in linked:
                affiliations[affiliation.person_id].append(affiliation)
        by_pk = {p.pk: p for p in existing}
        by_external = _group(existing, lambda p: p.external_id)
        by_email = _group(existing, lambda p: p.email.lower())
        by_name = _group(existing, lambda p: self._name_key(p.first_name, p.last_name))
        noun = _("people")
        outcomes = []
        for row in rows:
            values = row.values
            label = self.label(values)
            organisation, problem = self._resolve_organisation(row, organisations)
            if (
                problem is None
                and organisation is None
                and any(values.get(k) for k in self.affiliation_keys)
            ):
                problem = _("A function or department is given, but no organisation to belong to.")
            if problem is None and "crm_id" in values and values["crm_id"] not in by_pk:
                problem = _("Column “%(column)s”: there is no person with CRM ID %(id)s.") % {
                    "column": row.columns["crm_id"],
                    "id": values["crm_id"],
                }
            if problem:
                outcomes.append(RowOutcome(row.line, REJECT, label, [problem]))
                continue
            candidates = [
                ("crm_id", [by_pk[values["crm_id"]]] if "crm_id" in values else []),
                ("external_id", by_external.get(values.get("external_id", ""), [])),
                ("email", by_email.get(values.get("email", "").lower(), [])),
            ]
            if self._is_keyless(values):
                namesakes = by_name.get(
                    self._name_key(values.get("first_name", ""), values["last_name"]), []
                )
                if organisation is not None:
                    # Same name at the same organisation: the same person.
                    namesakes = [
                        p
                        for p in namesakes
                        if any(a.organisation_id == organisation.pk for a in affiliations[p.pk])
                    ]
                candidates.append(("last_name", namesakes))
            record, problem = self._match(row, candidates, noun)
            if problem is None and record is not None:
                problem = self._conflicting_external_id(row, record) or self._claim(row, record)
            if problem:
                outcomes.append(RowOutcome(row.line, REJECT, label, [problem]))
                continue
            if record is None:
                outcomes.append(self._plan_create(row, organisation))
            else:
                outcomes.append(
                    self._plan_update(row, record, organisation, affiliations[record.pk])
                )
        return outcomes

    def _conflicting_external_id(self, row: ParsedRow, record: Person) -> str | None:
        new = row.values.get("external_id")
        if new and record.external_id and record.external_id != new:
            return _(
                "The person found (“%(name)s”) has the external ID “%(old)s”, "
                "the file says “%(new)s”."
            ) % {"name": _shown(record.full_name), "old": record.external_id, "new": _shown(new)}
        return None

    def _affiliation_values(self, values: dict[str, Any]) -> dict[str, Any]:
        return {k: values[k] for k in self.affiliation_keys if k in values}

    def _plan_create(self, row: ParsedRow, organisation: Organisation | None) -> RowOutcome:
        values = row.values
        person = self.builder.build(
            {self.specs[k].attr: values[k] for k in self.attr_keys if k in values}  # type: ignore[misc]
        )
        person.refresh_derived_fields()
        self.to_create.append(person)
        messages = []
        if organisation is not None:
            self.new_affiliations.append(
                (person, organisation, self._affiliation_values(row.values) | {"primary": True})
            )
            messages.append(
                _("New affiliation with “%(organisation)s”.") % {"organisation": organisation.name}
            )
        return RowOutcome(row.line, CREATE, self.label(row.values), messages)

    def _plan_update(
        self,
        row: ParsedRow,
        record: Person,
        organisation: Organisation | None,
        affiliations: list[Affiliation],
    ) -> RowOutcome:
        changes = self._apply(record, row.values, self.attr_keys)
        if changes:
            record.refresh_derived_fields()
            record.updated_at = timezone.now()
            self.to_update.append(record)
        if organisation is not None:
            changes += self._plan_affiliation(row, record, organisation, affiliations)
        if not changes:
            return RowOutcome(row.line, UNCHANGED, record.full_name)
        return RowOutcome(row.line, UPDATE, record.full_name, changes)

    def _plan_affiliation(
        self,
        row: ParsedRow,
        person: Person,
        organisation: Organisation,
        affiliations: list[Affiliation],
    ) -> list[str]:
        values = self._affiliation_values(row.values)
        current = next((a for a in affiliations if a.organisation_id == organisation.pk), None)
        if current is None:
            has_primary = any(a.is_primary for a in affiliations)
            self.new_affiliations.append(
                (person, organisation, values | {"primary": not has_primary})
            )
            return [
                _("New affiliation with “%(organisation)s”.") % {"organisation": organisation.name}
            ]
        changes = []
        for key, value in values.items():
            if getattr(current, key) != value:
                changes.append(
                    _("%(field)s: %(old)s → %(new)s")
                    % {
                        "field": self.specs[key].label,
                        "old": _display(getattr(current, key)),
                        "new": _display(value),
                    }
                )
                setattr(current, key, value)
                self.affiliation_fields.add(key)
        if changes:
            self.changed_affiliations.append(current)
        return changes

    def flush(self) -> None:
        if self.write:
            create_with_history(self.to_create, Person, by=self.by, reason=self.change_reason)
            update_with_history(
                self.to_update,
                Person,
                fields=sorted(self.changed_attrs) + ["search_text", "updated_at"],
                by=self.by,
                reason=self.change_reason,
            )
            new = [
                Affiliation(
                    person=person,
                    organisation=organisation,
                    function=values.get("function", ""),
                    department=values.get("department", ""),
                    is_primary=values["primary"],
                )
                for person, organisation, values in self.new_affiliations
            ]
            create_with_history(new, Affiliation, by=self.by, reason=self.change_reason)
            update_with_history(
                self.changed_affiliations,
                Affiliation,
                fields=sorted(self.affiliation_fields),
                by=self.by,
                reason=self.change_reason,
            )
        self.to_create, self.to_update, self.changed_attrs = [], [], set()
        self.new_affiliations, self.changed_affiliations = [], []
        self.affiliation_fields = set()


IMPORTERS: dict[str, type[_Importer]] = {
    ImportMapping.Target.ORGANISATIONS: OrganisationImporter,
    ImportMapping.Target.PEOPLE: PersonImporter,
}


# --- Passes --------------------------------------------------------------------------


def run_pass(
    rows: Iterable[tuple[int, list[Any]]],
    *,
    target: str,
    bound: list[BoundColumn],
    by: User | None,
    write: bool,
    allow_partial: bool,
    change_reason: str,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Progress | None = None,
) -> ImportResult:
    """Check (``write=False``) or import every row, batch by batch.

    Writing with ``allow_partial`` commits each batch's valid rows. Without it the
    whole import is one transaction: after the first rejected row the remaining
    rows are only checked, and at the end everything is rolled back, so the
    result lists every problem and nothing is written.
    """
    started = time.monotonic()
    importer = IMPORTERS[target](bound=bound, by=by, write=write, change_reason=change_reason)
    result = ImportResult(target=target)
    headers = {c.spec.key: c.header for c in bound}
    phase = "import" if write else "check"

    def process(batch: list[tuple[int, list[Any]]]) -> None:
        parsed = [parse_row(line, cells, bound, headers) for line, cells in batch]
        outcomes = importer.process(parsed)
        if not allow_partial and any(o.action == REJECT for o in outcomes):
            importer.write = False
        importer.flush()
        for outcome in outcomes:
            result.add(outcome)
        if progress:
            progress(phase, result.total_rows)

    if not write:
        for batch in batched(rows, batch_size):
            process(batch)
    elif allow_partial:
        for batch in batched(rows, batch_size):
            with transaction.atomic():
                process(batch)
        result.written = True
    else:
        with transaction.atomic():
            for batch in batched(rows, batch_size):
                process(batch)
            if result.rejected:
                transaction.set_rollback(True)
            else:
                result.written = True
    result.seconds = time.monotonic() - started
    return result
