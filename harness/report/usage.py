"""The ``usage`` section in words and rows: the console's lines, and the rows that
report.html and the web UI's *Harness usage* tab show (docs/usage-and-cost.md).

One row per metered quantity: its count, its peak against the per-API quota that
limits it, and its cost at the price table's prices; then the total.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from harness.config.spec import format_number
from harness.measure.schema import CostEstimate, QuotaUse, UsageSection

Row = dict[str, Any]
USAGE_COLUMNS = [
    ("item", "Metered"),
    ("count", "Count"),
    ("peak", "Peak"),
    ("peak_of", "Peak of"),
    ("limit", "Quota"),
    ("headroom", "Headroom (%)"),
    ("usd", "Cost (USD)"),
]
"""``(key, title)`` of the usage table's columns."""
ITEMS = (
    ("connection requests", "connection_requests", "connect-rate"),
    ("subscription requests", "subscription_requests", None),
    ("publish requests", "publish_requests", "request-bytes"),
    ("inbound events", "inbound_events", "inbound-events"),
    ("inbound events, 5 KB units", "inbound_units", None),
    ("outbound messages", "outbound_messages", None),
    ("outbound messages, 5 KB units", "outbound_units", "outbound-messages"),
    ("connection minutes", "connection_minutes", None),
)
"""Each row's label, its key in ``counts`` (and in the cost lines), and its quota."""
TOTAL = "total"
MONTH_HOURS = 730


def usage_rows(usage: UsageSection) -> list[Row]:
    """The metered quantities, then the total cost."""
    counts = cast("Mapping[str, float]", usage["counts"])
    quotas = {use["quota"]: use for use in usage["quotas"]}
    costs = {line["item"]: line["usd"] for line in usage["cost"]["lines"]}
    rows = [
        _row(label, counts[key], quotas.get(quota) if quota else None, costs.get(key))
        for label, key, quota in ITEMS
    ]
    rows.append(_row(TOTAL, None, None, usage["cost"]["total_usd"]))
    return rows


def _row(item: str, count: float | None, quota: QuotaUse | None, usd: float | None) -> Row:
    return {
        "item": item,
        "count": count,
        "peak": None if quota is None else quota["peak"],
        "peak_of": None if quota is None else _peak_of(quota),
        "limit": None if quota is None else quota["limit"],
        "headroom": None if quota is None else round(quota["headroom"] * 100, 3),
        "usd": usd,
    }


def _peak_of(quota: QuotaUse) -> str:
    return "a second" if quota["unit"] == "per second" else "one request, bytes"


def usd_text(value: float) -> str:
    """Dollars: cents from a dollar up, else four significant digits (``$0.001466``)."""
    if value >= 1:
        return f"${value:,.2f}"
    return "$" + format_number(float(f"{value:.4g}"))


def price_facts(cost: CostEstimate) -> str:
    """Where the prices come from, in one sentence."""
    prices = cost["prices"]
    origin = "the built-in table" if prices["origin"] == "built-in" else prices["origin"]
    return (
        f"AWS list prices ({prices['region']}, {prices['currency']}, read {prices['read_on']}; "
        f"{origin}), no free tier"
    )


def projection_text(cost: CostEstimate) -> str:
    """The run's average cost rate sustained, or why there is none."""
    projection = cost["projection"]
    if projection is None:
        return "no projection: the run lasted no time"
    return (
        f"this load sustained: {usd_text(projection['hour_usd'])} an hour, "
        f"{usd_text(projection['day_usd'])} a day, {usd_text(projection['month_usd'])} a "
        f"month ({MONTH_HOURS} hours)"
    )


def unconfirmed_prices(cost: CostEstimate) -> list[str]:
    """The names of the prices their source does not state for AppSync Events."""
    return [name for name, price in cost["prices"]["prices"].items() if not price["confirmed"]]


def usage_view(usage: UsageSection) -> dict[str, Any]:
    """The rows, and the sentences shown beside them: the cost, the projection, the
    quotas exceeded and the notes of the unconfirmed prices."""
    cost = usage["cost"]
    return {
        "rows": usage_rows(usage),
        "cost": f"{usd_text(cost['total_usd'])} at {price_facts(cost)}",
        "projection": projection_text(cost),
        "exceeded": usage["exceeded"],
        "unconfirmed": [
            f"the {name} price: {cost['prices']['prices'][name]['note']}"
            for name in unconfirmed_prices(cost)
        ],
    }


def format_usage(usage: UsageSection) -> str:
    """The console's usage section."""
    view = usage_view(usage)
    lines = [
        "Usage: what AWS meters, counted by the harness's clients "
        "(peaks: the busiest second; quotas: AWS's defaults)",
        f"{'metered':<31}{'count':>12}{'peak':>12}  {'peak of':<19}{'quota':>12}"
        f"{'headroom':>10}{'cost':>14}",
    ]
    for row in view["rows"]:
        headroom = row["headroom"]
        lines.append(
            f"{row['item']:<31}{_cell(row['count']):>12}{_cell(row['peak']):>12}  "
            f"{row['peak_of'] or '':<19}{_cell(row['limit']):>12}"
            f"{'' if headroom is None else f'{headroom:.2f}%':>10}"
            f"{'' if row['usd'] is None else usd_text(row['usd']):>14}".rstrip()
        )
    lines.append(f"Estimated cost: {view['cost']}")
    lines.append(f"  {view['projection']}")
    unconfirmed = unconfirmed_prices(usage["cost"])
    if unconfirmed:
        lines.append(
            f"  unconfirmed for AppSync Events: the {' and '.join(unconfirmed)} price "
            "(docs/usage-and-cost.md)"
        )
    lines.extend(f"QUOTA EXCEEDED: {sentence}" for sentence in view["exceeded"])
    return "\n".join(lines)


def _cell(value: float | None) -> str:
    if value is None:
        return ""
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.3f}"
