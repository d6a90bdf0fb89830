"""Idle-connections benchmark: what one Locust worker-like process pays to hold N subscribed
connections, how fast it opens them, and whether it closes them cleanly.

Run from the project root with the project installed::

    python bench/bench_idle.py [--connections 1000,5000,15000] [--spawn-rate R] [--json PATH]

One emulator runs for the whole run (127.0.0.1, API key auth). For each N a fresh child
process (this file with ``--measure``; gevent, ``locust`` imported first) runs N real
``harness.loadtest.users.Subscriber`` users in a Locust ``LocalRunner``, one subscribed
connection each. Figures per N: RSS and descriptors per connection, peak RSS, the achieved
connect rate and the harness's connect times, the subscriptions confirmed as the users see
them and as the emulator's admin stats see them, and the close: its time, what the emulator
still holds, the child's descriptors, and the harness's cleanup ledger. bench/README.md
says more.
"""

from __future__ import annotations

import locust  # noqa: F401  (first: gevent monkey-patches before anything imports ssl)

# isort: split

import argparse
import contextlib
import gc
import itertools
import json
import logging
import math
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import bench_support as support
import gevent
from bench_support import BenchError, number, positive_float, positive_int
from gevent.event import Event

from harness.emulator.admin_client import AdminClient, AdminError
from harness.emulator.process import EmulatorProcess, EmulatorStartError

DEFAULT_CONNECTIONS = (1000, 5000, 15000)
DEFAULT_SPAWN_RATE = 500.0
DEFAULT_CHANNELS = "/default/idle-{1..100}"
EMULATOR_ARGS = ("--log-level", "WARNING")
RUN_ID = "bench-idle"
FDS_PER_CONNECTION = 1  # an estimate, for the open-files check (measured: 1)
SPARE_FDS = 256
PROGRESS_EVERY = 1000  # users subscribed between two progress lines
PROGRESS_MAX_GAP_S = 5.0  # and at least this often while spawning

CONNECT_TIMEOUT_S = 15.0
OPEN_BASE_S = 30.0  # the spawn may take this plus N / OPEN_MIN_RATE seconds
OPEN_MIN_RATE = 50.0
CLOSE_ALL_TIMEOUT_S = 120.0  # runner.stop(): every user unsubscribes and closes (each bounded)
FDS_SETTLE_S = 3.0  # after the stop, descriptors may take this long to be released
SERVER_SETTLE_S = 5.0  # the emulator may take this long to see the last closes
HOLD_TIMEOUT_S = 60.0  # the child waits this long for the parent's go to close
CHILD_START_TIMEOUT_S = 60.0
RECORD_TIMEOUT_S = 60.0  # the parent waits this long for any record of the child
POLL_S = 0.1
IDLE_WINDOW_S = 2.0  # the CPU of holding the connections is measured over this


# --- The measuring child: --measure (JSON records on stdout) -------------------------


def status_kib(name: str, pid: int | str = "self") -> int:
    """A ``kB`` line of ``/proc/<pid>/status`` (VmRSS, VmHWM)."""
    for line in support.read_proc(pid, "status").splitlines():
        if line.startswith(f"{name}:"):
            return int(line.split()[1])
    raise BenchError(f"process {pid} has no {name}: has it exited?")


def settled_rss() -> int:
    gc.collect()
    return support.settled_rss_kib()  # its time.sleep is gevent's here


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest rank; NaN without values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


class Probe:
    """Counts the harness users' Locust request events (the figures its stats and histograms
    get): subscribes confirmed, connect and subscribe times, failures."""

    def __init__(self) -> None:
        self.subscribed = 0
        self.refused = 0  # subscribes that failed: not retried, so never confirmed
        self.last_subscribed = 0.0  # perf_counter of the last subscribe_success
        self.connect_ms: list[float] = []
        self.subscribe_ms: list[float] = []
        self.failures: Counter[str] = Counter()

    def on_request(
        self,
        request_type: str,
        name: str,
        response_time: float,
        exception: Exception | None = None,
        **_: Any,
    ) -> None:
        if exception is not None:
            self.failures[f"{request_type} {name}: {type(exception).__name__}"] += 1
            if request_type == "subscribe":
                self.refused += 1
        elif request_type == "subscribe":
            self.subscribed += 1
            self.last_subscribed = time.perf_counter()
            self.subscribe_ms.append(response_time)
        elif request_type == "connect":
            self.connect_ms.append(response_time)

    def reset_times(self) -> None:
        self.connect_ms.clear()
        self.subscribe_ms.clear()


class IdleUsers:
    """``Subscriber`` users in a Locust ``Environment`` with a ``LocalRunner``."""

    def __init__(self, http_url: str, channels: str) -> None:
        arguments = [
            *("--channels", channels, "--subscriptions-per-user", "1"),
            *("--run-id", RUN_ID, "--connect-timeout", str(CONNECT_TIMEOUT_S)),
        ]
        self.environment = support.subscriber_environment(http_url, arguments)
        self.runner = self.environment.create_local_runner()
        self.probe = Probe()
        self.environment.events.request.add_listener(self.probe.on_request)
        self.target = 0

    def users(self) -> list[Any]:
        # Locust's own convention: a user greenlet's first argument is its user.
        return [g.args[0] for g in list(self.runner.user_greenlets) if g.args]

    def own_state(self) -> dict[str, int]:
        """What the users themselves hold: connections up, acknowledged subscriptions."""
        clients = [u.connection.client if u.connection is not None else None for u in self.users()]
        live = [c for c in clients if c is not None and c.lost is None]
        return {
            "users": len(clients),
            "connections_up": len(live),
            "subscriptions": sum(len(c.subscriptions) for c in live),
        }

    def spawn(self, count: int, spawn_rate: float, progress: bool) -> float:
        """Start ``count`` more users and wait until each has its subscription confirmed;
        the seconds from the start to the last confirmation."""
        first = self.probe.subscribed
        self.target += count
        deadline_s = OPEN_BASE_S + count / OPEN_MIN_RATE
        started = time.perf_counter()
        self.runner.start(self.target, spawn_rate=spawn_rate)
        next_line, last_line = (first // PROGRESS_EVERY + 1) * PROGRESS_EVERY, started
        while (done := self.probe.subscribed - first) < count or self.runner.state != "running":
            now = time.perf_counter()
            if now - started > deadline_s or self.probe.refused:
                raise BenchError(
                    f"{done:,} of {count:,} users subscribed after {now - started:.1f} s; "
                    f"failures: {dict(self.probe.failures) or 'none'}"
                )
            total = self.probe.subscribed
            if progress and (total >= next_line or now - last_line >= PROGRESS_MAX_GAP_S):
                support.emit({"progress": total, "of": self.target, "elapsed_s": now - started})
                next_line = (total // PROGRESS_EVERY + 1) * PROGRESS_EVERY
                last_line = now
            gevent.sleep(POLL_S)
        if progress and next_line <= self.target:  # the last line: all of them
            support.emit(
                {
                    "progress": self.probe.subscribed,
                    "of": self.target,
                    "elapsed_s": time.perf_counter() - started,
                }
            )
        return self.probe.last_subscribed - started

    def stop(self) -> float:
        """Stop every user (each unsubscribes, closes and checks its cleanup); seconds taken."""
        started = time.perf_counter()
        with gevent.Timeout(CLOSE_ALL_TIMEOUT_S, False):
            self.runner.stop()
        return time.perf_counter() - started

    def stats_rows(self, request_type: str) -> dict[str, dict[str, int]]:
        return {
            name: {"ok": entry.num_requests - entry.num_failures, "failed": entry.num_failures}
            for (name, method), entry in list(self.environment.stats.entries.items())
            if method == request_type
        }

    def drain(self) -> None:
        """Move what the users recorded into the run's merged results now, as the harness
        does once a second, so that the figures do not depend on where that second is."""
        from harness.loadtest.state import run_state

        run_state(self.environment).collect()

    def histograms(self) -> tuple[int, int] | None:
        """The harness's latency histograms in this process, and their counters' bytes: its
        recorders' (one per metric and channel, until the next drain) and the run's merged
        results' (one per metric and channel, and one per metric and template for each 5 s).
        From public fields of the run state; None if they are not there."""
        from harness.loadtest.state import run_state

        try:
            state = run_state(self.environment)
            timeline = state.results.timeline
            held = [
                *state.recorders.latency.histograms.values(),
                *timeline.cumulative.values(),
                *timeline.slots.values(),
            ]
            return len(held), sum(histogram_bytes(h) for h in held)
        except AttributeError:
            return None

    def cleanup_ledger(self) -> dict[str, Any]:
        """The resilience ledger's cleanup figures: drain what the users recorded into the
        run's results (as the end of a run does) and read them there."""
        from harness.loadtest.state import run_state

        cleanup = run_state(self.environment).collect().resilience.summary()["cleanup"]
        return {k: cleanup[k] for k in ("users_checked", "leaks", "by_kind")}


def histogram_bytes(histogram: Any) -> int:
    """What one histogram's counts take: hdrh's dense array, or a dict of buckets."""
    if hasattr(histogram, "counts_len"):  # hdrh.histogram.HdrHistogram
        return int(histogram.counts_len * histogram.word_size)
    size = sys.getsizeof(histogram)
    counts = getattr(histogram, "counts", None)
    if isinstance(counts, dict):
        size += sys.getsizeof(counts)
        size += sum(sys.getsizeof(key) + sys.getsizeof(value) for key, value in counts.items())
    return size


def fds_back_to(baseline: int) -> int:
    """Open descriptors, waiting up to FDS_SETTLE_S for them to fall to ``baseline``."""
    deadline = time.monotonic() + FDS_SETTLE_S
    while (fds := support.open_fds()) > baseline and time.monotonic() < deadline:
        gevent.sleep(POLL_S)
    return fds


def measure(http_url: str, connections: int, spawn_rate: float, channels: str) -> int:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    logging.getLogger("locust").setLevel(logging.ERROR)
    go = Event()
    gevent.signal_handler(signal.SIGUSR1, go.set)
    idle = IdleUsers(http_url, channels)
    try:
        rss_start, fds_start = settled_rss(), support.open_fds()
        warm = min(support.WARMUP_CONNECTIONS, connections // 4)
        if warm:
            idle.spawn(warm, spawn_rate, progress=False)
        idle.drain()
        rss_before, fds_before = settled_rss(), support.open_fds()
        histograms_before = idle.histograms()
        idle.probe.reset_times()
        measured = connections - warm
        spawn_s = idle.spawn(measured, spawn_rate, progress=True)
        idle.drain()
        rss_connected, fds_connected = settled_rss(), support.open_fds()
        histograms_connected = idle.histograms()
        peak_connected = status_kib("VmHWM")
        cpu_0, wall_0 = support.own_cpu_s(), time.perf_counter()
        gevent.sleep(IDLE_WINDOW_S)  # each user's idle task wakes once a second
        idle_cpu = (support.own_cpu_s() - cpu_0) / (time.perf_counter() - wall_0)
        probe = idle.probe
        support.emit(
            {
                "warmup": warm,
                "rss_start_kib": rss_start,
                "rss_before_kib": rss_before,
                "rss_connected_kib": rss_connected,
                "fds_start": fds_start,
                "fds_before": fds_before,
                "fds_connected": fds_connected,
                "peak_rss_connected_kib": peak_connected,  # VmHWM before the close
                "histograms_before": histograms_before,
                "histograms_connected": histograms_connected,
                "spawn_s": spawn_s,
                "connect_ms": [percentile(probe.connect_ms, q) for q in (0.5, 0.99, 1.0)],
                "subscribe_ms": [percentile(probe.subscribe_ms, q) for q in (0.5, 0.99, 1.0)],
                "idle_cpu_pct": idle_cpu * 100,
                "own_state": idle.own_state(),
                "subscribe_events": probe.subscribed,
                "connect_attempts": sum(
                    r["ok"] + r["failed"] for r in idle.stats_rows("connect").values()
                ),
            }
        )
        # The parent reads the emulator's stats, then signals: close everything.
        if not go.wait(HOLD_TIMEOUT_S):
            raise BenchError(f"no signal to close within {HOLD_TIMEOUT_S:g} s")
        close_s = idle.stop()
        fds_closed = fds_back_to(fds_start)
        support.emit(
            {
                "close_s": close_s,
                "users_left": idle.runner.user_count,
                "stopped": idle.runner.state == "stopped",
                "fds_closed": fds_closed,
                "rss_closed_kib": support.rss_kib(),
                "peak_rss_kib": status_kib("VmHWM"),
                "unsubscribe": idle.stats_rows("unsubscribe"),
                "cleanup_rows": idle.stats_rows("cleanup"),
                "cleanup_ledger": idle.cleanup_ledger(),
                "failures": dict(probe.failures),
            }
        )
    except BenchError as exc:
        support.emit({"error": str(exc)})
        return 1
    finally:
        if idle.runner.state != "stopped":
            idle.stop()
    return 0


# --- The parent: the emulator, and a measuring child per N ----------------------------


@dataclass
class Emulator:
    """The emulator's admin stats, read with the harness's AdminClient (an independent
    observer: it counts what the server holds, not what the users think they hold)."""

    process: EmulatorProcess
    admin: AdminClient = field(init=False)
    attempts_seen: int = 0

    def __post_init__(self) -> None:
        self.admin = AdminClient(self.process.info.admin_url)

    def stats(self) -> dict[str, Any]:
        try:
            stats = self.admin.stats(attempts_since=self.attempts_seen)
        except AdminError as exc:
            raise BenchError(str(exc)) from None
        self.attempts_seen = stats["connections"]["attempts"]  # list only new attempts next time
        return stats

    def held(self) -> tuple[int, int]:
        """Open connections and live subscriptions."""
        stats = self.stats()
        return stats["connections"]["open"], stats["subscriptions"]["live"]

    def wait_held(self, connections: int, subscriptions: int, settle_s: float) -> tuple[int, int]:
        """Poll until it holds exactly these (or ``settle_s`` passed); what it holds."""
        deadline = time.monotonic() + settle_s
        while (held := self.held()) != (connections, subscriptions):
            if time.monotonic() >= deadline:
                break
            time.sleep(POLL_S)
        return held


@dataclass
class Result:
    connections: int
    spawn_rate: float
    child: dict[str, Any]  # the measuring child's two records, merged
    emulator_before: tuple[int, int]  # open connections, live subscriptions before the run
    emulator_connected: tuple[int, int]  # ... once every user was subscribed
    emulator_closed: tuple[int, int]  # ... after the close
    emulator_subscriptions_total: int  # subscribes the emulator accepted during the run
    emulator_rss_kib: tuple[int, int]  # the emulator's VmRSS before and once connected
    emulator_disconnects: dict[str, int]
    problems: list[str] = field(default_factory=list)

    @property
    def measured(self) -> int:
        return self.connections - self.child["warmup"]

    @property
    def kib_per_connection(self) -> float:
        growth = self.child["rss_connected_kib"] - self.child["rss_before_kib"]
        return growth / self.measured

    @property
    def histogram_kib_per_connection(self) -> float:
        """The part of :attr:`kib_per_connection` that is the harness's latency histograms
        (counted, not measured); NaN if they could not be counted."""
        before, after = self.child["histograms_before"], self.child["histograms_connected"]
        if before is None or after is None:
            return float("nan")
        return (after[1] - before[1]) / 1024 / self.measured

    @property
    def fds_per_connection(self) -> float:
        return (self.child["fds_connected"] - self.child["fds_before"]) / self.measured

    @property
    def connect_rate(self) -> float:
        spawn_s = self.child["spawn_s"]
        return self.measured / spawn_s if spawn_s > 0 else float("nan")

    @property
    def harness_subscribed(self) -> int:
        return int(self.child["own_state"]["subscriptions"])

    @property
    def emulator_subscribed(self) -> int:
        return self.emulator_connected[1] - self.emulator_before[1]

    @property
    def emulator_left(self) -> tuple[int, int]:
        return (
            self.emulator_closed[0] - self.emulator_before[0],
            self.emulator_closed[1] - self.emulator_before[1],
        )

    @property
    def leaks(self) -> int:
        return int(self.child["cleanup_ledger"]["leaks"])

    def find_problems(self) -> None:
        """What a reader of the figures must know: counts that disagree, leftovers, failures."""
        child, n = self.child, self.connections
        found = self.problems
        state = child["own_state"]
        if (self.harness_subscribed, self.emulator_subscribed) != (n, n):
            found.append(
                f"subscriptions confirmed: the users hold {self.harness_subscribed:,}, the "
                f"emulator {self.emulator_subscribed:,} (live), of {n:,}"
            )
        if (
            state["connections_up"] != n
            or self.emulator_connected[0] - self.emulator_before[0] != n
        ):
            found.append(
                f"connections: {state['connections_up']:,} up in the users, "
                f"{self.emulator_connected[0] - self.emulator_before[0]:,} open in the emulator, "
                f"of {n:,}"
            )
        if self.emulator_subscriptions_total != n:
            found.append(f"the emulator accepted {self.emulator_subscriptions_total:,} subscribes")
        if child["connect_attempts"] != n:
            found.append(f"{child['connect_attempts']:,} connect attempts for {n:,} users")
        if not child["stopped"] or child["users_left"]:
            found.append(
                f"the runner did not stop within {CLOSE_ALL_TIMEOUT_S:g} s "
                f"({child['users_left']:,} users left)"
            )
        if self.emulator_left != (0, 0):
            found.append(
                "after the close the emulator still holds {:,} connections and {:,} "
                "subscriptions of this run".format(*self.emulator_left)
            )
        if child["fds_closed"] != child["fds_start"]:
            found.append(
                f"open descriptors after the close: {child['fds_closed']:,}, before the users: "
                f"{child['fds_start']:,}"
            )
        ledger = child["cleanup_ledger"]
        if ledger["users_checked"] != n or ledger["leaks"]:
            found.append(
                f"cleanup ledger: {ledger['users_checked']:,} users checked, "
                f"{ledger['leaks']:,} leaks {ledger['by_kind'] or ''}".rstrip()
            )
        clean = child["cleanup_rows"].get("clean", {}).get("ok", 0)
        if clean != n:
            found.append(f"{clean:,} 'cleanup clean' rows for {n:,} users")
        unsubscribed = sum(r["ok"] for r in child["unsubscribe"].values())
        if unsubscribed != n:
            found.append(f"{unsubscribed:,} unsubscribes succeeded for {n:,} subscriptions")
        if child["failures"]:
            found.append(f"failed requests: {child['failures']}")
        if self.emulator_disconnects:
            found.append(f"emulator disconnects: {self.emulator_disconnects}")

    def to_json(self) -> dict[str, Any]:
        return {
            "connections": self.connections,
            "spawn_rate": self.spawn_rate,
            "measured_connections": self.measured,
            "kib_per_connection": self.kib_per_connection,
            "histogram_kib_per_connection": self.histogram_kib_per_connection,
            "fds_per_connection": self.fds_per_connection,
            "peak_rss_mib": self.child["peak_rss_kib"] / 1024,
            "connect_rate_per_s": self.connect_rate,
            "subscribed": {
                "harness": self.harness_subscribed,
                "emulator": self.emulator_subscribed,
            },
            "emulator_kib_per_connection": (self.emulator_rss_kib[1] - self.emulator_rss_kib[0])
            / self.connections,
            **{k: v for k, v in asdict(self).items() if k not in ("connections", "spawn_rate")},
        }


def run_one(connections: int, emulator: Emulator, args: argparse.Namespace) -> Result:
    before = emulator.wait_held(0, 0, SERVER_SETTLE_S)
    stats_before = emulator.stats()
    total_before = stats_before["subscriptions"]["total"]
    disconnects_before = Counter(stats_before["connections"]["disconnects"])
    emulator_rss_before = support.rss_kib(emulator.process.pid)
    arguments = ["--measure", "--url", emulator.process.info.http_url]
    arguments += ["--connections", str(connections), "--spawn-rate", str(args.spawn_rate)]
    arguments += ["--channels", args.channels]
    with support.child(__file__, arguments, f"{connections:,}-connection measuring") as measuring:
        record = measuring.next(CHILD_START_TIMEOUT_S)
        for _ in range(10 * connections + 100):  # bounded; the child has its own deadline
            if "progress" not in record:
                break
            if args.progress:
                print(
                    f"bench_idle: {connections:,}: {record['progress']:,} of {record['of']:,} "
                    f"subscribed after {record['elapsed_s']:.1f} s",
                    file=sys.stderr,
                    flush=True,
                )
            record = measuring.next(RECORD_TIMEOUT_S)
        connected = record
        expected = (before[0] + connections, before[1] + connections)
        emulator_connected = emulator.wait_held(*expected, settle_s=2.0)
        stats = emulator.stats()
        emulator_rss_connected = support.rss_kib(emulator.process.pid)
        measuring.process.send_signal(signal.SIGUSR1)
        closed = measuring.next(CLOSE_ALL_TIMEOUT_S + FDS_SETTLE_S + RECORD_TIMEOUT_S)
        emulator_closed = emulator.wait_held(*before, settle_s=SERVER_SETTLE_S)
        with contextlib.suppress(subprocess.TimeoutExpired):
            measuring.process.wait(support.STOP_TIMEOUT_S)
    after = emulator.stats()
    disconnects = Counter(after["connections"]["disconnects"])
    disconnects.subtract(disconnects_before)
    result = Result(
        connections,
        args.spawn_rate,
        {**connected, **closed},
        before,
        emulator_connected,
        emulator_closed,
        stats["subscriptions"]["total"] - total_before,
        (emulator_rss_before, emulator_rss_connected),
        {reason: count for reason, count in disconnects.items() if count},
    )
    result.find_problems()
    return result


def check_open_files(connections: Sequence[int]) -> int:
    """Raise the open-files limit for the largest N (this process's children, the emulator
    among them, inherit it); stop if even the hard limit is too low. The files needed."""
    needed = FDS_PER_CONNECTION * max(connections) + SPARE_FDS
    hard = support.raise_open_files_limit(needed)
    if hard is not None:
        fit = (hard - SPARE_FDS) // FDS_PER_CONNECTION
        raise BenchError(
            f"--connections {max(connections):,} needs about {needed:,} open files in the "
            f"measuring process and in the emulator ({FDS_PER_CONNECTION} per connection, plus "
            f"{SPARE_FDS}), but the open-files limit is {hard:,} (hard); at most {fit:,} "
            "connections fit"
        )
    return needed


def check_emulator_files(process: EmulatorProcess, needed: int) -> None:
    """The emulator's own soft limit, from /proc (it inherits this process's)."""
    for line in support.read_proc(process.pid, "limits").splitlines():
        if line.startswith("Max open files"):
            soft = line.split()[3]
            if soft != "unlimited" and int(soft) < needed:
                raise BenchError(
                    f"the emulator's open-files limit is {soft}, below the {needed:,} needed"
                )


# --- Report ------------------------------------------------------------------------

NOTE = (
    "What was measured: for each N a fresh process (gevent, locust imported first) runs N "
    "harness Subscriber users in a Locust LocalRunner, one connection and one subscription "
    "each; the emulator runs in another process. 'KiB/conn' and 'fds/conn' are the growth of "
    "that process's VmRSS (settled, after a full collection) and open descriptors from after "
    "a warm-up of a few users to every subscription confirmed, divided by the users added; "
    "kernel socket buffers are not in RSS. 'peak MiB' is its VmHWM. 'connects/s' is the users "
    "added divided by the time from the runner's start to the last subscribe_success; "
    "'connect p50/p99' are the harness's own 'connect' times (upgrade to connection_ack) of "
    "those users. 'idle CPU %' is the process's CPU use (of one core) over 2 s while it held "
    "the idle connections. 'subscribed' is the subscriptions the users hold (their clients' "
    "acknowledged subscriptions) / the live subscriptions the emulator's admin stats count. "
    "'close s' is runner.stop(): every user unsubscribes, closes and checks its cleanup. "
    "'emulator after' is the connections / subscriptions of this run the emulator still holds "
    "after the close, 'fds after/before' the process's descriptors after the close and "
    "before any user, 'leaks' the harness's cleanup ledger."
)


def marginal(results: Sequence[Result]) -> list[dict[str, Any]]:
    """RSS per connection between two N (each process's growth from before its first user
    to all connected, the difference over the difference in N): what an added connection
    costs once per-channel and per-run costs (the histograms, their freed heap) are paid."""
    ordered = sorted(results, key=lambda r: r.connections)
    found = []
    for low, high in itertools.pairwise(ordered):
        if high.connections == low.connections:
            continue
        growth = [r.child["rss_connected_kib"] - r.child["rss_start_kib"] for r in (low, high)]
        found.append(
            {
                "from": low.connections,
                "to": high.connections,
                "kib_per_connection": (growth[1] - growth[0])
                / (high.connections - low.connections),
            }
        )
    return found


def row(r: Result) -> list[tuple[str, str]]:
    child = r.child
    return [
        ("connections", f"{r.connections:,}"),
        ("KiB/conn", f"{r.kib_per_connection:.1f}"),
        ("fds/conn", f"{r.fds_per_connection:.2f}"),
        ("peak MiB", f"{child['peak_rss_kib'] / 1024:,.0f}"),
        ("connects/s", number(r.connect_rate, ",.0f")),
        (
            "connect p50/p99 ms",
            f"{number(child['connect_ms'][0], '.1f')} / {number(child['connect_ms'][1], '.1f')}",
        ),
        ("idle CPU %", f"{child['idle_cpu_pct']:.0f}"),
        ("subscribed", f"{r.harness_subscribed:,} / {r.emulator_subscribed:,}"),
        ("close s", f"{child['close_s']:.2f}"),
        ("emulator after", "{} / {}".format(*r.emulator_left)),
        ("fds after/before", f"{child['fds_closed']} / {child['fds_start']}"),
        ("leaks", f"{r.leaks}"),
    ]


def print_report(results: Sequence[Result], args: argparse.Namespace) -> None:
    print(
        f"harness Subscriber users, one subscription each to {args.channels}; spawn rate "
        f"{args.spawn_rate:g}/s; a fresh process per N"
    )
    print()
    rows = [row(r) for r in results]
    support.print_table([name for name, _ in rows[0]], [[cell for _, cell in c] for c in rows])
    for step in marginal(results):
        print(
            f"RSS per connection from {step['from']:,} to {step['to']:,} connections: "
            f"{step['kib_per_connection']:.1f} KiB"
        )
    print()
    print(textwrap.fill(NOTE, width=100))
    for r in results:
        for problem in r.problems:
            print(f"warning: {r.connections:,} connections: {problem}", file=sys.stderr)


def write_json(path: str, results: Sequence[Result], args: argparse.Namespace, head: str) -> None:
    document = {
        "benchmark": "bench_idle",
        "machine": head,
        "channels": args.channels,
        "spawn_rate": args.spawn_rate,
        "results": [r.to_json() for r in results],
        "marginal": marginal(results),
    }
    with open(path, "w", encoding="utf-8") as file:
        json.dump(document, file, indent=2)
        file.write("\n")


# --- Main ------------------------------------------------------------------------


def connection_list(text: str) -> list[int]:
    try:
        values = [positive_int(part) for part in text.replace(" ", ",").split(",") if part]
    except (ValueError, argparse.ArgumentTypeError):
        values = []
    if not values:
        raise argparse.ArgumentTypeError(
            f"expected positive whole numbers, comma-separated, not {text!r}"
        )
    return values


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--connections",
        type=connection_list,
        default=list(DEFAULT_CONNECTIONS),
        metavar="N,...",
        help="connections (users) per measurement, each in a fresh process "
        f"(default: {','.join(map(str, DEFAULT_CONNECTIONS))})",
    )
    parser.add_argument(
        "--spawn-rate",
        type=positive_float,
        default=DEFAULT_SPAWN_RATE,
        metavar="R",
        help=f"users started per second (default: {DEFAULT_SPAWN_RATE:g})",
    )
    parser.add_argument(
        "--channels",
        default=DEFAULT_CHANNELS,
        metavar="TEMPLATE",
        help=f"the users' --channels; each subscribes to one (default: {DEFAULT_CHANNELS})",
    )
    parser.add_argument("--json", metavar="PATH", help="also write the figures to PATH")
    parser.add_argument(
        "--no-progress", dest="progress", action="store_false", help="no progress lines"
    )
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.measure:
        return measure(args.url, args.connections[0], args.spawn_rate, args.channels)

    support.exit_on_sigterm()
    head = f"{support.header(('locust', 'gevent', 'websockets'))}, load average "
    head += f"{os.getloadavg()[0]:.1f}"
    print(head)
    results: list[Result] = []
    try:
        needed = check_open_files(args.connections)
        with EmulatorProcess.start(EMULATOR_ARGS) as process:
            check_emulator_files(process, needed)
            emulator = Emulator(process)
            for connections in args.connections:
                results.append(run_one(connections, emulator, args))
    except (BenchError, EmulatorStartError) as exc:
        print(f"bench_idle: failed: {exc}", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, support.Terminated):
        print("bench_idle: interrupted; child processes stopped", file=sys.stderr)
        return 130
    print_report(results, args)
    if args.json:
        write_json(args.json, results, args, head)
    return 0


if __name__ == "__main__":
    sys.exit(main())
