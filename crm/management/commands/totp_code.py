"""Print the current TOTP code of a user's authenticator app (development only).

For the demo and for operators who test a sign-in with a seeded account: it
reads the secret from the database, so it refuses to run unless DEBUG is on.
"""

from __future__ import annotations

import time
from typing import Any

from allauth.mfa import app_settings as mfa_settings
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value
from allauth.mfa.utils import decrypt
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.management.base import BaseCommand, CommandError, CommandParser


def current_totp_code(user: AbstractBaseUser, *, min_seconds_left: float = 0) -> str:
    """The code the user's authenticator app shows now, computed as allauth validates it.

    Raises Authenticator.DoesNotExist if the user has no authenticator app.
    """
    authenticator = Authenticator.objects.get(user=user, type=Authenticator.Type.TOTP)
    return totp_code_for_secret(
        decrypt(authenticator.data["secret"]), min_seconds_left=min_seconds_left
    )


def totp_code_for_secret(secret: str, *, min_seconds_left: float = 0) -> str:
    """The current code for a base32 secret.

    With min_seconds_left, waits for the next period rather than return a code that
    expires before it can be typed in (or posted, in a test).
    """
    period = mfa_settings.TOTP_PERIOD
    left = period - time.time() % period
    if left < min_seconds_left:
        time.sleep(left + 0.05)
    return format_hotp_value(hotp_value(secret, int(time.time()) // period))


class Command(BaseCommand):
    help = "Print the current TOTP code of a user's authenticator app (only with DEBUG on)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")

    def handle(self, *args: Any, username: str, **options: Any) -> str:
        if not settings.DEBUG:
            raise CommandError(
                "totp_code reveals second-factor codes and runs only with DEBUG on "
                "(development and demo machines)."
            )
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user with username {username!r}.")
        try:
            return current_totp_code(user, min_seconds_left=3)
        except Authenticator.DoesNotExist:
            raise CommandError(f"User {username!r} has no authenticator app set up.") from None
