"""bench_peers.py's ``harness`` mode: the harness's own users, run the way users run them::

    locust -f bench/peers_harness_locustfile.py --headless --host <emulator> \\
        --channels '/default/ch-{1..C}' --subscriptions-per-user 1 --publish-rate R \\
        --events-per-publish 1 ...

bench/bench_peers.py starts it, with the load in the environment (peers_common.ENV_VAR):
the user counts (Locust's ``fixed_count``), the go file of the publish window, and the file
this locustfile writes the window's delivery counts to. Every figure else is the harness's
own, from the summary.json and deliver.hlog it writes in ``--report-dir``.

What it changes in the harness's users, and what of their insides it relies on (the
harness's internals may change; bench_peers.py checks the outcome from the emulator's side):

- ``BenchSubscriber._pick_subscriptions`` (a private hook of ``AppSyncUser``): subscriber
  i takes channel i % C instead of a random one, so every channel has the same number of
  subscribers, as in the other modes;
- the harness's run start, the origin of its 5-s slots (the ``BaseTime`` of its .hlog
  files), is ``run_state(env).results.started_at``, set by the harness's own ``test_start``
  listener (added by ``install``, so before this file's); the locustfile writes it to
  ``PeerLoad.slots_file`` and bench_peers.py starts the window on one of those slots;
- the window's delivery counts are Locust's ``deliver`` requests plus the deliveries the
  harness holds for its next batch into Locust's stats (``run_state(env).deliveries``);
- ``BenchPublisher.window_step`` replaces the task (Locust's ``tasks``): it waits for the
  window, then gives the user a fresh schedule (the private ``_schedule``; a
  ``PublishSchedule`` that can show its next slot), so no slot missed during the ramp is
  sent in a burst, lets the harness's own ``step`` publish each slot inside the window,
  and idles after it.
"""

from __future__ import annotations

import itertools
import time
from typing import Any

import gevent
import peers_common as common
from gevent.event import Event
from locust import events

from harness.loadtest import install
from harness.loadtest.state import run_state
from harness.loadtest.users import Publisher, Subscriber
from harness.workload.schedule import PublishSchedule, Slot

install(events)

LOAD = common.PeerLoad.from_env()
_window: list[common.Window] = []
_window_known = Event()
_subscriber_numbers = itertools.count()


class WindowSchedule(PublishSchedule):
    """The harness's schedule, whose next slot can be looked at without taking it."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.peeked: Slot | None = None

    def peek(self) -> Slot:
        if self.peeked is None:
            self.peeked = super().next_slot()
        return self.peeked

    def next_slot(self) -> Slot:
        slot, self.peeked = self.peek(), None
        return slot

    def skip_missed(self) -> int:
        skipped = super().skip_missed()
        if skipped and self.peeked is not None:  # it was due before the ones skipped
            self.peeked = None
            skipped += 1
        return skipped


class BenchSubscriber(Subscriber):
    fixed_count = LOAD.subscribers

    def _pick_subscriptions(self, rng: Any) -> list[str]:
        channels = self.choice.channels
        return [channels[next(_subscriber_numbers) % len(channels)]]


class BenchPublisher(Publisher):
    fixed_count = LOAD.publishers

    def window_step(self) -> None:
        if not _window_known.wait(common.IDLE_S):
            return
        window = _window[0]
        early_ns = window.start_ns - time.time_ns()
        if early_ns > 0:
            gevent.sleep(early_ns / 1e9)
            return
        if not isinstance(self._schedule, WindowSchedule):
            assert self.runtime is not None
            rate = self.runtime.settings.publishes_per_second
            self._schedule = WindowSchedule(rate, rng=self.runtime.rng)
        if self._schedule.peek().wall_ns >= window.end_ns:
            gevent.sleep(common.IDLE_S)  # the window is over
            return
        self.step()  # the harness's step: waits for the slot, publishes, records


# Locust inherits the base class's task (AppSyncUser.step) as a function; replace it.
BenchPublisher.tasks = [BenchPublisher.window_step]


def _deliveries(environment: Any) -> int:
    """The harness's deliveries so far: Locust's count of 'deliver' requests, plus those the
    harness holds for its next batch into Locust's stats (``run_state(...).deliveries``,
    added a few times a second; absent from a harness that fires one event per delivery)."""
    entries = list(environment.stats.entries.items())
    counted = sum(entry.num_requests for (_, method), entry in entries if method == "deliver")
    waiting = getattr(run_state(environment), "deliveries", None)
    return counted + int(getattr(waiting, "pending", 0))


def _watch(environment: Any) -> None:
    def known(window: common.Window) -> None:
        _window.append(window)
        _window_known.set()

    counts = common.watch_window(LOAD, gevent.sleep, lambda: _deliveries(environment), known)
    if counts is not None:
        common.write_json(LOAD.result_file, counts)


@events.test_start.add_listener
def _on_test_start(environment: Any, **_: Any) -> None:
    started_at = run_state(environment).results.started_at  # the harness's run: just started
    common.write_json(LOAD.slots_file, {"started_at": started_at})
    gevent.spawn(_watch, environment)
