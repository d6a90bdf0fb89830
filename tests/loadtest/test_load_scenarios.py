"""The load scenarios of ``scenarios/`` (steady fan-out, fan-in, connection storm,
wildcard, soak, HTTP against WebSocket publishing, payload sizes) as a user runs them,
headless for a few seconds against the embedded emulator, each checked against the
figures it exists for (``summary.json``, ``resilience.json``, Locust's tables); and
``locustfile.py --scenario NAME``, which runs any scenario.

Runs go through :func:`test_scenarios.run_scenario`, which also checks what holds after
any run (every user stopped cleanly, the emulator left empty). Figures that depend on
timing (events published while a subscriber was still subscribing, a connect rate)
are held to loose bounds that a broken scenario still fails.
"""

from __future__ import annotations

import math
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from support.timing import MS
from test_locust_cli import ROOT, locust_environment, run_locust
from test_scenarios import ScenarioRun, _assert_connection_losses_only, run_scenario

from harness.loadtest.selection import SCENARIOS_DIR, scenario_names
from harness.protocol import parse_channel

CONNECT = ("connect", "/event/realtime")
FAULT_SCENARIOS = ("auth_failure", "flapping", "keepalive_loss", "reconnect_storm")
LOAD_SCENARIOS = (
    "connection_storm",
    "fan_in",
    "http_vs_ws_publish",
    "payload_sizes",
    "soak",
    "steady_fanout",
    "wildcard",
)
START_EDGE = 0.75
"""Share of ``published x subscribers`` a fan-out must deliver at least: the events
published while a subscriber was still subscribing, or already unsubscribing, are not
expected of it (a few percent of a run of seconds); a fan-out that misses subscribers
delivers far less."""
CONNECT_RATE_ROW = re.compile(r"^\s*(\d+)\s+([\d.]+)\s+(\d+)\s+(\d+)\s*$", re.MULTILINE)


def templates(run: ScenarioRun) -> dict[str, Any]:
    figures: dict[str, Any] = run.summary["delivery"]["templates"]
    return figures


def assert_fanned_out(figures: dict[str, Any], subscribers: int, publishers: int) -> None:
    """Every event to every subscriber, less the edges of the run; nothing lost."""
    published, delivered = figures["published"], figures["delivered"]
    assert published > 0, figures
    # A publish in flight when its publisher stopped (one each at most) may still be
    # delivered, though never acknowledged.
    assert START_EDGE * published * subscribers <= delivered, figures
    assert delivered <= (published + publishers) * subscribers, figures
    assert figures["lost"] == figures["duplicated"] == figures["out_of_order"] == 0, figures


def no_harness_errors(run: ScenarioRun) -> bool:
    """No error logged by the harness or Locust (a failed request is not one)."""
    return re.search(r"/ERROR/", run.output) is None


# -- the load scenarios ------------------------------------------------------------------


def test_steady_fanout_delivers_every_event_to_every_subscriber(tmp_path: Path) -> None:
    run = run_scenario("steady_fanout", tmp_path, users=10, seconds=5)
    subscribers, publishers = run.spawned["FanoutSubscriber"], run.spawned["FanoutPublisher"]
    assert (subscribers, publishers) == (8, 2), run.spawned
    # Each subscriber on all four channels: every event goes to every subscriber.
    assert run.row("subscribe", "/default/fanout-{1..4}") == (4 * subscribers, 0), run.rows
    overall = run.summary["delivery"]["overall"]
    assert_fanned_out(overall, subscribers, publishers)
    deliver = run.summary["latency"]["deliver"]["overall"]
    assert deliver["count"] == overall["delivered"] and deliver["p99"] > 0, deliver
    assert run.failures == 0 and run.returncode == 0, run.tail()


def test_fan_in_throttles_past_25_publishes_per_second_per_connection(tmp_path: Path) -> None:
    run = run_scenario("fan_in", tmp_path, users=8, seconds=6)
    assert run.spawned["FanInSubscriber"] == 1, run.spawned
    assert sum(run.spawned.values()) == 8, run.spawned
    acks = run.summary["latency"]["publish"]["templates"]
    for rate in (10, 25, 30):
        template = f"/default/rate-{rate}/ch-{{1..2}}"
        publishes, _ = run.row("publish", template)
        assert publishes > 0, (template, run.rows)
        # Acknowledgement latency of what was accepted, per kind of publisher.
        assert acks[template]["count"] > 0 and acks[template]["p50"] > 0, acks
        figures = templates(run)[template]
        assert figures["lost"] == 0 and figures["delivered"] >= figures["published"] > 0, figures
    # Well under the limit nothing is refused; past it, what goes over 25 in a second is.
    assert run.row("publish", "/default/rate-10/ch-{1..2}")[1] == 0, run.rows
    publishes, throttled = run.row("publish", "/default/rate-30/ch-{1..2}")
    assert 0 < throttled < publishes, run.rows
    limit = "LimitExceededError: Rate exceeded: at most 25 publishes per second per connection"
    assert run.errors and all(
        request == "publish" and limit in error for request, _, error, _ in run.errors
    ), run.errors
    assert run.returncode == 1, run.tail()  # the throttled publishes are failures


def test_a_connection_storm_reaches_its_connect_rate(tmp_path: Path) -> None:
    # Through locustfile.py: the scenario's load shape is picked up too. Rates 4, 8, 12,
    # 16, 20/s, then 20/s until the 100 users are up (second 6), until -t.
    run = run_scenario(
        "connection_storm", tmp_path, users=100, spawn_rate=20, seconds=8, via_locustfile=True
    )
    assert run.spawned == {"StormSubscriber": 100}, run.spawned
    assert "Shape test starting" in run.output, run.tail()
    assert run.row(*CONNECT) == (100, 0), run.rows
    assert run.summary["latency"]["connect"]["overall"]["count"] == 100
    assert run.summary["totals"]["requests"]["subscribe"] == {"count": 100, "failures": 0}
    _, heading, table = run.stdout.partition("Connect rate: ramped to 20/s in 5 s")
    assert heading, run.tail()
    rows = [tuple(map(float, row)) for row in CONNECT_RATE_ROW.findall(table)]
    # One step a second (a second the shape's tick slipped past repeats a target).
    assert list(dict.fromkeys(target for _, target, _, _ in rows)) == [4, 8, 12, 16, 20], rows
    assert sum(connects for *_, connects, _ in rows) == 100, rows
    assert sum(failed for *_, failed in rows) == 0, rows
    # The target rate is reached: held for three seconds, at least one whole wall-clock
    # second counts nearly all of it.
    assert max(connects for *_, connects, _ in rows) >= 16, rows
    assert "peak: " in table and "0 of 100 connects failed" in table, table
    assert run.returncode == 0, run.tail()


def test_a_storm_past_the_connect_quota_is_refused_and_retried(tmp_path: Path) -> None:
    quota = "--emulator-args=--quota connect-rate=10"
    run = run_scenario(
        "connection_storm", tmp_path, users=40, spawn_rate=20, seconds=6, arguments=[quota]
    )
    attempts, refused = run.row(*CONNECT)
    assert refused > 0 and attempts > 40, run.rows
    assert [
        (request_type, count)
        for request_type, _, error, count in run.errors
        if "LimitExceededError: Rate exceeded: at most 10 connection requests" in error
    ] == [("connect", refused)], run.errors
    reconnects = run.policy("reconnect", "full-jitter:base=500ms,cap=30s")
    assert reconnects["attempts"] >= refused, reconnects
    assert reconnects["conforming"] == reconnects["attempts"], reconnects
    assert run.returncode == 1, run.tail()  # failed requests


def test_a_wildcard_subscription_receives_from_every_depth(tmp_path: Path) -> None:
    run = run_scenario("wildcard", tmp_path, users=8, seconds=5, via_locustfile=True)
    subscribers, publishers = run.spawned["WildcardSubscriber"], run.spawned["DepthPublisher"]
    assert (subscribers, publishers) == (6, 2), run.spawned
    assert run.summary["run"]["settings"]["scenario"] == "wildcard"
    # One subscription each, the wildcard, and no other.
    subscribes = {name: counts for (kind, name), counts in run.rows.items() if kind == "subscribe"}
    assert subscribes == {"/default/*": (subscribers, 0)}, run.rows
    depths = {}
    for template, figures in templates(run).items():
        depths[len(parse_channel(template.replace("{1..2}", "1")).segments)] = template
        assert_fanned_out(figures, subscribers, publishers)
    assert sorted(depths) == [2, 3, 5], templates(run)
    assert run.failures == 0 and run.returncode == 0, run.tail()


def test_a_soak_reconnects_at_the_end_of_each_connections_life(tmp_path: Path) -> None:
    lifetime_s, seconds, users = 5, 12, 8
    emulator = (
        f"--emulator-args=--keepalive-interval-s 0.5 --connection-timeout-ms 3000 "
        f"--max-connection-duration-s {lifetime_s}"
    )
    run = run_scenario("soak", tmp_path, users=users, seconds=seconds, arguments=[emulator])
    assert run.summary["run"]["settings"]["auth_mode"] == "AWS_IAM"
    assert run.spawned == {"SoakSubscriber": 4, "IdleSubscriber": 2, "SoakPublisher": 2}
    policy = run.policy("reconnect", "full-jitter:base=200ms,cap=5s")
    # Every connection reaches its maximum life at least once, and no more often than
    # the run allows: keep-alives missing for 3 s would end the idle subscribers'
    # connections (nothing else arrives on them) more often.
    assert users <= policy["losses"] <= users * math.floor(seconds / lifetime_s), policy
    assert policy["recoveries"] == policy["attempts"] == policy["losses"], policy
    assert policy["conformance"] == 1.0 and policy["give_ups"] == {}, policy
    # Each reconnect is a new connect, signed again and accepted.
    assert run.row(*CONNECT) == (users + policy["attempts"], 0), run.rows
    overall = run.summary["delivery"]["overall"]
    assert overall["delivered"] > 0 and overall["lost"] == 0, overall
    # The drift over time: the deliveries of each 5-second slot in deliver.hlog.
    slots = re.findall(r"^Tag=[^,]+,([\d.]+),", (tmp_path / "deliver.hlog").read_text(), re.M)
    assert len(set(slots)) >= 2, slots
    _assert_connection_losses_only(run)
    assert run.returncode == (1 if run.failures else 0), run.tail()


def test_http_and_websocket_publishing_are_compared_in_one_report(tmp_path: Path) -> None:
    run = run_scenario("http_vs_ws_publish", tmp_path, users=8, seconds=5)
    assert run.spawned == {
        "BothWaysSubscriber": 4,
        "WebSocketPublisher": 2,
        "HttpPublisher": 2,
    }, run.spawned
    ws, http = "/default/ws/room-{1..5}", "/default/http/room-{1..5}"
    publishes = {(kind, name): counts for (kind, name), counts in run.rows.items()}
    assert publishes[("publish", ws)][0] > 0 and publishes[("http_publish", http)][0] > 0
    assert ("publish", http) not in publishes and ("http_publish", ws) not in publishes
    latency = run.summary["latency"]
    assert set(latency["publish"]["templates"]) == {ws}, latency["publish"]
    assert set(latency["http_publish"]["templates"]) == {http}, latency["http_publish"]
    requests = run.summary["totals"]["requests"]
    assert requests["publish"]["count"] == publishes[("publish", ws)][0]
    assert requests["http_publish"]["count"] == publishes[("http_publish", http)][0]
    for template in (ws, http):
        assert latency["deliver"]["templates"][template]["count"] > 0, latency["deliver"]
        assert_fanned_out(templates(run)[template], 4, 2)
    assert run.failures == 0 and run.returncode == 0, run.tail()


def test_over_limit_events_fail_one_by_one_and_the_rest_arrive(tmp_path: Path) -> None:
    run = run_scenario("payload_sizes", tmp_path, users=7, seconds=5)
    assert run.spawned["SizesSubscriber"] == 2 and len(run.spawned) == 6, run.spawned
    for size in ("tiny", "1kb", "64kb", "240kb"):
        template = f"/default/{size}/ch-{{1..2}}"
        publishes, failed = run.row("publish", template)
        assert publishes > 0 and failed == 0, (template, run.rows)
        assert run.row("deliver", template)[0] > 0, (template, run.rows)
        assert_fanned_out(templates(run)[template], 2, 1)
    # One byte over 240 KB: each publish is answered with its event in ``failed``, a
    # failed publish naming it, never acknowledged, so expected of no subscriber.
    over = "/default/over-240kb/ch-{1..2}"
    publishes, failed = run.row("publish", over)
    assert publishes == failed > 0, run.rows
    too_large = (
        "PartialPublishFailure('publish failed: EventTooLargeException: 1 of 1 events "
        "refused; event 0: Transformed event is larger than 240KB')"
    )
    assert run.errors == [("publish", over, too_large, failed)], run.errors
    assert templates(run).get(over, {}).get("published", 0) == 0, templates(run)
    assert run.row("deliver", over) == (0, 0), run.rows
    assert no_harness_errors(run), run.tail()
    assert run.returncode == 1, run.tail()  # the over-limit publishes fail, as they must


# -- choosing a scenario ----------------------------------------------------------------


def test_every_scenario_is_known_by_name() -> None:
    assert scenario_names() == tuple(
        sorted((*FAULT_SCENARIOS, "throttled_publisher", *LOAD_SCENARIOS))
    )


@pytest.mark.parametrize("name", [*FAULT_SCENARIOS, "throttled_publisher"])
def test_the_locustfile_runs_a_fault_scenarios_users(name: str) -> None:
    listed = run_locust("--scenario", name, "--list", timeout_s=60_000 * MS)
    assert listed.returncode == 0, listed.stderr[-3000:]
    source = (SCENARIOS_DIR / f"{name}.py").read_text(encoding="utf-8")
    expected = set(re.findall(r"^class (\w+)\(users\.", source, re.MULTILINE))
    classes = set(re.findall(r"^\s+(\w+)$", listed.stdout, re.MULTILINE))
    assert classes == expected and expected, listed.stdout


@pytest.mark.parametrize("how", ["option", "environment"])
def test_an_unknown_scenario_stops_locust_listing_the_names(how: str) -> None:
    arguments = ["--headless", "-t", "1s"]
    if how == "option":
        done = run_locust("--scenario", "no_such_scenario", *arguments)
    else:
        env = {**locust_environment(), "LOCUST_SCENARIO": "no_such_scenario"}
        done = run_locust(*arguments, env=env)
    assert done.returncode == 2, done.stderr[-3000:]
    names = ", ".join(scenario_names())
    assert (
        f"invalid settings: --scenario: unknown scenario 'no_such_scenario'; choose one of {names}"
    ) in done.stderr
    assert "embedded AppSync Events emulator" not in done.stderr  # nothing started


def test_scenario_is_for_the_locustfile_not_a_scenario_file() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "locust", "-f", "scenarios/wildcard.py", "--headless", "-t", "1s",
         "--scenario", "wildcard"],
        cwd=ROOT, capture_output=True, text=True, timeout=60_000 * MS, env=locust_environment(),
    )  # fmt: skip
    assert done.returncode == 2, done.stderr[-3000:]
    assert "invalid settings: --scenario: is read by locustfile.py" in done.stderr
