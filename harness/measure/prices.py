"""The price table of the cost estimate: AWS's AppSync Events list prices, or
``--price-file FILE`` (docs/usage-and-cost.md#the-price-table).

The built-in table is the TOML file ``appsync_events_prices.toml`` beside this module,
read with :mod:`importlib.resources`; a price file has the same format. Each price
says what it costs per how many of what, where it was read, and whether that source
states it for AppSync Events (``confirmed``). A file that does not hold exactly the
expected keys and types is refused with a :class:`ConfigurationError` naming
``--price-file``, the file and what is wrong.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from importlib import resources
from typing import Any

from harness.errors import ConfigurationError
from harness.measure.schema import Price, PriceTableInfo
from harness.measure.texts import os_error_text

OPTION = "--price-file"
BUILT_IN = "built-in"
BUILT_IN_FILE = "appsync_events_prices.toml"
PRICE_NAMES = ("operation", "connection_minute")
"""The prices the estimate needs: an Event API operation and a connection minute."""
_TOP_KEYS: dict[str, type] = {
    "currency": str,
    "region": str,
    "read_on": str,
    "notes": str,
    "prices": dict,
}
_PRICE_KEYS: dict[str, type] = {
    "usd": float,
    "per": int,
    "unit": str,
    "source": str,
    "confirmed": bool,
    "note": str,
}


@dataclass(frozen=True)
class PriceTable:
    """Prices by name, and where they came from."""

    origin: str
    """``built-in``, or the path of the price file."""
    currency: str
    region: str
    read_on: str
    notes: str
    prices: dict[str, Price]

    def info(self) -> PriceTableInfo:
        """The table as the summary shows it."""
        return {
            "origin": self.origin,
            "region": self.region,
            "currency": self.currency,
            "read_on": self.read_on,
            "prices": dict(self.prices),
        }


def built_in_prices() -> PriceTable:
    """The price table shipped with the harness."""
    text = (resources.files("harness.measure") / BUILT_IN_FILE).read_text(encoding="utf-8")
    return parse_prices(text, BUILT_IN)


def load_prices(path: str) -> PriceTable:
    """``--price-file``'s table; the built-in one when ``path`` is empty."""
    if not path:
        return built_in_prices()
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(OPTION, f"cannot read {path}: {os_error_text(exc)}") from exc
    return parse_prices(text, path)


def parse_prices(text: str, origin: str) -> PriceTable:
    """A price table from its TOML text; ``origin`` names it in errors."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _bad(origin, f"is not valid TOML ({exc})") from None
    _check_keys(data, _TOP_KEYS, origin, "the table")
    prices = data["prices"]
    missing = [name for name in PRICE_NAMES if name not in prices]
    unknown = sorted(set(prices) - set(PRICE_NAMES))
    if missing or unknown:
        raise _bad(
            origin,
            f"needs exactly the prices {', '.join(PRICE_NAMES)}"
            + (f"; {', '.join(missing)} missing" if missing else "")
            + (f"; {', '.join(unknown)} unknown" if unknown else ""),
        )
    return PriceTable(
        origin=origin,
        currency=data["currency"],
        region=data["region"],
        read_on=data["read_on"],
        notes=data["notes"],
        prices={name: _price(prices[name], origin, name) for name in PRICE_NAMES},
    )


def _price(entry: Any, origin: str, name: str) -> Price:
    where = f"[prices.{name}]"
    if not isinstance(entry, dict):
        raise _bad(origin, f"{where} must be a table")
    _check_keys(entry, _PRICE_KEYS, origin, where)
    if not (math.isfinite(entry["usd"]) and entry["usd"] >= 0):
        raise _bad(origin, f"{where} usd must be a number of at least 0, not {entry['usd']!r}")
    if entry["per"] < 1:
        raise _bad(origin, f"{where} per must be a whole number above 0, not {entry['per']!r}")
    return {
        "usd": float(entry["usd"]),
        "per": entry["per"],
        "unit": entry["unit"],
        "source": entry["source"],
        "confirmed": entry["confirmed"],
        "note": entry["note"],
    }


def _check_keys(table: dict[str, Any], expected: dict[str, type], origin: str, where: str) -> None:
    missing = [key for key in expected if key not in table]
    unknown = sorted(set(table) - set(expected))
    if missing or unknown:
        wrong = [f"{', '.join(missing)} missing"] if missing else []
        wrong += [f"{', '.join(unknown)} unknown"] if unknown else []
        raise _bad(origin, f"{where} must have the keys {', '.join(expected)}: {'; '.join(wrong)}")
    for key, kind in expected.items():
        if not _is(table[key], kind):
            raise _bad(origin, f"{where} {key} must be {_KINDS[kind]}, not {table[key]!r}")


def _is(value: Any, kind: type) -> bool:
    """Whether ``value`` is of ``kind`` as TOML gives it: a float may be written as a
    whole number; true and false are not numbers."""
    if isinstance(value, bool) or kind is bool:
        return isinstance(value, bool) and kind is bool
    return isinstance(value, int | float) if kind is float else isinstance(value, kind)


_KINDS = {
    str: "text",
    float: "a number",
    int: "a whole number",
    bool: "true or false",
    dict: "a table",
}


def _bad(origin: str, reason: str) -> ConfigurationError:
    return ConfigurationError(OPTION, f"{origin} {reason}")
