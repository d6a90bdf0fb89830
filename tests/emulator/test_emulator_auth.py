"""Authorization on a live emulator: every mode accepted and rejected, on connect,
subscribe, WebSocket publish and HTTP publish, and the known bad signatures of
amplify-js 6.8.0 rejected as AppSync rejects them (docs/protocol.md#connecting, #errors,
#amplify-680)."""

from __future__ import annotations

import base64
import hashlib
import json
import socket
from collections.abc import Callable

import pytest
from support.emulator import LiveEmulator, WsClient, default_authorizer
from support.emulator_checks import raw_websocket, read_first_ws_frame
from support.signed_requests import SUBPROTOCOL, botocore_headers, connect_with, only_error

from harness.emulator import defaults
from harness.emulator.process import EmulatorStartError
from harness.protocol import (
    ConnectionAck,
    ConnectionErrorMessage,
    Data,
    PublishError,
    PublishSuccess,
    SubscribeError,
    SubscribeSuccess,
)
from harness.signing import AuthMode, encode_subprotocol
from harness.signing.jwt import mint_hs256
from harness.signing.verify import INVALID_TOKEN, NOT_AUTHORIZED, SIGNATURE_MISMATCH

ALL_MODES = tuple(AuthMode)


@pytest.mark.parametrize("mode", ALL_MODES, ids=str)
def test_every_mode_connects_subscribes_and_publishes(
    emulator: LiveEmulator, mode: AuthMode
) -> None:
    with emulator.clients(2, mode) as (subscriber, publisher):
        assert subscriber.subscribe(
            "s", f"/default/{mode.lower().replace('_', '-')}"
        ) == SubscribeSuccess("s")
        publisher.publish("p", f"/default/{mode.lower().replace('_', '-')}", ['{"mode":1}'])
        assert isinstance(publisher.recv(), PublishSuccess)
        assert subscriber.recv() == Data("s", '{"mode":1}')
        status, answer = emulator.http_publish(
            f"/default/{mode.lower().replace('_', '-')}", ['"http"'], mode
        )
        assert status == 200, answer
        assert subscriber.recv() == Data("s", '"http"')


def test_botocore_engine_signatures_are_accepted_too(emulator: LiveEmulator) -> None:
    authorizer = emulator.authorizer(AuthMode.AWS_IAM, engine="botocore")
    client = WsClient(emulator.open(authorizer.connect_subprotocols()), authorizer)
    assert isinstance(client.init(), ConnectionAck)
    assert client.subscribe("s", "/default/boto") == SubscribeSuccess("s")
    client.publish("p", "/default/boto", ['"b"'])
    assert Data("s", '"b"') in client.recv_all()
    client.close()


@pytest.mark.parametrize("mode", [AuthMode.API_KEY, AuthMode.AWS_IAM, AuthMode.AWS_LAMBDA], ids=str)
def test_connect_auth_from_upgrade_headers(emulator: LiveEmulator, mode: AuthMode) -> None:
    """The Swift and Kotlin SDKs send connect auth as real upgrade headers
    (docs/protocol.md#upgrade-headers)."""
    headers = emulator.authorizer(mode).connect_headers()
    headers.pop("host")  # the real Host header carries it
    client = WsClient(emulator.open([SUBPROTOCOL], headers=headers), None)
    assert isinstance(client.init(), ConnectionAck)
    client.close()


def send_masked_text(sock: socket.socket, payload: bytes) -> None:
    """One client text frame, masked as RFC 6455 §5.3 requires (payload < 126 bytes)."""
    mask = b"\x01\x02\x03\x04"
    masked = bytes(byte ^ mask[index % 4] for index, byte in enumerate(payload))
    sock.sendall(bytes([0x81, 0x80 | len(payload)]) + mask + masked)


def test_header_subprotocol_may_be_padded_or_use_the_standard_alphabet(
    emulator: LiveEmulator,
) -> None:
    """docs/protocol.md#subprotocol advises lenient decoding: padding and ``+/``
    are accepted."""
    auth = {"host": emulator.http_host, "x-api-key": defaults.DEFAULT_API_KEY, "note": "??>>"}
    raw = json.dumps(auth).encode()
    standard = base64.b64encode(raw).decode()
    assert "=" in standard and "/" in standard  # the note makes both appear
    for encoded in (standard, base64.urlsafe_b64encode(raw).decode()):
        sock, received = raw_websocket(emulator, [f"header-{encoded}", SUBPROTOCOL])
        with sock:
            send_masked_text(sock, b'{"type":"connection_init"}')
            frame = read_first_ws_frame(sock, received)
        assert frame is not None
        assert json.loads(frame[1]) == {"type": "connection_ack", "connectionTimeoutMs": 300000}


def test_server_selects_only_the_event_subprotocol(emulator: LiveEmulator) -> None:
    authorizer = emulator.authorizer()
    ws = emulator.open(authorizer.connect_subprotocols())
    assert ws.subprotocol == SUBPROTOCOL
    ws.close()


# -- refusals -------------------------------------------------------------------


@pytest.mark.parametrize(
    "auth_object",
    [
        pytest.param({"x-api-key": "da2-wrongwrongwrongwrongwrongwrong"}, id="wrong-api-key"),
        pytest.param({"authorization": "not-a-known-token"}, id="unknown-token"),
        pytest.param({}, id="no-credential"),
    ],
)
def test_connect_with_bad_credentials_gets_unauthorized(
    emulator: LiveEmulator, auth_object: dict[str, str]
) -> None:
    answer = connect_with(emulator, {"host": emulator.http_host, **auth_object})
    assert isinstance(answer, ConnectionErrorMessage)
    assert answer.errors[0].error_type == "UnauthorizedException"
    assert answer.errors[0].error_code == 401
    assert answer.errors[0].message == NOT_AUTHORIZED


def test_connect_without_host_or_with_another_host_is_refused(emulator: LiveEmulator) -> None:
    for auth_object in (
        {"x-api-key": defaults.DEFAULT_API_KEY},
        {"x-api-key": defaults.DEFAULT_API_KEY, "host": "other.example.com"},
    ):
        answer = connect_with(emulator, auth_object)
        assert isinstance(answer, ConnectionErrorMessage)
        assert answer.errors[0].error_type == "UnauthorizedException"


def test_connection_error_is_followed_by_a_close(emulator: LiveEmulator) -> None:
    bad = encode_subprotocol({"host": emulator.http_host, "x-api-key": "da2-nope"})
    client = WsClient(emulator.open([SUBPROTOCOL, bad]), None)
    assert isinstance(client.recv(), ConnectionErrorMessage)
    assert client.closed_with() == 1000


def test_expired_jwt_and_unknown_iam_key_are_unauthorized(emulator: LiveEmulator) -> None:
    expired = mint_hs256(defaults.DEFAULT_JWT_SECRET, {"sub": "u", "exp": 1_000_000})
    answer = connect_with(emulator, {"host": emulator.http_host, "authorization": expired})
    assert only_error(answer) == ("UnauthorizedException", NOT_AUTHORIZED)
    # A key id the API does not know: "The security token included in the request is invalid."
    headers = botocore_headers(emulator.http_host, b"{}")
    headers["authorization"] = headers["authorization"].replace(
        defaults.DEFAULT_ACCESS_KEY_ID, "AKIAUNKNOWNKEY000000"
    )
    assert only_error(connect_with(emulator, headers)) == ("UnauthorizedException", INVALID_TOKEN)


def test_connect_signed_over_event_connect_is_rejected_like_appsync(
    emulator: LiveEmulator,
) -> None:
    """amplify-js 6.8.0 signed the connect over /event/connect (docs/protocol.md#amplify-680)."""
    correct = botocore_headers(emulator.http_host, b"{}")
    assert isinstance(connect_with(emulator, correct), ConnectionAck)
    buggy = botocore_headers(emulator.http_host, b"{}", path="/event/connect")
    answer = connect_with(emulator, buggy)
    assert isinstance(answer, ConnectionErrorMessage)
    error_type, message = only_error(answer)
    assert error_type == "BadRequestException"
    assert answer.errors[0].error_code == 400
    assert message.startswith(SIGNATURE_MISMATCH)
    assert "The Canonical String for this request should have been\n'POST\n/event\n\n" in message
    assert f"host:{emulator.http_host}\n" in message


def test_subscribe_signed_over_null_array_is_rejected_like_appsync(
    emulator: LiveEmulator,
) -> None:
    """amplify-js 6.8.0 hashed ``[null]`` for subscribe (docs/protocol.md#amplify-680)."""
    client = emulator.client(AuthMode.AWS_IAM)
    buggy = botocore_headers(emulator.http_host, b"[null]")
    buggy.pop("host")
    client.send(
        {
            "type": "subscribe",
            "id": "s",
            "channel": "/default/x",
            "authorization": {**buggy, "host": emulator.http_host},
        }
    )
    answer = client.recv()
    assert isinstance(answer, SubscribeError) and answer.id == "s"
    error_type, message = only_error(answer)
    assert error_type == "BadRequestException"
    assert message.startswith(SIGNATURE_MISMATCH)
    good = botocore_headers(emulator.http_host, b'{"channel":"/default/x"}')
    client.send({"type": "subscribe", "id": "s", "channel": "/default/x", "authorization": good})
    assert client.recv() == SubscribeSuccess("s")
    client.close()


def test_publish_signed_for_another_channel_or_events_is_rejected(emulator: LiveEmulator) -> None:
    client = emulator.client(AuthMode.AWS_IAM)
    signed_for = client.auth("/default/a", ['"x"'])
    for channel, events in (
        ("/default/b", ['"x"']),
        ("/default/a", ['"y"']),
        ("default/a", ['"x"']),
    ):
        client.send(
            {
                "type": "publish",
                "id": "p",
                "channel": channel,
                "events": events,
                "authorization": signed_for,
            }
        )
        answer = client.recv()
        assert isinstance(answer, PublishError), (channel, events)
        assert only_error(answer)[0] == "BadRequestException"
    client.close()


HTML_EVENTS = ['"a<b>&c"']
ESCAPED_BODY = b'{"channel":"/default/html","events":["\\"a\\u003cb\\u003e\\u0026c\\""]}'
COMPACT_BODY = b'{"channel":"/default/html","events":["\\"a<b>&c\\""]}'


def publish_signed_over(live: LiveEmulator, body: bytes) -> object:
    """The answer to a WebSocket publish of ``HTML_EVENTS`` signed by botocore over ``body``."""
    client = live.client(AuthMode.AWS_IAM)
    client.send(
        {
            "type": "publish",
            "id": "p",
            "channel": "/default/html",
            "events": HTML_EVENTS,
            "authorization": botocore_headers(live.http_host, body),
        }
    )
    answer = client.recv()
    client.close()
    return answer


def test_events_holding_html_characters_are_accepted_only_signed_escaped(
    emulator: LiveEmulator, start_emulator: Callable[..., LiveEmulator]
) -> None:
    """AppSync refuses the compact body there (aws-appsync-community#400) and the
    emulator does too, unless --lenient-signed-bodies; the harness's own signer passes."""
    assert isinstance(publish_signed_over(emulator, ESCAPED_BODY), PublishSuccess)
    refused = publish_signed_over(emulator, COMPACT_BODY)
    assert isinstance(refused, PublishError)
    error_type, message = only_error(refused)
    assert error_type == "BadRequestException" and message.startswith(SIGNATURE_MISMATCH)
    assert hashlib.sha256(ESCAPED_BODY).hexdigest() in message  # what it expected
    own = emulator.client(AuthMode.AWS_IAM)
    own.publish("p", "/default/html", HTML_EVENTS)
    assert isinstance(own.recv(), PublishSuccess)
    own.close()
    lenient = start_emulator("--lenient-signed-bodies")
    for body in (COMPACT_BODY, ESCAPED_BODY):
        assert isinstance(publish_signed_over(lenient, body), PublishSuccess)


def test_namespace_modes_are_enforced(emulator: LiveEmulator) -> None:
    """The shared emulator's ``iamonly`` namespace takes only AWS_IAM
    (docs/protocol.md#channels)."""
    api_key_client = emulator.client(AuthMode.API_KEY)
    answer = api_key_client.subscribe("s", "/iamonly/x")
    assert isinstance(answer, SubscribeError)
    assert only_error(answer) == ("UnauthorizedException", NOT_AUTHORIZED)
    api_key_client.publish("p", "/iamonly/x", ['"no"'])
    answer = api_key_client.recv()
    assert (
        isinstance(answer, PublishError) and answer.errors[0].error_type == "UnauthorizedException"
    )
    status, body = emulator.http_publish("/iamonly/x", ['"no"'], AuthMode.API_KEY)
    assert status == 401
    assert body["errors"][0]["errorType"] == "UnauthorizedException"
    iam_client = emulator.client(AuthMode.AWS_IAM)
    assert iam_client.subscribe("s", "/iamonly/x") == SubscribeSuccess("s")
    assert emulator.http_publish("/iamonly/x", ['"yes"'], AuthMode.AWS_IAM)[0] == 200
    assert iam_client.recv() == Data("s", '"yes"')
    api_key_client.close()
    iam_client.close()


def test_the_apis_default_publish_and_subscribe_modes_apply_where_a_namespace_has_none(
    start_emulator: Callable[..., LiveEmulator],
) -> None:
    """AppSync's model (docs/protocol.md#channels): connection modes, the API's default
    publish and subscribe modes, and a namespace's own overriding them."""
    live = start_emulator(
        *("--connection-auth", "API_KEY,AWS_IAM", "--default-publish-auth", "AWS_IAM"),
        *("--default-subscribe-auth", "API_KEY", "--namespace", "default"),
        *("--namespace", "open:publish=API_KEY"),
    )
    api_key = live.client(AuthMode.API_KEY)  # connects: API_KEY is a connection mode
    assert api_key.subscribe("s", "/default/x") == SubscribeSuccess("s")
    status, body = live.http_publish("/default/x", ['"no"'], AuthMode.API_KEY)
    assert (status, body["errors"][0]["errorType"]) == (401, "UnauthorizedException")
    assert live.http_publish("/default/x", ['"iam"'], AuthMode.AWS_IAM)[0] == 200
    assert api_key.recv() == Data("s", '"iam"')
    iam = live.client(AuthMode.AWS_IAM)
    refused = iam.subscribe("s", "/default/x")
    assert isinstance(refused, SubscribeError)
    assert only_error(refused)[0] == "UnauthorizedException"
    assert live.http_publish("/open/x", ['"key"'], AuthMode.API_KEY)[0] == 200  # its own
    api_key.close()
    iam.close()


def test_default_modes_need_credentials(start_emulator: Callable[..., LiveEmulator]) -> None:
    with pytest.raises(EmulatorStartError, match="--default-subscribe-auth: no credentials"):
        start_emulator("--api-key", "da2-only", "--default-subscribe-auth", "AWS_IAM")


def test_http_publish_with_bad_signature_or_key(emulator: LiveEmulator) -> None:
    body = b'{"channel":"/default/h","events":["1"]}'
    headers = botocore_headers(emulator.http_host, body)
    assert emulator.request("POST", "/event", body, headers)[0] == 200
    tampered = body.replace(b"1", b"2")
    status, answer = emulator.request("POST", "/event", tampered, headers)
    assert status == 400
    assert answer["errors"][0]["errorType"] == "BadRequestException"
    assert answer["errors"][0]["message"].startswith(SIGNATURE_MISMATCH)
    status, answer = emulator.request(
        "POST", "/event", body, {"x-api-key": "da2-wrong", "content-type": "application/json"}
    )
    assert (status, answer["errors"][0]["errorType"]) == (401, "UnauthorizedException")


def test_localhost_is_also_this_apis_host(emulator: LiveEmulator) -> None:
    port = emulator.http_host.rsplit(":", 1)[1]
    authorizer = default_authorizer(AuthMode.AWS_IAM, f"localhost:{port}")
    client = WsClient(emulator.open(authorizer.connect_subprotocols()), authorizer)
    assert isinstance(client.init(), ConnectionAck)
    assert client.subscribe("s", "/default/localhost") == SubscribeSuccess("s")
    client.close()


def test_a_mismatch_echoing_bytes_that_are_not_utf8_is_still_json(emulator: LiveEmulator) -> None:
    """A signed header holding a byte that is not UTF-8 (0xff) fails the signature, and
    the mismatch text that echoes it is still valid JSON (as an escape)."""
    body = b'{"channel":"/default/h","events":["1"]}'
    headers = botocore_headers(emulator.http_host, body)
    headers["accept"] = "application/json\xff"  # http.client sends it as the byte 0xff
    status, answer = emulator.request("POST", "/event", body, headers)
    assert status == 400, answer
    assert answer["errors"][0]["errorType"] == "BadRequestException"
    assert "accept:application/json\udcff" in answer["errors"][0]["message"]


def test_auth_failures_are_counted_by_type(start_emulator) -> None:  # type: ignore[no-untyped-def]
    live = start_emulator()
    connect_with(live, {"host": live.http_host, "x-api-key": "da2-wrong"})
    connect_with(live, botocore_headers(live.http_host, b"{}", path="/event/connect"))
    live.request("POST", "/event", b'{"channel":"/default/a","events":["1"]}', {"x-api-key": "x"})
    stats = live.wait_for(lambda s: sum(s["auth_failures"].values()) >= 3)
    assert stats["auth_failures"] == {"UnauthorizedException": 2, "BadRequestException": 1}
    outcomes = [attempt["outcome"] for attempt in stats["connection_attempts"]]
    assert outcomes == ["rejected", "rejected"]


def test_no_secret_reaches_the_emulator_log(start_emulator) -> None:  # type: ignore[no-untyped-def]
    live = start_emulator("--log-level", "DEBUG")
    for mode in ALL_MODES:
        client = live.client(mode)
        client.subscribe("s", "/default/secret")
        client.publish("p", "/default/secret", ['"x"'])
        client.recv_all(0.1)
        client.close()
    connect_with(live, {"host": live.http_host, "x-api-key": "da2-wrong-key-is-secret-too"})
    connect_with(live, botocore_headers(live.http_host, b"{}", path="/event/connect"))
    live.http_publish("/iamonly/x", ['"x"'], AuthMode.API_KEY)
    live.process.stop()
    log = live.process.stderr_text()
    assert "refused" in log  # the DEBUG lines were written...
    secrets = (
        defaults.DEFAULT_API_KEY,
        defaults.DEFAULT_SECRET_ACCESS_KEY,
        defaults.DEFAULT_JWT_SECRET,
        defaults.DEFAULT_LAMBDA_TOKEN,
        "da2-wrong-key-is-secret-too",
        "Signature=",
    )
    for secret in secrets:  # ...and none of them holds a credential
        assert secret not in log


def test_a_refusal_keeps_the_client_facing_text_out_of_its_str_and_repr() -> None:
    """The mismatch text echoes the canonical request, session token included."""
    from harness.emulator.operations import OperationRefused

    refused = OperationRefused("BadRequestException", "x-amz-security-token:SECRET-TOKEN")
    assert refused.detail.message.endswith("SECRET-TOKEN")
    for text in (str(refused), repr(refused), str(refused.args)):
        assert "SECRET-TOKEN" not in text
        assert "BadRequestException" in text
