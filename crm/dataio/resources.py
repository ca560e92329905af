"""Export columns of organisations and people, as django-import-export resources.

Headings are the same words the import recognises, so an exported list can be
edited and imported again: the "CRM ID" column matches each row to its record.
Values are exported as they read on screen (choice labels, names), never as
internal codes or ids other than the CRM ID.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.db.models import Prefetch, QuerySet
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _
from import_export import resources
from import_export.fields import Field

from crm.models import Affiliation, Organisation, Person


def _local(moment: datetime.datetime | None) -> datetime.datetime | None:
    # Spreadsheets have no time zones: export local wall-clock time, to the second.
    if moment is None:
        return None
    return timezone.localtime(moment).replace(tzinfo=None, microsecond=0)


def _field(model: type[Organisation | Person], name: str, **kwargs: Any) -> Field:
    model_field = model._meta.get_field(name)
    verbose_name = getattr(model_field, "verbose_name", name)
    label = kwargs.pop("column_name", capfirst(verbose_name))
    return Field(attribute=kwargs.pop("attribute", name), column_name=label, **kwargs)


class OrganisationExportResource(resources.Resource):
    crm_id = Field(attribute="pk", column_name=_("CRM ID"))
    name = _field(Organisation, "name")
    kind = _field(Organisation, "kind")
    legal_form = _field(Organisation, "legal_form")
    employees = _field(Organisation, "employees")
    size_class = _field(Organisation, "size_class")
    sector = _field(Organisation, "sector")
    founding_year = _field(Organisation, "founding_year")
    street = _field(Organisation, "street")
    postal_code = _field(Organisation, "postal_code")
    city = _field(Organisation, "city")
    municipality_ags = Field(column_name=_("AGS"))
    municipality = _field(Organisation, "municipality")
    district = Field(column_name=_("District"))
    area_type = Field(column_name=_("Rural/urban"))
    website = _field(Organisation, "website")
    email = _field(Organisation, "email")
    phone = _field(Organisation, "phone")
    register_number = _field(Organisation, "register_number")
    external_id = _field(Organisation, "external_id")
    status = _field(Organisation, "status")
    responsible_manager = _field(Organisation, "responsible_manager")
    offered_topics = _field(Organisation, "offered_topics")
    needed_topics = _field(Organisation, "needed_topics")
    created_at = _field(Organisation, "created_at")
    updated_at = _field(Organisation, "updated_at")

    @staticmethod
    def prepare(queryset: QuerySet[Organisation]) -> QuerySet[Organisation]:
        """The queryset with everything the columns read, fetched per chunk, not per row."""
        return queryset.select_related(
            "municipality__district", "responsible_manager"
        ).prefetch_related("offered_topics", "needed_topics")

    def dehydrate_kind(self, org: Organisation) -> str:
        return str(org.get_kind_display())

    def dehydrate_employees(self, org: Organisation) -> int | None:
        return org.employees

    def dehydrate_founding_year(self, org: Organisation) -> int | None:
        return org.founding_year

    def dehydrate_size_class(self, org: Organisation) -> str:
        return str(org.get_size_class_display()) if org.size_class else ""

    def dehydrate_sector(self, org: Organisation) -> str:
        return str(org.get_sector_display()) if org.sector else ""

    def dehydrate_status(self, org: Organisation) -> str:
        return str(org.get_status_display())

    def dehydrate_municipality_ags(self, org: Organisation) -> str:
        return org.municipality.ags if org.municipality else ""

    def dehydrate_municipality(self, org: Organisation) -> str:
        return org.municipality.name if org.municipality else ""

    def dehydrate_district(self, org: Organisation) -> str:
        return str(org.municipality.district) if org.municipality else ""

    def dehydrate_area_type(self, org: Organisation) -> str:
        return str(org.municipality.get_area_type_display()) if org.municipality else ""

    def dehydrate_responsible_manager(self, org: Organisation) -> str:
        manager = org.responsible_manager
        if manager is None:
            return ""
        return manager.get_full_name() or manager.get_username()

    def dehydrate_offered_topics(self, org: Organisation) -> str:
        return ", ".join(t.name for t in org.offered_topics.all())

    def dehydrate_needed_topics(self, org: Organisation) -> str:
        return ", ".join(t.name for t in org.needed_topics.all())

    def dehydrate_created_at(self, org: Organisation) -> datetime.datetime | None:
        return _local(org.created_at)

    def dehydrate_updated_at(self, org: Organisation) -> datetime.datetime | None:
        return _local(org.updated_at)


class PersonExportResource(resources.Resource):
    """People with their main affiliation in columns of its own and the rest in one cell."""

    crm_id = Field(attribute="pk", column_name=_("CRM ID"))
    salutation = _field(Person, "salutation")
    title = _field(Person, "title")
    first_name = _field(Person, "first_name")
    last_name = _field(Person, "last_name")
    email = _field(Person, "email")
    phone = _field(Person, "phone")
    mobile = _field(Person, "mobile")
    preferred_language = _field(Person, "preferred_language")
    external_id = _field(Person, "external_id")
    organisation = Field(column_name=_("Organisation"))
    organisation_external_id = Field(column_name=_("Organisation (external ID)"))
    function = Field(column_name=_("Function"))
    department = Field(column_name=_("Department"))
    other_affiliations = Field(column_name=_("Further affiliations"))
    created_at = _field(Person, "created_at")
    updated_at = _field(Person, "updated_at")

    @staticmethod
    def prepare(queryset: QuerySet[Person]) -> QuerySet[Person]:
        affiliations = Affiliation.objects.select_related("organisation").order_by(
            "-is_primary", "organisation__name", "pk"
        )
        return queryset.prefetch_related(Prefetch("affiliations", queryset=affiliations))

    @staticmethod
    def _main(person: Person) -> Affiliation | None:
        affiliations = list(person.affiliations.all())
        return affiliations[0] if affiliations else None

    def dehydrate_preferred_language(self, person: Person) -> str:
        return str(person.get_preferred_language_display())

    def dehydrate_organisation(self, person: Person) -> str:
        main = self._main(person)
        return main.organisation.name if main else ""

    def dehydrate_organisation_external_id(self, person: Person) -> str:
        main = self._main(person)
        return main.organisation.external_id if main else ""

    def dehydrate_function(self, person: Person) -> str:
        main = self._main(person)
        return main.function if main else ""

    def dehydrate_department(self, person: Person) -> str:
        main = self._main(person)
        return main.department if main else ""

    def dehydrate_other_affiliations(self, person: Person) -> str:
        others = list(person.affiliations.all())[1:]
        return "; ".join(
            f"{a.organisation.name} ({a.function})" if a.function else a.organisation.name
            for a in others
        )

    def dehydrate_created_at(self, person: Person) -> datetime.datetime | None:
        return _local(person.created_at)

    def dehydrate_updated_at(self, person: Person) -> datetime.datetime | None:
        return _local(person.updated_at)
