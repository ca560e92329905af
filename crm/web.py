"""Small helpers the pages of every app share: safe redirects, error messages, the
history page."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme

from .history import history_page


def safe_next(request: HttpRequest, fallback: str) -> str:
    """The ``next`` address of the request if it stays on this site, else ``fallback``."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback


def error_text(error: ValidationError) -> str:
    return " ".join(str(m) for m in error.messages)


def form_errors(form: Any) -> str:
    """A form's errors as one line, each prefixed with its field's label."""
    parts = []
    for name, errors in form.errors.items():
        label = form.fields[name].label if name in form.fields else ""
        parts.append(f"{label}: {' '.join(errors)}" if label else " ".join(errors))
    return "; ".join(parts)


def history_response(request: HttpRequest, obj: Any, *, history_url: str) -> HttpResponse:
    """The history page of ``obj`` (only the list for htmx paging)."""
    page, entries = history_page(obj, request.GET.get("page"))
    template = "crm/_history.html" if request.htmx else "crm/history.html"  # type: ignore[attr-defined]
    context = {"object": obj, "page": page, "entries": entries, "history_url": history_url}
    return render(request, template, context)
