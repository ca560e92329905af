import datetime

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from crm.models import (
    Affiliation,
    ConsentRecord,
    Organisation,
    Person,
    Relationship,
    SizeClass,
    Topic,
    normalise_search_text,
)


@pytest.mark.parametrize(
    ("employees", "expected"),
    [
        (None, ""),
        (0, "micro"),
        (9, "micro"),
        (10, "small"),
        (49, "small"),
        (50, "medium"),
        (249, "medium"),
        (250, "large"),
    ],
)
def test_size_class_follows_eu_thresholds(employees, expected):
    assert SizeClass.for_employees(employees) == expected


def test_organisation_derives_size_class_and_search_text_on_save(db):
    org = Organisation.objects.create(name="Bäckerei Groß GmbH", employees=12, city="Peine")
    assert org.size_class == SizeClass.SMALL
    assert "bäckerei groß gmbh" in org.search_text
    assert "baeckerei gross gmbh" in org.search_text  # umlaut-folded copy for either spelling


def test_normalise_search_text_skips_blanks():
    assert normalise_search_text("A", None, " ", "b") == "a b"


def test_email_domain_prefers_email_then_website():
    assert Organisation(email="x@firma.de").email_domain == "firma.de"
    assert Organisation(website="https://www.firma.de/kontakt").email_domain == "firma.de"
    assert Organisation().email_domain == ""


def test_enterprise_and_research_kinds():
    assert Organisation(kind=Organisation.Kind.START_UP).is_enterprise()
    assert Organisation(kind=Organisation.Kind.UNIVERSITY).is_research_partner()
    assert not Organisation(kind=Organisation.Kind.CHAMBER).is_enterprise()


def test_topics_nest_at_most_two_levels(db):
    top = Topic.objects.create(slug="a", name="A")
    child = Topic.objects.create(slug="b", name="B", parent=top)
    grandchild = Topic(slug="c", name="C", parent=child)
    with pytest.raises(ValidationError):
        grandchild.full_clean()


def test_person_without_lawful_basis_cannot_be_emailed(person):
    assert not person.can_be_emailed()
    ConsentRecord.objects.create(
        person=person,
        purpose=ConsentRecord.Purpose.NEWSLETTER,
        lawful_basis=ConsentRecord.LawfulBasis.CONSENT,
        source="Formular",
    )
    assert not person.can_be_emailed()  # newsletter consent is not email contact
    consent = ConsentRecord.objects.create(
        person=person,
        purpose=ConsentRecord.Purpose.EMAIL_CONTACT,
        lawful_basis=ConsentRecord.LawfulBasis.LEGITIMATE_INTEREST,
        source="Besuch",
    )
    assert person.can_be_emailed()
    consent.withdrawn_at = timezone.now() - datetime.timedelta(seconds=1)
    consent.save()
    assert not person.can_be_emailed()


def test_person_without_email_cannot_be_emailed(db):
    person = Person.objects.create(last_name="Ohne")
    ConsentRecord.objects.create(
        person=person,
        purpose=ConsentRecord.Purpose.EMAIL_CONTACT,
        lawful_basis=ConsentRecord.LawfulBasis.CONSENT,
        source="Besuch",
    )
    assert not person.can_be_emailed()


def test_consent_cannot_be_withdrawn_before_it_was_given(person):
    now = timezone.now()
    consent = ConsentRecord(
        person=person,
        purpose="email_contact",
        lawful_basis="consent",
        source="x",
        given_at=now,
        withdrawn_at=now - datetime.timedelta(days=1),
    )
    with pytest.raises(ValidationError):
        consent.full_clean()


def test_one_primary_affiliation_per_person(person, region):
    other = Organisation.objects.create(name="Zweite GmbH")
    with pytest.raises(IntegrityError), transaction.atomic():
        Affiliation.objects.create(person=person, organisation=other, is_primary=True)


def test_affiliation_end_before_start_is_refused(person):
    affiliation = person.affiliations.get()
    affiliation.valid_from = datetime.date(2026, 5, 1)
    affiliation.valid_until = datetime.date(2026, 4, 1)
    with pytest.raises(ValidationError):
        affiliation.full_clean()
    assert affiliation.is_current(datetime.date(2030, 1, 1)) is False


def test_relationship_with_itself_is_refused(organisation):
    with pytest.raises(ValidationError):
        Relationship(source=organisation, target=organisation, kind="other").full_clean()


def test_history_records_changes(organisation):
    organisation.employees = 60
    organisation.save()
    assert organisation.history.count() == 2
    assert organisation.history.first().size_class == "medium"


@pytest.mark.parametrize(
    "given_at",
    [timezone.now() + datetime.timedelta(days=30), timezone.now().replace(year=1800)],
)
def test_consent_dates_must_be_plausible(person, given_at):
    consent = ConsentRecord(
        person=person,
        purpose="email_contact",
        lawful_basis="consent",
        source="x",
        given_at=given_at,
    )
    with pytest.raises(ValidationError):
        consent.full_clean()


def test_founding_year_cannot_lie_beyond_next_year(db):
    next_year = timezone.localdate().year + 1
    Organisation(name="Gründung GmbH", founding_year=next_year).full_clean()
    with pytest.raises(ValidationError):
        Organisation(name="Zukunft GmbH", founding_year=next_year + 1).full_clean()
