"""`manage.py simulate`: run simulated charge points against a ChargeNet (or any OCPP 1.6 CSMS).

    manage.py simulate --demo --stations 3 --url ws://127.0.0.1:8000/ocpp/
    manage.py simulate --stations 20 --identity-prefix SIM- --password <pw> --duration 600

Stations keep retrying (with back-off) until the server is up, so the run supervisor can start this
next to the web server. SIGTERM or Ctrl-C closes every connection and exits 0.
"""

import asyncio
import logging
import signal
import sys

from django.core.management.base import BaseCommand, CommandError

from stations.simulator import DemoBehaviour, fleet_run
from stations.simulator.demo import DEMO_STATION_PASSWORD, DEMO_VISITOR_CARDS, demo_ocpp_version

# The station's <name>_failure_rate attributes, and what they make fail.
FAILURES = {
    "firmware_download": "firmware downloads",
    "firmware_install": "firmware installs",
    "upload": "diagnostics and log uploads",
}


class Command(BaseCommand):
    help = "Run simulated OCPP charge points that boot, heartbeat, charge and fault like real ones."

    def add_arguments(self, parser):
        parser.add_argument("--url", default="ws://127.0.0.1:8000/ocpp/", help="The CSMS's OCPP endpoint.")
        parser.add_argument("--stations", type=int, default=1, help="How many stations (1-1000).")
        parser.add_argument(
            "--demo",
            action="store_true",
            help="Be the demo stations (DEMO-001…, the demo password, the visitors' cards DEMO0101…).",
        )
        parser.add_argument("--identity-prefix", default="SIM-", help="Identities are <prefix>001, …")
        parser.add_argument("--password", default=None, help="HTTP Basic password of every station.")
        parser.add_argument(
            "--ocpp-version",
            "--ocpp",
            default=None,
            choices=["1.6", "2.0.1"],
            help="Protocol version of every station (default 1.6; with --demo every third station "
            "speaks 2.0.1 unless a version is given).",
        )
        parser.add_argument(
            "--id-tags", default="DEMO0001,DEMO0002", help="Comma-separated cards drivers present."
        )
        parser.add_argument(
            "--duration", type=float, default=0, help="Stop after this many seconds (0 = run)."
        )
        parser.add_argument(
            "--meter-interval", type=float, default=10.0, help="Seconds between meter values."
        )
        parser.add_argument(
            "--session-gap",
            type=float,
            default=60.0,
            help="Mean seconds between a connector's driver sessions (randomised ±70%%).",
        )
        parser.add_argument("--seed", type=int, default=None, help="Random seed, for a repeatable run.")
        parser.add_argument(
            "--ev-max-current", type=float, default=None, help="The EVs' maximum current per phase (A)."
        )
        parser.add_argument("--ev-phases", type=int, default=3, choices=[1, 2, 3], help="The EVs' phases.")
        for name, what in FAILURES.items():
            parser.add_argument(
                f"--fail-{name.replace('_', '-')}",
                type=float,
                default=0.0,
                metavar="SHARE",
                help=f"Share (0-1) of {what} that fail.",
            )

    def handle(self, *args, **options):
        count = options["stations"]
        if not 1 <= count <= 1000:
            raise CommandError("--stations must be between 1 and 1000")
        failure_rates = {name: options[f"fail_{name}"] for name in FAILURES}
        for name, rate in failure_rates.items():
            if not 0 <= rate <= 1:
                raise CommandError(f"--fail-{name.replace('_', '-')} must be between 0 and 1")
        gap = options["session_gap"]
        if options["demo"]:
            prefix, password = "DEMO-", DEMO_STATION_PASSWORD
            identities = [f"{prefix}{number:03d}" for number in range(1, count + 1)]
            behaviour = DemoBehaviour(
                # Visitors charge now and then, so connectors are often free; a charger now and
                # then reports a fault that clears after a few minutes (the last one right after
                # its boot), so the Alerts page has something to show.
                id_tags=DEMO_VISITOR_CARDS,
                session_gap=(gap * 1.5, gap * 5),
                session_duration=(gap, gap * 3),
                fault_probability=0.15,
                fault_duration=(gap, gap * 4),
                fault_at_boot=frozenset(identities[-1:]),
            )
        else:
            prefix, password = options["identity_prefix"], options["password"]
            id_tags = tuple(tag.strip() for tag in options["id_tags"].split(",") if tag.strip())
            identities = [f"{prefix}{number:03d}" for number in range(1, count + 1)]
            behaviour = DemoBehaviour(id_tags=id_tags, session_gap=(gap * 0.3, gap * 1.7))
        self._configure_logging(options["verbosity"])
        self.stdout.write(
            f"Simulating {count} station(s) {identities[0]}…{identities[-1]} against {options['url']}"
        )
        self.stdout.flush()
        asyncio.run(
            self._run(
                url=options["url"],
                identities=identities,
                password=password,
                ocpp_version=options["ocpp_version"] or "1.6",
                ocpp_version_for=demo_ocpp_version
                if options["demo"] and not options["ocpp_version"]
                else None,
                behaviour=behaviour,
                meter_interval=options["meter_interval"],
                duration=options["duration"] or None,
                seed=options["seed"],
                ev_max_current_a=options["ev_max_current"],
                ev_phases=options["ev_phases"],
                failure_rates=failure_rates,
            )
        )
        self.stdout.write("Simulator stopped.")

    async def _run(self, **kwargs) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await fleet_run(stop=stop, **kwargs)

    @staticmethod
    def _configure_logging(verbosity: int) -> None:
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
        simulator = logging.getLogger("stations.simulator")
        simulator.handlers[:] = [handler]
        simulator.propagate = False
        simulator.setLevel(
            logging.DEBUG if verbosity >= 2 else logging.INFO if verbosity >= 1 else logging.WARNING
        )
        # Every OCPP frame, only when asked for (-v 3).
        logging.getLogger("stations.simulator.wire").setLevel(
            logging.INFO if verbosity >= 3 else logging.WARNING
        )
