"""A distributed run's workers (who finished, who was lost) and the verdict on incomplete
runs and on loss: the roster fed as the master's listeners feed it, the summary built by
the harness's own code, and the exit codes of docs/reports.md."""

from __future__ import annotations

from typing import Any

import pytest
from support.summaries import STARTED

from harness.measure.delivery import DeliveryRecorder
from harness.measure.recorders import ProcessRecorders, RunResults
from harness.measure.resilience import ResilienceLedger
from harness.measure.schema import WorkerReport
from harness.measure.summary import build_summary, judged
from harness.measure.verdict import (
    EXIT_INCOMPLETE,
    EXIT_REGRESSION,
    EXIT_SLO,
    unjudged_loss,
    verdict,
)
from harness.measure.workers import WorkerRoster

CHANNEL = "/default/w"


def report(*, final: bool, tag: str | None = "aaaaaa", users: int = 3) -> WorkerReport:
    drained = ProcessRecorders().drain(final=final)
    drained["process"] = {"tag": tag, "users": users, "clock": None}
    return drained


# -- the roster -------------------------------------------------------------------------------


def test_a_worker_that_sent_its_final_report_is_not_lost() -> None:
    roster = WorkerRoster()
    roster.reported("w1", STARTED + 3, report(final=False))
    assert not roster.settled and roster.lost() == ["w1"]
    roster.reported("w1", STARTED + 6, report(final=True, users=0))
    assert roster.settled and roster.lost() == [] and roster.finished == 1


def test_a_worker_that_went_missing_is_lost_and_settled() -> None:
    """The master stops waiting for a worker Locust lists as missing, and it is lost."""
    roster = WorkerRoster()
    roster.reported("w1", STARTED + 3, report(final=False, tag="aaaaaa"))
    roster.reported("w2", STARTED + 3, report(final=False, tag="bbbbbb"))
    roster.gone("w2", STARTED + 7)
    roster.gone("w2", STARTED + 9)  # the first time it was seen gone counts
    assert not roster.settled  # w1 may still send its final report
    roster.reported("w1", STARTED + 12, report(final=True, tag="aaaaaa", users=0))
    assert roster.settled
    assert roster.lost() == ["w2"] and roster.lost_tags() == frozenset({"bbbbbb"})
    assert roster.workers["w2"].missing_since == STARTED + 7


def test_a_worker_gone_after_its_final_report_is_not_missing() -> None:
    roster = WorkerRoster()
    roster.reported("w1", STARTED + 3, report(final=True))
    roster.gone("w1", STARTED + 4)  # a worker quits once the run is over
    assert roster.workers["w1"].missing_since is None and roster.lost() == []


def test_a_worker_seen_but_never_reporting_is_lost() -> None:
    roster = WorkerRoster()
    roster.seen("w1")
    assert roster.lost() == ["w1"] and roster.lost_tags() == frozenset()
    assert not roster.settled
    roster.gone("w1", STARTED + 5)
    assert roster.settled


def test_a_report_without_a_tag_keeps_the_one_known() -> None:
    """A worker reports ``tag: null`` until its first user starts; a later report of a
    run that stopped its users keeps the tag."""
    roster = WorkerRoster()
    roster.reported("w1", STARTED + 3, report(final=False, tag="cccccc"))
    roster.reported("w1", STARTED + 6, report(final=False, tag=None, users=0))
    assert roster.workers["w1"].tag == "cccccc" and roster.workers["w1"].users == 0


# -- the summary of a run with a lost worker ---------------------------------------------------


def lost_worker_run() -> RunResults:
    """Worker w1 (users ``keep-*``) finished; worker w2 (users ``gone-*``) last reported with
    its subscriber live and never again. One publisher on w1 published 4 events; w1's
    subscriber received all, w2's the first only."""
    results = RunResults(started_at=STARTED)
    kept, gone = DeliveryRecorder(), DeliveryRecorder()
    kept.subscription_live("keep-1", CHANNEL, int((STARTED + 1) * 1e9))
    gone.subscription_live("gone-1", CHANNEL, int((STARTED + 1) * 1e9))
    for seq in range(1, 5):
        kept.acknowledged("keep-2", CHANNEL, seq, int((STARTED + 1 + seq) * 1e9))
        kept.arrived_event("keep-1", CHANNEL, "keep-2", CHANNEL, seq)
    gone.arrived_event("gone-1", CHANNEL, "keep-2", CHANNEL, 1)
    for worker, recorder, tag, final in (("w1", kept, "keep", True), ("w2", gone, "gone", False)):
        drained = report(final=final, tag=tag, users=2)
        drained["delivery"] = recorder.drain()
        results.merge(drained, STARTED + 3, worker)
    return results


def summarise(results: RunResults, clock_bound_ms: float = 5.0, **judging: Any) -> Any:
    """A distributed run's judged summary, as the master builds it."""
    measured = build_summary(
        results,
        settings={},
        run_id="r",
        request_counts={},
        resilience=ResilienceLedger().summary(),
        ended_at=STARTED + 20,
        distributed=True,
        clock_bound_ms=clock_bound_ms,
    )
    return judged(measured, {"passed": True, "results": []}, None, 0, **judging)


def test_a_lost_worker_makes_the_run_incomplete_with_its_events_unaccounted() -> None:
    summary = summarise(lost_worker_run())
    overall = summary["delivery"]["overall"]
    assert (overall["published"], overall["delivered"]) == (4, 5)
    assert (overall["lost"], overall["unaccounted"]) == (0, 3)
    workers = summary["workers"]
    assert (workers["count"], workers["final_reports"]) == (2, 1)
    (lost,) = workers["lost"]
    assert lost == {
        "worker": "w2",
        "last_report_at": "2025-11-26T13:00:03.000Z",
        "missing_since": None,
        "users": 2,
        "subscriptions": 1,
    }
    assert set(workers["each"]) == {"w1", "w2"} and workers["each"]["w1"]["final"] is True
    assert summary["verdict"]["exit_code"] == EXIT_INCOMPLETE
    (reason,) = summary["verdict"]["reasons"]
    assert reason.startswith("incomplete: worker w2 was lost") and "3 events are unaccounted" in (
        reason
    )


def test_a_local_run_lists_no_workers() -> None:
    results = RunResults(started_at=STARTED)
    results.merge(ProcessRecorders().drain(final=True), STARTED + 1)
    measured = build_summary(
        results,
        settings={},
        run_id="r",
        request_counts={},
        resilience=ResilienceLedger().summary(),
    )
    assert measured["workers"] is None


# -- the verdict -------------------------------------------------------------------------------

NO_SLO: Any = {"passed": True, "results": []}
FAILED_SLO: Any = {
    "passed": False,
    "results": [{"figure": "deliver.p99", "passed": False, "detail": "deliver.p99 is 9 ms"}],
}
REGRESSED: Any = {"passed": False, "regressions": [], "max_regression": 0.1}


def events(**figures: int) -> Any:
    return {"lost": 0, "duplicated": 0, **figures}


def slos_on(*figures: str) -> Any:
    return {
        "passed": True,
        "results": [{"figure": f, "passed": True, "detail": ""} for f in figures],
    }


@pytest.mark.parametrize(
    ("slo", "baseline", "locust_code"),
    [(NO_SLO, None, 0), (FAILED_SLO, None, 1), (NO_SLO, REGRESSED, 0), (NO_SLO, None, 1)],
)
def test_an_incomplete_run_exits_5_whatever_else_failed(
    slo: Any, baseline: Any, locust_code: int
) -> None:
    outcome = verdict(slo, baseline, None, locust_code, incomplete=["incomplete: w2 lost"])
    assert outcome["exit_code"] == EXIT_INCOMPLETE
    assert outcome["reasons"][0] == "incomplete: w2 lost"


def test_without_an_incomplete_part_the_other_codes_stand() -> None:
    assert verdict(FAILED_SLO, None, None, 1)["exit_code"] == EXIT_SLO
    assert verdict(NO_SLO, REGRESSED, None, 0)["exit_code"] == EXIT_REGRESSION


def test_lost_events_fail_a_run_that_no_slo_judges() -> None:
    reasons = unjudged_loss(events(lost=3), NO_SLO, allow_loss=False)
    assert reasons == [
        "3 events lost (a run that loses events fails unless an SLO on lost or lost.rate, "
        "or --allow-loss, allows it)"
    ]
    outcome = verdict(NO_SLO, None, None, 0, unjudged_loss=reasons)
    assert outcome == {"exit_code": 1, "reasons": reasons}
    # A failed SLO keeps its own code, with the loss among the reasons.
    assert verdict(FAILED_SLO, None, None, 0, unjudged_loss=reasons)["exit_code"] == EXIT_SLO


@pytest.mark.parametrize(
    ("figures", "slo", "allow_loss", "expected"),
    [
        (events(lost=1), slos_on("lost.rate"), False, []),
        (events(lost=1), slos_on("lost"), False, []),
        (events(lost=1), slos_on("deliver.p99"), False, ["lost"]),
        (events(lost=1), NO_SLO, True, []),
        (events(duplicated=2), NO_SLO, True, ["duplicated"]),  # --allow-loss is about loss
        (events(duplicated=2), slos_on("duplicated"), False, []),
        (events(lost=1, duplicated=1), slos_on("lost"), False, ["duplicated"]),
        (events(), NO_SLO, False, []),
    ],
)
def test_what_relaxes_the_loss_rule(
    figures: Any, slo: Any, allow_loss: bool, expected: list[str]
) -> None:
    reasons = unjudged_loss(figures, slo, allow_loss=allow_loss)
    assert [reason.split()[2].rstrip(",") for reason in reasons] == expected, reasons


def test_one_lost_event_is_worded_in_the_singular() -> None:
    (reason,) = unjudged_loss(events(lost=1), NO_SLO, allow_loss=False)
    assert reason.startswith("1 event lost ")


# -- worker clocks -----------------------------------------------------------------------------


def clocked(offset_ms: float | None, uncertainty_ms: float = 0.2) -> WorkerReport:
    drained = report(final=True)
    if offset_ms is not None:
        drained["process"]["clock"] = {  # type: ignore[typeddict-item]
            "offset_ms": offset_ms,
            "uncertainty_ms": uncertainty_ms,
            "samples": 8,
        }
    return drained


@pytest.mark.parametrize(
    ("offset_ms", "uncertainty_ms", "flagged"),
    [
        (0.05, 0.3, False),
        (-4.0, 0.9, False),  # 4.9 ms of error is within 5
        (4.5, 0.6, True),  # 5.1 ms is not
        (-6.0, 0.1, True),
        (None, 0.0, True),  # never measured: unknown
    ],
)
def test_a_worker_clock_off_by_more_than_the_bound_is_flagged(
    offset_ms: float | None, uncertainty_ms: float, flagged: bool
) -> None:
    roster = WorkerRoster()
    roster.reported("w1", STARTED + 3, clocked(offset_ms, uncertainty_ms))
    assert roster.clock_flagged(5.0) == (["w1"] if flagged else [])


def test_a_worker_without_users_is_never_flagged() -> None:
    roster = WorkerRoster()
    roster.reported("idle", STARTED + 3, report(final=True, tag=None, users=0))
    assert roster.clock_flagged(0.001) == []


def distributed_summary(offset_ms: float, *, gate: bool, bound_ms: float = 1.0) -> Any:
    results = RunResults(started_at=STARTED)
    results.merge(clocked(offset_ms), STARTED + 3, "w1")
    return summarise(results, bound_ms, gate_clocks=gate)


def test_max_clock_offset_fails_a_run_whose_worker_clock_is_off() -> None:
    summary = distributed_summary(2.5, gate=True)
    assert summary["workers"]["clock_flagged"] == ["w1"]
    assert summary["workers"]["clock_bound_ms"] == 1.0
    assert summary["verdict"] == {
        "exit_code": EXIT_INCOMPLETE,
        "reasons": [
            "unreliable: the clock of worker w1 may be off by 2.700 ms, more than "
            "--max-clock-offset 1 ms allows; delivery latencies across processes may be off "
            "by as much"
        ],
    }


def test_without_max_clock_offset_a_clock_is_flagged_but_does_not_fail() -> None:
    summary = distributed_summary(2.5, gate=False)
    assert summary["workers"]["clock_flagged"] == ["w1"]
    assert summary["verdict"] == {"exit_code": 0, "reasons": []}
    assert distributed_summary(0.5, gate=True)["verdict"]["exit_code"] == 0  # within 1 ms


def test_a_worker_whose_heartbeats_came_back_is_waited_for_again() -> None:
    roster = WorkerRoster()
    roster.reported("w1", STARTED + 3, report(final=False))
    roster.gone("w1", STARTED + 6)
    assert roster.settled
    roster.seen("w1")  # listed again, not missing
    assert not roster.settled and roster.workers["w1"].missing_since is None
    roster.reported("w1", STARTED + 9, report(final=True, users=0))
    assert roster.settled and roster.lost() == []


def test_mid_run_only_a_missing_worker_is_lost() -> None:
    """While the run goes on no final report is due: a worker is lost only once Locust
    lists it as missing (the live views); at the end, every worker without one is."""
    roster = WorkerRoster()
    roster.reported("w1", STARTED + 3, report(final=False, tag="aaaaaa"))
    roster.reported("w2", STARTED + 3, report(final=False, tag="bbbbbb"))
    assert roster.lost(mid_run=True) == [] and roster.lost_tags(mid_run=True) == frozenset()
    roster.gone("w2", STARTED + 5)
    assert roster.lost(mid_run=True) == ["w2"]
    assert roster.lost_tags(mid_run=True) == frozenset({"bbbbbb"})
    assert roster.lost() == ["w1", "w2"]
    summary = roster.summary(RunResults(STARTED).accounts, mid_run=True)
    assert [lost["worker"] for lost in summary["lost"]] == ["w2"]
