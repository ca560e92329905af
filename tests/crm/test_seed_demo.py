"""``manage.py seed_demo``: reference data, demo users and fictional records."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from allauth.mfa.models import Authenticator
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import connection

from crm import demo
from crm.models import (
    Affiliation,
    ConsentRecord,
    District,
    Municipality,
    Organisation,
    Person,
    Relationship,
    SizeClass,
    Topic,
    normalise_search_text,
)
from crm.roles import Role

pytestmark = pytest.mark.django_db

REFERENCE = demo.FIXTURES_DIR


def seed(*args: str) -> str:
    # pytest-django runs with DEBUG off, where the command wants --force.
    out = StringIO()
    call_command("seed_demo", "--force", *args, stdout=out)
    return out.getvalue()


def counts() -> dict[str, int]:
    models = (District, Municipality, Topic, Organisation, Person, Affiliation, ConsentRecord)
    counted = {m.__name__: m._default_manager.count() for m in models}
    counted["OrganisationHistory"] = Organisation.history.count()
    counted["PersonHistory"] = Person.history.count()
    counted["Authenticator"] = Authenticator.objects.count()
    counted["User"] = get_user_model().objects.count()
    return counted


def fixture_sizes() -> tuple[int, int, int, int]:
    region = json.loads((REFERENCE / "region.json").read_text(encoding="utf-8"))
    topics = json.loads((REFERENCE / "topics.json").read_text(encoding="utf-8"))
    institutions = json.loads((REFERENCE / "institutions.json").read_text(encoding="utf-8"))
    n_topics = sum(1 + len(t.get("children") or []) for t in topics)
    return len(region["districts"]), len(region["municipalities"]), n_topics, len(institutions)


def test_small_run_loads_reference_data_users_and_fictional_records():
    output = seed("--organisations", "30", "--people", "40", "--password", "Anderes-Passwort-1")

    districts, municipalities, topics, institutions = fixture_sizes()
    assert District.objects.count() == districts
    assert Municipality.objects.count() == municipalities
    assert Topic.objects.count() == topics
    assert Topic.objects.filter(parent__isnull=False, parent__parent__isnull=False).count() == 0
    tu = Organisation.objects.get(name="Technische Universität Braunschweig")
    assert tu.kind == Organisation.Kind.UNIVERSITY
    assert tu.directory_consent and tu.status == Organisation.Status.ACTIVE
    assert tu.municipality.ags == "03101000"
    assert tu.offered_topics.filter(slug="digital-ai").exists()
    fictional = Organisation.objects.filter(external_id__startswith=demo.DEMO_ORG_PREFIX)
    assert fictional.count() == 30
    assert Organisation.objects.count() == institutions + 30
    assert Person.objects.count() == 40
    # Fictional organisations sit at a real municipality with one of its postal codes.
    for org in fictional.select_related("municipality"):
        assert org.postal_code in org.municipality.postal_codes.split(",")
        assert org.website == "" or org.website.endswith(".example")
        assert org.email == "" or org.email.endswith(".example")
        assert org.search_text and org.size_class == SizeClass.for_employees(org.employees)
    assert {"sme", "start_up", "place"} <= set(fictional.values_list("kind", flat=True))
    assert Affiliation.objects.filter(is_primary=True).count() == 40
    assert Relationship.objects.exists()
    # Some people have no lawful basis at all, so "cannot be emailed" shows in the demo.
    assert Person.objects.filter(consents__isnull=True).exists()
    assert ConsentRecord.objects.exists()
    history = Organisation.history.filter(external_id__startswith=demo.DEMO_ORG_PREFIX)
    assert history.filter(history_type="+").count() == 30
    assert set(history.values_list("history_change_reason", flat=True)) == {demo.SEED_REASON}
    assert set(history.values_list("history_user", flat=True)) == {None}

    users = {u.username: u for u in get_user_model().objects.all()}
    expected = {
        "scout": Role.SCOUT,
        "scout2": Role.SCOUT,
        "netzwerk": Role.NETWORK_MANAGER,
        "netzwerk2": Role.NETWORK_MANAGER,
        "verwaltung": Role.ADMINISTRATION,
        "foerderer": Role.FUNDING_VIEWER,
    }
    for username, role in expected.items():
        user = users[username]
        assert list(user.groups.values_list("name", flat=True)) == [role.group_name]
        assert user.check_password("Anderes-Passwort-1")
        assert user.is_staff == (role == Role.ADMINISTRATION) and not user.is_superuser
        assert user.first_name and user.last_name
        assert username in output
    admin = users["admin"]
    assert admin.is_staff and admin.is_superuser and admin.check_password("Anderes-Passwort-1")
    totp = Authenticator.objects.filter(type=Authenticator.Type.TOTP)
    assert sorted(totp.values_list("user__username", flat=True)) == ["admin", "verwaltung"]
    assert "python manage.py totp_code verwaltung" in output
    assert "Anderes-Passwort-1" in output
    # Network managers are responsible for the fictional companies.
    managers = set(fictional.values_list("responsible_manager__username", flat=True))
    assert managers <= {"netzwerk", "netzwerk2", None}
    assert managers - {None}


def test_running_twice_changes_nothing_but_resets_passwords():
    seed("--organisations", "30", "--people", "40")
    before = counts()
    secret_before = demo._ensure_totp(get_user_model().objects.get(username="verwaltung"))
    scout = get_user_model().objects.get(username="scout")
    scout.set_password("vergessen-123")
    scout.save()

    output = seed("--organisations", "30", "--people", "40")

    assert counts() == before
    assert "Übersprungen" in output
    scout.refresh_from_db()
    assert scout.check_password(demo.DEMO_PASSWORD)
    verwaltung = get_user_model().objects.get(username="verwaltung")
    assert demo._ensure_totp(verwaltung) == secret_before


def test_same_seed_gives_same_data():
    demo.load_reference_data()
    demo.ensure_demo_users()

    def generate(seed: int) -> list[tuple]:
        generator = demo.DemoGenerator(
            demo.World.load(),
            seed=seed,
            organisations=50,
            people=80,
            first_org_id=1,
            first_person_id=1,
        )
        organisations = [
            (r["name"], r["employees"], r["postal_code"], r["status"])
            for chunk in generator.organisation_chunks()
            for r in chunk.rows
        ]
        people = [
            (p["first_name"], p["last_name"], p["email"])
            for chunk in generator.people_chunks()
            for p in chunk.people
        ]
        return organisations + people

    assert generate(7) == generate(7)
    assert generate(7) != generate(8)


def test_bulk_path_writes_records_history_and_derived_fields():
    output = seed("--organisations", "200", "--people", "300", "--bulk")

    assert ("COPY" if connection.vendor == "postgresql" else "bulk_create") in output
    fictional = Organisation.objects.filter(external_id__startswith=demo.DEMO_ORG_PREFIX)
    assert fictional.count() == 200
    assert Person.objects.count() == 300
    for org in fictional:
        assert org.size_class == SizeClass.for_employees(org.employees)
        assert org.search_text == normalise_search_text(
            org.name, org.legal_form, org.city, org.email, org.register_number
        )
    for person in Person.objects.all()[:50]:
        assert person.search_text == normalise_search_text(
            person.first_name, person.last_name, person.email
        )
    # One historical "created" row per record, including the topic snapshot.
    assert Organisation.history.filter(history_type="+").count() == Organisation.objects.count()
    assert Person.history.count() == 300
    assert Affiliation.history.count() == Affiliation.objects.count()
    assert ConsentRecord.history.count() == ConsentRecord.objects.count()
    org = fictional.filter(offered_topics__isnull=False).first()
    created = org.history.get(history_type="+")
    assert set(created.offered_topics.values_list("topic_id", flat=True)) == set(
        org.offered_topics.values_list("pk", flat=True)
    )
    # Sequences moved past the explicit ids: ordinary saves still work.
    new = Organisation.objects.create(name="Nach dem Seed GmbH")
    assert new.pk > max(fictional.values_list("pk", flat=True))
    person = Person.objects.create(last_name="Neu")
    Affiliation.objects.create(person=person, organisation=new, is_primary=True)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="COPY and DDL are PostgreSQL only")
def test_bulk_load_with_rebuilt_indexes_restores_every_index_and_foreign_key():
    demo.load_reference_data()
    demo.ensure_demo_users("Demo-Passwort-2026")
    tables = [m._meta.db_table for m in demo._bulk_tables()]

    def schema() -> set[tuple[str, str]]:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT tablename, indexdef FROM pg_indexes WHERE tablename = ANY(%s)", [tables]
            )
            found = set(cursor.fetchall())
            cursor.execute(
                "SELECT conrelid::regclass::text, pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE conrelid::regclass::text = ANY(%s)",
                [tables],
            )
            return found | set(cursor.fetchall())

    before = schema()
    demo.seed_synthetic(organisations=50, people=60, seed=1, bulk=True, rebuild_indexes=True)
    assert schema() == before
    assert Organisation.objects.filter(external_id__startswith="demo-").count() == 50


def test_bad_input_is_refused(tmp_path):
    with pytest.raises(CommandError, match="negative"):
        seed("--organisations", "-1")
    with pytest.raises(CommandError, match="region.json"):
        seed("--fixtures", str(tmp_path))


def test_refuses_to_run_with_debug_off_unless_forced(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="--force"):
        call_command("seed_demo", "--organisations", "0", stdout=StringIO())
    assert not get_user_model().objects.filter(username="admin").exists()

    settings.DEBUG = True
    call_command("seed_demo", "--organisations", "0", "--people", "0", stdout=StringIO())

    assert get_user_model().objects.filter(username="admin").exists()
