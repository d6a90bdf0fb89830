"""Client benchmark: what one Locust worker-like process pays per connection and per delivery.

Run from the project root with the project installed::

    python bench/bench_client.py [--connections N] [--seconds S] [--publish-rate R] [--modes ...]

One emulator runs for the whole run. Each mode is measured in a fresh child process (this
file with ``--measure MODE``; gevent, ``locust`` imported first) holding ``--connections``
subscribed WebSocket connections: ``harness`` (real ``harness.loadtest.users.Subscriber`` users in a
Locust ``LocalRunner``), ``bare`` (the baseline: websockets' sans-I/O protocol on gevent
sockets, counting ``data`` frames) and ``websockets-sync`` (its sync client under gevent).
A publisher child (``--publish``) offers every mode the same load. Figures per mode: RSS
and descriptors per connection, deliveries per CPU-second of the measuring process, and
whether it kept up. bench/README.md says more.
"""

from __future__ import annotations

import locust  # noqa: F401  (first: gevent monkey-patches before anything imports ssl)

# isort: split

import argparse
import contextlib
import gc
import http.client
import itertools
import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import bench_support as support
import gevent
from bench_support import BenchError, positive_float, positive_int
from gevent import socket as gsocket
from gevent.pool import Pool
from websockets.client import ClientProtocol
from websockets.exceptions import ConnectionClosed
from websockets.frames import Frame, Opcode
from websockets.http11 import Response
from websockets.protocol import State
from websockets.sync.client import connect as sync_connect
from websockets.typing import Subprotocol
from websockets.uri import parse_uri

from harness.emulator.process import EmulatorProcess, EmulatorStartError
from harness.protocol import Endpoints, Subscribe, encode
from harness.workload.tracing import TraceStamp, make_event

BASELINE_MODE = "bare"
# A mode that falls 50 s behind (at the default rate) is disconnected (1013) instead of
# queueing without bound in the emulator; the run then reports it.
EMULATOR_ARGS = ("--log-level", "WARNING", "--max-queued-frames", "1000")
SPARE_FDS = 256
RUN_ID = "bench"
PUBLISHER_ID = "bench-publisher"
EVENT_BYTES = 200

OPEN_CONCURRENCY = 100  # connections opening at once (bare, websockets-sync)
SPAWN_RATE = 100.0  # harness users started per second (Locust advises at most 100)
BATCHES = 5  # parts of the window; their spread shows the noise
MIN_BATCH_DELIVERIES = 2000  # below this in any part, no spread is shown
READ_CHUNK_BYTES = 65536
FRAMES_BETWEEN_YIELDS = 64  # the harness client's yield policy
MAX_HANDSHAKE_FRAMES = 20  # frames (ka, connection_ack) allowed before subscribe_success

CONNECT_TIMEOUT_S = 15.0
OPEN_ALL_TIMEOUT_S = 120.0
FIRST_DELIVERY_TIMEOUT_S = 15.0
CLOSE_ALL_TIMEOUT_S = 10.0
CHILD_START_TIMEOUT_S = 60.0
PUBLISHER_STOP_TIMEOUT_S = 10.0
HTTP_TIMEOUT_S = 10.0
POLL_S = 0.05


# --- Modes: what holds the connections in the measuring child ------------------------
# Each driver has open(count), deliveries(), problems(), latency_ms() and close().


class HarnessDriver:
    """``harness.loadtest.users.Subscriber`` users in a Locust ``Environment`` (``LocalRunner``)."""

    fds_per_connection = 1  # an estimate, for the open-files check

    def __init__(self, http_url: str) -> None:
        arguments = f"--channels {support.CHANNEL} --subscriptions-per-user 1 --run-id {RUN_ID} "
        arguments += f"--connect-timeout {CONNECT_TIMEOUT_S}"
        self.environment = support.subscriber_environment(http_url, arguments.split())
        self.runner = self.environment.create_local_runner()
        self.target = 0

    def _clients(self) -> list[Any]:
        """Each running user's ``EventsClient`` (None before it connected)."""
        connections = [g.args[0].connection for g in self.runner.user_greenlets if g.args]
        return [c.client if c is not None else None for c in connections]

    def _subscribed(self) -> int:
        return sum(
            1 for c in self._clients() if c is not None and c.lost is None and c.subscriptions
        )

    def open(self, count: int) -> None:
        self.target += count
        self.runner.start(self.target, spawn_rate=SPAWN_RATE)
        deadline = time.monotonic() + OPEN_ALL_TIMEOUT_S
        while self._subscribed() < self.target or self.runner.state != "running":
            if time.monotonic() > deadline:
                raise BenchError(
                    f"harness: {self._subscribed()} of {self.target} users subscribed after "
                    f"{OPEN_ALL_TIMEOUT_S:g} s; failures: {self._failures()}"
                )
            gevent.sleep(POLL_S)

    def _deliver(self) -> Any:
        return self.environment.stats.get(support.CHANNEL, "deliver")

    def deliveries(self) -> int:
        return int(self._deliver().num_requests)

    def _failures(self) -> dict[str, int]:
        return {
            f"{method} {name} failures": entry.num_failures
            for (name, method), entry in list(self.environment.stats.entries.items())
            if entry.num_failures
        }

    def problems(self) -> dict[str, int]:
        found = self._failures()
        lost = sum(1 for client in self._clients() if client is None or client.lost)
        if lost:
            found["connections lost"] = lost
        connects = self.environment.stats.get("/event/realtime", "connect").num_requests
        if connects > self.target:
            found["reconnects"] = connects - self.target
        return found

    def latency_ms(self) -> tuple[float, float]:
        """Median and 99th percentile of ``deliver`` (from the events' intended send time)."""
        entry = self._deliver()
        return entry.get_response_time_percentile(0.5), entry.get_response_time_percentile(0.99)

    def close(self) -> None:
        with gevent.Timeout(CLOSE_ALL_TIMEOUT_S, False):
            self.runner.quit()


class CountingDriver:
    """Connections that each get a greenlet counting their ``data`` frames, nothing parsed."""

    mode = ""
    fds_per_connection = 1

    def __init__(self, http_url: str) -> None:
        endpoints = Endpoints.from_http_url(http_url)
        self.authorizer = support.emulator_authorizer(endpoints.http_host)
        self.realtime_url = endpoints.realtime_url
        self.subprotocols = [Subprotocol(p) for p in self.authorizer.connect_subprotocols()]
        self.connections: list[Any] = []
        self.readers: list[gevent.Greenlet[Any, Any]] = []
        self.received = self.lost = 0  # data frames, connections lost

    def _connect(self, index: int) -> None: ...  # open, add to connections, subscribe

    def _read(self, connection: Any) -> None: ...  # count until the connection ends

    def _subscribe(self, index: int) -> str:
        authorization = self.authorizer.message_authorization(support.CHANNEL)
        return encode(Subscribe(f"s{index}", support.CHANNEL, authorization))

    def open(self, count: int) -> None:
        first = len(self.connections)
        pool = Pool(OPEN_CONCURRENCY)
        greenlets = [pool.spawn(self._connect, i) for i in range(first, first + count)]
        pool.join(timeout=OPEN_ALL_TIMEOUT_S)
        pool.kill(block=False)
        for greenlet in greenlets:  # the first failure wins
            if not greenlet.successful():
                why = greenlet.exception or f"still opening after {OPEN_ALL_TIMEOUT_S:g} s"
                raise BenchError(f"{self.mode}: a connection failed to open: {why!r}")
        self.readers.extend(gevent.spawn(self._read, c) for c in self.connections[first:])

    def deliveries(self) -> int:
        return self.received

    def problems(self) -> dict[str, int]:
        return {"connections lost": self.lost} if self.lost else {}

    def latency_ms(self) -> None:
        return None

    def close(self) -> None:
        pool = Pool(OPEN_CONCURRENCY)
        for connection in self.connections:
            pool.spawn(connection.close)
        pool.join(timeout=CLOSE_ALL_TIMEOUT_S)
        pool.kill(block=False)
        gevent.killall(self.readers, block=False)


class BareConnection:
    """websockets' sans-I/O protocol over one gevent socket."""

    def __init__(self) -> None:
        self.sock: Any = None
        self.protocol: ClientProtocol | None = None

    def open(self, url: str, subprotocols: list[Subprotocol], subscribe: str) -> None:
        """The upgrade, ``connection_init`` and ``subscribe``, until ``subscribe_success``."""
        parts = urlsplit(url)
        address = (parts.hostname, parts.port or 80)
        self.sock = sock = gsocket.create_connection(address, timeout=CONNECT_TIMEOUT_S)
        sock.setsockopt(gsocket.IPPROTO_TCP, gsocket.TCP_NODELAY, 1)
        self.protocol = protocol = ClientProtocol(parse_uri(url), subprotocols=subprotocols)
        protocol.send_request(protocol.connect())
        self.flush()
        texts: list[bytes] = []
        while not any(b'"subscribe_success"' in text for text in texts):
            data = sock.recv(READ_CHUNK_BYTES)
            if not data:
                raise BenchError("bare: the server closed during the handshake")
            protocol.receive_data(data)
            for event in protocol.events_received():
                if isinstance(event, Response):
                    if protocol.handshake_exc is not None:
                        raise BenchError(f"bare: upgrade refused: {protocol.handshake_exc}")
                    protocol.send_text(b'{"type":"connection_init"}')
                    protocol.send_text(subscribe.encode())
                elif isinstance(event, Frame) and event.opcode is Opcode.TEXT:
                    texts.append(bytes(event.data))
            self.flush()
            if len(texts) > MAX_HANDSHAKE_FRAMES:
                raise BenchError(f"bare: no subscribe_success; got {texts[-1][:200]!r}")
        sock.settimeout(None)

    def flush(self) -> None:
        assert self.protocol is not None
        payload = b"".join(self.protocol.data_to_send())
        if payload:
            self.sock.sendall(payload)

    def close(self) -> None:
        if self.protocol is not None and self.protocol.state is State.OPEN:
            with contextlib.suppress(OSError):
                self.protocol.send_close(1000)
                self.flush()
        if self.sock is not None:
            with contextlib.suppress(OSError):
                self.sock.close()


class BareDriver(CountingDriver):
    """The baseline: no harness logic between the socket and a frame counter."""

    mode = "bare"

    def _connect(self, index: int) -> None:
        connection = BareConnection()
        self.connections.append(connection)
        connection.open(self.realtime_url, self.subprotocols, self._subscribe(index))

    def _read(self, connection: BareConnection) -> None:
        protocol, recv = connection.protocol, connection.sock.recv
        assert protocol is not None
        text, closed, prefix = Opcode.TEXT, State.CLOSED, support.DATA_PREFIX
        since_yield = 0
        try:
            while protocol.state is not closed:
                data = recv(READ_CHUNK_BYTES)
                if not data:
                    protocol.receive_eof()
                    break
                protocol.receive_data(data)
                events = protocol.events_received()
                for frame in events:
                    if frame.opcode is text and frame.data.startswith(prefix):
                        self.received += 1
                if protocol.writes:
                    connection.flush()
                since_yield += len(events)
                if since_yield >= FRAMES_BETWEEN_YIELDS:
                    since_yield = 0
                    gevent.sleep(0)
        except OSError:
            pass
        if protocol.close_rcvd is None or protocol.close_rcvd.code != 1000:
            self.lost += 1


class SyncDriver(CountingDriver):
    """``websockets.sync.client`` connections under gevent."""

    mode = "websockets-sync"
    fds_per_connection = 3  # the socket and a socket pair

    def _connect(self, index: int) -> None:
        ws = sync_connect(
            self.realtime_url,
            subprotocols=self.subprotocols,
            proxy=None,
            compression=None,
            open_timeout=CONNECT_TIMEOUT_S,
            legacy=True,
        )
        self.connections.append(ws)
        ws.send('{"type":"connection_init"}')
        ws.send(self._subscribe(index))
        for _ in range(MAX_HANDSHAKE_FRAMES):
            text = ws.recv(timeout=CONNECT_TIMEOUT_S)
            if '"subscribe_success"' in text:
                return
        raise BenchError(f"websockets-sync: no subscribe_success; got {text[:200]!r}")

    def _read(self, ws: Any) -> None:
        prefix = support.DATA_PREFIX.decode()
        try:
            for message in ws:
                if message.startswith(prefix):
                    self.received += 1
        except ConnectionClosed:
            self.lost += 1


DRIVERS: dict[str, type[HarnessDriver | CountingDriver]] = {
    "harness": HarnessDriver,
    "bare": BareDriver,
    "websockets-sync": SyncDriver,
}
MODES = tuple(DRIVERS)


# --- The measuring child: --measure MODE (one JSON line per phase) -------------------


def settled_rss() -> int:
    gc.collect()
    return support.settled_rss_kib()  # its time.sleep is gevent's here


def measure(mode: str, http_url: str, connections: int, warmup_s: float, seconds: float) -> int:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    logging.getLogger("locust").setLevel(logging.ERROR)
    driver = DRIVERS[mode](http_url)
    try:
        warm = min(support.WARMUP_CONNECTIONS, connections // 4)
        if warm:
            driver.open(warm)
        rss_before, fds_before = settled_rss(), support.open_fds()
        driver.open(connections - warm)
        kib = (settled_rss() - rss_before) / (connections - warm)
        fds = (support.open_fds() - fds_before) / (connections - warm)
        support.emit({"kib_per_connection": kib, "fds_per_connection": fds})
        # The parent starts the publisher now: wait for the first event, then warm up.
        deadline = time.monotonic() + FIRST_DELIVERY_TIMEOUT_S
        while driver.deliveries() == 0:
            if time.monotonic() > deadline:
                raise BenchError(f"{mode}: no delivery within {FIRST_DELIVERY_TIMEOUT_S:g} s")
            gevent.sleep(POLL_S)
        gevent.sleep(warmup_s)

        def sample() -> tuple[int, float, float, float]:
            return (
                driver.deliveries(),
                support.own_cpu_s(),
                time.perf_counter(),
                support.runqueue_wait_s(),
            )

        samples = [sample()]  # at the edges of the window's parts
        for _ in range(BATCHES):
            gevent.sleep(seconds / BATCHES)
            samples.append(sample())
        deliveries, cpu_s, wall_s, wait_s = (
            b - a for a, b in zip(samples[0], samples[-1], strict=True)
        )
        support.emit(
            {
                "deliveries": deliveries,
                "cpu_s": cpu_s,
                "wall_s": wall_s,
                "wait_s": wait_s,
                "batches": [(b[0] - a[0], b[1] - a[1]) for a, b in itertools.pairwise(samples)],
                "problems": driver.problems(),
                "latency_ms": driver.latency_ms(),
            }
        )
    except BenchError as exc:
        support.emit({"error": str(exc)})
        return 1
    finally:
        driver.close()
    return 0


# --- The publisher child: --publish -----------------------------------------------


def publish(http_url: str, rate: float, duration_s: float) -> int:
    """POST ``rate`` requests of traced events per second, on a fixed schedule, for at most
    ``duration_s`` or until SIGTERM; then print a summary line."""
    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    endpoints = Endpoints.from_http_url(http_url)
    authorizer = support.emulator_authorizer(endpoints.http_host)
    path = urlsplit(http_url).path
    channel, per_request = support.CHANNEL, support.EVENTS_PER_PUBLISH
    interval_ns = int(1e9 / rate)
    start_mono, start_wall = time.monotonic_ns(), time.time_ns()
    sent = failed = late = 0
    connection = http.client.HTTPConnection(endpoints.http_host, timeout=HTTP_TIMEOUT_S)
    try:
        for index in range(max(1, int(rate * duration_s))):
            if stopping:
                break
            delay_ns = start_mono + index * interval_ns - time.monotonic_ns()
            if delay_ns > 0:
                time.sleep(delay_ns / 1e9)
            elif delay_ns < -interval_ns:
                late += 1
            intended_ns = start_wall + index * interval_ns
            seqs = range(index * per_request + 1, (index + 1) * per_request + 1)
            stamps = [TraceStamp(RUN_ID, PUBLISHER_ID, channel, seq, intended_ns) for seq in seqs]
            body = support.publish_body([make_event(stamp, EVENT_BYTES) for stamp in stamps])
            try:
                connection.request("POST", path, body=body, headers=authorizer.http_headers(body))
                response = connection.getresponse()
                answer = response.read()
                if response.status != 200 or json.loads(answer).get("failed"):
                    failed += 1
            except (OSError, http.client.HTTPException, ValueError):
                failed += 1
                connection.close()
            sent += 1
    finally:
        connection.close()
    support.emit({"requests": sent, "failed": failed, "late": late})
    return 0


# --- The parent: the emulator, and per mode a measuring child and a publisher ----------


@dataclass
class ModeResult:
    mode: str
    connections: int
    offered_per_s: float
    publisher: dict[str, Any]  # the publisher's summary
    emulator: dict[str, Any]  # the emulator's admin stats
    # The rest as the measuring child reported it (the window's figures, then per connection):
    kib_per_connection: float
    fds_per_connection: float
    deliveries: int
    cpu_s: float
    wall_s: float
    wait_s: float  # runnable but waiting for a CPU (NaN: not known)
    batches: list[tuple[int, float]]  # (deliveries, CPU seconds) of each part of the window
    problems: dict[str, int]
    latency_ms: list[float] | None  # harness: median and p99 of 'deliver'

    @property
    def per_cpu_s(self) -> float:
        return self.deliveries / self.cpu_s if self.cpu_s > 0 else float("nan")

    def share(self, amount: float) -> float:
        """``amount`` per second of the window."""
        return amount / self.wall_s if self.wall_s > 0 else float("nan")

    def offered_pct(self) -> float:
        return self.share(self.deliveries) / self.offered_per_s * 100

    def spread_pct(self) -> float:
        """Of deliveries per CPU-second over the parts of the window."""
        if any(count < MIN_BATCH_DELIVERIES for count, _ in self.batches):
            return float("nan")  # too few deliveries per part for a rate to mean anything
        return support.spread_pct([count / cpu for count, cpu in self.batches if cpu > 0])


def admin(emulator: EmulatorProcess, method: str, path: str) -> dict[str, Any]:
    """Call the emulator's admin API directly (no proxy, loopback only)."""
    parts = urlsplit(emulator.info.admin_url)
    connection = http.client.HTTPConnection(parts.netloc, timeout=HTTP_TIMEOUT_S)
    try:
        connection.request(method, parts.path + path)
        response = connection.getresponse()
        body = response.read()
    finally:
        connection.close()
    if response.status != 200:
        raise BenchError(f"emulator admin {method} {path}: HTTP {response.status}")
    value = json.loads(body) if body else {}
    return value if isinstance(value, dict) else {}


def run_mode(mode: str, emulator: EmulatorProcess, args: argparse.Namespace) -> ModeResult:
    url = emulator.info.http_url
    admin(emulator, "DELETE", "stats")
    window = ["--warmup", str(args.warmup), "--seconds", str(args.seconds)]
    measuring_args = ["--measure", mode, "--url", url, "--connections", str(args.connections)]
    with support.child(__file__, [*measuring_args, *window], f"{mode} measuring") as measuring:
        connected = measuring.next(CHILD_START_TIMEOUT_S + OPEN_ALL_TIMEOUT_S)
        publisher_s = FIRST_DELIVERY_TIMEOUT_S + args.warmup + args.seconds + 10.0
        publisher_args = ["--publish", "--url", url, "--publish-rate", str(args.publish_rate)]
        publisher_args += ["--seconds", str(publisher_s)]
        with support.child(__file__, publisher_args, "publisher") as publisher:
            result = measuring.next(CHILD_START_TIMEOUT_S + publisher_s)
            emulator_stats = admin(emulator, "GET", "stats")
            publisher.process.send_signal(signal.SIGTERM)
            summary = publisher.next(PUBLISHER_STOP_TIMEOUT_S)
        with contextlib.suppress(subprocess.TimeoutExpired):  # it closes its connections
            measuring.process.wait(CLOSE_ALL_TIMEOUT_S + 5.0)
    offered = args.publish_rate * support.EVENTS_PER_PUBLISH * args.connections
    return ModeResult(
        mode, args.connections, offered, summary, emulator_stats, **connected, **result
    )


def check_open_files(modes: Sequence[str], connections: int) -> None:
    """Raise the open-files limit for the worst mode; stop if even the hard limit is too low."""
    per = max(DRIVERS[mode].fds_per_connection for mode in modes)
    hard = support.raise_open_files_limit(per * connections + SPARE_FDS)
    if hard is not None:
        raise BenchError(
            f"--connections {connections} needs about {per * connections + SPARE_FDS:,} open "
            f"files in one process ({per} per connection, plus {SPARE_FDS}), but the open-files "
            f"limit is {hard:,} (hard); lower --connections to {(hard - SPARE_FDS) // per:,} "
            "or leave that mode out with --modes"
        )


# --- Report ------------------------------------------------------------------------

NOTE = (
    "What was measured: for each mode a fresh process (gevent, locust imported first) holds "
    "the connections, while the emulator and an HTTP publisher run in other processes. "
    "'per CPU-s' is the deliveries that process counted in the window (harness: Locust "
    "'deliver' entry in its stats; the others: data frames) divided by its own CPU time over the "
    "window (getrusage RUSAGE_SELF, user + system): deliveries per core at this offered load, "
    "not a wall-clock rate. 'spread %' is how far the window's 5 parts differed from each "
    "other on that figure; 'CPU %' is how busy the process was (of one core), 'wait %' how "
    "long it was ready to run but waited for a CPU held by others (/proc/self/schedstat), "
    "'%\xa0offered' whether it kept up with the publisher. 'KiB/conn' and 'fds/conn' are the "
    "growth of the process's VmRSS and open descriptors while it opened the connections "
    "(after a few warm-up connections), divided by their number; kernel socket buffers are "
    "not in RSS. The bare mode (websockets' sans-I/O protocol on gevent sockets, frames "
    "counted, nothing parsed) is the baseline of the ratios; on a shared machine only ratios "
    "from one run are comparable."
)


def number(value: float, spec: str) -> str:
    return "n/a" if value != value else format(value, spec)  # NaN: not measurable


def row(r: ModeResult, base: ModeResult | None) -> list[tuple[str, str]]:
    """(column, cell) pairs; the ratios are to ``base``."""

    def vs_base(figure: Callable[[ModeResult], float]) -> str:
        return number(support.ratio(figure(r), figure(base)), ".2f") if base else "n/a"

    return [
        ("mode", r.mode),
        ("connections", f"{r.connections:,}"),
        ("deliveries", f"{r.deliveries:,}"),
        ("per CPU-s", f"{r.per_cpu_s:,.0f}"),
        ("ratio", vs_base(lambda m: m.per_cpu_s)),
        ("spread %", number(r.spread_pct(), ".0f")),
        ("KiB/conn", f"{r.kib_per_connection:.1f}"),
        ("ratio", vs_base(lambda m: m.kib_per_connection)),
        ("fds/conn", f"{r.fds_per_connection:.2f}"),
        ("CPU %", f"{r.share(r.cpu_s) * 100:.0f}"),
        ("wait %", f"{r.share(r.wait_s) * 100:.0f}"),
        ("% offered", f"{r.offered_pct():.0f}"),
    ]


def keep_up_warnings(r: ModeResult) -> dict[str, int]:
    """What makes a mode's figures not comparable: losses, or not keeping up with the load."""
    found = dict(r.problems)
    if r.publisher.get("failed"):
        found["publishes failed"] = r.publisher["failed"]
    if r.publisher.get("late", 0) > 0.01 * r.publisher.get("requests", 0):
        found["publishes behind schedule"] = r.publisher["late"]
    sent = r.emulator.get("deliveries", {})
    for kind in ("dropped", "overflowed"):
        if sent.get(kind):
            found[f"emulator deliveries {kind}"] = sent[kind]
    for reason, count in r.emulator.get("connections", {}).get("disconnects", {}).items():
        found[f"emulator disconnects ({reason})"] = count
    if r.offered_pct() < 90:
        found["kept up with only this % of the offered load"] = round(r.offered_pct())
    return found


def print_report(results: Sequence[ModeResult], args: argparse.Namespace) -> None:
    offered = args.publish_rate * support.EVENTS_PER_PUBLISH * args.connections
    print(
        f"{args.connections:,} connections per mode, each subscribed to {support.CHANNEL}; "
        f"{args.publish_rate:g} HTTP publishes/s of {support.EVENTS_PER_PUBLISH} events of "
        f"{EVENT_BYTES} bytes (offered: {offered:,.0f} deliveries/s); warm-up {args.warmup:g} s, "
        f"window {args.seconds:g} s"
    )
    print(f"ratios are mode / {BASELINE_MODE}, from this run")
    print()
    base = next((r for r in results if r.mode == BASELINE_MODE), None)
    rows = [row(r, base) for r in results]
    names = [name for name, _ in rows[0]]
    support.print_table(names, [[cell for _, cell in cells] for cells in rows])
    print()
    for r in results:
        if r.latency_ms is not None:
            print(
                f"{r.mode}: Locust 'deliver' latency from the intended send time, "
                f"median {r.latency_ms[0]:.0f} ms, p99 {r.latency_ms[1]:.0f} ms"
            )
    print()
    print(textwrap.fill(NOTE, width=100).replace("\xa0", " "))
    for r in results:
        if warnings := keep_up_warnings(r):
            print(
                f"warning: {r.mode}: {warnings}; at this load the process is saturated or "
                "losing events, its figures are not comparable",
                file=sys.stderr,
            )


# --- Main ------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--connections",
        type=positive_int,
        default=1000,
        metavar="N",
        help="connections held by the measuring process, each subscribed once (default: 1000)",
    )
    parser.add_argument(
        "--seconds",
        type=positive_float,
        default=5.0,
        metavar="S",
        help="measurement window per mode, after the warm-up (default: 5)",
    )
    parser.add_argument(
        "--warmup",
        type=positive_float,
        default=None,
        metavar="S",
        help="warm-up after the first delivery, before the window (default: 40%% of "
        "--seconds, 0.5 to 2 s)",
    )
    parser.add_argument(
        "--publish-rate",
        type=positive_float,
        default=4.0,
        metavar="R",
        help=f"HTTP publish requests per second, {support.EVENTS_PER_PUBLISH} events each; every "
        "event goes to every connection (default: 4, i.e. 20,000 deliveries/s at 1,000 "
        "connections)",
    )
    parser.add_argument(
        "--modes",
        type=support.choice_list(MODES),
        default=list(MODES),
        metavar="LIST",
        help=f"comma-separated, measured in this order (default: {','.join(MODES)})",
    )
    parser.add_argument("--measure", choices=MODES, help=argparse.SUPPRESS)
    parser.add_argument("--publish", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.warmup is None:
        args.warmup = min(2.0, max(0.5, args.seconds * 0.4))

    if args.publish:
        return publish(args.url, args.publish_rate, args.seconds)
    if args.measure:
        return measure(args.measure, args.url, args.connections, args.warmup, args.seconds)

    support.exit_on_sigterm()
    versions = support.header(("locust", "gevent", "websockets"))
    print(f"{versions}, load average {os.getloadavg()[0]:.1f}")
    try:
        check_open_files(args.modes, args.connections)
        with EmulatorProcess.start(EMULATOR_ARGS) as emulator:
            results = [run_mode(mode, emulator, args) for mode in args.modes]
    except (BenchError, EmulatorStartError) as exc:
        print(f"bench_client: failed: {exc}", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, support.Terminated):
        print("bench_client: interrupted; child processes stopped", file=sys.stderr)
        return 130
    print_report(results, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
