"""Running real Locust environments of the harness users against a live emulator."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import gevent
import locust
from emulator_support import LiveEmulator
from locust.argument_parser import get_parser
from locust.env import Environment

import harness.users  # noqa: F401  (registers the harness options and listeners)


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


def option_arguments(**options: object) -> list[str]:
    """Command-line arguments for harness options given as keywords, in their order:
    ``publish_rate=20`` is ``--publish-rate 20``."""
    return [
        text
        for name, value in options.items()
        for text in ("--" + name.replace("_", "-"), str(value))
    ]


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
    parsed = parse_options(*option_arguments(**options))
    environment = Environment(
        user_classes=list(user_classes),
        events=locust.events,
        host=emulator.process.info.http_url,
        parsed_options=parsed,
    )
    runner = environment.create_local_runner()
    runner.start(users, spawn_rate=users)
    gevent.sleep(seconds)
    runner.quit()
    deadline = time.monotonic() + 5.0
    stats = emulator.stats()
    while stats["connections"]["open"] > open_before and time.monotonic() < deadline:
        gevent.sleep(0.05)
        stats = emulator.stats()
    return LocustRun(environment, stats)
