"""One access helper per object type: return the object or raise.

Someone who may not see a kind of record at all gets a 404, so that the
existence of a person or organisation is not revealed; someone who may see it
but not perform the action gets a 403.
"""

from __future__ import annotations

from typing import Literal

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404

from .models import Affiliation, ConsentRecord, Note, Organisation, Person, Relationship

Action = Literal["view", "change", "delete", "merge"]
User = AbstractBaseUser | AnonymousUser


def _require(user: User, app_model: str, action: Action) -> None:
    app, model = app_model.split(".")
    if not user.has_perm(f"{app}.view_{model}"):
        raise Http404
    if action != "view" and not user.has_perm(f"{app}.{action}_{model}"):
        raise PermissionDenied


def require_permission(user: User, perm: str) -> None:
    if not user.has_perm(perm):
        raise PermissionDenied


def organisations_for(user: User) -> QuerySet[Organisation]:
    if not user.has_perm("crm.view_organisation"):
        return Organisation.objects.none()
    return Organisation.objects.all()


def people_for(user: User) -> QuerySet[Person]:
    if not user.has_perm("crm.view_person"):
        return Person.objects.none()
    return Person.objects.all()


def get_organisation(user: User, pk: int, *, action: Action = "view") -> Organisation:
    _require(user, "crm.organisation", action)
    try:
        return Organisation.objects.select_related(
            "municipality__district", "responsible_manager"
        ).get(pk=pk)
    except (Organisation.DoesNotExist, ValueError, OverflowError):
        raise Http404 from None


def get_person(user: User, pk: int, *, action: Action = "view") -> Person:
    _require(user, "crm.person", action)
    try:
        return Person.objects.get(pk=pk)
    except (Person.DoesNotExist, ValueError, OverflowError):
        raise Http404 from None


def get_affiliation(user: User, pk: int, *, action: Action = "view") -> Affiliation:
    _require(user, "crm.affiliation", action)
    try:
        return Affiliation.objects.select_related("person", "organisation").get(pk=pk)
    except (Affiliation.DoesNotExist, ValueError, OverflowError):
        raise Http404 from None


def get_relationship(user: User, pk: int, *, action: Action = "view") -> Relationship:
    _require(user, "crm.relationship", action)
    try:
        return Relationship.objects.select_related("source", "target").get(pk=pk)
    except (Relationship.DoesNotExist, ValueError, OverflowError):
        raise Http404 from None


def get_consent(user: User, pk: int, *, action: Action = "view") -> ConsentRecord:
    _require(user, "crm.consentrecord", action)
    try:
        return ConsentRecord.objects.select_related("person").get(pk=pk)
    except (ConsentRecord.DoesNotExist, ValueError, OverflowError):
        raise Http404 from None


def get_note(user: User, pk: int, *, action: Action = "view") -> Note:
    _require(user, "crm.note", action)
    try:
        return Note.objects.get(pk=pk)
    except (Note.DoesNotExist, ValueError, OverflowError):
        raise Http404 from None
