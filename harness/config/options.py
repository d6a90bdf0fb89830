"""Options declared once: a flag, its default, its help and its check, in one place.

A settings dataclass declares each option as a field (:func:`option`); the
command-line parsers, config-file readers, documentation and the settings
builders all read the same :class:`OptionSpec`. A check takes the option's
raw value (command-line text, or a value from a config file) and returns the
checked value, or raises :class:`~harness.errors.ConfigurationError` naming
the option. Both the load test's options (``harness.loadtest.settings``) and
the emulator's (``harness.emulator.cli``) are declared this way.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from harness.errors import ConfigurationError

Check = Callable[[str, Any], Any]
"""``check(flag, raw value) -> checked value``; raises ConfigurationError."""


@dataclass(frozen=True, slots=True)
class OptionSpec:
    """One option: its flag, default, help and check."""

    flag: str
    default: Any
    help: str
    check: Check
    metavar: str | None = None
    secret: bool = False
    """Kept out of ``repr``, logs and reports; a password field in the web UI."""
    web_ui: bool = True
    repeatable: bool = False
    """Given once per value (``--slo A --slo B``); the check receives the list."""
    in_summary: bool = False
    """Shown in the run's settings (summary.json, the start log line)."""

    @property
    def dest(self) -> str:
        return self.flag.lstrip("-").replace("-", "_")

    @property
    def env_var(self) -> str:
        return "LOCUST_" + self.dest.upper()

    @property
    def is_flag(self) -> bool:
        """A switch without a value (``--tls``)."""
        return isinstance(self.default, bool)


_SPEC = "option"


def option(
    flag: str,
    default: Any,
    help: str,
    check: Check,
    *,
    metavar: str | None = None,
    secret: bool = False,
    web_ui: bool = True,
    repeatable: bool = False,
    in_summary: bool = False,
) -> Any:
    """A dataclass field that is also an option (its spec is in the field's metadata)."""
    spec = OptionSpec(
        flag, default, help, check, metavar, secret, web_ui, repeatable, in_summary
    )  # fmt: skip
    return dataclasses.field(metadata={_SPEC: spec}, repr=not secret)


def option_fields(settings_class: type) -> Iterator[tuple[str, OptionSpec]]:
    """``(field name, spec)`` of every field of ``settings_class`` that is an option."""
    for field in dataclasses.fields(settings_class):
        spec = field.metadata.get(_SPEC)
        if spec is not None:
            yield field.name, spec


# -- checks ---------------------------------------------------------------------------------


def text(option: str, value: Any) -> str:
    """Any text, stripped; empty when not given."""
    return str(value or "").strip()


def optional_text(option: str, value: Any) -> str | None:
    """Text, or None when empty."""
    return text(option, value) or None


def int_range(low: int, high: int) -> Check:
    """A whole number from ``low`` to ``high``."""

    def check(option: str, value: Any) -> int:
        if isinstance(value, bool):
            raise ConfigurationError(option, f"must be a whole number, not {value!r}")
        try:
            number = int(str(value).strip())
        except ValueError:
            raise ConfigurationError(option, f"must be a whole number, not {value!r}") from None
        if not low <= number <= high:
            raise ConfigurationError(option, f"must be between {low} and {high}, not {number}")
        return number

    return check


def optional_int(option: str, value: Any) -> int | None:
    """A whole number, or None when not given."""
    if value is None or value == "":
        return None
    number: int = int_range(-(2**63), 2**63 - 1)(option, value)
    return number


def _number(option: str, value: Any) -> float:
    if isinstance(value, bool):
        raise ConfigurationError(option, f"must be a number, not {value!r}")
    try:
        return float(str(value).strip())
    except ValueError:
        raise ConfigurationError(option, f"must be a number, not {value!r}") from None


def positive_float(option: str, value: Any) -> float:
    """A finite number above 0."""
    number = _number(option, value)
    if not (math.isfinite(number) and number > 0):
        raise ConfigurationError(option, f"must be a finite number above 0, not {value!r}")
    return number


def non_negative_float(option: str, value: Any) -> float:
    """A finite number of at least 0."""
    number = _number(option, value)
    if not (math.isfinite(number) and number >= 0):
        raise ConfigurationError(option, f"must be a finite number of at least 0, not {value!r}")
    return number


def choice(choices: tuple[str, ...]) -> Check:
    """One of ``choices``, in any case; returned as written in ``choices``."""
    by_folded = {name.casefold(): name for name in choices}

    def check(option: str, value: Any) -> str:
        chosen = by_folded.get(str(value).strip().casefold())
        if chosen is None:
            raise ConfigurationError(option, f"must be one of {', '.join(choices)}, not {value!r}")
        return chosen

    return check


def boolean(option: str, value: Any) -> bool:
    """A switch: true or false (a config file must not give it as text)."""
    if not isinstance(value, bool):
        raise ConfigurationError(option, f"must be true or false, not {value!r}")
    return value


def strings(option: str, value: Any) -> tuple[str, ...]:
    """A repeatable option's values: one text or a list of texts."""
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not all(isinstance(item, str) for item in items):
        raise ConfigurationError(option, f"must be a string or a list of strings, not {value!r}")
    return tuple(items)
