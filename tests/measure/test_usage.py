"""What a run's clients did that AWS meters (harness/measure/usage.py): counted per
process, drained, merged across processes; times are given, never read."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.measure.usage import (
    MERGE_HORIZON_S,
    UsageAccount,
    UsageRecorder,
    empty_usage,
    utf8_size,
)
from harness.protocol import METERED_UNIT_BYTES

WALL = 1_764_162_000
"""A wall-clock second."""


def ns(second: float) -> int:
    return int(second * 1_000_000_000)


def test_a_recorder_counts_what_its_clients_did() -> None:
    recorder = UsageRecorder()
    recorder.connect_requested(WALL + 0.1)
    recorder.connect_requested(WALL + 0.2)  # refused: a request all the same
    recorder.connection_opened(10.0)
    recorder.subscribe_requested()
    recorder.published(["a" * 100, "b" * METERED_UNIT_BYTES, "c" * (METERED_UNIT_BYTES + 1)], WALL)
    recorder.published(["d" * 6000], WALL + 1.5)
    for _ in range(3):
        recorder.delivered("d" * 6000, ns(WALL + 1.7))
    recorder.delivered("", ns(WALL + 2.1))  # an empty event still is a message
    drained = recorder.drain(12.5)
    assert drained == {
        "connection_requests": 2,
        "subscription_requests": 1,
        "publish_requests": 2,
        "inbound_events": 4,
        "inbound_units": 1 + 1 + 2 + 2,
        "outbound_messages": 4,
        "outbound_units": 3 * 2 + 1,
        "connection_ms": 2500,  # open from 10.0 s, still open at the drain
        "largest_request_bytes": 100 + 2 * METERED_UNIT_BYTES + 1,
        "seconds": [[WALL, 2, 3, 0], [WALL + 1, 0, 1, 6], [WALL + 2, 0, 0, 1]],
    }
    assert json.loads(json.dumps(drained)) == drained  # it travels to the master


def test_a_drain_starts_afresh_and_open_connections_go_on_counting() -> None:
    recorder = UsageRecorder()
    recorder.connection_opened(0.0)
    recorder.connection_opened(1.0)
    assert recorder.drain(2.0)["connection_ms"] == 2000 + 1000
    recorder.connection_closed(3.0)
    second = recorder.drain(5.0)
    assert second["connection_ms"] == 2 * 1000 + 1 * 2000  # both to 3 s, then one
    assert second["connection_requests"] == 0 and second["seconds"] == []
    recorder.connection_closed(6.0)
    recorder.connection_closed(7.0)  # more closes than opens never count backwards
    assert recorder.drain(9.0)["connection_ms"] == 1000
    assert empty_usage() == UsageRecorder().drain(123.0)


def test_a_second_seen_again_adds_to_its_own_figures() -> None:
    """Deliveries read in one second can be recorded after a connect of the next."""
    recorder = UsageRecorder()
    recorder.delivered("e", ns(WALL + 0.9))
    recorder.connect_requested(WALL + 1.0)
    recorder.delivered("e", ns(WALL + 0.95))
    assert recorder.drain(0.0)["seconds"] == [[WALL, 0, 0, 2], [WALL + 1, 1, 0, 0]]


@pytest.mark.parametrize(
    ("text", "size"),
    [("", 0), ("abc", 3), ("é", 2), ("\u20ac", 3), ("\U0001f600", 4), ("\ud800", 3)],
)
def test_the_metered_size_is_the_utf8_size(text: str, size: int) -> None:
    assert utf8_size(text) == size
    recorder = UsageRecorder()
    assert recorder.delivered(text * 3000, ns(WALL)) == 3000 * size
    assert recorder.drain(0.0)["outbound_units"] == max(1, -(-3000 * size // METERED_UNIT_BYTES))


def test_the_account_adds_processes_before_taking_the_busiest_second() -> None:
    """Two processes, each busiest in a different second: the run's peak is the second
    in which the two together did most, not the sum of their own peaks."""
    first, second = UsageRecorder(), UsageRecorder()
    for _ in range(5):
        first.delivered("e", ns(WALL))
    for _ in range(2):
        first.delivered("e", ns(WALL + 1))
    for _ in range(4):
        second.delivered("e", ns(WALL + 1))
    second.delivered("e", ns(WALL + 2))
    account = UsageAccount()
    account.merge(first.drain(0.0))
    account.merge(second.drain(0.0))
    connects, inbound, outbound = account.peaks()
    assert (outbound.value, outbound.second) == (6, WALL + 1)
    assert (connects.value, connects.second, inbound.second) == (0, None, None)
    assert account.counts["outbound_units"] == 12


def test_seconds_past_the_horizon_are_folded_into_the_peaks() -> None:
    account = UsageAccount()
    early, late = UsageRecorder(), UsageRecorder()
    for _ in range(3):
        early.connect_requested(WALL)
    late.connect_requested(WALL + MERGE_HORIZON_S + 5)
    account.merge(early.drain(0.0))
    account.merge(late.drain(0.0))
    assert list(account._seconds) == [WALL + MERGE_HORIZON_S + 5]  # the early one folded
    connects, _, _ = account.peaks()
    assert (connects.value, connects.second) == (3, WALL)
    # a report arriving later for a folded second starts it afresh (documented)
    straggler = UsageRecorder()
    straggler.connect_requested(WALL)
    account.merge(straggler.drain(0.0))
    assert account.peaks()[0].value == 3


@given(
    st.lists(
        st.tuples(st.integers(0, 2), st.integers(0, 400), st.integers(0, 3 * METERED_UNIT_BYTES)),
        max_size=60,
    )
)
def test_merging_drains_of_any_split_gives_the_same_account(
    events: list[tuple[int, int, int]],
) -> None:
    """Whatever process records what, and however often it drains, the merged counts
    and peaks are what one recorder of everything would have."""
    one, parts = UsageRecorder(), [UsageRecorder(), UsageRecorder()]
    together, apart = UsageAccount(), UsageAccount()
    for index, (kind, tenth, size) in enumerate(events):
        wall = WALL + tenth / 10
        for recorder in (one, parts[index % 2]):
            if kind == 0:
                recorder.connect_requested(wall)
            elif kind == 1:
                recorder.published(["x" * size], wall)
            else:
                recorder.delivered("x" * size, ns(wall))
        if index % 7 == 0:
            apart.merge(parts[index % 2].drain(0.0))
    together.merge(one.drain(0.0))
    for part in parts:
        apart.merge(part.drain(0.0))
    assert apart.counts == together.counts
    assert apart.largest_request_bytes == together.largest_request_bytes
    assert [p.value for p in apart.peaks()] == [p.value for p in together.peaks()]
