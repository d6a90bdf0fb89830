"""Peers benchmark: the harness's users beside two other clients, driving the same pub/sub load.

Run from the project root with the project installed::

    python bench/bench_peers.py [--subscribers N] [--channels C] [--publishers P]
        [--rates R,R] [--window S] [--rounds K] [--modes LIST] [--json PATH]

One emulator (127.0.0.1, API key auth, pinned to one CPU) serves three clients in turn, each
a child process tree pinned to another CPU: ``harness`` (the harness's own Subscriber and
Publisher users, ``locust -f bench/peers_harness_locustfile.py --headless``), ``asyncio``
(a minimal asyncio + ``websockets`` client: this file with ``--asyncio-client``) and
``locust-websocket-client`` (a hand-written Locust user on the ``websocket-client`` package,
``locust -f bench/peers_wsclient_locustfile.py --headless``). Each gets ``--subscribers``
connections, one subscription each, spread evenly over ``--channels`` channels, and
``--publishers`` connections publishing one traced event per publish, on a fixed schedule,
inside a publish window of ``--window`` seconds that starts once every connection is up.
Measured from outside each client, the same way for all: its CPU time in the window, its
peak RSS, and the deliveries per CPU-second; from each client's own samples (exact, or the
harness's HdrHistograms), the delivery and publish-acknowledgement latencies, and the
delivery p99 of each whole 5-s interval of the window (the worst against the median). The
report is the median of ``--rounds`` interleaved rounds; bench/README.md says more.

A fourth mode, ``harness-watched`` (``--modes``; not run by default), measures what the live
views cost: the ``harness`` mode with ``--prometheus-port`` on a free loopback port, and a
thread of this process, pinned to the emulator's CPU (off the client's), that GETs its
``/metrics`` once a second inside the window. The report gives its figures as ratios to the
``harness`` mode of the same run, and how many scrapes returned figures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import urllib.request
from array import array
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import bench_support as support
import peers_common as common
from bench_support import BenchError, json_safe, number, positive_float, positive_int
from hdrh.histogram import HdrHistogram
from hdrh.log import HistogramLogReader
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, WebSocketException
from websockets.typing import Subprotocol

from harness.emulator import defaults
from harness.emulator.admin_client import AdminClient, AdminError
from harness.emulator.process import EmulatorProcess, EmulatorStartError
from harness.protocol import MAX_PUBLISHES_PER_SECOND_PER_CONNECTION, Endpoints, compact_json
from harness.workload.tracing import TraceStamp, make_event

HARNESS, ASYNCIO, WSCLIENT = "harness", "asyncio", "locust-websocket-client"
WATCHED = "harness-watched"  # the harness, its /metrics scraped during the window
DEFAULT_MODES = (HARNESS, ASYNCIO, WSCLIENT)
MODES = (*DEFAULT_MODES, WATCHED)
HARNESS_MODES = (HARNESS, WATCHED)
BENCH_DIR = Path(__file__).resolve().parent
LOCUSTFILES = {
    HARNESS: BENCH_DIR / "peers_harness_locustfile.py",
    WATCHED: BENCH_DIR / "peers_harness_locustfile.py",
    WSCLIENT: BENCH_DIR / "peers_wsclient_locustfile.py",
}
DEFAULT_JSON = BENCH_DIR / "results" / "peers.json"
EMULATOR_ARGS = ("--log-level", "WARNING", "--max-queued-frames", "100000")
SPARE_FDS = 256

LEAD_S = 1.0  # from writing the go file to the window's start: every client sees it in time
POLL_S = 0.1  # RSS of the client tree
TREE_SCAN_S = 0.5  # looking for new processes in the client tree
RAMP_POLL_S = 0.2  # the emulator's stats during the ramp
QUIET_TIMEOUT_S = 15.0  # the previous client's connections gone
STOP_TIMEOUT_S = 60.0  # a client writing its reports after SIGTERM
RUN_TIME_MARGIN_S = 30.0  # Locust's --run-time (and the asyncio client's deadline) beyond the plan
OPEN_CONCURRENCY = 50  # asyncio client: connections opening at once
KEPT_UP_SHARE = 0.95  # below this share of the nominal publishes, a warning
SCRAPE_EVERY_S = 1.0  # harness-watched: one GET of /metrics per second of the window
SCRAPE_TIMEOUT_S = 5.0


# --- The asyncio client (child process: --asyncio-client) ------------------------------


class AsyncioClient:
    """Subscribers and publishers on ``websockets``' asyncio client, in one event loop."""

    def __init__(self, load: common.PeerLoad) -> None:
        self.load = load
        self.channels = load.channels
        endpoints = Endpoints.from_http_url(load.http_url)
        self.url = endpoints.realtime_url
        self.authorizer = support.emulator_authorizer(endpoints.http_host)
        self.subprotocols = [Subprotocol(p) for p in self.authorizer.connect_subprotocols()]
        self.deliver_us = array("q")
        self.deliver_at_ns = array("q")  # each delivery's arrival, time.time_ns()
        self.ack_us: list[int] = []
        self.counts: dict[str, int] = defaultdict(int)
        self.window: common.Window | None = None

    async def open(self) -> ClientConnection:
        ws = await connect(
            self.url,
            subprotocols=self.subprotocols,
            compression=None,
            proxy=None,
            open_timeout=common.CONNECT_TIMEOUT_S,
        )
        await ws.send('{"type":"connection_init"}')
        await self.expect(ws, "connection_ack")
        return ws

    async def expect(self, ws: ClientConnection, kind: str) -> None:
        for _ in range(20):
            text = await asyncio.wait_for(ws.recv(), common.CONNECT_TIMEOUT_S)
            message = json.loads(text)
            if message.get("type") == kind:
                return
            if message.get("type") != "ka":
                raise BenchError(f"expected {kind}, got {str(text)[:200]}")
        raise BenchError(f"no {kind}")

    async def subscriber(self, index: int, gate: asyncio.Semaphore) -> ClientConnection:
        async with gate:
            ws = await self.open()
            channel = self.channels[index % len(self.channels)]
            authorization = self.authorizer.message_authorization(channel)
            subscribe = {"type": "subscribe", "id": "s1", "channel": channel}
            await ws.send(compact_json({**subscribe, "authorization": authorization}))
            await self.expect(ws, "subscribe_success")
            return ws

    async def publisher_connection(self, gate: asyncio.Semaphore) -> ClientConnection:
        async with gate:
            return await self.open()

    async def receive(self, ws: ClientConnection) -> None:
        """A subscriber's reader: delivery latency from each event's intended send time."""
        loads, now = json.loads, time.time_ns
        samples, arrivals = self.deliver_us, self.deliver_at_ns
        try:
            async for message in ws:
                received_ns = now()
                data = loads(message)
                if data.get("type") == "data":
                    samples.append((received_ns - loads(data["event"])["t"]) // 1000)
                    arrivals.append(received_ns)
        except ConnectionClosed:
            self.counts["connections_lost"] += 1

    async def receive_acks(
        self, ws: ClientConnection, pending: dict[str, tuple[int, asyncio.Future[None]]]
    ) -> None:
        try:
            async for message in ws:
                received_ns = time.time_ns()
                answer = json.loads(message)
                waiting = pending.pop(answer.get("id"), None)
                if waiting is None:
                    continue
                intended_ns, done = waiting
                if answer.get("type") == "publish_success" and not answer.get("failed"):
                    self.ack_us.append((received_ns - intended_ns) // 1000)
                    self.counts["published"] += len(answer.get("successful") or ())
                else:
                    self.counts["publish_failures"] += 1
                if not done.done():
                    done.set_result(None)
        except ConnectionClosed:
            self.counts["connections_lost"] += 1

    async def publish(self, ws: ClientConnection, number: int, window: common.Window) -> None:
        """One publisher: one event per slot of its schedule, each awaiting its answer."""
        loop = asyncio.get_running_loop()
        pending: dict[str, tuple[int, asyncio.Future[None]]] = {}
        reader = asyncio.create_task(self.receive_acks(ws, pending))
        publisher_id = f"asyncio-{number}"
        sequences: dict[str, int] = defaultdict(int)
        load = self.load
        try:
            slots = common.slot_times_ns(window, load.publish_rate, random.random())
            for index, intended_ns in enumerate(slots):
                delay_ns = intended_ns - time.time_ns()
                if delay_ns > 0:
                    await asyncio.sleep(delay_ns / 1e9)
                channel = random.choice(self.channels)
                sequences[channel] += 1
                stamp = TraceStamp(
                    load.run_id, publisher_id, channel, sequences[channel], intended_ns
                )
                event = make_event(stamp, load.payload_bytes)
                publish_id = f"p{index}"
                done = loop.create_future()
                pending[publish_id] = (intended_ns, done)
                message = {"type": "publish", "id": publish_id, "channel": channel}
                authorization = self.authorizer.message_authorization(channel, [event])
                await ws.send(
                    compact_json({**message, "events": [event], "authorization": authorization})
                )
                try:
                    await asyncio.wait_for(done, common.ACK_TIMEOUT_S)
                except TimeoutError:
                    pending.pop(publish_id, None)
                    self.counts["ack_timeouts"] += 1
        finally:
            reader.cancel()

    async def wait_for_window(self, deadline: float) -> common.Window | None:
        while (window := common.read_window(self.load.go_file)) is None:
            if time.monotonic() > deadline:
                return None
            await asyncio.sleep(common.GO_POLL_S)
        return window

    async def count_window(self, window: common.Window) -> None:
        for edge, at_ns in (("start", window.start_ns), ("end", window.end_ns)):
            await asyncio.sleep(max(0, at_ns - time.time_ns()) / 1e9)
            self.counts[f"delivered_at_{edge}"] = len(self.deliver_us)
            self.counts[f"counted_at_{edge}_ns"] = time.time_ns()

    async def run(self) -> None:
        load = self.load
        deadline = time.monotonic() + load.deadline_s
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        gate = asyncio.Semaphore(OPEN_CONCURRENCY)
        connections: list[ClientConnection] = []
        tasks: list[asyncio.Task[None]] = []
        try:
            try:
                subscribers = await asyncio.gather(
                    *(self.subscriber(i, gate) for i in range(load.subscribers))
                )
                connections += subscribers
                publishers = await asyncio.gather(
                    *(self.publisher_connection(gate) for _ in range(load.publishers))
                )
                connections += publishers
            except (OSError, WebSocketException, TimeoutError, ValueError, BenchError) as exc:
                raise BenchError(f"a connection failed to open or subscribe: {exc!r}") from None
            tasks += [asyncio.create_task(self.receive(ws)) for ws in subscribers]
            self.window = window = await self.wait_for_window(deadline)
            if window is not None:
                tasks.append(asyncio.create_task(self.count_window(window)))
                tasks += [
                    asyncio.create_task(self.publish(ws, number, window))
                    for number, ws in enumerate(publishers)
                ]
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), max(0.0, deadline - time.monotonic()))
            common.write_json(load.result_file, self.result())
        finally:
            for task in tasks:
                task.cancel()
            closes = [ws.close() for ws in connections]
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*closes, return_exceptions=True), 10.0)

    def result(self) -> dict[str, Any]:
        return {
            **self.counts,
            "delivered": len(self.deliver_us),
            "deliver_ms": common.latency_figures(self.deliver_us),
            "deliver_intervals": (
                common.interval_figures(self.deliver_at_ns, self.deliver_us, self.window)
                if self.window
                else []
            ),
            "publish_ms": common.latency_figures(self.ack_us),
        }


def asyncio_client() -> int:
    load = common.PeerLoad.from_env()
    loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None
    if load.uvloop:
        import uvloop

        loop_factory = uvloop.new_event_loop
    try:
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            runner.run(AsyncioClient(load).run())
    except BenchError as exc:
        print(f"asyncio client: {exc}", file=sys.stderr)
        return 1
    return 0


# --- The parent: one emulator, each client in turn ---------------------------------------


@dataclass(frozen=True)
class Plan:
    """The load every mode gets at one rate."""

    subscribers: int
    channels: int
    publishers: int
    rate: float  # deliveries per second, offered
    payload_bytes: int
    window_s: float

    @property
    def per_channel(self) -> int:
        return self.subscribers // self.channels

    @property
    def publish_rate(self) -> float:
        """Publishes (one event each) per second, per publisher."""
        return self.rate / self.per_channel / self.publishers

    @property
    def nominal_published(self) -> float:
        return self.publish_rate * self.publishers * self.window_s

    @property
    def template(self) -> str:
        return f"/default/ch-{{1..{self.channels}}}"


class TreeMonitor:
    """A client's process tree: pinned, its RSS polled for the peak, its CPU time summed."""

    def __init__(self, root: int, cpus: set[int]) -> None:
        self.root = root
        self.cpus = cpus
        self.pids: list[int] = [root]
        self.pinned: set[int] = set()
        self.peak_kib = 0
        self.next_scan = 0.0

    def scan(self) -> None:
        self.pids = support.process_tree(self.root)
        for pid in set(self.pids) - self.pinned:
            support.pin(pid, self.cpus)  # they inherit it; new threads of old ones too
            self.pinned.add(pid)
        self.next_scan = time.monotonic() + TREE_SCAN_S

    def poll(self) -> None:
        if time.monotonic() >= self.next_scan:
            self.scan()
        self.peak_kib = max(self.peak_kib, support.tree_rss_kib(self.pids))

    def cpu_s(self) -> float:
        self.scan()
        return support.tree_cpu_s(self.pids)

    def sleep(self, seconds: float) -> None:
        self.sleep_until(time.monotonic() + seconds)

    def sleep_until(self, deadline: float) -> None:
        """Poll until ``deadline`` (monotonic)."""
        while time.monotonic() < deadline:
            self.poll()
            time.sleep(min(POLL_S, max(0.0, deadline - time.monotonic())))

    def sleep_until_wall(self, at_ns: int) -> None:
        self.sleep_until(time.monotonic() + (at_ns - time.time_ns()) / 1e9)

    def final_peak_kib(self) -> int:
        self.poll()
        return max(self.peak_kib, support.peak_rss_kib(self.root))


class MetricsPoller:
    """harness-watched: a thread of this process, pinned to ``cpu`` (the emulator's, so off
    the client's), that GETs ``url`` once a second inside the window, as a Prometheus server
    would, and counts the scrapes that returned the harness's figures and their sizes."""

    def __init__(self, url: str, window: common.Window, cpu: int) -> None:
        self.url = url
        self.cpu = cpu
        self.opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # no proxy
        every_ns = round(SCRAPE_EVERY_S * 1e9)
        count = (window.end_ns - window.start_ns) // every_ns
        self.times_ns = [window.start_ns + every_ns // 2 + k * every_ns for k in range(count)]
        self.sizes: list[int] = []  # bytes of each scrape with figures
        self.took_ms: list[float] = []
        self.without_figures = 0  # an empty body: no run summary yet
        self.missed = 0
        self.failures: dict[str, int] = defaultdict(int)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, name="metrics-poller", daemon=True)
        self.thread.start()

    def run(self) -> None:
        os.sched_setaffinity(0, {self.cpu})  # this thread only (Linux)
        for at_ns in self.times_ns:
            wait_s = (at_ns - time.time_ns()) / 1e9
            if wait_s < -SCRAPE_EVERY_S:
                self.missed += 1  # a slow scrape took this one's second
                continue
            if self.stopping.wait(max(0.0, wait_s)):
                return
            self.scrape()

    def scrape(self) -> None:
        started = time.perf_counter()
        try:
            with self.opener.open(self.url, timeout=SCRAPE_TIMEOUT_S) as response:
                body = response.read()
        except (OSError, http.client.HTTPException) as exc:
            self.failures[f"{type(exc).__name__}: {exc}"[:120]] += 1
            return
        if b"appsync_harness_" not in body:
            self.without_figures += 1
            return
        self.took_ms.append((time.perf_counter() - started) * 1000)
        self.sizes.append(len(body))

    def stop(self) -> dict[str, Any]:
        """Stop (at once, if the window is not over) and return the counts."""
        self.stopping.set()
        self.thread.join(SCRAPE_TIMEOUT_S + 1)
        nan = float("nan")
        return {
            "scheduled": len(self.times_ns),
            "with_figures": len(self.sizes),
            "without_figures": self.without_figures,
            "missed": self.missed,
            "failures": dict(self.failures),
            "bytes_median": statistics.median(self.sizes) if self.sizes else nan,
            "took_ms_median": statistics.median(self.took_ms) if self.took_ms else nan,
            "took_ms_max": max(self.took_ms, default=nan),
        }


def free_loopback_port() -> int:
    """A TCP port free on 127.0.0.1 now (the client binds it a moment later)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Launched:
    mode: str
    process: subprocess.Popen[bytes]
    stderr: IO[bytes]
    load: common.PeerLoad
    report_dir: Path
    metrics_port: int | None = None  # harness-watched: its --prometheus-port

    def poller(self, window: common.Window, cpu: int) -> MetricsPoller | None:
        """harness-watched: the scraper of its /metrics during ``window``; None otherwise."""
        if self.metrics_port is None:
            return None
        return MetricsPoller(f"http://127.0.0.1:{self.metrics_port}/metrics", window, cpu)

    def said(self) -> str:
        self.stderr.flush()
        self.stderr.seek(0)
        text = self.stderr.read().decode("utf-8", "replace")
        return text[-3000:] or "(nothing)"


class Bench:
    def __init__(self, args: argparse.Namespace, emulator: EmulatorProcess, workdir: Path) -> None:
        self.args = args
        self.emulator = emulator
        self.admin = AdminClient(emulator.info.admin_url)
        self.workdir = workdir

    # -- the emulator's view -------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        try:
            return self.admin.stats(attempts_since=1 << 62)  # no connection attempts listed
        except AdminError as exc:
            raise BenchError(f"the emulator's admin API failed: {exc}") from None

    def emulator_cpu_s(self) -> float:
        return sum(support.cpu_seconds(self.emulator.pid))

    def wait_until_quiet(self) -> None:
        """The previous client's connections gone, so the ramp counts only this one's."""
        deadline = time.monotonic() + QUIET_TIMEOUT_S
        while (open_ := self.stats()["connections"]["open"]) > 0:
            if time.monotonic() > deadline:
                raise BenchError(
                    f"the emulator still holds {open_} connections {QUIET_TIMEOUT_S:g} s after "
                    "the previous client stopped"
                )
            time.sleep(RAMP_POLL_S)

    # -- a client ----------------------------------------------------------------------

    def launch(self, mode: str, plan: Plan, tag: str) -> Launched:
        args = self.args
        report_dir = self.workdir / tag
        report_dir.mkdir()
        load = common.PeerLoad(
            mode=mode,
            run_id=tag,
            http_url=self.emulator.info.http_url,
            subscribers=plan.subscribers,
            publishers=plan.publishers,
            channel_template=plan.template,
            publish_rate=plan.publish_rate,
            payload_bytes=plan.payload_bytes,
            go_file=str(report_dir / "go.json"),
            result_file=str(report_dir / "client.json"),
            slots_file=str(report_dir / "slots.json"),
            deadline_s=self.run_time_s(plan),
            uvloop=not args.no_uvloop,
            skip_utf8_validation=args.skip_utf8_validation,
        )
        env = {**os.environ, **load.to_env(), "PYTHONUNBUFFERED": "1"}
        metrics_port = free_loopback_port() if mode == WATCHED else None
        if mode == ASYNCIO:
            command = [sys.executable, str(Path(__file__).resolve()), "--asyncio-client"]
        else:
            users = plan.subscribers + plan.publishers
            command = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILES[mode]), "--headless"]
            command += ["--host", self.emulator.info.http_url, "-u", str(users)]
            command += ["-r", f"{args.spawn_rate:g}", "-t", f"{self.run_time_s(plan):.0f}s"]
            command += ["--only-summary", "--loglevel", "WARNING"]
        if mode in HARNESS_MODES:
            env["LOCUST_API_KEY"] = defaults.DEFAULT_API_KEY  # the option, kept off argv
            command += ["--channels", plan.template, "--subscriptions-per-user", "1"]
            command += ["--publish-rate", repr(plan.publish_rate), "--events-per-publish", "1"]
            command += ["--payload-bytes", str(plan.payload_bytes), "--publish-via", "ws"]
            command += ["--report-dir", str(report_dir / "reports"), "--run-id", tag]
        if metrics_port is not None:
            command += ["--prometheus-port", str(metrics_port)]
        stderr = tempfile.TemporaryFile()  # noqa: SIM115 (closed by run_client)
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL if mode == ASYNCIO else stderr,
            stderr=stderr,
            env=env,
            cwd=BENCH_DIR.parent,
            preexec_fn=support.pinned_start({args.client_cpu}),
        )
        return Launched(mode, process, stderr, load, report_dir, metrics_port)

    def run_time_s(self, plan: Plan) -> float:
        """Locust's --run-time, and the asyncio client's deadline: a backstop only."""
        lead_s = LEAD_S + common.INTERVAL_NS / 1e9  # the harness's window: on its next slot
        return self.args.ramp_timeout + lead_s + plan.window_s + self.args.drain + RUN_TIME_MARGIN_S

    def wait_for_ramp(
        self, client: Launched, monitor: TreeMonitor, plan: Plan, before: dict[str, Any]
    ) -> float:
        """Until the emulator holds every connection of the client and every subscription;
        a refusal (an error the emulator sent: auth, a bad subscribe) stops the run at once."""
        started = time.monotonic()
        deadline = started + self.args.ramp_timeout
        connections = plan.subscribers + plan.publishers
        while True:
            stats = self.stats()
            open_, live = stats["connections"]["open"], stats["subscriptions"]["live"]
            if open_ == connections and live == plan.subscribers:
                return time.monotonic() - started
            if refused := grown_counters(before, stats, ("auth_failures", "errors_sent")):
                raise BenchError(
                    f"{client.mode}: the emulator refused the client's connections or "
                    f"subscriptions ({refused}); its output ends:\n{client.said()}"
                )
            status = client.process.poll()
            if status is not None:
                raise BenchError(
                    f"{client.mode}: the client exited ({status}) before all its connections "
                    f"were up ({open_} of {connections} open, {live} of {plan.subscribers} "
                    f"subscribed); its output ends:\n{client.said()}"
                )
            if time.monotonic() > deadline:
                raise BenchError(
                    f"{client.mode}: after {self.args.ramp_timeout:g} s only {open_} of "
                    f"{connections} connections were open and {live} of {plan.subscribers} "
                    f"subscriptions live (raise --ramp-timeout if it was still going); its "
                    f"output ends:\n{client.said()}"
                )
            monitor.sleep(RAMP_POLL_S)

    def run_client(self, mode: str, plan: Plan, round_number: int) -> dict[str, Any]:
        self.wait_until_quiet()
        tag = f"r{round_number}-{plan.rate:g}-{mode}"
        quiet = self.stats()
        client = self.launch(mode, plan, tag)
        poller = None
        try:
            monitor = TreeMonitor(client.process.pid, {self.args.client_cpu})
            ramp_s = self.wait_for_ramp(client, monitor, plan, quiet)
            before = self.stats()
            start_ns = time.time_ns() + round(LEAD_S * 1e9)
            if mode in HARNESS_MODES:
                start_ns = self.harness_slot_from(client, start_ns)
            window = common.Window(start_ns, start_ns + round(plan.window_s * 1e9))
            common.write_json(client.load.go_file, {"start_ns": start_ns, "end_ns": window.end_ns})
            poller = client.poller(window, self.args.emulator_cpu)
            monitor.sleep_until_wall(window.start_ns)
            cpu_start, emulator_start, at_start = (
                monitor.cpu_s(),
                self.emulator_cpu_s(),
                time.time(),
            )
            monitor.sleep_until_wall(window.end_ns)
            cpu_end, emulator_end, at_end = monitor.cpu_s(), self.emulator_cpu_s(), time.time()
            scrapes = poller.stop() if poller else None
            monitor.sleep(self.args.drain)
            after = self.stats()
            peak_kib = monitor.final_peak_kib()
            status = self.stop(client)
            figures = self.client_figures(client, window)
        finally:
            if poller:
                poller.stop()
            if client.process.poll() is None:
                client.process.kill()
                client.process.wait()
            client.stderr.close()
        window_s = at_end - at_start
        cpu_s = cpu_end - cpu_start
        in_window = figures["delivered_in_window"]
        record = {
            "round": round_number,
            "rate": plan.rate,
            "mode": mode,
            "ramp_s": ramp_s,
            "window_s": window_s,
            "cpu_s": cpu_s,
            "cpu_pct": cpu_s / window_s * 100,
            "deliveries_per_cpu_s": in_window / cpu_s if cpu_s > 0 else float("nan"),
            "peak_rss_mb": peak_kib / 1024,
            "expected": figures["published"] * plan.per_channel,
            "nominal_published": plan.nominal_published,
            "exit_code": status,
            "scrapes": scrapes,
            **figures,
            "deliver_tail": common.tail_figures(figures["deliver_intervals"]),
            "emulator": {
                "cpu_s": emulator_end - emulator_start,
                "cpu_pct": (emulator_end - emulator_start) / window_s * 100,
                **emulator_counts(before, after, plan.per_channel),
            },
        }
        record["warnings"] = warnings(record, plan)
        return record

    def harness_slot_from(self, client: Launched, at_ns: int) -> int:
        """The start of the harness's first 5-s slot at ``at_ns`` or later: its run start, to
        the millisecond as its .hlog's BaseTime has it, plus a whole number of slots."""
        started_at = read_json(Path(client.load.slots_file), client)["started_at"]
        origin_ns = round(float(f"{started_at:.3f}") * 1000) * 1_000_000
        slots = -((origin_ns - at_ns) // common.INTERVAL_NS)  # (at - origin) / 5 s, rounded up
        return origin_ns + slots * common.INTERVAL_NS

    def stop(self, client: Launched) -> int:
        """SIGTERM, as Ctrl-C would end it: the client writes its reports and exits."""
        client.process.send_signal(signal.SIGTERM)
        try:
            return client.process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise BenchError(
                f"{client.mode}: still running {STOP_TIMEOUT_S:g} s after SIGTERM; its output "
                f"ends:\n{client.said()}"
            ) from None

    def client_figures(self, client: Launched, window: common.Window) -> dict[str, Any]:
        """What the client measured: its counts and its exact (or HdrHistogram) latencies."""
        result = read_json(Path(client.load.result_file), client)
        if "delivered_at_end" not in result:
            raise BenchError(f"{client.mode}: the client did not count the window's deliveries")
        figures: dict[str, Any] = {
            "delivered_in_window": result["delivered_at_end"] - result["delivered_at_start"],
            # how late the client took its count at the window's end (its loop's delay)
            "count_lag_ms": (result["counted_at_end_ns"] - window.end_ns) / 1e6,
        }
        if client.mode not in HARNESS_MODES:
            figures.update(
                delivered=result["delivered"],
                published=result.get("published", 0),
                deliver_ms=result["deliver_ms"],
                deliver_intervals=result["deliver_intervals"],
                publish_ms=result["publish_ms"],
                problems={
                    name: result[name]
                    for name in ("publish_failures", "ack_timeouts", "connections_lost")
                    if result.get(name)
                },
            )
            return figures
        summary = read_json(client.report_dir / "reports" / "summary.json", client)
        events = summary["totals"]["events"]
        latency = summary["latency"]
        failures = {
            f"{kind} failures": count["failures"]
            for kind, count in summary["totals"]["requests"].items()
            if count["failures"]
        }
        accounting = {
            kind: events[kind]
            for kind in ("lost", "missed_during_reconnect", "duplicated", "out_of_order")
            if events[kind]
        }
        figures.update(
            delivered=events["delivered"],
            published=events["published"],
            deliver_ms=latency.get("deliver", {}).get("overall", {"count": 0}),
            deliver_intervals=harness_intervals(client.report_dir / "reports", window),
            publish_ms=latency.get("publish", {}).get("overall", {"count": 0}),
            problems={**failures, **accounting},
        )
        return figures


def harness_intervals(report_dir: Path, window: common.Window) -> list[dict[str, Any]]:
    """The harness's delivery p99 per 5-s interval of the window, from its deliver.hlog:
    one line per slot and channel template, merged per slot. The window starts on one of
    those slots (``Bench.harness_slot_from``), so its intervals are slots."""
    slots: dict[int, HdrHistogram] = {}  # by start, ms since the epoch
    path = report_dir / "deliver.hlog"
    if path.exists():
        reader = HistogramLogReader(str(path), HdrHistogram(1, 3_600_000_000, 3))
        try:
            while (line := reader.get_next_interval_histogram()) is not None:
                start_ms = round(line.get_start_time_stamp())
                slots.setdefault(start_ms, HdrHistogram(1, 3_600_000_000, 3)).add(line)
        finally:
            reader.close()
    intervals = []
    for start_ns in common.interval_starts_ns(window):
        slot = slots.get(start_ns // 1_000_000)
        count = slot.get_total_count() if slot else 0
        p99_ms = slot.get_value_at_percentile(99) / 1000.0 if slot and count else float("nan")
        intervals.append(common.interval(window, start_ns, count, p99_ms))
    return intervals


def read_json(path: Path, client: Launched) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BenchError(
            f"{client.mode}: no figures ({path.name}: {exc}); its output ends:\n{client.said()}"
        ) from None
    if not isinstance(value, dict):
        raise BenchError(f"{client.mode}: {path.name} is not a JSON object")
    return value


def grown_counters(
    before: dict[str, Any], after: dict[str, Any], sections: Sequence[str]
) -> dict[str, int]:
    """The counts of the emulator's counter sections (by reason) that grew."""
    grown = {}
    for section in sections:
        for reason, count in after[section].items():
            if count > before[section].get(reason, 0):
                grown[f"{section} {reason}"] = count - before[section].get(reason, 0)
    return grown


def emulator_counts(
    before: dict[str, Any], after: dict[str, Any], per_channel: int
) -> dict[str, Any]:
    """The emulator's counters over the window and the drain (``after`` - ``before``), and
    the channels whose deliveries are not their events times the subscribers per channel."""

    def grown(section: str, key: str) -> int:
        return int(after[section][key]) - int(before[section][key])

    disconnects = grown_counters(before["connections"], after["connections"], ["disconnects"])
    uneven = []
    for path, counts in after["channels"].items():
        old = before["channels"].get(path, {"published": 0, "delivered": 0})
        published = counts["published"] - old["published"]
        if counts["delivered"] - old["delivered"] != published * per_channel:
            uneven.append(path)
    return {
        "published": grown("publishes", "events"),
        "events_failed": grown("publishes", "events_failed"),
        "throttled": grown("publishes", "throttled"),
        "delivered": grown("deliveries", "sent"),
        "dropped": grown("deliveries", "dropped"),
        "overflowed": grown("deliveries", "overflowed"),
        "disconnects": disconnects,
        "uneven_channels": sorted(uneven),
    }


def warnings(record: dict[str, Any], plan: Plan) -> list[str]:
    """What makes a run's figures doubtful: losses, failures, a client that fell behind, or
    counts the emulator does not confirm."""
    found = [f"{name}: {count:,}" for name, count in record["problems"].items()]
    if record["exit_code"]:
        found.append(f"the client exited with status {record['exit_code']}")
    published, delivered = record["published"], record["delivered"]
    if published < KEPT_UP_SHARE * plan.nominal_published:
        found.append(
            f"published {published:,} events of the {plan.nominal_published:,.0f} scheduled: "
            "the publishers fell behind"
        )
    if delivered < record["expected"]:
        found.append(f"delivered {delivered:,} of the {record['expected']:,} expected")
    if delivered and record["delivered_in_window"] < 0.9 * delivered:
        share = record["delivered_in_window"] / delivered * 100
        found.append(
            f"only {share:.0f}% of the deliveries arrived inside the window: the client fell "
            "behind, its per-CPU-second figure is its ceiling, not this load's cost"
        )
    tail = record["deliver_tail"]
    if tail["with_deliveries"] < max(2, tail["intervals"]):
        found.append(
            f"deliveries in {tail['with_deliveries']} of the window's {tail['intervals']} whole "
            "5-s intervals: the worst / median interval p99 needs two or more"
        )
    if record["count_lag_ms"] > 100:
        found.append(f"counted the window's deliveries {record['count_lag_ms']:.0f} ms late")
    emulator = record["emulator"]
    if emulator["published"] != published:
        found.append(
            f"the emulator counted {emulator['published']:,} events published, the client "
            f"{published:,}"
        )
    if emulator["delivered"] != delivered:
        found.append(
            f"the emulator sent {emulator['delivered']:,} deliveries, the client counted "
            f"{delivered:,}"
        )
    for kind in ("events_failed", "throttled", "dropped", "overflowed"):
        if emulator[kind]:
            found.append(f"emulator {kind.replace('_', ' ')}: {emulator[kind]:,}")
    for reason, count in emulator["disconnects"].items():
        found.append(f"emulator {reason}: {count:,}")
    if emulator["uneven_channels"]:
        found.append(
            f"{len(emulator['uneven_channels'])} channels did not have {plan.per_channel} "
            f"subscribers each, e.g. {emulator['uneven_channels'][0]}"
        )
    if record["scrapes"] is not None:
        found += scrape_warnings(record["scrapes"])
    return found


def scrape_warnings(scrapes: dict[str, Any]) -> list[str]:
    """harness-watched: /metrics not scraped as planned, so the live views were not (or not
    fully) exercised."""
    found = [
        f"/metrics scrape failed {count}x: {error}" for error, count in scrapes["failures"].items()
    ]
    if not scrapes["with_figures"]:
        found.append(
            f"no /metrics scrape of the {scrapes['scheduled']} planned returned figures: the "
            "live views were not exercised"
        )
    elif scrapes["with_figures"] < scrapes["scheduled"]:
        found.append(
            f"{scrapes['with_figures']} of {scrapes['scheduled']} /metrics scrapes returned "
            f"figures ({scrapes['without_figures']} empty, {scrapes['missed']} missed)"
        )
    return found


# --- Medians, ratios and the report ----------------------------------------------------


def flat(record: dict[str, Any]) -> dict[str, float]:
    """A run's figures that have a median."""
    nan = float("nan")
    return {
        "deliveries_per_cpu_s": record["deliveries_per_cpu_s"],
        "cpu_pct": record["cpu_pct"],
        "deliver_p50_ms": record["deliver_ms"].get("p50", nan),
        "deliver_p99_ms": record["deliver_ms"].get("p99", nan),
        "interval_p99_median_ms": record["deliver_tail"]["median_p99_ms"],
        "interval_p99_worst_ms": record["deliver_tail"]["worst_p99_ms"],
        "interval_p99_worst_over_median": record["deliver_tail"]["worst_over_median"],
        "ack_p50_ms": record["publish_ms"].get("p50", nan),
        "ack_p99_ms": record["publish_ms"].get("p99", nan),
        "peak_rss_mb": record["peak_rss_mb"],
        "delivered": record["delivered"],
        "expected": record["expected"],
        "delivered_in_window": record["delivered_in_window"],
        "emulator_cpu_pct": record["emulator"]["cpu_pct"],
        **scrape_medians(record["scrapes"]),
    }


def scrape_medians(scrapes: dict[str, Any] | None) -> dict[str, float]:
    """harness-watched's scrape figures (none for the other modes)."""
    if scrapes is None:
        return {}
    return {
        "scrapes_planned": scrapes["scheduled"],
        "scrapes_with_figures": scrapes["with_figures"],
        "scrape_kb": scrapes["bytes_median"] / 1000,
        "scrape_ms_median": scrapes["took_ms_median"],
        "scrape_ms_max": scrapes["took_ms_max"],
    }


def medians(records: Sequence[dict[str, Any]]) -> dict[str, float]:
    runs = [flat(record) for record in records]
    return {name: statistics.median(run[name] for run in runs) for name in runs[0]}


def quotient(mine: dict[str, float] | None, other: dict[str, float] | None, key: str) -> float:
    """``mine[key] / other[key]``; NaN where a mode was left out."""
    return support.ratio(mine[key], other[key]) if mine and other else float("nan")


def ratios(by_mode: dict[str, dict[str, float]]) -> dict[str, float]:
    """The comparisons, from the medians; NaN where a mode was left out. The watched
    harness's against the plain one only when it ran."""
    nan = float("nan")
    harness, asyncio_, wsclient = (by_mode.get(mode) for mode in DEFAULT_MODES)

    def difference(key: str) -> float:
        return harness[key] - asyncio_[key] if harness and asyncio_ else nan

    watched = watched_ratios(by_mode[WATCHED], harness) if WATCHED in by_mode else {}
    return {
        "efficiency harness / locust-websocket-client": quotient(
            harness, wsclient, "deliveries_per_cpu_s"
        ),
        "efficiency harness / asyncio": quotient(harness, asyncio_, "deliveries_per_cpu_s"),
        "deliver p50 harness - asyncio (ms)": difference("deliver_p50_ms"),
        "deliver p99 harness - asyncio (ms)": difference("deliver_p99_ms"),
        "peak RSS harness / locust-websocket-client": quotient(harness, wsclient, "peak_rss_mb"),
        **watched,
    }


def watched_ratios(watched: dict[str, float], harness: dict[str, float] | None) -> dict[str, float]:
    """What scraping the live views once a second costs: harness-watched / harness."""
    figures = (
        ("deliver p99", "deliver_p99_ms"),
        ("deliver p50", "deliver_p50_ms"),
        ("ack p99", "ack_p99_ms"),
        ("efficiency", "deliveries_per_cpu_s"),
        ("peak RSS", "peak_rss_mb"),
    )
    return {f"{name} {WATCHED} / harness": quotient(watched, harness, key) for name, key in figures}


NOTE = (
    "How it was measured: each client is a child process tree pinned to one CPU, the emulator "
    "to another. 'deliveries/CPU-s' is the deliveries the client counted inside the publish "
    "window divided by the CPU time (utime + stime, /proc/<pid>/stat, its whole process tree) "
    "it used in the window; 'CPU %' is that time as a share of one core. Latencies are the "
    "client's own: delivery from each event's intended send time to its arrival, "
    "acknowledgement from the intended send time to the publish_success; exact percentiles "
    "from every sample (the harness: its HdrHistograms, 1 us resolution). 'worst 5s p99 / "
    "median': the delivery p99 of each whole 5-s interval of the window, counted from its "
    "start (deliveries placed by arrival; the harness's by the 1-s batch that recorded them), "
    "the worst against the median. 'peak RSS' is the client tree's highest RSS, polled "
    "every 0.1 s, and the root's VmHWM. 'delivered / "
    "expected': every delivery the client counted, until it was stopped after the drain, "
    "against the events acknowledged to its publishers times the subscribers per channel. On a "
    "shared machine, compare the ratios of one run."
)
WATCHED_NOTE = (
    f"{WATCHED}: the harness mode, plus --prometheus-port; a thread of the bench, pinned to the "
    "emulator's CPU, GETs its /metrics once a second inside the window (the live summary is "
    "rebuilt, and its exposition rendered, at most every 2 s, in the client's "
    "process). Its ratios are against the harness mode of the same run."
)


def print_report(results: dict[str, Any], args: argparse.Namespace) -> None:
    loop = "plain asyncio" if args.no_uvloop else "uvloop"
    utf8 = "not checked" if args.skip_utf8_validation else "checked in pure Python, its default"
    watched = f"; {WATCHED} (the harness, /metrics scraped once a second)"
    print(
        f"clients: harness (Locust, its Subscriber and Publisher users); asyncio (websockets, "
        f"{loop}); locust-websocket-client (text frames' UTF-8 {utf8})"
        f"{watched if WATCHED in args.modes else ''}"
    )
    print()
    for rate_text, by_rate in results["medians"].items():
        plan = make_plan(args, float(rate_text))
        print(
            f"rate {plan.rate:,g} deliveries/s: {plan.subscribers:,} subscribers on "
            f"{plan.channels:,} channels ({plan.per_channel} each), {plan.publishers:,} "
            f"publishers at {plan.publish_rate:g} publishes/s, {plan.payload_bytes}-byte "
            f"events, window {plan.window_s:g} s; median of {args.rounds} round(s)"
        )
        rows = []
        for mode, m in by_rate["modes"].items():
            rows.append(
                [
                    mode,
                    number(m["deliveries_per_cpu_s"], ",.0f"),
                    number(m["cpu_pct"], ".0f"),
                    number(m["deliver_p50_ms"], ".2f"),
                    number(m["deliver_p99_ms"], ".2f"),
                    number(m["interval_p99_worst_over_median"], ".2f"),
                    number(m["ack_p50_ms"], ".2f"),
                    number(m["ack_p99_ms"], ".2f"),
                    number(m["peak_rss_mb"], ".1f"),
                    f"{m['delivered']:,.0f} / {m['expected']:,.0f}",
                    number(m["emulator_cpu_pct"], ".0f"),
                ]
            )
        names = ["mode", "deliveries/CPU-s", "CPU %", "deliver p50 ms", "p99 ms"]
        names += ["worst 5s p99 / median"]
        names += ["ack p50 ms", "p99 ms", "peak RSS MB", "delivered / expected"]
        names += ["emulator CPU %"]
        support.print_table(names, rows)
        if WATCHED in by_rate["modes"]:
            print(scrapes_line(by_rate["modes"][WATCHED]))
        for name, value in by_rate["ratios"].items():
            spec = "+.2f" if name.endswith("(ms)") else ".2f"
            print(f"  {name}: {number(value, spec)}")
        print()
    print(textwrap.fill(NOTE, width=100))
    if WATCHED in args.modes:
        print(textwrap.fill(WATCHED_NOTE, width=100))


def scrapes_line(watched: dict[str, float]) -> str:
    return (
        f"  {WATCHED}: /metrics scrapes with figures in the window "
        f"{number(watched['scrapes_with_figures'], '.0f')} of "
        f"{number(watched['scrapes_planned'], '.0f')}, "
        f"{number(watched['scrape_kb'], ',.1f')} kB each, answered in "
        f"{number(watched['scrape_ms_median'], '.1f')} ms (median; slowest "
        f"{number(watched['scrape_ms_max'], '.1f')} ms)"
    )


# --- Main ------------------------------------------------------------------------------


def make_plan(args: argparse.Namespace, rate: float) -> Plan:
    return Plan(
        args.subscribers, args.channels, args.publishers, rate, args.payload_bytes, args.window
    )


def rate_list(text: str) -> list[float]:
    try:
        rates = [positive_float(part) for part in text.replace(" ", ",").split(",") if part]
    except (argparse.ArgumentTypeError, ValueError):
        rates = []
    if not rates:
        raise argparse.ArgumentTypeError(f"rates are positive numbers, comma-separated: {text!r}")
    return list(dict.fromkeys(rates))


def check(args: argparse.Namespace) -> None:
    """Stop before anything starts on a load the clients cannot be given."""
    if args.subscribers % args.channels:
        raise BenchError(
            f"--subscribers {args.subscribers} is not a multiple of --channels {args.channels}: "
            "every channel needs the same number of subscribers"
        )
    for rate in args.rates:
        plan = make_plan(args, rate)
        if plan.publish_rate > MAX_PUBLISHES_PER_SECOND_PER_CONNECTION:
            raise BenchError(
                f"rate {rate:g} needs {plan.publish_rate:g} publishes/s per publisher; AppSync "
                f"(and the emulator) allow {MAX_PUBLISHES_PER_SECOND_PER_CONNECTION} per "
                "connection: raise --publishers"
            )
        if plan.nominal_published < 1:
            raise BenchError(f"rate {rate:g} publishes nothing in a {args.window:g}-s window")
    usable = os.sched_getaffinity(0)
    cpus = {args.client_cpu, args.emulator_cpu}
    if len(cpus) != 2 or not cpus <= usable:
        raise BenchError(
            f"--client-cpu {args.client_cpu} and --emulator-cpu {args.emulator_cpu} must be two "
            f"different CPUs of the ones this process may use: {sorted(usable)}"
        )
    needed = args.subscribers + args.publishers + SPARE_FDS
    hard = support.raise_open_files_limit(needed)
    if hard is not None:
        raise BenchError(
            f"{args.subscribers + args.publishers:,} connections need about {needed:,} open "
            f"files per process, but the open-files limit is {hard:,} (hard)"
        )


@contextlib.contextmanager
def pinned_emulator(cpu: int) -> Any:
    """The emulator, started while this process runs on ``cpu`` only, so that it and every
    thread it starts inherit that CPU."""
    mine = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {cpu})
    try:
        emulator = EmulatorProcess.start(EMULATOR_ARGS)
    finally:
        os.sched_setaffinity(0, mine)
    with emulator:
        support.pin(emulator.pid, {cpu})
        yield emulator


def run(args: argparse.Namespace) -> dict[str, Any]:
    records: list[dict[str, Any]] = []
    total = args.rounds * len(args.rates) * len(args.modes)
    with (
        tempfile.TemporaryDirectory(prefix="bench-peers-") as workdir,
        pinned_emulator(args.emulator_cpu) as emulator,
    ):
        bench = Bench(args, emulator, Path(workdir))
        for round_number in range(1, args.rounds + 1):
            for rate in args.rates:
                plan = make_plan(args, rate)
                for mode in args.modes:
                    step = f"[{len(records) + 1}/{total}] round {round_number}, rate {rate:,g}/s"
                    progress(f"{step}, {mode}: connecting")
                    record = bench.run_client(mode, plan, round_number)
                    records.append(record)
                    progress(
                        f"{step}, {mode}: ramp {record['ramp_s']:.1f} s, "
                        f"{record['delivered_in_window']:,} deliveries in the window, "
                        f"{number(record['deliveries_per_cpu_s'], ',.0f')} per CPU-s, deliver "
                        f"p50/p99 {number(record['deliver_ms'].get('p50', float('nan')), '.2f')}"
                        f"/{number(record['deliver_ms'].get('p99', float('nan')), '.2f')} ms, "
                        f"worst 5-s p99 / median "
                        f"{number(record['deliver_tail']['worst_over_median'], '.2f')}"
                        + scrapes_progress(record["scrapes"])
                    )
                    for warning in record["warnings"]:
                        progress(f"warning: {mode} at {rate:,g}/s, round {round_number}: {warning}")
    summary: dict[str, Any] = {}
    for rate in args.rates:
        by_mode = {
            mode: medians([r for r in records if r["rate"] == rate and r["mode"] == mode])
            for mode in args.modes
        }
        summary[f"{rate:g}"] = {"modes": by_mode, "ratios": ratios(by_mode)}
    return {"runs": records, "medians": summary}


def scrapes_progress(scrapes: dict[str, Any] | None) -> str:
    if scrapes is None:
        return ""
    return f", /metrics scrapes with figures {scrapes['with_figures']} of {scrapes['scheduled']}"


def progress(text: str) -> None:
    print(f"bench_peers: {text}", file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    add = parser.add_argument
    add(
        "--subscribers",
        type=positive_int,
        default=500,
        metavar="N",
        help="subscriber connections per client, one subscription each (default: 500)",
    )
    add(
        "--channels",
        type=positive_int,
        default=50,
        metavar="C",
        help="channels /default/ch-{1..C}; subscriber i takes channel i %% C (default: 50)",
    )
    add(
        "--publishers",
        type=positive_int,
        default=50,
        metavar="P",
        help="publisher connections per client (default: 50)",
    )
    add(
        "--rates",
        type=rate_list,
        default=[2000.0, 10000.0],
        metavar="R,R",
        help="offered deliveries per second, comma-separated; each publisher publishes "
        "R / (subscribers per channel) / P events per second (default: 2000,10000)",
    )
    add(
        "--payload-bytes",
        type=positive_int,
        default=200,
        metavar="B",
        help="size of each event's JSON text (default: 200)",
    )
    add(
        "--window",
        type=positive_float,
        default=20.0,
        metavar="S",
        help="the publish window, after every connection is up (default: 20)",
    )
    add(
        "--drain",
        type=positive_float,
        default=None,
        metavar="S",
        help="wait after the window before stopping a client (default: 3, or the window "
        "if shorter)",
    )
    add(
        "--rounds",
        type=positive_int,
        default=3,
        metavar="K",
        help="interleaved rounds; the report shows the median (default: 3)",
    )
    add(
        "--modes",
        type=support.choice_list(MODES),
        default=list(DEFAULT_MODES),
        metavar="LIST",
        help=f"comma-separated, of {', '.join(MODES)}; run in this order each round "
        f"(default: {','.join(DEFAULT_MODES)})",
    )
    add(
        "--spawn-rate",
        type=positive_float,
        default=100.0,
        metavar="R",
        help="Locust users started per second (default: 100)",
    )
    add(
        "--ramp-timeout",
        type=positive_float,
        default=None,
        metavar="S",
        help="how long a client may take to open and subscribe every connection (default: "
        "30 s plus the spawning time)",
    )
    add("--no-uvloop", action="store_true", help="run the asyncio client on plain asyncio")
    add(
        "--skip-utf8-validation",
        action="store_true",
        help="locust-websocket-client: pass skip_utf8_validation=True (by default "
        "websocket-client checks every text frame's UTF-8 in pure Python)",
    )
    add("--client-cpu", type=int, default=0, metavar="CPU", help="(default: 0)")
    add("--emulator-cpu", type=int, default=1, metavar="CPU", help="(default: 1)")
    add(
        "--json",
        type=Path,
        default=DEFAULT_JSON,
        metavar="PATH",
        help="every round's figures and the medians (default: bench/results/peers.json)",
    )
    add("--asyncio-client", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.asyncio_client:
        return asyncio_client()
    if args.drain is None:
        args.drain = min(3.0, args.window)
    if args.ramp_timeout is None:
        args.ramp_timeout = 30.0 + (args.subscribers + args.publishers) / args.spawn_rate

    support.exit_on_sigterm()
    versions = support.header(("locust", "gevent", "websockets", "websocket-client", "uvloop"))
    print(f"{versions}, load average {os.getloadavg()[0]:.1f}", flush=True)
    try:
        check(args)
        results = run(args)
    except (BenchError, EmulatorStartError) as exc:
        print(f"bench_peers: failed: {exc}", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, support.Terminated):
        print("bench_peers: interrupted; child processes stopped", file=sys.stderr)
        return 130
    print()
    print_report(results, args)
    settings = {
        key: value for key, value in vars(args).items() if key not in ("asyncio_client", "json")
    }
    document = {"benchmark": "bench_peers", "machine": versions, "settings": settings, **results}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(json_safe(document), indent=1) + "\n", encoding="utf-8")
    print(f"\nfigures of every round: {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
