"""The run's figures in the Prometheus exposition format (``/metrics``), via ``prometheus_client``.

:func:`exposition` renders one summary (the live one, or the final one once
the run has ended) and the embedded emulator's counters. Every family is
prefixed ``appsync_harness_``:

- counters: ``events_published``, ``events_delivered``, ``events_filtered``, ``events_lost``,
  ``events_missed_during_reconnect``, ``events_duplicated``,
  ``events_out_of_order``, ``events_skipped`` (per template and overall),
  ``requests`` and ``request_failures`` (per Locust request type),
  ``reconnect_losses``, ``retries``, ``recoveries`` (per policy), ``leaks``;
- histograms: ``latency_seconds`` per metric and template (buckets from
  :data:`BUCKETS_MS`, counted from the harness's microsecond histograms);
- gauges: ``latency_quantile_seconds`` (p50, p90, p99, p99.9, max, exact from
  the same histograms), ``run_duration_seconds``, ``verdict_exit_code``,
  ``slo_passed`` per SLO and place, and against the embedded emulator
  ``emulator_open_connections`` and ``emulator_live_subscriptions``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, cast

from prometheus_client.core import (
    CollectorRegistry,
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector

from harness.measure.histogram import Histogram
from harness.measure.latency import LatencyTimeline
from harness.measure.schema import DELIVERY_FIGURES, LatencyFigures, Summary, figure_of

PREFIX = "appsync_harness_"
BUCKETS_MS = (1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000)
QUANTILES = (("0.5", "p50"), ("0.9", "p90"), ("0.99", "p99"), ("0.999", "p99.9"), ("1", "max"))
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def exposition(
    summary: Summary,
    timeline: LatencyTimeline,
    emulator: dict[str, Any] | None,
    pause: Callable[[], object] | None = None,
) -> bytes:
    """The figures as Prometheus text (``emulator``: the live emulator counts, or None;
    ``pause`` is called between the histograms it reads)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Figures(summary, timeline, emulator, pause))
    return generate_latest(registry)


class _Figures(Collector):
    def __init__(
        self,
        summary: Summary,
        timeline: LatencyTimeline,
        emulator: dict[str, Any] | None,
        pause: Callable[[], object] | None,
    ) -> None:
        self.summary = summary
        self.timeline = timeline
        self.emulator = emulator
        self.pause = pause

    def collect(self) -> Iterator[Metric]:
        yield from _delivery(self.summary)
        yield from _requests(self.summary)
        yield from _resilience(self.summary)
        yield from _latency(self.timeline, self.pause)
        yield from _quantiles(self.summary)
        yield from _run(self.summary)
        if self.emulator is not None:
            for name, key in (
                ("emulator_open_connections", "open_connections"),
                ("emulator_live_subscriptions", "live_subscriptions"),
            ):
                gauge = GaugeMetricFamily(
                    PREFIX + name, f"{key.replace('_', ' ')} on the embedded emulator now"
                )
                gauge.add_metric([], self.emulator[key])
                yield gauge


def _delivery(summary: Summary) -> Iterator[Metric]:
    delivery = summary["delivery"]
    for figure in DELIVERY_FIGURES:
        family = CounterMetricFamily(
            PREFIX + f"events_{figure}",
            f"delivery account: {figure.replace('_', ' ')} events",
            labels=["template"],
        )
        family.add_metric(["(all)"], figure_of(delivery["overall"], figure))
        for template, account in delivery["templates"].items():
            family.add_metric([template], figure_of(account, figure))
        yield family


def _requests(summary: Summary) -> Iterator[Metric]:
    requests = summary["totals"]["requests"]
    count = CounterMetricFamily(
        PREFIX + "requests", "Locust requests per request type", labels=["type"]
    )
    failures = CounterMetricFamily(
        PREFIX + "request_failures", "failed Locust requests per request type", labels=["type"]
    )
    for request_type, figures in requests.items():
        count.add_metric([request_type], figures["count"])
        failures.add_metric([request_type], figures["failures"])
    yield count
    yield failures


def _resilience(summary: Summary) -> Iterator[Metric]:
    resilience = summary["resilience"]
    families = {
        key: CounterMetricFamily(PREFIX + name, text, labels=["kind", "policy"])
        for key, name, text in (
            ("losses", "reconnect_losses", "connections (or publishes) lost, per policy"),
            ("attempts", "retries", "retry attempts, per policy"),
            ("recoveries", "recoveries", "losses recovered from, per policy"),
        )
    }
    for policy in resilience["policies"]:
        for key, family in families.items():
            family.add_metric([policy["kind"], policy["policy"]], policy[key])  # type: ignore[literal-required]
    yield from families.values()
    leaks = CounterMetricFamily(PREFIX + "leaks", "what stopped clients left behind")
    leaks.add_metric([], resilience["cleanup"]["leaks"])
    yield leaks


def _latency(timeline: LatencyTimeline, pause: Callable[[], object] | None) -> Iterator[Metric]:
    family = HistogramMetricFamily(
        PREFIX + "latency_seconds",
        "latency per metric and channel template (from the harness's histograms)",
        labels=["metric", "template"],
    )
    bounds_us = [bound * 1000 for bound in BUCKETS_MS]
    for metric in timeline.metrics():
        for template, histogram in timeline.by_template(metric, pause).items():
            family.add_metric(
                [metric, template],
                buckets=_buckets(histogram, bounds_us),
                sum_value=histogram.mean_us() * histogram.get_total_count() / 1e6,
            )
    yield family


def _buckets(histogram: Histogram, bounds_us: list[int]) -> list[tuple[str, float]]:
    counts = histogram.counts_up_to(bounds_us)
    buckets = [
        (_seconds(bound), float(count)) for bound, count in zip(bounds_us, counts, strict=True)
    ]
    return [*buckets, ("+Inf", float(histogram.get_total_count()))]


def _seconds(bound_us: int) -> str:
    return f"{bound_us / 1e6:g}"


def _quantiles(summary: Summary) -> Iterator[Metric]:
    family = GaugeMetricFamily(
        PREFIX + "latency_quantile_seconds",
        "latency quantiles per metric and template, exact from the harness's histograms",
        labels=["metric", "template", "quantile"],
    )
    for metric, section in summary["latency"].items():
        places: list[tuple[str, LatencyFigures]] = [
            ("(all)", section["overall"]),
            *section["templates"].items(),
        ]
        for template, figures in places:
            for quantile, key in QUANTILES:
                value = cast(float | None, figures.get(key))
                if value is not None:
                    family.add_metric([metric, template, quantile], value / 1000.0)
    yield family


def _run(summary: Summary) -> Iterator[Metric]:
    duration = GaugeMetricFamily(PREFIX + "run_duration_seconds", "how long the run has gone on")
    duration.add_metric([], summary["run"]["duration_s"])
    yield duration
    verdict = GaugeMetricFamily(
        PREFIX + "verdict_exit_code",
        "the exit status the run has (or would have if it ended now)",
    )
    verdict.add_metric([], summary["verdict"]["exit_code"])
    yield verdict
    slo = GaugeMetricFamily(
        PREFIX + "slo_passed", "1 when the SLO holds at that place", labels=["slo", "where"]
    )
    for result in summary["slo"]["results"]:
        slo.add_metric([result["slo"], result["where"]], 1.0 if result["passed"] else 0.0)
    yield slo
