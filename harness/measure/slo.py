"""Service-level objectives, regressions against a stored run, and the run's exit code.

An SLO (``--slo``, repeatable, or one per line of ``--slo-file``) is ``FIGURE OP VALUE``,
spaces allowed anywhere between the three parts, with ``OP`` one of ``<=``, ``<``,
``>=``, ``>``, ``==``. Figures are lower-cased; ``FIGURE`` is one of:

latency ``METRIC.STAT`` (milliseconds)
    ``METRIC`` is ``connect``, ``subscribe``, ``publish``, ``http_publish``, ``deliver``
    (``delivery`` is accepted for it), ``reconnect`` or ``unsubscribe``; ``STAT`` is
    ``min``, ``mean``, ``p50``, ``p90``, ``p99``, ``p99.9`` or ``max``. ``VALUE`` is a
    duration and its unit is required: ``us``, ``ms``, ``s`` or ``m`` (``250ms``,
    ``2 s``, ``1.5m``). Checked overall and on every channel template of the metric; a
    metric without samples fails the SLO (a run that measured nothing proves nothing).
counts (whole numbers, no unit)
    ``lost``, ``duplicated``, ``out_of_order``, ``missed_during_reconnect``,
    ``delivered``, ``published`` (delivery accounting, checked overall and on every
    template); ``errors`` (failed requests); ``leaks`` (what stopped clients left
    behind, plus the emulator's open connections and live subscriptions when the run
    checked them); ``give_ups`` (retry episodes that gave up, all policies).
ratios (a percent, ``0.1%``, or a fraction from 0 to 1, ``0.001``)
    ``errors.rate`` (failed / all requests); ``lost.rate`` (lost / (delivered + lost),
    0 when both are 0; overall and per template); ``backoff.conformance`` (the lowest
    share of retry attempts within their policy's bounds, over the policies that made
    attempts; not applicable, and so passed, when nothing was retried).

Examples: ``delivery.p99<=250ms``, ``connect.p99.9 < 2s``, ``lost==0``,
``errors.rate<0.1%``, ``leaks==0``, ``backoff.conformance>=99%``.

A baseline (``--baseline PATH/summary.json``, ``--max-regression 10%``) is a stored
run summary. Every latency p50, p90, p99 and p99.9 of every metric, overall and per
template present in both runs, and ``errors.rate`` and ``lost.rate`` (overall and per
template) are compared with it. A latency regresses when it is above
``baseline * (1 + max_regression)`` *and* at least :data:`LATENCY_NOISE_FLOOR_MS`
(1 ms) above the baseline: on loopback a p50 of 0.2 ms against 0.1 ms is 100 % worse
and means nothing, so sub-millisecond wobble is not a regression. A rate regresses
when it is above ``baseline * (1 + max_regression)`` and at least
:data:`RATE_NOISE_FLOOR` (0.1 percentage points) above the baseline.

Exit codes of a run (:func:`verdict`):

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

This module does no I/O except :func:`load_slo_file` and :func:`load_baseline`, which
read the file they are given.
"""

from __future__ import annotations

import json
import math
import operator
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from harness.config.spec import format_number
from harness.errors import ConfigurationError

EXIT_BAD_SETTINGS = 2
"""The exit code when the settings are invalid (argparse uses 2 for bad options too)."""
EXIT_SLO = 3
"""The exit code of a run that broke at least one SLO."""
EXIT_REGRESSION = 4
"""The exit code of a run that kept its SLOs but regressed from its baseline."""

LATENCY_NOISE_FLOOR_MS = 1.0
"""A latency must also be this much above its baseline to count as a regression."""
RATE_NOISE_FLOOR = 0.001
"""A rate must also be this much (0.1 percentage points) above its baseline to regress."""

SUMMARY_SCHEMA = 1
SUMMARY_KIND = "appsync-events-harness-summary"

LATENCY_METRICS = (
    "connect",
    "subscribe",
    "publish",
    "http_publish",
    "deliver",
    "reconnect",
    "unsubscribe",
)
METRIC_ALIASES = {"delivery": "deliver"}
LATENCY_STATS = ("min", "mean", "p50", "p90", "p99", "p99.9", "max")
BASELINE_STATS = ("p50", "p90", "p99", "p99.9")
DELIVERY_COUNTS = (
    "lost",
    "duplicated",
    "out_of_order",
    "missed_during_reconnect",
    "delivered",
    "published",
)
RUN_COUNTS = ("errors", "leaks", "give_ups")
RATIOS = ("errors.rate", "lost.rate", "backoff.conformance")
OPERATORS = ("<=", "<", ">=", ">", "==")

UNIT_MS = "ms"
UNIT_COUNT = "count"
UNIT_RATIO = "ratio"

_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    "<": operator.lt,
    ">=": operator.ge,
    ">": operator.gt,
    "==": operator.eq,
}
_ALLOWED = {
    "<=": "at most {} allowed",
    "<": "less than {} allowed",
    ">=": "at least {} required",
    ">": "more than {} required",
    "==": "exactly {} required",
}
_SHAPE = re.compile(r"(?P<figure>[^<>=!]*)(?P<op>[<>=!]+)(?P<value>.*)", re.DOTALL)
_VALUE = re.compile(r"(?P<number>\d+(?:\.\d+)?|\.\d+)\s*(?P<unit>\S*)")
_DURATION_UNITS_MS = {
    "us": Decimal("0.001"),
    "ms": Decimal(1),
    "s": Decimal(1000),
    "m": Decimal(60_000),
}
_EXAMPLE = "deliver.p99<=250ms"


@dataclass(frozen=True)
class Slo:
    """One objective: ``figure op threshold``, the threshold in the figure's ``unit``.

    ``text`` is the SLO as written (stripped); ``figure`` its canonical name
    (``delivery.p99`` becomes ``deliver.p99``); ``unit`` is ``ms`` (latency),
    ``count`` or ``ratio`` (a fraction: 0.1 % is 0.001)."""

    text: str
    figure: str
    op: str
    threshold: float
    unit: str

    def canonical_text(self) -> str:
        """The SLO spelled so that :func:`parse_slo` reads it back to the same figures."""
        if self.unit == UNIT_MS:
            value = format_number(self.threshold) + "ms"
        elif self.unit == UNIT_COUNT:
            value = str(int(self.threshold))
        else:
            value = format_number(self.threshold)
        return f"{self.figure}{self.op}{value}"


# -- parsing ---------------------------------------------------------------------------


def parse_slo(text: str, option: str = "--slo") -> Slo:
    """Read ``FIGURE OP VALUE`` (see the module docstring); :class:`ConfigurationError`
    naming ``option`` and what was wrong otherwise."""
    written = text.strip()
    if not written:
        raise ConfigurationError(
            option, f"an SLO is empty: expected FIGURE OP VALUE, e.g. {_EXAMPLE}"
        )
    shape = _SHAPE.fullmatch(written)
    if shape is None:
        raise ConfigurationError(
            option,
            f"{written!r} has no operator: expected FIGURE OP VALUE with OP one of "
            f"{', '.join(OPERATORS)}, e.g. {_EXAMPLE}",
        )
    op = shape["op"]
    if op not in _COMPARE:
        raise ConfigurationError(
            option, f"{op!r} in {written!r} is not an operator: use one of {', '.join(OPERATORS)}"
        )
    figure_text = shape["figure"].strip().lower()
    value_text = shape["value"].strip()
    if not figure_text:
        raise ConfigurationError(option, f"{written!r} has no figure before {op}")
    if not value_text:
        raise ConfigurationError(option, f"{written!r} has no value after {op}")
    figure, unit = _figure(figure_text, written, option)
    if unit == UNIT_MS:
        threshold = _duration_ms(value_text, written, option)
    elif unit == UNIT_COUNT:
        threshold = _whole_number(value_text, written, option)
    else:
        threshold = _ratio(value_text, written, option)
    return Slo(text=written, figure=figure, op=op, threshold=threshold, unit=unit)


def known_figures() -> str:
    """The figures an SLO may name, as one line for error messages."""
    metrics = ", ".join(f"{m} (or delivery)" if m == "deliver" else m for m in LATENCY_METRICS)
    return (
        f"METRIC.STAT with METRIC one of {metrics} and STAT one of {', '.join(LATENCY_STATS)}; "
        f"counts {', '.join(DELIVERY_COUNTS + RUN_COUNTS)}; ratios {', '.join(RATIOS)}"
    )


def _figure(figure: str, written: str, option: str) -> tuple[str, str]:
    if figure in DELIVERY_COUNTS or figure in RUN_COUNTS:
        return figure, UNIT_COUNT
    if figure in RATIOS:
        return figure, UNIT_RATIO
    metric, dot, stat = figure.partition(".")
    metric = METRIC_ALIASES.get(metric, metric)
    if dot and metric in LATENCY_METRICS:
        if stat not in LATENCY_STATS:
            raise ConfigurationError(
                option,
                f"unknown statistic {stat!r} of {metric} in {written!r}: "
                f"use one of {', '.join(LATENCY_STATS)}",
            )
        return f"{metric}.{stat}", UNIT_MS
    raise ConfigurationError(
        option, f"unknown figure {figure!r} in {written!r}: known figures are {known_figures()}"
    )


def _value(value: str, written: str, option: str, expected: str) -> tuple[Decimal, str]:
    match = _VALUE.fullmatch(value)
    if match is None:
        raise ConfigurationError(option, f"{value!r} in {written!r} is not {expected}")
    return Decimal(match["number"]), match["unit"]


def _duration_ms(value: str, written: str, option: str) -> float:
    expected = "a duration such as 250ms, 2s or 1.5m"
    number, unit = _value(value, written, option, expected)
    if not unit:
        raise ConfigurationError(
            option, f"{value!r} in {written!r} has no unit: write it with us, ms, s or m (250ms)"
        )
    if unit not in _DURATION_UNITS_MS:
        raise ConfigurationError(
            option,
            f"unit {unit!r} in {written!r} is not a unit of time: use us, ms, s or m",
        )
    return float(number * _DURATION_UNITS_MS[unit])


def _whole_number(value: str, written: str, option: str) -> float:
    expected = "a whole number (a count takes no unit)"
    number, unit = _value(value, written, option, expected)
    if unit or "." in value:
        raise ConfigurationError(option, f"{value!r} in {written!r} is not {expected}")
    return float(number)


def _ratio(value: str, written: str, option: str) -> float:
    expected = "a percent from 0% to 100% (0.1%) or a fraction from 0 to 1 (0.001)"
    number, unit = _value(value, written, option, expected)
    if unit == "%":
        number /= 100
    elif unit:
        raise ConfigurationError(option, f"{value!r} in {written!r} is not {expected}")
    if number > 1:
        raise ConfigurationError(option, f"{value!r} in {written!r} is not {expected}")
    return float(number)


def load_slo_file(path: str) -> list[Slo]:
    """The SLOs of a file, one per line; ``#`` starts a comment, blank lines are skipped.

    Errors (option ``--slo-file``) name the file and the line; a file without any SLO
    is refused too, since a gate that checks nothing would pass every run."""
    option = "--slo-file"
    try:
        with open(path, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(option, f"cannot read {path}: {_why(exc)}") from exc
    slos: list[Slo] = []
    for number, line in enumerate(lines, start=1):
        content = line.partition("#")[0].strip()
        if not content:
            continue
        try:
            slos.append(parse_slo(content, option))
        except ConfigurationError as exc:
            raise ConfigurationError(option, f"{path} line {number}: {exc.reason}") from None
    if not slos:
        raise ConfigurationError(option, f"{path} has no SLO (only comments and blank lines)")
    return slos


def _why(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc)


# -- evaluation ------------------------------------------------------------------------


def evaluate_slos(slos: list[Slo], summary: dict[str, Any]) -> dict[str, Any]:
    """``{"passed", "results"}`` for the summary's ``"slo"`` part: one result per SLO and
    place (``"overall"`` or a template) it was checked at; ``passed`` when all held."""
    results = [result for slo in slos for result in _evaluate(slo, summary)]
    return {"passed": all(result["passed"] for result in results), "results": results}


def _evaluate(slo: Slo, summary: dict[str, Any]) -> list[dict[str, Any]]:
    if slo.unit == UNIT_MS:
        return _evaluate_latency(slo, summary)
    if slo.figure in DELIVERY_COUNTS or slo.figure == "lost.rate":
        return _evaluate_delivery(slo, summary)
    if slo.figure in ("errors", "errors.rate"):
        errors = _mapping(_mapping(summary.get("totals")).get("errors"))
        key = "count" if slo.figure == "errors" else "rate"
        observed = _number(errors.get(key))
        if observed is None:
            return [_unmeasured(slo, "overall", "was not measured (the summary has no totals)")]
        return [_result(slo, "overall", observed)]
    resilience = summary.get("resilience")
    if not isinstance(resilience, dict):
        return [_unmeasured(slo, "overall", "was not measured (the summary has no resilience)")]
    if slo.figure == "leaks":
        return [_evaluate_leaks(slo, resilience)]
    policies = [policy for policy in resilience.get("policies") or [] if isinstance(policy, dict)]
    if slo.figure == "give_ups":
        give_ups = sum(sum(_mapping(policy.get("give_ups")).values()) for policy in policies)
        return [_result(slo, "overall", give_ups)]
    return [_evaluate_conformance(slo, policies)]


def _evaluate_latency(slo: Slo, summary: dict[str, Any]) -> list[dict[str, Any]]:
    metric, _, stat = slo.figure.partition(".")
    entry = _mapping(_mapping(summary.get("latency")).get(metric))
    places = [("overall", entry.get("overall")), *_mapping(entry.get("templates")).items()]
    results = []
    for where, figures in places:
        observed = _number(_mapping(figures).get(stat))
        if observed is None:
            results.append(_unmeasured(slo, where, "has no samples"))
        else:
            results.append(_result(slo, where, observed))
    return results


def _evaluate_delivery(slo: Slo, summary: dict[str, Any]) -> list[dict[str, Any]]:
    delivery = summary.get("delivery")
    if not isinstance(delivery, dict):
        return [_unmeasured(slo, "overall", "was not measured (the summary has no delivery)")]
    places = [("overall", delivery.get("overall")), *_mapping(delivery.get("templates")).items()]
    results = []
    for where, accounts in places:
        if slo.figure == "lost.rate":
            observed = _lost_rate(accounts)
        else:
            observed = _number(_mapping(accounts).get(slo.figure))
        if observed is None:
            results.append(_unmeasured(slo, where, "was not measured"))
        else:
            results.append(_result(slo, where, observed))
    return results


def _lost_rate(accounts: Any) -> float | None:
    """lost / (delivered + lost); 0 when nothing was delivered or lost."""
    lost = _number(_mapping(accounts).get("lost"))
    delivered = _number(_mapping(accounts).get("delivered"))
    if lost is None or delivered is None:
        return None
    return lost / (delivered + lost) if delivered + lost else 0.0


def _evaluate_leaks(slo: Slo, resilience: dict[str, Any]) -> dict[str, Any]:
    cleanup = _number(_mapping(resilience.get("cleanup")).get("leaks"))
    if cleanup is None:
        return _unmeasured(slo, "overall", "was not measured (the summary has no cleanup check)")
    server = _mapping(resilience.get("server"))
    connections = _number(server.get("open_connections"))
    subscriptions = _number(server.get("live_subscriptions"))
    note = f" ({_count(cleanup)} left by stopped clients"
    if connections is not None or subscriptions is not None:
        note += (
            f"; {_count(connections or 0)} connections and {_count(subscriptions or 0)} "
            "subscriptions still open on the server"
        )
    observed = cleanup + (connections or 0) + (subscriptions or 0)
    return _result(slo, "overall", observed, note=note + ")")


def _evaluate_conformance(slo: Slo, policies: list[dict[str, Any]]) -> dict[str, Any]:
    measured = [
        (conformance, policy)
        for policy in policies
        if (_number(policy.get("attempts")) or 0) > 0
        and (conformance := _number(policy.get("conformance"))) is not None
    ]
    if not measured:
        return {
            **_base(slo, "overall", None, passed=True),
            "detail": f"{slo.figure} is not applicable overall: nothing was retried "
            f"({_allowed(slo)})",
        }
    lowest, policy = min(measured, key=lambda pair: pair[0])
    note = f" ({policy.get('kind', '?')} policy {policy.get('policy', '?')}, the lowest)"
    return _result(slo, "overall", lowest, note=note)


def _base(slo: Slo, where: str, observed: float | None, *, passed: bool) -> dict[str, Any]:
    return {
        "slo": slo.text,
        "figure": slo.figure,
        "where": where,
        "observed": observed,
        "threshold": slo.threshold,
        "unit": slo.unit,
        "passed": passed,
    }


def _result(slo: Slo, where: str, observed: float, *, note: str = "") -> dict[str, Any]:
    passed = _COMPARE[slo.op](observed, slo.threshold)
    detail = f"{slo.figure} is {_format(observed, slo.unit)} {_where(where)}{note}; {_allowed(slo)}"
    if not passed:
        detail += f" ({_miss(observed, slo)})"
    return {**_base(slo, where, observed, passed=passed), "detail": detail}


def _unmeasured(slo: Slo, where: str, why: str) -> dict[str, Any]:
    """A figure the run did not measure fails its SLO: nothing measured, nothing shown."""
    return {
        **_base(slo, where, None, passed=False),
        "detail": f"{slo.figure} {why} {_where(where)}; {_allowed(slo)}, and a run that "
        "measured nothing cannot pass",
    }


def _where(where: str) -> str:
    return "overall" if where == "overall" else f"on {where}"


def _allowed(slo: Slo) -> str:
    return _ALLOWED[slo.op].format(_format(slo.threshold, slo.unit))


RELATIVE_LIMIT = 10_000.0
"""Misses up to 1,000,000 % of the threshold are given relative to it."""


def _miss(observed: float, slo: Slo) -> str:
    """By how much ``observed`` missed: relative for latencies (absolute against 0 ms),
    absolute for counts, in percentage points for ratios."""
    difference = observed - slo.threshold
    if difference == 0:
        return "at the limit"
    side = "over" if difference > 0 else "under"
    if slo.unit == UNIT_RATIO:
        return f"{_plain_percent(abs(difference))} percentage points {side}"
    if slo.unit == UNIT_MS and slo.threshold != 0:
        share = abs(difference) / abs(slo.threshold)
        if share < RELATIVE_LIMIT:  # beyond it (a threshold near 0) the absolute miss says more
            return f"{_relative(share)} {side}"
    return f"{_format(abs(difference), slo.unit)} {side}"


def _format(value: float, unit: str) -> str:
    """A figure for a sentence: ``412.3 ms``, ``3``, ``0.25%``."""
    if unit == UNIT_MS:
        return f"{format_number(round(value, 3))} ms"
    if unit == UNIT_RATIO:
        return f"{_plain_percent(value)}%"
    return _count(value)


def _count(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else format_number(value)


def _plain_percent(fraction: float) -> str:
    """``0.001`` -> ``0.1``: the fraction in percent, at most four decimals, no exponent."""
    percent = (Decimal(repr(float(fraction))) * 100).quantize(Decimal("0.0001"))
    return format(percent.normalize(), "f")


def _relative(share: float) -> str:
    """A relative change as a percent: whole above 10 %, two significant digits below."""
    percent = share * 100
    if percent >= 10:
        return f"{round(percent)}%"
    return f"{format(Decimal(f'{percent:.2g}').normalize(), 'f')}%"


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _number(value: Any) -> float | None:
    """``value`` when it is a number (not a bool), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value


# -- baseline --------------------------------------------------------------------------


def load_baseline(path: str) -> dict[str, Any]:
    """A stored run summary (``summary.json``, schema 1) to compare this run with.

    :class:`ConfigurationError` (option ``--baseline``) when the file cannot be read,
    is not JSON, or is not a harness run summary of schema 1."""
    option = "--baseline"
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except OSError as exc:
        raise ConfigurationError(option, f"cannot read {path}: {_why(exc)}") from exc
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise ConfigurationError(option, f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict) or data.get("kind") != SUMMARY_KIND:
        raise ConfigurationError(
            option, f"{path} is not a harness run summary (its kind is not {SUMMARY_KIND!r})"
        )
    if data.get("schema") != SUMMARY_SCHEMA:
        raise ConfigurationError(
            option,
            f"{path} is a summary of schema {data.get('schema')!r}; this harness reads "
            f"schema {SUMMARY_SCHEMA}",
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
    summary: dict[str, Any], baseline: dict[str, Any], *, max_regression: float, path: str
) -> dict[str, Any]:
    """The summary's ``"baseline"`` part: figures of this run that got worse than the
    stored run's by more than ``max_regression`` (and the noise floors, see the module
    docstring); ``compared`` counts the figures present in both runs."""
    compared = 0
    regressions: list[dict[str, Any]] = []
    for figure, where, unit, before, after in _comparable(summary, baseline):
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
    summary: dict[str, Any], baseline: dict[str, Any]
) -> Iterator[tuple[str, str, str, float, float]]:
    """``(figure, where, unit, baseline, observed)`` for every figure both runs have."""
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
        lost_now, lost_before = _lost_rate(now), _lost_rate(before)
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


# -- verdict ---------------------------------------------------------------------------


def verdict(summary: dict[str, Any], locust_exit_code: int) -> dict[str, Any]:
    """The summary's ``"verdict"``: ``exit_code`` is :data:`EXIT_SLO` if an SLO failed,
    else :data:`EXIT_REGRESSION` if the baseline regressed, else Locust's own code;
    ``reasons`` lists every failed SLO, every regression and a non-zero Locust code."""
    slo = _mapping(summary.get("slo"))
    baseline = _mapping(summary.get("baseline"))
    slo_reasons = [
        str(result.get("detail", result.get("slo", "?")))
        for result in slo.get("results") or []
        if isinstance(result, dict) and not result.get("passed")
    ]
    slo_failed = bool(slo_reasons) or slo.get("passed") is False
    regressions = [entry for entry in baseline.get("regressions") or [] if isinstance(entry, dict)]
    regressed = bool(regressions) or baseline.get("passed") is False
    max_regression = _number(baseline.get("max_regression"))
    reasons = slo_reasons + [_regression_reason(entry, max_regression) for entry in regressions]
    if locust_exit_code == 1:
        reasons.append("Locust's exit code is 1: some requests failed")
    elif locust_exit_code != 0:
        reasons.append(f"Locust's exit code is {locust_exit_code}")
    if slo_failed:
        exit_code = EXIT_SLO
    elif regressed:
        exit_code = EXIT_REGRESSION
    else:
        exit_code = locust_exit_code
    if server_failed(_mapping(summary.get("resilience")).get("server")):
        reasons.append(
            "the embedded emulator still held connections or subscriptions after the run, "
            "or saw retries earlier than their policy allows"
        )
        if exit_code == 0:
            exit_code = 1
    return {"exit_code": exit_code, "reasons": reasons}


def server_failed(server: dict[str, Any] | None) -> bool:
    """Whether the emulator's checks after the run found a leftover or an early retry."""
    if server is None:
        return False
    backoff = server.get("backoff") or {}
    return bool(
        server.get("open_connections")
        or server.get("live_subscriptions")
        or backoff.get("violations")
    )


def _regression_reason(entry: dict[str, Any], max_regression: float | None) -> str:
    """``deliver.p99 on /default/room-{1..20} regressed from 3 ms to 4.2 ms (+40%; ...)``."""
    unit = str(entry.get("unit", UNIT_MS))
    before, after = _number(entry.get("baseline")), _number(entry.get("observed"))
    shown_before = "?" if before is None else _format(before, unit)
    shown_after = "?" if after is None else _format(after, unit)
    change = _number(entry.get("change"))
    how_much = "from zero" if change is None else f"+{_relative(change)}"
    allowed = "" if max_regression is None else f"; at most +{_relative(max_regression)} allowed"
    return (
        f"{entry.get('figure', '?')} {_where(str(entry.get('where', 'overall')))} regressed "
        f"from {shown_before} to {shown_after} ({how_much}{allowed})"
    )
