"""Per-process state shared by every user of a run: settings, target, authorizer.

Built lazily from the Locust environment the first time a user starts after
``test_start`` (so values changed in the web UI's start form apply, and
workers use what the master sent them).
"""

from __future__ import annotations

import argparse
import itertools
import random
import uuid
from dataclasses import dataclass, field
from typing import Any

from harness.errors import ConfigurationError
from harness.loadtest.settings import HarnessSettings, settings_from_options
from harness.loadtest.target import Target
from harness.signing import Authorizer

_RUNTIME_ATTRIBUTE = "_appsync_harness_runtime"


@dataclass
class HarnessRuntime:
    """What the users of one process share."""

    settings: HarnessSettings
    target: Target
    authorizer: Authorizer
    process_tag: str = field(default_factory=lambda: uuid.uuid4().hex[:6])
    rng: random.Random = field(default_factory=random.Random)
    template_of: dict[str, str] = field(default_factory=dict)
    """Concrete channel (or wildcard) to the template name used in Locust's stats."""
    all_channels: list[str] = field(default_factory=list)
    """Every concrete channel of every template, each once: what users pick from."""
    _user_numbers: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def __post_init__(self) -> None:
        for template in self.settings.channels:
            for channel in template.channels:
                self.template_of.setdefault(channel, template.name)
            if template.wildcard:
                self.template_of.setdefault(template.wildcard, template.wildcard)
        self.all_channels = list(
            dict.fromkeys(c for template in self.settings.channels for c in template.channels)
        )

    def next_user_id(self) -> str:
        """Unique across the processes of a run: process tag plus a counter."""
        return f"{self.process_tag}-{next(self._user_numbers)}"


def runtime_for(environment: Any) -> HarnessRuntime:
    """The environment's runtime, built on first use; raises ConfigurationError / SigningError."""
    runtime: HarnessRuntime | None = getattr(environment, _RUNTIME_ATTRIBUTE, None)
    if runtime is None:
        options = environment.parsed_options or argparse.Namespace()
        settings = settings_from_options(options)
        if not environment.host:
            raise ConfigurationError(
                "--host", "is empty and no embedded emulator was started (run through locust -f)"
            )
        target = Target.from_settings(settings, environment.host)
        runtime = HarnessRuntime(settings, target, target.authorizer(settings))
        setattr(environment, _RUNTIME_ATTRIBUTE, runtime)
    return runtime


def forget_runtime(environment: Any) -> None:
    """Drop the cached runtime so the next user rebuilds it from current options."""
    if hasattr(environment, _RUNTIME_ATTRIBUTE):
        delattr(environment, _RUNTIME_ATTRIBUTE)
