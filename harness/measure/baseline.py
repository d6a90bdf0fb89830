"""Regressions against a stored run: ``--baseline PATH/summary.json``, ``--max-regression``.

A baseline is a stored run summary. Every latency p50, p90, p99 and p99.9 of every
metric, overall and per template present in both runs, and ``errors.rate`` and
``lost.rate`` (overall and per template) are compared with it. A latency regresses
when it is above ``baseline * (1 + max_regression)`` *and* at least
:data:`LATENCY_NOISE_FLOOR_MS` (1 ms) above the baseline: on loopback a p50 of
0.2 ms against 0.1 ms is 100 % worse and means nothing, so sub-millisecond wobble
is not a regression. A rate regresses when it is above
``baseline * (1 + max_regression)`` and at least :data:`RATE_NOISE_FLOOR` (0.1
percentage points) above the baseline.

This module does no I/O except :func:`load_baseline`, which reads the file it is given.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from harness.errors import ConfigurationError
from harness.measure.schema import KIND, SCHEMA, BaselineSection, Measurements, Regression
from harness.measure.texts import UNIT_MS, UNIT_RATIO, Unit, os_error_text

LATENCY_NOISE_FLOOR_MS = 1.0
"""A latency must also be this much above its baseline to count as a regression."""
RATE_NOISE_FLOOR = 0.001
"""A rate must also be this much (0.1 percentage points) above its baseline to regress."""
BASELINE_STATS = ("p50", "p90", "p99", "p99.9")
_VALUE = re.compile(r"(?P<number>\d+(?:\.\d+)?|\.\d+)\s*(?P<unit>\S*)")


def load_baseline(path: str) -> dict[str, Any]:
    """A stored run summary (``summary.json``, schema 1) to compare this run with.

    :class:`ConfigurationError` (option ``--baseline``) when the file cannot be read,
    is not JSON, or is not a harness run summary of schema 1."""
    option = "--baseline"
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except OSError as exc:
        raise ConfigurationError(option, f"cannot read {path}: {os_error_text(exc)}") from exc
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise ConfigurationError(option, f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict) or data.get("kind") != KIND:
        raise ConfigurationError(
            option, f"{path} is not a harness run summary (its kind is not {KIND!r})"
        )
    if data.get("schema") != SCHEMA:
        raise ConfigurationError(
            option,
            f"{path} is a summary of schema {data.get('schema')!r}; this harness reads "
            f"schema {SCHEMA}",
        )
    return data


def parse_max_regression(text: str, option: str = "--max-regression") -> float:
    """``"10%"`` or ``"0.1"`` -> ``0.1``: how much worse than the baseline a figure may get.

    Must be above 0; a bare number is a fraction, so one above 1 is refused as the
    likely slip for a percent (``10`` meaning ``10%``)."""
    written = text.strip()
    expected = "a percent such as 10% or a fraction such as 0.1, above 0"
    match = _VALUE.fullmatch(written)
    if match is None or match["unit"] not in ("", "%"):
        raise ConfigurationError(option, f"{written!r} is not {expected}")
    number = Decimal(match["number"])
    if match["unit"] == "%":
        number /= 100
    elif number > 1:
        raise ConfigurationError(
            option, f"{written!r} is a fraction above 1; write {written}% for a percent"
        )
    if number <= 0:
        raise ConfigurationError(option, f"{written!r} is not {expected}")
    return float(number)


def compare_to_baseline(
    measured: Measurements, baseline: dict[str, Any], *, max_regression: float, path: str
) -> BaselineSection:
    """The summary's ``"baseline"`` part: figures of this run that got worse than the
    stored run's by more than ``max_regression`` (and the noise floors, see the module
    docstring); ``compared`` counts the figures present in both runs."""
    compared = 0
    regressions: list[Regression] = []
    for figure, where, unit, before, after in _comparable(measured, baseline):
        compared += 1
        floor = LATENCY_NOISE_FLOOR_MS if unit == UNIT_MS else RATE_NOISE_FLOOR
        if after > before * (1 + max_regression) and after - before >= floor:
            change = _change(before, after)
            regressions.append(
                {
                    "figure": figure,
                    "where": where,
                    "baseline": before,
                    "observed": after,
                    "change": change,
                    "unit": unit,
                }
            )
    return {
        "path": path,
        "max_regression": max_regression,
        "passed": not regressions,
        "compared": compared,
        "regressions": regressions,
    }


def _change(before: float, after: float) -> float | None:
    """The relative change, rounded; None from zero (or so near it that it overflows)."""
    if not before:
        return None
    change = after / before - 1
    return round(change, 4) if math.isfinite(change) else None


def _comparable(
    measured: Measurements, baseline: dict[str, Any]
) -> Iterator[tuple[str, str, Unit, float, float]]:
    """``(figure, where, unit, baseline, observed)`` for every figure both runs have.

    The stored run is JSON from a file, perhaps of another harness version, so both runs
    are walked alike, taking only the figures that are there in both."""
    summary: dict[str, Any] = dict(measured)
    latency_now = _mapping(summary.get("latency"))
    latency_before = _mapping(baseline.get("latency"))
    for metric, entry in latency_now.items():
        if metric not in latency_before:
            continue
        for where, now, before in _places(entry, latency_before[metric]):
            for stat in BASELINE_STATS:
                after, earlier = _number(now.get(stat)), _number(before.get(stat))
                if after is not None and earlier is not None:
                    yield f"{metric}.{stat}", where, UNIT_MS, earlier, after
    errors_now = _number(_mapping(_mapping(summary.get("totals")).get("errors")).get("rate"))
    errors_before = _number(_mapping(_mapping(baseline.get("totals")).get("errors")).get("rate"))
    if errors_now is not None and errors_before is not None:
        yield "errors.rate", "overall", UNIT_RATIO, errors_before, errors_now
    for where, now, before in _places(summary.get("delivery"), baseline.get("delivery")):
        lost_now, lost_before = _stored_lost_rate(now), _stored_lost_rate(before)
        if lost_now is not None and lost_before is not None:
            yield "lost.rate", where, UNIT_RATIO, lost_before, lost_now


def _places(now: Any, before: Any) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    """``(where, this run's entry, baseline's entry)`` overall and per shared template."""
    now, before = _mapping(now), _mapping(before)
    if isinstance(now.get("overall"), dict) and isinstance(before.get("overall"), dict):
        yield "overall", now["overall"], before["overall"]
    templates_before = _mapping(before.get("templates"))
    for template, entry in _mapping(now.get("templates")).items():
        if isinstance(entry, dict) and isinstance(templates_before.get(template), dict):
            yield template, entry, templates_before[template]


def _stored_lost_rate(accounts: Any) -> float | None:
    """lost / (delivered + lost) of a stored account; 0 when both are 0; None when absent."""
    lost = _number(_mapping(accounts).get("lost"))
    delivered = _number(_mapping(accounts).get("delivered"))
    if lost is None or delivered is None:
        return None
    return lost / (delivered + lost) if delivered + lost else 0.0


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _number(value: Any) -> float | None:
    """``value`` when it is a number (not a bool), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value
