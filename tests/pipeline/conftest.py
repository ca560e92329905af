from __future__ import annotations

import pytest
from django.apps import apps as django_apps

from crm.models import Municipality, Organisation
from pipeline.models import Stage
from pipeline.services import create_request
from pipeline.stages import install_default_stages


@pytest.fixture(autouse=True)
def default_stages(request):
    """The default stages come from a data migration; a live-server (browser) or
    transactional test run earlier in the same worker flushes every table."""
    uses_db = request.node.get_closest_marker("django_db") or {
        "db",
        "transactional_db",
    } & set(request.fixturenames)
    if not uses_db:
        return None
    install_default_stages(django_apps)
    return {stage.key: stage for stage in Stage.objects.all()}


@pytest.fixture
def stages(default_stages):
    return default_stages


@pytest.fixture
def far_town(region):
    """Göttingen, 94 km from Cremlingen."""
    return Municipality.objects.create(
        ags="03159016",
        name="Göttingen",
        district=region["district"],
        latitude=51.5413,
        longitude=9.9158,
        area_type="urban",
    )


def research_partner(name, *, municipality, topics=(), kind=Organisation.Kind.UNIVERSITY):
    partner = Organisation.objects.create(name=name, kind=kind, municipality=municipality)
    partner.offered_topics.set(topics)
    return partner


@pytest.fixture
def university(region, topics):
    return research_partner(
        "Technische Universität Braunschweig",
        municipality=region["urban"],
        topics=[topics["ai"]],
    )


@pytest.fixture
def transfer_request(organisation, person, topics, scout, manager):
    return create_request(
        organisation=organisation,
        by=scout,
        title="KI für die Qualitätsprüfung",
        description="Fehler an Frästeilen automatisch erkennen.",
        kind="joint_rd",
        source="phone",
        contact_person=person,
        responsible_manager=manager,
        topics=[topics["ai"]],
    )
