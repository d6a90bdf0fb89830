"""The harness's own measurements through a run, in one process or across Locust workers.

Every process records into :class:`ProcessRecorders` (latency histograms and
delivery records). The run's :class:`RunResults` live where the run is
summarised: on the master of a distributed run (``--processes N``, or
``--master`` and ``--worker``), which merges what each worker sends with its
stats reports (Locust's ``report_to_master`` / ``worker_report``), or in the
process of a local run, which drains its own recorders once a second. Both
paths move the same data, so the merged figures are what one process would
have measured.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import gevent
from locust import events
from locust.runners import LocalRunner

from harness.measure.delivery import DeliveryAccounts, DeliveryRecorder
from harness.measure.latency import LatencyRecorder, LatencyTimeline

T = TypeVar("T")
REPORT_KEY = "harness_metrics"
LOCAL_DRAIN_S = 1.0
_RECORDERS_ATTRIBUTE = "_appsync_harness_recorders"
_RESULTS_ATTRIBUTE = "_appsync_harness_results"


@dataclass
class ProcessRecorders:
    """What this process's users record, until the next drain."""

    latency: LatencyRecorder = field(default_factory=LatencyRecorder)
    delivery: DeliveryRecorder = field(default_factory=DeliveryRecorder)

    def drain(self) -> dict[str, Any]:
        return {"latency": self.latency.drain(), "delivery": self.delivery.drain()}


@dataclass
class RunResults:
    """A run's merged measurements."""

    started_at: float = field(default_factory=time.time)
    timeline: LatencyTimeline = field(init=False)
    accounts: DeliveryAccounts = field(default_factory=DeliveryAccounts)
    reporting_processes: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.timeline = LatencyTimeline(self.started_at)

    def merge(self, data: dict[str, Any], at_wall_s: float) -> None:
        self.timeline.merge(data["latency"], at_wall_s)
        self.accounts.merge(data["delivery"])


def attached(environment: Any, attribute: str, make: Callable[[], T]) -> T:
    """The object kept on ``environment`` under ``attribute``, made on first use."""
    value: T | None = getattr(environment, attribute, None)
    if value is None:
        value = make()
        setattr(environment, attribute, value)
    return value


def recorders_for(environment: Any) -> ProcessRecorders:
    return attached(environment, _RECORDERS_ATTRIBUTE, ProcessRecorders)


def results_for(environment: Any) -> RunResults:
    return attached(environment, _RESULTS_ATTRIBUTE, RunResults)


def collect(environment: Any) -> RunResults:
    """Drain this process's recorders into the run's results (a local run; a no-op on
    a master, whose users are on the workers); the results."""
    results = results_for(environment)
    results.merge(recorders_for(environment).drain(), time.time())
    return results


# -- listeners -----------------------------------------------------------------------


def _on_test_start(environment: Any, **_: Any) -> None:
    remember_environment(environment)
    for attribute in (_RECORDERS_ATTRIBUTE, _RESULTS_ATTRIBUTE):
        if hasattr(environment, attribute):
            delattr(environment, attribute)
    results_for(environment)
    if isinstance(environment.runner, LocalRunner):
        gevent.spawn(_drain_locally, environment, recorders_for(environment))


def _drain_locally(environment: Any, recorders: ProcessRecorders) -> None:
    """Drain once a second for the over-time figures, until the next run replaces them."""
    while getattr(environment, _RECORDERS_ATTRIBUTE, None) is recorders:
        gevent.sleep(LOCAL_DRAIN_S)
        if getattr(environment, _RECORDERS_ATTRIBUTE, None) is recorders:
            collect(environment)


def _on_report_to_master(client_id: str, data: dict[str, Any], **_: Any) -> None:
    environment = current_environment()
    if environment is not None:
        data[REPORT_KEY] = recorders_for(environment).drain()


def _on_worker_report(client_id: str, data: dict[str, Any], **_: Any) -> None:
    environment = current_environment()
    report = data.get(REPORT_KEY)
    if environment is None or report is None:
        return
    results = results_for(environment)
    results.merge(report, time.time())
    results.reporting_processes.add(client_id)


_current: dict[str, Any] = {}


def remember_environment(environment: Any, **_: Any) -> None:
    """Keep this process's environment for the hooks Locust calls without one."""
    _current["environment"] = environment


def current_environment() -> Any:
    return _current.get("environment")


for _hook, _listener in (
    (events.init, remember_environment),
    (events.test_start, _on_test_start),
    (events.report_to_master, _on_report_to_master),
    (events.worker_report, _on_worker_report),
):
    _hook.add_listener(_listener)  # type: ignore[no-untyped-call]
