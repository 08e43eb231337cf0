"""Nothing acknowledged is lost when a process dies: an ASGI server, the Celery worker and the embedded Redis
are killed (SIGKILL) while a fleet charges and while an invoice run is under way."""

import asyncio
import json
import time
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta
from datetime import time as day_time
from zoneinfo import ZoneInfo

import pytest
from celery import Celery
from django.conf import settings
from django.db import transaction
from django.db.models import Count
from django.test import override_settings
from django.utils import timezone

from tests.api.test_webhooks import Receiver
from tests.faults.conftest import HEALTH_TIMEOUT, SERVED_TIMEOUT, VISIBILITY_TIMEOUT, Charger, System

pytestmark = pytest.mark.slow

FLEET = 8
CDR_DEADLINE = 120.0  # a CDR for every completed session within two minutes of health
INVOICED_DRIVERS = 40
SESSIONS_PER_DRIVER = 2
TRANSACTION_ACTIONS = ("StartTransaction", "MeterValues", "StopTransaction")


@dataclass
class Kill:
    name: str
    healthy_after: float  # seconds from the kill to /healthz answering 200
    served_after: float  # seconds from the kill until every charger had an answer again
    reconnects: int  # connections the fleet opened again from the kill until the next one


@dataclass
class Outage:
    chargers: list[Charger]
    kills: list[Kill]
    command: dict  # a command sent through the API after the kills, as the API answered it
    healthy_at: float
    receiver: Receiver


def _wait_until(predicate, *, deadline: float, every: float = 0.5) -> bool:
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(every)
    return True


def _command_send(system: System, identity: str, api_key: str) -> dict:
    """GetConfiguration through the system's API, waiting up to 15 s for the station's answer."""
    request = urllib.request.Request(
        f"{system.base_url}/api/v1/stations/{identity}/commands/",
        data=json.dumps({"action": "GetConfiguration", "payload": {}, "wait": 15}).encode(),
        headers={"Authorization": f"Token {api_key}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


async def _charge_through_kills(
    system: System, chargers: list[Charger], api_key: str
) -> tuple[list[Kill], dict]:
    stop = asyncio.Event()
    fleet = [asyncio.create_task(charger.charge(stop)) for charger in chargers]
    kills = []
    await asyncio.sleep(4)
    for name in ("web", "worker", "redis"):
        connects = sum(c.connects for c in chargers)
        killed_at = await asyncio.to_thread(system.kill, name)
        healthy_after = await asyncio.to_thread(system.health_after, killed_at)
        while any(c.served_since(killed_at) is None for c in chargers) and time.monotonic() < killed_at + 90:
            await asyncio.sleep(0.2)
        served = [c.served_since(killed_at) for c in chargers]
        await asyncio.sleep(3)  # sessions go on for a while on the restarted process
        kills.append(
            Kill(
                name,
                healthy_after,
                max(s if s is not None else float("inf") for s in served),
                sum(c.connects for c in chargers) - connects,
            )
        )
    # the channel layer that carries a command to the connection holding the station came back too
    command = await asyncio.to_thread(_command_send, system, chargers[0].identity, api_key)
    stop.set()
    await asyncio.wait_for(asyncio.gather(*fleet), timeout=120)
    for charger in chargers:
        await charger.sim.close()
    return kills, command


@pytest.fixture(scope="module")
def outage(system, django_db_blocker):
    """A fleet charges (sessions back to back) while an ASGI server, the worker and Redis are killed in turn;
    an integrator is subscribed to session.stopped."""
    from chargenet.models import User
    from chargenet.services import api_token_create
    from chargenet.webhooks.services import webhook_subscription_create
    from rfid.models import Driver
    from rfid.services import id_token_create
    from stations.services import station_create

    receiver = Receiver([200])
    chargers = []
    with django_db_blocker.unblock():
        user = User.objects.create_user(username="fleet-driver", password="pw-fleet-1", role="driver")
        driver = Driver.objects.create(user=user, name="Fleet", email="fleet@example.com")
        id_token_create(uid="FLEETCARD", driver=driver)
        integrator = User.objects.create_user(username="ivy", password="pw-ivy-1", role="operator")
        with override_settings(WEBHOOK_ALLOW_PRIVATE_HOSTS=True):  # the receiver is on 127.0.0.1
            webhook_subscription_create(user=integrator, url=receiver.url, events=["session.stopped"])
        for number in range(FLEET):
            identity = f"FAULT-{number:02d}"
            _, password = station_create(identity=identity, password=f"fault-station-password-{number:04d}")
            chargers.append(Charger(identity, password, system.ocpp_url, "FLEETCARD"))
        api_key = api_token_create(username="ivy")
    kills, command = asyncio.run(_charge_through_kills(system, chargers, api_key))
    print("kills:", kills)  # the figures, for a run with -s
    healthy_at = time.monotonic()
    yield Outage(chargers, kills, command, healthy_at, receiver)
    receiver.close()


def test_the_system_is_healthy_within_30_seconds_of_each_kill(outage):
    assert [k.name for k in outage.kills] == ["web", "worker", "redis"]
    slow = [(k.name, round(k.healthy_after, 1)) for k in outage.kills if k.healthy_after > HEALTH_TIMEOUT]
    assert slow == []


def test_every_charger_is_served_again_within_30_seconds_of_each_kill(outage):
    slow = [(k.name, round(k.served_after, 1)) for k in outage.kills if k.served_after > SERVED_TIMEOUT]
    assert slow == []


def test_a_redis_kill_drops_no_charger_connection(outage):
    # Redis carries the commands' nudges to the connections; while it restarts, the chargers stay
    # connected and are served (their messages never touch Redis)
    redis = next(kill for kill in outage.kills if kill.name == "redis")
    assert redis.reconnects == 0
    # (as a killed ASGI process does make the chargers it held connect again)
    web = next(kill for kill in outage.kills if kill.name == "web")
    assert web.reconnects > 0


def test_a_command_sent_after_the_kills_reaches_a_charger_on_the_connection_it_kept(outage):
    # the channel layer that carries a command to the process holding the station's socket came
    # back with Redis: the API's command is answered by the charger (GetConfiguration, waited for)
    assert outage.command["status"] == "accepted", outage.command


def test_every_acknowledged_transaction_message_is_stored_exactly_once(outage, django_db_blocker):
    from stations.models import MeterSample, Session

    with django_db_blocker.unblock():
        for charger in outage.chargers:
            started = {
                ack.response.transaction_id: ack for ack in charger.acks if ack.action == "StartTransaction"
            }
            stopped = {
                ack.payload.transaction_id: ack for ack in charger.acks if ack.action == "StopTransaction"
            }
            sessions = {
                int(s.transaction_id): s for s in Session.objects.filter(station__identity=charger.identity)
            }
            # one session per acknowledged start, none more (a resent start is the same session)
            assert sorted(sessions) == sorted(started), charger.identity
            for transaction_id, ack in started.items():
                assert sessions[transaction_id].meter_start_wh == ack.payload.meter_start
            for transaction_id, ack in stopped.items():
                session = sessions[transaction_id]
                assert session.status == Session.Status.COMPLETED
                assert session.meter_stop_wh == ack.payload.meter_stop
                assert session.energy_wh == ack.payload.meter_stop - session.meter_start_wh
            for ack in (a for a in charger.acks if a.action == "MeterValues"):
                value = ack.payload.meter_value[0]["sampled_value"][0]["value"]
                stored = MeterSample.objects.filter(
                    session=sessions[ack.payload.transaction_id],
                    measurand="Energy.Active.Import.Register",
                    value=value,
                )
                assert stored.count() == 1, (charger.identity, ack.payload)
    assert sum(len(c.completed) for c in outage.chargers) >= 3 * FLEET


def test_every_completed_session_gets_one_cdr_within_two_minutes_of_health(outage, django_db_blocker):
    from billing.models import Cdr
    from stations.models import Session

    completed = {
        (charger.identity, str(transaction_id))
        for charger in outage.chargers
        for transaction_id in charger.completed
    }

    def priced() -> set[tuple[str, str]]:
        rows = Cdr.objects.filter(kind=Cdr.Kind.NORMAL, session__station__identity__startswith="FAULT-")
        return set(rows.values_list("session__station__identity", "session__transaction_id"))

    with django_db_blocker.unblock():
        _wait_until(lambda: completed <= priced(), deadline=outage.healthy_at + CDR_DEADLINE)
        assert completed - priced() == set()
        doubled = (
            Cdr.objects.filter(kind=Cdr.Kind.NORMAL).values("session").annotate(n=Count("id")).filter(n__gt=1)
        )
        assert list(doubled) == []
        assert not Session.objects.filter(status=Session.Status.COMPLETED, cdrs__isnull=True).exists()


def test_every_stopped_session_reaches_the_integrators_webhook(outage, django_db_blocker):
    import json

    completed = {(charger.identity, str(t)) for charger in outage.chargers for t in charger.completed}

    def received() -> dict[tuple[str, str], set[str]]:
        events: dict[tuple[str, str], set[str]] = {}
        for request in list(outage.receiver.requests):
            event = json.loads(request["body"])
            key = (event["data"]["identity"], str(event["data"]["transaction_id"]))
            events.setdefault(key, set()).add(event["id"])
        return events

    _wait_until(lambda: completed <= set(received()), deadline=outage.healthy_at + CDR_DEADLINE)
    events = received()
    assert completed - set(events) == set()
    # A receiver may see an event twice (at least once), but always under one event id per session.
    assert {t: len(ids) for t, ids in events.items() if len(ids) != 1} == {}


def test_the_message_log_holds_every_acknowledged_frame(outage, django_db_blocker):
    from stations.models import OcppMessage

    with django_db_blocker.unblock():
        missing = []
        for charger in outage.chargers:
            logged = list(
                OcppMessage.objects.filter(
                    identity=charger.identity, direction=OcppMessage.Direction.IN
                ).values_list("action", "payload")
            )
            for ack in charger.acks:
                if ack.action not in TRANSACTION_ACTIONS:
                    continue
                stamp = (
                    ack.payload.meter_value[0]["timestamp"]
                    if ack.action == "MeterValues"
                    else ack.payload.timestamp
                )
                if not any(action == ack.action and stamp in payload for action, payload in logged):
                    missing.append((charger.identity, ack.action, stamp))
    assert missing == []


# --- an invoice run killed half way -----------------------------------------------------------


@pytest.fixture(scope="module")
def killed_invoice_run(system, django_db_blocker):
    """Yesterday's CDRs of many drivers; the daily invoice run is queued, and once the first invoice
    is out the whole worker is killed, then Redis (which holds the run's unacknowledged task)."""
    from billing.models import Invoice
    from billing.services import cdr_create_for_session
    from chargenet.models import User
    from rfid.models import Driver
    from rfid.services import id_token_create
    from stations.models import Connector, Session
    from stations.services import station_create

    yesterday = timezone.localdate() - timedelta(days=1)
    noon = datetime.combine(yesterday, day_time(12), tzinfo=ZoneInfo(settings.OPERATOR_TIME_ZONE))
    with django_db_blocker.unblock():
        station, _ = station_create(identity="INVOICE-RUN", password="invoice-run-password-0001")
        connector = Connector.objects.filter(evse__station=station).first()
        for number in range(INVOICED_DRIVERS):
            user = User.objects.create_user(
                username=f"driver-{number}", password="pw-driver-1", role="driver"
            )
            driver = Driver.objects.create(user=user, name=f"Driver {number}", email=f"d{number}@example.com")
            token = id_token_create(uid=f"INV{number:05d}", driver=driver)
            for index in range(SESSIONS_PER_DRIVER):
                started = noon + timedelta(minutes=index * 60, seconds=number)
                with transaction.atomic():
                    session = Session.objects.create(
                        station=station,
                        evse=connector.evse,
                        connector=connector,
                        transaction_id=f"{number}-{index}",
                        id_token=token,
                        id_tag=token.uid,
                        status=Session.Status.COMPLETED,
                        started_at=started,
                        stopped_at=started + timedelta(minutes=30),
                        meter_start_wh=0,
                        meter_stop_wh=7000,
                        energy_wh=7000,
                    )
                    cdr_create_for_session(session_id=session.pk)

        broker = Celery(broker=f"redis+socket://{system.redis_socket()}")
        broker.send_task("billing.invoice_run_task")
        assert _wait_until(lambda: Invoice.objects.exists(), deadline=time.monotonic() + 120, every=0.05)
        worker_killed_at = system.kill("worker")
        issued_at_kill = Invoice.objects.count()
        # Redis goes down too once the run's task could be handed on: the task must survive it.
        # (A worker checks for such tasks when it connects, then only every ~100 s: kombu.)
        time.sleep(max(0.0, worker_killed_at + VISIBILITY_TIMEOUT + 1 - time.monotonic()))
        system.kill("redis")
        healthy_after = system.health_after(worker_killed_at)
        finished = _wait_until(
            lambda: Invoice.objects.count() >= INVOICED_DRIVERS, deadline=time.monotonic() + CDR_DEADLINE
        )
    return {"issued_at_kill": issued_at_kill, "healthy_after": healthy_after, "finished": finished}


def test_an_invoice_run_killed_with_its_worker_and_redis_completes_gapless_and_never_twice(
    killed_invoice_run, django_db_blocker
):
    from billing.models import Cdr, Invoice, InvoiceLine

    # the kill fell into the run
    assert 0 < killed_invoice_run["issued_at_kill"] < INVOICED_DRIVERS
    assert killed_invoice_run["healthy_after"] <= HEALTH_TIMEOUT
    assert killed_invoice_run["finished"]
    with django_db_blocker.unblock():
        invoices = Invoice.objects.filter(driver__user__username__startswith="driver-")
        # one invoice per driver, with every one of their CDRs, each CDR on one line only
        assert invoices.count() == INVOICED_DRIVERS
        assert (
            sorted(invoices.annotate(n=Count("lines")).values_list("n", flat=True))
            == [SESSIONS_PER_DRIVER] * INVOICED_DRIVERS
        )
        period_cdrs = Cdr.objects.filter(session__station__identity="INVOICE-RUN")
        assert InvoiceLine.objects.filter(cdr__in=period_cdrs).count() == period_cdrs.count()
        assert not period_cdrs.filter(invoice_line__isnull=True).exists()
        # gapless numbers
        for series in invoices.values_list("series", flat=True).distinct():
            numbers = sorted(Invoice.objects.filter(series=series).values_list("sequence", flat=True))
            assert numbers == list(range(1, len(numbers) + 1))
