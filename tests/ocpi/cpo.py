"""A small fake CPO for the eMSP-role tests: an HTTP server in a thread (outside the project, written
from the OCPI 2.2.1 text) that serves versions and credentials, offers its locations and tariffs for
paginated pulls (date_from, Link rel="next"), receives our tokens and our commands, and records
every request it got."""

import base64
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from tests.ocpi.emsp import FakeEmsp


def a_location(location_id: str = "LOC1", *, evses: int = 2, **fields: Any) -> dict:
    return {
        "country_code": "BE", "party_id": "CPX", "id": location_id, "publish": True, "name": f"Grote Markt {location_id}",
        "address": "Grote Markt 1", "city": "Brussel", "country": "BEL",
        "coordinates": {"latitude": "50.846557", "longitude": "4.351697"}, "time_zone": "Europe/Brussels",
        "evses": [
            {"uid": f"{location_id}-E{n}", "evse_id": f"BE*CPX*E{location_id}{n}", "status": "AVAILABLE",
             "connectors": [{"id": "1", "standard": "IEC_62196_T2", "format": "SOCKET", "power_type": "AC_3_PHASE",
                             "max_voltage": 230, "max_amperage": 16, "max_electric_power": 11000,
                             "tariff_ids": ["AC"], "last_updated": "2026-11-01T10:00:00Z"}],
             "last_updated": "2026-11-01T10:00:00Z"}
            for n in range(1, evses + 1)
        ],
        "last_updated": "2026-11-01T10:00:00Z", **fields,
    }  # fmt: skip


def a_tariff(tariff_id: str = "AC", **fields: Any) -> dict:
    return {
        "country_code": "BE", "party_id": "CPX", "id": tariff_id, "currency": "EUR",
        "elements": [{"price_components": [{"type": "ENERGY", "price": 0.45, "step_size": 1}]}],
        "last_updated": "2026-11-01T10:00:00Z", **fields,
    }  # fmt: skip


@dataclass
class FakeCpo(FakeEmsp):
    """The CPO "BE*CPX". `locations`/`tariffs` are what it offers for pulls; `command_answer` is its
    CommandResponse result."""

    token_b: str = "cpo-token-b-0001"
    country_code: str = "BE"
    party_id: str = "CPX"
    locations: list[dict] = field(default_factory=list)
    tariffs: list[dict] = field(default_factory=list)
    command_answer: str = "ACCEPTED"
    page_size: int = 2

    def answer(self, method: str, path: str, headers: Any, body: Any) -> tuple[int, dict, dict]:
        allowed = ("Token " + base64.b64encode(self.token_b.encode()).decode(), "Token " + self.token_b)
        if headers.get("Authorization") not in allowed and not path.endswith(
            ("versions", "2.2.1", "credentials")
        ):
            return 401, self.envelope(status_code=2000), {}
        if path == "/ocpi/versions":
            return 200, self.envelope([{"version": "2.2.1", "url": f"{self.base}/ocpi/2.2.1"}]), {}
        if path == "/ocpi/2.2.1":
            endpoints = [
                {
                    "identifier": "credentials",
                    "role": "RECEIVER",
                    "url": f"{self.base}/ocpi/2.2.1/credentials",
                },
                {"identifier": "locations", "role": "SENDER", "url": f"{self.base}/ocpi/2.2.1/locations"},
                {"identifier": "tariffs", "role": "SENDER", "url": f"{self.base}/ocpi/2.2.1/tariffs"},
                {"identifier": "tokens", "role": "RECEIVER", "url": f"{self.base}/ocpi/2.2.1/tokens"},
                {"identifier": "commands", "role": "RECEIVER", "url": f"{self.base}/ocpi/2.2.1/commands"},
            ]
            return 200, self.envelope({"version": "2.2.1", "endpoints": endpoints}), {}
        if path == "/ocpi/2.2.1/credentials" and method == "POST":
            self.token_c = body["token"]
            return 200, self.envelope(self.credentials()), {}
        if path in ("/ocpi/2.2.1/locations", "/ocpi/2.2.1/tariffs") and method == "GET":
            return self._page(path, self.locations if path.endswith("locations") else self.tariffs)
        if path.startswith("/ocpi/2.2.1/commands/"):
            return 200, self.envelope({"result": self.command_answer, "timeout": 30}), {}
        return 200, self.envelope(), {}

    def _page(self, path: str, items: list[dict]) -> tuple[int, dict, dict]:
        request = self.received[-1]
        query = {k: v[0] for k, v in request.query.items()}
        if "date_from" in query:
            since = datetime.fromisoformat(query["date_from"].replace("Z", "+00:00"))
            items = [
                i for i in items if datetime.fromisoformat(i["last_updated"].replace("Z", "+00:00")) >= since
            ]
        offset = int(query.get("offset", 0))
        page = items[offset : offset + self.page_size]
        headers = {"X-Total-Count": str(len(items)), "X-Limit": str(self.page_size)}
        if offset + self.page_size < len(items):
            following = {**query, "offset": str(offset + self.page_size)}
            headers["Link"] = f'<{self.base}{path}?{urlencode(following)}>; rel="next"'
        return 200, self.envelope(page), headers

    def credentials(self) -> dict:
        return {
            "token": self.token_b,
            "url": self.versions_url,
            "roles": [{"role": "CPO", "country_code": self.country_code, "party_id": self.party_id,
                       "business_details": {"name": "Example CPO"}}],
        }  # fmt: skip

    def now(self) -> str:
        return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def query_of(self, url: str) -> dict[str, list[str]]:
        return parse_qs(urlsplit(url).query)
