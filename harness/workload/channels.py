"""Channel templates: ``/default/room-{1..20}`` names twenty channels.

A template is a channel with brace groups, expanded like a shell does:
``{1..20}`` (a numeric range; ``{01..20}`` keeps the zero padding) or
``{red,green}`` (a list). Several groups multiply. The template's text is the
name Locust's stats use for everything on its channels, so a table of 10,000
channels stays readable (design: conventions). A channel named by several
templates belongs to the first of them, everywhere (:func:`template_of_channels`).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

from harness.errors import ConfigurationError, MessageValidationError
from harness.protocol import WILDCARD, parse_channel

MAX_CHANNELS = 100_000
"""Expansion limit, so a typo such as ``{1..10000000}`` fails fast instead of filling memory."""

_GROUP = re.compile(r"\{([^{}]*)\}")
_RANGE = re.compile(r"(-?\d+)\.\.(-?\d+)")


@dataclass(frozen=True, slots=True)
class ChannelTemplate:
    """One template: its text, its concrete channels, and the wildcard that covers them."""

    name: str
    channels: tuple[str, ...]
    wildcard: str | None
    """``/ns/prefix/*`` over the segments before the first brace group (docs/protocol.md#channels);
    ``None`` when no wildcard can cover the template (a brace group in the namespace,
    or a one-segment channel, which ``/ns/*`` does not match)."""


def parse_channel_templates(
    text: str, *, option: str = "--channels"
) -> tuple[ChannelTemplate, ...]:
    """Parse templates separated by whitespace or by commas outside braces."""
    names = _split_top_level(text)
    if not names:
        raise ConfigurationError(option, "needs at least one channel template, e.g. /default/room")
    templates = tuple(_parse_template(name, option) for name in dict.fromkeys(names))
    total = sum(len(t.channels) for t in templates)
    if total > MAX_CHANNELS:
        raise ConfigurationError(
            option, f"expands to {total:,} channels; the limit is {MAX_CHANNELS:,}"
        )
    return templates


def template_of_channels(templates: tuple[ChannelTemplate, ...]) -> dict[str, str]:
    """Each concrete channel (and wildcard) to the name of the template it is credited to:
    the first template in ``--channels`` order that names it. Latency figures, delivery
    accounting, Locust's names and the reports all use this one map."""
    owner: dict[str, str] = {}
    for template in templates:
        for channel in template.channels:
            owner.setdefault(channel, template.name)
        if template.wildcard:
            owner.setdefault(template.wildcard, template.wildcard)
    return owner


def _split_top_level(text: str) -> list[str]:
    names: list[str] = []
    current: list[str] = []
    depth = 0
    for char in text:
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
        if depth == 0 and (char == "," or char.isspace()):
            names.append("".join(current))
            current = []
        else:
            current.append(char)
    names.append("".join(current))
    return [name for name in names if name]


def _parse_template(name: str, option: str) -> ChannelTemplate:
    if not name.startswith("/"):
        raise ConfigurationError(option, f"{name!r} must start with '/', e.g. /default/room")
    if name.count("{") != name.count("}"):
        raise ConfigurationError(option, f"{name!r} has unbalanced braces")
    pieces = _GROUP.split(name)
    literals, groups = pieces[0::2], pieces[1::2]
    if any("{" in literal or "}" in literal for literal in literals):
        raise ConfigurationError(option, f"{name!r} nests braces; groups cannot nest")
    choices = [_expand_group(group, name, option) for group in groups]
    count = 1
    for options in choices:
        count *= len(options)
        if count > MAX_CHANNELS:
            raise ConfigurationError(
                option, f"{name!r} expands to more than {MAX_CHANNELS:,} channels"
            )
    channels = []
    for combination in itertools.product(*choices):
        parts = [literals[0]]
        for value, literal in zip(combination, literals[1:], strict=True):
            parts += [value, literal]
        channel = "".join(parts)
        try:
            parse_channel(channel)
        except MessageValidationError as exc:
            origin = f" (from {name!r})" if channel != name else ""
            raise ConfigurationError(option, f"{channel!r}{origin} {exc.reason}") from None
        channels.append(channel)
    return ChannelTemplate(name, tuple(dict.fromkeys(channels)), _wildcard_of(name))


def _expand_group(group: str, name: str, option: str) -> list[str]:
    bounds = _RANGE.fullmatch(group)
    if bounds:
        first, last = bounds.groups()
        step = 1 if int(last) >= int(first) else -1
        width = max(len(first), len(last)) if _zero_padded(first) or _zero_padded(last) else 0
        span = abs(int(last) - int(first)) + 1
        if span > MAX_CHANNELS:
            raise ConfigurationError(option, f"{{{group}}} in {name!r} has {span:,} values")
        return [str(n).zfill(width) for n in range(int(first), int(last) + step, step)]
    values = group.split(",")
    if "" in values:
        raise ConfigurationError(option, f"{{{group}}} in {name!r} has an empty choice")
    return values


def _zero_padded(bound: str) -> bool:
    """Like bash: ``{01..10}`` and ``{-05..5}`` pad, ``{0..10}`` does not."""
    digits = bound.lstrip("-")
    return len(digits) > 1 and digits.startswith("0")


def _wildcard_of(name: str) -> str | None:
    """The narrowest ``/.../*`` that matches every channel of the template."""
    segments = name.strip("/").split("/")
    fixed = list(itertools.takewhile(lambda s: "{" not in s, segments))
    if len(fixed) == len(segments):
        fixed = fixed[:-1]  # a plain channel: its parent's wildcard covers it
    return "/" + "/".join([*fixed, WILDCARD]) if fixed else None
