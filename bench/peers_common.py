"""What bench_peers.py and its three clients share: the load, handed to each client in one
environment variable, the publish window, and the clients' exact latency figures.

No gevent and no asyncio here: the two Locust clients (peers_harness_locustfile.py,
peers_wsclient_locustfile.py) import it under gevent, the asyncio client under asyncio.

The publish window: once the emulator reports every connection of a client open and every
subscription live, bench_peers.py writes the window's start and end (wall clock, ns) to the
client's *go file*. A client polls for that file and publishes only inside the window.

The tail check: the window's whole 5-s intervals, counted from its start (the harness's
``deliver.hlog`` slots; in harness mode the window starts on one of them), each with its
delivery p99; the worst interval's p99 against the median interval's.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from harness.workload.channels import parse_channel_templates

ENV_VAR = "BENCH_PEERS_LOAD"
GO_POLL_S = 0.05
"""How often a client looks for the go file."""
IDLE_S = 1.0
"""A publisher's idle step outside the window."""
ACK_TIMEOUT_S = 10.0
"""How long a publisher waits for its publish_success (then counts a timeout)."""
CONNECT_TIMEOUT_S = 15.0
DATA_PREFIX = '{"type":"data"'


@dataclass(frozen=True)
class PeerLoad:
    """One client's load, as bench_peers.py hands it over (the same for every mode)."""

    mode: str
    run_id: str
    http_url: str
    subscribers: int
    publishers: int
    channel_template: str
    """``/default/ch-{1..C}``; subscriber i subscribes to channel i % C."""
    publish_rate: float
    """Publishes (of one event each) per second, per publisher."""
    payload_bytes: int
    go_file: str
    result_file: str
    deadline_s: float
    """A client that has not been stopped this long after it started stops by itself."""
    uvloop: bool = True
    """asyncio client: run on uvloop."""
    skip_utf8_validation: bool = False
    """locust-websocket-client: websocket-client's ``skip_utf8_validation``."""
    slots_file: str = ""
    """harness: where the locustfile writes the harness's run start (its slots' origin)."""

    @property
    def channels(self) -> tuple[str, ...]:
        """The concrete channels, in the template's order (the harness's order too)."""
        return tuple(c for t in parse_channel_templates(self.channel_template) for c in t.channels)

    def to_env(self) -> dict[str, str]:
        return {ENV_VAR: json.dumps(asdict(self))}

    @classmethod
    def from_env(cls) -> PeerLoad:
        text = os.environ.get(ENV_VAR)
        if not text:
            raise SystemExit(f"{ENV_VAR} is not set: this file is run by bench/bench_peers.py")
        return cls(**json.loads(text))


@dataclass(frozen=True)
class Window:
    """The publish window, wall clock (``time.time_ns``)."""

    start_ns: int
    end_ns: int


def write_json(path: str, value: Any) -> None:
    """Write ``value`` to ``path`` atomically (a reader sees all of it or nothing)."""
    partial = f"{path}.partial"
    with open(partial, "w", encoding="utf-8") as file:
        json.dump(value, file)
    os.replace(partial, path)


def read_window(path: str) -> Window | None:
    try:
        with open(path, encoding="utf-8") as file:
            value = json.load(file)
    except FileNotFoundError:
        return None
    return Window(int(value["start_ns"]), int(value["end_ns"]))


def slot_times_ns(window: Window, rate: float, phase: float) -> list[int]:
    """A publisher's intended send times: ``start + (phase + k) / rate`` inside the window;
    ``phase`` in [0, 1) spreads publishers (the harness's schedule does the same)."""
    interval_ns = 1e9 / rate
    first = window.start_ns + phase * interval_ns
    count = max(0, math.ceil((window.end_ns - first) / interval_ns))
    return [round(first + k * interval_ns) for k in range(count)]


def watch_window(
    load: PeerLoad,
    sleep: Callable[[float], Any],
    deliveries: Callable[[], int],
    on_window: Callable[[Window], None],
) -> dict[str, Any] | None:
    """Wait for the go file (until ``load.deadline_s``), hand the window to ``on_window``,
    then count ``deliveries()`` at its start and end; returns those counts and when they
    were taken, or None when no window came. ``sleep`` is the caller's (gevent's)."""
    deadline = time.monotonic() + load.deadline_s
    while (window := read_window(load.go_file)) is None:
        if time.monotonic() > deadline:
            return None
        sleep(GO_POLL_S)
    on_window(window)
    counts: dict[str, Any] = {}
    for edge, at_ns in (("start", window.start_ns), ("end", window.end_ns)):
        while (remaining_ns := at_ns - time.time_ns()) > 0:
            sleep(remaining_ns / 1e9)
        counts[f"delivered_at_{edge}"] = deliveries()
        counts[f"counted_at_{edge}_ns"] = time.time_ns()
    return counts


# --- Exact latency figures from every sample ------------------------------------------


def nearest_rank(ordered: Sequence[float], share: float) -> float:
    """The ``share`` percentile of sorted values by the nearest-rank method (NaN if none)."""
    if not ordered:
        return float("nan")
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def latency_figures(samples_us: Iterable[int]) -> dict[str, float]:
    """Count, p50, p90, p99 and max in milliseconds of latencies in microseconds, exact."""
    ordered = sorted(samples_us)
    figures: dict[str, float] = {"count": len(ordered)}
    if ordered:
        for name, share in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99)):
            figures[name] = nearest_rank(ordered, share) / 1000.0
        figures["max"] = ordered[-1] / 1000.0
    return figures


# --- The tail check: delivery p99 per 5-s interval of the window ----------------------

INTERVAL_NS = 5_000_000_000
"""The harness's slot (``harness.measure.latency.SLOT_S``)."""


def interval_starts_ns(window: Window) -> list[int]:
    """The starts of the window's whole 5-s intervals, counted from its start."""
    count = (window.end_ns - window.start_ns) // INTERVAL_NS
    return [window.start_ns + k * INTERVAL_NS for k in range(count)]


def interval(window: Window, start_ns: int, count: int, p99_ms: float) -> dict[str, Any]:
    """One interval's figures; ``start_s`` from the window's start."""
    return {
        "start_s": round((start_ns - window.start_ns) / 1e9, 3),
        "count": count,
        "p99_ms": p99_ms,
    }


def interval_figures(
    arrivals_ns: Sequence[int], samples_us: Sequence[int], window: Window
) -> list[dict[str, Any]]:
    """The exact delivery p99 of each whole 5-s interval of the window, the deliveries
    placed by their arrival (``arrivals_ns[i]`` is when ``samples_us[i]`` arrived)."""
    starts = interval_starts_ns(window)
    buckets: list[list[int]] = [[] for _ in starts]
    for arrival_ns, sample_us in zip(arrivals_ns, samples_us, strict=True):
        index = (arrival_ns - window.start_ns) // INTERVAL_NS
        if 0 <= index < len(buckets):
            buckets[index].append(sample_us)
    return [
        interval(window, start, len(bucket), nearest_rank(sorted(bucket), 0.99) / 1000.0)
        for start, bucket in zip(starts, buckets, strict=True)
    ]


def tail_figures(intervals: Sequence[dict[str, Any]]) -> dict[str, float]:
    """The median and the worst of the intervals' p99 (those with deliveries), and their
    ratio (NaN with fewer than two such intervals)."""
    p99s = [figures["p99_ms"] for figures in intervals if figures["count"]]
    median = statistics.median(p99s) if p99s else float("nan")
    worst = max(p99s, default=float("nan"))
    enough = len(p99s) >= 2 and median > 0
    return {
        "intervals": len(intervals),
        "with_deliveries": len(p99s),
        "median_p99_ms": median,
        "worst_p99_ms": worst,
        "worst_over_median": worst / median if enough else float("nan"),
    }
