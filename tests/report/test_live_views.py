"""The live views' tables and the Prometheus exposition, from a real LatencyTimeline fed by
LatencyRecorders with known samples and a summary built by the harness's own code.

Figures are checked against what the test computes from the samples itself: the
exposition is parsed back with ``prometheus_client``'s own parser, its histogram
buckets against counting the samples, its quantiles against the summary."""

from __future__ import annotations

import math
import random

import pytest
from prometheus_client.parser import text_string_to_metric_families
from support.summaries import STARTED, account, empty_summary, usage_of

from harness.measure.histogram import Histogram, bucket_of
from harness.measure.latency import LatencyRecorder, LatencyTimeline
from harness.measure.summary import latency_section
from harness.report.live_tables import (
    CHANNEL_COLUMNS,
    POLICY_COLUMNS,
    channel_rows,
    locust_structure,
    policy_rows,
    slo_rows,
    verdict_row,
)
from harness.report.prometheus import BUCKETS_MS, exposition
from harness.report.usage import ITEMS, USAGE_COLUMNS, usage_rows, usage_view

ROOMS = "/default/room-{1..3}"
POLICY = "full-jitter:base=1s,cap=10s"


def timeline_of(samples: list[tuple[str, str, str, int]]) -> LatencyTimeline:
    recorder = LatencyRecorder()
    for metric, channel, template, latency_us in samples:
        recorder.record(metric, channel, template, latency_us)
    timeline = LatencyTimeline(started_at=STARTED)
    timeline.merge(recorder.drain(), STARTED + 1.0)
    return timeline


@pytest.fixture
def samples() -> list[tuple[str, str, str, int]]:
    rng = random.Random(7)
    rows = [("connect", "/event/realtime", "/event/realtime", 3_000 + i) for i in range(10)]
    for room in (1, 2, 3):
        channel = f"/default/room-{room}"
        rows += [("deliver", channel, ROOMS, rng.randrange(200, 60_000)) for _ in range(300)]
        rows += [("publish", channel, ROOMS, rng.randrange(200, 9_000)) for _ in range(100)]
    rows += [("reconnect", POLICY, POLICY, 500_000), ("reconnect", POLICY, POLICY, 900_000)]
    return rows


@pytest.fixture
def timeline(samples: list[tuple[str, str, str, int]]) -> LatencyTimeline:
    return timeline_of(samples)


@pytest.fixture
def summary(timeline: LatencyTimeline) -> dict:
    channels = {
        "/default/room-1": account(published=100, delivered=300),
        "/default/room-2": account(published=100, delivered=290, lost=4, missed_during_reconnect=6),
        "/default/room-3": account(published=100, delivered=294, missed_during_reconnect=6),
    }
    overall = account(published=300, delivered=884, lost=4, missed_during_reconnect=12)
    summary = empty_summary(latency=latency_section(timeline))
    summary["run"]["duration_s"] = 20.0
    summary["delivery"].update(
        overall=overall, templates={ROOMS: overall}, channels=channels, channels_total=3
    )
    summary["totals"]["events"] = overall
    summary["totals"]["requests"] = {"deliver": {"count": 884, "failures": 4}}
    summary["resilience"]["policies"] = [
        {"kind": "reconnect", "policy": POLICY, "losses": 3, "attempts": 4, "conforming": 3,
         "conformance": 0.75, "violations": [], "recoveries": 2,
         "recovery_s": {"p50": 0.5, "p90": 0.9, "p99": 0.9, "max": 0.9},
         "give_ups": {"max-attempts": 1}, "herd": None}
    ]  # fmt: skip
    summary["slo"] = {
        "passed": False,
        "results": [
            {"slo": "lost == 0", "figure": "lost", "where": "overall", "observed": 4,
             "threshold": 0.0, "unit": "count", "passed": False, "detail": "lost is 4"},
            {"slo": "deliver.p99 < 1s", "figure": "deliver.p99", "where": "overall",
             "observed": 59.0, "threshold": 1000.0, "unit": "ms", "passed": True, "detail": "ok"},
        ],
    }  # fmt: skip
    summary["verdict"] = {"exit_code": 3, "reasons": ["an SLO failed: lost == 0"]}
    return summary


# -- the tables ----------------------------------------------------------------------------


def test_channel_rows_list_templates_then_channels_worst_first(
    summary: dict, timeline: LatencyTimeline
) -> None:
    rows = channel_rows(summary, timeline)
    assert [(row["scope"], row["name"]) for row in rows] == [
        ("template", ROOMS),
        ("template", "/event/realtime"),  # connects are per endpoint
        ("channel", "/default/room-2"),  # the lost events first
        ("channel", "/default/room-3"),  # then the missed ones; not the policy's reconnects
        ("channel", "/default/room-1"),
    ]
    room_2 = rows[2]
    assert room_2["template"] == ROOMS
    assert (room_2["lost"], room_2["delivered"]) == (4, 290)
    assert room_2["events_per_s"] == 14.5  # 290 in 20 s
    figures = summary["latency"]["deliver"]["channels"]["/default/room-2"]
    assert [room_2[f"deliver_{s}"] for s in ("p50", "p90", "p99", "max")] == [
        figures["p50"], figures["p90"], figures["p99"], figures["max"]
    ]  # fmt: skip
    assert rows[1]["connect_p99"] == summary["latency"]["connect"]["overall"]["p99"]
    assert rows[1]["delivered"] is None and rows[2]["connect_p50"] is None
    assert set(rows[0]) >= {key for key, _ in CHANNEL_COLUMNS}


def test_policy_slo_and_verdict_rows(summary: dict) -> None:
    (policy,) = policy_rows(summary)
    assert policy["conformance"] == 75.0 and policy["give_ups"] == "max-attempts: 1"
    assert (policy["recovery_p99_s"], policy["herd_peak"]) == (0.9, None)
    assert set(policy) == {key for key, _ in POLICY_COLUMNS}
    assert [row["status"] for row in slo_rows(summary)] == ["FAIL", "pass"]
    verdict = verdict_row(summary)
    assert verdict["status"] == "FAIL" and "exit status 3" in verdict["slo"]
    assert verdict["detail"] == "an SLO failed: lost == 0"
    assert locust_structure(POLICY_COLUMNS)[0] == {"key": "kind", "title": "Kind"}


def test_the_tables_of_an_empty_run_are_empty() -> None:
    summary = empty_summary()
    assert channel_rows(summary, LatencyTimeline(started_at=STARTED)) == []
    assert policy_rows(summary) == [] and slo_rows(summary) == []


def test_usage_rows_have_every_column_and_end_with_the_total() -> None:
    """4 connections held a minute; 10 events of 6,000 bytes (2 units) each delivered twice."""
    usage = usage_of(connects=4, publishes=10, event_bytes=6000, fan_out=2, open_s=60.0)
    rows = usage_rows(usage)
    assert [row["item"] for row in rows] == [label for label, _, _ in ITEMS] + ["total"]
    assert all(set(row) == {key for key, _ in USAGE_COLUMNS} for row in rows)
    by_item = {row["item"]: row for row in rows}
    assert by_item["outbound messages, 5 KB units"] == {
        "item": "outbound messages, 5 KB units",
        "count": 40,
        "peak": 40,
        "peak_of": "a second",
        "limit": 1_000_000,
        "headroom": 99.996,
        "usd": 40 / 1e6,
    }
    assert by_item["connection minutes"]["count"] == 4.0
    assert by_item["connection minutes"]["usd"] == pytest.approx(4 * 0.08 / 1e6)
    assert by_item["total"]["usd"] == usage["cost"]["total_usd"]
    view = usage_view(usage)
    assert view["rows"] == rows and view["exceeded"] == []
    assert view["projection"].startswith("this load sustained: $")


# -- /metrics ------------------------------------------------------------------------------


def parsed(text: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text.decode())
        for sample in family.samples
    }


def test_the_exposition_has_the_summary_s_counts(summary: dict, timeline: LatencyTimeline) -> None:
    emulator = {"open_connections": 17, "live_subscriptions": 12}
    samples = parsed(exposition(summary, timeline, emulator))
    events = summary["delivery"]["overall"]
    for figure, value in events.items():
        assert (
            samples[(f"appsync_harness_events_{figure}_total", (("template", "(all)"),))] == value
        )
        key = (f"appsync_harness_events_{figure}_total", (("template", ROOMS),))
        assert samples[key] == value
    assert samples[("appsync_harness_requests_total", (("type", "deliver"),))] == 884
    assert samples[("appsync_harness_request_failures_total", (("type", "deliver"),))] == 4
    labels = (("kind", "reconnect"), ("policy", POLICY))
    assert samples[("appsync_harness_reconnect_losses_total", labels)] == 3
    assert samples[("appsync_harness_retries_total", labels)] == 4
    assert samples[("appsync_harness_recoveries_total", labels)] == 2
    assert samples[("appsync_harness_leaks_total", ())] == 0
    assert samples[("appsync_harness_emulator_open_connections", ())] == 17
    assert samples[("appsync_harness_emulator_live_subscriptions", ())] == 12
    assert samples[("appsync_harness_verdict_exit_code", ())] == 3
    assert samples[("appsync_harness_run_duration_seconds", ())] == 20.0
    assert (
        samples[("appsync_harness_slo_passed", (("slo", "lost == 0"), ("where", "overall")))] == 0
    )
    p99 = summary["latency"]["deliver"]["templates"][ROOMS]["p99"]
    quantile = (("metric", "deliver"), ("quantile", "0.99"), ("template", ROOMS))
    assert samples[("appsync_harness_latency_quantile_seconds", quantile)] == p99 / 1000


def test_the_latency_histogram_counts_the_samples(
    samples: list[tuple[str, str, str, int]], summary: dict, timeline: LatencyTimeline
) -> None:
    """Each bucket against counting the samples at the histograms' resolution: a sample
    counts at its bucket's lowest value (within 1/2,048 of itself), so one a few
    microseconds above a bound may count under it; none counts above its own bucket."""
    exposed = parsed(exposition(summary, timeline, None))
    deliveries = [us for metric, _, _, us in samples if metric == "deliver"]
    labels = (("metric", "deliver"), ("template", ROOMS))
    for bound_ms in BUCKETS_MS:
        le = f"{bound_ms / 1000:g}"
        key = ("appsync_harness_latency_seconds_bucket", tuple(sorted((*labels, ("le", le)))))
        assert exposed[key] == sum(bucket_of(us) <= bound_ms * 1000 for us in deliveries), le
    infinite = tuple(sorted((*labels, ("le", "+Inf"))))
    assert exposed[("appsync_harness_latency_seconds_bucket", infinite)] == len(deliveries)
    assert exposed[("appsync_harness_latency_seconds_count", labels)] == len(deliveries)
    total_s = exposed[("appsync_harness_latency_seconds_sum", labels)]
    assert math.isclose(total_s, sum(deliveries) / 1e6, rel_tol=1e-3)  # buckets' middles
    assert not any(name.startswith("appsync_harness_emulator") for name, _ in exposed)


def test_counts_up_to_matches_counting(samples: list[tuple[str, str, str, int]]) -> None:
    histogram = Histogram()
    values = [us for _, _, _, us in samples]
    for value in values:
        histogram.record(value)
    bounds = [0, 1, 999, 1_000, 2_047, 2_048, 5_000, 50_000, 10**6, 10**9]
    assert histogram.counts_up_to(bounds) == [
        sum(bucket_of(v) <= b for v in values) for b in bounds
    ]
