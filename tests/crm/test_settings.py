"""Settings refuse unsafe production configurations and harden themselves when DEBUG is off.

Each case imports the settings in a fresh interpreter with its own environment,
since settings are read once per process.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings as django_settings

BASE_DIR = Path(__file__).resolve().parents[2]

# Variables that must not leak into the fresh interpreter from the developer's or CI's
# shell, or from this test process.
SETTINGS_VARIABLES = {
    "DEBUG",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "CSRF_TRUSTED_ORIGINS",
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
    "BEHIND_TLS_PROXY",
    "SESSION_IDLE_MINUTES",
    "PLAIN_STATIC_STORAGE",
    "EMAIL_BACKEND",
    "DATABASE_URL",
    "CELERY_BROKER_URL",
    "REDIS_CACHE_URL",
    "DJANGO_SETTINGS_MODULE",
    # Set by the browser tests' conftest; check --deploy rightly refuses it.
    "DJANGO_ALLOW_ASYNC_UNSAFE",
}

PRINT_SETTINGS = """
import json, django
from django.conf import settings
django.setup()
print(json.dumps({name: getattr(settings, name) for name in %r}, default=str))
"""


def strong_key() -> str:
    return secrets.token_urlsafe(64)


def production_env(**overrides: str) -> dict[str, str]:
    env = {"DEBUG": "0", "SECRET_KEY": strong_key(), "ALLOWED_HOSTS": "crm.example.org"}
    env.update(overrides)
    return env


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if k not in SETTINGS_VARIABLES}
    full_env["DJANGO_SETTINGS_MODULE"] = "crm.settings"
    full_env.update(env)
    return subprocess.run(  # noqa: S603 - our own interpreter and arguments
        [sys.executable, *args],
        cwd=BASE_DIR,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def import_settings(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return run(["-c", "import django; django.setup()"], env)


def settings_values(env: dict[str, str], *names: str) -> dict:
    result = run(["-c", PRINT_SETTINGS % (list(names),)], env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


# --- Refusing to start -------------------------------------------------------------


def test_production_without_secret_key_refuses_to_start():
    result = import_settings(production_env(SECRET_KEY=""))

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "SECRET_KEY must be set" in result.stderr


@pytest.mark.parametrize(
    "weak_key",
    [
        "django-insecure-" + "x7Gk2pQ9" * 8,  # Django's generated development key
        "kurz-und-unsicher",  # too short
        "a" * 80,  # long but no variety
    ],
    ids=["django-insecure", "short", "repetitive"],
)
def test_production_with_weak_secret_key_refuses_to_start(weak_key):
    result = import_settings(production_env(SECRET_KEY=weak_key))

    assert result.returncode != 0
    assert "SECRET_KEY is too weak" in result.stderr


def test_production_without_allowed_hosts_refuses_to_start():
    result = import_settings(production_env(ALLOWED_HOSTS=""))

    assert result.returncode != 0
    assert "ALLOWED_HOSTS must be set" in result.stderr


@pytest.mark.parametrize(
    ("name", "value"),
    [("DEBUG", "vielleicht"), ("SESSION_IDLE_MINUTES", "1"), ("SECURE_HSTS_SECONDS", "ein Jahr")],
)
def test_malformed_values_are_refused(name, value):
    result = import_settings(production_env(**{name: value}))

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert name in result.stderr


def test_production_settings_import_with_strong_key():
    assert import_settings(production_env()).returncode == 0


# --- What production turns on --------------------------------------------------------


def test_cookies_and_transport_are_secure_when_debug_is_off():
    values = settings_values(
        production_env(),
        "DEBUG",
        "SESSION_COOKIE_SECURE",
        "CSRF_COOKIE_SECURE",
        "SESSION_COOKIE_HTTPONLY",
        "SESSION_COOKIE_SAMESITE",
        "SECURE_SSL_REDIRECT",
        "SECURE_HSTS_SECONDS",
        "SECURE_HSTS_INCLUDE_SUBDOMAINS",
        "SECURE_CONTENT_TYPE_NOSNIFF",
        "X_FRAME_OPTIONS",
        "EMAIL_BACKEND",
        "STORAGES",
    )

    assert values["DEBUG"] is False
    assert values["SESSION_COOKIE_SECURE"] is True
    assert values["CSRF_COOKIE_SECURE"] is True
    assert values["SESSION_COOKIE_HTTPONLY"] is True
    assert values["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert values["SECURE_SSL_REDIRECT"] is True
    assert values["SECURE_HSTS_SECONDS"] >= 31536000
    assert values["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True
    assert values["SECURE_CONTENT_TYPE_NOSNIFF"] is True
    assert values["X_FRAME_OPTIONS"] == "DENY"
    assert values["EMAIL_BACKEND"] == "django.core.mail.backends.smtp.EmailBackend"
    assert "Manifest" in values["STORAGES"]["staticfiles"]["BACKEND"]


def test_session_idle_timeout_is_configurable():
    values = settings_values(production_env(SESSION_IDLE_MINUTES="30"), "SESSION_COOKIE_AGE")

    assert values["SESSION_COOKIE_AGE"] == 30 * 60


@pytest.mark.skipif((BASE_DIR / ".env").exists(), reason="a local .env file changes the defaults")
def test_defaults_run_straight_after_cloning():
    values = settings_values(
        {},
        "DEBUG",
        "SESSION_COOKIE_SECURE",
        "EMAIL_BACKEND",
        "CELERY_TASK_ALWAYS_EAGER",
        "SESSION_COOKIE_AGE",
        "DATABASES",
    )

    assert values["DEBUG"] is True
    assert values["DATABASES"]["default"]["ENGINE"] == "django.db.backends.sqlite3"
    assert values["SESSION_COOKIE_SECURE"] is False
    assert values["EMAIL_BACKEND"] == "django.core.mail.backends.console.EmailBackend"
    assert values["CELERY_TASK_ALWAYS_EAGER"] is True
    assert values["SESSION_COOKIE_AGE"] == 120 * 60


# --- Django's deployment checklist ---------------------------------------------------


def test_nothing_is_silenced():
    assert not getattr(django_settings, "SILENCED_SYSTEM_CHECKS", [])


def test_check_deploy_passes_with_production_settings():
    result = run(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        production_env(),
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout
