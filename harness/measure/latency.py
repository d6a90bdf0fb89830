"""Latency histograms per (metric, channel), in microseconds, mergeable across processes.

Locust's own statistics round latencies to whole milliseconds and know channels
only by template; these are HdrHistograms (1 us to 1 h, 3 significant digits)
per metric (``connect``, ``subscribe``, ``publish``, ``http_publish``,
``deliver``, ``reconnect``, ``unsubscribe``) and per concrete channel. Past
``max_channels`` distinct channels of one metric, further channels fold into
their template, so memory stays bounded whatever the channel count.

Every process records into a :class:`LatencyRecorder`, which is drained
(encoded, then reset) into a :class:`LatencyTimeline`: on a Locust worker into
each report to the master, in a local run by a periodic greenlet. The timeline
keeps cumulative histograms and per-slot interval histograms per (metric,
template), the source of the over-time charts and the ``.hlog`` files. Merging
is exact: HdrHistogram counts add, so the master's figures are what one
process recording everything would have measured.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from hdrh.histogram import HdrHistogram

from harness.measure.schema import METRICS, LatencyFigures

LOWEST_US = 1
HIGHEST_US = 3_600_000_000
SIGNIFICANT_DIGITS = 3
MAX_CHANNELS = 1000
"""Distinct channels per metric with their own histogram; the rest fold into templates."""
SLOT_S = 5.0
"""Width of one interval of the over-time charts and the ``.hlog`` files."""
PERCENTILES = (50.0, 90.0, 99.0, 99.9)


def new_histogram() -> HdrHistogram:
    return HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS)


def record_us(histogram: HdrHistogram, latency_us: float) -> None:
    """Record, clamped into the histogram's range (a clock step can make a latency <= 0)."""
    if math.isfinite(latency_us):
        histogram.record_value(min(HIGHEST_US, max(LOWEST_US, round(latency_us))))


def percentiles_ms(histogram: HdrHistogram) -> LatencyFigures:
    """Count, min, mean, p50, p90, p99, p99.9 and max, in milliseconds (us precision).

    The same figures as hdrh's ``get_mean_value`` and ``get_percentile_to_value_dict``
    (a percentile is the highest value equivalent to the bucket that reaches its
    count), from one pass over the buckets that hold samples: hdrh's own methods
    walk every bucket and take tens of milliseconds per histogram."""
    count = histogram.get_total_count()
    if count == 0:
        return {"count": 0}
    targets = [
        (percentile, max(1, int(percentile * count / 100 + 0.5))) for percentile in PERCENTILES
    ]
    values: dict[float, int] = {}
    weighted_sum = 0
    seen = 0
    low = histogram.get_counts_array_index(histogram.get_min_value())
    high = histogram.get_counts_array_index(histogram.get_max_value())
    for offset, bucket_count in enumerate(histogram.counts[low : high + 1]):
        if not bucket_count:
            continue
        value = histogram.get_value_from_index(low + offset)
        weighted_sum += histogram._hdr_median_equiv_value(value) * bucket_count
        seen += bucket_count
        while targets and seen >= targets[0][1]:
            values[targets.pop(0)[0]] = histogram.get_highest_equivalent_value(value)
    return {
        "count": count,
        "min": histogram.get_min_value() / 1000.0,
        "mean": round(weighted_sum / count / 1000.0, 3),
        "p50": values[50.0] / 1000.0,
        "p90": values[90.0] / 1000.0,
        "p99": values[99.0] / 1000.0,
        "p99.9": values[99.9] / 1000.0,
        "max": histogram.get_max_value() / 1000.0,
    }


@dataclass
class LatencyRecorder:
    """One process's histograms since the last drain, per (metric, channel)."""

    max_channels: int = MAX_CHANNELS
    histograms: dict[tuple[str, str], HdrHistogram] = field(default_factory=dict)
    templates: dict[str, str] = field(default_factory=dict)
    """Channel (or folded template) to its template."""
    _channels: Counter[str] = field(default_factory=Counter)
    _owned: set[tuple[str, str]] = field(default_factory=set)
    """The (metric, channel) pairs with a histogram of their own, decided once per run."""

    def record(self, metric: str, channel: str, template: str, latency_us: float) -> None:
        key = (metric, channel)
        histogram = self.histograms.get(key)
        if histogram is None:
            if key not in self._owned:
                if self._channels[metric] < self.max_channels:
                    self._owned.add(key)
                    self._channels[metric] += 1
                else:  # folded: once the cap is reached, no later channel gets its own
                    key = (metric, template)
            histogram = self.histograms.get(key)
            if histogram is None:
                histogram = self.histograms[key] = new_histogram()
                self.templates[key[1]] = template
        record_us(histogram, latency_us)

    def drain(self) -> list[list[Any]]:
        """``[metric, channel, template, encoded histogram]`` for each recorded key; then reset."""
        drained = [
            [metric, channel, self.templates[channel], histogram.encode().decode("ascii")]
            for (metric, channel), histogram in self.histograms.items()
            if histogram.get_total_count()
        ]
        self.histograms = {}
        return drained


@dataclass
class LatencyTimeline:
    """A run's histograms: cumulative per (metric, channel); per time slot, (metric, template)."""

    started_at: float
    """Wall time of the run's start; slot ``n`` covers ``[start + n*SLOT_S, ...)``."""
    cumulative: dict[tuple[str, str], HdrHistogram] = field(default_factory=dict)
    templates: dict[str, str] = field(default_factory=dict)
    slots: dict[tuple[str, str, int], HdrHistogram] = field(default_factory=dict)

    def merge(self, drained: list[list[Any]], at_wall_s: float) -> None:
        """Add what a recorder drained at ``at_wall_s`` (it lands in that time's slot)."""
        slot = max(0, int((at_wall_s - self.started_at) // SLOT_S))
        for metric, channel, template, encoded in drained:
            histogram = HdrHistogram.decode(encoded.encode("ascii"))
            self._add(self.cumulative, (metric, channel), histogram)
            self._add(self.slots, (metric, template, slot), histogram)
            self.templates[channel] = template

    @staticmethod
    def _add(table: dict[Any, HdrHistogram], key: Any, histogram: HdrHistogram) -> None:
        into = table.get(key)
        if into is None:
            into = table[key] = new_histogram()
        into.add(histogram)

    def metrics(self) -> list[str]:
        seen = {metric for metric, _ in self.cumulative}
        return [metric for metric in METRICS if metric in seen] + sorted(seen - set(METRICS))

    def by_channel(self, metric: str) -> dict[str, HdrHistogram]:
        return {
            channel: histogram
            for (name, channel), histogram in sorted(self.cumulative.items())
            if name == metric
        }

    def by_template(self, metric: str) -> dict[str, HdrHistogram]:
        merged: dict[str, HdrHistogram] = {}
        for channel, histogram in self.by_channel(metric).items():
            self._add(merged, self.templates[channel], histogram)
        return merged

    def overall(self, metric: str) -> HdrHistogram:
        total = new_histogram()
        for histogram in self.by_channel(metric).values():
            total.add(histogram)
        return total

    def intervals(self, metric: str) -> list[tuple[int, str, HdrHistogram]]:
        """``(slot, template, histogram)`` in time order, for the over-time views."""
        return sorted(
            (slot, template, histogram)
            for (name, template, slot), histogram in self.slots.items()
            if name == metric
        )
