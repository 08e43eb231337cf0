import signal
import sys

from django.conf import settings
from django.core.management.base import BaseCommand

from fleet.ftp import ftp_server


class Command(BaseCommand):
    help = "Run the FTP server that receives diagnostics and log uploads (one-time credentials)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=settings.FLEET_FTP_HOST)
        parser.add_argument("--port", type=int, default=settings.FLEET_FTP_PORT)

    def handle(self, *args, **options):
        host, port = options["host"], options["port"]
        try:
            server = ftp_server(host=host, port=port, root=str(settings.DATA_DIR / "ftp-incoming"))
        except OSError as exc:
            # Under `manage.py run` a busy port must not stop the whole system (the supervisor gives
            # up on a child that keeps exiting): say so and stay idle until stopped.
            self.stderr.write(
                f"FTP uploads are off: cannot listen on {host}:{port} ({exc}). Set FLEET_FTP_PORT, "
                "or FLEET_FTP_ENABLED=false."
            )
            signal.sigwait({signal.SIGTERM, signal.SIGINT})
            sys.exit(0)
        self.stdout.write(f"FTP uploads on {host}:{port}\n")
        self.stdout.flush()
        try:
            server.serve_forever(handle_exit=True)
        finally:
            server.close_all()
