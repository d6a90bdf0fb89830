"""The resilience summary as a compact console section (printed after Locust's tables)."""

from __future__ import annotations

from typing import Any

_COLUMNS = (
    ("kind", 9),
    ("policy", 36),
    ("losses", 7),
    ("attempts", 9),
    ("in bounds", 10),
    ("recovery p50/p99/max s", 23),
    ("give-ups", 9),
    ("herd/100ms (pred.)", 18),
)


def format_summary(summary: dict[str, Any]) -> str:
    """Per policy: losses, attempts, conformance, recovery, give-ups, herd; then cleanup."""
    lines = [
        f"Reconnect and retry policies (an attempt may start up to "
        f"{summary['backoff_tolerance_s']:g} s past its policy's longest delay)",
        " ".join(name.ljust(width) for name, width in _COLUMNS).rstrip(),
    ]
    for policy in summary["policies"]:
        cells = (
            policy["kind"],
            policy["policy"],
            str(policy["losses"]),
            str(policy["attempts"]),
            _share(policy["conformance"]),
            _recovery(policy["recovery_s"]),
            _give_ups(policy["give_ups"]),
            _herd(policy["herd"]),
        )
        lines.append(
            " ".join(
                cell.ljust(width) for cell, (_, width) in zip(cells, _COLUMNS, strict=True)
            ).rstrip()
        )
    if not summary["policies"]:
        lines.append("(no connection was lost and nothing was retried)")
    for policy in summary["policies"]:
        for violation in policy["violations"][:3]:
            lines.append(
                f"  out of bounds: {policy['policy']} attempt {violation['attempt']} of "
                f"{violation['client']} waited {violation['observed_s']:.3f} s "
                f"(allowed {violation['low_s']:.3f}-{violation['high_s']:.3f} s)"
            )
    cleanup = summary["cleanup"]
    kinds = ", ".join(f"{count} {kind}" for kind, count in cleanup["by_kind"].items())
    lines.append(
        f"Cleanup: {cleanup['users_checked']} stopped users checked, {cleanup['leaks']} leaks"
        + (f" ({kinds})" if kinds else "")
    )
    for leak in cleanup["listed"][:5]:
        where = "".join(
            f" {label} {leak[key]}"
            for label, key in (("channel", "channel"), ("id", "id"))
            if leak[key]
        )
        lines.append(f"  {leak['kind']}: user {leak['user']}{where}")
    lines.extend(_server_lines(summary.get("server")))
    if workers := summary.get("workers"):
        lines.append(
            f"Workers: {workers['final_reports']} of {workers['count']} sent their final report"
        )
    return "\n".join(lines)


def _server_lines(server: dict[str, Any] | None) -> list[str]:
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


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _recovery(recovery: dict[str, float] | None) -> str:
    if recovery is None:
        return "-"
    return f"{recovery['p50']:.3f}/{recovery['p99']:.3f}/{recovery['max']:.3f}"


def _give_ups(give_ups: dict[str, int]) -> str:
    return str(sum(give_ups.values()))


def _herd(herd: dict[str, Any] | None) -> str:
    if herd is None:
        return "-"
    return f"{herd['peak_first_attempts']} ({herd['predicted_peak']:g}) of {herd['disconnected']}"
