"""Use cases of the CRM core that touch several objects or must be audited."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.contrib.postgres.search import TrigramSimilarity, TrigramWordSimilarity
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import Q
from django.forms.models import model_to_dict
from django.utils import timezone
from django.utils.translation import gettext as _
from simple_history.utils import bulk_update_with_history

from .models import (
    Affiliation,
    ConsentRecord,
    MergeRecord,
    Note,
    Organisation,
    Person,
    Relationship,
    Topic,
)
from .search import fold_umlauts, is_postgres

User = AbstractBaseUser

# Legal-form words carry no identity: "Müller GmbH" and "Müller KG" are likely one firm.
_LEGAL_FORM_WORDS = re.compile(
    r"\b(gmbh|mbh|ag|kg|kgaa|ohg|gbr|ug|e\.?\s?k\.?|e\.?\s?v\.?|eg|se|co\.?|"
    r"haftungsbeschränkt|haftungsbeschraenkt|ltd\.?|inc\.?)\b|[&+,.()]"
)


class MergeError(Exception):
    """Two records cannot be merged; the message says why."""


def save_with_history(
    instance: models.Model, *, by: User | None, reason: str | None = None
) -> models.Model:
    """Save one object so its history row names the acting user (and why)."""
    instance._history_user = by  # type: ignore[attr-defined]
    if reason:
        instance._change_reason = reason  # type: ignore[attr-defined]
    # Fields not loaded are not saved either (Django then saves the loaded ones only);
    # checking them would read them first.
    instance.full_clean(exclude=instance.get_deferred_fields())
    instance.save()
    return instance


def delete_with_history(instance: models.Model, *, by: User | None) -> None:
    instance._history_user = by  # type: ignore[attr-defined]
    instance.delete()


# --- Organisations and people ---------------------------------------------------------


@transaction.atomic
def create_organisation(
    organisation: Organisation,
    *,
    by: User,
    offered_topics: Iterable[Topic] = (),
    needed_topics: Iterable[Topic] = (),
) -> Organisation:
    save_with_history(organisation, by=by)
    _set_topics(organisation, offered_topics, needed_topics, by=by)
    return organisation


@transaction.atomic
def update_organisation(
    organisation: Organisation,
    *,
    by: User,
    offered_topics: Iterable[Topic] | None = None,
    needed_topics: Iterable[Topic] | None = None,
) -> Organisation:
    save_with_history(organisation, by=by)
    _set_topics(organisation, offered_topics, needed_topics, by=by)
    return organisation


def _set_topics(
    organisation: Organisation,
    offered: Iterable[Topic] | None,
    needed: Iterable[Topic] | None,
    *,
    by: User,
) -> None:
    # simple-history records M2M changes through m2m_changed with the instance's user.
    organisation._history_user = by  # type: ignore[attr-defined]
    if offered is not None and set(offered) != set(organisation.offered_topics.all()):
        organisation.offered_topics.set(list(offered))
    if needed is not None and set(needed) != set(organisation.needed_topics.all()):
        organisation.needed_topics.set(list(needed))


@transaction.atomic
def bulk_update_organisations(
    organisations: list[Organisation],
    *,
    by: User,
    responsible_manager: User | None = None,
    status: str | None = None,
) -> int:
    """Assign a manager or set a status on many organisations; returns how many changed."""
    changed = []
    locked = Organisation.objects.select_for_update().filter(pk__in=[o.pk for o in organisations])
    for organisation in locked:
        before = (organisation.responsible_manager_id, organisation.status)
        if responsible_manager is not None:
            organisation.responsible_manager = responsible_manager
        if status:
            organisation.status = status
        if (organisation.responsible_manager_id, organisation.status) != before:
            organisation.updated_at = timezone.now()
            changed.append(organisation)
    if changed:
        bulk_update_with_history(
            changed,
            Organisation,
            ["responsible_manager", "status", "updated_at"],
            default_user=by,
            default_change_reason=_("Bulk change"),
        )
    return len(changed)


@transaction.atomic
def create_person(
    person: Person,
    *,
    by: User,
    organisation: Organisation | None = None,
    function: str = "",
) -> Person:
    """Create a person, optionally affiliated with an organisation (primary if it is the first)."""
    save_with_history(person, by=by)
    if organisation is not None:
        save_affiliation(
            Affiliation(
                person=person, organisation=organisation, function=function, is_primary=True
            ),
            by=by,
        )
    return person


@transaction.atomic
def end_affiliation(affiliation: Affiliation, *, by: User) -> Affiliation:
    affiliation = Affiliation.objects.select_for_update().get(pk=affiliation.pk)
    today = timezone.localdate()
    if affiliation.valid_until and affiliation.valid_until <= today:
        raise ValidationError(_("This affiliation has already ended."))
    affiliation.valid_until = today
    affiliation.is_primary = False
    if affiliation.valid_from and affiliation.valid_from > today:
        affiliation.valid_from = today
    return save_with_history(affiliation, by=by, reason=_("Affiliation ended"))  # type: ignore[return-value]


# --- Duplicates ----------------------------------------------------------------------


@dataclass(frozen=True)
class DuplicateCandidate:
    record: Organisation | Person
    reasons: tuple[str, ...]
    score: float


def name_key(name: str) -> str:
    """A name without legal form, punctuation or umlauts, for comparison."""
    stripped = _LEGAL_FORM_WORDS.sub(" ", name.lower())
    return " ".join(fold_umlauts(stripped).split())


def _similarity(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, name_key(a), name_key(b)).ratio()


def find_duplicate_organisations(
    *,
    name: str,
    email: str = "",
    website: str = "",
    register_number: str = "",
    exclude_pk: int | None = None,
    limit: int = 5,
) -> list[DuplicateCandidate]:
    """Likely duplicates of an organisation: similar name, same domain or register number."""
    probe = Organisation(name=name, email=email, website=website)
    domain = probe.email_domain
    found: dict[int, DuplicateCandidate] = {}

    def add(org: Organisation, reason: str, score: float) -> None:
        existing = found.get(org.pk)
        if existing:
            found[org.pk] = DuplicateCandidate(
                org, (*existing.reasons, reason), max(existing.score, score)
            )
        else:
            found[org.pk] = DuplicateCandidate(org, (reason,), score)

    base = Organisation.objects.select_related("municipality")
    if exclude_pk:
        base = base.exclude(pk=exclude_pk)
    if register_number.strip():
        for org in base.filter(register_number__iexact=register_number.strip())[:limit]:
            add(org, _("same register number"), 1.0)
    if domain and domain not in _PUBLIC_MAIL_DOMAINS:
        for org in base.filter(
            Q(email__iendswith="@" + domain)
            | Q(website__icontains="//" + domain)
            | Q(website__icontains="." + domain)
        )[:limit]:
            add(org, _("same email or web domain"), 0.9)
    key = name_key(name)
    if len(key) >= 3:
        if is_postgres():
            # Word similarity against the indexed search_text (name first, umlauts
            # folded) finds "Mueller Maschinenbau" and typos without an index of its own.
            candidates = (
                base.filter(search_text__trigram_word_similar=key)
                .annotate(
                    contained=TrigramWordSimilarity(key, "search_text"),
                    whole=TrigramSimilarity("name", name),
                )
                .order_by("-contained", "-whole")[: limit * 8]
            )
        else:
            first_word = max(key.split(), key=len)
            candidates = base.filter(search_text__contains=first_word)[:200]
        for org in candidates:
            score = _similarity(name, org.name)
            if score >= 0.6:
                add(org, _("similar name"), score)
    return sorted(found.values(), key=lambda c: -c.score)[:limit]


_PUBLIC_MAIL_DOMAINS = {
    "gmail.com",
    "googlemail.com",
    "web.de",
    "gmx.de",
    "gmx.net",
    "t-online.de",
    "outlook.com",
    "hotmail.com",
    "yahoo.de",
    "yahoo.com",
    "icloud.com",
    "posteo.de",
    "mailbox.org",
    "freenet.de",
    "arcor.de",
}


def find_duplicate_people(
    *,
    first_name: str,
    last_name: str,
    email: str = "",
    exclude_pk: int | None = None,
    limit: int = 5,
) -> list[DuplicateCandidate]:
    """Likely duplicates of a person: same email, or similar full name."""
    found: dict[int, DuplicateCandidate] = {}
    base = Person.objects.all()
    if exclude_pk:
        base = base.exclude(pk=exclude_pk)
    if email.strip():
        for person in base.filter(email__iexact=email.strip())[:limit]:
            found[person.pk] = DuplicateCandidate(person, (_("same email address"),), 1.0)
    full = f"{first_name} {last_name}".strip()
    if len(last_name.strip()) >= 2:
        if is_postgres():
            candidates = (
                base.filter(last_name__trigram_similar=last_name)
                .annotate(similarity=TrigramSimilarity("last_name", last_name))
                .order_by("-similarity")[: limit * 8]
            )
        else:
            prefix = last_name.strip().lower()[:3]
            candidates = base.filter(
                Q(last_name__istartswith=prefix)
                | Q(search_text__contains=fold_umlauts(last_name.strip()))
            )[:200]
        for person in candidates:
            score = _similarity(full, f"{person.first_name} {person.last_name}")
            if score >= 0.8 and person.pk not in found:
                found[person.pk] = DuplicateCandidate(person, (_("similar name"),), score)
    return sorted(found.values(), key=lambda c: -c.score)[:limit]


# --- Notes, affiliations, consent, relationships --------------------------------------


@transaction.atomic
def add_note(
    *, text: str, by: User, organisation: Organisation | None = None, person: Person | None = None
) -> Note:
    if not text.strip():
        raise ValidationError({"text": _("The note is empty.")})
    note = Note(organisation=organisation, person=person, text=text.strip(), author=by)
    save_with_history(note, by=by)
    return note


@transaction.atomic
def save_affiliation(affiliation: Affiliation, *, by: User) -> Affiliation:
    """Save an affiliation; marking it primary demotes the person's other primary one."""
    if affiliation.is_primary:
        others = Affiliation.objects.select_for_update().filter(
            person_id=affiliation.person_id, is_primary=True
        )
        if affiliation.pk:
            others = others.exclude(pk=affiliation.pk)
        for other in others:
            other.is_primary = False
            save_with_history(other, by=by)
    return save_with_history(affiliation, by=by)  # type: ignore[return-value]


@transaction.atomic
def record_consent(consent: ConsentRecord, *, by: User) -> ConsentRecord:
    consent.recorded_by = by
    return save_with_history(consent, by=by)  # type: ignore[return-value]


@transaction.atomic
def withdraw_consent(consent: ConsentRecord, *, by: User, at: Any = None) -> ConsentRecord:
    consent = ConsentRecord.objects.select_for_update().get(pk=consent.pk)
    if consent.withdrawn_at is not None:
        raise ValidationError(_("This consent has already been withdrawn."))
    consent.withdrawn_at = at or timezone.now()
    return save_with_history(consent, by=by, reason=_("Consent withdrawn"))  # type: ignore[return-value]


@transaction.atomic
def save_relationship(relationship: Relationship, *, by: User) -> Relationship:
    return save_with_history(relationship, by=by)  # type: ignore[return-value]


# --- Merging -------------------------------------------------------------------------


def _snapshot(instance: models.Model) -> dict[str, Any]:
    data = model_to_dict(instance)
    return {
        k: (v if isinstance(v, str | int | float | bool | type(None)) else str(v))
        for k, v in data.items()
    }


def _fill_blanks(survivor: models.Model, merged: models.Model, fields: list[str]) -> list[str]:
    """Copy values the survivor lacks from the merged record; returns the fields copied."""
    copied = []
    for field in fields:
        if getattr(survivor, field) in ("", None) and getattr(merged, field) not in ("", None):
            setattr(survivor, field, getattr(merged, field))
            copied.append(field)
    return copied


@transaction.atomic
def merge_organisations(survivor: Organisation, merged: Organisation, *, by: User) -> MergeRecord:
    """Merge ``merged`` into ``survivor``: relations, notes and history move over."""
    if survivor.pk == merged.pk:
        raise MergeError(_("An organisation cannot be merged with itself."))
    locked = {
        o.pk: o
        for o in Organisation.objects.select_for_update().filter(pk__in=[survivor.pk, merged.pk])
    }
    if len(locked) != 2:
        raise MergeError(_("One of the organisations no longer exists."))
    survivor, merged = locked[survivor.pk], locked[merged.pk]
    record = MergeRecord.objects.create(
        kind=MergeRecord.Kind.ORGANISATION,
        survivor_id=survivor.pk,
        merged_id=merged.pk,
        merged_label=merged.name,
        snapshot=_snapshot(merged),
        merged_by=by,
    )
    _fill_blanks(
        survivor,
        merged,
        [
            "legal_form",
            "employees",
            "sector",
            "founding_year",
            "street",
            "postal_code",
            "city",
            "municipality",
            "website",
            "email",
            "phone",
            "register_number",
            "external_id",
            "responsible_manager",
        ],
    )
    survivor.offered_topics.add(*merged.offered_topics.all())
    survivor.needed_topics.add(*merged.needed_topics.all())

    # Affiliations: a person affiliated with both keeps only the survivor's affiliation.
    already = set(survivor.affiliations.values_list("person_id", flat=True))
    for affiliation in merged.affiliations.all():
        if affiliation.person_id in already:
            affiliation._history_user = by  # type: ignore[attr-defined]
            affiliation.delete()
        else:
            affiliation.organisation = survivor
            save_with_history(affiliation, by=by, reason=_("Merged"))
    for rel in Relationship.objects.filter(Q(source=merged) | Q(target=merged)):
        if rel.source_id == merged.pk:
            rel.source = survivor
        if rel.target_id == merged.pk:
            rel.target = survivor
        rel._history_user = by  # type: ignore[attr-defined]
        if rel.source_id == rel.target_id:
            rel.delete()  # a relationship between the two merged records dissolves
        else:
            rel.save()
    for note in merged.notes.all():
        note.organisation = survivor
        save_with_history(note, by=by, reason=_("Merged"))
    _repoint_dependents(Organisation, merged, survivor, by=by)
    # The merged record's past becomes part of the survivor's history.
    Organisation.history.filter(id=merged.pk).update(id=survivor.pk)  # type: ignore[attr-defined]
    merged._history_user = by  # type: ignore[attr-defined]
    merged.delete()
    Organisation.history.filter(id=merged.pk).update(id=survivor.pk)  # type: ignore[attr-defined]
    save_with_history(
        survivor,
        by=by,
        reason=_("Merged with “%(name)s” (#%(id)s)") % {"name": merged.name, "id": merged.pk},
    )
    return record


@transaction.atomic
def merge_people(survivor: Person, merged: Person, *, by: User) -> MergeRecord:
    """Merge ``merged`` into ``survivor``: affiliations, consent, notes and history move."""
    if survivor.pk == merged.pk:
        raise MergeError(_("A person cannot be merged with themselves."))
    locked = {
        p.pk: p for p in Person.objects.select_for_update().filter(pk__in=[survivor.pk, merged.pk])
    }
    if len(locked) != 2:
        raise MergeError(_("One of the people no longer exists."))
    survivor, merged = locked[survivor.pk], locked[merged.pk]
    record = MergeRecord.objects.create(
        kind=MergeRecord.Kind.PERSON,
        survivor_id=survivor.pk,
        merged_id=merged.pk,
        merged_label=merged.full_name,
        snapshot=_snapshot(merged),
        merged_by=by,
    )
    _fill_blanks(
        survivor,
        merged,
        ["salutation", "title", "first_name", "email", "phone", "mobile", "external_id"],
    )
    survivor_orgs = set(survivor.affiliations.values_list("organisation_id", flat=True))
    survivor_has_primary = survivor.affiliations.filter(is_primary=True).exists()
    for affiliation in merged.affiliations.all():
        if affiliation.organisation_id in survivor_orgs:
            affiliation._history_user = by  # type: ignore[attr-defined]
            affiliation.delete()
            continue
        affiliation.person = survivor
        if survivor_has_primary:
            affiliation.is_primary = False
        save_with_history(affiliation, by=by, reason=_("Merged"))
    for consent in merged.consents.all():
        consent.person = survivor
        save_with_history(consent, by=by, reason=_("Merged"))
    for note in merged.notes.all():
        note.person = survivor
        save_with_history(note, by=by, reason=_("Merged"))
    _repoint_dependents(Person, merged, survivor, by=by)
    Person.history.filter(id=merged.pk).update(id=survivor.pk)  # type: ignore[attr-defined]
    merged._history_user = by  # type: ignore[attr-defined]
    merged.delete()
    Person.history.filter(id=merged.pk).update(id=survivor.pk)  # type: ignore[attr-defined]
    save_with_history(
        survivor,
        by=by,
        reason=_("Merged with “%(name)s” (#%(id)s)") % {"name": merged.full_name, "id": merged.pk},
    )
    return record


# Relations handled explicitly above; anything else pointing at a merged record
# (visits, requests from other apps) is re-pointed generically.
_HANDLED = {
    (Affiliation, "organisation"),
    (Affiliation, "person"),
    (Relationship, "source"),
    (Relationship, "target"),
    (Note, "organisation"),
    (Note, "person"),
    (ConsentRecord, "person"),
}


def _dependent_relations(model: type[models.Model]) -> list[Any]:
    relations = []
    for rel in model._meta.related_objects:
        if not (rel.one_to_many or rel.one_to_one):
            continue
        related = rel.related_model
        if (related, rel.field.name) in _HANDLED:
            continue
        if related.__name__.startswith("Historical") or related is MergeRecord:
            continue
        relations.append(rel)
    return relations


def _repoint_dependents(
    model: type[models.Model], merged: models.Model, survivor: models.Model, *, by: User
) -> None:
    for relation in _dependent_relations(model):
        name = relation.field.name
        for obj in relation.related_model._default_manager.filter(**{name: merged}):
            setattr(obj, name, survivor)
            obj._history_user = by
            obj._change_reason = _("Merged")
            obj.save()
