"""Check decoded JSON against the harness's TypedDicts (harness/measure/schema.py), the way
mypy checks the code that builds it: required and optional keys, no unknown key, and
the type of every value."""

from __future__ import annotations

import types
import typing
from typing import Any, Literal, NotRequired, Required, Union, get_args, get_origin


def mismatches(value: Any, expected: Any, where: str = "$") -> list[str]:
    """Every place where ``value`` does not have the type ``expected``; [] when it does."""
    origin = get_origin(expected)
    if expected is Any:
        return []
    if expected is None or expected is type(None):
        return [] if value is None else [f"{where}: {value!r} is not null"]
    if origin in (Required, NotRequired):
        return mismatches(value, get_args(expected)[0], where)
    if origin in (Union, types.UnionType):
        options = get_args(expected)
        if any(not mismatches(value, option, where) for option in options):
            return []
        return [f"{where}: {value!r} is none of {options}"]
    if origin is Literal:
        return [] if value in get_args(expected) else [f"{where}: {value!r} not in {expected}"]
    if typing.is_typeddict(expected):
        return _typed_dict(value, expected, where)
    if origin is list:
        if not isinstance(value, list):
            return [f"{where}: {type(value).__name__} is not a list"]
        (item,) = get_args(expected)
        return [
            m for index, v in enumerate(value) for m in mismatches(v, item, f"{where}[{index}]")
        ]
    if origin is dict:
        if not isinstance(value, dict):
            return [f"{where}: {type(value).__name__} is not an object"]
        key_type, item = get_args(expected)
        found = []
        for key, v in value.items():
            found += mismatches(key, key_type, f"{where} key {key!r}")
            found += mismatches(v, item, f"{where}.{key}")
        return found
    if expected is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return [] if ok else [f"{where}: {value!r} is not a number"]
    if expected is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
        return [] if ok else [f"{where}: {value!r} is not a whole number"]
    if isinstance(expected, type):
        ok = isinstance(value, expected)
        return [] if ok else [f"{where}: {value!r} is not a {expected.__name__}"]
    raise TypeError(f"cannot check {expected!r}")


def _typed_dict(value: Any, expected: Any, where: str) -> list[str]:
    if not isinstance(value, dict):
        return [f"{where}: {type(value).__name__} is not an object ({expected.__name__})"]
    hints = typing.get_type_hints(expected, include_extras=True)
    found = [f"{where}: missing {key!r}" for key in expected.__required_keys__ - value.keys()]
    found += [f"{where}: unknown key {key!r}" for key in value.keys() - hints.keys()]
    for key, item in value.items():
        if key in hints:
            found += mismatches(item, hints[key], f"{where}.{key}")
    return found
