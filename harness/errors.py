"""The exception tree of the harness.

Every exception the harness raises on purpose derives from :class:`HarnessError`
and carries structured fields, so callers decide by type and by field, never by
parsing a message. Library errors are translated once, at the I/O boundary,
with ``raise ... from exc``.

::

    HarnessError                      anything the harness raises on purpose
    +-- ConfigurationError            a setting is invalid (field: option)
    +-- ProtocolError                 the AppSync Events wire protocol was broken
    |   +-- MessageDecodeError        a frame is not a valid message
    |   |                             (fields: reason, field, message_type)
    |   +-- MessageValidationError    a decoded message breaks a rule of the protocol:
    |                                 channel, operation id, events
    |                                 (fields: field, reason, error_type)
    +-- AuthError                     authorization could not be produced or was refused
    |   +-- SigningError              the client cannot sign (no credentials, bad token source)
    |   |   +-- IdentityPoolError     a Cognito identity pool call failed (fields: pool_id,
    |   |                             operation, error_code)
    |   +-- AuthorizationRejected     the verifier refused a request (fields: error_type,
    |       |                         reason; ``wire_message`` is what a server returns
    |       |                         to the client and is never part of ``str()``)
    |       +-- CredentialsExpired    temporary credentials past their expiration
    +-- ClientError                   an operation of the load client failed (fields:
    |   |                             operation, error_type, detail)
    |   +-- HandshakeFailed           the TCP, TLS or WebSocket upgrade failed (field: status)
    |   +-- OperationRejected         the server answered with an error (connection_error,
    |   |                             subscribe_error, publish_error, HTTP errors, ...)
    |   +-- OperationTimeout          no answer within the operation's timeout
    |   +-- ConnectionLost            the connection ended (fields: close_code; error_type
    |   |                             ``ConnectionClosed``, ``KeepAliveTimeout`` or
    |   |                             ``NetworkError``)
    |   +-- RetriesExhausted          a retry loop gave up (fields: reason, attempts, last)
    +-- ReliabilityFinding            a run broke a rule of behaviour rather than an operation
        +-- BackoffViolation          an attempt came earlier or later than its policy allows
        |                             (fields: policy, attempt, observed_s, low_s, high_s)
        +-- CleanupLeak               a client left something behind at stop (fields: kind,
                                      user, channel, sub_id)

The emulator answers a refused operation with
``harness.emulator.refusals.OperationRefused`` (a ``HarnessError``; field
``error_type``, and ``message``, the text for the client, kept out of ``str()``).

No message of these exceptions contains a secret: values that may be secret
(keys, tokens, signatures) are named, never quoted.
"""

from __future__ import annotations


class HarnessError(Exception):
    """Base class of every exception the harness raises on purpose."""


class ConfigurationError(HarnessError):
    """A setting is invalid; ``option`` names it as the user wrote it (e.g. ``--auth-mode``)."""

    def __init__(self, option: str, reason: str) -> None:
        self.option = option
        self.reason = reason
        super().__init__(f"{option}: {reason}")


class ProtocolError(HarnessError):
    """The AppSync Events wire protocol was broken by one side."""


class MessageDecodeError(ProtocolError):
    """A frame could not be decoded into a message.

    ``field`` is the offending field (``None`` when the frame as a whole is
    wrong) and ``message_type`` the frame's ``type`` when it could be read.
    """

    def __init__(
        self, reason: str, *, field: str | None = None, message_type: str | None = None
    ) -> None:
        self.reason = reason
        self.field = field
        self.message_type = message_type
        where = f" in {message_type!r} message" if message_type else ""
        what = (
            f"field {field!r}{where}: "
            if field
            else (f"{message_type!r} message: " if message_type else "")
        )
        super().__init__(f"{what}{reason}")


class MessageValidationError(ProtocolError):
    """A well-formed message breaks a protocol rule (channel, id or events).

    ``error_type`` is the AppSync ``errorType`` a server answers with, so the
    emulator and the client agree on it.
    """

    def __init__(self, field: str, reason: str, *, error_type: str = "BadRequestException") -> None:
        self.field = field
        self.reason = reason
        self.error_type = error_type
        super().__init__(f"{field}: {reason}")


class AuthError(HarnessError):
    """Authorization could not be produced or was refused."""


class SigningError(AuthError):
    """The client cannot produce authorization (for example: no AWS credentials found)."""


class IdentityPoolError(SigningError):
    """A call to a Cognito identity pool failed: ``operation`` (``GetId``,
    ``GetCredentialsForIdentity``) and ``error_code``, the service's error type (or
    botocore's exception name when no answer came). Names the pool, never a token."""

    def __init__(self, pool_id: str, operation: str, error_code: str) -> None:
        self.pool_id = pool_id
        self.operation = operation
        self.error_code = error_code
        super().__init__(f"Cognito identity pool {pool_id!r}: {operation} failed: {error_code}")


class AuthorizationRejected(AuthError):
    """A verifier refused a request.

    ``error_type`` is the AppSync ``errorType`` (``BadRequestException`` for a
    signature that does not match, ``UnauthorizedException`` otherwise) and
    ``reason`` a short explanation that names the problem without quoting any
    secret; it is what ``str()`` shows and what may be logged.
    ``wire_message`` is the text a server sends back to the client, as AppSync
    does; for a signature mismatch it echoes the canonical request the server
    expected, which contains values the client itself sent (a session token,
    for instance), so it must never be logged unredacted.
    """

    def __init__(self, error_type: str, reason: str, *, wire_message: str | None = None) -> None:
        self.error_type = error_type
        self.reason = reason
        self.wire_message = wire_message if wire_message is not None else reason
        super().__init__(f"{error_type}: {reason}")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(error_type={self.error_type!r}, reason={self.reason!r})"


class CredentialsExpired(AuthorizationRejected):
    """Temporary credentials (an access key with a session token) used past their
    expiration; ``error_type`` is ``UnauthorizedException``."""


class ClientError(HarnessError):
    """An operation of the load client failed.

    ``operation`` is ``connect``, ``subscribe``, ``unsubscribe``, ``publish`` or
    ``http_publish``; ``error_type`` is the AppSync ``errorType`` when the
    server named one, else a harness label (``Timeout``, ``ConnectionClosed``,
    ...), so retry decisions can go by type. ``detail`` is short and
    secret-free: server texts are cut to their first line, which for a
    signature mismatch stops before the echoed canonical request.
    """

    def __init__(self, operation: str, error_type: str, detail: str = "") -> None:
        self.operation = operation
        self.error_type = error_type
        self.detail = detail
        super().__init__(f"{operation} failed: {error_type}" + (f": {detail}" if detail else ""))


class HandshakeFailed(ClientError):
    """The TCP connect, TLS or WebSocket upgrade failed; ``status`` is the HTTP status, if any."""

    def __init__(self, error_type: str, detail: str = "", *, status: int | None = None) -> None:
        self.status = status
        super().__init__("connect", error_type, detail)


class OperationRejected(ClientError):
    """The server refused the operation with an error message or status."""


class OperationTimeout(ClientError):
    """No answer arrived within the operation's timeout."""

    def __init__(self, operation: str, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        super().__init__(operation, "Timeout", f"no answer within {timeout_s:g} s")


class ConnectionLost(ClientError):
    """The connection ended; ``close_code`` is the WebSocket close code, if one was received."""

    def __init__(
        self, operation: str, error_type: str, detail: str = "", *, close_code: int | None = None
    ) -> None:
        self.close_code = close_code
        super().__init__(operation, error_type, detail)


class RetriesExhausted(ClientError):
    """A retry loop gave up: ``reason`` says why, ``last`` is the error that ended it."""

    def __init__(self, operation: str, reason: str, attempts: int, last: HarnessError) -> None:
        self.reason = reason
        self.attempts = attempts
        self.last = last
        last_type = last.error_type if isinstance(last, ClientError) else type(last).__name__
        super().__init__(
            operation, "GaveUp", f"{reason} after {attempts} retries; last: {last_type}"
        )


class ReliabilityFinding(HarnessError):
    """The run broke a rule of behaviour (backoff, cleanup), not a single operation."""


class BackoffViolation(ReliabilityFinding):
    """An attempt started earlier or later than its backoff policy allows."""

    def __init__(
        self, policy: str, attempt: int, observed_s: float, low_s: float, high_s: float
    ) -> None:
        self.policy = policy
        self.attempt = attempt
        self.observed_s = observed_s
        self.low_s = low_s
        self.high_s = high_s
        side = "early" if observed_s < low_s else "late"
        # Rounded in the message so Locust groups violations of one kind in one row.
        super().__init__(
            f"attempt {attempt} came {side}: the policy allows {low_s:.3f}-{high_s:.3f} s"
        )


class CleanupLeak(ReliabilityFinding):
    """Something a client left behind when it stopped.

    ``kind`` is ``open-socket``, ``pending-operation``, ``subscription`` (never
    acknowledged by ``unsubscribe_success``) or ``data-after-unsubscribe``."""

    def __init__(self, kind: str, user: str, channel: str | None, sub_id: str | None) -> None:
        self.kind = kind
        self.user = user
        self.channel = channel
        self.sub_id = sub_id
        where = "".join(
            f" {label} {value}" for label, value in (("channel", channel), ("id", sub_id)) if value
        )
        super().__init__(f"{kind} left by user {user}{where}")
