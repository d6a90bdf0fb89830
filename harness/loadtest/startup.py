"""The start of a run: settings checked before any user starts, and the embedded emulator.

On the master (or in a local run), :func:`prepare_run` checks every option and
combination (a ``--scenario`` the locustfile did not load, too), and that
``--report-dir`` can be written (a run must not spend its whole length to find
that out); with an empty ``--host`` it starts the embedded
emulator on ``--emulator-bind``, points the run at it and records where it is (its
URL, and its CA with ``--tls``) on the options, which workers receive with the spawn
message. It builds the authorizer once, so missing AWS credentials stop the run
before it starts.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from harness.emulator.process import EmulatorProcess
from harness.errors import ConfigurationError
from harness.loadtest.identities import Identities
from harness.loadtest.selection import loaded_scenarios
from harness.loadtest.settings import (
    EmbeddedEmulator,
    HarnessSettings,
    publish_rate_warning,
    settings_from_options,
)
from harness.loadtest.target import Target, start_embedded_emulator
from harness.report.files import check_report_dir

logger = logging.getLogger("harness")


class EmbeddedEmulators:
    """The emulators this process started, stopped when Locust quits."""

    def __init__(self) -> None:
        self._running: list[EmulatorProcess] = []

    def start(self, settings: HarnessSettings) -> EmulatorProcess:
        emulator = start_embedded_emulator(settings)
        self._running.append(emulator)
        return emulator

    def kill_all(self) -> None:
        """SIGKILL every emulator this process started, without waiting (an exit at once)."""
        for emulator in self._running:
            emulator.process.kill()

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


def check_report_dir_option(report_dir: str) -> None:
    """Raise :class:`ConfigurationError` naming ``--report-dir`` when it cannot be written."""
    if not report_dir:
        return
    try:
        check_report_dir(report_dir)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ConfigurationError(
            "--report-dir", f"{report_dir!r} cannot be written: {reason}"
        ) from None


def prepare_run(environment: Any, emulators: EmbeddedEmulators) -> HarnessSettings:
    """Check the settings and, with no ``--host``, start the embedded emulator; the settings.

    Raises :class:`ConfigurationError`, :class:`SigningError` or
    :class:`EmulatorStartError`; the caller stops the run."""
    options = environment.parsed_options
    settings = settings_from_options(options, host=environment.host or "")
    options.run_id = settings.run_id  # workers stamp the same run id
    check_report_dir_option(settings.report_dir)
    if settings.scenario and settings.scenario not in loaded_scenarios():
        raise ConfigurationError(
            "--scenario",
            f"is read by locustfile.py, which then runs scenarios/{settings.scenario}.py; this "
            "run's locustfile did not load it (run a scenario file without --scenario)",
        )
    if not settings.embedded and settings.emulator_bind is not None:
        raise ConfigurationError(
            "--emulator-bind", "is for the embedded emulator: leave it out with --host"
        )
    if settings.embedded:
        process = emulators.start(settings)
        info = process.info
        ca_pem = Path(info.ca_cert).read_text(encoding="ascii") if info.ca_cert else None
        EmbeddedEmulator(
            info.http_url, info.ca_cert, info.admin_url, ca_pem, info.cognito_identity_url
        ).attach(options)
        environment.host = info.http_url
        settings = settings_from_options(options, host="")
    embedded = EmbeddedEmulator.of(options)
    Identities(
        settings,
        Target.from_settings(settings, environment.host),
        identity_endpoint=embedded.cognito_identity_url if embedded else None,
    ).check()
    if warning := publish_rate_warning(settings):
        logger.warning(warning)
    logger.info("AppSync Events harness: %s", settings.describe())
    return settings
