"""Protocol constants and service limits (docs/protocol.md#keep-alive, #channels)."""

SUBPROTOCOL = "aws-appsync-event-ws"
"""The WebSocket subprotocol every client offers and the server selects
(docs/protocol.md#subprotocol)."""

HTTP_PATH = "/event"
REALTIME_PATH = "/event/realtime"

DEFAULT_CONNECTION_TIMEOUT_MS = 300_000
"""``connectionTimeoutMs`` of the ``connection_ack`` (docs/protocol.md#keep-alive)."""
DEFAULT_KEEPALIVE_INTERVAL_S = 60.0
MAX_CONNECTION_DURATION_S = 24 * 3600

MAX_EVENTS_PER_REQUEST = 5
MAX_EVENT_BYTES = 240 * 1024
"""Per-event size limit, "240 KB" (docs/protocol.md#channels); AWS quotas count KB as 1,024
bytes."""
MAX_SUBSCRIPTIONS_PER_CONNECTION = 200
MAX_PUBLISHES_PER_SECOND_PER_CONNECTION = 25
MAX_CHANNEL_SEGMENTS = 5
MAX_SEGMENT_CHARS = 50
