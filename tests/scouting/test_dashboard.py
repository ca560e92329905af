from __future__ import annotations

import datetime
import uuid

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from crm.models import Organisation
from scouting.services import assign_follow_ups, propose_follow_up, record_visit, submit_visit
from scouting.views import PREVIOUS_LOGIN_SESSION_KEY, quarter_of
from tests.personas import PASSWORD

pytestmark = pytest.mark.django_db


def visit(organisation, by, **fields):
    return record_visit(uuid=uuid.uuid4(), organisation=organisation, by=by, **fields)[0]


def test_scout_dashboard_shows_drafts_recent_visits_and_follow_ups(
    client_as, organisation, scout, manager
):
    draft = visit(organisation, scout, summary="Entwurf")
    done = visit(organisation, scout)
    submit_visit(done, by=scout)
    follow_up = propose_follow_up(by=scout, title="Angebot nachfassen", organisation=organisation)
    assign_follow_ups([follow_up], assignee=scout, by=manager)
    response = client_as(scout).get(reverse("crm:home"))
    assert response.status_code == 200
    page = response.content.decode()
    assert reverse("scouting:visit_create") in page
    assert reverse("scouting:visit_edit", args=[draft.uuid]) in page
    assert done.get_absolute_url() in page
    assert "Angebot nachfassen" in page
    assert "Team" not in [p.template for p in response.context["panels"]]


def test_manager_dashboard(client_as, organisation, region, scout, manager):
    rural = visit(organisation, scout)
    submit_visit(rural, by=scout)
    urban_org = Organisation.objects.create(name="Stadt AG", municipality=region["urban"])
    submit_visit(visit(urban_org, scout), by=scout)
    propose_follow_up(by=scout, title="Unzugewiesen", organisation=organisation)
    late = propose_follow_up(by=scout, title="Zu spät", organisation=organisation)
    assign_follow_ups(
        [late],
        assignee=scout,
        due_date=timezone.localdate() - datetime.timedelta(days=3),
        by=manager,
    )
    response = client_as(manager).get(reverse("crm:home"))
    page = response.content.decode()
    assert "Unzugewiesen" in page and "Zu spät" in page
    panels = {p.template: p.context for p in response.context["panels"]}
    team = panels["scouting/_panel_manager.html"]
    assert team["counts"] == {"unassigned": 1, "overdue": 1}
    assert team["new_visit_count"] == 2
    assert [row["open"] for row in team["by_assignee"]] == [1]
    districts = panels["scouting/_panel_districts.html"]
    assert districts["total"] == 2
    assert districts["rural_share"] == 0.5


def test_visits_since_previous_login(client, organisation, scout, manager):
    old = visit(organisation, scout)
    submit_visit(old, by=scout)
    manager.last_login = timezone.now()
    manager.save(update_fields=["last_login"])
    fresh = visit(organisation, scout)
    submit_visit(fresh, by=scout)
    # Logging in keeps the previous login for the panel, then updates last_login.
    assert client.login(username="manager", password=PASSWORD)
    assert client.session[PREVIOUS_LOGIN_SESSION_KEY]
    panels = {p.template: p.context for p in client.get(reverse("crm:home")).context["panels"]}
    team = panels["scouting/_panel_manager.html"]
    assert [v.pk for v in team["new_visits"]] == [fresh.pk]
    manager.refresh_from_db()
    assert manager.last_login > team["since"]


def test_funder_and_administration_panels(client_as, administration, funder):
    # Funders get no scouting panel (only the published reports).
    funder_panels = [
        p.template for p in client_as(funder).get(reverse("crm:home")).context["panels"]
    ]
    assert funder_panels == ["reporting/_panel_reports.html"]
    admin_panels = [
        p.template for p in client_as(administration).get(reverse("crm:home")).context["panels"]
    ]
    assert "scouting/_panel_manager.html" not in admin_panels
    assert "scouting/_panel_scout.html" not in admin_panels


def test_dashboard_query_count_is_constant(client_as, organisation, scout, manager):
    def queries(user):
        cache.clear()  # the district figures are cached across users
        client = client_as(user)
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(reverse("crm:home")).status_code == 200
        return len(ctx)

    def add(n):
        for _ in range(n):
            v = visit(organisation, scout)
            submit_visit(v, by=scout)
            visit(organisation, scout)
            follow_up = propose_follow_up(by=scout, title="x", visit=v)
            assign_follow_ups([follow_up], assignee=scout, by=manager)
            propose_follow_up(by=scout, title="y", organisation=organisation)

    add(1)
    few = (queries(scout), queries(manager))
    add(10)
    assert (queries(scout), queries(manager)) == few


def test_quarter_of():
    assert quarter_of(datetime.date(2026, 11, 24)) == (
        datetime.date(2026, 10, 1),
        datetime.date(2027, 1, 1),
    )
    assert quarter_of(datetime.date(2026, 3, 31)) == (
        datetime.date(2026, 1, 1),
        datetime.date(2026, 4, 1),
    )


def test_user_without_role_is_told_to_ask_for_one(client_as, outsider):
    page = client_as(outsider).get(reverse("crm:home")).content.decode()
    assert "keine Rolle" in page


def test_overdue_follow_ups_without_assignee_on_the_manager_panel(
    client_as, organisation, scout, manager
):
    late = propose_follow_up(
        by=scout,
        title="Niemand zuständig",
        organisation=organisation,
        due_date=timezone.localdate() - datetime.timedelta(days=5),
    )
    assert late.assignee is None
    page = client_as(manager).get(reverse("crm:home"))
    assert page.status_code == 200
    assert "Niemand zuständig" in page.content.decode()
