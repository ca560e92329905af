from __future__ import annotations

import datetime
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from crm.models import ConsentRecord, Organisation, Person
from scouting.models import FollowUp, InterviewGuide, Visit
from scouting.services import record_visit, submit_visit

pytestmark = pytest.mark.django_db


def make_visit(organisation, by, **fields):
    fields.setdefault("uuid", uuid.uuid4())
    return record_visit(organisation=organisation, by=by, **fields)[0]


def form_data(organisation=None, **extra):
    data = {
        "uuid": str(uuid.uuid4()),
        "version": "",
        "organisation": organisation.pk if organisation else "",
        "visited_at": "2026-11-20T10:30",
        "format": "on_site",
        "purpose": "first_contact",
        "summary": "Gespräch mit der Geschäftsführung über Fachkräfte.",
    }
    data.update(extra)
    return data


# --- list ----------------------------------------------------------------------------


def test_list_shows_visible_visits_and_hides_confidential_ones(
    client_as, organisation, scout, scout2, administration
):
    make_visit(organisation, scout, summary="offen")
    make_visit(organisation, scout, summary="geheim", is_confidential=True)
    url = reverse("scouting:visit_list")
    assert client_as(scout).get(url).context["page"].paginator.count == 2
    assert client_as(scout2).get(url).context["page"].paginator.count == 1
    assert client_as(administration).get(url).context["page"].paginator.count == 1


def test_list_is_closed_to_funders_and_outsiders(client_as, funder, outsider, client):
    url = reverse("scouting:visit_list")
    assert client_as(funder).get(url).status_code == 403
    assert client_as(outsider).get(url).status_code == 403
    assert client.get(url).status_code == 302


def test_list_filters(client_as, organisation, region, scout, scout2, manager, topics):
    city_org = Organisation.objects.create(
        name="Stadtwerk", kind=Organisation.Kind.SME, municipality=region["urban"]
    )
    skilled = make_visit(organisation, scout, needs=["skilled_workers"], topics=[topics["ai"]])
    funding = make_visit(city_org, scout2, needs=["funding"])
    submit_visit(funding, by=scout2)
    client = client_as(manager)

    def found(**params):
        response = client.get(reverse("scouting:visit_list"), params)
        assert response.status_code == 200
        return {v.pk for v in response.context["page"].object_list}

    assert found(need="skilled_workers") == {skilled.pk}
    assert found(need="funding") == {funding.pk}
    assert found(scout=scout2.pk) == {funding.pk}
    assert found(district=region["district"].pk) == {skilled.pk}
    assert found(area_type="urban") == {funding.pk}
    assert found(status="submitted") == {funding.pk}
    # A parent topic finds visits tagged with its sub-topics.
    assert found(topic=topics["digital"].pk) == {skilled.pk}
    assert found(visited_from="2000-01-01", visited_to="2000-01-31") == set()
    assert found(organisation=city_org.pk) == {funding.pk}


def test_list_with_invalid_filter_says_so(client_as, manager):
    response = client_as(manager).get(reverse("scouting:visit_list"), {"need": "nonsense"})
    assert response.status_code == 200
    assert response.context["filter"].errors


def test_list_query_count_is_constant(client_as, organisation, scout, scout2, topics):
    client = client_as(scout)
    url = reverse("scouting:visit_list")

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url).status_code == 200
        return len(ctx)

    for _ in range(3):
        make_visit(organisation, scout, scouts=[scout, scout2], topics=[topics["ai"]])
    few = queries()
    for _ in range(20):
        make_visit(organisation, scout, scouts=[scout, scout2], topics=[topics["ai"]])
    assert queries() == few


def test_export_csv_leaves_out_confidential_summaries(client_as, organisation, manager, scout):
    make_visit(organisation, scout, summary="=HYPERLINK(1)", needs=["funding"])
    make_visit(organisation, scout, summary="Betriebsgeheimnis", is_confidential=True)
    response = client_as(manager).get(reverse("scouting:visit_export"), {"format": "csv"})
    assert response.status_code == 200
    body = b"".join(response.streaming_content).decode()
    assert "Müller Maschinenbau GmbH" in body
    assert "'=HYPERLINK(1)" in body  # formula escaped
    assert "Betriebsgeheimnis" not in body
    assert "Förderung" in body or "Funding" in body


def test_export_xlsx_and_access(client_as, organisation, manager, scout):
    make_visit(organisation, scout)
    response = client_as(manager).get(reverse("scouting:visit_export"), {"format": "xlsx"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    assert client_as(scout).get(reverse("scouting:visit_export")).status_code == 403
    bad = client_as(manager).get(reverse("scouting:visit_export"), {"format": "pdf"})
    assert bad.status_code == 400


# --- create --------------------------------------------------------------------------


def test_new_visit_form_renders_with_guide(client_as, scout):
    response = client_as(scout).get(reverse("scouting:visit_create"))
    assert response.status_code == 200
    assert response.context["guide"] == InterviewGuide.objects.current()
    assert "answer_skilled_worker_shortage" in response.context["form"].fields or any(
        name.startswith("answer_") for name in response.context["form"].fields
    )


def test_scout_submits_a_visit_with_a_new_person_and_a_rule_follow_up(
    client_as, organisation, person, scout, topics
):
    guide = InterviewGuide.objects.current()
    rule_question = guide.questions().filter(rules__isnull=False).first()
    rule = rule_question.rules.first()
    value = rule.when_value
    answer = ("yes" if value else "no") if isinstance(value, bool) else value
    data = form_data(
        organisation,
        people_met=[person.pk],
        topics=[topics["digital"].pk],
        needs=["skilled_workers", "funding"],
        new_person_first_name="Jens",
        new_person_last_name="Jansen",
        new_person_email="j.jansen@mueller-maschinenbau.de",
        new_person_function="Werkleiter",
        new_person_lawful_basis="consent",
        follow_up_title="Förderberatung anbieten",
        submit="1",
        **{f"answer_{rule_question.key}": answer},
    )
    response = client_as(scout).post(reverse("scouting:visit_create"), data)
    visit = Visit.objects.get(uuid=data["uuid"])
    assert response.status_code == 302 and response["Location"] == visit.get_absolute_url()
    assert visit.status == Visit.Status.SUBMITTED
    assert visit.needs == ["skilled_workers", "funding"]
    new_person = Person.objects.get(last_name="Jansen")
    assert set(visit.people_met.all()) == {person, new_person}
    assert new_person.affiliations.get().organisation == organisation
    consent = ConsentRecord.objects.get(person=new_person)
    assert consent.lawful_basis == "consent" and consent.recorded_by == scout
    titles = set(visit.follow_ups.values_list("title", flat=True))
    assert {"Förderberatung anbieten", rule.follow_up_title} <= titles
    assert visit.follow_ups.get(rule=rule).due_date is not None
    assert list(visit.scouts.all()) == [scout]


def test_posting_the_same_new_visit_twice_stores_it_once(client_as, organisation, scout):
    data = form_data(organisation, submit="1")
    client = client_as(scout)
    client.post(reverse("scouting:visit_create"), data)
    again = client.post(reverse("scouting:visit_create"), data, follow=True)
    assert Visit.objects.filter(uuid=data["uuid"]).count() == 1
    assert "inzwischen" in again.content.decode() or "meantime" in again.content.decode()


def test_new_organisation_is_created_with_the_visit_after_duplicate_check(
    client_as, organisation, region, scout
):
    client = client_as(scout)
    data = form_data(
        None,
        new_organisation_name="Mueller Maschinenbau GmbH",
        new_organisation_municipality=region["rural"].pk,
    )
    warned = client.post(reverse("scouting:visit_create"), data)
    assert warned.status_code == 200
    assert warned.context["duplicates"]
    assert not Visit.objects.exists()
    data["confirm_not_duplicate"] = "on"
    saved = client.post(reverse("scouting:visit_create"), data)
    assert saved.status_code == 302
    visit = Visit.objects.get()
    assert visit.organisation.name == "Mueller Maschinenbau GmbH"
    assert visit.organisation.history.first().history_user == scout


def test_invalid_visit_changes_nothing_and_says_why(client_as, organisation, scout):
    client = client_as(scout)
    no_org = client.post(reverse("scouting:visit_create"), form_data(None))
    assert no_org.status_code == 200
    assert no_org.context["form"].errors["organisation"]
    person_without_basis = client.post(
        reverse("scouting:visit_create"),
        form_data(organisation, new_person_last_name="Ohnegrund"),
    )
    assert person_without_basis.context["form"].errors["new_person_lawful_basis"]
    bad_need = client.post(reverse("scouting:visit_create"), form_data(organisation, needs=["x"]))
    assert bad_need.context["form"].errors["needs"]
    assert not Visit.objects.exists() and not Person.objects.filter(last_name="Ohnegrund").exists()


def test_people_of_another_organisation_cannot_be_picked(client_as, organisation, region, scout):
    other = Organisation.objects.create(name="Andere AG", municipality=region["urban"])
    stranger = Person.objects.create(first_name="Fremd", last_name="Person")
    stranger.affiliations.create(organisation=other)
    response = client_as(scout).post(
        reverse("scouting:visit_create"), form_data(organisation, people_met=[stranger.pk])
    )
    assert response.status_code == 200
    assert response.context["form"].errors["people_met"]
    assert not Visit.objects.exists()


def test_funder_and_administration_cannot_log_visits(client_as, funder, administration):
    assert client_as(funder).get(reverse("scouting:visit_create")).status_code == 403
    assert client_as(administration).get(reverse("scouting:visit_create")).status_code == 403


def test_people_picker_lists_the_organisations_people(client_as, organisation, person, scout):
    response = client_as(scout).get(
        reverse("scouting:visit_people"), {"organisation": organisation.pk}
    )
    assert response.status_code == 200
    assert "Schmidt" in response.content.decode()


# --- autosave ------------------------------------------------------------------------


def test_autosave_creates_then_updates_the_draft(client_as, organisation, scout):
    client = client_as(scout)
    data = form_data(organisation, summary="erster Stand")
    first = client.post(reverse("scouting:visit_autosave"), data)
    assert first.status_code == 200
    visit = Visit.objects.get(uuid=data["uuid"])
    assert visit.is_draft() and visit.summary == "erster Stand"
    assert f'value="{visit.version}"' in first.content.decode()
    data.update(version=str(visit.version), summary="zweiter Stand")
    client.post(reverse("scouting:visit_autosave"), data)
    visit.refresh_from_db()
    assert visit.summary == "zweiter Stand" and visit.version == 2
    # A stale autosave (another tab saved meanwhile) is refused; nothing changes.
    data.update(version="1", summary="veraltet")
    stale = client.post(reverse("scouting:visit_autosave"), data)
    visit.refresh_from_db()
    assert visit.summary == "zweiter Stand" and visit.version == 2
    assert "Seite neu" in stale.content.decode()


def test_stale_autosave_of_a_co_scout_is_refused(client_as, organisation, scout, scout2):
    visit = make_visit(organisation, scout, scouts=[scout, scout2], summary="von Sina")
    data = form_data(organisation, uuid=str(visit.uuid), version="1", summary="von Samuel")
    client_as(scout).post(
        reverse("scouting:visit_autosave"), {**data, "summary": "neuer", "co_scouts": [scout2.pk]}
    )
    stale = client_as(scout2).post(
        reverse("scouting:visit_autosave"), {**data, "co_scouts": [scout.pk]}
    )
    visit.refresh_from_db()
    assert visit.summary == "neuer"
    assert "Seite neu" in stale.content.decode()


def test_autosave_without_organisation_stores_nothing(client_as, scout):
    response = client_as(scout).post(reverse("scouting:visit_autosave"), form_data(None))
    assert response.status_code == 200
    assert not Visit.objects.exists()


def test_autosave_does_not_touch_submitted_visits(client_as, organisation, scout):
    visit = make_visit(organisation, scout, summary="fertig")
    submit_visit(visit, by=scout)
    data = form_data(organisation, uuid=str(visit.uuid), version="2", summary="anders")
    client_as(scout).post(reverse("scouting:visit_autosave"), data)
    visit.refresh_from_db()
    assert visit.summary == "fertig"


# --- detail, edit, submit, history ---------------------------------------------------


def test_detail_access(client_as, organisation, scout, scout2, manager, administration, funder):
    secret = make_visit(organisation, scout, is_confidential=True)
    url = secret.get_absolute_url()
    assert client_as(scout).get(url).status_code == 200
    assert client_as(manager).get(url).status_code == 200
    assert client_as(scout2).get(url).status_code == 404
    assert client_as(administration).get(url).status_code == 404
    assert client_as(funder).get(url).status_code == 404
    assert (
        client_as(scout).get(reverse("scouting:visit_detail", args=[uuid.uuid4()])).status_code
        == 404
    )


def test_editing_a_submitted_visit_is_recorded_in_history(client_as, organisation, scout):
    visit = make_visit(organisation, scout, summary="vorher")
    submit_visit(visit, by=scout)
    visit.refresh_from_db()
    client = client_as(scout)
    edit_url = reverse("scouting:visit_edit", args=[visit.uuid])
    page = client.get(edit_url)
    assert page.status_code == 200
    data = form_data(
        organisation, uuid=str(visit.uuid), version=str(visit.version), summary="nachher"
    )
    response = client.post(edit_url, data)
    assert response.status_code == 302
    visit.refresh_from_db()
    assert visit.summary == "nachher" and visit.status == Visit.Status.SUBMITTED
    latest = visit.history.first()
    assert latest.history_user == scout and latest.history_change_reason
    history = client.get(reverse("scouting:visit_history", args=[visit.uuid]))
    assert "nachher" in history.content.decode()


def test_other_scout_and_administration_cannot_edit(
    client_as, organisation, scout, scout2, administration
):
    visit = make_visit(organisation, scout)
    edit_url = reverse("scouting:visit_edit", args=[visit.uuid])
    assert client_as(scout2).get(edit_url).status_code == 403
    assert client_as(administration).get(edit_url).status_code == 403
    submit_url = reverse("scouting:visit_submit", args=[visit.uuid])
    assert client_as(scout2).post(submit_url).status_code == 403


def test_manager_edits_without_becoming_a_scout(client_as, organisation, scout, manager):
    visit = make_visit(organisation, scout)
    data = form_data(
        organisation,
        uuid=str(visit.uuid),
        version=str(visit.version),
        co_scouts=[scout.pk],
        summary="ergänzt",
    )
    response = client_as(manager).post(reverse("scouting:visit_edit", args=[visit.uuid]), data)
    assert response.status_code == 302
    assert list(visit.scouts.all()) == [scout]


def test_stale_edit_keeps_the_users_input(client_as, organisation, scout):
    visit = make_visit(organisation, scout, summary="alt")
    submit_visit(visit, by=scout)
    data = form_data(organisation, uuid=str(visit.uuid), version="7", summary="meins")
    response = client_as(scout).post(reverse("scouting:visit_edit", args=[visit.uuid]), data)
    assert response.status_code == 200
    assert "meins" in response.content.decode()
    visit.refresh_from_db()
    assert visit.summary == "alt"


def test_submit_button_on_detail(client_as, organisation, scout):
    visit = make_visit(organisation, scout)
    client = client_as(scout)
    response = client.post(reverse("scouting:visit_submit", args=[visit.uuid]))
    assert response.status_code == 302
    visit.refresh_from_db()
    assert visit.status == Visit.Status.SUBMITTED
    again = client.post(reverse("scouting:visit_submit", args=[visit.uuid]), follow=True)
    assert "bereits" in again.content.decode() or "already" in again.content.decode()


def test_propose_follow_up_from_visit(client_as, organisation, scout, funder):
    visit = make_visit(organisation, scout)
    url = reverse("scouting:visit_follow_up_add", args=[visit.uuid])
    response = client_as(scout).post(url, {"title": "Angebot schicken", "priority": "high"})
    assert response.status_code == 302
    follow_up = FollowUp.objects.get()
    assert follow_up.visit == visit and follow_up.organisation == organisation
    assert follow_up.assignee is None and follow_up.created_by == scout
    assert client_as(scout).post(url, {"title": ""}).status_code == 302
    assert FollowUp.objects.count() == 1
    assert client_as(funder).post(url, {"title": "x"}).status_code == 404


def test_visits_appear_on_organisation_and_person_timelines(
    client_as, organisation, person, scout, scout2
):
    make_visit(organisation, scout, people_met=[person], summary="Besuch mit Anna")
    make_visit(organisation, scout, summary="Vertraulicher Besuch", is_confidential=True)
    org_page = client_as(scout).get(organisation.get_absolute_url()).content.decode()
    assert "Besuch mit Anna" in org_page and "Vertraulicher Besuch" in org_page
    other = client_as(scout2).get(organisation.get_absolute_url()).content.decode()
    assert "Besuch mit Anna" in other and "Vertraulicher Besuch" not in other
    person_page = client_as(scout2).get(person.get_absolute_url()).content.decode()
    assert "Besuch mit Anna" in person_page


def test_log_a_visit_from_the_organisation_page(client_as, organisation, person, scout):
    page = client_as(scout).get(organisation.get_absolute_url()).content.decode()
    url = f"{reverse('scouting:visit_create')}?organisation={organisation.pk}"
    assert url in page
    form = client_as(scout).get(url)
    assert form.context["organisation"] == organisation
    assert "Anna Schmidt" in form.content.decode()


# --- Found in review: editing, sending twice, two tabs, dates --------------------------


def edit_data(client, visit):
    """What the browser sends from the edit page, as rendered."""
    form = client.get(reverse("scouting:visit_edit", args=[visit.uuid])).context["form"]
    data = {}
    for name in form.fields:
        value = form[name].value()
        if value in (None, ""):
            continue
        if isinstance(value, list):
            data[name] = [str(v) for v in value]
        elif isinstance(value, bool):
            if value:
                data[name] = "on"
        else:
            data[name] = form[name].field.widget.format_value(value) or value
    return {k: v for k, v in data.items() if not k.startswith("new_organisation")}


def test_edit_form_saves_as_rendered(client_as, organisation, person, scout, manager):
    visit = make_visit(organisation, scout, people_met=[person], needs=["funding"])
    submit_visit(visit, by=scout)
    for user in (scout, manager):
        client = client_as(user)
        data = edit_data(client, Visit.objects.get(pk=visit.pk))
        data["summary"] = f"geändert von {user.username}"
        response = client.post(reverse("scouting:visit_edit", args=[visit.uuid]), data)
        assert response.status_code == 302, response.context["form"].errors
        visit.refresh_from_db()
        assert visit.summary == f"geändert von {user.username}"
    assert set(visit.people_met.all()) == {person}


def test_sending_a_new_visit_twice_creates_nothing_twice(client_as, region, scout):
    client = client_as(scout)
    data = form_data(
        None,
        new_organisation_name="Allertal Mühlenwerke",
        new_organisation_municipality=region["rural"].pk,
        new_person_first_name="Rita",
        new_person_last_name="Resubmit",
        new_person_lawful_basis="consent",
        follow_up_title="Angebot schicken",
        confirm_not_duplicate="on",
    )
    assert client.post(reverse("scouting:visit_create"), data).status_code == 302
    again = client.post(reverse("scouting:visit_create"), {**data, "submit": "1"})
    assert again.status_code == 200
    assert Organisation.objects.filter(name="Allertal Mühlenwerke").count() == 1
    assert Person.objects.filter(last_name="Resubmit").count() == 1
    assert FollowUp.objects.count() == 1 and Visit.objects.count() == 1
    # The form now points at what was stored; saving it again submits that visit.
    form = again.context["form"]
    visit = Visit.objects.get()
    assert form["organisation"].value() == str(visit.organisation_id)
    assert not form["new_organisation_name"].value()
    assert not form["new_person_last_name"].value()
    assert not form["follow_up_title"].value()
    resent = {k: v for k, v in form.data.lists()}
    assert client.post(reverse("scouting:visit_create"), resent).status_code == 302
    visit.refresh_from_db()
    assert visit.status == Visit.Status.SUBMITTED
    assert Person.objects.filter(last_name="Resubmit").count() == 1
    assert FollowUp.objects.filter(title="Angebot schicken").count() == 1


def test_second_tab_cannot_overwrite_the_first(client_as, organisation, scout):
    visit = make_visit(organisation, scout, summary="Stand 1")
    tab_a = client_as(scout)
    tab_b = client_as(scout)
    data_a = edit_data(tab_a, visit)
    data_b = edit_data(tab_b, visit)
    data_a["summary"] = "aus Tab A"
    assert tab_a.post(reverse("scouting:visit_edit", args=[visit.uuid]), data_a).status_code == 302
    data_b["summary"] = "aus Tab B"
    response = tab_b.post(reverse("scouting:visit_edit", args=[visit.uuid]), data_b)
    assert response.status_code == 200
    assert "aus Tab B" in response.content.decode()  # the input is kept
    visit.refresh_from_db()
    assert visit.summary == "aus Tab A"


@pytest.mark.parametrize(
    "when",
    ["0001-01-01T10:00", "1999-12-31T10:00", "2099-01-01T10:00"],
)
def test_implausible_visit_dates_are_refused(client_as, organisation, scout, when):
    response = client_as(scout).post(
        reverse("scouting:visit_create"), form_data(organisation, visited_at=when)
    )
    assert response.status_code == 200
    assert response.context["form"].errors["visited_at"]
    assert not Visit.objects.exists()


def test_a_planned_visit_is_a_draft_until_its_day(client_as, organisation, scout):
    ahead = (timezone.localtime() + datetime.timedelta(days=10)).strftime("%Y-%m-%dT%H:%M")
    client = client_as(scout)
    saved = client.post(reverse("scouting:visit_create"), form_data(organisation, visited_at=ahead))
    assert saved.status_code == 302
    visit = Visit.objects.get()
    response = client.post(reverse("scouting:visit_submit", args=[visit.uuid]), follow=True)
    visit.refresh_from_db()
    assert visit.is_draft()
    assert "Zukunft" in response.content.decode()


def test_history_reads_like_the_form(client_as, organisation, scout):
    visit = make_visit(organisation, scout, needs=["funding"], answers={"rd_staff": 3})
    submit_visit(visit, by=scout)
    page = client_as(scout).get(reverse("scouting:visit_history", args=[visit.uuid]))
    text = page.content.decode()
    assert "Förderung" in text and "['funding']" not in text
    assert "Sina Scout" in text
    assert "+00:00" not in text


def test_scout_discards_an_own_draft(client_as, organisation, scout, scout2, manager):
    visit = make_visit(organisation, scout, scouts=[scout])
    proposal = FollowUp.objects.create(title="Vorschlag", visit=visit, created_by=scout)
    url = reverse("scouting:visit_discard", args=[visit.uuid])
    assert client_as(scout2).post(url).status_code == 403  # sees the draft, may not change it
    assert Visit.objects.filter(pk=visit.pk).exists()
    response = client_as(scout).post(url)
    assert response.status_code == 302
    assert not Visit.objects.filter(pk=visit.pk).exists()
    assert not FollowUp.objects.filter(pk=proposal.pk).exists()
    assert Visit.history.filter(id=visit.pk, history_type="-").get().history_user == scout


def test_submitted_visits_and_assigned_follow_ups_keep_the_visit(
    client_as, organisation, scout, manager
):
    submitted = make_visit(organisation, scout)
    submit_visit(submitted, by=scout)
    client = client_as(scout)
    client.post(reverse("scouting:visit_discard", args=[submitted.uuid]))
    assert Visit.objects.filter(pk=submitted.pk).exists()
    draft = make_visit(organisation, scout)
    FollowUp.objects.create(title="Zugewiesen", visit=draft, created_by=scout, assignee=manager)
    client.post(reverse("scouting:visit_discard", args=[draft.uuid]))
    assert Visit.objects.filter(pk=draft.pk).exists()


def test_reversed_period_says_so(client_as, manager):
    response = client_as(manager).get(
        reverse("scouting:visit_list"), {"visited_from": "2026-02-01", "visited_to": "2026-01-01"}
    )
    assert response.context["filter"].errors["visited_to"]


def test_list_names_the_organisation_it_is_filtered_by(client_as, organisation, manager):
    response = client_as(manager).get(
        reverse("scouting:visit_list"), {"organisation": organisation.pk}
    )
    assert "Müller Maschinenbau GmbH" in response.content.decode()
    assert (
        client_as(manager)
        .get(reverse("scouting:visit_list"), {"organisation": "9" * 30})
        .status_code
        == 200
    )


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31"])
def test_extreme_dates_in_the_filter_are_no_error(client_as, manager, day):
    for name in ("visited_from", "visited_to"):
        response = client_as(manager).get(reverse("scouting:visit_list"), {name: day})
        assert response.status_code == 200
