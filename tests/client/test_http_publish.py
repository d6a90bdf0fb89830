"""HTTP publish (``harness.client.http_publish.HttpPublisher``, docs/protocol.md#http-publish)
against real emulator processes: every auth mode, per-event failures, request-level errors
with their status and ``errorType``, the throttle fault, network failures and https.

Events published over HTTP are checked on the receiving side by a WebSocket
subscriber (``harness.client.websocket.EventsClient``). Where a test checks that ``detail`` is
the server's first line, the server's answer is fetched independently with
``http.client`` (``LiveEmulator.request``) for the same body and headers.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import gevent
import pytest
from support.client import (
    EVENT_TOO_LARGE_TEXT,
    INVALID_CHANNEL_TEXT,
    SESSION_TOKEN,
    WRONG_SECRET_KEY,
    ScriptedPeer,
    TemporaryIam,
    channel,
    first_line,
    free_port,
    scripted_server,
    silent_port,
    target_on,
)
from support.emulator import WAIT_S, LiveEmulator, wait_until

from harness.client.http_publish import HttpPublisher, HttpRejected
from harness.client.websocket import ClientOptions, EventsClient, PublishOutcome
from harness.errors import ConnectionLost, OperationRejected, OperationTimeout
from harness.protocol import Endpoints, compact_json
from harness.signing import AuthMode, Authorizer, make_authorizer

StartEmulator = Callable[..., LiveEmulator]

TIMEOUT_S = 2.0


# -- helpers --------------------------------------------------------------------------


@contextmanager
def publisher(
    live: LiveEmulator,
    mode: AuthMode = AuthMode.API_KEY,
    *,
    authorizer: Authorizer | None = None,
    endpoints: Endpoints | None = None,
    **kwargs: Any,
) -> Iterator[HttpPublisher]:
    http = HttpPublisher(
        endpoints or live.endpoints,
        authorizer or live.authorizer(mode),
        timeout_s=kwargs.pop("timeout_s", TIMEOUT_S),
        **kwargs,
    )
    try:
        yield http
    finally:
        http.close()


class Subscriber:
    """A WebSocket subscriber to one channel, recording what it receives."""

    def __init__(self, live: LiveEmulator, path: str, options: ClientOptions | None = None) -> None:
        self.events: list[tuple[str, str]] = []
        self.client = EventsClient(
            live.endpoints,
            live.authorizer(),
            options or ClientOptions(connect_timeout_s=TIMEOUT_S, operation_timeout_s=TIMEOUT_S),
            on_data=lambda sub_id, event, _ns: self.events.append((sub_id, event)),
        )
        self.client.connect()
        self.sub_id = self.client.subscribe(path)

    def wait(self, count: int) -> list[str]:
        wait_until(lambda: len(self.events) >= count, what=f"{count} events")
        assert {sub_id for sub_id, _ in self.events} == {self.sub_id}
        return [event for _, event in self.events]


@contextmanager
def subscribed(
    live: LiveEmulator, path: str, options: ClientOptions | None = None
) -> Iterator[Subscriber]:
    subscriber = Subscriber(live, path, options)
    try:
        yield subscriber
    finally:
        subscriber.client.close()


def raw_http_error(
    live: LiveEmulator, authorizer: Authorizer, path: str, events: list[str]
) -> tuple[int, dict[str, Any]]:
    """The emulator's answer to the same publish sent with http.client: status, first error."""
    body = compact_json({"channel": path, "events": events}).encode("utf-8")
    status, document = live.request("POST", "/event", body, authorizer.http_headers(body))
    assert isinstance(document, dict), document
    return status, dict(document["errors"][0])


def assert_rejected(
    exc: OperationRejected, status: int, error_type: str, detail: str | None = None
) -> None:
    assert type(exc) is HttpRejected, repr(exc)
    assert isinstance(exc, OperationRejected)
    assert exc.status == status
    assert exc.operation == "http_publish"
    assert exc.error_type == error_type
    if detail is not None:
        assert exc.detail == detail
    assert "\n" not in exc.detail


def http_published(live: LiveEmulator) -> int:
    return int(live.stats()["publishes"]["http"])


# -- every auth mode ---------------------------------------------------------------------


@pytest.mark.parametrize("mode", list(AuthMode), ids=lambda mode: mode.value)
def test_every_mode_publishes_and_a_subscriber_receives(
    emulator: LiveEmulator, mode: AuthMode
) -> None:
    path = channel()
    events = ['{"text": "h\\u00e9llo <b>&amp;</b>",  "n": [1, 2.5]}', '"plain"', "null"]
    before = http_published(emulator)
    with subscribed(emulator, path) as subscriber, publisher(emulator, mode) as http:
        outcome = http.publish(path, events)
        assert outcome == PublishOutcome(successful=(0, 1, 2), failed=())
        assert subscriber.wait(3) == events
    assert http_published(emulator) == before + 1


def test_iam_publishes_to_an_iam_only_namespace(emulator: LiveEmulator) -> None:
    path = channel("iamonly")
    with publisher(emulator, AuthMode.AWS_IAM) as http:
        assert http.publish(path, ["1"]).successful == (0,)


def test_one_publisher_publishes_many_times_and_concurrently(emulator: LiveEmulator) -> None:
    path = channel()
    with (
        subscribed(emulator, path) as subscriber,
        publisher(emulator, AuthMode.AWS_IAM, concurrency=2) as http,
    ):
        for index in range(3):
            assert http.publish(path, [str(index)]).successful == (0,)
        assert subscriber.wait(3) == ["0", "1", "2"]
        jobs = [gevent.spawn(http.publish, path, [str(index)]) for index in range(3, 9)]
        gevent.joinall(jobs, timeout=WAIT_S, raise_error=True)
        assert [job.value for job in jobs] == [PublishOutcome((0,), ())] * 6
        assert sorted(subscriber.wait(9)) == sorted(str(index) for index in range(9))


# -- per-event and request-level errors ------------------------------------------------


def test_an_event_over_240_kb_comes_back_as_failed(emulator: LiveEmulator) -> None:
    path = channel()
    too_large = json.dumps("x" * (245_760 + 10))
    with subscribed(emulator, path) as subscriber, publisher(emulator) as http:
        outcome = http.publish(path, ['{"ok":1}', too_large, '{"ok":2}'])
        assert outcome.successful == (0, 2)
        assert outcome.failed == ((1, "EventTooLargeException", EVENT_TOO_LARGE_TEXT),)
        assert subscriber.wait(2) == ['{"ok":1}', '{"ok":2}']
        gevent.sleep(0.05)
        assert len(subscriber.events) == 2


def test_a_wrong_api_key_is_rejected_with_its_status(emulator: LiveEmulator) -> None:
    path = channel()
    wrong = make_authorizer(AuthMode.API_KEY, emulator.http_host, api_key="da2-wronghttpkey")
    status, expected = raw_http_error(emulator, wrong, path, ["1"])
    assert status == 401
    with publisher(emulator, authorizer=wrong) as http:
        with pytest.raises(HttpRejected) as caught:
            http.publish(path, ["1"])
        assert_rejected(caught.value, 401, "UnauthorizedException", first_line(expected["message"]))
        assert "da2-wronghttpkey" not in str(caught.value) + repr(caught.value)
        # The same publisher keeps working once it has the right key.
        http.authorizer = emulator.authorizer()
        assert http.publish(path, ["2"]).successful == (0,)


def test_a_mode_the_namespace_does_not_allow_is_unauthorized(emulator: LiveEmulator) -> None:
    with publisher(emulator, AuthMode.API_KEY) as http, pytest.raises(HttpRejected) as caught:
        http.publish(channel("iamonly"), ["1"])
    assert_rejected(caught.value, 401, "UnauthorizedException")


def test_more_than_five_events_is_a_bad_request(emulator: LiveEmulator) -> None:
    path = channel()
    events = [str(index) for index in range(6)]
    status, expected = raw_http_error(emulator, emulator.authorizer(), path, events)
    assert status == 400
    with subscribed(emulator, path) as subscriber, publisher(emulator) as http:
        with pytest.raises(HttpRejected) as caught:
            http.publish(path, events)
        assert_rejected(caught.value, 400, "BadRequestException", first_line(expected["message"]))
        assert http.publish(path, ['"ok"']).successful == (0,)
        assert subscriber.wait(1) == ['"ok"'], "none of the six was delivered"


@pytest.mark.parametrize("bad", ["/default/*", "/default/has space", "no/such/../channel"])
def test_a_bad_channel_is_a_bad_request(emulator: LiveEmulator, bad: str) -> None:
    status, expected = raw_http_error(emulator, emulator.authorizer(), bad, ["1"])
    assert status == 400
    with publisher(emulator) as http, pytest.raises(HttpRejected) as caught:
        http.publish(bad, ["1"])
    assert_rejected(caught.value, 400, "BadRequestException", first_line(expected["message"]))
    assert caught.value.detail == INVALID_CHANNEL_TEXT


def test_an_unknown_namespace_is_not_found(emulator: LiveEmulator) -> None:
    with publisher(emulator) as http, pytest.raises(HttpRejected) as caught:
        http.publish(channel("nosuchnamespace"), ["1"])
    assert_rejected(caught.value, 404, "ResourceNotFound", "Namespace not found")


def test_the_throttle_fault_is_429(emulator: LiveEmulator) -> None:
    path = channel()
    before = emulator.stats()["publishes"]["throttled"]
    with publisher(emulator) as http:
        emulator.add_fault("throttle")
        try:
            with pytest.raises(HttpRejected) as caught:
                http.publish(path, ["1"])
        finally:
            emulator.clear_faults()
        assert_rejected(caught.value, 429, "LimitExceededError", "Rate exceeded (injected fault)")
        assert emulator.stats()["publishes"]["throttled"] == before + 1
        assert http.publish(path, ["1"]).successful == (0,)


def test_iam_wrong_secret_gives_only_the_first_line(temporary_iam: TemporaryIam) -> None:
    live, right, wrong = temporary_iam
    path = channel()
    status, expected = raw_http_error(live, wrong, path, ["1"])
    assert status == 400
    assert SESSION_TOKEN in expected["message"], "the server echoes the canonical request"
    with publisher(live, authorizer=wrong) as http:
        with pytest.raises(HttpRejected) as caught:
            http.publish(path, ["1"])
        assert_rejected(caught.value, 400, "BadRequestException", first_line(expected["message"]))
        assert caught.value.detail.startswith("The request signature we calculated")
        for text in (str(caught.value), repr(caught.value)):
            assert SESSION_TOKEN not in text
            assert WRONG_SECRET_KEY not in text
            assert "Canonical String" not in text
    with publisher(live, authorizer=right) as http:
        assert http.publish(path, ["1"]).successful == (0,)


# -- network -----------------------------------------------------------------------------


def test_a_closed_port_is_a_network_error() -> None:
    http = HttpPublisher(*target_on(free_port()), timeout_s=TIMEOUT_S)
    try:
        started = time.monotonic()
        with pytest.raises(ConnectionLost) as caught:
            http.publish("/default/x", ["1"])
        assert time.monotonic() - started < 1.0
    finally:
        http.close()
    assert type(caught.value) is ConnectionLost
    assert caught.value.operation == "http_publish"
    assert caught.value.error_type == "NetworkError"


def test_a_server_that_never_answers_times_out() -> None:
    """A listener that accepts TCP and never answers: the publish ends at timeout_s."""
    timeout_s = 0.4
    with silent_port() as port:
        http = HttpPublisher(*target_on(port), timeout_s=timeout_s)
        try:
            started = time.monotonic()
            with pytest.raises(OperationTimeout) as caught:
                http.publish("/default/x", ["1"])
            elapsed = time.monotonic() - started
        finally:
            http.close()
    assert caught.value.operation == "http_publish"
    assert caught.value.error_type == "Timeout"
    assert timeout_s * 0.9 <= elapsed < timeout_s + 0.4


def test_https_works_with_the_emulators_ca_and_fails_without(
    start_emulator: StartEmulator,
) -> None:
    live = start_emulator("--tls")
    ca_cert = live.process.info.ca_cert
    assert ca_cert is not None
    assert live.endpoints.http_url.startswith("https://")
    path = channel()
    options = ClientOptions(ca_file=ca_cert, operation_timeout_s=TIMEOUT_S)
    with (
        subscribed(live, path, options) as subscriber,
        publisher(live, AuthMode.AWS_IAM, ca_file=ca_cert) as http,
    ):
        assert http.publish(path, ['{"https":true}']).successful == (0,)
        assert subscriber.wait(1) == ['{"https":true}']

    with publisher(live) as untrusting, pytest.raises(ConnectionLost) as caught:
        untrusting.publish(path, ["1"])
    assert caught.value.operation == "http_publish"
    assert caught.value.error_type == "TlsError"
    assert "SSL" in caught.value.detail


# -- answers AppSync never gives ---------------------------------------------------------
#
# A proxy or load balancer in front of an API can answer with an HTML page, or with
# something that is not HTTP at all; a one-connection server of the test's own
# (client_support.scripted_server) does what no emulator does.


def http_answer(status_line: str, body: bytes) -> bytes:
    return f"HTTP/1.1 {status_line}\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body


def answered_with(answer: bytes) -> Exception:
    """What HttpPublisher raises when every request gets ``answer``."""

    def server(peer: ScriptedPeer) -> None:
        assert b"POST /event HTTP/1.1" in peer.http_request()
        peer.send(answer)

    with scripted_server(server) as port:
        http = HttpPublisher(*target_on(port), timeout_s=TIMEOUT_S)
        try:
            with pytest.raises(Exception) as caught:
                http.publish("/default/x", ["1"])
        finally:
            http.close()
    return caught.value


@pytest.mark.parametrize(
    ("status_line", "body"),
    [
        ("502 Bad Gateway", b"<html><body>502 Bad Gateway</body></html>"),
        ("503 Service Unavailable", b'["not", "an object"]'),
        ("500 Internal Server Error", b""),
    ],
)
def test_an_error_answer_without_an_appsync_body_is_named_after_its_status(
    status_line: str, body: bytes
) -> None:
    status = int(status_line.split()[0])
    error = answered_with(http_answer(status_line, body))
    assert isinstance(error, HttpRejected), repr(error)
    assert_rejected(error, status, f"HTTP{status}", "")


def test_an_answer_that_is_not_http_is_a_network_error() -> None:
    error = answered_with(b"this is not HTTP\r\n\r\n")
    assert type(error) is ConnectionLost, repr(error)
    assert error.operation == "http_publish"
    assert error.error_type == "NetworkError"


def test_close_closes_the_kept_alive_connection() -> None:
    ended: list[bytes] = []

    def serve_once_then_wait_for_the_end(peer: ScriptedPeer) -> None:
        peer.http_request()
        peer.send(http_answer("200 OK", b'{"successful":[{"index":0}],"failed":[]}'))
        ended.append(gevent.with_timeout(WAIT_S, peer.wait_for_client_frame, timeout_value=b"?"))

    with scripted_server(serve_once_then_wait_for_the_end) as port:
        http = HttpPublisher(*target_on(port), timeout_s=TIMEOUT_S)
        assert http.publish("/default/x", ["1"]) == PublishOutcome((0,), ())
        gevent.sleep(0.1)
        assert ended == [], "the connection is kept alive between publishes"
        http.close()
        wait_until(lambda: ended, what="the end of the connection")
    assert ended == [b""]
