"""Latency histograms: the figures ``percentiles_ms`` reads from known samples (exact,
per HdrHistogram's 3-significant-digit buckets), clamping into 1 us .. 1 h, the
per-process recorder (one histogram per (metric, channel), folding into templates past
``max_channels``), and the run's timeline, whose merged figures must equal what one
process recording every sample would have measured. No clock is involved: wall times
of merges are plain floats chosen here."""

from __future__ import annotations

import sys
from typing import Any

import pytest
from hdrh.histogram import HdrHistogram
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.measure.histogram import (
    HIGHEST_US,
    LOWEST_US,
    SIGNIFICANT_DIGITS,
    Histogram,
    bucket_of,
    clamp_us,
    highest_equivalent,
)
from harness.measure.latency import (
    SLOT_S,
    LatencyRecorder,
    LatencyTimeline,
    percentiles_ms,
)
from harness.measure.schema import METRICS

SETTINGS = settings(max_examples=60, deadline=None)
START_S = 1_764_162_000.0
"""The timeline's start (wall seconds); a whole number, so slot boundaries are exact floats."""

ROOMS = "/default/room-*"
CHATS = "/chat/*"
CHANNELS = [
    ("/default/room-1", ROOMS),
    ("/default/room-2", ROOMS),
    ("/default/room-3", ROOMS),
    ("/chat/a", CHATS),
    ("/chat/b", CHATS),
]


def histogram_of(*latencies_us: float) -> Histogram:
    histogram = Histogram()
    for latency in latencies_us:
        histogram.record(latency)
    return histogram


def hdr_of(*latencies_us: float) -> HdrHistogram:
    """hdrh's own histogram of the same samples: the independent reference."""
    histogram = HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS)
    for latency in latencies_us:
        value = clamp_us(latency)
        if value is not None:
            histogram.record_value(value)
    return histogram


def figures(table: dict[str, Histogram]) -> dict[str, dict[str, float | int]]:
    return {name: percentiles_ms(histogram) for name, histogram in table.items()}


def decoded(drained: list[list[Any]]) -> dict[tuple[str, str], tuple[str, Histogram]]:
    """``(metric, channel)`` to ``(template, histogram)`` from a drain."""
    table = {}
    for metric, channel, template, wire in drained:
        assert (metric, channel) not in table
        table[metric, channel] = (template, Histogram.from_wire(wire))
    return table


def counts(drained: list[list[Any]]) -> dict[tuple[str, str, str], int]:
    return {
        (metric, channel, template): histogram.get_total_count()
        for (metric, channel), (template, histogram) in decoded(drained).items()
    }


# -- percentiles_ms on known samples -----------------------------------------------------


def test_an_empty_histogram_has_only_a_count() -> None:
    assert percentiles_ms(Histogram()) == {"count": 0}


def test_one_to_a_thousand_microseconds() -> None:
    """Below 2,048 us every bucket is 1 us wide, so every figure is exact. The p-th
    percentile is the smallest value with at least round(p% of 1000) samples at or
    below it: p50 = 500 us, p90 = 900 us, p99 = 990 us, p99.9 = 999 us. The mean is
    500.5 us = 0.5005 ms; the double nearest 0.5005 lies just below it, so rounding to
    three decimals (1 us) gives 0.5."""
    figures_ms = percentiles_ms(histogram_of(*range(1, 1001)))
    assert figures_ms == {
        "count": 1000,
        "min": 0.001,
        "mean": 0.5,
        "p50": 0.5,
        "p90": 0.9,
        "p99": 0.99,
        "p99.9": 0.999,
        "max": 1.0,
    }
    assert list(figures_ms) == ["count", "min", "mean", "p50", "p90", "p99", "p99.9", "max"]


def test_ten_samples_read_as_the_nearest_rank() -> None:
    """1..10 ms: p50 needs 5 samples (5 ms), p90 9, p99 and p99.9 round up to all 10."""
    figures_ms = percentiles_ms(histogram_of(*(ms * 1000 for ms in range(1, 11))))
    # 1,000..10,000 us: below 2,048 exact; up to 4,095 2 us wide; up to 8,191 4 us wide;
    # up to 16,383 8 us wide. Percentiles and max report a bucket's highest value, min
    # its lowest, the mean each bucket's middle (lowest + width / 2).
    assert figures_ms == {
        "count": 10,
        "min": 1.0,
        "mean": 5.502,  # (1000+2000+3001+4001+5002+6002+7002+8002+9004+10004) / 10 us
        "p50": 5.003,
        "p90": 9.007,
        "p99": 10.007,
        "p99.9": 10.007,
        "max": 10.007,
    }


def test_bucket_width_shows_above_two_milliseconds() -> None:
    """Past 2,047 us HdrHistogram keeps 3 significant digits: 2,500 us shares a 2 us
    bucket with 2,501 us; percentiles and max report the bucket's top, min its bottom,
    the mean its middle."""
    figures_ms = percentiles_ms(histogram_of(2500, 2500, 2501))
    assert figures_ms == {
        "count": 3,
        "min": 2.5,
        "mean": 2.501,
        "p50": 2.501,
        "p90": 2.501,
        "p99": 2.501,
        "p99.9": 2.501,
        "max": 2.501,
    }


def test_a_single_sample_is_every_percentile() -> None:
    assert percentiles_ms(histogram_of(1234)) == {
        "count": 1,
        "min": 1.234,
        "mean": 1.234,
        "p50": 1.234,
        "p90": 1.234,
        "p99": 1.234,
        "p99.9": 1.234,
        "max": 1.234,
    }


def test_a_hundredth_slow_sample_moves_p99_but_not_p90() -> None:
    figures_ms = percentiles_ms(histogram_of(*([100] * 98), 1000, 2000))
    assert (figures_ms["p50"], figures_ms["p90"], figures_ms["p99"]) == (0.1, 0.1, 1.0)
    assert (figures_ms["p99.9"], figures_ms["max"]) == (2.0, 2.0)
    assert figures_ms["mean"] == 0.128  # (98 * 100 + 1000 + 2000) / 100 us


def hdrh_figures(histogram: HdrHistogram) -> dict[str, float | int]:
    """The figures as hdrh's own (slow) methods compute them."""
    values = histogram.get_percentile_to_value_dict([50.0, 90.0, 99.0, 99.9])
    return {
        "count": histogram.get_total_count(),
        "min": histogram.get_min_value() / 1000,
        "mean": round(histogram.get_mean_value() / 1000, 3),
        "p50": values[50.0] / 1000,
        "p90": values[90.0] / 1000,
        "p99": values[99.0] / 1000,
        "p99.9": values[99.9] / 1000,
        "max": histogram.get_max_value() / 1000,
    }


LATENCIES_US = st.one_of(
    st.integers(min_value=1, max_value=5000),
    st.integers(min_value=1, max_value=10_000_000),
    st.integers(min_value=1, max_value=HIGHEST_US),
)


@settings(max_examples=40, deadline=None)
@given(st.lists(LATENCIES_US, min_size=1, max_size=30), st.integers(min_value=1, max_value=3))
def test_figures_are_hdrhs_own(latencies_us: list[int], repeat: int) -> None:
    """The sparse histogram keeps hdrh's buckets: its figures must be exactly what hdrh's
    ``get_percentile_to_value_dict`` and ``get_mean_value`` read from the same samples,
    and its hdrh form (the ``.hlog`` payload) must hold the same counts."""
    samples = latencies_us * repeat
    histogram = histogram_of(*samples)
    reference = hdr_of(*samples)
    assert percentiles_ms(histogram) == hdrh_figures(reference)
    assert bytes(histogram.to_hdr().counts) == bytes(reference.counts)
    received = Histogram.from_wire(histogram.to_wire())  # as a worker's report arrives
    assert percentiles_ms(received) == percentiles_ms(histogram)


# -- clamping ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("latency_us", "recorded_us"),
    [
        (0, LOWEST_US),
        (0.0, LOWEST_US),
        (0.4, LOWEST_US),  # rounds to 0
        (-1, LOWEST_US),
        (-5_000_000.0, LOWEST_US),  # a clock step backwards
        (1, 1),
        (1.4, 1),
        (1.6, 2),
        (999.6, 1000),
        (HIGHEST_US, HIGHEST_US),
        (HIGHEST_US + 1, HIGHEST_US),
        (10**15, HIGHEST_US),
        (1e300, HIGHEST_US),
    ],
)
def test_latencies_are_rounded_and_clamped_into_range(latency_us: float, recorded_us: int) -> None:
    histogram = histogram_of(latency_us)
    assert histogram.counts == {bucket_of(recorded_us): 1}
    reference = hdr_of(recorded_us)
    assert histogram.get_max_value() == reference.get_max_value()
    assert histogram.get_max_value() == highest_equivalent(bucket_of(recorded_us))


def test_a_clamped_hour_reads_as_its_bucket() -> None:
    """1 h = 3.6e9 us lies in a bucket 2**21 us wide: [1716 * 2**21, 1717 * 2**21 - 1].
    Every figure comes from that bucket, whatever the huge value recorded."""
    width = 2**21
    low, high = 1716 * width, 1717 * width - 1
    assert low <= HIGHEST_US <= high
    figures_ms = percentiles_ms(histogram_of(1e12, 10**13))
    assert figures_ms == {
        "count": 2,
        "min": low / 1000,
        "mean": (low + width // 2) / 1000,
        "p50": high / 1000,
        "p90": high / 1000,
        "p99": high / 1000,
        "p99.9": high / 1000,
        "max": high / 1000,
    }


def test_negative_and_zero_latencies_read_as_one_microsecond() -> None:
    figures_ms = percentiles_ms(histogram_of(0, -3, -1e9))
    assert figures_ms["count"] == 3
    assert figures_ms["min"] == figures_ms["max"] == figures_ms["p99.9"] == 0.001


# -- LatencyRecorder -----------------------------------------------------------------------


def test_each_metric_and_channel_has_its_own_histogram() -> None:
    recorder = LatencyRecorder()
    recorder.record("deliver", "/default/room-1", ROOMS, 100)
    recorder.record("deliver", "/default/room-1", ROOMS, 200)
    recorder.record("deliver", "/default/room-2", ROOMS, 300)
    recorder.record("connect", "/default/room-1", ROOMS, 400)
    recorder.record("publish", "/chat/a", CHATS, 500)
    drained = decoded(recorder.drain())
    assert {key: template for key, (template, _) in drained.items()} == {
        ("deliver", "/default/room-1"): ROOMS,
        ("deliver", "/default/room-2"): ROOMS,
        ("connect", "/default/room-1"): ROOMS,
        ("publish", "/chat/a"): CHATS,
    }
    assert {key: percentiles_ms(h)["max"] for key, (_, h) in drained.items()} == {
        ("deliver", "/default/room-1"): 0.2,
        ("deliver", "/default/room-2"): 0.3,
        ("connect", "/default/room-1"): 0.4,
        ("publish", "/chat/a"): 0.5,
    }
    assert drained["deliver", "/default/room-1"][1].get_total_count() == 2


def test_channels_past_the_limit_fold_into_their_template() -> None:
    recorder = LatencyRecorder(max_channels=2)
    for channel, template in CHANNELS:  # room-1, room-2 keep theirs; room-3, chat/a, b fold
        recorder.record("deliver", channel, template, 100)
    recorder.record("deliver", "/default/room-1", ROOMS, 100)  # still its own
    recorder.record("connect", "/chat/b", CHATS, 100)  # the limit is per metric
    assert counts(recorder.drain()) == {
        ("deliver", "/default/room-1", ROOMS): 2,
        ("deliver", "/default/room-2", ROOMS): 1,
        ("deliver", ROOMS, ROOMS): 1,
        ("deliver", CHATS, CHATS): 2,
        ("connect", "/chat/b", CHATS): 1,
    }


def test_folding_is_decided_once_per_run() -> None:
    """A drain empties the histograms but not the decisions: a folded channel stays
    folded, a channel with its own histogram keeps it, and channels first seen after a
    drain still count against the limit."""
    recorder = LatencyRecorder(max_channels=2)
    recorder.record("deliver", "/default/room-1", ROOMS, 100)
    recorder.record("deliver", "/default/room-2", ROOMS, 100)
    recorder.record("deliver", "/default/room-3", ROOMS, 100)
    assert counts(recorder.drain()) == {
        ("deliver", "/default/room-1", ROOMS): 1,
        ("deliver", "/default/room-2", ROOMS): 1,
        ("deliver", ROOMS, ROOMS): 1,
    }
    recorder.record("deliver", "/default/room-3", ROOMS, 100)  # first after the drain
    recorder.record("deliver", "/default/room-2", ROOMS, 100)
    recorder.record("deliver", "/chat/a", CHATS, 100)  # new, past the limit
    recorder.record("deliver", "/default/room-1", ROOMS, 100)
    assert counts(recorder.drain()) == {
        ("deliver", ROOMS, ROOMS): 1,
        ("deliver", "/default/room-2", ROOMS): 1,
        ("deliver", CHATS, CHATS): 1,
        ("deliver", "/default/room-1", ROOMS): 1,
    }


def test_a_drain_resets_the_recorder() -> None:
    recorder = LatencyRecorder()
    recorder.record("deliver", "/chat/a", CHATS, 100)
    assert len(recorder.drain()) == 1
    assert recorder.drain() == []
    recorder.record("deliver", "/chat/a", CHATS, 200)
    assert counts(recorder.drain()) == {("deliver", "/chat/a", CHATS): 1}


def test_a_drain_leaves_out_empty_histograms() -> None:
    recorder = LatencyRecorder()
    recorder.record("deliver", "/chat/a", CHATS, 100)
    recorder.histograms["connect", "/chat/b"] = Histogram()
    recorder.templates["/chat/b"] = CHATS
    assert counts(recorder.drain()) == {("deliver", "/chat/a", CHATS): 1}
    assert recorder.histograms == {}


def test_a_drained_histogram_decodes_to_what_was_recorded() -> None:
    samples = [0, 1, 7, 999, 2047, 2048, 2500, 65_537, 1_000_000, 123_456_789, 10**12]
    recorder = LatencyRecorder()
    for latency in samples:
        recorder.record("deliver", "/chat/a", CHATS, latency)
    [[metric, channel, template, wire]] = recorder.drain()
    assert (metric, channel, template) == ("deliver", "/chat/a", CHATS)
    received = Histogram.from_wire(wire)
    reference = hdr_of(*samples)
    assert percentiles_ms(received) == hdrh_figures(reference)
    for latency in samples:
        value = min(HIGHEST_US, max(LOWEST_US, latency))
        assert received.counts[bucket_of(value)] == reference.get_count_at_value(value) >= 1


# -- LatencyTimeline -----------------------------------------------------------------------


SAMPLES = st.tuples(
    st.sampled_from(["connect", "deliver", "publish", "custom"]),
    st.sampled_from(CHANNELS),
    st.one_of(
        st.integers(min_value=-10, max_value=3000),
        st.integers(min_value=-10, max_value=HIGHEST_US * 2),
        st.floats(min_value=-1e6, max_value=1e13, allow_nan=False),
    ),
    st.integers(min_value=0, max_value=3),  # the worker that measured it
    st.booleans(),  # whether that worker reports (drains) right after
    st.floats(min_value=-20.0, max_value=60.0, allow_nan=False),  # when, after the start
)


def run_workers(
    samples: list[tuple[str, tuple[str, str], float, int, bool, float]], max_channels: int
) -> LatencyTimeline:
    timeline = LatencyTimeline(started_at=START_S)
    workers = [LatencyRecorder(max_channels=max_channels) for _ in range(4)]
    for metric, (channel, template), latency, worker, drain, after_s in samples:
        workers[worker].record(metric, channel, template, latency)
        if drain:
            timeline.merge(workers[worker].drain(), START_S + after_s)
    for recorder in workers:
        timeline.merge(recorder.drain(), START_S + 100.0)
    return timeline


def one_process(
    samples: list[tuple[str, tuple[str, str], float, int, bool, float]],
) -> dict[str, dict[tuple[str, str], Histogram]]:
    """Per metric: ``(channel, template)`` to the histogram of everything recorded there."""
    table: dict[str, dict[tuple[str, str], Histogram]] = {}
    for metric, key, latency, *_ in samples:
        table.setdefault(metric, {}).setdefault(key, Histogram()).record(latency)
    return table


def add_up(histograms: list[Histogram]) -> Histogram:
    total = Histogram()
    for histogram in histograms:
        total.add(histogram)
    return total


def fingerprint(histogram: Histogram) -> tuple[int, int, int, bytes]:
    """Everything ``percentiles_ms`` reads: the count, the min and max, every bucket's count.

    Equal fingerprints give equal figures, and they compare every bucket, not only the
    ones the percentiles happen to land in."""
    return (
        histogram.get_total_count(),
        histogram.get_min_value(),
        histogram.get_max_value(),
        bytes(histogram.to_hdr().counts),
    )


def fingerprints(table: dict[str, Histogram]) -> dict[str, tuple[int, int, int, bytes]]:
    return {name: fingerprint(histogram) for name, histogram in table.items()}


def per_template(table: dict[tuple[str, str], Histogram]) -> dict[str, Histogram]:
    return {
        template: add_up([h for (_, t), h in table.items() if t == template])
        for template in {template for _, template in table}
    }


@SETTINGS
@given(st.lists(SAMPLES, max_size=40))
def test_merged_workers_measure_what_one_process_would(
    samples: list[tuple[str, tuple[str, str], float, int, bool, float]],
) -> None:
    """Samples split over four workers, each reporting whenever, merged at any wall
    time: per channel, per template (cumulative and added up over the slots) and
    overall, the histograms are bucket for bucket those of one process."""
    timeline = run_workers(samples, max_channels=1000)
    expected = one_process(samples)
    assert sorted(timeline.metrics()) == sorted(expected)
    for metric, table in expected.items():
        by_channel = {channel: h for (channel, _), h in table.items()}
        by_template = per_template(table)
        assert fingerprints(timeline.by_channel(metric)) == fingerprints(by_channel)
        assert fingerprints(timeline.by_template(metric)) == fingerprints(by_template)
        overall = add_up(list(table.values()))
        assert fingerprint(timeline.overall(metric)) == fingerprint(overall)
        per_slot: dict[str, list[Histogram]] = {}
        for _, template, histogram in timeline.intervals(metric):
            per_slot.setdefault(template, []).append(histogram)
        assert fingerprints({t: add_up(hs) for t, hs in per_slot.items()}) == fingerprints(
            by_template
        )
    if "deliver" in expected:
        assert percentiles_ms(timeline.overall("deliver")) == percentiles_ms(
            add_up(list(expected["deliver"].values()))
        )


@SETTINGS
@given(st.lists(SAMPLES, max_size=40))
def test_folded_workers_still_add_up_per_template(
    samples: list[tuple[str, tuple[str, str], float, int, bool, float]],
) -> None:
    """With one channel each, workers fold differently from one process: per channel
    the figures differ, but every sample is in its template and in the overall."""
    timeline = run_workers(samples, max_channels=1)
    for metric, table in one_process(samples).items():
        assert fingerprints(timeline.by_template(metric)) == fingerprints(per_template(table))
        overall = add_up(list(table.values()))
        assert fingerprint(timeline.overall(metric)) == fingerprint(overall)
        assert sum(h.get_total_count() for h in timeline.by_channel(metric).values()) == sum(
            h.get_total_count() for h in table.values()
        )


def test_a_chosen_split_gives_the_same_figures_everywhere() -> None:
    """One fixed split, compared figure by figure (``percentiles_ms``) at every level."""
    samples = [
        (metric, CHANNELS[(i * 7 + len(metric)) % len(CHANNELS)], latency, i % 3, i % 5 == 0, i)
        for i, (metric, latency) in enumerate(
            [("deliver", 37 * i * i % 9000 + 1) for i in range(120)]
            + [("connect", 1000 + 1500 * i) for i in range(15)]
        )
    ]
    timeline = run_workers(samples, max_channels=1000)
    expected = one_process(samples)
    assert timeline.metrics() == ["connect", "deliver"]
    for metric, table in expected.items():
        by_channel = {channel: h for (channel, _), h in table.items()}
        assert figures(timeline.by_channel(metric)) == figures(by_channel)
        assert figures(timeline.by_template(metric)) == figures(per_template(table))
        assert percentiles_ms(timeline.overall(metric)) == percentiles_ms(
            add_up(list(table.values()))
        )
    assert percentiles_ms(timeline.overall("deliver"))["count"] == 120


def test_a_merge_adds_to_what_is_there() -> None:
    timeline = LatencyTimeline(started_at=START_S)
    first, second = LatencyRecorder(), LatencyRecorder()
    for latency in range(1, 501):
        first.record("deliver", "/chat/a", CHATS, latency)
    for latency in range(501, 1001):
        second.record("deliver", "/chat/a", CHATS, latency)
    second.record("deliver", "/chat/b", CHATS, 5000)
    timeline.merge(first.drain(), START_S)
    timeline.merge(second.drain(), START_S)
    assert percentiles_ms(timeline.by_channel("deliver")["/chat/a"]) == percentiles_ms(
        histogram_of(*range(1, 1001))
    )
    assert timeline.by_template("deliver")[CHATS].get_total_count() == 1001
    assert percentiles_ms(timeline.overall("deliver"))["max"] == 5.003  # 4 us bucket
    assert timeline.by_channel("connect") == {}
    assert timeline.overall("connect").get_total_count() == 0


def drain_of(template: str, channel: str, *latencies_us: float) -> list[list[Any]]:
    recorder = LatencyRecorder()
    for latency in latencies_us:
        recorder.record("deliver", channel, template, latency)
    return recorder.drain()


@pytest.mark.parametrize(
    ("after_s", "slot"),
    [
        (-1000.0, 0),
        (-0.001, 0),
        (0.0, 0),
        (SLOT_S - 0.001, 0),
        (SLOT_S, 1),
        (2.5 * SLOT_S, 2),
        (20 * SLOT_S, 20),
        (20 * SLOT_S + 0.5, 20),
    ],
)
def test_a_merge_lands_in_the_slot_of_its_wall_time(after_s: float, slot: int) -> None:
    timeline = LatencyTimeline(started_at=START_S)
    timeline.merge(drain_of(CHATS, "/chat/a", 100, 200), START_S + after_s)
    assert [(s, t, h.get_total_count()) for s, t, h in timeline.intervals("deliver")] == [
        (slot, CHATS, 2)
    ]
    assert set(timeline.slots) == {("deliver", CHATS, slot)}


def test_intervals_come_in_time_order_then_by_template() -> None:
    timeline = LatencyTimeline(started_at=START_S)
    timeline.merge(drain_of(ROOMS, "/default/room-1", 100), START_S + 3 * SLOT_S)
    timeline.merge(drain_of(CHATS, "/chat/a", 100), START_S + 3 * SLOT_S + 1)
    timeline.merge(drain_of(ROOMS, "/default/room-2", 100, 100), START_S + 1 * SLOT_S)
    timeline.merge(drain_of(CHATS, "/chat/b", 100), START_S - 7.0)
    timeline.merge(drain_of(ROOMS, "/default/room-1", 100), START_S + 3 * SLOT_S + 2)
    other = LatencyRecorder()
    other.record("connect", "/chat/a", CHATS, 100)
    timeline.merge(other.drain(), START_S)
    assert [(s, t, h.get_total_count()) for s, t, h in timeline.intervals("deliver")] == [
        (0, CHATS, 1),
        (1, ROOMS, 2),
        (3, CHATS, 1),
        (3, ROOMS, 2),
    ]
    assert [(s, t) for s, t, _ in timeline.intervals("connect")] == [(0, CHATS)]
    assert timeline.intervals("publish") == []


def test_metrics_come_in_the_known_order_then_by_name() -> None:
    timeline = LatencyTimeline(started_at=START_S)
    recorder = LatencyRecorder()
    for metric in ["zeta", "unsubscribe", "deliver", "alpha", "connect", "publish"]:
        recorder.record(metric, "/chat/a", CHATS, 100)
    timeline.merge(recorder.drain(), START_S)
    assert timeline.metrics() == ["connect", "publish", "deliver", "unsubscribe", "alpha", "zeta"]
    assert [m for m in METRICS if m in timeline.metrics()] == timeline.metrics()[:4]


def test_an_empty_timeline_has_no_metrics() -> None:
    timeline = LatencyTimeline(started_at=START_S)
    timeline.merge([], START_S)
    assert timeline.metrics() == []
    assert timeline.intervals("deliver") == []


# -- sealed slots -------------------------------------------------------------------------


def test_a_slot_that_is_over_is_sealed_and_reads_back_the_same() -> None:
    """Merges into slots 0, 1 and 2: the first two are packed once slot 2 begins, and the
    intervals (counts and percentiles) are what unsealed histograms give."""
    latencies = [[100, 250, 4_000], [7, 9_999_999], [1_500] * 20]
    timeline = LatencyTimeline(started_at=START_S)
    unsealed = []
    for slot, values in enumerate(latencies):
        timeline.merge(drain_of(CHATS, "/chat/a", *values), START_S + slot * SLOT_S + 1)
        histogram = Histogram()
        for value in values:
            histogram.record(value)
        unsealed.append(histogram)
    assert set(timeline.sealed) == {("deliver", CHATS, 0), ("deliver", CHATS, 1)}
    assert set(timeline.slots) == {("deliver", CHATS, 2)}
    intervals = timeline.intervals("deliver")
    assert [(slot, template) for slot, template, _ in intervals] == [
        (0, CHATS), (1, CHATS), (2, CHATS)
    ]  # fmt: skip
    for (_, _, histogram), expected in zip(intervals, unsealed, strict=True):
        assert histogram.counts == expected.counts
        assert percentiles_ms(histogram) == percentiles_ms(expected)


def test_a_sealed_slot_is_far_smaller_than_an_open_one() -> None:
    histogram = Histogram()
    for value in range(1, 200_000, 97):  # ~2,000 distinct buckets, as a busy 5 s has
        histogram.record(value)
    packed = histogram.pack()
    assert Histogram.unpack(packed).counts == histogram.counts
    open_bytes = sys.getsizeof(histogram.counts)
    assert len(packed) * 5 < open_bytes, (len(packed), open_bytes)


def test_a_merge_into_a_sealed_slot_reopens_it() -> None:
    """A wall clock stepped back lands a merge in a slot already sealed: it is unpacked,
    added to, and counted once."""
    timeline = LatencyTimeline(started_at=START_S)
    timeline.merge(drain_of(CHATS, "/chat/a", 100), START_S + 1)
    timeline.merge(drain_of(CHATS, "/chat/a", 200), START_S + SLOT_S + 1)
    timeline.merge(drain_of(CHATS, "/chat/a", 300), START_S + 2)
    counts = [(slot, h.get_total_count()) for slot, _, h in timeline.intervals("deliver")]
    assert counts == [(0, 2), (1, 1)]
