"""Test-wide settings that must be in place before Django configures itself."""

import os

# PBKDF2 makes a suite with many logins ~30x slower; MD5 is for tests only.
os.environ.setdefault("PASSWORD_HASHERS", "django.contrib.auth.hashers.MD5PasswordHasher")
os.environ.setdefault("CELERY_BROKER_URL", "")
os.environ.setdefault("PLAIN_STATIC_STORAGE", "1")
