"""The OpenAPI schema and its Swagger UI page (served from the sidecar, no inline script)."""

import re

import pytest
from django.core.cache import cache
from drf_spectacular.validation import validate_schema
from rest_framework.test import APIClient


@pytest.fixture(autouse=True)
def _fresh_throttles():
    cache.clear()


def api(user=None) -> APIClient:
    client = APIClient(headers={"Accept-Language": "en"})
    if user is not None:
        client.force_login(user)
    return client


def test_schema_is_valid_openapi(manager):
    response = api(manager).get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    schema = response.json()
    validate_schema(schema)
    assert schema["openapi"].startswith("3.")
    for path in (
        "/api/organisations/",
        "/api/people/{id}/",
        "/api/affiliations/{id}/end/",
        "/api/consents/{id}/withdraw/",
        "/api/municipalities/",
        "/api/topics/",
        "/api/auth/token/",
    ):
        assert path in schema["paths"]
    create = schema["paths"]["/api/organisations/"]["post"]["responses"]
    assert {"201", "409"} <= set(create)
    props = schema["components"]["schemas"]["Organisation"]["properties"]
    assert props["size_class"]["readOnly"] is True
    assert {"cookieAuth", "tokenAuth"} <= set(schema["components"]["securitySchemes"])


def test_schema_needs_a_signed_in_user(db):
    assert api().get("/api/schema/").status_code in (401, 403)


def test_docs_page_loads_everything_from_our_origin(manager):
    response = api(manager).get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    scripts = re.findall(r"<script([^>]*)>", html)
    assert scripts and all("src=" in attrs for attrs in scripts), "no inline scripts (CSP)"
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert "//cdn" not in html and "https://" not in html
    assert "script-src 'self'" in response["Content-Security-Policy"]

    init = api(manager).get("/api/docs/", {"script": ""})
    assert init.status_code == 200
    assert init["Content-Type"].startswith("application/javascript")
    assert "/api/schema/" in init.content.decode()


def test_docs_page_needs_a_signed_in_user(db):
    assert api().get("/api/docs/").status_code in (401, 403)
