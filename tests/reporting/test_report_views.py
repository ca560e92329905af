"""Report pages and API: who sees and does what; a published report is read-only
through the pages, the API and the admin."""

from __future__ import annotations

import datetime
import uuid
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext

from crm.models import Organisation
from reporting import services
from reporting.models import Report
from reporting.periods import Period
from scouting.models import Visit
from scouting.services import record_visit, submit_visit
from tests.conftest import client_for

BERLIN = ZoneInfo("Europe/Berlin")
Q3 = Period.quarter(2026, 3)
Q3_FORM = {"period_kind": "quarter", "year": "2026", "number": "3"}


@pytest.fixture
def data(region, scout):
    org = Organisation.objects.create(
        name="Müller Maschinenbau GmbH", kind="sme", employees=42, municipality=region["rural"]
    )
    visit, _ = record_visit(uuid=uuid.uuid4(), organisation=org, by=scout)
    submit_visit(visit, by=scout)
    Visit.objects.filter(pk=visit.pk).update(
        visited_at=datetime.datetime(2026, 8, 3, 10, tzinfo=BERLIN)
    )
    return org


@pytest.fixture
def draft(data, administration):
    report = services.create_report(period=Q3, by=administration)
    return services.compute_report(report.pk)


@pytest.fixture
def published(data, administration):
    report = services.create_report(period=Q3, by=administration)
    services.compute_report(report.pk)
    return services.publish_report(report.pk, by=administration)


# --- Pages -------------------------------------------------------------------------------


def test_administration_generates_a_report_from_the_list(
    data, administration, django_capture_on_commit_callbacks
):
    client = client_for(administration)
    page = client.get(reverse("reporting:report_list"))
    assert page.status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("reporting:report_create"), Q3_FORM)
    report = Report.objects.get()
    assert response.status_code == 302 and response["Location"] == report.get_absolute_url()
    assert report.is_computed()  # eager in tests: computed right away
    detail = client.get(report.get_absolute_url())
    assert detail.status_code == 200
    content = detail.content.decode()
    assert "RCO01" in content
    assert reverse("reporting:records", args=["RCO01"]) in content  # drill-down links


def test_bad_period_is_refused_with_a_message(data, administration):
    client = client_for(administration)
    response = client.post(
        reverse("reporting:report_create"),
        {"period_kind": "custom", "start": "2026-09-30", "end": "2026-01-01"},
    )
    assert response.status_code == 400
    assert not Report.objects.exists()


@pytest.mark.parametrize(
    "form",
    [
        {},  # a POST without a period made the default quarter's report
        {"period_kind": ""},
        {**Q3_FORM, "districts": "9" * 30},  # an id beyond 64 bits was a 500 on SQLite
        {**Q3_FORM, "districts": "1\x00"},
    ],
)
def test_create_refuses_a_missing_or_impossible_scope(data, administration, form):
    response = client_for(administration).post(reverse("reporting:report_create"), form)
    assert response.status_code == 400
    assert not Report.objects.exists()


def test_create_refuses_a_period_that_has_not_begun(data, administration):
    next_year = str(timezone.localdate().year + 1)
    response = client_for(administration).post(
        reverse("reporting:report_create"),
        {"period_kind": "year", "year": next_year},
        follow=True,
    )
    assert not Report.objects.exists()
    message = gettext("This period has not begun yet: there is nothing to report.")
    assert message in response.content.decode()


@pytest.mark.parametrize("persona", ["manager", "scout", "funder", "outsider"])
def test_only_administration_generates(data, persona, request):
    user = request.getfixturevalue(persona)
    response = client_for(user).post(reverse("reporting:report_create"), Q3_FORM)
    assert response.status_code == 403
    assert not Report.objects.exists()


def test_narrative_and_publish_through_the_pages(
    draft, administration, django_capture_on_commit_callbacks
):
    client = client_for(administration)
    client.post(
        reverse("reporting:report_narrative", args=[draft.pk]),
        {
            "narrative_progress": "Gut",
            "narrative_problems": "Wenig",
            "narrative_outlook": "Mehr",
        },
    )
    draft.refresh_from_db()
    assert draft.narrative_problems == "Wenig"
    # Without the confirmation nothing happens.
    client.post(reverse("reporting:report_publish", args=[draft.pk]))
    draft.refresh_from_db()
    assert not draft.is_published()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("reporting:report_publish", args=[draft.pk]), {"confirm": "yes"})
    draft.refresh_from_db()
    assert draft.is_published() and draft.files.count() == 2
    page = client.get(draft.get_absolute_url()).content.decode()
    for stored in draft.files.all():
        assert stored.sha256 in page
    assert 'name="narrative_progress"' not in page  # no form any more


def test_narrative_texts_left_out_of_the_request_stay(draft, administration):
    services.update_narrative(
        draft, progress="Gut", problems="Wenig", outlook="Mehr", by=administration
    )
    client_for(administration).post(
        reverse("reporting:report_narrative", args=[draft.pk]), {"narrative_outlook": "Neu"}
    )
    draft.refresh_from_db()
    assert (draft.narrative_progress, draft.narrative_problems) == ("Gut", "Wenig")
    assert draft.narrative_outlook == "Neu"


def test_a_running_period_is_marked_provisional(data, administration):
    quarter = Period.containing_quarter(timezone.localdate())
    report = services.compute_report(services.create_report(period=quarter, by=administration).pk)
    page = client_for(administration).get(report.get_absolute_url()).content.decode()
    assert 'id="publish-unfinished"' in page  # said where publishing is offered
    finished = client_for(administration).get(
        services.compute_report(
            services.create_report(period=Q3, by=administration).pk
        ).get_absolute_url()
    )
    assert 'id="publish-unfinished"' not in finished.content.decode()


def test_progress_bar_needs_no_inline_style(draft, administration):
    """The content security policy forbids style attributes; a bar sized by one stays
    empty."""
    Report.objects.filter(pk=draft.pk).update(generation=Report.Generation.RUNNING)
    response = client_for(administration).get(reverse("reporting:report_progress", args=[draft.pk]))
    page = response.content.decode()
    assert "<progress" in page and "style=" not in page


def test_published_report_cannot_be_changed_through_the_pages(published, administration):
    client = client_for(administration)
    client.post(
        reverse("reporting:report_narrative", args=[published.pk]),
        {"narrative_progress": "anders"},
    )
    client.post(reverse("reporting:report_compute", args=[published.pk]))
    client.post(reverse("reporting:report_publish", args=[published.pk]), {"confirm": "yes"})
    published.refresh_from_db()
    assert published.narrative_progress == ""
    assert published.files.count() == 2 and published.version == 1


def test_regenerating_a_published_report_makes_a_new_version(
    published, administration, django_capture_on_commit_callbacks
):
    client = client_for(administration)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("reporting:report_regenerate", args=[published.pk]))
    new = Report.objects.exclude(pk=published.pk).get()
    assert response["Location"] == new.get_absolute_url()
    assert new.version == 2 and new.is_computed()
    page = client.get(new.get_absolute_url()).content.decode()
    assert reverse("reporting:report_compare", args=[new.pk]) in page
    comparison = client.get(reverse("reporting:report_compare", args=[new.pk]))
    assert comparison.status_code == 200
    assert "gleich" in comparison.content.decode() or "same" in comparison.content.decode()


def test_only_the_comparison_reads_the_evidence(
    published, administration, django_capture_on_commit_callbacks
):
    """A year's evidence holds millions of ids at state scale: the report page, its
    progress part and saving the narrative neither read nor write it."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = client_for(administration)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("reporting:report_regenerate", args=[published.pk]))
    new = Report.objects.exclude(pk=published.pk).get()

    def evidence_read_or_written(do) -> bool:
        with CaptureQueriesContext(connection) as queries:
            do()
        return any('"evidence"' in query["sql"] for query in queries.captured_queries)

    assert not evidence_read_or_written(lambda: client.get(new.get_absolute_url()))
    assert not evidence_read_or_written(
        lambda: client.get(reverse("reporting:report_progress", args=[new.pk]))
    )
    assert not evidence_read_or_written(
        lambda: services.update_narrative(
            new, progress="Gut", problems="", outlook="", by=administration
        )
    )
    assert Report.objects.get(pk=new.pk).evidence == published.evidence  # kept as it was
    assert evidence_read_or_written(
        lambda: client.get(reverse("reporting:report_compare", args=[new.pk]))
    )


def test_comparison_shows_percentages_as_such(
    published, region, scout, administration, django_capture_on_commit_callbacks
):
    urban = Organisation.objects.create(
        name="Stadtwerk GmbH", kind="sme", employees=9, municipality=region["urban"]
    )
    visit, _ = record_visit(uuid=uuid.uuid4(), organisation=urban, by=scout)
    submit_visit(visit, by=scout)
    Visit.objects.filter(pk=visit.pk).update(
        visited_at=datetime.datetime(2026, 8, 4, 10, tzinfo=BERLIN)
    )
    client = client_for(administration)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("reporting:report_regenerate", args=[published.pk]))
    new = Report.objects.exclude(pk=published.pk).get()
    comparison = client.get(reverse("reporting:report_compare", args=[new.pk]))
    page = comparison.content.decode()
    assert "100,0 % → 50,0 %" in page
    # No visit counts in the share's numerator now that did not then: its base changed,
    # and the visit behind that is listed under VISITS.
    share = page[page.index("<code>RURAL_SHARE</code>") :]
    assert "Auch seine Basis hat sich geändert" in share and "<code>VISITS</code>" in share
    visits = page[page.index("<code>VISITS</code>") : page.index("<code>RURAL_SHARE</code>")]
    assert "Stadtwerk GmbH" in visits


def test_downloads(published, draft_of_q2, administration, funder, manager):
    pdf = reverse("reporting:report_download", args=[published.pk, "pdf"])
    response = client_for(funder).get(pdf)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["X-Content-SHA256"] == published.files.get(kind="pdf").sha256
    # A draft's preview is rendered now, for staff only; funders never see drafts.
    preview = reverse("reporting:report_download", args=[draft_of_q2.pk, "xlsx"])
    assert client_for(manager).get(preview).status_code == 200
    assert client_for(funder).get(preview).status_code == 404
    unknown = reverse("reporting:report_download", args=[published.pk, "docx"])
    assert client_for(administration).get(unknown).status_code == 404


@pytest.fixture
def draft_of_q2(data, administration):
    report = services.create_report(period=Period.quarter(2026, 2), by=administration)
    return services.compute_report(report.pk)


def test_funder_sees_published_reports_only_and_no_people(
    published, draft_of_q2, funder, administration
):
    client = client_for(funder)
    listing = client.get(reverse("reporting:report_list")).content.decode()
    assert published.title in listing and draft_of_q2.title not in listing
    assert client.get(draft_of_q2.get_absolute_url()).status_code == 404
    page = client.get(published.get_absolute_url()).content.decode()
    assert administration.last_name not in page  # publisher not named
    assert reverse("reporting:records", args=["RCO01"]) not in page  # no drill-down
    assert "Müller Maschinenbau" not in page


@pytest.mark.parametrize("persona", ["scout", "outsider"])
def test_others_see_no_reports(published, persona, request):
    client = client_for(request.getfixturevalue(persona))
    assert client.get(reverse("reporting:report_list")).status_code == 403
    assert client.get(published.get_absolute_url()).status_code == 403


def test_progress_partial_refreshes_when_done(draft, administration):
    response = client_for(administration).get(
        reverse("reporting:report_progress", args=[draft.pk]), HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200 and response["HX-Refresh"] == "true"


# --- Admin -------------------------------------------------------------------------------


def test_admin_shows_a_published_report_read_only(published, draft, administration):
    administration.is_staff = True
    administration.save()
    admin_client = client_for(administration)
    url = reverse("admin:reporting_report_change", args=[published.pk])
    page = admin_client.get(url)
    assert page.status_code == 200
    assert 'name="narrative_progress"' not in page.content.decode()
    response = admin_client.post(url, {"narrative_progress": "anders"})
    assert response.status_code == 403
    delete = admin_client.post(
        reverse("admin:reporting_report_delete", args=[published.pk]), {"post": "yes"}
    )
    assert delete.status_code == 403
    published.refresh_from_db()
    assert published.narrative_progress == ""


def test_admin_history_cannot_revert_a_report(published, draft, administration):
    """Reverting failed with a 500 on a published report and, on a draft, brought back
    an old computation time and hash beside the current figures."""
    administration.is_staff = True
    administration.save()
    admin_client = client_for(administration)
    for report in (published, draft):
        first = report.history.order_by("history_id").first()
        url = reverse("admin:reporting_report_simple_history", args=[report.pk, first.history_id])
        page = admin_client.get(url)
        assert page.status_code == 200
        assert 'name="_save"' not in page.content.decode()
        response = admin_client.post(
            url, {"narrative_progress": "alt", "narrative_problems": "", "narrative_outlook": ""}
        )
        assert response.status_code == 403
    published.refresh_from_db()
    draft.refresh_from_db()
    assert draft.generated_at is not None and draft.narrative_progress == ""
    assert published.is_published()


def test_admin_keeps_the_narrative_limit(draft, administration):
    administration.is_staff = True
    administration.save()
    url = reverse("admin:reporting_report_change", args=[draft.pk])
    response = client_for(administration).post(
        url,
        {"narrative_progress": "x" * 20_001, "narrative_problems": "", "narrative_outlook": ""},
    )
    assert response.status_code == 200  # the form again, with the error
    draft.refresh_from_db()
    assert draft.narrative_progress == ""


# --- API ---------------------------------------------------------------------------------


def test_api_lists_reports_per_role(published, draft_of_q2, funder, manager, scout):
    url = reverse("api:report-list")
    funder_ids = [r["id"] for r in client_for(funder).get(url).json()["results"]]
    assert funder_ids == [published.pk]
    manager_ids = {r["id"] for r in client_for(manager).get(url).json()["results"]}
    assert manager_ids == {published.pk, draft_of_q2.pk}
    assert client_for(scout).get(url).status_code == 403
    detail = client_for(funder).get(reverse("api:report-detail", args=[published.pk])).json()
    assert {f["kind"] for f in detail["files"]} == {"pdf", "xlsx"}
    assert detail["figures"][0]["code"] == "RCO01"
    file_url = reverse("api:report-files", kwargs={"pk": published.pk, "kind": "xlsx"})
    download = client_for(funder).get(file_url)
    assert download.status_code == 200
    assert download["X-Content-SHA256"] == published.files.get(kind="xlsx").sha256


def test_api_changes_a_drafts_narrative_but_never_a_published_report(
    published, draft_of_q2, administration, manager
):
    client = client_for(administration)
    url = reverse("api:report-detail", args=[draft_of_q2.pk])
    response = client.patch(url, {"narrative_outlook": "Mehr"}, content_type="application/json")
    assert response.status_code == 200, response.content
    assert response.json()["narrative_outlook"] == "Mehr"
    refused = client.patch(url, {"version": 7}, content_type="application/json")
    assert refused.status_code == 400
    frozen = client.patch(
        reverse("api:report-detail", args=[published.pk]),
        {"narrative_outlook": "anders"},
        content_type="application/json",
    )
    assert frozen.status_code == 409
    assert (
        client_for(manager)
        .patch(url, {"narrative_outlook": "x"}, content_type="application/json")
        .status_code
        == 403
    )
    assert client.put(url, {}, content_type="application/json").status_code == 405
    assert client.delete(url).status_code == 405
    published.refresh_from_db()
    assert published.narrative_outlook == ""


def test_start_page_lists_published_reports_for_readers(published, draft_of_q2, funder, scout):
    home = client_for(funder).get(reverse("crm:home")).content.decode()
    assert published.title in home and draft_of_q2.title not in home
    assert reverse("reporting:report_download", args=[published.pk, "pdf"]) in home
    assert reverse("reporting:report_list") in home
    assert published.title not in client_for(scout).get(reverse("crm:home")).content.decode()
