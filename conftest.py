"""Test-wide settings that must be in place before the tests touch Django."""

import os

os.environ.setdefault("CELERY_BROKER_URL", "")
os.environ.setdefault("PLAIN_STATIC_STORAGE", "1")


def pytest_configure(config):  # type: ignore[no-untyped-def]
    # pytest-django has loaded the settings by now; PBKDF2 would make the suite ~30x slower.
    from django.conf import settings

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
