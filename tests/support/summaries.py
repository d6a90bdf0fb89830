"""Summaries for tests that judge, print or render them: an empty run's, built by the
harness's own code, for tests to fill in the parts they are about."""

from __future__ import annotations

import copy
from typing import Any

from harness.measure.cost import usage_section
from harness.measure.prices import built_in_prices
from harness.measure.recorders import RunResults
from harness.measure.resilience import ResilienceLedger
from harness.measure.schema import DELIVERY_FIGURES, Summary, UsageSection
from harness.measure.summary import build_summary, judged
from harness.measure.usage import UsageAccount, UsageRecorder

STARTED = 1_764_162_000.0

_EMPTY = judged(
    build_summary(
        RunResults(started_at=STARTED),
        settings={"host": "(embedded emulator)"},
        run_id="test-run",
        request_counts={},
        resilience=ResilienceLedger().summary(),
        ended_at=STARTED + 10.0,
    ),
    {"passed": True, "results": []},
    None,
    0,
)


def empty_summary(**parts: Any) -> Summary:
    """A run that measured nothing (a fresh copy), with ``parts`` replacing its sections."""
    summary = copy.deepcopy(_EMPTY)
    summary.update(parts)
    return summary


def account(**figures: int) -> Any:
    """A delivery account: the figures given, 0 for the rest."""
    counts = {name: figures.get(name, 0) for name in DELIVERY_FIGURES}
    return counts


def usage_of(
    *,
    connects: int = 0,
    publishes: int = 0,
    event_bytes: int = 200,
    fan_out: int = 0,
    open_s: float = 0.0,
    duration_s: float = 10.0,
) -> UsageSection:
    """The usage section of ``connects`` connections held ``open_s`` each, and
    ``publishes`` one-event publishes of ``event_bytes``, each delivered ``fan_out``
    times, all in the second :data:`STARTED`, counted by the harness's own recorder."""
    recorder = UsageRecorder()
    for _ in range(connects):
        recorder.connect_requested(STARTED)
        recorder.connection_opened(0.0)
    event = "x" * event_bytes
    for _ in range(publishes):
        recorder.published([event], STARTED)
        for _ in range(fan_out):
            recorder.delivered(event, int(STARTED * 1e9))
    for _ in range(connects):
        recorder.connection_closed(open_s)
    account = UsageAccount()
    account.merge(recorder.drain(open_s))
    return usage_section(account, duration_s, built_in_prices())
