"""Events that can be traced end to end.

Every published event is one compact JSON object::

    {"run":"<run id>","pub":"<publisher id>","ch":"<channel>","seq":7,"t":<ns>,"pad":"..."}

- ``run`` tells this run's events from anyone else's on a shared API;
- ``pub`` and ``seq`` (per publisher and channel, from 1) let a subscriber
  count lost, duplicated and reordered events;
- ``ch`` is the concrete channel, which a ``data`` message does not carry
  (docs/protocol.md#messages), so a wildcard subscriber still knows where an event went;
- ``t`` is the *intended* send time (wall clock, ns): latency is measured from
  the schedule, not from when a late publisher got round to sending
  (coordinated omission; design: conventions);
- ``pad`` brings the event up to ``--payload-bytes``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, NamedTuple

import orjson

_BASE_FORMAT = '{{"run":{run},"pub":{pub},"ch":{ch},"seq":{seq},"t":{t}'


class TraceStamp(NamedTuple):
    """What a subscriber reads back from a traced event (a tuple: made once per delivery)."""

    run: str
    publisher: str
    channel: str
    seq: int
    intended_ns: int


PAD_CHARACTERS = {"ascii": "x", "html": "<b>&</b>"}
"""What the ``pad`` field repeats, by ``--payload-chars``: ``html`` puts ``<``, ``>`` and
``&`` in every padded event, the characters AppSync expects escaped in an IAM-signed
WebSocket publish (docs/protocol.md#sigv4). Each is one UTF-8 byte and needs no JSON
escape, so the size stays exact."""


def make_event(stamp: TraceStamp, payload_bytes: int = 0, pad: str = "x") -> str:
    """The event's JSON text, padded to exactly ``payload_bytes`` UTF-8 bytes with ``pad``
    repeated (one of :data:`PAD_CHARACTERS`) when there is room for the ``pad`` field (9
    bytes beyond the stamp); a smaller ``payload_bytes`` leaves the event unpadded."""
    head = _BASE_FORMAT.format(
        run=json.dumps(stamp.run),
        pub=json.dumps(stamp.publisher),
        ch=json.dumps(stamp.channel),
        seq=stamp.seq,
        t=stamp.intended_ns,
    )
    padding = payload_bytes - len(head.encode("utf-8")) - len(',"pad":""}')
    if padding < 0:
        return head + "}"
    filler = (pad * (padding // len(pad) + 1))[:padding]
    return f'{head},"pad":"{filler}"}}'


def read_event(event: str) -> TraceStamp | None:
    """The stamp of a traced event; ``None`` for anything else (another producer's events).

    A hot path (once per delivery): orjson parses the event in about a sixth of
    ``json.loads``'s time. It reads integers past 64 bits as floats (or refuses
    them), so what it does not read as a stamp is read again with ``json``."""
    return _stamp_of(event, orjson.loads) or _stamp_of(event, json.loads)


def _stamp_of(event: str, loads: Callable[[str], Any]) -> TraceStamp | None:
    try:
        value = loads(event)
        stamp = TraceStamp(value["run"], value["pub"], value["ch"], value["seq"], value["t"])
    except (ValueError, TypeError, KeyError):
        return None
    if (
        type(stamp.run) is str
        and type(stamp.publisher) is str
        and type(stamp.channel) is str
        and type(stamp.seq) is int
        and type(stamp.intended_ns) is int
    ):
        return stamp
    return None
