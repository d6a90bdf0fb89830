"""Open-loop publish schedules: slot ``k`` at ``start + phase + k / rate`` on the
monotonic and the wall clock, a random phase in ``[0, 1 / rate)``, and
``skip_missed`` dropping exactly the slots already in the past. Clocks and the
random generator are injected, so every time below is exact."""

from __future__ import annotations

import itertools
import math
import random
from dataclasses import dataclass
from fractions import Fraction

import pytest

from harness.workload.schedule import PublishSchedule, Slot

START_MONOTONIC_S = 1000.0
START_WALL_NS = 1_731_346_453_000_000_000


class FixedRandom(random.Random):
    """A generator whose ``random()`` always returns ``value``."""

    def __init__(self, value: float) -> None:
        super().__init__(0)
        self.value = value

    def random(self) -> float:
        return self.value


@dataclass
class FakeClock:
    monotonic_s: float = START_MONOTONIC_S
    wall: int = START_WALL_NS

    def monotonic(self) -> float:
        return self.monotonic_s

    def wall_ns(self) -> int:
        return self.wall

    def advance(self, seconds: float) -> None:
        self.monotonic_s += seconds
        self.wall += round(seconds * 1e9)


def schedule(
    rate: float, rng: random.Random | float = 0.0, clock: FakeClock | None = None
) -> tuple[PublishSchedule, FakeClock]:
    clock = clock or FakeClock()
    generator = FixedRandom(rng) if isinstance(rng, float) else rng
    return (
        PublishSchedule(rate, rng=generator, monotonic=clock.monotonic, wall_ns=clock.wall_ns),
        clock,
    )


def take(plan: PublishSchedule, count: int) -> list[Slot]:
    return [plan.next_slot() for _ in range(count)]


# -- slots ---------------------------------------------------------------------------------


def test_slots_are_numbered_from_zero() -> None:
    plan, _ = schedule(5.0)
    assert [slot.index for slot in take(plan, 10)] == list(range(10))


def test_the_first_slot_comes_after_the_phase() -> None:
    plan, _ = schedule(2.0, 0.25)  # phase 0.25 / 2 = 0.125 s
    first = plan.next_slot()
    assert first == Slot(0, START_MONOTONIC_S + 0.125, START_WALL_NS + 125_000_000)


def test_a_zero_phase_starts_at_creation() -> None:
    plan, _ = schedule(3.0, 0.0)
    first = plan.next_slot()
    assert first.monotonic_s == START_MONOTONIC_S
    assert first.wall_ns == START_WALL_NS


@pytest.mark.parametrize("rate", [1.0, 2.0, 3.0, 7.0, 10.0, 25.0, 0.5, 0.3, 1000.0])
def test_monotonic_slots_are_one_period_apart(rate: float) -> None:
    plan, _ = schedule(rate, 0.5)
    slots = take(plan, 2000)
    first = slots[0].monotonic_s
    for slot in slots:
        assert slot.monotonic_s == pytest.approx(first + slot.index / rate, rel=0, abs=1e-9)
    gaps = {round(b.monotonic_s - a.monotonic_s, 9) for a, b in itertools.pairwise(slots)}
    assert gaps == {round(1 / rate, 9)}


# Rates whose period is a whole number of nanoseconds: the wall clock (an int in ns)
# can then keep every slot exactly k periods after the first.
WHOLE_NS_RATES = [1.0, 2.0, 4.0, 5.0, 8.0, 10.0, 20.0, 25.0, 50.0, 100.0, 1000.0, 0.5, 0.1]


def test_wall_slots_are_exactly_one_period_apart() -> None:
    off: dict[float, dict[int, int]] = {}  # rate -> {slot index: ns off the exact time}
    for rate in WHOLE_NS_RATES:
        period_ns = round(1e9 / rate)
        plan, _ = schedule(rate, 0.0)
        errors = {
            slot.index: slot.wall_ns - (START_WALL_NS + slot.index * period_ns)
            for slot in take(plan, 2000)
        }
        wrong = {index: error for index, error in errors.items() if error}
        if wrong:
            off[rate] = dict(list(wrong.items())[:3])
    assert off == {}


@pytest.mark.parametrize("rate", [3.0, 7.0, 0.3, 12.5, 60.0])
def test_wall_slots_do_not_drift(rate: float) -> None:
    """Slot k is computed from k, not by adding up rounded periods: after 10,000 slots
    the wall time is still within the clock's resolution (1 ns) of the exact time."""
    plan, _ = schedule(rate, 0.0)
    for slot in take(plan, 10_000):
        exact = START_WALL_NS + Fraction(slot.index) * 10**9 / Fraction(rate)
        assert abs(slot.wall_ns - exact) <= 1, slot


def test_wall_and_monotonic_offsets_agree() -> None:
    """The wall time of a slot is as far from the wall clock at creation as its monotonic
    time is from the monotonic clock at creation, to the nanosecond."""
    worst: dict[tuple[float, int], float] = {}  # (rate, seed) -> largest disagreement, ns
    for rate in (1.0, 3.0, 10.0, 0.3, 25.0):
        for seed in range(5):
            plan, _ = schedule(rate, random.Random(seed))
            disagreement = max(
                abs((slot.wall_ns - START_WALL_NS) - (slot.monotonic_s - START_MONOTONIC_S) * 1e9)
                for slot in take(plan, 500)
            )
            if disagreement > 1.001:  # float noise of the monotonic time
                worst[rate, seed] = round(disagreement, 3)
    assert worst == {}


def test_slots_do_not_follow_the_clock() -> None:
    """Open loop: a slot's time is fixed by the schedule, not by when it is asked for."""
    plan, clock = schedule(4.0, 0.0)
    clock.advance(60.0)
    assert plan.next_slot() == Slot(0, START_MONOTONIC_S, START_WALL_NS)
    clock.advance(60.0)
    assert plan.next_slot() == Slot(1, START_MONOTONIC_S + 0.25, START_WALL_NS + 250_000_000)


# -- the phase -----------------------------------------------------------------------------


@pytest.mark.parametrize("rate", [0.1, 1.0, 3.0, 25.0, 1000.0])
@pytest.mark.parametrize("draw", [0.0, 0.5, 0.999999])
def test_the_phase_is_the_draw_times_the_period(rate: float, draw: float) -> None:
    plan, _ = schedule(rate, draw, FakeClock(monotonic_s=0.0, wall=0))
    first = plan.next_slot()
    phase_s, phase_ns = first.monotonic_s, first.wall_ns
    assert phase_s == draw / rate
    assert 0 <= phase_s < 1 / rate
    assert 0 <= phase_ns < 1e9 / rate


@pytest.mark.parametrize("rate", [0.5, 1.0, 20.0])
def test_phases_spread_over_the_whole_period(rate: float) -> None:
    period = 1 / rate
    phases = []
    for seed in range(200):
        first = schedule(rate, random.Random(seed))[0].next_slot()
        phase = first.monotonic_s - START_MONOTONIC_S
        assert 0 <= phase < period
        assert 0 <= first.wall_ns - START_WALL_NS < period * 1e9
        phases.append(phase)
    assert len(set(phases)) == len(phases)
    assert min(phases) < 0.05 * period
    assert max(phases) > 0.95 * period
    deciles = {int(phase / period * 10) for phase in phases}
    assert deciles == set(range(10))


def test_the_same_seed_gives_the_same_phase() -> None:
    first = schedule(2.0, random.Random(42))[0].next_slot()
    again = schedule(2.0, random.Random(42))[0].next_slot()
    other = schedule(2.0, random.Random(43))[0].next_slot()
    assert first == again
    assert first != other


# -- skip_missed -------------------------------------------------------------------------------


def test_skip_missed_skips_the_slots_in_the_past() -> None:
    plan, clock = schedule(2.0, 0.0)  # slots at 0, 0.5, 1.0, ... s
    clock.advance(2.75)  # slots 0..5 (up to 2.5 s) are past
    assert plan.skip_missed() == 6
    assert plan.next_slot() == Slot(6, START_MONOTONIC_S + 3.0, START_WALL_NS + 3_000_000_000)


def test_skip_missed_counts_only_slots_not_yet_taken() -> None:
    plan, clock = schedule(2.0, 0.0)
    take(plan, 2)
    clock.advance(2.75)
    assert plan.skip_missed() == 4
    assert plan.next_slot().index == 6


def test_skip_missed_twice_skips_nothing_more() -> None:
    plan, clock = schedule(2.0, 0.0)
    clock.advance(2.75)
    assert plan.skip_missed() == 6
    assert plan.skip_missed() == 0
    clock.advance(1.0)  # now 3.75 s: slots 6 and 7 have passed since
    assert plan.skip_missed() == 2
    assert plan.next_slot().index == 8


def test_skip_missed_skips_nothing_when_the_next_slot_is_ahead() -> None:
    plan, clock = schedule(2.0, 0.0)
    take(plan, 10)  # up to 4.5 s
    clock.advance(2.75)
    assert plan.skip_missed() == 0
    assert plan.next_slot().index == 10


def test_skip_missed_with_a_phase_and_a_slow_rate() -> None:
    plan, clock = schedule(0.1, 0.3)  # phase 3 s, then every 10 s: 3, 13, 23, 33 s
    clock.advance(25.0)
    assert plan.skip_missed() == 3
    assert plan.next_slot().monotonic_s == pytest.approx(START_MONOTONIC_S + 33.0)


@pytest.mark.parametrize(
    ("rate", "draw", "elapsed"), [(1.0, 0.5, 0.25), (0.1, 0.9, 8.0), (4.0, 0.99, 0.1)]
)
def test_skip_missed_skips_nothing_before_the_first_slot(
    rate: float, draw: float, elapsed: float
) -> None:
    """While the phase has not passed yet, slot 0 is still in the future."""
    plan, clock = schedule(rate, draw)
    clock.advance(elapsed)
    assert clock.monotonic_s < START_MONOTONIC_S + draw / rate
    assert plan.skip_missed() == 0
    assert plan.next_slot().index == 0


@pytest.mark.parametrize("seed", range(30))
def test_skip_missed_matches_the_slot_times(seed: int) -> None:
    """From random points after the first slot, ``skip_missed`` skips exactly the slots
    whose time has passed, as read from an identical schedule."""
    draws = random.Random(seed)
    rate = draws.choice([0.2, 1.0, 3.0, 7.5, 25.0, 200.0])
    phase_draw = draws.random()
    plan, clock = schedule(rate, phase_draw)
    times = [slot.monotonic_s for slot in take(schedule(rate, phase_draw)[0], 2_000)]
    next_index = 0
    for _ in range(8):
        for _ in range(draws.randrange(3)):
            assert plan.next_slot().index == next_index
            next_index += 1
        now = max(clock.monotonic_s, times[0] + draws.uniform(0, 200 / rate))
        clock.monotonic_s = now
        past = sum(1 for t in times[next_index:] if t < now)
        assert plan.skip_missed() == past
        next_index += past
        assert times[next_index] >= now
    assert plan.next_slot().index == next_index


# -- bad rates -----------------------------------------------------------------------------


@pytest.mark.parametrize("rate", [0.0, -0.0, -1.0, -0.001, math.nan, -math.inf])
def test_a_non_positive_rate_is_refused(rate: float) -> None:
    with pytest.raises(ValueError, match="rate_per_s must be positive"):
        PublishSchedule(rate, rng=FixedRandom(0.5))
