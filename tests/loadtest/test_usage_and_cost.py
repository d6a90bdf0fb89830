"""Usage, quotas and cost of real runs (docs/usage-and-cost.md).

- A headless ``locust -f locustfile.py`` run against the embedded emulator: every
  figure of its ``usage`` section is checked against counts made without the
  harness: the emulator's own counters, the connection times bounded by the test's
  clock and the emulator's record of each connection attempt, outbound units from
  the payload size and the fan-out, and each cost line against the price file.
- The forecast before a run, worked out by hand from the user classes and options.
- A run whose publish requests are over the request-size quota says so as it starts
  and in its summary.
"""

from __future__ import annotations

import math
import time
import tomllib
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from support.emulator import LiveEmulator
from support.locust_runs import parse_options, run_users
from support.timing import MS
from test_locust_cli import emulator_port, read_until, start_locust
from test_report_cli import emulator_stats, headless, load_summary

from harness.loadtest.ending import finish_run
from harness.loadtest.forecast import class_loads, forecast_peaks, quota_warnings
from harness.loadtest.runtime import run_channels
from harness.loadtest.scenario import per_user
from harness.loadtest.settings import settings_from_options
from harness.loadtest.state import run_state
from harness.loadtest.users import Publisher, PubSubUser, Subscriber
from harness.measure.verdict import EXIT_BAD_SETTINGS
from harness.protocol import METERED_UNIT_BYTES

ROOT = Path(__file__).resolve().parents[2]
USERS = 10
EVENT_BYTES = 6_000
UNITS_PER_EVENT = math.ceil(EVENT_BYTES / METERED_UNIT_BYTES)  # 2
CHANNELS = "/default/usage-{1..2}"


def poll(port: int) -> tuple[float, dict[str, Any], float]:
    """The emulator's stats, and the test's clock just before and just after asking."""
    before = time.time()
    stats = emulator_stats(port)
    return before, stats, time.time()


# -- a headless run, counted independently -------------------------------------------------


def test_a_runs_usage_agrees_with_counts_made_without_the_harness(tmp_path: Path) -> None:
    """10 users that each subscribe to both channels (Subscriber and PubSubUser only, so
    every connection subscribes), publishing events of 6,000 bytes (2 units each)."""
    report = tmp_path / "report"
    arguments = headless(
        "--channels", CHANNELS, "--subscriptions-per-user", "2",
        "--payload-bytes", str(EVENT_BYTES), "--report-dir", str(report),
        "--slo", "quota.headroom>=50%", "--slo", "usage.outbound_units>=1",
        "Subscriber", "PubSubUser", seconds=6, publish_rate=5,
    )  # fmt: skip
    process = start_locust(*arguments)
    try:
        seen = "".join(
            read_until(process, lambda line: "embedded AppSync Events emulator" in line, 60)
        )
        port = emulator_port(seen)
        # Every connection is open (acknowledged) once its subscribes have reached the
        # emulator, and stays open while all subscriptions are live: a stopping user
        # unsubscribes before it closes.
        deadline = time.monotonic() + 60_000 * MS
        _, stats, all_open_at = poll(port)
        while stats["subscriptions"]["total"] < 2 * USERS:
            assert time.monotonic() < deadline, stats
            time.sleep(0.02)
            _, stats, all_open_at = poll(port)
        attempts = stats["connection_attempts"]
        still_open_at = all_open_at
        while True:
            before, stats, _ = poll(port)
            if stats["subscriptions"]["live"] < 2 * USERS:
                break
            still_open_at = before
            assert time.monotonic() < deadline, stats
            time.sleep(0.02)
        final = stats
        while final["connections"]["open"]:  # the users have stopped: final counts
            assert time.monotonic() < deadline, final
            time.sleep(0.02)
            _, final, _ = poll(port)
        # The summary is built after the last connection closed: past this line, every
        # connection minute has been counted.
        written = read_until(process, lambda line: "reports written to" in line, 60)
        counted_by = time.time()
        assert "reports written to" in written[-1], "".join(written)[-3000:]
        rest, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    output = seen + "".join(written) + rest
    assert process.returncode == 0, output[-3000:]
    summary = load_summary(report)
    usage, counts = summary["usage"], summary["usage"]["counts"]

    # What the emulator counted: connection attempts, subscribes, publishes, deliveries.
    assert len(attempts) == USERS == final["connections"]["attempts"]
    assert counts["connection_requests"] == USERS
    assert counts["subscription_requests"] == final["subscriptions"]["total"] == 2 * USERS
    events = final["publishes"]["events"]
    publishers = sum(1 for row in summary["resilience"]["policies"] if row["kind"] == "publish")
    assert events > 0 and final["publishes"]["ws"] == events  # one event per request
    # a publish sent as its user was stopped may never have reached the emulator
    assert events <= counts["inbound_events"] <= events + USERS + publishers, (counts, final)
    assert counts["publish_requests"] == counts["inbound_events"]
    assert counts["inbound_units"] == UNITS_PER_EVENT * counts["inbound_events"]
    sent = final["deliveries"]["sent"]
    assert counts["outbound_messages"] <= sent <= counts["outbound_messages"] + USERS
    assert counts["outbound_messages"] == summary["delivery"]["overall"]["delivered"]

    # Outbound units from the payload size and the fan-out: every event of the run
    # reaches at most the 10 subscriptions of its channel, 2 units each.
    assert counts["outbound_units"] == UNITS_PER_EVENT * counts["outbound_messages"]
    assert counts["outbound_messages"] <= USERS * events

    # Connection minutes: each connection was open over [all_open_at, still_open_at]
    # at least, and at most from its attempt until the summary was built.
    at_least = USERS * (still_open_at - all_open_at)
    at_most = sum(counted_by - attempt["time"] for attempt in attempts)
    assert 0 < at_least <= counts["connection_minutes"] * 60 <= at_most, (
        at_least,
        counts["connection_minutes"] * 60,
        at_most,
    )

    # Peaks: the busiest second, within what the totals allow.
    quotas = {use["quota"]: use for use in usage["quotas"]}
    per_second = Counter(int(attempt["time"]) for attempt in attempts)
    assert 1 <= quotas["connect-rate"]["peak"] <= USERS
    assert quotas["connect-rate"]["peak"] >= USERS / (len(per_second) + 1)
    duration_s = summary["run"]["duration_s"]
    outbound = quotas["outbound-messages"]
    assert (
        counts["outbound_units"] / (duration_s + 2) <= outbound["peak"] <= counts["outbound_units"]
    )
    assert outbound["peak"] % UNITS_PER_EVENT == 0
    assert quotas["request-bytes"]["peak"] == EVENT_BYTES
    assert usage["headroom"] == min(use["headroom"] for use in usage["quotas"]) > 0.5
    assert usage["exceeded"] == []

    # The cost: each line at its price in the built-in table, read here by itself.
    table = tomllib.loads((ROOT / "harness/measure/appsync_events_prices.toml").read_text())
    cost = usage["cost"]
    for line in cost["lines"]:
        price = table["prices"][line["price"]]
        assert line["quantity"] == counts[line["item"]]
        assert line["usd"] == pytest.approx(line["quantity"] * price["usd"] / price["per"])
    assert cost["total_usd"] == pytest.approx(sum(line["usd"] for line in cost["lines"]))
    hourly = cost["total_usd"] * 3600 / duration_s  # (duration_s is rounded to 1 ms)
    assert cost["projection"]["hour_usd"] == pytest.approx(hourly, rel=1e-3)
    assert cost["prices"]["origin"] == "built-in"

    # The SLOs gate on it, and every view shows it.
    results = {result["slo"]: result for result in summary["slo"]["results"]}
    assert results["quota.headroom>=50%"]["observed"] == usage["headroom"]
    assert results["usage.outbound_units>=1"]["observed"] == counts["outbound_units"]
    assert summary["slo"]["passed"], results
    assert "Usage: what AWS meters" in output
    assert f"Estimated cost: ${cost['total_usd']:.4g} at AWS list prices" in output
    assert '<section id="usage">' in (report / "report.html").read_text()


def test_a_lost_connection_stops_counting_and_its_reconnect_is_a_request(
    start_emulator: Any,
) -> None:
    """Every connection is dropped 1 s in; each user waits 500 ms (its policy) and
    connects again: twice the connection requests and subscribes, as the emulator
    counts them, and no connection time while a user held no connection."""
    emulator: LiveEmulator = start_emulator()
    emulator.add_fault("disconnect-all:after=1s")
    started = time.time()
    run = run_users(
        emulator,
        [Subscriber],
        users=4,
        seconds=3.0,
        channels="/default/lossy",
        reconnect_policy="constant:base=500ms",
    )
    ended = time.time()
    counts = run.summary()["usage"]["counts"]
    assert counts["connection_requests"] == run.emulator_stats["connections"]["attempts"] == 8
    assert counts["subscription_requests"] == run.emulator_stats["subscriptions"]["total"] == 8
    assert run.policy("constant:base=500ms")["recoveries"] == 4
    # one connection at a time per user, none in the 500 ms after its loss
    assert 0 < counts["connection_minutes"] * 60 <= 4 * (ended - started - 0.5)


# -- before the run: the forecast ----------------------------------------------------------


def settings_of(*arguments: str) -> Any:
    return settings_from_options(parse_options(*arguments))


def test_the_forecast_of_the_default_users_worked_out_by_hand() -> None:
    """1,000 users (600 Subscribers, 200 Publishers, 200 PubSubUsers by weight) at 30
    events a second on 10 channels, 2 subscriptions each, spawned 100 a second:
    100 connects a second; 400 publishers x 30 = 12,000 events a second; each channel
    held by 800 x 2 / 10 = 160 subscriptions, so 12,000 x 160 = 1,920,000 units."""
    settings = settings_of(
        "--channels", "/default/f-{1..10}", "--subscriptions-per-user", "2",
        "--publish-rate", "30",
    )  # fmt: skip
    classes = [PubSubUser, Publisher, Subscriber]
    loads = class_loads(classes, 1000, settings)
    assert [load.users for load in loads] == [200, 200, 600]
    peaks = forecast_peaks(loads, 100, run_channels(settings))
    assert peaks.values() == pytest.approx((100, 12_000, 1_920_000, 200))
    assert quota_warnings(classes, 1000, 100, settings) == [
        "the options would make about 12,000 inbound events a second, over AppSync's default "
        "inbound-events quota of 10,000 a second: past it, publishes are throttled",
        "the options would make about 1,920,000 outbound messages in 5 KB units a second, "
        "over AppSync's default outbound-messages quota of 1,000,000 a second: past it, "
        "deliveries are throttled",
    ]
    assert quota_warnings(classes, 100, 100, settings) == []


class WildcardSubscriber(Subscriber):
    channel_pattern = "/default/a/*"
    user_options = per_user(subscriptions_per_user=0, wildcard_subscriptions=1)


class BigPublisher(Publisher):
    fixed_count = 10
    user_options = per_user(publish_rate=10, payload_bytes=EVENT_BYTES, events_per_publish=5)


def test_the_forecast_follows_each_classs_channels_wildcards_and_options() -> None:
    """10 BigPublishers (fixed) at 10 events a second over all 8 channels, 30 wildcard
    subscribers of /default/a/*: the 4 a-channels get 50 events a second, each to 30
    subscriptions of 2 units: 3,000 units a second; a request of 5 x 6,000 bytes."""
    settings = settings_of("--channels", "/default/a/x-{1..4} /default/b/y-{1..4}")
    classes = [WildcardSubscriber, BigPublisher]
    loads = class_loads(classes, 40, settings)
    assert [load.users for load in loads] == [30, 10]
    peaks = forecast_peaks(loads, 5, run_channels(settings))
    assert peaks.values() == pytest.approx((5, 100, 3_000, 30_000))
    # a class that is not the harness's is left out
    assert class_loads([*classes, object], 40, settings) == loads


# -- over a quota: said before and after ---------------------------------------------------


def test_publishes_over_the_request_size_quota_are_said_before_and_after(
    start_emulator: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """5 events of 260,000 bytes make a 1,300,000-byte request, over the 1,258,291-byte
    quota (and each event over AppSync's 240 KB: the emulator refuses them)."""
    emulator: LiveEmulator = start_emulator()
    run = run_users(
        emulator,
        [Publisher],
        users=1,
        seconds=1.0,
        publish_via="http",
        events_per_publish=5,
        payload_bytes=260_000,
        publish_rate=5,
        channels="/default/big",
    )
    request = 5 * 260_000
    forecast = (
        f"quota: the options would make about {request:,} bytes in the largest publish "
        "request, over AppSync's default request-bytes quota of 1,258,291: past it, the "
        "publish is refused as too large"
    )
    assert forecast in caplog.text
    usage = run.summary()["usage"]
    assert usage["exceeded"] == [
        f"the run peaked at {request:,} bytes in the largest publish request, over "
        "AppSync's default request-bytes quota of 1,258,291: past it, the publish is refused "
        "as too large"
    ]
    assert usage["headroom"] == pytest.approx(1 - request / 1_258_291)
    assert (
        usage["counts"]["inbound_units"]
        == 5 * math.ceil(260_000 / 5120) * usage["counts"]["publish_requests"]
    )
    assert run.emulator_stats["publishes"]["events"] == 0  # every one was refused


def test_a_price_file_gone_during_the_run_leaves_the_built_in_prices_and_exit_2(
    start_emulator: Any, tmp_path: Path
) -> None:
    prices = tmp_path / "prices.toml"
    prices.write_text((ROOT / "harness/measure/appsync_events_prices.toml").read_text())
    emulator: LiveEmulator = start_emulator()
    run = run_users(emulator, [PubSubUser], users=1, seconds=0.5, price_file=prices)
    assert run.summary()["usage"]["cost"]["prices"]["origin"] == str(prices)
    prices.unlink()
    state = run_state(run.environment)
    finish_run(state)
    assert state.summary is not None
    assert state.summary["usage"]["cost"]["prices"]["origin"] == "built-in"
    assert state.summary["verdict"]["exit_code"] == EXIT_BAD_SETTINGS
    assert f"not evaluated: --price-file: cannot read {prices}" in " ".join(
        state.summary["verdict"]["reasons"]
    )
