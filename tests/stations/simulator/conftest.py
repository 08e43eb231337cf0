"""Fixtures: a tiny CSMS on a free port, a simulated station connected to it, a file server for
firmware downloads and diagnostics uploads."""

import http.server
import threading

import pytest

from stations.simulator import SimulatedStation
from tests.stations.simulator.csms import TinyCsms

PASSWORD = "sim-password-0001-abcdef"


@pytest.fixture
async def csms():
    async with TinyCsms({f"SIM-{n:03d}": PASSWORD for n in range(1, 4)}) as server:
        yield server


@pytest.fixture
async def station(csms):
    station = SimulatedStation(
        url=csms.url, identity="SIM-001", password=PASSWORD, meter_interval=0.05, response_timeout=5
    )
    station.step_delay = 0
    station.reboot_delay = 0
    station.time_scale = 3600  # one second charges for an hour, so every sample adds energy
    await station.connect()
    await station.boot()
    yield station
    await station.close()


class FileServer(http.server.BaseHTTPRequestHandler):
    """Serves a firmware image on GET and takes uploads on POST (what a CSMS's file endpoints do)."""

    uploads: list[bytes] = []

    def do_GET(self):  # noqa: N802 - the stdlib's naming
        self.send_response(200)
        self.send_header("Content-Length", "8")
        self.end_headers()
        self.wfile.write(b"FIRMWARE")

    def do_POST(self):  # noqa: N802
        self.uploads.append(self.rfile.read(int(self.headers["Content-Length"])))
        self.send_response(201)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def file_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FileServer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    FileServer.uploads = []
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
