"""The import pages: upload, mapping, check, import, progress; access and bad input."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from crm.dataio import services
from crm.models import ImportJob, ImportMapping, Organisation, Person
from tests.conftest import client_for
from tests.crm.fixtures_files.samples import (
    ORGANISATION_HEADERS,
    PERSON_HEADERS,
    csv_bytes,
    organisation_row,
    organisation_rows,
    person_row,
    upload,
    xlsx_bytes,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def login(user):
    client = client_for(user)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"  # assert the English msgids
    return client


def assert_csp_safe(html: str) -> None:
    """No inline scripts or style attributes: the Content-Security-Policy forbids them."""
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)
    assert " style=" not in html


def start(client, content: bytes, name: str = "firmen.csv", target: str = "organisations", **extra):
    return client.post(
        reverse("dataio:import_upload"),
        {"target": target, "file": upload(name, content), **extra},
    )


def latest_job() -> ImportJob:
    return ImportJob.objects.latest("created_at")


def mapping_data(job: ImportJob, **overrides: str) -> dict[str, str]:
    data = {f"col_{index}": key for index, key in job.columns.items()}
    data.update(overrides)
    return data


# --- Access --------------------------------------------------------------------------

IMPORT_URLS = ["dataio:import_list", "dataio:import_upload"]


@pytest.mark.parametrize("name", IMPORT_URLS)
def test_anonymous_is_sent_to_login(client, name):
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert reverse("account_login") in response["Location"]


@pytest.mark.parametrize("persona", ["scout", "manager", "funder", "outsider"])
@pytest.mark.parametrize("name", IMPORT_URLS)
def test_only_administration_may_import(request, persona, name):
    user = request.getfixturevalue(persona)
    assert login(user).get(reverse(name)).status_code == 403


@pytest.mark.parametrize("persona", ["scout", "manager"])
def test_job_pages_are_closed_to_others(request, persona, administration, region):
    start(login(administration), csv_bytes(ORGANISATION_HEADERS, organisation_rows(1)))
    job = latest_job()
    client = login(request.getfixturevalue(persona))
    for name in ("import_mapping", "import_preview", "import_detail", "import_status"):
        assert client.get(reverse(f"dataio:{name}", args=[job.uuid])).status_code == 403
    assert client.post(reverse("dataio:import_run", args=[job.uuid])).status_code == 403
    assert job.status == ImportJob.Status.UPLOADED


def test_unknown_job_is_404(administration):
    url = reverse("dataio:import_detail", args=["00000000-0000-0000-0000-000000000000"])
    assert login(administration).get(url).status_code == 404


def test_import_list_and_upload_pages_render(administration):
    client = login(administration)
    for name in IMPORT_URLS:
        response = client.get(reverse(name))
        assert response.status_code == 200
        assert_csp_safe(response.content.decode())
    assert "js/dataio.js" in client.get(reverse("dataio:import_upload")).content.decode()


# --- The whole journey ---------------------------------------------------------------


def test_upload_map_check_and_import_organisations(administration, region):
    client = login(administration)
    response = start(
        client, csv_bytes(ORGANISATION_HEADERS, organisation_rows(3), encoding="cp1252")
    )
    job = latest_job()
    assert response.status_code == 302
    assert response["Location"] == reverse("dataio:import_mapping", args=[job.uuid])
    assert (job.encoding, job.delimiter, job.total_rows) == ("cp1252", ";", 3)
    assert job.created_by == administration

    page = client.get(response["Location"])
    html = page.content.decode()
    assert_csp_safe(html)
    assert '<label for="id_col_0">Firma</label>' in html
    assert '<option value="name" selected>' in html  # suggested from "Firma"
    assert "Müller Werkzeugbau 1 GmbH" in html  # sample value

    response = client.post(page.request["PATH_INFO"], mapping_data(job))
    assert response["Location"] == reverse("dataio:import_preview", args=[job.uuid])
    job.refresh_from_db()
    assert job.status == ImportJob.Status.PREVIEWED
    assert Organisation.objects.count() == 0  # the check writes nothing

    preview = client.get(response["Location"])
    html = preview.content.decode()
    assert_csp_safe(html)
    assert "Müller Werkzeugbau 2 GmbH" in html
    assert preview.context["outcome"]["created"] == 3

    response = client.post(reverse("dataio:import_run", args=[job.uuid]))
    assert response["Location"] == reverse("dataio:import_detail", args=[job.uuid])
    job.refresh_from_db()
    assert job.status == ImportJob.Status.DONE
    assert job.summary["result"]["created"] == 3
    assert Organisation.objects.count() == 3
    for org in Organisation.objects.all():
        assert org.history.get().history_user == administration  # type: ignore[attr-defined]

    assert not job.file  # the uploaded file, maybe personal data, is gone

    detail = client.get(response["Location"])
    assert detail.status_code == 200
    assert_csp_safe(detail.content.decode())
    assert "The import is complete." in detail.content.decode()

    # Importing the same file again: nothing changes.
    start(client, csv_bytes(ORGANISATION_HEADERS, organisation_rows(3)))
    again = latest_job()
    client.post(reverse("dataio:import_mapping", args=[again.uuid]), mapping_data(again))
    client.post(reverse("dataio:import_run", args=[again.uuid]))
    again.refresh_from_db()
    assert again.summary["result"]["unchanged"] == 3
    assert Organisation.history.count() == 3  # type: ignore[attr-defined]


def test_people_from_xlsx(administration, organisation):
    client = login(administration)
    rows = [person_row(1, organisation=organisation.name), person_row(2)]
    start(client, xlsx_bytes(PERSON_HEADERS, rows), name="personen.xlsx", target="people")
    job = latest_job()
    assert job.columns["7"] == "organisation_name"  # "Firma" in a people file
    client.post(reverse("dataio:import_mapping", args=[job.uuid]), mapping_data(job))
    client.post(reverse("dataio:import_run", args=[job.uuid]))
    job.refresh_from_db()
    assert job.status == ImportJob.Status.DONE, job.error
    assert Person.objects.count() == 2
    person = Person.objects.get(external_id="P-1")
    assert person.affiliations.get().organisation == organisation


def test_rejected_rows_block_the_import_unless_partial_is_chosen(administration, region):
    client = login(administration)
    rows = [organisation_row(1), organisation_row(2, **{"E-Mail": "kaputt@"}), organisation_row(3)]
    start(client, csv_bytes(ORGANISATION_HEADERS, rows))
    job = latest_job()
    client.post(reverse("dataio:import_mapping", args=[job.uuid]), mapping_data(job))

    preview = client.get(reverse("dataio:import_preview", args=[job.uuid]) + "?action=reject")
    html = preview.content.decode()
    assert "Column “E-Mail”, value “kaputt@”: Not a valid email address." in html
    assert 'name="allow_partial"' in html
    assert [r["line"] for r in preview.context["page"].object_list] == [3]

    response = client.post(reverse("dataio:import_run", args=[job.uuid]))
    assert response["Location"] == reverse("dataio:import_preview", args=[job.uuid])
    assert "1 rows are invalid" in client.get(response["Location"]).content.decode()
    assert Organisation.objects.count() == 0

    client.post(reverse("dataio:import_run", args=[job.uuid]), {"allow_partial": "on"})
    job.refresh_from_db()
    assert job.status == ImportJob.Status.DONE
    assert job.allow_partial
    assert Organisation.objects.count() == 2


def test_running_twice_is_refused(administration, region):
    client = login(administration)
    start(client, csv_bytes(ORGANISATION_HEADERS, organisation_rows(2)))
    job = latest_job()
    client.post(reverse("dataio:import_mapping", args=[job.uuid]), mapping_data(job))
    client.post(reverse("dataio:import_run", args=[job.uuid]))
    response = client.post(reverse("dataio:import_run", args=[job.uuid]), follow=True)
    assert "not ready" in response.content.decode()
    assert Organisation.history.count() == 2  # type: ignore[attr-defined]
    # A finished job's mapping can no longer change.
    mapping = client.get(reverse("dataio:import_mapping", args=[job.uuid]))
    assert mapping["Location"] == reverse("dataio:import_detail", args=[job.uuid])


# --- Saved mappings ------------------------------------------------------------------


def test_mapping_can_be_saved_and_chosen_for_the_next_file(administration, region):
    client = login(administration)
    headers = ["Bezeichnung", "Nummer", "Postfach"]
    start(client, csv_bytes(headers, [["Weiß GmbH", "X-1", "12"]]))
    job = latest_job()
    assert job.columns == {"0": "", "1": "", "2": ""}  # nothing recognised
    data = {"col_0": "name", "col_1": "external_id", "col_2": "", "save_as": "Kammerliste"}
    client.post(reverse("dataio:import_mapping", args=[job.uuid]), data)
    saved = ImportMapping.objects.get(name="Kammerliste")
    assert saved.columns == {"Bezeichnung": "name", "Nummer": "external_id"}
    assert saved.target == "organisations"
    assert saved.history.get().history_user == administration  # type: ignore[attr-defined]

    # The next file has the columns in another order and other case.
    start(client, csv_bytes(["NUMMER", "bezeichnung"], [["X-2", "Blau KG"]]), mapping=saved.pk)
    assert latest_job().columns == {"0": "external_id", "1": "name"}


def test_saved_mapping_for_the_other_target_is_refused(administration):
    mapping = ImportMapping.objects.create(name="Personen", target="people", columns={})
    response = start(login(administration), csv_bytes(["Firma"], [["A"]]), mapping=mapping.pk)
    assert response.status_code == 400
    assert "another kind of import" in response.content.decode()


# --- Bad input -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("brief.pdf", b"%PDF-1.4", "Only CSV"),
        ("leer.csv", b"", "empty"),
        ("utf16.csv", "Firma;Ort\r\nA;B\r\n".encode("utf-16"), "UTF-16"),
        ("junk.csv", bytes(range(1, 256)) * 40, "cannot be read"),
        ("kaputt.xlsx", b"PK\x03\x04 not really", "not a valid Excel"),
        ("kopf.csv", b"Firma;Ort\r\n", "no data rows"),
    ],
)
def test_bad_files_are_refused(administration, name, content, message):
    response = start(login(administration), content, name=name)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not ImportJob.objects.exists()


def test_file_over_the_size_limit_is_refused(administration, settings):
    settings.IMPORT_MAX_FILE_BYTES = 2048
    content = csv_bytes(ORGANISATION_HEADERS, organisation_rows(50))
    response = start(login(administration), content)
    assert response.status_code == 400
    assert "too large" in response.content.decode()


def test_missing_required_column_is_refused(administration, region):
    client = login(administration)
    start(client, csv_bytes(ORGANISATION_HEADERS, organisation_rows(1)))
    job = latest_job()
    response = client.post(
        reverse("dataio:import_mapping", args=[job.uuid]), mapping_data(job, col_0="")
    )
    assert response.status_code == 400
    assert "required field: name" in response.content.decode()
    job.refresh_from_db()
    assert job.status == ImportJob.Status.UPLOADED


def test_field_chosen_twice_is_refused(administration, region):
    client = login(administration)
    start(client, csv_bytes(ORGANISATION_HEADERS, organisation_rows(1)))
    job = latest_job()
    response = client.post(
        reverse("dataio:import_mapping", args=[job.uuid]), mapping_data(job, col_1="name")
    )
    assert response.status_code == 400
    assert "are both assigned to name" in response.content.decode()


def test_unknown_field_key_is_refused(administration, region):
    client = login(administration)
    start(client, csv_bytes(ORGANISATION_HEADERS, organisation_rows(1)))
    job = latest_job()
    response = client.post(
        reverse("dataio:import_mapping", args=[job.uuid]), mapping_data(job, col_1="password")
    )
    assert response.status_code == 400


def test_run_requires_post(administration, region):
    client = login(administration)
    start(client, csv_bytes(ORGANISATION_HEADERS, organisation_rows(1)))
    assert client.get(reverse("dataio:import_run", args=[latest_job().uuid])).status_code == 405


# --- Large files in the background ---------------------------------------------------


def test_large_file_is_checked_and_imported_in_the_background(
    administration, region, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(services, "BACKGROUND_ROWS", 5)
    client = login(administration)
    start(client, csv_bytes(ORGANISATION_HEADERS, organisation_rows(12)))
    job = latest_job()

    # The task is only sent once the transaction that marked the job has committed.
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(reverse("dataio:import_mapping", args=[job.uuid]), mapping_data(job))
    assert response["Location"] == reverse("dataio:import_detail", args=[job.uuid])
    assert len(callbacks) == 1
    job.refresh_from_db()
    assert job.status == ImportJob.Status.PREVIEWING

    detail = client.get(reverse("dataio:import_detail", args=[job.uuid]))
    html = detail.content.decode()
    assert_csp_safe(html)
    assert 'hx-trigger="every 1s"' in html
    assert reverse("dataio:import_status", args=[job.uuid]) in html
    assert "0 of about 12 rows" in html

    callbacks[0]()  # the worker runs the check (eager Celery)
    job.refresh_from_db()
    assert (job.status, job.processed_rows, job.total_rows) == ("previewed", 12, 12)
    status = client.get(reverse("dataio:import_status", args=[job.uuid]), HTTP_HX_REQUEST="true")
    assert status["HX-Redirect"] == reverse("dataio:import_preview", args=[job.uuid])

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        client.post(reverse("dataio:import_run", args=[job.uuid]))
    assert len(callbacks) == 1
    job.refresh_from_db()
    assert job.status == ImportJob.Status.DONE
    assert Organisation.objects.count() == 12
    assert Organisation.history.filter(history_user=administration).count() == 12  # type: ignore[attr-defined]
    status = client.get(reverse("dataio:import_status", args=[job.uuid]), HTTP_HX_REQUEST="true")
    assert status["HX-Redirect"] == reverse("dataio:import_detail", args=[job.uuid])


def test_status_fragment_shows_progress(administration, region):
    client = login(administration)
    start(client, csv_bytes(ORGANISATION_HEADERS, organisation_rows(4)))
    job = latest_job()
    ImportJob.objects.filter(pk=job.pk).update(status="running", processed_rows=2, total_rows=4)
    response = client.get(reverse("dataio:import_status", args=[job.uuid]), HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200
    assert '<progress class="w-100" max="100" value="50"' in html
    assert "2 of about 4 rows" in html
    assert 'hx-trigger="every 1s"' in html


def test_progress_is_recorded_per_batch(administration, region, monkeypatch):
    """The check reports its progress batch by batch (the status fragment shows it)."""
    client = login(administration)
    start(client, csv_bytes(ORGANISATION_HEADERS, organisation_rows(5)))
    job = latest_job()
    seen: list[int] = []
    recorder = services._ProgressRecorder

    class Spy(recorder):  # type: ignore[misc, valid-type]
        def __call__(self, phase: str, done: int) -> None:
            seen.append(done)
            super().__call__(phase, done)

    monkeypatch.setattr(services, "_ProgressRecorder", Spy)
    monkeypatch.setattr(services, "JOB_BATCH_SIZE", 2)
    services.set_columns(job, columns=job.columns, by=administration)
    services.start_check(job, by=administration)
    assert seen == [2, 4, 5]


def test_pages_render_in_german(administration, region):
    client = client_for(administration)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "de"
    rows = [organisation_row(1), organisation_row(2, Mitarbeiter="-4")]
    client.post(
        reverse("dataio:import_upload"),
        {
            "target": "organisations",
            "file": upload("firmen.csv", csv_bytes(ORGANISATION_HEADERS, rows)),
        },
    )
    job = latest_job()
    pages = [
        reverse("dataio:import_list"),
        reverse("dataio:import_upload"),
        reverse("dataio:import_mapping", args=[job.uuid]),
    ]
    client.post(pages[-1], mapping_data(job))
    pages += [
        reverse("dataio:import_preview", args=[job.uuid]),
        reverse("dataio:import_preview", args=[job.uuid]) + "?action=reject&page=1",
        reverse("dataio:import_detail", args=[job.uuid]),
        reverse("dataio:import_status", args=[job.uuid]),
    ]
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        assert_csp_safe(response.content.decode())
    preview = client.get(pages[3]).content.decode()
    assert '<html lang="de">' in preview
    assert "Mitarbeiter" in preview and "-4" in preview


def test_upload_spooled_to_a_temporary_file(administration, region, settings):
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 1024  # Django writes bigger uploads to disk
    content = csv_bytes(ORGANISATION_HEADERS, organisation_rows(40))
    assert len(content) > 1024
    response = start(login(administration), content)
    assert response.status_code == 302
    job = latest_job()
    assert (job.total_rows, job.headers[0]) == (40, "Firma")
    with job.file.open("rb") as stored:
        assert stored.read() == content
