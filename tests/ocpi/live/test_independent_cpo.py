"""ChargeNet as the eMSP against a CPO that is not ChargeNet's code: extrawest's OCPI library on
FastAPI (tests/ocpi/peer/cpo_app.py), in its own environment. ChargeNet registers with it, pulls its
locations page by page, pushes our driver's card (which the library validates), sends START_SESSION
and gets the CommandResult at our response_url, and takes the CDR the library pushes."""

import base64
import json
import os
import subprocess
import time
import urllib.request
import uuid

import pytest

from tests.e2e.conftest import in_thread
from tests.ocpi.cpo import a_location
from tests.ocpi.live.conftest import PEER_DIR, PEER_PYTHON
from tests.ocpi.test_emsp import a_cdr
from tests.support import free_port

pytestmark = [pytest.mark.timeout(180), pytest.mark.slow]


def peer_store(base: str) -> dict:
    with urllib.request.urlopen(f"{base}/store", timeout=10) as response:
        return json.loads(response.read())


def eventually(predicate, *, timeout: float = 30.0, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"{what} did not happen within {timeout} s")


@pytest.fixture
def independent_cpo():
    if not PEER_PYTHON.exists():
        pytest.skip(f"the independent CPO is not installed ({PEER_DIR}/.venv; `make test` installs it)")
    port = free_port()
    token_a = "peer-cpo-a-" + uuid.uuid4().hex[:8]
    location = a_location("LOC1", country_code="BE", party_id="IND")
    cdr = a_cdr("CDR1", country_code="BE", party_id="IND")
    process = subprocess.Popen(
        [str(PEER_PYTHON), "-m", "uvicorn", "cpo_app:app", "--app-dir", str(PEER_DIR),
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        env={**os.environ, "PEER_TOKEN_A": token_a, "PEER_PORT": str(port), "PEER_LOCATIONS": json.dumps([location]),
             "PEER_CDRS": json.dumps([cdr]), "COUNTRY_CODE": "BE", "PARTY_ID": "IND", "PROTOCOL": "http",
             "OCPI_HOST": f"127.0.0.1:{port}", "COMMAND_AWAIT_TIME": "1"},
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    eventually(lambda: _up(base, process), what="the independent CPO starting")
    yield base, token_a
    process.terminate()
    process.wait(timeout=10)


def _up(base: str, process: subprocess.Popen) -> bool:
    assert process.poll() is None, "the independent CPO exited"
    try:
        peer_store(base)
    except OSError:
        return False
    return True


def test_chargenet_roams_its_driver_on_an_independent_cpo(
    live_system, transactional_db, independent_cpo, settings
):
    from ocpi.models import EmspCommand, PartnerCdr, PartnerLocation
    from ocpi.services import emsp_token_enable, partner_create, partner_register_with, roaming_charge_start
    from rfid.models import Driver
    from rfid.services import id_token_create

    base, token_a = independent_cpo
    ours = live_system.base_url

    def setup():
        from chargenet.models import User

        user = User.objects.create_user(username="dana", password="pw-dana-1", role="driver")
        dana = Driver.objects.create(user=user, name="Dana")
        emsp_token_enable(id_token=id_token_create(uid="DANA0001", driver=dana))
        partner, _ = partner_create(name="Independent CPO", country_code="BE", party_id="IND", roles=["CPO"])
        return partner_register_with(partner=partner, versions_url=f"{base}/ocpi/versions", token_a=token_a,
                                     our_versions_url=f"{ours}/ocpi/versions")  # fmt: skip

    # when ChargeNet registers with the CPO
    partner = in_thread(setup)

    # then the CPO's library accepted our driver's card, and we pulled its location
    store = eventually(lambda: (s := peer_store(base))["tokens"] and s, what="the token push")
    token = store["tokens"]["dana0001"]
    # (the library lower-cases CiStrings, which OCPI compares case-insensitively)
    assert (
        token["country_code"].upper() == "NL"
        and token["party_id"].upper() == "CNT"
        and token["valid"] is True
    )
    location = eventually(lambda: in_thread(lambda: PartnerLocation.objects.filter(partner=partner).first()),
                          what="the location pull")  # fmt: skip
    evse_uids = [e["uid"] for e in location.data["evses"]]
    assert location.object_id.upper() == "LOC1" and [u.upper() for u in evse_uids] == ["LOC1-E1", "LOC1-E2"]

    # when Dana starts charging there
    dana = in_thread(lambda: Driver.objects.get(name="Dana"))
    command = in_thread(
        roaming_charge_start, driver=dana, location=location, evse_uid=evse_uids[0], our_base_url=ours
    )

    # then the CPO got START_SESSION and answered ACCEPTED, then posted the result to our response_url
    done = eventually(
        lambda: (c := in_thread(lambda: EmspCommand.objects.get(pk=command.pk))).result and c, what="the command result"
    )  # fmt: skip
    assert (done.response, done.result, done.status) == ("ACCEPTED", "ACCEPTED", "done")
    sent = next(iter(peer_store(base)["commands"].values()))
    assert sent["location_id"].upper() == "LOC1" and sent["token"]["uid"].upper() == "DANA0001"

    # when the CPO's library pushes the CDR to us
    our_token = peer_store(base)["credentials"]["theirs"]["credentials"]["token"]
    token_b = in_thread(lambda: type(partner).objects.get(pk=partner.pk).token_b)
    push = {"module_id": "cdrs", "object_id": "CDR1",
            "receivers": [{"endpoints_url": f"{ours}/ocpi/2.2.1", "auth_token": our_token}]}  # fmt: skip
    request = urllib.request.Request(
        f"{base}/push/2.2.1", data=json.dumps(push).encode(), method="POST",
        headers={"Authorization": "Token " + base64.b64encode(token_b.encode()).decode(),
                 "Content-Type": "application/json"},
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200

    # then it is Dana's, priced for her
    cdr = in_thread(lambda: PartnerCdr.objects.get(partner=partner))
    assert (
        cdr.object_id.upper() == "CDR1"
        and cdr.driver_id == dana.pk
        and cdr.driver_incl_vat > cdr.partner_excl_vat
    )
