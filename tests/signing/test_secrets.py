"""No secret reaches a log line, an exception's text or a repr.

Every signing and verification path runs with the root logger at DEBUG, the
successful ones and each kind of refusal; then the captured log, and the
``str``/``repr``/``args`` of every exception raised, are searched for every
secret used: secret keys, session tokens, API keys, JWTs and their signing
secret, Lambda tokens and SigV4 signatures. (A signature-mismatch
``wire_message`` may echo what the client itself sent, as AppSync does; it is
not logged and not part of ``str()``.)
"""

import logging
import re

import pytest
from support.constants import (
    ACCESS_KEY,
    API_KEY,
    HOST,
    JWT_SECRET,
    LAMBDA_TOKEN,
    NOW,
    REGION,
    SECRET_KEY,
    SECRETS,
    SESSION_TOKEN,
    TEMP_ACCESS_KEY,
    TEMP_SECRET_KEY,
    botocore_clock,
    valid_jwt,
)

from harness.errors import AuthorizationRejected, HarnessError
from harness.signing import (
    ApiKeyAuthorizer,
    AuthMode,
    Authorizer,
    AuthVerifier,
    Credentials,
    CredentialSource,
    FastSigner,
    IamAuthorizer,
    IamKey,
    Operation,
    TokenAuthorizer,
    VerifierConfig,
    candidate_bodies,
    decode_subprotocol,
    redact,
)
from harness.signing.jwt import mint_hs256

CHANNEL = "/default/secret-test"
EVENTS = ['{"n":1}']


def authorizers() -> list[Authorizer]:
    temporary = CredentialSource.static(TEMP_ACCESS_KEY, TEMP_SECRET_KEY, SESSION_TOKEN)
    return [
        ApiKeyAuthorizer(HOST, API_KEY),
        IamAuthorizer(HOST, REGION, temporary, "botocore"),
        IamAuthorizer(HOST, REGION, temporary, FastSigner(clock=lambda: NOW)),
        TokenAuthorizer(AuthMode.AMAZON_COGNITO_USER_POOLS, HOST, valid_jwt()),
        TokenAuthorizer(AuthMode.AWS_LAMBDA, HOST, LAMBDA_TOKEN),
    ]


def exercise_everything(verifier: AuthVerifier) -> tuple[int, list[BaseException], set[str]]:
    """Run every path; return how many were accepted, the exceptions raised and the
    signatures produced."""
    raised: list[BaseException] = []
    signatures: set[str] = set()
    accepted = 0

    def attempt(
        headers: dict[str, str], modes: list[AuthMode], op: Operation, bodies: object
    ) -> None:
        nonlocal accepted
        try:
            verifier.verify(headers, modes, op, bodies)  # type: ignore[arg-type]
            accepted += 1
        except HarnessError as exc:
            raised.append(exc)

    for authorizer in authorizers():
        mode = authorizer.mode
        connect = decode_subprotocol(authorizer.connect_subprotocols()[1])
        publish = authorizer.message_authorization(CHANNEL, EVENTS)
        for headers in (connect, publish):
            signatures.update(
                re.findall(r"Signature=([0-9a-f]{64})", headers.get("authorization", ""))
            )
        attempt(connect, [mode], Operation.CONNECT, candidate_bodies(None, None))
        attempt(publish, [mode], Operation.PUBLISH, candidate_bodies(CHANNEL, EVENTS))
        # Refusals: wrong body (IAM binds the body), wrong mode, wrong host.
        if mode is AuthMode.AWS_IAM:
            attempt(publish, [mode], Operation.PUBLISH, candidate_bodies(CHANNEL, ['{"n":2}']))
        other_mode = AuthMode.API_KEY if mode is not AuthMode.API_KEY else AuthMode.AWS_IAM
        attempt(publish, [other_mode], Operation.PUBLISH, candidate_bodies(CHANNEL, EVENTS))
        attempt({**connect, "host": "elsewhere.example.com"}, [mode], Operation.CONNECT, [b"{}"])

    # Credentials refused for what they are.
    iam_wrong_token = IamAuthorizer(
        HOST,
        REGION,
        CredentialSource.static(TEMP_ACCESS_KEY, TEMP_SECRET_KEY, "not-the-token"),
        FastSigner(clock=lambda: NOW),
    )
    attempt(iam_wrong_token.connect_headers(), [AuthMode.AWS_IAM], Operation.CONNECT, [b"{}"])
    unknown = IamAuthorizer(
        HOST,
        REGION,
        CredentialSource.static("AKIDUNKNOWN", SECRET_KEY),
        FastSigner(clock=lambda: NOW),
    )
    attempt(unknown.connect_headers(), [AuthMode.AWS_IAM], Operation.CONNECT, [b"{}"])
    attempt(
        {"host": HOST, "x-api-key": API_KEY + "x"}, [AuthMode.API_KEY], Operation.CONNECT, [b"{}"]
    )
    expired = mint_hs256(JWT_SECRET, {"exp": int(NOW - 3600)})
    attempt(
        {"host": HOST, "authorization": expired},
        [AuthMode.OPENID_CONNECT],
        Operation.CONNECT,
        [b"{}"],
    )
    attempt(
        {"host": HOST, "authorization": LAMBDA_TOKEN + "x"},
        [AuthMode.AWS_LAMBDA],
        Operation.CONNECT,
        [b"{}"],
    )
    try:
        decode_subprotocol("header-" + API_KEY)
    except HarnessError as exc:
        raised.append(exc)
    return accepted, raised, signatures


def test_no_secret_in_logs_or_exceptions(
    caplog: pytest.LogCaptureFixture, verifier_config: VerifierConfig
) -> None:
    verifier = AuthVerifier(verifier_config, clock=lambda: NOW)
    caplog.set_level(logging.DEBUG)
    with botocore_clock(NOW):
        accepted, raised, signatures = exercise_everything(verifier)

    assert accepted == 2 * len(authorizers()), "every authorizer's connect and publish must pass"
    assert len(raised) >= 15, "the refusal paths must actually have run"
    assert any(
        isinstance(exc, AuthorizationRejected) and exc.error_type == "BadRequestException"
        for exc in raised
    )
    assert signatures, "IAM signatures must have been produced"
    assert "connect authorization" in caplog.text, "the debug log must have been captured"
    secrets = {*SECRETS, valid_jwt(), *signatures}
    texts = [caplog.text] + [f"{exc}\n{exc!r}\n{exc.args!r}" for exc in raised]
    for secret in secrets:
        for text in texts:
            assert secret not in text


def test_the_mismatch_text_for_the_client_is_separate_from_what_is_logged(
    verifier_config: VerifierConfig,
) -> None:
    verifier = AuthVerifier(verifier_config, clock=lambda: NOW)
    authorizer = IamAuthorizer(
        HOST,
        REGION,
        CredentialSource.static(TEMP_ACCESS_KEY, TEMP_SECRET_KEY, SESSION_TOKEN),
        FastSigner(clock=lambda: NOW),
    )
    with botocore_clock(NOW):
        headers = authorizer.message_authorization(CHANNEL, EVENTS)
    with pytest.raises(AuthorizationRejected) as caught:
        verifier.verify(
            headers, [AuthMode.AWS_IAM], Operation.PUBLISH, candidate_bodies(CHANNEL, [])
        )
    # As AppSync does, the answer to the client quotes the canonical request it expected,
    # which holds the client's own session token ...
    assert SESSION_TOKEN in caught.value.wire_message
    # ... but the exception's text, what gets logged, does not.
    assert SESSION_TOKEN not in str(caught.value)
    assert SESSION_TOKEN not in repr(caught.value)


def test_reprs_hide_secrets(verifier_config: VerifierConfig) -> None:
    texts = [
        repr(Credentials(ACCESS_KEY, SECRET_KEY, SESSION_TOKEN)),
        repr(IamKey(SECRET_KEY, SESSION_TOKEN)),
        repr(verifier_config),
    ]
    assert ACCESS_KEY in texts[0]
    for secret in SECRETS:
        for text in texts:
            assert secret not in text


def test_redact_hides_credentials_but_keeps_the_rest() -> None:
    headers = {
        "host": HOST,
        "x-api-key": API_KEY,
        "Authorization": "AWS4-HMAC-SHA256 ...",
        "X-Amz-Security-Token": SESSION_TOKEN,
        "x-amz-date": "20241111T173413Z",
    }
    redacted = redact(headers)
    assert redacted["host"] == HOST and redacted["x-amz-date"] == "20241111T173413Z"
    assert (
        redacted["x-api-key"]
        == redacted["Authorization"]
        == redacted["X-Amz-Security-Token"]
        == "<redacted>"
    )
