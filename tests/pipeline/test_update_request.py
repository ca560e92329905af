"""``update_request``: a network manager corrects a request's own fields; a change
based on an old read (``expected_updated_at``) is refused instead of overwriting."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.utils.translation import gettext

from crm.roles import Role
from pipeline.models import TransferRequest
from pipeline.services import (
    PipelineAccessError,
    RequestChanged,
    advance_request,
    update_request,
)
from tests.personas import make_user

pytestmark = pytest.mark.django_db


def reread(transfer_request: TransferRequest) -> TransferRequest:
    return TransferRequest.objects.get(pk=transfer_request.pk)


def test_a_change_read_at_the_current_state_is_saved_with_history(transfer_request, manager):
    read_at = reread(transfer_request).updated_at

    changed = update_request(
        transfer_request, by=manager, expected_updated_at=read_at, title=" KI-Prüfstand "
    )

    assert changed.title == "KI-Prüfstand" and changed.updated_at > read_at
    latest = reread(transfer_request).history.first()
    assert latest.history_user == manager and latest.title == "KI-Prüfstand"


def test_a_change_read_before_someone_elses_is_refused(transfer_request, manager):
    read_at = reread(transfer_request).updated_at
    colleague = make_user("manager2", Role.NETWORK_MANAGER)
    update_request(transfer_request, by=colleague, title="Von der Kollegin")
    rows = transfer_request.history.count()

    with pytest.raises(RequestChanged) as refused:
        update_request(
            transfer_request, by=manager, expected_updated_at=read_at, title="Mein Titel"
        )

    assert refused.value.code == "request_changed"
    assert refused.value.messages == [
        gettext(
            "This request was changed by someone else meanwhile; reload it and make your "
            "change again."
        )
    ]
    assert refused.value.current.title == "Von der Kollegin"
    assert isinstance(refused.value, ValidationError)  # pages show it like any refusal
    current = reread(transfer_request)
    assert current.title == "Von der Kollegin"
    assert current.history.count() == rows


def test_a_move_meanwhile_makes_the_read_stale_too(transfer_request, manager, topics, stages):
    read_at = reread(transfer_request).updated_at
    advance_request(transfer_request, to=stages["qualifiziert"], by=manager)

    with pytest.raises(RequestChanged):
        update_request(
            transfer_request,
            by=manager,
            expected_updated_at=read_at,
            topics=[topics["energy"]],
            priority="high",
        )

    current = reread(transfer_request)
    assert current.priority == "normal"
    assert list(current.topics.all()) == [topics["ai"]]


def test_the_same_moment_in_another_time_zone_is_not_stale(transfer_request, manager):
    read_at = reread(transfer_request).updated_at
    berlin = read_at.astimezone(datetime.timezone(datetime.timedelta(hours=1)))

    update_request(transfer_request, by=manager, expected_updated_at=berlin, priority="low")

    assert reread(transfer_request).priority == "low"


def test_without_a_read_time_the_last_change_wins(transfer_request, manager):
    update_request(transfer_request, by=manager, title="Erste Änderung")

    update_request(transfer_request, by=manager, title="Zweite Änderung")

    assert reread(transfer_request).title == "Zweite Änderung"


def test_access_is_checked_before_staleness(transfer_request, scout):
    stale = reread(transfer_request).updated_at - datetime.timedelta(days=1)

    with pytest.raises(PipelineAccessError):
        update_request(transfer_request, by=scout, expected_updated_at=stale, title="Neu")

    assert reread(transfer_request).title == "KI für die Qualitätsprüfung"
