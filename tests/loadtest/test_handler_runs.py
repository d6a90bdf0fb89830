"""A headless run against the embedded emulator with a namespace handler that filters
half the events: the harness counts them as filtered, not lost, and the run passes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_locust_cli import ROOT, run_locust

pytest.importorskip("quickjs")

EVEN_ONLY = ROOT / "tests" / "emulator" / "handlers" / "even_only.js"


def test_events_a_handler_filters_count_as_filtered_not_lost(tmp_path: Path) -> None:
    result = run_locust(
        "--headless", "-u", "6", "-r", "6", "-t", "6s",
        "--channels", "/default/room-{1..2}", "--publish-rate", "5",
        "--report-dir", str(tmp_path),
        f"--emulator-args=--handlers default={EVEN_ONLY}",
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    overall = json.loads((tmp_path / "summary.json").read_text())["delivery"]["overall"]
    assert overall["lost"] == 0, overall
    assert overall["filtered"] > 0 and overall["delivered"] > 0, overall
    # Odd and even sequence numbers alternate: about as many of each, less the edges.
    assert 0.7 <= overall["filtered"] / overall["delivered"] <= 1.4, overall
    assert "filtered" in output
