"""Reading what a server sent back: a JSON object, and the message of its first error."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


def json_object(text: str | bytes) -> dict[str, Any]:
    """``text`` decoded as a JSON object; empty when it is not one."""
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def error_message(message: Mapping[str, Any]) -> str | None:
    """The ``message`` of the first entry of ``errors`` (AppSync's error text, whole);
    None without one."""
    errors = message.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        return str(errors[0].get("message", ""))
    return None


def error_text(body: str) -> str:
    """The error text of an HTTP error's body: its first error's message, else the body."""
    message = error_message(json_object(body))
    return body if message is None else message
