"""A small client for ChargeNet's REST API, shared by the adapter's trigger, operator and setup.

Reads CHARGENET_URL (e.g. http://127.0.0.1:8000) and CHARGENET_API_TOKEN (an operate key of an
operator, `manage.py create_api_token operator --role operate`). Standard library only, so it runs
in the conformance suite's own virtual environment.
"""

import json
import os
import re
import urllib.error
import urllib.request

BASE_URL = os.environ.get("CHARGENET_URL", "http://127.0.0.1:8000").rstrip("/")
API_TOKEN = os.environ.get("CHARGENET_API_TOKEN", "")
# Commands for an offline station wait in ChargeNet's queue; a conformance run must not leave one
# behind for the next case, so each expires quickly.
COMMAND_EXPIRES_IN = int(os.environ.get("OCTT_COMMAND_EXPIRES_IN", "20"))


class ApiError(Exception):
    def __init__(self, status, body):
        super().__init__(f"HTTP {status}: {body}")
        self.status = status
        self.body = body


def request(method, path, body=None):
    """One API request; returns the decoded JSON (None for an empty body), raises ApiError."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(
        f"{BASE_URL}{path}",
        data=data,
        method=method,
        headers={"Authorization": f"Token {API_TOKEN}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            raw = resp.read()
    except urllib.error.HTTPError as exc:
        raise ApiError(exc.code, exc.read().decode(errors="replace")) from None
    return json.loads(raw) if raw else None


def camel(key):
    head, *rest = key.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def camelize(value):
    """The suite sometimes spells payload keys the Python way; OCPP JSON is camelCase."""
    if isinstance(value, dict):
        return {camel(k): camelize(v) for k, v in value.items()}
    if isinstance(value, list):
        return [camelize(v) for v in value]
    return value


def action_name(action):
    """'request-start-transaction' or 'RequestStartTransaction' -> 'RequestStartTransaction'."""
    if re.fullmatch(r"[A-Z][A-Za-z0-9]*", action):
        return action
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[-_]", action))


def command(station_id, action, payload=None, wait=None):
    """Queue an OCPP call for the station through the commands endpoint; returns the command."""
    body = {
        "action": action_name(action),
        "payload": camelize(payload or {}),
        "expires_in": COMMAND_EXPIRES_IN,
    }
    if wait:
        body["wait"] = wait
    return request("POST", f"/api/v1/stations/{station_id}/commands/", body)


def station(station_id):
    return request("GET", f"/api/v1/stations/{station_id}/")


def station_update(station_id, **fields):
    return request("PATCH", f"/api/v1/stations/{station_id}/", fields)


def messages_in(station_id, after_iso, action=None):
    query = f"direction=in&after={after_iso}" + (f"&action={action}" if action else "")
    return request("GET", f"/api/v1/stations/{station_id}/messages/?{query}")["results"]
