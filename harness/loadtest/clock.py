"""Each worker's wall clock against the master's, measured over Locust's own connection.

Delivery latency crosses processes: a publisher on one worker stamps an event
with its clock, a subscriber on another reads it with its own. Against the
master's clock, the same yardstick for every worker, each worker estimates its
offset NTP-style, with Locust's custom messages (no other traffic):

- the worker sends its wall time ``t0`` (:data:`PING`);
- the master answers at once with its wall time ``t1`` and ``t0`` echoed (:data:`PONG`);
- the worker notes ``t3`` when the answer arrives.

With a symmetric path, the master read its clock half-way through the round trip:
``offset = t1 - (t0 + t3) / 2`` (master minus worker), within
``uncertainty = (t3 - t0) / 2`` whatever the asymmetry. A round takes
:data:`SAMPLES` samples :data:`SPACING_S` apart and keeps the one with the shortest
round trip (the least queued behind other traffic); a worker runs a round when a
run starts on it and every :data:`ROUND_EVERY_S` while it runs. Each round is
bounded (:data:`ROUND_TIMEOUT_S`); answers that come later are ignored.

:func:`install_clock` registers the messages in every process (nothing in a local
run); :func:`clock_estimate` is a worker's latest estimate.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import gevent
from locust.runners import STATE_CLEANUP, STATE_STOPPED, STATE_STOPPING, MasterRunner, WorkerRunner

from harness.measure.schema import ClockEstimate

logger = logging.getLogger("harness")

PING = "harness_clock_ping"
"""Worker to master: ``{"round": int, "seq": int, "t0": float}``."""
PONG = "harness_clock_pong"
"""Master to worker: the ping's fields and ``"t1"``, the master's wall time."""
SAMPLES = 8
SPACING_S = 0.05
ROUND_TIMEOUT_S = 2.0
"""The longest a round waits for its answers after its last ping."""
ROUND_EVERY_S = 30.0

_ATTRIBUTE = "harness_clock"

__all__ = ["ClockEstimate", "ClockSample", "best_estimate", "clock_estimate", "install_clock"]


class ClockSample(NamedTuple):
    """One exchange, in wall seconds: sent (worker), answered (master), received (worker)."""

    t0: float
    t1: float
    t3: float

    @property
    def round_trip_s(self) -> float:
        return self.t3 - self.t0

    @property
    def offset_s(self) -> float:
        """The master's clock minus the worker's."""
        return self.t1 - (self.t0 + self.t3) / 2


def best_estimate(samples: Iterable[ClockSample]) -> ClockEstimate | None:
    """The estimate of the sample with the shortest round trip; None without samples.
    A sample whose round trip is negative (impossible: a bug) is ignored."""
    usable = [sample for sample in samples if sample.round_trip_s >= 0]
    if not usable:
        return None
    best = min(usable, key=lambda sample: sample.round_trip_s)
    return {
        "offset_ms": round(best.offset_s * 1000, 3),
        "uncertainty_ms": round(best.round_trip_s * 500, 3),
        "samples": len(usable),
    }


@dataclass
class _Round:
    """One round's pings in flight and the samples of their answers."""

    number: int
    sent: dict[int, tuple[float, float]] = field(default_factory=dict)
    """Pings by seq: (wall, monotonic) at sending."""
    samples: list[ClockSample] = field(default_factory=list)


@dataclass
class _WorkerClock:
    """A worker's current round and latest estimate."""

    estimate: ClockEstimate | None = None
    current: _Round | None = None
    """The round whose answers count; a new round (a new run) supersedes the last."""
    numbers: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    run: int = 0
    """The run whose sampling loop is current (a new ``test_start`` ends the old loop)."""

    def answered(self, data: dict[str, Any]) -> None:
        """A pong arrived: a sample, if it answers a ping of the current round."""
        received = time.monotonic()
        current = self.current
        if current is None or data.get("round") != current.number:
            return
        sent = current.sent.pop(data.get("seq", -1), None)
        if sent is None:
            return
        t0, sent_monotonic = sent
        # The round trip on the monotonic clock: a wall clock stepped meanwhile cannot
        # make it negative (the offset then follows the step, as it should).
        current.samples.append(ClockSample(t0, float(data["t1"]), t0 + received - sent_monotonic))


def install_clock(environment: Any) -> None:
    """Register the clock messages for this process's runner (call once, from ``init``):
    the master answers pings; a worker pings when a run starts on it and every
    :data:`ROUND_EVERY_S` while it runs. Nothing in a local run; again is harmless."""
    runner = environment.runner
    if isinstance(runner, MasterRunner) and PING not in runner.custom_messages:
        runner.register_message(PING, _answer)
    elif isinstance(runner, WorkerRunner) and PONG not in runner.custom_messages:
        clock = _WorkerClock()
        setattr(environment, _ATTRIBUTE, clock)
        runner.register_message(PONG, lambda msg, **_: clock.answered(msg.data or {}))
        environment.events.test_start.add_listener(
            lambda environment, **_: _start_sampling(environment, clock)
        )


def clock_estimate(environment: Any) -> ClockEstimate | None:
    """A worker's latest estimate of its clock against the master's; None before the first
    round's answers (or on a master, or in a local run)."""
    clock: _WorkerClock | None = getattr(environment, _ATTRIBUTE, None)
    return None if clock is None else clock.estimate


def _answer(environment: Any, msg: Any, **_: Any) -> None:
    """On the master: the ping back to its worker with the master's wall time."""
    t1 = time.time()
    data = dict(msg.data or {})
    data["t1"] = t1
    environment.runner.send_message(PONG, data, client_id=msg.node_id)


def _start_sampling(environment: Any, clock: _WorkerClock) -> None:
    clock.run = next(clock.numbers)
    gevent.spawn(_sample_while_running, environment, clock, clock.run)


def _sample_while_running(environment: Any, clock: _WorkerClock, run: int) -> None:
    """A round now, then one every :data:`ROUND_EVERY_S` until the run ends."""
    while clock.run == run:
        try:
            _sample_round(environment.runner, clock)
        except Exception:  # e.g. the connection to the master is down: try next time
            logger.warning("clock offset round failed", exc_info=True)
        gevent.sleep(ROUND_EVERY_S)
        if environment.runner.state in (STATE_STOPPING, STATE_STOPPED, STATE_CLEANUP):
            return


def _sample_round(runner: Any, clock: _WorkerClock) -> None:
    """Send :data:`SAMPLES` pings, wait (bounded) for their answers, keep the best; a
    round superseded meanwhile (a new run started) stops and keeps nothing."""
    this = clock.current = _Round(next(clock.numbers))
    for seq in range(SAMPLES):
        if clock.current is not this:
            return
        this.sent[seq] = (time.time(), time.monotonic())
        runner.send_message(PING, {"round": this.number, "seq": seq, "t0": this.sent[seq][0]})
        gevent.sleep(SPACING_S)
    deadline = time.monotonic() + ROUND_TIMEOUT_S
    while this.sent and clock.current is this and time.monotonic() < deadline:
        gevent.sleep(SPACING_S)
    estimate = best_estimate(this.samples)
    if estimate is not None and clock.current is this:
        clock.estimate = estimate
    logger.debug("clock against the master: %s", estimate)
