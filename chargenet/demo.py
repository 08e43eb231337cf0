"""The demo network of the embedded mode: an operator and a driver login, cards, a location,
stations and a tariff. Part of the composition root: it knows every app."""

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from billing.models import Invoice, Tariff
from billing.services import cdr_create_for_session, invoice_issue_for_driver, invoice_period_previous
from chargenet.models import User
from rfid.models import Driver, IdToken
from stations.models import Connector, Evse, Location, Session, Station
from stations.network.passwords import password_hash
from stations.simulator.demo import DEMO_STATION_PASSWORD, DEMO_VISITOR_CARDS, demo_ocpp_version


@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str


DEMO_OPERATOR = DemoLogin(username="operator", password="chargenet-demo")
DEMO_DRIVER = DemoLogin(username="driver", password="chargenet-demo")


@transaction.atomic
def demo_seed(*, stations: int = 3) -> DemoLogin:
    """Create the demo operator, a driver with cards, a location and `stations` stations, once.

    Running it again changes nothing. Returns the operator's login.
    """
    if not User.objects.filter(username=DEMO_OPERATOR.username).exists():
        User.objects.create_user(
            username=DEMO_OPERATOR.username,
            password=DEMO_OPERATOR.password,
            email="operator@example.com",
            role=User.Role.ADMIN,
            is_staff=True,
            is_superuser=True,
        )
    driver_user = User.objects.filter(username=DEMO_DRIVER.username).first()
    if driver_user is None:
        driver_user = User.objects.create_user(
            username=DEMO_DRIVER.username,
            password=DEMO_DRIVER.password,
            email="driver@example.com",
            role=User.Role.DRIVER,
        )
    driver, _ = Driver.objects.get_or_create(
        user=driver_user,
        defaults={
            "name": "Dana Driver",
            "email": "driver@example.com",
            "billing_name": "Dana Driver",
            "billing_address": "Prinsengracht 263\n1016 GV Amsterdam\nNetherlands",
        },
    )
    for uid, number, label in (
        ("DEMO0001", "NL-CNT-000001", "Dana's card"),
        ("DEMO0002", "NL-CNT-000002", "Spare card"),
    ):
        IdToken.objects.get_or_create(
            uid=uid, defaults={"printed_number": number, "driver": driver, "label": label}
        )
    IdToken.objects.get_or_create(
        uid="DEMOBLOCK", defaults={"status": IdToken.Status.BLOCKED, "label": "Blocked"}
    )
    for visitor, uid in enumerate(DEMO_VISITOR_CARDS, start=1):
        IdToken.objects.get_or_create(uid=uid, defaults={"label": f"Visitor {visitor}"})

    location, _ = Location.objects.get_or_create(
        name="Demo Harbour Car Park",
        defaults={
            "address": "Havenstraat 1",
            "city": "Amsterdam",
            "postal_code": "1011 AA",
            "country": "NLD",
            "latitude": Decimal("52.377956"),
            "longitude": Decimal("4.897070"),
            "time_zone": "Europe/Amsterdam",
        },
    )
    for index in range(1, stations + 1):
        station, created = Station.objects.get_or_create(
            identity=f"DEMO-{index:03d}",
            defaults={
                "location": location,
                "name": f"Demo charger {index}",
                "password_hash": password_hash(DEMO_STATION_PASSWORD),
                # every third demo charger speaks OCPP 2.0.1 (the simulator's demo fleet does too)
                "ocpp_version": demo_ocpp_version(f"DEMO-{index:03d}"),
            },
        )
        if created:
            for evse_id in (1, 2):
                evse = Evse.objects.create(station=station, evse_id=evse_id)
                Connector.objects.create(evse=evse, connector_id=1)
    _, tariff_created = Tariff.objects.get_or_create(
        code="DEMO-STANDARD",
        defaults={
            "name": "Standard",
            "currency": "EUR",
            "vat_percent": Decimal("21"),
            "is_default": True,
            "elements": [
                {"price_components": [{"type": "ENERGY", "price": "0.30", "step_size": 1}]},
                {"price_components": [{"type": "FLAT", "price": "1.00", "step_size": 1}]},
            ],
        },
    )
    if stations and tariff_created:
        _demo_past_month_invoiced(driver=driver, station=Station.objects.get(identity="DEMO-001"))
    return DEMO_OPERATOR


def _demo_past_month_invoiced(*, driver: Driver, station: Station) -> None:
    """A few of the demo driver's sessions last month, priced and invoiced, so invoices and the
    history are not empty on first sight."""
    card = IdToken.objects.get(uid="DEMO0001")
    today = timezone.now().astimezone(ZoneInfo(settings.OPERATOR_TIME_ZONE)).date()
    period = invoice_period_previous(today=today, length="monthly")
    zone = ZoneInfo(station.location.time_zone if station.location else "UTC")
    connector = station.evses.get(evse_id=1).connectors.get()
    for number, (day, hour, minutes, energy_wh) in enumerate(
        ((3, 8, 95, 18400), (11, 18, 40, 7200), (19, 7, 130, 31650), (26, 12, 25, 4800)), start=1
    ):
        started = datetime.combine(period.first_day + timedelta(days=day - 1), time(hour), zone)
        session = Session.objects.create(
            station=station,
            evse=connector.evse,
            connector=connector,
            transaction_id=f"demo-history-{number}",
            id_token=card,
            id_tag=card.uid,
            started_at=started,
            stopped_at=started + timedelta(minutes=minutes),
            status=Session.Status.COMPLETED,
            meter_start_wh=1_000_000 + number * 100_000,
            meter_stop_wh=1_000_000 + number * 100_000 + energy_wh,
            energy_wh=energy_wh,
            stop_reason="EVDisconnected",
        )
        cdr_create_for_session(session_id=session.pk)
    invoices = invoice_issue_for_driver(driver_id=driver.pk, period=period)
    # Counted as sent: the embedded mode prints e-mails on the console, PDF and all.
    Invoice.objects.filter(pk__in=[invoice.pk for invoice in invoices]).update(emailed_at=timezone.now())
