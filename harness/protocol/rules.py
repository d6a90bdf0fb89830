"""Operation ids and event batches (docs/protocol.md#messages, #channels)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from harness.errors import MessageValidationError
from harness.protocol._text import event_json, short
from harness.protocol.constants import MAX_EVENT_BYTES, MAX_EVENTS_PER_REQUEST, METERED_UNIT_BYTES

_OPERATION_ID = re.compile(r"[A-Za-z0-9_+\-]{1,128}")


def validate_operation_id(op_id: str) -> str:
    """Check an operation id against ``[a-zA-Z0-9-_+]{1,128}`` (docs/protocol.md#messages); returns
    it."""
    if not _OPERATION_ID.fullmatch(op_id):
        raise MessageValidationError(
            "id", "must be 1 to 128 characters of letters, digits, '-', '_' or '+'"
        )
    return op_id


def validate_events(events: Sequence[str]) -> None:
    """Check a publish batch: 1 to 5 events, each a string holding valid JSON
    (docs/protocol.md#messages).

    The 240 KB size limit is *not* checked here: AppSync reports an oversized
    event per event in ``failed`` (docs/protocol.md#http-publish); see :func:`event_too_large`.
    """
    if not 1 <= len(events) <= MAX_EVENTS_PER_REQUEST:
        raise MessageValidationError(
            "events", f"must hold 1 to {MAX_EVENTS_PER_REQUEST} events, not {len(events)}"
        )
    for index, event in enumerate(events):
        if not isinstance(event, str):
            raise MessageValidationError(f"events[{index}]", "must be a string of JSON")
        try:
            event_json.decode(event)
        except (ValueError, RecursionError) as exc:
            raise MessageValidationError(
                f"events[{index}]", f"is not valid JSON ({short(exc)})"
            ) from exc


def event_too_large(event: str) -> bool:
    """True when ``event`` is over the 240 KB per-event limit (UTF-8 bytes)."""
    # Cheap bound first: a str of n code points is at most 4n UTF-8 bytes.
    if len(event) * 4 <= MAX_EVENT_BYTES:
        return False
    return len(event.encode("utf-8", "surrogatepass")) > MAX_EVENT_BYTES


def metered_units(size_bytes: int) -> int:
    """The 5 KB units a message of ``size_bytes`` counts for: at least one
    (docs/protocol.md#channels)."""
    return max(1, -(-size_bytes // METERED_UNIT_BYTES))
