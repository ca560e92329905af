from __future__ import annotations

import pytest
from django.core.cache import cache
from django.db import connections
from django.test import Client
from django.utils import translation

from crm.models import District, Municipality, Organisation, Person, Topic
from crm.roles import Role
from tests.personas import make_user

# Every database connection object a test ran with. Playwright's sync API (browser
# tests) runs the main thread in greenlets with contexts of their own, and Django keeps
# a connection per context: the one of the other context stayed open, so dropping the
# test database at the end failed ("being accessed by other users").
_CONNECTIONS: dict[int, object] = {}


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup):
    yield
    for wrapper in _CONNECTIONS.values():
        wrapper.close()


@pytest.fixture(autouse=True)
def _noted_connection():
    yield
    wrapper = connections["default"]
    _CONNECTIONS[id(wrapper)] = wrapper


@pytest.fixture(autouse=True)
def _default_language(settings):
    """Every test starts in German: a request with another language (LocaleMiddleware)
    leaves that language active in the thread, and the next test would inherit it."""
    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Rate limits and used TOTP codes live in the cache; no test inherits another's."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def scout(db):
    return make_user("scout", Role.SCOUT, first_name="Sina", last_name="Scout")


@pytest.fixture
def scout2(db):
    return make_user("scout2", Role.SCOUT, first_name="Samuel", last_name="Späher")


@pytest.fixture
def manager(db):
    return make_user("manager", Role.NETWORK_MANAGER, first_name="Nora", last_name="Netz")


@pytest.fixture
def administration(db):
    return make_user("verwaltung", Role.ADMINISTRATION, first_name="Vera", last_name="Verwaltung")


@pytest.fixture
def funder(db):
    return make_user("foerderer", Role.FUNDING_VIEWER, first_name="Frank", last_name="Förderer")


@pytest.fixture
def outsider(db):
    return make_user("outsider")


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def client_as():
    return client_for


@pytest.fixture
def region(db):
    """A tiny region: one district, an urban and a rural municipality."""
    district = District.objects.create(
        key="03158", name="Wolfenbüttel", kind=District.Kind.LANDKREIS
    )
    city = District.objects.create(
        key="03101", name="Braunschweig", kind=District.Kind.KREISFREIE_STADT
    )
    return {
        "district": district,
        "city_district": city,
        "urban": Municipality.objects.create(
            ags="03101000",
            name="Braunschweig",
            district=city,
            latitude=52.2689,
            longitude=10.5268,
            population=250000,
            area_type="urban",
            postal_codes="38100,38102",
        ),
        "rural": Municipality.objects.create(
            ags="03158011",
            name="Cremlingen",
            district=district,
            latitude=52.2489,
            longitude=10.6522,
            population=13000,
            area_type="rural",
            postal_codes="38162",
        ),
    }


@pytest.fixture
def topics(db):
    digital = Topic.objects.create(
        slug="digital", name="Digitalisierung & KI", name_en="Digitalisation & AI"
    )
    ai = Topic.objects.create(slug="digital-ai", name="Künstliche Intelligenz", parent=digital)
    energy = Topic.objects.create(slug="energy", name="Energie", name_en="Energy")
    return {"digital": digital, "ai": ai, "energy": energy}


@pytest.fixture
def organisation(region):
    return Organisation.objects.create(
        name="Müller Maschinenbau GmbH",
        kind=Organisation.Kind.SME,
        employees=42,
        city="Cremlingen",
        postal_code="38162",
        municipality=region["rural"],
        email="info@mueller-maschinenbau.de",
        website="https://www.mueller-maschinenbau.de",
        register_number="HRB 12345",
    )


@pytest.fixture
def person(organisation):
    p = Person.objects.create(
        first_name="Anna", last_name="Schmidt", email="a.schmidt@mueller-maschinenbau.de"
    )
    p.affiliations.create(organisation=organisation, function="Geschäftsführerin", is_primary=True)
    return p
