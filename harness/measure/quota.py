"""A run's peaks against AppSync's per-API quotas (AWS's defaults; docs/protocol.md#channels).

The same four quotas the emulator enforces (``--quota`` names): connection requests,
inbound events and outbound 5 KB units a second, and the bytes of one publish
request. :func:`quota_uses` sets peaks against them, after a run (what happened) or
before it (what the options would make, :mod:`harness.loadtest.forecast`);
:func:`exceeded_sentences` says which a peak went over, in words.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.config.spec import format_number
from harness.measure.schema import QuotaUse
from harness.protocol import (
    MAX_CONNECTS_PER_SECOND,
    MAX_INBOUND_EVENTS_PER_SECOND,
    MAX_OUTBOUND_UNITS_PER_SECOND,
    MAX_REQUEST_BYTES,
)

PER_SECOND = "per second"


@dataclass(frozen=True)
class Quota:
    """One per-API quota."""

    name: str
    """The emulator's ``--quota`` name."""
    measures: str
    limit: float
    past_it: str
    """What happens past it."""
    unit: str = PER_SECOND


QUOTAS = (
    Quota("connect-rate", "connection requests", MAX_CONNECTS_PER_SECOND, "connects are throttled"),
    Quota(
        "inbound-events",
        "inbound events",
        MAX_INBOUND_EVENTS_PER_SECOND,
        "publishes are throttled",
    ),
    Quota(
        "outbound-messages",
        "outbound messages in 5 KB units",
        MAX_OUTBOUND_UNITS_PER_SECOND,
        "deliveries are throttled",
    ),
    Quota(
        "request-bytes",
        "bytes in the largest publish request",
        MAX_REQUEST_BYTES,
        "the publish is refused as too large",
        unit="bytes",
    ),
)


@dataclass(frozen=True)
class Peaks:
    """The four figures the quotas limit, in :data:`QUOTAS` order."""

    connects_per_s: float
    inbound_events_per_s: float
    outbound_units_per_s: float
    request_bytes: float

    def values(self) -> tuple[float, float, float, float]:
        return (
            self.connects_per_s,
            self.inbound_events_per_s,
            self.outbound_units_per_s,
            self.request_bytes,
        )


def quota_uses(peaks: Peaks, peaks_at: tuple[str | None, ...] = ()) -> list[QuotaUse]:
    """Each quota with its peak and the headroom left (``peaks_at``: when each peak was,
    in :data:`QUOTAS` order; none for a forecast)."""
    times = (*peaks_at, *(None for _ in QUOTAS))
    return [
        {
            "quota": quota.name,
            "measures": quota.measures,
            "limit": quota.limit,
            "unit": quota.unit,
            "peak": peak,
            "peak_at": at,
            "headroom": 1.0 - peak / quota.limit,
            "exceeded": peak > quota.limit,
        }
        for quota, peak, at in zip(QUOTAS, peaks.values(), times, strict=False)
    ]


def smallest_headroom(uses: list[QuotaUse]) -> float:
    """The share left of the quota nearest its limit (1 with no quota)."""
    return min((use["headroom"] for use in uses), default=1.0)


def exceeded_sentences(uses: list[QuotaUse], *, forecast: bool = False) -> list[str]:
    """One sentence per quota over its limit: after a run, what its peak was (and
    when); before it (``forecast``), what the options would make."""
    sentences = []
    for use in uses:
        if not use["exceeded"]:
            continue
        quota = next(quota for quota in QUOTAS if quota.name == use["quota"])
        per = " a second" if quota.unit == PER_SECOND else ""
        limit = f"{_whole(quota.limit)}{per}"
        if forecast:
            start = f"the options would make about {_whole(use['peak'])} {quota.measures}{per}"
        else:
            when = f" (the second from {use['peak_at']})" if use["peak_at"] else ""
            start = f"the run peaked at {_whole(use['peak'])} {quota.measures}{per}{when}"
        sentences.append(
            f"{start}, over AppSync's default {quota.name} quota of {limit}: past it, "
            f"{quota.past_it}"
        )
    return sentences


def _whole(value: float) -> str:
    return f"{value:,.0f}" if value >= 10 else format_number(round(value, 2))
