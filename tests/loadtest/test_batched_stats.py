"""Deliveries added to Locust's stats in batches must read in Locust's table exactly as
one ``log_request`` per delivery would: the reference is Locust's own ``RequestStats``
fed request by request with the same response times."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from locust.stats import RequestStats

from harness.loadtest.batched_stats import PAUSE_EVERY, BatchedRequests

NAMES = st.sampled_from(["/default/a-{1..3}", "/chat/*"])
LATENCIES_US = st.one_of(
    st.integers(min_value=1, max_value=3_000), st.integers(min_value=1, max_value=200_000_000)
)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(NAMES, LATENCIES_US, st.integers(0, 500)), max_size=400))
def test_a_batch_reads_as_one_request_event_per_delivery(
    deliveries: list[tuple[str, int, int]],
) -> None:
    reference = RequestStats()
    for name, latency_us, length in deliveries:
        reference.log_request("deliver", name, latency_us / 1000.0, length)
    batched = RequestStats()
    batch = BatchedRequests("deliver")
    pauses: list[int] = []
    for name, latency_us, length in deliveries:
        batch.add(name, latency_us, length)
    assert batch.pending == len(deliveries)
    assert batch.flush(batched, pause=lambda: pauses.append(1)) == len(deliveries)
    assert batch.pending == 0 and batch.flush(batched) == 0
    assert set(batched.entries) == set(reference.entries)
    for key, expected in [*reference.entries.items(), (None, reference.total)]:
        entry = batched.total if key is None else batched.entries[key]
        assert entry.num_requests == expected.num_requests
        assert entry.num_failures == expected.num_failures == 0
        assert dict(entry.response_times) == dict(expected.response_times)
        assert entry.min_response_time == expected.min_response_time
        assert entry.max_response_time == expected.max_response_time
        assert entry.total_response_time == pytest.approx(expected.total_response_time)
        assert entry.total_content_length == expected.total_content_length
        assert sum(entry.num_reqs_per_sec.values()) == expected.num_requests
    distinct = {(name, latency) for name, latency, _ in deliveries}
    assert len(pauses) <= len(distinct) // PAUSE_EVERY
