"""Replacement for the suite's `2.0.1/trigger.py`: every trigger goes through ChargeNet's REST API.

The suite expects a CSMS-side "trigger server"; ChargeNet needs none: each helper turns into one
call of the public API an integrator would use (the commands endpoint for OCPP calls, the station
endpoints for settings). Copy this file over `2.0.1/trigger.py` of the suite checkout.
"""

import asyncio
import functools
import secrets

import chargenet_client as api


async def _run(fn, *args, **kwargs):
    loop = asyncio.get_event_loop()
    return await loop.run_in_executor(None, functools.partial(fn, *args, **kwargs))


async def trigger_v201(station_id, action, body=None):
    """Ask ChargeNet to send the OCPP call `action` (kebab-case or CamelCase) with `body`."""
    special = _SPECIAL.get(action)
    if special is not None:
        return await special(station_id, body or {})
    return await _run(api.command, station_id, action, body or {})


async def send_call(station_id, action, body=None):
    return await _run(api.command, station_id, action, body or {})


async def set_security_profile(station_id, security_profile):
    return await _run(api.station_update, station_id, security_profile=int(security_profile))


async def set_basic_auth_password(station_id, password):
    return await _run(api.request, "POST", f"/api/v1/stations/{station_id}/password/", {"password": password})


async def set_pending_boot(station_id, pending=True):
    """ChargeNet answers a station's boot with its registration status: Pending until accepted."""
    status = "Pending" if pending else "Accepted"
    return await _run(api.station_update, station_id, registration_status=status)


async def get_variables(station_id, get_variable_data):
    return await send_call(station_id, "GetVariables", {"getVariableData": get_variable_data})


async def set_variables(station_id, set_variable_data):
    return await send_call(station_id, "SetVariables", {"setVariableData": set_variable_data})


async def get_base_report(station_id, report_base, request_id=None):
    body = {"reportBase": report_base}
    if request_id is not None:
        body["requestId"] = request_id
    return await send_call(station_id, "GetBaseReport", _with_request_id(body))


async def reset(station_id, reset_type="Immediate", evse_id=None):
    body = {"type": reset_type}
    if evse_id is not None:
        body["evseId"] = evse_id
    return await send_call(station_id, "Reset", body)


async def create_token(id_token, status="Accepted", token_type="ISO14443", group_id=None):
    body = {"uid": id_token, "type": token_type, "status": status}
    if group_id:
        body["parent_id_tag"] = group_id
    try:
        return await _run(api.request, "POST", "/api/v1/id-tokens/", body)
    except api.ApiError:
        found = await _run(api.request, "GET", f"/api/v1/id-tokens/?uid={id_token}")
        pk = found["results"][0]["id"]
        return await _run(api.request, "PATCH", f"/api/v1/id-tokens/{pk}/", {"status": status})


_request_ids = iter(range(1000, 10**9))


def _with_request_id(body):
    """Calls whose requestId the operator would leave to the CSMS: give one when missing."""
    body.setdefault("requestId", next(_request_ids))
    return body


async def _update_basic_auth_password(station_id, body):
    # The operator sets a new password the OCPP way: SetVariables(SecurityCtrlr.BasicAuthPassword);
    # ChargeNet stores it once the station answers Accepted.
    # Without one in the body the operator lets ChargeNet's rule choose: 24 random characters.
    password = body.get("password") or body.get("newPassword") or secrets.token_urlsafe(18)
    item = {
        "component": {"name": "SecurityCtrlr"},
        "variable": {"name": "BasicAuthPassword"},
        "attributeValue": password,
    }
    return await set_variables(station_id, [item])


_SPECIAL = {
    "update-basic-auth-password": _update_basic_auth_password,
}
