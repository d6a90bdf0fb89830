"""The sentences and figures the harness says about a run, each written once.

SLO details, verdict reasons, the console, ``junit.xml`` and ``report.html``
take their texts from here, so one figure reads the same everywhere:
``412.3 ms``, ``3``, ``0.25%``, ``+40%``.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Literal

from harness.config.spec import format_number
from harness.measure.schema import Herd, RecoveryFigures, Regression

Unit = Literal["ms", "count", "ratio"]
UNIT_MS: Unit = "ms"
UNIT_COUNT: Unit = "count"
UNIT_RATIO: Unit = "ratio"


def figure_text(value: float, unit: Unit) -> str:
    """A figure for a sentence: ``412.3 ms``, ``3``, ``0.25%``."""
    if unit == UNIT_MS:
        return f"{format_number(round(value, 3))} ms"
    if unit == UNIT_RATIO:
        return f"{plain_percent(value)}%"
    return count_text(value)


def count_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else format_number(value)


def plain_percent(fraction: float) -> str:
    """``0.001`` -> ``0.1``: the fraction in percent, at most four decimals, no exponent."""
    percent = (Decimal(repr(float(fraction))) * 100).quantize(Decimal("0.0001"))
    return format(percent.normalize(), "f")


def relative_text(share: float) -> str:
    """A relative change as a percent: whole above 10 %, two significant digits below."""
    percent = share * 100
    if percent >= 10:
        return f"{round(percent)}%"
    return f"{format(Decimal(f'{percent:.2g}').normalize(), 'f')}%"


def where_text(where: str) -> str:
    """``overall``, or ``on TEMPLATE``."""
    return "overall" if where == "overall" else f"on {where}"


def regression_sentence(regression: Regression, max_regression: float) -> str:
    """``deliver.p99 on /default/room-{1..20} regressed from 3 ms to 4.2 ms (+40%; at most
    +10% allowed)``."""
    change = regression["change"]
    how_much = "from zero" if change is None else f"+{relative_text(change)}"
    return (
        f"{regression['figure']} {where_text(regression['where'])} regressed from "
        f"{figure_text(regression['baseline'], regression['unit'])} to "
        f"{figure_text(regression['observed'], regression['unit'])} "
        f"({how_much}; at most +{relative_text(max_regression)} allowed)"
    )


def os_error_text(exc: BaseException) -> str:
    """Why a file could not be read: the system's reason (``No such file or directory``)."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc)


def share_text(share: float | None) -> str:
    """A conformance share: ``99.5%``, or ``-`` when nothing was measured."""
    return "-" if share is None else f"{share:.1%}"


def recovery_text(recovery: RecoveryFigures | None) -> str:
    """Recovery p50/p99/max in seconds: ``0.212/0.480/0.501``."""
    if recovery is None:
        return "-"
    return f"{recovery['p50']:.3f}/{recovery['p99']:.3f}/{recovery['max']:.3f}"


def herd_text(herd: Herd | None) -> str:
    """Peak first attempts per 100 ms, the predicted peak, of how many disconnected:
    ``7 (4) of 40``."""
    if herd is None:
        return "-"
    predicted = format_number(herd["predicted_peak"])
    return f"{herd['peak_first_attempts']} ({predicted}) of {herd['disconnected']}"


def iso_utc(wall_s: float) -> str:
    """A wall time as UTC ISO 8601 with milliseconds: ``2026-12-04T20:31:02.123Z``."""
    moment = datetime.datetime.fromtimestamp(wall_s, tz=datetime.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
