"""ChargeNet against a second ChargeNet: instance A (the live system, CPO with a simulated station)
and instance B (its own server, Celery worker, database and Redis; eMSP of driver Dana). Dana starts
charging at A's station from B's account page, the session shows on both sides, and A's CDR reaches
B and lands on Dana's invoice with B's roaming markup, to the cent."""

import http.cookiejar
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
from django.db import connection

from chargenet import embedded
from tests.e2e.conftest import _wait_for_worker, _worker_start, in_thread
from tests.ocpi.live.test_roaming import published_location
from tests.stations.connection.conftest import server_start, server_stop
from tests.support import REPO

pytestmark = [pytest.mark.timeout(300), pytest.mark.slow]

MARKUP = {"OCPI_ROAMING_MARKUP_PERCENT": "10", "OCPI_ROAMING_FEE": "0.50", "OCPI_ROAMING_VAT_PERCENT": "21"}


@dataclass
class Instance:
    base_url: str
    env: dict[str, str]

    def shell(self, code: str) -> object:
        """Run Python in a management shell of this instance; returns what it printed last (JSON)."""
        done = subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", code], env={**os.environ, **self.env}, cwd=REPO,
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-3000:]
        lines = [line for line in done.stdout.splitlines() if line.strip()]
        return json.loads(lines[-1]) if lines else None


def _database_for_b(tmp: Path) -> str:
    """A second, empty database next to the test database: a SQLite file, or a PostgreSQL database."""
    if connection.vendor == "sqlite":
        return str(tmp / "instance-b.sqlite3")
    import psycopg

    settings = connection.settings_dict
    name = f"{settings['NAME']}_b"
    with psycopg.connect(
        dbname="postgres", user=settings["USER"], password=settings["PASSWORD"] or None,
        host=settings["HOST"] or None, port=settings["PORT"] or None, autocommit=True,
    ) as admin:  # fmt: skip
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')
    return name


@pytest.fixture(scope="module")
def instance_b(live_system, tmp_path_factory):
    """ChargeNet B: party NL*EMB, with its own database and Redis, and the operator's roaming markup."""
    tmp = tmp_path_factory.mktemp("instance-b")
    redis_dir = Path(tempfile.mkdtemp(prefix="cnb-"))  # a short path: Unix sockets allow ~100 bytes
    redis = embedded.redis_start(socket_path=redis_dir / "redis.sock", data_dir=redis_dir)
    env = {
        "DJANGO_SETTINGS_MODULE": "tests.e2e.server_settings",
        "CHARGENET_TEST_DB_NAME": _database_for_b(tmp),
        "CHARGENET_TEST_MAIL_DIR": str(tmp),
        "REDIS_URL": f"unix://{redis_dir / 'redis.sock'}",
        "OCPI_PARTY_ID": "EMB",
        "OCPI_BUSINESS_NAME": "ChargeNet B",
        "LOG_LEVEL": "WARNING",
        **MARKUP,
    }
    migrated = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"], env={**os.environ, **env}, cwd=REPO,
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert migrated.returncode == 0, migrated.stderr[-3000:]
    server = server_start(env["CHARGENET_TEST_DB_NAME"], **env)
    worker = _worker_start(env)
    try:
        _wait_for_worker(server.base_url, worker)
        yield Instance(base_url=server.base_url, env=env)
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
        server_stop(server)
        redis.terminate()
        redis.wait(timeout=10)


class Browser:
    """A driver's HTTP session on B's pages (cookies, CSRF), as a browser would hold it."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )

    def get(self, path: str) -> str:
        with self.opener.open(self.base_url + path, timeout=30) as response:
            return response.read().decode()

    def post(self, path: str, fields: dict[str, str], *, csrf_from: str) -> str:
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', self.get(csrf_from))
        assert token, f"no form on {csrf_from}"
        data = urllib.parse.urlencode({**fields, "csrfmiddlewaretoken": token.group(1)}).encode()
        request = urllib.request.Request(
            self.base_url + path, data=data, headers={"Referer": self.base_url + csrf_from}
        )
        with self.opener.open(request, timeout=30) as response:
            return response.read().decode()

    def wait_for(self, path: str, predicate, *, timeout: float = 60.0, what: str) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            page = self.get(path)
            if predicate(page):
                return page
            time.sleep(0.5)
        raise AssertionError(f"{what} did not show on {path} within {timeout} s:\n{page[-3000:]}")


SEED_B = """
import json
from chargenet.models import User
from ocpi import services
from rfid.models import Driver
from rfid.services import id_token_create
from ocpi.models import Partner
if not User.objects.filter(username="dana").exists():
    user = User.objects.create_user(username="dana", password="pw-dana-roams-1", role="driver")
    dana = Driver.objects.create(user=user, name="Dana", email="dana@example.com")
    services.emsp_token_enable(id_token=id_token_create(uid="DANA0001", driver=dana))
Partner.objects.filter(country_code="NL", party_id="CNT").delete()  # from an earlier scenario
partner, _ = services.partner_create(name="Network A", country_code="NL", party_id="CNT", roles=["CPO"])
services.partner_register_with(partner=partner, versions_url="{a}/ocpi/versions", token_a="{token_a}",
                               our_versions_url="{b}/ocpi/versions", version="{version}")
print(json.dumps(partner.pk))
"""

INVOICE_B = """
import json
from django.utils import timezone
from billing.services import invoice_run_requested
invoices = invoice_run_requested(first_day=timezone.localdate(), last_day=timezone.localdate())
print(json.dumps([{"number": i.number, "total_incl_vat": str(i.total_incl_vat), "lines": [
    {"description": l.description, "excl": str(l.amount_excl_vat), "vat": str(l.amount_vat),
     "incl": str(l.amount_incl_vat)} for l in i.lines.order_by("position")]} for i in invoices]))
"""


@pytest.mark.parametrize("version", ["2.2.1", "2.1.1"])
def test_a_driver_of_one_chargenet_charges_at_another_and_pays_the_partner_price_with_markup(
    live_system, stations, instance_b, version
):
    from billing.models import Cdr
    from billing.money import money_round
    from billing.services import tariff_create
    from ocpi.models import Partner, RoamingSession, RoamingToken
    from ocpi.services import partner_create
    from stations.models import Session

    a, b = live_system.base_url, instance_b.base_url
    # given A's network: a published location with a station and an energy tariff
    in_thread(tariff_create, code="AC-A", name="AC", currency="EUR", is_default=True, vat_percent=Decimal("21"),
              elements=[{"price_components": [{"type": "ENERGY", "price": "0.35", "step_size": 1}]}])  # fmt: skip
    location = in_thread(published_location)
    sim = stations.connect("NET-A-1", evses=1, location=location)
    # and A's operator adds B as a partner; B's operator registers with A's token A, offering Dana's card
    partner_b, token_a = in_thread(
        partner_create, name="Network B", country_code="NL", party_id="EMB", roles=["EMSP"]
    )
    # (in 2.1.1 when the operator pins it: the same scenario in the older version)
    seed = (
        SEED_B.replace("{a}", a).replace("{b}", b).replace("{token_a}", token_a).replace("{version}", version)
    )
    instance_b.shell(seed)

    def a_holds_danas_card() -> bool:
        return RoamingToken.objects.filter(partner=partner_b, uid="DANA0001", valid=True).exists()

    deadline = time.monotonic() + 30
    while not in_thread(a_holds_danas_card):
        assert time.monotonic() < deadline, "B's roaming card never reached A"
        time.sleep(0.3)
    assert in_thread(lambda: Partner.objects.get(pk=partner_b.pk).status) == "registered"
    assert in_thread(lambda: Partner.objects.get(pk=partner_b.pk).version) == version

    # when Dana logs in at B and finds A's charge point on her roaming page
    dana = Browser(b)
    dana.post("/login/", {"username": "dana", "password": "pw-dana-roams-1"}, csrf_from="/login/")
    page = dana.wait_for("/account/roaming/", lambda p: "Start charging" in p, what="A's charge point")
    assert "Harbour" in page and "Network A" in page and "AVAILABLE" in page
    fields = dict(re.findall(r'<input type="hidden" name="(location|evse_uid)" value="([^"]+)">', page))

    # and starts charging there
    dana.post("/account/roaming/start/", fields, csrf_from="/account/roaming/")

    # then A's station starts for her card, and the session shows on both sides
    remote_start = stations.run(sim.wait_received("RemoteStartTransaction"))
    assert remote_start.payload["idTag"] == "DANA0001"
    live = dana.wait_for("/account/roaming/live/", lambda p: 'data-status="ACTIVE"' in p and "ACCEPTED" in p,
                         what="the running session and the command result")  # fmt: skip
    session_id = re.search(r'data-session="([^"]+)"', live).group(1)
    assert (
        in_thread(lambda: RoamingSession.objects.get(session_id=int(session_id)).partner_id) == partner_b.pk
    )
    assert in_thread(lambda: Session.objects.get(pk=int(session_id)).stopped_at) is None
    dana.wait_for("/account/roaming/live/", lambda p: (m := re.search(r'data-kwh="([0-9.]+)"', p)) and Decimal(m.group(1)) > 0,
                  what="energy")  # fmt: skip

    # when she stops it from B
    session_pk = re.search(r'action="/account/roaming/sessions/(\d+)/stop/"', live).group(1)
    dana.post(f"/account/roaming/sessions/{session_pk}/stop/", {}, csrf_from="/account/roaming/")

    # then A's CDR reaches B, is in her history, and is on her invoice with B's markup, to the cent
    stations.run(sim.wait_sent("StopTransaction"))
    history = dana.wait_for("/account/roaming/", lambda p: "data-cdr=" in p, what="the CDR")
    cdr = in_thread(lambda: Cdr.objects.get(session_id=int(session_id)))
    partner_price = money_round(cdr.total_excl_vat, "EUR")
    assert partner_price > 0
    net = (partner_price * Decimal("1.10") + Decimal("0.50")).quantize(Decimal("0.01"), ROUND_HALF_UP)
    vat = (net * Decimal("0.21")).quantize(Decimal("0.01"), ROUND_HALF_UP)
    assert f"{net + vat} EUR" in history
    if version != "2.2.1":
        return  # the invoice run of today is the 2.2.1 scenario's (B keeps its database)
    invoices = instance_b.shell(INVOICE_B)
    assert len(invoices) == 1 and len(invoices[0]["lines"]) == 1
    line = invoices[0]["lines"][0]
    assert (Decimal(line["excl"]), Decimal(line["vat"]), Decimal(line["incl"])) == (net, vat, net + vat)
    assert line["description"].startswith("Roaming: charging") and "Network A" in line["description"]
    assert Decimal(invoices[0]["total_incl_vat"]) == net + vat
    assert invoices[0]["number"] in dana.get("/account/roaming/")
