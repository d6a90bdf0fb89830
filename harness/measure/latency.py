"""Latency histograms per (metric, channel), in microseconds, mergeable across processes.

Locust's own statistics round latencies to whole milliseconds and know channels
only by template; these are histograms with HdrHistogram's buckets (1 us to
1 h, 3 significant digits; :mod:`harness.measure.histogram`) per metric
(``connect``, ``subscribe``, ``publish``, ``http_publish``, ``deliver``,
``reconnect``, ``unsubscribe``) and per concrete channel. Past
``max_channels`` distinct channels of one metric, further channels fold into
their template, so memory stays bounded whatever the channel count.

Recording a latency appends it to a list (the hot path of every delivery);
:meth:`LatencyRecorder.compact`, called a few times a second off that path,
counts the lists into histograms, and a drain ships what was counted since
the last one into a :class:`LatencyTimeline`: on a Locust worker in each
report to the master, in a local run from a periodic greenlet. The timeline
keeps cumulative histograms and per-slot interval histograms per (metric,
template), the source of the over-time charts and the ``.hlog`` files.
Merging is exact: counts add, so the master's figures are what one process
recording everything would have measured.
"""

from __future__ import annotations

from array import array
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from harness.measure.histogram import Histogram, percentiles_ms
from harness.measure.schema import METRICS

MAX_CHANNELS = 1000
"""Distinct channels per metric with their own histogram; the rest fold into templates."""
SLOT_S = 5.0
"""Width of one interval of the over-time charts and the ``.hlog`` files."""

__all__ = ["MAX_CHANNELS", "SLOT_S", "LatencyRecorder", "LatencyTimeline", "percentiles_ms"]


@dataclass
class LatencyRecorder:
    """One process's latencies since the last drain, per (metric, channel)."""

    max_channels: int = MAX_CHANNELS
    histograms: dict[tuple[str, str], Histogram] = field(default_factory=dict)
    """What :meth:`compact` counted since the last drain."""
    templates: dict[str, str] = field(default_factory=dict)
    """Channel (or folded template) to its template."""
    _pending: dict[tuple[str, str, str], array[float]] = field(default_factory=dict)
    """(metric, channel, template) to the latencies recorded since the last compact (arrays:
    the garbage collector never walks them)."""
    _channels: Counter[str] = field(default_factory=Counter)
    _owned: set[tuple[str, str]] = field(default_factory=set)
    """The (metric, channel) pairs with a histogram of their own, decided once per run."""

    def record(self, metric: str, channel: str, template: str, latency_us: float) -> None:
        key = (metric, channel, template)
        samples = self._pending.get(key)
        if samples is None:
            samples = self._pending[key] = array("d")
        samples.append(latency_us)

    def compact(self, pause: Callable[[], object] | None = None) -> None:
        """Count what was recorded since the last compact into the histograms;
        ``pause`` is called after each (metric, channel), to let other work run."""
        pending, self._pending = self._pending, {}
        for (metric, channel, template), samples in pending.items():
            key = self._key_of(metric, channel, template)
            histogram = self.histograms.get(key)
            if histogram is None:
                histogram = self.histograms[key] = Histogram()
                self.templates[key[1]] = template
            histogram.record_samples(samples)
            if pause is not None:
                pause()

    def _key_of(self, metric: str, channel: str, template: str) -> tuple[str, str]:
        key = (metric, channel)
        if key in self._owned:
            return key
        if self._channels[metric] < self.max_channels:
            self._owned.add(key)
            self._channels[metric] += 1
            return key
        return (metric, template)  # folded: once the cap is reached, no later channel gets its own

    def drain(self) -> list[list[Any]]:
        """``[metric, channel, template, histogram wire]`` for each recorded key; then reset."""
        self.compact()
        drained = [
            [metric, channel, self.templates[channel], histogram.to_wire()]
            for (metric, channel), histogram in self.histograms.items()
            if histogram.total
        ]
        self.histograms = {}
        return drained


@dataclass
class LatencyTimeline:
    """A run's histograms: cumulative per (metric, channel); per time slot, (metric, template).

    Slots accumulate for the whole run (the ``.hlog`` files and the over-time charts read
    them at the end), so a slot that is over is sealed: packed (:meth:`Histogram.pack`)
    into about a twentieth of its memory. A soak of hours then holds kilobytes per slot,
    not the ~90 KB of an open histogram (bench/README.md, "Soak")."""

    started_at: float
    """Wall time of the run's start; slot ``n`` covers ``[start + n*SLOT_S, ...)``."""
    cumulative: dict[tuple[str, str], Histogram] = field(default_factory=dict)
    templates: dict[str, str] = field(default_factory=dict)
    slots: dict[tuple[str, str, int], Histogram] = field(default_factory=dict)
    """The open slot's histograms (and any slot a merge reopened)."""
    sealed: dict[tuple[str, str, int], bytes] = field(default_factory=dict)
    """The histograms of slots that are over, packed."""

    def merge(
        self,
        drained: list[list[Any]],
        at_wall_s: float,
        pause: Callable[[], object] | None = None,
    ) -> None:
        """Add what a recorder drained at ``at_wall_s`` (it lands in that time's slot);
        ``pause`` is called after each histogram, to let other work run."""
        slot = max(0, int((at_wall_s - self.started_at) // SLOT_S))
        self._seal_before(slot, pause)
        for metric, channel, template, wire in drained:
            histogram = Histogram.from_wire(wire)
            self._add(self.cumulative, (metric, channel), histogram)
            key = (metric, template, slot)
            if key in self.sealed:  # the wall clock stepped back into a sealed slot
                self.slots[key] = Histogram.unpack(self.sealed.pop(key))
            self._add(self.slots, key, histogram)
            self.templates[channel] = template
            if pause is not None:
                pause()

    def _seal_before(self, slot: int, pause: Callable[[], object] | None) -> None:
        """Pack the histograms of the slots before ``slot``: they are over (``pause`` is
        called after each, as packing one takes a fraction of a millisecond)."""
        for key in [key for key in self.slots if key[2] < slot]:
            self.sealed[key] = self.slots.pop(key).pack()
            if pause is not None:
                pause()

    @staticmethod
    def _add(table: dict[Any, Histogram], key: Any, histogram: Histogram) -> None:
        into = table.get(key)
        if into is None:
            into = table[key] = Histogram()
        into.add(histogram)

    def metrics(self) -> list[str]:
        seen = {metric for metric, _ in self.cumulative}
        return [metric for metric in METRICS if metric in seen] + sorted(seen - set(METRICS))

    def by_channel(self, metric: str) -> dict[str, Histogram]:
        return {
            channel: histogram
            for (name, channel), histogram in sorted(self.cumulative.items())
            if name == metric
        }

    def by_template(
        self, metric: str, pause: Callable[[], object] | None = None
    ) -> dict[str, Histogram]:
        """The channels' histograms merged per template (``pause`` after each channel)."""
        merged: dict[str, Histogram] = {}
        for channel, histogram in self.by_channel(metric).items():
            self._add(merged, self.templates[channel], histogram)
            if pause is not None:
                pause()
        return merged

    def overall(self, metric: str) -> Histogram:
        total = Histogram()
        for histogram in self.by_channel(metric).values():
            total.add(histogram)
        return total

    def intervals(self, metric: str) -> list[tuple[int, str, Histogram]]:
        """``(slot, template, histogram)`` in time order, for the over-time views."""
        sealed = (
            (slot, template, Histogram.unpack(packed))
            for (name, template, slot), packed in self.sealed.items()
            if name == metric
        )
        open_slots = (
            (slot, template, histogram)
            for (name, template, slot), histogram in self.slots.items()
            if name == metric
        )
        return sorted([*sealed, *open_slots], key=lambda interval: interval[:2])
