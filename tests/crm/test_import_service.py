"""The import service: values, matching, idempotence, history, batching."""

from __future__ import annotations

import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from crm.dataio.importer import MappingError
from crm.dataio.parsing import ImportFileError
from crm.dataio.services import import_file
from crm.models import Affiliation, Organisation, Person
from tests.crm.fixtures_files.samples import (
    ORGANISATION_HEADERS,
    PERSON_HEADERS,
    csv_bytes,
    organisation_row,
    organisation_rows,
    person_row,
    xlsx_bytes,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english():
    """Messages are asserted in English, the msgids; German comes from the .po file."""
    with translation.override("en"):
        yield


def org_import(rows, *, headers=ORGANISATION_HEADERS, by=None, **options):
    content = csv_bytes(headers, rows)
    return import_file(
        io.BytesIO(content), target="organisations", by=by, name="firmen.csv", **options
    )


def people_import(rows, *, headers=PERSON_HEADERS, by=None, **options):
    content = csv_bytes(headers, rows)
    return import_file(io.BytesIO(content), target="people", by=by, name="personen.csv", **options)


def reasons(result) -> list[str]:
    return [m for row in result.rows if row.action == "reject" for m in row.messages]


def history_count() -> int:
    return (
        Organisation.history.count()  # type: ignore[attr-defined]
        + Person.history.count()  # type: ignore[attr-defined]
        + Affiliation.history.count()  # type: ignore[attr-defined]
    )


# --- Organisations -------------------------------------------------------------------


def test_organisations_are_created_with_parsed_values_and_history(region, administration):
    result = org_import(organisation_rows(3), by=administration)
    assert (result.created, result.rejected, result.written) == (3, 0, True)
    org = Organisation.objects.get(external_id="K-00001")
    assert org.name == "Müller Werkzeugbau 1 GmbH"
    assert org.kind == Organisation.Kind.SME
    assert org.employees == 1234
    assert org.size_class == "large"
    assert org.sector == "C"
    assert org.founding_year == 1998
    assert org.website == "https://www.werkzeugbau-1.de"
    assert org.municipality == region["rural"]
    assert org.register_number == "HRB 100001"
    assert "müller" in org.search_text and "mueller" in org.search_text
    assert org.legal_form == "GmbH"
    history = org.history.get()  # type: ignore[attr-defined]
    assert history.history_user == administration
    assert history.history_type == "+"
    assert "firmen.csv" in history.history_change_reason


def test_empty_cells_become_blank_strings_not_null(region, administration):
    row = organisation_row(1, Rechtsform="", Telefon="", Mitarbeiter="", AGS="")
    result = org_import([row], by=administration)
    assert result.created == 1
    org = Organisation.objects.get()
    assert (org.legal_form, org.phone, org.employees, org.size_class) == ("", "", None, "")
    assert org.municipality is None


def test_reimporting_the_same_file_changes_nothing(region, administration):
    rows = organisation_rows(5)
    org_import(rows, by=administration)
    before = history_count()
    updated_at = dict(Organisation.objects.values_list("pk", "updated_at"))
    result = org_import(rows, by=administration)
    assert (result.created, result.updated, result.unchanged) == (0, 0, 5)
    assert history_count() == before
    assert dict(Organisation.objects.values_list("pk", "updated_at")) == updated_at


def test_rows_match_by_external_id_then_register_number(organisation, administration):
    organisation.external_id = "K-1"
    organisation.save()
    by_register = organisation_row(
        2, Kundennummer="", Handelsregister="HRB  12345", Firma="Neuer Name GmbH", AGS=""
    )
    result = org_import([by_register], by=administration)
    assert (result.created, result.updated) == (0, 1)
    organisation.refresh_from_db()
    assert organisation.name == "Neuer Name GmbH"
    assert organisation.external_id == "K-1"  # empty cells never overwrite
    latest = organisation.history.first()  # type: ignore[attr-defined]
    assert latest.history_type == "~"
    assert latest.history_user == administration
    assert "neuer name" in organisation.search_text

    by_external_id = organisation_row(3, Kundennummer="K-1", Handelsregister="", Mitarbeiter="7")
    result = org_import([by_external_id], by=administration)
    assert result.updated == 1
    organisation.refresh_from_db()
    assert (organisation.employees, organisation.size_class) == (7, "micro")


def test_row_without_keys_matches_by_exact_name(organisation, administration):
    headers = ["Firma", "Ort"]
    result = org_import([["Müller Maschinenbau GmbH", "Cremlingen"]], headers=headers)
    assert (result.created, result.unchanged) == (0, 1)
    result = org_import([["Müller Maschinenbau GmbH", "Sickte"]], headers=headers)
    assert result.updated == 1


def test_update_message_names_the_changes(organisation, administration):
    row = organisation_row(1, Kundennummer="", Handelsregister="HRB 12345", Mitarbeiter="50")
    result = org_import([row], dry_run=True)
    change = next(r for r in result.rows if r.action == "update")
    assert any("42 → 50" in m for m in change.messages)
    organisation.refresh_from_db()
    assert organisation.employees == 42  # a check writes nothing


@pytest.mark.parametrize(
    ("overrides", "column", "snippet"),
    [
        ({"E-Mail": "info@"}, "E-Mail", "valid email"),
        ({"Mitarbeiter": "-5"}, "Mitarbeiter", "-5"),
        ({"Mitarbeiter": "viele"}, "Mitarbeiter", "whole number"),
        ({"Art": "Verein"}, "Art", "allowed values"),
        ({"Branche": "Chemie"}, "Branche", "WZ 2008"),
        ({"Gründungsjahr": "3000"}, "Gründungsjahr", "3000"),
        ({"AGS": "12345678"}, "AGS", "no municipality"),
        ({"Webseite": "kein link"}, "Webseite", "web address"),
        ({"Firma": ""}, "Firma", "required"),
        ({"Firma": "x" * 201}, "Firma", "200"),
    ],
)
def test_invalid_values_reject_the_row_naming_column_and_value(
    region, administration, overrides, column, snippet
):
    result = org_import([organisation_row(1), organisation_row(2, **overrides)], by=administration)
    assert (result.rejected, result.written) == (1, False)
    assert Organisation.objects.count() == 0  # all or nothing by default
    [message] = reasons(result)
    assert f"“{column}”" in message
    assert snippet in message
    [rejected] = [r for r in result.rows if r.action == "reject"]
    assert rejected.line == 3


def test_valid_rows_are_imported_when_partial_import_is_chosen(region, administration):
    rows = [organisation_row(1), organisation_row(2, **{"E-Mail": "kaputt"}), organisation_row(3)]
    result = org_import(rows, by=administration, allow_partial=True)
    assert (result.created, result.rejected, result.written) == (2, 1, True)
    assert set(Organisation.objects.values_list("external_id", flat=True)) == {"K-00001", "K-00003"}


@pytest.mark.parametrize(
    ("second", "snippet"),
    [
        ({"Kundennummer": "K-00001"}, "already appears in row 2"),
        ({"Handelsregister": "hrb 100001"}, "already appears in row 2"),
    ],
)
def test_duplicates_within_the_file_are_rejected(region, second, snippet):
    result = org_import([organisation_row(1), organisation_row(2, **second)], allow_partial=True)
    assert (result.created, result.rejected) == (1, 1)
    assert snippet in reasons(result)[0]


def test_two_rows_for_one_existing_record_are_rejected(organisation):
    rows = [
        organisation_row(1, Kundennummer="", Handelsregister="HRB 12345"),
        organisation_row(2, Kundennummer="", Handelsregister="", Firma="Müller Maschinenbau GmbH"),
    ]
    result = org_import(rows, dry_run=True)
    assert "Row 2 of this file already updates the same record" in reasons(result)[0]


def test_ambiguous_existing_records_are_not_guessed(organisation):
    Organisation.objects.create(name="Zwilling", register_number="HRB 12345")
    result = org_import([organisation_row(1, Handelsregister="HRB 12345")], dry_run=True)
    assert "2 existing organisations" in reasons(result)[0]


def test_conflicting_external_id_is_rejected(organisation):
    organisation.external_id = "ALT-1"
    organisation.save()
    result = org_import([organisation_row(1, Handelsregister="HRB 12345")], dry_run=True)
    assert "ALT-1" in reasons(result)[0]


def test_municipality_by_name(region):
    headers = ["Firma", "Gemeinde"]
    result = org_import(
        [["A GmbH", "cremlingen"], ["B GmbH", "Atlantis"]], headers=headers, allow_partial=True
    )
    assert (result.created, result.rejected) == (1, 1)
    assert Organisation.objects.get().municipality == region["rural"]
    assert "no municipality has this name" in reasons(result)[0]


def test_xlsx_import(region, administration):
    rows = organisation_rows(2)
    rows[0][ORGANISATION_HEADERS.index("Mitarbeiter")] = 12  # a real number cell
    rows[0][ORGANISATION_HEADERS.index("PLZ")] = 1067  # a postal code that lost its 0
    content = xlsx_bytes(ORGANISATION_HEADERS, rows)
    result = import_file(
        io.BytesIO(content), target="organisations", by=administration, name="firmen.xlsx"
    )
    assert result.created == 2
    org = Organisation.objects.get(external_id="K-00001")
    assert (org.employees, org.postal_code) == (12, "01067")


def test_import_from_a_path(tmp_path, region, administration):
    path = tmp_path / "firmen.csv"
    path.write_bytes(csv_bytes(ORGANISATION_HEADERS, organisation_rows(2), encoding="cp1252"))
    columns = {header: key for header, key in [("Firma", "name"), ("Kundennummer", "external_id")]}
    result = import_file(path, target="organisations", columns=columns, by=administration)
    assert result.created == 2
    assert Organisation.objects.get(external_id="K-00001").postal_code == ""  # not mapped


def test_mapping_without_required_field_is_refused(region):
    with pytest.raises(MappingError, match="required"):
        org_import(organisation_rows(1), columns={"PLZ": "postal_code"})
    with pytest.raises(MappingError, match="both assigned"):
        org_import(organisation_rows(1), columns={"Firma": "name", "Ort": "name"})


def test_unreadable_file_raises_import_file_error():
    with pytest.raises(ImportFileError):
        import_file(io.BytesIO(b"\x00\x01" * 100), target="organisations", by=None, name="x.csv")


def test_queries_per_batch_do_not_grow_with_batch_size(region, administration):
    """One lookup per batch for municipalities and for existing records, then bulk writes."""

    def queries_for(rows: int, start: int) -> dict[str, int]:
        # Half the rows update existing records, half create new ones.
        Organisation.objects.bulk_create(
            [
                Organisation(name=f"Alt {n}", external_id=f"K-{n:05d}")
                for n in range(start, start + rows // 2)
            ]
        )
        with CaptureQueriesContext(connection) as captured:
            result = org_import(
                organisation_rows(rows, start=start),
                by=administration,
                allow_partial=True,
                batch_size=rows,
            )
        assert (result.created, result.updated) == (rows - rows // 2, rows // 2)
        kinds: dict[str, int] = {}
        for query in captured.captured_queries:
            verb = query["sql"].split()[0].upper()
            kinds[verb] = kinds.get(verb, 0) + 1
        return kinds

    small = queries_for(10, start=1)
    large = queries_for(100, start=1000)
    # Lookups: municipalities, existing records. Writes: new records and their "+"
    # history rows, then the changed records and their "~" history rows.
    if connection.vendor == "postgresql":
        # New records: ids from the sequence (a SELECT), then COPY records and history;
        # changed records: one UPDATE from arrays, then COPY their history.
        assert small == {"SAVEPOINT": 1, "SELECT": 3, "COPY": 3, "UPDATE": 1, "RELEASE": 1}
        assert large == small
    else:
        assert small == {"SAVEPOINT": 1, "SELECT": 2, "INSERT": 3, "UPDATE": 1, "RELEASE": 1}
        # SQLite takes at most 999 parameters per statement, so Django splits the bulk
        # statements of 100 rows; the lookups stay the same.
        assert {k: v for k, v in large.items() if k not in ("INSERT", "UPDATE")} == {
            "SAVEPOINT": 1,
            "SELECT": 2,
            "RELEASE": 1,
        }


def test_batches_carry_duplicate_detection_across(region):
    rows = [organisation_row(n) for n in range(1, 6)] + [
        organisation_row(9, Kundennummer="K-00002")
    ]
    result = org_import(rows, batch_size=2, allow_partial=True)
    assert (result.created, result.rejected) == (5, 1)
    assert "row 3" in reasons(result)[0]


# --- People --------------------------------------------------------------------------


def test_people_are_created_with_affiliations(organisation, administration):
    rows = [
        person_row(1, organisation="Müller Maschinenbau GmbH"),
        person_row(2),
    ]
    result = people_import(rows, by=administration)
    assert (result.created, result.rejected) == (2, 0)
    person = Person.objects.get(external_id="P-1")
    assert (person.first_name, person.last_name, person.title) == ("Jörg", "Schäfer1", "Dr.")
    assert "schaefer1" in person.search_text
    affiliation = person.affiliations.get()
    assert affiliation.organisation == organisation
    assert affiliation.function == "Geschäftsführung"
    assert affiliation.is_primary
    assert affiliation.history.get().history_user == administration  # type: ignore[attr-defined]
    assert person.history.get().history_user == administration  # type: ignore[attr-defined]
    assert not Person.objects.get(external_id="P-2").affiliations.exists()


def test_people_reimport_is_idempotent_and_updates_affiliation(organisation, administration):
    rows = [person_row(1, organisation="Müller Maschinenbau GmbH")]
    people_import(rows, by=administration)
    before = history_count()
    assert people_import(rows, by=administration).unchanged == 1
    assert history_count() == before

    rows = [person_row(1, organisation="Müller Maschinenbau GmbH", Funktion="Vertrieb")]
    result = people_import(rows, by=administration)
    assert result.updated == 1
    affiliation = Affiliation.objects.get()
    assert affiliation.function == "Vertrieb"
    assert Person.history.count() == 1  # type: ignore[attr-defined]
    assert affiliation.history.first().history_user == administration  # type: ignore[attr-defined]


def test_person_matched_by_email_gets_a_second_affiliation(person, organisation, region):
    other = Organisation.objects.create(name="Hochschule Ostfalia", external_id="HS-1")
    headers = ["Nachname", "E-Mail", "Firmen-ID", "Funktion"]
    rows = [["Schmidt", "A.Schmidt@mueller-maschinenbau.de", "HS-1", "Lehrbeauftragte"]]
    result = people_import(rows, headers=headers)
    assert (result.created, result.updated) == (0, 1)
    new = person.affiliations.get(organisation=other)
    assert new.function == "Lehrbeauftragte"
    assert not new.is_primary  # the person already has a primary affiliation


@pytest.mark.parametrize(
    ("row", "snippet"),
    [
        (person_row(1, organisation="Gibt es nicht GmbH"), "no organisation found"),
        (person_row(1, Funktion="Chefin"), "no organisation"),
        (person_row(1, **{"E-Mail": "kaputt@"}), "valid email"),
        (person_row(1, Nachname=""), "required"),
    ],
)
def test_invalid_people_rows(organisation, row, snippet):
    result = people_import([row], dry_run=True)
    assert result.rejected == 1
    assert snippet in reasons(result)[0]


def test_duplicate_email_in_people_file(organisation):
    rows = [person_row(1), person_row(2, **{"E-Mail": "PERSON1@example.org"})]
    result = people_import(rows, dry_run=True)
    assert "already appears in row 2" in reasons(result)[0]


def test_people_queries_per_batch_do_not_grow(organisation, administration):
    def queries_for(rows: int, start: int) -> int:
        with CaptureQueriesContext(connection) as captured:
            people_import(
                [person_row(n, organisation=organisation.name) for n in range(start, start + rows)],
                by=administration,
                batch_size=rows,
            )
        return sum(1 for q in captured.captured_queries if q["sql"].upper().startswith("SELECT"))

    assert queries_for(10, 1) == queries_for(100, 1000)
