"""The shapes of the data the harness moves and writes, each defined once.

- :class:`Summary`: ``summary.json`` (schema 1), built at the end of a run;
  ``resilience.json`` is its ``resilience`` part. docs/summary-schema.md is
  generated from these types (``python -m harness.measure.schema``).
- :class:`WorkerReport`: what a Locust worker sends the master with each stats
  report (and what a local run drains into its own results).
- The vocabularies: :data:`METRICS` (latency metrics) and :data:`DELIVERY_FIGURES`.

TypedDicts, so readers index with ``[]`` and mypy checks both ends. JSON and
msgpack turn tuples into lists, so rows that travel are lists.
"""

from collections.abc import Mapping
from typing import Any, Literal, NotRequired, TypedDict, cast

SCHEMA = 1
KIND = "appsync-events-harness-summary"

METRICS = ("connect", "subscribe", "publish", "http_publish", "deliver", "reconnect", "unsubscribe")
"""The latency metrics, in report order: Locust request types measured into histograms."""
DELIVERY_FIGURES = (
    "published",
    "skipped",
    "delivered",
    "filtered",
    "lost",
    "missed_during_reconnect",
    "unaccounted",
    "duplicated",
    "out_of_order",
)
"""The figures of one channel's (or template's) delivery account, in report order."""
LATENCY_STATS = ("min", "mean", "p50", "p90", "p99", "p99.9", "max")
"""The statistics of a latency figure, in milliseconds."""
USAGE_COUNTS = (
    "connection_requests",
    "subscription_requests",
    "publish_requests",
    "inbound_events",
    "inbound_units",
    "outbound_messages",
    "outbound_units",
)
"""What the clients of a run did that AWS meters, as whole counts, in report order."""


# -- summary.json ---------------------------------------------------------------------

LatencyFigures = TypedDict(
    "LatencyFigures",
    {
        "count": int,
        "min": NotRequired[float],
        "mean": NotRequired[float],
        "p50": NotRequired[float],
        "p90": NotRequired[float],
        "p99": NotRequired[float],
        "p99.9": NotRequired[float],
        "max": NotRequired[float],
    },
)
LatencyFigures.__doc__ = """One histogram's figures in milliseconds (microsecond precision);
only ``count`` when it is empty."""


class LatencySection(TypedDict):
    """One metric's figures overall, per channel template and per channel."""

    overall: LatencyFigures
    templates: dict[str, LatencyFigures]
    channels: dict[str, LatencyFigures]
    """At most 1,000 per metric; further channels are folded into their template's name."""


class DeliveryFigures(TypedDict):
    """One channel's (or template's) delivery account, in events; each subscription counts once."""

    published: int
    """Events the server acknowledged."""
    skipped: int
    """Scheduled publishes not sent: their slot passed while the publisher had no
    connection (or its reconnect policy had given up). Each is also a ``skipped`` request."""
    delivered: int
    """Arrivals, one per event and covering subscription."""
    filtered: int
    """Events a namespace handler dropped (acknowledged as successful, never broadcast),
    one per covering subscription: known from the embedded emulator, which lists them;
    against a real API they count as lost."""
    lost: int
    """Events that did not arrive although a subscription was live when they were intended."""
    missed_during_reconnect: int
    """Events intended while a subscription was down between a loss and its resubscribe."""
    unaccounted: int
    """Events that did not arrive in the records of a subscription held by a lost worker:
    they may have arrived, but its records never reached the master."""
    duplicated: int
    """Second and later arrivals of an event on one subscription."""
    out_of_order: int
    """Arrivals below the highest sequence number already seen on their subscription."""


class LostExample(TypedDict):
    channel: str
    publisher: str
    seq: int
    subscriber: str
    subscription: str
    """The channel or wildcard pattern the subscriber held."""
    intended_ms: int
    """Wall-clock milliseconds since the epoch."""


class DeliverySection(TypedDict):
    """Delivery accounting overall, per template and per channel."""

    overall: DeliveryFigures
    templates: dict[str, DeliveryFigures]
    channels: dict[str, DeliveryFigures]
    """At most 1,000: those with the most lost, then missed, events."""
    channels_total: int
    lost_examples: list[LostExample]
    """Up to 20 lost events."""
    untracked: int
    """Events past the per-process tracking cap (5,000,000), not accounted for."""


class RequestCount(TypedDict):
    count: int
    failures: int


class ErrorTotals(TypedDict):
    count: int
    rate: float
    """Failed requests / all requests, every request type."""


class Totals(TypedDict):
    requests: dict[str, RequestCount]
    """Per Locust request type."""
    errors: ErrorTotals
    events: DeliveryFigures
    """The delivery account of the whole run."""


class RunInfo(TypedDict):
    run_id: str
    started_at: str
    """UTC, ISO 8601 with milliseconds."""
    ended_at: str
    duration_s: float
    interrupted: bool | None
    """True when stopped before ``-t`` (Ctrl-C, SIGTERM); null without ``-t``."""
    settings: dict[str, Any]
    """The settings without secrets (``HarnessSettings.describe()``)."""


class Violation(TypedDict):
    """A retry attempt outside its policy's bounds."""

    client: str
    attempt: int
    observed_s: float
    low_s: float
    high_s: float


class RecoveryFigures(TypedDict):
    """Loss to fully resubscribed, in seconds (nearest rank, 0.1 ms)."""

    p50: float
    p90: float
    p99: float
    max: float


class Herd(TypedDict):
    """First reconnect attempts after the largest burst of losses, against the policy."""

    disconnected: int
    """Losses in the densest 100 ms."""
    first_attempts: int
    window_s: float
    peak_first_attempts: int
    """First attempts in the busiest window."""
    predicted_peak: float
    """The same figure for clients keeping to the policy exactly (simulated median)."""
    ratio_to_predicted: float


class PolicySummary(TypedDict):
    """One (kind, policy) pair: ``reconnect`` or ``publish`` retries under one policy."""

    kind: str
    policy: str
    losses: int
    attempts: int
    conforming: int
    conformance: float | None
    """Conforming / attempts; null when nothing was retried."""
    violations: list[Violation]
    recoveries: int
    recovery_s: RecoveryFigures | None
    give_ups: dict[str, int]
    """Per reason."""
    herd: Herd | None


class LeakData(TypedDict):
    """Something a stopped client left behind."""

    kind: str
    """``open-socket``, ``pending-operation``, ``subscription`` or ``data-after-unsubscribe``."""
    user: str
    channel: str | None
    id: str | None


class CleanupSummary(TypedDict):
    users_checked: int
    leaks: int
    by_kind: dict[str, int]
    listed: list[LeakData]
    """Up to 100."""


class ClockEstimate(TypedDict):
    """A worker's wall clock against the master's (NTP-style, the best of a few samples)."""

    offset_ms: float
    """The master's clock minus the worker's."""
    uncertainty_ms: float
    """Half the best sample's round trip: the offset is within this of the truth."""
    samples: int


class LostWorker(TypedDict):
    """A worker whose final report never reached the master."""

    worker: str
    """Locust's id of the worker."""
    last_report_at: str | None
    """UTC, ISO 8601; null when no report ever arrived."""
    missing_since: str | None
    """When the master first saw it missing or gone; null when it never noticed."""
    users: int
    """Users running on it at its last report."""
    subscriptions: int
    """Subscriptions its users held at its last report (by the delivery records)."""


class WorkerFigures(TypedDict):
    """One worker, as the master saw it."""

    reports: int
    final: bool
    users: int
    """Users running at its last report."""
    clock: ClockEstimate | None
    """Its wall clock against the master's; null when not measured."""


class WorkersSummary(TypedDict):
    """A distributed run's workers (null in a local run)."""

    count: int
    """Workers that reported, or that the master saw, during the run."""
    final_reports: int
    """Workers whose report after their users stopped reached the master."""
    lost: list[LostWorker]
    """Workers whose final report never arrived: the run is incomplete."""
    each: dict[str, WorkerFigures]
    clock_bound_ms: float
    """The largest clock error (|offset| + uncertainty) a worker may have before delivery
    latencies measured across workers are flagged (``--max-clock-offset``, else 5 ms)."""
    clock_flagged: list[str]
    """Workers whose clock is unmeasured or off by more than ``clock_bound_ms``: delivery
    latencies between them and other processes may be off by as much."""


class ServerViolation(TypedDict):
    client: str
    attempt: int
    policy: str
    server_gap_s: float
    low_s: float


class ServerBackoff(TypedDict):
    """Backoff as the emulator's clock saw it (attempts 2 and later of an episode)."""

    checked: int
    conforming: int
    conformance: float | None
    violations: list[ServerViolation]


class ServerChecks(TypedDict, total=False):
    """The embedded emulator's view once the users stopped; only ``error`` when skipped."""

    error: str
    open_connections: int
    live_subscriptions: int
    backoff: ServerBackoff


class ResilienceSummary(TypedDict):
    """Retries, recoveries, herds and cleanup; also written as ``resilience.json``."""

    schema: int
    backoff_tolerance_s: float
    policies: list[PolicySummary]
    cleanup: CleanupSummary
    server: NotRequired[ServerChecks]
    """Against the embedded emulator only."""


class UsageCounts(TypedDict):
    """What the harness's own clients did that AWS meters (docs/usage-and-cost.md)."""

    connection_requests: int
    """WebSocket connects attempted, refused ones too."""
    subscription_requests: int
    """Subscribes sent, refused ones too."""
    publish_requests: int
    """WebSocket publishes and HTTP ``POST /event`` requests sent, retries too."""
    inbound_events: int
    """Events in those requests."""
    inbound_units: int
    """The same events in 5 KB units (5,120 bytes: an event of 6,000 bytes is 2)."""
    outbound_messages: int
    """``data`` messages received: one per event and subscription that covered it."""
    outbound_units: int
    """The same messages in 5 KB units, by the size of the event each carried."""
    connection_minutes: float
    """Minutes the WebSocket connections were open (acknowledged to closed or lost), summed."""


class QuotaUse(TypedDict):
    """The run's peak against one per-API quota (AWS's default)."""

    quota: str
    """``connect-rate``, ``inbound-events``, ``outbound-messages`` or ``request-bytes``
    (the emulator's ``--quota`` names)."""
    measures: str
    """What is counted against it."""
    limit: float
    unit: str
    """``per second``, or ``bytes`` for one request."""
    peak: float
    """The busiest wall-clock second (or the largest request), all processes together."""
    peak_at: str | None
    """UTC, ISO 8601: the start of that second; null when nothing was counted."""
    headroom: float
    """1 - peak / limit: the share of the quota left; negative once exceeded."""
    exceeded: bool


class Price(TypedDict):
    """One price of the price table."""

    usd: float
    per: int
    """The quantity the price is for (1,000,000)."""
    unit: str
    source: str
    """Where it was read."""
    confirmed: bool
    """False: not found stated for AppSync Events in the source (docs/usage-and-cost.md)."""
    note: str


class PriceTableInfo(TypedDict):
    """Where the prices came from."""

    origin: str
    """``built-in``, or the ``--price-file`` path."""
    region: str
    currency: str
    read_on: str
    """The date the prices were read from their source."""
    prices: dict[str, Price]


class CostLine(TypedDict):
    """One metered quantity at its price."""

    item: str
    """A key of ``counts`` (``connection_minutes`` included)."""
    quantity: float
    price: str
    """The key of its price in ``prices.prices``."""
    usd: float
    """quantity x price.usd / price.per."""


class Projection(TypedDict):
    """The run's average cost rate, sustained."""

    hour_usd: float
    day_usd: float
    month_usd: float
    """730 hours, AWS's month in its pricing examples."""


class CostEstimate(TypedDict):
    """List prices, no free tier, no data transfer (docs/usage-and-cost.md)."""

    lines: list[CostLine]
    total_usd: float
    projection: Projection | None
    """Null when the run lasted no time."""
    prices: PriceTableInfo


class UsageSection(TypedDict):
    """What AWS meters, the peaks against the per-API quotas, and what it would cost."""

    counts: UsageCounts
    quotas: list[QuotaUse]
    headroom: float
    """The smallest ``headroom`` of ``quotas`` (the ``quota.headroom`` SLO)."""
    exceeded: list[str]
    """A sentence per quota the run's peak went over."""
    cost: CostEstimate


class SloResult(TypedDict):
    """One SLO at one place."""

    slo: str
    """As written."""
    figure: str
    where: str
    """``overall`` or a channel template."""
    observed: float | None
    threshold: float
    unit: Literal["ms", "count", "ratio"]
    passed: bool
    detail: str


class SloSection(TypedDict):
    passed: bool
    results: list[SloResult]


class Regression(TypedDict):
    figure: str
    where: str
    baseline: float
    observed: float
    change: float | None
    """Relative; null from a baseline of 0."""
    unit: Literal["ms", "count", "ratio"]


class BaselineSection(TypedDict):
    path: str
    max_regression: float
    passed: bool
    compared: int
    """Figures present in both runs."""
    regressions: list[Regression]


class Verdict(TypedDict):
    exit_code: int
    """0, 1 (failed requests, lost or duplicated events, or the emulator's checks), 2
    (settings), 3 (an SLO), 4 (a regression), 5 (incomplete: a worker lost, or the reports
    not written); see docs/reports.md."""
    reasons: list[str]


class Measurements(TypedDict):
    """What a run measured: the summary before it is judged."""

    schema: int
    """1; a reader refuses other schemas (``--baseline`` does)."""
    kind: str
    """``appsync-events-harness-summary``."""
    run: RunInfo
    totals: Totals
    latency: dict[str, LatencySection]
    """Per metric with samples (see METRICS); only successful operations."""
    delivery: DeliverySection
    resilience: ResilienceSummary
    usage: UsageSection
    workers: WorkersSummary | None
    """Distributed runs only; null in a local run."""


class Summary(Measurements):
    """``summary.json``: what a run measured, and how it was judged."""

    slo: SloSection
    baseline: BaselineSection | None
    """Null without ``--baseline``."""
    verdict: Verdict


def metric_order(metric: str) -> tuple[int, str]:
    """Sort key: the metrics of :data:`METRICS` in their order, then any other by name."""
    return (METRICS.index(metric) if metric in METRICS else len(METRICS), metric)


def figure_of(figures: DeliveryFigures, name: str) -> int:
    """One figure of a delivery account by name (one of :data:`DELIVERY_FIGURES`); 0 for
    a figure that a summary written before it existed does not hold."""
    return cast("Mapping[str, int]", figures).get(name, 0)


def stat_of(figures: LatencyFigures, stat: str) -> float | None:
    """One statistic of latency figures by name; None when the histogram was empty."""
    return cast("Mapping[str, float]", figures).get(stat)


# -- what workers send ----------------------------------------------------------------

LatencyRow = list[Any]
"""``[metric, channel, template, [bucket, count, ...]]`` (:meth:`LatencyRecorder.drain`)."""


class DeliveryDrain(TypedDict):
    """What a :class:`~harness.measure.delivery.DeliveryRecorder` recorded since a drain."""

    published: list[list[Any]]
    """``[publisher, channel, [seq, intended_ms, seq, intended_ms, ...]]``."""
    arrived: list[list[Any]]
    """``[subscriber, pattern, publisher, channel, [[low, high], ...]]``."""
    duplicates: dict[str, int]
    out_of_order: dict[str, int]
    lifetimes: list[list[Any]]
    """``[subscriber, pattern, start_ms, end_ms or None]``."""
    untracked: int
    skipped: dict[str, int]
    """Per channel, scheduled publishes not sent (no connection)."""


class PolicyFiguresData(TypedDict):
    """One (kind, policy) pair's counts, as a ledger drains them."""

    kind: str
    policy: str
    attempts: int
    conforming: int
    violations: list[Violation]
    losses_wall_s: list[float]
    recoveries_s: list[float]
    give_ups: dict[str, int]


class UsageDrain(TypedDict):
    """What a :class:`~harness.measure.usage.UsageRecorder` counted since a drain."""

    connection_requests: int
    subscription_requests: int
    publish_requests: int
    inbound_events: int
    inbound_units: int
    outbound_messages: int
    outbound_units: int
    connection_ms: int
    """Milliseconds of open connections, summed (those still open: up to the drain)."""
    largest_request_bytes: int
    seconds: list[list[int]]
    """``[wall second, connects, inbound events, outbound units]`` per second with any."""


class LedgerDrain(TypedDict):
    """What a :class:`~harness.measure.resilience.ResilienceLedger` recorded since a drain."""

    policies: list[PolicyFiguresData]
    attempts: list[dict[str, Any]]
    """:class:`~harness.measure.resilience.AttemptRecord` fields."""
    users_checked: int
    leaks: dict[str, int]
    leaks_listed: list[LeakData]


class ProcessInfo(TypedDict):
    """A worker's state at one report."""

    tag: str | None
    """The prefix of its users' ids (``<tag>-<n>``); null before its first user started."""
    users: int
    """Users running."""
    clock: ClockEstimate | None


class WorkerReport(TypedDict):
    """One process's measurements since its last report."""

    latency: list[LatencyRow]
    delivery: DeliveryDrain
    resilience: LedgerDrain
    usage: UsageDrain
    final: bool
    """Sent after the process's users stopped: nothing more will follow."""
    process: NotRequired[ProcessInfo]
    """Who sent it (a worker's reports; a local run's own drains leave it out)."""
