"""Celery tasks of reporting: thin wrappers that call a service."""

from __future__ import annotations

import smtplib

from celery import shared_task
from django.contrib.auth import get_user_model
from django.db import InterfaceError, OperationalError

from . import services

_RETRY = {
    "acks_late": True,
    "autoretry_for": (OperationalError, InterfaceError, ConnectionError, TimeoutError),
    "retry_backoff": True,
    "max_retries": 3,
}


@shared_task(**_RETRY)
def compute_report(report_id: int, user_id: int | None = None) -> int:
    """Compute a draft's figures (manual generation with progress in the UI)."""
    by = get_user_model().objects.filter(pk=user_id).first() if user_id else None
    services.compute_report(report_id, by=by)
    return report_id


@shared_task(**_RETRY)
def publish_report(report_id: int, user_id: int) -> int:
    services.publish_report(report_id, by=get_user_model().objects.get(pk=user_id))
    return report_id


@shared_task(**{**_RETRY, "autoretry_for": (*_RETRY["autoretry_for"], smtplib.SMTPException)})
def create_quarterly_draft() -> int | None:
    """Run by beat every morning; creates the finished quarter's draft once."""
    report = services.create_scheduled_draft()
    return report.pk if report else None


@shared_task(**_RETRY)
def warm_dashboard() -> str:
    """Run by beat every six hours (first at 00:15): the dashboard's default view, and
    what the running periods are compared with, are ready when people arrive."""
    return services.warm_dashboard().period.code
