"""A small fake eMSP for the OCPI tests: an HTTP server in a thread that serves versions, version
details and credentials, receives pushes (locations, sessions, CDRs, tariffs), command results and
real-time authorization requests, and records every request it got. It is a stand-in for a partner
platform (outside the project), written from the OCPI 2.2.1 text, not from ChargeNet's code."""

import base64
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit
from urllib.request import Request, urlopen

from tests.support import free_port


@dataclass
class Received:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # names in lower case (HTTP header names are case-insensitive)
    body: Any


def _open_gate() -> threading.Event:
    gate = threading.Event()
    gate.set()
    return gate


def _base64_token(header: str) -> bool:
    """Whether an Authorization header carries a base64-encoded token."""
    try:
        return base64.b64decode(header.removeprefix("Token "), validate=True).decode("ascii").isprintable()
    except ValueError:
        return False


@dataclass
class FakeEmsp:
    """The eMSP "EU*EMS". `token_b` is what ChargeNet must send; `authorize` answers real-time
    authorization per uid (an AuthorizationInfo dict, or None for an unknown token)."""

    token_b: str = "emsp-token-b-" + uuid.uuid4().hex[:12]
    country_code: str = "DE"
    party_id: str = "EMS"
    port: int = field(default_factory=free_port)
    received: list[Received] = field(default_factory=list)
    authorize: dict[str, dict | None] = field(default_factory=dict)
    down: bool = False  # answer every push with 503 (a partner that is down)
    raw_tokens_only: bool = False  # refuse a base64-encoded token with 401 (many 2.1.1 and 2.2 peers)
    versions_offered: tuple[str, ...] = ("2.2.1",)
    token_c: str = ""  # what ChargeNet gave us to call it with
    cpo_endpoints: dict[str, str] = field(default_factory=dict)
    # While cleared, real-time authorization answers wait (at most 30 s) until the test sets it.
    authorize_gate: threading.Event = field(default_factory=lambda: _open_gate())

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def versions_url(self) -> str:
        return f"{self.base}/ocpi/versions"

    def start(self) -> "FakeEmsp":
        emsp = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                body = json.loads(raw) if raw else None
                emsp.received.append(
                    Received(
                        self.command,
                        parts.path,
                        parse_qs(parts.query),
                        {k.lower(): v for k, v in self.headers.items()},
                        body,
                    )
                )
                status, payload, headers = emsp.answer(self.command, parts.path, self.headers, body)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # --- what the eMSP answers --------------------------------------------------------------

    def envelope(self, data: Any = None, status_code: int = 1000) -> dict:
        body: dict = {
            "status_code": status_code,
            "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        if data is not None:
            body["data"] = data
        return body

    def answer(self, method: str, path: str, headers: Any, body: Any) -> tuple[int, dict, dict]:
        if self.raw_tokens_only and _base64_token(headers.get("Authorization", "")):
            return 401, self.envelope(status_code=2000), {}
        expected = "Token " + base64.b64encode(self.token_b.encode()).decode()
        if path.startswith("/ocpi/") and headers.get("Authorization") not in (
            expected,
            "Token " + self.token_b,
        ):
            if (
                not path.endswith("/credentials")
                and not path.endswith("versions")
                and not path.endswith(("2.2.1", "2.1.1"))
            ):
                return 401, self.envelope(status_code=2000), {}
        if path == "/ocpi/versions":
            return (
                200,
                self.envelope(
                    [{"version": v, "url": f"{self.base}/ocpi/{v}"} for v in self.versions_offered]
                ),
                {},
            )
        if path == "/ocpi/2.2.1":
            endpoints = [
                {
                    "identifier": "credentials",
                    "role": "RECEIVER",
                    "url": f"{self.base}/ocpi/2.2.1/credentials",
                },
                {"identifier": "locations", "role": "RECEIVER", "url": f"{self.base}/ocpi/2.2.1/locations"},
                {"identifier": "sessions", "role": "RECEIVER", "url": f"{self.base}/ocpi/2.2.1/sessions"},
                {"identifier": "cdrs", "role": "RECEIVER", "url": f"{self.base}/ocpi/2.2.1/cdrs"},
                {"identifier": "tariffs", "role": "RECEIVER", "url": f"{self.base}/ocpi/2.2.1/tariffs"},
                {"identifier": "tokens", "role": "SENDER", "url": f"{self.base}/ocpi/2.2.1/tokens"},
            ]
            return 200, self.envelope({"version": "2.2.1", "endpoints": endpoints}), {}
        if path == "/ocpi/2.1.1" and "2.1.1" in self.versions_offered:
            # OCPI 2.1.1: endpoints without roles.
            endpoints = [
                {"identifier": m, "url": f"{self.base}/ocpi/2.1.1/{m}"}
                for m in ("credentials", "locations", "sessions", "cdrs", "tariffs", "tokens", "commands")
            ]
            return 200, self.envelope({"version": "2.1.1", "endpoints": endpoints}), {}
        if path in ("/ocpi/2.2.1/credentials", "/ocpi/2.1.1/credentials") and method == "POST":
            # ChargeNet registers with us: keep its token, answer with ours.
            self.token_c = body["token"]
            return 200, self.envelope(self.credentials(path.split("/")[2])), {}
        if path.startswith("/ocpi/2.1.1/commands/"):
            # A 2.1.1 CPO's CommandResponse (no timeout).
            return 200, self.envelope({"result": "ACCEPTED"}), {}
        if path.endswith("/authorize"):
            self.authorize_gate.wait(timeout=30)
            uid = path.split("/")[-2]
            info = self.authorize.get(uid)
            if info is None:
                return 404, self.envelope(status_code=2004), {}
            return 200, self.envelope(info), {}
        if self.down:
            return 503, {"message": "down for maintenance"}, {}
        if path in ("/ocpi/2.2.1/cdrs", "/ocpi/2.1.1/cdrs") and method == "POST":
            return 201, self.envelope(), {"Location": f"{self.base}{path}/{body['id']}"}
        return 200, self.envelope(), {}

    def credentials(self, version: str = "2.2.1") -> dict:
        if version == "2.1.1":
            return {
                "token": self.token_b,
                "url": self.versions_url,
                "business_details": {"name": "Example eMSP"},
                "country_code": self.country_code,
                "party_id": self.party_id,
            }
        return {
            "token": self.token_b,
            "url": self.versions_url,
            "roles": [
                {
                    "role": "EMSP",
                    "country_code": self.country_code,
                    "party_id": self.party_id,
                    "business_details": {"name": "Example eMSP"},
                }
            ],
        }

    # --- the eMSP as a client of ChargeNet ------------------------------------------------------

    def call(
        self, method: str, url: str, token: str, body: Any = None, headers: dict | None = None
    ) -> tuple[int, dict, Any]:
        """Call ChargeNet; returns HTTP status, the parsed body and the answer's headers."""
        all_headers = {
            "Authorization": "Token " + base64.b64encode(token.encode()).decode(),
            **(headers or {}),
        }
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            all_headers["Content-Type"] = "application/json"
        request = Request(url, data=data, method=method, headers=all_headers)
        try:
            with urlopen(request, timeout=30) as response:
                # The headers as urllib gives them: looked up without regard to case (uvicorn sends
                # them in lower case).
                return response.status, json.loads(response.read()), response.headers
        except Exception as exc:  # urllib.error.HTTPError carries the answer
            if hasattr(exc, "code"):
                return exc.code, json.loads(exc.read() or b"{}"), exc.headers
            raise

    def register_with(self, versions_url: str, token_a: str) -> dict:
        """The eMSP's side of the handshake: versions, details, then POST our credentials (token B)."""
        status, versions, _ = self.call("GET", versions_url, token_a)
        assert status == 200, versions
        details_url = next(v["url"] for v in versions["data"] if v["version"] == "2.2.1")
        status, details, _ = self.call("GET", details_url, token_a)
        assert status == 200, details
        # A platform with both roles lists a module twice (OCPI 2.2.1: endpoints are told apart by
        # role): as an eMSP we call the CPO's senders and its tokens/commands receivers.
        ours = {"tokens": "RECEIVER", "commands": "RECEIVER"}
        self.cpo_endpoints = {
            e["identifier"]: e["url"]
            for e in details["data"]["endpoints"]
            if e.get("role") == ours.get(e["identifier"], "SENDER") or e["identifier"] == "credentials"
        }
        status, answer, _ = self.call("POST", self.cpo_endpoints["credentials"], token_a, self.credentials())
        assert status == 200 and answer["status_code"] == 1000, answer
        self.token_c = answer["data"]["token"]
        return answer["data"]

    def pushes(self, module: str, version: str = "2.2.1") -> list[Received]:
        return [r for r in self.received if r.path.startswith(f"/ocpi/{version}/{module}")]

    def wait_for(self, predicate, timeout: float = 20.0, what: str = "a request") -> Received:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for request in list(self.received):
                if predicate(request):
                    return request
            time.sleep(0.05)
        raise AssertionError(f"the eMSP did not receive {what} within {timeout} s")
