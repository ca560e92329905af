"""The indicator dashboard, its breakdowns and the records behind every figure."""

from __future__ import annotations

import csv
import datetime
import html
import io
import uuid

import pytest
from django.apps import apps as django_apps
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from openpyxl import load_workbook

from crm.models import Organisation
from pipeline.services import create_request
from pipeline.stages import install_default_stages
from reporting import queries
from reporting.dashboard_views import format_value
from reporting.forms import scope_query
from reporting.periods import Period
from reporting.queries import INDICATORS, Scope
from scouting.services import complete_follow_up, propose_follow_up, record_visit, submit_visit

pytestmark = pytest.mark.django_db

DASHBOARD = reverse("reporting:dashboard")
FORMULA_NAME = '=HYPERLINK("x")'


def records_url(code: str) -> str:
    return reverse("reporting:records", args=[code])


def export_url(code: str) -> str:
    return reverse("reporting:records_export", args=[code])


def part_url(code: str) -> str:
    return reverse("reporting:dashboard_part", args=[code])


def this_quarter() -> Period:
    return Period.containing_quarter(timezone.localdate())


def at_noon(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(12)))


def submitted_visit(organisation, scout, **fields):
    visit = record_visit(uuid=uuid.uuid4(), organisation=organisation, by=scout, **fields)[0]
    return submit_visit(visit, by=scout)


@pytest.fixture
def world(region, organisation, topics, scout, manager):
    """This quarter: visits to a rural SME (with a topic) and to an urban one (in
    confidence), a draft at a university, a transfer request and a follow-up done in
    time; the quarter before: one more visit to the rural SME."""
    install_default_stages(django_apps)  # a live-server test before may have flushed them
    urban = Organisation.objects.create(
        name=FORMULA_NAME, kind=Organisation.Kind.SME, employees=5, municipality=region["urban"]
    )
    university = Organisation.objects.create(
        name="Technische Universität Braunschweig",
        kind=Organisation.Kind.UNIVERSITY,
        municipality=region["urban"],
    )
    rural_visit = submitted_visit(
        organisation, scout, topics=[topics["ai"]], summary="Geheime Pläne der Firma"
    )
    confidential = submitted_visit(
        urban, scout, is_confidential=True, summary="Vertrauliche Zusammenfassung"
    )
    record_visit(uuid=uuid.uuid4(), organisation=university, by=scout)  # a draft
    submitted_visit(organisation, scout, visited_at=at_noon(this_quarter().previous().start))
    request = create_request(
        organisation=organisation, by=scout, title="KI-Prüfstand", kind="joint_rd", source="phone"
    )
    follow_up = propose_follow_up(
        by=manager,
        title="Rückruf Frau Schmidt",
        organisation=organisation,
        due_date=timezone.localdate() + datetime.timedelta(days=3),
    )
    complete_follow_up(follow_up, note="erledigt", by=manager)
    return {
        "scope": Scope(this_quarter()),
        "rural": organisation,
        "urban": urban,
        "rural_visit": rural_visit,
        "confidential": confidential,
        "request": request,
        "region": region,
    }


def query(scope: Scope, **extra: str) -> str:
    text = scope_query(scope)
    for name, value in extra.items():
        text += f"&{name}={value}"
    return text


def records_count(response) -> int:
    return response.context["page"].paginator.count


# --- Access ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("persona", "dashboard", "records", "export"),
    [
        ("scout", 403, 403, 403),
        ("manager", 200, 200, 403),
        ("administration", 200, 200, 200),
        ("funder", 403, 403, 403),
        ("outsider", 403, 403, 403),
    ],
)
def test_access_by_persona(request, client_as, world, persona, dashboard, records, export):
    client = client_as(request.getfixturevalue(persona))
    params = query(world["scope"])
    assert client.get(f"{DASHBOARD}?{params}").status_code == dashboard
    assert client.get(f"{part_url('VISITS')}?{params}").status_code == dashboard
    assert client.get(f"{records_url('VISITS')}?{params}").status_code == records
    assert client.get(f"{export_url('VISITS')}?{params}&format=csv").status_code == export


def test_anonymous_visitors_are_sent_to_sign_in(client, world):
    login = reverse("account_login")
    for url in (DASHBOARD, part_url("RCO01"), records_url("RCO01"), export_url("RCO01")):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(login)


def test_unknown_indicator_is_not_found(client_as, administration, world):
    client = client_as(administration)
    for url in (part_url("NOPE"), records_url("NOPE"), export_url("NOPE")):
        assert client.get(url).status_code == 404


# --- Dashboard -------------------------------------------------------------------------


def test_dashboard_shows_every_indicator_as_totals_computes_it(client_as, manager, world):
    scope = world["scope"]
    response = client_as(manager).get(f"{DASHBOARD}?{query(scope)}&part=table")
    assert response.status_code == 200
    page = response.content.decode()
    current = queries.totals(scope)
    previous = queries.totals(scope.with_period(scope.period.previous()))
    rows = response.context["rows"]
    assert [row.item.code for row in rows] == [item.code for item in INDICATORS]
    for row in rows:
        assert row.value == format_value(current[row.item.code], row.item.unit)
        assert row.previous == format_value(previous[row.item.code], row.item.unit)
        # Both figures link to their records.
        assert f'href="{html.escape(row.value_url)}" data-figure="current">{row.value}<' in page
        assert f'href="{html.escape(row.previous_url)}" data-figure="previous">' in page
        assert row.rule in page or html.escape(row.rule) in page
    by_code = {row.item.code: row for row in rows}
    assert current["VISITS"] == 2 and previous["VISITS"] == 1
    assert by_code["VISITS"].change == "+1"
    assert by_code["RURAL_SHARE"].value == "50,0 %"
    assert by_code["RURAL_SHARE"].change == "−50,0"  # percentage points
    assert scope_query(scope.with_period(scope.period.previous())) in by_code["VISITS"].previous_url


def test_dashboard_defaults_to_the_last_finished_quarter_and_whole_region(
    client_as, administration, world
):
    response = client_as(administration).get(DASHBOARD)
    assert response.status_code == 200
    assert response.context["period"] == this_quarter().previous()
    assert response.context["previous_period"] == this_quarter().previous().previous()


def test_german_number_formatting(client_as, manager, world, region):
    Organisation.objects.bulk_create(
        Organisation(name=f"Firma {n}", kind=Organisation.Kind.SME) for n in range(1234)
    )
    scout = world["rural_visit"].created_by
    for org in Organisation.objects.filter(name__startswith="Firma ").order_by("pk")[:3]:
        submitted_visit(org, scout)
    assert format_value(1234, queries.Unit.ENTERPRISES) == "1.234"
    assert format_value(35.1, queries.Unit.PERCENT) == "35,1 %"
    response = client_as(manager).get(f"{DASHBOARD}?{query(world['scope'])}&part=table")
    rows = {row.item.code: row for row in response.context["rows"]}
    assert rows["VISITS"].value == "5"


def test_districts_narrow_the_figures(client_as, manager, world):
    district = world["region"]["district"]
    scope = Scope(this_quarter(), (district.pk,))
    response = client_as(manager).get(f"{DASHBOARD}?{query(scope)}&part=table")
    rows = {row.item.code: row for row in response.context["rows"]}
    assert rows["VISITS"].value == str(queries.totals(scope)["VISITS"]) == "1"
    assert f"districts={district.pk}" in rows["VISITS"].value_url


def test_dashboard_page_waits_for_nothing_and_loads_the_table(client_as, manager, world):
    """Computing the figures takes seconds at state scale: the page renders at once and
    fetches the table afterwards (or shows it straight away when it is cached)."""
    client = client_as(manager)
    page = client.get(f"{DASHBOARD}?{query(world['scope'])}")
    assert "rows" not in page.context
    assert "part=table" in page.content.decode()
    client.get(f"{DASHBOARD}?{query(world['scope'])}&part=table")
    cached = client.get(f"{DASHBOARD}?{query(world['scope'])}")
    assert {row.item.code for row in cached.context["rows"]} >= {"RCO01", "VISITS"}
    refreshed = client.get(f"{DASHBOARD}?{query(world['scope'])}&refresh=1")
    assert "rows" not in refreshed.context


def test_dashboard_is_cached_per_scope(client_as, manager, world):
    client = client_as(manager)
    scope = world["scope"]
    first = client.get(f"{DASHBOARD}?{query(scope)}&part=table")
    submitted_visit(world["rural"], world["rural_visit"].created_by)
    again = client.get(f"{DASHBOARD}?{query(scope)}&part=table")
    assert again.context["computed_at"] == first.context["computed_at"]
    visits = {row.item.code: row for row in again.context["rows"]}["VISITS"]
    assert visits.value == "2"  # from the cache
    district = Scope(scope.period, (world["region"]["district"].pk,))
    other = client.get(f"{DASHBOARD}?{query(district)}&part=table")
    assert {row.item.code: row for row in other.context["rows"]}["VISITS"].value == "2"


def test_recomputing_the_dashboard_renews_the_breakdowns_and_records_too(client_as, manager, world):
    """After "recompute" a figure and the records behind it agree at once (they were
    cached apart: the list kept the old records for up to ten minutes)."""
    client = client_as(manager)
    params = query(world["scope"])

    def shown() -> tuple[str, int, int]:
        table = client.get(f"{DASHBOARD}?{params}&part=table").context["rows"]
        value = {row.item.code: row for row in table}["VISITS"].value
        listed = records_count(client.get(f"{records_url('VISITS')}?{params}"))
        part = client.get(f"{part_url('VISITS')}?{params}").context["tables"]
        district = next(t for t in part if t["breakdown"] == "district")
        return value, listed, sum(int(cell.value) for cell in district["cells"])

    assert shown() == ("2", 2, 2)
    submitted_visit(world["rural"], world["rural_visit"].created_by)
    assert shown() == ("2", 2, 2)  # cached
    client.get(f"{DASHBOARD}?{params}&refresh=1")
    assert shown() == ("3", 3, 3)
    # The period before is recomputed with it (the table shows both).
    before = query(world["scope"].with_period(world["scope"].period.previous()))
    assert records_count(client.get(f"{records_url('VISITS')}?{before}")) == 1


def test_breakdown_part_lists_the_declared_breakdowns_with_links(client_as, manager, world):
    scope = world["scope"]
    response = client_as(manager).get(
        f"{part_url('VISITS')}?{query(scope)}", HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    tables = response.context["tables"]
    assert [t["breakdown"] for t in tables] == [
        str(b) for b in queries.indicator("VISITS").breakdowns
    ]
    districts = next(t for t in tables if t["breakdown"] == "district")
    assert sorted((c.label, c.value) for c in districts["cells"]) == [
        ("Braunschweig", "1"),
        ("Wolfenbüttel", "1"),
    ]
    page = response.content.decode()
    for cell in districts["cells"]:
        assert f'href="{html.escape(cell.url)}"' in page
        assert "breakdown=district" in cell.url


# --- Drill-down ------------------------------------------------------------------------


def test_every_figure_has_as_many_records_as_it_says(client_as, administration, world):
    scope = world["scope"]
    client = client_as(administration)
    for period_scope in (scope, scope.with_period(scope.period.previous())):
        values = queries.totals(period_scope)
        for item in INDICATORS:
            response = client.get(f"{records_url(item.code)}?{query(period_scope)}")
            assert response.status_code == 200, item.code
            count = records_count(response)
            if item.is_share:
                counted = response.context["counted"]
                share = round(100 * counted / count, 1) if count else 0.0
                assert share == values[item.code], item.code
            else:
                assert count == values[item.code], item.code


def test_every_breakdown_figure_has_as_many_records_as_it_says(client_as, manager, world):
    scope = world["scope"]
    client = client_as(manager)
    split = queries.breakdowns(scope)
    checked = 0
    for item in INDICATORS:
        for breakdown, rows in split[item.code].items():
            for row in rows:
                if breakdown == "topic" and row.key == queries.UNKNOWN:
                    continue  # see the report: records() finds no "unknown topic" rows
                url = f"{records_url(item.code)}?{query(scope, breakdown=breakdown, key=row.key)}"
                response = client.get(url)
                assert response.status_code == 200, url
                if item.is_share:
                    counted, count = response.context["counted"], records_count(response)
                    assert round(100 * counted / count, 1) == row.value, url
                else:
                    assert records_count(response) == row.value, url
                checked += 1
    assert checked > 10


def test_records_page_says_which_figure_it_shows(client_as, manager, world):
    district = world["region"]["district"]
    scope = world["scope"]
    url = f"{records_url('VISITS')}?{query(scope, breakdown='district', key=district.key)}"
    response = client_as(manager).get(url)
    page = response.content.decode()
    assert "Unternehmensbesuche" in page
    assert scope.period.label in page
    assert response.context["key_label"] == "Wolfenbüttel"
    assert records_count(response) == 1
    assert world["rural_visit"].get_absolute_url() in page
    assert world["confidential"].get_absolute_url() not in page


def test_confidential_visits_are_listed_without_link_or_summary(
    client_as, administration, manager, world
):
    url = f"{records_url('VISITS')}?{query(world['scope'])}"
    confidential = world["confidential"]
    page = client_as(administration).get(url).content.decode()
    assert records_count(client_as(administration).get(url)) == 2
    assert gettext("confidential") in page
    assert confidential.get_absolute_url() not in page
    assert world["rural_visit"].get_absolute_url() in page
    # Network managers may open it; nobody reads a summary or a person here.
    manager_page = client_as(manager).get(url).content.decode()
    assert confidential.get_absolute_url() in manager_page
    for text in (page, manager_page):
        assert "Vertrauliche Zusammenfassung" not in text
        assert "Geheime Pläne" not in text
        assert "Sina Scout" not in text


def test_follow_up_records_show_no_title(client_as, manager, world):
    response = client_as(manager).get(
        f"{records_url('FOLLOW_UPS_ON_TIME')}?{query(world['scope'])}"
    )
    assert records_count(response) == 1
    page = response.content.decode()
    assert "Rückruf Frau Schmidt" not in page
    assert world["rural"].get_absolute_url() in page


def test_request_records_link_to_the_request(client_as, administration, world):
    response = client_as(administration).get(
        f"{records_url('REQ_RECEIVED')}?{query(world['scope'])}"
    )
    assert records_count(response) == 1
    assert world["request"].get_absolute_url() in response.content.decode()


def test_share_lists_the_base_with_a_counted_column(client_as, manager, world):
    response = client_as(manager).get(f"{records_url('RURAL_SHARE')}?{query(world['scope'])}")
    assert records_count(response) == 2
    assert response.context["counted"] == 1
    assert response.context["headings"][-1] == gettext("Counted")
    assert sorted(row[-1].value for row in response.context["rows"]) == sorted(
        [gettext("yes"), gettext("no")]
    )


def test_records_are_paginated(client_as, manager, world, region):
    scout = world["rural_visit"].created_by
    for n in range(30):
        org = Organisation.objects.create(name=f"Firma {n:02}", municipality=region["rural"])
        submitted_visit(org, scout)
    client = client_as(manager)
    first = client.get(f"{records_url('VISITS')}?{query(world['scope'])}")
    assert records_count(first) == 32
    assert len(first.context["rows"]) == 25
    second = client.get(f"{records_url('VISITS')}?{query(world['scope'])}&page=2")
    assert len(second.context["rows"]) == 7


# --- Export ----------------------------------------------------------------------------


def csv_rows(response) -> list[list[str]]:
    raw = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(raw, newline=""), delimiter=";"))


def test_export_has_the_listed_rows_with_formulas_escaped(client_as, administration, world):
    client = client_as(administration)
    params = query(world["scope"])
    listed = client.get(f"{records_url('ORGS_VISITED')}?{params}")
    response = client.get(f"{export_url('ORGS_VISITED')}?{params}&format=csv")
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="orgs_visited-')
    rows = csv_rows(response)
    assert rows[0] == listed.context["headings"]
    assert len(rows) - 1 == records_count(listed) == 2
    names = {row[1] for row in rows[1:]}
    assert names == {"'" + FORMULA_NAME, world["rural"].name}

    xlsx = client.get(f"{export_url('ORGS_VISITED')}?{params}&format=xlsx")
    assert xlsx.status_code == 200
    sheet = load_workbook(io.BytesIO(b"".join(xlsx.streaming_content))).active
    values = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert values[0] == rows[0]
    assert {row[1] for row in values[1:]} == names
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)


def test_export_of_a_breakdown_and_bad_format(client_as, administration, world):
    client = client_as(administration)
    district = world["region"]["city_district"]
    params = query(world["scope"], breakdown="district", key=district.key)
    rows = csv_rows(client.get(f"{export_url('VISITS')}?{params}&format=csv"))
    assert len(rows) == 2
    assert rows[1][2] == "'" + FORMULA_NAME
    assert rows[1][-1] == gettext("yes")  # confidential, and said so
    assert client.get(f"{export_url('VISITS')}?{params}&format=pdf").status_code == 400


# --- Bad input -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ("period_kind=custom&start=2026-13-01&end=2026-12-31", "Enter a valid date."),
        ("period_kind=quarter&year=2026&number=3&districts=abc", "Choose districts from the list."),
        (
            "period_kind=custom&start=2001-01-01&end=2020-12-31",
            "Choose a period of at most five years.",
        ),
        ("period_kind=custom&start=2026-03-01&end=2026-01-01", "“To” lies before “From”."),
        (
            "period_kind=custom&start=1999-01-01&end=1999-03-31",
            "Choose a date from 1 January 2000 to 31 December 2100.",
        ),
        ("period_kind=half_year&year=2026&number=3", "A half-year is numbered 1 or 2."),
        ("period_kind=quarter&number=2", "Enter the year."),
        ("period_kind=quarter&year=1850&number=1", "Choose a year from 2000 to 2100."),
        ("period_kind=decade", None),
        ("period_kind=custom&start=%00&end=2026-01-01", "Enter a valid date."),
        # Beyond 64 bits: SQLite raised OverflowError (a 500) instead of finding nothing.
        (f"period_kind=year&year=2026&districts={'9' * 30}", "Choose districts from the list."),
        ("period_kind=year&year=2026&districts=-1", "Choose districts from the list."),
    ],
)
def test_bad_scope_gives_a_message(client_as, administration, world, params, message):
    client = client_as(administration)
    dashboard = client.get(f"{DASHBOARD}?{params}")
    assert dashboard.status_code == 200
    assert "rows" not in dashboard.context
    assert dashboard.context["form"].errors
    page = dashboard.content.decode()
    assert 'class="alert alert-danger"' in page
    if message:
        assert html.escape(gettext(message)) in page
    records = client.get(f"{records_url('VISITS')}?{params}")
    assert records.status_code == 400
    assert 'class="alert alert-danger"' in records.content.decode()
    assert client.get(f"{export_url('VISITS')}?{params}&format=csv").status_code == 400
    assert client.get(f"{part_url('VISITS')}?{params}").status_code == 400


def test_unknown_breakdown_gives_a_message(client_as, administration, world):
    client = client_as(administration)
    params = query(world["scope"], breakdown="outcome", key="won")  # VISITS has no outcome
    response = client.get(f"{records_url('VISITS')}?{params}")
    assert response.status_code == 400
    assert "VISITS" in response.content.decode()
    params = query(world["scope"], breakdown="district", key="x" * 500)
    assert client.get(f"{records_url('VISITS')}?{params}").status_code == 400


def test_a_valid_half_year_year_and_custom_period(client_as, administration, world):
    client = client_as(administration)
    year = this_quarter().start.year
    for params, period in [
        (f"period_kind=half_year&year={year}&number=2", Period.half_year(year, 2)),
        (f"period_kind=year&year={year}", Period.year(year)),
        (
            f"period_kind=custom&start={year}-02-03&end={year}-05-06",
            Period(datetime.date(year, 2, 3), datetime.date(year, 5, 6)),
        ),
    ]:
        response = client.get(f"{DASHBOARD}?{params}&part=table")
        assert response.context["period"] == period
        visits = {row.item.code: row for row in response.context["rows"]}["VISITS"]
        assert visits.value == str(queries.totals(Scope(period))["VISITS"])


# --- Query counts ----------------------------------------------------------------------


def _queries(client, url: str) -> int:
    cache.clear()
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured)


def _more_visits(region, scout, count: int) -> None:
    for n in range(count):
        area = region["rural"] if n % 2 else region["urban"]
        org = Organisation.objects.create(name=f"Firma {n}", municipality=area, employees=n)
        submitted_visit(org, scout)


def test_dashboard_queries_do_not_grow_with_data(client_as, manager, scout, world, region):
    client = client_as(manager)
    url = f"{DASHBOARD}?{query(world['scope'])}&part=table"
    small = _queries(client, url)
    _more_visits(region, scout, 20)
    assert _queries(client, url) == small
    part = f"{part_url('VISITS')}?{query(world['scope'])}"
    small_part = _queries(client, part)
    _more_visits(region, scout, 5)
    assert _queries(client, part) == small_part


@pytest.mark.parametrize(
    "code", ["VISITS", "ORGS_VISITED", "RURAL_SHARE", "REQ_RECEIVED", "FOLLOW_UPS_ON_TIME"]
)
def test_records_queries_do_not_grow_with_rows(
    client_as, administration, scout, manager, region, code
):
    install_default_stages(django_apps)
    client = client_as(administration)
    url = f"{records_url(code)}?{query(Scope(this_quarter()))}"

    def make(count: int) -> None:
        for n in range(count):
            area = region["rural"] if n % 2 else region["urban"]
            org = Organisation.objects.create(name=f"Firma {n}", municipality=area, employees=n)
            submitted_visit(org, scout, is_confidential=n % 3 == 0)
            create_request(
                organisation=org, by=scout, title=f"Anfrage {n}", kind="joint_rd", source="phone"
            )
            follow_up = propose_follow_up(
                by=manager, title="x", organisation=org, due_date=timezone.localdate()
            )
            complete_follow_up(follow_up, note="", by=manager)

    make(5)
    five = _queries(client, url)
    make(25)
    thirty = _queries(client, url)
    assert thirty == five
    export = f"{export_url(code)}?{query(Scope(this_quarter()))}&format=csv"
    with CaptureQueriesContext(connection) as captured:
        rows = csv_rows(client.get(export))
    assert len(rows) == 31
    assert len(captured) < 20


def test_navigation_shows_the_dashboard_to_those_who_may_open_it(
    client_as, scout, manager, administration, funder
):
    for user, shown in ((scout, False), (manager, True), (administration, True), (funder, False)):
        page = client_as(user).get(reverse("crm:home")).content.decode()
        assert (f'href="{DASHBOARD}"' in page) is shown, user.username
