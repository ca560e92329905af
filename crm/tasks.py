"""Celery tasks of the CRM core: thin wrappers that take ids and call a service."""

from __future__ import annotations

from celery import shared_task
from django.db import InterfaceError, OperationalError

from crm.dataio.services import check_job, run_job

# Only a lost database connection is worth retrying; services record other failures
# on the job. A retried import is safe: rows already written now match as unchanged.
_RETRY = {
    "acks_late": True,
    "autoretry_for": (OperationalError, InterfaceError),
    "retry_backoff": True,
    "max_retries": 3,
}


@shared_task(**_RETRY)
def check_import(job_id: int) -> None:
    """Check every row of an uploaded import (the preview) without writing."""
    check_job(job_id)


@shared_task(**_RETRY)
def run_import(job_id: int, user_id: int | None = None) -> None:
    """Import a checked file, recording ``user_id`` as the author of every change."""
    run_job(job_id, user_id=user_id)
