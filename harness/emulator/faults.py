"""Fault injection: fault specs, the set of faults in force, and seeded decisions.

A spec is ``KIND[:key=value[,key=value...]]``, for example
``drop:fraction=0.5,code=4000`` or ``refuse:status=503,duration=5s``. Every
kind takes ``after=`` (wait before it starts) and ``duration=`` (how long it
lasts once started; without it a fault lasts until removed). Durations take a
unit (``250ms``, ``2s``, ``1m``) or are seconds.

=================  ==========================================================
kind               effect and its own keys
=================  ==========================================================
drop               close connections abruptly (TCP reset, no close frame), or
                   with a close frame when ``code=`` is given.
                   ``fraction=F``: that share of the open connections, once;
                   ``rate=R``: every connection, at random, R times a second
                   on average, while the fault lasts.
disconnect-all     a mass disconnect: every open connection at once (``code=``)
refuse             refuse new WebSocket handshakes: with HTTP ``status=``
                   (default 503), or, with ``error=TYPE``, accept the upgrade
                   and answer with a ``connection_error`` of that errorType
delay-acks         hold acknowledgements for ``delay=``; ``ack=`` one of
                   connection, subscribe, unsubscribe, publish, all (default)
withhold-ka        send no ``ka`` keep-alive messages
throttle           refuse a ``fraction=`` (default 1) of publishes with
                   ``LimitExceededError`` (HTTP 429 over HTTP)
drop-deliveries    silently drop a ``fraction=`` of ``data`` deliveries
delay-deliveries   delay a ``fraction=`` (default 1) of deliveries by ``delay=``
broadcast-error    answer a ``fraction=`` (default 1) of deliveries with a
                   ``broadcast_error`` (``MessageProcessingError``) for that
                   subscription instead of the event
handler-error      fail a ``fraction=`` (default 1) of handler invocations
                   (onPublish, onSubscribe) as a handler that throws does;
                   a namespace without a handler file fails as if it had one
=================  ==========================================================

Every random choice draws from one :class:`random.Random` seeded with
``--seed``, so a run that makes the same requests in the same order sees the
same faults. Without a seed one is drawn and reported, so a run can be replayed.
"""

from __future__ import annotations

import random
import re
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from harness.config.spec import SpecParams, split_spec
from harness.errors import ConfigurationError


class FaultKind(StrEnum):
    DROP = "drop"
    DISCONNECT_ALL = "disconnect-all"
    REFUSE = "refuse"
    DELAY_ACKS = "delay-acks"
    WITHHOLD_KA = "withhold-ka"
    THROTTLE = "throttle"
    DROP_DELIVERIES = "drop-deliveries"
    DELAY_DELIVERIES = "delay-deliveries"
    BROADCAST_ERROR = "broadcast-error"
    HANDLER_ERROR = "handler-error"


class AckKind(StrEnum):
    CONNECTION = "connection"
    SUBSCRIBE = "subscribe"
    UNSUBSCRIBE = "unsubscribe"
    PUBLISH = "publish"
    ALL = "all"


_COMMON_KEYS = frozenset({"after", "duration"})
_KEYS: dict[FaultKind, frozenset[str]] = {
    FaultKind.DROP: frozenset({"fraction", "rate", "code"}),
    FaultKind.DISCONNECT_ALL: frozenset({"code"}),
    FaultKind.REFUSE: frozenset({"status", "error"}),
    FaultKind.DELAY_ACKS: frozenset({"delay", "ack"}),
    FaultKind.WITHHOLD_KA: frozenset(),
    FaultKind.THROTTLE: frozenset({"fraction"}),
    FaultKind.DROP_DELIVERIES: frozenset({"fraction"}),
    FaultKind.DELAY_DELIVERIES: frozenset({"delay", "fraction"}),
    FaultKind.BROADCAST_ERROR: frozenset({"fraction"}),
    FaultKind.HANDLER_ERROR: frozenset({"fraction"}),
}
_ERROR_TYPE = re.compile(r"[A-Za-z][A-Za-z0-9]{0,63}")


def _sendable_close_code(code: int) -> bool:
    """Codes an endpoint may send in a close frame (RFC 6455 §7.4, IANA registry)."""
    return code in (1000, 1001, 1002, 1003) or 1007 <= code <= 1014 or 3000 <= code <= 4999


@dataclass(frozen=True)
class FaultSpec:
    """One parsed fault; ``text`` is the spec as written."""

    kind: FaultKind
    text: str
    after_s: float = 0.0
    duration_s: float | None = None
    fraction: float = 1.0
    rate_per_s: float | None = None
    close_code: int | None = None
    status: int = 503
    error_type: str | None = None
    delay_s: float = 0.0
    ack: AckKind = AckKind.ALL

    @property
    def one_shot(self) -> bool:
        """Applied once when it starts (a drop of a fraction, a mass disconnect)."""
        return self.kind is FaultKind.DISCONNECT_ALL or (
            self.kind is FaultKind.DROP and self.rate_per_s is None
        )

    @classmethod
    def parse(cls, text: str, *, option: str = "--fault") -> FaultSpec:
        """Parse ``KIND[:key=value,...]``; a bad spec raises :class:`ConfigurationError`."""
        kind_text, params = split_spec(text, option)
        try:
            kind = FaultKind(kind_text)
        except ValueError:
            kinds = ", ".join(kind.value for kind in FaultKind)
            raise ConfigurationError(
                option, f"unknown fault kind {kind_text!r} in {text!r}; choose one of {kinds}"
            ) from None
        reader = _ParamReader(params, text, option)
        reader.reject_unknown(_KEYS[kind] | _COMMON_KEYS, kind.value)
        spec = cls(
            kind=kind,
            text=text.strip(),
            after_s=reader.duration("after", 0.0),
            duration_s=reader.optional_duration("duration"),
            fraction=reader.fraction("fraction"),
            rate_per_s=reader.optional_positive("rate"),
            close_code=reader.close_code("code"),
            status=reader.status("status"),
            error_type=reader.error_type("error"),
            delay_s=reader.duration("delay", 0.0),
            ack=reader.ack("ack"),
        )
        if kind is FaultKind.DROP and spec.rate_per_s is not None and "fraction" in params:
            raise ConfigurationError(option, f"drop takes fraction= or rate=, not both: {text!r}")
        if kind in (FaultKind.DELAY_ACKS, FaultKind.DELAY_DELIVERIES) and "delay" not in params:
            raise ConfigurationError(option, f"{kind.value} needs delay=, e.g. delay=500ms")
        if kind is FaultKind.REFUSE and "status" in params and "error" in params:
            raise ConfigurationError(option, f"refuse takes status= or error=, not both: {text!r}")
        return spec


class _ParamReader(SpecParams):
    """The fault-specific parameters."""

    def close_code(self, key: str) -> int | None:
        expected = "a close code a server may send (1000-1003, 1007-1014 or 3000-4999)"
        code = self.integer(key, expected)
        if code is not None and not _sendable_close_code(code):
            raise self.fail(key, expected)
        return code

    def status(self, key: str) -> int:
        status = self.integer(key, "an HTTP error status from 400 to 599")
        if status is None:
            return 503
        if not 400 <= status <= 599:
            raise self.fail(key, "an HTTP error status from 400 to 599")
        return status

    def error_type(self, key: str) -> str | None:
        value = self._params.get(key)
        if value is not None and not _ERROR_TYPE.fullmatch(value):
            raise self.fail(key, "an errorType name such as LimitExceededError")
        return value

    def ack(self, key: str) -> AckKind:
        value = self._params.get(key)
        if value is None:
            return AckKind.ALL
        try:
            return AckKind(value.lower())
        except ValueError:
            raise self.fail(key, "one of " + ", ".join(kind.value for kind in AckKind)) from None


@dataclass
class ActiveFault:
    """A fault added to the emulator: when it starts and ends, and how often it fired."""

    id: int
    spec: FaultSpec
    starts_at: float
    ends_at: float | None
    applied: bool = False
    fired: int = 0

    def in_force(self, now: float) -> bool:
        return self.starts_at <= now and (self.ends_at is None or now < self.ends_at)

    def describe(self, now: float) -> dict[str, Any]:
        if now < self.starts_at:
            state = "pending"
        elif self.spec.one_shot:
            state = "applied" if self.applied else "due"
        elif self.ends_at is not None and now >= self.ends_at:
            state = "ended"
        else:
            state = "active"
        return {
            "id": self.id,
            "spec": self.spec.text,
            "kind": self.spec.kind.value,
            "state": state,
            "fired": self.fired,
            "starts_in_s": round(max(0.0, self.starts_at - now), 3),
            "ends_in_s": None if self.ends_at is None else round(max(0.0, self.ends_at - now), 3),
        }


@dataclass
class FaultSet:
    """The faults in force, and the seeded random source every fault decision draws from."""

    seed: int = field(default_factory=lambda: secrets.randbits(32))
    clock: Callable[[], float] = time.monotonic
    _faults: dict[int, ActiveFault] = field(default_factory=dict)
    _next_id: int = 1

    def __post_init__(self) -> None:
        self.random = random.Random(self.seed)

    def add(self, spec: FaultSpec) -> ActiveFault:
        starts_at = self.clock() + spec.after_s
        ends_at = None if spec.duration_s is None else starts_at + spec.duration_s
        fault = ActiveFault(self._next_id, spec, starts_at, ends_at)
        self._faults[fault.id] = fault
        self._next_id += 1
        return fault

    def remove(self, fault_id: int) -> bool:
        return self._faults.pop(fault_id, None) is not None

    def clear(self) -> int:
        count = len(self._faults)
        self._faults.clear()
        return count

    def __iter__(self) -> Iterator[ActiveFault]:
        return iter(list(self._faults.values()))

    def active(self, *kinds: FaultKind) -> list[ActiveFault]:
        """The lasting faults of these kinds in force now, oldest first (cheap when
        there are none). Faults of one kind add up: each is decided on its own."""
        if not self._faults:
            return []
        now = self.clock()
        return [
            fault
            for fault in self._faults.values()
            if fault.spec.kind in kinds and not fault.spec.one_shot and fault.in_force(now)
        ]

    def fires(
        self, kind: FaultKind, applies: Callable[[FaultSpec], bool] | None = None
    ) -> ActiveFault | None:
        """Decide whether a fault of ``kind`` hits this one event: the first fault in
        force (that ``applies``, if given) whose ``fraction`` draw succeeds, counted
        as fired; None when none does."""
        for fault in self.active(kind):
            if (applies is None or applies(fault.spec)) and self.chance(fault.spec.fraction):
                fault.fired += 1
                return fault
        return None

    def due_one_shots(self) -> list[ActiveFault]:
        """One-shot faults whose time has come; each is returned once, then marked applied."""
        now = self.clock()
        due = [
            fault
            for fault in self._faults.values()
            if fault.spec.one_shot and not fault.applied and fault.starts_at <= now
        ]
        for fault in due:
            fault.applied = True
        return due

    def chance(self, fraction: float) -> bool:
        """True with probability ``fraction``; draws nothing for 0 or 1."""
        if fraction >= 1.0:
            return True
        if fraction <= 0.0:
            return False
        return self.random.random() < fraction

    def describe(self) -> list[dict[str, Any]]:
        now = self.clock()
        return [fault.describe(now) for fault in self._faults.values()]
