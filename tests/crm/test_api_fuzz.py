"""Property-based run over the whole OpenAPI schema as a network manager with a token.

Checks: no server errors, and every documented answer matches its schema. By
default a few generated examples per operation, so it runs in under a minute;
``API_FUZZ_THOROUGH=1`` adds schemathesis' coverage phase (boundary values,
NUL bytes, wrong types: several minutes) and more examples.
"""

import json
import os

import pytest
import schemathesis
from django.core.cache import cache
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, Phase, settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from crm.models import ConsentRecord


def _load_schema() -> schemathesis.BaseSchema:
    # Built in-process at collection time: schemathesis' lazy fixture loader does not work
    # with pytest 9 (it reads the removed ``Function._nodeid``).
    raw = SchemaGenerator().get_schema(request=None, public=True)
    loaded = schemathesis.openapi.from_dict(json.loads(OpenApiJsonRenderer().render(raw)))
    loaded.app = WSGIHandler()
    return loaded


schema = _load_schema()
THOROUGH = os.environ.get("API_FUZZ_THOROUGH", "") == "1"


@pytest.fixture
def manager_token(db, manager, person, topics):
    ConsentRecord.objects.create(
        person=person, purpose="events", lawful_basis="consent", source="Formular"
    )
    # Django's request signals would close the test transaction's connection on PostgreSQL;
    # its own test client disconnects them the same way.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    cache.clear()
    yield Token.objects.create(user=manager).key
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)
    cache.clear()


@schema.parametrize()
@settings(
    max_examples=25 if THOROUGH else 8,
    deadline=None,
    database=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate] if THOROUGH else [Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_api_conforms_to_its_schema(case, manager_token):
    case.call_and_validate(
        headers={"Authorization": f"Token {manager_token}"},
        checks=[not_a_server_error, response_schema_conformance],
    )
