"""The demo network of the embedded mode: an operator and a driver login, cards, a location,
stations and a tariff. Part of the composition root: it knows every app."""

from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction

from billing.models import Tariff
from chargenet.models import User
from rfid.models import Driver, IdToken
from stations.models import Connector, Evse, Location, Station
from stations.network.passwords import password_hash
from stations.simulator.demo import DEMO_STATION_PASSWORD


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
        user=driver_user, defaults={"name": "Dana Driver", "email": "driver@example.com"}
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
            },
        )
        if created:
            for evse_id in (1, 2):
                evse = Evse.objects.create(station=station, evse_id=evse_id)
                Connector.objects.create(evse=evse, connector_id=1)
    Tariff.objects.get_or_create(
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
    return DEMO_OPERATOR
