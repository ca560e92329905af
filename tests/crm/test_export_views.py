"""Exports of the filtered organisation and people lists as CSV and XLSX."""

from __future__ import annotations

import csv
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation
from openpyxl import load_workbook

from crm.dataio.services import import_file
from crm.models import Affiliation, Organisation, Person
from tests.conftest import client_for

pytestmark = pytest.mark.django_db

ORGS = reverse("dataio:export_organisations")
PEOPLE = reverse("dataio:export_people")


def login(user):
    client = client_for(user)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def csv_rows(response) -> list[list[str]]:
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    raw = b"".join(response.streaming_content)
    assert raw.startswith(b"\xef\xbb\xbf")  # BOM: Excel reads UTF-8
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline=""), delimiter=";"))


def xlsx_rows(response) -> list[list[object]]:
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    workbook = load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    return [list(row) for row in workbook.active.iter_rows(values_only=True)]


def column(rows: list[list], heading: str) -> list:
    index = rows[0].index(heading)
    return [row[index] for row in rows[1:]]


# --- Access --------------------------------------------------------------------------


@pytest.mark.parametrize("url", [ORGS, PEOPLE])
def test_anonymous_is_sent_to_login(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert reverse("account_login") in response["Location"]


@pytest.mark.parametrize("persona", ["scout", "funder", "outsider"])
@pytest.mark.parametrize("url", [ORGS, PEOPLE])
def test_export_needs_the_export_permission(request, persona, url):
    assert login(request.getfixturevalue(persona)).get(url).status_code == 403


@pytest.mark.parametrize("persona", ["manager", "administration"])
@pytest.mark.parametrize("url", [ORGS, PEOPLE])
def test_managers_and_administration_may_export(request, persona, url, person):
    response = login(request.getfixturevalue(persona)).get(url)
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    assert len(csv_rows(response)) == 2


@pytest.mark.parametrize("query", ["format=pdf", "kind=unbekannt", "district=999999"])
def test_bad_parameters_are_refused(manager, organisation, query):
    assert login(manager).get(f"{ORGS}?{query}").status_code == 400


# --- Content -------------------------------------------------------------------------


def test_csv_has_headings_and_readable_values(manager, organisation, topics):
    organisation.offered_topics.add(topics["ai"])
    rows = csv_rows(login(manager).get(ORGS))
    assert rows[0][:3] == ["CRM ID", "Name", "Kind"]
    [row] = rows[1:]
    assert column(rows, "Name") == ["Müller Maschinenbau GmbH"]
    assert column(rows, "Kind") == ["SME"]
    assert column(rows, "Employees") == ["42"]
    assert column(rows, "AGS") == ["03158011"]
    assert column(rows, "Municipality") == ["Cremlingen"]
    assert column(rows, "District") == ["LK Wolfenbüttel"]
    assert column(rows, "Competences") == ["Künstliche Intelligenz"]
    assert row[0] == str(organisation.pk)


def test_german_headings(manager, organisation):
    client = client_for(manager)
    with translation.override("de"):
        rows = csv_rows(client.get(ORGS, HTTP_ACCEPT_LANGUAGE="de"))
    assert rows[0][1] == "Name"
    assert len(rows[0]) == len(rows[1])


def test_the_list_filters_apply(manager, organisation):
    Organisation.objects.create(name="Technische Universität", kind="university")
    client = login(manager)
    assert column(csv_rows(client.get(f"{ORGS}?kind=university")), "Name") == [
        "Technische Universität"
    ]
    assert column(csv_rows(client.get(f"{ORGS}?q=maschinenbau&format=csv")), "Name") == [
        "Müller Maschinenbau GmbH"
    ]
    names = column(csv_rows(client.get(f"{ORGS}?o=-name&page=3")), "Name")
    assert names == ["Technische Universität", "Müller Maschinenbau GmbH"]


def test_xlsx_export(manager, organisation):
    response = login(manager).get(f"{ORGS}?format=xlsx")
    assert response["Content-Disposition"].endswith('.xlsx"')
    rows = xlsx_rows(response)
    assert rows[0][1] == "Name"
    assert column(rows, "Name") == ["Müller Maschinenbau GmbH"]
    assert column(rows, "Employees") == [42]  # a number cell, not text


def test_people_export_with_affiliations(manager, person, organisation):
    other = Organisation.objects.create(name="Hochschule Ostfalia")
    Affiliation.objects.create(person=person, organisation=other, function="Lehrbeauftragte")
    rows = csv_rows(login(manager).get(f"{PEOPLE}?organisation={organisation.pk}"))
    assert column(rows, "Last name") == ["Schmidt"]
    assert column(rows, "Organisation") == ["Müller Maschinenbau GmbH"]
    assert column(rows, "Function") == ["Geschäftsführerin"]
    assert column(rows, "Further affiliations") == ["Hochschule Ostfalia (Lehrbeauftragte)"]


FORMULAS = ['=HYPERLINK("http://evil")', "+49 531 123", "-1+2", "@SUM(A1)", "\tTab", "\rCR"]


@pytest.mark.parametrize("file_format", ["csv", "xlsx"])
def test_formula_cells_are_escaped(manager, file_format):
    for index, text in enumerate(FORMULAS):
        Organisation.objects.create(name=f"{index} {text}", legal_form=text, phone=text)
    response = login(manager).get(f"{ORGS}?format={file_format}&o=name")
    rows = csv_rows(response) if file_format == "csv" else xlsx_rows(response)
    expected = ["'" + text for text in FORMULAS]
    if file_format == "xlsx":
        expected = [text.replace("\r", "\n") for text in expected]  # XML keeps no lone CR
    assert column(rows, "Legal form") == expected
    assert column(rows, "Phone") == expected
    if file_format == "xlsx":
        workbook = load_workbook(
            io.BytesIO(b"".join(login(manager).get(f"{ORGS}?format=xlsx").streaming_content))
        )
        assert all(cell.data_type != "f" for row in workbook.active.iter_rows() for cell in row)


@pytest.mark.parametrize("url", [ORGS, PEOPLE])
@pytest.mark.parametrize("file_format", ["csv", "xlsx"])
def test_queries_do_not_grow_with_rows(manager, region, topics, url, file_format):
    client = login(manager)

    def make(count: int) -> None:
        for n in range(count):
            org = Organisation.objects.create(
                name=f"Firma {n}", municipality=region["rural"], responsible_manager=manager
            )
            org.offered_topics.add(topics["ai"])
            org.needed_topics.add(topics["energy"])
            person = Person.objects.create(last_name=f"Person {n}")
            Affiliation.objects.create(person=person, organisation=org, is_primary=True)

    def count_queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            response = client.get(f"{url}?format={file_format}")
            b"".join(response.streaming_content)
        return len(captured.captured_queries)

    make(5)
    few = count_queries()
    make(45)
    assert count_queries() == few


def test_exported_list_imports_again_without_changes(manager, administration, person, topics):
    organisation = Organisation.objects.get()
    organisation.sector = "C"
    organisation.founding_year = 1990
    organisation.external_id = "K-1"
    organisation.phone = "+49 5306 1"
    organisation.save()
    person.external_id = "P-1"
    person.phone = "-"
    person.save()
    client = login(manager)
    before = Organisation.history.count() + Person.history.count()  # type: ignore[attr-defined]
    for url, target in ((ORGS, "organisations"), (PEOPLE, "people")):
        for file_format in ("csv", "xlsx"):
            content = b"".join(client.get(f"{url}?format={file_format}").streaming_content)
            with translation.override("en"):
                result = import_file(
                    io.BytesIO(content),
                    target=target,
                    by=administration,
                    name=f"export.{file_format}",
                )
            assert (result.unchanged, result.total_rows) == (1, 1), result.rows
    assert Organisation.history.count() + Person.history.count() == before  # type: ignore[attr-defined]
