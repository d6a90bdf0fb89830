"""Namespace handlers as AppSync runs them: after authorization, before the
acknowledgement and the fan-out (docs/emulator.md#handlers).

- ``onPublish`` gets the events (``id``, ``payload``) and returns those to broadcast:
  returned events replace the published ones; an event returned with ``error`` is
  not broadcast and comes back in ``failed``; a published event not returned is
  *filtered*: not broadcast, yet listed as successful, as AppSync lists it.
- ``onSubscribe`` may refuse with ``util.unauthorized()``.
- ``util.error(message, type)`` fails the whole request.

Error types and statuses the developer guide does not give are choices, listed
as unconfirmed in docs/emulator.md: ``util.error`` without a type is
``HandlerError``; a handler that throws, returns what AppSync cannot use or runs
out of time is ``HandlerRuntimeError`` (HTTP 500); a per-event error's ``code`` is
``HandlerError``. ``util.error`` and ``util.unauthorized`` are HTTP 403 (developer
guide; Powertools).
"""

from __future__ import annotations

import itertools
import json
import logging
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.emulator.faults import FaultKind, FaultSet
from harness.emulator.handlers.context import Caller, context_json
from harness.emulator.handlers.engine import HandlerAnswer, HandlerCrash, HandlerEngine
from harness.emulator.refusals import OperationRefused
from harness.errors import ConfigurationError
from harness.protocol import Channel, ChannelPattern

logger = logging.getLogger("harness.emulator.handlers")

HANDLER_ERROR = "HandlerError"
HANDLER_RUNTIME_ERROR = "HandlerRuntimeError"
UNAUTHORIZED_MESSAGE = "You are not authorized to make this call."
FORBIDDEN = 403
RUNTIME_FAILURE = 500
MAX_FILTERED_KEPT = 200_000
"""Traced events a handler filtered, kept for the harness's delivery accounting."""


@dataclass(frozen=True)
class HandlerSpec:
    """``NAMESPACE=FILE.js``: the handler file of one namespace."""

    namespace: str
    path: Path

    @classmethod
    def parse(cls, text: str, *, option: str = "--handlers") -> HandlerSpec:
        namespace, equals, path = text.partition("=")
        if not equals or not namespace.strip() or not path.strip():
            raise ConfigurationError(option, f"expected NAMESPACE=FILE.js, got {text!r}")
        return cls(namespace.strip(), Path(path.strip()))


@dataclass
class HandlerStats:
    """What handlers did, for the admin stats."""

    invocations: int = 0
    refused: int = 0
    """util.error and util.unauthorized."""
    failures: int = 0
    """Threw, returned what AppSync cannot use, or ran out of time (also counted below)."""
    timeouts: int = 0
    injected: int = 0
    """Failures of the handler-error fault."""
    events_filtered: int = 0
    events_failed: int = 0
    filtered: deque[list[Any]] = field(default_factory=lambda: deque(maxlen=MAX_FILTERED_KEPT))
    """``[seq, run, publisher, channel, sequence]`` of each traced event filtered."""
    filtered_seq: int = 0

    def reset(self) -> None:
        """Zero the counters; the filtered events stay, for a harness reading them."""
        self.invocations = self.refused = self.failures = self.timeouts = self.injected = 0
        self.events_filtered = self.events_failed = 0

    def to_json(self) -> dict[str, int]:
        return {
            "invocations": self.invocations,
            "refused": self.refused,
            "failures": self.failures,
            "timeouts": self.timeouts,
            "injected_failures": self.injected,
            "events_filtered": self.events_filtered,
            "events_failed": self.events_failed,
            "traced_filtered": self.filtered_seq,
        }

    def filtered_since(self, since: int) -> list[list[Any]]:
        """The kept entries numbered after ``since`` (numbers are consecutive, so the
        skip is counted, not searched: the harness asks every few seconds mid-run)."""
        first = self.filtered_seq - len(self.filtered) + 1
        return list(itertools.islice(self.filtered, max(0, since + 1 - first), None))


@dataclass(frozen=True, slots=True)
class PublishHandling:
    """What ``onPublish`` made of a publish: the events to broadcast, each with the index
    of the published event it answers (None for one the handler made up), and by
    published index the events that failed, with the handler's error."""

    broadcast: tuple[tuple[int | None, str], ...]
    failed: Mapping[int, str]


class NamespaceHandlers:
    """The handler files of an emulator's namespaces, one engine per file."""

    def __init__(
        self,
        specs: Sequence[HandlerSpec],
        faults: FaultSet,
        *,
        time_limit_s: float,
        latency_s: float = 0.0,
    ) -> None:
        by_file: dict[Path, HandlerEngine] = {}
        for spec in specs:  # a file two namespaces share is loaded once
            if spec.path.resolve() not in by_file:
                by_file[spec.path.resolve()] = HandlerEngine(spec.path, time_limit_s)
        self._engines = {spec.namespace: by_file[spec.path.resolve()] for spec in specs}
        self._faults = faults
        self.latency_s = latency_s
        self.stats = HandlerStats()

    def runs(self, namespace: str, name: str) -> bool:
        """Whether a publish or subscribe in ``namespace`` may invoke handler ``name``: it
        is defined there, or a handler-error fault is in force (cheap when neither)."""
        engine = self._engines.get(namespace)
        if engine is not None and name in engine.defined:
            return True
        return bool(self._faults.active(FaultKind.HANDLER_ERROR))

    def on_publish(
        self, channel: Channel, ids: Sequence[str], events: Sequence[str], caller: Caller
    ) -> PublishHandling | None:
        """What the namespace's ``onPublish`` made of these events; None when none ran."""
        pairs = list(zip(ids, events, strict=True))
        context = context_json("PUBLISH", channel.path, caller, pairs)
        answer = self._invoke(channel.namespace, "onPublish", context)
        if answer is None:
            return None
        index_of = {event_id: index for index, event_id in enumerate(ids)}
        broadcast: list[tuple[int | None, str]] = []
        failed: dict[int, str] = {}
        answered: set[int] = set()
        for event in answer.result or ():
            index = index_of.get(event["id"])
            if index is not None:
                answered.add(index)
            if "error" in event:
                if index is not None:
                    failed[index] = event["error"]
            else:
                broadcast.append((index, event["event"]))
        self.stats.events_failed += len(failed)
        for index in range(len(events)):
            if index not in answered:
                self._filtered(events[index])
        return PublishHandling(tuple(broadcast), failed)

    def on_subscribe(self, pattern: ChannelPattern, caller: Caller) -> bool:
        """Run the namespace's ``onSubscribe`` (raising its refusal); whether one ran."""
        context = context_json("SUBSCRIBE", pattern.path, caller)
        return self._invoke(pattern.namespace, "onSubscribe", context) is not None

    def _invoke(self, namespace: str, name: str, context: str) -> HandlerAnswer | None:
        """Run handler ``name``; None when the namespace has none (a handler-error fault
        was in force, and did not fire); :class:`OperationRefused` for a refusal or a
        failure."""
        engine = self._engines.get(namespace)
        stats = self.stats
        if self._faults.fires(FaultKind.HANDLER_ERROR):
            stats.invocations += 1
            stats.failures += 1
            stats.injected += 1
            raise self._failed(f"The {name} handler failed (injected fault)")
        if engine is None or name not in engine.defined:
            return None
        stats.invocations += 1
        try:
            answer = engine.invoke(name, context)
        except HandlerCrash as crash:
            stats.failures += 1
            stats.timeouts += crash.timed_out
            logger.warning("%s handler failed: %s", name, crash)
            raise self._failed(f"The {name} handler failed: {crash}") from None
        for level, line in answer.log:
            logger.log(logging.getLevelName(level), "%s %s: %s", engine.path, name, line)
        if answer.signal == "unauthorized":
            stats.refused += 1
            raise self._refused("UnauthorizedException", UNAUTHORIZED_MESSAGE, FORBIDDEN)
        if answer.signal == "error":
            stats.refused += 1
            raise self._refused(answer.error_type or HANDLER_ERROR, answer.message or "", FORBIDDEN)
        return answer

    def _refused(self, error_type: str, message: str, status: int) -> OperationRefused:
        return OperationRefused(error_type, message, status=status, delay_s=self.latency_s)

    def _failed(self, message: str) -> OperationRefused:
        return self._refused(HANDLER_RUNTIME_ERROR, message, RUNTIME_FAILURE)

    def _filtered(self, event: str) -> None:
        """Count an event the handler dropped; keep the stamp of a traced one."""
        stats = self.stats
        stats.events_filtered += 1
        stamp = _trace_stamp(event)
        if stamp is not None:
            stats.filtered_seq += 1
            stats.filtered.append([stats.filtered_seq, *stamp])


def _trace_stamp(event: str) -> list[Any] | None:
    """``[run, publisher, channel, sequence]`` of an event that carries them (the
    harness's traced events, harness.workload.tracing), else None."""
    if not event.startswith('{"run":'):
        return None
    try:
        value = json.loads(event)
        stamp = [value["run"], value["pub"], value["ch"], value["seq"]]
    except (ValueError, KeyError, TypeError):
        return None
    kinds = [type(part) for part in stamp]
    return stamp if kinds == [str, str, str, int] else None
