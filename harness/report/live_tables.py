"""The live views' tables: rows of plain values built from a summary (final or so far).

The web UI's tabs (Locust's ``extended_tables``), the harness page and its JSON
endpoints show the same rows, so each is built here once:

- :func:`channel_rows`: per template, then per channel (worst first: most lost,
  then most missed, then the slowest delivery p99), latency figures in
  milliseconds and the delivery account;
- :func:`policy_rows`: per (kind, policy), the resilience figures;
- :func:`slo_rows`: each SLO at each place, with its value and status, and the
  verdict the run has (or would have if it ended now).
"""

from __future__ import annotations

from typing import Any

from harness.measure.latency import LatencyTimeline
from harness.measure.schema import (
    DELIVERY_FIGURES,
    DeliveryFigures,
    LatencyFigures,
    Summary,
    figure_of,
)
from harness.report.channels import channel_views

LATENCY_METRICS = ("deliver", "publish", "subscribe", "connect")
LATENCY_STATS = ("p50", "p90", "p99", "max")
CHANNEL_METRICS = ("deliver", "publish", "subscribe")
"""The metrics measured per channel (connects are per endpoint: a template row)."""
Row = dict[str, Any]
Columns = list[tuple[str, str]]
"""``(key, title)`` per column, in order."""

CHANNEL_COLUMNS: Columns = [
    ("scope", "Scope"),
    ("name", "Channel or template"),
    ("events_per_s", "Deliveries/s"),
    *[(figure, figure.replace("_", " ")) for figure in DELIVERY_FIGURES],
    *[
        (f"{metric}_{stat}", f"{metric} {stat} (ms)")
        for metric in LATENCY_METRICS
        for stat in LATENCY_STATS
    ],
]
POLICY_COLUMNS: Columns = [
    ("kind", "Kind"),
    ("policy", "Policy"),
    ("losses", "Losses"),
    ("attempts", "Retries"),
    ("conformance", "In bounds (%)"),
    ("recoveries", "Recoveries"),
    ("recovery_p50_s", "Recovery p50 (s)"),
    ("recovery_p99_s", "Recovery p99 (s)"),
    ("recovery_max_s", "Recovery max (s)"),
    ("give_ups", "Give-ups"),
    ("herd_peak", "Herd peak"),
    ("herd_predicted", "Herd predicted"),
    ("herd_ratio", "Herd / predicted"),
]
SLO_COLUMNS: Columns = [
    ("status", "Status"),
    ("slo", "SLO"),
    ("where", "Where"),
    ("observed", "Value"),
    ("threshold", "Threshold"),
    ("unit", "Unit"),
    ("detail", "Detail"),
]


def channel_rows(summary: Summary, timeline: LatencyTimeline) -> list[Row]:
    """Templates (by name), then channels (worst first)."""
    duration_s = summary["run"]["duration_s"]
    templates: dict[str, dict[str, LatencyFigures]] = {}
    for metric in LATENCY_METRICS:
        section = summary["latency"].get(metric)
        for name, figures in (section["templates"] if section else {}).items():
            templates.setdefault(name, {})[metric] = figures
    accounts = summary["delivery"]["templates"]
    rows = [
        _row("template", name, templates.get(name, {}), accounts.get(name), duration_s)
        for name in sorted(set(templates) | set(accounts))
    ]
    channels = []
    for view in channel_views(summary, timeline):
        latency = {metric: figures for metric, figures in view.latency if metric in CHANNEL_METRICS}
        if latency or view.delivery:  # not a policy's reconnects, nor the connect endpoint
            channels.append(
                _row("channel", view.channel, latency, view.delivery, duration_s, view.template)
            )
    channels.sort(key=_worst_first)
    return rows + channels


def _row(
    scope: str,
    name: str,
    latency: dict[str, LatencyFigures],
    account: DeliveryFigures | None,
    duration_s: float,
    template: str = "",
) -> Row:
    row: Row = {"scope": scope, "name": name, "template": template or name}
    delivered = account["delivered"] if account else 0
    row["events_per_s"] = round(delivered / duration_s, 1) if duration_s > 0 else None
    for figure in DELIVERY_FIGURES:
        row[figure] = figure_of(account, figure) if account else None
    for metric in LATENCY_METRICS:
        figures = latency.get(metric)
        for stat in LATENCY_STATS:
            row[f"{metric}_{stat}"] = figures.get(stat) if figures else None
    return row


def _worst_first(row: Row) -> tuple[int, int, float, str]:
    return (
        -(row["lost"] or 0),
        -(row["missed_during_reconnect"] or 0),
        -(row["deliver_p99"] or 0.0),
        row["name"],
    )


def policy_rows(summary: Summary) -> list[Row]:
    """One row per (kind, policy), in the summary's order."""
    rows: list[Row] = []
    for policy in summary["resilience"]["policies"]:
        recovery = policy["recovery_s"]
        herd = policy["herd"]
        conformance = policy["conformance"]
        rows.append(
            {
                "kind": policy["kind"],
                "policy": policy["policy"],
                "losses": policy["losses"],
                "attempts": policy["attempts"],
                "conformance": None if conformance is None else round(conformance * 100, 2),
                "recoveries": policy["recoveries"],
                "recovery_p50_s": recovery["p50"] if recovery else None,
                "recovery_p99_s": recovery["p99"] if recovery else None,
                "recovery_max_s": recovery["max"] if recovery else None,
                "give_ups": ", ".join(
                    f"{reason}: {count}" for reason, count in sorted(policy["give_ups"].items())
                ),
                "herd_peak": herd["peak_first_attempts"] if herd else None,
                "herd_predicted": herd["predicted_peak"] if herd else None,
                "herd_ratio": herd["ratio_to_predicted"] if herd else None,
            }
        )
    return rows


def slo_rows(summary: Summary) -> list[Row]:
    """Each SLO at each place, failed ones first."""
    rows = [
        {
            "status": "pass" if result["passed"] else "FAIL",
            "slo": result["slo"],
            "where": result["where"],
            "observed": result["observed"],
            "threshold": result["threshold"],
            "unit": result["unit"],
            "detail": result["detail"],
        }
        for result in summary["slo"]["results"]
    ]
    rows.sort(key=lambda row: row["status"] == "pass")
    return rows


def verdict_row(summary: Summary) -> Row:
    """The verdict as one row of the SLO table."""
    verdict = summary["verdict"]
    code = verdict["exit_code"]
    return {
        "status": "pass" if code == 0 else "FAIL",
        "slo": f"exit status {code}",
        "where": "verdict",
        "observed": None,
        "threshold": None,
        "unit": "",
        "detail": "; ".join(verdict["reasons"]) or "no failure",
    }


def locust_structure(columns: Columns) -> list[dict[str, str]]:
    """Columns as Locust's ``extended_tables`` structure (``key`` and ``title``)."""
    return [{"key": key, "title": title} for key, title in columns]
