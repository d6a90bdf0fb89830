"""The error an emulator operation answers with, shared by the operations and the
namespace handlers; :mod:`harness.emulator.operations` lists the error types chosen."""

from __future__ import annotations

from harness.errors import HarnessError
from harness.protocol import ErrorDetail

_STATUS_BY_TYPE = {
    "UnauthorizedException": 401,
    "ResourceNotFound": 404,
    "LimitExceededError": 429,
    "PayloadTooLargeException": 413,
}


class OperationRefused(HarnessError):
    """An operation the emulator answers with an error (``*_error``, or an HTTP error).

    ``message`` is the text sent to the client. For a signature mismatch it echoes
    the canonical request, which may hold the client's session token, so it is
    kept out of ``str()`` and ``repr()``, as in :class:`AuthorizationRejected`.
    ``status`` is the HTTP status of ``POST /event``, when the error type alone does
    not decide it (a handler's refusal is 403 whatever its type); ``delay_s``, how long
    the service took to decide (a handler's ``--handler-latency-ms``).
    """

    def __init__(
        self, error_type: str, message: str, *, status: int | None = None, delay_s: float = 0.0
    ) -> None:
        self.error_type = error_type
        self.message = message
        self.delay_s = delay_s
        self._status = status
        super().__init__(error_type)

    def __repr__(self) -> str:
        return f"OperationRefused(error_type={self.error_type!r})"

    @property
    def detail(self) -> ErrorDetail:
        return ErrorDetail(self.error_type, self.message)

    @property
    def http_status(self) -> int:
        if self._status is not None:
            return self._status
        return _STATUS_BY_TYPE.get(self.error_type, 400)
