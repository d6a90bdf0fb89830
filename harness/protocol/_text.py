"""Small text and JSON helpers shared by the protocol modules."""

from __future__ import annotations

import json


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


strict_json = json.JSONDecoder(parse_constant=_reject_constant)
"""Python's decoder, minus the NaN and Infinity it accepts and JSON does not."""
event_json = json.JSONDecoder(parse_constant=_reject_constant, parse_int=len)
"""For validating events: numbers of any length are JSON, but ``int()`` refuses
over 4,300 digits, and the value is not needed."""


def clip(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def short(exc: BaseException) -> str:
    return clip(str(exc), 80)
