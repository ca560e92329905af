"""Access helpers for scouting records: return the object or raise.

A visit or follow-up the user may not see answers 404 (a confidential visit's
existence is itself private); one they see but may not change answers 403.
"""

from __future__ import annotations

import uuid as uuid_lib
from typing import Any, Literal

from django.core.exceptions import PermissionDenied
from django.http import Http404

from .models import FollowUp, Visit

Action = Literal["view", "change"]


def get_visit(user: Any, uuid: uuid_lib.UUID | str, *, action: Action = "view") -> Visit:
    if not user.has_perm("scouting.view_visit"):
        raise Http404
    visit = (
        Visit.objects.for_user(user)
        .select_related("organisation__municipality__district", "created_by", "guide_version")
        .filter(uuid=uuid)
        .first()
    )
    if visit is None:
        raise Http404
    if action == "change" and not (
        user.has_perm("scouting.change_visit") and visit.is_editable_by(user)
    ):
        raise PermissionDenied
    return visit


def get_follow_up(user: Any, pk: int) -> FollowUp:
    if not user.has_perm("scouting.view_followup"):
        raise Http404
    follow_up = (
        FollowUp.objects.for_user(user)
        .select_related(
            "visit", "organisation", "person", "assignee", "assigned_by", "created_by", "rule"
        )
        .filter(pk=pk)
        .first()
    )
    if follow_up is None:
        raise Http404
    return follow_up


def may_manage_follow_ups(user: Any) -> bool:
    return bool(user.has_perm("scouting.change_followup"))


def require(user: Any, perm: str) -> None:
    if not user.has_perm(perm):
        raise PermissionDenied
