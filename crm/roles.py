"""The four user roles, as Django groups with a fixed set of permissions."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, Group, Permission
from django.utils.translation import gettext_lazy as _


class Role(StrEnum):
    SCOUT = "scout"
    NETWORK_MANAGER = "network_manager"
    ADMINISTRATION = "administration"
    FUNDING_VIEWER = "funding_viewer"

    @property
    def group_name(self) -> str:
        return GROUP_NAMES[self]

    @property
    def label(self) -> str:
        return str(LABELS[self])


# Group names are stable identifiers stored in the database; labels are translated.
GROUP_NAMES = {
    Role.SCOUT: "Innovationsscout:in",
    Role.NETWORK_MANAGER: "Netzwerkmanager:in",
    Role.ADMINISTRATION: "Verwaltung",
    Role.FUNDING_VIEWER: "Fördermittelgeber",
}
LABELS = {
    Role.SCOUT: _("Innovation scout"),
    Role.NETWORK_MANAGER: _("Network manager"),
    Role.ADMINISTRATION: _("Administration"),
    Role.FUNDING_VIEWER: _("Funding-body viewer"),
}

_REFERENCE_VIEW = ["crm.view_district", "crm.view_municipality", "crm.view_topic"]
_CONTACT_WORK = [
    "crm.view_organisation",
    "crm.add_organisation",
    "crm.change_organisation",
    "crm.view_person",
    "crm.add_person",
    "crm.change_person",
    "crm.view_affiliation",
    "crm.add_affiliation",
    "crm.change_affiliation",
    "crm.view_consentrecord",
    "crm.add_consentrecord",
    "crm.change_consentrecord",
    "crm.view_note",
    "crm.add_note",
    "crm.view_relationship",
    "crm.add_relationship",
]

PERMISSIONS: dict[Role, list[str]] = {
    Role.SCOUT: _REFERENCE_VIEW
    + _CONTACT_WORK
    + [
        "scouting.view_visit",
        "scouting.add_visit",
        "scouting.change_visit",
        "scouting.view_followup",
        "scouting.add_followup",
        "pipeline.view_stage",
        "pipeline.view_transferrequest",
        "pipeline.add_transferrequest",
        "pipeline.view_stagechange",
        "pipeline.view_match",
        "pipeline.view_outcome",
    ],
    Role.NETWORK_MANAGER: _REFERENCE_VIEW
    + _CONTACT_WORK
    + [
        "crm.change_relationship",
        "crm.delete_relationship",
        "crm.delete_affiliation",
        "crm.merge_organisation",
        "crm.merge_person",
        "crm.export_organisation",
        "scouting.view_visit",
        "scouting.add_visit",
        "scouting.change_visit",
        "scouting.view_followup",
        "scouting.add_followup",
        "scouting.change_followup",
        "scouting.delete_followup",
        "pipeline.view_stage",
        "pipeline.view_transferrequest",
        "pipeline.add_transferrequest",
        "pipeline.change_transferrequest",
        "pipeline.view_stagechange",
        "pipeline.view_match",
        "pipeline.add_match",
        "pipeline.change_match",
        "pipeline.delete_match",
        "pipeline.view_outcome",
        "pipeline.add_outcome",
        "pipeline.change_outcome",
        "pipeline.delete_outcome",
        "reporting.view_report",
    ],
    Role.ADMINISTRATION: _REFERENCE_VIEW
    + _CONTACT_WORK
    + [
        "crm.change_relationship",
        "crm.delete_relationship",
        "crm.delete_affiliation",
        "crm.delete_note",
        "crm.delete_organisation",
        "crm.delete_person",
        "crm.merge_organisation",
        "crm.merge_person",
        "crm.export_organisation",
        "crm.import_organisation",
        "crm.add_topic",
        "crm.change_topic",
        "crm.add_district",
        "crm.change_district",
        "crm.add_municipality",
        "crm.change_municipality",
        "crm.view_importmapping",
        "crm.add_importmapping",
        "crm.change_importmapping",
        "crm.delete_importmapping",
        "crm.view_mergerecord",
        "auth.view_user",
        "auth.add_user",
        "auth.change_user",
        "auth.view_group",
        "scouting.view_visit",
        "scouting.view_followup",
        "scouting.view_interviewguide",
        "scouting.add_interviewguide",
        "scouting.change_interviewguide",
        "scouting.view_guidesection",
        "scouting.add_guidesection",
        "scouting.change_guidesection",
        "scouting.view_guidequestion",
        "scouting.add_guidequestion",
        "scouting.change_guidequestion",
        "scouting.view_followuprule",
        "scouting.add_followuprule",
        "scouting.change_followuprule",
        "pipeline.view_stage",
        "pipeline.add_stage",
        "pipeline.change_stage",
        "pipeline.view_transferrequest",
        "pipeline.view_stagechange",
        "pipeline.view_match",
        "pipeline.view_outcome",
        "reporting.view_report",
        "reporting.add_report",
        "reporting.change_report",
        "reporting.delete_report",
        "reporting.publish_report",
    ],
    # Published reports only (Report.objects.for_user).
    Role.FUNDING_VIEWER: ["reporting.view_report"],
}


def sync_groups(extra: dict[Role, list[str]] | None = None) -> None:
    """Create the role groups and set exactly their permissions (idempotent)."""
    wanted = {role: list(perms) for role, perms in PERMISSIONS.items()}
    for role, perms in (extra or {}).items():
        wanted[role].extend(perms)
    by_key = {
        f"{p.content_type.app_label}.{p.codename}": p
        for p in Permission.objects.select_related("content_type")
    }
    for role, perms in wanted.items():
        group, _created = Group.objects.get_or_create(name=role.group_name)
        missing = [p for p in perms if p not in by_key]
        if missing:
            # Permissions of apps not migrated yet; the next post_migrate adds them.
            perms = [p for p in perms if p in by_key]
        group.permissions.set([by_key[p] for p in perms])


def sync_groups_after_migrate(**kwargs: Any) -> None:
    sync_groups()


def roles_of(user: AbstractBaseUser | AnonymousUser) -> set[Role]:
    if not user.is_authenticated:
        return set()
    cached = getattr(user, "_crm_roles", None)
    if cached is None:
        by_name = {r.group_name: r for r in Role}
        names = user.groups.values_list("name", flat=True)  # type: ignore[attr-defined]
        cached = {by_name[n] for n in names if n in by_name}
        user._crm_roles = cached  # type: ignore[union-attr]
    return cached


def has_role(user: AbstractBaseUser | AnonymousUser, *roles: Role) -> bool:
    return bool(roles_of(user) & set(roles))
