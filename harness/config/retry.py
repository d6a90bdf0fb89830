"""Backoff strategies, retry policies and their bounds, for reconnects and publish retries.

A policy is written ``STRATEGY[:key=value,...]`` or ``off``, for example
``full-jitter:base=200ms,cap=30s,max-attempts=10``. With ``n`` the attempt
number (1 for the first retry) and ``ceiling(n) = min(cap, base * multiplier**(n-1))``:

====================  =========================================  ==================
strategy              delay before attempt ``n``                 bounds checked
====================  =========================================  ==================
none                  0 (retry at once)                          [0, 0]
constant              base                                       [base, base]
exponential           ceiling(n)                                 [ceiling, ceiling]
full-jitter           uniform(0, ceiling(n))                     [0, ceiling]
equal-jitter          ceiling(n)/2 + uniform(0, ceiling(n)/2)    [ceiling/2, ceiling]
decorrelated-jitter   min(cap, uniform(base, 3 * previous))      [min(cap, base),
                      (previous = base before the first)         min(cap, 3*previous)]
====================  =========================================  ==================

Keys: ``base`` (default 1s), ``cap`` (30s), ``multiplier`` (2), ``max-attempts``
(retries before giving up; default unlimited), ``max-elapsed`` (give up when the
next attempt would start later than this after the first failure). ``off`` never
retries. Durations take ``ms``, ``s`` or ``m``.

Which errors are retried is decided by type (:func:`is_retryable`): a dropped
connection, a keep-alive timeout, a timeout, a throttle and a handshake refused
with 429 or 5xx are; ``BadRequestException``, ``UnauthorizedException``, 4xx
refusals and configuration or signing errors are not (docs/protocol.md#errors:
amplify-js treats 400, 401, 403 and those two types as final).

The module reads no clock and draws from the random source it is given, so
tests fake both.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum

from harness.config.spec import SpecParams, format_duration, format_number, split_spec
from harness.errors import (
    ClientError,
    ConfigurationError,
    ConnectionLost,
    OperationTimeout,
    RetriesExhausted,
)

OFF = "off"


class Strategy(StrEnum):
    NONE = "none"
    CONSTANT = "constant"
    EXPONENTIAL = "exponential"
    FULL_JITTER = "full-jitter"
    EQUAL_JITTER = "equal-jitter"
    DECORRELATED_JITTER = "decorrelated-jitter"


class GiveUp(StrEnum):
    """Why a retry loop stopped trying."""

    OFF = "retries off"
    NOT_RETRYABLE = "not retryable"
    MAX_ATTEMPTS = "max attempts reached"
    MAX_ELAPSED = "max elapsed time reached"


NON_RETRYABLE_ERROR_TYPES = frozenset(
    {
        "BadRequestException",
        "UnauthorizedException",
        "ForbiddenException",
        "AccessDeniedException",
        "InvalidInputError",
        "UnsupportedOperation",
        "ResourceNotFound",
        "MaxSubscriptionsReachedError",
        "UnknownOperationError",
        "EventTooLargeException",
        "TlsError",
        "InvalidHandshake",
    }
)
"""Error types that a retry cannot fix (the request or its credentials are wrong)."""

_KEYS = frozenset({"base", "cap", "multiplier", "max-attempts", "max-elapsed"})


def is_retryable(error: BaseException) -> bool:
    """Whether a retry may succeed where ``error`` failed; decided by type and status."""
    if not isinstance(error, ClientError) or isinstance(error, RetriesExhausted):
        return False  # configuration, signing and programming errors are final
    if error.error_type in NON_RETRYABLE_ERROR_TYPES:
        return False  # e.g. a TLS failure reported as a lost connection
    if isinstance(error, ConnectionLost | OperationTimeout):
        return True
    status = getattr(error, "status", None)
    if isinstance(status, int) and status >= 400:
        return status == 429 or status >= 500
    return error.error_type not in NON_RETRYABLE_ERROR_TYPES


@dataclass(frozen=True)
class BackoffPolicy:
    """A backoff strategy and its limits; see the module docstring."""

    strategy: Strategy
    base_s: float = 1.0
    cap_s: float = 30.0
    multiplier: float = 2.0
    max_attempts: int | None = None
    max_elapsed_s: float | None = None

    @classmethod
    def parse(cls, text: str, *, option: str) -> BackoffPolicy | None:
        """Parse a policy; ``off`` gives ``None``. A bad spec raises ConfigurationError."""
        name, params = split_spec(text, option)
        if name == OFF and not params:
            return None
        try:
            strategy = Strategy(name)
        except ValueError:
            names = ", ".join([OFF, *(s.value for s in Strategy)])
            raise ConfigurationError(
                option, f"unknown strategy {name!r} in {text!r}; choose one of {names}"
            ) from None
        reader = SpecParams(params, text, option)
        reader.reject_unknown(_KEYS, strategy.value)
        policy = cls(
            strategy,
            base_s=reader.duration("base", cls.base_s),
            cap_s=reader.duration("cap", cls.cap_s),
            multiplier=_at_least_one(reader, "multiplier"),
            max_attempts=_non_negative(reader, "max-attempts"),
            max_elapsed_s=reader.optional_duration("max-elapsed"),
        )
        if policy.cap_s < policy.base_s and strategy not in (Strategy.NONE, Strategy.CONSTANT):
            raise ConfigurationError(option, f"cap= must be at least base= (in {text!r})")
        return policy

    @property
    def label(self) -> str:
        """The policy written out, as the spec grammar reads it back to an equal policy:
        base and cap where the strategy uses them, any other key that is not its default."""
        shown_always = {
            "base": self.strategy is not Strategy.NONE,
            "cap": self.strategy not in (Strategy.NONE, Strategy.CONSTANT),
        }
        parts = [
            f"{key}={text}"
            for key, value, default, text in (
                ("base", self.base_s, 1.0, format_duration(self.base_s)),
                ("cap", self.cap_s, 30.0, format_duration(self.cap_s)),
                ("multiplier", self.multiplier, 2.0, format_number(self.multiplier)),
                ("max-attempts", self.max_attempts, None, str(self.max_attempts)),
                (
                    "max-elapsed",
                    self.max_elapsed_s,
                    None,
                    format_duration(self.max_elapsed_s or 0.0),
                ),
            )
            if shown_always.get(key, False) or value != default
        ]
        return self.strategy.value + (":" + ",".join(parts) if parts else "")

    def ceiling(self, attempt: int) -> float:
        """``min(cap, base * multiplier**(attempt-1))``, safe for large attempt numbers."""
        exponent = attempt - 1
        if self.cap_s <= self.base_s or self.base_s <= 0:
            return min(self.cap_s, self.base_s)
        if self.multiplier > 1 and exponent * math.log(self.multiplier) >= math.log(
            self.cap_s / self.base_s
        ):
            return self.cap_s  # without computing multiplier**exponent, which may overflow
        return min(self.cap_s, self.base_s * self.multiplier**exponent)

    def delays(self, rng: random.Random) -> Iterator[float]:
        """The delays before attempts 1, 2, ... (endless; limits are the retry loop's job)."""
        previous = self.base_s
        attempt = 0
        while True:
            attempt += 1
            ceiling = self.ceiling(attempt)
            match self.strategy:
                case Strategy.NONE:
                    delay = 0.0
                case Strategy.CONSTANT:
                    delay = self.base_s
                case Strategy.EXPONENTIAL:
                    delay = ceiling
                case Strategy.FULL_JITTER:
                    delay = rng.uniform(0.0, ceiling)
                case Strategy.EQUAL_JITTER:
                    delay = ceiling / 2 + rng.uniform(0.0, ceiling / 2)
                case Strategy.DECORRELATED_JITTER:
                    delay = min(self.cap_s, rng.uniform(self.base_s, previous * 3))
                    previous = delay
            yield delay

    def bounds(self, attempt: int, previous_delay_s: float | None = None) -> tuple[float, float]:
        """The shortest and longest delay the policy allows before ``attempt`` (1-based).

        Decorrelated jitter depends on the delay before the previous attempt
        (``previous_delay_s``; the base before the first attempt)."""
        ceiling = self.ceiling(attempt)
        match self.strategy:
            case Strategy.NONE:
                return 0.0, 0.0
            case Strategy.CONSTANT:
                return self.base_s, self.base_s
            case Strategy.EXPONENTIAL:
                return ceiling, ceiling
            case Strategy.FULL_JITTER:
                return 0.0, ceiling
            case Strategy.EQUAL_JITTER:
                return ceiling / 2, ceiling
            case Strategy.DECORRELATED_JITTER:
                previous = (
                    self.base_s if attempt == 1 or previous_delay_s is None else previous_delay_s
                )
                low = min(self.cap_s, self.base_s)
                return low, max(low, min(self.cap_s, 3 * previous))
        raise AssertionError(self.strategy)


def _at_least_one(reader: SpecParams, key: str) -> float:
    value = reader.number(key, "a number of at least 1")
    if value is None:
        return 2.0
    if value < 1:
        raise reader.fail(key, "a number of at least 1")
    return value


def _non_negative(reader: SpecParams, key: str) -> int | None:
    value = reader.integer(key, "a whole number of at least 0")
    if value is not None and value < 0:
        raise reader.fail(key, "a whole number of at least 0")
    return value


@dataclass
class RetryPolicy:
    """What to retry (by error type) and how to back off; ``backoff`` None means off."""

    backoff: BackoffPolicy | None

    @classmethod
    def parse(cls, text: str, *, option: str) -> RetryPolicy:
        return cls(BackoffPolicy.parse(text, option=option))

    @property
    def label(self) -> str:
        return OFF if self.backoff is None else self.backoff.label

    def episode(self, rng: random.Random, started_s: float) -> RetryEpisode:
        """A fresh sequence of retries after a failure at ``started_s`` (monotonic)."""
        return RetryEpisode(self, rng, started_s)


@dataclass
class RetryEpisode:
    """The retries after one failure, until success or giving up."""

    policy: RetryPolicy
    rng: random.Random
    started_s: float
    attempts: int = 0
    """Retries planned so far; the next one is number ``attempts + 1``."""
    _delays: Iterator[float] | None = field(default=None, repr=False)

    def next_delay(self, error: BaseException, now_s: float) -> float | GiveUp:
        """The delay before the next attempt after ``error``, or why to give up."""
        backoff = self.policy.backoff
        if backoff is None:
            return GiveUp.OFF
        if not is_retryable(error):
            return GiveUp.NOT_RETRYABLE
        if backoff.max_attempts is not None and self.attempts >= backoff.max_attempts:
            return GiveUp.MAX_ATTEMPTS
        if self._delays is None:
            self._delays = backoff.delays(self.rng)
        delay = next(self._delays)
        if (
            backoff.max_elapsed_s is not None
            and now_s + delay - self.started_s > backoff.max_elapsed_s
        ):
            return GiveUp.MAX_ELAPSED
        self.attempts += 1
        return delay
