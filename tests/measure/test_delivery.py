"""Delivery accounting from sequence numbers: ``SeqRanges`` against a plain set, the
duplicates and reordering a recorder sees in a crafted arrival stream, and the run's
accounts (delivered, lost, missed during reconnect) from crafted publishes, arrivals
and subscription lifetimes. Every time is a wall-clock millisecond chosen here (no
clock runs), and the merged accounts of several processes must equal one process's."""

from __future__ import annotations

import itertools
from collections import Counter
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import harness.measure.delivery as delivery
from harness.measure.delivery import (
    GRACE_S,
    LOST_EXAMPLES,
    ChannelAccount,
    DeliveryAccounts,
    DeliveryRecorder,
    SeqRanges,
    insert_seq,
    pairs,
)

SETTINGS = settings(max_examples=200, deadline=None)
T0_MS = 1_764_162_000_000
"""A wall time (ms) that the lifetimes and intended times below are offsets from."""
GRACE_MS = round(GRACE_S * 1000)
END_MS = T0_MS + 30_000
"""Where an open lifetime ends (the run's end) unless a test says otherwise."""
CHANNEL = "/default/a"
PUBLISHER = "pub-1"
SUBSCRIBER = "sub-1"


def ns(ms: int) -> int:
    return ms * 1_000_000


def accounts_of(
    *drains: dict[str, Any], end_ms: int = END_MS
) -> tuple[dict[str, dict[str, int]], list[dict[str, Any]]]:
    accounts = DeliveryAccounts()
    for drained in drains:
        accounts.merge(drained)
    per_channel, examples = accounts.accounts(end_ms)
    return {channel: account.to_json() for channel, account in per_channel.items()}, examples


def account(**figures: int) -> dict[str, int]:
    return {**ChannelAccount().to_json(), **figures}


# -- SeqRanges -----------------------------------------------------------------------------


def ranges_of(*seqs: int) -> SeqRanges:
    ranges = SeqRanges()
    for seq in seqs:
        ranges.add(seq)
    return ranges


def test_in_order_sequences_make_one_range() -> None:
    ranges = ranges_of(*range(1, 101))
    assert ranges.ranges == [[1, 100]]
    assert len(ranges) == 100
    assert ranges.highest == 100


def test_gaps_make_separate_ranges() -> None:
    ranges = ranges_of(1, 2, 3, 7, 8, 20)
    assert ranges.ranges == [[1, 3], [7, 8], [20, 20]]
    assert len(ranges) == 6
    assert ranges.highest == 20


def test_adding_a_present_sequence_reports_it() -> None:
    ranges = ranges_of(1, 2, 3, 7)
    assert [ranges.add(seq) for seq in (1, 2, 3, 7, 4, 4)] == [False] * 4 + [True, False]
    assert ranges.ranges == [[1, 4], [7, 7]]


@pytest.mark.parametrize(
    ("seq", "after"),
    [
        (5, [[1, 3], [5, 5], [7, 8], [20, 20]]),  # alone in a gap
        (4, [[1, 4], [7, 8], [20, 20]]),  # joins the left range
        (6, [[1, 3], [6, 8], [20, 20]]),  # joins the right range
        (0, [[0, 3], [7, 8], [20, 20]]),  # joins the first range from below
        (-4, [[-4, -4], [1, 3], [7, 8], [20, 20]]),  # before everything
        (9, [[1, 3], [7, 9], [20, 20]]),
        (19, [[1, 3], [7, 8], [19, 20]]),
        (21, [[1, 3], [7, 8], [20, 21]]),  # the next one: extends the last range
        (30, [[1, 3], [7, 8], [20, 20], [30, 30]]),
    ],
)
def test_an_out_of_order_sequence_lands_in_place(seq: int, after: list[list[int]]) -> None:
    ranges = ranges_of(1, 2, 3, 7, 8, 20)
    assert ranges.add(seq)
    assert ranges.ranges == after
    assert seq in ranges


def test_a_sequence_filling_a_gap_joins_both_sides() -> None:
    ranges = ranges_of(1, 2, 4, 5, 7)
    assert ranges.add(3)
    assert ranges.ranges == [[1, 5], [7, 7]]
    assert ranges.add(6)
    assert ranges.ranges == [[1, 7]]
    assert len(ranges) == 7


def test_membership() -> None:
    ranges = ranges_of(2, 3, 4, 10, 12)
    inside = [seq for seq in range(-2, 16) if seq in ranges]
    assert inside == [2, 3, 4, 10, 12]
    assert 0 not in SeqRanges()


def test_an_empty_set_has_nothing() -> None:
    ranges = SeqRanges()
    assert (len(ranges), ranges.highest, ranges.ranges) == (0, 0, [])


@pytest.mark.parametrize(
    ("mine", "other", "merged"),
    [
        ([], [[1, 3]], [[1, 3]]),
        ([[1, 3]], [], [[1, 3]]),
        ([[1, 3]], [[4, 6]], [[1, 6]]),  # adjacent
        ([[4, 6]], [[1, 3]], [[1, 6]]),
        ([[1, 5]], [[3, 9]], [[1, 9]]),  # overlapping
        ([[1, 9]], [[3, 4]], [[1, 9]]),  # contained
        ([[1, 2], [8, 9]], [[4, 5]], [[1, 2], [4, 5], [8, 9]]),  # in a gap
        ([[1, 2], [8, 9]], [[3, 7]], [[1, 9]]),  # closing a gap
        ([[1, 1], [3, 3], [5, 5]], [[7, 7], [2, 2], [4, 4]], [[1, 5], [7, 7]]),  # unsorted
        ([[1, 3]], [[1, 3]], [[1, 3]]),
    ],
)
def test_update_coalesces(
    mine: list[list[int]], other: list[list[int]], merged: list[list[int]]
) -> None:
    ranges = SeqRanges([list(r) for r in mine])
    ranges.update(other)
    assert ranges.ranges == merged


def well_formed(ranges: SeqRanges) -> bool:
    """Sorted, each ``low <= high``, neither overlapping nor adjacent."""
    pairs = ranges.ranges
    return all(low <= high for low, high in pairs) and all(
        before[1] + 1 < after[0] for before, after in itertools.pairwise(pairs)
    )


def as_set(ranges: SeqRanges) -> set[int]:
    return {seq for low, high in ranges.ranges for seq in range(low, high + 1)}


SEQS = st.integers(min_value=-5, max_value=60)


@SETTINGS
@given(st.lists(SEQS, max_size=80))
def test_seq_ranges_behave_as_a_set(seqs: list[int]) -> None:
    ranges, model = SeqRanges(), set()
    for seq in seqs:
        assert ranges.add(seq) == (seq not in model)
        model.add(seq)
        assert well_formed(ranges)
    assert as_set(ranges) == model
    assert len(ranges) == len(model)
    assert ranges.highest == max(model, default=0)
    assert [seq for seq in range(-10, 70) if seq in ranges] == sorted(model)


RANGE_LISTS = st.lists(
    st.tuples(SEQS, st.integers(min_value=0, max_value=6)).map(lambda p: [p[0], p[0] + p[1]]),
    max_size=8,
)


@SETTINGS
@given(st.lists(SEQS, max_size=30), RANGE_LISTS)
def test_update_is_a_union(seqs: list[int], other: list[list[int]]) -> None:
    ranges = ranges_of(*seqs)
    ranges.update(other)
    expected = set(seqs) | {seq for low, high in other for seq in range(low, high + 1)}
    assert well_formed(ranges)
    assert as_set(ranges) == expected
    assert len(ranges) == len(expected)


# -- DeliveryRecorder: what arrived --------------------------------------------------------


def arrive(recorder: DeliveryRecorder, *seqs: int, subscriber: str = SUBSCRIBER, **kw: str) -> None:
    """Arrivals for ``subscriber``'s subscription to ``pattern`` (by default the channel)."""
    channel = kw.get("channel", CHANNEL)
    for seq in seqs:
        recorder.arrived_event(
            subscriber, kw.get("pattern", channel), kw.get("publisher", PUBLISHER), channel, seq
        )


def test_a_crafted_stream_shows_one_duplicate_and_one_reordering() -> None:
    recorder = DeliveryRecorder()
    arrive(recorder, 1, 2, 3, 3, 5, 4, 6)
    drained = recorder.drain()
    assert drained["duplicates"] == {CHANNEL: 1}  # the second 3
    assert drained["out_of_order"] == {CHANNEL: 1}  # 4, after 5
    assert drained["arrived"] == [[SUBSCRIBER, CHANNEL, PUBLISHER, CHANNEL, [[1, 6]]]]


@pytest.mark.parametrize(
    ("stream", "duplicates", "out_of_order", "arrived"),
    [
        ([1, 2, 3, 4], 0, 0, [[1, 4]]),
        ([1, 3], 0, 0, [[1, 1], [3, 3]]),  # a gap is not reordering
        ([3, 1, 2], 0, 2, [[1, 3]]),
        ([1, 1, 1], 2, 0, [[1, 1]]),
        ([5, 4, 4, 3], 1, 2, [[3, 5]]),
        ([2, 4, 3, 1, 3, 5], 1, 2, [[1, 5]]),
    ],
)
def test_duplicates_and_reordering_of_a_stream(
    stream: list[int], duplicates: int, out_of_order: int, arrived: list[list[int]]
) -> None:
    recorder = DeliveryRecorder()
    arrive(recorder, *stream)
    drained = recorder.drain()
    assert sum(drained["duplicates"].values()) == duplicates
    assert sum(drained["out_of_order"].values()) == out_of_order
    assert drained["arrived"] == [[SUBSCRIBER, CHANNEL, PUBLISHER, CHANNEL, arrived]]


def test_counters_are_per_channel_and_streams_per_subscription_and_publisher() -> None:
    recorder = DeliveryRecorder()
    arrive(recorder, 1, 1, 2, channel="/default/a")
    arrive(recorder, 2, 1, channel="/default/b")
    arrive(recorder, 1, 2, subscriber="sub-2", channel="/default/a")  # not duplicates
    arrive(recorder, 1, publisher="pub-2", channel="/default/a")  # another stream
    arrive(recorder, 2, 1, pattern="/default/*", channel="/default/a")  # another subscription
    drained = recorder.drain()
    assert drained["duplicates"] == {"/default/a": 1}
    assert drained["out_of_order"] == {"/default/a": 1, "/default/b": 1}
    assert sorted(map(tuple, drained["arrived"])) == [
        ("sub-1", "/default/*", "pub-1", "/default/a", [[1, 2]]),
        ("sub-1", "/default/a", "pub-1", "/default/a", [[1, 2]]),
        ("sub-1", "/default/a", "pub-2", "/default/a", [[1, 1]]),
        ("sub-1", "/default/b", "pub-1", "/default/b", [[1, 2]]),
        ("sub-2", "/default/a", "pub-1", "/default/a", [[1, 2]]),
    ]


def test_a_drain_resets_the_deltas_but_not_what_was_seen() -> None:
    """Counts and lifetimes are deltas; arrivals are every sequence seen so far of each key
    with an arrival since the last drain (merging takes the union, so resending is exact)."""
    recorder = DeliveryRecorder()
    arrive(recorder, 1, 2, 4, 6)
    recorder.acknowledged(PUBLISHER, CHANNEL, 1, ns(T0_MS))
    recorder.subscription_live(SUBSCRIBER, CHANNEL, ns(T0_MS))
    first = recorder.drain()
    assert first["arrived"] == [[SUBSCRIBER, CHANNEL, PUBLISHER, CHANNEL, [[1, 2], [4, 4], [6, 6]]]]
    assert recorder.drain() == {
        "published": [],
        "arrived": [],
        "duplicates": {},
        "out_of_order": {},
        "lifetimes": [],
        "untracked": 0,
        "skipped": {},
    }
    assert recorder.drain() == delivery.empty_drain()
    arrive(recorder, 2, 3, 6, 7, 5)  # 2 and 6 came before the drain; 3 and 5 below 6
    later = recorder.drain()
    assert later["duplicates"] == {CHANNEL: 2}
    assert later["out_of_order"] == {CHANNEL: 2}
    assert later["arrived"] == [[SUBSCRIBER, CHANNEL, PUBLISHER, CHANNEL, [[1, 7]]]]
    # What a drain returned is not touched by later recording.
    assert first["arrived"] == [[SUBSCRIBER, CHANNEL, PUBLISHER, CHANNEL, [[1, 2], [4, 4], [6, 6]]]]
    assert first["published"] == [[PUBLISHER, CHANNEL, [1, T0_MS]]]
    assert first["lifetimes"] == [[SUBSCRIBER, CHANNEL, T0_MS, None]]


def test_publishes_and_lifetimes_are_recorded_in_milliseconds() -> None:
    recorder = DeliveryRecorder()
    recorder.acknowledged(PUBLISHER, CHANNEL, 1, ns(T0_MS) + 999_999)  # still T0_MS
    recorder.acknowledged(PUBLISHER, CHANNEL, 2, ns(T0_MS + 1))
    recorder.acknowledged(PUBLISHER, "/default/b", 1, ns(T0_MS + 2))
    recorder.subscription_live(SUBSCRIBER, "/default/*", ns(T0_MS) + 5)
    recorder.subscription_ended(SUBSCRIBER, "/default/*", ns(T0_MS) + 5, ns(T0_MS + 9) + 1)
    drained = recorder.drain()
    assert drained["published"] == [
        [PUBLISHER, CHANNEL, [1, T0_MS, 2, T0_MS + 1]],
        [PUBLISHER, "/default/b", [1, T0_MS + 2]],
    ]
    assert drained["lifetimes"] == [
        [SUBSCRIBER, "/default/*", T0_MS, None],
        [SUBSCRIBER, "/default/*", T0_MS, T0_MS + 9],
    ]


def test_events_past_the_tracking_cap_are_counted_as_untracked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(delivery, "MAX_EVENTS_TRACKED", 3)
    recorder = DeliveryRecorder()
    recorder.subscription_live(SUBSCRIBER, CHANNEL, ns(T0_MS))
    for seq in range(1, 6):
        recorder.acknowledged(PUBLISHER, CHANNEL, seq, ns(T0_MS + 1000 * seq))
    first = recorder.drain()
    tracked = [1, T0_MS + 1000, 2, T0_MS + 2000, 3, T0_MS + 3000]
    assert first["published"] == [[PUBLISHER, CHANNEL, tracked]]
    assert first["untracked"] == 2
    recorder.acknowledged(PUBLISHER, CHANNEL, 6, ns(T0_MS + 6000))  # the cap is per process
    second = recorder.drain()
    assert (second["published"], second["untracked"]) == ([], 1)
    per_channel, examples = accounts_of(first, second)
    assert per_channel == {CHANNEL: account(published=3, lost=3)}
    assert [example["seq"] for example in examples] == [1, 2, 3]
    accounts = DeliveryAccounts()
    accounts.merge(first)
    accounts.merge(second)
    assert accounts.untracked == 3


# -- DeliveryAccounts: delivered, lost, missed during reconnect ----------------------------


def one_subscriber(
    lifetimes: list[tuple[int, int | None]],
    intended_ms: list[int],
    arrived: tuple[int, ...] | list[int] = (),
    pattern: str = CHANNEL,
    channel: str = CHANNEL,
) -> DeliveryRecorder:
    """One publisher's events ``1..n`` intended at ``intended_ms`` (offsets from T0),
    the sequences that ``arrived`` at the one subscriber, and its lifetimes (offsets;
    an end of None is still open)."""
    recorder = DeliveryRecorder()
    for start, end in lifetimes:
        recorder.subscription_live(SUBSCRIBER, pattern, ns(T0_MS + start))
        if end is not None:
            recorder.subscription_ended(SUBSCRIBER, pattern, ns(T0_MS + start), ns(T0_MS + end))
    for seq, offset in enumerate(intended_ms, start=1):
        recorder.acknowledged(PUBLISHER, channel, seq, ns(T0_MS + offset))
    arrive(recorder, *arrived, channel=channel, pattern=pattern)
    return recorder


# A subscription live from T0 to T0 + 10 s, lost; resubscribed at T0 + 12 s and still
# open when the run ends at END_MS = T0 + 30 s.
RECONNECTED = [(0, 10_000), (12_000, None)]


@pytest.mark.parametrize(
    ("offset_ms", "outcome"),
    [
        (-1, None),  # before the first subscription: not expected
        (-60_000, None),
        (0, "lost"),  # the subscription's first millisecond
        (5_000, "lost"),
        (10_000 - GRACE_MS, "lost"),  # exactly the grace before the loss
        (10_000 - GRACE_MS + 1, "missed_during_reconnect"),  # may have been in flight
        (10_000, "missed_during_reconnect"),
        (11_000, "missed_during_reconnect"),  # between the loss and the resubscribe
        (11_999, "missed_during_reconnect"),
        (12_000, "lost"),  # the resubscribe's first millisecond
        (20_000, "lost"),
        (30_000 - GRACE_MS, "lost"),  # the open lifetime ends with the run
        (30_000 - GRACE_MS + 1, "missed_during_reconnect"),  # within the grace of the end
        (30_000, "missed_during_reconnect"),
        (30_001, None),  # after the last end: not expected
    ],
)
def test_an_event_that_did_not_arrive(offset_ms: int, outcome: str | None) -> None:
    per_channel, examples = accounts_of(one_subscriber(RECONNECTED, [offset_ms]).drain())
    expected = account(published=1, **({outcome: 1} if outcome else {}))
    assert per_channel == {CHANNEL: expected}
    if outcome == "lost":
        assert examples == [
            {
                "channel": CHANNEL,
                "publisher": PUBLISHER,
                "seq": 1,
                "subscriber": SUBSCRIBER,
                "subscription": CHANNEL,
                "intended_ms": T0_MS + offset_ms,
            }
        ]
    else:
        assert examples == []


@pytest.mark.parametrize("offset_ms", [0, 250, 500, 1_500, 1_999])
def test_a_subscription_shorter_than_the_grace_loses_nothing(offset_ms: int) -> None:
    """Live for 0.5 s only (less than the grace), down until 2 s: even an event intended
    in its first millisecond may still have been in flight when it ended."""
    recorder = one_subscriber([(0, 500), (2_000, None)], [offset_ms])
    per_channel, examples = accounts_of(recorder.drain())
    assert per_channel == {CHANNEL: account(published=1, missed_during_reconnect=1)}
    assert examples == []


@pytest.mark.parametrize("offset_ms", [-1, 0, 5_000, 9_500, 11_000, 20_000, 30_000, 40_000])
def test_an_event_that_arrived_is_delivered_whenever_it_was_intended(offset_ms: int) -> None:
    per_channel, examples = accounts_of(one_subscriber(RECONNECTED, [offset_ms], [1]).drain())
    assert per_channel == {CHANNEL: account(published=1, delivered=1)}
    assert examples == []


def test_a_duplicate_is_delivered_once() -> None:
    recorder = one_subscriber(RECONNECTED, [1000, 2000], [1, 2, 2, 1])
    per_channel, _ = accounts_of(recorder.drain())
    assert per_channel == {CHANNEL: account(published=2, delivered=2, duplicated=2)}


def test_a_reconnect_outage_is_missed_not_lost() -> None:
    """Events every 500 ms from T0 - 2 s to T0 + 32 s; the subscriber got every one
    intended while it was live, none while it was reconnecting or outside."""
    offsets = list(range(-2_000, 32_001, 500))
    live = [
        seq
        for seq, offset in enumerate(offsets, start=1)
        if 0 <= offset <= 10_000 - GRACE_MS or 12_000 <= offset <= 30_000 - GRACE_MS
    ]
    per_channel, examples = accounts_of(one_subscriber(RECONNECTED, offsets, live).drain())
    in_outage = [o for o in offsets if 10_000 - GRACE_MS < o < 12_000 or 29_000 < o <= 30_000]
    assert per_channel == {
        CHANNEL: account(
            published=len(offsets),
            delivered=len(live),
            missed_during_reconnect=len(in_outage),
        )
    }
    assert len(in_outage) == 7  # 9.5, 10, 10.5, 11, 11.5 s; 29.5, 30 s
    assert examples == []


def test_lost_and_missed_side_by_side() -> None:
    offsets = [-500, 1_000, 2_000, 9_500, 11_000, 13_000, 29_500, 31_000]
    recorder = one_subscriber(RECONNECTED, offsets, arrived=[2, 6])
    per_channel, examples = accounts_of(recorder.drain())
    assert per_channel == {
        CHANNEL: account(published=8, delivered=2, lost=1, missed_during_reconnect=3)
    }
    assert [(e["seq"], e["intended_ms"]) for e in examples] == [(3, T0_MS + 2_000)]


def test_an_open_lifetime_ends_at_the_given_end() -> None:
    recorder = one_subscriber([(0, None)], [5_000, 10_000, 15_000])
    drained = recorder.drain()
    outcomes = {}
    for end in (4_000, 5_999, 6_000, 11_000, 16_000):
        per_channel, _ = accounts_of(drained, end_ms=T0_MS + end)
        figures = per_channel[CHANNEL]
        outcomes[end] = (figures["lost"], figures["missed_during_reconnect"])
    assert outcomes == {
        4_000: (0, 0),  # all after the end
        5_999: (0, 1),  # 5 s within the grace of the end
        6_000: (1, 0),
        11_000: (2, 0),
        16_000: (3, 0),
    }


@pytest.mark.parametrize(
    ("pattern", "channel", "covered"),
    [
        ("/default/*", "/default/a", True),
        ("/default/*", "/default/a/b", True),
        ("/default/*", "/other/a", False),
        ("/default/*", "/defaults/a", False),
        ("/default/a", "/default/a", True),
        ("/default/a", "/default/b", False),
        ("/default/a", "/default/a/b", False),
        ("/default/*", "not a channel", False),
    ],
)
def test_a_subscription_expects_the_channels_it_covers(
    pattern: str, channel: str, covered: bool
) -> None:
    recorder = one_subscriber([(0, None)], [1_000], pattern=pattern, channel=channel)
    per_channel, examples = accounts_of(recorder.drain())
    assert per_channel == {channel: account(published=1, lost=int(covered))}
    assert len(examples) == int(covered)


def test_each_subscription_is_accounted_on_its_own() -> None:
    """One subscriber, subscribed to ``/default/a`` (lost at 10 s, never resubscribed) and
    to ``/default/*`` (live to the end): each expects every event on ``/default/a`` from
    its own lifetime; the exact one expects nothing after its end."""
    recorder = DeliveryRecorder()
    recorder.subscription_live(SUBSCRIBER, "/default/a", ns(T0_MS))
    recorder.subscription_ended(SUBSCRIBER, "/default/a", ns(T0_MS), ns(T0_MS + 10_000))
    recorder.subscription_live(SUBSCRIBER, "/default/*", ns(T0_MS))
    steps = [("/default/a", 5_000), ("/default/a", 9_500), ("/default/a", 15_000)]
    steps += [("/default/b", 15_000), ("/other/a", 15_000)]
    for seq, (channel, offset) in enumerate(steps, start=1):
        recorder.acknowledged(PUBLISHER, channel, seq, ns(T0_MS + offset))
    per_channel, examples = accounts_of(recorder.drain())
    assert per_channel == {
        # seq 1: lost by both; 2: missed by the exact one (in its grace), lost by the
        # wildcard; 3: not expected of the exact one (after its end), lost by the wildcard.
        "/default/a": account(published=3, lost=4, missed_during_reconnect=1),
        "/default/b": account(published=1, lost=1),
        "/other/a": account(published=1),
    }
    assert sorted((e["channel"], e["seq"], e["subscription"]) for e in examples) == [
        ("/default/a", 1, "/default/*"),
        ("/default/a", 1, "/default/a"),
        ("/default/a", 2, "/default/*"),
        ("/default/a", 3, "/default/*"),
        ("/default/b", 4, "/default/*"),
    ]


def test_an_event_received_once_per_subscription_is_not_a_duplicate() -> None:
    recorder = DeliveryRecorder()
    for pattern in ("/default/a", "/default/*"):
        recorder.subscription_live(SUBSCRIBER, pattern, ns(T0_MS))
    for seq in (1, 2):
        recorder.acknowledged(PUBLISHER, CHANNEL, seq, ns(T0_MS + 1000 * seq))
    arrive(recorder, 1, 2, pattern="/default/a")
    arrive(recorder, 1, 2, 2, pattern="/default/*")  # the second 2 is a duplicate
    per_channel, examples = accounts_of(recorder.drain())
    assert per_channel == {CHANNEL: account(published=2, delivered=4, duplicated=1)}
    assert examples == []


def test_an_arrival_on_one_subscription_does_not_count_for_another() -> None:
    recorder = DeliveryRecorder()
    for pattern in ("/default/a", "/default/*"):
        recorder.subscription_live(SUBSCRIBER, pattern, ns(T0_MS))
    recorder.acknowledged(PUBLISHER, CHANNEL, 1, ns(T0_MS + 1000))
    arrive(recorder, 1, pattern="/default/*")
    per_channel, examples = accounts_of(recorder.drain())
    assert per_channel == {CHANNEL: account(published=1, delivered=1, lost=1)}
    assert [e["subscription"] for e in examples] == ["/default/a"]


def test_every_subscriber_is_accounted_for() -> None:
    recorder = DeliveryRecorder()
    for subscriber in ("sub-1", "sub-2", "sub-3"):
        recorder.subscription_live(subscriber, CHANNEL, ns(T0_MS))
    recorder.subscription_live("sub-4", "/other/*", ns(T0_MS))
    for seq in (1, 2, 3):
        recorder.acknowledged(PUBLISHER, CHANNEL, seq, ns(T0_MS + 1000 * seq))
    arrive(recorder, 1, 2, 3, subscriber="sub-1")
    arrive(recorder, 1, 3, subscriber="sub-2")
    per_channel, examples = accounts_of(recorder.drain())
    assert per_channel == {CHANNEL: account(published=3, delivered=5, lost=4)}
    assert sorted((e["subscriber"], e["seq"]) for e in examples) == [
        ("sub-2", 2),
        ("sub-3", 1),
        ("sub-3", 2),
        ("sub-3", 3),
    ]


def test_lost_examples_are_capped() -> None:
    recorder = one_subscriber([(0, None)], [100] * (LOST_EXAMPLES + 5))
    per_channel, examples = accounts_of(recorder.drain())
    assert per_channel[CHANNEL]["lost"] == LOST_EXAMPLES + 5
    assert len(examples) == LOST_EXAMPLES


def test_untracked_events_add_up_over_merges() -> None:
    accounts = DeliveryAccounts()
    for untracked in (2, 0, 5):
        accounts.merge({**DeliveryRecorder().drain(), "untracked": untracked})
    assert accounts.untracked == 7


@pytest.mark.parametrize("closed_first", [False, True])
def test_a_closed_lifetime_wins_over_its_open_record(closed_first: bool) -> None:
    """A subscription opened before one drain and closed before a later one: its two
    records may reach the accounts in either order; it ends when it was closed."""
    opened = DeliveryRecorder()
    opened.subscription_live(SUBSCRIBER, CHANNEL, ns(T0_MS))
    opened.acknowledged(PUBLISHER, CHANNEL, 1, ns(T0_MS + 5_000))
    opened.acknowledged(PUBLISHER, CHANNEL, 2, ns(T0_MS + 20_000))
    closed = DeliveryRecorder()
    closed.subscription_ended(SUBSCRIBER, CHANNEL, ns(T0_MS), ns(T0_MS + 10_000))
    drains = [opened.drain(), closed.drain()]
    if closed_first:
        drains.reverse()
    accounts = DeliveryAccounts()
    for drained in drains:
        accounts.merge(drained)
    assert accounts.lifetimes == {(SUBSCRIBER, CHANNEL, T0_MS): T0_MS + 10_000}
    per_channel, examples = accounts.accounts(END_MS)
    assert per_channel[CHANNEL].to_json() == account(published=2, lost=1)
    assert [e["seq"] for e in examples] == [1]  # seq 2 came after the end


def test_an_open_lifetime_seen_twice_stays_open() -> None:
    recorder = DeliveryRecorder()
    recorder.subscription_live(SUBSCRIBER, CHANNEL, ns(T0_MS))
    drained = recorder.drain()
    accounts = DeliveryAccounts()
    accounts.merge(drained)
    accounts.merge(drained)
    assert accounts.lifetimes == {(SUBSCRIBER, CHANNEL, T0_MS): None}


def test_arrivals_split_over_drains_are_delivered_once() -> None:
    recorder = one_subscriber([(0, None)], [1_000 * seq for seq in range(1, 9)])
    drains = [recorder.drain()]
    for stream in ([1, 2, 5], [2, 3, 4], [8, 5, 6]):
        arrive(recorder, *stream)
        drains.append(recorder.drain())
    per_channel, examples = accounts_of(*drains)
    assert per_channel == {
        CHANNEL: account(published=8, delivered=7, lost=1, duplicated=2, out_of_order=3)
    }
    assert [e["seq"] for e in examples] == [7]


# -- several processes measure what one would ----------------------------------------------


def test_a_publisher_and_a_subscriber_in_two_processes() -> None:
    """The publisher reports from one worker, the subscriber from another, each twice;
    the master's accounts are those of one process recording both."""

    def record(publishing: DeliveryRecorder, subscribing: DeliveryRecorder) -> list[dict[str, Any]]:
        subscribing.subscription_live(SUBSCRIBER, "/default/*", ns(T0_MS))
        for seq in range(1, 6):
            publishing.acknowledged(PUBLISHER, CHANNEL, seq, ns(T0_MS + 1000 * seq))
        arrive(subscribing, 1, 3, 2, pattern="/default/*")
        drains = [subscribing.drain(), publishing.drain()]
        subscribing.subscription_ended(SUBSCRIBER, "/default/*", ns(T0_MS), ns(T0_MS + 7_000))
        subscribing.subscription_live(SUBSCRIBER, "/default/*", ns(T0_MS + 9_000))
        for seq in range(6, 11):
            publishing.acknowledged(PUBLISHER, CHANNEL, seq, ns(T0_MS + 1000 * seq))
        arrive(subscribing, 3, 9, 10, pattern="/default/*")
        return [*drains, publishing.drain(), subscribing.drain()]

    single = DeliveryRecorder()
    one = accounts_of(*record(single, single))
    two = accounts_of(*record(DeliveryRecorder(), DeliveryRecorder()))
    assert two == one
    # 1-3, 9, 10 arrived; 4-6 lost (6 exactly the grace before the end); 7, 8 missed.
    assert one[0] == {
        CHANNEL: account(
            published=10,
            delivered=5,
            lost=3,
            missed_during_reconnect=2,
            duplicated=1,
            out_of_order=1,
        )
    }
    assert [e["seq"] for e in one[1]] == [4, 5, 6]


PUBLISHERS = ["pub-1", "pub-2"]
SUBSCRIBERS = ["sub-1", "sub-2", "sub-3"]
CHANNELS = ["/default/a", "/default/b", "/other/a"]
PATTERNS = ["/default/a", "/default/*", "/other/a", "/other/*"]


@st.composite
def runs(draw: st.DrawFn) -> tuple[dict[str, int], list[tuple[Any, ...]]]:
    """Which process each publisher and subscriber lives in, and what happened, in order:
    publishes, arrivals, subscriptions opened and closed, and reports (drains)."""
    processes = {
        name: draw(st.integers(min_value=0, max_value=2)) for name in PUBLISHERS + SUBSCRIBERS
    }
    steps: list[tuple[Any, ...]] = []
    next_seq: Counter[tuple[str, str]] = Counter()
    opened: list[tuple[str, str, int]] = []
    for _ in range(draw(st.integers(min_value=0, max_value=60))):
        kind = draw(st.sampled_from(["publish", "publish", "arrive", "arrive", "live", "end"]))
        if kind == "publish":
            key = (draw(st.sampled_from(PUBLISHERS)), draw(st.sampled_from(CHANNELS)))
            next_seq[key] += 1
            intended = draw(st.integers(min_value=-5_000, max_value=35_000))
            steps.append(("publish", *key, next_seq[key], intended))
        elif kind == "arrive":
            steps.append(
                (
                    "arrive",
                    draw(st.sampled_from(SUBSCRIBERS)),
                    draw(st.sampled_from(PATTERNS)),
                    draw(st.sampled_from(PUBLISHERS)),
                    draw(st.sampled_from(CHANNELS)),
                    draw(st.integers(min_value=1, max_value=8)),
                )
            )
        elif kind == "live":
            life = (
                draw(st.sampled_from(SUBSCRIBERS)),
                draw(st.sampled_from(PATTERNS)),
                draw(st.integers(min_value=0, max_value=30_000)),
            )
            opened.append(life)
            steps.append(("live", *life))
        elif opened:
            life = opened.pop(draw(st.integers(min_value=0, max_value=len(opened) - 1)))
            steps.append(("end", *life, life[2] + draw(st.integers(0, 15_000))))
        if draw(st.booleans()):
            steps.append(("drain", draw(st.integers(min_value=0, max_value=2))))
    return processes, steps


def play(steps: list[tuple[Any, ...]], process_of: dict[str, int]) -> list[dict[str, Any]]:
    """Every drain, in the order the accounts would receive them."""
    recorders = [DeliveryRecorder() for _ in range(3)]
    drains = []
    for kind, *args in steps:
        if kind == "publish":
            publisher, channel, seq, intended = args
            recorder = recorders[process_of[publisher]]
            recorder.acknowledged(publisher, channel, seq, ns(T0_MS + intended))
        elif kind == "arrive":
            recorders[process_of[args[0]]].arrived_event(*args)
        elif kind == "live":
            subscriber, pattern, start = args
            recorders[process_of[subscriber]].subscription_live(
                subscriber, pattern, ns(T0_MS + start)
            )
        elif kind == "end":
            subscriber, pattern, start, end = args
            recorders[process_of[subscriber]].subscription_ended(
                subscriber, pattern, ns(T0_MS + start), ns(T0_MS + end)
            )
        elif kind == "drain":
            drains.append(recorders[args[0]].drain())
    return drains + [recorder.drain() for recorder in recorders]


@SETTINGS
@given(runs())
def test_merged_processes_account_what_one_process_would(
    run: tuple[dict[str, int], list[tuple[Any, ...]]],
) -> None:
    process_of, steps = run
    split_accounts, split_examples = accounts_of(*play(steps, process_of))
    single = dict.fromkeys(process_of, 0)
    one_accounts, one_examples = accounts_of(*play(steps, single))
    assert split_accounts == one_accounts
    lost = sum(figures["lost"] for figures in one_accounts.values())
    assert len(split_examples) == len(one_examples) == min(lost, LOST_EXAMPLES)
    if lost <= LOST_EXAMPLES:  # beyond the cap, which examples are kept depends on order
        assert sorted(split_examples, key=example_key) == sorted(one_examples, key=example_key)


def example_key(example: dict[str, Any]) -> tuple[str, str, int, str, str]:
    return (
        example["channel"],
        example["publisher"],
        example["seq"],
        example["subscriber"],
        example["subscription"],
    )


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=40), max_size=60))
def test_flat_ranges_hold_what_seq_ranges_hold(seqs: list[int]) -> None:
    """A recorder keeps its ranges flat in an array (out of the garbage collector's
    reach); each insertion must answer, and leave, what ``SeqRanges`` does."""
    reference = SeqRanges()
    flat: list[int] = []
    for seq in seqs:
        expected = reference.add(seq)
        if not flat:
            added = True
            flat.extend((seq, seq))
        else:
            added = insert_seq(flat, seq)
        assert added == expected
        assert pairs(flat) == reference.ranges


# -- a lost worker's subscriptions, skipped publishes ---------------------------------------


@pytest.mark.parametrize(
    ("offset_ms", "outcome"),
    [
        (-1, None),  # before the subscription: not expected of it
        (5_000, "unaccounted"),  # would be lost
        (10_500, "unaccounted"),  # would be missed during the reconnect
        (20_000, "unaccounted"),
        (30_001, None),  # after the run's end
    ],
)
def test_what_a_lost_workers_subscription_never_reported_is_unaccounted(
    offset_ms: int, outcome: str | None
) -> None:
    """A subscriber on a worker whose final report never came (its id prefix is among the
    lost processes): an event missing from its records may have arrived after its last
    report, so it is unaccounted, neither lost nor missed."""
    accounts = DeliveryAccounts()
    accounts.merge(one_subscriber(RECONNECTED, [offset_ms]).drain())
    per_channel, examples = accounts.accounts(END_MS, frozenset({delivery.process_of(SUBSCRIBER)}))
    assert per_channel[CHANNEL].to_json() == account(
        published=1, **({outcome: 1} if outcome else {})
    )
    assert examples == []


def test_only_the_lost_workers_subscribers_are_unaccounted() -> None:
    """Two subscribers of one channel in two processes; one process is lost: its missing
    events are unaccounted, the other's are lost, and what arrived is delivered."""
    recorder = DeliveryRecorder()
    for subscriber in ("kept-1", "gone-1"):
        recorder.subscription_live(subscriber, CHANNEL, ns(T0_MS))
    for seq in (1, 2, 3):
        recorder.acknowledged(PUBLISHER, CHANNEL, seq, ns(T0_MS + 1_000 * seq))
    recorder.arrived_event("kept-1", CHANNEL, PUBLISHER, CHANNEL, 1)
    recorder.arrived_event("gone-1", CHANNEL, PUBLISHER, CHANNEL, 1)
    accounts = DeliveryAccounts()
    accounts.merge(recorder.drain())
    per_channel, examples = accounts.accounts(END_MS, frozenset({"gone"}))
    assert per_channel[CHANNEL].to_json() == account(
        published=3, delivered=2, lost=2, unaccounted=2
    )
    assert {example["subscriber"] for example in examples} == {"kept-1"}
    assert accounts.open_subscriptions("gone") == accounts.open_subscriptions("kept") == 1
    assert accounts.open_subscriptions("other") == 0


def test_skipped_publishes_are_counted_per_channel_over_drains() -> None:
    first, second = DeliveryRecorder(), DeliveryRecorder()
    for recorder, channels in ((first, ["/default/a", "/default/a"]), (second, ["/default/b"])):
        for channel in channels:
            recorder.skipped_publish(channel)
    drained = first.drain()
    assert drained["skipped"] == {"/default/a": 2}
    assert first.drain()["skipped"] == {}  # a drain takes the counts with it
    per_channel, _ = accounts_of(drained, second.drain())
    assert per_channel == {"/default/a": account(skipped=2), "/default/b": account(skipped=1)}


def test_a_user_ids_process_is_its_prefix() -> None:
    assert delivery.process_of("3fa9c1-12") == "3fa9c1"
    assert delivery.process_of("a-b-7") == "a-b"
    assert delivery.process_of("nodash") == ""


# -- mid-run accounts (the live views) -----------------------------------------------------


def test_mid_run_events_after_the_judging_time_are_not_judged_yet() -> None:
    """Live from T0, still open: at T0 + 20 s with events judged until T0 + 15 s, the
    events intended later are neither lost nor missed (they may be on their way)."""
    offsets = [1_000, 5_000, 14_000, 15_000, 15_001, 19_500, 19_999]
    recorder = one_subscriber([(0, None)], offsets, arrived=[1])
    accounts = DeliveryAccounts()
    accounts.merge(recorder.drain())
    per_channel, examples = accounts.accounts(T0_MS + 20_000, judge_until_ms=T0_MS + 15_000)
    figures = per_channel[CHANNEL].to_json()
    assert figures == account(published=7, delivered=1, lost=3)  # 5, 14 and 15 s
    assert [e["seq"] for e in examples] == [2, 3, 4]
    at_end, _ = accounts.accounts(T0_MS + 20_000)  # the same records, judged at the end
    assert at_end[CHANNEL].to_json() == account(
        published=7, delivered=1, lost=4, missed_during_reconnect=2
    )


def test_mid_run_accounting_pauses_every_few_thousand_events(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(delivery, "PAUSE_EVERY", 10)
    recorder = DeliveryRecorder()
    for index in range(3):
        recorder.subscription_live(f"sub-{index}", CHANNEL, ns(T0_MS))
    for seq in range(1, 41):
        recorder.acknowledged(PUBLISHER, CHANNEL, seq, ns(T0_MS + seq))
    accounts = DeliveryAccounts()
    accounts.merge(recorder.drain())
    pauses: list[int] = []
    per_channel, _ = accounts.accounts(
        END_MS, judge_until_ms=END_MS, pause=lambda: pauses.append(1)
    )
    assert per_channel[CHANNEL].lost == 120  # 40 events, 3 subscriptions
    assert len(pauses) == 12  # 120 checks, a pause every 10
