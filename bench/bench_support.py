"""What the benchmarks share: the emulator's test credentials and channel, a process's (and
a process tree's) figures from /proc, CPU pinning, child processes, the open-files limit, and
the report's header, table and JSON. Neither gevent nor asyncio here: bench_client.py runs under
the one, bench_emulator.py under the other."""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import json
import os
import platform
import resource
import select
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from typing import IO, Any, NoReturn

from harness.emulator import defaults
from harness.protocol import MAX_EVENTS_PER_REQUEST, compact_json
from harness.signing import AuthMode, Authorizer, make_authorizer

CHANNEL = "/default/bench"
EVENTS_PER_PUBLISH = MAX_EVENTS_PER_REQUEST
DATA_PREFIX = b'{"type":"data"'
WARMUP_CONNECTIONS = 16  # opened before the "before" RSS, so one-time costs stay out
SETTLE_S = 0.3
RSS_SAMPLES = 3
CLK_TCK = os.sysconf("SC_CLK_TCK")
STOP_TIMEOUT_S = 10.0


class BenchError(Exception):
    """The benchmark cannot produce figures; the message says why."""


def emulator_authorizer(http_host: str) -> Authorizer:
    return make_authorizer(AuthMode.API_KEY, http_host, api_key=defaults.DEFAULT_API_KEY)


def publish_body(events: Sequence[str]) -> bytes:
    return compact_json({"channel": CHANNEL, "events": list(events)}).encode("utf-8")


# --- A process's figures from /proc (pid "self": this process) -----------------------


def read_proc(pid: int | str, name: str) -> str:
    try:
        with open(f"/proc/{pid}/{name}", encoding="ascii") as file:
            return file.read()
    except FileNotFoundError:
        raise BenchError(f"process {pid} is gone") from None


def rss_kib(pid: int | str = "self") -> int:
    for line in read_proc(pid, "status").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise BenchError(f"process {pid} has no VmRSS: has it exited?")


def settled_rss_kib(pid: int | str = "self") -> int:
    """The median of a few RSS readings after a pause. It sleeps with ``time.sleep``: under
    gevent's monkey-patching that yields; from asyncio, run it with ``asyncio.to_thread``."""
    time.sleep(SETTLE_S)
    samples = []
    for _ in range(RSS_SAMPLES):
        samples.append(rss_kib(pid))
        time.sleep(SETTLE_S / RSS_SAMPLES)
    return int(statistics.median(samples))


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def cpu_seconds(pid: int) -> tuple[float, float]:
    """User and system CPU time of another process (clock-tick resolution)."""
    fields = read_proc(pid, "stat").rpartition(")")[2].split()
    # After "pid (comm)": state is field 3, utime 14 and stime 15 (1-based, man proc).
    if fields[0] in ("Z", "X"):
        raise BenchError(f"process {pid} exited during the measurement")
    return int(fields[11]) / CLK_TCK, int(fields[12]) / CLK_TCK


def own_cpu_s() -> float:
    """User + system CPU time of this process (microsecond resolution)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def runqueue_wait_s() -> float:
    """Seconds this process was runnable but waited for a CPU (NaN without schedstat):
    on a shared machine, how much others took."""
    try:
        return int(read_proc("self", "schedstat").split()[1]) / 1e9
    except (BenchError, OSError, IndexError, ValueError):
        return float("nan")


# --- A process tree's figures from /proc (bench_peers.py) ----------------------------


def _stat_fields(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after "pid (comm)"; None if the process is gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as file:
            return file.read().rpartition(")")[2].split()
    except (FileNotFoundError, ProcessLookupError):
        return None


def process_tree(root: int) -> list[int]:
    """``root`` and its live descendants (read from every /proc/<pid>/stat's parent; this
    kernel may lack /proc/<pid>/task/<tid>/children). Empty once ``root`` is gone."""
    parents: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if name.isdigit() and (fields := _stat_fields(int(name))) is not None:
            parents.setdefault(int(fields[1]), []).append(int(name))
    if _stat_fields(root) is None:
        return []
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(parents.get(pid, ()))
    return tree


def tree_cpu_s(pids: Sequence[int]) -> float:
    """User + system CPU seconds of ``pids`` and of their children already reaped
    (utime, stime, cutime, cstime; clock-tick resolution). A process gone meanwhile is
    left out (its time moves to its parent's cutime once reaped)."""
    ticks = 0
    for pid in pids:
        fields = _stat_fields(pid)
        if fields is not None:
            # utime, stime, cutime, cstime: fields 14 to 17 (1-based, man proc)
            ticks += sum(int(field) for field in fields[11:15])
    return ticks / CLK_TCK


def tree_rss_kib(pids: Sequence[int]) -> int:
    """The sum of the VmRSS of ``pids`` (a process gone meanwhile counts 0)."""
    total = 0
    for pid in pids:
        with contextlib.suppress(BenchError):
            total += rss_kib(pid)
    return total


def peak_rss_kib(pid: int) -> int:
    """VmHWM: the process's peak RSS so far (0 if it is gone)."""
    with contextlib.suppress(BenchError):
        for line in read_proc(pid, "status").splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def pin(pid: int, cpus: set[int]) -> None:
    """Pin every thread of ``pid`` to ``cpus`` (threads and children it starts later
    inherit it); a process or thread gone meanwhile is skipped."""
    with contextlib.suppress(FileNotFoundError, ProcessLookupError):
        for tid in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(ProcessLookupError):
                os.sched_setaffinity(int(tid), cpus)


def pinned_start(cpus: set[int]) -> Callable[[], None]:
    """A ``preexec_fn``: the child runs on ``cpus`` from its first instruction, and gets
    SIGTERM when this process dies (Linux ``PR_SET_PDEATHSIG``), so nothing is left behind."""

    def preexec() -> None:
        os.sched_setaffinity(0, cpus)
        die_with_parent()

    return preexec


def die_with_parent() -> None:
    """A ``preexec_fn``: the child gets SIGTERM when this process dies (Linux
    ``PR_SET_PDEATHSIG``), even if this process is killed with SIGKILL."""
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM, 0, 0, 0)


def cmdline(pid: int) -> list[str]:
    """The arguments ``pid`` was started with (empty if it is gone or a zombie)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as file:
            raw = file.read()
    except (FileNotFoundError, ProcessLookupError):
        return []
    return raw.decode("utf-8", "replace").split("\0")[:-1] if raw else []


# --- Child processes: a script run again, writing one JSON record a line -------------


def emit(record: dict[str, Any]) -> None:
    """Write ``record`` for the parent's :meth:`Child.next`."""
    print(json.dumps(record), flush=True)


class Child:
    """A child process that writes records with :func:`emit`; ``{"error": ...}`` raises."""

    def __init__(self, process: subprocess.Popen[str], name: str, stderr: IO[bytes]) -> None:
        self.process = process
        self.name = name
        self.stderr = stderr

    def next(self, timeout_s: float) -> dict[str, Any]:
        stdout = self.process.stdout
        assert stdout is not None
        deadline = time.monotonic() + timeout_s
        while (remaining := deadline - time.monotonic()) > 0:
            readable, _, _ = select.select([stdout], [], [], min(remaining, 0.5))
            if readable:
                line = stdout.readline()
                if not line:
                    break
                record: dict[str, Any] = json.loads(line)
                if "error" in record:
                    raise BenchError(record["error"])
                return record
            if self.process.poll() is not None:
                break
        status = self.process.poll()
        why = f"exited ({status})" if status is not None else f"was silent for {timeout_s:g} s"
        self.stderr.seek(0)
        said = self.stderr.read().decode("utf-8", "replace")[-3000:]
        raise BenchError(f"the {self.name} process {why}; its stderr ends:\n{said}")


@contextlib.contextmanager
def child(script: str, arguments: Sequence[str], name: str) -> Iterator[Child]:
    """``script`` run by this Python as a child process. On the way out: SIGTERM, and SIGKILL
    if it has not exited within :data:`STOP_TIMEOUT_S`."""
    command = [sys.executable, os.path.abspath(script), *arguments]
    with (
        tempfile.TemporaryFile() as stderr,
        subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=stderr, text=True
        ) as process,  # leaving it closes stdout and reaps the process
    ):
        try:
            yield Child(process, name, stderr)
        finally:
            process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(STOP_TIMEOUT_S)
            process.kill()  # a no-op once it has exited


class Terminated(SystemExit):
    """SIGTERM, unwinding like Ctrl-C so that every child process is stopped (a SystemExit,
    so gevent's hub, which runs the handler, does not print it as an error)."""


def _terminate(signum: int, frame: object) -> NoReturn:
    raise Terminated(128 + signum)


def exit_on_sigterm() -> None:
    """From now on SIGTERM raises :class:`Terminated` (in the main thread)."""
    signal.signal(signal.SIGTERM, _terminate)


def raise_open_files_limit(needed: int) -> int | None:
    """Raise the soft open-files limit to the hard one if it is below ``needed`` (child
    processes inherit it). Returns the hard limit if even that is below ``needed``."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    infinite = resource.RLIM_INFINITY
    if soft != infinite and soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed if hard == infinite else hard, hard))
    return hard if hard != infinite and hard < needed else None


# --- Arguments and report ----------------------------------------------------------


def choice_list(choices: Sequence[str]) -> Callable[[str], list[str]]:
    """An argparse type: a comma-separated list of ``choices``, each once, in the order given."""

    def parse(text: str) -> list[str]:
        picked = [c.strip() for c in text.replace(" ", ",").split(",") if c.strip()]
        if not picked or any(c not in choices for c in picked):
            raise argparse.ArgumentTypeError(
                f"modes are {', '.join(choices)} (comma-separated), not {text!r}"
            )
        return list(dict.fromkeys(picked))

    return parse


def subscriber_environment(http_url: str, arguments: Sequence[str]) -> Any:
    """A Locust ``Environment`` of ``harness.loadtest.users.Subscriber`` users with the
    harness installed, its options parsed from ``arguments`` (imports locust: call it from
    a gevent process). Without ``--api-key`` the harness signs with the emulator's default
    test credentials."""
    from locust import events
    from locust.argument_parser import get_parser
    from locust.env import Environment

    import harness.loadtest.users
    from harness.loadtest import install

    install(events)  # the harness's options and listeners, as a locustfile does
    options = get_parser(default_config_files=[]).parse_args(list(arguments))
    return Environment(
        user_classes=[harness.loadtest.users.Subscriber],
        events=events,
        host=http_url,
        parsed_options=options,
    )


def positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive whole number, not {text}")
    return value


def positive_float(text: str) -> float:
    value = float(text)
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, not {text}")
    return value


def header(packages: Sequence[str]) -> str:
    """Python, the packages' versions, the CPUs and the machine."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    cpus = f"{os.cpu_count()} CPUs" + (f" ({usable} usable)" if usable is not None else "")
    versions = ", ".join(f"{name} {package_version(name)}" for name in packages)
    return (
        f"Python {platform.python_version()} ({platform.python_implementation()}), {versions}, "
        f"{cpus}, {platform.machine()}"
    )


def package_version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "(not installed)"


def number(value: float, spec: str) -> str:
    """``value`` formatted with ``spec``; NaN (not measured) as n/a."""
    return "n/a" if value != value else format(value, spec)


def json_safe(value: Any) -> Any:
    """NaN (not measured) as null: strict JSON."""
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, dict):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    return value


def ratio(value: float, base: float) -> float:
    return value / base if base else float("nan")


def spread_pct(values: Sequence[float]) -> float:
    """(highest - lowest) / median, in percent: how noisy the batches were."""
    if not values:
        return float("nan")
    return (max(values) - min(values)) / statistics.median(values) * 100


def print_table(names: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Columns as wide as their widest cell, the first left-aligned, a rule under the names."""
    widths = [max(len(row[i]) for row in [names, *rows]) for i in range(len(names))]

    def line(cells: Sequence[str]) -> str:
        first, *rest = cells
        right = (f"{cell:>{width}}" for cell, width in zip(rest, widths[1:], strict=True))
        return "  ".join([f"{first:<{widths[0]}}", *right])

    print(line(names))
    print(line(["-" * width for width in widths]))
    for row in rows:
        print(line(row))
