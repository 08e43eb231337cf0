"""Start and supervise every ChargeNet process: embedded Redis, the ASGI server (WEB_PROCESSES worker
processes on one port), Celery worker and beat.

A child that dies (the embedded Redis too: it keeps its queue in an append-only file and comes back
with it) is reported and restarted (at most RESTART_LIMIT times within RESTART_WINDOW
seconds, then everything stops with a non-zero exit). Ctrl-C or SIGTERM stops every child, waits
for it, and removes the embedded Redis socket.
"""

import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from chargenet import embedded
from chargenet.demo import DEMO_DRIVER, DEMO_OPERATOR, demo_seed
from chargenet.web_server import listening_sockets, web_server_argv

RESTART_LIMIT = 5
RESTART_WINDOW = 60.0
STOP_TIMEOUT = 15.0


def _die_with_parent() -> None:
    """Ask the kernel to SIGTERM this child if the supervisor dies without cleaning up (Linux)."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass
    os.setpgrp()  # Ctrl-C reaches the supervisor only; it stops the children in order


@dataclass
class Child:
    name: str
    argv: list[str]
    process: subprocess.Popen | None = None
    restarts: list[float] = field(default_factory=list)
    # Run before every (re)start, and after it to wait until the child serves (the embedded Redis).
    prepare: Callable[[], None] | None = None
    ready: Callable[[subprocess.Popen], None] | None = None
    quiet: bool = False
    pass_fds: tuple[int, ...] = ()

    def start(self) -> None:
        if self.prepare is not None:
            self.prepare()
        self.process = subprocess.Popen(
            self.argv,
            preexec_fn=_die_with_parent,
            stdout=subprocess.DEVNULL if self.quiet else None,
            pass_fds=self.pass_fds,
        )
        if self.ready is not None:
            self.ready(self.process)


class Command(BaseCommand):
    help = "Run the whole ChargeNet system (ASGI server, Celery worker and beat, embedded Redis)."

    def add_arguments(self, parser):
        parser.add_argument("--no-migrate", action="store_true", help="Do not apply migrations first.")
        parser.add_argument("--no-seed", action="store_true", help="Do not create demo data.")

    def handle(self, *args, **options):
        # Before anything starts or says it runs: a second ChargeNet (or anything) on the port.
        _port_free_or_fail(settings.HOST, settings.PORT)
        self._stopping = False
        signal.signal(signal.SIGTERM, self._request_stop)
        signal.signal(signal.SIGINT, self._request_stop)

        settings.DATA_DIR.mkdir(parents=True, exist_ok=True)
        # /metrics sums the counters of every server process (chargenet/metrics.py); start from zero.
        metrics_dir = settings.DATA_DIR / "metrics"
        shutil.rmtree(metrics_dir, ignore_errors=True)
        metrics_dir.mkdir()
        os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(metrics_dir))
        if not options["no_migrate"]:
            call_command("migrate", interactive=False, verbosity=0)
        demo_seeded = settings.DEMO and not options["no_seed"]

        # One listening socket per ASGI process on PORT, kept here so a restarted process finds its
        # connections waiting (chargenet/web_server.py).
        self._sockets = listening_sockets(
            host=settings.HOST, port=settings.PORT, count=settings.WEB_PROCESSES
        )
        children = self._children()
        try:
            seeded = not demo_seeded
            for child in children:
                if not seeded and child.name != "redis":
                    # Once Redis answers (seeding publishes events) and before the stations connect.
                    demo_seed(stations=settings.DEMO_STATIONS)
                    seeded = True
                child.start()
            self._banner(demo_seeded)
            exit_code = self._supervise(children)
        finally:
            self._stop_all(children)
            if settings.EMBEDDED_REDIS:
                settings.EMBEDDED_REDIS_SOCKET.unlink(missing_ok=True)
        self.stdout.write("ChargeNet stopped.")
        sys.exit(exit_code)

    def _children(self) -> list[Child]:
        python = sys.executable
        manage = str(settings.BASE_DIR / "manage.py")
        node = os.uname().nodename
        children = []
        if settings.EMBEDDED_REDIS:
            # First, so it answers before the others start; stopped last.
            socket_path = settings.EMBEDDED_REDIS_SOCKET
            children.append(
                Child(
                    "redis",
                    embedded.redis_argv(socket_path=socket_path, data_dir=settings.DATA_DIR, persist=True),
                    prepare=lambda: embedded.redis_prepare(socket_path=socket_path),
                    ready=lambda process: embedded.redis_wait(process, f"unix://{socket_path}"),
                    quiet=True,
                )
            )
        children += [
            *(
                Child(f"web-{number}", web_server_argv(fd=sock.fileno()), pass_fds=(sock.fileno(),))
                for number, sock in enumerate(self._sockets, start=1)
            ),
            Child(
                "worker",
                [
                    python,
                    "-m",
                    "celery",
                    "-A",
                    "chargenet",
                    "--quiet",
                    "worker",
                    "-l",
                    "WARNING",
                    "--concurrency",
                    "2",
                    "-n",
                    f"worker-{os.getpid()}@{node}",
                ],
            ),
            Child(
                "beat",
                [
                    python,
                    "-m",
                    "celery",
                    "-A",
                    "chargenet",
                    "--quiet",
                    "beat",
                    "-l",
                    "WARNING",
                    "-s",
                    str(settings.DATA_DIR / "celerybeat-schedule"),
                ],
            ),
        ]
        if settings.DEMO and settings.DEMO_STATIONS:
            children.append(
                Child(
                    "simulator",
                    [
                        python,
                        manage,
                        "simulate",
                        "--demo",
                        "--stations",
                        str(settings.DEMO_STATIONS),
                        "--url",
                        f"ws://{_connect_host()}:{settings.PORT}/ocpp/",
                    ],
                )
            )
        if settings.FLEET_FTP_ENABLED:
            # Diagnostics/log uploads by FTP (docs/firmware-and-diagnostics.md); FLEET_FTP_ENABLED=false
            # turns it off.
            children.append(Child("ftp", [python, manage, "fleet_ftp"], quiet=True))
        return children

    def _banner(self, demo_seeded: bool) -> None:
        url = f"http://{_connect_host()}:{settings.PORT}"
        lines = [
            "",
            "ChargeNet is running.",
            f"  Dashboard      {url}/",
            f"  API docs       {url}/api/docs/",
            f"  Health         {url}/healthz",
            f"  OCPP endpoint  ws://{_connect_host()}:{settings.PORT}/ocpp/<station identity>",
        ]
        if demo_seeded:
            lines.append(f"  Demo login     {DEMO_OPERATOR.username} / {DEMO_OPERATOR.password}   (operator)")
            lines.append(f"  Driver login   {DEMO_DRIVER.username} / {DEMO_DRIVER.password}   (driver)")
        lines.append("Press Ctrl-C to stop.")
        self.stdout.write("\n".join(lines) + "\n")
        self.stdout.flush()

    def _request_stop(self, signum, frame) -> None:
        self._stopping = True

    def _supervise(self, children: list[Child]) -> int:
        while not self._stopping:
            time.sleep(0.2)
            for child in children:
                code = child.process.poll() if child.process else None
                if code is None or self._stopping:
                    continue
                now = time.monotonic()
                child.restarts = [t for t in child.restarts if now - t < RESTART_WINDOW]
                if len(child.restarts) >= RESTART_LIMIT:
                    self.stderr.write(
                        f"{child.name} exited with code {code} {RESTART_LIMIT} times within "
                        f"{RESTART_WINDOW:.0f} s; stopping ChargeNet."
                    )
                    return 1
                self.stderr.write(f"{child.name} exited with code {code}; restarting it.")
                child.restarts.append(now)
                try:
                    child.start()
                except RuntimeError as exc:  # it died again at once: the next round counts it
                    self.stderr.write(f"{child.name} did not come back: {exc}")
        return 0

    def _stop_all(self, children: list[Child]) -> None:
        # The simulator and the web server go first so no new work arrives while workers drain.
        for child in reversed(children):
            if child.process is not None:
                self._stop_process(child.process)

    @staticmethod
    def _stop_process(process: subprocess.Popen) -> None:
        if process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL) if _is_group_leader(process.pid) else process.kill()
            process.wait()


def _port_free_or_fail(host: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # No SO_REUSEPORT here: the server's own sockets share the port, a stranger's must not.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host or "0.0.0.0", port))
        except OSError as exc:
            raise CommandError(
                f"port {port} on {host} is in use ({exc.strerror}): stop what uses it, "
                "or start with PORT=<another port>"
            ) from None


def _is_group_leader(pid: int) -> bool:
    try:
        return os.getpgid(pid) == pid
    except ProcessLookupError:
        return False


def _connect_host() -> str:
    return "127.0.0.1" if settings.HOST in ("0.0.0.0", "::", "") else settings.HOST
