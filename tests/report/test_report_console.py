"""The end-of-run console section, from hand-built summaries."""

from __future__ import annotations

from typing import Any

from support.summaries import account, empty_summary, usage_of

from harness.measure.schema import Summary
from harness.report.console import WORST_CHANNELS, format_console

TEMPLATE = "/default/room-{1..30}"


def latency(p99: float) -> dict[str, Any]:
    return {"count": 10, "p50": 1.0, "p90": 2.0, "p99": p99, "p99.9": p99, "max": p99}


def summary_of(channels: int, *, lost_on: str | None = None) -> Summary:
    names = [f"/default/room-{index}" for index in range(1, channels + 1)]
    return empty_summary(
        latency={
            "deliver": {
                "overall": latency(9.0),
                "templates": {TEMPLATE: latency(9.0)},
                "channels": {name: latency(float(index)) for index, name in enumerate(names)},
            }
        },
        delivery={
            "overall": account(published=channels),
            "templates": {TEMPLATE: account(published=channels)},
            "channels": {
                name: account(published=1, lost=3 if name == lost_on else 0) for name in names
            },
            "channels_total": channels,
            "lost_examples": [],
            "untracked": 0,
        },
    )


def channel_rows(text: str) -> list[list[str]]:
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Channels, worst"))
    return [line.split() for line in lines[start + 2 :] if line.startswith("/default/")]


def test_the_worst_channels_lead_lost_events_first_then_deliver_p99() -> None:
    text = format_console(summary_of(30, lost_on="/default/room-7"))
    assert f"Channels, worst {WORST_CHANNELS} of 30 (most lost events" in text
    rows = channel_rows(text)
    assert len(rows) == WORST_CHANNELS
    # The last five columns: lost, missed (down), unaccounted, duplicated, out of order.
    assert rows[0][0] == "/default/room-7" and rows[0][-5] == "3", rows[0]
    # Then by deliver p99, highest first: room-30 has p99 29 ms, room-29 28 ms, ...
    assert [row[0] for row in rows[1:4]] == [
        "/default/room-30",
        "/default/room-29",
        "/default/room-28",
    ]
    assert rows[1][2] == "29.000"


def test_a_run_with_few_channels_lists_them_all() -> None:
    rows = channel_rows(format_console(summary_of(3)))
    assert sorted(row[0] for row in rows) == [f"/default/room-{i}" for i in (1, 2, 3)]


def test_a_run_without_channels_has_no_channel_section() -> None:
    text = format_console(empty_summary())
    assert "Channels, worst" not in text


def test_a_regression_from_a_zero_baseline_is_printed() -> None:
    """The baseline comparison gives no relative change against 0 (``change`` null)."""
    summary = summary_of(1)
    summary["baseline"] = {
        "path": "a/summary.json",
        "max_regression": 0.1,
        "passed": False,
        "compared": 2,
        "regressions": [
            {"figure": "errors.rate", "where": "overall", "baseline": 0.0, "observed": 0.02,
             "change": None, "unit": "ratio"},
            {"figure": "deliver.p99", "where": "overall", "baseline": 2.0, "observed": 3.0,
             "change": 0.5, "unit": "ms"},
        ],
    }  # fmt: skip
    text = format_console(summary)
    assert (
        "REGRESSED errors.rate overall regressed from 0% to 2% (from zero; at most +10% allowed)"
        in text
    )
    assert (
        "REGRESSED deliver.p99 overall regressed from 2 ms to 3 ms (+50%; at most +10% allowed)"
        in text
    )
    assert "2 figures compared, 2 regressed by more than 10%" in text


def test_workers_are_listed_with_their_clocks_and_the_lost_ones_first() -> None:
    clock = {"offset_ms": -7.25, "uncertainty_ms": 0.5, "samples": 8}
    reason = "unreliable: the clock of worker w2 may be off by 7.750 ms, more than ..."
    summary = empty_summary(
        workers={
            "count": 2,
            "final_reports": 1,
            "lost": [
                {
                    "worker": "w1",
                    "last_report_at": "2025-11-26T13:00:03.000Z",
                    "missing_since": None,
                    "users": 4,
                    "subscriptions": 3,
                }
            ],
            "each": {
                "w1": {"reports": 1, "final": False, "users": 4, "clock": None},
                "w2": {"reports": 5, "final": True, "users": 0, "clock": clock},
            },
            "clock_bound_ms": 5.0,
            "clock_flagged": ["w1", "w2"],
        },
        verdict={"exit_code": 5, "reasons": [reason]},
    )
    text = format_console(summary)
    lines = text.splitlines()
    assert lines[:2] == ["INCOMPLETE RUN: its figures are partial or unreliable", f"  {reason}"]
    assert "Workers: 1 of 2 sent their final report" in lines
    assert (
        "  LOST w1: last report 2025-11-26T13:00:03.000Z, missing since unnoticed, 4 users, "
        "3 subscriptions"
    ) in lines
    assert "  clock of w1: not measured FLAGGED: more than 5 ms" in lines
    assert (
        "  clock of w2: -7.250 ms from the master's (within 0.500 ms, 8 samples) "
        "FLAGGED: more than 5 ms"
    ) in lines


def test_usage_quotas_and_cost_are_printed_with_the_quota_exceeded() -> None:
    """2,001 connections in one second, held 30 s; 1,000 events of 6,000 bytes each
    delivered 3 times, over 60 s: every count, the connect-rate quota exceeded, and the
    cost at the built-in prices worked out by hand."""
    usage = usage_of(
        connects=2_001, publishes=1_000, event_bytes=6_000, fan_out=3, open_s=30.0, duration_s=60
    )
    text = format_console(empty_summary(usage=usage))
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Usage: what AWS meters"))
    rows = {line[:31].strip(): line[31:].split() for line in lines[start + 2 : start + 11]}
    assert rows["connection requests"] == [
        "2,001",
        "2,001",
        "a",
        "second",
        "2,000",
        "-0.05%",
        "$0.002001",
    ]
    assert rows["subscription requests"] == ["0", "$0"]
    assert rows["publish requests"] == [
        "1,000",
        "6,000",
        "one",
        "request,",
        "bytes",
        "1,258,291",
        "99.52%",
    ]
    assert rows["inbound events, 5 KB units"] == ["2,000", "$0.002"]
    assert rows["outbound messages"] == ["3,000"]
    assert rows["outbound messages, 5 KB units"][:2] == ["6,000", "6,000"]
    assert rows["connection minutes"] == ["1,000.500", "$0.00008004"]  # 2,001 x 30 s
    # (2,001 + 2,000 + 6,000) operations at $1 a million, 1,000.5 minutes at $0.08 a million
    total = 10_001 / 1e6 + 1000.5 * 0.08 / 1e6
    assert rows["total"] == [f"${total:.4g}"]
    assert f"Estimated cost: ${total:.4g} at AWS list prices (us-east-1, USD, read " in text
    assert f"a day, ${total * 1440 * 730 / 24:,.2f} a month (730 hours)" in text
    assert "unconfirmed for AppSync Events: the connection_minute price" in text
    assert "QUOTA EXCEEDED: the run peaked at 2,001 connection requests a second" in text
