from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest

from .roles import Role, roles_of


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    roles = roles_of(user) if user is not None else set()
    return {
        "REGION_NAME": settings.REGION_NAME,
        "user_roles": sorted(r.label for r in roles),
        "is_funding_viewer_only": roles == {Role.FUNDING_VIEWER},
    }
