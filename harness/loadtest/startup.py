"""The start of a run: settings checked before any user starts, and the embedded emulator.

On the master (or in a local run), :func:`prepare_run` checks every option and
combination; with an empty ``--host`` it starts the embedded emulator, points
the run at it and records where it is on the options, which workers receive
with the spawn message. It builds the authorizer once, so missing AWS
credentials stop the run before it starts.
"""

from __future__ import annotations

import logging
from typing import Any

from harness.emulator.process import EmulatorProcess
from harness.loadtest.settings import (
    EmbeddedEmulator,
    HarnessSettings,
    publish_rate_warning,
    settings_from_options,
)
from harness.loadtest.target import Target, start_embedded_emulator

logger = logging.getLogger("harness")


class EmbeddedEmulators:
    """The emulators this process started, stopped when Locust quits."""

    def __init__(self) -> None:
        self._running: list[EmulatorProcess] = []

    def start(self, settings: HarnessSettings) -> EmulatorProcess:
        emulator = start_embedded_emulator(settings)
        self._running.append(emulator)
        return emulator

    def stop_all(self) -> None:
        """Stop every emulator this process started.

        Safe to call again while a first call waits: Locust's SIGTERM/Ctrl-C path
        can run its shutdown twice, and the second may end the process while the
        first is still waiting, so an emulator leaves the list only once stopped
        (``atexit`` then finishes the job).
        """
        for emulator in list(self._running):
            status = emulator.stop()
            if emulator in self._running:
                self._running.remove(emulator)
                logger.info("embedded emulator stopped (exit status %s)", status)


def prepare_run(environment: Any, emulators: EmbeddedEmulators) -> HarnessSettings:
    """Check the settings and, with no ``--host``, start the embedded emulator; the settings.

    Raises :class:`ConfigurationError`, :class:`SigningError` or
    :class:`EmulatorStartError`; the caller stops the run."""
    options = environment.parsed_options
    settings = settings_from_options(options, host=environment.host or "")
    options.run_id = settings.run_id  # workers stamp the same run id
    if settings.embedded:
        process = emulators.start(settings)
        info = process.info
        EmbeddedEmulator(info.http_url, info.ca_cert, info.admin_url).attach(options)
        environment.host = info.http_url
        settings = settings_from_options(options, host="")
    Target.from_settings(settings, environment.host).authorizer(settings)
    if warning := publish_rate_warning(settings):
        logger.warning(warning)
    logger.info("AppSync Events harness: %s", settings.describe())
    return settings
