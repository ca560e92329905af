"""REST API for interview guides: what an offline client renders the visit form from."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from scouting.guide import DEFAULT_GUIDE_NAME
from scouting.models import GuideQuestion, GuideSection, InterviewGuide

URL = "/api/interview-guides/"
CURRENT = f"{URL}current/"

pytestmark = pytest.mark.django_db


def api(user=None) -> APIClient:
    client = APIClient(headers={"Accept-Language": "en"})
    if user is not None:
        client.force_login(user)
    return client


@pytest.fixture
def new_guide():
    """A second, newer guide that replaces the default one."""
    InterviewGuide.objects.update(is_active=False)
    guide = InterviewGuide.objects.create(name="Kurzleitfaden", version=1, is_active=True)
    later = GuideSection.objects.create(guide=guide, title="Zum Schluss", position=2)
    first = GuideSection.objects.create(guide=guide, title="Zuerst", position=1)
    GuideQuestion.objects.create(section=later, key="notes", text="Notizen", kind="text")
    GuideQuestion.objects.create(
        section=first,
        key="size",
        text="Größe?",
        kind="choice",
        choices=["klein", "groß"],
        position=2,
    )
    GuideQuestion.objects.create(
        section=first, key="exporter", text="Export?", kind="yes_no", position=1
    )
    return guide


@pytest.mark.parametrize("persona", ["scout", "manager", "administration"])
def test_current_guide_for_everyone_who_records_or_maintains_visits(request, persona):
    response = api(request.getfixturevalue(persona)).get(CURRENT)
    assert response.status_code == 200
    guide = response.json()
    assert guide["name"] == DEFAULT_GUIDE_NAME and guide["is_active"] is True
    assert [s["position"] for s in guide["sections"]] == [1, 2, 3, 4, 5]
    first = guide["sections"][0]
    assert first["title"] == "Innovation"
    assert [q["key"] for q in first["questions"]][:2] == ["innovation_projects", "innovation_focus"]
    focus = first["questions"][1]
    assert focus["kind"] == "choice" and "Neue Produkte" in focus["choices"]
    assert set(focus) == {"key", "text", "kind", "choices", "position"}


def test_sections_and_questions_come_in_their_order(scout, new_guide):
    guide = api(scout).get(CURRENT).json()
    assert guide["id"] == new_guide.pk
    assert [s["title"] for s in guide["sections"]] == ["Zuerst", "Zum Schluss"]
    assert [q["key"] for q in guide["sections"][0]["questions"]] == ["exporter", "size"]
    assert guide["sections"][0]["questions"][1]["choices"] == ["klein", "groß"]


def test_older_guides_stay_readable_by_id(scout, new_guide):
    old = InterviewGuide.objects.get(name=DEFAULT_GUIDE_NAME)
    response = api(scout).get(f"{URL}{old.pk}/")
    assert response.status_code == 200
    assert response.json()["is_active"] is False
    assert len(response.json()["sections"]) == 5


def test_no_active_guide_is_404_with_a_message(scout):
    InterviewGuide.objects.update(is_active=False)
    response = api(scout).get(CURRENT)
    assert response.status_code == 404
    assert response.json()["detail"] == "No interview guide is active."


def test_unknown_guide_is_404(scout):
    for pk in ("999999", "abc", str(10**30)):
        assert api(scout).get(f"{URL}{pk}/").status_code == 404


@pytest.mark.parametrize("persona", ["funder", "outsider"])
def test_no_visit_role_gets_403(request, persona):
    client = api(request.getfixturevalue(persona))
    guide = InterviewGuide.objects.current()
    assert client.get(CURRENT).status_code == 403
    assert client.get(f"{URL}{guide.pk}/").status_code == 403


def test_anonymous_gets_401():
    assert api().get(CURRENT).status_code == 401


def test_guides_are_read_only_here(administration):
    guide = InterviewGuide.objects.current()
    client = api(administration)
    assert client.put(f"{URL}{guide.pk}/", {"name": "x"}, format="json").status_code == 403
    assert client.delete(f"{URL}{guide.pk}/").status_code == 403
    assert client.post(URL, {"name": "x"}, format="json").status_code in (403, 404, 405)
    assert InterviewGuide.objects.current().name == DEFAULT_GUIDE_NAME


def test_query_count_does_not_grow_with_the_questions(scout, new_guide):
    client = api(scout)

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(CURRENT).status_code == 200
        return len(ctx)

    before = queries()
    section = new_guide.sections.first()
    for i in range(20):
        GuideQuestion.objects.create(section=section, key=f"q{i}", text="?", kind="text")
    GuideSection.objects.create(guide=new_guide, title="Mehr", position=3)
    assert queries() == before


def test_format_suffix_works(scout):
    response = api(scout).get(f"{URL}current.json")
    assert response.status_code == 200
    assert response.json()["name"] == DEFAULT_GUIDE_NAME
