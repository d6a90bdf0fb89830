"""Soak benchmark: does the memory of a long, steady load test stop growing after warm-up?

Run from the project root with the project installed::

    python bench/bench_soak.py [--minutes 4] [--users 150] [--publish-rate 3] [--json PATH]

It runs the project's own load test, ``locust -f locustfile.py --headless -u N -r N``
against the embedded emulator (no ``--host``: the harness starts it on 127.0.0.1), with
subscribers, publishers and pub/sub users on ``--channels``, for ``--minutes``. Every
``--interval`` seconds it samples the RSS (``/proc/<pid>/status``) of the load generator
(the Locust process tree without the emulator) and, separately, of the emulator (the child
started as ``python -m harness.emulator``), and the emulator's counters (its admin API).
Then it stops Locust with SIGTERM, as Ctrl-C would, and reads the harness's
``summary.json``. Per process: RSS at the end of the warm-up, at the end and the peak, the
growth after the warm-up (MiB and MiB per minute, a least-squares slope), and end / warm-up;
the events delivered, by the harness's count and by the emulator's. bench/README.md says
more.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

import bench_support as support
from bench_support import BenchError, json_safe, number, positive_float, positive_int

from harness.emulator.admin_client import AdminClient, AdminError

ROOT = Path(__file__).resolve().parent.parent
LOCUSTFILE = ROOT / "locustfile.py"
RUN_ID = "bench-soak"
DEFAULT_MINUTES = 4.0
DEFAULT_USERS = 150
DEFAULT_CHANNELS = "/default/soak-{1..20}"
DEFAULT_PUBLISH_RATE = 3.0
DEFAULT_INTERVAL_S = 2.0
WARMUP_SHARE = 0.2  # the warm-up: this share of the run, or WARMUP_MIN_S if longer,
WARMUP_MIN_S = 30.0
WARMUP_MAX_S = 120.0  # but at most this, and at most half the run
PROGRESS_S = 20.0
FLAT_SHARE = 0.02  # growth after the warm-up under this share of the RSS (or FLAT_MIN_MIB) is flat
FLAT_MIN_MIB = 1.0

START_TIMEOUT_S = 60.0  # from launch to the emulator's address in Locust's log
STOP_TIMEOUT_S = 60.0  # from SIGTERM to Locust's exit (it writes its reports)
KILL_TIMEOUT_S = 10.0
RUN_TIME_MARGIN_S = 60.0  # Locust's own --run-time, a backstop only
STOP_STATS_POLL_S = 0.02  # the emulator's counters while Locust stops
STOP_RSS_POLL_S = 0.2  # the generator's RSS while Locust stops
EMULATOR_LINE = re.compile(r"embedded AppSync Events emulator at (\S+)")
GENERATOR, EMULATOR = "generator", "emulator"


def progress(text: str) -> None:
    print(f"bench_soak: {text}", file=sys.stderr, flush=True)


# --- The Locust process tree ----------------------------------------------------------


def is_emulator(arguments: Sequence[str]) -> bool:
    """``python -m harness.emulator ...``: how the harness starts its embedded emulator
    (harness.emulator.process.EmulatorProcess.start)."""
    return any(
        first == "-m" and second == "harness.emulator"
        for first, second in itertools.pairwise(arguments)
    )


@dataclass
class Sample:
    """One reading: seconds since the load started, RSS of each side, the emulator's counts
    (None when its admin API did not answer)."""

    t: float
    generator_kib: int
    emulator_kib: int
    generator_processes: int
    delivered: int | None = None
    published: int | None = None
    open_connections: int | None = None


@dataclass
class LocustRun:
    """``locust -f locustfile.py --headless`` in a session of its own, its output in files."""

    process: subprocess.Popen[bytes]
    output: IO[bytes]
    report_dir: Path
    emulator_pid: int | None = None
    admin: AdminClient | None = None
    roles: dict[int, str] = field(default_factory=dict)  # pid to GENERATOR or EMULATOR

    @classmethod
    def launch(cls, args: argparse.Namespace, workdir: Path) -> LocustRun:
        report_dir = workdir / "reports"
        run_time_s = args.minutes * 60 + RUN_TIME_MARGIN_S
        users = str(args.users)
        command = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless"]
        command += ["-u", users, "-r", users, "-t", f"{run_time_s:.0f}s", "--only-summary"]
        command += ["--channels", args.channels, "--publish-rate", f"{args.publish_rate:g}"]
        command += ["--report-dir", str(report_dir), "--run-id", RUN_ID]
        if args.processes:
            command += ["--processes", str(args.processes)]
        output = tempfile.TemporaryFile()  # noqa: SIM115 (closed by close())
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=output,
            cwd=ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            start_new_session=True,  # Ctrl-C reaches this process only; it stops the group
            preexec_fn=support.die_with_parent,
        )
        return cls(process, output, report_dir)

    def said(self, limit: int = 3000) -> str:
        self.output.flush()
        self.output.seek(0)
        text = self.output.read().decode("utf-8", "replace")
        return text[-limit:] or "(nothing)"

    def exited(self, what: str) -> BenchError:
        return BenchError(
            f"Locust exited ({self.process.returncode}) {what}; its output ends:\n{self.said()}"
        )

    def find_emulator(self) -> None:
        """Wait for the embedded emulator: its process in the tree, its address in the log."""
        deadline = time.monotonic() + START_TIMEOUT_S
        url = None
        while True:
            if self.process.poll() is not None:
                raise self.exited("before its emulator was up")
            self.classify()
            if url is None and (match := EMULATOR_LINE.search(self.said(limit=1 << 20))):
                url = match.group(1)
            if url is not None and self.emulator_pid is not None:
                break
            if time.monotonic() > deadline:
                raise BenchError(
                    f"no embedded emulator within {START_TIMEOUT_S:g} s (process found: "
                    f"{self.emulator_pid is not None}, address logged: {url is not None}); "
                    f"Locust's output ends:\n{self.said()}"
                )
            time.sleep(0.1)
        parts = urlsplit(url)  # its admin API is on its port, under /_emulator/
        self.admin = AdminClient(f"{parts.scheme}://{parts.netloc}/_emulator/")

    def classify(self) -> list[int]:
        """The tree's live pids; new ones are classed as generator or emulator (the emulator
        and any process under it)."""
        pids = support.process_tree(self.process.pid)
        for pid in pids:
            # Looked at again until it is the emulator: a child just forked still shows
            # Locust's command line until it runs the emulator's.
            if self.roles.get(pid) != EMULATOR:
                arguments = support.cmdline(pid)
                if is_emulator(arguments):
                    self.roles[pid] = EMULATOR
                    self.emulator_pid = self.emulator_pid or pid
                elif arguments:  # a zombie has none: class it once it is readable
                    self.roles[pid] = GENERATOR
        if self.emulator_pid is not None:
            for pid in support.process_tree(self.emulator_pid):
                self.roles[pid] = EMULATOR
        return pids

    def emulator_stats(self) -> dict[str, Any] | None:
        if self.admin is None:
            return None
        try:
            return self.admin.stats(attempts_since=1 << 62)  # no connection attempts listed
        except AdminError:
            return None

    def sample(self, t: float) -> Sample:
        pids = self.classify()
        generator = [pid for pid in pids if self.roles.get(pid) == GENERATOR]
        emulator = [pid for pid in pids if self.roles.get(pid) == EMULATOR]
        sample = Sample(
            t, support.tree_rss_kib(generator), support.tree_rss_kib(emulator), len(generator)
        )
        stats = self.emulator_stats()
        if stats is not None:
            sample.delivered = int(stats["deliveries"]["sent"])
            sample.published = int(stats["publishes"]["events"])
            sample.open_connections = int(stats["connections"]["open"])
        return sample

    def stop(self) -> tuple[int, dict[str, Any] | None, int]:
        """SIGTERM, as Ctrl-C would end it: the users stop, the harness writes its reports,
        then stops the emulator. Meanwhile the emulator's counters are read until it is gone
        (the last reading has every delivery) and the generator's RSS is polled. Returns the
        exit status, the last counters and the generator's peak RSS while stopping (KiB)."""
        self.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        last, peak_kib, next_rss = None, 0, 0.0
        while self.process.poll() is None:
            now = time.monotonic()
            if now > deadline:
                raise BenchError(
                    f"Locust still running {STOP_TIMEOUT_S:g} s after SIGTERM; its output "
                    f"ends:\n{self.said()}"
                )
            if now >= next_rss:
                next_rss = now + STOP_RSS_POLL_S
                pids = self.classify()
                generator = [pid for pid in pids if self.roles.get(pid) == GENERATOR]
                peak_kib = max(peak_kib, support.tree_rss_kib(generator))
            # The emulator is stopped a moment after the users' last close (the harness
            # writes its reports in between): poll often, to read its counts once all closed.
            if last is None or last["connections"]["open"] or last["subscriptions"]["live"]:
                last = self.emulator_stats() or last
            time.sleep(STOP_STATS_POLL_S)
        return self.process.returncode, last, peak_kib

    def close(self) -> None:
        """Leave nothing behind: SIGTERM to the whole group, then SIGKILL."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(KILL_TIMEOUT_S)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)  # what is left of the group, if any
        if self.process.poll() is None:
            self.process.wait(KILL_TIMEOUT_S)
        self.output.close()


# --- The run --------------------------------------------------------------------------


def warmup_s(args: argparse.Namespace) -> float:
    duration = float(args.minutes) * 60
    if args.warmup is not None:
        if args.warmup >= duration:
            raise BenchError(f"--warmup {args.warmup:g} s is not shorter than the run")
        return float(args.warmup)
    return min(max(WARMUP_MIN_S, WARMUP_SHARE * duration), WARMUP_MAX_S, duration / 2)


def run(args: argparse.Namespace) -> dict[str, Any]:
    duration_s = args.minutes * 60
    warmup = warmup_s(args)
    with tempfile.TemporaryDirectory(prefix="bench-soak-") as workdir:
        locust = LocustRun.launch(args, Path(workdir))
        try:
            locust.find_emulator()
            started = time.monotonic()
            samples: list[Sample] = []
            ramp_s = None
            next_progress = PROGRESS_S
            for index in range(int(duration_s / args.interval) + 2):  # bounded: one per tick
                at = min(index * args.interval, duration_s)
                time.sleep(max(0.0, started + at - time.monotonic()))
                if locust.process.poll() is not None:
                    raise locust.exited(f"{at:.0f} s into the load")
                sample = locust.sample(time.monotonic() - started)
                samples.append(sample)
                if ramp_s is None and (sample.open_connections or 0) >= args.users:
                    ramp_s = sample.t
                if args.progress and sample.t >= next_progress:
                    next_progress += PROGRESS_S
                    progress(progress_line(sample, duration_s, warmup))
                if at >= duration_s:
                    break
            status, final_stats, stopping_peak_kib = locust.stop()
            summary = read_summary(locust)
        finally:
            locust.close()
    return figures(args, samples, warmup, ramp_s, status, final_stats, stopping_peak_kib, summary)


def progress_line(sample: Sample, duration_s: float, warmup: float) -> str:
    phase = "warm-up" if sample.t < warmup else "measuring"
    counts = ""
    if sample.delivered is not None and sample.t > 0:
        counts = (
            f", {sample.delivered:,} delivered by the emulator "
            f"({sample.delivered / sample.t:,.0f}/s)"
        )
    return (
        f"{sample.t:.0f} of {duration_s:.0f} s ({phase}): generator "
        f"{sample.generator_kib / 1024:.1f} MiB, emulator {sample.emulator_kib / 1024:.1f} MiB"
        f"{counts}"
    )


def read_summary(locust: LocustRun) -> dict[str, Any]:
    path = locust.report_dir / "summary.json"
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BenchError(
            f"no summary.json ({exc}); Locust's output ends:\n{locust.said()}"
        ) from None
    if not isinstance(value, dict):
        raise BenchError("summary.json is not a JSON object")
    return value


# --- Figures --------------------------------------------------------------------------


def slope_per_s(points: Sequence[tuple[float, float]]) -> float:
    """Least-squares slope of ``(x, y)`` points; NaN with fewer than two distinct x."""
    if len(points) < 2:
        return float("nan")
    mean_x = sum(x for x, _ in points) / len(points)
    mean_y = sum(y for _, y in points) / len(points)
    spread = sum((x - mean_x) ** 2 for x, _ in points)
    if spread == 0:
        return float("nan")
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / spread


def memory_figures(samples: Sequence[Sample], side: str, warmup: float) -> dict[str, Any]:
    """One side's RSS after the warm-up: at its end, at the end of the run, the peak, the
    growth and its slope (over every sample after the warm-up, and over their second half),
    end / warm-up; and whether it is flat."""
    kib = f"{side}_kib"
    series = [(s.t, getattr(s, kib) / 1024) for s in samples]  # MiB
    after = [(t, mib) for t, mib in series if t >= warmup]
    if len(after) < 2:
        raise BenchError(
            f"{len(after)} sample(s) after the warm-up of {warmup:g} s: make the run longer "
            "or --interval shorter"
        )
    at_warmup, at_end = after[0][1], after[-1][1]
    slope = slope_per_s(after) * 60
    late = after[len(after) // 2 :]
    late_slope = slope_per_s(late) * 60
    fitted_growth = slope * (after[-1][0] - after[0][0]) / 60
    limit = max(FLAT_MIN_MIB, FLAT_SHARE * at_warmup)
    return {
        "warmup_s": after[0][0],
        "start_mib": series[0][1],
        "at_warmup_mib": at_warmup,
        "at_end_mib": at_end,
        "peak_mib": max(mib for _, mib in series),
        "growth_mib": at_end - at_warmup,
        "growth_mib_per_min": slope,
        "late_growth_mib_per_min": late_slope,
        "fitted_growth_mib": fitted_growth,
        "end_over_warmup": support.ratio(at_end, at_warmup),
        "flat_limit_mib": limit,
        "flat": fitted_growth < limit,
    }


def figures(
    args: argparse.Namespace,
    samples: Sequence[Sample],
    warmup: float,
    ramp_s: float | None,
    status: int,
    final_stats: dict[str, Any] | None,
    stopping_peak_kib: int,
    summary: dict[str, Any],
) -> dict[str, Any]:
    duration = samples[-1].t
    events = summary["totals"]["events"]
    memory = {side: memory_figures(samples, side, warmup) for side in (GENERATOR, EMULATOR)}
    emulator_counts = None
    if final_stats is not None:
        emulator_counts = {
            "published": int(final_stats["publishes"]["events"]),
            "delivered": int(final_stats["deliveries"]["sent"]),
            "dropped": int(final_stats["deliveries"]["dropped"]),
            "overflowed": int(final_stats["deliveries"]["overflowed"]),
            "throttled": int(final_stats["publishes"]["throttled"]),
            "disconnects": dict(final_stats["connections"]["disconnects"]),
            "open_connections": int(final_stats["connections"]["open"]),
        }
    # the work done after the warm-up, by the emulator's counters (sampled with the RSS)
    first = next(s for s in samples if s.t >= warmup)
    last = samples[-1]
    work: dict[str, int | None] = {"delivered": None, "published": None}
    if None not in (first.delivered, last.delivered, first.published, last.published):
        work = {
            "delivered": (last.delivered or 0) - (first.delivered or 0),
            "published": (last.published or 0) - (first.published or 0),
        }
    per_delivery = {
        side: (
            memory[side]["fitted_growth_mib"] * 1024 * 1024 / work["delivered"]
            if work["delivered"]
            else float("nan")
        )
        for side in memory
    }
    result = {
        "duration_s": duration,
        "warmup_s": warmup,
        "ramp_s": ramp_s,
        "interval_s": args.interval,
        "samples_after_warmup": sum(1 for s in samples if s.t >= warmup),
        "exit_code": status,
        "memory": memory,
        "generator_peak_while_stopping_mib": stopping_peak_kib / 1024,
        "harness": {
            "published": events["published"],
            "delivered": events["delivered"],
            "lost": events["lost"],
            "duplicated": events["duplicated"],
            "failures": {
                kind: count["failures"]
                for kind, count in summary["totals"]["requests"].items()
                if count["failures"]
            },
            "deliveries_per_s": events["delivered"] / duration if duration else float("nan"),
        },
        "emulator": emulator_counts,
        "after_warmup": {**work, "fitted_bytes_per_delivery": per_delivery},
        "generator_processes": max(s.generator_processes for s in samples),
        "users": args.users,
        "samples": [asdict(s) for s in samples],
    }
    result["warnings"] = warnings(result)
    return result


def warnings(result: dict[str, Any]) -> list[str]:
    """What makes the figures doubtful: failures, lost events, counts that disagree."""
    found = []
    harness, emulator = result["harness"], result["emulator"]
    if result["exit_code"]:
        found.append(f"Locust exited with status {result['exit_code']} (the harness's verdict)")
    found += [f"{kind} failures: {count:,}" for kind, count in harness["failures"].items()]
    for kind in ("lost", "duplicated"):
        if harness[kind]:
            found.append(f"events {kind}: {harness[kind]:,}")
    if result["ramp_s"] is None:
        found.append("the emulator never held a connection per user")
    if emulator is None:
        found.append("the emulator's counters could not be read: no independent count")
        return found
    if emulator["open_connections"]:
        found.append(
            f"the emulator's last reading still had {emulator['open_connections']} open "
            "connections: its count may miss the last deliveries"
        )
    if emulator["delivered"] != harness["delivered"]:
        found.append(
            f"events delivered: the harness counted {harness['delivered']:,}, the emulator "
            f"{emulator['delivered']:,}"
        )
    # A publish still in flight when its user stops is not counted by the harness (its answer
    # never arrives): the emulator may count up to one more event per (publishing) user.
    in_flight = emulator["published"] - harness["published"]
    if not 0 <= in_flight <= result["users"]:
        found.append(
            f"events published: the harness counted {harness['published']:,}, the emulator "
            f"{emulator['published']:,}"
        )
    for kind in ("dropped", "overflowed", "throttled"):
        if emulator[kind]:
            found.append(f"emulator {kind}: {emulator[kind]:,}")
    for reason, count in emulator["disconnects"].items():
        found.append(f"emulator disconnects ({reason}): {count:,}")
    return found


# --- Report ---------------------------------------------------------------------------

NOTE = (
    "How it was measured: 'generator' is the Locust process tree (with --processes, the master "
    "and its workers) without the emulator, 'emulator' the embedded emulator the harness started "
    "(python -m harness.emulator); RSS is VmRSS from /proc/<pid>/status, summed over each side's "
    "processes, sampled every --interval seconds from the start of the load (MiB = 2^20 bytes). "
    "'at warm-up' is the first sample after the warm-up, 'at end' the last before Locust was "
    "stopped, 'peak' the highest sample under load. 'growth' is at end - at warm-up; 'MiB/min' "
    "the least-squares slope over every sample after the warm-up, 'late MiB/min' over their "
    "second half (a slope that falls towards 0 is memory levelling off). 'flat' when the fitted "
    f"growth after the warm-up (slope x time) is under {FLAT_SHARE:.0%} of the RSS at warm-up "
    f"or {FLAT_MIN_MIB:g} MiB, whichever is larger. Delivered counts: the harness's summary.json "
    "(totals.events) and the emulator's admin stats (deliveries sent), read until it stopped."
)


def print_report(result: dict[str, Any], args: argparse.Namespace) -> None:
    harness, emulator = result["harness"], result["emulator"]
    print(
        f"locust -f locustfile.py --headless -u {args.users} -r {args.users}"
        f"{f' --processes {args.processes}' if args.processes else ''} --channels "
        f"'{args.channels}' --publish-rate {args.publish_rate:g}, embedded emulator; "
        f"{result['duration_s']:.0f} s of load, warm-up {result['warmup_s']:.0f} s, a sample "
        f"every {args.interval:g} s ({result['samples_after_warmup']} after the warm-up)"
    )
    print()
    rows = []
    for side, m in result["memory"].items():
        rows.append(
            [
                side,
                f"{m['at_warmup_mib']:.1f}",
                f"{m['at_end_mib']:.1f}",
                f"{m['peak_mib']:.1f}",
                f"{m['growth_mib']:+.1f}",
                number(m["growth_mib_per_min"], "+.2f"),
                number(m["late_growth_mib_per_min"], "+.2f"),
                f"{m['end_over_warmup']:.3f}",
                "yes" if m["flat"] else "no",
            ]
        )
    names = ["process", "at warm-up MiB", "at end MiB", "peak MiB", "growth MiB", "MiB/min"]
    names += ["late MiB/min", "end / warm-up", "flat"]
    support.print_table(names, rows)
    print()
    emulator_delivered = f"{emulator['delivered']:,}" if emulator else "n/a"
    emulator_published = f"{emulator['published']:,}" if emulator else "n/a"
    print(
        f"delivered: {harness['delivered']:,} events by the harness's count "
        f"({harness['deliveries_per_s']:,.0f}/s), {emulator_delivered} sent by the emulator; "
        f"published: {harness['published']:,} / {emulator_published}"
    )
    after = result["after_warmup"]
    if after["delivered"]:
        per = after["fitted_bytes_per_delivery"]
        print(
            f"after the warm-up: {after['delivered']:,} deliveries, {after['published']:,} "
            f"events published; fitted growth per delivery: generator "
            f"{number(per[GENERATOR], '.1f')} bytes, emulator {number(per[EMULATOR], '.1f')} bytes"
        )
    print(
        f"generator's peak RSS while stopping (the end of the run: summary, reports): "
        f"{result['generator_peak_while_stopping_mib']:.1f} MiB"
    )
    verdicts = [
        f"{side} {'flat' if m['flat'] else 'still growing'}" for side, m in result["memory"].items()
    ]
    print(f"after the warm-up: {', '.join(verdicts)}")
    print()
    print(textwrap.fill(NOTE, width=100))
    for warning in result["warnings"]:
        print(f"warning: {warning}", file=sys.stderr)


# --- Main -----------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    add = parser.add_argument
    add(
        "--minutes",
        type=positive_float,
        default=DEFAULT_MINUTES,
        metavar="M",
        help=f"length of the load, from the emulator's start (default: {DEFAULT_MINUTES:g})",
    )
    add(
        "--users",
        type=positive_int,
        default=DEFAULT_USERS,
        metavar="N",
        help=f"Locust users (-u and -r), weighted 3 Subscriber : 1 Publisher : 1 PubSubUser "
        f"(default: {DEFAULT_USERS})",
    )
    add(
        "--channels",
        default=DEFAULT_CHANNELS,
        metavar="TEMPLATE",
        help=f"the harness's --channels (default: {DEFAULT_CHANNELS})",
    )
    add(
        "--publish-rate",
        type=positive_float,
        default=DEFAULT_PUBLISH_RATE,
        metavar="R",
        help=f"events per second per publishing user (default: {DEFAULT_PUBLISH_RATE:g})",
    )
    add(
        "--processes",
        type=positive_int,
        default=None,
        metavar="P",
        help="Locust's --processes: a master and P workers (default: one local process)",
    )
    add(
        "--interval",
        type=positive_float,
        default=DEFAULT_INTERVAL_S,
        metavar="S",
        help=f"seconds between two samples (default: {DEFAULT_INTERVAL_S:g})",
    )
    add(
        "--warmup",
        type=positive_float,
        default=None,
        metavar="S",
        help=f"seconds of warm-up (default: {WARMUP_SHARE * 100:.0f}%% of the run or "
        f"{WARMUP_MIN_S:g} s, whichever is longer, at most {WARMUP_MAX_S:g} s and half the run)",
    )
    add("--json", metavar="PATH", help="also write the figures and every sample to PATH")
    add("--no-progress", dest="progress", action="store_false", help="no progress lines")
    args = parser.parse_args(argv)

    support.exit_on_sigterm()
    head = f"{support.header(('locust', 'gevent', 'websockets', 'aiohttp'))}, load average "
    head += f"{os.getloadavg()[0]:.1f}"
    print(head, flush=True)
    try:
        warmup_s(args)  # a bad --warmup stops the run before it starts
        result = run(args)
    except BenchError as exc:
        print(f"bench_soak: failed: {exc}", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, support.Terminated):
        print("bench_soak: interrupted; child processes stopped", file=sys.stderr)
        return 130
    print_report(result, args)
    if args.json:
        settings = {key: value for key, value in vars(args).items() if key != "json"}
        document = {"benchmark": "bench_soak", "machine": head, "settings": settings, **result}
        with open(args.json, "w", encoding="utf-8") as file:
            json.dump(json_safe(document), file, indent=1)
            file.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
