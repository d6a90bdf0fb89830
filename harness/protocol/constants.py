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

# Per-API quotas, AWS's defaults (docs/protocol.md#channels); adjustable on request.
MAX_CONNECTS_PER_SECOND = 2_000
"""Connection requests a second."""
MAX_INBOUND_EVENTS_PER_SECOND = 10_000
"""Published events a second, WebSocket and HTTP together."""
MAX_OUTBOUND_UNITS_PER_SECOND = 1_000_000
"""Delivered messages a second, each counted in :data:`METERED_UNIT_BYTES` units."""
MAX_REQUEST_BYTES = 1_258_291
"""Bytes of one publish request, "1.2 MB" (1.2 x 1,024 x 1,024)."""
METERED_UNIT_BYTES = 5 * 1024
"""Messages count against the outbound quota, and are billed, in "5 KB" units: a
message of 6,000 bytes is two (docs/protocol.md#channels)."""
MAX_CHANNEL_SEGMENTS = 5
MAX_SEGMENT_CHARS = 50
