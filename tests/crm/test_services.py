import pytest
from django.core.exceptions import ValidationError

from crm import services
from crm.models import (
    Affiliation,
    ConsentRecord,
    MergeRecord,
    Note,
    Organisation,
    Person,
    Relationship,
)


def test_duplicate_organisation_by_similar_name(organisation):
    found = services.find_duplicate_organisations(name="Mueller Maschinenbau")
    assert [c.record for c in found] == [organisation]
    assert "ähnlicher Name" in found[0].reasons or "similar name" in found[0].reasons


def test_duplicate_organisation_by_domain_and_register_number(organisation):
    by_domain = services.find_duplicate_organisations(
        name="Ganz anders AG", email="x@mueller-maschinenbau.de"
    )
    assert by_domain and by_domain[0].record == organisation
    by_register = services.find_duplicate_organisations(
        name="Ganz anders AG", register_number="hrb 12345"
    )
    assert by_register and by_register[0].record == organisation


def test_public_mail_domains_do_not_make_duplicates(organisation):
    organisation.email = "mueller@gmail.com"
    organisation.save()
    assert services.find_duplicate_organisations(name="Völlig Fremd KG", email="a@gmail.com") == []


def test_unrelated_name_is_not_a_duplicate(organisation):
    assert services.find_duplicate_organisations(name="Harzer Solartechnik") == []


def test_duplicate_people_by_email_and_name(person):
    assert (
        services.find_duplicate_people(
            first_name="X", last_name="Y", email="A.Schmidt@mueller-maschinenbau.de"
        )[0].record
        == person
    )
    assert (
        services.find_duplicate_people(first_name="Anna", last_name="Schmitt")[0].record == person
    )
    assert services.find_duplicate_people(first_name="Bernd", last_name="Meier") == []


def test_create_organisation_records_acting_user(manager, topics):
    org = services.create_organisation(
        Organisation(name="Neue GmbH"), by=manager, offered_topics=[topics["ai"]]
    )
    assert org.history.earliest().history_user == manager
    assert list(org.offered_topics.all()) == [topics["ai"]]


def test_save_affiliation_demotes_other_primary(person, manager):
    other = Organisation.objects.create(name="Neuer Arbeitgeber GmbH")
    services.save_affiliation(
        Affiliation(person=person, organisation=other, is_primary=True), by=manager
    )
    primaries = list(person.affiliations.filter(is_primary=True))
    assert [a.organisation for a in primaries] == [other]


def test_end_affiliation_sets_today_and_refuses_twice(person, manager):
    affiliation = person.affiliations.get()
    ended = services.end_affiliation(affiliation, by=manager)
    assert ended.valid_until is not None and not ended.is_primary
    with pytest.raises(ValidationError):
        services.end_affiliation(ended, by=manager)


def test_withdraw_consent(person, manager):
    consent = services.record_consent(
        ConsentRecord(
            person=person, purpose="email_contact", lawful_basis="consent", source="Besuch"
        ),
        by=manager,
    )
    assert consent.recorded_by == manager
    services.withdraw_consent(consent, by=manager)
    consent.refresh_from_db()
    assert consent.withdrawn_at is not None
    assert consent.history.first().history_user == manager
    with pytest.raises(ValidationError):
        services.withdraw_consent(consent, by=manager)


def test_add_note_refuses_empty_text(organisation, manager):
    with pytest.raises(ValidationError):
        services.add_note(text="   ", by=manager, organisation=organisation)
    note = services.add_note(text="Erstkontakt", by=manager, organisation=organisation)
    assert note.author == manager


def test_bulk_update_records_history_per_organisation(organisation, manager, administration):
    second = Organisation.objects.create(name="Zweite GmbH")
    changed = services.bulk_update_organisations(
        [organisation, second], by=administration, responsible_manager=manager
    )
    assert changed == 2
    assert Organisation.objects.filter(responsible_manager=manager).count() == 2
    assert organisation.history.first().history_user == administration
    # Nothing to change: no new history rows.
    assert (
        services.bulk_update_organisations(
            [organisation], by=administration, responsible_manager=manager
        )
        == 0
    )


def test_merge_organisations_moves_everything_and_records_the_merge(
    organisation, person, manager, region
):
    duplicate = Organisation.objects.create(
        name="Mueller Maschinenbau", phone="05306 1234", municipality=region["rural"]
    )
    other_person = Person.objects.create(last_name="Weber")
    Affiliation.objects.create(person=other_person, organisation=duplicate, function="Technik")
    Affiliation.objects.create(person=person, organisation=duplicate)  # already at survivor
    partner = Organisation.objects.create(name="TU Braunschweig", kind="university")
    Relationship.objects.create(source=duplicate, target=partner, kind="cooperation")
    Relationship.objects.create(source=duplicate, target=organisation, kind="other")
    services.add_note(text="Notiz am Duplikat", by=manager, organisation=duplicate)
    duplicate_history_rows = duplicate.history.count()
    survivor_history_rows = organisation.history.count()
    duplicate_id = duplicate.pk

    record = services.merge_organisations(organisation, duplicate, by=manager)

    assert not Organisation.objects.filter(pk=duplicate_id).exists()
    organisation.refresh_from_db()
    assert organisation.phone == "05306 1234"  # blank field filled from the duplicate
    assert set(organisation.affiliations.values_list("person__last_name", flat=True)) == {
        "Schmidt",
        "Weber",
    }
    assert Relationship.objects.filter(source=organisation, target=partner).exists()
    assert not Relationship.objects.filter(source=organisation, target=organisation).exists()
    assert Note.objects.get(text="Notiz am Duplikat").organisation == organisation
    # history of both (plus the deletion and the merge save) now belongs to the survivor
    assert organisation.history.count() >= duplicate_history_rows + survivor_history_rows + 1
    latest = organisation.history.first()
    assert latest.history_user == manager and "Mueller Maschinenbau" in latest.history_change_reason
    assert record.kind == MergeRecord.Kind.ORGANISATION and record.merged_id == duplicate_id
    assert record.snapshot["name"] == "Mueller Maschinenbau"


def test_merge_with_itself_is_refused(organisation, manager):
    with pytest.raises(services.MergeError):
        services.merge_organisations(organisation, organisation, by=manager)


def test_merge_people(person, manager):
    duplicate = Person.objects.create(first_name="Anna", last_name="Schmitt", phone="0531 1")
    second_org = Organisation.objects.create(name="Verein e.V.")
    Affiliation.objects.create(person=duplicate, organisation=second_org, is_primary=True)
    ConsentRecord.objects.create(
        person=duplicate, purpose="email_contact", lawful_basis="consent", source="x"
    )
    services.merge_people(person, duplicate, by=manager)
    person.refresh_from_db()
    assert person.phone == "0531 1"
    assert person.affiliations.count() == 2
    assert person.affiliations.filter(is_primary=True).count() == 1  # survivor's primary stays
    assert person.can_be_emailed()
    assert MergeRecord.objects.filter(kind="person", survivor_id=person.pk).exists()
