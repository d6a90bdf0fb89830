"""The verifier faces untrusted input in the emulator: whatever a client sends, it
answers with a mode or an AuthorizationRejected, never another exception."""

import base64
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.constants import (
    ACCESS_KEY,
    HOST,
    NOW,
    REGION,
    SECRET_KEY,
    SESSION_TOKEN,
    TEMP_ACCESS_KEY,
    TEMP_SECRET_KEY,
)

from harness.errors import AuthorizationRejected
from harness.signing import (
    AuthMode,
    AuthVerifier,
    CredentialSource,
    FastSigner,
    IamAuthorizer,
    Operation,
    VerifierConfig,
    candidate_bodies,
    decode_subprotocol,
)

HEADER_NAMES = st.sampled_from(
    [
        "host",
        "Host",
        "x-api-key",
        "authorization",
        "Authorization",
        "x-amz-date",
        "x-amz-security-token",
        "accept",
        "content-type",
        "x-amz-content-sha256",
    ]
) | st.text(max_size=12)
SIGV4_LIKE = st.builds(
    lambda credential, signed, sig, sep: (
        f"AWS4-HMAC-SHA256 Credential={credential}{sep} SignedHeaders={signed}{sep} Signature={sig}"
    ),
    st.lists(st.text(max_size=10), min_size=0, max_size=7).map("/".join),
    st.lists(HEADER_NAMES, max_size=6).map(";".join),
    st.text(alphabet="0123456789abcdefXYZ", min_size=60, max_size=66),
    st.sampled_from([",", ", ", ",,", ""]),
)
JWT_LIKE = st.lists(
    st.text(max_size=20)
    | st.binary(max_size=30).map(lambda b: base64.urlsafe_b64encode(b).decode())
    | st.sampled_from(['{"alg":"HS256"}', "[[[[[[[[[[", "null"]).map(
        lambda t: base64.urlsafe_b64encode(t.encode()).decode().rstrip("=")
    ),
    min_size=1,
    max_size=4,
).map(".".join)
VALUES = (
    st.text(max_size=30)
    | SIGV4_LIKE
    | JWT_LIKE
    | st.sampled_from([HOST, "20241111T173413Z", "99999999T999999Z", "Bearer ", "AWS4-HMAC-SHA256"])
)
HEADER_MAPS = st.dictionaries(HEADER_NAMES, VALUES, max_size=8)


@settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    headers=HEADER_MAPS,
    modes=st.lists(st.sampled_from(list(AuthMode)), max_size=5),
    operation=st.sampled_from(list(Operation)),
    bodies=st.lists(st.binary(max_size=40), min_size=1, max_size=2),
)
def test_the_verifier_never_fails_with_anything_but_a_rejection(
    verifier_config: VerifierConfig,
    headers: dict[str, str],
    modes: list[AuthMode],
    operation: Operation,
    bodies: list[bytes],
) -> None:
    verifier = AuthVerifier(verifier_config, clock=lambda: NOW)
    try:
        accepted = verifier.verify(headers, modes, operation, bodies)
    except AuthorizationRejected as exc:
        assert exc.error_type in ("BadRequestException", "UnauthorizedException")
        assert exc.reason
    else:
        assert accepted in modes


def signed_maps() -> list[dict[str, str]]:
    temporary = CredentialSource.static(TEMP_ACCESS_KEY, TEMP_SECRET_KEY, SESSION_TOKEN)
    long_term = CredentialSource.static(ACCESS_KEY, SECRET_KEY)
    signer = FastSigner(clock=lambda: NOW)
    return [
        IamAuthorizer(HOST, REGION, temporary, signer).message_authorization("/default/a", ["1"]),
        IamAuthorizer(HOST, REGION, long_term, signer).connect_headers(),
    ]


MUTATIONS = st.lists(
    st.tuples(st.sampled_from(["drop", "replace", "upper", "append"]), st.integers(0, 9), VALUES),
    min_size=1,
    max_size=3,
)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(which=st.integers(0, 1), mutations=MUTATIONS)
def test_mutated_signatures_are_rejected_cleanly(
    verifier_config: VerifierConfig, which: int, mutations: list[tuple[str, int, str]]
) -> None:
    """Start from a valid IAM map and break it: a rejection every time the map changed."""
    original = signed_maps()[which]
    headers = dict(original)
    for action, position, value in mutations:
        key = sorted(headers)[position % len(headers)] if headers else "host"
        if action == "drop":
            headers.pop(key, None)
        elif action == "replace":
            headers[key] = value
        elif action == "upper":
            headers[key.upper()] = headers.pop(key, value)
        else:
            headers[key] = headers.get(key, "") + value
    bodies = candidate_bodies("/default/a", ["1"]) if which == 0 else candidate_bodies(None, None)
    operation = Operation.PUBLISH if which == 0 else Operation.CONNECT
    verifier = AuthVerifier(verifier_config, clock=lambda: NOW)
    try:
        verifier.verify(headers, [AuthMode.AWS_IAM], operation, bodies)
    except AuthorizationRejected as exc:
        assert exc.error_type in ("BadRequestException", "UnauthorizedException")
    else:
        lowered = {k.lower(): " ".join(v.split()) for k, v in headers.items()}
        assert lowered == {k: " ".join(v.split()) for k, v in original.items()}, (
            "only an unchanged map (up to key case and white space) may verify"
        )


@settings(max_examples=300, deadline=None)
@given(
    st.text(max_size=60)
    | st.binary(max_size=60).map(lambda b: "header-" + base64.urlsafe_b64encode(b).decode())
    | st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=8),
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
        ),
        max_leaves=8,
    ).map(lambda doc: "header-" + base64.urlsafe_b64encode(json.dumps(doc).encode()).decode())
)
def test_subprotocol_decoding_never_fails_with_anything_but_a_rejection(token: str) -> None:
    try:
        document = decode_subprotocol(token)
    except AuthorizationRejected as exc:
        assert exc.error_type == "UnauthorizedException"
    else:
        assert all(isinstance(value, str) for value in document.values())


def test_deeply_nested_documents_are_rejected_not_crashed(verifier_config: VerifierConfig) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    with pytest.raises(AuthorizationRejected):
        decode_subprotocol("header-" + base64.urlsafe_b64encode(deep.encode()).decode())
    jwt_part = base64.urlsafe_b64encode(deep.encode()).decode().rstrip("=")
    verifier = AuthVerifier(verifier_config, clock=lambda: NOW)
    headers = {"host": HOST, "authorization": f"{jwt_part}.{jwt_part}.sig"}
    with pytest.raises(AuthorizationRejected) as caught:
        verifier.verify(headers, [AuthMode.OPENID_CONNECT], Operation.CONNECT, [b"{}"])
    assert caught.value.error_type == "UnauthorizedException"
