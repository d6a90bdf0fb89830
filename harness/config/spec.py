"""The ``NAME[:key=value,...]`` grammar shared by fault specs and retry policies.

Durations take a unit (``250ms``, ``2s``, ``1m``) or are seconds. Errors are
:class:`ConfigurationError` naming the option and the key that was wrong.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal

from harness.errors import ConfigurationError

_DURATION = re.compile(r"(?P<number>\d+(?:\.\d+)?|\.\d+)\s*(?P<unit>ms|s|m)?")
_UNIT_SECONDS = {"ms": Decimal("0.001"), "s": Decimal(1), "m": Decimal(60), None: Decimal(1)}


def split_spec(text: str, option: str) -> tuple[str, dict[str, str]]:
    """``"kind:a=1,b=2"`` to ``("kind", {"a": "1", "b": "2"})``; the name is lower-cased."""
    name, _, params_text = text.strip().partition(":")
    params: dict[str, str] = {}
    for item in params_text.split(","):
        if not item.strip():
            continue
        key, equals, value = item.partition("=")
        key = key.strip().lower()
        if not equals or not key or not value.strip():
            raise ConfigurationError(
                option, f"expected key=value, got {item.strip()!r} in {text!r}"
            )
        if key in params:
            raise ConfigurationError(option, f"{key}= is given twice in {text!r}")
        params[key] = value.strip()
    return name.strip().lower(), params


def format_duration(seconds: float) -> str:
    """A spelling the grammar reads back to the same float: ``0.25`` -> ``250ms``, ``2`` -> ``2s``.

    Decimal arithmetic on the float's shortest repr, so no digit is lost or invented."""
    exact = Decimal(repr(float(seconds)))
    if exact and exact < 1:
        return _plain(exact * 1000) + "ms"
    return _plain(exact) + "s"


def format_number(value: float) -> str:
    """A number as the grammar reads it back exactly (no exponent)."""
    return _plain(Decimal(repr(float(value))))


def _plain(number: Decimal) -> str:
    return format(number.normalize(), "f")


class SpecParams:
    """Typed access to a spec's parameters, with errors naming the key."""

    def __init__(self, params: dict[str, str], text: str, option: str) -> None:
        self._params = params
        self._text = text
        self._option = option

    def reject_unknown(self, allowed: frozenset[str], name: str) -> None:
        """Refuse keys outside ``allowed``, listing the ones ``name`` takes."""
        unknown = sorted(set(self._params) - allowed)
        if unknown:
            raise ConfigurationError(
                self._option,
                f"{name} does not take {', '.join(unknown)} (it takes "
                f"{', '.join(sorted(allowed))})",
            )

    def fail(self, key: str, expected: str) -> ConfigurationError:
        return ConfigurationError(
            self._option, f"{key}={self._params[key]!r} must be {expected} (in {self._text!r})"
        )

    def optional_duration(self, key: str) -> float | None:
        if key not in self._params:
            return None
        match = _DURATION.fullmatch(self._params[key])
        if not match:
            raise self.fail(key, "a duration such as 500ms, 2s, 1.5m or 3")
        seconds = float(Decimal(match["number"]) * _UNIT_SECONDS[match["unit"]])
        if not math.isfinite(seconds):
            raise self.fail(key, "a finite duration")
        return seconds

    def duration(self, key: str, default: float) -> float:
        value = self.optional_duration(key)
        return default if value is None else value

    def number(self, key: str, expected: str) -> float | None:
        if key not in self._params:
            return None
        try:
            value = float(self._params[key])
        except ValueError:
            raise self.fail(key, expected) from None
        if value != value or value in (float("inf"), float("-inf")):
            raise self.fail(key, expected)
        return value

    def fraction(self, key: str) -> float:
        value = self.number(key, "a number from 0 to 1")
        if value is None:
            return 1.0
        if not 0.0 <= value <= 1.0:
            raise self.fail(key, "a number from 0 to 1")
        return value

    def optional_positive(self, key: str) -> float | None:
        value = self.number(key, "a positive number")
        if value is not None and value <= 0:
            raise self.fail(key, "a positive number")
        return value

    def integer(self, key: str, expected: str) -> int | None:
        if key not in self._params:
            return None
        try:
            return int(self._params[key])
        except ValueError:
            raise self.fail(key, expected) from None
