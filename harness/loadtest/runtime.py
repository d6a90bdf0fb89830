"""What every user of one process shares during a run: settings, target, identities.

Built by :meth:`harness.loadtest.state.RunState.user_runtime` when the first user
of a run starts (so values changed in the web UI's start form apply, and workers
use what the master sent them). A user class limited to some channels
(``channel_pattern``) gets them from :meth:`HarnessRuntime.channels_for`.
"""

from __future__ import annotations

import itertools
import random
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from harness.client.websocket import BroadcastErrorHandler
from harness.errors import ConfigurationError, MessageValidationError
from harness.loadtest.identities import Identities
from harness.loadtest.settings import HarnessSettings, settings_for_users
from harness.loadtest.target import Target
from harness.protocol import parse_channel, parse_channel_pattern
from harness.signing import Authorizer
from harness.workload.channels import template_of_channels


@dataclass(frozen=True, slots=True)
class ChannelChoice:
    """The channels a user class publishes to and subscribes to, and its wildcards
    (shared by the class's users: never changed)."""

    channels: list[str]
    wildcards: list[str]
    """The wildcards (``/ns/prefix/*``) of the templates with a channel in ``channels``,
    each once: what ``--wildcard-subscriptions`` picks from."""


NO_CHANNELS = ChannelChoice([], [])
"""A user's choice before it starts."""


@dataclass
class HarnessRuntime:
    """What the users of one process share."""

    settings: HarnessSettings
    target: Target
    identities: Identities
    process_tag: str = field(default_factory=lambda: uuid.uuid4().hex[:6])
    rng: random.Random = field(default_factory=random.Random)
    template_of: dict[str, str] = field(default_factory=dict)
    """Concrete channel (or wildcard) to the template name used in Locust's stats."""
    all_channels: list[str] = field(default_factory=list)
    """Every concrete channel of every template, each once: what users pick from."""
    broadcast_error_report: BroadcastErrorHandler | None = None
    """Reports the ``broadcast_error`` messages of every connection of the process (set by
    the first user that connects)."""
    _user_numbers: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _choices: dict[str | None, ChannelChoice] = field(default_factory=dict)
    _class_settings: dict[str, HarnessSettings] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.template_of = template_of_channels(self.settings.channels)
        self.all_channels = run_channels(self.settings)

    def next_user_id(self) -> str:
        """Unique across the processes of a run: process tag plus a counter."""
        return f"{self.process_tag}-{next(self._user_numbers)}"

    def authorizer_for(self, user_id: str) -> Authorizer:
        """How the user with ``user_id`` authorizes (harness.loadtest.identities)."""
        return self.identities.for_user(user_id)

    def settings_for(self, owner: str, values: Mapping[str, Any]) -> HarnessSettings:
        """The run's settings with user class ``owner``'s own option ``values``, checked
        and built once per class (:func:`~harness.loadtest.settings.settings_for_users`)."""
        settings = self._class_settings.get(owner)
        if settings is None:
            settings = settings_for_users(self.settings, owner, values)
            self._class_settings[owner] = settings
        return settings

    def channels_for(self, pattern: str | None, owner: str) -> ChannelChoice:
        """The run's channels that ``pattern`` covers, worked out once per pattern
        (:func:`choose_channels`)."""
        choice = self._choices.get(pattern)
        if choice is None:
            choice = choose_channels(self.settings, self.all_channels, pattern, owner)
            self._choices[pattern] = choice
        return choice


def choose_channels(
    settings: HarnessSettings, all_channels: list[str], pattern: str | None, owner: str
) -> ChannelChoice:
    """The channels of ``all_channels`` (the run's, each once) that ``pattern`` covers (a
    channel, or a ``/ns/prefix/*`` wildcard; None: every channel), and their templates'
    wildcards. Raises :class:`ConfigurationError` naming ``<owner>.channel_pattern`` when
    the pattern is not one, or covers none of ``--channels``."""
    channels = all_channels
    if pattern is not None:
        option = f"{owner}.channel_pattern"
        try:
            covering = parse_channel_pattern(pattern)
        except MessageValidationError as exc:
            raise ConfigurationError(option, f"{pattern!r} {exc.reason}") from None
        channels = [c for c in channels if covering.matches(parse_channel(c))]
        if not channels:
            names = ", ".join(t.name for t in settings.channels)
            raise ConfigurationError(option, f"{pattern!r} covers none of --channels ({names})")
    chosen = set(channels)
    wildcards = [
        template.wildcard
        for template in settings.channels
        if template.wildcard and chosen.intersection(template.channels)
    ]
    return ChannelChoice(channels, list(dict.fromkeys(wildcards)))


def run_channels(settings: HarnessSettings) -> list[str]:
    """Every concrete channel of every template of the run, each once."""
    return list(dict.fromkeys(c for template in settings.channels for c in template.channels))
