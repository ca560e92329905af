"""Demo data: the region's real reference data plus fictional companies and people.

Reference data (districts, municipalities, topics, public institutions) comes from
``fixtures/*.json`` and is upserted by its natural key, so loading it twice changes
nothing. Companies, start-ups, places and people are fictional and generated from a
seeded random stream: the same seed and counts give the same data. Every generated
organisation and person carries an ``external_id`` starting with ``demo-``; a run
that finds such records leaves them alone.

Two writers take the generated rows. ``OrmWriter`` saves object by object, so
signals and django-simple-history behave exactly as in the app; it is meant for a
few hundred records. ``BulkWriter`` writes state-sized data: PostgreSQL ``COPY``
(``bulk_create`` on other databases), with one historical "created" row per record
written the same way, because simple-history does not see bulk inserts.
"""

from __future__ import annotations

import datetime
import json
import math
import random
import re
import time
from bisect import bisect
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import accumulate
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser, Group
from django.core.management.color import no_style
from django.db import connection, models, transaction
from django.db.models import Max
from django.utils import timezone

from .models import (
    Affiliation,
    ConsentRecord,
    District,
    Municipality,
    Note,
    Organisation,
    Person,
    Relationship,
    Topic,
)
from .roles import Role, sync_groups

FIXTURES_DIR = Path(settings.BASE_DIR) / "fixtures"
SEED_REASON = "seed_demo"
DEMO_PREFIX = "demo-"  # external_id of every generated organisation and person
DEMO_ORG_PREFIX = f"{DEMO_PREFIX}org-"
DEMO_PERSON_PREFIX = f"{DEMO_PREFIX}person-"
DEMO_PASSWORD = "Demo-Passwort-2026"  # noqa: S105 - published demo password, printed on seeding
DEMO_EMAIL_DOMAIN = "regio-crm.example"
CHUNK = 20_000
SUSPEND_INDEXES_FROM = 20_000  # organisations

Row = dict[str, Any]
Log = Callable[[str], None]


def _quiet(message: str) -> None:
    return None


# --- Reference data ------------------------------------------------------------------


@dataclass
class Outcome:
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    def add(self, what: str) -> None:
        setattr(self, what, getattr(self, what) + 1)

    def __str__(self) -> str:
        return f"{self.created} neu, {self.updated} geändert, {self.unchanged} unverändert"


def _save(obj: models.Model, *, created_at: datetime.datetime | None = None) -> None:
    obj._change_reason = SEED_REASON  # type: ignore[attr-defined]
    if created_at is not None:
        obj._history_date = created_at  # type: ignore[attr-defined]
    obj.save()


def _upsert(model: type[models.Model], lookup: Row, values: Row) -> tuple[Any, str]:
    """Create or update one record by its natural key; save only when something differs."""
    obj = model._default_manager.filter(**lookup).order_by("pk").first()
    if obj is None:
        obj = model(**lookup, **values)
        _save(obj)
        return obj, "created"
    changed = [name for name, value in values.items() if getattr(obj, name) != value]
    if not changed:
        return obj, "unchanged"
    for name in changed:
        setattr(obj, name, values[name])
    _save(obj)
    return obj, "updated"


def _read_json(directory: Path, name: str) -> Any:
    path = directory / name
    if not path.exists():
        raise FileNotFoundError(f"Reference data missing: {path}")
    return json.loads(path.read_text(encoding="utf-8"))


def _coordinate(value: float | None) -> Decimal:
    return Decimal(str(value if value is not None else 0)).quantize(Decimal("0.00001"))


def load_region(directory: Path = FIXTURES_DIR) -> dict[str, Outcome]:
    data = _read_json(directory, "region.json")
    districts, municipalities = Outcome(), Outcome()
    by_key: dict[str, int] = {}
    for item in data["districts"]:
        district, what = _upsert(
            District, {"key": item["key"]}, {"name": item["name"], "kind": item["kind"]}
        )
        by_key[district.key] = district.pk
        districts.add(what)
    for item in data["municipalities"]:
        values = {
            "name": item["name"][:120],
            "district_id": by_key[item["district"]],
            "latitude": _coordinate(item.get("lat")),
            "longitude": _coordinate(item.get("lon")),
            "population": item.get("population"),
            "area_type": item.get("area_type") or Municipality.AreaType.RURAL,
            "postal_codes": ",".join(item.get("postal_codes") or [])[:200],
        }
        _obj, what = _upsert(Municipality, {"ags": item["ags"]}, values)
        municipalities.add(what)
    return {"districts": districts, "municipalities": municipalities}


def load_topics(directory: Path = FIXTURES_DIR) -> Outcome:
    outcome = Outcome()
    for position, item in enumerate(_read_json(directory, "topics.json")):
        parent, what = _upsert(
            Topic,
            {"slug": item["slug"]},
            {
                "name": item["name_de"],
                "name_en": item.get("name_en") or "",
                "parent_id": None,
                "position": position,
            },
        )
        outcome.add(what)
        for child_position, child in enumerate(item.get("children") or []):
            _obj, what = _upsert(
                Topic,
                {"slug": child["slug"]},
                {
                    "name": child["name_de"],
                    "name_en": child.get("name_en") or "",
                    "parent_id": parent.pk,
                    "position": child_position,
                },
            )
            outcome.add(what)
    return outcome


def load_institutions(directory: Path = FIXTURES_DIR, *, log: Log = _quiet) -> Outcome:
    outcome = Outcome()
    municipalities = dict(Municipality.objects.values_list("ags", "pk"))
    topics = dict(Topic.objects.values_list("slug", "pk"))
    for item in _read_json(directory, "institutions.json"):
        values = {
            "kind": item["kind"],
            "legal_form": (item.get("legal_form") or "")[:60],
            "street": item.get("street") or "",
            "postal_code": item.get("postal_code") or "",
            "city": item.get("city") or "",
            "municipality_id": municipalities.get(item.get("ags") or ""),
            "website": item.get("website") or "",
            "employees": item.get("employees"),
            "status": Organisation.Status.ACTIVE,
            "directory_consent": True,
        }
        org, what = _upsert(Organisation, {"name": item["name"]}, values)
        unknown = [slug for slug in item.get("offers") or [] if slug not in topics]
        if unknown:
            log(f"  Unbekannte Themenfelder bei {org.name}: {', '.join(unknown)}")
        wanted = {topics[slug] for slug in item.get("offers") or [] if slug in topics}
        if set(org.offered_topics.values_list("pk", flat=True)) != wanted:
            org._change_reason = SEED_REASON  # type: ignore[attr-defined]
            org.offered_topics.set(wanted)
            if what == "unchanged":
                what = "updated"
        outcome.add(what)
    return outcome


def load_reference_data(directory: Path = FIXTURES_DIR, *, log: Log = _quiet) -> dict[str, Outcome]:
    with transaction.atomic():
        result = load_region(directory)
        result["topics"] = load_topics(directory)
        result["institutions"] = load_institutions(directory, log=log)
    return result


# --- Demo users ----------------------------------------------------------------------


@dataclass(frozen=True)
class DemoUser:
    username: str
    first_name: str
    last_name: str
    role: Role | None  # None: the operator's superuser


DEMO_USERS = (
    DemoUser("scout", "Sina", "Sommer", Role.SCOUT),
    DemoUser("scout2", "Samuel", "Brandt", Role.SCOUT),
    DemoUser("netzwerk", "Nora", "Neumann", Role.NETWORK_MANAGER),
    DemoUser("netzwerk2", "Jonas", "Krüger", Role.NETWORK_MANAGER),
    DemoUser("verwaltung", "Vera", "Vogt", Role.ADMINISTRATION),
    DemoUser("foerderer", "Frank", "Förster", Role.FUNDING_VIEWER),
    DemoUser("admin", "Olga", "Betrieb", None),
)


@dataclass(frozen=True)
class DemoAccount:
    username: str
    full_name: str
    role_label: str
    totp_secret: str | None


def _ensure_totp(user: AbstractUser) -> str:
    """Return the user's TOTP secret, creating an authenticator if there is none."""
    from allauth.mfa.models import Authenticator
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
    from allauth.mfa.utils import decrypt

    existing = Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).first()
    if existing is not None:
        return str(decrypt(existing.data["secret"]))
    secret = generate_totp_secret()
    TOTP.activate(user, secret)
    return secret


def ensure_demo_users(password: str = DEMO_PASSWORD) -> list[DemoAccount]:
    """One user per role plus a superuser; re-running resets their passwords."""
    from allauth.account.models import EmailAddress

    sync_groups()
    mfa_roles = {Role(r) for r in getattr(settings, "MFA_REQUIRED_ROLES", [])}
    accounts = []
    for spec in DEMO_USERS:
        user, _created = get_user_model().objects.get_or_create(username=spec.username)
        user.first_name = spec.first_name
        user.last_name = spec.last_name
        user.email = f"{spec.username}@{DEMO_EMAIL_DOMAIN}"
        user.is_active = True
        user.is_superuser = spec.role is None
        # Administration manages users and reference data in the Django admin.
        user.is_staff = spec.role in (None, Role.ADMINISTRATION)
        user.set_password(password)
        user.save()
        user.groups.set([Group.objects.get(name=spec.role.group_name)] if spec.role else [])
        EmailAddress.objects.update_or_create(
            user=user, email=user.email, defaults={"verified": True, "primary": True}
        )
        # Staff must use a second factor too (crm.middleware).
        secret = _ensure_totp(user) if spec.role in mfa_roles or user.is_staff else None
        label = spec.role.group_name if spec.role else "Superuser (Betrieb)"
        accounts.append(
            DemoAccount(spec.username, f"{spec.first_name} {spec.last_name}", label, secret)
        )
    return accounts


# --- Vocabulary for fictional organisations and people -------------------------------


@dataclass(frozen=True)
class Branch:
    label: str
    sector: str
    topics: tuple[str, ...]
    craft: bool = False  # Handwerk: a member of the Handwerkskammer
    trade_first: bool = False  # named like "Tischlerei Krämer" rather than "Krämer Tischlerei"


BRANCHES = (
    Branch("Maschinenbau", "C", ("production-industry40", "production-materials")),
    Branch("Präzisionstechnik", "C", ("production-metrology", "production-surfaces")),
    Branch("Metallbau", "C", ("production-steel",), craft=True),
    Branch("Stahlbau", "C", ("production-steel", "construction-digital")),
    Branch("Kunststofftechnik", "C", ("production-materials", "circular-recycling")),
    Branch("Oberflächentechnik", "C", ("production-surfaces",)),
    Branch("Sensortechnik", "C", ("production-metrology", "digital-data")),
    Branch("Automatisierungstechnik", "C", ("production-industry40", "digital-ai")),
    Branch("Fahrzeugtechnik", "C", ("mobility-automotive", "mobility-automated")),
    Branch("Antriebstechnik", "C", ("mobility-electric", "mobility-automotive")),
    Branch("Batterietechnik", "C", ("energy-storage", "circular-batteries")),
    Branch("Medizintechnik", "C", ("health-medtech",)),
    Branch("Labortechnik", "M", ("health-biotech", "production-metrology")),
    Branch("Softwareentwicklung", "J", ("digital-data", "digital-ai")),
    Branch("IT-Systemhaus", "J", ("digital-security", "digital-data")),
    Branch("Datenanalyse", "J", ("digital-ai", "digital-data")),
    Branch("Solar", "D", ("energy-renewables",)),
    Branch("Energietechnik", "D", ("energy-grids", "energy-renewables")),
    Branch("Wasserstofftechnik", "C", ("energy-hydrogen", "energy-grids")),
    Branch("Elektrotechnik", "F", ("energy-grids", "mobility-electric"), craft=True),
    Branch("Haustechnik", "F", ("construction-renovation", "energy-renewables"), craft=True),
    Branch("Holzbau", "F", ("construction-timber",), craft=True),
    Branch("Bau", "F", ("construction-digital", "construction-renovation")),
    Branch("Dachdeckerei", "F", ("construction-renovation",), craft=True, trade_first=True),
    Branch("Tischlerei", "C", ("construction-timber",), craft=True, trade_first=True),
    Branch("Bäckerei", "C", ("agrifood-food",), craft=True, trade_first=True),
    Branch("Fleischerei", "C", ("agrifood-food",), craft=True, trade_first=True),
    Branch("Feinkost", "C", ("agrifood-food",)),
    Branch("Agrarservice", "A", ("agrifood-crops", "agrifood-smart-farming")),
    Branch("Landtechnik", "G", ("agrifood-smart-farming",)),
    Branch("Gartenbau", "A", ("agrifood-crops", "environment-climate")),
    Branch("Recycling", "E", ("circular-recycling",)),
    Branch("Umwelttechnik", "E", ("environment-water", "environment-climate")),
    Branch("Logistik", "H", ("mobility-rail",)),
    Branch("Spedition", "H", ("mobility-rail",), trade_first=True),
    Branch(
        "Ingenieurbüro", "M", ("construction-digital", "production-metrology"), trade_first=True
    ),
    Branch("Planungsbüro", "M", ("construction-digital",), trade_first=True),
    Branch("Unternehmensberatung", "M", ("skills-recruitment", "skills-entrepreneurship")),
    Branch("Werbeagentur", "M", ("newwork-creative",), trade_first=True),
    Branch("Druckerei", "C", ("newwork-creative",), trade_first=True),
    Branch("Autohaus", "G", ("mobility-electric",), trade_first=True),
    Branch("Kfz-Technik", "G", ("mobility-electric",), craft=True, trade_first=True),
    Branch("Pflegedienst", "Q", ("health-medtech", "skills-recruitment"), trade_first=True),
    Branch("Hotel", "I", ("skills-recruitment",), trade_first=True),
    Branch("Bildungszentrum", "P", ("skills-vocational",)),
    Branch("Drohnentechnik", "C", ("aerospace-drones",)),
    Branch("Luftfahrttechnik", "C", ("aerospace-aviation", "production-materials")),
    Branch("Geotechnik", "M", ("environment-mining", "environment-repository")),
    Branch("Steuerberatung", "M", (), trade_first=True),
    Branch("Immobilien", "L", ("construction-renovation",)),
)
LARGE_BRANCHES = (
    Branch("Fahrzeugsysteme", "C", ("mobility-automotive", "mobility-electric")),
    Branch("Stahl- und Walzwerk", "C", ("production-steel", "energy-hydrogen")),
    Branch("Maschinenfabrik", "C", ("production-industry40", "production-materials")),
    Branch("Logistik", "H", ("mobility-rail", "digital-data")),
    Branch("Energieversorgung", "D", ("energy-grids", "energy-renewables")),
    Branch("Kunststoffwerke", "C", ("production-materials", "circular-recycling")),
    Branch("Mühlenwerke", "C", ("agrifood-food",)),
    Branch("Bau", "F", ("construction-digital", "construction-renovation")),
)
REGIONAL_WORDS = (
    "Harzer", "Okertal", "Elm", "Asse", "Heideland", "Südheide", "Allertal", "Fuhsetal",
    "Schuntertal", "Lappwald", "Drömling", "Nordharz", "Innerste", "Fallstein", "Papenteich",
    "Ostfalen", "Vorharz", "Isetal", "Wabetal", "Ohretal", "Oderwald", "Hasenwinkel",
)  # fmt: skip
START_UP_STEMS = (
    "Volt", "Quant", "Lumi", "Nexa", "Brix", "Agri", "Hydro", "Cell", "Sens", "Grün", "Werk",
    "Kraft", "Loop", "Terra", "Aero", "Bio", "Flux", "Mika", "Novo", "Ferro", "Silo", "Vela",
)  # fmt: skip
START_UP_ENDINGS = ("aro", "ix", "ify", "io", "lab", "werk", "wise", "ly", "on", "a", "eo", "tec")
START_UP_WORDS = (
    "Labs", "Technologies", "Robotics", "Analytics", "Systems", "Energy", "Materials", "Health",
)  # fmt: skip
START_UP_TOPICS = (
    "digital-ai", "digital-data", "digital-quantum", "energy-hydrogen", "energy-storage",
    "circular-batteries", "circular-bioeconomy", "mobility-automated", "health-biotech",
    "health-medtech", "agrifood-smart-farming", "aerospace-drones", "aerospace-space",
    "production-materials",
)  # fmt: skip
PLACE_NAMES = (
    "Coworking", "Dorfbüro", "Werkraum", "Makerspace", "Lernwerkstatt", "Kreativhof",
    "Lernlabor", "Gründerwerkstatt", "Digitales Dorfhaus", "Offene Werkstatt",
)  # fmt: skip
NETWORK_TOPICS = (
    "Leichtbau", "Wasserstoff", "Digitalisierung", "Holzbau", "Kreislaufwirtschaft",
    "Smart Farming", "Fachkräfte", "Batterie", "Mobilität", "Gesundheitswirtschaft",
)  # fmt: skip
NEEDS = (
    "digital-security", "digital-ai", "digital-data", "skills-recruitment", "skills-vocational",
    "skills-entrepreneurship", "energy-renewables", "newwork-hybrid", "production-industry40",
    "environment-climate", "circular-recycling", "construction-renovation",
)  # fmt: skip
STREETS = (
    "Hauptstraße", "Bahnhofstraße", "Industriestraße", "Gewerbestraße", "Am Gewerbepark",
    "Dorfstraße", "Schulstraße", "Gartenstraße", "Mühlenweg", "Lindenallee", "Kirchstraße",
    "Am Markt", "Bergstraße", "Feldstraße", "Wiesenweg", "Siemensstraße", "Robert-Bosch-Straße",
    "Otto-Hahn-Straße", "Carl-Zeiss-Straße", "Max-Planck-Straße", "Daimlerstraße",
    "Gutenbergstraße", "Im Gewerbegebiet", "Zum Handwerkerhof", "Am Bahnhof", "Lange Straße",
    "Breite Straße", "Harzstraße", "Okerstraße", "Am Elm", "Heideweg", "Braunschweiger Straße",
    "Wolfsburger Straße", "Peiner Straße", "Goslarsche Straße", "Hildesheimer Straße",
    "Celler Straße", "Magdeburger Straße", "Raiffeisenstraße", "Rudolf-Diesel-Straße",
    "Werkstraße", "An der Autobahn", "Zum Hafen", "Ringstraße", "Friedrich-Ebert-Straße",
    "Marktplatz", "Im Technologiepark", "Wilhelm-Busch-Straße", "Eichendorffweg", "Am Anger",
)  # fmt: skip
AREA_CODES = {
    "03101": "531", "03102": "5341", "03103": "5361", "03151": "5371",
    "03153": "5321", "03154": "5351", "03157": "5171", "03158": "5331",
}  # fmt: skip
# (male, female, neutral) forms: neutral is used for people without a salutation.
FUNCTIONS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "lead": (
        ("Geschäftsführer", "Geschäftsführerin", "Geschäftsführung"),
        ("Inhaber", "Inhaberin", "Inhaber:in"),
    ),
    "enterprise": (
        ("Technischer Leiter", "Technische Leiterin", "Technische Leitung"),
        ("Leiter Entwicklung", "Leiterin Entwicklung", "Leitung Entwicklung"),
        ("Produktionsleiter", "Produktionsleiterin", "Produktionsleitung"),
        ("Personalleiter", "Personalleiterin", "Personalleitung"),
        ("Innovationsmanager", "Innovationsmanagerin", "Innovationsmanagement"),
        ("Vertriebsleiter", "Vertriebsleiterin", "Vertriebsleitung"),
        ("Ausbilder", "Ausbilderin", "Ausbildungsleitung"),
        ("Projektingenieur", "Projektingenieurin", "Projektingenieur:in"),
        ("Prokurist", "Prokuristin", "Prokura"),
    ),
    "start_up": (
        ("Gründer und CEO", "Gründerin und CEO", "Gründer:in und CEO"),
        ("Mitgründer und CTO", "Mitgründerin und CTO", "Mitgründer:in und CTO"),
        ("Business Developer", "Business Developerin", "Business Development"),
    ),
    "research": (
        ("Professor", "Professorin", "Professur"),
        ("Wissenschaftlicher Mitarbeiter", "Wissenschaftliche Mitarbeiterin", "Wissenschaft"),
        ("Transferbeauftragter", "Transferbeauftragte", "Transferstelle"),
        ("Institutsleiter", "Institutsleiterin", "Institutsleitung"),
        ("Gruppenleiter", "Gruppenleiterin", "Gruppenleitung"),
    ),
    "chamber": (
        ("Referent Innovation", "Referentin Innovation", "Referat Innovation"),
        ("Berater Unternehmensnachfolge", "Beraterin Unternehmensnachfolge", "Nachfolgeberatung"),
        ("Ausbildungsberater", "Ausbildungsberaterin", "Ausbildungsberatung"),
    ),
    "municipality": (
        ("Wirtschaftsförderer", "Wirtschaftsförderin", "Wirtschaftsförderung"),
        ("Digitalisierungsbeauftragter", "Digitalisierungsbeauftragte", "Digitalisierung"),
        ("Klimaschutzmanager", "Klimaschutzmanagerin", "Klimaschutzmanagement"),
    ),
    "intermediary": (
        ("Projektmanager", "Projektmanagerin", "Projektmanagement"),
        ("Netzwerkmanager", "Netzwerkmanagerin", "Netzwerkmanagement"),
        ("Gründungsberater", "Gründungsberaterin", "Gründungsberatung"),
    ),
    "place": (
        ("Community Manager", "Community Managerin", "Community Management"),
        ("Betreiber", "Betreiberin", "Betrieb"),
    ),
}
FUNCTION_GROUP: dict[str, str] = {
    Organisation.Kind.SME: "enterprise",
    Organisation.Kind.LARGE_ENTERPRISE: "enterprise",
    Organisation.Kind.START_UP: "start_up",
    Organisation.Kind.UNIVERSITY: "research",
    Organisation.Kind.RESEARCH_INSTITUTE: "research",
    Organisation.Kind.CHAMBER: "chamber",
    Organisation.Kind.MUNICIPALITY: "municipality",
    Organisation.Kind.INTERMEDIARY: "intermediary",
    Organisation.Kind.PLACE: "place",
}
DEPARTMENTS = ("Entwicklung", "Produktion", "Personal", "Vertrieb", "Qualitätssicherung", "")
CONSENT_SOURCES = (
    "Unternehmensbesuch",
    "Visitenkarte, Transfertag",
    "Anmeldung Jahreskonferenz Wissens- und Technologietransfer",
    "Newsletter-Anmeldung (Double-Opt-in)",
    "Kooperationsvereinbarung",
    "Telefonat",
    "Webformular Kompetenzportal",
)
ORGANISATION_NOTES = (
    "Erstgespräch mit der Geschäftsführung geführt; Interesse an ZIM-Förderung.",
    "Sucht Unterstützung bei der Fachkräftegewinnung, v. a. Auszubildende.",
    "Möchte Abwärme aus der Produktion nutzen; Kontakt zum Energie-Netzwerk herstellen.",
    "Unternehmensnachfolge in den nächsten fünf Jahren offen; Hinweis auf Nachfolgeberatung.",
    "Interesse an einer Abschlussarbeit mit der Hochschule zum Thema Datenanalyse.",
    "Hat am Transfertag teilgenommen, Rückruf zu Förderprogrammen vereinbart.",
    "Plant eine PV-Anlage auf dem Hallendach, fragt nach Speicherlösungen.",
    "Mitarbeitende arbeiten teilweise mobil; Interesse am Coworking-Angebot vor Ort.",
    "Prototyp vorhanden, sucht Partner für Materialprüfung.",
    "Kein aktueller Bedarf, in einem Jahr erneut ansprechen.",
)
PERSON_NOTES = (
    "Bevorzugt Kontakt per Telefon am Vormittag.",
    "Engagiert sich im Prüfungsausschuss der Kammer.",
    "Referent:in bei der Jahreskonferenz angefragt.",
    "Ansprechpartner:in für Praktika und Abschlussarbeiten.",
)
RELATIONSHIP_NOTES = {
    Relationship.Kind.COOPERATION: (
        "Gemeinsames ZIM-Kooperationsprojekt",
        "Studentische Abschlussarbeit",
        "Forschungsauftrag Materialprüfung",
        "Gemeinsames Verbundprojekt",
    ),
    Relationship.Kind.MEMBERSHIP: ("Pflichtmitgliedschaft", ""),
    Relationship.Kind.SPIN_OFF: ("Ausgründung aus einem Forschungsprojekt", "EXIST-Gründung"),
    Relationship.Kind.SUPPLIER: ("Zulieferer für Bauteile", "Rahmenvertrag Dienstleistungen"),
}
LEGAL_FORMS_MICRO = (
    ("GmbH", 45), ("e.K.", 22), ("UG (haftungsbeschränkt)", 10), ("GbR", 8),
    ("GmbH & Co. KG", 6), ("OHG", 5), ("KG", 4),
)  # fmt: skip
LEGAL_FORMS_SME = (("GmbH", 60), ("GmbH & Co. KG", 25), ("KG", 6), ("OHG", 4), ("AG", 3), ("eG", 2))
LEGAL_FORMS_PLACE = (
    ("e.V.", 40), ("GmbH", 25), ("UG (haftungsbeschränkt)", 15), ("eG", 10), ("gGmbH", 10),
)  # fmt: skip
STATUSES = (("active", 86), ("dormant", 9), ("archived", 5))
EMAIL_BASES = (
    (ConsentRecord.LawfulBasis.CONSENT, 45),
    (ConsentRecord.LawfulBasis.LEGITIMATE_INTEREST, 40),
    (ConsentRecord.LawfulBasis.CONTRACT, 15),
)
LEGAL_FORMS_LARGE = (("AG", 35), ("GmbH", 35), ("GmbH & Co. KG", 25), ("SE", 5))
REGISTER_KIND = {
    "GmbH": "HRB", "UG (haftungsbeschränkt)": "HRB", "AG": "HRB", "SE": "HRB", "gGmbH": "HRB",
    "e.K.": "HRA", "OHG": "HRA", "KG": "HRA", "GmbH & Co. KG": "HRA", "eG": "GnR", "e.V.": "VR",
}  # fmt: skip
_UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})
_NOT_DOMAIN = re.compile(r"[^a-z0-9]+")


def ascii_slug(text: str) -> str:
    return _NOT_DOMAIN.sub("-", text.lower().translate(_UMLAUTS)).strip("-")


_CUMULATIVE: dict[tuple[tuple[str, int], ...], tuple[list[str], list[int]]] = {}


def _weighted(rng: random.Random, options: tuple[tuple[str, int], ...]) -> str:
    """One of ``options`` (value, weight) at random; called per record, hence the cache."""
    if options not in _CUMULATIVE:
        _CUMULATIVE[options] = ([o for o, _w in options], list(accumulate(w for _o, w in options)))
    values, cumulative = _CUMULATIVE[options]
    return values[bisect(cumulative, rng.random() * cumulative[-1])]


# --- The generator -------------------------------------------------------------------


@dataclass(frozen=True)
class Place:
    pk: int
    name: str
    postal_codes: tuple[str, ...]
    district_key: str
    rural: bool


@dataclass
class World:
    """What generated records refer to: the loaded region, topics, institutions, users."""

    places: list[Place]
    place_weights: list[float]
    topics: dict[str, int]
    institutions: dict[str, list[tuple[int, str]]]  # kind → [(pk, name)]
    institution_employees: dict[int, int | None]
    institution_domains: dict[int, str]  # fictional mail domains for fictional staff
    research_by_topic: dict[int, list[int]]  # topic id → research partners offering it
    managers: list[int]
    recorders: list[int]

    @classmethod
    def load(cls) -> World:
        places, weights = [], []
        rows = Municipality.objects.select_related("district").order_by("ags")
        for m in rows:
            codes = tuple(c.strip() for c in m.postal_codes.split(",") if c.strip())
            if not codes or not m.population:
                continue  # unincorporated areas: nobody lives or works there
            places.append(Place(m.pk, m.name, codes, m.district.key, m.is_rural))
            # Damped population weights: cities still lead, but a third lands in rural places.
            weights.append(float(m.population) ** 0.75)
        institutions: dict[str, list[tuple[int, str]]] = {}
        employees, domains = {}, {}
        for pk, name, kind, staff, website in (
            Organisation.objects.exclude(external_id__startswith=DEMO_PREFIX)
            .filter(kind__in=[k for k in FUNCTION_GROUP if k not in Organisation.ENTERPRISE_KINDS])
            .order_by("pk")
            .values_list("pk", "name", "kind", "employees", "website")
        ):
            institutions.setdefault(kind, []).append((pk, name))
            employees[pk] = staff
            # Fictional people must not get addresses at a real institution's domain.
            host = website.split("://", 1)[-1].split("/", 1)[0].removeprefix("www.")
            stem = host.rsplit(".", 1)[0] if host else ascii_slug(name)[:40]
            domains[pk] = f"{stem}.example"
        research_by_topic: dict[int, list[int]] = {}
        for org_id, topic_id in (
            Organisation.offered_topics.through.objects.filter(
                organisation__kind__in=Organisation.RESEARCH_KINDS
            )
            .exclude(organisation__external_id__startswith=DEMO_PREFIX)
            .order_by("organisation_id", "topic_id")
            .values_list("organisation_id", "topic_id")
        ):
            research_by_topic.setdefault(topic_id, []).append(org_id)
        users = get_user_model().objects.filter(is_active=True).order_by("pk")
        managers = list(
            users.filter(groups__name=Role.NETWORK_MANAGER.group_name).values_list("pk", flat=True)
        )
        recorders = list(
            users.filter(
                groups__name__in=[Role.SCOUT.group_name, Role.NETWORK_MANAGER.group_name]
            ).values_list("pk", flat=True)
        )
        return cls(
            places=places,
            place_weights=weights,
            topics=dict(Topic.objects.values_list("slug", "pk")),
            institutions=institutions,
            institution_employees=employees,
            institution_domains=domains,
            research_by_topic=research_by_topic,
            managers=managers,
            recorders=sorted(set(recorders)),
        )

    def institution(self, kind: str, *name_parts: str) -> int | None:
        """The first institution of ``kind`` whose name contains all ``name_parts``."""
        for pk, name in self.institutions.get(kind, []):
            if all(part in name for part in name_parts):
                return pk
        return None


@dataclass
class OrganisationChunk:
    rows: list[Row]
    offered: list[tuple[int, int]]  # (organisation id, topic id)
    needed: list[tuple[int, int]]


@dataclass
class PeopleChunk:
    people: list[Row]
    affiliations: list[Row]
    consents: list[Row]
    notes: list[Row]


@dataclass
class _OrgInfo:
    """What people generation needs to know about an organisation."""

    domain: str
    phone: str
    kind: str
    weight: float


class DemoGenerator:
    """Fictional organisations and people, deterministic for a given seed and size."""

    def __init__(
        self,
        world: World,
        *,
        seed: int,
        organisations: int,
        people: int,
        first_org_id: int,
        first_person_id: int,
        now: datetime.datetime | None = None,
    ) -> None:
        from faker import Faker

        self.world = world
        self.rng = random.Random(seed)  # noqa: S311 - reproducible demo data, not secrets
        faker = Faker("de_DE")
        faker.seed_instance(seed)
        # Pools drawn once: Faker per record would dominate the time at state scale.
        self.female = sorted({faker.first_name_female() for _ in range(600)})
        self.male = sorted({faker.first_name_male() for _ in range(600)})
        self.last_names = sorted({faker.last_name() for _ in range(3000)})
        self.n_orgs = organisations
        self.n_people = people
        self.first_org_id = first_org_id
        self.first_person_id = first_person_id
        self.now = (now or timezone.now()).replace(microsecond=0)
        self.place_cum = list(accumulate(world.place_weights))
        self.rural_places = [i for i, p in enumerate(world.places) if p.rural]
        self.kinds = self._plan_kinds()
        self.large_ids = [
            first_org_id + i
            for i, k in enumerate(self.kinds)
            if k == Organisation.Kind.LARGE_ENTERPRISE
        ]
        self.org_info: dict[int, _OrgInfo] = {}
        self.relationships: list[Row] = []
        self.org_notes: list[Row] = []
        self.used_names: set[str] = set()
        self.used_domains: set[str] = set()
        self.register_seq = 0
        self._landmarks()

    def _landmarks(self) -> None:
        w = self.world
        self.tu_bs = w.institution(Organisation.Kind.UNIVERSITY, "Technische Universität", "Braun")
        self.universities = [pk for pk, _n in w.institutions.get(Organisation.Kind.UNIVERSITY, [])]
        self.research = self.universities + [
            pk for pk, _n in w.institutions.get(Organisation.Kind.RESEARCH_INSTITUTE, [])
        ]
        self.ihk = w.institution(Organisation.Kind.CHAMBER, "Industrie- und Handelskammer")
        self.hwk = w.institution(Organisation.Kind.CHAMBER, "Handwerkskammer")
        self.lwk = w.institution(Organisation.Kind.CHAMBER, "Landwirtschaftskammer")

    def _plan_kinds(self) -> list[str]:
        kinds: list[tuple[str, int]] = [
            (Organisation.Kind.SME, 850),
            (Organisation.Kind.START_UP, 80),
            (Organisation.Kind.LARGE_ENTERPRISE, 15),
            (Organisation.Kind.PLACE, 40),
            (Organisation.Kind.INTERMEDIARY, 15),
        ]
        planned = self.rng.choices(
            [k for k, _w in kinds], weights=[w for _k, w in kinds], k=self.n_orgs
        )
        if self.n_orgs >= 20:  # even a tiny demo shows each kind
            for position, (kind, _w) in enumerate(kinds[1:], start=1):
                if kind not in planned:
                    planned[position * 3] = kind
        return planned

    # -- small helpers

    def _moment(self, *, years: float = 3.0) -> datetime.datetime:
        seconds = self.rng.randint(3600, int(years * 365 * 86400))
        return self.now - datetime.timedelta(seconds=seconds)

    def _after(self, moment: datetime.datetime, *, days: int) -> datetime.datetime:
        """A random later moment, but never in the future."""
        later = moment + datetime.timedelta(minutes=self.rng.randint(0, days * 24 * 60))
        return min(later, self.now)

    def _place(self, *, rural: bool = False) -> Place:
        if rural and self.rural_places:
            return self.world.places[self.rng.choice(self.rural_places)]
        idx = bisect(self.place_cum, self.rng.random() * self.place_cum[-1])
        return self.world.places[min(idx, len(self.world.places) - 1)]

    def _topic_ids(self, slugs: tuple[str, ...] | list[str], k: int) -> list[int]:
        known = [self.world.topics[s] for s in slugs if s in self.world.topics]
        if not known:
            return []
        return self.rng.sample(known, min(k, len(known)))

    def _unique_name(self, base: str, form: str, place: Place) -> str:
        for candidate in (f"{base} {form}", f"{base} {place.name} {form}"):
            if candidate not in self.used_names:
                self.used_names.add(candidate)
                return candidate
        n = 2
        while f"{base} {place.name} {n} {form}" in self.used_names:
            n += 1
        self.used_names.add(f"{base} {place.name} {n} {form}")
        return f"{base} {place.name} {n} {form}"

    def _unique_domain(self, base: str, place: Place) -> str:
        slug = ascii_slug(base)[:40] or "firma"
        candidate, n = slug, 1
        while candidate in self.used_domains:
            n += 1
            candidate = f"{slug}-{ascii_slug(place.name)}" if n == 2 else f"{slug}-{n}"
        self.used_domains.add(candidate)
        return f"{candidate}.example"

    def _register(self, legal_form: str) -> str:
        prefix = REGISTER_KIND.get(legal_form)
        if not prefix:
            return ""
        self.register_seq += 1
        base = {"HRB": 100_000, "HRA": 200_000, "GnR": 100, "VR": 200_000}[prefix]
        return f"{prefix} {base + self.register_seq}"

    def _phone(self, place: Place) -> str:
        # German subscriber numbers never start with 0, so these cannot ring anyone.
        return f"+49 {AREA_CODES.get(place.district_key, '531')} 0{self.rng.randint(1000, 99999)}"

    # -- organisations

    def _employees(self, kind: str) -> int | None:
        rng = self.rng
        if kind == Organisation.Kind.LARGE_ENTERPRISE:
            return min(int(250 * rng.paretovariate(1.3)), 25_000)
        if kind == Organisation.Kind.START_UP:
            return rng.randint(1, 9) if rng.random() < 0.7 else rng.randint(10, 45)
        if kind in (Organisation.Kind.PLACE, Organisation.Kind.INTERMEDIARY):
            return rng.randint(1, 12) if rng.random() < 0.8 else None
        r = rng.random()
        if r < 0.04:
            return None
        if r < 0.72:
            return rng.randint(1, 9)
        if r < 0.94:
            return rng.randint(10, 49)
        return rng.randint(50, 249)

    def _name(self, kind: str, place: Place, employees: int | None) -> tuple[str, str, Branch]:
        """Name (without legal form), legal form and branch for a new organisation."""
        rng = self.rng
        if kind == Organisation.Kind.START_UP:
            coined = rng.choice(START_UP_STEMS) + rng.choice(START_UP_ENDINGS)
            if rng.random() < 0.4:
                coined = f"{coined} {rng.choice(START_UP_WORDS)}"
            form = "UG (haftungsbeschränkt)" if rng.random() < 0.35 else "GmbH"
            branch = Branch(coined, rng.choice("CJMM"), START_UP_TOPICS)
            return coined, form, branch
        if kind == Organisation.Kind.PLACE:
            place_name = f"{rng.choice(PLACE_NAMES)} {place.name}"
            form = _weighted(rng, LEGAL_FORMS_PLACE)
            return place_name, form, Branch(place_name, "N", ("newwork-coworking",))
        if kind == Organisation.Kind.INTERMEDIARY:
            topic = rng.choice(NETWORK_TOPICS)
            region = rng.choice(REGIONAL_WORDS).removesuffix("er")
            return f"Netzwerk {topic} {region}", "e.V.", Branch(topic, "S", NEEDS)
        if kind == Organisation.Kind.LARGE_ENTERPRISE:
            branch = rng.choice(LARGE_BRANCHES)
            return (
                f"{rng.choice(REGIONAL_WORDS)} {branch.label}",
                _weighted(rng, LEGAL_FORMS_LARGE),
                branch,
            )
        branch = rng.choice(BRANCHES)
        forms = LEGAL_FORMS_MICRO if (employees or 1) < 10 else LEGAL_FORMS_SME
        form = _weighted(rng, forms)
        last = rng.choice(self.last_names)
        pattern = rng.random()
        if branch.trade_first and pattern < 0.7:
            name = f"{branch.label} {last}"
        elif pattern < 0.35:
            name = f"{last} {branch.label}"
        elif pattern < 0.65:
            name = f"{rng.choice(REGIONAL_WORDS)} {branch.label}"
        elif pattern < 0.8:
            name = f"{last} & {rng.choice(self.last_names)} {branch.label}"
        else:
            name = f"{branch.label} {place.name}"
        return name, form, branch

    def organisation_chunks(self) -> Iterator[OrganisationChunk]:
        chunk = OrganisationChunk([], [], [])
        for i in range(self.n_orgs):
            self._organisation(i, chunk)
            if len(chunk.rows) >= CHUNK:
                yield chunk
                chunk = OrganisationChunk([], [], [])
        if chunk.rows:
            yield chunk

    def _organisation(self, i: int, chunk: OrganisationChunk) -> None:
        rng = self.rng
        oid = self.first_org_id + i
        kind = self.kinds[i]
        place = self._place(rural=kind == Organisation.Kind.PLACE and rng.random() < 0.7)
        employees = self._employees(kind)
        # A few re-rolls keep most names unique; the rest get the town added.
        for _attempt in range(3):
            base, form, branch = self._name(kind, place, employees)
            if f"{base} {form}" not in self.used_names:
                break
        name = self._unique_name(base, form, place)
        domain = self._unique_domain(base, place)
        created = self._moment()
        if kind == Organisation.Kind.START_UP:
            founded = self.now.year - rng.randint(0, 6)
        else:
            age = rng.expovariate(1 / (45 if kind == Organisation.Kind.LARGE_ENTERPRISE else 22))
            founded = max(1850, self.now.year - 1 - int(age))
        managers = self.world.managers
        manager = rng.choice(managers) if managers and rng.random() < 0.8 else None
        status = _weighted(rng, STATUSES)
        phone = self._phone(place)
        chunk.rows.append(
            {
                "id": oid,
                "kind": kind,
                "name": name[:200],
                "legal_form": form,
                "employees": employees,
                "sector": branch.sector,
                "founding_year": founded,
                "street": f"{rng.choice(STREETS)} {rng.randint(1, 120)}",
                "postal_code": rng.choice(place.postal_codes),
                "city": place.name,
                "municipality_id": place.pk,
                "website": f"https://www.{domain}" if rng.random() < 0.85 else "",
                "email": f"{rng.choice(('info', 'kontakt', 'hallo'))}@{domain}"
                if rng.random() < 0.75
                else "",
                "phone": phone if rng.random() < 0.8 else "",
                "register_number": self._register(form),
                "external_id": f"{DEMO_ORG_PREFIX}{i + 1:06d}",
                "responsible_manager_id": manager,
                "status": status,
                "directory_consent": rng.random() < 0.3,
                "created_at": created,
                "updated_at": created,
            }
        )
        for tid in self._topic_ids(branch.topics, rng.choice((0, 1, 1, 2, 2, 3))):
            chunk.offered.append((oid, tid))
        if kind in Organisation.ENTERPRISE_KINDS:
            for tid in self._topic_ids(NEEDS, rng.choice((0, 0, 1, 1, 2))):
                chunk.needed.append((oid, tid))
        weight = 1 + math.log2(1 + (employees or 3))
        self.org_info[oid] = _OrgInfo(domain, phone, kind, weight)
        self._relationships(oid, kind, branch, created)
        if rng.random() < 0.12:
            self.org_notes.append(
                {
                    "organisation_id": oid,
                    "text": rng.choice(ORGANISATION_NOTES),
                    "author_id": rng.choice(self.world.recorders) if self.world.recorders else None,
                    "created_at": self._after(created, days=90),
                }
            )

    def _relationships(
        self, oid: int, kind: str, branch: Branch, created: datetime.datetime
    ) -> None:
        rng = self.rng
        if kind not in Organisation.ENTERPRISE_KINDS:
            return

        def link(target: int | None, rel: str) -> None:
            if target is None or target == oid:
                return
            since = (created - datetime.timedelta(days=rng.randint(0, 2000))).date()
            self.relationships.append(
                {
                    "source_id": oid,
                    "target_id": target,
                    "kind": rel,
                    "valid_from": since if rng.random() < 0.7 else None,
                    "note": rng.choice(RELATIONSHIP_NOTES[Relationship.Kind(rel)]),
                }
            )

        if rng.random() < 0.35:
            chamber = self.hwk if branch.craft else self.ihk
            if branch.sector == "A" and self.lwk:
                chamber = self.lwk
            link(chamber, Relationship.Kind.MEMBERSHIP)
        cooperation_rate = 0.3 if kind == Organisation.Kind.START_UP else 0.08
        if self.research and rng.random() < cooperation_rate:
            # A partner whose competences fit the company's field, else any university.
            fitting = [
                pk
                for slug in branch.topics
                for pk in self.world.research_by_topic.get(self.world.topics.get(slug, 0), [])
            ]
            link(
                rng.choice(fitting or self.universities or self.research),
                Relationship.Kind.COOPERATION,
            )
        if kind == Organisation.Kind.START_UP and rng.random() < 0.4:
            origin = self.tu_bs if rng.random() < 0.6 else None
            if origin is None and self.universities:
                origin = rng.choice(self.universities)
            link(origin, Relationship.Kind.SPIN_OFF)
        if self.large_ids and kind == Organisation.Kind.SME and rng.random() < 0.04:
            link(rng.choice(self.large_ids), Relationship.Kind.SUPPLIER)

    # -- people

    def _employers(self) -> tuple[list[int], list[float]]:
        ids = list(self.org_info)
        weights = [self.org_info[i].weight for i in ids]
        for pk, staff in self.world.institution_employees.items():
            ids.append(pk)
            weights.append(4 + math.log2(1 + (staff or 200)))
        return ids, weights

    def people_chunks(self) -> Iterator[PeopleChunk]:
        if not self.n_people:
            return
        ids, weights = self._employers()
        if not ids:
            return
        cum = list(accumulate(weights))
        institutions = self.world.institution_employees
        kinds = {pk: kind for kind, items in self.world.institutions.items() for pk, _n in items}
        chunk = PeopleChunk([], [], [], [])
        synthetic = list(self.org_info)
        for i in range(self.n_people):
            # Every organisation gets its first contact before any gets a second.
            if i < len(synthetic):
                org = synthetic[i]
                lead = True
            else:
                org = ids[min(bisect(cum, self.rng.random() * cum[-1]), len(ids) - 1)]
                lead = False
            info = self.org_info.get(org)
            kind = info.kind if info else kinds.get(org, Organisation.Kind.RESEARCH_INSTITUTE)
            self._person(i, org, kind, info, lead, org in institutions, chunk)
            if len(chunk.people) >= CHUNK:
                yield chunk
                chunk = PeopleChunk([], [], [], [])
        if chunk.people:
            yield chunk

    def _person(
        self,
        i: int,
        org: int,
        kind: str,
        info: _OrgInfo | None,
        lead: bool,
        at_institution: bool,
        chunk: PeopleChunk,
    ) -> None:
        rng = self.rng
        pid = self.first_person_id + i
        r = rng.random()
        gender = 0 if r < 0.48 else 1 if r < 0.96 else 2  # male, female, none given
        if gender == 2:
            first = rng.choice(self.female if rng.random() < 0.5 else self.male)
        else:
            first = rng.choice(self.male if gender == 0 else self.female)
        last = rng.choice(self.last_names)
        salutation = ("Herr", "Frau", "")[gender]
        research = kind in Organisation.RESEARCH_KINDS
        t = rng.random()
        title = ""
        if (research and t < 0.15) or t < 0.01:
            title = "Prof. Dr."
        elif (research and t < 0.45) or t < 0.07:
            title = "Dr."
        domain = (
            info.domain if info else self.world.institution_domains.get(org, "institut.example")
        )
        local = f"{ascii_slug(first).replace('-', '')}.{ascii_slug(last).replace('-', '')}"
        email = f"{local}@{domain}" if rng.random() < 0.85 else ""
        base_phone = info.phone if info and info.phone else ""
        phone = f"{base_phone}-{rng.randint(10, 299)}" if base_phone and rng.random() < 0.7 else ""
        created = self._moment(years=2.5)
        chunk.people.append(
            {
                "id": pid,
                "salutation": salutation,
                "title": title,
                "first_name": first,
                "last_name": last,
                "email": email,
                "phone": phone,
                "mobile": f"+49 151 0{rng.randint(100000, 9999999)}" if rng.random() < 0.2 else "",
                "preferred_language": "en" if rng.random() < 0.04 else "de",
                "external_id": f"{DEMO_PERSON_PREFIX}{i + 1:06d}",
                "created_at": created,
                "updated_at": created,
            }
        )
        enterprise = kind in Organisation.ENTERPRISE_KINDS
        group = "lead" if lead and enterprise else FUNCTION_GROUP.get(kind, "enterprise")
        function = rng.choice(FUNCTIONS[group])[gender]
        chunk.affiliations.append(
            {
                "person_id": pid,
                "organisation_id": org,
                "function": function,
                "department": rng.choice(DEPARTMENTS) if group == "enterprise" else "",
                "email": email,
                "phone": phone,
                "valid_from": (created - datetime.timedelta(days=rng.randint(30, 5000))).date()
                if rng.random() < 0.5
                else None,
                "valid_until": None,
                "is_primary": True,
            }
        )
        if rng.random() < 0.08:
            self._second_affiliation(pid, org, gender, created, chunk)
        self._consents(pid, created, at_institution, chunk)
        if rng.random() < 0.03:
            chunk.notes.append(
                {
                    "person_id": pid,
                    "text": rng.choice(PERSON_NOTES),
                    "author_id": rng.choice(self.world.recorders) if self.world.recorders else None,
                    "created_at": self._after(created, days=60),
                }
            )

    def _second_affiliation(
        self, pid: int, org: int, gender: int, created: datetime.datetime, chunk: PeopleChunk
    ) -> None:
        rng = self.rng
        if rng.random() < 0.5 and (self.ihk or self.hwk):
            other = rng.choice([c for c in (self.ihk, self.hwk) if c])
            function = ("Mitglied Prüfungsausschuss",) * 3
        elif self.universities:
            other = rng.choice(self.universities)
            function = ("Lehrbeauftragter", "Lehrbeauftragte", "Lehrauftrag")
        else:
            return
        if other == org:
            return
        since = (created - datetime.timedelta(days=rng.randint(200, 3000))).date()
        until = (
            since + datetime.timedelta(days=rng.randint(100, 1500)) if rng.random() < 0.4 else None
        )
        chunk.affiliations.append(
            {
                "person_id": pid,
                "organisation_id": other,
                "function": function[gender],
                "department": "",
                "email": "",
                "phone": "",
                "valid_from": since,
                "valid_until": until,
                "is_primary": False,
            }
        )

    def _consents(
        self, pid: int, created: datetime.datetime, public: bool, chunk: PeopleChunk
    ) -> None:
        rng = self.rng
        if rng.random() < 0.25:
            return  # no lawful basis recorded: the UI must refuse to email them
        recorders = self.world.recorders

        def add(purpose: str, basis: str) -> None:
            given = self._after(created, days=30)
            withdrawn = None
            if rng.random() < 0.05:
                withdrawn = given + datetime.timedelta(days=rng.randint(10, 400))
                withdrawn = min(withdrawn, self.now)
            chunk.consents.append(
                {
                    "person_id": pid,
                    "purpose": purpose,
                    "lawful_basis": basis,
                    "given_at": given,
                    "source": rng.choice(CONSENT_SOURCES),
                    "withdrawn_at": withdrawn,
                    "recorded_by_id": rng.choice(recorders) if recorders else None,
                }
            )

        Basis = ConsentRecord.LawfulBasis
        email_basis = (
            Basis.PUBLIC_TASK if public and rng.random() < 0.6 else _weighted(rng, EMAIL_BASES)
        )
        add(ConsentRecord.Purpose.EMAIL_CONTACT, email_basis)
        if rng.random() < 0.35:
            add(ConsentRecord.Purpose.NEWSLETTER, Basis.CONSENT)
        if rng.random() < 0.25:
            add(ConsentRecord.Purpose.EVENTS, Basis.CONSENT)
        if rng.random() < 0.08:
            add(ConsentRecord.Purpose.DIRECTORY, Basis.CONSENT)
        if rng.random() < 0.04:
            add(ConsentRecord.Purpose.PHOTOS, Basis.CONSENT)


# --- Writers -------------------------------------------------------------------------

HISTORY_FIELDS = frozenset(
    {"history_id", "history_date", "history_change_reason", "history_type", "history_user_id"}
)
# Fields save() derives; the bulk writer computes them the same way.
DERIVED_FIELDS: dict[type[models.Model], tuple[str, ...]] = {
    Organisation: ("size_class", "search_text"),
    Person: ("search_text",),
}


def _next_id(model: type[models.Model]) -> int:
    pk = model._meta.pk
    assert pk is not None
    return int(model._default_manager.aggregate(m=Max(pk.attname))["m"] or 0) + 1


def _reset_sequences(models_written: list[type[models.Model]]) -> None:
    statements = connection.ops.sequence_reset_sql(no_style(), models_written)
    if statements:
        with connection.cursor() as cursor:
            for sql in statements:
                cursor.execute(sql)


@dataclass
class Written:
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, model: type[models.Model], n: int) -> None:
        key = model._meta.label
        self.counts[key] = self.counts.get(key, 0) + n


class OrmWriter:
    """Saves one object at a time: signals and history exactly as in the app."""

    def __init__(self) -> None:
        self.written = Written()
        self.explicit: list[type[models.Model]] = []

    def next_id(self, model: type[models.Model]) -> int:
        self.explicit.append(model)
        return _next_id(model)

    def organisations(self, chunk: OrganisationChunk) -> None:
        offered: dict[int, list[int]] = {}
        needed: dict[int, list[int]] = {}
        for oid, tid in chunk.offered:
            offered.setdefault(oid, []).append(tid)
        for oid, tid in chunk.needed:
            needed.setdefault(oid, []).append(tid)
        for row in chunk.rows:
            org = Organisation(**row)
            org._change_reason = SEED_REASON  # type: ignore[attr-defined]
            org._history_date = row["created_at"]  # type: ignore[attr-defined]
            org.save(force_insert=True)
            if row["id"] in offered:
                org.offered_topics.set(offered[row["id"]])
            if row["id"] in needed:
                org.needed_topics.set(needed[row["id"]])
        self.written.add(Organisation, len(chunk.rows))
        self.written.add(Organisation.offered_topics.through, len(chunk.offered))
        self.written.add(Organisation.needed_topics.through, len(chunk.needed))

    def records(self, model: type[models.Model], rows: list[Row]) -> None:
        for row in rows:
            obj = model(**row)
            obj._change_reason = SEED_REASON  # type: ignore[attr-defined]
            moment = row.get("created_at") or row.get("given_at")
            if moment is not None:
                obj._history_date = moment  # type: ignore[attr-defined]
            obj.save(force_insert="id" in row)
        self.written.add(model, len(rows))

    def finish(self) -> None:
        _reset_sequences(self.explicit)
        # save() stamped updated_at with today; the demo records were "last changed" when created.
        # QuerySet.update() bypasses history, which is right: updated_at is not tracked.
        for model in (Organisation, Person):
            model._default_manager.filter(
                external_id__startswith=DEMO_PREFIX, updated_at__gt=models.F("created_at")
            ).update(updated_at=models.F("created_at"))


class BulkWriter:
    """Writes rows with PostgreSQL COPY (bulk_create elsewhere), plus their history rows."""

    def __init__(self) -> None:
        self.written = Written()
        self.postgres = connection.vendor == "postgresql"
        self.ids: dict[type[models.Model], int] = {}
        self.touched: list[type[models.Model]] = []
        self.history_date = timezone.now()
        self._columns: dict[type[models.Model], tuple[list[str], list[str], list[Any]]] = {}
        self.suspended_indexes: list[tuple[str, str]] = []
        self.suspended_keys: list[tuple[str, str, str]] = []

    def lock(self, tables: list[type[models.Model]]) -> None:
        if self.postgres:
            names = ", ".join(connection.ops.quote_name(m._meta.db_table) for m in tables)
            with connection.cursor() as cursor:
                cursor.execute(f"LOCK TABLE {names} IN SHARE ROW EXCLUSIVE MODE")

    def suspend_indexes(self, tables: list[type[models.Model]]) -> None:
        """Drop secondary indexes and foreign keys for the load; ``finish()`` restores them.

        PostgreSQL's advice for populating a database: building a GIN trigram index
        once is several times faster than updating it row by row, and validating a
        foreign key once is one join instead of a deferred check per row. Indexes
        that back a primary key or unique constraint stay. DDL is transactional: if
        the load fails, the rollback brings everything back.
        """
        if not self.postgres:
            return
        names = [m._meta.db_table for m in tables]
        quote = connection.ops.quote_name
        with connection.cursor() as cursor:
            # A table with deferred checks still pending cannot be altered: run them now.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
            cursor.execute(
                """
                SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid)
                FROM pg_constraint c
                WHERE c.contype = 'f' AND c.conrelid::regclass::text = ANY(%s)
                ORDER BY 1, 2
                """,
                [names],
            )
            self.suspended_keys = cursor.fetchall()
            for table, name, _definition in self.suspended_keys:
                cursor.execute(f"ALTER TABLE {quote(table)} DROP CONSTRAINT {quote(name)}")
            cursor.execute(
                """
                SELECT i.indexname, i.indexdef FROM pg_indexes i
                WHERE i.schemaname = current_schema() AND i.tablename = ANY(%s)
                AND NOT EXISTS (
                    SELECT 1 FROM pg_constraint c
                    WHERE c.conindid = format('%%I.%%I', i.schemaname, i.indexname)::regclass
                )
                ORDER BY i.indexname
                """,
                [names],
            )
            self.suspended_indexes = cursor.fetchall()
            for name, _definition in self.suspended_indexes:
                cursor.execute(f"DROP INDEX {quote(name)}")

    def _restore_indexes(self) -> None:
        quote = connection.ops.quote_name
        with connection.cursor() as cursor:
            if self.suspended_indexes:
                cursor.execute("SET LOCAL maintenance_work_mem = '512MB'")
            for _name, definition in self.suspended_indexes:
                cursor.execute(definition)
            for table, name, definition in self.suspended_keys:
                cursor.execute(
                    f"ALTER TABLE {quote(table)} ADD CONSTRAINT {quote(name)} {definition}"
                )
        self.suspended_indexes, self.suspended_keys = [], []

    def next_id(self, model: type[models.Model]) -> int:
        if model not in self.ids:
            self.ids[model] = _next_id(model)
            self.touched.append(model)
        return self.ids[model]

    def _allocate(self, model: type[models.Model], n: int) -> int:
        first = self.next_id(model)
        self.ids[model] = first + n
        return first

    def _assign_ids(self, model: type[models.Model], rows: list[Row]) -> None:
        pk = model._meta.pk
        assert pk is not None
        if rows and pk.attname not in rows[0]:
            first = self._allocate(model, len(rows))
            for offset, row in enumerate(rows):
                row[pk.attname] = first + offset
        elif rows:
            self.next_id(model)
            self.ids[model] = max(self.ids[model], max(r[pk.attname] for r in rows) + 1)

    def _layout(self, model: type[models.Model]) -> tuple[list[str], list[str], list[Any]]:
        """Attnames, column names, and the value for each column a row leaves out."""
        if model not in self._columns:
            fields = model._meta.concrete_fields
            self._columns[model] = (
                [f.attname for f in fields],
                [str(f.column) for f in fields],
                [f.get_default() for f in fields],
            )
        return self._columns[model]

    def _write(self, model: type[models.Model], rows: list[Row]) -> None:
        if not rows:
            return
        names, columns, defaults = self._layout(model)
        if self.postgres:
            quote = connection.ops.quote_name
            sql = (
                f"COPY {quote(model._meta.db_table)} "
                f"({', '.join(quote(c) for c in columns)}) FROM STDIN"
            )
            pairs = list(zip(names, defaults, strict=True))
            with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
                for row in rows:
                    copy.write_row([row.get(n, d) for n, d in pairs])
        else:
            model._default_manager.bulk_create([model(**row) for row in rows], batch_size=500)
        self.written.add(model, len(rows))

    def _history(self, model: type[models.Model], rows: list[Row]) -> list[Row]:
        history_model = model.history.model  # type: ignore[attr-defined]
        tracked = [
            f.attname
            for f in history_model._meta.concrete_fields
            if f.attname not in HISTORY_FIELDS
        ]
        first = self._allocate(history_model, len(rows))
        history = []
        for offset, row in enumerate(rows):
            entry = {name: row[name] for name in tracked if name in row}
            entry["history_id"] = first + offset
            entry["history_date"] = (
                row.get("created_at") or row.get("given_at") or self.history_date
            )
            entry["history_change_reason"] = SEED_REASON
            entry["history_type"] = "+"
            entry["history_user_id"] = None
            history.append(entry)
        self._write(history_model, history)
        return history

    def _derive(self, model: type[models.Model], rows: list[Row]) -> None:
        derived = DERIVED_FIELDS.get(model)
        if not derived:
            return
        for row in rows:
            obj = model(**row)
            obj.refresh_derived_fields()  # type: ignore[attr-defined]
            for name in derived:
                row[name] = getattr(obj, name)

    def records(self, model: type[models.Model], rows: list[Row]) -> None:
        self._assign_ids(model, rows)
        self._derive(model, rows)
        self._write(model, rows)
        self._history(model, rows)

    def organisations(self, chunk: OrganisationChunk) -> None:
        self._assign_ids(Organisation, chunk.rows)
        self._derive(Organisation, chunk.rows)
        self._write(Organisation, chunk.rows)
        history = self._history(Organisation, chunk.rows)
        history_of = {h["id"]: h["history_id"] for h in history}
        history_model = Organisation.history.model  # type: ignore[attr-defined]
        for name, pairs in (("offered_topics", chunk.offered), ("needed_topics", chunk.needed)):
            through = getattr(Organisation, name).through
            links = [{"organisation_id": o, "topic_id": t} for o, t in pairs]
            self._assign_ids(through, links)
            self._write(through, links)
            # The historical "created" row's snapshot of the topics, as simple-history keeps it.
            snapshot_model = getattr(history_model, name).model
            snapshot = [
                dict(link, history_id=history_of[link["organisation_id"]]) for link in links
            ]
            self._assign_ids(snapshot_model, snapshot)
            self._write(snapshot_model, snapshot)

    def finish(self) -> None:
        _reset_sequences(self.touched)
        self._restore_indexes()


# --- Orchestration -------------------------------------------------------------------


@dataclass
class SeedResult:
    skipped_existing: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    timings: list[tuple[str, float]] = field(default_factory=list)


def existing_demo_organisations() -> int:
    return Organisation.objects.filter(external_id__startswith=DEMO_ORG_PREFIX).count()


def seed_synthetic(
    *,
    organisations: int,
    people: int,
    seed: int,
    bulk: bool,
    rebuild_indexes: bool | None = None,
    log: Log = _quiet,
) -> SeedResult:
    """Create fictional organisations and people unless demo records already exist.

    ``rebuild_indexes`` (bulk on PostgreSQL only) drops secondary indexes and
    foreign keys during the load; by default it does so for big loads into
    small tables.
    """
    result = SeedResult()
    already = existing_demo_organisations()
    if already:
        result.skipped_existing = already
        return result
    started = time.perf_counter()

    def lap(label: str) -> None:
        result.timings.append((label, time.perf_counter() - started))
        log(f"  {label}: {time.perf_counter() - started:.1f} s")

    tables = _bulk_tables()
    with transaction.atomic():
        writer: OrmWriter | BulkWriter
        if bulk:
            writer = BulkWriter()
            writer.lock(tables)
            if rebuild_indexes is None:
                # Rebuilding pays off only when the load is at least as big as the table.
                rebuild_indexes = (
                    organisations >= SUSPEND_INDEXES_FROM
                    and organisations >= Organisation.objects.count()
                )
            if rebuild_indexes:
                writer.suspend_indexes(tables)
        else:
            writer = OrmWriter()
        generator = DemoGenerator(
            World.load(),
            seed=seed,
            organisations=organisations,
            people=people,
            first_org_id=writer.next_id(Organisation),
            first_person_id=writer.next_id(Person),
        )
        for org_chunk in generator.organisation_chunks():
            writer.organisations(org_chunk)
        lap("Organisationen")
        writer.records(Relationship, generator.relationships)
        writer.records(Note, generator.org_notes)
        lap("Beziehungen und Notizen")
        for people_chunk in generator.people_chunks():
            writer.records(Person, people_chunk.people)
            writer.records(Affiliation, people_chunk.affiliations)
            writer.records(ConsentRecord, people_chunk.consents)
            writer.records(Note, people_chunk.notes)
        lap("Personen, Zugehörigkeiten, Einwilligungen")
        writer.finish()
        lap("Sequenzen und Indizes")
    lap("Commit")
    result.counts = writer.written.counts
    if bulk and connection.vendor == "postgresql":
        # The whole database: the planner also needs row counts of the small reference
        # tables (municipalities per district), which autovacuum may not have sampled yet
        # (or never will: it can be switched off). VACUUM also fills the visibility map,
        # without which the organisations' covering index is read with a look into the
        # table for every row (a district's dashboard figures: 0.6 → 1.5 s at state
        # scale); inside a transaction only ANALYZE runs.
        command = "ANALYZE" if connection.in_atomic_block else "VACUUM (ANALYZE)"
        with connection.cursor() as cursor:
            cursor.execute(command)
        lap(command)
    return result


def _bulk_tables() -> list[type[models.Model]]:
    """Every table the demo writers fill: records, their history, topic links."""
    tables: list[type[models.Model]] = []
    for model in (Organisation, Person, Affiliation, ConsentRecord, Relationship, Note):
        tables += [model, model.history.model]  # type: ignore[attr-defined]
    for name in ("offered_topics", "needed_topics"):
        tables.append(getattr(Organisation, name).through)
        tables.append(getattr(Organisation.history.model, name).model)  # type: ignore[attr-defined]
    return tables
