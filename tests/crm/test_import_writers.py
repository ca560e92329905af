"""New records and their history rows, written in bulk (COPY on PostgreSQL)."""

from __future__ import annotations

import pytest
from django.db import DataError, connection
from django.forms.models import model_to_dict
from django.test.utils import CaptureQueriesContext
from simple_history.utils import bulk_create_with_history

from crm.dataio import writers
from crm.models import Affiliation, Organisation, Person

pytestmark = pytest.mark.django_db


def _organisations(marker: str, region) -> list[Organisation]:
    organisations = []
    for n in range(3):
        org = Organisation(
            name=f"Müller\t{n} GmbH",
            kind="sme",
            employees=n * 100,
            sector="C",
            municipality=region["rural"],
            email=f"info{n}@example.org",
            register_number=f"HRB {n}",
            legal_form="" if n else "GmbH",
            external_id=f"{marker}{n}",
        )
        org.refresh_derived_fields()
        organisations.append(org)
    return organisations


IGNORED = ["id", "external_id", "history_id", "history_date", "created_at", "updated_at"]


def test_records_and_history_equal_what_the_helper_writes(region, administration):
    copied = _organisations("A", region)
    writers.create_with_history(copied, Organisation, by=administration, reason="Import „x“")
    helper = _organisations("B", region)
    bulk_create_with_history(
        helper, Organisation, default_user=administration, default_change_reason="Import „x“"
    )
    assert all(org.pk for org in copied)
    for mine, theirs in zip(copied, helper, strict=True):
        mine_db = Organisation.objects.get(pk=mine.pk)
        theirs_db = Organisation.objects.get(pk=theirs.pk)
        assert model_to_dict(mine_db, exclude=IGNORED) == model_to_dict(theirs_db, exclude=IGNORED)
        assert mine_db.search_text == theirs_db.search_text
        assert mine_db.updated_at is not None
        mine_history = mine_db.history.get()  # type: ignore[attr-defined]
        theirs_history = theirs_db.history.get()  # type: ignore[attr-defined]
        assert (mine_history.id, mine_history.history_user) == (mine.pk, administration)
        assert model_to_dict(mine_history, exclude=IGNORED) == model_to_dict(
            theirs_history, exclude=IGNORED
        )


def test_people_and_affiliations(organisation, administration):
    person = Person(last_name="Weiß", email="w@example.org")
    person.refresh_derived_fields()
    writers.create_with_history([person], Person, by=administration, reason="Import")
    affiliation = Affiliation(person=person, organisation=organisation, is_primary=True)
    writers.create_with_history([affiliation], Affiliation, by=administration, reason="Import")
    assert Person.objects.get(pk=person.pk).affiliations.get() == affiliation
    assert affiliation.history.get().history_user == administration  # type: ignore[attr-defined]
    assert person.history.get().history_type == "+"  # type: ignore[attr-defined]


def test_writes_are_logged_as_queries(region, administration):
    with CaptureQueriesContext(connection) as captured:
        writers.create_with_history(
            _organisations("C", region), Organisation, by=administration, reason="x"
        )
    assert len(captured.captured_queries) >= 2
    if connection.vendor == "postgresql":
        assert sum("COPY" in q["sql"] for q in captured.captured_queries) == 2


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite has no length limit")
def test_database_errors_are_django_errors(administration):
    person = Person(last_name="x" * 101)  # longer than the column allows
    with pytest.raises(DataError):
        writers.create_with_history([person], Person, by=administration, reason="x")


def test_updates_write_the_fields_and_a_history_row(region, administration):
    organisations = _organisations("U", region)
    writers.create_with_history(organisations, Organisation, by=administration, reason="neu")
    for n, org in enumerate(organisations):
        org.employees = None if n == 0 else 7
        org.municipality = region["urban"]
        org.name = f"Neu {n}"
        org.refresh_derived_fields()
    writers.update_with_history(
        organisations,
        Organisation,
        fields=["employees", "municipality", "name", "search_text", "size_class"],
        by=administration,
        reason="geändert",
    )
    for n, org in enumerate(organisations):
        stored = Organisation.objects.get(pk=org.pk)
        assert (stored.name, stored.employees, stored.municipality) == (
            f"Neu {n}",
            None if n == 0 else 7,
            region["urban"],
        )
        assert stored.search_text.startswith(f"neu {n}")
        assert stored.size_class == ("" if n == 0 else "micro")
        latest = stored.history.first()  # type: ignore[attr-defined]
        assert (latest.history_type, latest.history_user, latest.history_change_reason) == (
            "~",
            administration,
            "geändert",
        )
        assert latest.name == f"Neu {n}"
        assert stored.history.count() == 2  # type: ignore[attr-defined]
