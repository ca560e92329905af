"""Two network managers move the same request at the same time (PostgreSQL only:
SQLite has no row locks and serialises whole-database writes instead)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction

from pipeline.models import Stage, StageChange, TransferRequest
from pipeline.services import StageChanged, advance_request

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs row locks"),
]


def test_of_two_concurrent_moves_one_wins_and_the_other_is_told(transfer_request, manager):
    eingang = Stage.objects.get(key="eingang")
    first_holds_lock = threading.Event()
    outcomes: dict[str, object] = {}

    def first() -> None:
        try:
            with transaction.atomic():
                advance_request(
                    TransferRequest.objects.get(pk=transfer_request.pk),
                    to=Stage.objects.get(key="partnersuche"),
                    by=manager,
                    expected_stage=eingang,
                )
                first_holds_lock.set()
                # Keep the row locked while the second move starts and waits for it.
                threading.Event().wait(0.5)
            outcomes["first"] = "moved"
        except Exception as error:  # noqa: BLE001 - reported to the test thread
            outcomes["first"] = error
        finally:
            first_holds_lock.set()
            connection.close()

    def second() -> None:
        first_holds_lock.wait(5)
        try:
            advance_request(
                TransferRequest.objects.get(pk=transfer_request.pk),
                to=Stage.objects.get(key="qualifiziert"),
                by=manager,
                expected_stage=eingang,
            )
            outcomes["second"] = "moved"
        except Exception as error:  # noqa: BLE001
            outcomes["second"] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)

    assert outcomes["first"] == "moved"
    assert isinstance(outcomes["second"], StageChanged)
    assert "Partnersuche" in outcomes["second"].messages[0]
    transfer_request.refresh_from_db()
    assert transfer_request.stage.key == "partnersuche"
    assert StageChange.objects.filter(request=transfer_request).count() == 2


def test_without_an_expected_stage_the_second_move_starts_from_the_first_ones_result(
    transfer_request, manager
):
    """The lock serialises the moves: the second is checked against the stage the first
    left, so moving twice to the same stage is refused instead of recorded twice."""
    target = Stage.objects.get(key="partnersuche")
    start = threading.Barrier(2)
    outcomes: list[object] = []

    def move() -> None:
        try:
            start.wait(5)
            advance_request(
                TransferRequest.objects.get(pk=transfer_request.pk), to=target, by=manager
            )
            outcomes.append("moved")
        except Exception as error:  # noqa: BLE001
            outcomes.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=move) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)

    assert outcomes.count("moved") == 1
    refused = next(o for o in outcomes if o != "moved")
    assert getattr(refused, "code", None) == "same_stage"
    assert StageChange.objects.filter(request=transfer_request, to_stage=target).count() == 1
