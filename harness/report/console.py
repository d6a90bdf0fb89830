"""The end-of-run console sections, printed after Locust's own tables (which round to
whole milliseconds and know no loss): reconnect and retry policies, cleanup, the
emulator's checks, the workers; usage, quotas and cost (:mod:`harness.report.usage`);
latency and delivery per channel template; the worst channels; SLOs, baseline and
verdict. An incomplete run (a lost worker, unwritten
reports) says so first. Figures come from the run summary. A run with a connect ramp
(``scenarios/connection_storm.py``) adds its connects per second
(:func:`format_connect_rates`)."""

from __future__ import annotations

from typing import NamedTuple

from harness.measure.schema import (
    DELIVERY_FIGURES,
    LatencyFigures,
    ResilienceSummary,
    ServerChecks,
    Summary,
    WorkersSummary,
    figure_of,
    stat_of,
)
from harness.measure.texts import herd_text, recovery_text, regression_sentence, share_text
from harness.report.usage import format_usage

INCOMPLETE_PREFIXES = ("incomplete:", "unreliable:")
"""How the verdict's reasons that mean exit status 5 begin."""
INCOMPLETE_MEANING = "its figures are partial or unreliable"
_LATENCY_COLUMNS = ("count", "p50", "p90", "p99", "p99.9", "max")
WORST_CHANNELS = 10
_CHANNEL_LATENCY = ("p50", "p99", "max")
DELIVERY_LABELS = {
    "published": "published",
    "skipped": "skipped",
    "delivered": "delivered",
    "filtered": "filtered",
    "lost": "lost",
    "missed_during_reconnect": "missed (down)",
    "unaccounted": "unaccounted",
    "duplicated": "duplicated",
    "out_of_order": "out of order",
}
"""Column labels of the delivery figures, in report order (shared with report.html)."""
_POLICY_COLUMNS = (
    ("kind", 9),
    ("policy", 36),
    ("losses", 7),
    ("attempts", 9),
    ("in bounds", 10),
    ("recovery p50/p99/max s", 23),
    ("give-ups", 9),
    ("herd/100ms (pred.)", 18),
)


def format_console(summary: Summary) -> str:
    """Every section, as printed at the end of a run."""
    sections = [
        *incomplete_lines(summary),
        format_resilience(summary["resilience"]),
        *worker_lines(summary["workers"]),
        format_usage(summary["usage"]),
        format_figures(summary),
    ]
    return "\n".join(sections)


def incomplete_lines(summary: Summary) -> list[str]:
    """The reasons a run is incomplete (or its figures unreliable), first and loud; none
    for a complete run."""
    reasons = incomplete_reasons(summary)
    if not reasons:
        return []
    return [f"INCOMPLETE RUN: {INCOMPLETE_MEANING}", *(f"  {r}" for r in reasons)]


def incomplete_reasons(summary: Summary) -> list[str]:
    """The verdict's reasons that make the run incomplete or unreliable (exit 5)."""
    return [r for r in summary["verdict"]["reasons"] if r.startswith(INCOMPLETE_PREFIXES)]


def worker_lines(workers: WorkersSummary | None) -> list[str]:
    """A distributed run's workers: final reports, lost workers, clock offsets."""
    if workers is None:
        return []
    lines = [f"Workers: {workers['final_reports']} of {workers['count']} sent their final report"]
    for lost in workers["lost"]:
        lines.append(
            f"  LOST {lost['worker']}: last report {lost['last_report_at'] or 'never'}, "
            f"missing since {lost['missing_since'] or 'unnoticed'}, {lost['users']} users, "
            f"{lost['subscriptions']} subscriptions"
        )
    flagged = set(workers["clock_flagged"])
    for worker, figures in workers["each"].items():
        clock = figures["clock"]
        mark = f" FLAGGED: more than {workers['clock_bound_ms']:g} ms" if worker in flagged else ""
        if clock is not None:
            lines.append(
                f"  clock of {worker}: {clock['offset_ms']:+.3f} ms from the master's "
                f"(within {clock['uncertainty_ms']:.3f} ms, {clock['samples']} samples){mark}"
            )
        elif mark:
            lines.append(f"  clock of {worker}: not measured{mark}")
    return lines


# -- resilience -------------------------------------------------------------------------


def format_resilience(resilience: ResilienceSummary) -> str:
    """Per policy: losses, attempts, conformance, recovery, give-ups, herd; then cleanup,
    the emulator's checks and the workers' final reports."""
    lines = [
        f"Reconnect and retry policies (an attempt may start up to "
        f"{resilience['backoff_tolerance_s']:g} s past its policy's longest delay)",
        " ".join(name.ljust(width) for name, width in _POLICY_COLUMNS).rstrip(),
    ]
    for policy in resilience["policies"]:
        cells = (
            policy["kind"],
            policy["policy"],
            str(policy["losses"]),
            str(policy["attempts"]),
            share_text(policy["conformance"]),
            recovery_text(policy["recovery_s"]),
            str(sum(policy["give_ups"].values())),
            herd_text(policy["herd"]),
        )
        lines.append(
            " ".join(
                cell.ljust(width) for cell, (_, width) in zip(cells, _POLICY_COLUMNS, strict=True)
            ).rstrip()
        )
    if not resilience["policies"]:
        lines.append("(no connection was lost and nothing was retried)")
    for policy in resilience["policies"]:
        for violation in policy["violations"][:3]:
            lines.append(
                f"  out of bounds: {policy['policy']} attempt {violation['attempt']} of "
                f"{violation['client']} waited {violation['observed_s']:.3f} s "
                f"(allowed {violation['low_s']:.3f}-{violation['high_s']:.3f} s)"
            )
    cleanup = resilience["cleanup"]
    kinds = ", ".join(f"{count} {kind}" for kind, count in cleanup["by_kind"].items())
    lines.append(
        f"Cleanup: {cleanup['users_checked']} stopped users checked, {cleanup['leaks']} leaks"
        + (f" ({kinds})" if kinds else "")
    )
    for leak in cleanup["listed"][:5]:
        where = "".join(
            f" {label} {value}"
            for label, value in (("channel", leak["channel"]), ("id", leak["id"]))
            if value
        )
        lines.append(f"  {leak['kind']}: user {leak['user']}{where}")
    lines.extend(_server_lines(resilience.get("server")))
    return "\n".join(lines)


def _server_lines(server: ServerChecks | None) -> list[str]:
    if server is None:
        return []
    if "error" in server:
        return [f"Emulator checks skipped: {server['error']}"]
    backoff = server["backoff"]
    lines = [
        f"Emulator after the run: {server['open_connections']} open connections, "
        f"{server['live_subscriptions']} live subscriptions",
        f"Emulator-side backoff: {backoff['conforming']} of {backoff['checked']} gaps between "
        "retries no shorter than the policy allows",
    ]
    for violation in backoff["violations"][:3]:
        lines.append(
            f"  too early: {violation['client']} attempt {violation['attempt']} came "
            f"{violation['server_gap_s']:.3f} s after the previous one "
            f"(policy minimum {violation['low_s']:.3f} s)"
        )
    return lines


# -- latency, delivery, verdict -----------------------------------------------------------


def format_figures(summary: Summary) -> str:
    """Latency per metric and template, delivery per template, the worst channels, verdicts."""
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
                cells = "".join(_cell(_stat(figures, column)) for column in _LATENCY_COLUMNS)
                lines.append(f"{metric:<13}{template:<{name_width + 2}}{cells}")
    delivery = summary["delivery"]
    if delivery["templates"]:
        width = max(len("template"), *(len(t) for t in delivery["templates"]))
        lines.append("Delivery per channel template (events; each subscription counts once)")
        lines.append(
            f"{'template':<{width + 2}}"
            + "".join(f"{label:>20}" for label in DELIVERY_LABELS.values())
        )
        for template, account in delivery["templates"].items():
            cells = "".join(f"{figure_of(account, key):>20}" for key in DELIVERY_FIGURES)
            lines.append(f"{template:<{width + 2}}{cells}")
    lines.extend(_worst_channel_lines(summary))
    lines.extend(_verdict_lines(summary))
    return "\n".join(lines)


def _worst_channel_lines(summary: Summary) -> list[str]:
    """The channels that did worst: most lost events, then the highest deliver p99."""
    deliver = summary["latency"]["deliver"]["channels"] if "deliver" in summary["latency"] else {}
    accounts = summary["delivery"]["channels"]
    channels = set(deliver) | set(accounts)
    if not channels:
        return []

    def badness(channel: str) -> tuple[float, float, str]:
        lost = accounts[channel]["lost"] if channel in accounts else 0
        return (-lost, -(_stat(deliver.get(channel), "p99") or 0.0), channel)

    worst = sorted(channels, key=badness)[:WORST_CHANNELS]
    width = max(len("channel"), *(len(channel) for channel in worst))
    lines = [
        f"Channels, worst {len(worst)} of {len(channels)} (most lost events, then deliver p99)",
        f"{'channel':<{width + 2}}"
        + "".join(f"{'deliver ' + column:>13}" for column in _CHANNEL_LATENCY)
        + "".join(f"{label:>15}" for label in DELIVERY_LABELS.values()),
    ]
    for channel in worst:
        figures = deliver.get(channel)
        account = accounts.get(channel)
        counts = [figure_of(account, key) if account else "-" for key in DELIVERY_FIGURES]
        lines.append(
            f"{channel:<{width + 2}}"
            + "".join(f"{_cell(_stat(figures, column)):>13}" for column in _CHANNEL_LATENCY)
            + "".join(f"{count:>15}" for count in counts)
        )
    return lines


def _stat(figures: LatencyFigures | None, stat: str) -> float | None:
    return None if figures is None else stat_of(figures, stat)


def _cell(value: float | None) -> str:
    if value is None:
        return f"{'-':>11}"
    if isinstance(value, int):
        return f"{value:>11}"
    return f"{value:>11.3f}"


def _verdict_lines(summary: Summary) -> list[str]:
    lines: list[str] = []
    results = summary["slo"]["results"]
    if results:
        failed = [result for result in results if not result["passed"]]
        lines.append(f"SLOs: {len(results) - len(failed)} passed, {len(failed)} failed")
        lines.extend(f"  FAILED {result['slo']}: {result['detail']}" for result in failed)
    baseline = summary["baseline"]
    if baseline is not None:
        regressions = baseline["regressions"]
        lines.append(
            f"Baseline {baseline['path']}: {baseline['compared']} figures compared, "
            f"{len(regressions)} regressed by more than {baseline['max_regression']:.0%}"
        )
        lines.extend(
            f"  REGRESSED {regression_sentence(regression, baseline['max_regression'])}"
            for regression in regressions
        )
    verdict = summary["verdict"]
    lines.append(f"Verdict: exit code {verdict['exit_code']}")
    lines.extend(f"  {reason}" for reason in verdict["reasons"])
    return lines


class ConnectSecond(NamedTuple):
    """One second of a connect ramp: the rate asked for, connects and failed connects."""

    second: int
    target: float
    connects: int
    failed: int


def format_connect_rates(rows: list[ConnectSecond], target: float, ramp_s: int) -> str:
    """The connects of each second against the ramp's target, and the peak."""
    lines = [
        f"Connect rate: ramped to {target:g}/s in {ramp_s} s",
        f"{'second':>6}  {'target/s':>8}  {'connects':>8}  {'failed':>6}",
    ]
    lines += [
        f"{row.second:>6}  {row.target:>8g}  {row.connects:>8}  {row.failed:>6}" for row in rows
    ]
    peak = max(rows, key=lambda row: row.connects)
    total, failed = sum(row.connects for row in rows), sum(row.failed for row in rows)
    lines.append(
        f"peak: {peak.connects} connects in second {peak.second} (target {target:g}/s); "
        f"{failed} of {total} connects failed"
    )
    return "\n".join(lines)
