"""Celery tasks of scouting: thin wrappers that call a service."""

from __future__ import annotations

import smtplib

from celery import shared_task
from django.db import InterfaceError, OperationalError

from . import notifications

# A lost database connection or a mail server that is briefly away is worth retrying:
# a retried digest skips the users who already got theirs today.
_RETRY = {
    "acks_late": True,
    "autoretry_for": (
        OperationalError,
        InterfaceError,
        smtplib.SMTPException,
        ConnectionError,
        TimeoutError,
    ),
    "retry_backoff": True,
    "max_retries": 3,
}


@shared_task(**_RETRY)
def send_daily_digest() -> int:
    """Email today's due and overdue follow-ups (run by beat every morning)."""
    return notifications.send_daily_digest()
