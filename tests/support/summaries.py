"""Summaries for tests that judge, print or render them: an empty run's, built by the
harness's own code, for tests to fill in the parts they are about."""

from __future__ import annotations

import copy
from typing import Any

from harness.measure.recorders import RunResults
from harness.measure.resilience import ResilienceLedger
from harness.measure.schema import DELIVERY_FIGURES, Summary
from harness.measure.summary import build_summary, judged

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
