"""Channels, subscription patterns and the fan-out index (docs/protocol.md#channels).

A publish names a concrete :class:`Channel`; a subscription a
:class:`ChannelPattern`, possibly a trailing-``*`` wildcard;
:class:`SubscriptionIndex` is the matcher a broker fans out with.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from harness.errors import MessageValidationError
from harness.protocol._text import clip
from harness.protocol.constants import MAX_CHANNEL_SEGMENTS, MAX_SEGMENT_CHARS

_SEGMENT = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,48}[A-Za-z0-9])?")
WILDCARD = "*"


@dataclass(frozen=True, slots=True)
class Channel:
    """A concrete channel path; ``segments[0]`` is the namespace.

    Leading and trailing ``/`` are optional on the wire, so ``default/a`` and
    ``/default/a/`` are the same channel; ``path`` is the normalised form.
    """

    segments: tuple[str, ...]

    @property
    def namespace(self) -> str:
        return self.segments[0]

    @property
    def path(self) -> str:
        return "/" + "/".join(self.segments)

    def __str__(self) -> str:
        return self.path


@dataclass(frozen=True, slots=True)
class ChannelPattern:
    """What a subscription listens to: a channel, or a prefix ending in ``*``.

    A wildcard matches every channel that has ``prefix`` as its leading
    segments and at least one more: ``/default/*`` matches ``/default/a`` and
    ``/default/a/b`` (docs/protocol.md#channels, the AWS tutorial), but not ``/default`` itself
    (an open question, docs/protocol.md#open-questions; chosen because ``*`` stands for a
    segment).
    """

    prefix: tuple[str, ...]
    wildcard: bool

    @property
    def namespace(self) -> str:
        return self.prefix[0]

    @property
    def path(self) -> str:
        return "/" + "/".join(self.prefix + ((WILDCARD,) if self.wildcard else ()))

    def matches(self, channel: Channel) -> bool:
        segments = channel.segments
        if not self.wildcard:
            return segments == self.prefix
        return len(segments) > len(self.prefix) and segments[: len(self.prefix)] == self.prefix

    def __str__(self) -> str:
        return self.path


def _split_channel(text: str) -> list[str]:
    if not isinstance(text, str):
        raise MessageValidationError("channel", "must be a string")
    body = text[1:] if text.startswith("/") else text
    body = body[:-1] if body.endswith("/") else body
    return body.split("/")


def _check_segment(segment: str) -> None:
    if not segment:
        raise MessageValidationError("channel", "has an empty segment")
    if len(segment) > MAX_SEGMENT_CHARS:
        raise MessageValidationError(
            "channel", f"segment is longer than {MAX_SEGMENT_CHARS} characters"
        )
    if not _SEGMENT.fullmatch(segment):
        raise MessageValidationError(
            "channel",
            f"segment {clip(segment)!r} must be letters, digits and '-', "
            "and must not start or end with '-'",
        )


def parse_channel(text: str) -> Channel:
    """Parse a publish channel: 1 to 5 segments of ``[A-Za-z0-9-]`` (docs/protocol.md#channels); no
    wildcard.

    Raises :class:`MessageValidationError` (``BadRequestException``, "Invalid
    Channel Format" on the wire) naming what is wrong.
    """
    segments = _split_channel(text)
    if len(segments) > MAX_CHANNEL_SEGMENTS:
        raise MessageValidationError(
            "channel", f"has {len(segments)} segments; at most {MAX_CHANNEL_SEGMENTS} are allowed"
        )
    if segments[-1] == WILDCARD:
        raise MessageValidationError("channel", "a wildcard channel can only be subscribed to")
    for segment in segments:
        _check_segment(segment)
    return Channel(tuple(segments))


def parse_channel_pattern(text: str) -> ChannelPattern:
    """Parse a subscribe channel: a channel, or one followed by a trailing ``*`` segment.

    The ``*`` must be a whole last segment (``/default/*``, not ``/default/a*``)
    and at least the namespace must precede it. Whether ``*`` counts toward
    the five segments is UNCONFIRMED (docs/protocol.md#channels); it does not count here, the
    lenient reading.
    """
    segments = _split_channel(text)
    wildcard = segments[-1] == WILDCARD
    prefix = segments[:-1] if wildcard else segments
    if not prefix:
        raise MessageValidationError("channel", "a wildcard needs a namespace before it")
    if len(prefix) > MAX_CHANNEL_SEGMENTS:
        raise MessageValidationError(
            "channel", f"has {len(prefix)} segments; at most {MAX_CHANNEL_SEGMENTS} are allowed"
        )
    for segment in prefix:
        if WILDCARD in segment:
            raise MessageValidationError("channel", "'*' is only allowed as the whole last segment")
        _check_segment(segment)
    return ChannelPattern(tuple(prefix), wildcard)


K = TypeVar("K")


@dataclass
class SubscriptionIndex(Generic[K]):
    """Subscribers by pattern, for fan-out: ``matching(channel)`` in O(channel depth).

    Exact patterns are found with one lookup of the full path, wildcards with
    one lookup per proper prefix of it (at most five), whatever the number of
    subscriptions. Keys are opaque (a (connection, subscription id) pair, say);
    a key may be added under several patterns.
    """

    _exact: dict[tuple[str, ...], dict[K, None]] = field(default_factory=dict)
    _wildcard: dict[tuple[str, ...], dict[K, None]] = field(default_factory=dict)
    _size: int = 0

    def _table(self, pattern: ChannelPattern) -> dict[tuple[str, ...], dict[K, None]]:
        return self._wildcard if pattern.wildcard else self._exact

    def add(self, pattern: ChannelPattern, key: K) -> None:
        keys = self._table(pattern).setdefault(pattern.prefix, {})
        if key not in keys:
            keys[key] = None
            self._size += 1

    def remove(self, pattern: ChannelPattern, key: K) -> bool:
        """Remove ``key`` from ``pattern``; returns whether it was there."""
        table = self._table(pattern)
        keys = table.get(pattern.prefix)
        if keys is None or key not in keys:
            return False
        del keys[key]
        if not keys:
            del table[pattern.prefix]
        self._size -= 1
        return True

    def matching(self, channel: Channel) -> Iterator[K]:
        """Every key whose pattern matches ``channel``: exact ones, then wildcards
        from the deepest prefix up. A key subscribed under two matching patterns
        is yielded once per pattern, as AppSync delivers once per subscription."""
        segments = channel.segments
        exact = self._exact.get(segments)
        if exact:
            yield from exact
        if self._wildcard:
            for depth in range(len(segments) - 1, 0, -1):
                keys = self._wildcard.get(segments[:depth])
                if keys:
                    yield from keys

    def __len__(self) -> int:
        return self._size
