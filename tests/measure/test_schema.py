"""The summary's types are its one definition: the docs are generated from them, the
vocabularies agree with them, and what the harness writes has their shape."""

from __future__ import annotations

import dataclasses
import json
import typing
from pathlib import Path

from support.typed import mismatches

from harness.measure.delivery import ChannelAccount
from harness.measure.schema import (
    DELIVERY_FIGURES,
    LATENCY_STATS,
    DeliveryFigures,
    LatencyFigures,
    Summary,
)
from harness.measure.schema_doc import BEGIN, END, generated, replace_generated
from harness.report.console import DELIVERY_LABELS

ROOT = Path(__file__).resolve().parents[2]


def test_the_schema_page_is_generated_from_the_types() -> None:
    page = (ROOT / "docs" / "summary-schema.md").read_text(encoding="utf-8")
    assert BEGIN in page and END in page
    assert replace_generated(page, generated()) == page, (
        "docs/summary-schema.md is stale: python -m harness.measure.schema_doc --write"
    )


def test_the_generated_page_names_every_key_of_every_type() -> None:
    text = generated()
    for key in (*DELIVERY_FIGURES, *LATENCY_STATS, "lost_examples", "final_reports", "herd"):
        assert f"| `{key}` |" in text, key


def test_the_vocabularies_are_the_keys_of_the_types() -> None:
    assert tuple(typing.get_type_hints(DeliveryFigures)) == DELIVERY_FIGURES
    assert tuple(field.name for field in dataclasses.fields(ChannelAccount)) == DELIVERY_FIGURES
    assert tuple(DELIVERY_LABELS) == DELIVERY_FIGURES
    assert tuple(typing.get_type_hints(LatencyFigures)) == ("count", *LATENCY_STATS)


def test_the_sample_reports_summary_has_the_types_shape() -> None:
    sample = ROOT / "docs" / "sample-report"
    summary = json.loads((sample / "summary.json").read_text(encoding="utf-8"))
    assert mismatches(summary, Summary) == []
    resilience = json.loads((sample / "resilience.json").read_text(encoding="utf-8"))
    assert resilience == summary["resilience"]


def test_the_shape_check_finds_what_is_wrong() -> None:
    """The check the tests rely on fails on a missing key, an unknown key and a wrong type."""
    summary = json.loads((ROOT / "docs" / "sample-report" / "summary.json").read_text())
    del summary["delivery"]["untracked"]
    summary["verdict"]["extra"] = 1
    summary["totals"]["errors"]["count"] = "0"
    found = mismatches(summary, Summary)
    assert "$.delivery: missing 'untracked'" in found
    assert "$.verdict: unknown key 'extra'" in found
    assert "$.totals.errors.count: '0' is not a whole number" in found
