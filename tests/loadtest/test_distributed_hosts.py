"""A distributed run across hosts, made of network namespaces: the emulator, the master and
two workers each in a namespace of its own, with its own address on a private link (a
bridge in a fifth namespace) that exists only inside the test.

Nothing crosses a loopback interface between processes: each namespace has its own, so the
workers reach the master (Locust's port 5557) and the emulator at their link addresses only.
The namespaces and every process in them are removed at the end, also on failure. Root
only (``ip netns``); skipped otherwise."""

from __future__ import annotations

import itertools
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pytest
from support.timing import MS

from harness.emulator import defaults

ROOT = Path(__file__).resolve().parents[2]
SUBNET = "10.213.0"
"""A /24 of the private 10/8 range, on a bridge no other namespace is linked to."""
ADDRESSES = {
    "emulator": f"{SUBNET}.2",
    "master": f"{SUBNET}.3",
    "worker-1": f"{SUBNET}.4",
    "worker-2": f"{SUBNET}.5",
}
WORKERS = ("worker-1", "worker-2")
IP_TIMEOUT_S = 10_000 * MS
START_TIMEOUT_S = 30_000 * MS
RUN_TIMEOUT_S = 90_000 * MS
_runs = itertools.count(1)

# Exactly one subscriber and one publisher: Locust deals users to workers in turn, so
# each worker holds one, and every delivery crosses from one worker to the other (the
# test checks that from the emulator's connection log, not from Locust's dealing).
ONE_OF_EACH = """\
from locust import events

from harness.loadtest import install, users

install(events)


class OneSubscriber(users.Subscriber):
    fixed_count = 1


class OnePublisher(users.Publisher):
    fixed_count = 1
"""


class NamespaceError(Exception):
    """An ``ip`` command failed while building the network."""


@dataclass
class Network:
    """The namespaces of one test, by role, and the processes started in them."""

    names: dict[str, str]
    processes: list[subprocess.Popen[str]] = field(default_factory=list)

    def command(self, role: str, *argv: str) -> list[str]:
        """``argv`` run in ``role``'s namespace."""
        return ["ip", "netns", "exec", self.names[role], *argv]

    def start(self, role: str, *argv: str, log: Path) -> subprocess.Popen[str]:
        """A process in ``role``'s namespace, its output (stdout and stderr) in ``log``."""
        with log.open("w") as output:
            process = subprocess.Popen(
                self.command(role, *argv),
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                text=True,
                env=_environment(),
            )
        self.processes.append(process)
        return process

    def locust(
        self, role: str, locustfile: Path, *arguments: str, log: Path
    ) -> subprocess.Popen[str]:
        return self.start(
            role, sys.executable, "-m", "locust", "-f", str(locustfile), *arguments, log=log
        )

    def worker_arguments(self) -> tuple[str, ...]:
        return ("--worker", "--master-host", ADDRESSES["master"])

    def admin_stats(self, role: str, admin_url: str) -> dict[str, Any]:
        """The emulator's ``GET /_emulator/stats``, asked from ``role``'s namespace (over
        https:// without checking the certificate: the workers' connects check it)."""
        script = (
            "import http.client, ssl, sys, urllib.parse\n"
            "url = urllib.parse.urlsplit(sys.argv[1])\n"
            "if url.scheme == 'https':\n"
            "    context = ssl._create_unverified_context()\n"
            "    connection = http.client.HTTPSConnection(url.netloc, timeout=5, context=context)\n"
            "else:\n"
            "    connection = http.client.HTTPConnection(url.netloc, timeout=5)\n"
            "connection.request('GET', url.path + 'stats')\n"
            "print(connection.getresponse().read().decode())\n"
        )
        result = subprocess.run(
            self.command(role, sys.executable, "-c", script, admin_url),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=START_TIMEOUT_S,
            env=_environment(),
            check=False,
        )
        assert result.returncode == 0, result.stderr[-2000:]
        stats: dict[str, Any] = json.loads(result.stdout)
        return stats

    def stop_all(self) -> None:
        """Kill what is still running (by pid: each ``ip netns exec`` became its process)."""
        for process in self.processes:
            if process.poll() is None:
                process.kill()
            process.wait()


def _environment() -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("LOCUST_")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _ip(*arguments: str) -> None:
    result = subprocess.run(
        ["ip", *arguments], capture_output=True, text=True, timeout=IP_TIMEOUT_S, check=False
    )
    if result.returncode != 0:
        raise NamespaceError(f"ip {' '.join(arguments)}: {result.stderr.strip()}")


def _build(names: dict[str, str], hub: str, made: list[str]) -> None:
    """A bridge in ``hub`` and, for each role, a namespace linked to it by a veth pair."""
    _ip("netns", "add", hub)
    made.append(hub)
    _ip("-n", hub, "link", "add", "br0", "type", "bridge")
    _ip("-n", hub, "link", "set", "br0", "up")
    for number, (role, name) in enumerate(names.items(), start=1):
        _ip("netns", "add", name)
        made.append(name)
        port = f"port{number}"
        _ip("-n", hub, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", name)
        _ip("-n", hub, "link", "set", port, "master", "br0", "up")
        _ip("-n", name, "addr", "add", f"{ADDRESSES[role]}/24", "dev", "eth0")
        _ip("-n", name, "link", "set", "eth0", "up")
        _ip("-n", name, "link", "set", "lo", "up")


@pytest.fixture
def network() -> Iterator[Network]:
    """Five namespaces of unique names (pid and a counter); removed at the end, after
    every process started in them is killed."""
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root (ip netns)")
    if shutil.which("ip") is None:
        pytest.skip("network namespaces need iproute2's ip command")
    prefix = f"hx{os.getpid()}-{next(_runs)}"
    names = {role: f"{prefix}-{role}" for role in ADDRESSES}
    made: list[str] = []
    built = Network(names)
    try:
        try:
            _build(names, f"{prefix}-hub", made)
        except (NamespaceError, OSError, subprocess.TimeoutExpired) as exc:
            pytest.skip(f"cannot make network namespaces here: {exc}")
        yield built
    finally:
        built.stop_all()
        for name in reversed(made):
            subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)


# -- helpers -------------------------------------------------------------------------------


def read_line(process: subprocess.Popen[str], stream: IO[str], timeout_s: float) -> str:
    """The first line ``process`` writes on ``stream`` (bounded)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        readable, _, _ = select.select([stream], [], [], 0.1)
        if readable:
            return stream.readline()
        assert process.poll() is None, f"exited with status {process.returncode}"
    raise AssertionError(f"no line within {timeout_s} s")


def wait_for_text(log: Path, text: str, process: subprocess.Popen[str]) -> str:
    """The log once ``text`` is in it (bounded); fails if the process ends first."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        output = log.read_text()
        if text in output:
            return output
        assert process.poll() is None, output[-3000:]
        time.sleep(0.1)
    raise AssertionError(f"{text!r} not in {log.name} within {START_TIMEOUT_S} s")


def finish(network: Network, master: subprocess.Popen[str], log: Path) -> str:
    """Wait for the master and the workers to exit (bounded); the master's output."""
    try:
        master.wait(RUN_TIMEOUT_S)
        for process in network.processes:
            if process is not master and "--worker" in process.args:
                process.wait(START_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"still running: {log.read_text()[-3000:]}") from None
    return log.read_text()


def process_tag(client_id: str) -> str:
    """The process tag of a connect's ``x-harness-client-id`` (``<tag>-<n>/<episode>/<n>``)."""
    return client_id.split("/")[0].rpartition("-")[0]


def check_workers(summary: dict[str, Any]) -> None:
    """Both workers reported to the end, and measured their clocks against the master's."""
    workers = summary["workers"]
    assert (workers["count"], workers["final_reports"], workers["lost"]) == (2, 2, []), workers
    assert len(workers["each"]) == 2, workers
    clocks = [figures["clock"] for figures in workers["each"].values()]
    assert None not in clocks, workers  # each worker measured its clock and reported it
    assert workers["clock_flagged"] == [], workers  # one kernel clock: nothing to flag
    for clock in clocks:
        # One kernel clock in every namespace: the true offset is 0.
        assert abs(clock["offset_ms"]) <= clock["uncertainty_ms"] + 0.01, clock
        assert clock["uncertainty_ms"] < 50_000 * MS, clock  # milliseconds, a veth link
        assert clock["samples"] > 0, clock


def summary_of(report_dir: Path, output: str) -> dict[str, Any]:
    path = report_dir / "summary.json"
    assert path.exists(), output[-3000:]
    summary: dict[str, Any] = json.loads(path.read_text())
    return summary


# -- the tests -------------------------------------------------------------------------------


def test_a_run_across_hosts_against_an_emulator_on_its_own_host(
    network: Network, tmp_path: Path
) -> None:
    """The emulator in its namespace, the master and two workers in theirs: the merged
    figures match the emulator's own counts, every delivery crossed from one worker to the
    other, and every connection came from a worker's link address."""
    emulator = subprocess.Popen(
        network.command(
            "emulator",
            *(sys.executable, "-m", "harness.emulator", "--host", ADDRESSES["emulator"]),
            *("--port", "0", "--log-level", "WARNING"),
        ),
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=_environment(),
    )
    network.processes.append(emulator)
    assert emulator.stdout is not None
    ready = json.loads(read_line(emulator, emulator.stdout, START_TIMEOUT_S))
    http_url, admin_url = ready["http_url"], ready["admin_url"]
    assert http_url.startswith(f"http://{ADDRESSES['emulator']}:"), ready

    locustfile = tmp_path / "one_of_each.py"
    locustfile.write_text(ONE_OF_EACH)
    report_dir = tmp_path / "report"
    log = tmp_path / "master.log"
    master = network.locust(
        "master",
        locustfile,
        *("--headless", "--master", "--master-bind-host", ADDRESSES["master"]),
        *("--expect-workers", "2", "--expect-workers-max-wait", str(round(START_TIMEOUT_S))),
        *("-u", "2", "-r", "2", "-t", "8s", "--host", http_url),
        *("--api-key", defaults.DEFAULT_API_KEY, "--channels", "/default/across"),
        *("--publish-rate", "20", "--report-dir", str(report_dir)),
        log=log,
    )
    for worker in WORKERS:
        network.locust(worker, locustfile, *network.worker_arguments(), log=tmp_path / worker)
    output = finish(network, master, log)
    assert master.returncode == 0, output[-3000:]
    summary = summary_of(report_dir, output)
    stats = network.admin_stats("master", admin_url)

    # Every connection came from a worker's link address: one each.
    attempts = stats["connection_attempts"]
    remotes = sorted(attempt["remote"] for attempt in attempts)
    assert remotes == [ADDRESSES["worker-1"], ADDRESSES["worker-2"]], attempts
    assert all(attempt["outcome"] == "accepted" for attempt in attempts), attempts
    # Two processes (user id tags), one subscription: the subscriber's process is not the
    # publisher's, so each delivery went from one worker, through the emulator, to the other.
    assert len({process_tag(attempt["client_id"]) for attempt in attempts}) == 2, attempts
    assert stats["subscriptions"]["total"] == 1, stats["subscriptions"]

    # The merged figures, against the emulator's independent counts.
    delivery = summary["delivery"]["overall"]
    published, delivered = delivery["published"], delivery["delivered"]
    assert published >= 100, delivery  # 20/s for 8 s
    assert (delivery["lost"], delivery["duplicated"], delivery["out_of_order"]) == (0, 0, 0)
    # At the stop, one publish may be accepted and not yet acknowledged, or delivered and
    # not yet read.
    assert published <= stats["publishes"]["events"] <= published + 1, stats["publishes"]
    assert delivered <= stats["deliveries"]["sent"] <= delivered + 1, stats["deliveries"]
    # One subscriber: each event the emulator accepted reaches it at most once; those
    # published before its subscription was live are not expected of it.
    assert published / 2 < delivered <= stats["publishes"]["events"], delivery
    assert summary["totals"]["requests"]["deliver"]["count"] == delivered, summary["totals"]
    assert summary["run"]["settings"]["host"] == http_url
    check_workers(summary)
    print(
        f"\naddresses {ADDRESSES}; emulator {http_url}; connections from {remotes}; "
        f"published {published}, delivered {delivered} (emulator: "
        f"{stats['publishes']['events']} events, {stats['deliveries']['sent']} sent); "
        f"workers {json.dumps(summary.get('workers'))}"
    )
    emulator.send_signal(signal.SIGTERM)
    assert emulator.wait(START_TIMEOUT_S) == 0


@pytest.mark.parametrize("tls", [False, True], ids=["ws", "wss"])
def test_the_embedded_emulator_on_the_masters_link_address(
    network: Network, tmp_path: Path, tls: bool
) -> None:
    """--emulator-bind: the master's embedded emulator listens on the master's link
    address, the workers receive that URL and connect to it, and the master warns that a
    test server is reachable from the network. With --tls, its certificate is valid for
    that address: the workers check it on every connect."""
    address = ADDRESSES["master"]
    scheme = "https" if tls else "http"
    report_dir = tmp_path / "report"
    log = tmp_path / "master.log"
    locustfile = ROOT / "locustfile.py"
    master = network.locust(
        "master",
        locustfile,
        *("--headless", "--master", "--master-bind-host", address),
        *("--expect-workers", "2", "--expect-workers-max-wait", str(round(START_TIMEOUT_S))),
        *("-u", "6", "-r", "6", "-t", "8s", "--emulator-bind", address),
        *("--channels", "/default/bound", "--publish-rate", "5", "--report-dir", str(report_dir)),
        *(["--emulator-args=--tls"] if tls else []),
        log=log,
    )
    for worker in WORKERS:
        network.locust(worker, locustfile, *network.worker_arguments(), log=tmp_path / worker)
    started = wait_for_text(log, "All users spawned", master)
    line = next(line for line in started.splitlines() if "AppSync Events emulator at" in line)
    http_url = line.rsplit(" ", 1)[-1]
    assert http_url.startswith(f"{scheme}://{address}:"), line
    assert "reachable from the network" in started and "test server" in started
    admin_url = http_url.removesuffix("/event") + "/_emulator/"
    # Mid-run, asked from a worker's namespace: every connection came from a worker.
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        stats = network.admin_stats("worker-1", admin_url)
        if stats["connections"]["open"] == 6 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    remotes = {attempt["remote"] for attempt in stats["connection_attempts"]}
    assert remotes == {ADDRESSES[worker] for worker in WORKERS}, stats["connection_attempts"]

    output = finish(network, master, log)
    assert master.returncode == 0, output[-3000:]
    summary = summary_of(report_dir, output)
    delivery = summary["delivery"]["overall"]
    assert delivery["delivered"] > 0 and delivery["lost"] == 0, delivery
    requests = summary["totals"]["requests"]
    assert requests["connect"] == {"count": 6, "failures": 0}, requests
    assert requests["deliver"]["count"] == delivery["delivered"], requests
    server = summary["resilience"]["server"]  # the master reached its emulator's admin API
    assert (server.get("open_connections"), server.get("live_subscriptions")) == (0, 0), server
    check_workers(summary)
    print(f"\nemulator {http_url}; connections from {sorted(remotes)}; delivery {delivery}")


def test_a_worker_killed_mid_run_fails_the_run_and_is_named(
    network: Network, tmp_path: Path
) -> None:
    """SIGKILL of one worker half-way: the master notices, the run exits non-zero, and the
    summary names the lost worker (its final report never came)."""
    address = ADDRESSES["master"]
    report_dir = tmp_path / "report"
    log = tmp_path / "master.log"
    locustfile = ROOT / "locustfile.py"
    master = network.locust(
        "master",
        locustfile,
        *("--headless", "--master", "--master-bind-host", address),
        *("--expect-workers", "2", "--expect-workers-max-wait", str(round(START_TIMEOUT_S))),
        *("-u", "6", "-r", "6", "-t", "12s", "--emulator-bind", address),
        *("--channels", "/default/killed", "--publish-rate", "5", "--report-dir", str(report_dir)),
        log=log,
    )
    workers = [
        network.locust(worker, locustfile, *network.worker_arguments(), log=tmp_path / worker)
        for worker in WORKERS
    ]
    wait_for_text(log, "All users spawned", master)
    time.sleep(5)  # about half-way
    workers[1].send_signal(signal.SIGKILL)  # the worker itself: ip netns exec became it
    output = finish(network, master, log)
    assert master.returncode not in (0, None), output[-3000:]
    summary = summary_of(report_dir, output)
    workers_section = summary["workers"]
    assert workers_section["final_reports"] == 1, workers_section
    (lost,) = workers_section["lost"]
    assert lost["worker"] in workers_section["each"], workers_section
    assert not workers_section["each"][lost["worker"]]["final"], workers_section
    assert lost["worker"] in output  # the master names it
    print(f"\nexit status {master.returncode}; lost {lost}")
