"""What every user of one process shares during a run: settings, target, authorizer.

Built by :meth:`harness.loadtest.state.RunState.user_runtime` when the first user
of a run starts (so values changed in the web UI's start form apply, and workers
use what the master sent them).
"""

from __future__ import annotations

import itertools
import random
import uuid
from dataclasses import dataclass, field

from harness.loadtest.settings import HarnessSettings
from harness.loadtest.target import Target
from harness.signing import Authorizer
from harness.workload.channels import template_of_channels


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
        self.template_of = template_of_channels(self.settings.channels)
        self.all_channels = list(
            dict.fromkeys(c for template in self.settings.channels for c in template.channels)
        )

    def next_user_id(self) -> str:
        """Unique across the processes of a run: process tag plus a counter."""
        return f"{self.process_tag}-{next(self._user_numbers)}"
