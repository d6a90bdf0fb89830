"""A distributed run's workers as the master saw them: who reported, who finished, who was lost.

A worker is *lost* when its final report (sent after its users stopped) never
reached the master: it was killed, quit early, or was cut off. Its measurements
stop at its last report, so the run is incomplete; what its subscriptions never
reported is *unaccounted*, not lost (:mod:`harness.measure.delivery`).

Pure bookkeeping: the master's listeners tell the roster what they see
(:meth:`WorkerRoster.reported` for each report, :meth:`WorkerRoster.seen` and
:meth:`WorkerRoster.gone` from Locust's view of its workers) with wall times.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.measure.delivery import DeliveryAccounts
from harness.measure.schema import ClockEstimate, LostWorker, WorkerReport, WorkersSummary
from harness.measure.texts import iso_utc

DEFAULT_CLOCK_BOUND_MS = 5.0
"""Without ``--max-clock-offset``, workers whose clock may be off by more are flagged."""


@dataclass
class WorkerRecord:
    """One worker's last known state."""

    reports: int = 0
    final: bool = False
    last_report_at: float | None = None
    missing_since: float | None = None
    tag: str | None = None
    """The prefix of its users' ids."""
    users: int = 0
    clock: ClockEstimate | None = None


@dataclass
class WorkerRoster:
    """Every worker of a run, by Locust's worker id."""

    workers: dict[str, WorkerRecord] = field(default_factory=dict)

    def reported(self, worker: str, at_wall_s: float, report: WorkerReport) -> None:
        record = self.workers.setdefault(worker, WorkerRecord())
        record.reports += 1
        record.last_report_at = at_wall_s
        record.final = record.final or report["final"]
        process = report.get("process")
        if process is not None:
            record.tag = process["tag"] or record.tag
            record.users = process["users"]
            record.clock = process["clock"] or record.clock

    def seen(self, worker: str) -> None:
        """Locust's master lists the worker, not as missing (a worker whose heartbeats
        came back is no longer missing)."""
        self.workers.setdefault(worker, WorkerRecord()).missing_since = None

    def gone(self, worker: str, at_wall_s: float) -> None:
        """Locust's master lists the worker as missing, or no longer lists it."""
        record = self.workers.setdefault(worker, WorkerRecord())
        if record.missing_since is None and not record.final:
            record.missing_since = at_wall_s

    @property
    def settled(self) -> bool:
        """Whether every worker seen has sent its final report or is gone (and so never
        will): the master need not wait any longer (False with none)."""
        return bool(self.workers) and all(
            r.final or r.missing_since is not None for r in self.workers.values()
        )

    @property
    def finished(self) -> int:
        return sum(r.final for r in self.workers.values())

    def lost(self, *, mid_run: bool = False) -> list[str]:
        """The workers whose final report never arrived; ``mid_run`` (no final report is
        due yet): those Locust lists as missing or no longer lists."""
        return sorted(
            worker
            for worker, record in self.workers.items()
            if not record.final and (record.missing_since is not None or not mid_run)
        )

    def lost_tags(self, *, mid_run: bool = False) -> frozenset[str]:
        """The user id prefixes of the lost workers' users."""
        return frozenset(
            tag
            for worker in self.lost(mid_run=mid_run)
            if (tag := self.workers[worker].tag) is not None
        )

    def clock_flagged(self, bound_ms: float) -> list[str]:
        """The workers with users whose clock is unmeasured, or off by more than
        ``bound_ms`` (its offset plus its uncertainty)."""
        flagged = []
        for worker, record in sorted(self.workers.items()):
            clock = record.clock
            if record.tag is None:  # no user ever ran there: no latency to skew
                continue
            if clock is None or abs(clock["offset_ms"]) + clock["uncertainty_ms"] > bound_ms:
                flagged.append(worker)
        return flagged

    def summary(
        self,
        accounts: DeliveryAccounts,
        clock_bound_ms: float = DEFAULT_CLOCK_BOUND_MS,
        *,
        mid_run: bool = False,
    ) -> WorkersSummary:
        """The ``workers`` section of the summary (``mid_run``: see :meth:`lost`)."""
        lost: list[LostWorker] = []
        for worker in self.lost(mid_run=mid_run):
            record = self.workers[worker]
            tag = record.tag
            lost.append(
                {
                    "worker": worker,
                    "last_report_at": _iso(record.last_report_at),
                    "missing_since": _iso(record.missing_since),
                    "users": record.users,
                    "subscriptions": 0 if tag is None else accounts.open_subscriptions(tag),
                }
            )
        return {
            "count": len(self.workers),
            "final_reports": self.finished,
            "lost": lost,
            "each": {
                worker: {
                    "reports": record.reports,
                    "final": record.final,
                    "users": record.users,
                    "clock": record.clock,
                }
                for worker, record in sorted(self.workers.items())
            },
            "clock_bound_ms": clock_bound_ms,
            "clock_flagged": self.clock_flagged(clock_bound_ms),
        }


def lost_worker_sentences(workers: WorkersSummary, unaccounted: int) -> list[str]:
    """Why a run with lost workers is incomplete, one sentence per lost worker, the
    unaccounted events in the first."""
    sentences = []
    for index, lost in enumerate(workers["lost"]):
        last = lost["last_report_at"] or "never"
        sentence = (
            f"incomplete: worker {lost['worker']} was lost (its final report never arrived; "
            f"last report {last}, {lost['users']} users, {lost['subscriptions']} "
            "subscriptions); its figures stop at its last report"
        )
        if index == 0 and unaccounted:
            sentence += f", and {unaccounted} events are unaccounted (not counted as lost)"
        sentences.append(sentence)
    return sentences


def clock_sentences(workers: WorkersSummary) -> list[str]:
    """Why the run's cross-process delivery latencies cannot be trusted (for
    ``--max-clock-offset``): one sentence per flagged worker."""
    sentences = []
    for worker in workers["clock_flagged"]:
        clock = workers["each"][worker]["clock"]
        if clock is None:
            error = "was never measured"
        else:
            off = abs(clock["offset_ms"]) + clock["uncertainty_ms"]
            error = f"may be off by {off:.3f} ms"
        sentences.append(
            f"unreliable: the clock of worker {worker} {error}, more than --max-clock-offset "
            f"{workers['clock_bound_ms']:g} ms allows; delivery latencies across processes "
            "may be off by as much"
        )
    return sentences


def _iso(wall_s: float | None) -> str | None:
    return None if wall_s is None else iso_utc(wall_s)
