"""Nothing wrong passes: ``locust -f locustfile.py --headless ...`` subprocesses (helpers
from ``test_locust_cli``) that lose a worker, lose events, cannot write their reports or
are interrupted at each phase, and the exit codes, summaries and console output they
give. docs/reliability.md lists these cases beside the faults they answer."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from support.client import port_closes, port_is_closed
from support.timing import MS
from test_locust_cli import emulator_port, read_until, run_locust, start_locust
from test_report_cli import (
    DISTRIBUTED_TIMEOUT_S,
    FIXED_FILES,
    emulator_stats,
    finished,
    headless,
    load_summary,
)

from harness.measure.verdict import EXIT_BAD_SETTINGS, EXIT_INCOMPLETE

REPORT_INTERVAL_S = 3.0
"""How often a Locust worker reports to its master."""


def locust_children(pid: int) -> list[int]:
    """The processes ``pid`` forked that run Locust (its workers; not the emulator)."""
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue  # gone meanwhile
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == pid and b"locust" in command:
            children.append(int(entry.name))
    return children


EMULATOR_UP = "embedded AppSync Events emulator at"


@dataclass
class Ended:
    returncode: int
    output: str
    """Everything the run printed."""


def run_interfered(
    arguments: list[str],
    interfere: Callable[[subprocess.Popen[str], str], object],
    *,
    after: str = EMULATOR_UP,
    timeout_s: float = 60_000 * MS,
) -> Ended:
    """Start Locust, read its output until a line holds ``after``, call ``interfere``
    with the process and that output, and wait (bounded) for the run to end."""
    process = start_locust(*arguments)
    try:
        seen = "".join(read_until(process, lambda line: after in line, 60_000 * MS))
        assert after in seen, seen[-3000:]
        interfere(process, seen)
        rest, _ = process.communicate(timeout=timeout_s)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    return Ended(process.returncode, seen + rest)


def wait_for_events(port: int, connections: int) -> None:
    """Until ``connections`` are open at the emulator and events are delivered."""
    deadline = time.monotonic() + 60_000 * MS
    stats = emulator_stats(port)
    while not (stats["connections"]["open"] >= connections and stats["deliveries"]["sent"] > 0):
        assert time.monotonic() < deadline, stats
        time.sleep(0.1)
        stats = emulator_stats(port)


# -- a lost worker -----------------------------------------------------------------------------


def test_a_worker_killed_mid_run_makes_the_run_incomplete(tmp_path: Path) -> None:
    """Two workers; one is SIGKILLed once it has reported: the run exits 5, names the lost
    worker first, and counts what its subscriptions never reported as unaccounted, not
    lost. (The same run without the kill: test_report_cli's distributed run, exit 0.)"""
    report = tmp_path / "report"

    def kill_a_worker(process: subprocess.Popen[str], seen: str) -> None:
        wait_for_events(emulator_port(seen), connections=10)
        time.sleep(REPORT_INTERVAL_S + 1_000 * MS)  # each worker has reported its users
        workers = locust_children(process.pid)
        assert len(workers) == 2, workers
        os.kill(workers[0], signal.SIGKILL)

    arguments = headless(
        "--processes", "2", "--channels", "/default/kill-{1..2}",
        "--report-dir", str(report), seconds=20, publish_rate=10,
    )  # fmt: skip
    ended = run_interfered(arguments, kill_a_worker, timeout_s=DISTRIBUTED_TIMEOUT_S)
    output = ended.output
    assert ended.returncode == EXIT_INCOMPLETE, output[-3000:]
    summary = load_summary(report)
    assert summary["verdict"]["exit_code"] == EXIT_INCOMPLETE
    workers_section = summary["workers"]
    assert (workers_section["count"], workers_section["final_reports"]) == (2, 1), workers_section
    (lost,) = workers_section["lost"]
    assert lost["users"] > 0 and lost["last_report_at"] and lost["missing_since"], lost
    overall = summary["delivery"]["overall"]
    assert overall["lost"] == 0 and overall["unaccounted"] > 0, overall
    assert summary["verdict"]["reasons"][0].startswith(f"incomplete: worker {lost['worker']}")
    # The console and the HTML report say so first.
    assert output.index("INCOMPLETE RUN") < output.index("Reconnect and retry policies")
    assert f"LOST {lost['worker']}" in output
    html = (report / "report.html").read_text()
    assert html.index("INCOMPLETE RUN") < html.index('<section id="run">')


# -- loss ----------------------------------------------------------------------------------------


def test_allow_loss_lets_a_lossy_run_pass(tmp_path: Path) -> None:
    """The lossy run of test_report_cli (exit 1 there), with --allow-loss: exit 0, the loss
    still counted and still shown as failed deliveries in Locust's table."""
    report = tmp_path / "report"
    result = run_locust(
        *headless(
            "--channels", "/default/allowed-{1..2}", "--allow-loss",
            "--emulator-args=--fault drop-deliveries:fraction=0.2 --seed 7",
            "--report-dir", str(report), publish_rate=10,
        )
    )  # fmt: skip
    output = finished(result)
    assert result.returncode == 0, output[-3000:]
    summary = load_summary(report)
    lost = summary["delivery"]["overall"]["lost"]
    assert lost > 0 and summary["verdict"] == {"exit_code": 0, "reasons": []}, summary["verdict"]
    assert summary["run"]["settings"]["allow_loss"] is True
    assert re.search(
        rf"^{lost}\s+deliver /default/allowed-\{{1\.\.2\}}: lost: the event never arrived",
        output,
        re.MULTILINE,
    ), output[-3000:]


# -- the report directory ----------------------------------------------------------------------


@pytest.mark.parametrize("where", ["below a file", "in /proc"])
def test_an_unwritable_report_dir_stops_the_run_before_any_user_starts(
    tmp_path: Path, where: str
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory\n")
    report = blocker / "report" if where == "below a file" else Path("/proc/harness-report")
    result = run_locust(*headless("--report-dir", str(report)))
    output = finished(result)
    assert result.returncode == EXIT_BAD_SETTINGS, output[-3000:]
    assert f"--report-dir: '{report}' cannot be written" in output, output[-3000:]
    assert "Ramping to" not in output, output[-3000:]
    assert not re.search(r"^connect\s", output, re.MULTILINE), output[-3000:]


def test_a_report_dir_broken_during_the_run_makes_it_exit_5(tmp_path: Path) -> None:
    """The directory was fine at the start, and is a regular file at the end (what a full
    or vanished disk looks like to the writer): the run exits 5 and says why."""
    report = tmp_path / "report"

    def break_the_directory(process: subprocess.Popen[str], seen: str) -> None:
        assert report.is_dir(), seen  # created by the check before the run
        report.rmdir()
        report.write_text("in the way\n")

    arguments = headless("--report-dir", str(report), seconds=6)
    ended = run_interfered(arguments, break_the_directory, after="All users spawned")
    output = ended.output
    assert ended.returncode == EXIT_INCOMPLETE, output[-3000:]
    assert f"cannot write the reports to {report}" in output
    assert f"incomplete: the reports could not be written to {report}" in output
    assert "Verdict: exit code 5" in output


# -- signals at each phase ---------------------------------------------------------------------


def complete_reports(report: Path) -> dict[str, object]:
    summary = load_summary(report)
    names = {path.name for path in report.iterdir()}
    assert names >= FIXED_FILES, names
    assert not [name for name in names if name.endswith(".tmp")], names  # written atomically
    return summary


@pytest.mark.parametrize("signal_number", [signal.SIGINT, signal.SIGTERM], ids=["INT", "TERM"])
def test_a_signal_during_ramp_up_still_writes_complete_reports(
    tmp_path: Path, signal_number: int
) -> None:
    """Ten users at two a second: the signal comes when the first have connected."""
    report = tmp_path / "report"

    def signal_once_connected(process: subprocess.Popen[str], seen: str) -> None:
        port = emulator_port(seen)
        deadline = time.monotonic() + 30_000 * MS
        while emulator_stats(port)["connections"]["open"] < 1:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        process.send_signal(signal_number)

    arguments = ["--headless", "-u", "10", "-r", "2", "-t", "60s", "--report-dir", str(report)]
    ended = run_interfered(arguments, signal_once_connected)
    summary: dict[str, dict[str, object]] = complete_reports(report)  # type: ignore[assignment]
    assert summary["run"]["interrupted"] is True, summary["run"]
    assert ended.returncode == summary["verdict"]["exit_code"], ended.output[-3000:]
    assert port_is_closed(emulator_port(ended.output))


@pytest.mark.parametrize("signal_number", [signal.SIGINT, signal.SIGTERM], ids=["INT", "TERM"])
def test_a_signal_while_the_run_shuts_down_still_writes_complete_reports(
    tmp_path: Path, signal_number: int
) -> None:
    """The -t limit is reached and the users unsubscribe, each answer held 2 s: the signal
    comes while they stop. The run still ends with every user checked and its reports."""
    report = tmp_path / "report"

    def signal_while_stopping(process: subprocess.Popen[str], seen: str) -> None:
        time.sleep(500 * MS)  # into the unsubscribes
        process.send_signal(signal_number)

    arguments = headless(
        "--report-dir", str(report),
        "--emulator-args=--fault delay-acks:ack=unsubscribe,delay=2s", seconds=4,
    )  # fmt: skip
    ended = run_interfered(arguments, signal_while_stopping, after="--run-time limit reached")
    output = ended.output
    summary: dict[str, dict[str, object]] = complete_reports(report)  # type: ignore[assignment]
    assert ended.returncode == summary["verdict"]["exit_code"], output[-3000:]
    cleanup: dict[str, int] = summary["resilience"]["cleanup"]  # type: ignore[assignment]
    assert cleanup["users_checked"] == 10, cleanup
    assert "Verdict: exit code" in output
    assert port_is_closed(emulator_port(output))


@pytest.mark.parametrize("signal_number", [signal.SIGINT, signal.SIGTERM], ids=["INT", "TERM"])
def test_a_second_signal_exits_at_once(tmp_path: Path, signal_number: int) -> None:
    """The first signal starts the run's end; the users' unsubscribes are held 5 s, so the
    end takes long; a second signal exits at once (128 + its number), without reports,
    and leaves no emulator behind."""
    report = tmp_path / "report"

    def signal_twice(process: subprocess.Popen[str], seen: str) -> None:
        wait_for_events(emulator_port(seen), connections=10)  # each user will unsubscribe
        process.send_signal(signal_number)
        time.sleep(500 * MS)
        process.send_signal(signal_number)

    arguments = headless(
        "--report-dir", str(report),
        "--emulator-args=--fault delay-acks:ack=unsubscribe,delay=5s", seconds=60,
    )  # fmt: skip
    ended = run_interfered(arguments, signal_twice, timeout_s=30_000 * MS)
    output = ended.output
    assert ended.returncode == 128 + signal_number, output[-3000:]
    assert f"{signal.Signals(signal_number).name} again: exiting at once" in output
    # It did not wait for the held unsubscribes: no user was checked, nothing written.
    assert "Cleanup:" not in output and "Verdict:" not in output, output[-3000:]
    assert not (report / "summary.json").exists()
    # The emulator was SIGKILLed without waiting (an exit at once): gone within moments.
    assert port_closes(emulator_port(output), within_s=2_000 * MS)
