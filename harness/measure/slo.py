"""Service-level objectives: ``--slo`` and ``--slo-file``, parsed and evaluated.

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
    ``delivered``, ``filtered``, ``published`` (delivery accounting, checked overall and on every
    template); ``errors`` (failed requests); ``leaks`` (what stopped clients left
    behind, plus the emulator's open connections and live subscriptions when the run
    checked them); ``give_ups`` (retry episodes that gave up, all policies);
    ``usage.outbound_units`` (outbound messages in 5 KB units, what AWS meters).
ratios (a percent, ``0.1%``, or a fraction from 0 to 1, ``0.001``)
    ``errors.rate`` (failed / all requests); ``lost.rate`` (lost / (delivered + lost),
    0 when both are 0; overall and per template); ``backoff.conformance`` (the lowest
    share of retry attempts within their policy's bounds, over the policies that made
    attempts; not applicable, and so passed, when nothing was retried);
    ``quota.headroom`` (the share left of the per-API quota the run came nearest, 1 -
    peak / limit: negative once one is exceeded; docs/usage-and-cost.md).

Examples: ``delivery.p99<=250ms``, ``connect.p99.9 < 2s``, ``lost==0``,
``errors.rate<0.1%``, ``leaks==0``, ``backoff.conformance>=99%``, ``quota.headroom>=50%``.

The baseline comparison is :mod:`harness.measure.baseline`; the exit code,
:mod:`harness.measure.verdict`. This module does no I/O except
:func:`load_slo_file`, which reads the file it is given.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from harness.config.spec import format_number
from harness.errors import ConfigurationError
from harness.measure.schema import (
    DELIVERY_FIGURES,
    LATENCY_STATS,
    METRICS,
    CleanupSummary,
    DeliveryFigures,
    Measurements,
    PolicySummary,
    ResilienceSummary,
    SloResult,
    SloSection,
    UsageSection,
    figure_of,
    stat_of,
)
from harness.measure.texts import (
    UNIT_COUNT,
    UNIT_MS,
    UNIT_RATIO,
    Unit,
    count_text,
    figure_text,
    os_error_text,
    plain_percent,
    relative_text,
    where_text,
)

METRIC_ALIASES = {"delivery": "deliver"}
RUN_COUNTS = ("errors", "leaks", "give_ups", "usage.outbound_units")
RATIOS = ("errors.rate", "lost.rate", "backoff.conformance", "quota.headroom")
OPERATORS = ("<=", "<", ">=", ">", "==")

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
    unit: Unit

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
    metrics = ", ".join(f"{m} (or delivery)" if m == "deliver" else m for m in METRICS)
    return (
        f"METRIC.STAT with METRIC one of {metrics} and STAT one of {', '.join(LATENCY_STATS)}; "
        f"counts {', '.join(DELIVERY_FIGURES + RUN_COUNTS)}; ratios {', '.join(RATIOS)}"
    )


def _figure(figure: str, written: str, option: str) -> tuple[str, Unit]:
    if figure in DELIVERY_FIGURES or figure in RUN_COUNTS:
        return figure, UNIT_COUNT
    if figure in RATIOS:
        return figure, UNIT_RATIO
    metric, dot, stat = figure.partition(".")
    metric = METRIC_ALIASES.get(metric, metric)
    if dot and metric in METRICS:
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
        raise ConfigurationError(option, f"cannot read {path}: {os_error_text(exc)}") from exc
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


# -- evaluation ------------------------------------------------------------------------


def evaluate_slos(slos: list[Slo], measured: Measurements) -> SloSection:
    """The summary's ``"slo"`` part: one result per SLO and place (``"overall"`` or a
    template) it was checked at; ``passed`` when all held."""
    results = [result for slo in slos for result in _evaluate(slo, measured)]
    return {"passed": all(result["passed"] for result in results), "results": results}


def _evaluate(slo: Slo, measured: Measurements) -> list[SloResult]:
    if slo.unit == UNIT_MS:
        return _evaluate_latency(slo, measured)
    if slo.figure in DELIVERY_FIGURES or slo.figure == "lost.rate":
        return _evaluate_delivery(slo, measured)
    if slo.figure in ("errors", "errors.rate"):
        errors = measured["totals"]["errors"]
        observed: float = errors["count"] if slo.figure == "errors" else errors["rate"]
        return [_result(slo, "overall", observed)]
    resilience = measured["resilience"]
    if slo.figure == "leaks":
        return [_evaluate_leaks(slo, resilience)]
    if slo.figure == "give_ups":
        give_ups = sum(sum(policy["give_ups"].values()) for policy in resilience["policies"])
        return [_result(slo, "overall", give_ups)]
    if slo.figure == "usage.outbound_units":
        return [_result(slo, "overall", measured["usage"]["counts"]["outbound_units"])]
    if slo.figure == "quota.headroom":
        return [_evaluate_headroom(slo, measured["usage"])]
    return [_evaluate_conformance(slo, resilience["policies"])]


def _evaluate_latency(slo: Slo, measured: Measurements) -> list[SloResult]:
    metric, _, stat = slo.figure.partition(".")
    section = measured["latency"].get(metric)  # a metric without samples has none
    if section is None:
        return [_unmeasured(slo, "overall", "has no samples")]
    results = []
    for where, figures in [("overall", section["overall"]), *section["templates"].items()]:
        observed = stat_of(figures, stat)
        if observed is None:
            results.append(_unmeasured(slo, where, "has no samples"))
        else:
            results.append(_result(slo, where, observed))
    return results


def _evaluate_delivery(slo: Slo, measured: Measurements) -> list[SloResult]:
    delivery = measured["delivery"]
    places = [("overall", delivery["overall"]), *delivery["templates"].items()]
    return [_result(slo, where, _delivery_figure(figures, slo.figure)) for where, figures in places]


def _delivery_figure(figures: DeliveryFigures, figure: str) -> float:
    if figure == "lost.rate":
        return lost_rate(figures)
    return figure_of(figures, figure)


def lost_rate(figures: DeliveryFigures) -> float:
    """lost / (delivered + lost); 0 when nothing was delivered or lost."""
    lost, delivered = figures["lost"], figures["delivered"]
    return lost / (delivered + lost) if delivered + lost else 0.0


def _evaluate_leaks(slo: Slo, resilience: ResilienceSummary) -> SloResult:
    cleanup: CleanupSummary = resilience["cleanup"]
    server = resilience.get("server") or {}
    connections = server.get("open_connections")
    subscriptions = server.get("live_subscriptions")
    note = f" ({count_text(cleanup['leaks'])} left by stopped clients"
    if connections is not None or subscriptions is not None:
        note += (
            f"; {count_text(connections or 0)} connections and {count_text(subscriptions or 0)} "
            "subscriptions still open on the server"
        )
    observed = cleanup["leaks"] + (connections or 0) + (subscriptions or 0)
    return _result(slo, "overall", observed, note=note + ")")


def _evaluate_headroom(slo: Slo, usage: UsageSection) -> SloResult:
    nearest = min(usage["quotas"], key=lambda use: use["headroom"], default=None)
    note = "" if nearest is None else f" ({nearest['quota']}, the nearest its limit)"
    return _result(slo, "overall", usage["headroom"], note=note)


def _evaluate_conformance(slo: Slo, policies: list[PolicySummary]) -> SloResult:
    measured = [
        (conformance, policy)
        for policy in policies
        if policy["attempts"] > 0 and (conformance := policy["conformance"]) is not None
    ]
    if not measured:
        return {
            **_base(slo, "overall", None, passed=True),
            "detail": f"{slo.figure} is not applicable overall: nothing was retried "
            f"({_allowed(slo)})",
        }
    lowest, policy = min(measured, key=lambda pair: pair[0])
    note = f" ({policy['kind']} policy {policy['policy']}, the lowest)"
    return _result(slo, "overall", lowest, note=note)


def _base(slo: Slo, where: str, observed: float | None, *, passed: bool) -> SloResult:
    return {
        "slo": slo.text,
        "figure": slo.figure,
        "where": where,
        "observed": observed,
        "threshold": slo.threshold,
        "unit": slo.unit,
        "passed": passed,
        "detail": "",
    }


def _result(slo: Slo, where: str, observed: float, *, note: str = "") -> SloResult:
    passed = _COMPARE[slo.op](observed, slo.threshold)
    detail = (
        f"{slo.figure} is {figure_text(observed, slo.unit)} {where_text(where)}{note}; "
        f"{_allowed(slo)}"
    )
    if not passed:
        detail += f" ({_miss(observed, slo)})"
    return {**_base(slo, where, observed, passed=passed), "detail": detail}


def _unmeasured(slo: Slo, where: str, why: str) -> SloResult:
    """A figure the run did not measure fails its SLO: nothing measured, nothing shown."""
    return {
        **_base(slo, where, None, passed=False),
        "detail": f"{slo.figure} {why} {where_text(where)}; {_allowed(slo)}, and a run that "
        "measured nothing cannot pass",
    }


def _allowed(slo: Slo) -> str:
    return _ALLOWED[slo.op].format(figure_text(slo.threshold, slo.unit))


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
        return f"{plain_percent(abs(difference))} percentage points {side}"
    if slo.unit == UNIT_MS and slo.threshold != 0:
        share = abs(difference) / abs(slo.threshold)
        if share < RELATIVE_LIMIT:  # beyond it (a threshold near 0) the absolute miss says more
            return f"{relative_text(share)} {side}"
    return f"{figure_text(abs(difference), slo.unit)} {side}"
