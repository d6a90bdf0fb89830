"""The emulator's Cognito identity pool (docs/emulator.md#cognito-identity): real
emulator processes, botocore's own ``cognito-identity`` client and
``CredentialSource.from_identity_pool`` over loopback, and the credentials it issues
accepted (until they expire) by the AppSync side."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import botocore.exceptions
import botocore.session
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from support.emulator import LiveEmulator, WsClient, wait_until
from support.emulator_checks import run_cli
from support.timing import MS

from harness.emulator import defaults
from harness.emulator.identity import EmulatorToken
from harness.emulator.ready import ReadyInfo
from harness.errors import IdentityPoolError, SigningError
from harness.protocol import ConnectionAck, Data, PublishSuccess, SubscribeSuccess
from harness.signing import AuthMode, Authorizer, CredentialSource, make_authorizer
from harness.signing.jwt import mint_hs256
from harness.signing.verify import EXPIRED_TOKEN

Start = Callable[..., LiveEmulator]
HANDLERS = Path(__file__).parent / "handlers"
PROVIDER = "cognito-idp.us-east-1.amazonaws.com/us-east-1_Emulator"
POOL = defaults.DEFAULT_IDENTITY_POOL_ID


def identity_source(live: LiveEmulator, **kwargs: Any) -> CredentialSource:
    info = live.process.info
    assert info.cognito_identity_url is not None and info.identity_pool_id is not None
    return CredentialSource.from_identity_pool(
        kwargs.pop("pool_id", info.identity_pool_id),
        region=info.region,
        endpoint_url=info.cognito_identity_url,
        verify=info.ca_cert,
        **kwargs,
    )


def iam_authorizer(live: LiveEmulator, credentials: CredentialSource) -> Authorizer:
    return make_authorizer(
        AuthMode.AWS_IAM,
        live.http_host,
        credentials=credentials,
        region=live.process.info.region,
        sigv4_engine="fast",
    )


@contextmanager
def iam_client(live: LiveEmulator, credentials: CredentialSource) -> Iterator[WsClient]:
    """A connected client signing with ``credentials``, ``connection_ack`` received."""
    authorizer = iam_authorizer(live, credentials)
    client = WsClient(live.open(authorizer.connect_subprotocols()), authorizer)
    try:
        assert isinstance(client.init(), ConnectionAck)
        yield client
    finally:
        client.close()


def http_publish(
    live: LiveEmulator, credentials: CredentialSource, channel: str, events: list[str]
) -> tuple[int, Any]:
    body = json.dumps({"channel": channel, "events": events}).encode()
    return live.request(
        "POST", "/event", body, iam_authorizer(live, credentials).http_headers(body)
    )


def cognito_client(live: LiveEmulator) -> Any:
    """botocore's own client of the emulator's Cognito Identity API, unsigned."""
    info = live.process.info
    return botocore.session.get_session().create_client(
        "cognito-identity",
        region_name=info.region,
        endpoint_url=info.cognito_identity_url,
        config=Config(signature_version=UNSIGNED, retries={"max_attempts": 1}),
    )


def login_token(subject: str, secret: str = defaults.DEFAULT_JWT_SECRET) -> str:
    return mint_hs256(secret, {"sub": subject, "exp": int(time.time() + 3600)})


def test_each_source_is_its_own_identity_and_connects_subscribes_and_publishes(
    start_emulator: Start,
) -> None:
    live = start_emulator()
    sources = [identity_source(live) for _ in range(20)]
    identity_ids = {source.identity_id for source in sources}
    assert len(identity_ids) == 20
    assert all(identity_id and identity_id.startswith("us-east-1:") for identity_id in identity_ids)
    access_keys = {source.current().access_key for source in sources}
    assert len(access_keys) == 20 and all(key.startswith("ASIA") for key in access_keys)
    for number, source in enumerate(sources):
        channel = f"/default/user-{number}"
        with iam_client(live, source) as client:
            assert client.subscribe("s", channel) == SubscribeSuccess("s")
            client.publish("p", channel, ['{"over":"ws"}'])
            received = [client.recv(), client.recv()]
            assert any(isinstance(message, PublishSuccess) for message in received), received
            assert Data("s", '{"over":"ws"}') in received
            status, answer = http_publish(live, source, channel, ['{"over":"http"}'])
            assert status == 200, answer
            assert client.recv() == Data("s", '{"over":"http"}')
    cognito = live.stats()["cognito_identity"]
    assert cognito["identities"] == 20
    assert cognito["authenticated_identities"] == 0
    assert cognito["credentials_issued"] == 20
    assert cognito["expired_refusals"] == 0


def test_short_lived_credentials_are_refreshed_and_an_expired_set_is_refused(
    start_emulator: Start,
) -> None:
    ttl_s = 2.0
    live = start_emulator("--identity-credentials-ttl-s", str(ttl_s))
    source = identity_source(live)
    first = source.current()
    expired = CredentialSource.static(first.access_key, first.secret_key, first.token)
    assert http_publish(live, expired, "/default/first", ['"still valid"'])[0] == 200
    seen = {first.access_key}
    with iam_client(live, source) as client:
        assert client.subscribe("s", "/default/refresh") == SubscribeSuccess("s")
        # Over more than two lifetimes, every request signed with the source passes.
        deadline = time.monotonic() + 2.5 * ttl_s
        sent = 0
        while time.monotonic() < deadline:
            sent += 1
            status, answer = http_publish(live, source, "/default/refresh", [str(sent)])
            assert status == 200, (sent, answer)
            assert client.recv() == Data("s", str(sent))
            client.publish(f"p{sent}", "/default/refresh", [f'"ws {sent}"'])
            assert {type(message) for message in (client.recv(), client.recv())} == {
                PublishSuccess,
                Data,
            }
            seen.add(source.current().access_key)
            time.sleep(0.1)
    assert len(seen) >= 3, "the source did not refresh its credentials"
    assert source.identity_id is not None  # the same identity throughout
    status, answer = http_publish(live, expired, "/default/first", ['"too late"'])
    assert status == 401
    assert answer["errors"][0] == {"errorType": "UnauthorizedException", "message": EXPIRED_TOKEN}
    cognito = live.stats()["cognito_identity"]
    assert cognito["identities"] == 1
    assert cognito["credentials_issued"] == len(seen)
    assert cognito["expired_refusals"] == 1


def test_a_connect_with_expired_credentials_is_refused(start_emulator: Start) -> None:
    live = start_emulator("--identity-credentials-ttl-s", "0.5")
    frozen = identity_source(live).current()
    expired = CredentialSource.static(frozen.access_key, frozen.secret_key, frozen.token)
    time.sleep(0.6)  # the lifetime being tested, not a wait for the machine
    authorizer = iam_authorizer(live, expired)
    client = WsClient(live.open(authorizer.connect_subprotocols()), authorizer)
    answer = client.recv()
    client.close()
    assert answer.TYPE == "connection_error"
    (error,) = answer.errors  # type: ignore[attr-defined]
    assert (error.error_type, error.message) == ("UnauthorizedException", EXPIRED_TOKEN)
    assert live.stats()["cognito_identity"]["expired_refusals"] == 1


def test_handlers_see_the_cognito_identity_of_the_credentials(start_emulator: Start) -> None:
    pytest.importorskip("quickjs")
    live = start_emulator("--handlers", f"default={HANDLERS}/echo.js")
    guest = identity_source(live)
    member = identity_source(live, logins={PROVIDER: login_token("member-1")})
    for source, auth_type, provider in (
        (guest, "unauthenticated", None),
        (member, "authenticated", f'"{PROVIDER}","{PROVIDER}:CognitoSignIn:member-1"'),
    ):
        with iam_client(live, source) as client:
            assert client.subscribe("s", "/default/who") == SubscribeSuccess("s")
            client.publish("p", "/default/who", ['{"n":1}'])
            (data,) = [message for message in client.recv_all() if isinstance(message, Data)]
        identity = json.loads(data.event)["identity"]
        assert identity["cognitoIdentityId"] == source.identity_id
        assert identity["cognitoIdentityPoolId"] == POOL
        assert identity["cognitoIdentityAuthType"] == auth_type
        assert identity["cognitoIdentityAuthProvider"] == provider
        assert identity["accountId"] == "123456789012"
        assert identity["userArn"].startswith("arn:aws:sts::123456789012:assumed-role/Cognito_")


def test_an_authenticated_login_keeps_its_identity(start_emulator: Start) -> None:
    live = start_emulator()
    token = EmulatorToken()()  # as the harness mints its Cognito tokens
    first = identity_source(live, logins={PROVIDER: token})
    again = identity_source(live, logins={PROVIDER: token})
    refreshing = identity_source(live, logins={PROVIDER: EmulatorToken()})  # a token source
    other = identity_source(live, logins={PROVIDER: login_token("someone-else")})
    assert first.identity_id == again.identity_id == refreshing.identity_id
    assert other.identity_id != first.identity_id
    assert first.current().access_key != again.current().access_key  # each call, new keys
    with iam_client(live, again) as client:
        assert client.subscribe("s", "/default/member") == SubscribeSuccess("s")
    cognito = live.stats()["cognito_identity"]
    assert (cognito["identities"], cognito["authenticated_identities"]) == (2, 2)
    # GetCredentialsForIdentity of an authenticated identity needs one of its logins.
    client = cognito_client(live)
    with pytest.raises(client.exceptions.NotAuthorizedException):
        client.get_credentials_for_identity(IdentityId=first.identity_id)
    with pytest.raises(client.exceptions.NotAuthorizedException):
        client.get_credentials_for_identity(
            IdentityId=first.identity_id, Logins={PROVIDER: login_token("someone-else")}
        )


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(
            login_token("intruder", secret="not-the-emulators-secret"), id="bad-signature"
        ),
        pytest.param(
            mint_hs256(defaults.DEFAULT_JWT_SECRET, {"sub": "late", "exp": 1_000_000}),
            id="expired",
        ),
        pytest.param("not-a-jwt", id="not-a-jwt"),
    ],
)
def test_a_bad_login_token_is_not_authorized(start_emulator: Start, token: str) -> None:
    live = start_emulator()
    client = cognito_client(live)
    with pytest.raises(client.exceptions.NotAuthorizedException) as raised:
        client.get_id(IdentityPoolId=POOL, Logins={PROVIDER: token})
    assert raised.value.response["Error"]["Message"].startswith("Invalid login token.")
    assert token not in str(raised.value)
    with pytest.raises(IdentityPoolError) as failed:
        identity_source(live, logins={PROVIDER: token})
    assert isinstance(failed.value, SigningError)
    assert (failed.value.operation, failed.value.error_code) == ("GetId", "NotAuthorizedException")
    assert token not in str(failed.value)
    assert live.stats()["cognito_identity"]["errors"] == {"NotAuthorizedException": 2}


def test_an_unknown_pool_or_identity_is_resource_not_found(start_emulator: Start) -> None:
    live = start_emulator()
    client = cognito_client(live)
    other_pool = "us-east-1:11111111-2222-4333-8444-555555555555"
    with pytest.raises(client.exceptions.ResourceNotFoundException) as raised:
        client.get_id(IdentityPoolId=other_pool)
    assert raised.value.response["Error"]["Message"] == f"IdentityPool '{other_pool}' not found."
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.get_credentials_for_identity(
            IdentityId="us-east-1:00000000-dead-beef-0000-000000000000"
        )
    with pytest.raises(IdentityPoolError, match=f"Cognito identity pool '{other_pool}': GetId"):
        identity_source(live, pool_id=other_pool)
    # The answers botocore parsed are the protocol's: a 400 with __type and message.
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_the_protocol_refuses_what_it_does_not_serve(start_emulator: Start) -> None:
    live = start_emulator()
    client = cognito_client(live)
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        client.list_identity_pools(MaxResults=10)
    assert raised.value.response["Error"]["Code"] == "UnknownOperationException"


def test_an_unreachable_endpoint_is_a_signing_error_naming_the_pool() -> None:
    with pytest.raises(IdentityPoolError) as failed:
        CredentialSource.from_identity_pool(
            POOL, region="us-east-1", endpoint_url="http://127.0.0.1:9/"
        )
    assert failed.value.pool_id == POOL
    assert failed.value.error_code == "EndpointConnectionError"


def test_the_identity_pool_works_over_tls(start_emulator: Start) -> None:
    live = start_emulator("--tls")
    assert (live.process.info.cognito_identity_url or "").startswith("https://")
    source = identity_source(live)
    with iam_client(live, source) as client:
        assert client.subscribe("s", "/default/tls") == SubscribeSuccess("s")


def test_no_secret_reaches_the_log_or_the_stats(start_emulator: Start) -> None:
    live = start_emulator("--log-level", "DEBUG")
    token = login_token("member-2")
    source = identity_source(live, logins={PROVIDER: token})
    credentials = source.current()
    with iam_client(live, source) as client:
        client.subscribe("s", "/default/secret")
    client = cognito_client(live)
    with pytest.raises(client.exceptions.NotAuthorizedException):
        client.get_id(IdentityPoolId=POOL, Logins={PROVIDER: token + "x"})
    stats = json.dumps(live.stats())
    live.process.stop()
    log = live.process.stderr_text()
    assert "cognito-identity GetId refused" in log  # the DEBUG lines were written...
    assert credentials.secret_key and credentials.token
    for secret in (credentials.secret_key, credentials.token, token, token.split(".")[2]):
        assert secret not in log and secret not in stats
    assert repr(credentials).count(credentials.secret_key) == 0


def test_no_secret_reaches_botocores_debug_lines(
    start_emulator: Start, caplog: pytest.LogCaptureFixture
) -> None:
    """botocore logs request and answer bodies at DEBUG; the harness redacts them."""
    live = start_emulator()
    token = login_token("member-3")
    with caplog.at_level(logging.DEBUG):
        source = identity_source(live, logins={PROVIDER: token})
        credentials = source.current()
    assert "Response body" in caplog.text and "<redacted>" in caplog.text
    assert credentials.access_key in caplog.text  # an access key id is no secret
    for secret in (credentials.secret_key, credentials.token, token, token.split(".")[2]):
        assert secret and secret not in caplog.text


def test_the_pool_options_are_checked() -> None:
    result = run_cli("--identity-pool-id", "not-a-pool", timeout=10_000 * MS)
    assert result.returncode == 2
    assert "--identity-pool-id: must be REGION:GUID" in result.stderr
    result = run_cli("--identity-credentials-ttl-s", "0", timeout=10_000 * MS)
    assert result.returncode == 2 and "--identity-credentials-ttl-s" in result.stderr


def test_a_ready_line_without_the_identity_pool_still_reads() -> None:
    """Readers of older ready lines keep working: the new fields have defaults."""
    line = {
        "http_url": "http://127.0.0.1:1/event",
        "realtime_url": "ws://127.0.0.1:1/event/realtime",
        "admin_url": "http://127.0.0.1:1/_emulator/",
        "region": "us-east-1",
        "ca_cert": None,
    }
    info = ReadyInfo(**line)
    assert info.cognito_identity_url is None and info.identity_pool_id is None
    assert line.items() <= json.loads(info.to_json()).items()


def test_a_configured_pool_id_and_port_are_served(start_emulator: Start) -> None:
    pool_id = "eu-west-1:12345678-1234-4234-8234-123456789012"
    live = start_emulator("--identity-pool-id", pool_id, "--region", "eu-west-1")
    assert live.process.info.identity_pool_id == pool_id
    source = identity_source(live)
    assert (source.identity_id or "").startswith("eu-west-1:")
    with iam_client(live, source) as client:
        assert client.subscribe("s", "/default/eu") == SubscribeSuccess("s")
    wait_until(lambda: live.stats()["cognito_identity"]["pool_id"] == pool_id)
