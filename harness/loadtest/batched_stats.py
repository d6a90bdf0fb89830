"""Deliveries reach Locust's statistics in batches, not one ``request`` event each.

At thousands of deliveries a second, one ``events.request.fire`` per delivery
took a fifth of the process's CPU (docs/performance.md). Deliveries are
collected here and added to Locust's stats a few times a second, through
``StatsEntry.extend``: the method Locust's master merges its workers' stats
with. The table's counts, sizes, rounded percentiles and per-second rates are
what one event per delivery gave; Locust reads a response time to the
microsecond either way. What a batch does not do is call other ``request``
listeners once per delivery (a plugin exporting every request sees none); every
other request type (connect, subscribe, publish, ...) still fires one event each.

At the end of a run, :func:`add_delivery_failures` adds the lost and duplicated
events to the table as failed ``deliver`` requests of their templates.
"""

from __future__ import annotations

import time
from array import array
from collections import Counter
from collections.abc import Callable
from typing import Any

from locust import stats as locust_stats
from locust.stats import StatsEntry, StatsError

from harness.measure.schema import DeliverySection, figure_of

PAUSE_EVERY = 256
DELIVERY_FAILURES = (
    ("lost", "lost: the event never arrived on a live subscription"),
    ("duplicated", "duplicated: the event arrived again on the same subscription"),
)
"""The delivery figures that count as failed ``deliver`` requests, and their error texts."""


class BatchedRequests:
    """Successful requests of one type, kept until :meth:`flush` adds them to Locust's stats."""

    def __init__(self, request_type: str) -> None:
        self.request_type = request_type
        self._latencies: dict[str, array[float]] = {}
        """Request name to response times in microseconds."""
        self._bytes: Counter[str] = Counter()

    def add(self, name: str, latency_us: float, length: int) -> None:
        """One request (a hot path: an array append and a counter)."""
        latencies = self._latencies.get(name)
        if latencies is None:
            latencies = self._latencies[name] = array("d")
        latencies.append(latency_us)
        self._bytes[name] += length

    @property
    def pending(self) -> int:
        return sum(len(latencies) for latencies in self._latencies.values())

    def flush(self, stats: Any, pause: Callable[[], object] | None = None) -> int:
        """Add what was collected to ``stats`` (a Locust ``RequestStats``); how many.
        ``pause`` is called every :data:`PAUSE_EVERY` distinct response times, to let
        other work run."""
        pending, self._latencies = self._latencies, {}
        sizes, self._bytes = self._bytes, Counter()
        now = time.time()
        flushed = 0
        bucket = locust_stats.bucket_response_time  # looked up: Locust lets a run replace it
        for name, latencies in pending.items():
            # Any: Locust annotates response times as int, yet logs the floats it is given.
            batch: Any = StatsEntry(stats, name, self.request_type)
            batch.total_response_time = sum(latencies) / 1000.0
            batch.min_response_time = min(latencies) / 1000.0
            batch.max_response_time = max(latencies) / 1000.0
            rounded = batch.response_times
            for done, (latency_us, count) in enumerate(Counter(latencies).items(), 1):
                rounded[bucket(latency_us / 1000.0)] += count
                if pause is not None and done % PAUSE_EVERY == 0:
                    pause()
            batch.num_requests = len(latencies)
            batch.num_reqs_per_sec[int(now)] = len(latencies)
            batch.last_request_timestamp = now
            batch.total_content_length = sizes[name]
            stats.get(name, self.request_type).extend(batch)
            stats.total.extend(batch)
            flushed += len(latencies)
        return flushed


def add_delivery_failures(stats: Any, delivery: DeliverySection) -> None:
    """Count each template's lost and duplicated events as failed ``deliver`` requests
    (each event one failure, under the errors of :data:`DELIVERY_FAILURES`)."""
    for template, figures in delivery["templates"].items():
        for figure, error in DELIVERY_FAILURES:
            if count := figure_of(figures, figure):
                add_failures(stats, "deliver", template, error, count)


def add_failures(stats: Any, method: str, name: str, error: str, count: int) -> None:
    """``count`` failures of one request at once: what as many ``log_error`` calls do."""
    second = int(time.time())
    for entry in (stats.get(name, method), stats.total):
        entry.num_failures += count
        entry.num_fail_per_sec[second] += count
    key = StatsError.create_key(method, name, error)
    stats_error = stats.errors.get(key)
    if stats_error is None:
        stats_error = stats.errors[key] = StatsError(method, name, error)
    stats_error.occurrences += count
