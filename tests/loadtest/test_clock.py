"""Each worker's clock against the master's (harness/loadtest/clock.py): the estimate's
arithmetic on made-up exchanges, and real exchanges between a ``locust --master`` and two
``locust --worker`` processes on loopback, which share one kernel clock (offset 0)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import locust
from locust.env import Environment
from support.client import free_port
from support.timing import MS

from harness.loadtest.clock import (
    PING,
    SAMPLES,
    ClockSample,
    best_estimate,
    clock_estimate,
    install_clock,
)

ROOT = Path(__file__).resolve().parents[2]
RUN_TIMEOUT_S = 60_000 * MS

# -- the arithmetic ------------------------------------------------------------------------


def test_the_sample_with_the_shortest_round_trip_wins() -> None:
    # A worker 250 ms behind the master (master = worker + 0.25 s); one-way delays vary.
    behind = 0.25
    samples = [
        # (sent, outbound delay, return delay), worker clock
        (100.000, 0.004, 0.006),  # round trip 10 ms
        (100.050, 0.001, 0.001),  # 2 ms: the best
        (100.100, 0.020, 0.001),  # 21 ms, very asymmetric
    ]
    exchanges = [ClockSample(t0, t0 + out + behind, t0 + out + back) for t0, out, back in samples]
    estimate = best_estimate(exchanges)
    assert estimate == {"offset_ms": 250.0, "uncertainty_ms": 1.0, "samples": 3}


def test_an_asymmetric_path_errs_by_at_most_the_uncertainty() -> None:
    # All the delay on the way out: the estimate is off by half the round trip, no more.
    estimate = best_estimate([ClockSample(10.0, 10.008 - 0.5, 10.008)])
    assert estimate == {"offset_ms": -496.0, "uncertainty_ms": 4.0, "samples": 1}
    true_offset_ms = -500.0
    assert abs(estimate["offset_ms"] - true_offset_ms) <= estimate["uncertainty_ms"]


def test_no_usable_sample_makes_no_estimate() -> None:
    assert best_estimate([]) is None
    assert best_estimate([ClockSample(5.0, 5.0, 4.9)]) is None  # received before sent
    kept = best_estimate([ClockSample(5.0, 5.0, 4.9), ClockSample(6.0, 6.1, 6.2)])
    assert kept is not None and kept["samples"] == 1


# -- in one process: harmless where there is nothing to measure ----------------------------


def test_a_local_run_measures_nothing_and_installing_twice_is_harmless() -> None:
    environment = Environment(user_classes=[], events=locust.events)
    runner = environment.create_local_runner()
    try:
        install_clock(environment)
        install_clock(environment)
        assert PING not in runner.custom_messages
        assert clock_estimate(environment) is None
    finally:
        runner.quit()


def test_the_master_answers_pings_once_registered() -> None:
    environment = Environment(user_classes=[], events=locust.events)
    runner = environment.create_master_runner("127.0.0.1", free_port())
    try:
        install_clock(environment)
        install_clock(environment)  # registering again would raise in Locust
        assert PING in runner.custom_messages
        assert clock_estimate(environment) is None  # only workers estimate
    finally:
        runner.quit()


# -- a real master and two workers ---------------------------------------------------------

CLOCK_LOCUSTFILE = """\
import json

from locust import User, constant, events, task

from harness.loadtest import clock

clock.ROUND_EVERY_S = 0.5  # several rounds in a short run
rounds = []  # the samples of each round, as the round hands them to best_estimate
_best_estimate = clock.best_estimate


def _counted(samples):
    samples = list(samples)
    rounds.append(len(samples))
    return _best_estimate(samples)


clock.best_estimate = _counted


@events.init.add_listener
def _install(environment, **_):
    clock.install_clock(environment)
    clock.install_clock(environment)


@events.quitting.add_listener
def _report(environment, **_):
    line = {"estimate": clock.clock_estimate(environment), "rounds": rounds}
    print("CLOCK " + json.dumps(line), flush=True)


class Idle(User):
    wait_time = constant(0.2)

    @task
    def nothing(self):
        pass
"""


def test_workers_estimate_their_offset_to_the_master_over_locusts_connection(
    tmp_path: Path,
) -> None:
    locustfile = tmp_path / "clock_locustfile.py"
    locustfile.write_text(CLOCK_LOCUSTFILE)
    port = str(free_port())
    common = [sys.executable, "-m", "locust", "-f", str(locustfile)]
    master = subprocess.Popen(
        [
            *common,
            *("--headless", "--master", "--master-bind-host", "127.0.0.1"),
            *("--master-bind-port", port, "--expect-workers", "2"),
            *("--expect-workers-max-wait", str(round(30_000 * MS))),
            *("-u", "2", "-r", "2", "-t", "3s"),
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    workers = [
        subprocess.Popen(
            [*common, "--worker", "--master-host", "127.0.0.1", "--master-port", port],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(2)
    ]
    try:
        master_output, _ = master.communicate(timeout=RUN_TIMEOUT_S)
        assert master.returncode == 0, master_output[-3000:]
        outputs = [worker.communicate(timeout=RUN_TIMEOUT_S)[0] for worker in workers]
    finally:
        for process in (master, *workers):
            if process.poll() is None:
                process.kill()
                process.communicate()
    for output in outputs:
        lines = [line for line in output.splitlines() if line.startswith("CLOCK ")]
        assert len(lines) == 1, output[-3000:]
        reported = json.loads(lines[0].removeprefix("CLOCK "))
        estimate = reported["estimate"]
        assert estimate is not None, output[-3000:]
        assert estimate["samples"] == SAMPLES
        # One kernel clock: the true offset is 0, and it lies within the uncertainty.
        assert abs(estimate["offset_ms"]) <= estimate["uncertainty_ms"] + 0.01, estimate
        assert estimate["uncertainty_ms"] < 50_000 * MS, estimate  # milliseconds, loopback
        # A round when the run starts, then one every 0.5 s; every ping answered.
        assert len(reported["rounds"]) >= 3 and set(reported["rounds"]) == {SAMPLES}, reported
