"""Authorization end to end: what each authorizer sends, and what the verifier accepts or refuses.

Every round trip goes through the wire form: connect auth travels as the
``header-`` subprotocol and is decoded again, as the emulator will do.
"""

import base64
import dataclasses
import hashlib
import hmac
import json
from collections.abc import Callable, Sequence

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import ReadOnlyCredentials
from support.constants import (
    ACCESS_KEY,
    API_KEY,
    HOST,
    JWT_SECRET,
    LAMBDA_TOKEN,
    NOW,
    REGION,
    SECRET_KEY,
    SESSION_TOKEN,
    TEMP_ACCESS_KEY,
    TEMP_SECRET_KEY,
    botocore_clock,
    valid_jwt,
)

from harness.errors import AuthorizationRejected, ConfigurationError, SigningError
from harness.signing import (
    ApiKeyAuthorizer,
    AuthMode,
    Authorizer,
    AuthVerifier,
    Credentials,
    CredentialSource,
    FastSigner,
    IamAuthorizer,
    Operation,
    TokenAuthorizer,
    VerifierConfig,
    candidate_bodies,
    decode_subprotocol,
    encode_subprotocol,
    make_authorizer,
    signing_body,
)
from harness.signing.jwt import mint_hs256, verify_hs256
from harness.signing.sigv4 import IAM_CONSTANT_HEADERS
from harness.signing.verify import INVALID_TOKEN, SIGNATURE_MISMATCH
from harness.signing.wire import b64url_decode, b64url_encode

CHANNEL = "/default/room-1"
TEMPORARY = Credentials(TEMP_ACCESS_KEY, TEMP_SECRET_KEY, SESSION_TOKEN)
EVENTS = ['{"seq":1,"text":"hello"}', '"plain string"', "42"]


def iam(credentials: CredentialSource, engine: str = "fast") -> IamAuthorizer:
    signer = FastSigner(clock=lambda: NOW) if engine == "fast" else "botocore"
    return IamAuthorizer(HOST, REGION, credentials, signer)


AUTHORIZERS: dict[str, Callable[[], Authorizer]] = {
    "api-key": lambda: ApiKeyAuthorizer(HOST, API_KEY),
    "iam-long-term-botocore": lambda: iam(
        CredentialSource.static(ACCESS_KEY, SECRET_KEY), "botocore"
    ),
    "iam-temporary-botocore": lambda: iam(
        CredentialSource.static(TEMP_ACCESS_KEY, TEMP_SECRET_KEY, SESSION_TOKEN), "botocore"
    ),
    "iam-long-term-fast": lambda: iam(CredentialSource.static(ACCESS_KEY, SECRET_KEY)),
    "iam-temporary-fast": lambda: iam(
        CredentialSource.static(TEMP_ACCESS_KEY, TEMP_SECRET_KEY, SESSION_TOKEN)
    ),
    "cognito": lambda: TokenAuthorizer(AuthMode.AMAZON_COGNITO_USER_POOLS, HOST, valid_jwt()),
    "oidc-bearer": lambda: TokenAuthorizer(AuthMode.OPENID_CONNECT, HOST, "Bearer " + valid_jwt()),
    "lambda": lambda: TokenAuthorizer(AuthMode.AWS_LAMBDA, HOST, lambda: LAMBDA_TOKEN),
}


def connect_auth(authorizer: Authorizer) -> dict[str, str]:
    """What the emulator reads: the connect auth object, via the header- subprotocol."""
    protocols = authorizer.connect_subprotocols()
    assert protocols[0] == "aws-appsync-event-ws"
    return decode_subprotocol(protocols[1])


@pytest.mark.parametrize("name", sorted(AUTHORIZERS))
def test_every_mode_round_trips_connect_subscribe_and_publish(
    name: str, verifier: AuthVerifier
) -> None:
    authorizer = AUTHORIZERS[name]()
    mode = authorizer.mode
    with botocore_clock(NOW):
        connect = connect_auth(authorizer)
        subscribe = authorizer.message_authorization(CHANNEL)
        publish = authorizer.message_authorization(CHANNEL, EVENTS)
        http_body = signing_body(CHANNEL, EVENTS)
        http = authorizer.http_headers(http_body)
    assert connect["host"] == HOST
    assert verifier.verify(connect, [mode], Operation.CONNECT, candidate_bodies(None, None)) is mode
    assert (
        verifier.verify(subscribe, [mode], Operation.SUBSCRIBE, candidate_bodies(CHANNEL, None))
        is mode
    )
    assert (
        verifier.verify(publish, [mode], Operation.PUBLISH, candidate_bodies(CHANNEL, EVENTS))
        is mode
    )
    assert verifier.verify(http, [mode], Operation.HTTP_PUBLISH, [http_body]) is mode
    assert http["content-type"].startswith("application/json")


@pytest.mark.parametrize("name", [name for name in sorted(AUTHORIZERS) if name.startswith("iam")])
def test_an_iam_signature_is_bound_to_its_operation(name: str, verifier: AuthVerifier) -> None:
    authorizer = AUTHORIZERS[name]()
    with botocore_clock(NOW):
        subscribe = authorizer.message_authorization(CHANNEL)
    for operation, bodies in [
        (Operation.CONNECT, candidate_bodies(None, None)),
        (Operation.SUBSCRIBE, candidate_bodies("/default/room-2", None)),
        (Operation.PUBLISH, candidate_bodies(CHANNEL, EVENTS)),
    ]:
        with pytest.raises(AuthorizationRejected) as caught:
            verifier.verify(subscribe, [AuthMode.AWS_IAM], operation, bodies)
        assert caught.value.error_type == "BadRequestException"


def test_iam_auth_object_has_the_documented_keys() -> None:
    authorizer = AUTHORIZERS["iam-temporary-fast"]()
    headers = connect_auth(authorizer)
    assert set(headers) == {
        "accept",
        "content-encoding",
        "content-type",
        "host",
        "x-amz-date",
        "x-amz-security-token",
        "authorization",
    }
    assert {k: headers[k] for k in IAM_CONSTANT_HEADERS} == dict(IAM_CONSTANT_HEADERS)
    assert (
        "SignedHeaders=accept;content-encoding;content-type;host;x-amz-date;x-amz-security-token"
        in (headers["authorization"])
    )


def test_api_key_connect_object_is_host_and_key() -> None:
    assert connect_auth(ApiKeyAuthorizer(HOST, API_KEY)) == {"host": HOST, "x-api-key": API_KEY}


# -- The known client bug (docs/protocol.md#amplify-680) and other wrong signatures -------------


def botocore_signed(
    body: bytes,
    *,
    url: str = f"https://{HOST}/event",
    headers: dict[str, str] | None = None,
    credentials: Credentials = TEMPORARY,
    region: str = REGION,
    service: str = "appsync",
    at: float = NOW,
) -> dict[str, str]:
    """Sign like a third-party client would: botocore over an arbitrary request."""
    request = AWSRequest(
        method="POST",
        url=url,
        data=body,
        headers=headers if headers is not None else {**IAM_CONSTANT_HEADERS, "host": HOST},
    )
    frozen = ReadOnlyCredentials(credentials.access_key, credentials.secret_key, credentials.token)
    with botocore_clock(at):
        SigV4Auth(frozen, service, region).add_auth(request)
    return {name.lower(): value for name, value in request.headers.items()}


def reject(
    verifier: AuthVerifier,
    headers: dict[str, str],
    operation: Operation,
    bodies: Sequence[bytes],
    modes: Sequence[AuthMode] = (AuthMode.AWS_IAM,),
) -> AuthorizationRejected:
    with pytest.raises(AuthorizationRejected) as caught:
        verifier.verify(headers, modes, operation, bodies)
    return caught.value


def test_connect_signed_over_event_connect_is_rejected_like_appsync(verifier: AuthVerifier) -> None:
    # amplify-js 6.8.0: the connect was signed over /event/connect instead of /event.
    headers = botocore_signed(b"{}", url=f"https://{HOST}/event/connect")
    error = reject(verifier, headers, Operation.CONNECT, candidate_bodies(None, None))
    assert error.error_type == "BadRequestException"
    assert error.wire_message.startswith(SIGNATURE_MISMATCH)
    assert "The Canonical String for this request should have been\n'POST\n/event\n\n" in (
        error.wire_message
    )
    assert "The String-to-Sign should have been\n'AWS4-HMAC-SHA256\n20241111T173413Z\n" in (
        error.wire_message
    )
    # ... while the same client with the fixed path is accepted.
    fixed = botocore_signed(b"{}")
    assert (
        verifier.verify(fixed, [AuthMode.AWS_IAM], Operation.CONNECT, [b"{}"]) is AuthMode.AWS_IAM
    )


def test_subscribe_signed_over_null_array_is_rejected(verifier: AuthVerifier) -> None:
    # amplify-js 6.8.0 hashed JSON.stringify([undefined]) == "[null]" for subscribe.
    headers = botocore_signed(b"[null]")
    error = reject(verifier, headers, Operation.SUBSCRIBE, candidate_bodies(CHANNEL, None))
    assert error.error_type == "BadRequestException"
    assert error.wire_message.startswith(SIGNATURE_MISMATCH)
    expected_body_hash = "\n" + hashlib.sha256(signing_body(CHANNEL)).hexdigest() + "'"
    assert expected_body_hash in error.wire_message


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("content-type", "application/json"),
        ("accept", "*/*"),
        ("x-amz-date", "20241111T173414Z"),
        ("host", HOST.upper()),
    ],
)
def test_a_tampered_signed_header_is_a_signature_mismatch(
    verifier_config: VerifierConfig, header: str, value: str
) -> None:
    verifier = AuthVerifier(dataclasses.replace(verifier_config, hosts=None), clock=lambda: NOW)
    headers = botocore_signed(signing_body(CHANNEL))
    headers[header] = value
    error = reject(verifier, headers, Operation.SUBSCRIBE, candidate_bodies(CHANNEL, None))
    assert error.error_type == "BadRequestException"
    assert error.wire_message.startswith(SIGNATURE_MISMATCH)


def test_a_tampered_body_is_a_signature_mismatch(verifier: AuthVerifier) -> None:
    headers = botocore_signed(signing_body(CHANNEL, EVENTS))
    tampered = [*EVENTS[:-1], "43"]
    error = reject(verifier, headers, Operation.PUBLISH, candidate_bodies(CHANNEL, tampered))
    assert error.error_type == "BadRequestException"
    assert error.wire_message.startswith(SIGNATURE_MISMATCH)


def test_a_channel_written_differently_is_a_mismatch(verifier: AuthVerifier) -> None:
    # The channel is signed exactly as sent (docs/protocol.md#sigv4): "default/room-1" is another
    # body.
    headers = botocore_signed(signing_body("default/room-1"))
    reject(verifier, headers, Operation.SUBSCRIBE, candidate_bodies(CHANNEL, None))
    assert verifier.verify(
        headers, [AuthMode.AWS_IAM], Operation.SUBSCRIBE, candidate_bodies("default/room-1", None)
    )


def test_wrong_region_is_rejected(verifier: AuthVerifier) -> None:
    headers = botocore_signed(b"{}", region="us-west-2")
    error = reject(verifier, headers, Operation.CONNECT, [b"{}"])
    assert error.error_type == "BadRequestException"
    assert "valid region, not 'us-west-2'" in error.reason


def test_wrong_service_is_rejected(verifier: AuthVerifier) -> None:
    headers = botocore_signed(b"{}", service="execute-api")
    error = reject(verifier, headers, Operation.CONNECT, [b"{}"])
    assert error.error_type == "BadRequestException"
    assert "correct service: 'appsync'" in error.reason


@pytest.mark.parametrize(
    ("offset", "words"), [(-301.0, "Signature expired"), (301.0, "not yet current")]
)
def test_a_stale_or_future_date_is_rejected(
    verifier_config: VerifierConfig, offset: float, words: str
) -> None:
    headers = botocore_signed(b"{}", at=NOW + offset)
    verifier = AuthVerifier(verifier_config, clock=lambda: NOW)
    error = reject(verifier, headers, Operation.CONNECT, [b"{}"])
    assert error.error_type == "BadRequestException"
    assert words in error.reason
    # Within the five minutes it is fine.
    ok = botocore_signed(b"{}", at=NOW + offset * 0.99)
    assert verifier.verify(ok, [AuthMode.AWS_IAM], Operation.CONNECT, [b"{}"])


def test_an_unknown_access_key_is_unauthorized(verifier: AuthVerifier) -> None:
    headers = botocore_signed(b"{}", credentials=Credentials("AKIDUNKNOWN0000", SECRET_KEY))
    error = reject(verifier, headers, Operation.CONNECT, [b"{}"])
    assert error.error_type == "UnauthorizedException"
    assert "access key id is not known" in error.reason


def test_a_wrong_secret_is_a_signature_mismatch(verifier: AuthVerifier) -> None:
    headers = botocore_signed(b"{}", credentials=Credentials(ACCESS_KEY, "not-the-secret"))
    error = reject(verifier, headers, Operation.CONNECT, [b"{}"])
    assert error.error_type == "BadRequestException"
    assert error.wire_message.startswith(SIGNATURE_MISMATCH)


@pytest.mark.parametrize(
    ("credentials", "reason"),
    [
        (Credentials(TEMP_ACCESS_KEY, TEMP_SECRET_KEY, None), "session token is missing"),
        (Credentials(TEMP_ACCESS_KEY, TEMP_SECRET_KEY, "other-token"), "does not match"),
        (Credentials(ACCESS_KEY, SECRET_KEY, "unexpected-token"), "long-term credentials"),
    ],
)
def test_session_tokens_must_belong_to_the_key(
    verifier: AuthVerifier, credentials: Credentials, reason: str
) -> None:
    headers = botocore_signed(b"{}", credentials=credentials)
    error = reject(verifier, headers, Operation.CONNECT, [b"{}"])
    assert error.error_type == "UnauthorizedException"
    assert reason in error.reason


def test_host_and_date_must_be_signed(verifier: AuthVerifier) -> None:
    headers = botocore_signed(b"{}")
    headers["authorization"] = headers["authorization"].replace("host;", "")
    assert (
        "'host' must be among the signed headers"
        in reject(verifier, headers, Operation.CONNECT, [b"{}"]).reason
    )


def test_a_signed_header_missing_from_the_map_is_named(verifier: AuthVerifier) -> None:
    headers = botocore_signed(b"{}")
    del headers["accept"]
    error = reject(verifier, headers, Operation.CONNECT, [b"{}"])
    assert error.error_type == "BadRequestException"
    assert "accept" in error.reason


# -- What real clients sign differently, all accepted (docs/protocol.md#sigv4) ---------------------


def test_client_chosen_signed_headers_are_honoured(verifier: AuthVerifier) -> None:
    # auvred's client: the session token is sent but not signed.
    body = signing_body(CHANNEL)
    headers = botocore_signed(body, credentials=Credentials(TEMP_ACCESS_KEY, TEMP_SECRET_KEY, None))
    headers["x-amz-security-token"] = SESSION_TOKEN
    assert "x-amz-security-token" not in headers["authorization"]
    assert verifier.verify(headers, [AuthMode.AWS_IAM], Operation.SUBSCRIBE, [body])


def test_kotlin_style_content_sha256_header_is_honoured(verifier: AuthVerifier) -> None:
    body = signing_body(CHANNEL, EVENTS)
    digest = hashlib.sha256(body).hexdigest()
    headers = botocore_signed(body, headers={"host": HOST, "x-amz-content-sha256": digest})
    assert (
        "SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token"
        in (headers["authorization"])
    )
    bodies = candidate_bodies(CHANNEL, EVENTS)
    assert verifier.verify(headers, [AuthMode.AWS_IAM], Operation.PUBLISH, bodies)
    wrong = botocore_signed(body, headers={"host": HOST, "x-amz-content-sha256": "0" * 64})
    reject(verifier, wrong, Operation.PUBLISH, bodies)


def test_header_names_are_matched_case_insensitively(verifier: AuthVerifier) -> None:
    headers = botocore_signed(b"{}")
    documented = {
        "Authorization"
        if k == "authorization"
        else "X-Amz-Security-Token"
        if k.startswith("x-amz-s")
        else k: v
        for k, v in headers.items()
    }
    assert "Authorization" in documented
    assert verifier.verify(documented, [AuthMode.AWS_IAM], Operation.CONNECT, [b"{}"])


def test_a_body_holding_html_characters_is_accepted_only_escaped(verifier: AuthVerifier) -> None:
    """As AppSync refuses the compact body there (aws-appsync-community#400); the
    emulator's lenient mode accepts both, the compact one first."""
    events = ['{"html":"<b>bold</b> & more"}']
    escaped = signing_body(CHANNEL, events, html_escape=True)
    compact = signing_body(CHANNEL, events)
    assert escaped != compact and b"\\u003cb\\u003e" in escaped
    strict = candidate_bodies(CHANNEL, events)
    assert strict == (escaped,)
    assert verifier.verify(botocore_signed(escaped), [AuthMode.AWS_IAM], Operation.PUBLISH, strict)
    error = reject(verifier, botocore_signed(compact), Operation.PUBLISH, strict)
    assert error.error_type == "BadRequestException"
    lenient = candidate_bodies(CHANNEL, events, compact_accepted=True)
    assert lenient == (compact, escaped)
    for body in (compact, escaped):
        assert verifier.verify(
            botocore_signed(body), [AuthMode.AWS_IAM], Operation.PUBLISH, lenient
        )


# -- Modes, tokens and hosts -------------------------------------------------------------


def test_credentials_for_a_mode_the_operation_does_not_allow_are_unauthorized(
    verifier: AuthVerifier,
) -> None:
    api_key = {"host": HOST, "x-api-key": API_KEY}
    error = reject(verifier, api_key, Operation.PUBLISH, [b"{}"], modes=[AuthMode.AWS_IAM])
    assert error.error_type == "UnauthorizedException"
    assert error.wire_message == "You are not authorized to make this call."
    assert "no credential for the allowed auth modes (AWS_IAM)" in error.reason


def test_the_first_allowed_mode_that_accepts_wins(verifier: AuthVerifier) -> None:
    api_key = {"host": HOST, "x-api-key": API_KEY}
    modes = [AuthMode.AWS_IAM, AuthMode.AMAZON_COGNITO_USER_POOLS, AuthMode.API_KEY]
    assert verifier.verify(api_key, modes, Operation.CONNECT, [b"{}"]) is AuthMode.API_KEY


def test_a_wrong_api_key_is_unauthorized(verifier: AuthVerifier) -> None:
    error = reject(
        verifier,
        {"host": HOST, "x-api-key": "da2-wrong"},
        Operation.CONNECT,
        [b"{}"],
        [AuthMode.API_KEY],
    )
    assert error.error_type == "UnauthorizedException"
    assert "API key is not valid" in error.reason


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        (mint_hs256(JWT_SECRET, {"sub": "u", "exp": int(NOW - 3600)}), "Token expired"),
        (
            mint_hs256("another-secret", {"sub": "u", "exp": int(NOW + 3600)}),
            "signature is not valid",
        ),
        (mint_hs256(JWT_SECRET, {"sub": "u"}), "no numeric 'exp'"),
        (
            mint_hs256(JWT_SECRET, {"sub": "u", "exp": int(NOW + 7200), "nbf": int(NOW + 3600)}),
            "nbf",
        ),
        ("not-a-jwt", "not a JWT"),
        ("a.b.c", "not base64url-encoded JSON"),
    ],
)
def test_bad_jwts_are_unauthorized(verifier: AuthVerifier, token: str, reason: str) -> None:
    headers = {"host": HOST, "authorization": token}
    error = reject(
        verifier, headers, Operation.CONNECT, [b"{}"], [AuthMode.AMAZON_COGNITO_USER_POOLS]
    )
    assert error.error_type == "UnauthorizedException"
    assert reason in error.reason


def test_an_unsigned_jwt_is_refused(verifier: AuthVerifier) -> None:
    def part(obj: object) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    token = f"{part({'alg': 'none'})}.{part({'sub': 'u', 'exp': int(NOW + 60)})}."
    error = reject(
        verifier,
        {"host": HOST, "authorization": token},
        Operation.CONNECT,
        [b"{}"],
        [AuthMode.OPENID_CONNECT],
    )
    assert "HS256" in error.reason


def test_a_lambda_token_is_checked_against_the_configured_ones(verifier: AuthVerifier) -> None:
    headers = {"host": HOST, "authorization": "some-other-token"}
    error = reject(verifier, headers, Operation.CONNECT, [b"{}"], [AuthMode.AWS_LAMBDA])
    assert "Lambda authorizer denied" in error.reason


def test_connect_needs_this_apis_host(verifier: AuthVerifier) -> None:
    missing = reject(
        verifier, {"x-api-key": API_KEY}, Operation.CONNECT, [b"{}"], [AuthMode.API_KEY]
    )
    assert "no 'host'" in missing.reason
    other = {"host": "other.appsync-api.us-east-1.amazonaws.com", "x-api-key": API_KEY}
    wrong = reject(verifier, other, Operation.CONNECT, [b"{}"], [AuthMode.API_KEY])
    assert "not this API's HTTP host" in wrong.reason
    # Per-message authorization may leave host out for non-IAM modes
    # (docs/protocol.md#auth-objects).
    assert verifier.verify({"x-api-key": API_KEY}, [AuthMode.API_KEY], Operation.SUBSCRIBE, [b"{}"])


# -- The header- subprotocol (docs/protocol.md#subprotocol) ----------------------------------------


def test_subprotocol_decoding_is_lenient_about_padding_and_alphabet() -> None:
    document = {"host": "h", "x-api-key": "da2-?>?>~~~"}
    raw = json.dumps(document).encode()
    standard = base64.b64encode(raw).decode()
    assert "=" in standard and ("+" in standard or "/" in standard)
    assert decode_subprotocol("header-" + standard) == document
    assert decode_subprotocol("header-" + base64.urlsafe_b64encode(raw).decode()) == document


@pytest.mark.parametrize(
    "token",
    [
        "header-%%%not-base64%%%",
        "header-" + base64.urlsafe_b64encode(b"not json").decode(),
        "header-" + base64.urlsafe_b64encode(b'["a list"]').decode(),
        "header-" + base64.urlsafe_b64encode(b'{"host": 1}').decode(),
        "header-" + base64.urlsafe_b64encode(b"\xff\xfe").decode(),
        "aws-appsync-event-ws",
    ],
)
def test_a_bad_subprotocol_is_unauthorized(token: str) -> None:
    with pytest.raises(AuthorizationRejected) as caught:
        decode_subprotocol(token)
    assert caught.value.error_type == "UnauthorizedException"
    assert "subprotocol is invalid" in caught.value.reason


def test_non_ascii_auth_values_survive_the_subprotocol() -> None:
    authorizer = TokenAuthorizer(AuthMode.AWS_LAMBDA, HOST, "t\u00f6ken-\u2603")
    assert connect_auth(authorizer)["authorization"] == "t\u00f6ken-\u2603"


# -- Settings -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "mode"),
    [
        ("api_key", AuthMode.API_KEY),
        ("AWS-IAM", AuthMode.AWS_IAM),
        (" openid_connect ", AuthMode.OPENID_CONNECT),
        ("Amazon_Cognito_User_Pools", AuthMode.AMAZON_COGNITO_USER_POOLS),
        ("aws_lambda", AuthMode.AWS_LAMBDA),
    ],
)
def test_auth_modes_parse_case_insensitively(text: str, mode: AuthMode) -> None:
    assert AuthMode.parse(text) is mode


def test_a_bad_auth_mode_names_the_option() -> None:
    with pytest.raises(ConfigurationError) as caught:
        AuthMode.parse("OAUTH")
    assert caught.value.option == "--auth-mode"
    assert "OAUTH" in str(caught.value) and "API_KEY" in str(caught.value)
    assert AuthMode.parse_list("api_key,AWS_IAM+api_key", option="--x") == (
        AuthMode.API_KEY,
        AuthMode.AWS_IAM,
    )
    with pytest.raises(ConfigurationError):
        AuthMode.parse_list(" , ", option="--connection-auth")


@pytest.mark.parametrize(
    ("mode", "kwargs", "option"),
    [
        (AuthMode.API_KEY, {}, "--api-key"),
        (AuthMode.AMAZON_COGNITO_USER_POOLS, {}, "--auth-token"),
        (AuthMode.AWS_LAMBDA, {"token": ""}, "--auth-token"),
        (AuthMode.AWS_IAM, {"credentials": CredentialSource.static("a", "b")}, "--region"),
        (
            AuthMode.AWS_IAM,
            {
                "credentials": CredentialSource.static("a", "b"),
                "region": REGION,
                "sigv4_engine": "x",
            },
            "--iam-signer",
        ),
    ],
)
def test_missing_settings_name_their_option(
    mode: AuthMode, kwargs: dict[str, object], option: str
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        make_authorizer(mode, HOST, **kwargs)  # type: ignore[arg-type]
    assert caught.value.option == option


def test_make_authorizer_builds_each_mode() -> None:
    assert make_authorizer(AuthMode.API_KEY, HOST, api_key=API_KEY).mode is AuthMode.API_KEY
    assert make_authorizer(AuthMode.OPENID_CONNECT, HOST, token="t").mode is AuthMode.OPENID_CONNECT
    built = make_authorizer(
        AuthMode.AWS_IAM, HOST, region=REGION, credentials=CredentialSource.static("a", "b")
    )
    assert isinstance(built, IamAuthorizer) and built.region == REGION


# -- Edges of each check (each of these failed to catch a deliberate bug once) -------------


def test_a_tampered_scope_terminator_or_date_is_rejected(verifier: AuthVerifier) -> None:
    headers = botocore_signed(b"{}")
    for old, new, words in [
        ("/aws4_request", "/aws4_requesx", "terminator"),
        ("/20241111/", "/20241110/", "Date in Credential scope"),
    ]:
        tampered = {**headers, "authorization": headers["authorization"].replace(old, new)}
        error = reject(verifier, tampered, Operation.CONNECT, [b"{}"])
        assert error.error_type == "BadRequestException"
        assert words in error.reason


@pytest.mark.parametrize("offset", [-300.0, 300.0])
def test_a_date_exactly_five_minutes_off_is_still_accepted(
    verifier_config: VerifierConfig, offset: float
) -> None:
    verifier = AuthVerifier(verifier_config, clock=lambda: NOW)
    headers = botocore_signed(b"{}", at=NOW + offset)
    assert verifier.verify(headers, [AuthMode.AWS_IAM], Operation.CONNECT, [b"{}"])


def test_the_date_must_be_signed(verifier: AuthVerifier) -> None:
    headers = botocore_signed(b"{}")
    headers["authorization"] = headers["authorization"].replace(";x-amz-date", "")
    error = reject(verifier, headers, Operation.CONNECT, [b"{}"])
    assert "'x-amz-date' must be among the signed headers" in error.reason


def test_host_is_compared_case_insensitively(verifier: AuthVerifier) -> None:
    headers = {"host": HOST.upper(), "x-api-key": API_KEY}
    assert verifier.verify(headers, [AuthMode.API_KEY], Operation.CONNECT, [b"{}"])


def test_every_configured_api_key_and_lambda_token_is_accepted(
    verifier_config: VerifierConfig,
) -> None:
    keys = frozenset(f"da2-key-{n}" for n in range(4))
    tokens = frozenset(f"lambda-token-{n}" for n in range(4))
    verifier = AuthVerifier(
        dataclasses.replace(verifier_config, api_keys=keys, lambda_tokens=tokens)
    )
    for key in keys:
        assert verifier.verify(
            {"host": HOST, "x-api-key": key}, [AuthMode.API_KEY], Operation.CONNECT, [b"{}"]
        )
    for token in tokens:
        headers = {"host": HOST, "authorization": token}
        assert verifier.verify(headers, [AuthMode.AWS_LAMBDA], Operation.CONNECT, [b"{}"])


@pytest.mark.parametrize(
    ("headers", "mode"),
    [
        ({"host": HOST, "x-api-key": API_KEY + " "}, AuthMode.API_KEY),
        ({"host": HOST, "authorization": "Bearer " + LAMBDA_TOKEN}, AuthMode.AWS_LAMBDA),
    ],
)
def test_keys_and_lambda_tokens_must_match_exactly(
    verifier: AuthVerifier, headers: dict[str, str], mode: AuthMode
) -> None:
    reject(verifier, headers, Operation.CONNECT, [b"{}"], [mode])


def test_modes_are_tried_in_the_order_given(verifier: AuthVerifier) -> None:
    headers = {"host": HOST, "x-api-key": API_KEY, "authorization": LAMBDA_TOKEN}
    lambda_first = [AuthMode.AWS_LAMBDA, AuthMode.API_KEY]
    assert verifier.verify(headers, lambda_first, Operation.CONNECT, [b"{}"]) is AuthMode.AWS_LAMBDA
    api_key_first = [AuthMode.API_KEY, AuthMode.AWS_LAMBDA]
    assert verifier.verify(headers, api_key_first, Operation.CONNECT, [b"{}"]) is AuthMode.API_KEY


def test_a_sigv4_header_is_not_taken_for_a_token(verifier: AuthVerifier) -> None:
    error = reject(
        verifier, botocore_signed(b"{}"), Operation.CONNECT, [b"{}"], [AuthMode.AWS_LAMBDA]
    )
    assert "no credential for the allowed auth modes (AWS_LAMBDA)" in error.reason


def test_the_mismatch_text_quotes_the_first_accepted_body(verifier: AuthVerifier) -> None:
    events = ['"<b>"']
    for bodies in (
        candidate_bodies(CHANNEL, events, compact_accepted=True),
        candidate_bodies(CHANNEL, events),
    ):
        error = reject(verifier, botocore_signed(b"[null]"), Operation.PUBLISH, bodies)
        assert hashlib.sha256(bodies[0]).hexdigest() in error.wire_message


def test_credential_refusals_answer_with_the_invalid_token_text(verifier: AuthVerifier) -> None:
    unknown = botocore_signed(b"{}", credentials=Credentials("AKIDUNKNOWN0000", SECRET_KEY))
    assert reject(verifier, unknown, Operation.CONNECT, [b"{}"]).wire_message == INVALID_TOKEN


def test_verify_needs_a_body(verifier: AuthVerifier) -> None:
    with pytest.raises(ValueError):
        verifier.verify(
            {"host": HOST, "x-api-key": API_KEY}, [AuthMode.API_KEY], Operation.CONNECT, []
        )


def test_line_separators_also_get_an_html_escaped_body() -> None:
    escaped = b'{"channel":"/d/a","events":["\\u2028"]}'
    assert candidate_bodies("/d/a", ["\u2028"]) == (escaped,)
    lenient = candidate_bodies("/d/a", ["\u2028"], compact_accepted=True)
    assert lenient == (signing_body("/d/a", ["\u2028"]), escaped)


# -- JWT edges ----------------------------------------------------------------------------


def jwt_headers(claims: object, secret: str = JWT_SECRET) -> dict[str, str]:
    if isinstance(claims, dict):
        return {"host": HOST, "authorization": mint_hs256(secret, claims)}
    header, payload = b64url_encode(b'{"alg":"HS256"}'), b64url_encode(json.dumps(claims).encode())
    mac = hmac.new(secret.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return {"host": HOST, "authorization": f"{header}.{payload}.{b64url_encode(mac)}"}


def test_jwt_exp_is_exact_and_nbf_has_a_minute_of_leeway(verifier: AuthVerifier) -> None:
    # The verifier's clock reads NOW + 5.
    modes = [AuthMode.OPENID_CONNECT]
    assert verifier.verify(jwt_headers({"exp": int(NOW + 6)}), modes, Operation.CONNECT, [b"{}"])
    reject(verifier, jwt_headers({"exp": int(NOW + 5)}), Operation.CONNECT, [b"{}"], modes)
    reject(verifier, jwt_headers({"exp": int(NOW - 30)}), Operation.CONNECT, [b"{}"], modes)
    not_yet = jwt_headers({"exp": int(NOW + 900), "nbf": int(NOW + 30)})
    assert verifier.verify(not_yet, modes, Operation.CONNECT, [b"{}"])


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        (jwt_headers({"exp": True}), "no numeric 'exp'"),
        (jwt_headers([1]), "must be a JSON object"),
        ({"host": HOST, "authorization": "Bearer" + valid_jwt()}, "not base64url"),
    ],
)
def test_malformed_jwt_claims_are_named(
    verifier: AuthVerifier, headers: dict[str, str], reason: str
) -> None:
    error = reject(verifier, headers, Operation.CONNECT, [b"{}"], [AuthMode.OPENID_CONNECT])
    assert reason in error.reason


def test_a_jwt_signed_by_any_configured_secret_is_accepted(verifier_config: VerifierConfig) -> None:
    verifier = AuthVerifier(
        dataclasses.replace(verifier_config, jwt_secrets=("old-secret", JWT_SECRET)),
        clock=lambda: NOW,
    )
    assert verifier.verify(
        {"host": HOST, "authorization": valid_jwt()},
        [AuthMode.OPENID_CONNECT],
        Operation.CONNECT,
        [b"{}"],
    )


def test_without_a_jwt_issuer_tokens_are_refused(verifier_config: VerifierConfig) -> None:
    verifier = AuthVerifier(dataclasses.replace(verifier_config, jwt_secrets=()), clock=lambda: NOW)
    headers = {"host": HOST, "authorization": valid_jwt()}
    error = reject(verifier, headers, Operation.CONNECT, [b"{}"], [AuthMode.OPENID_CONNECT])
    assert "no JWT issuer is configured" in error.reason


def test_jwt_rejections_are_unauthorized_at_the_source() -> None:
    with pytest.raises(AuthorizationRejected) as caught:
        verify_hs256(mint_hs256(JWT_SECRET, {"exp": 1}), [JWT_SECRET], NOW)
    assert caught.value.error_type == "UnauthorizedException"


# -- Subprotocol form and authorizer settings ------------------------------------------------


def test_the_subprotocol_is_unpadded_urlsafe_compact_utf8_json() -> None:
    assert b64url_encode(b"\xfb\xff") == "-_8"
    token = TokenAuthorizer(AuthMode.AWS_LAMBDA, HOST, "t\u00f6k/+=").connect_subprotocols()[1]
    assert not set("=+/") & set(token)
    expected = f'{{"host":"{HOST}","authorization":"t\u00f6k/+="}}'.encode()
    assert b64url_decode(token.removeprefix("header-")) == expected


def test_the_subprotocol_prefix_is_case_sensitive() -> None:
    token = encode_subprotocol({"host": HOST})
    with pytest.raises(AuthorizationRejected):
        decode_subprotocol("HEADER-" + token.removeprefix("header-"))


def test_settings_errors_name_the_right_option() -> None:
    with pytest.raises(ConfigurationError) as no_host:
        make_authorizer(AuthMode.API_KEY, "", api_key="k")
    assert no_host.value.option == "--host"
    with pytest.raises(ConfigurationError) as not_a_token_mode:
        TokenAuthorizer(AuthMode.API_KEY, HOST, "t")
    assert not_a_token_mode.value.option == "--auth-mode"
    with pytest.raises(ConfigurationError) as api_key_is_no_token:
        make_authorizer(AuthMode.AWS_LAMBDA, HOST, api_key="k")
    assert api_key_is_no_token.value.option == "--auth-token"


def test_a_token_source_that_returns_nothing_is_a_signing_error() -> None:
    authorizer = TokenAuthorizer(AuthMode.AWS_LAMBDA, HOST, lambda: "")
    with pytest.raises(SigningError, match="returned no token"):
        authorizer.message_authorization(CHANNEL)
