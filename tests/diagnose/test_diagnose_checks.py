"""What one captured request is checked for (``harness.diagnose.checks``), request by
request: the host, a SigV4 header's structure, scope and date, API keys and tokens.
Signatures come from botocore; the signature check itself is exercised end to end in
``test_diagnose_live.py`` and ``test_diagnose_capture_file.py``."""

from __future__ import annotations

import time

from support.signed_requests import botocore_headers

from harness.diagnose.checks import ApiFacts, CapturedRequest, Finding, Verdict, check
from harness.emulator import defaults
from harness.signing import Credentials, Operation
from harness.signing.jwt import mint_hs256
from harness.signing.sigv4 import parse_amz_date
from harness.signing.variants import SignedRequest

API = "abcdefghijklmnopqrstuvwxyz.appsync-api.eu-west-1.amazonaws.com"
REALTIME_URL = (
    "wss://abcdefghijklmnopqrstuvwxyz.appsync-realtime-api.eu-west-1.amazonaws.com/event/realtime"
)
KEYS = Credentials(defaults.DEFAULT_ACCESS_KEY_ID, defaults.DEFAULT_SECRET_ACCESS_KEY)


def findings(
    headers: dict[str, str],
    *,
    sent_at: float | None = None,
    api: ApiFacts | None = None,
    operation: Operation = Operation.CONNECT,
) -> dict[str, Finding]:
    request = SignedRequest(operation, headers, channel="/default/a")
    captured = CapturedRequest(request, REALTIME_URL, "test", sent_at)
    found = check(captured, api or ApiFacts())
    by_check = {finding.check: finding for finding in found}
    assert len(by_check) == len(found), found
    return by_check


def verdicts(found: dict[str, Finding]) -> dict[str, Verdict]:
    return {name: finding.verdict for name, finding in found.items()}


def test_a_well_signed_connect_to_a_standard_host() -> None:
    # botocore signs for us-east-1 (the emulator's region): this API is in eu-west-1.
    found = findings(
        botocore_headers(API, b"{}"), sent_at=time.time(), api=ApiFacts(credentials=KEYS)
    )
    assert verdicts(found) == {
        "host": Verdict.OK,
        "region": Verdict.FAULT,
        "date": Verdict.OK,
        "signature": Verdict.OK,
    }
    assert found["region"].text == "signed for us-east-1, but the API is in eu-west-1"


def test_the_realtime_host_in_an_auth_object_is_named() -> None:
    realtime = API.replace(".appsync-api.", ".appsync-realtime-api.")
    found = findings(botocore_headers(realtime, b"{}"))
    assert found["host"].verdict is Verdict.FAULT
    assert "the realtime host is only the WebSocket URL's" in found["host"].text
    assert findings({"x-api-key": "k"}, operation=Operation.CONNECT)["host"].text == (
        "the connect's auth object has no host"
    )


def test_a_stale_or_future_signature_is_named() -> None:
    headers = botocore_headers(API, b"{}")
    signed_at = parse_amz_date(headers["x-amz-date"])
    late = findings(headers, sent_at=signed_at + 600)["date"]
    assert late.verdict is Verdict.FAULT
    assert late.text.startswith("x-amz-date is 600 s before the time it was sent; AppSync")
    early = findings(headers, sent_at=signed_at - 400)["date"]
    assert early.verdict is Verdict.FAULT and "400 s after" in early.text
    assert findings(headers)["date"].verdict is Verdict.UNCHECKED


def test_a_structurally_wrong_sigv4_header_is_named() -> None:
    headers = botocore_headers(API, b"{}")
    malformed = findings({**headers, "authorization": "AWS4-HMAC-SHA256 Credential=x"})
    assert malformed["authorization"].verdict is Verdict.FAULT
    assert "malformed" in malformed["authorization"].text
    unsent = dict(headers)
    del unsent["content-type"]
    found = findings(unsent)
    assert found["signed headers"].text.startswith("signed but not sent: content-type")
    wrong_service = headers["authorization"].replace("/appsync/", "/execute-api/")
    found = findings({**headers, "authorization": wrong_service})
    assert found["scope"].text == "signed for the service 'execute-api', not 'appsync'"


def test_a_session_token_that_is_not_the_identitys_is_named_without_showing_it() -> None:
    headers = {**botocore_headers(API, b"{}"), "x-amz-security-token": "token-of-someone-else"}
    with_token = Credentials(KEYS.access_key, KEYS.secret_key, "the-identitys-own-token")
    found = findings(headers, api=ApiFacts(credentials=with_token))
    assert found["session token"].verdict is Verdict.FAULT
    assert "token-of-someone-else" not in repr(found) and "the-identitys" not in repr(found)


def test_credentials_of_another_access_key_leave_the_signature_unchecked() -> None:
    other = Credentials("AKIAOTHERKEY00000000", "secret")
    found = findings(botocore_headers(API, b"{}"), api=ApiFacts(credentials=other))
    assert found["signature"].verdict is Verdict.UNCHECKED
    assert found["signature"].text == (
        "signed with access key …TOR1, but the credentials given are for …0000"
    )


def test_jwts_are_judged_by_their_claims_when_sent() -> None:
    now = time.time()
    expired = mint_hs256("s", {"exp": int(now) - 120, "iss": "https://issuer.test"})
    found = findings({"host": API, "authorization": expired}, sent_at=now)["token"]
    assert found.verdict is Verdict.FAULT and "expired at" in found.text
    assert "s before the request" in found.text
    current = mint_hs256("s", {"exp": int(now) + 600, "iss": "https://issuer.test"})
    found = findings({"host": API, "authorization": current}, sent_at=now)["token"]
    assert found.verdict is Verdict.UNCHECKED
    assert found.text.startswith("a JWT from https://issuer.test, current when sent")
    future = mint_hs256("s", {"exp": int(now) + 600, "nbf": int(now) + 300})
    found = findings({"host": API, "authorization": future}, sent_at=now)["token"]
    assert found.verdict is Verdict.FAULT and "not valid before" in found.text
    opaque = findings({"host": API, "authorization": "lambda-token"})["token"]
    assert opaque.verdict is Verdict.UNCHECKED and "AWS_LAMBDA" in opaque.text


def test_a_request_with_no_credential_is_a_fault() -> None:
    found = findings({"host": API})
    assert found["credential"].verdict is Verdict.FAULT
    empty_key = findings({"host": API, "x-api-key": ""}, api=ApiFacts(api_key="k"))
    assert empty_key["API key"].text == "x-api-key is empty"
