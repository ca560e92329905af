"""Core domain: regions, topics, organisations, people and how they relate."""

from __future__ import annotations

import datetime
import uuid
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser


def normalise_search_text(*parts: str | None) -> str:
    """The lower-cased text a record is found by (names, city, email, register number).

    Umlauts are also stored folded ("müller mueller") so that either spelling
    finds the record on every database.
    """
    text = " ".join(p.strip() for p in parts if p and p.strip()).lower()
    folded = text.replace("ä", "ae").replace("ö", "oe").replace("ü", "ue").replace("ß", "ss")
    if folded != text:
        text = f"{text} {folded}"
    return text[:1000]


def validate_not_future_year(value: int) -> None:
    """A founding year can be next year (a firm being registered), not later."""
    if value > timezone.localdate().year + 1:
        raise ValidationError(_("The year lies in the future."), code="future_year")


# --- Regions -------------------------------------------------------------------------


class District(models.Model):
    class Kind(models.TextChoices):
        LANDKREIS = "landkreis", _("District (Landkreis)")
        KREISFREIE_STADT = "kreisfreie_stadt", _("Independent city (kreisfreie Stadt)")

    key = models.CharField(_("district key"), max_length=5, unique=True)
    name = models.CharField(_("name"), max_length=120)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)

    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]
        verbose_name = _("district")
        verbose_name_plural = _("districts")

    def __str__(self) -> str:
        return self.name if self.kind == self.Kind.KREISFREIE_STADT else f"LK {self.name}"


class Municipality(models.Model):
    class AreaType(models.TextChoices):
        URBAN = "urban", _("urban")
        RURAL = "rural", _("rural")

    ags = models.CharField(_("official municipality key (AGS)"), max_length=8, unique=True)
    name = models.CharField(_("name"), max_length=120)
    district = models.ForeignKey(
        District,
        on_delete=models.PROTECT,
        related_name="municipalities",
        verbose_name=_("district"),
    )
    latitude = models.DecimalField(_("latitude"), max_digits=8, decimal_places=5)
    longitude = models.DecimalField(_("longitude"), max_digits=8, decimal_places=5)
    population = models.PositiveIntegerField(_("population"), null=True, blank=True)
    area_type = models.CharField(_("rural/urban"), max_length=5, choices=AreaType.choices)
    postal_codes = models.CharField(
        _("postal codes"), max_length=200, blank=True, help_text=_("Comma-separated.")
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]
        verbose_name = _("municipality")
        verbose_name_plural = _("municipalities")

    def __str__(self) -> str:
        return self.name

    @property
    def is_rural(self) -> bool:
        return self.area_type == self.AreaType.RURAL


# --- Topics --------------------------------------------------------------------------


class Topic(models.Model):
    """A field of innovation, technology or knowledge; two levels deep."""

    slug = models.SlugField(_("key"), max_length=60, unique=True)
    name = models.CharField(_("name (German)"), max_length=120)
    name_en = models.CharField(_("name (English)"), max_length=120, blank=True)
    parent = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="children",
        verbose_name=_("parent topic"),
    )
    position = models.PositiveSmallIntegerField(_("position"), default=0)

    history = HistoricalRecords()

    class Meta:
        ordering = ["parent__position", "position", "name"]
        verbose_name = _("topic")
        verbose_name_plural = _("topics")

    def __str__(self) -> str:
        return self.name

    @staticmethod
    def family_ids(topic_id: int) -> models.QuerySet[Topic]:
        """The ids of a topic and its sub-topics, as a subquery: filtering by a parent
        topic finds records tagged with one of its children too."""
        return Topic.objects.filter(Q(pk=topic_id) | Q(parent_id=topic_id)).values("pk")

    def clean(self) -> None:
        if self.parent_id and self.parent and self.parent.parent_id:
            raise ValidationError({"parent": _("Topics can only be nested two levels deep.")})
        if self.parent_id and self.parent_id == self.pk:
            raise ValidationError({"parent": _("A topic cannot be its own parent.")})


# --- Organisations -------------------------------------------------------------------


class SizeClass(models.TextChoices):
    """EU enterprise size class by head count (Recommendation 2003/361/EC)."""

    MICRO = "micro", _("micro (< 10)")
    SMALL = "small", _("small (< 50)")
    MEDIUM = "medium", _("medium (< 250)")
    LARGE = "large", _("large (≥ 250)")

    @classmethod
    def for_employees(cls, employees: int | None) -> str:
        if employees is None:
            return ""
        if employees < 10:
            return cls.MICRO
        if employees < 50:
            return cls.SMALL
        if employees < 250:
            return cls.MEDIUM
        return cls.LARGE


class Sector(models.TextChoices):
    """WZ 2008 sections."""

    A = "A", _("A – Agriculture, forestry and fishing")
    B = "B", _("B – Mining and quarrying")
    C = "C", _("C – Manufacturing")
    D = "D", _("D – Electricity, gas, steam and air conditioning supply")
    E = "E", _("E – Water supply, sewerage, waste management")
    F = "F", _("F – Construction")
    G = "G", _("G – Wholesale and retail trade; repair of motor vehicles")
    H = "H", _("H – Transportation and storage")
    I = "I", _("I – Accommodation and food service")  # noqa: E741 - WZ section letter
    J = "J", _("J – Information and communication")
    K = "K", _("K – Financial and insurance activities")
    L = "L", _("L – Real estate activities")
    M = "M", _("M – Professional, scientific and technical activities")
    N = "N", _("N – Administrative and support service activities")
    O = "O", _("O – Public administration and defence")  # noqa: E741 - WZ section letter
    P = "P", _("P – Education")
    Q = "Q", _("Q – Human health and social work")
    R = "R", _("R – Arts, entertainment and recreation")
    S = "S", _("S – Other service activities")
    T = "T", _("T – Activities of households as employers")
    U = "U", _("U – Extraterritorial organisations")


class OrganisationQuerySet(models.QuerySet["Organisation"]):
    def active(self) -> OrganisationQuerySet:
        return self.filter(status=Organisation.Status.ACTIVE)

    def enterprises(self) -> OrganisationQuerySet:
        return self.filter(kind__in=Organisation.ENTERPRISE_KINDS)

    def research_partners(self) -> OrganisationQuerySet:
        return self.filter(kind__in=Organisation.RESEARCH_KINDS)

    def in_district(self, district: District) -> OrganisationQuerySet:
        return self.filter(municipality__district=district)


class Organisation(models.Model):
    class Kind(models.TextChoices):
        SME = "sme", _("SME")
        LARGE_ENTERPRISE = "large_enterprise", _("Large enterprise")
        UNIVERSITY = "university", _("University")
        RESEARCH_INSTITUTE = "research_institute", _("Research institute")
        START_UP = "start_up", _("Start-up")
        MUNICIPALITY = "municipality", _("Municipality / administration")
        CHAMBER = "chamber", _("Chamber / association")
        INTERMEDIARY = "intermediary", _("Intermediary")
        PLACE = "place", _("Learning and working place")

    class Status(models.TextChoices):
        ACTIVE = "active", _("active")
        DORMANT = "dormant", _("dormant")
        ARCHIVED = "archived", _("archived")

    ENTERPRISE_KINDS = (Kind.SME, Kind.LARGE_ENTERPRISE, Kind.START_UP)
    SEARCH_NAME_FIELD = "name"
    RESEARCH_KINDS = (Kind.UNIVERSITY, Kind.RESEARCH_INSTITUTE)

    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices, default=Kind.SME)
    name = models.CharField(_("name"), max_length=200)
    legal_form = models.CharField(_("legal form"), max_length=60, blank=True)
    employees = models.PositiveIntegerField(
        _("employees"), null=True, blank=True, validators=[MaxValueValidator(2_000_000)]
    )
    size_class = models.CharField(
        _("size class"), max_length=6, choices=SizeClass.choices, blank=True, editable=False
    )
    sector = models.CharField(
        _("sector (WZ 2008)"), max_length=1, choices=Sector.choices, blank=True
    )
    founding_year = models.PositiveSmallIntegerField(
        _("founding year"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1000), validate_not_future_year],
    )
    street = models.CharField(_("street and number"), max_length=200, blank=True)
    postal_code = models.CharField(_("postal code"), max_length=10, blank=True)
    city = models.CharField(_("city"), max_length=120, blank=True)
    municipality = models.ForeignKey(
        Municipality,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="organisations",
        verbose_name=_("municipality"),
    )
    website = models.URLField(_("website"), max_length=300, blank=True)
    email = models.EmailField(_("general email"), blank=True)
    phone = models.CharField(_("phone"), max_length=40, blank=True)
    register_number = models.CharField(_("commercial register number"), max_length=60, blank=True)
    external_id = models.CharField(_("external ID"), max_length=80, blank=True)
    responsible_manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="managed_organisations",
        verbose_name=_("responsible network manager"),
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.ACTIVE
    )
    directory_consent = models.BooleanField(
        _("consents to public competence directory"), default=False
    )
    offered_topics = models.ManyToManyField(
        Topic, blank=True, related_name="offering_organisations", verbose_name=_("competences")
    )
    needed_topics = models.ManyToManyField(
        Topic, blank=True, related_name="needing_organisations", verbose_name=_("needs")
    )
    search_text = models.CharField(max_length=1000, blank=True, editable=False)
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    # History is read per object (by id) and by date; indexes copied from the lookup
    # fields would only slow down every write, imports above all.
    history = HistoricalRecords(
        m2m_fields=[offered_topics, needed_topics],
        excluded_fields=["search_text", "updated_at"],
        no_db_index=["municipality", "responsible_manager"],
    )
    objects = OrganisationQuerySet.as_manager()

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("organisation")
        verbose_name_plural = _("organisations")
        indexes = [
            models.Index(fields=["name", "id"], name="org_name_id"),
            models.Index(fields=["kind", "name"], name="org_kind_name"),
            models.Index(fields=["status", "name"], name="org_status_name"),
            models.Index(fields=["size_class", "name"], name="org_size_name"),
            models.Index(fields=["-updated_at"], name="org_updated"),
            models.Index(fields=["register_number"], name="org_register_number"),
            models.Index(fields=["external_id"], name="org_external_id"),
            # Impact indicators: what a figure needs of each counted organisation, read
            # from the index alone (PostgreSQL; SQLite has no covering indexes).
            models.Index(
                fields=["id"],
                include=["kind", "size_class", "founding_year", "municipality"],
                name="org_reporting",
            ),
        ]
        permissions = [
            ("merge_organisation", _("Can merge organisations")),
            ("import_organisation", _("Can import organisations and people")),
            ("export_organisation", _("Can export organisations and people")),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("crm:organisation_detail", args=[self.pk])

    @property
    def place(self) -> str:
        """Where the organisation is, for one-line listings."""
        return self.city or (self.municipality.name if self.municipality_id else "")

    @property
    def email_domain(self) -> str:
        for source in (self.email, self.website):
            if not source:
                continue
            host = source.split("@", 1)[-1] if "@" in source else source
            host = host.split("://", 1)[-1].split("/", 1)[0].lower()
            return host.removeprefix("www.")
        return ""

    def refresh_derived_fields(self) -> None:
        self.size_class = SizeClass.for_employees(self.employees)
        self.search_text = normalise_search_text(
            self.name, self.legal_form, self.city, self.email, self.register_number
        )

    def save(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        self.refresh_derived_fields()
        super().save(*args, **kwargs)

    def is_enterprise(self) -> bool:
        return self.kind in self.ENTERPRISE_KINDS

    def is_research_partner(self) -> bool:
        return self.kind in self.RESEARCH_KINDS


# --- People --------------------------------------------------------------------------


class Person(models.Model):
    class Language(models.TextChoices):
        GERMAN = "de", _("German")
        ENGLISH = "en", _("English")

    SEARCH_NAME_FIELD = "last_name"

    salutation = models.CharField(_("salutation"), max_length=20, blank=True)
    title = models.CharField(_("academic title"), max_length=40, blank=True)
    first_name = models.CharField(_("first name"), max_length=100, blank=True)
    last_name = models.CharField(_("last name"), max_length=100)
    email = models.EmailField(_("email"), blank=True)
    phone = models.CharField(_("phone"), max_length=40, blank=True)
    mobile = models.CharField(_("mobile"), max_length=40, blank=True)
    preferred_language = models.CharField(
        _("preferred language"), max_length=2, choices=Language.choices, default=Language.GERMAN
    )
    external_id = models.CharField(_("external ID"), max_length=80, blank=True)
    organisations = models.ManyToManyField(
        Organisation, through="Affiliation", related_name="people", verbose_name=_("organisations")
    )
    search_text = models.CharField(max_length=1000, blank=True, editable=False)
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    history = HistoricalRecords(excluded_fields=["search_text", "updated_at"])

    class Meta:
        ordering = ["last_name", "first_name", "id"]
        verbose_name = _("person")
        verbose_name_plural = _("people")
        indexes = [
            models.Index(fields=["last_name", "first_name", "id"], name="person_name_id"),
            models.Index(fields=["email"], name="person_email"),
            models.Index(fields=["external_id"], name="person_external_id"),
        ]
        permissions = [("merge_person", _("Can merge people"))]

    def __str__(self) -> str:
        return self.full_name

    def get_absolute_url(self) -> str:
        return reverse("crm:person_detail", args=[self.pk])

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.title, self.first_name, self.last_name) if p)

    @property
    def email_domain(self) -> str:
        return self.email.rsplit("@", 1)[-1].lower() if "@" in self.email else ""

    def refresh_derived_fields(self) -> None:
        self.search_text = normalise_search_text(self.first_name, self.last_name, self.email)

    def save(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        self.refresh_derived_fields()
        super().save(*args, **kwargs)

    def has_lawful_basis(self, purpose: str, *, on: datetime.datetime | None = None) -> bool:
        return self.consents.effective(on=on).filter(purpose=purpose).exists()

    def can_be_emailed(self) -> bool:
        """The system may email a person only with a lawful basis for email contact."""
        return bool(self.email) and self.has_lawful_basis(ConsentRecord.Purpose.EMAIL_CONTACT)


class Affiliation(models.Model):
    person = models.ForeignKey(
        Person, on_delete=models.CASCADE, related_name="affiliations", verbose_name=_("person")
    )
    organisation = models.ForeignKey(
        Organisation,
        on_delete=models.CASCADE,
        related_name="affiliations",
        verbose_name=_("organisation"),
    )
    function = models.CharField(_("function"), max_length=120, blank=True)
    department = models.CharField(_("department"), max_length=120, blank=True)
    email = models.EmailField(_("work email"), blank=True)
    phone = models.CharField(_("work phone"), max_length=40, blank=True)
    valid_from = models.DateField(_("from"), null=True, blank=True)
    valid_until = models.DateField(_("until"), null=True, blank=True)
    is_primary = models.BooleanField(_("primary affiliation"), default=False)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-is_primary", "organisation__name"]
        verbose_name = _("affiliation")
        verbose_name_plural = _("affiliations")
        constraints = [
            models.CheckConstraint(
                condition=Q(valid_until__isnull=True)
                | Q(valid_from__isnull=True)
                | Q(valid_until__gte=models.F("valid_from")),
                name="affiliation_dates_ordered",
            ),
            models.UniqueConstraint(
                fields=["person"],
                condition=Q(is_primary=True),
                name="affiliation_one_primary_per_person",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.person} – {self.organisation}"

    def clean(self) -> None:
        if self.valid_from and self.valid_until and self.valid_until < self.valid_from:
            raise ValidationError({"valid_until": _("The end date lies before the start date.")})

    def is_current(self, on: datetime.date | None = None) -> bool:
        day = on or timezone.localdate()
        return (self.valid_from is None or self.valid_from <= day) and (
            self.valid_until is None or self.valid_until >= day
        )


class ConsentQuerySet(models.QuerySet["ConsentRecord"]):
    def effective(self, *, on: datetime.datetime | None = None) -> ConsentQuerySet:
        moment = on or timezone.now()
        return self.filter(given_at__lte=moment).filter(
            Q(withdrawn_at__isnull=True) | Q(withdrawn_at__gt=moment)
        )


class ConsentRecord(models.Model):
    """The GDPR basis on which we may process a person's data for a purpose."""

    class Purpose(models.TextChoices):
        EMAIL_CONTACT = "email_contact", _("Contact by email")
        NEWSLETTER = "newsletter", _("Newsletter")
        EVENTS = "events", _("Event invitations")
        DIRECTORY = "directory", _("Public competence directory")
        PHOTOS = "photos", _("Photos and publications")

    class LawfulBasis(models.TextChoices):
        CONSENT = "consent", _("Consent (Art. 6(1)(a) GDPR)")
        CONTRACT = "contract", _("Contract (Art. 6(1)(b) GDPR)")
        LEGAL_OBLIGATION = "legal_obligation", _("Legal obligation (Art. 6(1)(c) GDPR)")
        PUBLIC_TASK = "public_task", _("Public task (Art. 6(1)(e) GDPR)")
        LEGITIMATE_INTEREST = "legitimate_interest", _("Legitimate interest (Art. 6(1)(f) GDPR)")

    person = models.ForeignKey(
        Person, on_delete=models.CASCADE, related_name="consents", verbose_name=_("person")
    )
    purpose = models.CharField(_("purpose"), max_length=20, choices=Purpose.choices)
    lawful_basis = models.CharField(_("lawful basis"), max_length=20, choices=LawfulBasis.choices)
    given_at = models.DateTimeField(_("given at"), default=timezone.now)
    source = models.CharField(
        _("source"), max_length=200, help_text=_("Where and how it was obtained, e.g. visit form.")
    )
    withdrawn_at = models.DateTimeField(_("withdrawn at"), null=True, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("recorded by"),
    )

    history = HistoricalRecords()
    objects = ConsentQuerySet.as_manager()

    class Meta:
        ordering = ["-given_at"]
        verbose_name = _("consent record")
        verbose_name_plural = _("consent records")

    def __str__(self) -> str:
        return f"{self.get_purpose_display()}: {self.get_lawful_basis_display()}"

    def clean(self) -> None:
        # A consent decides whether we may email someone: no future or implausible dates.
        latest = timezone.now() + datetime.timedelta(days=1)
        errors = {}
        if self.given_at and self.given_at > latest:
            errors["given_at"] = _("The date lies in the future.")
        elif self.given_at and self.given_at.year < 1990:
            errors["given_at"] = _("The date is implausibly early.")
        if self.withdrawn_at and self.withdrawn_at > latest:
            errors["withdrawn_at"] = _("The date lies in the future.")
        elif self.withdrawn_at and self.given_at and self.withdrawn_at < self.given_at:
            errors["withdrawn_at"] = _("Withdrawal cannot precede the consent.")
        if errors:
            raise ValidationError(errors)

    def is_effective(self, on: datetime.datetime | None = None) -> bool:
        moment = on or timezone.now()
        return self.given_at <= moment and (self.withdrawn_at is None or self.withdrawn_at > moment)


# --- Relationships and notes ---------------------------------------------------------


class Relationship(models.Model):
    class Kind(models.TextChoices):
        COOPERATION = "cooperation", _("Cooperation")
        MEMBERSHIP = "membership", _("Membership")
        SPIN_OFF = "spin_off", _("Spin-off")
        SUPPLIER = "supplier", _("Supplier")
        OTHER = "other", _("Other")

    source = models.ForeignKey(
        Organisation,
        on_delete=models.CASCADE,
        related_name="relationships_out",
        verbose_name=_("organisation"),
    )
    target = models.ForeignKey(
        Organisation,
        on_delete=models.CASCADE,
        related_name="relationships_in",
        verbose_name=_("related organisation"),
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    valid_from = models.DateField(_("from"), null=True, blank=True)
    valid_until = models.DateField(_("until"), null=True, blank=True)
    note = models.CharField(_("note"), max_length=300, blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["kind", "target__name"]
        verbose_name = _("relationship")
        verbose_name_plural = _("relationships")
        constraints = [
            models.CheckConstraint(
                condition=~Q(source=models.F("target")), name="relationship_not_self"
            ),
            models.CheckConstraint(
                condition=Q(valid_until__isnull=True)
                | Q(valid_from__isnull=True)
                | Q(valid_until__gte=models.F("valid_from")),
                name="relationship_dates_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.source} → {self.target} ({self.get_kind_display()})"

    def clean(self) -> None:
        if self.source_id and self.source_id == self.target_id:
            raise ValidationError(
                {"target": _("An organisation cannot have a relationship with itself.")}
            )
        if self.valid_from and self.valid_until and self.valid_until < self.valid_from:
            raise ValidationError({"valid_until": _("The end date lies before the start date.")})


class Note(models.Model):
    organisation = models.ForeignKey(
        Organisation,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="notes",
        verbose_name=_("organisation"),
    )
    person = models.ForeignKey(
        Person,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="notes",
        verbose_name=_("person"),
    )
    text = models.TextField(_("note"), max_length=10_000)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("author"),
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("note")
        verbose_name_plural = _("notes")
        constraints = [
            models.CheckConstraint(
                condition=Q(organisation__isnull=False) | Q(person__isnull=False),
                name="note_has_subject",
            )
        ]

    def __str__(self) -> str:
        return self.text[:60]


class MergeRecord(models.Model):
    """That two records were merged: who merged what into what, with a snapshot."""

    class Kind(models.TextChoices):
        ORGANISATION = "organisation", _("organisation")
        PERSON = "person", _("person")

    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    survivor_id = models.BigIntegerField(_("survivor"))
    merged_id = models.BigIntegerField(_("merged record"))
    merged_label = models.CharField(_("merged record name"), max_length=300)
    snapshot = models.JSONField(_("snapshot of the merged record"), default=dict)
    merged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    merged_at = models.DateTimeField(_("merged at"), default=timezone.now)

    class Meta:
        ordering = ["-merged_at"]
        verbose_name = _("merge")
        verbose_name_plural = _("merges")
        indexes = [models.Index(fields=["kind", "survivor_id"], name="merge_survivor")]

    def __str__(self) -> str:
        return f"{self.merged_label} → {self.kind} #{self.survivor_id}"


# --- Import --------------------------------------------------------------------------


class ImportMapping(models.Model):
    """A saved column → field mapping for a recurring spreadsheet."""

    class Target(models.TextChoices):
        ORGANISATIONS = "organisations", _("Organisations")
        PEOPLE = "people", _("People with affiliations")

    name = models.CharField(_("name"), max_length=120)
    target = models.CharField(_("import of"), max_length=20, choices=Target.choices)
    columns = models.JSONField(_("column mapping"), default=dict)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]
        verbose_name = _("import mapping")
        verbose_name_plural = _("import mappings")
        constraints = [
            models.UniqueConstraint(fields=["target", "name"], name="import_mapping_unique_name")
        ]

    def __str__(self) -> str:
        return self.name


class ImportJob(models.Model):
    class Status(models.TextChoices):
        UPLOADED = "uploaded", _("uploaded")
        PREVIEWING = "previewing", _("checking")
        PREVIEWED = "previewed", _("checked")
        RUNNING = "running", _("importing")
        DONE = "done", _("done")
        FAILED = "failed", _("failed")

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    target = models.CharField(_("import of"), max_length=20, choices=ImportMapping.Target.choices)
    file = models.FileField(_("file"), upload_to="imports/%Y/%m/")
    original_name = models.CharField(_("file name"), max_length=255)
    encoding = models.CharField(_("encoding"), max_length=20, blank=True)
    delimiter = models.CharField(_("delimiter"), max_length=1, blank=True)
    headers = models.JSONField(_("columns"), default=list)
    columns = models.JSONField(_("column mapping"), default=dict)
    allow_partial = models.BooleanField(_("import valid rows even if others fail"), default=False)
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.UPLOADED
    )
    total_rows = models.PositiveIntegerField(default=0)
    processed_rows = models.PositiveIntegerField(default=0)
    summary = models.JSONField(default=dict)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("import")
        verbose_name_plural = _("imports")

    def __str__(self) -> str:
        return self.original_name

    @property
    def progress_percent(self) -> int:
        if not self.total_rows:
            return 0
        return min(100, round(100 * self.processed_rows / self.total_rows))


def acting_user_label(user: AbstractBaseUser | None) -> str:
    if user is None:
        return str(_("system"))
    full = getattr(user, "get_full_name", lambda: "")()
    return full or user.get_username()
