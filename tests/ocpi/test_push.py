"""Pushes to partners: EVSE status, tariffs, sessions and CDRs, in order, caught up after an outage
(checklist D3, D7, G1, G4 and H of docs/ocpi.md)."""

import base64
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from billing.models import Cdr
from billing.services import cdr_create_for_session, tariff_create, tariff_delete, tariff_update
from ocpi import services, subscribers
from ocpi.models import Push, RoamingSession
from stations.models import Evse, Station
from stations.network.services.status import connector_status_record
from stations.sessions.services import session_start, session_stop
from tests.ocpi.test_receiver_modules import a_token

pytestmark = pytest.mark.django_db

ENERGY = [{"price_components": [{"type": "ENERGY", "price": "0.35", "step_size": 1}]}]


def deliver_all() -> None:
    for partner_id, object_key in services.pushes_due():
        services.push_deliver(partner_id=partner_id, object_key=object_key)


def test_an_evse_status_change_is_patched_to_the_partner(
    emsp, registered, network, django_capture_on_commit_callbacks
):
    station = Station.objects.get(identity="CP-1")
    evse = Evse.objects.get(station=station, evse_id=1)

    # when
    with django_capture_on_commit_callbacks(execute=True):
        connector_status_record(station_id=station.pk, connector_id=1, status="Charging")
    deliver_all()

    # then
    patch = emsp.wait_for(lambda r: r.method == "PATCH", what="the EVSE PATCH")
    assert patch.path == f"/ocpi/2.2.1/locations/NL/CNT/{network[0].pk}/{evse.pk}"
    assert patch.body["status"] == "CHARGING" and patch.body["last_updated"].endswith("Z")
    assert patch.headers["authorization"] == "Token " + base64.b64encode(emsp.token_b.encode()).decode()
    assert patch.headers["ocpi-from-party-id"] == "CNT" and patch.headers["ocpi-to-party-id"] == "EMS"
    assert patch.headers["x-request-id"] and patch.headers["x-correlation-id"]
    assert Push.objects.get().status == Push.Status.SUCCEEDED


def test_a_partner_that_was_down_gets_what_it_missed_in_order(
    emsp, registered, network, django_capture_on_commit_callbacks
):
    station = Station.objects.get(identity="CP-1")
    emsp.down = True
    with django_capture_on_commit_callbacks(execute=True):
        connector_status_record(station_id=station.pk, connector_id=1, status="Charging")
    with django_capture_on_commit_callbacks(execute=True):
        connector_status_record(station_id=station.pk, connector_id=1, status="Available")

    deliver_all()

    first, second = Push.objects.order_by("id")
    assert (first.status, first.attempts) == (Push.Status.PENDING, 1)
    assert second.attempts == 0  # held back behind the older push of the same EVSE
    assert first.next_attempt_at > timezone.now()

    # when the partner is back and the back-off has passed
    emsp.down = False
    emsp.received.clear()
    Push.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    deliver_all()

    # then both arrive, oldest first
    assert [p.status for p in Push.objects.order_by("id")] == [Push.Status.SUCCEEDED, Push.Status.SUCCEEDED]
    assert [r.method for r in emsp.received] == ["PATCH", "PATCH"]


def test_a_redelivered_event_queues_no_second_push(registered, network):
    station = Station.objects.get(identity="CP-1")
    event = {"station_id": station.pk, "evse_id": 1, "status": "Charging", "event_id": "evt-1"}

    subscribers.on_connector_status_changed("connector.status_changed", event)
    subscribers.on_connector_status_changed("connector.status_changed", event)

    assert Push.objects.count() == 1


def test_tariff_changes_are_put_and_a_deleted_tariff_is_deleted(
    emsp, registered, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        tariff = tariff_create(code="AC-1", name="AC", currency="EUR", elements=ENERGY)
    deliver_all()
    with django_capture_on_commit_callbacks(execute=True):
        tariff_update(tariff=tariff, name="AC standard")
    deliver_all()
    with django_capture_on_commit_callbacks(execute=True):
        tariff_delete(tariff=tariff)
    deliver_all()

    sent = [(r.method, r.path) for r in emsp.pushes("tariffs")]
    assert sent == [("PUT", "/ocpi/2.2.1/tariffs/NL/CNT/AC-1")] * 2 + [
        ("DELETE", "/ocpi/2.2.1/tariffs/NL/CNT/AC-1")
    ]
    assert emsp.pushes("tariffs")[1].body["tariff_alt_text"][0]["text"] == "AC standard"


def charge_an_hour(capture, *, id_tag: str):
    """A car charges 12.345 kWh in an hour at CP-1 (from 09:00 UTC on 30 November 2026) with the card;
    the CDR is made and every push delivered. Returns the session and the CDR."""
    station = Station.objects.get(identity="CP-1")
    started = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    with capture(execute=True):
        session, decision = session_start(
            station_id=station.pk, connector_id=1, id_tag=id_tag, meter_start=1000, timestamp=started
        )
    assert decision.accepted
    with capture(execute=True):
        session_stop(
            station_id=station.pk, transaction_id=int(session.transaction_id), meter_stop=13345,
            timestamp=started + timedelta(hours=1),
        )  # fmt: skip
    with capture(execute=True):
        cdr = cdr_create_for_session(session_id=session.pk)
    deliver_all()
    return session, cdr


def test_a_roaming_session_is_put_patched_and_its_cdr_posted_with_the_same_totals(
    ocpi, emsp, registered, network, django_capture_on_commit_callbacks
):
    partner, token = registered
    ocpi("PUT", "/ocpi/2.2.1/tokens/DE/EMS/ABC123", token=token, body=a_token())
    tariff_create(code="AC-1", name="AC", currency="EUR", elements=ENERGY, is_default=True)

    # when a car charges 12.345 kWh with the eMSP's card
    session, cdr = charge_an_hour(django_capture_on_commit_callbacks, id_tag="ABC123")

    # then the eMSP has the session, started and completed, and the CDR
    roaming = RoamingSession.objects.get(session=session)
    assert roaming.partner == partner and roaming.auth_method == "WHITELIST"
    puts = [r for r in emsp.pushes("sessions") if r.method == "PUT"]
    assert puts[0].path == f"/ocpi/2.2.1/sessions/NL/CNT/{session.pk}"
    assert puts[-1].body["status"] == "COMPLETED" and puts[-1].body["kwh"] == 12.345
    assert puts[-1].body["cdr_token"]["contract_id"] == "DE-EMS-CABC123"
    posted = emsp.wait_for(lambda r: r.method == "POST" and r.path == "/ocpi/2.2.1/cdrs", what="the CDR")
    assert posted.body["id"] == cdr.cdr_id and posted.body["session_id"] == str(session.pk)
    assert (
        Decimal(str(posted.body["total_cost"]["excl_vat"]))
        == Cdr.objects.get().total_excl_vat
        == Decimal("4.32")
    )
    assert posted.body["total_energy"] == 12.345
    assert posted.body["cdr_location"]["evse_uid"] == str(session.evse_id)
    assert Push.objects.get(module="cdrs").response_location == f"{emsp.base}/ocpi/2.2.1/cdrs/{cdr.cdr_id}"
    # and the eMSP pulls the same session and CDR
    pulled = ocpi("GET", "/ocpi/2.2.1/cdrs", token=token).body["data"]
    assert pulled[0]["total_cost"] == posted.body["total_cost"]
    sessions = ocpi("GET", "/ocpi/2.2.1/sessions?date_from=2026-01-01T00:00:00Z", token=token).body["data"]
    assert [s["id"] for s in sessions] == [str(session.pk)]


def test_a_local_cards_session_is_nobodys_business(
    emsp, registered, network, driver, django_capture_on_commit_callbacks
):
    from rfid.models import IdToken

    IdToken.objects.create(uid="DANA0001", driver=driver)
    station = Station.objects.get(identity="CP-1")

    with django_capture_on_commit_callbacks(execute=True):
        session_start(
            station_id=station.pk, connector_id=1, id_tag="DANA0001", meter_start=0, timestamp=timezone.now()
        )

    assert not RoamingSession.objects.exists()
    assert not Push.objects.filter(module="sessions").exists()


def test_old_request_log_rows_and_delivered_pushes_are_pruned_but_pending_pushes_stay(registered, network):
    from ocpi.models import RequestLog

    partner, _ = registered
    station = Station.objects.get(identity="CP-1")
    subscribers.on_connector_status_changed(
        "connector.status_changed", {"station_id": station.pk, "evse_id": 1}
    )
    subscribers.on_connector_status_changed(
        "connector.status_changed", {"station_id": station.pk, "evse_id": 2}
    )
    old = timezone.now() - timedelta(days=31)
    first, second = Push.objects.order_by("id")
    Push.objects.filter(pk=first.pk).update(status=Push.Status.SUCCEEDED, created_at=old)
    Push.objects.filter(pk=second.pk).update(created_at=old)
    RequestLog.objects.update(created_at=old)

    removed = services.ocpi_log_prune()

    assert removed >= 2
    assert not RequestLog.objects.exists()
    assert list(Push.objects.values_list("pk", flat=True)) == [second.pk]
