"""What the simulated stations of both OCPP versions share for fleet operations: a firmware update
(download by HTTP, the status steps, the reboot into the new version), file uploads (HTTP or FTP),
and certificate hash data. `SimulatedStation` (1.6) and `Simulated201Station` mix in `FleetOperations`
and send the statuses in their own version's messages.

Like the rest of the simulator it imports nothing from Django.
"""

import asyncio
import ftplib
import hashlib
import io
import logging
import random
import urllib.request
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlsplit

logger = logging.getLogger("stations.simulator")


class FleetOperations:
    """Firmware updates and file uploads; the station class supplies the attributes below, `reboot`
    and `_diagnostics_content`."""

    identity: str
    rng: random.Random
    step_delay: float
    firmware_version: str
    firmware_status: str
    # Shares (0..1) of firmware downloads/installs and of uploads that fail, the images fetched and the files sent.
    firmware_download_failure_rate: float
    firmware_install_failure_rate: float
    upload_failure_rate: float
    firmware_downloads: list[bytes]
    uploads: list[tuple[str, str]]  # (location without credentials, file name)

    async def reboot(self, reason: str = "Reboot") -> None:
        raise NotImplementedError

    def _diagnostics_content(self) -> bytes:
        raise NotImplementedError

    def _firmware_steps(
        self,
        retrieve: datetime | None,
        send_status: Callable[[str], Awaitable[Any]],
        location: str = "",
        *,
        verified: bool = False,
    ) -> Callable[[], Awaitable[None]]:
        """The update as a coroutine function: wait for the retrieve date, Downloading, Downloaded,
        (SignatureVerified for a signed image), Installing, Installed, then a reboot into the new
        version. A failed download or install ends with DownloadFailed / InstallationFailed."""

        async def steps() -> None:
            if retrieve is not None:
                wait = (retrieve - datetime.now(UTC)).total_seconds()
                if wait > 0:
                    await asyncio.sleep(min(wait, 3600))
            await asyncio.sleep(self.step_delay)
            await send_status("Downloading")
            version = await self._firmware_download(location)
            if version is None:
                await send_status("DownloadFailed")
                self.firmware_status = "Idle"
                return
            for status in ("Downloaded", "SignatureVerified", "Installing"):
                if status == "SignatureVerified" and not verified:
                    continue
                await asyncio.sleep(self.step_delay)
                await send_status(status)
            await asyncio.sleep(self.step_delay)
            if self.rng.random() < self.firmware_install_failure_rate:
                await send_status("InstallationFailed")
                self.firmware_status = "Idle"
                return
            await send_status("Installed")
            self.firmware_status = "Idle"
            if version != self.firmware_version:
                # A charger runs the new firmware after a restart and reports it in BootNotification.
                self.firmware_version = version
                await self.reboot("FirmwareUpdate")

        return steps

    async def _firmware_download(self, location: str) -> str | None:
        """Fetch the image by HTTP(S); the version it carries (the X-Firmware-Version header, else
        the station's own), or None when the download failed or a simulated failure was drawn."""
        if self.rng.random() < self.firmware_download_failure_rate:
            return None
        if not location.startswith(("http://", "https://")):
            return self.firmware_version if not location else None
        try:
            body, version = await asyncio.to_thread(_http_download, location)
        except OSError as exc:
            logger.info("%s: firmware download failed: %r", self.identity, exc)
            return None
        self.firmware_downloads.append(body)
        return version or self.firmware_version

    async def _upload_file(self, location: str, name: str) -> bool:
        """Upload a generated diagnostics/log file to `location`: HTTP(S) as a multipart POST, or FTP
        (credentials in the URL) with STOR. True when the server took it."""
        if not location or self.rng.random() < self.upload_failure_rate:
            return False
        try:
            await asyncio.to_thread(_upload, location, name, self._diagnostics_content())
        except (OSError, EOFError, ValueError) as exc:
            logger.info("%s: upload to %s failed: %r", self.identity, location.split("@")[-1], exc)
            return False
        self.uploads.append((location.split("@")[-1], name))
        return True


def certificate_hash_data(pem: str) -> dict[str, str]:
    """Hash data for an installed certificate, derived from its PEM text (nothing is validated)."""
    digest = hashlib.sha256(pem.encode()).hexdigest()
    return {
        "hash_algorithm": "SHA256",
        "issuer_name_hash": digest[:64],
        "issuer_key_hash": digest[:64],
        "serial_number": digest[:20],
    }


def _http_download(url: str) -> tuple[bytes, str]:
    """GET `url`; the body and the X-Firmware-Version header (blank when absent)."""
    with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 - the CSMS's own URL
        return response.read(), response.headers.get("X-Firmware-Version", "")


def _upload(location: str, name: str, content: bytes) -> None:
    """Send `content` as file `name` to an HTTP(S) location (multipart POST) or an FTP one (STOR)."""
    parts = urlsplit(location)
    if parts.scheme == "ftp":
        with ftplib.FTP() as ftp:
            ftp.connect(parts.hostname or "127.0.0.1", parts.port or 21, timeout=30)
            ftp.login(unquote(parts.username or "anonymous"), unquote(parts.password or ""))
            if parts.path.strip("/"):
                ftp.cwd(parts.path)
            ftp.storbinary(f"STOR {name}", io.BytesIO(content))
        return
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"cannot upload to {parts.scheme!r}")
    boundary = f"----chargenet{random.getrandbits(64):x}"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    request = urllib.request.Request(
        location,
        data=body,
        method="POST",
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - the CSMS's own URL
        response.read()
