"""A run's verdict: its exit code and the reasons for it.

Exit codes of a run:

- ``0``: every SLO held, nothing regressed and Locust saw no failure;
- ``1``: Locust's own meaning, kept: some requests failed (``--exit-code-on-error``);
  any other code Locust chose is passed through as well; also a run otherwise clean
  that lost or duplicated events (unless an SLO on ``lost``/``lost.rate``, or on
  ``duplicated``, judges them instead, or ``--allow-loss`` allows loss), or whose
  embedded emulator still held connections or subscriptions afterwards, or saw
  retries earlier than their policy allows;
- ``2`` (:data:`EXIT_BAD_SETTINGS`): the settings are invalid, or a file read at the
  end (``--baseline``, ``--slo-file``) could no longer be read;
- ``3`` (:data:`EXIT_SLO`): at least one SLO failed (takes precedence over the rest);
- ``4`` (:data:`EXIT_REGRESSION`): no SLO failed but a figure regressed from the
  baseline (takes precedence over Locust's code);
- ``5`` (:data:`EXIT_INCOMPLETE`): the run's record is incomplete: a worker was lost
  (its final report never reached the master), or the reports could not be written;
  or unreliable: a worker's clock was off by more than ``--max-clock-offset``.
  Takes precedence over every other code: the figures judged are partial.
"""

from __future__ import annotations

from collections.abc import Sequence

from harness.measure.schema import (
    BaselineSection,
    DeliveryFigures,
    ServerChecks,
    SloSection,
    Verdict,
)
from harness.measure.texts import count_text, regression_sentence

EXIT_BAD_SETTINGS = 2
"""The exit code when the settings are invalid (argparse uses 2 for bad options too)."""
EXIT_SLO = 3
"""The exit code of a run that broke at least one SLO."""
EXIT_REGRESSION = 4
"""The exit code of a run that kept its SLOs but regressed from its baseline."""
EXIT_INCOMPLETE = 5
"""The exit code of a run whose record is incomplete (a lost worker, unwritten reports)."""
LOST_FIGURES = ("lost", "lost.rate")
DUPLICATED_FIGURES = ("duplicated",)


def verdict(
    slo: SloSection,
    baseline: BaselineSection | None,
    server: ServerChecks | None,
    locust_exit_code: int,
    *,
    incomplete: Sequence[str] = (),
    unjudged_loss: Sequence[str] = (),
) -> Verdict:
    """The exit code (see the module docstring) and the reasons: why the run is incomplete
    (first), every failed SLO, every regression, a non-zero Locust code, loss no SLO
    judged (:func:`unjudged_loss`), and what the emulator found after the run."""
    reasons = list(incomplete)
    reasons += [result["detail"] for result in slo["results"] if not result["passed"]]
    regressions = baseline["regressions"] if baseline is not None else []
    if baseline is not None:
        reasons += [regression_sentence(r, baseline["max_regression"]) for r in regressions]
    if locust_exit_code == 1:
        reasons.append("Locust's exit code is 1: some requests failed")
    elif locust_exit_code != 0:
        reasons.append(f"Locust's exit code is {locust_exit_code}")
    if not slo["passed"]:
        exit_code = EXIT_SLO
    elif baseline is not None and not baseline["passed"]:
        exit_code = EXIT_REGRESSION
    else:
        exit_code = locust_exit_code
    reasons += unjudged_loss
    if server_failed(server):
        reasons.append(
            "the embedded emulator still held connections or subscriptions after the run, "
            "or saw retries earlier than their policy allows"
        )
    if exit_code == 0 and (unjudged_loss or server_failed(server)):
        exit_code = 1
    if incomplete:
        exit_code = EXIT_INCOMPLETE
    return {"exit_code": exit_code, "reasons": reasons}


def unjudged_loss(events: DeliveryFigures, slo: SloSection, *, allow_loss: bool) -> list[str]:
    """Lost and duplicated events that fail the run by default: lost events unless an SLO
    on ``lost`` or ``lost.rate`` judges them or ``allow_loss``; duplicates unless an SLO on
    ``duplicated`` judges them."""
    judged = {result["figure"] for result in slo["results"]}
    reasons = []
    lost, duplicated = events["lost"], events["duplicated"]
    if lost and not allow_loss and not judged.intersection(LOST_FIGURES):
        reasons.append(
            f"{count_text(lost)} {_events(lost)} lost (a run that loses events fails unless "
            "an SLO on lost or lost.rate, or --allow-loss, allows it)"
        )
    if duplicated and not judged.intersection(DUPLICATED_FIGURES):
        reasons.append(
            f"{count_text(duplicated)} {_events(duplicated)} duplicated (a run with "
            "duplicates fails unless an SLO on duplicated allows them)"
        )
    return reasons


def _events(count: int) -> str:
    return "event" if count == 1 else "events"


def server_failed(server: ServerChecks | None) -> bool:
    """Whether the emulator's checks after the run found a leftover or an early retry."""
    if server is None:
        return False
    backoff = server.get("backoff")
    return bool(
        server.get("open_connections")
        or server.get("live_subscriptions")
        or (backoff is not None and backoff["violations"])
    )
