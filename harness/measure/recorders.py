"""What one process records, what it sends on, and a run's merged results.

Every process of a run records into :class:`ProcessRecorders`: latency
histograms, delivery records, the resilience ledger and the metered usage.
:meth:`~ProcessRecorders.drain` takes what was recorded since the last drain as
one :class:`WorkerReport`, which :meth:`RunResults.merge` adds to the run's
results: on the master of a distributed run, from each worker's reports; in a
local run, from the process's own drains. Both paths move the same data, so the
merged figures are what one process recording everything would have measured.

Pure bookkeeping: no Locust, no I/O; the caller supplies the wall time of a merge.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from harness.measure.delivery import DeliveryAccounts, DeliveryRecorder, empty_drain
from harness.measure.latency import LatencyRecorder, LatencyTimeline
from harness.measure.resilience import ResilienceLedger
from harness.measure.schema import WorkerReport
from harness.measure.usage import UsageAccount, UsageRecorder
from harness.measure.workers import WorkerRoster


@dataclass
class ProcessRecorders:
    """What this process's users record, until the next drain."""

    latency: LatencyRecorder = field(default_factory=LatencyRecorder)
    delivery: DeliveryRecorder = field(default_factory=DeliveryRecorder)
    resilience: ResilienceLedger = field(default_factory=ResilienceLedger)
    usage: UsageRecorder = field(default_factory=UsageRecorder)

    def drain(
        self,
        *,
        final: bool,
        delivery: bool = True,
        pause: Callable[[], object] | None = None,
    ) -> WorkerReport:
        """Everything recorded since the last drain; ``final`` once this process's users
        have stopped (nothing more will follow). ``delivery=False`` keeps the delivery
        records for the next drain (a final drain takes them whatever it is told);
        ``pause`` is called between steps of the delivery drain."""
        return {
            "latency": self.latency.drain(),
            "delivery": self.delivery.drain(pause) if delivery or final else empty_drain(),
            "resilience": self.resilience.drain(),
            "usage": self.usage.drain(time.monotonic()),
            "final": final,
        }


@dataclass
class RunResults:
    """A run's merged measurements, and which processes reported them."""

    started_at: float = field(default_factory=time.time)
    backoff_tolerance_s: float = 0.1
    timeline: LatencyTimeline = field(init=False)
    accounts: DeliveryAccounts = field(default_factory=DeliveryAccounts)
    resilience: ResilienceLedger = field(init=False)
    workers: WorkerRoster = field(default_factory=WorkerRoster)
    """The processes (Locust workers) that reported, and which of them finished."""
    usage: UsageAccount = field(default_factory=UsageAccount)

    def __post_init__(self) -> None:
        self.timeline = LatencyTimeline(self.started_at)
        self.resilience = ResilienceLedger(tolerance_s=self.backoff_tolerance_s)

    def merge(
        self,
        report: WorkerReport,
        at_wall_s: float,
        process: str = "",
        pause: Callable[[], object] | None = None,
    ) -> None:
        """Add one process's report, received at ``at_wall_s`` (its latency lands in that
        time's slot of the over-time figures); ``pause`` is called between histograms."""
        self.timeline.merge(report["latency"], at_wall_s, pause)
        self.accounts.merge(report["delivery"], pause)
        self.resilience.merge(report["resilience"])
        self.usage.merge(report["usage"])
        if process:
            self.workers.reported(process, at_wall_s, report)
