"""``report.html``: one self-contained page about a run, readable offline.

The page is the Jinja2 template ``templates/report.html.j2`` (autoescaped, so
every text from the run is escaped) with inline CSS (``templates/report.css``)
and charts drawn as inline SVG by :mod:`harness.report.charts` (hover a point
for its figure). No external resource, no script: a Content-Security-Policy
forbids the page any fetch, so what is seen is what the file holds.

Sections: the run (times, settings, verdict), totals, usage and cost, SLOs,
baseline regressions, per latency metric a percentile chart (x: percentile on a
"nines" scale up to 99.99 %, one line per channel template, from the run's
cumulative histograms) and an over-time chart (p50 and p99 per time slot and
template) with the templates' figures, delivery accounting, a per-channel
table, and the resilience figures (reconnect and retry policies, cleanup).

This module turns the summary into the page's rows; the template lays them out.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import jinja2
from markupsafe import Markup

from harness.measure.latency import LatencyTimeline
from harness.measure.schema import (
    DELIVERY_FIGURES,
    DeliveryFigures,
    LatencyFigures,
    Summary,
    figure_of,
    metric_order,
    stat_of,
)
from harness.measure.texts import herd_text, recovery_text, relative_text, share_text
from harness.report.channels import channel_views
from harness.report.charts import ms_text, over_time_figure, percentile_figure
from harness.report.console import DELIVERY_LABELS, INCOMPLETE_MEANING, incomplete_reasons
from harness.report.usage import USAGE_COLUMNS, usage_view, usd_text

CHANNEL_TABLE_OPEN = 200
"""Channels up to which the per-channel table starts unfolded."""
LATENCY_KEYS = ("count", "min", "mean", "p50", "p90", "p99", "p99.9", "max")
CHANNEL_LATENCY_KEYS = ("count", "p50", "p90", "p99", "p99.9", "max")
BAD_WHEN_POSITIVE = {
    "skipped",
    "lost",
    "missed_during_reconnect",
    "unaccounted",
    "duplicated",
    "out_of_order",
}
DELIVERY_HEADERS = tuple(DELIVERY_LABELS.values())

_TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("harness.report", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


def figure_text(value: Any) -> Any:
    """A cell or fact as text: thousands separators, at most three decimals; Markup as is."""
    if isinstance(value, Markup):
        return value
    if value is None or value == "":
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        text = f"{value:,.3f}".rstrip("0").rstrip(".")
        return "0" if text in ("-0", "") else text
    return str(value)


_TEMPLATES.filters["figure"] = figure_text


@dataclass
class Table:
    """A table's headers and rows; numbers are right-aligned (and every column from
    ``numeric_from`` on)."""

    headers: Sequence[str]
    rows: list[list[Any]] = field(default_factory=list)
    numeric_from: int = -1

    def numeric(self, column: int) -> bool:
        return 0 <= self.numeric_from <= column


def render_report(summary: Summary, timeline: LatencyTimeline) -> str:
    """The whole page for one run (``summary`` as in docs/summary-schema.md)."""
    return _TEMPLATES.get_template("report.html.j2").render(page=_page(summary, timeline))


def _page(summary: Summary, timeline: LatencyTimeline) -> dict[str, Any]:
    """Everything the template shows, section by section."""
    return {
        **_run(summary),
        **_totals(summary),
        **_usage(summary),
        **_judgement(summary),
        "metrics": _metrics(summary, timeline),
        **_delivery(summary),
        **_channels(summary, timeline),
        **_resilience(summary),
    }


def _run(summary: Summary) -> dict[str, Any]:
    run = summary["run"]
    verdict = summary["verdict"]
    return {
        "title": f"AppSync Events run {run['run_id']}".strip(),
        "run_facts": [
            ("run id", run["run_id"]),
            ("started", run["started_at"]),
            ("ended", run["ended_at"]),
            ("duration", f"{run['duration_s']:g} s"),
            (
                "interrupted",
                "yes (Ctrl-C or SIGTERM)" if run["interrupted"] else run["interrupted"],
            ),
            ("schema", summary["schema"]),
        ],
        "verdict": verdict,
        "passed": verdict["exit_code"] == 0,
        "incomplete": incomplete_reasons(summary),
        "incomplete_meaning": INCOMPLETE_MEANING,
        "settings": [(name, _setting(value)) for name, value in run["settings"].items()],
    }


def _totals(summary: Summary) -> dict[str, Any]:
    return {
        "requests": Table(
            ["request type", "requests", "failures"],
            [
                [name, counts["count"], _bad_if_positive(counts["failures"])]
                for name, counts in summary["totals"]["requests"].items()
            ],
        ),
        "errors": summary["totals"]["errors"],
        "events": Table(DELIVERY_HEADERS, [_delivery_cells(summary["totals"]["events"])]),
    }


def _usage(summary: Summary) -> dict[str, Any]:
    view = usage_view(summary["usage"])
    rows = []
    for row in view["rows"]:
        headroom = row["headroom"]
        rows.append(
            [
                row["item"],
                row["count"],
                row["peak"],
                row["peak_of"],
                row["limit"],
                None if headroom is None else _bad_if(headroom < 0, f"{headroom:.2f}%"),
                None if row["usd"] is None else usd_text(row["usd"]),
            ]
        )
    return {
        "usage": Table([title for _, title in USAGE_COLUMNS], rows, numeric_from=1),
        "usage_view": view,
    }


def _judgement(summary: Summary) -> dict[str, Any]:
    slo_results = summary["slo"]["results"]
    baseline = summary["baseline"]
    return {
        "slos": Table(
            ["status", "SLO", "where", "observed", "threshold", "unit", "detail"],
            [
                [
                    _status(result["passed"]),
                    _code(result["slo"]),
                    result["where"],
                    _number(result["observed"]),
                    _number(result["threshold"]),
                    result["unit"],
                    result["detail"],
                ]
                for result in slo_results
            ],
        ),
        "slos_met": sum(1 for result in slo_results if result["passed"]),
        "baseline": baseline,
        "baseline_status": _status(baseline is not None and baseline["passed"]),
        "allowed": relative_text(baseline["max_regression"]) if baseline else "",
        "regressions": Table(
            ["figure", "where", "baseline", "observed", "change", "unit"],
            [
                [
                    _code(regression["figure"]),
                    regression["where"],
                    _number(regression["baseline"]),
                    _number(regression["observed"]),
                    _percent_change(regression["change"]),
                    regression["unit"],
                ]
                for regression in (baseline["regressions"] if baseline else [])
            ],
        ),
    }


def _delivery(summary: Summary) -> dict[str, Any]:
    return {
        "delivery": Table(
            ["template", *DELIVERY_HEADERS],
            [
                [
                    Markup("<strong>overall</strong>"),
                    *_delivery_cells(summary["delivery"]["overall"]),
                ],
                *(
                    [name, *_delivery_cells(figures)]
                    for name, figures in summary["delivery"]["templates"].items()
                ),
            ],
            numeric_from=1,
        ),
        "untracked": summary["delivery"]["untracked"],
        "lost_examples": Table(
            ["channel", "publisher", "seq", "subscriber", "intended (ms since epoch)"],
            [
                [e["channel"], e["publisher"], e["seq"], e["subscriber"], e["intended_ms"]]
                for e in summary["delivery"]["lost_examples"]
            ],
        ),
    }


def _resilience(summary: Summary) -> dict[str, Any]:
    resilience = summary["resilience"]
    cleanup = resilience["cleanup"]
    return {
        "resilience": resilience,
        "policies": Table(
            [
                "kind",
                "policy",
                "losses",
                "attempts",
                "in bounds",
                "recovery p50/p99/max s",
                "give-ups",
                "herd per 100 ms (predicted) of disconnected",
            ],
            [
                [
                    policy["kind"],
                    _code(policy["policy"]),
                    policy["losses"],
                    policy["attempts"],
                    share_text(policy["conformance"]),
                    recovery_text(policy["recovery_s"]),
                    _bad_if_positive(sum(policy["give_ups"].values())),
                    herd_text(policy["herd"]),
                ]
                for policy in resilience["policies"]
            ],
        ),
        "violations": Table(
            ["policy", "client", "attempt", "waited s", "allowed s"],
            [
                [
                    policy["policy"],
                    violation["client"],
                    violation["attempt"],
                    violation["observed_s"],
                    f"{figure_text(violation['low_s'])} - {figure_text(violation['high_s'])}",
                ]
                for policy in resilience["policies"]
                for violation in policy["violations"][:5]
            ],
        ),
        "cleanup_status": _status(not cleanup["leaks"]),
        "leak_kinds": ", ".join(f"{count} {kind}" for kind, count in cleanup["by_kind"].items()),
        "leaks": Table(
            ["kind", "user", "channel", "id"],
            [
                [leak["kind"], leak["user"], leak["channel"], leak["id"]]
                for leak in cleanup["listed"]
            ],
        ),
        "server": resilience.get("server"),
        "server_violations": Table(
            ["client", "attempt", "policy", "gap s", "policy minimum s"],
            [
                [v["client"], v["attempt"], v["policy"], v["server_gap_s"], v["low_s"]]
                for v in resilience.get("server", {}).get("backoff", {"violations": []})[
                    "violations"
                ]
            ],
        ),
        **_workers(summary),
    }


def _workers(summary: Summary) -> dict[str, Any]:
    """A distributed run's workers: one row each, lost ones first."""
    workers = summary["workers"]
    if workers is None:
        return {"workers": None, "worker_table": None}
    lost = {entry["worker"]: entry for entry in workers["lost"]}
    rows = []
    for worker, figures in sorted(workers["each"].items(), key=lambda item: item[0] not in lost):
        clock = figures["clock"]
        entry = lost.get(worker)
        rows.append(
            [
                worker,
                "LOST" if entry else "complete",
                figures["reports"],
                figures["users"],
                entry["subscriptions"] if entry else "",
                entry["last_report_at"] if entry else "",
                entry["missing_since"] if entry else "",
                "" if clock is None else f"{clock['offset_ms']:+.3f}",
                "" if clock is None else f"{clock['uncertainty_ms']:.3f}",
                "FLAGGED" if worker in workers["clock_flagged"] else "",
            ]
        )
    table = Table(
        ["worker", "state", "reports", "users", "subscriptions", "last report", "missing since",
         "clock offset ms", "± ms", f"clock over {workers['clock_bound_ms']:g} ms"],
        rows,
    )  # fmt: skip
    return {"workers": workers, "worker_table": table}


@dataclass
class MetricView:
    name: str
    charts: Markup
    figures: Table


def _metrics(summary: Summary, timeline: LatencyTimeline) -> list[MetricView]:
    latency = summary["latency"]
    charted = timeline.metrics()
    views = []
    for metric in sorted(set(charted) | set(latency), key=metric_order):
        charts = Markup("")
        if metric in charted:
            charts = Markup(
                percentile_figure(metric, timeline.by_template(metric))
                + over_time_figure(metric, timeline.intervals(metric), summary["run"]["duration_s"])
            )
        table = Table(["template", *(_ms_header(key) for key in LATENCY_KEYS)], numeric_from=1)
        if metric in latency:
            section = latency[metric]
            table.rows.append(
                [
                    Markup("<strong>overall</strong>"),
                    *_latency_cells(section["overall"], LATENCY_KEYS),
                ]
            )
            table.rows += [
                [template, *_latency_cells(figures, LATENCY_KEYS)]
                for template, figures in section["templates"].items()
            ]
        views.append(MetricView(metric, charts, table))
    return views


def _channels(summary: Summary, timeline: LatencyTimeline) -> dict[str, Any]:
    channels = []
    for view in channel_views(summary, timeline):
        account = view.delivery
        rows: list[list[Any]] = [
            [metric, *_latency_cells(figures, CHANNEL_LATENCY_KEYS)]
            for metric, figures in view.latency
        ] or [["-", *("" for _ in CHANNEL_LATENCY_KEYS)]]
        channels.append(
            {
                "name": view.channel,
                "template": view.template,
                "span": Markup(' rowspan="{}"').format(len(rows)) if len(rows) > 1 else "",
                "rows": rows,
                "delivery": _delivery_cells(account) if account else ["" for _ in DELIVERY_FIGURES],
            }
        )
    return {
        "channels": channels,
        "channels_open": len(channels) <= CHANNEL_TABLE_OPEN,
        "channel_headers": [
            "channel",
            "template",
            "metric",
            *(_ms_header(key) for key in CHANNEL_LATENCY_KEYS),
            *DELIVERY_HEADERS,
        ],
    }


# -- cells ------------------------------------------------------------------------------


def _latency_cells(figures: LatencyFigures, keys: Sequence[str]) -> list[Any]:
    return [
        figure_text(figures["count"]) if key == "count" else ms_text(stat_of(figures, key))
        for key in keys
    ]


def _delivery_cells(figures: DeliveryFigures) -> list[Any]:
    cells: list[Any] = []
    for key in DELIVERY_FIGURES:
        value = figure_of(figures, key)
        cells.append(_bad_if_positive(value) if key in BAD_WHEN_POSITIVE else value)
    return cells


def _ms_header(key: str) -> str:
    return key if key == "count" else f"{key} ms"


def _setting(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return ", ".join(str(item) for item in value)
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    return value


def _number(value: float | None) -> str:
    return "-" if value is None else str(figure_text(value))


def _percent_change(value: float | None) -> str:
    return "-" if value is None else f"{value:+.1%}"


def _code(text: str) -> Markup:
    return Markup("<code>{}</code>").format(text)


def _status(passed: bool) -> Markup:
    return Markup('<span class="pass">pass</span>' if passed else '<span class="fail">FAIL</span>')


_bad: Callable[[str], Markup] = Markup('<span class="fail">{}</span>').format


def _bad_if_positive(value: int) -> Any:
    return _bad(figure_text(value)) if value > 0 else value


def _bad_if(bad: bool, text: str) -> Any:
    return _bad(text) if bad else text
