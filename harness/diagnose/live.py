"""One pass through every operation of an Event API, each step judged and explained.

:class:`LiveDiagnosis` connects, subscribes, publishes over the WebSocket, receives
that event, publishes over HTTP, receives that one, and unsubscribes, with the
authorizer it is given (the harness's signer for the run's auth mode, or a test
client's). Each step records what was sent (secrets redacted), what came back
(AppSync's full error text is read, not only its first line), and how long it
took. When a step is refused, the request is checked (:mod:`harness.diagnose.checks`):
with the secret key at hand, the signature is explained line by line against the
canonical request the server says it expected.

It is a plain blocking client (``websockets.sync``, ``http.client``): one
connection, one channel, nothing measured under load. A step that needs an
earlier one that failed is skipped.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import ssl
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from harness.diagnose.answers import error_message, error_text, json_object
from harness.diagnose.checks import ApiFacts, CapturedRequest, Finding, Verdict, check
from harness.protocol import Endpoints
from harness.protocol.constants import HTTP_PATH, SUBPROTOCOL
from harness.signing import Authorizer, Operation, encode_subprotocol, redact
from harness.signing.variants import SignedRequest

USER_AGENT = "appsync-events-harness-diagnose"
MAX_MESSAGE_BYTES = 4 * 1024 * 1024
SENT_LIMIT = 600
"""Characters of a sent message shown (events are short; an auth object is not)."""


@dataclass
class StepResult:
    """One step: its verdict, what was sent and what came back."""

    step: str
    verdict: Verdict
    sent: str = ""
    answer: str = ""
    elapsed_ms: float | None = None
    findings: list[Finding] = field(default_factory=list)
    """The checks of a refused request."""


@dataclass(frozen=True)
class _Answer:
    verdict: Verdict
    text: str
    error: str | None = None
    """The server's full error text when it refused the request, for the checks."""
    at: float = field(default_factory=time.perf_counter)
    """When it arrived (``perf_counter``)."""


class LiveDiagnosis:
    """Runs the steps against one Event API; :meth:`run` returns them in order."""

    def __init__(
        self,
        endpoints: Endpoints,
        authorizer: Authorizer,
        api: ApiFacts,
        *,
        channel: str,
        timeout_s: float = 10.0,
        ca_file: str | None = None,
    ) -> None:
        self.endpoints = endpoints
        self.authorizer = authorizer
        self.api = api
        self.channel = channel
        self.timeout_s = timeout_s
        self._ssl = ssl.create_default_context(cafile=ca_file)
        self._socket: ClientConnection | None = None
        self._closing = contextlib.ExitStack()
        self._subscription: str | None = None
        self._received: list[tuple[dict[str, Any], float]] = []
        """``data`` messages read while waiting for other answers, with when."""
        self._published_at = 0.0
        self._nonce = uuid.uuid4().hex[:12]

    def run(self) -> list[StepResult]:
        try:
            return [
                self._connect(),
                self._subscribe(),
                *self._publish_and_receive("WebSocket", self._publish_ws),
                *self._publish_and_receive("HTTP", self._publish_http),
                self._unsubscribe(),
            ]
        finally:
            self._closing.close()

    # -- the steps -------------------------------------------------------------------

    def _connect(self) -> StepResult:
        headers = self.authorizer.connect_headers()
        url = self.endpoints.realtime_url
        sent = (
            f"GET {url} with subprotocols {SUBPROTOCOL} and header-… carrying "
            f"{_shown(redact(headers))}, then connection_init"
        )
        request = SignedRequest(Operation.CONNECT, headers)
        started = time.perf_counter()
        try:
            self._socket = self._closing.enter_context(
                connect(
                    url,
                    ssl=self._ssl if url.startswith("wss:") else None,
                    subprotocols=[SUBPROTOCOL, encode_subprotocol(headers)],  # type: ignore[list-item]
                    user_agent_header=USER_AGENT,
                    open_timeout=self.timeout_s,
                    max_size=MAX_MESSAGE_BYTES,
                    compression=None,
                    proxy=None,  # direct, as the harness's own client connects
                )
            )
            with contextlib.suppress(ConnectionClosed):  # a refusal may be on its way
                self._send({"type": "connection_init"})
            answer = self._await(
                lambda m: m.get("type") in ("connection_ack", "connection_error"),
                ok="connection_ack",
            )
        except InvalidStatus as exc:
            body = exc.response.body.decode("utf-8", "replace") if exc.response.body else ""
            answer = _Answer(
                Verdict.FAULT, f"HTTP {exc.response.status_code} {_first_line(body)}", body
            )
        except (InvalidHandshake, OSError, TimeoutError) as exc:
            answer = _Answer(Verdict.FAULT, f"{type(exc).__name__}: {exc}")
        if answer.verdict is not Verdict.OK and self._socket is not None:
            self._closing.close()  # refused: nothing else goes over this connection
            self._socket = None
        return self._result("connect", sent, answer, started, request)

    def _subscribe(self) -> StepResult:
        if self._socket is None:
            return _skipped("subscribe", "connect")
        authorization = self.authorizer.message_authorization(self.channel)
        message = {
            "type": "subscribe",
            "id": "s1",
            "channel": self.channel,
            "authorization": authorization,
        }
        request = SignedRequest(Operation.SUBSCRIBE, authorization, channel=self.channel)
        started = time.perf_counter()
        answer = self._exchange(message, "subscribe")
        if answer.verdict is Verdict.OK:
            self._subscription = "s1"
        return self._result("subscribe", _sent_message(message), answer, started, request)

    def _publish_and_receive(
        self, via: str, publish: Callable[[list[str]], StepResult]
    ) -> list[StepResult]:
        event = json.dumps({"diagnose": self._nonce, "via": via})
        self._published_at = time.perf_counter()
        published = publish([event])
        step = f"receive ({via} publish)"
        if published.verdict is not Verdict.OK:
            return [published, _skipped(step, published.step)]
        if self._subscription is None:
            return [published, _skipped(step, "subscribe")]
        expected = json.loads(event)
        answer = self._await(
            lambda m: m.get("type") == "data" and _decoded(m.get("event")) == expected,
            ok="data",
            keep=True,
        )
        sent = f"nothing; waited for {event} on subscription {self._subscription}"
        return [published, self._result(step, sent, answer, self._published_at, None)]

    def _publish_ws(self, events: list[str]) -> StepResult:
        if self._socket is None:
            return _skipped("publish (WebSocket)", "connect")
        authorization = self.authorizer.message_authorization(self.channel, events)
        message = {
            "type": "publish",
            "id": "p1",
            "channel": self.channel,
            "events": events,
            "authorization": authorization,
        }
        request = SignedRequest(Operation.PUBLISH, authorization, self.channel, events)
        started = time.perf_counter()
        answer = self._exchange(message, "publish")
        return self._result("publish (WebSocket)", _sent_message(message), answer, started, request)

    def _publish_http(self, events: list[str]) -> StepResult:
        body = json.dumps({"channel": self.channel, "events": events}, separators=(",", ":"))
        encoded = body.encode("utf-8")
        headers = self.authorizer.http_headers(encoded)
        url = self.endpoints.http_url
        sent = f"POST {url} with headers {_shown(redact(headers))} and body {body}"
        request = SignedRequest(Operation.HTTP_PUBLISH, headers, body=encoded)
        started = time.perf_counter()
        answer = self._post(encoded, headers)
        return self._result("publish (HTTP)", sent, answer, started, request)

    def _unsubscribe(self) -> StepResult:
        if self._subscription is None:
            return _skipped("unsubscribe", "subscribe")
        message = {"type": "unsubscribe", "id": self._subscription}
        started = time.perf_counter()
        answer = self._exchange(message, "unsubscribe")
        return self._result("unsubscribe", _sent_message(message), answer, started, None)

    # -- the wire --------------------------------------------------------------------

    def _exchange(self, message: dict[str, Any], kind: str) -> _Answer:
        """Send ``message`` and wait for its ``<kind>_success`` or ``<kind>_error``."""
        try:
            self._send(message)
        except (ConnectionClosed, OSError) as exc:
            return _Answer(Verdict.FAULT, f"the connection is gone: {type(exc).__name__}")
        answers = (f"{kind}_success", f"{kind}_error")
        return self._await(
            lambda m: m.get("type") in answers and m.get("id") == message["id"], ok=answers[0]
        )

    def _send(self, message: dict[str, Any]) -> None:
        assert self._socket is not None
        self._socket.send(json.dumps(message, separators=(",", ":")))

    def _await(
        self, wanted: Callable[[dict[str, Any]], bool], *, ok: str, keep: bool = False
    ) -> _Answer:
        """The first message ``wanted`` accepts (among ``data`` already read, with
        ``keep``), judged OK when its type is ``ok`` and it has no failed events."""
        assert self._socket is not None
        for message, at in self._received if keep else ():
            if wanted(message):
                return replace(_judged(message, ok), at=at)
        deadline = time.monotonic() + self.timeout_s
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                text = self._socket.recv(timeout=remaining)
            except TimeoutError:
                break
            except ConnectionClosed as exc:
                return _Answer(Verdict.FAULT, f"the server closed the connection ({exc.rcvd})")
            message = json_object(text)
            if wanted(message):
                return _judged(message, ok)
            if message.get("type") == "data":
                self._received.append((message, time.perf_counter()))
        return _Answer(Verdict.FAULT, f"no answer within {self.timeout_s:g} s")

    def _post(self, body: bytes, headers: dict[str, str]) -> _Answer:
        url = self.endpoints.http_url
        host = self.endpoints.http_host
        connection: http.client.HTTPConnection
        if url.startswith("https:"):
            connection = http.client.HTTPSConnection(
                host, timeout=self.timeout_s, context=self._ssl
            )
        else:
            connection = http.client.HTTPConnection(host, timeout=self.timeout_s)
        try:
            connection.request(
                "POST", HTTP_PATH, body=body, headers={**headers, "user-agent": USER_AGENT}
            )
            response = connection.getresponse()
            text = response.read().decode("utf-8", "replace")
        except (OSError, http.client.HTTPException) as exc:
            return _Answer(Verdict.FAULT, f"{type(exc).__name__}: {exc}")
        finally:
            connection.close()
        if response.status != 200:
            error = error_text(text)
            return _Answer(Verdict.FAULT, f"HTTP {response.status} {_first_line(error)}", error)
        return _judged({"type": "publish_success", **json_object(text)}, "publish_success")

    def _result(
        self,
        step: str,
        sent: str,
        answer: _Answer,
        started: float,
        request: SignedRequest | None,
    ) -> StepResult:
        elapsed_ms = (answer.at - started) * 1000
        findings: list[Finding] = []
        if answer.error is not None and request is not None:
            url = (
                self.endpoints.http_url
                if request.operation is Operation.HTTP_PUBLISH
                else (self.endpoints.realtime_url)
            )
            captured = CapturedRequest(request, url, "live", time.time(), answer.error)
            findings = check(captured, self.api)
        return StepResult(step, answer.verdict, sent, answer.text, elapsed_ms, findings)


# -- answers -------------------------------------------------------------------------


def _judged(message: dict[str, Any], ok: str) -> _Answer:
    kind = str(message.get("type", "?"))
    error = error_message(message)
    if error is not None or kind != ok:
        errors = message.get("errors") or [{}]
        error_type = errors[0].get("errorType", "") if isinstance(errors[0], dict) else ""
        return _Answer(Verdict.FAULT, f"{kind} {error_type}: {_first_line(error or '')}", error)
    failed = message.get("failed") or []
    if failed:
        return _Answer(Verdict.FAULT, f"{kind} with failed events: {_shown(failed)}")
    detail = ""
    if kind == "connection_ack":
        detail = f" (connectionTimeoutMs {message.get('connectionTimeoutMs')})"
    elif kind == "publish_success":
        detail = f" ({len(message.get('successful') or [])} event(s) accepted)"
    elif kind == "data":
        detail = f" on subscription {message.get('id')}: {message.get('event')}"
    return _Answer(Verdict.OK, kind + detail)


def _decoded(event: object) -> object:
    """A ``data`` message's event (a JSON string) decoded; None when it is not JSON."""
    try:
        return json.loads(event) if isinstance(event, str) else None
    except ValueError:
        return None


def _first_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[0] if lines else ""


def _shown(value: object) -> str:
    text = json.dumps(value, separators=(",", ":"))
    return text if len(text) <= SENT_LIMIT else text[: SENT_LIMIT - 1] + "…"


def _sent_message(message: dict[str, Any]) -> str:
    authorization = message.get("authorization")
    if isinstance(authorization, dict):
        message = {**message, "authorization": redact(authorization)}
    return _shown(message)


def _skipped(step: str, needs: str) -> StepResult:
    return StepResult(step, Verdict.SKIPPED, answer=f"skipped: needs a successful {needs}")
