"""The end-of-run console section: per-template latency and delivery, the worst
channels, SLOs, baseline.

Printed after Locust's own tables (which round to whole milliseconds and know
no loss); figures come from the run summary.
"""

from __future__ import annotations

from typing import Any

_LATENCY_COLUMNS = ("count", "p50", "p90", "p99", "p99.9", "max")
WORST_CHANNELS = 10
_CHANNEL_LATENCY = ("p50", "p99", "max")
_DELIVERY_COLUMNS = (
    ("published", "published"),
    ("delivered", "delivered"),
    ("lost", "lost"),
    ("missed_during_reconnect", "missed (down)"),
    ("duplicated", "duplicated"),
    ("out_of_order", "out of order"),
)


def format_console(summary: dict[str, Any]) -> str:
    """The section as text: latency per metric and template, delivery per template, verdicts."""
    lines: list[str] = []
    latency = summary["latency"]
    name_width = max([len("template"), *(len(t) for m in latency.values() for t in m["templates"])])
    if latency:
        lines.append("Latency per channel template (ms, harness histograms: 1 us resolution)")
        lines.append(
            f"{'metric':<13}{'template':<{name_width + 2}}"
            + "".join(f"{column:>11}" for column in _LATENCY_COLUMNS)
        )
        for metric, entry in latency.items():
            for template, figures in entry["templates"].items():
                cells = "".join(_cell(figures.get(column)) for column in _LATENCY_COLUMNS)
                lines.append(f"{metric:<13}{template:<{name_width + 2}}{cells}")
    delivery = summary["delivery"]
    if delivery["templates"]:
        width = max(len("template"), *(len(t) for t in delivery["templates"]))
        lines.append("Delivery per channel template (events; each subscription counts once)")
        lines.append(
            f"{'template':<{width + 2}}" + "".join(f"{label:>20}" for _, label in _DELIVERY_COLUMNS)
        )
        for template, figures in delivery["templates"].items():
            cells = "".join(f"{figures[key]:>20}" for key, _ in _DELIVERY_COLUMNS)
            lines.append(f"{template:<{width + 2}}{cells}")
    lines.extend(_worst_channel_lines(summary))
    lines.extend(_verdict_lines(summary))
    return "\n".join(lines)


def _worst_channel_lines(summary: dict[str, Any]) -> list[str]:
    """The channels that did worst: most lost events, then the highest deliver p99."""
    deliver = summary["latency"].get("deliver", {}).get("channels", {})
    accounts = summary["delivery"]["channels"]
    channels = set(deliver) | set(accounts)
    if not channels:
        return []

    def badness(channel: str) -> tuple[float, float, str]:
        lost = accounts.get(channel, {}).get("lost", 0)
        return (-lost, -(deliver.get(channel, {}).get("p99") or 0.0), channel)

    worst = sorted(channels, key=badness)[:WORST_CHANNELS]
    width = max(len("channel"), *(len(channel) for channel in worst))
    lines = [
        f"Channels, worst {len(worst)} of {len(channels)} (most lost events, then deliver p99)",
        f"{'channel':<{width + 2}}"
        + "".join(f"{'deliver ' + column:>13}" for column in _CHANNEL_LATENCY)
        + "".join(f"{label:>15}" for _, label in _DELIVERY_COLUMNS),
    ]
    for channel in worst:
        figures = deliver.get(channel, {})
        account = accounts.get(channel, {})
        lines.append(
            f"{channel:<{width + 2}}"
            + "".join(f"{_cell(figures.get(column)):>13}" for column in _CHANNEL_LATENCY)
            + "".join(f"{account.get(key, '-'):>15}" for key, _ in _DELIVERY_COLUMNS)
        )
    return lines


def _cell(value: Any) -> str:
    if value is None:
        return f"{'-':>11}"
    if isinstance(value, int):
        return f"{value:>11}"
    return f"{value:>11.3f}"


def _verdict_lines(summary: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    slo = summary.get("slo")
    if slo and slo["results"]:
        failed = [result for result in slo["results"] if not result["passed"]]
        lines.append(f"SLOs: {len(slo['results']) - len(failed)} passed, {len(failed)} failed")
        lines.extend(f"  FAILED {result['slo']}: {result['detail']}" for result in failed)
    baseline = summary.get("baseline")
    if baseline:
        regressions = baseline["regressions"]
        lines.append(
            f"Baseline {baseline['path']}: {baseline['compared']} figures compared, "
            f"{len(regressions)} regressed by more than {baseline['max_regression']:.0%}"
        )
        for regression in regressions:
            change = regression["change"]  # null when the baseline was 0
            how_much = "from zero" if change is None else f"+{change:.0%}"
            lines.append(
                f"  REGRESSED {regression['figure']} on {regression['where']}: "
                f"{regression['baseline']:g} -> {regression['observed']:g} {regression['unit']} "
                f"({how_much})"
            )
    verdict = summary.get("verdict")
    if verdict:
        lines.append(f"Verdict: exit code {verdict['exit_code']}")
    return lines
