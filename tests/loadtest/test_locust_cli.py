"""``locust -f locustfile.py ...`` as a user runs it: a subprocess, the embedded emulator."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
from support.client import free_port, port_is_closed
from support.timing import MS

ROOT = Path(__file__).resolve().parents[2]
EMULATOR_LINE = re.compile(r"embedded AppSync Events emulator at http://127\.0\.0\.1:(\d+)/event")
RUN_TIMEOUT_S = 90_000 * MS


def locust_command(*arguments: str) -> list[str]:
    return [sys.executable, "-m", "locust", "-f", "locustfile.py", *arguments]


def run_locust(
    *arguments: str, timeout_s: float = RUN_TIMEOUT_S, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        locust_command(*arguments),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        env=locust_environment() if env is None else env,
    )


def start_locust(*arguments: str) -> subprocess.Popen[str]:
    """Locust in the background, its output (stdout and stderr) on one pipe."""
    return subprocess.Popen(
        locust_command(*arguments),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=locust_environment(),
        # A shell's background job ignores SIGINT, and the child would inherit that.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def read_until(
    process: subprocess.Popen[str], stop: Callable[[str], object], timeout_s: float = 30
) -> list[str]:
    """The lines ``process`` prints up to the first one for which ``stop`` holds (or
    the end of its output, or ``timeout_s``)."""
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if stop(line):
            break
    return lines


def locust_environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOCUST_")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def emulator_port(output: str) -> int:
    match = EMULATOR_LINE.search(output)
    assert match, output[-3000:]
    return int(match.group(1))


def stats_rows(output: str) -> dict[str, tuple[int, int]]:
    """``request type -> (# reqs, # fails)`` from the last stats table Locust printed."""
    rows: dict[str, tuple[int, int]] = {}
    for match in re.finditer(r"^(\w+)\s+(\S+)\s+(\d+)\s+(\d+)\(", output, re.MULTILINE):
        rows[match.group(1)] = (int(match.group(3)), int(match.group(4)))
    return rows


def test_the_readme_headless_run_exits_cleanly_with_stats_for_every_request_type() -> None:
    readme = (ROOT / "README.md").read_text()
    command = "locust -f locustfile.py --headless -u 20 -r 20 -t 10s"
    assert command in readme

    result = run_locust("--headless", "-u", "20", "-r", "20", "-t", "10s")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    rows = stats_rows(output)
    for request_type in ("connect", "subscribe", "publish", "deliver", "unsubscribe"):
        assert request_type in rows, (request_type, output[-3000:])
        requests, failures = rows[request_type]
        assert requests > 0 and failures == 0, (request_type, rows)
    assert "Aggregated" in output
    assert "Response time percentiles" in output
    assert port_is_closed(emulator_port(output))


@pytest.mark.parametrize(
    ("arguments", "option"),
    [
        (["--auth-mode", "KERBEROS"], "--auth-mode"),
        (["--publish-rate", "0"], "--publish-rate"),
        (["--events-per-publish", "6"], "--events-per-publish"),
        (["--channels", "/default/bad_name"], "--channels"),
        (["--publish-via", "smoke-signals"], "--publish-via"),
        (["--payload-bytes", "-1"], "--payload-bytes"),
        (["--subscriptions-per-user", "201"], "--subscriptions-per-user"),
    ],
)
def test_a_bad_option_stops_before_anything_starts(arguments: list[str], option: str) -> None:
    result = run_locust("--headless", "-u", "1", "-t", "5s", *arguments, timeout_s=30)
    assert result.returncode == 2
    assert f"argument {option}:" in result.stderr
    assert "embedded AppSync Events emulator" not in result.stderr


@pytest.mark.parametrize(
    ("arguments", "option"),
    [
        (["--host", "https://api.example.com/event"], "--api-key"),
        (["--host", "https://api.example.com/event", "--auth-mode", "AWS_LAMBDA"], "--auth-token"),
        (["--host", "https://api.example.com/graphql"], "--host"),
        (["--wildcard-subscriptions", "1", "--channels", "/{a,b}/c"], "--wildcard-subscriptions"),
        (
            ["--subscriptions-per-user", "200", "--wildcard-subscriptions", "1"],
            "--subscriptions-per-user",
        ),
        (
            ["--host", "https://api.example.com/event", "--api-key", "k", "--emulator-bind", "::1"],
            "--emulator-bind",
        ),
    ],
)
def test_a_bad_combination_stops_before_any_user_starts(arguments: list[str], option: str) -> None:
    result = run_locust("--headless", "-u", "1", "-t", "5s", *arguments, timeout_s=30)
    assert result.returncode == 2, result.stderr[-2000:]
    assert f"invalid settings: {option}:" in result.stderr
    assert "Ramping to" not in result.stderr


def test_missing_aws_credentials_stop_before_any_user_starts(tmp_path: Path) -> None:
    """The authorizer is built once at the start: credentials that cannot be loaded stop
    the run there, not in every user."""
    env = {k: v for k, v in locust_environment().items() if not k.startswith("AWS_")}
    env["AWS_SHARED_CREDENTIALS_FILE"] = str(tmp_path / "no-credentials")
    env["AWS_CONFIG_FILE"] = str(tmp_path / "no-config")
    host = "https://abcdefghijklmnopqrstuvwxyz.appsync-api.eu-west-2.amazonaws.com/event"
    arguments = ["--host", host, "--auth-mode", "AWS_IAM", "--aws-profile", "no-such-profile"]
    result = run_locust("--headless", "-u", "1", "-t", "5s", *arguments, env=env, timeout_s=30)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "invalid settings: " in result.stderr
    assert "'no-such-profile' was not found" in result.stderr
    assert "Ramping to" not in result.stderr


def test_emulator_args_reach_the_embedded_emulator() -> None:
    """--emulator-args=--tls: the embedded emulator serves https:// and wss://, and the
    users trust its CA."""
    result = run_locust("--headless", "-u", "2", "-r", "2", "-t", "3s", "--emulator-args=--tls")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    match = re.search(
        r"embedded AppSync Events emulator at https://127\.0\.0\.1:(\d+)/event", output
    )
    assert match, output[-3000:]
    rows = stats_rows(output)
    assert rows["connect"][0] == 2 and rows["connect"][1] == 0, rows
    assert all(failures == 0 for _, failures in rows.values()), rows
    assert port_is_closed(int(match.group(1)))


def test_emulator_bind_sets_the_embedded_emulators_address() -> None:
    """Another loopback address and a port of our choosing: the emulator's URL carries
    them, and a loopback address draws no warning (docs/distributed.md)."""
    port = free_port()
    result = run_locust(
        "--headless", "-u", "2", "-r", "2", "-t", "2s", "--emulator-bind", f"127.0.0.2:{port}"
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert f"embedded AppSync Events emulator at http://127.0.0.2:{port}/event" in output
    assert "reachable from the network" not in output
    assert stats_rows(output)["connect"] == (2, 0), output[-3000:]


def test_options_come_from_environment_variables() -> None:
    env = locust_environment()
    env["LOCUST_PUBLISH_VIA"] = "http"
    env["LOCUST_CHANNELS"] = "/default/from-env-{1..3}"
    result = run_locust("--headless", "-u", "4", "-r", "4", "-t", "3s", env=env)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert "http_publish /default/from-env-{1..3}" in re.sub(r" +", " ", output)


@pytest.mark.parametrize("signal_number", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_run_stops_the_embedded_emulator(signal_number: int) -> None:
    process = start_locust("--headless", "-u", "10", "-r", "10", "-t", "60s")
    seen = read_until(process, lambda line: "All users spawned" in line)
    time.sleep(1.0)
    process.send_signal(signal_number)
    try:
        rest, _ = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        raise
    output = "".join(seen) + rest
    assert process.returncode in (0, 1), output[-3000:]
    assert "embedded emulator stopped" in output
    assert port_is_closed(emulator_port(output))
    assert re.search(r"^unsubscribe\s", output, re.MULTILINE), output[-3000:]


def test_a_distributed_run_shares_the_masters_emulator() -> None:
    result = run_locust(
        "--headless",
        "--processes",
        "2",
        "-u",
        "6",
        "-r",
        "6",
        "-t",
        "4s",
        "--channels",
        "/default/shared",
        timeout_s=120,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert len(EMULATOR_LINE.findall(output)) == 1
    rows = stats_rows(output)
    # Four subscribers and a PubSubUser, spread over two workers, all on one channel:
    # events published in one worker process are delivered in the other.
    assert rows["publish"][0] > 0, rows
    assert rows["deliver"][0] >= 4 * rows["publish"][0] and rows["deliver"][1] == 0, rows
    assert rows["connect"] == (6, 0), rows
    assert port_is_closed(emulator_port(output))


def test_a_distributed_run_merges_the_workers_resilience_figures(tmp_path: Path) -> None:
    """Two workers lose every connection 2 s in: the master's resilience.json counts
    the losses, recoveries and cleanup checks of both, from their final reports."""
    result = run_locust(
        "--headless",
        "--processes",
        "2",
        "-u",
        "6",
        "-r",
        "6",
        "-t",
        "5s",
        "--emulator-args=--fault disconnect-all:after=2s",
        "--reconnect-policy",
        "full-jitter:base=300ms,cap=2s",
        "--report-dir",
        str(tmp_path),
        timeout_s=120,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    summary = json.loads((tmp_path / "resilience.json").read_text())
    (policy,) = summary["policies"]
    assert (policy["losses"], policy["recoveries"], policy["conformance"]) == (6, 6, 1.0)
    workers = json.loads((tmp_path / "summary.json").read_text())["workers"]
    assert (workers["count"], workers["final_reports"], workers["lost"]) == (2, 2, [])
    assert summary["cleanup"]["users_checked"] == 6 and summary["cleanup"]["leaks"] == 0
    assert summary["server"]["open_connections"] == 0
    assert "Reconnect and retry policies" in result.stdout


def test_a_killed_locust_leaves_no_emulator_behind() -> None:
    process = start_locust("--headless", "-u", "2", "-r", "2", "-t", "60s")
    port = emulator_port("".join(read_until(process, EMULATOR_LINE.search)))
    assert not port_is_closed(port)
    process.kill()
    process.communicate(timeout=30)
    deadline = time.monotonic() + 10_000 * MS
    while not port_is_closed(port) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert port_is_closed(port)


def test_a_headless_run_serves_its_live_figures_on_the_prometheus_port(tmp_path: Path) -> None:
    """``--prometheus-port``: /metrics answers while the run goes on (parsed with
    prometheus_client's parser), and its figures grow; the run's summary.json is
    written as usual."""
    from prometheus_client.parser import text_string_to_metric_families

    port = free_port()
    report_dir = tmp_path / "reports"
    process = start_locust(
        "--headless", "-u", "6", "-r", "6", "-t", "8s",
        "--prometheus-port", str(port), "--report-dir", str(report_dir),
    )  # fmt: skip
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback only

    def published() -> float:
        try:
            with opener.open(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
                text = answer.read().decode()
        except OSError:
            return -1.0
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == "appsync_harness_events_published_total" and sample.labels == {
                    "template": "(all)"
                }:
                    return sample.value
        return 0.0

    try:
        seen: list[float] = []
        deadline = time.monotonic() + 20_000 * MS
        while time.monotonic() < deadline and process.poll() is None:
            value = published()
            if value > 0 and (not seen or value > seen[-1]):
                seen.append(value)
            if len(seen) >= 2:
                break
            time.sleep(0.5)
        assert len(seen) >= 2, seen  # two different, growing counts while it ran
        output, _ = process.communicate(timeout=RUN_TIMEOUT_S)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, output[-3000:]
    assert f"Prometheus metrics at http://127.0.0.1:{port}/metrics" in output
    summary = json.loads((report_dir / "summary.json").read_text())
    assert summary["totals"]["events"]["published"] >= seen[-1]
    assert port_is_closed(port)


def test_a_prometheus_port_in_use_stops_before_anything_starts() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_locust("--headless", "-u", "1", "-t", "5s", "--prometheus-port", str(port))
    assert result.returncode == 2, result.stderr[-2000:]
    assert f"invalid settings: --prometheus-port: cannot listen on 127.0.0.1:{port}" in (
        result.stderr
    )
    assert "Ramping to" not in result.stderr
