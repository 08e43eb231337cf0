"""Register what the tzi-OCTT 2.0.1 suite expects in a ChargeNet, through its REST API.

Stations (OCPP 2.0.1, security profile 1, the suite's Basic-auth password, two EVSEs each) and the
id tokens its environment names, in the states the cases expect. Idempotent: what exists already
is brought to the expected state. Run with the suite's environment (see docs/conformance.md).
"""

import os

import chargenet_client as api

HEARTBEAT_INTERVAL = int(os.environ.get("OCTT_HEARTBEAT_INTERVAL", "30"))

STATION_VARS = [
    "CP201_SP1",
    "BASIC_AUTH_CP",
    "BASIC_AUTH_CP_A",
    "BASIC_AUTH_CP_B",
    "BASIC_AUTH_CP_C",
    "BASIC_AUTH_CP_D",
    "BASIC_AUTH_CP_E",
    "BASIC_AUTH_CP_F",
    "BASIC_AUTH_CP_G",
]


def _stations():
    password = os.environ["BASIC_AUTH_CP_PASSWORD"]
    seen = set()
    for var in STATION_VARS:
        identity = os.environ.get(var)
        if not identity or identity in seen:
            continue
        seen.add(identity)
        try:
            api.request(
                "POST",
                "/api/v1/stations/",
                {
                    "identity": identity,
                    "password": password,
                    "ocpp_version": "2.0.1",
                    "security_profile": 1,
                    "evses": 2,
                    "name": f"OCTT {identity}",
                    # ChargeNet answers a Pending boot with the station's heartbeat interval;
                    # TC_B_02 waits that long before it boots again.
                    "heartbeat_interval": HEARTBEAT_INTERVAL,
                },
            )
            print("station created", identity)
        except api.ApiError as exc:
            if exc.status != 400 and exc.status != 409:
                raise
            api.request("POST", f"/api/v1/stations/{identity}/password/", {"password": password})
            api.station_update(
                identity,
                ocpp_version="2.0.1",
                security_profile=1,
                registration_status="Accepted",
                heartbeat_interval=HEARTBEAT_INTERVAL,
            )
            print("station reset", identity)


def _tokens():
    env = os.environ
    group = env.get("GROUP_ID", "")
    master_group = env.get("MASTERPASS_GROUP_ID", "")
    wanted = [
        (env["VALID_ID_TOKEN"], env["VALID_ID_TOKEN_TYPE"], "Accepted", group),
        (env["VALID_ID_TOKEN_2"], env["VALID_ID_TOKEN_TYPE_2"], "Accepted", group),
        (env["VALID_IDTOKEN_IDTOKEN"], env["VALID_IDTOKEN_TYPE"], "Accepted", ""),
        (env["BLOCKED_ID_TOKEN"], env["BLOCKED_ID_TOKEN_TYPE"], "Blocked", ""),
        (env["EXPIRED_ID_TOKEN"], env["EXPIRED_ID_TOKEN_TYPE"], "Expired", ""),
        (env["MASTERPASS_ID_TOKEN"], env["MASTERPASS_ID_TOKEN_TYPE"], "Accepted", master_group),
        (env["LOCAL_AUTH_LIST_ID_TOKEN"], env["LOCAL_AUTH_LIST_ID_TOKEN_TYPE"], "Accepted", ""),
        (env["LOCAL_AUTH_LIST_ID_TOKEN_2"], env["LOCAL_AUTH_LIST_ID_TOKEN_TYPE_2"], "Accepted", ""),
    ]
    for uid, kind, status, parent in wanted:
        body = {"type": kind, "status": status, "parent_id_tag": parent}
        found = api.request("GET", f"/api/v1/id-tokens/?uid={uid}")["results"]
        if found:
            api.request("PATCH", f"/api/v1/id-tokens/{found[0]['id']}/", body)
        else:
            api.request("POST", "/api/v1/id-tokens/", {"uid": uid, **body})
        print("id token", uid, status, parent or "-")


def _boot_once():
    """Boot every station once, as it would have been when installed: ChargeNet sends nothing to a
    station that never booted Accepted, and some cases call the CSMS without booting first."""
    import asyncio
    import base64
    import json

    import websockets

    password = os.environ["BASIC_AUTH_CP_PASSWORD"]
    boot = {"chargingStation": {"model": "CP Model 1.0", "vendorName": "tzi.app"}, "reason": "PowerUp"}

    async def boot_one(identity):
        token = base64.b64encode(f"{identity}:{password}".encode()).decode()
        async with websockets.connect(
            f"{os.environ['CSMS_ADDRESS']}/{identity}",
            subprotocols=["ocpp2.0.1"],
            extra_headers={"Authorization": f"Basic {token}"},
        ) as ws:
            await ws.send(json.dumps([2, "octt-setup-boot", "BootNotification", boot]))
            answer = json.loads(await ws.recv())
            print("booted", identity, answer[2].get("status"))

    for identity in sorted({os.environ[v] for v in STATION_VARS if os.environ.get(v)}):
        asyncio.run(boot_one(identity))


if __name__ == "__main__":
    _stations()
    _tokens()
    _boot_once()
