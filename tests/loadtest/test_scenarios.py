"""The scenarios of ``scenarios/`` as a user runs them: ``locust -f scenarios/<name>.py``
headless for a few seconds against the embedded emulator, each checked against the
figures it is about (``resilience.json`` from ``--report-dir``) and Locust's own tables.
The fault scenarios are here; the load scenarios, which reuse :func:`run_scenario`, are
in ``test_load_scenarios.py``.

The scenario files are not imported here: each calls ``inject_faults`` at import,
which would add its listener to Locust's events in this process too.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from support.client import port_is_closed
from support.timing import MS
from test_locust_cli import ROOT, emulator_port, locust_environment

from harness.report.console import format_resilience

RUN_TIMEOUT_S = 60_000 * MS
SUMMARY_HEADING = "Reconnect and retry policies"
CONNECT = ("connect", "/event/realtime")
ROOMS = "/default/room-{1..20}"
"""The name Locust reports the default channels under."""
STATS_ROW = re.compile(r"^(\w+)\s+(\S+)\s+(\d+)\s+(\d+)\(", re.MULTILINE)
ERROR_ROW = re.compile(r"^(\d+)\s+(\w+) (\S+): (.+?)\s*$", re.MULTILINE)
SPAWNED = re.compile(r"All users spawned: (\{.*?\}) \((\d+) total users\)")


@dataclass
class ScenarioRun:
    """One finished ``locust -f scenarios/<name>.py`` run."""

    returncode: int
    stdout: str
    output: str
    report: dict[str, Any]
    """``resilience.json``."""
    summary: dict[str, Any]
    """``summary.json``."""
    spawned: dict[str, int]
    """Users per class, as Locust logged them."""
    rows: dict[tuple[str, str], tuple[int, int]]
    """``(request type, name) -> (# reqs, # fails)`` from Locust's final stats table."""
    errors: list[tuple[str, str, str, int]]
    """``(request type, name, error, occurrences)`` from Locust's final error report."""

    def policy(self, kind: str, label: str) -> dict[str, Any]:
        matches = [p for p in self.report["policies"] if p["kind"] == kind and p["policy"] == label]
        assert len(matches) == 1, (kind, label, self.report["policies"])
        return matches[0]

    def row(self, request_type: str, name: str) -> tuple[int, int]:
        return self.rows.get((request_type, name), (0, 0))

    @property
    def failures(self) -> int:
        return sum(fails for _, fails in self.rows.values())

    def tail(self) -> str:
        return self.output[-4000:]


def run_scenario(
    name: str,
    report_dir: Path,
    *,
    users: int,
    seconds: int,
    spawn_rate: float | None = None,
    arguments: Sequence[str] = (),
    via_locustfile: bool = False,
) -> ScenarioRun:
    """Run the scenario headless (``-r`` is ``users`` unless given) with ``arguments``
    added; ``via_locustfile``: as ``-f locustfile.py --scenario NAME``."""
    locustfile = (
        ["locustfile.py", "--scenario", name] if via_locustfile else [f"scenarios/{name}.py"]
    )
    command = [
        sys.executable, "-m", "locust", "-f", *locustfile, "--headless",
        "-u", str(users), "-r", f"{spawn_rate or users:g}", "-t", f"{seconds}s",
        "--report-dir", str(report_dir), *arguments,
    ]  # fmt: skip
    result = subprocess.run(
        command,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        env=locust_environment(),
    )
    output = result.stdout + result.stderr
    report_file = report_dir / "resilience.json"
    assert report_file.is_file(), output[-4000:]
    # A load shape spawns in steps, each logged: the last line has every user.
    spawned = SPAWNED.findall(output)
    assert spawned and int(spawned[-1][1]) == users, output[-4000:]
    # Locust logs its tables (to stderr) at the stop and again once every user's on_stop
    # ran (unsubscribes, cleanup checks): the last table and error report are the final ones.
    rows = {
        (match.group(1), match.group(2)): (int(match.group(3)), int(match.group(4)))
        for match in STATS_ROW.finditer(result.stderr)
    }
    _, heading, error_report = result.stderr.rpartition("Error report")
    errors = [
        (match.group(2), match.group(3), match.group(4), int(match.group(1)))
        for match in ERROR_ROW.finditer(error_report if heading else "")
    ]
    run = ScenarioRun(
        returncode=result.returncode,
        stdout=result.stdout,
        output=output,
        report=json.loads(report_file.read_text()),
        summary=json.loads((report_dir / "summary.json").read_text()),
        spawned=json.loads(spawned[-1][0]),
        rows=rows,
        errors=errors,
    )
    _check_every_run(run, users)
    return run


def _check_every_run(run: ScenarioRun, users: int) -> None:
    """What holds after any scenario: the report printed as written, every user stopped
    cleanly, the emulator left empty and stopped, and Locust's retry rows agreeing with
    the report."""
    report = run.report
    assert report["schema"] == 1, report
    # The console section is the same summary as the file, formatted.
    assert SUMMARY_HEADING in run.stdout, run.tail()
    assert format_resilience(report) in run.stdout, run.tail()
    cleanup = report["cleanup"]
    assert cleanup["users_checked"] == users and cleanup["leaks"] == 0, cleanup
    server = report["server"]
    assert server["open_connections"] == 0 and server["live_subscriptions"] == 0, server
    assert server["backoff"]["violations"] == [], server
    assert sum(run.spawned.values()) == users, run.spawned
    for policy in report["policies"]:
        label = policy["policy"]
        # Each retry attempt is a ``backoff`` request, a failure when out of bounds.
        assert run.row("backoff", label) == (
            policy["attempts"],
            policy["attempts"] - policy["conforming"],
        ), (label, run.rows)
        if policy["kind"] == "reconnect":
            # Each recovery is a ``reconnect`` request, each give-up after a loss a failed one.
            give_ups = sum(policy["give_ups"].values())
            assert run.row("reconnect", label) == (policy["recoveries"] + give_ups, give_ups), (
                label,
                run.rows,
            )
    assert "embedded emulator stopped" in run.output
    assert port_is_closed(emulator_port(run.output))


NOT_CONNECTED = "ConnectionClosed: the client is not connected"


def _assert_connection_losses_only(run: ScenarioRun, *, reason: str = "") -> None:
    """Every failure Locust counted is an operation cut off by a dropped connection
    (closed with ``reason``, if given): in flight when it closed, or started in the
    moment between the close and its user noticing (the client is then not connected)."""
    for request_type, _, error, _ in run.errors:
        assert request_type in ("connect", "subscribe", "publish", "unsubscribe"), run.errors
        assert error.startswith("ConnectionLost("), run.errors
        assert reason in error or NOT_CONNECTED in error, run.errors
    assert sum(count for *_, count in run.errors) == run.failures, (run.errors, run.rows)


def test_reconnect_storm_every_user_recovers_and_only_the_jittered_spread_out(
    tmp_path: Path,
) -> None:
    run = run_scenario("reconnect_storm", tmp_path, users=20, seconds=6)
    policies = {
        "StormSubscriber": "full-jitter:base=1s,cap=10s",
        "StormPublisher": "exponential:base=500ms,cap=10s",
    }
    assert run.spawned.keys() == policies.keys(), run.spawned
    assert len(run.report["policies"]) == 2, run.report["policies"]
    for user_class, label in policies.items():
        users = run.spawned[user_class]
        policy = run.policy("reconnect", label)
        # Every connection of the class is dropped at 3 s and back on its first
        # attempt (nothing refuses it), long before the stop at 6 s.
        assert policy["losses"] == users, policy
        assert policy["attempts"] == users, policy
        assert policy["recoveries"] == users, policy
        assert policy["conformance"] == 1.0, policy
        assert policy["give_ups"] == {}, policy
        herd = policy["herd"]
        assert herd is not None, policy
        assert herd["disconnected"] == users and herd["first_attempts"] == users, herd
    exponential = run.policy("reconnect", policies["StormPublisher"])["herd"]
    jittered = run.policy("reconnect", policies["StormSubscriber"])["herd"]
    # No jitter: every publisher comes back 500 ms after the drop, all in one 100 ms.
    assert exponential["peak_first_attempts"] == exponential["disconnected"], exponential
    # Full jitter spreads the subscribers' first attempts over a second.
    assert jittered["peak_first_attempts"] < jittered["disconnected"], jittered
    # Exit code: the reconnects themselves fail nothing, so the run exits 0 unless a
    # publish was in flight (sent, not yet acknowledged) when the connections were cut:
    # that publish fails with the disconnect's close reason and Locust exits 1.
    _assert_connection_losses_only(run, reason="injected fault: disconnect-all")
    assert all(request_type == "publish" for request_type, *_ in run.errors), run.errors
    assert run.failures <= run.spawned["StormPublisher"], run.errors
    assert run.returncode == (1 if run.failures else 0), run.tail()


def test_flapping_connections_keep_recovering_within_the_policy(tmp_path: Path) -> None:
    run = run_scenario("flapping", tmp_path, users=20, seconds=8)
    assert run.spawned.keys() == {"FlappingSubscriber", "FlappingPubSub"}, run.spawned
    assert len(run.report["policies"]) == 1, run.report["policies"]
    policy = run.policy("reconnect", "decorrelated-jitter:base=200ms,cap=5s")
    # 20 connections dropped at 0.25/s each for ~8 s: about 40 losses.
    assert policy["losses"] > 0 and policy["recoveries"] > 0, policy
    assert policy["conformance"] == 1.0, policy
    assert policy["recovery_s"] is not None, policy
    assert policy["give_ups"] == {}, policy  # no max-attempts: a user never gives up
    # A loss whose reconnect was still under way at the stop is not a recovery: at most
    # one per user. A drop during a reconnect's own connect makes it take two attempts.
    assert 0 <= policy["losses"] - policy["recoveries"] <= 20, policy
    assert policy["attempts"] >= policy["recoveries"], policy
    # Exit code: a drop usually hits an idle connection (not a failure: the user just
    # reconnects), so the run exits 0, unless it cut off an operation in flight (a
    # publish, a subscribe or the connect of a reconnect, an unsubscribe at the stop):
    # that operation fails with ConnectionLost and Locust exits 1. The drops are
    # resets without a close frame, so the error carries no fault text.
    _assert_connection_losses_only(run)
    assert run.returncode == (1 if run.failures else 0), run.tail()


def test_a_throttled_publisher_retries_within_its_policy(tmp_path: Path) -> None:
    run = run_scenario("throttled_publisher", tmp_path, users=20, seconds=6)
    assert run.spawned.keys() == {"ThrottledPublisher", "ThrottledSubscriber"}, run.spawned
    # Throttling refuses publishes and drops no connection: publish retries only.
    assert len(run.report["policies"]) == 1, run.report["policies"]
    policy = run.policy("publish", "exponential:base=50ms,cap=1s,max-attempts=5")
    assert policy["attempts"] > 0, policy
    assert policy["conformance"] == 1.0, policy
    assert policy["losses"] == 0 and policy["recoveries"] == 0 and policy["herd"] is None, policy
    # A publish is given up after its 5th retry is refused too (1 in 64 with half
    # refused): in some runs none is.
    assert set(policy["give_ups"]) <= {"max attempts reached"}, policy
    given_up = sum(policy["give_ups"].values())
    publishes, failed = run.row("publish", ROOMS)
    assert publishes > 0 and failed == given_up, run.rows
    deliveries, lost = run.row("deliver", ROOMS)
    assert deliveries > 0 and lost == 0, run.rows
    # Exit code: a retried publish that succeeds is no failure; only a give-up is, so
    # Locust exits 1 exactly when a publish was given up.
    expected_error = (
        "RetriesExhausted('publish failed: GaveUp: max attempts reached after 5 retries; "
        "last: LimitExceededError')"
    )
    assert all(error == expected_error for _, _, error, _ in run.errors), run.errors
    assert run.failures == given_up, (run.rows, policy)
    assert run.returncode == (1 if given_up else 0), run.tail()


def test_lost_keepalives_are_found_and_reconnected(tmp_path: Path) -> None:
    # 8 s: keep-alives are withheld from 2 s to 6 s; by the stop they have flowed for
    # 2 s again, so every loss has been recovered and no watchdog fires during cleanup.
    run = run_scenario("keepalive_loss", tmp_path, users=20, seconds=8)
    assert run.spawned == {"SilentSubscriber": 20}, run.spawned
    assert len(run.report["policies"]) == 1, run.report["policies"]
    label = "equal-jitter:base=200ms,cap=2s"
    policy = run.policy("reconnect", label)
    # With no keep-alive for 4 s and a 1.5 s connectionTimeoutMs, every connection
    # times out at least once; each reconnect succeeds on its first attempt.
    assert policy["losses"] >= 20, policy
    assert policy["recoveries"] == policy["losses"], policy
    assert policy["attempts"] == policy["losses"], policy
    assert policy["conformance"] == 1.0, policy
    assert policy["give_ups"] == {}, policy
    assert run.row("reconnect", label) == (policy["recoveries"], 0), run.rows
    # Exit code 0: a keep-alive timeout is a loss, not a failed request, and no request
    # is in flight when one fires (subscribers only subscribe right after connecting).
    assert run.errors == [] and run.failures == 0, run.tail()
    assert run.returncode == 0, run.tail()


def test_an_auth_failure_is_given_up_after_one_attempt(tmp_path: Path) -> None:
    run = run_scenario("auth_failure", tmp_path, users=20, seconds=5)
    assert run.spawned == {"LockedOutSubscriber": 20}, run.spawned
    assert len(run.report["policies"]) == 1, run.report["policies"]
    label = "full-jitter:base=200ms,cap=5s"
    policy = run.policy("reconnect", label)
    assert policy["losses"] == 20, policy
    assert policy["attempts"] == 20, policy  # one each: no retry loop
    assert policy["give_ups"] == {"not retryable": 20}, policy
    assert policy["recoveries"] == 0 and policy["recovery_s"] is None, policy
    assert policy["conformance"] == 1.0, policy
    # The first connects succeed; each user's one reconnect is refused.
    assert run.row(*CONNECT) == (40, 20), run.rows
    # Exit code 1: each user's refused reconnect is a failed ``connect`` and its
    # give-up a failed ``reconnect``, both Locust failures, 40 in all.
    assert Counter({(t, n, e): c for t, n, e, c in run.errors}) == Counter(
        {
            (
                *CONNECT,
                "OperationRejected('connect failed: UnauthorizedException: "
                "Connection refused (injected fault)')",
            ): 20,
            (
                "reconnect",
                label,
                "RetriesExhausted('reconnect failed: GaveUp: not retryable after 1 retries; "
                "last: UnauthorizedException')",
            ): 20,
        }
    ), run.errors
    assert run.failures == 40, run.rows
    assert run.returncode == 1, run.tail()
