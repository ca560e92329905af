"""What a spreadsheet column can be imported into, and how its cells are read.

Each target (organisations, people) has a list of ``ImportField``: a key the
mapping stores, a label the user picks, the header spellings that suggest it
and a parser that turns one cell into a value or raises ``CellError`` with a
German-first message. Parsers mirror the model fields' own limits (max
length, validators) so an imported row obeys the same rules as the forms.
"""

from __future__ import annotations

import datetime
import functools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator, validate_email
from django.db import models
from django.utils import translation
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from crm.models import Affiliation, ImportMapping, Organisation, Person, Sector

Target = ImportMapping.Target
IGNORE = ""

# A cell starting with one of these is a formula to spreadsheet programs; exports
# prefix such cells with "'", and the import takes that prefix off again.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


class CellError(Exception):
    """A cell's value cannot be imported; the message says why (without the column)."""


# --- Header normalisation ------------------------------------------------------------

_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_FOLD = str.maketrans({"ä": "a", "ö": "o", "ü": "u", "ß": "ss", "é": "e", "è": "e"})


def normalise_header(text: object) -> str:
    """Header text reduced so that case, spacing, punctuation and umlauts do not matter.

    "Straße", "strasse" and "STR." differ only in what they abbreviate; "Gründungsjahr",
    "Gruendungsjahr" and "Grundungsjahr" become the same key.
    """
    lowered = str(text or "").strip().lower()
    lowered = lowered.replace("ae", "a").replace("oe", "o").replace("ue", "u")
    return _NON_ALNUM.sub("", lowered.translate(_FOLD))


# --- Cell readers ----------------------------------------------------------------------


def cell_text(value: object) -> str:
    """A cell as trimmed text: no NUL bytes, integral floats without ".0"."""
    if value is None:
        return ""
    if isinstance(value, str):
        text = value
    elif isinstance(value, bool):
        text = "1" if value else "0"
    elif isinstance(value, float):
        text = str(int(value)) if value.is_integer() else str(value)
    elif isinstance(value, datetime.datetime):
        text = value.date().isoformat() if value.time() == datetime.time() else value.isoformat()
    elif isinstance(value, datetime.date | Decimal | int):
        text = str(value)
    else:
        text = str(value)
    if "\x00" in text:
        text = text.replace("\x00", "")
    text = text.strip()
    if len(text) > 1 and text[0] == "'" and text[1] in FORMULA_TRIGGERS:
        text = text[1:]
    return text


Parser = Callable[[Any, str], Any]
"""Called with the raw cell and its (non-empty) text; returns the value or raises CellError."""


def _messages(error: ValidationError) -> str:
    return " ".join(str(m) for m in error.messages)


def _max_length(model_field: models.Field) -> int:  # type: ignore[type-arg]
    return model_field.max_length or 10_000


def text_parser(model_field: models.Field) -> Parser:  # type: ignore[type-arg]
    limit = _max_length(model_field)

    def parse(raw: Any, text: str) -> str:
        if len(text) > limit:
            raise CellError(
                _("Longer than %(limit)d characters (%(length)d).")
                % {"limit": limit, "length": len(text)}
            )
        return text

    return parse


def register_number_parser(model_field: models.Field) -> Parser:  # type: ignore[type-arg]
    plain = text_parser(model_field)
    return lambda raw, text: plain(raw, " ".join(text.split()))


def postal_code_parser(model_field: models.Field) -> Parser:  # type: ignore[type-arg]
    plain = text_parser(model_field)

    def parse(raw: Any, text: str) -> str:
        # Spreadsheets turn "01234" into the number 1234; German postal codes have 5 digits.
        if text.isdigit() and len(text) == 4:
            text = "0" + text
        return plain(raw, text)

    return parse


_INT_PLAIN = re.compile(r"[+-]?\d+")
_INT_GERMAN_THOUSANDS = re.compile(r"[+-]?\d{1,3}(?:\.\d{3})+")
_INT_GERMAN_DECIMAL = re.compile(r"([+-]?\d{1,3}(?:\.\d{3})*|[+-]?\d+),0*")
_INT_ENGLISH_DECIMAL = re.compile(r"([+-]?\d+)\.0+")


def parse_integer(raw: Any, text: str) -> int:
    """An integer as Germans write it: "1234", "1.234", "1 234", "1.234,0"."""
    if isinstance(raw, bool):
        raise CellError(_("Not a whole number."))
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float):
        if raw.is_integer():
            return int(raw)
        raise CellError(_("Not a whole number."))
    compact = text.replace(" ", "").replace("\xa0", "").replace("\u202f", "").replace("'", "")
    if _INT_PLAIN.fullmatch(compact):
        return int(compact)
    if _INT_GERMAN_THOUSANDS.fullmatch(compact):
        return int(compact.replace(".", ""))
    match = _INT_GERMAN_DECIMAL.fullmatch(compact) or _INT_ENGLISH_DECIMAL.fullmatch(compact)
    if match:
        return int(match.group(1).replace(".", ""))
    raise CellError(_("Not a whole number."))


def integer_parser(model_field: models.Field) -> Parser:  # type: ignore[type-arg]
    validators = list(model_field.validators)

    def parse(raw: Any, text: str) -> int:
        number = parse_integer(raw, text)
        try:
            for validator in validators:
                validator(number)
        except ValidationError as exc:
            raise CellError(_messages(exc)) from None
        return number

    return parse


# Fast paths: plain addresses that Django's validators certainly accept (a strict
# subset of what they accept), so that only unusual values pay for the full check.
_PLAIN_HOST = r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}"
_PLAIN_EMAIL = re.compile(rf"[a-z0-9_%+-]+(?:\.[a-z0-9_%+-]+)*@{_PLAIN_HOST}", re.IGNORECASE)
_PLAIN_URL = re.compile(rf"https?://{_PLAIN_HOST}(?:[/?#][^\s]*)?", re.IGNORECASE)


def email_parser(model_field: models.Field) -> Parser:  # type: ignore[type-arg]
    limit = _max_length(model_field)

    def parse(raw: Any, text: str) -> str:
        address = text.removeprefix("mailto:").strip()
        if "@" in address:
            local, domain = address.rsplit("@", 1)
            address = f"{local}@{domain.lower()}"
        if len(address) > limit:
            raise CellError(_("Longer than %(limit)d characters.") % {"limit": limit})
        if _PLAIN_EMAIL.fullmatch(address):
            return address
        try:
            validate_email(address)
        except ValidationError:
            raise CellError(_("Not a valid email address.")) from None
        return address

    return parse


_HAS_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)
_validate_url = URLValidator(schemes=["http", "https"])


def url_parser(model_field: models.Field) -> Parser:  # type: ignore[type-arg]
    limit = _max_length(model_field)

    def parse(raw: Any, text: str) -> str:
        url = text if _HAS_SCHEME.match(text) else f"https://{text}"
        if len(url) > limit:
            raise CellError(_("Longer than %(limit)d characters.") % {"limit": limit})
        if len(url) <= 250 and _PLAIN_URL.fullmatch(url):
            return url
        try:
            _validate_url(url)
        except ValidationError:
            raise CellError(_("Not a valid web address.")) from None
        return url

    return parse


def ags_parser(raw: Any, text: str) -> str:
    """The official municipality key: 8 digits (a number cell may have lost its leading 0)."""
    digits = text.replace(" ", "")
    if digits.isdigit() and len(digits) == 7:
        digits = "0" + digits
    if not (digits.isdigit() and len(digits) == 8):
        raise CellError(_("Not an official municipality key (AGS, 8 digits)."))
    return digits


def crm_id_parser(raw: Any, text: str) -> int:
    number = parse_integer(raw, text)
    if number <= 0:
        raise CellError(_("Not a CRM ID."))
    return number


# Choice values: codes, English and German labels, and the words people actually use.
_KIND_SYNONYMS: dict[str, list[str]] = {
    Organisation.Kind.SME: ["KMU", "Mittelstand", "kleines Unternehmen", "Unternehmen (KMU)"],
    Organisation.Kind.LARGE_ENTERPRISE: ["Großunternehmen", "Konzern", "large"],
    Organisation.Kind.UNIVERSITY: [
        "Hochschule",
        "Universität",
        "Fachhochschule",
        "FH",
        "Uni",
        "TU",
        "HAW",
    ],
    Organisation.Kind.RESEARCH_INSTITUTE: [
        "Forschungseinrichtung",
        "Forschungsinstitut",
        "Institut",
        "research",
    ],
    Organisation.Kind.START_UP: ["Startup", "Start-up", "Gründung", "Gründer", "Startups"],
    Organisation.Kind.MUNICIPALITY: [
        "Kommune",
        "Verwaltung",
        "Gemeinde",
        "Landkreis",
        "Stadtverwaltung",
        "öffentliche Verwaltung",
    ],
    Organisation.Kind.CHAMBER: ["Kammer", "Verband", "IHK", "HWK", "Handwerkskammer"],
    Organisation.Kind.INTERMEDIARY: ["Intermediär", "Wirtschaftsförderung", "Netzwerk"],
    Organisation.Kind.PLACE: ["Lern- und Arbeitsort", "Co-Working", "Coworking", "Makerspace"],
}
_SECTOR_GERMAN = {
    "A": "Land- und Forstwirtschaft, Fischerei",
    "B": "Bergbau und Gewinnung von Steinen und Erden",
    "C": "Verarbeitendes Gewerbe",
    "D": "Energieversorgung",
    "E": "Wasserversorgung; Abwasser- und Abfallentsorgung und Beseitigung von "
    "Umweltverschmutzungen",
    "F": "Baugewerbe",
    "G": "Handel; Instandhaltung und Reparatur von Kraftfahrzeugen",
    "H": "Verkehr und Lagerei",
    "I": "Gastgewerbe",
    "J": "Information und Kommunikation",
    "K": "Erbringung von Finanz- und Versicherungsdienstleistungen",
    "L": "Grundstücks- und Wohnungswesen",
    "M": "Erbringung von freiberuflichen, wissenschaftlichen und technischen Dienstleistungen",
    "N": "Erbringung von sonstigen wirtschaftlichen Dienstleistungen",
    "O": "Öffentliche Verwaltung, Verteidigung; Sozialversicherung",
    "P": "Erziehung und Unterricht",
    "Q": "Gesundheits- und Sozialwesen",
    "R": "Kunst, Unterhaltung und Erholung",
    "S": "Erbringung von sonstigen Dienstleistungen",
    "T": "Private Haushalte mit Hauspersonal",
    "U": "Exterritoriale Organisationen und Körperschaften",
}
# WZ 2008 divisions (the first two digits of a WZ code) → section letter.
_WZ_DIVISIONS = [
    (1, 3, "A"),
    (5, 9, "B"),
    (10, 33, "C"),
    (35, 35, "D"),
    (36, 39, "E"),
    (41, 43, "F"),
    (45, 47, "G"),
    (49, 53, "H"),
    (55, 56, "I"),
    (58, 63, "J"),
    (64, 66, "K"),
    (68, 68, "L"),
    (69, 75, "M"),
    (77, 82, "N"),
    (84, 84, "O"),
    (85, 85, "P"),
    (86, 88, "Q"),
    (90, 93, "R"),
    (94, 96, "S"),
    (97, 98, "T"),
    (99, 99, "U"),
]
_STATUS_SYNONYMS: dict[str, list[str]] = {
    Organisation.Status.ACTIVE: ["aktiv"],
    Organisation.Status.DORMANT: ["ruhend", "inaktiv", "inactive"],
    Organisation.Status.ARCHIVED: ["archiviert"],
}
_LANGUAGE_SYNONYMS: dict[str, list[str]] = {
    Person.Language.GERMAN: ["Deutsch", "DE", "ger", "deu"],
    Person.Language.ENGLISH: ["Englisch", "EN", "eng"],
}


def _labels_in_all_languages(label: object) -> list[str]:
    texts = []
    for language in ("de", "en"):
        with translation.override(language):
            texts.append(str(label))
    return texts


@functools.lru_cache(maxsize=16)
def _choice_lookup(choices_key: str) -> dict[str, str]:
    """Normalised spelling → stored code, for one set of choices (built once per process)."""
    choices, synonyms = _CHOICE_SETS[choices_key]
    lookup: dict[str, str] = {}
    for code, label in choices:
        for spelling in (code, *_labels_in_all_languages(label), *synonyms.get(code, [])):
            lookup.setdefault(normalise_header(spelling), code)
    return lookup


_SECTOR_SYNONYMS = {
    "F": ["Bau", "Bauwirtschaft"],
    "G": ["Handel", "Einzelhandel", "Großhandel", "Kfz-Handel"],
    "H": ["Logistik", "Verkehr", "Transport"],
    "I": ["Gastronomie", "Hotellerie", "Tourismus"],
    "J": ["IT", "Informationstechnik", "Software", "Medien"],
    "K": ["Finanzen", "Banken", "Versicherungen"],
    "M": ["Beratung", "Ingenieurbüro", "Forschung und Entwicklung"],
    "P": ["Bildung"],
    "Q": ["Gesundheit", "Pflege"],
}
_CHOICE_SETS: dict[str, tuple[list[tuple[str, Any]], dict[str, list[str]]]] = {
    "kind": (Organisation.Kind.choices, _KIND_SYNONYMS),
    "status": (Organisation.Status.choices, _STATUS_SYNONYMS),
    "language": (Person.Language.choices, _LANGUAGE_SYNONYMS),
    "sector": (
        Sector.choices,
        {code: [name, *_SECTOR_SYNONYMS.get(code, [])] for code, name in _SECTOR_GERMAN.items()},
    ),
}


def choice_parser(choices_key: str) -> Parser:
    def parse(raw: Any, text: str) -> str:
        code = _choice_lookup(choices_key).get(normalise_header(text))
        if code is None:
            if choices_key == "sector":
                raise CellError(_("Not a WZ 2008 section (A to U) or WZ code."))
            allowed = ", ".join(str(label) for _code, label in _CHOICE_SETS[choices_key][0])
            raise CellError(_("Not one of the allowed values: %(values)s.") % {"values": allowed})
        return code

    return parse


_SECTOR_PREFIX = re.compile(r"^([A-Ua-u])(?:\s*[-–—:.)]\s*|\s+|$)")
_WZ_CODE = re.compile(r"^(\d{2})(?:[.\d]*)$")


def parse_sector(raw: Any, text: str) -> str:
    """A WZ 2008 section from "C", "C – Verarbeitendes Gewerbe", a section name or "25.62"."""
    match = _SECTOR_PREFIX.match(text)
    if match and (text[1:].strip() == "" or not text[1].isalpha()):
        return match.group(1).upper()
    division = _WZ_CODE.match(text.replace(" ", ""))
    if division:
        number = int(division.group(1))
        for low, high, section in _WZ_DIVISIONS:
            if low <= number <= high:
                return section
        raise CellError(_("Not a WZ 2008 code."))
    return choice_parser("sector")(raw, text)


# --- Field catalogue -----------------------------------------------------------------


@dataclass(frozen=True)
class ImportField:
    key: str
    label: Promise | str
    parse: Parser
    aliases: tuple[str, ...] = ()
    required: bool = False
    # The model attribute written; None for references resolved by the importer.
    attr: str | None = None
    help_text: Promise | str = ""

    def header_keys(self) -> set[str]:
        keys = {normalise_header(a) for a in self.aliases}
        keys.update(normalise_header(t) for t in _labels_in_all_languages(self.label))
        keys.discard("")
        return keys


def _model_field(model: type[models.Model], name: str) -> models.Field:  # type: ignore[type-arg]
    return model._meta.get_field(name)  # type: ignore[return-value]


def _attr_field(
    model: type[models.Model],
    name: str,
    parser_factory: Callable[[models.Field], Parser] = text_parser,  # type: ignore[type-arg]
    *,
    aliases: Iterable[str] = (),
    required: bool = False,
    key: str | None = None,
    label: Promise | str | None = None,
) -> ImportField:
    model_field = _model_field(model, name)
    return ImportField(
        key=key or name,
        label=label or model_field.verbose_name,
        parse=parser_factory(model_field),
        aliases=tuple(aliases),
        required=required,
        attr=name,
    )


CRM_ID = ImportField(
    key="crm_id",
    label=_("CRM ID"),
    parse=crm_id_parser,
    aliases=("CRM-ID", "CRM ID", "CRM-Nr.", "Datensatz-ID"),
    help_text=_("Our own record number, as in an export: the row updates that record."),
)

ORGANISATION_FIELDS: tuple[ImportField, ...] = (
    CRM_ID,
    _attr_field(
        Organisation,
        "name",
        aliases=(
            "Name",
            "Firma",
            "Firmenname",
            "Firmierung",
            "Unternehmen",
            "Unternehmensname",
            "Organisation",
            "Organisationsname",
            "Einrichtung",
            "Institution",
            "Company",
            "Company name",
            "Organization",
            "Organisation name",
        ),
        required=True,
    ),
    ImportField(
        key="kind",
        label=_model_field(Organisation, "kind").verbose_name,
        parse=choice_parser("kind"),
        aliases=("Art", "Typ", "Organisationsart", "Organisationstyp", "Kind", "Type", "Kategorie"),
        attr="kind",
    ),
    _attr_field(Organisation, "legal_form", aliases=("Rechtsform", "Legal form")),
    _attr_field(
        Organisation,
        "employees",
        integer_parser,
        aliases=(
            "Mitarbeiter",
            "Mitarbeitende",
            "Mitarbeiterzahl",
            "Anzahl Mitarbeiter",
            "Anzahl Beschäftigte",
            "Beschäftigte",
            "MA",
            "Employees",
            "Headcount",
        ),
    ),
    ImportField(
        key="sector",
        label=_model_field(Organisation, "sector").verbose_name,
        parse=parse_sector,
        aliases=(
            "Branche",
            "WZ",
            "WZ 2008",
            "WZ-Code",
            "WZ-Abschnitt",
            "Wirtschaftszweig",
            "Sector",
            "Industry",
        ),
        attr="sector",
    ),
    _attr_field(
        Organisation,
        "founding_year",
        integer_parser,
        aliases=("Gründungsjahr", "Gründung", "Gegründet", "Founded", "Founding year"),
    ),
    _attr_field(
        Organisation,
        "street",
        aliases=(
            "Straße",
            "Strasse",
            "Str.",
            "Straße und Hausnummer",
            "Straße/Nr.",
            "Adresse",
            "Anschrift",
            "Street",
            "Address",
        ),
    ),
    _attr_field(
        Organisation,
        "postal_code",
        postal_code_parser,
        aliases=("PLZ", "Postleitzahl", "Postal code", "ZIP", "Postcode"),
    ),
    _attr_field(Organisation, "city", aliases=("Ort", "Stadt", "City", "Town")),
    ImportField(
        key="municipality_ags",
        label=_("Municipality (official key, AGS)"),
        parse=ags_parser,
        aliases=("AGS", "Gemeindeschlüssel", "Amtlicher Gemeindeschlüssel", "Municipality key"),
    ),
    ImportField(
        key="municipality_name",
        label=_("Municipality (name)"),
        parse=text_parser(_model_field(Organisation, "name")),
        aliases=("Gemeinde", "Municipality", "Kommune"),
    ),
    _attr_field(
        Organisation,
        "website",
        url_parser,
        aliases=(
            "Webseite",
            "Website",
            "Homepage",
            "Internet",
            "Internetseite",
            "Internetadresse",
            "URL",
            "Web",
        ),
    ),
    _attr_field(
        Organisation,
        "email",
        email_parser,
        aliases=("E-Mail", "Email", "Mail", "E-Mail-Adresse", "General email"),
    ),
    _attr_field(Organisation, "phone", aliases=("Telefon", "Tel.", "Telefonnummer", "Phone")),
    _attr_field(
        Organisation,
        "register_number",
        register_number_parser,
        aliases=(
            "Handelsregister",
            "Handelsregisternummer",
            "HRB",
            "HRA",
            "HR-Nummer",
            "Registernummer",
            "Register number",
        ),
    ),
    _attr_field(
        Organisation,
        "external_id",
        aliases=(
            "Externe ID",
            "ID",
            "Kundennummer",
            "Kunden-Nr.",
            "Kundennr",
            "Firmen-ID",
            "External ID",
        ),
    ),
    ImportField(
        key="status",
        label=_model_field(Organisation, "status").verbose_name,
        parse=choice_parser("status"),
        aliases=("Status",),
        attr="status",
    ),
)

PERSON_FIELDS: tuple[ImportField, ...] = (
    CRM_ID,
    _attr_field(Person, "salutation", aliases=("Anrede", "Salutation")),
    _attr_field(Person, "title", aliases=("Titel", "Akad. Titel", "Akademischer Titel", "Title")),
    _attr_field(Person, "first_name", aliases=("Vorname", "First name", "Given name")),
    _attr_field(
        Person,
        "last_name",
        aliases=("Nachname", "Name", "Familienname", "Last name", "Surname"),
        required=True,
    ),
    _attr_field(
        Person, "email", email_parser, aliases=("E-Mail", "Email", "Mail", "E-Mail-Adresse")
    ),
    _attr_field(Person, "phone", aliases=("Telefon", "Tel.", "Telefonnummer", "Phone")),
    _attr_field(Person, "mobile", aliases=("Mobil", "Mobilnummer", "Handy", "Mobile")),
    ImportField(
        key="preferred_language",
        label=_model_field(Person, "preferred_language").verbose_name,
        parse=choice_parser("language"),
        aliases=("Sprache", "Bevorzugte Sprache", "Language", "Preferred language"),
        attr="preferred_language",
    ),
    _attr_field(
        Person,
        "external_id",
        aliases=("Externe ID", "ID", "Kundennummer", "Kontakt-ID", "Kontaktnummer", "External ID"),
    ),
    ImportField(
        key="organisation_external_id",
        label=_("Organisation (external ID)"),
        parse=text_parser(_model_field(Organisation, "external_id")),
        aliases=(
            "Firmen-ID",
            "Organisations-ID",
            "Organisation (externe ID)",
            "Externe ID Organisation",
            "Externe ID (Organisation)",
            "Firma ID",
        ),
    ),
    ImportField(
        key="organisation_register_number",
        label=_("Organisation (register number)"),
        parse=register_number_parser(_model_field(Organisation, "register_number")),
        aliases=("Handelsregister", "Handelsregisternummer", "Registernummer", "HRB"),
    ),
    ImportField(
        key="organisation_name",
        label=_("Organisation (exact name)"),
        parse=text_parser(_model_field(Organisation, "name")),
        aliases=(
            "Organisation",
            "Firma",
            "Firmenname",
            "Unternehmen",
            "Arbeitgeber",
            "Company",
            "Organization",
        ),
    ),
    _attr_field(
        Affiliation,
        "function",
        key="function",
        aliases=("Funktion", "Position", "Rolle", "Stelle", "Job title", "Function"),
    ),
    _attr_field(
        Affiliation,
        "department",
        key="department",
        aliases=("Abteilung", "Bereich", "Department"),
    ),
)

# Person import: these keys are written to the affiliation, not the person.
AFFILIATION_KEYS = ("function", "department")
ORGANISATION_REFERENCE_KEYS = (
    "organisation_external_id",
    "organisation_register_number",
    "organisation_name",
)


def fields_for(target: str) -> tuple[ImportField, ...]:
    if target == Target.ORGANISATIONS:
        return ORGANISATION_FIELDS
    if target == Target.PEOPLE:
        return PERSON_FIELDS
    raise ValueError(f"unknown import target {target!r}")


def field_map(target: str) -> dict[str, ImportField]:
    return {f.key: f for f in fields_for(target)}


def required_keys(target: str) -> list[str]:
    return [f.key for f in fields_for(target) if f.required]


@functools.lru_cache(maxsize=4)
def _alias_index(target: str) -> dict[str, str]:
    index: dict[str, str] = {}
    for import_field in fields_for(target):
        for key in import_field.header_keys():
            index.setdefault(key, import_field.key)
    return index


def suggest_field(target: str, header: str) -> str:
    """The field a column heading most likely means, or IGNORE."""
    return _alias_index(target).get(normalise_header(header), IGNORE)


def suggest_columns(
    target: str, headers: list[str], saved: dict[str, str] | None = None
) -> dict[str, str]:
    """Column index (as text) → field key, from a saved mapping or the known headings.

    A saved mapping is keyed by normalised heading, so it fits a later file whose
    columns are in another order. Each field is suggested for one column only.
    """
    known = field_map(target)
    saved_by_header = {normalise_header(h): k for h, k in (saved or {}).items() if k in known}
    columns: dict[str, str] = {}
    taken: set[str] = set()
    for index, header in enumerate(headers):
        key = normalise_header(header)
        choice = saved_by_header.get(key) if saved is not None else None
        if choice is None:
            choice = suggest_field(target, header)
        if choice and choice in taken:
            choice = IGNORE
        if choice:
            taken.add(choice)
        columns[str(index)] = choice
    return columns


def mapping_to_save(headers: list[str], columns: dict[str, str]) -> dict[str, str]:
    """A job's column mapping in the form stored as a reusable ImportMapping."""
    saved: dict[str, str] = {}
    for index, header in enumerate(headers):
        key = columns.get(str(index), IGNORE)
        if key and header:
            saved.setdefault(header, key)
    return saved
