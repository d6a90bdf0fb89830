"""Running real Locust environments of the harness users against a live emulator."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import gevent
import locust
from locust.argument_parser import get_parser
from locust.env import Environment
from locust.runners import LocalRunner

from harness.config.retry import RetryPolicy
from harness.loadtest import install
from harness.loadtest.ending import resilience_summary, run_summary
from harness.loadtest.settings import EmbeddedEmulator
from harness.loadtest.state import run_state
from support.emulator import LiveEmulator
from support.timing import MS

install(locust.events)  # as a locustfile does: the harness's options and listeners


def parse_options(*arguments: str) -> Any:
    """Locust's own parser, with the harness options, reading no config file."""
    return get_parser(default_config_files=[]).parse_args(["-f", "locustfile.py", *arguments])


@dataclass
class LocustRun:
    """The outcome of one bounded run: Locust's stats and the emulator's stats after it."""

    environment: Environment
    emulator_stats: dict[str, Any]

    def entry(self, request_type: str, name: str) -> Any:
        return self.environment.stats.get(name, request_type)

    def requests(self, request_type: str) -> int:
        return sum(
            entry.num_requests
            for (_, method), entry in self.environment.stats.entries.items()
            if method == request_type
        )

    def failures(self, request_type: str) -> int:
        return sum(
            entry.num_failures
            for (_, method), entry in self.environment.stats.entries.items()
            if method == request_type
        )

    def left_open(self) -> tuple[int, int]:
        """The connections still open and the subscriptions still live on the emulator."""
        return (
            self.emulator_stats["connections"]["open"],
            self.emulator_stats["subscriptions"]["live"],
        )

    def error_texts(self) -> list[str]:
        return [str(error.error) for error in self.environment.stats.errors.values()]

    def resilience(self) -> dict[str, Any]:
        """The run's resilience summary, with the emulator's server-side checks."""
        return resilience_summary(run_state(self.environment))

    def summary(self) -> dict[str, Any]:
        """The run's whole summary (summary.json), as the master builds it at exit."""
        return run_summary(run_state(self.environment))

    def policy(self, label: str, kind: str = "reconnect") -> dict[str, Any]:
        """One policy's row of the resilience summary (``label`` as written anywhere)."""
        label = RetryPolicy.parse(label, option="label").label
        rows = [
            row
            for row in self.resilience()["policies"]
            if row["policy"] == label and row["kind"] == kind
        ]
        assert len(rows) == 1, f"no {kind} row for {label!r}: {self.resilience()['policies']}"
        return rows[0]


def option_arguments(**options: object) -> list[str]:
    """Command-line arguments for harness options given as keywords, in their order:
    ``publish_rate=20`` is ``--publish-rate 20``."""
    return [
        text
        for name, value in options.items()
        for text in ("--" + name.replace("_", "-"), str(value))
    ]


def local_environment(
    host: str, user_classes: Sequence[type[locust.User]], **options: object
) -> Environment:
    """A Locust environment of ``user_classes`` against ``host`` with the harness
    ``options`` (as for ``option_arguments``), not started."""
    return Environment(
        user_classes=list(user_classes),
        events=locust.events,
        host=host,
        parsed_options=parse_options(*option_arguments(**options)),
    )


@contextmanager
def running(environment: Environment, users: int = 1) -> Iterator[LocalRunner]:
    """A local runner of ``environment`` with ``users`` spawned at once; quit at the end
    whatever happens (every user stops)."""
    runner = environment.create_local_runner()
    try:
        runner.start(users, spawn_rate=users)
        yield runner
    finally:
        runner.quit()


def run_users(
    emulator: LiveEmulator,
    user_classes: Sequence[type[locust.User]],
    *,
    users: int = 4,
    seconds: float = 1.5,
    **options: object,
) -> LocustRun:
    """Spawn ``users`` at once with the harness ``options`` (as for ``option_arguments``),
    let them run ``seconds``, stop them, and wait until the emulator has seen every
    connection of theirs close (bounded; connections open before the run may stay)."""
    open_before = emulator.stats()["connections"]["open"]
    environment = local_environment(emulator.process.info.http_url, user_classes, **options)
    # As the master does for its embedded emulator: the end-of-run server checks use it.
    info = emulator.process.info
    EmbeddedEmulator(
        info.http_url, info.ca_cert, info.admin_url, None, info.cognito_identity_url
    ).attach(environment.parsed_options)
    with running(environment, users):
        gevent.sleep(seconds)
    deadline = time.monotonic() + 5_000 * MS
    stats = emulator.stats()
    while stats["connections"]["open"] > open_before and time.monotonic() < deadline:
        gevent.sleep(0.05)
        stats = emulator.stats()
    return LocustRun(environment, stats)
