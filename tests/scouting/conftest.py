from __future__ import annotations

import pytest
from django.apps import apps as django_apps

from scouting.guide import install_default_guide
from scouting.models import InterviewGuide


@pytest.fixture(autouse=True)
def default_guide(request):
    """The default interview guide comes from a data migration; a live-server (browser)
    test run earlier in the same worker flushes every table, so put it back."""
    uses_db = request.node.get_closest_marker("django_db") or {
        "db",
        "transactional_db",
    } & set(request.fixturenames)
    if not uses_db:
        return None
    if InterviewGuide.objects.current() is None:
        install_default_guide(django_apps)
    return InterviewGuide.objects.current()
