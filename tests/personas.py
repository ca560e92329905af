"""The people who use the CRM, built in code for tests."""

from __future__ import annotations

from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser, Group

from crm.roles import Role, sync_groups

PASSWORD = "Test-Passwort-2026!"


def make_user(
    username: str, *roles: Role, with_totp: bool | None = None, **extra: object
) -> AbstractUser:
    sync_groups()
    user = get_user_model().objects.create_user(
        username=username,
        email=f"{username}@example.org",
        password=PASSWORD,
        first_name=str(extra.pop("first_name", username.capitalize())),
        last_name=str(extra.pop("last_name", "Test")),
        **extra,
    )
    for role in roles:
        user.groups.add(Group.objects.get(name=role.group_name))
    if with_totp is None:
        with_totp = Role.ADMINISTRATION in roles
    if with_totp:
        TOTP.activate(user, generate_totp_secret())
    return user
