"""Locust event listeners: options, validation, the embedded emulator, cleanup.

Importing :mod:`harness.loadtest.users` installs them on ``locust.events``:

- ``init_command_line_parser``: registers every harness option;
- ``init``: on the master (or a local run) checks the settings and stops the
  run before any user starts when one is bad; with an empty ``--host`` starts
  the embedded emulator and points the run at it (workers get its URL with
  the spawn message); stamps the run id that workers share;
- ``test_start``: forgets the per-process runtime so web UI changes apply;
- ``spawning_complete``: freezes the objects made during ramp-up out of the
  garbage collector (full collections paused ~50 ms; design: gotchas);
- ``quit`` (after the users stopped; and ``atexit``, for a run that dies early):
  stops the emulator.
"""

from __future__ import annotations

import atexit
import gc
import logging
import sys
from typing import Any

import gevent
from locust import events
from locust.runners import WorkerRunner

from harness.emulator.process import EmulatorProcess, EmulatorStartError
from harness.errors import ConfigurationError, SigningError
from harness.loadtest.runtime import forget_runtime
from harness.loadtest.settings import (
    EMBEDDED_ADMIN_ATTRIBUTE,
    EMBEDDED_CA_ATTRIBUTE,
    EMBEDDED_URL_ATTRIBUTE,
    publish_rate_warning,
    register_options,
    settings_from_options,
)
from harness.loadtest.target import Target, start_embedded_emulator

logger = logging.getLogger("harness")

EXIT_BAD_SETTINGS = 2
"""Exit status when the settings are invalid (argparse uses 2 for bad options too)."""

_emulators: list[EmulatorProcess] = []


def _add_options(parser: Any, **_: Any) -> None:
    register_options(parser)


def _on_init(environment: Any, runner: Any = None, **_: Any) -> None:
    if isinstance(runner, WorkerRunner) or environment.parsed_options is None:
        return
    options = environment.parsed_options
    try:
        settings = settings_from_options(options, host=environment.host or "")
        options.run_id = settings.run_id
        if settings.embedded:
            emulator = start_embedded_emulator(settings)
            _emulators.append(emulator)
            environment.host = emulator.info.http_url
            setattr(options, EMBEDDED_URL_ATTRIBUTE, emulator.info.http_url)
            setattr(options, EMBEDDED_CA_ATTRIBUTE, emulator.info.ca_cert)
            setattr(options, EMBEDDED_ADMIN_ATTRIBUTE, emulator.info.admin_url)
            settings = settings_from_options(options, host="")
        # Builds the authorizer once, so missing AWS credentials stop the run now.
        Target.from_settings(settings, environment.host).authorizer(settings)
    except (ConfigurationError, SigningError, EmulatorStartError) as exc:
        logger.error("invalid settings: %s", exc)
        stop_emulators()
        sys.exit(EXIT_BAD_SETTINGS)
    if warning := publish_rate_warning(settings):
        logger.warning(warning)
    logger.info("AppSync Events harness: %s", settings.describe())


def _on_test_start(environment: Any, **_: Any) -> None:
    forget_runtime(environment)
    runner = environment.runner
    if isinstance(runner, WorkerRunner) or environment.parsed_options is None:
        return
    # The web UI's start form may have changed any option: check again, and stop a
    # run whose settings are bad instead of letting every user fail on its own.
    try:
        settings_from_options(environment.parsed_options)
    except ConfigurationError as exc:
        logger.error("invalid settings: %s; the run is stopped", exc)
        gevent.spawn(runner.stop)


def _on_spawning_complete(**_: Any) -> None:
    gc.collect()
    gc.freeze()


def _on_quit(**_: Any) -> None:
    stop_emulators()


def stop_emulators() -> None:
    """Stop every embedded emulator this process started.

    Safe to call again while a first call waits: Locust's SIGTERM/Ctrl-C path
    can run its shutdown twice, and the second may end the process while the
    first is still waiting, so an emulator leaves the list only once stopped
    (``atexit`` then finishes the job).
    """
    for emulator in list(_emulators):
        status = emulator.stop()
        if emulator in _emulators:
            _emulators.remove(emulator)
            logger.info("embedded emulator stopped (exit status %s)", status)


for _hook, _listener in (
    (events.init_command_line_parser, _add_options),
    (events.init, _on_init),
    (events.test_start, _on_test_start),
    (events.spawning_complete, _on_spawning_complete),
    (events.quit, _on_quit),
):
    _hook.add_listener(_listener)  # type: ignore[no-untyped-call]
atexit.register(stop_emulators)
