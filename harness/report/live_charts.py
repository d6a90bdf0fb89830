"""The live page's charts, built in steps of a millisecond or so.

The run goes on while they are drawn, on the loop its users share in a local run,
so nothing here holds that loop for long (``pause`` is called between steps):

- the over-time chart covers the last :data:`WINDOW_SLOTS` slots (10 minutes; the
  whole run is in ``report.html``), and keeps the figures of each sealed slot
  once computed: a refresh unpacks only the slots sealed since the last one, and
  reads the open one;
- the percentile chart merges the channels' histograms per template with a pause
  after each, or draws one channel's histogram as it is.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from harness.measure.histogram import Histogram
from harness.measure.latency import SLOT_S, LatencyTimeline
from harness.report.charts import (
    SlotFigures,
    over_time_chart,
    percentile_figure,
    slot_figures,
)

WINDOW_SLOTS = 120
"""Slots on the live over-time chart: 10 minutes."""
Pause = Callable[[], object]


class LiveCharts:
    """The charts of one run's timeline, with the sealed slots' figures kept."""

    def __init__(self) -> None:
        self._timeline: LatencyTimeline | None = None
        self._sealed: dict[tuple[str, str, int], tuple[bytes, SlotFigures]] = {}

    def over_time(
        self, timeline: LatencyTimeline, metric: str, duration_s: float, pause: Pause
    ) -> str:
        """p50 and p99 per template over the last :data:`WINDOW_SLOTS` slots."""
        if timeline is not self._timeline:  # a new run
            self._timeline, self._sealed = timeline, {}
        since = max(0, math.floor(duration_s / SLOT_S) - WINDOW_SLOTS + 1)
        points: dict[str, dict[int, SlotFigures]] = {}
        for key, packed in list(timeline.sealed.items()):
            name, template, slot = key
            if name != metric or slot < since:
                continue
            kept = self._sealed.get(key)
            if kept is None or kept[0] is not packed:
                kept = self._sealed[key] = (packed, slot_figures(Histogram.unpack(packed)))
                pause()
            points.setdefault(template, {})[slot] = kept[1]
        for (name, template, slot), histogram in list(timeline.slots.items()):
            if name == metric and slot >= since:
                points.setdefault(template, {})[slot] = slot_figures(histogram)
                pause()
        for key in [key for key in self._sealed if key[2] < since]:
            del self._sealed[key]
        return over_time_chart(metric, dict(sorted(points.items())), SLOT_S, duration_s)

    @staticmethod
    def percentiles(timeline: LatencyTimeline, metric: str, channel: str, pause: Pause) -> str:
        """The distribution by template, or of one channel (``channel``)."""
        if channel:
            histogram = timeline.cumulative.get((metric, channel))
            return percentile_figure(metric, {} if histogram is None else {channel: histogram})
        return percentile_figure(metric, timeline.by_template(metric, pause))
