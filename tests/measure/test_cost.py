"""The price table, the cost estimate and the quotas (harness/measure/prices.py, cost.py,
quota.py): every dollar figure here is worked out by hand from the prices in the table."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.summaries import STARTED, usage_of
from support.typed import mismatches

from harness.errors import ConfigurationError
from harness.measure.cost import MONTH_S, cost_estimate, projection
from harness.measure.prices import BUILT_IN, PRICE_NAMES, built_in_prices, load_prices
from harness.measure.quota import QUOTAS, Peaks, exceeded_sentences, quota_uses
from harness.measure.schema import UsageCounts, UsageSection
from harness.measure.texts import iso_utc

PRICES = """\
currency = "USD"
region = "eu-west-1"
read_on = "2026-01-02"
notes = "test prices"

[prices.operation]
usd = 2.5
per = 1_000_000
unit = "Event API operation"
source = "https://example.com/ops"
confirmed = true
note = ""

[prices.connection_minute]
usd = 0.5
per = 1_000
unit = "connection minute"
source = "https://example.com/minutes"
confirmed = false
note = "made up"
"""
COUNTS: UsageCounts = {
    "connection_requests": 1_000,
    "subscription_requests": 3_000,
    "publish_requests": 50_000,
    "inbound_events": 100_000,
    "inbound_units": 120_000,
    "outbound_messages": 2_000_000,
    "outbound_units": 2_400_000,
    "connection_minutes": 90_000.0,
}


def price_file(tmp_path: Path, text: str = PRICES) -> str:
    path = tmp_path / "prices.toml"
    path.write_text(text, encoding="utf-8")
    return str(path)


# -- the cost estimate ---------------------------------------------------------------------


def test_the_cost_is_each_quantity_at_its_price_worked_out_by_hand(tmp_path: Path) -> None:
    prices = load_prices(price_file(tmp_path))
    estimate = cost_estimate(COUNTS, 3600.0, prices)
    # operations at $2.50 a million: 1,000 + 3,000 + 120,000 + 2,400,000 = 2,524,000
    # -> $0.0025 + $0.0075 + $0.30 + $6.00; minutes at $0.50 a thousand: 90,000 -> $45
    lines = [
        (line["item"], line["quantity"], line["price"], line["usd"]) for line in estimate["lines"]
    ]
    assert lines == [
        ("connection_requests", 1_000, "operation", pytest.approx(0.0025)),
        ("subscription_requests", 3_000, "operation", pytest.approx(0.0075)),
        ("inbound_units", 120_000, "operation", pytest.approx(0.30)),
        ("outbound_units", 2_400_000, "operation", pytest.approx(6.00)),
        ("connection_minutes", 90_000.0, "connection_minute", pytest.approx(45.00)),
    ]  # fmt: skip
    assert estimate["total_usd"] == pytest.approx(51.31)
    # an hour-long run: its hour is its total; a day is 24 of them; a month 730
    assert estimate["projection"] == {
        "hour_usd": pytest.approx(51.31),
        "day_usd": pytest.approx(51.31 * 24),
        "month_usd": pytest.approx(51.31 * 730),
    }
    assert estimate["prices"]["origin"] == str(tmp_path / "prices.toml")
    assert estimate["prices"]["region"] == "eu-west-1"
    assert estimate["prices"]["prices"]["connection_minute"]["confirmed"] is False


def test_the_built_in_prices_are_awss_published_ones() -> None:
    """$1.00 a million Event API operations, $0.08 a million connection minutes,
    us-east-1, with their source and the date they were read."""
    prices = built_in_prices()
    assert prices.origin == BUILT_IN == "built-in"
    assert (prices.region, prices.currency, prices.read_on) == ("us-east-1", "USD", "2026-12-05")
    operation, minute = prices.prices["operation"], prices.prices["connection_minute"]
    assert (operation["usd"], operation["per"], operation["confirmed"]) == (1.0, 1_000_000, True)
    assert (minute["usd"], minute["per"], minute["confirmed"]) == (0.08, 1_000_000, False)
    for price in (operation, minute):
        assert price["source"].startswith("https://aws.amazon.com/appsync/pricing/")
        assert price["note"]
    assert "free tier" in prices.notes.lower()
    assert load_prices("") == prices


def test_a_run_at_the_built_in_prices_by_hand() -> None:
    """10 connections held 15 s; 1,001 events of 200 bytes, each delivered twice, over
    15 s: 10 + 1,001 + 2,002 operations at $1 a million, 2.5 connection minutes at
    $0.08 a million."""
    usage = usage_of(connects=10, publishes=1001, fan_out=2, open_s=15.0, duration_s=15.0)
    counts = usage["counts"]
    assert (counts["connection_requests"], counts["inbound_units"], counts["outbound_units"]) == (
        10,
        1001,
        2002,
    )
    assert counts["connection_minutes"] == 2.5
    total = (10 + 1001 + 2002) * 1.00 / 1e6 + 2.5 * 0.08 / 1e6
    assert usage["cost"]["total_usd"] == pytest.approx(total)
    assert usage["cost"]["projection"] == {
        "hour_usd": pytest.approx(total * 3600 / 15),
        "day_usd": pytest.approx(total * 86400 / 15),
        "month_usd": pytest.approx(total * 730 * 3600 / 15),
    }
    assert mismatches(usage, UsageSection) == []


def test_a_run_of_no_time_has_no_projection() -> None:
    assert projection(1.0, 0.0) is None
    assert projection(2.0, MONTH_S)["month_usd"] == pytest.approx(2.0)  # type: ignore[index]


# -- the price file ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (("usd = 2.5", 'usd = "cheap"'), "[prices.operation] usd must be a number, not 'cheap'"),
        (("usd = 2.5", "usd = -1"), "[prices.operation] usd must be a number of at least 0"),
        (("usd = 2.5", "usd = nan"), "usd must be a number of at least 0, not nan"),
        (("usd = 2.5", "usd = true"), "usd must be a number, not True"),
        (("per = 1_000_000", "per = 0"), "per must be a whole number above 0, not 0"),
        (("per = 1_000_000", "per = 1.5"), "per must be a whole number, not 1.5"),
        (("confirmed = true", 'confirmed = "yes"'), "confirmed must be true or false"),
        (('region = "eu-west-1"\n', ""), "the table must have the keys currency, region"),
        (('notes = "test prices"', 'notes = "x"\nvat = 0.2'), "vat unknown"),
        (("[prices.connection_minute]", "[prices.minute]"), "connection_minute missing"),
        (('note = "made up"', 'note = "made up"\n[prices.egress]\nusd = 1'), "egress unknown"),
        (("[prices.operation]", "[prices.operation]\nextra = 1"), "extra unknown"),
        (("currency =", "currency"), "is not valid TOML"),
    ],
)
def test_a_bad_price_file_says_what_is_wrong(
    tmp_path: Path, change: tuple[str, str], reason: str
) -> None:
    path = price_file(tmp_path, PRICES.replace(*change, 1))
    with pytest.raises(ConfigurationError) as caught:
        load_prices(path)
    assert caught.value.option == "--price-file"
    assert caught.value.reason.startswith(path), caught.value.reason
    assert reason in caught.value.reason, caught.value.reason


def test_a_missing_price_file_is_named(tmp_path: Path) -> None:
    missing = str(tmp_path / "nowhere.toml")
    with pytest.raises(ConfigurationError) as caught:
        load_prices(missing)
    assert caught.value.option == "--price-file"
    assert caught.value.reason == f"cannot read {missing}: No such file or directory"


def test_the_built_in_table_is_a_valid_price_file(tmp_path: Path) -> None:
    built_in = Path(__file__).parents[2] / "harness" / "measure" / "appsync_events_prices.toml"
    copied = price_file(tmp_path, built_in.read_text(encoding="utf-8"))
    assert load_prices(copied).prices == built_in_prices().prices
    assert set(built_in_prices().prices) == set(PRICE_NAMES)


# -- the quotas ----------------------------------------------------------------------------


def test_peaks_against_the_quotas_and_what_is_said_when_one_is_exceeded() -> None:
    peaks = Peaks(2_001, 5_000, 1_000_000, 1_300_000)
    at = iso_utc(STARTED)
    uses = quota_uses(peaks, (at, at, at))
    assert [(u["quota"], u["limit"], u["peak"], u["exceeded"]) for u in uses] == [
        ("connect-rate", 2_000, 2_001, True),
        ("inbound-events", 10_000, 5_000, False),
        ("outbound-messages", 1_000_000, 1_000_000, False),  # at the limit is within it
        ("request-bytes", 1_258_291, 1_300_000, True),
    ]
    assert [u["headroom"] for u in uses] == pytest.approx(
        [-0.0005, 0.5, 0.0, 1 - 1_300_000 / 1_258_291]
    )
    assert [u["peak_at"] for u in uses] == [at, at, at, None]
    after = exceeded_sentences(uses)
    assert after == [
        f"the run peaked at 2,001 connection requests a second (the second from {at}), over "
        "AppSync's default connect-rate quota of 2,000 a second: past it, connects are throttled",
        "the run peaked at 1,300,000 bytes in the largest publish request, over AppSync's "
        "default request-bytes quota of 1,258,291: past it, the publish is refused as too large",
    ]
    before = exceeded_sentences(quota_uses(peaks), forecast=True)
    assert before[0].startswith("the options would make about 2,001 connection requests a second")
    assert [quota.name for quota in QUOTAS] == [use["quota"] for use in uses]


def test_a_usage_section_names_the_quota_a_run_went_over() -> None:
    usage = usage_of(connects=2_001, open_s=1.0)
    assert usage["quotas"][0]["exceeded"] and usage["headroom"] == pytest.approx(-0.0005)
    assert len(usage["exceeded"]) == 1 and "connect-rate quota of 2,000" in usage["exceeded"][0]
    quiet = usage_of()
    assert quiet["headroom"] == 1.0 and quiet["exceeded"] == []
    assert all(use["peak_at"] is None for use in quiet["quotas"])
