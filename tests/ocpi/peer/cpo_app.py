"""A CPO built on the same independent OCPI library as emsp_app.py (PyPI `extrawest-ocpi`, module
`py_ocpi`), run in its own virtual environment with uvicorn. It offers its locations (PEER_LOCATIONS,
JSON) for pulls, receives tokens and commands (answering each command ACCEPTED, then posting the
CommandResult to the response_url), and pushes a CDR (PEER_CDRS, JSON) through the library's push
endpoint when asked. GET /store shows what it received.

Environment: PEER_TOKEN_A (the token A it issues), PEER_PORT, COUNTRY_CODE/PARTY_ID (the library's).
"""

import json
import os
import uuid

from py_ocpi import get_application
from py_ocpi.core.authentication.authenticator import Authenticator
from py_ocpi.core.crud import Crud
from py_ocpi.core.endpoints.v_2_2_1 import cpo as cpo_endpoints
from py_ocpi.core.endpoints.v_2_2_1.utils import cpo_generator
from py_ocpi.core.enums import Action, ModuleID, RoleEnum
from py_ocpi.modules.versions.enums import VersionNumber
from py_ocpi.modules.versions.v_2_2_1.schemas import InterfaceRole

# The library serves the CPO's commands receiver (/ocpi/cpo/2.2.1/commands) but leaves it out of its
# version details; advertise it, as a CPO deploying the library would have to.
cpo_endpoints.ENDPOINTS_LIST[ModuleID.commands] = cpo_generator.generate_endpoint(
    ModuleID.commands, InterfaceRole.receiver
)

TOKEN_A = os.environ["PEER_TOKEN_A"]
VALID_TOKENS_C: list[str] = []
LOCATIONS = {item["id"].lower(): item for item in json.loads(os.environ.get("PEER_LOCATIONS", "[]"))}
CDRS = {item["id"].lower(): item for item in json.loads(os.environ.get("PEER_CDRS", "[]"))}
STORE: dict[str, dict] = {"credentials": {}, "tokens": {}, "commands": {}}


class TokenList(Authenticator):
    @classmethod
    async def get_valid_token_c(cls) -> list[str]:
        return VALID_TOKENS_C

    @classmethod
    async def get_valid_token_a(cls) -> list[str]:
        return [TOKEN_A]


class MemoryCrud(Crud):
    @classmethod
    async def get(cls, module, role, id, *args, **kwargs):
        if module == ModuleID.locations:
            return LOCATIONS.get(str(id).lower())
        if module == ModuleID.cdrs:
            return CDRS.get(str(id).lower())
        if module == ModuleID.commands:
            return {"result": "ACCEPTED"}  # the charge point took it at once
        if module == ModuleID.credentials_and_registration:
            return STORE["credentials"].get("ours")
        return STORE.get(module.value, {}).get(str(id).lower())

    @classmethod
    async def list(cls, module, role, filters, *args, **kwargs):
        items = list(LOCATIONS.values()) if module == ModuleID.locations else []
        offset, limit = filters.get("offset", 0), filters.get("limit") or 50
        return items[offset : offset + limit], len(items), offset + limit >= len(items)

    @classmethod
    async def create(cls, module, role, data, *args, **kwargs):
        if module == ModuleID.credentials_and_registration:
            token_c = "peer-cpo-" + uuid.uuid4().hex
            VALID_TOKENS_C.append(token_c)
            STORE["credentials"]["theirs"] = data
            ours = {
                "token": token_c,
                "url": f"http://127.0.0.1:{os.environ['PEER_PORT']}/ocpi/versions",
                "roles": [{"role": "CPO", "business_details": {"name": "Independent CPO"},
                           "party_id": os.environ["PARTY_ID"], "country_code": os.environ["COUNTRY_CODE"]}],
            }  # fmt: skip
            STORE["credentials"]["ours"] = ours
            return ours
        STORE[module.value][str(data.get("uid") or data.get("id")).lower()] = data
        return data

    @classmethod
    async def update(cls, module, role, data, id, *args, **kwargs):
        STORE[module.value][str(id).lower()] = data
        return data

    @classmethod
    async def delete(cls, module, role, id, *args, **kwargs):
        STORE.get(module.value, {}).pop(str(id).lower(), None)

    @classmethod
    async def do(cls, module, role, action, *args, data=None, **kwargs):
        if action == Action.send_command:
            body = args[0] if args else data
            STORE["commands"][str(len(STORE["commands"]))] = {
                "command": kwargs.get("command"),
                **(body or {}),
            }
            return {"result": "ACCEPTED", "timeout": 30}
        if action == Action.get_client_token:
            return STORE["credentials"]["theirs"]["credentials"]["token"]
        return None


app = get_application(
    version_numbers=[VersionNumber.v_2_2_1],
    roles=[RoleEnum.cpo],
    crud=MemoryCrud,
    modules=[
        ModuleID.credentials_and_registration,
        ModuleID.locations,
        ModuleID.cdrs,
        ModuleID.tokens,
        ModuleID.commands,
    ],  # fmt: skip
    authenticator=TokenList,
    http_push=True,
)


@app.get("/store")
async def store() -> dict:
    return STORE
