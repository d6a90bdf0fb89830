"""The diagnosis as text: one block per live step or captured request, then a tally."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from harness.diagnose.capture_file import CaptureFile, Malformed
from harness.diagnose.checks import CapturedRequest, Finding, Verdict
from harness.diagnose.live import StepResult

LABELS = {
    Verdict.OK: "ok",
    Verdict.FAULT: "FAIL",
    Verdict.UNCHECKED: "??",
    Verdict.SKIPPED: "skip",
}
INDENT = "      "


def format_steps(steps: Sequence[StepResult]) -> str:
    lines = []
    for step in steps:
        took = f"{step.elapsed_ms:9.1f} ms" if step.elapsed_ms is not None else ""
        lines.append(f"{LABELS[step.verdict]:<5} {step.step:<28}{took}".rstrip())
        if step.verdict is Verdict.SKIPPED:
            lines.append(f"{INDENT}{step.answer}")
            continue
        lines.append(f"{INDENT}sent: {step.sent}")
        lines.append(f"{INDENT}got:  {step.answer}")
        lines += _findings(step.findings)
    tally = Counter(step.verdict for step in steps)
    lines.append("")
    lines.append(
        f"{len(steps)} steps: {tally[Verdict.OK]} ok, {tally[Verdict.FAULT]} failed, "
        f"{tally[Verdict.SKIPPED]} skipped"
    )
    return "\n".join(lines)


def format_capture(
    found: CaptureFile, checked: Sequence[tuple[CapturedRequest | Malformed, list[Finding]]]
) -> str:
    lines = []
    for item, findings in checked:
        if isinstance(item, Malformed):
            heading = f"{item.where} · {item.operation}"
        else:
            channel = f" {item.request.channel}" if item.request.channel else ""
            heading = f"{item.where} · {item.request.operation.value}{channel} · {item.url}"
        verdict = _worst(findings)
        lines.append(f"{LABELS[verdict]:<5} {heading}")
        lines += _findings(findings)
    lines += [f"note: {note}" for note in found.notes]
    faults = sum(_worst(findings) is Verdict.FAULT for _, findings in checked)
    unchecked = sorted(
        {f.check for _, findings in checked for f in findings if f.verdict is Verdict.UNCHECKED}
    )
    lines.append("")
    summary = (
        f"{len(checked)} AppSync Events request(s) checked, {faults} with faults; "
        f"{found.skipped} other request(s) skipped"
    )
    if unchecked:
        summary += f"; not checked: {', '.join(unchecked)}"
    lines.append(summary)
    return "\n".join(lines)


def _findings(findings: Sequence[Finding]) -> list[str]:
    lines = []
    for finding in findings:
        first, *rest = finding.text.split("\n")
        lines.append(f"{INDENT}{LABELS[finding.verdict]:<5} {finding.check}: {first}")
        lines += [f"{INDENT}      {line}" for line in rest]
    return lines


def _worst(findings: Sequence[Finding]) -> Verdict:
    verdicts = {finding.verdict for finding in findings}
    for verdict in (Verdict.FAULT, Verdict.UNCHECKED):
        if verdict in verdicts:
            return verdict
    return Verdict.OK
