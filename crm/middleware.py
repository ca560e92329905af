"""Require a TOTP authenticator for roles that handle everyone's data, and for staff."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _

from .roles import Role, roles_of

# Paths a user without a second factor may still reach to set one up or leave.
# The calendar feed is fetched by calendar apps with a secret token, not a session.
_EXEMPT_PREFIXES = ("/accounts/", "/static/", "/i18n/", "/healthz", "/calendar/feed/")


class RequireMfaForAdministrationMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.required = {Role(r) for r in getattr(settings, "MFA_REQUIRED_ROLES", [])}

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if (
            user.is_authenticated
            and self.required
            and not request.path.startswith(_EXEMPT_PREFIXES)
            and (roles_of(user) & self.required or user.is_superuser or user.is_staff)
            and not self._has_totp(user)
        ):
            if request.path.startswith("/api/"):
                return JsonResponse(
                    {"detail": _("Two-factor authentication is required for your role.")},
                    status=403,
                )
            messages.warning(
                request,
                _("Your role requires two-factor authentication: please set it up now."),
            )
            return redirect(reverse("mfa_activate_totp"))
        return self.get_response(request)

    @staticmethod
    def _has_totp(user: object) -> bool:
        from allauth.mfa.models import Authenticator

        return Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()
