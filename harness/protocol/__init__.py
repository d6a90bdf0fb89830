"""The AppSync Events WebSocket protocol, sans I/O: nothing here opens a socket or
reads a clock.

- :mod:`~harness.protocol.messages`: one frozen dataclass per wire ``type``,
  :func:`encode` and :func:`decode` (docs/protocol.md#messages).
- :mod:`~harness.protocol.rules`: operation ids and event batches.
- :mod:`~harness.protocol.channels`: channels, wildcard patterns and the
  fan-out :class:`SubscriptionIndex` (docs/protocol.md#channels).
- :mod:`~harness.protocol.endpoints`: HTTP and realtime URLs (docs/protocol.md#endpoints).
- :mod:`~harness.protocol.constants`: timeouts and service limits.

Everything public is importable from ``harness.protocol`` itself.
"""

from harness.protocol.channels import (
    WILDCARD,
    Channel,
    ChannelPattern,
    SubscriptionIndex,
    parse_channel,
    parse_channel_pattern,
)
from harness.protocol.constants import (
    DEFAULT_CONNECTION_TIMEOUT_MS,
    DEFAULT_KEEPALIVE_INTERVAL_S,
    HTTP_PATH,
    MAX_CHANNEL_SEGMENTS,
    MAX_CONNECTION_DURATION_S,
    MAX_EVENT_BYTES,
    MAX_EVENTS_PER_REQUEST,
    MAX_PUBLISHES_PER_SECOND_PER_CONNECTION,
    MAX_SEGMENT_CHARS,
    MAX_SUBSCRIPTIONS_PER_CONNECTION,
    REALTIME_PATH,
    SUBPROTOCOL,
)
from harness.protocol.endpoints import Endpoints
from harness.protocol.messages import (
    MESSAGE_TYPES,
    Authorization,
    BroadcastError,
    ConnectionAck,
    ConnectionErrorMessage,
    ConnectionInit,
    Data,
    ErrorDetail,
    ErrorMessage,
    KeepAlive,
    Message,
    Publish,
    PublishError,
    PublishFailure,
    PublishResult,
    PublishSuccess,
    Sender,
    Subscribe,
    SubscribeError,
    SubscribeSuccess,
    Unsubscribe,
    UnsubscribeError,
    UnsubscribeSuccess,
    compact_json,
    decode,
    encode,
    from_wire,
    parse_frame,
    to_wire,
)
from harness.protocol.rules import event_too_large, validate_events, validate_operation_id

__all__ = [
    "DEFAULT_CONNECTION_TIMEOUT_MS",
    "DEFAULT_KEEPALIVE_INTERVAL_S",
    "HTTP_PATH",
    "MAX_CHANNEL_SEGMENTS",
    "MAX_CONNECTION_DURATION_S",
    "MAX_EVENTS_PER_REQUEST",
    "MAX_EVENT_BYTES",
    "MAX_PUBLISHES_PER_SECOND_PER_CONNECTION",
    "MAX_SEGMENT_CHARS",
    "MAX_SUBSCRIPTIONS_PER_CONNECTION",
    "MESSAGE_TYPES",
    "REALTIME_PATH",
    "SUBPROTOCOL",
    "WILDCARD",
    "Authorization",
    "BroadcastError",
    "Channel",
    "ChannelPattern",
    "ConnectionAck",
    "ConnectionErrorMessage",
    "ConnectionInit",
    "Data",
    "Endpoints",
    "ErrorDetail",
    "ErrorMessage",
    "KeepAlive",
    "Message",
    "Publish",
    "PublishError",
    "PublishFailure",
    "PublishResult",
    "PublishSuccess",
    "Sender",
    "Subscribe",
    "SubscribeError",
    "SubscribeSuccess",
    "SubscriptionIndex",
    "Unsubscribe",
    "UnsubscribeError",
    "UnsubscribeSuccess",
    "compact_json",
    "decode",
    "encode",
    "event_too_large",
    "from_wire",
    "parse_channel",
    "parse_channel_pattern",
    "parse_frame",
    "to_wire",
    "validate_events",
    "validate_operation_id",
]
