"""Load and reliability testing harness for AWS AppSync Events APIs.

What a user scripting their own scenario needs, from one place (docs/api.md lists
it)::

    from harness import EventsClient, Endpoints, AuthMode, make_authorizer

Names are imported when first used, so ``import harness`` loads neither Locust nor
gevent nor botocore: a locustfile may import from here before ``locust`` (which must
monkey-patch before anything imports ``ssl``), and the Locust users (``Subscriber``,
...) pull in Locust only when asked for. The ``TYPE_CHECKING`` imports below give type
checkers the same names; a test checks that they, ``_EXPORTS`` and docs/api.md agree.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    # the WebSocket and HTTP clients
    "ClientOptions": "harness.client.websocket",
    "EventsClient": "harness.client.websocket",
    "PublishOutcome": "harness.client.websocket",
    "HttpPublisher": "harness.client.http_publish",
    "Endpoints": "harness.protocol",
    # authorization
    "AuthMode": "harness.signing",
    "Authorizer": "harness.signing",
    "CredentialSource": "harness.signing",
    "make_authorizer": "harness.signing",
    # retry policies
    "RetryPolicy": "harness.config.retry",
    # errors
    "HarnessError": "harness.errors",
    "ConfigurationError": "harness.errors",
    "ClientError": "harness.errors",
    "ConnectionLost": "harness.errors",
    "HandshakeFailed": "harness.errors",
    "OperationRejected": "harness.errors",
    "OperationTimeout": "harness.errors",
    "RetriesExhausted": "harness.errors",
    # Locust users and their installation
    "AppSyncUser": "harness.loadtest.users",
    "PubSubUser": "harness.loadtest.users",
    "Publisher": "harness.loadtest.users",
    "Subscriber": "harness.loadtest.users",
    "install": "harness.loadtest",
    # the emulator, and a run's summary
    "EmulatorProcess": "harness.emulator.process",
    "Summary": "harness.measure.schema",
}

__all__ = sorted(_EXPORTS, key=str.casefold)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'harness' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # found once, then a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


if TYPE_CHECKING:
    from harness.client.http_publish import (
        HttpPublisher as HttpPublisher,
    )
    from harness.client.websocket import (
        ClientOptions as ClientOptions,
    )
    from harness.client.websocket import (
        EventsClient as EventsClient,
    )
    from harness.client.websocket import (
        PublishOutcome as PublishOutcome,
    )
    from harness.config.retry import (
        RetryPolicy as RetryPolicy,
    )
    from harness.emulator.process import (
        EmulatorProcess as EmulatorProcess,
    )
    from harness.errors import (
        ClientError as ClientError,
    )
    from harness.errors import (
        ConfigurationError as ConfigurationError,
    )
    from harness.errors import (
        ConnectionLost as ConnectionLost,
    )
    from harness.errors import (
        HandshakeFailed as HandshakeFailed,
    )
    from harness.errors import (
        HarnessError as HarnessError,
    )
    from harness.errors import (
        OperationRejected as OperationRejected,
    )
    from harness.errors import (
        OperationTimeout as OperationTimeout,
    )
    from harness.errors import (
        RetriesExhausted as RetriesExhausted,
    )
    from harness.loadtest import (
        install as install,
    )
    from harness.loadtest.users import (
        AppSyncUser as AppSyncUser,
    )
    from harness.loadtest.users import (
        Publisher as Publisher,
    )
    from harness.loadtest.users import (
        PubSubUser as PubSubUser,
    )
    from harness.loadtest.users import (
        Subscriber as Subscriber,
    )
    from harness.measure.schema import (
        Summary as Summary,
    )
    from harness.protocol import (
        Endpoints as Endpoints,
    )
    from harness.signing import (
        AuthMode as AuthMode,
    )
    from harness.signing import (
        Authorizer as Authorizer,
    )
    from harness.signing import (
        CredentialSource as CredentialSource,
    )
    from harness.signing import (
        make_authorizer as make_authorizer,
    )
