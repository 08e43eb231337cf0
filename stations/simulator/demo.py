"""Demo behaviour: a station that lives on its own, like a charger in a car park.

It connects (retrying with jittered exponential back-off while the CSMS is down or refuses it),
boots (waiting out Pending/Rejected), reports every connector, sends heartbeats at the interval the
CSMS gave, now and then has a driver charge at 7–22 kW with meter values every few seconds, now
and then reports a fault and recovers from it, and starts over when the connection drops.
"""

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ocpp.exceptions import OCPPError
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from stations.simulator.station import SimulatedStation, cancel_and_wait

logger = logging.getLogger("stations.simulator")

# The password the demo seed gives the demo stations (chargenet.demo) and `simulate --demo` connects with.
DEMO_STATION_PASSWORD = "demo-station-password-0001"
# Cards of the simulated visitors who charge at the demo stations on their own (the demo seed creates
# them); the demo driver's own cards stay free for the demo driver, so "Start charging" is there.
DEMO_VISITOR_CARDS = ("DEMO0101", "DEMO0102", "DEMO0103", "DEMO0104")
FAULT_CODES = ("GroundFailure", "OverCurrentFailure", "HighTemperature", "EVCommunicationError")


@dataclass
class Backoff:
    """Exponential back-off with jitter, so a fleet does not reconnect in lockstep after an outage."""

    initial: float = 1.0
    maximum: float = 60.0
    attempt: int = 0

    def next(self, rng: random.Random) -> float:
        ceiling = min(self.maximum, self.initial * 2**self.attempt)
        self.attempt += 1
        return ceiling / 2 + rng.uniform(0, ceiling / 2)

    def reset(self) -> None:
        self.attempt = 0


@dataclass
class DemoBehaviour:
    """How a demo station behaves; all durations are in seconds."""

    id_tags: tuple[str, ...] = ("DEMO0001", "DEMO0002")
    session_gap: tuple[float, float] = (20.0, 90.0)
    session_duration: tuple[float, float] = (60.0, 300.0)
    power_w: tuple[float, float] = (7000.0, 22000.0)
    fault_probability: float = 0.05
    fault_duration: tuple[float, float] = (10.0, 40.0)
    # Identities that report a fault on one connector right after each boot (it clears like any other).
    fault_at_boot: frozenset[str] = frozenset()
    backoff_initial: float = 1.0
    backoff_maximum: float = 60.0

    async def run(self, station: SimulatedStation, stop: asyncio.Event) -> None:
        """Keep the station online and busy until `stop` is set; then close it."""
        rng = station.rng
        backoff = Backoff(self.backoff_initial, self.backoff_maximum)
        station.supervised = True
        station.remote_session_duration = lambda: rng.uniform(*self.session_duration)
        failures = 0
        try:
            while not stop.is_set():
                try:
                    await station.connect()
                except (OSError, InvalidHandshake, TimeoutError, ConnectionError) as exc:
                    failures += 1
                    # Say it once, then quietly: a server that is still starting is normal.
                    log = logger.warning if failures in (1, 10) or failures % 100 == 0 else logger.debug
                    log("%s: cannot connect to %s (%s); retrying", station.identity, station.endpoint, exc)
                    await _sleep(stop, backoff.next(rng))
                    continue
                failures = 0
                try:
                    await self._online(station, stop, backoff)
                except (ConnectionClosed, OCPPError, TimeoutError, ConnectionError) as exc:
                    logger.info("%s: connection lost (%r)", station.identity, exc)
                except Exception:
                    # A simulator bug must not stop the demo (the run supervisor would give up on
                    # it): report it, drop the connection and start over like a rebooting charger.
                    logger.exception("%s: unexpected error; reconnecting", station.identity)
                finally:
                    await station.close()
                if not stop.is_set():
                    await _sleep(stop, backoff.next(rng))
        finally:
            station.supervised = False
            await station.close()

    async def _online(self, station: SimulatedStation, stop: asyncio.Event, backoff: Backoff) -> None:
        while True:
            answer = await station.boot()
            if answer.status == "Accepted":
                break
            # Pending/Rejected: OCPP 1.6 §4.2 says try again after the interval the CSMS gave.
            if await _sleep_or_disconnect(station, stop, answer.interval or 60):
                return
        logger.info("%s: online (heartbeat every %.0f s)", station.identity, station.heartbeat_interval)
        backoff.reset()
        await station.status_all()
        station.resume_sessions()
        tasks = [
            asyncio.create_task(self._heartbeats(station)),
            asyncio.create_task(self._drivers(station)),
        ]
        waiters = [asyncio.create_task(stop.wait()), asyncio.create_task(station.disconnected.wait())]
        try:
            done, _ = await asyncio.wait([*tasks, *waiters], return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                error = task.exception() if task in tasks else None
                if error is not None:
                    raise error
        finally:
            await cancel_and_wait([*tasks, *waiters])

    async def _heartbeats(self, station: SimulatedStation) -> None:
        while True:
            await asyncio.sleep(max(1.0, station.heartbeat_interval))
            await station.heartbeat()

    async def _drivers(self, station: SimulatedStation) -> None:
        rng = station.rng
        if station.identity in self.fault_at_boot and station.idle_connectors():
            await self._fault(station, rng.choice(station.idle_connectors()).connector_id)
        while True:
            await asyncio.sleep(rng.uniform(*self.session_gap))
            idle = station.idle_connectors()
            if not idle:
                continue
            connector = rng.choice(idle)
            if rng.random() < self.fault_probability:
                await self._fault(station, connector.connector_id)
                continue
            transaction_id = await station.session_start(
                connector.connector_id,
                rng.choice(self.id_tags),
                power_w=round(rng.uniform(*self.power_w)),
                authorize=True,
                duration=rng.uniform(*self.session_duration),
            )
            if transaction_id is not None:
                logger.info(
                    "%s: session %s charging on connector %s",
                    station.identity,
                    transaction_id,
                    connector.connector_id,
                )

    async def _fault(self, station: SimulatedStation, connector_id: int) -> None:
        """Report a fault on the connector; it clears after `fault_duration`."""
        await station.fault(connector_id, station.rng.choice(FAULT_CODES))
        station._spawn(self._recover_later(station, connector_id))

    async def _recover_later(self, station: SimulatedStation, connector_id: int) -> None:
        await asyncio.sleep(station.rng.uniform(*self.fault_duration))
        await station.recover(connector_id)


async def _sleep(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep, waking early when `stop` is set; True if it was."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
    return stop.is_set()


async def _sleep_or_disconnect(station: SimulatedStation, stop: asyncio.Event, seconds: float) -> bool:
    waiters = [asyncio.create_task(stop.wait()), asyncio.create_task(station.disconnected.wait())]
    try:
        done, _ = await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        return bool(done)
    finally:
        for waiter in waiters:
            waiter.cancel()


def demo_ocpp_version(identity: str) -> str:
    """The protocol a demo station speaks: every third one (DEMO-003, DEMO-006, …) 2.0.1, the others 1.6,
    so the demo network shows both (the demo seed registers them so, chargenet/demo.py)."""
    digits = "".join(ch for ch in identity if ch.isdigit())
    return "2.0.1" if digits and int(digits) % 3 == 0 else "1.6"


def station_make(*, ocpp_version: str, **kwargs: Any) -> Any:
    """A simulated station speaking `ocpp_version` (1.6, or 2.0.1: stations/simulator/v201.py)."""
    if ocpp_version == "2.0.1":
        from stations.simulator.v201 import Simulated201Station

        return Simulated201Station(**kwargs)
    return SimulatedStation(ocpp_version=ocpp_version, **kwargs)


async def fleet_run(
    *,
    url: str,
    identities: list[str],
    password: str | None,
    ocpp_version: str = "1.6",
    ocpp_version_for: Callable[[str], str] | None = None,
    behaviour: DemoBehaviour | None = None,
    meter_interval: float = 10.0,
    duration: float | None = None,
    stop: asyncio.Event | None = None,
    seed: int | None = None,
    ev_max_current_a: float | None = None,
    ev_phases: int = 3,
    failure_rates: dict[str, float] | None = None,
) -> list[SimulatedStation]:
    """Run one demo station per identity until `stop` is set or `duration` seconds have passed.

    Start-up is spread over a second or two so a fleet does not arrive as one burst. Every station
    speaks `ocpp_version`, or what `ocpp_version_for(identity)` says (a mixed fleet, as the demo's)."""
    behaviour = behaviour or DemoBehaviour()
    stop = stop or asyncio.Event()
    master = random.Random(seed)
    stations = [
        station_make(
            url=url,
            identity=identity,
            password=password,
            ocpp_version=ocpp_version_for(identity) if ocpp_version_for else ocpp_version,
            meter_interval=meter_interval,
            rng=random.Random(master.random()),
        )
        for identity in identities
    ]
    for station in stations:  # the EVs that plug in (smart charging: their power follows the profiles)
        station.ev_max_current_a, station.ev_phases = ev_max_current_a, ev_phases
        # shares of firmware downloads/installs and file uploads that fail (fleet operations)
        for name, rate in (failure_rates or {}).items():
            setattr(station, f"{name}_failure_rate", rate)

    async def one(station: SimulatedStation, delay: float) -> None:
        if not await _sleep(stop, delay):
            await behaviour.run(station, stop)

    spread = min(2.0, 0.05 * len(stations))
    runners = [asyncio.create_task(one(s, master.uniform(0, spread))) for s in stations]
    timer = None
    if duration:
        timer = asyncio.get_running_loop().call_later(duration, stop.set)
    try:
        await asyncio.gather(*runners)
    finally:
        if timer is not None:
            timer.cancel()
        stop.set()
        await cancel_and_wait(runners)
    return stations
