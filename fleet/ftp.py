"""The FTP server for diagnostics and log uploads (many OCPP 1.6 chargers upload only by FTP).

Each GetDiagnostics/GetLog request carries one-time credentials (`diagnostics_collect`); a station
logs in with them, STOREs its file into an empty home of its own, and the file goes to the request
through `diagnostics_upload_receive`, which uses the credentials up. Uploads past
FLEET_UPLOAD_MAX_BYTES are cut off. Run by `manage.py fleet_ftp` (which `manage.py run` starts).
"""

import logging
import os
import shutil
import tempfile
from typing import Any

from django.conf import settings
from django.core.files import File
from django.db import close_old_connections
from pyftpdlib.authorizers import AuthenticationFailed, DummyAuthorizer
from pyftpdlib.handlers import DTPHandler, FTPHandler
from pyftpdlib.servers import FTPServer

from fleet import services

logger = logging.getLogger(__name__)


class OneTimeAuthorizer(DummyAuthorizer):
    """Accepts only the one-time credentials of an open diagnostics request; each login gets a fresh,
    empty home directory where it may change directory, list and store (no reading, no deleting)."""

    def __init__(self, root: str) -> None:
        super().__init__()
        self.root = root

    def validate_authentication(self, username: str, password: str, handler: Any) -> None:
        close_old_connections()
        try:
            request = services.diagnostics_ftp_login(user=username, secret=password)
        except services.UploadRefused as exc:
            raise AuthenticationFailed(str(exc)) from None
        home = tempfile.mkdtemp(prefix=f"{username}-", dir=self.root)
        if self.has_user(username):
            self.remove_user(username)
        self.add_user(username, "", home, perm="elw")
        handler.chargenet_upload = (request.uuid, password, home)


class LimitedDTPHandler(DTPHandler):
    """Cuts an upload off once it passes FLEET_UPLOAD_MAX_BYTES (the file is then discarded)."""

    def handle_read(self) -> None:
        super().handle_read()
        if self.receive and self.tot_bytes_received > settings.FLEET_UPLOAD_MAX_BYTES:
            self.close()


class UploadHandler(FTPHandler):
    """Hands each stored file to its diagnostics request."""

    dtp_handler = LimitedDTPHandler
    chargenet_upload: tuple[Any, str, str] | None = None

    def on_file_received(self, file: str) -> None:
        if self.chargenet_upload is None:
            return
        request_uuid, secret, _home = self.chargenet_upload
        close_old_connections()
        try:
            with open(file, "rb") as handle:
                services.diagnostics_upload_receive(
                    request_uuid=request_uuid,
                    secret=secret,
                    file=File(handle),
                    file_name=os.path.basename(file),
                    size=os.path.getsize(file),
                )
        except services.FleetError as exc:
            logger.warning("FTP upload %s refused: %s", os.path.basename(file), exc)
        finally:
            os.remove(file)

    def on_incomplete_file_received(self, file: str) -> None:
        os.remove(file)

    def on_disconnect(self) -> None:
        if self.chargenet_upload is not None:
            shutil.rmtree(self.chargenet_upload[2], ignore_errors=True)
            if self.username and self.authorizer.has_user(self.username):
                self.authorizer.remove_user(self.username)


def ftp_server(*, host: str, port: int, root: str) -> FTPServer:
    """An FTP server for one-time diagnostics uploads on host:port, keeping transfers under `root`."""
    os.makedirs(root, exist_ok=True)
    attributes: dict[str, Any] = {
        "authorizer": OneTimeAuthorizer(root),
        "banner": "ChargeNet diagnostics upload",
        "permit_foreign_addresses": False,
    }
    ports = settings.FLEET_FTP_PASSIVE_PORTS.strip()
    if ports:
        first, _, last = ports.partition("-")
        attributes["passive_ports"] = list(range(int(first), int(last or first) + 1))
    if settings.FLEET_FTP_MASQUERADE_ADDRESS:
        attributes["masquerade_address"] = settings.FLEET_FTP_MASQUERADE_ADDRESS
    return FTPServer((host, port), type("ChargeNetUploadHandler", (UploadHandler,), attributes))
