"""Subscriptions and fan-out.

Each published event is JSON-encoded and UTF-8-encoded once; a subscriber's
``data`` frame is its own pre-built head (``{"type":"data","id":"<id>``) joined
to that shared tail, so a fan-out to N subscribers costs N small byte
concatenations and no per-subscriber serialisation (docs/protocol.md#messages:
one ``data`` message per event per matching subscription, ``event`` a JSON
string).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Protocol

from harness.emulator.faults import FaultKind, FaultSet
from harness.emulator.quotas import RateBucket, outbound_units
from harness.emulator.stats import ChannelCounts, EmulatorStats
from harness.protocol import Channel, ChannelPattern, SubscriptionIndex
from harness.signing.wire import JSON_SURROGATE_ERRORS


class Recipient(Protocol):
    """The side of a connection the broker delivers to."""

    def deliver(self, frame: bytes) -> None: ...

    def deliver_later(self, delay_s: float, frame: bytes) -> None: ...


class Subscription:
    """One live subscription: who, under which id, to what."""

    __slots__ = ("head", "id", "pattern", "recipient")

    def __init__(self, recipient: Recipient, sub_id: str, pattern: ChannelPattern) -> None:
        self.recipient = recipient
        self.id = sub_id
        self.pattern = pattern
        # Ids are [A-Za-z0-9-_+] (validated before subscribing): nothing to escape.
        self.head = b'{"type":"data","id":"' + sub_id.encode("ascii") + b'","event":'

    @property
    def broadcast_error(self) -> bytes:
        """The ``broadcast_error`` frame of this subscription, AppSync's documented example."""
        return (
            b'{"type":"broadcast_error","id":"' + self.id.encode("ascii") + b'","errors":'
            b'[{"errorType":"MessageProcessingError",'
            b'"message":"There was an error processing the message"}]}'
        )


def data_tail(event: str) -> bytes:
    """The shared end of every ``data`` frame for ``event``: the event as a JSON string.

    Non-ASCII stays unescaped as ``JSON.stringify`` writes it; a lone surrogate
    (valid in a JSON text, not in UTF-8) is written as a ``\\uXXXX`` escape.
    """
    encoded = json.dumps(event, ensure_ascii=False)
    return encoded.encode("utf-8", JSON_SURROGATE_ERRORS) + b"}"


class Broker:
    """Live subscriptions by channel pattern, and the fan-out of published events."""

    def __init__(
        self, stats: EmulatorStats, faults: FaultSet, outbound: RateBucket | None = None
    ) -> None:
        self._index: SubscriptionIndex[Subscription] = SubscriptionIndex()
        self._stats = stats
        self._faults = faults
        self._outbound = outbound
        """The outbound-messages quota: deliveries past it are dropped and counted."""

    def __len__(self) -> int:
        return len(self._index)

    def add(self, subscription: Subscription) -> None:
        self._index.add(subscription.pattern, subscription)
        self._stats.subscriptions_total += 1

    def remove(self, subscription: Subscription) -> None:
        self._index.remove(subscription.pattern, subscription)

    def fan_out(self, channel: Channel, events: Sequence[str]) -> int:
        """Deliver ``events`` to every subscription matching ``channel``; returns the
        number of ``data`` frames handed to connections."""
        counts = self._stats.channel(channel.path)
        counts.published += len(events)
        subscriptions = list(self._index.matching(channel))
        if not subscriptions or not events:
            return 0
        faulty = bool(
            self._faults.active(
                FaultKind.DROP_DELIVERIES, FaultKind.DELAY_DELIVERIES, FaultKind.BROADCAST_ERROR
            )
        )
        delivered = 0
        for event in events:
            tail = data_tail(event)
            targets = self._within_quota(subscriptions, tail, counts)
            if not faulty:
                for subscription in targets:
                    subscription.recipient.deliver(subscription.head + tail)
                delivered += len(targets)
                continue
            for subscription in targets:
                frame = subscription.head + tail
                if self._faults.fires(FaultKind.DROP_DELIVERIES):
                    counts.dropped += 1
                    self._stats.deliveries_dropped += 1
                    continue
                if self._faults.fires(FaultKind.BROADCAST_ERROR):
                    counts.dropped += 1
                    self._stats.broadcast_errors += 1
                    subscription.recipient.deliver(subscription.broadcast_error)
                    continue
                delay = self._faults.fires(FaultKind.DELAY_DELIVERIES)
                if delay is not None:
                    self._stats.deliveries_delayed += 1
                    subscription.recipient.deliver_later(delay.spec.delay_s, frame)
                else:
                    subscription.recipient.deliver(frame)
                delivered += 1
        counts.delivered += delivered
        self._stats.deliveries += delivered
        return delivered

    def _within_quota(
        self, subscriptions: list[Subscription], tail: bytes, counts: ChannelCounts
    ) -> list[Subscription]:
        """The subscriptions one event may still go to this second; the rest are dropped."""
        if self._outbound is None:
            return subscriptions
        units = outbound_units(len(subscriptions[0].head) + len(tail))
        allowed = self._outbound.take_up_to(len(subscriptions), units)
        if allowed == len(subscriptions):
            return subscriptions
        dropped = len(subscriptions) - allowed
        counts.dropped += dropped
        self._stats.deliveries_throttled += dropped
        return subscriptions[:allowed]
