"""Delivery accounting from sequence numbers: delivered, lost, duplicated, out of order.

Each traced event carries its publisher, concrete channel and a sequence
number per (publisher, channel). Publishers record the events the server
acknowledged; subscribers record what arrived, per subscription (a user
subscribed to ``/default/a`` and ``/default/*`` is sent each event twice, once
per subscription, which is not a duplicate); duplicates and reordering are
seen where they arrive; connections record when each subscription was live,
from ``subscribe_success`` to its loss, its ``unsubscribe_success`` or the
close. A :class:`DeliveryRecorder` per process is drained (deltas only) into
the run's :class:`DeliveryAccounts`, on the master for a distributed run.

For each subscription covering a channel (exact or wildcard) and each
acknowledged event on it:

- *delivered*: it arrived (counted once; a second arrival is a *duplicate*,
  one below the highest sequence already seen is *out of order*);
- *lost*: it did not arrive although it was intended while the subscription
  was live, at least :data:`GRACE_S` before the subscription ended;
- *missed during reconnect*: it did not arrive and was intended while the
  subscription was down between a loss and its resubscribe (or within the
  grace before an end); not a loss of the service, a consequence of the outage;
- *unaccounted (worker lost)*: it did not arrive in the records of a
  subscription held by a worker whose final report never reached the master
  (killed, or cut off): it may well have arrived, so it is not called lost;
- *filtered*: it did not arrive because a namespace handler dropped it (the
  embedded emulator lists those events: :meth:`DeliveryAccounts.add_filtered`); AppSync
  acknowledges them as successful, so without that list they would count as lost;
- events intended before a subscription first became live or after it last
  ended are not expected of it.

A publish slot that passed while its publisher had no connection is counted
as *skipped* on the channel it would have used.
"""

from __future__ import annotations

import bisect
from array import array
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.errors import MessageValidationError
from harness.measure.schema import DELIVERY_FIGURES, DeliveryDrain, DeliveryFigures, LostExample
from harness.protocol import parse_channel, parse_channel_pattern

GRACE_S = 1.0
"""An event intended this close to a subscription's end may still be in flight."""
LOST_EXAMPLES = 20
PAUSE_EVERY = 500
"""Events checked between two pauses of a mid-run account (at most twice as many: about a
millisecond's work, measured with bench/bench_peers.py's watched mode); also keys drained
or merged between two pauses."""
SUBSCRIPTION_COST = 10
"""What looking up one subscription's records costs, in events checked."""
MAX_EVENTS_TRACKED = 5_000_000
"""Acknowledged events one process keeps for accounting; past it accounting is partial."""
_NEVER = 2**63
"""Later than any intended time: every event is judged."""


class SeqRanges:
    """A set of sequence numbers as sorted, disjoint, inclusive ``[low, high]`` ranges.

    In-order arrivals extend the last range, so memory grows with gaps, not events."""

    __slots__ = ("ranges",)

    def __init__(self, ranges: list[list[int]] | None = None) -> None:
        self.ranges: list[list[int]] = ranges or []

    def __contains__(self, seq: int) -> bool:
        index = bisect.bisect_right(self.ranges, [seq, float("inf")]) - 1
        return index >= 0 and self.ranges[index][1] >= seq

    def add(self, seq: int) -> bool:
        """Add ``seq``; False when it was already present."""
        ranges = self.ranges
        if ranges and ranges[-1][1] + 1 == seq:  # the common case: the next one
            ranges[-1][1] = seq
            return True
        index = bisect.bisect_right(ranges, [seq, float("inf")]) - 1
        if index >= 0 and ranges[index][1] >= seq:
            return False
        joins_left = index >= 0 and ranges[index][1] + 1 == seq
        joins_right = index + 1 < len(ranges) and ranges[index + 1][0] - 1 == seq
        if joins_left and joins_right:
            ranges[index][1] = ranges[index + 1][1]
            del ranges[index + 1]
        elif joins_left:
            ranges[index][1] = seq
        elif joins_right:
            ranges[index + 1][0] = seq
        else:
            ranges.insert(index + 1, [seq, seq])
        return True

    def update(self, other: list[list[int]]) -> None:
        """Add every range of ``other`` (coalescing overlapping and adjacent ranges)."""
        merged: list[list[int]] = []
        for low, high in sorted([*self.ranges, *other]):
            if merged and low <= merged[-1][1] + 1:
                merged[-1][1] = max(merged[-1][1], high)
            else:
                merged.append([low, high])
        self.ranges = merged

    def __len__(self) -> int:
        return sum(high - low + 1 for low, high in self.ranges)

    @property
    def highest(self) -> int:
        return self.ranges[-1][1] if self.ranges else 0


def insert_seq(flat: list[int], seq: int) -> bool:
    """:meth:`SeqRanges.add` on ranges kept flat, ``[low, high, low, high, ...]``."""
    index = bisect.bisect_right(flat, seq)
    if index % 2 or (index and flat[index - 1] == seq):  # inside a range, or its high end
        return False
    joins_left = index > 0 and flat[index - 1] + 1 == seq
    joins_right = index < len(flat) and flat[index] - 1 == seq
    if joins_left and joins_right:
        del flat[index - 1 : index + 1]
    elif joins_left:
        flat[index - 1] = seq
    elif joins_right:
        flat[index] = seq
    else:
        flat[index:index] = (seq, seq)
    return True


def pairs(flat: Sequence[int]) -> list[list[int]]:
    """Flat ranges as ``[[low, high], ...]``."""
    return [[flat[index], flat[index + 1]] for index in range(0, len(flat), 2)]


@dataclass
class DeliveryRecorder:
    """One process's publishes, arrivals and subscription lifetimes since the last drain."""

    published: dict[tuple[str, str], array[int]] = field(default_factory=dict)
    """(publisher, channel) to ``[seq, intended_ms, seq, intended_ms, ...]``."""
    duplicates: Counter[str] = field(default_factory=Counter)
    out_of_order: Counter[str] = field(default_factory=Counter)
    lifetimes: list[list[Any]] = field(default_factory=list)
    """``[subscriber, pattern, start_ms, end_ms or None]``: opened and closed lifetimes."""
    untracked: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    """Per channel, scheduled publishes not sent (no connection)."""
    seen: dict[tuple[str, str, str, str], tuple[int, ...]] = field(default_factory=dict)
    """(subscriber, pattern, publisher, channel) to every sequence that arrived, as flat
    ranges (:func:`insert_seq`) in a tuple of ints. The garbage collector stops tracking
    such tuples, so it never walks them; tens of thousands of ``SeqRanges`` and their
    lists, kept for the run's whole length, made every full collection pause the process
    for tens of milliseconds (docs/performance.md)."""
    _changed: set[tuple[str, str, str, str]] = field(default_factory=set)
    """The keys of :attr:`seen` with arrivals since the last drain."""
    _tracked: int = 0

    def acknowledged(self, publisher: str, channel: str, seq: int, intended_ns: int) -> None:
        """An event the server accepted (it should reach every live subscriber)."""
        if self._tracked >= MAX_EVENTS_TRACKED:
            self.untracked += 1
            return
        self._tracked += 1
        events = self.published.get((publisher, channel))
        if events is None:
            events = self.published[publisher, channel] = array("q")
        events.extend((seq, intended_ns // 1_000_000))

    def arrived_event(
        self, subscriber: str, pattern: str, publisher: str, channel: str, seq: int
    ) -> None:
        """An event that arrived for ``subscriber``'s subscription to ``pattern``
        (a hot path: once per delivery)."""
        key = (subscriber, pattern, publisher, channel)
        seen = self.seen.get(key)
        if seen is None:
            self.seen[key] = (seq, seq)
        elif seen[-1] + 1 == seq:  # the next one, in order
            self.seen[key] = (seen[0], seq) if len(seen) == 2 else (*seen[:-1], seq)
        else:
            flat = list(seen)
            if not insert_seq(flat, seq):
                self.duplicates[channel] += 1
                return
            if seq < seen[-1]:
                self.out_of_order[channel] += 1
            self.seen[key] = tuple(flat)
        self._changed.add(key)

    def skipped_publish(self, channel: str) -> None:
        """A scheduled publish to ``channel`` that was not sent (no connection)."""
        self.skipped[channel] += 1

    def subscription_live(self, subscriber: str, pattern: str, start_ns: int) -> None:
        self.lifetimes.append([subscriber, pattern, start_ns // 1_000_000, None])

    def subscription_ended(self, subscriber: str, pattern: str, start_ns: int, end_ns: int) -> None:
        self.lifetimes.append([subscriber, pattern, start_ns // 1_000_000, end_ns // 1_000_000])

    def drain(self, pause: Callable[[], object] | None = None) -> DeliveryDrain:
        """Everything recorded since the last drain; ``pause`` is called every
        :data:`PAUSE_EVERY` keys converted. Arrivals recorded meanwhile go to the next
        drain (a key changed again is sent again: merging ranges twice is harmless)."""
        published, changed = self.published, self._changed
        data: DeliveryDrain = {
            "published": [],
            "arrived": [],
            "duplicates": dict(self.duplicates),
            "out_of_order": dict(self.out_of_order),
            "lifetimes": self.lifetimes,
            "untracked": self.untracked,
            "skipped": dict(self.skipped),
        }
        self.published, self.lifetimes, self._changed = {}, [], set()
        self.duplicates, self.out_of_order, self.skipped = Counter(), Counter(), Counter()
        self.untracked = 0
        for done, ((publisher, channel), events) in enumerate(published.items(), start=1):
            data["published"].append([publisher, channel, events.tolist()])
            _pause_every(done, pause)
        for done, key in enumerate(changed, start=1):
            data["arrived"].append([*key, pairs(self.seen[key])])
            _pause_every(done, pause)
        return data


def empty_drain() -> DeliveryDrain:
    """A drain with nothing in it (what a drain that skips the delivery records carries)."""
    return {
        "published": [],
        "arrived": [],
        "duplicates": {},
        "out_of_order": {},
        "lifetimes": [],
        "untracked": 0,
        "skipped": {},
    }


@dataclass
class ChannelAccount:
    """One channel's (or template's) figures; see :data:`DELIVERY_FIGURES`."""

    published: int = 0
    skipped: int = 0
    delivered: int = 0
    filtered: int = 0
    lost: int = 0
    missed_during_reconnect: int = 0
    unaccounted: int = 0
    duplicated: int = 0
    out_of_order: int = 0

    def add(self, other: ChannelAccount) -> None:
        for name in DELIVERY_FIGURES:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def to_json(self) -> DeliveryFigures:
        return {
            "published": self.published,
            "skipped": self.skipped,
            "delivered": self.delivered,
            "filtered": self.filtered,
            "lost": self.lost,
            "missed_during_reconnect": self.missed_during_reconnect,
            "unaccounted": self.unaccounted,
            "duplicated": self.duplicated,
            "out_of_order": self.out_of_order,
        }


@dataclass
class DeliveryAccounts:
    """A run's delivery records, merged from every process."""

    published: dict[tuple[str, str], dict[int, int]] = field(default_factory=dict)
    arrived: dict[tuple[str, str, str, str], SeqRanges] = field(default_factory=dict)
    duplicates: Counter[str] = field(default_factory=Counter)
    out_of_order: Counter[str] = field(default_factory=Counter)
    lifetimes: dict[tuple[str, str, int], int | None] = field(default_factory=dict)
    untracked: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    filtered: dict[tuple[str, str], set[int]] = field(default_factory=dict)
    """(publisher, channel) to the sequence numbers a namespace handler filtered."""
    filtered_read: int = 0
    """How far the embedded emulator's list of filtered events has been read."""

    def add_filtered(self, publisher: str, channel: str, seq: int) -> None:
        """An event a namespace handler dropped: not expected of any subscription."""
        self.filtered.setdefault((publisher, channel), set()).add(seq)

    def merge(self, data: DeliveryDrain, pause: Callable[[], object] | None = None) -> None:
        """Add a drain (``pause``: called every :data:`PAUSE_EVERY` keys or so)."""
        for done, (publisher, channel, events) in enumerate(data["published"], start=1):
            table = self.published.setdefault((publisher, channel), {})
            for index in range(0, len(events), 2):
                table[events[index]] = events[index + 1]
            _pause_every(done, pause)
        for done, (subscriber, pattern, publisher, channel, ranges) in enumerate(
            data["arrived"], start=1
        ):
            arrival = (subscriber, pattern, publisher, channel)
            self.arrived.setdefault(arrival, SeqRanges()).update(ranges)
            _pause_every(done, pause)
        self.duplicates.update(data["duplicates"])
        self.out_of_order.update(data["out_of_order"])
        for subscriber, pattern, start_ms, end_ms in data["lifetimes"]:
            key = (subscriber, pattern, start_ms)
            if end_ms is not None or key not in self.lifetimes:
                self.lifetimes[key] = end_ms
        self.untracked += data["untracked"]
        self.skipped.update(data.get("skipped", {}))

    def open_subscriptions(self, process_tag: str) -> int:
        """Subscriptions of the users of one process (by its users' id prefix) not yet ended."""
        return sum(
            1
            for (subscriber, _, _), end in self.lifetimes.items()
            if end is None and process_of(subscriber) == process_tag
        )

    def accounts(
        self,
        end_ms: int,
        lost_processes: frozenset[str] = frozenset(),
        *,
        judge_until_ms: int | None = None,
        pause: Callable[[], object] | None = None,
    ) -> tuple[dict[str, ChannelAccount], list[LostExample]]:
        """Per channel, and examples of lost events; lifetimes still open end at ``end_ms``.

        ``lost_processes`` are the id prefixes of users on workers whose final report never
        arrived: what their subscriptions miss is *unaccounted*, not lost. Mid-run (the live
        views), ``judge_until_ms`` leaves events intended after it unjudged: they may still
        be on their way, or their arrival not yet reported; ``pause`` is called every
        :data:`PAUSE_EVERY` events checked, to let other work run."""
        judge_until = _NEVER if judge_until_ms is None else judge_until_ms
        checked = 0
        accounts: dict[str, ChannelAccount] = defaultdict(ChannelAccount)
        examples: list[LostExample] = []
        grace_ms = GRACE_S * 1000
        covering = self._subscriptions_covering(end_ms)
        # A copy: a merge may add to the records while this account pauses.
        for (publisher, channel), events in list(self.published.items()):
            account = accounts[channel]
            account.published += len(events)
            items = list(events.items())
            filtered = self.filtered.get((publisher, channel), ())
            for subscriber, pattern, spans, first, last in covering(channel):
                checked += SUBSCRIPTION_COST
                key = (subscriber, pattern, publisher, channel)
                arrived = self.arrived.get(key, SeqRanges())
                unaccounted = process_of(subscriber) in lost_processes
                for low in range(0, len(items), PAUSE_EVERY):
                    chunk = items[low : low + PAUSE_EVERY]
                    for seq, intended in chunk:
                        if seq in arrived or intended > judge_until:
                            continue
                        if seq in filtered:
                            if first <= intended <= last:
                                account.filtered += 1
                        elif unaccounted:
                            if first <= intended <= last:
                                account.unaccounted += 1
                        elif any(start <= intended <= end - grace_ms for start, end in spans):
                            account.lost += 1
                            if len(examples) < LOST_EXAMPLES:
                                examples.append(
                                    {"channel": channel, "publisher": publisher, "seq": seq,
                                     "subscriber": subscriber, "subscription": pattern,
                                     "intended_ms": intended}
                                )  # fmt: skip
                        elif first <= intended <= last:
                            account.missed_during_reconnect += 1
                    checked += len(chunk)
                    if pause is not None and checked >= PAUSE_EVERY:
                        checked = 0
                        pause()
        for done, ((_, _, _, channel), seqs) in enumerate(list(self.arrived.items()), start=1):
            accounts[channel].delivered += len(seqs)
            _pause_every(done, pause)
        for channel, count in self.duplicates.items():
            accounts[channel].duplicated += count
        for channel, count in self.out_of_order.items():
            accounts[channel].out_of_order += count
        for channel, count in self.skipped.items():
            accounts[channel].skipped += count
        return dict(accounts), examples

    def _subscriptions_covering(
        self, end_ms: int
    ) -> Callable[[str], list[tuple[str, str, list[tuple[int, int]], int, int]]]:
        """For a channel, each subscription that covers it: ``(subscriber, pattern, spans,
        first start, last end)``, lifetimes still open ending at ``end_ms``. Matched once
        per channel and pattern, not once per publisher and subscription."""
        spans_of: dict[tuple[str, str], list[tuple[int, int]]] = defaultdict(list)
        for (subscriber, pattern, start_ms), end in self.lifetimes.items():
            spans_of[(subscriber, pattern)].append((start_ms, end_ms if end is None else end))
        by_pattern: dict[str, list[tuple[str, str, list[tuple[int, int]], int, int]]] = defaultdict(
            list
        )
        for (subscriber, pattern), spans in spans_of.items():
            first = min(start for start, _ in spans)
            last = max(end for _, end in spans)
            by_pattern[pattern].append((subscriber, pattern, spans, first, last))
        found: dict[str, list[tuple[str, str, list[tuple[int, int]], int, int]]] = {}

        def covering(channel: str) -> list[tuple[str, str, list[tuple[int, int]], int, int]]:
            subscriptions = found.get(channel)
            if subscriptions is None:
                subscriptions = found[channel] = [
                    subscription
                    for pattern, held in by_pattern.items()
                    if _covers(pattern, channel)
                    for subscription in held
                ]
            return subscriptions

        return covering


def _pause_every(done: int, pause: Callable[[], object] | None) -> None:
    if pause is not None and done % PAUSE_EVERY == 0:
        pause()


def process_of(user_id: str) -> str:
    """The process tag of a user id (``<tag>-<n>``, HarnessRuntime.next_user_id)."""
    return user_id.rpartition("-")[0]


_PATTERNS: dict[tuple[str, str], bool] = {}


def _covers(pattern: str, channel: str) -> bool:
    """Whether a subscription to ``pattern`` receives events published to ``channel``."""
    key = (pattern, channel)
    covered = _PATTERNS.get(key)
    if covered is None:
        try:
            covered = parse_channel_pattern(pattern).matches(parse_channel(channel))
        except MessageValidationError:
            covered = False
        if len(_PATTERNS) < 100_000:
            _PATTERNS[key] = covered
    return covered
