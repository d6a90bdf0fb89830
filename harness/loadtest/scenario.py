"""Helpers for scenario files (``scenarios/``): faults on the embedded emulator, defaults.

A scenario is a locustfile. It installs the harness (``install(events)``),
subclasses the users of :mod:`harness.loadtest.users` (import the module, not the
classes, or Locust runs the base classes too), gives them policies, and calls:

- :func:`inject_faults` with emulator fault specs, applied at every test start
  (``after=`` counts from there), so a scenario replays the same way in
  headless runs and in every run started from the web UI;
- :func:`option_defaults` to change the defaults of harness options (say, a
  shorter keep-alive timeout for the embedded emulator); the command line,
  ``LOCUST_*`` variables and the web UI's form still override them;
- :func:`per_user` for the options one user class sets for its own users
  (``user_options = per_user(publish_rate=30)``), when the classes of a scenario
  differ; these are the class's, whatever the command line says. A class's
  ``channel_pattern`` keeps it to some of the channels (``harness.loadtest.users``).

Faults need the embedded emulator (no ``--host``); against a real API the
scenario runs without them and says so.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from locust.runners import WorkerRunner

from harness.emulator.admin_client import AdminClient, AdminError
from harness.emulator.faults import FaultSpec
from harness.loadtest.settings import EmbeddedEmulator

logger = logging.getLogger("harness")


def inject_faults(events: Any, *specs: str) -> None:
    """Apply these faults to the embedded emulator at each test start (replacing others)."""
    for spec in specs:
        FaultSpec.parse(spec, option="inject_faults")  # a typo fails at import, not mid-run

    def apply(environment: Any, **_: Any) -> None:
        options = environment.parsed_options
        if isinstance(environment.runner, WorkerRunner) or options is None:
            return
        emulator = EmbeddedEmulator.of(options)
        if emulator is None:
            logger.warning("scenario faults need the embedded emulator; running without them")
            return
        admin = AdminClient(emulator.admin_url, emulator.ca_file)
        try:
            admin.clear_faults()
            admin.add_faults(list(specs))
        except AdminError as exc:
            logger.error("scenario faults not applied: %s", exc)
            return
        logger.info("scenario faults: %s", "; ".join(specs))

    events.test_start.add_listener(apply)


def option_defaults(events: Any, **defaults: Any) -> None:
    """New defaults for harness options, by destination name (``emulator_args=...``)."""

    def set_defaults(parser: Any, **_: Any) -> None:
        parser.set_defaults(**defaults)

    events.init_command_line_parser.add_listener(set_defaults)


def per_user(**values: Any) -> Mapping[str, Any]:
    """A user class's own values of per-user options, by field name, read-only; checked
    when the class is defined (``harness.loadtest.settings.PER_USER_OPTIONS``)."""
    return MappingProxyType(values)
