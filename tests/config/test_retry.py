"""Backoff policies and retry episodes: the ``STRATEGY[:key=value,...]`` grammar, the
delays each strategy draws against the bounds it promises, which errors are retried,
and when an episode gives up. The random source and the clock are injected (the
clock is a plain float), so every delay below is exact."""

from __future__ import annotations

import itertools
import random
from fractions import Fraction

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from harness.client.http_publish import HttpRejected
from harness.config.retry import (
    NON_RETRYABLE_ERROR_TYPES,
    BackoffPolicy,
    GiveUp,
    RetryEpisode,
    RetryPolicy,
    Strategy,
    is_retryable,
)
from harness.errors import (
    AuthorizationRejected,
    ConfigurationError,
    ConnectionLost,
    HandshakeFailed,
    OperationRejected,
    OperationTimeout,
    RetriesExhausted,
    SigningError,
)

OPTION = "--reconnect-policy"
JITTERED = (Strategy.FULL_JITTER, Strategy.EQUAL_JITTER, Strategy.DECORRELATED_JITTER)
SETTINGS = settings(max_examples=200, deadline=None)


def parse(text: str) -> BackoffPolicy | None:
    return BackoffPolicy.parse(text, option=OPTION)


def parse_policy(text: str) -> BackoffPolicy:
    policy = parse(text)
    assert policy is not None
    return policy


def refusal(text: str) -> ConfigurationError:
    with pytest.raises(ConfigurationError) as caught:
        parse(text)
    error = caught.value
    assert error.option == OPTION
    assert str(error).startswith(OPTION + ": ")
    return error


class LowRandom(random.Random):
    """``uniform(a, b)`` always returns ``a``: the shortest delay a strategy can draw."""

    def __init__(self) -> None:
        super().__init__(0)

    def uniform(self, a: float, b: float) -> float:
        return a


class HighRandom(random.Random):
    """``uniform(a, b)`` always returns ``b``: the longest delay a strategy can draw."""

    def __init__(self) -> None:
        super().__init__(0)

    def uniform(self, a: float, b: float) -> float:
        return b


class RecordingRandom(random.Random):
    """Records the arguments of every ``uniform`` call and returns their midpoint."""

    def __init__(self) -> None:
        super().__init__(0)
        self.calls: list[tuple[float, float]] = []

    def uniform(self, a: float, b: float) -> float:
        self.calls.append((a, b))
        return (a + b) / 2


def take(policy: BackoffPolicy, rng: random.Random, count: int) -> list[float]:
    return list(itertools.islice(policy.delays(rng), count))


# -- parse: names, defaults, keys ----------------------------------------------------------


@pytest.mark.parametrize("strategy", list(Strategy))
def test_every_strategy_name_parses_with_the_defaults(strategy: Strategy) -> None:
    policy = parse(strategy.value)
    assert policy == BackoffPolicy(strategy, 1.0, 30.0, 2.0, None, None)
    assert isinstance(policy, BackoffPolicy)
    assert policy.strategy is strategy


def test_the_defaults_are_documented_ones() -> None:
    policy = parse_policy("exponential")
    assert (policy.base_s, policy.cap_s, policy.multiplier) == (1.0, 30.0, 2.0)
    assert policy.max_attempts is None
    assert policy.max_elapsed_s is None


@pytest.mark.parametrize("text", ["off", " off ", "OFF", "Off:", "off: "])
def test_off_means_no_policy(text: str) -> None:
    assert parse(text) is None


def test_off_takes_no_keys() -> None:
    error = refusal("off:base=1s")
    assert "'off'" in error.reason


def test_names_and_keys_are_case_insensitive_and_spaces_are_ignored() -> None:
    policy = parse(" Full-Jitter : BASE = 200ms , Cap=2s ")
    assert policy == BackoffPolicy(Strategy.FULL_JITTER, base_s=0.2, cap_s=2.0)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("250ms", 0.25),
        ("2s", 2.0),
        ("1m", 60.0),
        ("3", 3.0),
        ("1.5m", 90.0),
        ("1.5s", 1.5),
        (".5s", 0.5),
        ("500 ms", 0.5),
        ("0", 0.0),
        ("0ms", 0.0),
    ],
)
def test_durations_take_ms_s_m_or_bare_seconds(text: str, seconds: float) -> None:
    policy = parse_policy(f"exponential:base={text},cap=10m,max-elapsed={text}")
    assert policy.base_s == pytest.approx(seconds, abs=1e-12)
    assert policy.max_elapsed_s == pytest.approx(seconds, abs=1e-12)


def test_every_key_is_read() -> None:
    policy = parse("exponential:base=250ms,cap=2m,multiplier=1.5,max-attempts=7,max-elapsed=90s")
    assert policy == BackoffPolicy(
        Strategy.EXPONENTIAL,
        base_s=0.25,
        cap_s=120.0,
        multiplier=1.5,
        max_attempts=7,
        max_elapsed_s=90.0,
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("exponential:max-attempts=0", BackoffPolicy(Strategy.EXPONENTIAL, max_attempts=0)),
        ("exponential:multiplier=1", BackoffPolicy(Strategy.EXPONENTIAL, multiplier=1.0)),
        ("exponential:base=2s,cap=2s", BackoffPolicy(Strategy.EXPONENTIAL, 2.0, 2.0)),
        ("full-jitter:max-elapsed=0s", BackoffPolicy(Strategy.FULL_JITTER, max_elapsed_s=0.0)),
        # constant never reaches the cap, so a base above the default cap of 30 s is fine
        ("constant:base=1m", BackoffPolicy(Strategy.CONSTANT, base_s=60.0)),
    ],
)
def test_edge_values_that_are_allowed(text: str, expected: BackoffPolicy) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("linear", "'linear'"),
        ("linear:base=1s", "'linear'"),
        ("full_jitter", "'full_jitter'"),
        ("exponential:jitter=full", "jitter"),
        ("exponential:base=1s,factor=3", "factor"),
        ("exponential:base=fast", "base='fast'"),
        ("exponential:base=1h", "base='1h'"),
        ("exponential:base=-1s", "base='-1s'"),
        ("exponential:base=1e3", "base='1e3'"),
        ("exponential:cap=30sec", "cap='30sec'"),
        ("exponential:max-elapsed=soon", "max-elapsed='soon'"),
        ("exponential:base=2s,cap=1s", "cap="),
        ("full-jitter:base=1m", "cap="),
        ("exponential:max-attempts=-1", "max-attempts='-1'"),
        ("exponential:max-attempts=2.5", "max-attempts='2.5'"),
        ("exponential:max-attempts=many", "max-attempts='many'"),
        ("exponential:multiplier=0.5", "multiplier='0.5'"),
        ("exponential:multiplier=0", "multiplier='0'"),
        ("exponential:multiplier=-2", "multiplier='-2'"),
        ("exponential:multiplier=nan", "multiplier='nan'"),
        ("exponential:multiplier=inf", "multiplier='inf'"),
        ("exponential:multiplier=double", "multiplier='double'"),
        ("exponential:base=1s,base=2s", "base= is given twice"),
        ("exponential:cap=1m,CAP=2m", "cap= is given twice"),
        ("exponential:base", "'base'"),
        ("exponential:base=", "'base='"),
        ("exponential:=1s", "'=1s'"),
    ],
)
def test_bad_specs_name_the_option_and_the_bad_part(text: str, named: str) -> None:
    error = refusal(text)
    assert named in error.reason


def test_an_unknown_strategy_lists_the_known_ones() -> None:
    error = refusal("linear")
    for name in ["off", *(strategy.value for strategy in Strategy)]:
        assert name in error.reason


def test_an_unknown_key_lists_the_keys_the_strategy_takes() -> None:
    error = refusal("equal-jitter:jitter=1")
    assert "equal-jitter" in error.reason
    for key in ("base", "cap", "multiplier", "max-attempts", "max-elapsed"):
        assert key in error.reason


def test_retry_policy_parses_the_same_grammar() -> None:
    assert RetryPolicy.parse("off", option=OPTION).backoff is None
    assert RetryPolicy.parse("off", option=OPTION).label == "off"
    retry = RetryPolicy.parse("constant:base=250ms", option=OPTION)
    assert retry.backoff == BackoffPolicy(Strategy.CONSTANT, base_s=0.25)
    assert retry.label == "constant:base=250ms"
    with pytest.raises(ConfigurationError) as caught:
        RetryPolicy.parse("exponential:cap=1ms", option="--publish-retry")
    assert caught.value.option == "--publish-retry"


# -- labels --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("exponential", "exponential:base=1s,cap=30s"),
        ("none", "none"),
        ("none:max-attempts=3", "none:max-attempts=3"),
        ("constant:base=250ms", "constant:base=250ms"),
        ("constant:base=2s,max-elapsed=1m", "constant:base=2s,max-elapsed=60s"),
        (
            "full-jitter:base=200ms,cap=30s,max-attempts=10",
            "full-jitter:base=200ms,cap=30s,max-attempts=10",
        ),
        ("equal-jitter:cap=2m,multiplier=1.5", "equal-jitter:base=1s,cap=120s,multiplier=1.5"),
        (
            "decorrelated-jitter:base=0.1,cap=5,multiplier=3,max-attempts=0,max-elapsed=1500ms",
            "decorrelated-jitter:base=100ms,cap=5s,multiplier=3,max-attempts=0,max-elapsed=1.5s",
        ),
        ("exponential:multiplier=2.0", "exponential:base=1s,cap=30s"),
    ],
)
def test_labels_write_the_policy_in_the_grammar(text: str, label: str) -> None:
    policy = parse_policy(text)
    assert policy.label == label
    assert parse(label) == policy


DURATION_UNITS = {"ms": Fraction(1, 1000), "s": Fraction(1), "m": Fraction(60), "": Fraction(1)}


@st.composite
def duration_texts(draw: st.DrawFn) -> tuple[str, Fraction]:
    """A duration as a person might write it, a unit or none; and its exact value."""
    whole = draw(st.integers(min_value=0, max_value=10**7))
    decimals = draw(st.text(alphabet="0123456789", max_size=6))
    unit = draw(st.sampled_from(list(DURATION_UNITS)))
    number = f"{whole}.{decimals}" if decimals else str(whole)
    return number + unit, Fraction(number) * DURATION_UNITS[unit]


@st.composite
def policy_specs(draw: st.DrawFn) -> str:
    """A valid spec: any strategy, any subset of the keys, in any order."""
    strategy = draw(st.sampled_from(list(Strategy)))
    params: list[str] = []
    (low_text, low), (high_text, high) = sorted(
        [draw(duration_texts()), draw(duration_texts())], key=lambda pair: pair[1]
    )
    assume(low < high or low_text == high_text)  # equal values may round apart
    if strategy is Strategy.CONSTANT and draw(st.booleans()):
        low_text, high_text = high_text, low_text  # constant takes a cap below its base
    given = draw(st.sampled_from(["both", "base", "cap", "neither"]))
    if given == "base" and low > 30:
        given = "both"  # the default cap is 30 s
    if given == "cap" and high < 1:
        given = "both"  # the default base is 1 s
    if given in ("both", "base"):
        params.append(f"base={low_text}")
    if given in ("both", "cap"):
        params.append(f"cap={high_text}")
    if draw(st.booleans()):
        whole = draw(st.integers(min_value=1, max_value=10**4))
        decimals = draw(st.text(alphabet="0123456789", max_size=8))
        params.append(f"multiplier={whole}.{decimals}" if decimals else f"multiplier={whole}")
    if draw(st.booleans()):
        params.append(f"max-attempts={draw(st.integers(min_value=0, max_value=10**9))}")
    if draw(st.booleans()):
        params.append(f"max-elapsed={draw(duration_texts())[0]}")
    params = draw(st.permutations(params))
    return strategy.value + (":" + ",".join(params) if params else "")


@SETTINGS
@given(policy_specs())
def test_a_label_parses_back_to_an_equal_policy(text: str) -> None:
    policy = parse_policy(text)
    assert parse(policy.label) == policy
    assert parse_policy(policy.label).label == policy.label


def test_an_endless_duration_is_refused() -> None:
    """Over 308 digits a duration is an infinite float: ``ceiling`` then overflows
    (``OverflowError``) and the label reads ``Infinitys``."""
    error = refusal("exponential:cap=" + "9" * 400 + "s")
    assert "cap=" in error.reason


@pytest.mark.parametrize(
    "text",
    [
        "exponential:base=1.23456789s",
        "exponential:cap=1234.567s",
        "full-jitter:max-elapsed=100000.5s",
        "exponential:multiplier=2.0000001",
        "exponential:multiplier=1.0000001",
    ],
)
def test_a_label_keeps_every_digit(text: str) -> None:
    """Policies that differ only past the sixth digit must not share a label (the
    ledger keys its figures by label) and must parse back from it."""
    policy = parse_policy(text)
    assert parse(policy.label) == policy


@pytest.mark.parametrize(
    ("written", "same"),
    [("9ms", "0.009s"), ("36ms", "0.036s"), ("1626ms", "1.626s"), ("90s", "1.5m"), ("3", "3s")],
)
def test_a_duration_is_the_same_number_whatever_its_unit(written: str, same: str) -> None:
    """The label writes a duration in ms below 1 s and in s above, so a duration
    must parse to the same float in either unit for the label to read back."""
    assert parse_policy(f"constant:base={written}") == parse_policy(f"constant:base={same}")
    for text in (f"constant:base={written}", f"constant:base={same}"):
        policy = parse_policy(text)
        assert parse(policy.label) == policy


@pytest.mark.parametrize(
    "text", ["exponential:max-elapsed=1000000s", "exponential:base=0.00000001s"]
)
def test_the_label_of_a_very_long_or_short_duration_parses_back(text: str) -> None:
    policy = parse_policy(text)
    assert parse(policy.label) == policy


@pytest.mark.parametrize(
    "text", ["constant:base=1s,cap=5s", "constant:base=1s,multiplier=3", "none:base=3s"]
)
def test_a_label_keeps_keys_a_strategy_accepts_but_does_not_use(text: str) -> None:
    """``constant`` and ``none`` accept ``cap`` (and ``none`` a ``base``) but their label
    leaves them out, so the label does not parse back to an equal policy. Either
    the label should write them or the strategy should refuse them."""
    policy = parse_policy(text)
    assert parse(policy.label) == policy


# -- ceiling and bounds --------------------------------------------------------------------


def test_ceiling_grows_by_the_multiplier_up_to_the_cap() -> None:
    policy = BackoffPolicy(Strategy.EXPONENTIAL, base_s=0.25, cap_s=60.0)
    assert [policy.ceiling(n) for n in range(1, 11)] == [
        0.25,
        0.5,
        1.0,
        2.0,
        4.0,
        8.0,
        16.0,
        32.0,
        60.0,
        60.0,
    ]


@pytest.mark.parametrize("attempt", [10**6, 10**18, 2**64, 10**100])
@pytest.mark.parametrize("multiplier", [1.0001, 2.0, 1000.0, 1e300])
def test_ceiling_for_huge_attempt_numbers_is_the_cap(attempt: int, multiplier: float) -> None:
    policy = BackoffPolicy(Strategy.FULL_JITTER, base_s=0.1, cap_s=30.0, multiplier=multiplier)
    assert policy.ceiling(attempt) == 30.0
    assert policy.bounds(attempt) == (0.0, 30.0)


def test_ceiling_with_multiplier_one_stays_at_the_base() -> None:
    policy = BackoffPolicy(Strategy.EXPONENTIAL, base_s=0.5, cap_s=30.0, multiplier=1.0)
    assert [policy.ceiling(n) for n in (1, 2, 100, 10**18)] == [0.5] * 4


def test_ceiling_with_a_zero_base_is_zero() -> None:
    policy = BackoffPolicy(Strategy.EXPONENTIAL, base_s=0.0, cap_s=30.0)
    assert [policy.ceiling(n) for n in (1, 2, 10**18)] == [0.0] * 3


@pytest.mark.parametrize("cap", ["0s", "500ms"])
def test_a_constant_policy_accepted_by_parse_has_bounds_and_delays(cap: str) -> None:
    """``constant`` accepts a cap below its base (it never uses the cap), so
    computing its delay must not depend on the cap either."""
    policy = parse_policy(f"constant:base=1s,cap={cap}")
    assert policy.bounds(1) == (1.0, 1.0)
    assert take(policy, random.Random(1), 3) == [1.0, 1.0, 1.0]


@pytest.mark.parametrize(
    ("policy", "bounds"),
    [
        (BackoffPolicy(Strategy.NONE), [(0.0, 0.0)] * 3),
        (BackoffPolicy(Strategy.CONSTANT, base_s=2.0, cap_s=3.0), [(2.0, 2.0)] * 3),
        (BackoffPolicy(Strategy.EXPONENTIAL, 1.0, 3.0), [(1.0, 1.0), (2.0, 2.0), (3.0, 3.0)]),
        (BackoffPolicy(Strategy.FULL_JITTER, 1.0, 3.0), [(0.0, 1.0), (0.0, 2.0), (0.0, 3.0)]),
        (BackoffPolicy(Strategy.EQUAL_JITTER, 1.0, 3.0), [(0.5, 1.0), (1.0, 2.0), (1.5, 3.0)]),
    ],
)
def test_bounds_of_the_first_attempts(policy: BackoffPolicy, bounds: list[tuple]) -> None:
    assert [policy.bounds(n) for n in (1, 2, 3)] == bounds
    assert [policy.bounds(n, 100.0) for n in (1, 2, 3)] == bounds  # previous is ignored


def test_decorrelated_bounds_depend_on_the_previous_delay() -> None:
    policy = BackoffPolicy(Strategy.DECORRELATED_JITTER, base_s=1.0, cap_s=10.0)
    assert policy.bounds(1) == (1.0, 3.0)
    assert policy.bounds(1, 2.5) == (1.0, 3.0)  # before the first, previous is the base
    assert policy.bounds(2) == (1.0, 3.0)
    assert policy.bounds(2, 2.5) == (1.0, 7.5)
    assert policy.bounds(5, 3.0) == (1.0, 9.0)
    assert policy.bounds(5, 4.0) == (1.0, 10.0)  # capped
    assert policy.bounds(5, 0.1) == (1.0, 1.0)  # never below the low end


# -- delays --------------------------------------------------------------------------------

RANDOM_SOURCES = {
    "seed-1": lambda: random.Random(1),
    "seed-99": lambda: random.Random(99),
    "low": LowRandom,
    "high": HighRandom,
}
DELAY_POLICIES = [
    BackoffPolicy(strategy, base_s=0.1, cap_s=10.0, multiplier=multiplier)
    for strategy in Strategy
    for multiplier in (1.0, 1.5, 2.0, 7.0)
]


@pytest.mark.parametrize("policy", DELAY_POLICIES, ids=lambda policy: policy.label)
@pytest.mark.parametrize("rng_name", list(RANDOM_SOURCES))
def test_delays_stay_within_bounds(policy: BackoffPolicy, rng_name: str) -> None:
    previous: float | None = None
    for attempt, delay in enumerate(take(policy, RANDOM_SOURCES[rng_name](), 300), start=1):
        low, high = policy.bounds(attempt, previous)
        assert low <= delay <= high, (attempt, previous, delay)
        assert 0.0 <= delay <= policy.cap_s
        previous = delay


@SETTINGS
@given(
    strategy=st.sampled_from(list(Strategy)),
    base_ms=st.integers(min_value=0, max_value=5000),
    extra_ms=st.integers(min_value=0, max_value=60_000),
    multiplier=st.floats(min_value=1.0, max_value=20.0),
    seed=st.integers(min_value=0, max_value=2**32),
)
def test_delays_stay_within_bounds_for_any_policy(
    strategy: Strategy, base_ms: int, extra_ms: int, multiplier: float, seed: int
) -> None:
    policy = BackoffPolicy(strategy, base_ms / 1000, (base_ms + extra_ms) / 1000, multiplier)
    previous: float | None = None
    for attempt, delay in enumerate(take(policy, random.Random(seed), 60), start=1):
        low, high = policy.bounds(attempt, previous)
        assert low <= delay <= high
        previous = delay


def test_none_retries_at_once() -> None:
    policy = BackoffPolicy(Strategy.NONE, base_s=5.0, cap_s=10.0)
    assert take(policy, HighRandom(), 5) == [0.0] * 5


def test_constant_waits_the_base_every_time() -> None:
    policy = BackoffPolicy(Strategy.CONSTANT, base_s=0.75, cap_s=30.0)
    assert take(policy, HighRandom(), 5) == [0.75] * 5


def test_exponential_growth_is_exact() -> None:
    policy = BackoffPolicy(Strategy.EXPONENTIAL, base_s=1.0, cap_s=10.0, multiplier=1.5)
    assert take(policy, random.Random(3), 8) == [
        1.0,
        1.5,
        2.25,
        3.375,
        5.0625,
        7.59375,
        10.0,
        10.0,
    ]
    doubling = BackoffPolicy(Strategy.EXPONENTIAL, base_s=0.125, cap_s=5.0)
    assert take(doubling, random.Random(3), 8) == [0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 5.0, 5.0]


def test_exponential_draws_no_randomness() -> None:
    rng = RecordingRandom()
    take(BackoffPolicy(Strategy.EXPONENTIAL), rng, 10)
    assert rng.calls == []


def test_full_jitter_spans_zero_to_the_ceiling() -> None:
    policy = BackoffPolicy(Strategy.FULL_JITTER, base_s=0.5, cap_s=4.0)
    ceilings = [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert take(policy, LowRandom(), 6) == [0.0] * 6
    assert take(policy, HighRandom(), 6) == ceilings
    drawn = take(policy, random.Random(5), 600)
    assert all(0.0 <= delay <= 4.0 for delay in drawn)
    tail = drawn[10:]
    assert min(tail) < 0.4 and max(tail) > 3.6  # it really spreads over [0, cap]


def test_full_jitter_draws_uniform_zero_to_ceiling() -> None:
    rng = RecordingRandom()
    policy = BackoffPolicy(Strategy.FULL_JITTER, base_s=0.5, cap_s=4.0)
    assert take(policy, rng, 5) == [0.25, 0.5, 1.0, 2.0, 2.0]
    assert rng.calls == [(0.0, 0.5), (0.0, 1.0), (0.0, 2.0), (0.0, 4.0), (0.0, 4.0)]


def test_equal_jitter_is_at_least_half_the_ceiling() -> None:
    policy = BackoffPolicy(Strategy.EQUAL_JITTER, base_s=0.5, cap_s=4.0)
    ceilings = [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert take(policy, LowRandom(), 6) == [ceiling / 2 for ceiling in ceilings]
    assert take(policy, HighRandom(), 6) == ceilings
    drawn = take(policy, random.Random(5), 600)
    for delay, ceiling in zip(drawn, ceilings + [4.0] * 594, strict=True):
        assert ceiling / 2 <= delay <= ceiling
    assert min(drawn[10:]) < 2.2 and max(drawn[10:]) > 3.8


def test_decorrelated_jitter_depends_on_the_previous_delay() -> None:
    rng = RecordingRandom()
    policy = BackoffPolicy(Strategy.DECORRELATED_JITTER, base_s=1.0, cap_s=30.0)
    delays = take(policy, rng, 6)
    assert rng.calls[0] == (1.0, 3.0)  # before the first, previous is the base
    for (low, high), previous in zip(rng.calls[1:], delays, strict=False):
        assert (low, high) == (1.0, 3 * previous)
    assert delays == [2.0, 3.5, 5.75, 9.125, 14.1875, 21.78125]


def test_decorrelated_jitter_extremes() -> None:
    policy = BackoffPolicy(Strategy.DECORRELATED_JITTER, base_s=1.0, cap_s=30.0)
    assert take(policy, LowRandom(), 5) == [1.0] * 5
    assert take(policy, HighRandom(), 6) == [3.0, 9.0, 27.0, 30.0, 30.0, 30.0]


def test_decorrelated_jitter_ignores_the_multiplier() -> None:
    one = BackoffPolicy(Strategy.DECORRELATED_JITTER, base_s=1.0, cap_s=30.0, multiplier=1.0)
    seven = BackoffPolicy(Strategy.DECORRELATED_JITTER, base_s=1.0, cap_s=30.0, multiplier=7.0)
    assert take(one, random.Random(8), 20) == take(seven, random.Random(8), 20)


@pytest.mark.parametrize("strategy", JITTERED)
def test_the_same_seed_gives_the_same_delays(strategy: Strategy) -> None:
    policy = BackoffPolicy(strategy, base_s=0.2, cap_s=5.0)
    first = take(policy, random.Random(42), 50)
    assert first == take(policy, random.Random(42), 50)
    assert first != take(policy, random.Random(43), 50)


@pytest.mark.parametrize("strategy", list(Strategy))
def test_delays_never_end_on_their_own(strategy: Strategy) -> None:
    policy = BackoffPolicy(strategy, base_s=0.01, cap_s=1.0, max_attempts=2, max_elapsed_s=0.0)
    assert len(take(policy, random.Random(0), 5000)) == 5000


# -- is_retryable --------------------------------------------------------------------------

LOST = ConnectionLost("connect", "ConnectionClosed", "1006", close_code=1006)

RETRYABLE = [
    LOST,
    ConnectionLost("subscribe", "KeepAliveTimeout"),
    ConnectionLost("publish", "NetworkError", "ConnectionResetError"),
    OperationTimeout("connect", 5.0),
    OperationTimeout("publish", 0.5),
    HandshakeFailed("InvalidStatus", "HTTP 429", status=429),
    HandshakeFailed("InvalidStatus", "HTTP 500", status=500),
    HandshakeFailed("InvalidStatus", "HTTP 502", status=502),
    HandshakeFailed("InvalidStatus", "HTTP 503", status=503),
    HandshakeFailed("InvalidStatus", "HTTP 599", status=599),
    OperationRejected("publish", "LimitExceededError", "rate exceeded"),
    OperationRejected("subscribe", "InternalFailure"),
    HttpRejected(429, "HTTP429", "throttled"),
    HttpRejected(500, "InternalFailure", ""),
    HttpRejected(503, "HTTP503", ""),
]

NOT_RETRYABLE = [
    HandshakeFailed("InvalidStatus", "HTTP 400", status=400),
    HandshakeFailed("InvalidStatus", "HTTP 401", status=401),
    HandshakeFailed("InvalidStatus", "HTTP 403", status=403),
    HandshakeFailed("InvalidStatus", "HTTP 404", status=404),
    HandshakeFailed("TlsError", "SSLCertVerificationError"),
    HandshakeFailed("InvalidHandshake"),
    OperationRejected("publish", "BadRequestException", "bad channel"),
    OperationRejected("connect", "UnauthorizedException"),
    HttpRejected(403, "UnauthorizedException", "denied"),
    HttpRejected(403, "HTTP403", ""),
    HttpRejected(400, "BadRequestException", ""),
    HttpRejected(401, "HTTP401", ""),
    ConfigurationError("--auth-mode", "unknown"),
    SigningError("no credentials"),
    AuthorizationRejected("UnauthorizedException", "bad key"),
    RetriesExhausted("connect", GiveUp.MAX_ATTEMPTS.value, 3, LOST),
    RetriesExhausted("publish", GiveUp.MAX_ELAPSED.value, 9, OperationTimeout("publish", 1.0)),
    ValueError("a programming error"),
    OSError("not translated at the boundary"),
]


@pytest.mark.parametrize("error", RETRYABLE, ids=repr)
def test_retryable_errors(error: BaseException) -> None:
    assert is_retryable(error) is True


@pytest.mark.parametrize("error", NOT_RETRYABLE, ids=repr)
def test_errors_that_are_not_retried(error: BaseException) -> None:
    assert is_retryable(error) is False


@pytest.mark.parametrize("error_type", sorted(NON_RETRYABLE_ERROR_TYPES))
def test_every_final_error_type_is_not_retried(error_type: str) -> None:
    assert is_retryable(OperationRejected("subscribe", error_type)) is False
    assert is_retryable(HandshakeFailed(error_type)) is False


def test_the_final_types_include_the_ones_amplify_treats_as_final() -> None:
    assert {"BadRequestException", "UnauthorizedException"} <= NON_RETRYABLE_ERROR_TYPES
    assert "LimitExceededError" not in NON_RETRYABLE_ERROR_TYPES


# -- RetryEpisode --------------------------------------------------------------------------

REJECTED = OperationRejected("publish", "BadRequestException")


def episode(text: str, rng: random.Random | None = None, started_s: float = 100.0) -> RetryEpisode:
    return RetryPolicy.parse(text, option=OPTION).episode(rng or random.Random(0), started_s)


def test_off_gives_up_at_once() -> None:
    retries = episode("off")
    assert retries.next_delay(LOST, 100.0) is GiveUp.OFF
    assert retries.next_delay(REJECTED, 100.0) is GiveUp.OFF
    assert retries.attempts == 0


def test_a_final_error_gives_up_without_counting_an_attempt() -> None:
    retries = episode("exponential:base=1s,cap=30s,max-attempts=5")
    assert retries.next_delay(REJECTED, 100.0) is GiveUp.NOT_RETRYABLE
    assert retries.attempts == 0
    # and without drawing a delay: the next retryable error gets the first one
    assert retries.next_delay(LOST, 100.0) == 1.0
    assert retries.attempts == 1
    assert retries.next_delay(HandshakeFailed("InvalidStatus", status=403), 101.0) is (
        GiveUp.NOT_RETRYABLE
    )
    assert retries.attempts == 1


def test_attempts_count_up_and_delays_follow_the_policy() -> None:
    retries = episode("exponential:base=250ms,cap=1s")
    got = [retries.next_delay(LOST, 100.0) for _ in range(5)]
    assert got == [0.25, 0.5, 1.0, 1.0, 1.0]
    assert retries.attempts == 5


@pytest.mark.parametrize("limit", [0, 1, 3, 7])
def test_max_attempts_stops_exactly_after_that_many(limit: int) -> None:
    retries = episode(f"constant:base=1s,max-attempts={limit}")
    got = [retries.next_delay(LOST, 100.0) for _ in range(limit + 5)]
    assert got == [1.0] * limit + [GiveUp.MAX_ATTEMPTS] * 5
    assert retries.attempts == limit


def test_max_elapsed_stops_when_the_next_attempt_would_start_too_late() -> None:
    retries = episode("exponential:base=1s,cap=30s,max-elapsed=10s", started_s=100.0)
    now = 100.0
    got: list[float | GiveUp] = []
    for _ in range(20):  # bounded: the policy must give up long before
        delay = retries.next_delay(LOST, now)
        got.append(delay)
        if isinstance(delay, GiveUp):
            break
        now += delay + 0.5  # the attempt itself takes half a second and fails
    # starts at +1, +3.5, +8; the fourth would start at 108.5 + 8 = +16.5 > 10
    assert got == [1.0, 2.0, 4.0, GiveUp.MAX_ELAPSED]
    assert retries.attempts == 3


def test_max_elapsed_allows_an_attempt_exactly_at_the_limit() -> None:
    retries = episode("constant:base=1s,max-elapsed=3s", started_s=100.0)
    assert retries.next_delay(LOST, 100.0) == 1.0  # starts at +1
    assert retries.next_delay(LOST, 101.0) == 1.0  # +2
    assert retries.next_delay(LOST, 102.0) == 1.0  # +3, exactly the limit
    assert retries.next_delay(LOST, 103.0) is GiveUp.MAX_ELAPSED  # +4
    assert retries.attempts == 3


def test_max_elapsed_counts_from_the_start_of_the_episode() -> None:
    retries = episode("constant:base=1s,max-elapsed=5s", started_s=50.0)
    assert retries.next_delay(LOST, 53.5) == 1.0  # +4.5
    assert retries.next_delay(LOST, 54.5) is GiveUp.MAX_ELAPSED  # +5.5


def test_max_attempts_is_checked_before_max_elapsed() -> None:
    retries = episode("constant:base=1s,max-attempts=1,max-elapsed=1s")
    assert retries.next_delay(LOST, 100.0) == 1.0
    assert retries.next_delay(LOST, 200.0) is GiveUp.MAX_ATTEMPTS


@pytest.mark.parametrize("strategy", list(Strategy))
def test_a_retry_loop_on_a_fake_clock_ends(strategy: Strategy) -> None:
    retries = episode(f"{strategy.value}:base=100ms,cap=2s,max-elapsed=30s", random.Random(4))
    now = retries.started_s
    for _ in range(1000):
        delay = retries.next_delay(LOST, now)
        if isinstance(delay, GiveUp):
            break
        assert 0.0 <= delay <= 2.0
        now += delay + 0.05
    else:
        pytest.fail("the episode never gave up")
    assert delay is GiveUp.MAX_ELAPSED
    assert now - retries.started_s <= 30.0 + 0.05 + 1e-9


def test_episodes_draw_from_the_random_source_they_are_given() -> None:
    policy = RetryPolicy.parse("full-jitter:base=1s,cap=8s", option=OPTION)
    first = policy.episode(random.Random(11), 0.0)
    second = policy.episode(random.Random(11), 0.0)
    high = policy.episode(HighRandom(), 0.0)
    a = [first.next_delay(LOST, 0.0) for _ in range(10)]
    assert a == [second.next_delay(LOST, 0.0) for _ in range(10)]
    assert [high.next_delay(LOST, 0.0) for _ in range(5)] == [1.0, 2.0, 4.0, 8.0, 8.0]


def test_each_episode_starts_its_delays_over() -> None:
    policy = RetryPolicy.parse("exponential:base=1s,cap=30s,max-attempts=2", option=OPTION)
    rng = random.Random(0)
    for started in (0.0, 10.0, 20.0):
        retries = policy.episode(rng, started)
        assert retries.started_s == started
        got = [retries.next_delay(LOST, started) for _ in range(3)]
        assert got == [1.0, 2.0, GiveUp.MAX_ATTEMPTS]
