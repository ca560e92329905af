"""Import use cases: upload a file, map its columns, check it, import it.

``import_file`` is the whole import in one call (scripts, benchmarks); the
``ImportJob`` functions split the same work into the steps the web pages show,
running big files as background tasks.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.core.files.uploadedfile import UploadedFile
from django.db import (
    DEFAULT_DB_ALIAS,
    InterfaceError,
    OperationalError,
    connection,
    connections,
    transaction,
)
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.models import ImportJob, ImportMapping
from crm.services import save_with_history

from .fields import mapping_to_save, suggest_columns
from .importer import (
    DEFAULT_BATCH_SIZE,
    ImportResult,
    MappingError,
    Progress,
    bind_columns,
    run_pass,
)
from .parsing import CSV, XLSX, ImportFileError, TableInfo, inspect_table, iter_data_rows

logger = logging.getLogger(__name__)

# Files with more data rows than this are checked and imported by a background task.
BACKGROUND_ROWS = getattr(settings, "IMPORT_BACKGROUND_ROWS", 2000)
JOB_BATCH_SIZE = DEFAULT_BATCH_SIZE
MAX_COLUMNS = 200

__all__ = [
    "ImportFileError",
    "ImportRefused",
    "ImportResult",
    "MappingError",
    "import_file",
]


class ImportRefused(Exception):
    """The import cannot start in the job's current state; the message says why."""


def change_reason(name: str) -> str:
    return _("Import of “%(name)s”") % {"name": name}


# --- One call ------------------------------------------------------------------------


@contextmanager
def _opened(source: str | os.PathLike[str] | IO[bytes]) -> Iterator[IO[bytes]]:
    if isinstance(source, str | os.PathLike):
        with open(source, "rb") as stream:
            yield stream
    else:
        yield source


def import_file(
    source: str | os.PathLike[str] | IO[bytes],
    *,
    target: str,
    columns: dict[Any, str] | None = None,
    by: User | None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    allow_partial: bool = False,
    dry_run: bool = False,
    name: str | None = None,
    progress: Progress | None = None,
) -> ImportResult:
    """Import a CSV or XLSX file of organisations or people.

    ``source`` is a path or a binary file object; ``target`` is
    ``ImportMapping.Target.ORGANISATIONS`` or ``.PEOPLE`` ("organisations",
    "people"); ``columns`` maps a column (heading text or 0-based index) to a
    field key (see ``crm.dataio.fields``), and defaults to the suggestion from
    the headings. ``by`` becomes the history user of every row written.

    Without ``allow_partial`` nothing is written if any row is rejected (the
    import is one transaction); with it, the valid rows are written batch by
    batch. ``dry_run`` only checks. Raises ImportFileError for
    an unreadable file and MappingError for an unusable mapping.
    """
    with _opened(source) as stream:
        file_name = name or Path(getattr(stream, "name", "") or "import.csv").name
        info = inspect_table(stream, name=file_name)
        if columns is None:
            columns = suggest_columns(target, info.headers)
        return import_table(
            stream,
            info,
            target=target,
            columns=columns,
            by=by,
            batch_size=batch_size,
            allow_partial=allow_partial,
            dry_run=dry_run,
            reason=change_reason(file_name),
            progress=progress,
        )


def import_table(
    stream: IO[bytes],
    info: TableInfo,
    *,
    target: str,
    columns: dict[Any, str],
    by: User | None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    allow_partial: bool = False,
    dry_run: bool = False,
    reason: str = "",
    progress: Progress | None = None,
) -> ImportResult:
    bound = bind_columns(target, info.headers, columns)
    options: dict[str, Any] = {
        "target": target,
        "bound": bound,
        "by": by,
        "allow_partial": allow_partial,
        "change_reason": reason,
        "batch_size": batch_size,
        "progress": progress,
    }
    return run_pass(iter_data_rows(stream, info), write=not dry_run, **options)


# --- Jobs: upload ----------------------------------------------------------------------


def create_job(
    *,
    target: str,
    upload: UploadedFile,
    mapping: ImportMapping | None = None,
    by: User,
) -> ImportJob:
    """Store an uploaded file as a new import, with the columns it has and a suggested mapping."""
    if target not in ImportMapping.Target.values:
        raise ImportFileError(_("Please choose what the file contains."))
    if mapping is not None and mapping.target != target:
        raise ImportFileError(
            _("The saved mapping “%(name)s” is for another kind of import.")
            % {"name": mapping.name}
        )
    limit = settings.IMPORT_MAX_FILE_BYTES
    if upload.size is not None and upload.size > limit:
        raise ImportFileError(
            _("The file is too large (%(size)s MB); at most %(limit)s MB can be imported.")
            % {"size": _megabytes(upload.size), "limit": _megabytes(limit)}
        )
    if not upload.size:
        raise ImportFileError(_("The file is empty."))
    name = os.path.basename(upload.name or "import")[:255]
    info = inspect_table(upload.file, name=name)  # type: ignore[arg-type]
    if len(info.headers) > MAX_COLUMNS:
        raise ImportFileError(
            _("The file has %(count)d columns; at most %(limit)d can be imported.")
            % {"count": len(info.headers), "limit": MAX_COLUMNS}
        )
    job = ImportJob(
        target=target,
        original_name=name,
        encoding=info.encoding,
        delimiter=info.delimiter,
        headers=info.headers,
        columns=suggest_columns(target, info.headers, mapping.columns if mapping else None),
        total_rows=info.row_count,
        summary={"samples": info.samples},
        created_by=by,
    )
    extension = ".xlsx" if info.kind == XLSX else ".csv"
    upload.seek(0)
    job.file.save(f"{job.uuid}{extension}", upload, save=False)
    job.save()
    return job


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f}".replace(".", ",")


def table_info(job: ImportJob) -> TableInfo:
    return TableInfo(
        kind=CSV if job.delimiter else XLSX,
        headers=list(job.headers),
        encoding=job.encoding,
        delimiter=job.delimiter,
        row_count=job.total_rows,
    )


# --- Jobs: mapping -------------------------------------------------------------------


@transaction.atomic
def set_columns(
    job: ImportJob, *, columns: dict[str, str], save_as: str = "", by: User
) -> ImportJob:
    """Set the job's column mapping (and keep it as a named mapping when asked)."""
    job = ImportJob.objects.select_for_update().get(pk=job.pk)
    if job.status not in (ImportJob.Status.UPLOADED, ImportJob.Status.PREVIEWED):
        raise ImportRefused(_("This import has already started; its mapping can no longer change."))
    bind_columns(job.target, job.headers, columns)
    job.columns = columns
    job.status = ImportJob.Status.UPLOADED
    job.summary = {"samples": job.summary.get("samples", [])}
    job.processed_rows = 0
    job.save(update_fields=["columns", "status", "summary", "processed_rows"])
    save_as = save_as.strip()
    if save_as:
        mapping = ImportMapping.objects.filter(target=job.target, name=save_as).first()
        if mapping is None:
            mapping = ImportMapping(target=job.target, name=save_as, created_by=by)
        mapping.columns = mapping_to_save(job.headers, columns)
        save_with_history(mapping, by=by)
    return job


# --- Jobs: check and import ----------------------------------------------------------


def start_check(job: ImportJob, *, by: User) -> bool:
    """Check the job's rows now, or in the background for a big file (returns True then)."""
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().get(pk=job.pk)
        if job.status != ImportJob.Status.UPLOADED:
            raise ImportRefused(_("This import has already been checked or started."))
        job.status = ImportJob.Status.PREVIEWING
        job.processed_rows = 0
        job.save(update_fields=["status", "processed_rows"])
        if job.total_rows > BACKGROUND_ROWS:
            from crm import tasks

            tasks.check_import.delay_on_commit(job.pk)
            return True
    check_job(job.pk)
    return False


def start_import(job: ImportJob, *, allow_partial: bool, by: User) -> bool:
    """Import the checked job now, or in the background for a big file (returns True then)."""
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().get(pk=job.pk)
        if job.status != ImportJob.Status.PREVIEWED:
            raise ImportRefused(_("This import is not ready: check the file first."))
        check = job.summary.get("check", {})
        if check.get("rejected") and not allow_partial:
            raise ImportRefused(
                _(
                    "%(count)d rows are invalid. Correct the file, or choose to import the "
                    "valid rows anyway."
                )
                % {"count": check["rejected"]}
            )
        if check and check.get("rejected") == check.get("total_rows"):
            raise ImportRefused(_("No row of this file can be imported."))
        job.status = ImportJob.Status.RUNNING
        job.allow_partial = allow_partial
        job.processed_rows = 0
        job.save(update_fields=["status", "allow_partial", "processed_rows"])
        if job.total_rows > BACKGROUND_ROWS:
            from crm import tasks

            tasks.run_import.delay_on_commit(job.pk, by.pk)
            return True
    run_job(job.pk, user_id=by.pk)
    return False


class _ProgressRecorder:
    """Records how many rows of a job are done where the polling page can see it.

    An import that writes all or nothing is one transaction; on PostgreSQL the
    progress therefore goes through a second connection of its own, which sees
    and updates the committed job row while the import's transaction is open.
    """

    def __init__(self, job: ImportJob) -> None:
        self.job_id = job.pk
        self.side = (
            connections.create_connection(DEFAULT_DB_ALIAS)
            if connection.vendor == "postgresql"
            else None
        )

    def __call__(self, phase: str, done: int) -> None:
        if self.side is None:
            ImportJob.objects.filter(pk=self.job_id).update(processed_rows=done)
            return
        table = self.side.ops.quote_name(ImportJob._meta.db_table)
        with self.side.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} SET processed_rows = %s WHERE id = %s",  # noqa: S608
                [done, self.job_id],
            )

    def close(self) -> None:
        if self.side is not None:
            self.side.close()


def _run(job: ImportJob, *, dry_run: bool, by: User | None) -> ImportResult:
    progress = _ProgressRecorder(job)
    try:
        with job.file.open("rb") as stream:
            return import_table(
                stream,
                table_info(job),
                target=job.target,
                columns=job.columns,
                by=by,
                allow_partial=job.allow_partial,
                dry_run=dry_run,
                batch_size=JOB_BATCH_SIZE,
                reason=change_reason(job.original_name),
                progress=progress,
            )
    finally:
        progress.close()


def _discard_file(job: ImportJob) -> None:
    """A finished import no longer needs its file, which may hold personal data."""
    if job.file:
        job.file.delete(save=False)


def _fail(job: ImportJob, exc: Exception) -> None:
    if isinstance(exc, ImportFileError | MappingError):
        message = str(exc)
    else:
        logger.exception("Import job %s failed", job.pk)
        message = _("The import failed because of an internal error. Please try again later.")
    job.status = ImportJob.Status.FAILED
    job.error = message
    job.finished_at = timezone.now()
    _discard_file(job)
    job.save(update_fields=["status", "error", "finished_at", "file"])


def check_job(job_id: int) -> ImportJob:
    """Check every row of a job without writing (the preview); the task calls this."""
    job = ImportJob.objects.get(pk=job_id)
    if job.status != ImportJob.Status.PREVIEWING:
        return job
    try:
        result = _run(job, dry_run=True, by=None)
    except (OperationalError, InterfaceError):
        raise  # the database went away: let the task retry
    except Exception as exc:
        _fail(job, exc)
        return job
    job.summary = {"samples": job.summary.get("samples", []), "check": result.as_summary()}
    job.total_rows = result.total_rows
    job.processed_rows = result.total_rows
    job.status = ImportJob.Status.PREVIEWED
    job.save(update_fields=["summary", "total_rows", "processed_rows", "status"])
    return job


def run_job(job_id: int, *, user_id: int | None = None) -> ImportJob:
    """Import a checked job; the history rows name ``user_id`` (else the uploader)."""
    job = ImportJob.objects.get(pk=job_id)
    if job.status != ImportJob.Status.RUNNING:
        return job
    author_id = user_id or job.created_by_id
    user = get_user_model().objects.filter(pk=author_id).first() if author_id else None
    try:
        result = _run(job, dry_run=False, by=user)
    except (OperationalError, InterfaceError):
        raise
    except Exception as exc:
        _fail(job, exc)
        return job
    # The sample cells were only needed for the mapping page.
    job.summary = {"check": job.summary.get("check", {}), "result": result.as_summary()}
    job.processed_rows = result.total_rows
    job.finished_at = timezone.now()
    if not result.written:
        job.status = ImportJob.Status.FAILED
        job.error = _(
            "Nothing was imported: %(count)d rows are invalid (the data may have changed "
            "since the check)."
        ) % {"count": result.rejected}
    else:
        job.status = ImportJob.Status.DONE
    _discard_file(job)
    job.save(update_fields=["summary", "processed_rows", "finished_at", "status", "error", "file"])
    return job
