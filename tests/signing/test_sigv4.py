"""SigV4: independent vectors, golden AppSync signatures, and the fast engine against botocore."""

import hashlib
import string

import pytest
from hypothesis import given, settings
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
    botocore_clock,
)

from harness.errors import AuthorizationRejected
from harness.signing import BotocoreSigner, Credentials, FastSigner, signing_body
from harness.signing.sigv4 import (
    IAM_CONSTANT_HEADERS,
    UNSIGNED_HEADERS,
    amz_date,
    canonical_request,
    parse_amz_date,
    parse_authorization,
    sha256_hex,
    signature,
    signing_key,
    string_to_sign,
)

# -- Independent vectors: the AWS SigV4 test suite and the key-derivation example --------

SUITE_SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
SUITE_HEADERS = {"host": "example.amazonaws.com", "x-amz-date": "20150830T123600Z"}
EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def test_signing_key_matches_the_aws_derivation_example() -> None:
    key = signing_key(SUITE_SECRET, "20120215", "us-east-1", "iam")
    assert key.hex() == "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"


@pytest.mark.parametrize(
    ("method", "canonical_hash", "expected_signature"),
    [
        (
            "GET",
            "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63",
            "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
        ),
        (
            "POST",
            "553f88c9e4d10fc9e109e2aeb65f030801b70c2f6468faca261d401ae622fc87",
            "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
        ),
    ],
    ids=["get-vanilla", "post-vanilla"],
)
def test_aws_test_suite_vanilla_requests(
    method: str, canonical_hash: str, expected_signature: str
) -> None:
    canonical = canonical_request(
        SUITE_HEADERS, ["host", "x-amz-date"], EMPTY_SHA256, method=method, uri="/"
    )
    assert sha256_hex(canonical.encode()) == canonical_hash
    to_sign = string_to_sign(
        "20150830T123600Z", "20150830/us-east-1/service/aws4_request", canonical
    )
    key = signing_key(SUITE_SECRET, "20150830", "us-east-1", "service")
    assert signature(key, to_sign) == expected_signature


def test_connect_body_hash_is_the_one_in_the_protocol_reference() -> None:
    assert signing_body() == b"{}"
    assert (
        sha256_hex(signing_body())
        == "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
    )


def test_canonical_request_has_the_shape_appsync_quotes() -> None:
    # The shape the service printed in amplify-js#14001 (docs/protocol.md#sigv4).
    headers = {
        **IAM_CONSTANT_HEADERS,
        "host": HOST,
        "x-amz-date": "20241111T173413Z",
        "x-amz-security-token": "TOKEN",
    }
    names = sorted(headers)
    assert canonical_request(headers, names, sha256_hex(b"{}")) == (
        "POST\n/event\n\n"
        "accept:application/json, text/javascript\n"
        "content-encoding:amz-1.0\n"
        "content-type:application/json; charset=UTF-8\n"
        f"host:{HOST}\n"
        "x-amz-date:20241111T173413Z\n"
        "x-amz-security-token:TOKEN\n\n"
        "accept;content-encoding;content-type;host;x-amz-date;x-amz-security-token\n"
        "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
    )


def test_header_values_are_trimmed_and_folded() -> None:
    canonical = canonical_request({"host": "  a   b  "}, ["host"], EMPTY_SHA256)
    assert "\nhost:a b\n" in canonical


def test_amz_date_round_trip() -> None:
    assert amz_date(NOW) == "20241111T173413Z"
    assert parse_amz_date("20241111T173413Z") == NOW
    for malformed in ("2024-11-11T17:34:13Z", "20241111T240000Z", "20241311T000000Z", ""):
        with pytest.raises(ValueError):
            parse_amz_date(malformed)


def test_the_derived_key_depends_on_every_byte_of_the_secret() -> None:
    assert signing_key("k ", "20241111", "r", "s") != signing_key("k", "20241111", "r", "s")


# -- Signed bodies (docs/protocol.md#sigv4) --------------------------------------------------------


def test_signed_bodies_are_compact_with_channel_first_and_slashes_unescaped() -> None:
    assert signing_body("/default/a") == b'{"channel":"/default/a"}'
    assert (
        signing_body("default/a", ['{"msg":"a/b"}', "42"])
        == b'{"channel":"default/a","events":["{\\"msg\\":\\"a/b\\"}","42"]}'
    )


def test_signed_body_keeps_non_ascii_as_utf8_like_json_stringify() -> None:
    assert (
        signing_body("/d/a", ['"h\u00e9\u2603"'])
        == '{"channel":"/d/a","events":["\\"h\u00e9\u2603\\""]}'.encode()
    )


def test_signed_body_escapes_a_lone_surrogate_like_json_stringify() -> None:
    assert signing_body("/d/a", ["\ud800"]) == b'{"channel":"/d/a","events":["\\ud800"]}'


def test_html_escaped_variant_escapes_angle_brackets_and_ampersand() -> None:
    body = signing_body("/d/a", ['"<b>&"'], html_escape=True)
    assert body == b'{"channel":"/d/a","events":["\\"\\u003cb\\u003e\\u0026\\""]}'


# -- Golden AppSync signatures (fixed credentials, frozen clock) --------------------------
# Computed once with botocore 1.4x and pinned; they catch any change in what is signed.

GOLDEN = {
    "connect-temporary": (
        signing_body(),
        Credentials(TEMP_ACCESS_KEY, TEMP_SECRET_KEY, SESSION_TOKEN),
        "AWS4-HMAC-SHA256 Credential=ASIATEMPEXAMPLE00001/20241111/us-east-1/appsync/aws4_request, "
        "SignedHeaders=accept;content-encoding;content-type;host;x-amz-date;x-amz-security-token, "
        "Signature=f0cfb3c04ef3b547916080e6451c35e09f3baff97a531df10880ddb90a4073b5",
    ),
    "subscribe-long-term": (
        signing_body("/default/room-1"),
        Credentials(ACCESS_KEY, SECRET_KEY),
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20241111/us-east-1/appsync/aws4_request, "
        "SignedHeaders=accept;content-encoding;content-type;host;x-amz-date, "
        "Signature=ac3da1ec9375d0f323ae13107662a77650f1f1e75daac2262eba96b8b6043273",
    ),
    "publish-temporary": (
        signing_body("/default/room-1", ['{"seq":1,"text":"hello/world"}']),
        Credentials(TEMP_ACCESS_KEY, TEMP_SECRET_KEY, SESSION_TOKEN),
        "AWS4-HMAC-SHA256 Credential=ASIATEMPEXAMPLE00001/20241111/us-east-1/appsync/aws4_request, "
        "SignedHeaders=accept;content-encoding;content-type;host;x-amz-date;x-amz-security-token, "
        "Signature=a08d6167058bd710b1f8d831cf9bf7812761005f41c91f7f128cebc1eee18668",
    ),
}


@pytest.mark.parametrize("case", sorted(GOLDEN))
@pytest.mark.parametrize("engine", ["botocore", "fast"])
def test_golden_signatures(case: str, engine: str) -> None:
    body, credentials, expected = GOLDEN[case]
    headers = {**IAM_CONSTANT_HEADERS, "host": HOST}
    with botocore_clock(NOW):
        signer = BotocoreSigner() if engine == "botocore" else FastSigner(clock=lambda: NOW)
        signed = signer.sign(headers, body, credentials, REGION)
    assert signed["authorization"] == expected
    assert signed["x-amz-date"] == "20241111T173413Z"
    assert signed.get("x-amz-security-token") == credentials.token


# -- The fast engine is byte-identical to botocore ----------------------------------------

_events = st.lists(st.text(max_size=40).map(lambda s: f'{{"v":{s!r}}}'), min_size=1, max_size=5)
_channel = st.lists(
    st.text(alphabet=string.ascii_letters + string.digits, min_size=1, max_size=12),
    min_size=1,
    max_size=5,
).map(lambda parts: "/" + "/".join(parts))


@settings(max_examples=150, deadline=None)
@given(
    channel=st.none() | _channel,
    events=st.none() | _events,
    access_key=st.text(alphabet=string.ascii_uppercase + string.digits, min_size=16, max_size=20),
    secret_key=st.text(
        alphabet=string.ascii_letters + string.digits + "/+", min_size=40, max_size=40
    ),
    token=st.none()
    | st.text(alphabet=string.ascii_letters + string.digits + "/+=", min_size=1, max_size=80),
    instant=st.floats(min_value=1.5e9, max_value=2.5e9),
    region=st.sampled_from(["us-east-1", "eu-west-1", "ap-southeast-2", "cn-north-1"]),
    host=st.sampled_from([HOST, "api.example.com", "127.0.0.1:8443"]),
)
def test_fast_engine_output_is_identical_to_botocore(
    channel: str | None,
    events: list[str] | None,
    access_key: str,
    secret_key: str,
    token: str | None,
    instant: float,
    region: str,
    host: str,
) -> None:
    instant = float(int(instant))
    body = signing_body(channel, events if channel else None)
    credentials = Credentials(access_key, secret_key, token)
    headers = {**IAM_CONSTANT_HEADERS, "host": host}
    with botocore_clock(instant):
        reference = BotocoreSigner().sign(headers, body, credentials, region)
    fast = FastSigner(clock=lambda: instant).sign(headers, body, credentials, region)
    assert fast == reference


def test_fast_engine_sorts_headers_given_in_any_order_like_botocore() -> None:
    headers = {"host": HOST, **dict(reversed(IAM_CONSTANT_HEADERS.items()))}
    credentials = Credentials(ACCESS_KEY, SECRET_KEY)
    with botocore_clock(NOW):
        reference = BotocoreSigner().sign(headers, b"{}", credentials, REGION)
    assert FastSigner(clock=lambda: NOW).sign(headers, b"{}", credentials, REGION) == reference


def test_fast_engine_leaves_unsigned_headers_out_like_botocore() -> None:
    from botocore.auth import SIGNED_HEADERS_BLACKLIST

    assert set(SIGNED_HEADERS_BLACKLIST) == UNSIGNED_HEADERS
    headers = {**IAM_CONSTANT_HEADERS, "host": HOST, "User-Agent": "load-test/1.0"}
    credentials = Credentials(ACCESS_KEY, SECRET_KEY)
    with botocore_clock(NOW):
        reference = BotocoreSigner().sign(headers, b"{}", credentials, REGION)
    fast = FastSigner(clock=lambda: NOW).sign(headers, b"{}", credentials, REGION)
    assert "user-agent" not in fast["authorization"]
    assert fast == reference


# -- Parsing the Authorization header ---------------------------------------------------


def test_parse_authorization_reads_every_part() -> None:
    parsed = parse_authorization(
        "AWS4-HMAC-SHA256 Credential=AKID/20241111/eu-west-1/appsync/aws4_request, "
        "SignedHeaders=Host;x-amz-date, Signature=" + "a" * 64
    )
    assert parsed.access_key == "AKID"
    assert (parsed.date_stamp, parsed.region, parsed.service) == (
        "20241111",
        "eu-west-1",
        "appsync",
    )
    assert parsed.signed_headers == ("host", "x-amz-date")
    assert parsed.signature == "a" * 64


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (
            "AWS4-HMAC-SHA1 Credential=a/b/c/d/e, SignedHeaders=host, Signature=" + "a" * 64,
            "algorithm",
        ),
        ("AWS4-HMAC-SHA256 SignedHeaders=host, Signature=" + "a" * 64, "Credential"),
        ("AWS4-HMAC-SHA256 Credential=a/b/c/d/e, Signature=" + "a" * 64, "SignedHeaders"),
        ("AWS4-HMAC-SHA256 Credential=a/b/c/d/e, SignedHeaders=host", "Signature"),
        (
            "AWS4-HMAC-SHA256 Credential=a/b/c, SignedHeaders=host, Signature=" + "a" * 64,
            "Credential must",
        ),
        (
            "AWS4-HMAC-SHA256 Credential=a/b/c/d/e, SignedHeaders=host;;x, Signature=" + "a" * 64,
            "empty",
        ),
        (
            "AWS4-HMAC-SHA256 Credential=a/b/c/d/e, SignedHeaders=host, Signature=XYZ",
            "64 lower-case hex",
        ),
    ],
)
def test_malformed_authorization_is_rejected_by_name(value: str, problem: str) -> None:
    with pytest.raises(AuthorizationRejected) as caught:
        parse_authorization(value)
    assert caught.value.error_type == "BadRequestException"
    assert problem in caught.value.reason


VALID_PARTS = "Credential=a/b/c/d/e, SignedHeaders=host, Signature=" + "a" * 64


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (VALID_PARTS.replace("a" * 64, "A" * 64), "64 lower-case hex"),
        (VALID_PARTS.replace("Credential=a/", "Credential=/"), "Credential must"),
        (VALID_PARTS + ",", "nothing else"),
        (VALID_PARTS + ", Foo=bar", "nothing else"),
        ("Credential=a/b/c/d/e, " + VALID_PARTS, "twice"),
    ],
)
def test_authorization_with_junk_or_wrong_case_is_rejected(value: str, problem: str) -> None:
    assert parse_authorization("AWS4-HMAC-SHA256 " + VALID_PARTS).signature == "a" * 64
    with pytest.raises(AuthorizationRejected) as caught:
        parse_authorization("AWS4-HMAC-SHA256 " + value)
    assert problem in caught.value.reason


def test_sha256_helper_is_sha256() -> None:
    assert sha256_hex(b"abc") == hashlib.sha256(b"abc").hexdigest()
