"""The live figures (``harness.loadtest.live``) of a real local run against the emulator.

Snapshots taken while publishers publish every 50 ms, and the emulator holds every
delivery for 300 ms, never call an event still on its way lost: with no loss
injected, every snapshot has no lost and no missed event, and its published count
never exceeds what the emulator has accepted by the time it was taken (an
independent observer). Snapshots are kept for at
least ``MIN_REFRESH_S``; once the run has ended the final summary is served.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import gevent
from locust.runners import STATE_INIT
from support.emulator import LiveEmulator, wait_until
from support.locust_runs import local_environment, running
from support.timing import MS

from harness.loadtest import live
from harness.loadtest.ending import finish_run
from harness.loadtest.live import LiveFigures
from harness.loadtest.state import run_state
from harness.loadtest.users import Publisher, Subscriber

CHANNELS = "/default/live-{1..2}"


class LivePublisher(Publisher):
    weight = 1


class LiveSubscriber(Subscriber):
    weight = 3


def test_live_snapshots_count_no_event_on_its_way_as_lost(
    start_emulator: Callable[..., LiveEmulator],
) -> None:
    # Its own emulator, so its stats count this test's users only; every delivery is held
    # 300 ms, so that any snapshot has events on their way.
    fresh_emulator = start_emulator("--fault", "delay-deliveries:delay=300ms")
    environment = local_environment(
        fresh_emulator.process.info.http_url,
        [LivePublisher, LiveSubscriber],
        channels=CHANNELS,
        publish_rate=20,
    )
    figures = LiveFigures(environment)
    assert figures.snapshot() is None  # no run yet
    seen: list[tuple[int, int, int, int]] = []
    with running(environment, users=8) as runner:
        wait_until(lambda: runner.state != STATE_INIT, what="the run started")
        deadline = time.monotonic() + 10_000 * MS
        while len(seen) < 3 and time.monotonic() < deadline:
            snapshot = figures.snapshot()
            assert snapshot is not None and not snapshot.final
            events = snapshot.summary["totals"]["events"]
            accepted = fresh_emulator.stats()["publishes"]["events"]
            seen.append((events["published"], events["lost"], events["missed_during_reconnect"],
                         accepted))  # fmt: skip
            assert figures.snapshot() is snapshot  # kept, not rebuilt at once
            gevent.sleep(live.MIN_REFRESH_S)
        published = [row[0] for row in seen]
        assert len(seen) == 3 and published[-1] > published[-2] > 0, seen
        assert all(lost == 0 and missed == 0 for _, lost, missed, _ in seen), seen
        assert all(count <= accepted for count, _, _, accepted in seen), seen
        snapshot = figures.snapshot()
        assert snapshot is not None and snapshot.judged_until is not None
        assert snapshot.judged_until <= snapshot.taken_at - live.JUDGE_LAG_S
        assert snapshot.summary["verdict"] == {"exit_code": 0, "reasons": []}
    state = run_state(environment)
    finish_run(state)
    final = figures.snapshot()
    assert final is not None and final.final and final.summary is state.summary
    assert final.summary["totals"]["events"]["published"] >= published[-1]
