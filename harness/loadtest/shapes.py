"""Load shapes for scenarios: :class:`ConnectRamp`, connects ramped up to a target rate.

A harness user connects (and subscribes) as it starts, so the rate at which Locust
spawns users is the rate of connects. :class:`ConnectRamp` reads Locust's own
options: ``-r`` is the target rate of connects per second, reached in
:attr:`~ConnectRamp.ramp_s` one-second steps (Locust ticks a shape once a second),
then held until ``-u`` users are up; those users keep their connections until
``-t`` (the shape ends the run then: Locust leaves that to a shape) or the stop
button. A scenario subclasses it (import the module, not the
class, or Locust finds two shapes).

:func:`report_connect_rates` prints, at the end of the run, each second's target
against the connects Locust counted in that second (the second their
``connection_ack`` arrived) and the failed ones, from Locust's own per-second
counts, which a master merges from its workers.
"""

from __future__ import annotations

import math
import time
from typing import Any, ClassVar

from locust import LoadTestShape
from locust.runners import WorkerRunner

from harness.protocol import REALTIME_PATH
from harness.report.console import ConnectSecond, format_connect_rates

CONNECT = "connect"


class ConnectRamp(LoadTestShape):
    """Connects ramped to ``-r`` per second in :attr:`ramp_s` steps, up to ``-u`` users."""

    abstract: ClassVar[bool] = True
    use_common_options: ClassVar[bool] = True
    ramp_s: ClassVar[int] = 5
    """Seconds (steps) from ``-r / ramp_s`` connects per second to ``-r``."""

    def __init__(self) -> None:  # LoadTestShape's own only starts the clock
        self.reset_time()

    def reset_time(self) -> None:
        """Start the clock, as Locust does when the shape starts, on the wall clock too."""
        self.start_time = time.perf_counter()
        self.started_wall_s = time.time()
        self.targets: dict[int, float] = {}
        """Wall-clock second to the connect rate the shape asked for in it."""

    def target_rate(self) -> float:
        """``-r``: the connect rate to reach, per second."""
        return float(self._option("spawn_rate", 1))

    def stage(self, second: int) -> tuple[int, float]:
        """``(users, spawn rate)`` for the ``second``-th second of the run (from 0): the
        rate steps up to the target, and the users are those its seconds so far add up to,
        at most ``-u``."""
        target, ramp = self.target_rate(), max(1, self.ramp_s)
        users = 0.0
        rate = target
        for step in range(second + 1):
            rate = target * min(1.0, (step + 1) / ramp)
            users += rate
        return min(int(self._option("num_users", 1)), math.ceil(users)), rate

    def tick(self) -> tuple[int, float] | None:
        """The stage of this second; None (the end of the run) once ``-t`` has passed:
        Locust leaves the end of a shaped run to the shape."""
        elapsed_s = time.perf_counter() - self.start_time
        run_time_s = self._option("run_time", 0)
        if run_time_s and elapsed_s >= run_time_s:
            return None
        users, rate = self.stage(int(elapsed_s))
        self.targets.setdefault(int(time.time()), rate)
        return users, rate

    def _option(self, name: str, default: float) -> float:
        options = None if self.runner is None else self.runner.environment.parsed_options
        value = getattr(options, name, None)
        return default if value is None else float(value)


def connect_seconds(environment: Any) -> list[ConnectSecond]:
    """Each wall-clock second from the shape's first tick to the last connect: the
    shape's target (the last one it set), and Locust's count of connects and failed
    connects in it. In a distributed run the workers' connects come a little after the
    master's ticks."""
    shape = environment.shape_class
    entry = environment.stats.entries.get((REALTIME_PATH, CONNECT))
    if not isinstance(shape, ConnectRamp) or entry is None or not entry.num_reqs_per_sec:
        return []
    first = min(shape.targets, default=int(shape.started_wall_s))  # the first tick's second
    last = max(entry.num_reqs_per_sec)
    rows: list[ConnectSecond] = []
    target = 0.0
    for second in range(first, last + 1):
        target = shape.targets.get(second, target)
        rows.append(
            ConnectSecond(
                second - first,
                target,
                entry.num_reqs_per_sec.get(second, 0),
                entry.num_fail_per_sec.get(second, 0),
            )
        )
    return rows


def report_connect_rates(events: Any) -> None:
    """At the end of a run with a :class:`ConnectRamp`, print each second's target and
    connects (on the master or in a local run)."""
    seen: list[Any] = []

    def remember(environment: Any, **_: Any) -> None:
        seen[:] = [environment]

    def print_rates(**_: Any) -> None:
        if not seen or isinstance(seen[0].runner, WorkerRunner):
            return
        shape = seen[0].shape_class
        rows = connect_seconds(seen[0])
        if isinstance(shape, ConnectRamp) and rows:
            print(format_connect_rates(rows, shape.target_rate(), shape.ramp_s), flush=True)

    events.init.add_listener(remember)
    events.quit.add_listener(print_rates)
