"""Before a run: the peaks its options would make, against AppSync's per-API quotas.

From the user classes, their weights and per-user options, the number of users and
the spawn rate, :func:`quota_warnings` estimates the connection requests a second
(while users spawn), the inbound events a second, the outbound 5 KB units a second
(each event times the subscriptions expected to cover its channel) and the largest
publish request, and says which would go over a quota
(:mod:`harness.measure.quota`). Average rates: a run's busiest second is somewhat
above them. Classes that are not the harness's users are left out.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from harness.loadtest.runtime import ChannelChoice, choose_channels, run_channels
from harness.loadtest.settings import HarnessSettings, settings_for_users
from harness.measure.quota import Peaks, exceeded_sentences, quota_uses
from harness.protocol import metered_units, parse_channel, parse_channel_pattern


@dataclass(frozen=True)
class ClassLoad:
    """One user class of the run: how many users, and what each does."""

    users: float
    settings: HarnessSettings
    """The run's settings with the class's own options."""
    choice: ChannelChoice
    subscribes: bool
    publishes: bool

    @property
    def connects(self) -> bool:
        return self.subscribes or self.settings.publish_via == "ws"


def class_loads(
    user_classes: Sequence[type[Any]], user_count: int, settings: HarnessSettings
) -> list[ClassLoad]:
    """The harness's user classes among ``user_classes`` with their share of
    ``user_count`` (``fixed_count`` first, the rest by weight, as Locust spawns them)."""
    classes = [cls for cls in user_classes if hasattr(cls, "subscribes")]
    fixed = {cls: float(getattr(cls, "fixed_count", 0) or 0) for cls in classes}
    weights = {cls: float(getattr(cls, "weight", 1)) for cls in classes if not fixed[cls]}
    rest = max(0.0, user_count - sum(fixed.values()))
    total_weight = sum(weights.values()) or 1.0
    all_channels = run_channels(settings)
    loads = []
    for cls in classes:
        name = cls.__name__
        own = settings_for_users(settings, name, getattr(cls, "user_options", {}))
        loads.append(
            ClassLoad(
                users=fixed[cls] or rest * weights[cls] / total_weight,
                settings=own,
                choice=choose_channels(own, all_channels, cls.channel_pattern, name),
                subscribes=bool(cls.subscribes),
                publishes=bool(cls.publishes),
            )
        )
    return loads


def forecast_peaks(loads: list[ClassLoad], spawn_rate: float, all_channels: list[str]) -> Peaks:
    """The four quota figures the classes would make at their average rates."""
    users = sum(load.users for load in loads)
    connecting = sum(load.users for load in loads if load.connects)
    connects = min(spawn_rate, users) * connecting / users if users else 0.0
    covering = _subscriptions_per_channel(loads, all_channels)
    inbound = outbound = request_bytes = 0.0
    for load in loads:
        if not load.publishes or not load.users or not load.choice.channels:
            continue
        settings = load.settings
        rate = load.users * settings.publish_rate
        inbound += rate
        per_channel = rate / len(load.choice.channels)
        units = metered_units(settings.payload_bytes)
        outbound += sum(per_channel * units * covering[c] for c in load.choice.channels)
        request_bytes = max(request_bytes, settings.events_per_publish * settings.payload_bytes)
    return Peaks(connects, inbound, outbound, request_bytes)


def _subscriptions_per_channel(
    loads: list[ClassLoad], all_channels: list[str]
) -> defaultdict[str, float]:
    """The subscriptions expected to cover each channel: each subscriber holds
    ``--subscriptions-per-user`` of its class's channels at random, and its wildcards."""
    covering: defaultdict[str, float] = defaultdict(float)
    for load in loads:
        channels = load.choice.channels
        if not load.subscribes or not load.users or not channels:
            continue
        held = min(load.settings.subscriptions_per_user, len(channels))
        for channel in channels:
            covering[channel] += load.users * held / len(channels)
        for wildcard in load.choice.wildcards[: load.settings.wildcard_subscriptions]:
            pattern = parse_channel_pattern(wildcard)
            for channel in all_channels:
                if pattern.matches(parse_channel(channel)):
                    covering[channel] += load.users
    return covering


def quota_warnings(
    user_classes: Sequence[type[Any]], user_count: int, spawn_rate: float, settings: HarnessSettings
) -> list[str]:
    """A sentence per quota the options would go over (none when all fit)."""
    loads = class_loads(user_classes, user_count, settings)
    peaks = forecast_peaks(loads, spawn_rate, run_channels(settings))
    return exceeded_sentences(quota_uses(peaks), forecast=True)
