"""The summary's ``usage`` section: what was metered, the quotas, and what it would cost
(docs/usage-and-cost.md).

Each billed quantity is multiplied by its price from the price table
(:mod:`harness.measure.prices`): connection requests, subscription requests, inbound
events and outbound messages (both in 5 KB units) at the Event API operation price,
connection minutes at the connection-minute price. The projection is the run's
average cost rate sustained for an hour, a day and a 730-hour month. List prices: no
free tier, no data transfer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import cast

from harness.measure.prices import PriceTable
from harness.measure.quota import Peaks, exceeded_sentences, quota_uses, smallest_headroom
from harness.measure.schema import CostEstimate, CostLine, Projection, UsageCounts, UsageSection
from harness.measure.texts import iso_utc
from harness.measure.usage import UsageAccount

BILLED = (
    ("connection_requests", "operation"),
    ("subscription_requests", "operation"),
    ("inbound_units", "operation"),
    ("outbound_units", "operation"),
    ("connection_minutes", "connection_minute"),
)
"""Each billed quantity of :class:`UsageCounts`, and the name of its price."""
HOUR_S = 3600.0
DAY_S = 24 * HOUR_S
MONTH_S = 730 * HOUR_S
"""AWS's pricing examples take a month as 730 hours."""
_DIGITS = 12
"""Dollars are rounded to this many decimals (float noise, not a figure)."""


def usage_section(account: UsageAccount, duration_s: float, prices: PriceTable) -> UsageSection:
    """The ``usage`` section of a run that lasted ``duration_s``."""
    counts: UsageCounts = {
        "connection_requests": account.counts["connection_requests"],
        "subscription_requests": account.counts["subscription_requests"],
        "publish_requests": account.counts["publish_requests"],
        "inbound_events": account.counts["inbound_events"],
        "inbound_units": account.counts["inbound_units"],
        "outbound_messages": account.counts["outbound_messages"],
        "outbound_units": account.counts["outbound_units"],
        "connection_minutes": round(account.connection_ms / 60_000, 6),
    }
    connects, inbound, outbound = account.peaks()
    peaks = Peaks(connects.value, inbound.value, outbound.value, account.largest_request_bytes)
    times = tuple(
        None if p.second is None else iso_utc(p.second) for p in (connects, inbound, outbound)
    )
    uses = quota_uses(peaks, times)
    return {
        "counts": counts,
        "quotas": uses,
        "headroom": smallest_headroom(uses),
        "exceeded": exceeded_sentences(uses),
        "cost": cost_estimate(counts, duration_s, prices),
    }


def cost_estimate(counts: UsageCounts, duration_s: float, prices: PriceTable) -> CostEstimate:
    """Every billed quantity at its price, the total, and the projection."""
    lines: list[CostLine] = []
    quantities = cast("Mapping[str, float]", counts)
    for item, price_name in BILLED:
        price = prices.prices[price_name]
        quantity = quantities[item]
        usd = quantity * price["usd"] / price["per"]
        lines.append({"item": item, "quantity": quantity, "price": price_name, "usd": _usd(usd)})
    total = _usd(sum(line["usd"] for line in lines))
    return {
        "lines": lines,
        "total_usd": total,
        "projection": projection(total, duration_s),
        "prices": prices.info(),
    }


def projection(total_usd: float, duration_s: float) -> Projection | None:
    """``total_usd`` spent over ``duration_s``, at that rate for an hour, a day, a month."""
    if duration_s <= 0:
        return None
    rate = total_usd / duration_s
    return {
        "hour_usd": _usd(rate * HOUR_S),
        "day_usd": _usd(rate * DAY_S),
        "month_usd": _usd(rate * MONTH_S),
    }


def _usd(value: float) -> float:
    return round(value, _DIGITS)
