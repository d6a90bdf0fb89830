"""A run's verdict: its exit code and the reasons for it.

Exit codes of a run:

- ``0``: every SLO held, nothing regressed and Locust saw no failure;
- ``1``: Locust's own meaning, kept: some requests failed (``--exit-code-on-error``);
  any other code Locust chose is passed through as well; also a run otherwise clean
  whose embedded emulator still held connections or subscriptions afterwards, or saw
  retries earlier than their policy allows;
- ``2`` (:data:`EXIT_BAD_SETTINGS`): the settings are invalid, or a file read at the
  end (``--baseline``, ``--slo-file``) could no longer be read;
- ``3`` (:data:`EXIT_SLO`): at least one SLO failed (takes precedence over the rest);
- ``4`` (:data:`EXIT_REGRESSION`): no SLO failed but a figure regressed from the
  baseline (takes precedence over Locust's code).
"""

from __future__ import annotations

from harness.measure.schema import BaselineSection, ServerChecks, SloSection, Verdict
from harness.measure.texts import regression_sentence

EXIT_BAD_SETTINGS = 2
"""The exit code when the settings are invalid (argparse uses 2 for bad options too)."""
EXIT_SLO = 3
"""The exit code of a run that broke at least one SLO."""
EXIT_REGRESSION = 4
"""The exit code of a run that kept its SLOs but regressed from its baseline."""


def verdict(
    slo: SloSection,
    baseline: BaselineSection | None,
    server: ServerChecks | None,
    locust_exit_code: int,
) -> Verdict:
    """The exit code (see the module docstring) and the reasons: every failed SLO, every
    regression, a non-zero Locust code, and what the emulator found after the run."""
    reasons = [result["detail"] for result in slo["results"] if not result["passed"]]
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
    if server_failed(server):
        reasons.append(
            "the embedded emulator still held connections or subscriptions after the run, "
            "or saw retries earlier than their policy allows"
        )
        if exit_code == 0:
            exit_code = 1
    return {"exit_code": exit_code, "reasons": reasons}


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
