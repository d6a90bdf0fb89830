"""What a run shows about retries and cleanup: backoff conformance, recovery, herds, leaks.

Every retry attempt (a reconnect after a loss, a connect retried at start, a
publish retried) is recorded with the delay observed before it and the bounds
its policy allows, so the run can say which share of attempts kept to the
policy. Per policy the ledger also keeps recovery times (loss to fully
resubscribed), give-ups, and a *herd* figure: after the largest burst of losses
(a mass disconnect), the peak number of first reconnect attempts in any 100 ms,
against the peak that clients drawing their delays exactly as the policy says
would make from the same losses (simulated: all of them without jitter).

A ledger is mergeable: Locust workers :meth:`drain` theirs into each report to
the master, which :meth:`merge`\\ s them, so the master's summary covers every
process. Pure bookkeeping: no clock reads, no I/O.
"""

from __future__ import annotations

import math
import random
import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from harness.config.retry import OFF, BackoffPolicy, RetryPolicy
from harness.errors import BackoffViolation, CleanupLeak
from harness.measure.schema import (
    Herd,
    LeakData,
    LedgerDrain,
    PolicyFiguresData,
    PolicySummary,
    RecoveryFigures,
    ResilienceSummary,
    ServerBackoff,
    ServerViolation,
    Violation,
)

RESILIENCE_SCHEMA = 1
"""The schema of ``resilience.json`` (the summary's ``resilience`` part)."""
HERD_WINDOW_S = 0.1
EARLY_SLACK_S = 0.002
"""An attempt may come this much before its lower bound (clock granularity)."""
MAX_RECORDS_KEPT = 100_000
EXAMPLES_KEPT = 20
_CLIENT_ID = re.compile(r"(?P<user>[^/]+)/(?P<episode>[0-9]+)/(?P<attempt>[0-9]+)")
HERD_SEED = 20261126
HERD_DRAWS = 200_000
HERD_MIN_TRIALS, HERD_MAX_TRIALS = 11, 201
LEAKS_LISTED = 100


@dataclass(slots=True)
class AttemptRecord:
    """One retry attempt: when it started and the delay before it, against its bounds."""

    kind: str
    """``reconnect`` (connects after a loss or a failed first connect) or ``publish``."""
    policy: str
    client: str
    episode: int
    number: int
    wall_s: float
    loss_wall_s: float
    """Wall time of the failure that started the episode (a loss, for reconnects)."""
    observed_s: float
    low_s: float
    high_s: float
    conforming: bool


@dataclass
class PolicyFigures:
    """Counts for one (kind, policy) pair."""

    kind: str
    policy: str
    attempts: int = 0
    conforming: int = 0
    violations: list[Violation] = field(default_factory=list)
    losses_wall_s: list[float] = field(default_factory=list)
    recoveries_s: list[float] = field(default_factory=list)
    give_ups: Counter[str] = field(default_factory=Counter)

    def to_json(self) -> PolicyFiguresData:
        return {
            "kind": self.kind,
            "policy": self.policy,
            "attempts": self.attempts,
            "conforming": self.conforming,
            "violations": self.violations,
            "losses_wall_s": self.losses_wall_s,
            "recoveries_s": self.recoveries_s,
            "give_ups": dict(self.give_ups),
        }

    def absorb(self, data: PolicyFiguresData) -> None:
        self.attempts += data["attempts"]
        self.conforming += data["conforming"]
        _extend_bounded(self.violations, data["violations"], EXAMPLES_KEPT)
        _extend_bounded(self.losses_wall_s, data["losses_wall_s"], MAX_RECORDS_KEPT)
        _extend_bounded(self.recoveries_s, data["recoveries_s"], MAX_RECORDS_KEPT)
        self.give_ups.update(data["give_ups"])


class ResilienceLedger:
    """Retry attempts, recoveries, give-ups and leaks of one process (or, merged, a run)."""

    def __init__(self, tolerance_s: float = 0.1) -> None:
        self.tolerance_s = tolerance_s
        """How late an attempt may come past its upper bound (scheduling on a busy machine)."""
        self._clear()

    def _clear(self) -> None:
        self.policies: dict[tuple[str, str], PolicyFigures] = {}
        self.attempts: list[AttemptRecord] = []
        self.users_checked = 0
        self.leaks: Counter[str] = Counter()
        self.leaks_listed: list[LeakData] = []

    # -- recording --------------------------------------------------------------

    def figures(self, kind: str, policy: RetryPolicy) -> PolicyFigures:
        key = (kind, policy.label)
        figures = self.policies.get(key)
        if figures is None:
            figures = self.policies[key] = PolicyFigures(kind, policy.label)
        return figures

    def attempt(
        self,
        kind: str,
        policy: RetryPolicy,
        *,
        client: str,
        episode: int,
        number: int,
        wall_s: float,
        loss_wall_s: float,
        observed_s: float,
        previous_s: float | None,
    ) -> BackoffViolation | None:
        """Record retry ``number`` (1-based) of an episode; the violation if it broke the policy."""
        assert policy.backoff is not None
        low, high = policy.backoff.bounds(number, previous_s)
        conforming = low - EARLY_SLACK_S <= observed_s <= high + self.tolerance_s
        figures = self.figures(kind, policy)
        figures.attempts += 1
        record = AttemptRecord(
            kind, policy.label, client, episode, number, wall_s, loss_wall_s,
            observed_s, low, high, conforming,
        )  # fmt: skip
        if len(self.attempts) < MAX_RECORDS_KEPT:
            self.attempts.append(record)
        if conforming:
            figures.conforming += 1
            return None
        if len(figures.violations) < EXAMPLES_KEPT:
            figures.violations.append(
                {"client": client, "attempt": number, "observed_s": round(observed_s, 4),
                 "low_s": round(low, 4), "high_s": round(high, 4)}
            )  # fmt: skip
        return BackoffViolation(policy.label, number, observed_s, low, high)

    def loss(self, kind: str, policy: RetryPolicy, wall_s: float) -> None:
        _append_bounded(self.figures(kind, policy).losses_wall_s, wall_s)

    def recovered(self, kind: str, policy: RetryPolicy, seconds: float) -> None:
        _append_bounded(self.figures(kind, policy).recoveries_s, seconds)

    def gave_up(self, kind: str, policy: RetryPolicy, reason: str) -> None:
        self.figures(kind, policy).give_ups[reason] += 1

    def cleanup(self, leaks: list[CleanupLeak]) -> None:
        """One stopped user's cleanup check (an empty list: it left nothing behind)."""
        self.users_checked += 1
        for leak in leaks:
            self.leaks[leak.kind] += 1
            if len(self.leaks_listed) < LEAKS_LISTED:
                self.leaks_listed.append(_leak_json(leak))

    # -- moving between processes --------------------------------------------------

    def drain(self) -> LedgerDrain:
        """Everything recorded since the last drain, for a report to the master; then forget it."""
        data: LedgerDrain = {
            "policies": [figures.to_json() for figures in self.policies.values()],
            "attempts": [asdict(record) for record in self.attempts],
            "users_checked": self.users_checked,
            "leaks": dict(self.leaks),
            "leaks_listed": self.leaks_listed,
        }
        self._clear()
        return data

    def merge(self, data: LedgerDrain) -> None:
        """Add what another process drained."""
        for entry in data["policies"]:
            key = (entry["kind"], entry["policy"])
            figures = self.policies.setdefault(key, PolicyFigures(entry["kind"], entry["policy"]))
            figures.absorb(entry)
        room = MAX_RECORDS_KEPT - len(self.attempts)
        self.attempts.extend(AttemptRecord(**record) for record in data["attempts"][:room])
        self.users_checked += data["users_checked"]
        self.leaks.update(data["leaks"])
        _extend_bounded(self.leaks_listed, data["leaks_listed"], LEAKS_LISTED)

    # -- the summary ---------------------------------------------------------------

    def summary(self) -> ResilienceSummary:
        """Per policy: attempts, conformance, recovery percentiles, give-ups, herd; and cleanup."""
        return {
            "schema": RESILIENCE_SCHEMA,
            "backoff_tolerance_s": self.tolerance_s,
            "policies": [self._policy_summary(figures) for figures in self.policies.values()],
            "cleanup": {
                "users_checked": self.users_checked,
                "leaks": sum(self.leaks.values()),
                "by_kind": dict(self.leaks),
                "listed": self.leaks_listed,
            },
        }

    def _policy_summary(self, figures: PolicyFigures) -> PolicySummary:
        conformance = figures.conforming / figures.attempts if figures.attempts else None
        return {
            "kind": figures.kind,
            "policy": figures.policy,
            "losses": len(figures.losses_wall_s),
            "attempts": figures.attempts,
            "conforming": figures.conforming,
            "conformance": conformance,
            "violations": figures.violations,
            "recoveries": len(figures.recoveries_s),
            "recovery_s": percentiles(figures.recoveries_s),
            "give_ups": dict(figures.give_ups),
            "herd": self._herd(figures),
        }

    def _herd(self, figures: PolicyFigures) -> Herd | None:
        """First attempts in the busiest 100 ms after the largest burst of losses, and the
        same figure for clients that keep to the policy exactly (simulated)."""
        burst_start, burst = _densest_window(figures.losses_wall_s, HERD_WINDOW_S)
        if burst < 2 or figures.policy == OFF:
            return None
        burst_end = burst_start + HERD_WINDOW_S
        firsts = [
            record
            for record in self.attempts
            if record.kind == figures.kind
            and record.policy == figures.policy
            and record.number == 1
            and burst_start <= record.loss_wall_s < burst_end
        ]
        if not firsts:
            return None
        _, peak = _densest_window([record.wall_s for record in firsts], HERD_WINDOW_S)
        backoff = BackoffPolicy.parse(figures.policy, option="policy")
        assert backoff is not None
        predicted = predicted_herd_peak(backoff, [record.loss_wall_s for record in firsts])
        return {
            "disconnected": burst,
            "first_attempts": len(firsts),
            "window_s": HERD_WINDOW_S,
            "peak_first_attempts": peak,
            "predicted_peak": predicted,
            "ratio_to_predicted": round(peak / predicted, 3),
        }


def predicted_herd_peak(backoff: BackoffPolicy, loss_times: list[float]) -> float:
    """The busiest 100 ms of first attempts if every client drew its delay as the policy
    says: the median over simulated runs from the same loss times (seeded, so repeatable)."""
    rng = random.Random(HERD_SEED)
    loss_times = sorted(loss_times)  # the same losses predict the same, in any order
    trials = max(HERD_MIN_TRIALS, min(HERD_MAX_TRIALS, HERD_DRAWS // len(loss_times)))
    peaks = sorted(
        _densest_window([loss + next(backoff.delays(rng)) for loss in loss_times], HERD_WINDOW_S)[1]
        for _ in range(trials)
    )
    return float(peaks[len(peaks) // 2])


def server_side_backoff(
    ledger: ResilienceLedger, server_attempts: list[dict[str, Any]]
) -> ServerBackoff:
    """Check backoff from the server's attempt log (emulator admin stats).

    Clients send ``user/episode/attempt`` as their client id. For attempts 2, 3,
    ... of an episode, the gap between the server's arrival times of attempt
    k-1 and k is at least the delay before k (plus the failed attempt's own
    duration), so it must not be shorter than the policy's lower bound: a client
    that sleeps less than its policy says is caught by the server's clock too.
    """
    low_of = {
        (record.client, record.episode, record.number): (record.low_s, record.policy)
        for record in ledger.attempts
    }
    arrivals: dict[tuple[str, int, int], float] = {}
    for attempt in server_attempts:
        key = parse_client_id(attempt.get("client_id"))
        if key is not None:
            arrivals[key] = attempt["monotonic"]
    checked = conforming = 0
    examples: list[ServerViolation] = []
    for (client, episode, number), arrived in arrivals.items():
        previous = arrivals.get((client, episode, number - 1))
        bound = low_of.get((client, episode, number))
        if previous is None or bound is None:
            continue
        checked += 1
        gap = arrived - previous
        if gap >= bound[0] - EARLY_SLACK_S:
            conforming += 1
        elif len(examples) < EXAMPLES_KEPT:
            examples.append(
                {"client": client, "attempt": number, "policy": bound[1],
                 "server_gap_s": round(gap, 4), "low_s": round(bound[0], 4)}
            )  # fmt: skip
    return {
        "checked": checked,
        "conforming": conforming,
        "conformance": conforming / checked if checked else None,
        "violations": examples,
    }


def client_id(user: str, episode: int, attempt: int) -> str:
    """The ``x-harness-client-id`` of one connect attempt, read back by :func:`parse_client_id`."""
    return f"{user}/{episode}/{attempt}"


def parse_client_id(text: object) -> tuple[str, int, int] | None:
    if not isinstance(text, str):
        return None
    match = _CLIENT_ID.fullmatch(text)
    if match is None:
        return None
    return match["user"], int(match["episode"]), int(match["attempt"])


def percentiles(values: list[float]) -> RecoveryFigures | None:
    """p50, p90, p99 and max (nearest rank), in seconds rounded to 0.1 ms."""
    if not values:
        return None
    ordered = sorted(values)

    def rank(share: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, math.ceil(share * len(ordered)) - 1))]

    return {
        "p50": round(rank(0.5), 4),
        "p90": round(rank(0.9), 4),
        "p99": round(rank(0.99), 4),
        "max": round(rank(1.0), 4),
    }


def _densest_window(times: list[float], width_s: float) -> tuple[float, int]:
    """The start and count of the window of ``width_s`` holding the most of ``times``."""
    ordered = sorted(times)
    best_start, best = 0.0, 0
    first = 0
    for last, time_s in enumerate(ordered):
        while time_s - ordered[first] >= width_s:
            first += 1
        if last - first + 1 > best:
            best, best_start = last - first + 1, ordered[first]
    return best_start, best


def _leak_json(leak: CleanupLeak) -> LeakData:
    return {"kind": leak.kind, "user": leak.user, "channel": leak.channel, "id": leak.sub_id}


def _append_bounded(values: list[float], value: float) -> None:
    if len(values) < MAX_RECORDS_KEPT:
        values.append(value)


def _extend_bounded(values: list[Any], more: list[Any], limit: int) -> None:
    values.extend(more[: max(0, limit - len(values))])
