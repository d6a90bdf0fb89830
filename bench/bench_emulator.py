"""Emulator benchmark: deliveries per emulator core, and memory per idle connection.

Run from the project root with the project installed::

    python bench/bench_emulator.py [--seconds S] [--subscribers N] [--connections N]

Two servers are measured in turn, each a child process on 127.0.0.1. First the
baseline: a minimal aiohttp WebSocket broadcast server (this file run with
``--serve-baseline``) that accepts the same upgrade and, for every event POSTed
to ``/event``, sends one prebuilt text frame to every connected socket with
``send_str``: no protocol, no auth, no outbox. Then the emulator
(``python -m harness.emulator``, its default test credentials, API key auth).

Fan-out. ``--subscribers`` WebSockets (against the emulator: connect with the
``header-`` subprotocol, ``connection_init``, ``subscribe``, all to one channel)
receive events that publisher tasks POST to ``/event``, 5 per request, as fast
as the subscribers drain them: at most ``--window`` events are in flight per
subscriber, so no outbox overflows and the server never idles for lack of work
while the client keeps up. On 2 shared cores the bench client (asyncio, uvloop,
the ``websockets`` client) is usually the slower side, so the wall-clock rate
says more about the client than the server. The server's figure is
deliveries per second of *its own CPU time* (utime + stime from
``/proc/<pid>/stat`` over the window): deliveries per core. Each figure is the
median of several timed batches after a warm-up.

Idle memory. The server's VmRSS (``/proc/<pid>/status``) before and after
opening ``--connections`` more idle connections (for the emulator, with
``connection_init`` answered), divided by their number. Kernel socket buffers
are not part of RSS.

Ratios are emulator / baseline, both measured in the same run: on a shared,
noisy machine only same-run ratios are comparable. Figures only, no thresholds;
a failed check (a subscriber not getting the right frame) ends the run with an
error before anything is timed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import signal
import statistics
import sys
import time
from collections.abc import Callable, Coroutine, Iterator, Sequence
from dataclasses import dataclass
from typing import TypeVar

import aiohttp
import bench_support as support
from aiohttp import web
from bench_signing import make_event  # the same events in both benchmarks
from bench_support import BenchError, positive_int
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from harness.emulator.process import EmulatorProcess, EmulatorStartError
from harness.errors import MessageDecodeError
from harness.protocol import (
    HTTP_PATH,
    REALTIME_PATH,
    SUBPROTOCOL,
    ConnectionAck,
    ConnectionInit,
    Data,
    Endpoints,
    Subscribe,
    SubscribeSuccess,
    decode,
    encode,
)

BATCHES = 7
"""Timed batches per server; the median batch is reported."""
WARMUP_SHARE = 0.25
"""Warm-up before the batches, as a share of ``--seconds`` (bounded below)."""
MIN_WARMUP_S = 0.1
MAX_WARMUP_S = 2.0

START_TIMEOUT_S = 30.0
OPEN_TIMEOUT_S = 10.0
REPLY_TIMEOUT_S = 10.0
CLOSE_TIMEOUT_S = 2.0
CLOSE_ALL_TIMEOUT_S = 10.0
STOP_PUBLISHERS_TIMEOUT_S = 5.0
OPEN_CONCURRENCY = 64
GATE_POLL_S = 0.05
"""A publisher waiting for room re-checks at least this often (a missed wake-up costs this)."""
MAX_SKIPPED_FRAMES = 10
"""Frames (``ka``) a reply may be preceded by before the check gives up."""

HTTP_TIMEOUT = aiohttp.ClientTimeout(total=REPLY_TIMEOUT_S)

M = TypeVar("M")
T = TypeVar("T")


class CheckFailed(BenchError):
    """A server answered wrongly before timing; the benchmark refuses to time it."""


class Interrupted(Exception):
    """Ctrl-C or SIGTERM during a measurement (raised once its cleanup has run)."""


# ---------------------------------------------------------------------------
# The baseline server (child process)
# ---------------------------------------------------------------------------


def serve_baseline(event_bytes: int) -> int:
    """Run the raw aiohttp broadcast server until SIGINT or SIGTERM."""
    frame = encode(Data("baseline", make_event(event_bytes)))
    sockets: set[web.WebSocketResponse] = set()

    async def realtime(request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(
            protocols=(SUBPROTOCOL,), autoping=True, heartbeat=None, compress=False
        )
        await ws.prepare(request)
        sockets.add(ws)
        try:
            async for _ in ws:
                pass
        finally:
            sockets.discard(ws)
        return ws

    async def publish(request: web.Request) -> web.Response:
        count = len(json.loads(await request.read())["events"])
        for _ in range(count):
            for ws in list(sockets):
                with contextlib.suppress(ConnectionError, RuntimeError):
                    await ws.send_str(frame)
        return web.Response(text='{"successful":[],"failed":[]}', content_type="application/json")

    async def serve() -> None:
        app = web.Application()
        app.router.add_get(REALTIME_PATH, realtime)
        app.router.add_post(HTTP_PATH, publish)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        support.emit({"http_url": f"http://127.0.0.1:{port}{HTTP_PATH}"})
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
        closes = [ws.close(code=1001) for ws in list(sockets)]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*closes, return_exceptions=True), CLOSE_TIMEOUT_S)
        await runner.cleanup()

    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        runner.run(serve())
    return 0


# ---------------------------------------------------------------------------
# Child processes
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """A running server to measure."""

    name: str
    pid: int
    http_url: str
    speaks_protocol: bool
    """True for the emulator: connections need ``connection_init`` and ``subscribe``."""

    @property
    def endpoints(self) -> Endpoints:
        return Endpoints.from_http_url(self.http_url)


@contextlib.contextmanager
def running_emulator() -> Iterator[Target]:
    emulator = EmulatorProcess.start(["--log-level", "WARNING"], timeout_s=START_TIMEOUT_S)
    try:
        yield Target("emulator", emulator.pid, emulator.info.http_url, speaks_protocol=True)
    finally:
        emulator.stop()


@contextlib.contextmanager
def running_baseline(event_bytes: int) -> Iterator[Target]:
    arguments = ["--serve-baseline", "--event-bytes", str(event_bytes)]
    with support.child(__file__, arguments, "baseline server") as server:
        url = server.next(START_TIMEOUT_S)["http_url"]
        yield Target("aiohttp broadcast", server.process.pid, url, speaks_protocol=False)


# ---------------------------------------------------------------------------
# Client side
# ---------------------------------------------------------------------------


class Client:
    """Every connection the bench opens to one target, so all of them get closed."""

    def __init__(self, target: Target) -> None:
        self.target = target
        endpoints = target.endpoints
        self.realtime_url = endpoints.realtime_url
        self.authorizer = support.emulator_authorizer(endpoints.http_host)
        self.subprotocols = [Subprotocol(p) for p in self.authorizer.connect_subprotocols()]
        self.connections: list[ClientConnection] = []

    async def open(self, sub_id: str | None = None) -> ClientConnection:
        """A connection; against the emulator also acknowledged, and subscribed when
        ``sub_id`` is given."""
        ws = await connect(
            self.realtime_url,
            subprotocols=self.subprotocols,
            proxy=None,
            compression=None,
            max_size=None,
            open_timeout=OPEN_TIMEOUT_S,
            ping_interval=None,
            close_timeout=CLOSE_TIMEOUT_S,
        )
        self.connections.append(ws)
        if self.target.speaks_protocol:
            await ws.send(encode(ConnectionInit()))
            await expect(ws, ConnectionAck, "connection_init")
            if sub_id is not None:
                auth = self.authorizer.message_authorization(support.CHANNEL)
                await ws.send(encode(Subscribe(sub_id, support.CHANNEL, auth)))
                reply = await expect(ws, SubscribeSuccess, "subscribe")
                if reply.id != sub_id:
                    raise CheckFailed(f"subscribe {sub_id} was answered for {reply.id}")
        return ws

    async def open_many(
        self, count: int, sub_ids: Callable[[int], str | None] = lambda _: None
    ) -> list[ClientConnection]:
        semaphore = asyncio.Semaphore(OPEN_CONCURRENCY)

        async def one(index: int) -> ClientConnection:
            async with semaphore:
                return await self.open(sub_ids(index))

        results = await asyncio.gather(*(one(i) for i in range(count)), return_exceptions=True)
        failures = [result for result in results if isinstance(result, BaseException)]
        if failures:
            raise CheckFailed(f"{len(failures)} of {count} connections failed: {failures[0]!r}")
        return [result for result in results if isinstance(result, ClientConnection)]

    async def close(self, connections: Sequence[ClientConnection] | None = None) -> None:
        """Close ``connections`` (default: all), aborting whatever is still open after
        :data:`CLOSE_ALL_TIMEOUT_S`."""
        closing = list(self.connections if connections is None else connections)
        gathered = asyncio.gather(*(ws.close() for ws in closing), return_exceptions=True)
        try:
            await asyncio.wait_for(gathered, CLOSE_ALL_TIMEOUT_S)
        except TimeoutError:
            for ws in closing:
                ws.transport.abort()
        doomed = set(map(id, closing))
        self.connections = [ws for ws in self.connections if id(ws) not in doomed]


async def expect(ws: ClientConnection, kind: type[M], after: str) -> M:
    """The next message but ``ka``, which must be a ``kind``."""
    for _ in range(MAX_SKIPPED_FRAMES):
        try:
            frame = await asyncio.wait_for(ws.recv(), REPLY_TIMEOUT_S)
        except TimeoutError:
            raise CheckFailed(f"no reply to {after} within {REPLY_TIMEOUT_S:g} s") from None
        except ConnectionClosed as closed:
            raise CheckFailed(f"the connection closed after {after}: {closed}") from None
        try:
            message = decode(frame, sender="server")
        except MessageDecodeError as exc:
            raise CheckFailed(f"{after} was answered with a bad frame: {exc}") from None
        if isinstance(message, kind):
            return message
        if message.TYPE != "ka":
            raise CheckFailed(f"{after} was answered with {frame[:200]!r}")
    raise CheckFailed(f"only keep-alives after {after}")


class Tally:
    """Counters shared by the readers and the publishers (one event loop, no locks)."""

    def __init__(self, subscribers: int) -> None:
        self.subscribers = subscribers
        self.received = 0
        self.published = 0
        self.publish_errors = 0
        self.disconnected = 0
        self.next_wake = subscribers
        self.wake = asyncio.Event()
        self.stopped = False


async def count_deliveries(ws: ClientConnection, tally: Tally) -> None:
    """Count ``data`` frames until the connection closes; one wake-up of the publishers
    per ``subscribers`` frames, i.e. per event delivered everywhere on average."""
    prefix = support.DATA_PREFIX
    try:
        while True:
            frame = await ws.recv(decode=False)
            if frame.startswith(prefix):
                tally.received += 1
                if tally.received >= tally.next_wake:
                    tally.next_wake += tally.subscribers
                    tally.wake.set()
    except ConnectionClosed:
        if not tally.stopped:
            tally.disconnected += 1


async def publish_loop(
    session: aiohttp.ClientSession,
    url: str,
    body: bytes,
    headers: dict[str, str],
    tally: Tally,
    window: int,
) -> None:
    """POST ``body`` while at most ``window`` events per subscriber are undelivered."""
    while not tally.stopped:
        allowed = window + tally.received // tally.subscribers
        if tally.published + support.EVENTS_PER_PUBLISH > allowed:
            tally.wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(tally.wake.wait(), GATE_POLL_S)
            continue
        tally.published += support.EVENTS_PER_PUBLISH
        async with session.post(url, data=body, headers=headers) as response:
            await response.read()
            if response.status != 200:
                tally.publish_errors += 1


async def check_delivery(
    client: Client, subscribers: Sequence[ClientConnection], event: str
) -> None:
    """Publish one event; every subscriber must receive exactly that ``data`` frame."""
    body = support.publish_body([event])
    headers = client.authorizer.http_headers(body)
    async with (
        aiohttp.ClientSession(timeout=HTTP_TIMEOUT) as session,
        session.post(client.target.http_url, data=body, headers=headers) as response,
    ):
        text = await response.text()
    if response.status != 200:
        raise CheckFailed(f"the check publish got HTTP {response.status}: {text[:200]}")
    if client.target.speaks_protocol and len(json.loads(text)["successful"]) != 1:
        raise CheckFailed(f"the check publish was not accepted: {text[:200]}")

    async def one(index: int, ws: ClientConnection) -> None:
        message = await expect(ws, Data, "the check publish")
        wanted_id = sub_id(index) if client.target.speaks_protocol else message.id
        if message != Data(wanted_id, event):
            raise CheckFailed(f"subscriber {index} got {message!r}")

    await asyncio.gather(*(one(i, ws) for i, ws in enumerate(subscribers)))


def sub_id(index: int) -> str:
    return f"s{index}"


# ---------------------------------------------------------------------------
# Measurements
# ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Sample:
    wall_s: float
    server_user_s: float
    server_system_s: float
    client_cpu_s: float
    received: int


@dataclass(frozen=True, slots=True)
class Batch:
    deliveries: int
    wall_s: float
    server_user_s: float
    server_system_s: float
    client_cpu_s: float

    @property
    def server_cpu_s(self) -> float:
        return self.server_user_s + self.server_system_s

    @classmethod
    def between(cls, start: Sample, end: Sample) -> Batch:
        return cls(
            end.received - start.received,
            end.wall_s - start.wall_s,
            end.server_user_s - start.server_user_s,
            end.server_system_s - start.server_system_s,
            end.client_cpu_s - start.client_cpu_s,
        )


@dataclass(frozen=True)
class ServerResult:
    name: str
    idle_connections: int
    rss_before_kib: int
    rss_after_kib: int
    batches: tuple[Batch, ...]
    disconnected: int
    publish_errors: int

    @property
    def kib_per_connection(self) -> float:
        return (self.rss_after_kib - self.rss_before_kib) / self.idle_connections

    def _rates(self, per: Callable[[Batch], float]) -> list[float]:
        return [b.deliveries / per(b) for b in self.batches if per(b) > 0]

    @property
    def per_cpu_s(self) -> list[float]:
        """Deliveries per second of server CPU time, one figure per batch (batches too
        short to register a clock tick are left out)."""
        return self._rates(lambda b: b.server_cpu_s)

    @property
    def per_wall_s(self) -> list[float]:
        return self._rates(lambda b: b.wall_s)

    def _share(self, cpu: Callable[[Batch], float]) -> float:
        wall = sum(b.wall_s for b in self.batches)
        return sum(cpu(b) for b in self.batches) / wall if wall > 0 else float("nan")

    @property
    def server_cpu_share(self) -> float:
        return self._share(lambda b: b.server_cpu_s)

    @property
    def server_system_share(self) -> float:
        """The share of the server's CPU time spent in the kernel (on loopback, sending
        also runs most of the receiving side's TCP work)."""
        cpu = sum(b.server_cpu_s for b in self.batches)
        return sum(b.server_system_s for b in self.batches) / cpu if cpu > 0 else float("nan")

    @property
    def client_cpu_share(self) -> float:
        return self._share(lambda b: b.client_cpu_s)


async def measure_memory(client: Client, count: int) -> tuple[int, int]:
    """The target's RSS (KiB) before and after opening ``count`` idle connections."""
    pid = client.target.pid
    warm = await client.open_many(support.WARMUP_CONNECTIONS)
    before = await asyncio.to_thread(support.settled_rss_kib, pid)
    idle = await client.open_many(count)
    after = await asyncio.to_thread(support.settled_rss_kib, pid)
    await client.close([*warm, *idle])
    return before, after


async def measure_fan_out(
    client: Client, args: argparse.Namespace, event: str
) -> tuple[tuple[Batch, ...], Tally]:
    pid = client.target.pid
    subscribers = await client.open_many(args.subscribers, sub_id)
    await check_delivery(client, subscribers, event)

    tally = Tally(len(subscribers))
    readers = [asyncio.create_task(count_deliveries(ws, tally)) for ws in subscribers]
    body = support.publish_body([event] * support.EVENTS_PER_PUBLISH)
    headers = client.authorizer.http_headers(body)
    connector = aiohttp.TCPConnector(limit=args.publishers)
    async with aiohttp.ClientSession(connector=connector, timeout=HTTP_TIMEOUT) as session:
        publishers = [
            asyncio.create_task(
                publish_loop(session, client.target.http_url, body, headers, tally, args.window)
            )
            for _ in range(args.publishers)
        ]
        try:
            warmup_s = min(MAX_WARMUP_S, max(MIN_WARMUP_S, args.seconds * WARMUP_SHARE))
            await asyncio.sleep(warmup_s)
            samples = [take_sample(pid, tally)]
            for _ in range(BATCHES):
                await asyncio.sleep(args.seconds / BATCHES)
                samples.append(take_sample(pid, tally))
        finally:
            tally.stopped = True
            done, pending = await asyncio.wait(publishers, timeout=STOP_PUBLISHERS_TIMEOUT_S)
            for task in pending:
                task.cancel()
            for task in done:
                if not task.cancelled() and task.exception() is not None:
                    tally.publish_errors += 1
            await client.close(subscribers)
            for reader in readers:
                reader.cancel()
            await asyncio.gather(*readers, return_exceptions=True)
    batches = tuple(Batch.between(a, b) for a, b in itertools.pairwise(samples))
    return batches, tally


def take_sample(pid: int, tally: Tally) -> Sample:
    user_s, system_s = support.cpu_seconds(pid)
    return Sample(time.perf_counter(), user_s, system_s, time.process_time(), tally.received)


async def measure_target(target: Target, args: argparse.Namespace, event: str) -> ServerResult:
    client = Client(target)
    try:
        before, after = await measure_memory(client, args.connections)
        batches, tally = await measure_fan_out(client, args, event)
    finally:
        await client.close()
    return ServerResult(
        target.name,
        args.connections,
        before,
        after,
        batches,
        tally.disconnected,
        tally.publish_errors,
    )


def run_target(
    start: Callable[[], contextlib.AbstractContextManager[Target]],
    args: argparse.Namespace,
    event: str,
) -> ServerResult:
    """Start a server, measure it, stop it (also on an error, Ctrl-C or SIGTERM)."""
    with start() as target:
        try:
            with asyncio.Runner(loop_factory=loop_factory()) as runner:
                return runner.run(interruptible(measure_target(target, args, event)))
        finally:
            # The event loop's own SIGTERM handler went with it; outside a loop,
            # SIGTERM raises Terminated so that ``with`` blocks still stop servers.
            support.exit_on_sigterm()


async def interruptible(measurement: Coroutine[object, object, T]) -> T:
    """Run ``measurement``, cancelled (its cleanup runs) by SIGTERM, as by Ctrl-C:
    a signal handler must not raise inside the event loop's callbacks."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    loop.add_signal_handler(signal.SIGTERM, task.cancel)
    try:
        return await measurement
    except asyncio.CancelledError:
        raise Interrupted from None
    finally:
        loop.remove_signal_handler(signal.SIGTERM)


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def print_report(baseline: ServerResult, emulator: ServerResult, args: argparse.Namespace) -> None:
    rows: list[tuple[str, str, str, str]] = []

    def row(name: str, base: float, emu: float, fmt: str, with_ratio: bool = True) -> None:
        shown = f"{support.ratio(emu, base):.3f}" if with_ratio else ""
        rows.append((name, format(base, fmt), format(emu, fmt), shown))

    base_cpu, emu_cpu = median(baseline.per_cpu_s), median(emulator.per_cpu_s)
    base_wall, emu_wall = median(baseline.per_wall_s), median(emulator.per_wall_s)
    row("deliveries per server CPU-second", base_cpu, emu_cpu, ",.0f")
    row(
        "  spread of batches, %",
        support.spread_pct(baseline.per_cpu_s),
        support.spread_pct(emulator.per_cpu_s),
        ".1f",
        with_ratio=False,
    )
    row("deliveries per second, wall clock", base_wall, emu_wall, ",.0f")
    row(
        "server CPU busy, % of one core",
        baseline.server_cpu_share * 100,
        emulator.server_cpu_share * 100,
        ".0f",
        with_ratio=False,
    )
    row(
        "  of which in the kernel, %",
        baseline.server_system_share * 100,
        emulator.server_system_share * 100,
        ".0f",
        with_ratio=False,
    )
    row(
        "bench client CPU busy, % of one core",
        baseline.client_cpu_share * 100,
        emulator.client_cpu_share * 100,
        ".0f",
        with_ratio=False,
    )
    row(
        "idle connection memory, KiB RSS each",
        baseline.kib_per_connection,
        emulator.kib_per_connection,
        ".1f",
    )

    print(
        f"{args.subscribers} subscribers on one channel, events of {args.event_bytes} bytes, "
        f"{support.EVENTS_PER_PUBLISH} per HTTP publish, {args.publishers} publishers, "
        f"window {args.window} events; median of {BATCHES} batches over ~{args.seconds:g} s "
        f"per server; memory: {args.connections} idle connections"
    )
    print("ratio = emulator / baseline (deliveries: below 1 is slower; memory: above 1 is more)")
    print()
    support.print_table(("figure", baseline.name, emulator.name, "ratio"), rows)
    print()
    print(
        f"emulator deliveries per core: {emu_cpu:,.0f}/s "
        f"({support.ratio(emu_cpu, base_cpu):.2f} of the raw aiohttp broadcast)"
    )
    print(
        f"emulator idle memory per connection: {emulator.kib_per_connection:.1f} KiB "
        f"({support.ratio(emulator.kib_per_connection, baseline.kib_per_connection):.2f}x "
        "the raw aiohttp broadcast)"
    )
    for result in (baseline, emulator):
        if result.disconnected or result.publish_errors:
            print(
                f"warning: {result.name}: {result.disconnected} subscribers disconnected, "
                f"{result.publish_errors} publishes failed during the run; its figures are "
                "not reliable",
                file=sys.stderr,
            )


# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--seconds",
        type=float,
        default=5.0,
        metavar="S",
        help="measured fan-out time per server, after a warm-up (default: 5)",
    )
    parser.add_argument(
        "--subscribers",
        type=positive_int,
        default=1000,
        metavar="N",
        help="subscriber connections on the one channel (default: 1000)",
    )
    parser.add_argument(
        "--connections",
        type=positive_int,
        default=1000,
        metavar="N",
        help="idle connections opened for the memory figure (default: 1000)",
    )
    parser.add_argument(
        "--publishers",
        type=positive_int,
        default=4,
        metavar="N",
        help="concurrent HTTP publishers, 5 events per POST (default: 4)",
    )
    parser.add_argument(
        "--window",
        type=positive_int,
        default=20,
        metavar="EVENTS",
        help="events in flight per subscriber before publishers wait (default: 20)",
    )
    parser.add_argument(
        "--event-bytes",
        type=positive_int,
        default=200,
        metavar="B",
        help="size of each event's JSON text (default: 200)",
    )
    parser.add_argument(
        "--serve-baseline",
        action="store_true",
        help="internal: run the raw aiohttp broadcast server (the baseline) and nothing else",
    )
    args = parser.parse_args(argv)
    if args.seconds <= 0:
        parser.error("--seconds must be positive")
    try:
        event = make_event(args.event_bytes)
    except ValueError as exc:
        parser.error(f"--event-bytes: {exc}")
    if args.serve_baseline:
        return serve_baseline(args.event_bytes)

    support.raise_open_files_limit(
        max(args.connections + support.WARMUP_CONNECTIONS, args.subscribers) + args.publishers + 256
    )
    support.exit_on_sigterm()
    print(support.header(("aiohttp", "websockets", "uvloop")))
    try:
        baseline = run_target(lambda: running_baseline(args.event_bytes), args, event)
        emulator = run_target(running_emulator, args, event)
    except (BenchError, EmulatorStartError) as exc:
        print(f"bench_emulator: failed: {exc}", file=sys.stderr)
        return 1
    except (Interrupted, KeyboardInterrupt, support.Terminated):
        print("bench_emulator: interrupted; servers stopped", file=sys.stderr)
        return 130
    print("checks passed: every subscriber got the published event as a data frame")
    print_report(baseline, emulator, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
