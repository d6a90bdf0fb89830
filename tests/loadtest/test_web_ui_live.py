"""The harness's live views in Locust's web UI, driven by a real headless Chromium.

``locust -f scenarios/reconnect_storm.py --prometheus`` (every connection dropped
3 s into each run) is started as a user starts it, and a run is started from
the form. While it goes on:

- Locust's own page has the *Harness channels* tab, listing the template's
  channels with deliveries, and the *Harness resilience* tab with the policies;
- the harness page (``/harness/``) lists the channels with non-zero delivery
  counts, draws the over-time and percentile charts (SVG), charts the
  distribution of a channel clicked in the table, and shows the mass disconnect
  in its Resilience view: every subscriber's loss, and as many recoveries; its
  SLO view has each ``--slo`` with its value and status, and the verdict the run
  would have if it ended now;
- with ``--processes 2``, the live figures are the two workers' merged.

The run is stopped with Locust's Stop button; ``summary.json`` is downloaded from
the harness page's report links, and its figures are checked against
independent observers: Locust's own request counts (summed over the workers by
Locust, not by the harness), and ``/metrics`` parsed with ``prometheus_client``.
Screenshots of each view are saved in the test's folder.
"""

from __future__ import annotations

import csv
import io
import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support.timing import MS
from support.web_ui import browser_page as new_browser_page
from support.web_ui import check_png, locust_web_ui, require_chromium

sync_api = require_chromium()
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

USERS = 20
LIVE_TIMEOUT_S = 30_000 * MS
pytestmark = [pytest.mark.chromium, pytest.mark.timeout(240)]


def wait_for(what: str, read: Callable[[], Any], ready: Callable[[Any], bool]) -> Any:
    """Until ``ready(read())`` (bounded); the last value read."""
    deadline = time.monotonic() + LIVE_TIMEOUT_S
    value = read()
    while not ready(value):
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {LIVE_TIMEOUT_S:.0f} s: {value!r:.2000}")
        time.sleep(0.25)
        value = read()
    return value


def table_rows(page: Any, selector: str) -> list[list[str]]:
    return list(
        page.locator(f"{selector} tbody tr").evaluate_all(
            "rows => rows.map(row => [...row.cells].map(cell => cell.innerText.trim()))"
        )
    )


def number(text: str) -> int:
    return int(text.replace(",", "") or 0)


def recovered_storm(live: dict[str, Any]) -> bool:
    """Every reconnect policy saw its users' losses, and each was recovered from."""
    policies = [p for p in live.get("policies") or [] if p["kind"] == "reconnect"]
    losses = sum(p["losses"] for p in policies)
    return losses >= USERS and all(p["recoveries"] == p["losses"] for p in policies)


@pytest.mark.parametrize("processes", [0, 2], ids=["local", "processes-2"])
def test_live_views_show_the_run_as_it_goes_and_its_reports_after(
    tmp_path: Path, processes: int
) -> None:
    args = [
        "--prometheus",
        *("--slo", "deliver.p99<=30s", "--slo", "connect.min<1us"),  # one holds, one cannot
        *(["--processes", str(processes)] if processes else []),
    ]
    with (
        locust_web_ui(tmp_path, "scenarios/reconnect_storm.py", *args) as locust,
        new_browser_page(sync_api) as page,
    ):

        def live() -> dict[str, Any]:
            answer: dict[str, Any] = json.loads(locust.get("harness/api/live"))
            return answer

        if processes:  # the workers have connected before the run starts
            wait_for(
                "both workers connecting",
                lambda: json.loads(locust.get("worker-count"))["worker_count"],
                lambda count: count == processes,
            )
        page.goto(locust.url)
        page.locator('input[name="userCount"]').fill(str(USERS))
        page.locator('input[name="spawnRate"]').fill(str(USERS))
        with page.expect_response(re.compile(r"/swarm$")) as swarm:
            page.get_by_role("button", name="Start", exact=True).click()
        assert swarm.value.json()["success"] is True

        # (1) the mass disconnect, live: every user lost its connection and recovered
        view = wait_for("the storm's recoveries in the live view", live, recovered_storm)
        if processes:
            workers = view["workers"]
            assert workers["count"] == processes, workers
            assert sum(w["users"] for w in workers["each"].values()) == USERS, workers
        delivered = view["totals"]["events"]["delivered"]
        wait_for(
            "deliveries after the storm",
            live,
            lambda view: view["totals"]["events"]["delivered"] > delivered,
        )

        # (2) Locust's page: the harness's tabs
        page.get_by_role("tab", name="Harness channels").click()
        rows = wait_for(
            "channel rows in Locust's Harness channels tab",
            lambda: table_rows(page, "table"),
            lambda rows: sum("/default/room-" in " ".join(row) for row in rows) >= 2,
        )
        channel_rows = [row for row in rows if row[0] == "channel"]
        assert channel_rows and all(row[1].startswith("/default/room-") for row in channel_rows), (
            page.locator("table thead th").all_inner_texts(),
            rows,
        )
        page.screenshot(path=str(tmp_path / "locust-harness-channels.png"), full_page=True)
        page.get_by_role("tab", name="Harness resilience").click()
        policies = wait_for(
            "policy rows in Locust's Harness resilience tab",
            lambda: table_rows(page, "table"),
            lambda rows: sum(row[:1] == ["reconnect"] for row in rows) == 2,
        )
        assert {row[1] for row in policies} == {
            "full-jitter:base=1s,cap=10s",
            "exponential:base=500ms,cap=10s",
        }
        page.get_by_role("tab", name="Harness usage").click()
        usage = wait_for(
            "every user's two connects in Locust's Harness usage tab",
            lambda: {row[0]: row for row in table_rows(page, "table") if row},
            lambda rows: number(rows.get("connection requests", ["", ""])[1]) >= 2 * USERS,
        )
        assert usage["total"][-1].startswith("0.0"), usage  # dollars, as a number

        # (3) the harness page: channels with deliveries, charts, a channel's distribution
        page.goto(locust.url + "harness/")
        page.locator("#chart-over-time svg.chart").wait_for()
        page.locator("#chart-percentiles svg.chart").wait_for()
        assert page.locator("#chart-over-time svg.chart path").count() > 0
        headers = page.locator("#channels thead th").all_inner_texts()
        delivered_at = headers.index("delivered")
        channels = wait_for(
            "channels with deliveries on the harness page",
            lambda: [r for r in table_rows(page, "#channels") if r[0] == "channel"],
            lambda rows: sum(number(r[delivered_at]) > 0 for r in rows) >= 2,
        )
        assert all(row[1].startswith("/default/room-") for row in channels), channels
        # every channel the live figures saw deliveries on is listed with them
        shown = {row[1]: number(row[delivered_at]) for row in channels}
        receiving = {
            r["name"] for r in live()["channels"] if r["scope"] == "channel" and r["delivered"]
        }
        assert receiving and all(shown.get(name, 0) > 0 for name in receiving), (receiving, shown)
        chosen = next(row[1] for row in channels if number(row[delivered_at]) > 0)
        page.locator("#channels tbody tr", has_text=chosen).first.click()
        sync_api.expect(page.locator("#selection")).to_contain_text(chosen)
        sync_api.expect(page.locator("#chart-percentiles")).to_contain_text(chosen)
        page.screenshot(path=str(tmp_path / "harness-channels.png"), full_page=True)

        # ... and its Resilience view: the storm and its recoveries
        page.locator("#resilience").scroll_into_view_if_needed()
        policy_headers = page.locator("#policies thead th").all_inner_texts()
        policy_rows = table_rows(page, "#policies")
        losses = sum(number(row[policy_headers.index("Losses")]) for row in policy_rows)
        recoveries = sum(number(row[policy_headers.index("Recoveries")]) for row in policy_rows)
        assert losses >= USERS and recoveries == losses, policy_rows
        sync_api.expect(page.locator("#emulator")).to_contain_text("disconnects (fault)")
        page.locator("#resilience").screenshot(path=str(tmp_path / "harness-resilience.png"))

        # ... and its Usage view: every user connected twice (the storm), and the cost
        page.locator("#usage-section").scroll_into_view_if_needed()
        metered = {row[0]: row for row in table_rows(page, "#usage")}
        assert number(metered["connection requests"][1]) >= 2 * USERS, metered
        sync_api.expect(page.locator("#usage-cost")).to_contain_text("Estimated cost: $")

        # ... and its SLO view: each SLO with its value, and the verdict if the run ended now
        slo_headers = page.locator("#slos thead th").all_inner_texts()
        slos = {(row[1], row[2]): row for row in table_rows(page, "#slos")}
        status, value = slo_headers.index("Status"), slo_headers.index("Value")
        held = slos[("deliver.p99<=30s", "overall")]
        broken = slos[("connect.min<1us", "overall")]
        assert held[status] == "pass" and 0 < float(held[value]) < 30_000, held
        assert broken[status] == "FAIL" and float(broken[value]) > 0.001, broken
        assert slos[("exit status 3", "verdict")][status] == "FAIL", slos
        sync_api.expect(page.locator("#verdict")).to_contain_text(
            "Verdict if the run ended now: FAIL (exit code 3)"
        )

        # (4) stop from Locust's page; its Download Data tab offers the summary, and the
        # harness page lists every report
        page.goto(locust.url)
        with page.expect_response(re.compile(r"/stop$")):
            page.get_by_role("button", name="Stop", exact=True).click()
        wait_for("the final figures", live, lambda view: view["live"]["final"])
        page.get_by_role("tab", name="Download Data").click()
        with page.expect_download() as from_locust_page:
            page.get_by_role("link", name="Harness summary.json (last run)").click()
        from_locust = tmp_path / "summary-from-locust-page.json"
        from_locust_page.value.save_as(from_locust)
        page.goto(locust.url + "harness/")
        link = page.locator("#reports a", has_text="summary.json")
        link.wait_for()
        with page.expect_download() as download:
            link.click()
        saved = tmp_path / "downloaded-summary.json"
        download.value.save_as(saved)
        summary = json.loads(saved.read_text())
        assert json.loads(from_locust.read_text()) == summary
        page.screenshot(path=str(tmp_path / "harness-final.png"), full_page=True)

        # (5) the summary against Locust's own counts (summed over workers by Locust)
        events = summary["totals"]["events"]
        assert events["delivered"] > 0 and events["lost"] == 0, events
        # (the CSV: Locust caches /stats/requests for a few seconds)
        stats = list(csv.DictReader(io.StringIO(locust.get("stats/requests/csv").decode())))

        def succeeded(request_type: str) -> int:
            rows = [row for row in stats if row["Type"] == request_type]
            return sum(int(row["Request Count"]) - int(row["Failure Count"]) for row in rows)

        assert succeeded("deliver") == events["delivered"]
        assert succeeded("publish") == events["published"]
        # every connect and subscribe, refused or not, is a request AWS meters
        counts = summary["usage"]["counts"]
        metered_as = {"connect": "connection_requests", "subscribe": "subscription_requests"}
        for request_type, count in metered_as.items():
            rows = [row for row in stats if row["Type"] == request_type]
            assert counts[count] == sum(int(row["Request Count"]) for row in rows), request_type
        if processes:
            assert summary["workers"]["count"] == processes
            assert summary["workers"]["final_reports"] == processes

        # (6) /metrics: the same figures, parsed by prometheus_client
        samples = {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(locust.get("metrics").decode())
            for sample in family.samples
        }
        for figure in ("published", "delivered", "lost", "duplicated"):
            key = (f"appsync_harness_events_{figure}_total", (("template", "(all)"),))
            assert samples[key] == events[figure], (figure, samples.get(key))
        for policy in summary["resilience"]["policies"]:
            labels = (("kind", policy["kind"]), ("policy", policy["policy"]))
            assert samples[("appsync_harness_reconnect_losses_total", labels)] == policy["losses"]
            assert samples[("appsync_harness_recoveries_total", labels)] == policy["recoveries"]
        deliver_count = ("appsync_harness_latency_seconds_count",)
        counted = sum(
            value
            for (name, labels), value in samples.items()
            if (name,) == deliver_count and ("metric", "deliver") in labels
        )
        assert counted == summary["latency"]["deliver"]["overall"]["count"]

    for name in ("locust-harness-channels", "harness-channels", "harness-resilience"):
        check_png(tmp_path / f"{name}.png")
