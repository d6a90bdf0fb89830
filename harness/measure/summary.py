"""The run summary (``summary.json``, schema 1; see docs/summary-schema.md).

Built once at the end of a run, on the master or in a local run:
:func:`build_summary` takes the run's merged histograms, delivery records and metered
usage (:mod:`harness.measure.recorders`), Locust's request counts, the resilience
figures and the price table; :func:`judged` adds the SLO results, the baseline
comparison and the verdict.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from harness.measure.cost import usage_section
from harness.measure.delivery import ChannelAccount
from harness.measure.histogram import Histogram
from harness.measure.latency import MAX_CHANNELS, LatencyTimeline, percentiles_ms
from harness.measure.prices import PriceTable, built_in_prices
from harness.measure.recorders import RunResults
from harness.measure.schema import (
    KIND,
    SCHEMA,
    BaselineSection,
    DeliverySection,
    LatencyFigures,
    LatencySection,
    Measurements,
    ResilienceSummary,
    SloSection,
    Summary,
    WorkersSummary,
)
from harness.measure.texts import iso_utc
from harness.measure.verdict import unjudged_loss, verdict
from harness.measure.workers import (
    DEFAULT_CLOCK_BOUND_MS,
    clock_sentences,
    lost_worker_sentences,
)


@dataclass(frozen=True)
class MidRun:
    """What changes in a summary built while the run goes on (the web UI's live views):
    events intended after ``judge_until_s`` (wall time) are not judged lost or missed yet,
    only workers Locust lists as missing count as lost, and ``pause`` is called between
    steps of the delivery accounting and the latency figures, to let the users run."""

    judge_until_s: float
    pause: Callable[[], object] | None = None


def build_summary(
    results: RunResults,
    *,
    settings: dict[str, Any],
    run_id: str,
    request_counts: dict[str, tuple[int, int]],
    resilience: ResilienceSummary,
    template_of: dict[str, str] | None = None,
    run_time_s: float | None = None,
    ended_at: float | None = None,
    distributed: bool = False,
    clock_bound_ms: float = DEFAULT_CLOCK_BOUND_MS,
    mid_run: MidRun | None = None,
    prices: PriceTable | None = None,
) -> Measurements:
    """Everything measured, without secrets (``settings`` is ``HarnessSettings.describe()``).

    ``request_counts`` is Locust's (requests, failures) per request type;
    ``template_of`` maps channels to their templates (default: as the histograms know them);
    ``run_time_s`` is the ``-t`` limit, if any, to tell an interrupted run;
    ``distributed``: the results came from Locust workers (the summary lists them, and
    flags those whose clock may be off by more than ``clock_bound_ms``);
    ``mid_run``: the run goes on (see :class:`MidRun`);
    ``prices``: the cost estimate's price table (default: the built-in one)."""
    ended = time.time() if ended_at is None else ended_at
    duration = max(0.0, ended - results.started_at)
    delivery = delivery_section(results, ended, template_of or {}, mid_run)
    requests = sum(count for count, _ in request_counts.values())
    failures = sum(failed for _, failed in request_counts.values())
    return {
        "schema": SCHEMA,
        "kind": KIND,
        "run": {
            "run_id": run_id,
            "started_at": iso_utc(results.started_at),
            "ended_at": iso_utc(ended),
            "duration_s": round(duration, 3),
            "interrupted": None if run_time_s is None else duration < run_time_s - 1.0,
            "settings": settings,
        },
        "totals": {
            "requests": {
                request_type: {"count": count, "failures": failed}
                for request_type, (count, failed) in sorted(request_counts.items())
            },
            "errors": {"count": failures, "rate": failures / requests if requests else 0.0},
            "events": delivery["overall"].copy(),
        },
        "latency": latency_section(results.timeline, None if mid_run is None else mid_run.pause),
        "delivery": delivery,
        "resilience": resilience,
        "usage": usage_section(results.usage, duration, prices or built_in_prices()),
        "workers": (
            results.workers.summary(results.accounts, clock_bound_ms, mid_run=mid_run is not None)
            if distributed
            else None
        ),
    }


def latency_section(
    timeline: LatencyTimeline, pause: Callable[[], object] | None = None
) -> dict[str, LatencySection]:
    """Per metric: figures overall, per template and per channel (``pause`` is called
    after each histogram merged or read: mid-run, a step of a millisecond or less)."""

    def figures_of(histogram: Histogram) -> LatencyFigures:
        figures = percentiles_ms(histogram)
        if pause is not None:
            pause()
        return figures

    section: dict[str, LatencySection] = {}
    for metric in timeline.metrics():
        templates = timeline.by_template(metric, pause)
        overall = Histogram()
        for histogram in templates.values():
            overall.add(histogram)
        section[metric] = {
            "overall": figures_of(overall),
            "templates": {name: figures_of(histogram) for name, histogram in templates.items()},
            "channels": {
                channel: figures_of(histogram)
                for channel, histogram in timeline.by_channel(metric).items()
            },
        }
    return section


def delivery_section(
    results: RunResults,
    ended_at: float,
    template_of: dict[str, str],
    mid_run: MidRun | None = None,
) -> DeliverySection:
    accounts, lost_examples = results.accounts.accounts(
        int(ended_at * 1000),
        results.workers.lost_tags(mid_run=mid_run is not None),
        judge_until_ms=None if mid_run is None else int(mid_run.judge_until_s * 1000),
        pause=None if mid_run is None else mid_run.pause,
    )
    templates: dict[str, ChannelAccount] = defaultdict(ChannelAccount)
    overall = ChannelAccount()
    for channel, account in accounts.items():
        template = template_of.get(channel) or results.timeline.templates.get(channel, channel)
        templates[template].add(account)
        overall.add(account)
    # Like the histograms, at most MAX_CHANNELS channels are listed: the worst first.
    listed = sorted(
        accounts.items(),
        key=lambda item: (-item[1].lost, -item[1].missed_during_reconnect, item[0]),
    )[:MAX_CHANNELS]
    return {
        "overall": overall.to_json(),
        "templates": {name: account.to_json() for name, account in sorted(templates.items())},
        "channels": {name: account.to_json() for name, account in sorted(listed)},
        "channels_total": len(accounts),
        "lost_examples": lost_examples,
        "untracked": results.accounts.untracked,
    }


def judged(
    measured: Measurements,
    slo: SloSection,
    baseline: BaselineSection | None,
    locust_exit_code: int,
    *,
    allow_loss: bool = False,
    gate_clocks: bool = False,
) -> Summary:
    """The whole summary: what was measured, the SLO results, the baseline comparison
    and the verdict (``allow_loss``: lost events alone do not fail the run;
    ``gate_clocks``: a flagged worker clock makes the run unreliable, exit 5)."""
    server = measured["resilience"].get("server")
    workers = measured["workers"]
    unaccounted = measured["delivery"]["overall"]["unaccounted"]
    return {
        "schema": measured["schema"],
        "kind": measured["kind"],
        "run": measured["run"],
        "totals": measured["totals"],
        "latency": measured["latency"],
        "delivery": measured["delivery"],
        "resilience": measured["resilience"],
        "usage": measured["usage"],
        "workers": workers,
        "slo": slo,
        "baseline": baseline,
        "verdict": verdict(
            slo,
            baseline,
            server,
            locust_exit_code,
            incomplete=_incomplete(workers, unaccounted, gate_clocks=gate_clocks),
            unjudged_loss=unjudged_loss(measured["totals"]["events"], slo, allow_loss=allow_loss),
        ),
    }


def _incomplete(
    workers: WorkersSummary | None, unaccounted: int, *, gate_clocks: bool
) -> list[str]:
    """Why a distributed run's figures are partial (lost workers) or, when the clocks are
    gated, unreliable (a worker clock off by more than allowed)."""
    if workers is None:
        return []
    sentences = lost_worker_sentences(workers, unaccounted)
    return sentences + clock_sentences(workers) if gate_clocks else sentences
