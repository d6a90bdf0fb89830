"""The resilience ledger: backoff conformance of each retry attempt, recovery
percentiles, give-ups, cleanup leaks, the herd after a mass disconnect, moving
figures between processes (drain / merge), and the server-side backoff check.
Times are plain floats (the ledger reads no clock); the herd prediction is seeded."""

from __future__ import annotations

import itertools
import json
import math
import random
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.config.retry import BackoffPolicy, GiveUp, RetryPolicy, Strategy
from harness.errors import BackoffViolation, CleanupLeak, ReliabilityFinding
from harness.measure.resilience import (
    EARLY_SLACK_S,
    EXAMPLES_KEPT,
    HERD_WINDOW_S,
    LEAKS_LISTED,
    MAX_RECORDS_KEPT,
    ResilienceLedger,
    client_id,
    parse_client_id,
    percentiles,
    predicted_herd_peak,
    server_side_backoff,
)

RECONNECT, PUBLISH = "reconnect", "publish"
LOSS_WALL_S = 1_700_000_000.0


def policy(text: str) -> RetryPolicy:
    return RetryPolicy.parse(text, option="--reconnect-policy")


EXPONENTIAL = policy("exponential:base=1s,cap=30s")
FULL_JITTER = policy("full-jitter:base=2s,cap=30s")
DECORRELATED = policy("decorrelated-jitter:base=1s,cap=10s")
CONSTANT = policy("constant:base=500ms")


def attempt(
    ledger: ResilienceLedger,
    retry: RetryPolicy,
    observed_s: float,
    *,
    kind: str = RECONNECT,
    number: int = 1,
    previous_s: float | None = None,
    client: str = "u1",
    episode: int = 0,
    loss_wall_s: float = LOSS_WALL_S,
    wall_s: float | None = None,
) -> BackoffViolation | None:
    return ledger.attempt(
        kind,
        retry,
        client=client,
        episode=episode,
        number=number,
        wall_s=loss_wall_s + observed_s if wall_s is None else wall_s,
        loss_wall_s=loss_wall_s,
        observed_s=observed_s,
        previous_s=previous_s,
    )


def only_policy(ledger: ResilienceLedger) -> dict[str, Any]:
    (entry,) = ledger.summary()["policies"]
    return entry


# -- attempts against their bounds ---------------------------------------------------------


@pytest.mark.parametrize("observed", [0.0, 0.001, 1.0, 1.999, 2.0])
def test_an_attempt_inside_its_bounds_conforms(observed: float) -> None:
    ledger = ResilienceLedger()
    assert attempt(ledger, FULL_JITTER, observed) is None
    entry = only_policy(ledger)
    assert (entry["attempts"], entry["conforming"], entry["conformance"]) == (1, 1, 1.0)
    assert entry["violations"] == []
    (record,) = ledger.attempts
    assert (record.low_s, record.high_s, record.conforming) == (0.0, 2.0, True)
    assert record.policy == FULL_JITTER.label


def test_an_attempt_early_by_more_than_the_slack_is_a_violation() -> None:
    ledger = ResilienceLedger()
    observed = 1.0 - EARLY_SLACK_S - 0.001
    violation = attempt(ledger, EXPONENTIAL, observed, client="u7")
    assert isinstance(violation, BackoffViolation)
    assert isinstance(violation, ReliabilityFinding)
    assert violation.policy == EXPONENTIAL.label
    assert violation.attempt == 1
    assert violation.observed_s == observed
    assert (violation.low_s, violation.high_s) == (1.0, 1.0)
    assert "early" in str(violation) and "late" not in str(violation)
    assert "1.000-1.000" in str(violation)
    entry = only_policy(ledger)
    assert (entry["attempts"], entry["conforming"], entry["conformance"]) == (1, 0, 0.0)
    assert entry["violations"] == [
        {"client": "u7", "attempt": 1, "observed_s": 0.997, "low_s": 1.0, "high_s": 1.0}
    ]
    assert ledger.attempts[0].conforming is False


@pytest.mark.parametrize("early_by", [0.0005, 0.001, EARLY_SLACK_S])
def test_an_attempt_early_within_the_slack_conforms(early_by: float) -> None:
    ledger = ResilienceLedger()
    assert attempt(ledger, EXPONENTIAL, 1.0 - early_by) is None
    assert only_policy(ledger)["conforming"] == 1


@pytest.mark.parametrize("late_by", [0.0, 0.05, 0.0999, 0.1])
def test_an_attempt_late_within_the_tolerance_conforms(late_by: float) -> None:
    ledger = ResilienceLedger(tolerance_s=0.1)
    assert attempt(ledger, EXPONENTIAL, 1.0 + late_by) is None
    assert only_policy(ledger)["conforming"] == 1


def test_an_attempt_late_beyond_the_tolerance_is_a_violation() -> None:
    ledger = ResilienceLedger(tolerance_s=0.1)
    violation = attempt(ledger, EXPONENTIAL, 1.25, number=1)
    assert isinstance(violation, BackoffViolation)
    assert "late" in str(violation) and "early" not in str(violation)
    assert (violation.observed_s, violation.low_s, violation.high_s) == (1.25, 1.0, 1.0)
    assert only_policy(ledger)["violations"][0]["observed_s"] == 1.25


def test_the_tolerance_is_the_ledgers() -> None:
    strict, lenient = ResilienceLedger(tolerance_s=0.0), ResilienceLedger(tolerance_s=0.5)
    assert attempt(strict, EXPONENTIAL, 1.001) is not None
    assert attempt(lenient, EXPONENTIAL, 1.45) is None
    assert attempt(lenient, EXPONENTIAL, 1.55) is not None
    assert lenient.summary()["backoff_tolerance_s"] == 0.5
    assert strict.summary()["backoff_tolerance_s"] == 0.0


def test_later_attempts_are_checked_against_their_own_bounds() -> None:
    ledger = ResilienceLedger()
    # exponential: 1, 2, 4, 8 s
    assert attempt(ledger, EXPONENTIAL, 4.0, number=3) is None
    violation = attempt(ledger, EXPONENTIAL, 4.0, number=4)
    assert violation is not None
    assert (violation.attempt, violation.low_s, violation.high_s) == (4, 8.0, 8.0)
    assert "early" in str(violation)


def test_decorrelated_bounds_use_the_previous_delay() -> None:
    ledger = ResilienceLedger(tolerance_s=0.1)
    assert attempt(ledger, DECORRELATED, 2.9, number=1) is None  # [1, 3]
    assert attempt(ledger, DECORRELATED, 3.5, number=1) is not None
    assert attempt(ledger, DECORRELATED, 5.9, number=2, previous_s=2.0) is None  # [1, 6]
    violation = attempt(ledger, DECORRELATED, 6.5, number=2, previous_s=2.0)
    assert violation is not None and violation.high_s == 6.0
    assert attempt(ledger, DECORRELATED, 9.9, number=3, previous_s=5.0) is None  # [1, 10]
    assert attempt(ledger, DECORRELATED, 0.999, number=3, previous_s=5.0) is None  # slack
    assert attempt(ledger, DECORRELATED, 0.99, number=3, previous_s=5.0) is not None
    assert ledger.attempts[-1].low_s == 1.0


def test_counts_are_kept_per_kind_and_policy() -> None:
    ledger = ResilienceLedger()
    attempt(ledger, EXPONENTIAL, 1.0)
    attempt(ledger, EXPONENTIAL, 5.0)  # late
    attempt(ledger, EXPONENTIAL, 1.0, kind=PUBLISH)
    attempt(ledger, FULL_JITTER, 1.0)
    attempt(ledger, policy("exponential:base=1s,cap=30s"), 1.0)  # the same label
    got = {
        (entry["kind"], entry["policy"]): (entry["attempts"], entry["conforming"])
        for entry in ledger.summary()["policies"]
    }
    assert got == {
        (RECONNECT, EXPONENTIAL.label): (3, 2),
        (PUBLISH, EXPONENTIAL.label): (1, 1),
        (RECONNECT, FULL_JITTER.label): (1, 1),
    }


def test_violation_examples_are_bounded_but_counted() -> None:
    ledger = ResilienceLedger()
    for number in range(EXAMPLES_KEPT + 10):
        assert attempt(ledger, CONSTANT, 9.0, client=f"u{number}") is not None
    entry = only_policy(ledger)
    assert entry["attempts"] == EXAMPLES_KEPT + 10
    assert entry["conforming"] == 0
    assert len(entry["violations"]) == EXAMPLES_KEPT
    assert [example["client"] for example in entry["violations"]] == [
        f"u{number}" for number in range(EXAMPLES_KEPT)
    ]


# -- losses, recoveries, give-ups, cleanup -------------------------------------------------


def test_summary_of_losses_recoveries_and_give_ups() -> None:
    ledger = ResilienceLedger()
    for index in range(3):
        ledger.loss(RECONNECT, EXPONENTIAL, LOSS_WALL_S + index * 10.0)
    for seconds in (0.5, 2.0, 1.0):
        ledger.recovered(RECONNECT, EXPONENTIAL, seconds)
    attempt(ledger, EXPONENTIAL, 1.0)
    attempt(ledger, EXPONENTIAL, 1.0)
    attempt(ledger, EXPONENTIAL, 1.0)
    attempt(ledger, EXPONENTIAL, 3.0)
    ledger.gave_up(RECONNECT, EXPONENTIAL, GiveUp.MAX_ATTEMPTS.value)
    ledger.gave_up(RECONNECT, EXPONENTIAL, GiveUp.MAX_ATTEMPTS.value)
    ledger.gave_up(RECONNECT, EXPONENTIAL, GiveUp.NOT_RETRYABLE.value)
    entry = only_policy(ledger)
    assert entry["kind"] == RECONNECT
    assert entry["policy"] == "exponential:base=1s,cap=30s"
    assert entry["losses"] == 3
    assert (entry["attempts"], entry["conforming"], entry["conformance"]) == (4, 3, 0.75)
    assert entry["recoveries"] == 3
    assert entry["recovery_s"] == {"p50": 1.0, "p90": 2.0, "p99": 2.0, "max": 2.0}
    assert entry["give_ups"] == {"max attempts reached": 2, "not retryable": 1}
    assert entry["herd"] is None  # the losses are 10 s apart


def test_a_policy_with_no_attempts_has_no_conformance() -> None:
    ledger = ResilienceLedger()
    ledger.loss(RECONNECT, EXPONENTIAL, LOSS_WALL_S)
    entry = only_policy(ledger)
    assert (entry["attempts"], entry["conformance"], entry["recovery_s"]) == (0, None, None)
    assert entry["give_ups"] == {}


def test_an_off_policy_records_losses_and_give_ups_without_a_herd() -> None:
    ledger = ResilienceLedger()
    off = policy("off")
    for index in range(5):
        ledger.loss(RECONNECT, off, LOSS_WALL_S + index * 0.001)
        ledger.gave_up(RECONNECT, off, GiveUp.OFF.value)
    entry = only_policy(ledger)
    assert (entry["policy"], entry["losses"], entry["attempts"]) == ("off", 5, 0)
    assert entry["give_ups"] == {"retries off": 5}
    assert entry["herd"] is None


def test_cleanup_counts_users_and_leaks_by_kind_and_lists_them() -> None:
    ledger = ResilienceLedger()
    ledger.cleanup([])
    ledger.cleanup(
        [
            CleanupLeak("subscription", "u1", "/default/room-1", "sub-1"),
            CleanupLeak("subscription", "u1", "/default/room-2", "sub-2"),
            CleanupLeak("open-socket", "u1", None, None),
        ]
    )
    ledger.cleanup([CleanupLeak("data-after-unsubscribe", "u2", "/default/room-1", "sub-9")])
    cleanup = ledger.summary()["cleanup"]
    assert cleanup["users_checked"] == 3
    assert cleanup["leaks"] == 4
    assert cleanup["by_kind"] == {"subscription": 2, "open-socket": 1, "data-after-unsubscribe": 1}
    assert cleanup["listed"] == [
        {"kind": "subscription", "user": "u1", "channel": "/default/room-1", "id": "sub-1"},
        {"kind": "subscription", "user": "u1", "channel": "/default/room-2", "id": "sub-2"},
        {"kind": "open-socket", "user": "u1", "channel": None, "id": None},
        {
            "kind": "data-after-unsubscribe",
            "user": "u2",
            "channel": "/default/room-1",
            "id": "sub-9",
        },
    ]


def test_a_clean_run_has_no_leaks() -> None:
    ledger = ResilienceLedger()
    for _ in range(7):
        ledger.cleanup([])
    assert ledger.summary()["cleanup"] == {
        "users_checked": 7,
        "leaks": 0,
        "by_kind": {},
        "listed": [],
    }
    assert ledger.summary()["policies"] == []


def test_listed_leaks_are_bounded_but_counted() -> None:
    ledger = ResilienceLedger()
    for user in range(LEAKS_LISTED + 5):
        ledger.cleanup([CleanupLeak("pending-operation", f"u{user}", "/default/a", f"op-{user}")])
    cleanup = ledger.summary()["cleanup"]
    assert cleanup["users_checked"] == LEAKS_LISTED + 5
    assert cleanup["leaks"] == LEAKS_LISTED + 5
    assert len(cleanup["listed"]) == LEAKS_LISTED
    assert cleanup["listed"][-1]["id"] == f"op-{LEAKS_LISTED - 1}"


# -- percentiles ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([5.0], {"p50": 5.0, "p90": 5.0, "p99": 5.0, "max": 5.0}),
        ([2.0, 1.0], {"p50": 1.0, "p90": 2.0, "p99": 2.0, "max": 2.0}),
        ([3.0, 1.0, 2.0], {"p50": 2.0, "p90": 3.0, "p99": 3.0, "max": 3.0}),
        ([float(v) for v in range(10, 0, -1)], {"p50": 5.0, "p90": 9.0, "p99": 10.0, "max": 10.0}),
        ([float(v) for v in range(1, 101)], {"p50": 50.0, "p90": 90.0, "p99": 99.0, "max": 100.0}),
        (
            [float(v) for v in range(1, 1001)],
            {"p50": 500.0, "p90": 900.0, "p99": 990.0, "max": 1000.0},
        ),
        ([float(v) for v in range(1, 71)], {"p50": 35.0, "p90": 63.0, "p99": 70.0, "max": 70.0}),
        ([0.123456, 0.98765432], {"p50": 0.1235, "p90": 0.9877, "p99": 0.9877, "max": 0.9877}),
        ([1.0] * 9 + [100.0], {"p50": 1.0, "p90": 1.0, "p99": 100.0, "max": 100.0}),
    ],
)
def test_percentiles_are_nearest_rank(values: list[float], expected: dict[str, float]) -> None:
    assert percentiles(values) == expected


def test_percentiles_of_nothing_are_none() -> None:
    assert percentiles([]) is None


def test_percentiles_leave_their_input_alone() -> None:
    values = [3.0, 1.0, 2.0]
    percentiles(values)
    assert values == [3.0, 1.0, 2.0]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=10**7), min_size=1, max_size=400))
def test_percentiles_match_the_definition(micros: list[int]) -> None:
    """Nearest rank: the smallest value with at least ``share`` of the values at or below it."""
    values = [m / 1e6 for m in micros]
    got = percentiles(values)
    assert got is not None
    for name, share in (("p50", "0.5"), ("p90", "0.9"), ("p99", "0.99"), ("max", "1")):
        need = Fraction(share) * len(values)
        expected = min(v for v in values if sum(1 for w in values if w <= v) >= need)
        assert got[name] == round(expected, 4), name


# -- the herd ------------------------------------------------------------------------------


def mass_disconnect(
    ledger: ResilienceLedger,
    retry: RetryPolicy,
    delays: list[float],
    *,
    spacing_s: float = 0.0001,
    start_s: float = LOSS_WALL_S,
) -> list[float]:
    """Clients ``u0, u1, ...`` lost ``spacing_s`` apart, each retrying after its delay."""
    losses = []
    for index, delay in enumerate(delays):
        lost = start_s + index * spacing_s
        losses.append(lost)
        ledger.loss(RECONNECT, retry, lost)
        attempt(ledger, retry, delay, client=f"u{index}", loss_wall_s=lost)
    return losses


def test_without_jitter_every_client_retries_in_the_same_window() -> None:
    ledger = ResilienceLedger()
    count = 50
    mass_disconnect(ledger, policy("exponential:base=500ms,cap=30s"), [0.5] * count)
    herd = only_policy(ledger)["herd"]
    assert herd == {
        "disconnected": count,
        "first_attempts": count,
        "window_s": HERD_WINDOW_S,
        "peak_first_attempts": count,
        "predicted_peak": float(count),
        "ratio_to_predicted": 1.0,
    }


def test_full_jitter_spreads_the_first_attempts() -> None:
    ledger = ResilienceLedger()
    count = 200
    spread = [2.0 * index / count for index in range(count)]  # evenly over [0, 2 s)
    mass_disconnect(ledger, FULL_JITTER, spread)
    herd = only_policy(ledger)["herd"]
    assert herd["disconnected"] == count
    assert herd["first_attempts"] == count
    # attempt i comes at 0.0101 * i s: ten of them in any 100 ms
    assert herd["peak_first_attempts"] == 10
    # 200 clients drawing uniform(0, 2 s) put 10 in each 100 ms on average; the densest
    # 100 ms of a run holds 18 in the median run (15 to 27 over 2000 seeds): the
    # prediction is that median, not the average and not the worst run.
    fair_share = math.ceil(count * HERD_WINDOW_S / 2.0)
    assert 1.6 * fair_share <= herd["predicted_peak"] <= 2 * fair_share
    assert herd["predicted_peak"] < count / 5
    assert herd["ratio_to_predicted"] == round(10 / herd["predicted_peak"], 3)
    assert herd["ratio_to_predicted"] <= 1.0


def test_clients_ignoring_their_jitter_make_a_herd_the_prediction_does_not() -> None:
    ledger = ResilienceLedger()
    count = 200
    mass_disconnect(ledger, FULL_JITTER, [1.0] * count)  # all at once, inside [0, 2 s]
    herd = only_policy(ledger)["herd"]
    assert herd["peak_first_attempts"] == count
    assert herd["ratio_to_predicted"] > 5.0
    assert only_policy(ledger)["conforming"] == count  # each attempt alone is fine


def test_only_first_attempts_count_for_the_herd() -> None:
    ledger = ResilienceLedger()
    retry = policy("exponential:base=500ms,cap=30s")
    losses = mass_disconnect(ledger, retry, [0.5] * 10)
    for index, lost in enumerate(losses):  # second attempts, all in one window too
        attempt(
            ledger, retry, 1.0, number=2, client=f"u{index}", loss_wall_s=lost, wall_s=lost + 1.6
        )
    herd = only_policy(ledger)["herd"]
    assert (herd["first_attempts"], herd["peak_first_attempts"]) == (10, 10)


def test_the_herd_follows_the_largest_burst_of_losses() -> None:
    ledger = ResilienceLedger()
    retry = policy("exponential:base=500ms,cap=30s")
    mass_disconnect(ledger, retry, [0.5] * 3, start_s=LOSS_WALL_S)
    mass_disconnect(ledger, retry, [0.5] * 7, start_s=LOSS_WALL_S + 60.0)
    mass_disconnect(ledger, retry, [0.5] * 4, start_s=LOSS_WALL_S + 120.0)
    herd = only_policy(ledger)["herd"]
    assert (herd["disconnected"], herd["first_attempts"], herd["peak_first_attempts"]) == (7, 7, 7)
    assert herd["predicted_peak"] == 7.0


def test_a_lone_loss_makes_no_herd() -> None:
    ledger = ResilienceLedger()
    mass_disconnect(ledger, EXPONENTIAL, [1.0])
    assert only_policy(ledger)["herd"] is None


def test_losses_further_apart_than_the_window_make_no_herd() -> None:
    ledger = ResilienceLedger()
    mass_disconnect(ledger, EXPONENTIAL, [1.0] * 5, spacing_s=0.25)
    assert only_policy(ledger)["herd"] is None


def test_losses_without_attempts_make_no_herd() -> None:
    ledger = ResilienceLedger()
    for index in range(5):
        ledger.loss(RECONNECT, EXPONENTIAL, LOSS_WALL_S + index * 0.001)
    assert only_policy(ledger)["herd"] is None


def test_the_herd_ignores_attempts_of_other_kinds_and_policies() -> None:
    ledger = ResilienceLedger()
    retry = policy("exponential:base=500ms,cap=30s")
    losses = mass_disconnect(ledger, retry, [0.5] * 4)
    for index, lost in enumerate(losses * 3):
        attempt(ledger, retry, 0.5, kind=PUBLISH, client=f"p{index}", loss_wall_s=lost)
        attempt(ledger, CONSTANT, 0.5, client=f"c{index}", loss_wall_s=lost)
    entries = {(e["kind"], e["policy"]): e for e in ledger.summary()["policies"]}
    herd = entries[(RECONNECT, retry.label)]["herd"]
    assert (herd["first_attempts"], herd["peak_first_attempts"]) == (4, 4)
    assert entries[(PUBLISH, retry.label)]["herd"] is None  # no publish losses
    assert entries[(RECONNECT, CONSTANT.label)]["herd"] is None


def test_the_herd_counts_only_clients_lost_in_the_burst() -> None:
    """Losses at +0, +50 ms and +100 ms: the burst (a window of 100 ms, end excluded)
    holds two of them, so the third client's attempt is not part of the herd."""
    ledger = ResilienceLedger()
    retry = policy("exponential:base=500ms,cap=30s")
    start = 1000.0
    for index, lost in enumerate([start, start + 0.05, start + HERD_WINDOW_S]):
        ledger.loss(RECONNECT, retry, lost)
        attempt(ledger, retry, 0.5, client=f"u{index}", loss_wall_s=lost, wall_s=start + 0.6)
    herd = only_policy(ledger)["herd"]
    assert herd["disconnected"] == 2
    assert herd["first_attempts"] <= herd["disconnected"]
    assert herd["peak_first_attempts"] <= herd["disconnected"]


def test_a_herd_window_excludes_its_end() -> None:
    """Two losses exactly one window apart are not a burst; a little closer, they are."""
    for gap, herd_expected in ((HERD_WINDOW_S, False), (0.0999, True)):
        ledger = ResilienceLedger()
        retry = policy("exponential:base=500ms,cap=30s")
        for index, lost in enumerate([0.0, gap]):
            ledger.loss(RECONNECT, retry, lost)
            attempt(ledger, retry, 0.5, client=f"u{index}", loss_wall_s=lost)
        herd = only_policy(ledger)["herd"]
        assert (herd is not None) is herd_expected, gap
        if herd is not None:
            assert (herd["disconnected"], herd["peak_first_attempts"]) == (2, 2)


def test_a_herd_is_summarised_for_any_policy_the_ledger_accepted() -> None:
    """The herd prediction parses the policy back from its label."""
    ledger = ResilienceLedger()
    retry = policy("exponential:base=500ms,cap=30s,max-elapsed=1000000s")
    mass_disconnect(ledger, retry, [0.5] * 5)
    herd = only_policy(ledger)["herd"]
    assert herd is not None and herd["predicted_peak"] == 5.0


@pytest.mark.parametrize(
    ("text", "count", "expected"),
    [
        ("none", 30, 30.0),
        ("constant:base=250ms", 30, 30.0),
        ("exponential:base=1s,cap=30s", 30, 30.0),
        ("equal-jitter:base=50ms,cap=1s", 30, 30.0),  # spread 25 ms, narrower than a window
    ],
)
def test_the_prediction_without_useful_jitter_is_everyone(
    text: str, count: int, expected: float
) -> None:
    backoff = BackoffPolicy.parse(text, option="policy")
    assert backoff is not None
    losses = [LOSS_WALL_S + index * 0.0005 for index in range(count)]
    assert predicted_herd_peak(backoff, losses) == expected


def test_the_prediction_for_losses_far_apart_is_one() -> None:
    backoff = BackoffPolicy(Strategy.EXPONENTIAL)
    losses = [LOSS_WALL_S + index * 5.0 for index in range(10)]
    assert predicted_herd_peak(backoff, losses) == 1.0


@pytest.mark.parametrize("count", [20, 80])
def test_the_prediction_is_repeatable_and_shrinks_with_the_spread(count: int) -> None:
    losses = [LOSS_WALL_S + index * 0.0001 for index in range(count)]
    narrow = BackoffPolicy.parse("full-jitter:base=500ms,cap=30s", option="p")
    wide = BackoffPolicy.parse("full-jitter:base=5s,cap=30s", option="p")
    assert narrow is not None and wide is not None
    first = predicted_herd_peak(narrow, losses)
    assert first == predicted_herd_peak(narrow, losses)
    assert predicted_herd_peak(wide, losses) < first < count


def test_the_prediction_does_not_depend_on_the_order_of_the_losses() -> None:
    """The master merges worker reports in whatever order they arrive."""
    backoff = BackoffPolicy.parse("full-jitter:base=2s,cap=30s", option="p")
    assert backoff is not None
    losses = [LOSS_WALL_S + index * 0.0001 for index in range(146)]
    assert predicted_herd_peak(backoff, losses) == predicted_herd_peak(backoff, losses[::-1])


# -- drain and merge -----------------------------------------------------------------------

POLICIES = [EXPONENTIAL, FULL_JITTER, DECORRELATED, CONSTANT, policy("off")]
Operation = tuple[Any, ...]


def apply(ledger: ResilienceLedger, operations: list[Operation]) -> None:
    for operation in operations:
        name, kind, index, *rest = operation
        retry = POLICIES[index]
        if name == "attempt":
            client, number, loss_wall, observed, previous = rest
            if retry.backoff is None:
                continue
            attempt(
                ledger,
                retry,
                observed,
                kind=kind,
                number=number,
                previous_s=previous,
                client=client,
                loss_wall_s=loss_wall,
            )
        elif name == "loss":
            ledger.loss(kind, retry, rest[0])
        elif name == "recovered":
            ledger.recovered(kind, retry, rest[0])
        elif name == "gave_up":
            ledger.gave_up(kind, retry, rest[0])
        else:
            ledger.cleanup([CleanupLeak(leak, rest[0], "/default/a", None) for leak in rest[1]])


def scripted_operations(seed: int, count: int) -> list[Operation]:
    rng = random.Random(seed)
    operations: list[Operation] = []
    for _ in range(count):
        kind = rng.choice([RECONNECT, PUBLISH])
        index = rng.randrange(len(POLICIES))
        loss = LOSS_WALL_S + rng.choice([0.0, 0.01, 0.02, 5.0]) + rng.random() * 0.05
        match rng.randrange(5):
            case 0 | 1:
                previous = rng.choice([None, rng.uniform(0.0, 5.0)])
                operations.append(
                    (
                        "attempt",
                        kind,
                        index,
                        f"u{rng.randrange(9)}",
                        rng.randint(1, 4),
                        loss,
                        rng.uniform(0.0, 12.0),
                        previous,
                    )
                )
            case 2:
                operations.append(("loss", kind, index, loss))
            case 3:
                operations.append(("recovered", kind, index, rng.uniform(0.0, 30.0)))
            case _:
                if rng.random() < 0.5:
                    reason = rng.choice([reason.value for reason in GiveUp])
                    operations.append(("gave_up", kind, index, reason))
                else:
                    leaks = rng.sample(
                        ["open-socket", "subscription", "pending-operation"], rng.randint(0, 2)
                    )
                    operations.append(("cleanup", kind, index, f"u{rng.randrange(9)}", leaks))
    return operations


def merged_summary(parts: list[list[Operation]], *, through_json: bool) -> dict[str, Any]:
    master = ResilienceLedger()
    for part in parts:
        worker = ResilienceLedger()
        apply(worker, part)
        data = worker.drain()
        master.merge(json.loads(json.dumps(data)) if through_json else data)
    return master.summary()


def whole_summary(operations: list[Operation]) -> dict[str, Any]:
    ledger = ResilienceLedger()
    apply(ledger, operations)
    return ledger.summary()


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("through_json", [False, True])
def test_merging_drains_gives_the_summary_of_one_ledger(seed: int, through_json: bool) -> None:
    operations = scripted_operations(seed, 400)
    parts = [operations[:150], operations[150:151], [], operations[151:]]
    summary = whole_summary(operations)
    assert summary == merged_summary(parts, through_json=through_json)
    # and the script exercised what it should
    assert any(entry["herd"] for entry in summary["policies"])
    assert any(entry["violations"] for entry in summary["policies"])
    assert summary["cleanup"]["leaks"] > 0


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=10**6), cuts=st.lists(st.integers(0, 60), max_size=5)
)
def test_merging_any_split_gives_the_summary_of_one_ledger(seed: int, cuts: list[int]) -> None:
    operations = scripted_operations(seed, 60)
    edges = [0, *sorted(cuts), len(operations)]
    parts = [operations[a:b] for a, b in itertools.pairwise(edges)]
    assert whole_summary(operations) == merged_summary(parts, through_json=False)


def test_merging_keeps_the_attempt_records() -> None:
    worker, master, whole = ResilienceLedger(), ResilienceLedger(), ResilienceLedger()
    operations = scripted_operations(9, 100)
    apply(worker, operations)
    apply(whole, operations)
    master.merge(worker.drain())
    assert master.attempts == whole.attempts
    assert master.users_checked == whole.users_checked


def test_drain_empties_the_ledger() -> None:
    ledger = ResilienceLedger(tolerance_s=0.25)
    apply(ledger, scripted_operations(4, 200))
    first = ledger.drain()
    assert first["policies"] and first["attempts"] and first["users_checked"]
    assert ledger.summary() == ResilienceLedger(tolerance_s=0.25).summary()
    assert ledger.attempts == []
    again = ledger.drain()
    assert again == {
        "policies": [],
        "attempts": [],
        "users_checked": 0,
        "leaks": {},
        "leaks_listed": [],
    }


def test_a_drain_counts_only_what_came_after_the_last_one() -> None:
    ledger = ResilienceLedger()
    attempt(ledger, EXPONENTIAL, 1.0)
    ledger.drain()
    attempt(ledger, EXPONENTIAL, 9.0)
    (entry,) = ledger.drain()["policies"]
    assert (entry["attempts"], entry["conforming"]) == (1, 0)


def test_merged_violation_examples_and_leaks_stay_bounded() -> None:
    master = ResilienceLedger()
    for worker_number in range(2):
        worker = ResilienceLedger()
        for index in range(15):
            attempt(worker, CONSTANT, 9.0, client=f"w{worker_number}-{index}")
        for index in range(60):
            worker.cleanup([CleanupLeak("open-socket", f"w{worker_number}-{index}", None, None)])
        master.merge(worker.drain())
    entry = only_policy(master)
    assert entry["attempts"] == 30
    assert len(entry["violations"]) == EXAMPLES_KEPT
    assert entry["violations"][15]["client"] == "w1-0"
    cleanup = master.summary()["cleanup"]
    assert cleanup["leaks"] == 120 and cleanup["users_checked"] == 120
    assert len(cleanup["listed"]) == LEAKS_LISTED


def test_attempt_records_are_bounded_when_recorded_and_when_merged() -> None:
    ledger = ResilienceLedger()
    for index in range(MAX_RECORDS_KEPT + 3):
        attempt(ledger, CONSTANT, 0.5, client=f"u{index}")
    assert len(ledger.attempts) == MAX_RECORDS_KEPT
    assert ledger.attempts[-1].client == f"u{MAX_RECORDS_KEPT - 1}"
    assert only_policy(ledger)["attempts"] == MAX_RECORDS_KEPT + 3  # counted all the same
    del ledger.attempts[-2:]  # room for two more records
    worker = ResilienceLedger()
    for index in range(5):
        attempt(worker, CONSTANT, 0.5, client=f"w{index}")
    ledger.merge(worker.drain())
    assert len(ledger.attempts) == MAX_RECORDS_KEPT
    assert [record.client for record in ledger.attempts[-3:]] == [
        f"u{MAX_RECORDS_KEPT - 3}",
        "w0",
        "w1",
    ]
    assert only_policy(ledger)["attempts"] == MAX_RECORDS_KEPT + 8


def test_losses_and_recoveries_are_bounded_when_recorded_and_when_merged() -> None:
    ledger = ResilienceLedger()
    for index in range(MAX_RECORDS_KEPT + 2):
        ledger.loss(RECONNECT, CONSTANT, LOSS_WALL_S + index * 1.0)
        ledger.recovered(RECONNECT, CONSTANT, 1.0)
    entry = only_policy(ledger)
    assert (entry["losses"], entry["recoveries"]) == (MAX_RECORDS_KEPT, MAX_RECORDS_KEPT)
    master = ResilienceLedger()
    master.loss(RECONNECT, CONSTANT, LOSS_WALL_S - 1.0)
    master.merge(ledger.drain())
    entry = only_policy(master)
    assert (entry["losses"], entry["recoveries"]) == (MAX_RECORDS_KEPT, MAX_RECORDS_KEPT)


# -- server-side backoff -------------------------------------------------------------------


def server_attempt(user: str, episode: int, number: int, monotonic: float) -> dict[str, Any]:
    return {"client_id": client_id(user, episode, number), "monotonic": monotonic, "seq": 1}


def test_server_gaps_are_checked_against_the_low_bounds() -> None:
    ledger = ResilienceLedger()
    for number in (1, 2, 3):  # exponential: low bounds 1, 2, 4 s
        attempt(ledger, EXPONENTIAL, 2.0 ** (number - 1), number=number, client="u1")
    server = [
        server_attempt("u1", 0, 0, 100.0),  # the connect that failed
        server_attempt("u1", 0, 1, 101.0),  # gap 1.0 >= 1
        server_attempt("u1", 0, 2, 103.5),  # gap 2.5 >= 2
        server_attempt("u1", 0, 3, 105.0),  # gap 1.5 < 4
    ]
    result = server_side_backoff(ledger, server)
    assert (result["checked"], result["conforming"]) == (3, 2)
    assert result["conformance"] == pytest.approx(2 / 3)
    assert result["violations"] == [
        {
            "client": "u1",
            "attempt": 3,
            "policy": EXPONENTIAL.label,
            "server_gap_s": 1.5,
            "low_s": 4.0,
        }
    ]


def test_server_gaps_may_be_early_by_the_slack() -> None:
    ledger = ResilienceLedger()
    attempt(ledger, CONSTANT, 0.5, number=1)
    attempt(ledger, CONSTANT, 0.5, number=2)
    server = [
        server_attempt("u1", 0, 0, 10.0),
        server_attempt("u1", 0, 1, 10.0 + 0.5 - EARLY_SLACK_S / 2),
        server_attempt("u1", 0, 2, 10.0 + 0.5 - EARLY_SLACK_S / 2 + 0.49),
    ]
    result = server_side_backoff(ledger, server)
    assert (result["checked"], result["conforming"]) == (2, 1)
    assert result["violations"][0]["attempt"] == 2


def test_server_attempts_without_a_pair_or_a_record_are_not_checked() -> None:
    ledger = ResilienceLedger()
    attempt(ledger, EXPONENTIAL, 1.0, number=1, client="u1", episode=3)
    attempt(ledger, EXPONENTIAL, 2.0, number=2, client="u1", episode=3)
    server = [
        server_attempt("u1", 3, 2, 50.0),  # attempt 1 never reached the server
        server_attempt("u2", 0, 0, 10.0),  # no ledger record for u2
        server_attempt("u2", 0, 1, 10.1),
        server_attempt("u1", 4, 0, 60.0),  # another episode of u1, not in the ledger
        server_attempt("u1", 4, 1, 60.0),
        {"client_id": None, "monotonic": 1.0},
        {"client_id": 17, "monotonic": 1.0},
        {"monotonic": 1.0},
        {"client_id": "u1/3", "monotonic": 49.0},
        {"client_id": "garbage", "monotonic": 49.0},
    ]
    result = server_side_backoff(ledger, server)
    assert result == {"checked": 0, "conforming": 0, "conformance": None, "violations": []}


def test_server_check_keeps_users_and_episodes_apart() -> None:
    ledger = ResilienceLedger()
    for user in ("u1", "u2"):
        for episode in (0, 1):
            attempt(ledger, CONSTANT, 0.5, number=1, client=user, episode=episode)
    server = [
        server_attempt("u1", 0, 0, 0.0),
        server_attempt("u2", 0, 0, 0.4),
        server_attempt("u1", 0, 1, 0.6),  # 0.6 after u1's own failure (0.2 after u2's)
        server_attempt("u2", 0, 1, 0.5),  # 0.1 after its failure: too soon
        server_attempt("u1", 1, 0, 5.0),
        server_attempt("u1", 1, 1, 5.2),  # too soon
        server_attempt("u2", 1, 0, 5.0),
        server_attempt("u2", 1, 1, 6.0),
    ]
    result = server_side_backoff(ledger, server)
    assert (result["checked"], result["conforming"]) == (4, 2)
    assert sorted((v["client"], v["server_gap_s"]) for v in result["violations"]) == [
        ("u1", 0.2),
        ("u2", 0.1),
    ]


def test_server_violation_examples_are_bounded() -> None:
    ledger = ResilienceLedger()
    server = []
    for index in range(EXAMPLES_KEPT + 5):
        attempt(ledger, CONSTANT, 0.5, number=1, client=f"u{index}")
        server += [server_attempt(f"u{index}", 0, 0, 0.0), server_attempt(f"u{index}", 0, 1, 0.1)]
    result = server_side_backoff(ledger, server)
    assert (result["checked"], result["conforming"]) == (EXAMPLES_KEPT + 5, 0)
    assert len(result["violations"]) == EXAMPLES_KEPT


@given(
    user=st.text(min_size=1, max_size=20).filter(lambda text: "/" not in text),
    episode=st.integers(min_value=0, max_value=10**9),
    number=st.integers(min_value=0, max_value=10**9),
)
def test_client_ids_read_back(user: str, episode: int, number: int) -> None:
    assert parse_client_id(client_id(user, episode, number)) == (user, episode, number)


def test_a_harness_user_id_reads_back() -> None:
    assert parse_client_id(client_id("host-1234-17", 3, 12)) == ("host-1234-17", 3, 12)
    assert client_id("host-1234-17", 3, 12) == "host-1234-17/3/12"


@pytest.mark.parametrize(
    "text",
    [
        None,
        17,
        b"u/1/2",
        ["u", 1, 2],
        "",
        "u",
        "u/1",
        "u/1/",
        "u//2",
        "/1/2",
        "u/x/2",
        "u/1/x",
        "u/-1/2",
        "u/1/-2",
        "u/1.0/2",
        "u/1/2/3",
        "u/ 1/2",
        "u/1/2 ",
    ],
)
def test_malformed_client_ids_are_rejected(text: object) -> None:
    assert parse_client_id(text) is None


@pytest.mark.parametrize("text", ["u/\u00b2/1", "u/1/\u00b9", "u/\u2460/1"])
def test_client_ids_with_digit_like_characters_are_rejected(text: str) -> None:
    """Any client may send a client id to the emulator (header or query string), so the
    server-side check must not crash on one: ``"²".isdigit()`` is true, ``int("²")`` fails."""
    assert parse_client_id(text) is None
    assert server_side_backoff(ResilienceLedger(), [{"client_id": text, "monotonic": 1.0}]) == {
        "checked": 0,
        "conforming": 0,
        "conformance": None,
        "violations": [],
    }
