"""The shapes of the data the harness moves: what workers send the master, and the run summary.

TypedDicts, so readers index with ``[]`` and mypy checks both ends. JSON and
msgpack turn tuples into lists, so rows that travel are lists.
"""

from __future__ import annotations

from typing import Any, TypedDict

LatencyRow = list[Any]
"""``[metric, channel, template, encoded HdrHistogram]`` (:meth:`LatencyRecorder.drain`)."""


class DeliveryDrain(TypedDict):
    """What a :class:`~harness.measure.delivery.DeliveryRecorder` recorded since its last drain."""

    published: list[list[Any]]
    """``[publisher, channel, [seq, intended_ms, seq, intended_ms, ...]]``."""
    arrived: list[list[Any]]
    """``[subscriber, pattern, publisher, channel, [[low, high], ...]]``."""
    duplicates: dict[str, int]
    out_of_order: dict[str, int]
    lifetimes: list[list[Any]]
    """``[subscriber, pattern, start_ms, end_ms or None]``."""
    untracked: int


class PolicyFiguresData(TypedDict):
    """One (kind, policy) pair's counts, as a ledger drains them."""

    kind: str
    policy: str
    attempts: int
    conforming: int
    violations: list[dict[str, Any]]
    losses_wall_s: list[float]
    recoveries_s: list[float]
    give_ups: dict[str, int]


class LeakData(TypedDict):
    kind: str
    user: str
    channel: str | None
    id: str | None


class LedgerDrain(TypedDict):
    """What a :class:`~harness.measure.resilience.ResilienceLedger` recorded since a drain."""

    policies: list[PolicyFiguresData]
    attempts: list[dict[str, Any]]
    """:class:`~harness.measure.resilience.AttemptRecord` fields."""
    users_checked: int
    leaks: dict[str, int]
    leaks_listed: list[LeakData]


class WorkerReport(TypedDict):
    """One process's measurements since its last report: what a Locust worker sends the
    master with each stats report (and what a local run drains into its own results)."""

    latency: list[LatencyRow]
    delivery: DeliveryDrain
    resilience: LedgerDrain
    final: bool
    """Sent after the process's users stopped: nothing more will follow."""
