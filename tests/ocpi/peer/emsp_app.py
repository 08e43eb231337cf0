"""An eMSP built on an independent OCPI library (PyPI `extrawest-ocpi`, module `py_ocpi`), run in
its own virtual environment with uvicorn. It keeps what ChargeNet pushes in memory and shows it at
GET /store, so the tests can see what an independent implementation received and accepted.

Environment: PEER_TOKEN_A (the token A it issues to ChargeNet), PEER_TOKENS (JSON list of its
customers' Token objects, for real-time authorization), PEER_VERSION (the one OCPI version it
speaks: 2.2.1, the default, or 2.1.1).
"""

import json
import os
import uuid

from py_ocpi import get_application
from py_ocpi.core.authentication.authenticator import Authenticator
from py_ocpi.core.crud import Crud
from py_ocpi.core.enums import Action, ModuleID, RoleEnum
from py_ocpi.modules.versions.enums import VersionNumber

TOKEN_A = os.environ["PEER_TOKEN_A"]
VERSION = VersionNumber(os.environ.get("PEER_VERSION", "2.2.1"))
VALID_TOKENS_C: list[str] = []
STORE: dict[str, dict] = {"credentials": {}, "locations": {}, "sessions": {}, "cdrs": {}, "tariffs": {},
                          "commands": {}}  # fmt: skip
CUSTOMERS = {t["uid"].lower(): t for t in json.loads(os.environ.get("PEER_TOKENS", "[]"))}


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
        if module == ModuleID.tokens:
            return CUSTOMERS.get(str(id).lower())
        if module == ModuleID.credentials_and_registration:
            return STORE["credentials"].get("ours")
        return STORE.get(module.value, {}).get(str(id).lower())

    @classmethod
    async def list(cls, module, role, filters, *args, **kwargs):
        items = list(STORE.get(module.value, {}).values())
        return items, len(items), True

    @classmethod
    async def create(cls, module, role, data, *args, **kwargs):
        if module == ModuleID.credentials_and_registration:
            # ChargeNet registered: keep its credentials, answer with a token for it to call us with.
            token_c = "peer-" + uuid.uuid4().hex
            VALID_TOKENS_C.append(token_c)
            STORE["credentials"]["theirs"] = data
            role = {"business_details": {"name": "Independent eMSP"}, "party_id": "IND", "country_code": "BE"}
            url = f"http://127.0.0.1:{os.environ['PEER_PORT']}/ocpi/versions"
            ours = (
                {"token": token_c, "url": url, **role}
                if VERSION == VersionNumber.v_2_1_1
                else {"token": token_c, "url": url, "roles": [{"role": "EMSP", **role}]}
            )
            STORE["credentials"]["ours"] = ours
            return ours
        STORE[module.value][str(data["id"]).lower()] = data
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
        if action == Action.authorize_token:
            if VERSION == VersionNumber.v_2_1_1:  # 2.1.1 AuthorizationInfo: no token, no reference
                return {"allowed": "ALLOWED"}
            token = CUSTOMERS[str(data["token_uid"]).lower()]
            return {"allowed": "ALLOWED", "token": token, "authorization_reference": "IND-REF-1"}
        return None


app = get_application(
    version_numbers=[VERSION],
    roles=[RoleEnum.emsp],
    crud=MemoryCrud,
    modules=[
        ModuleID.credentials_and_registration,
        ModuleID.locations,
        ModuleID.sessions,
        ModuleID.cdrs,
        ModuleID.tariffs,
        ModuleID.tokens,
        ModuleID.commands,
    ],  # fmt: skip
    authenticator=TokenList,
)


@app.get("/store")
async def store() -> dict:
    return STORE
