"""Why a SigV4 signature was refused: the canonical request a client signed against the
one AppSync says it expected, line by line.

AppSync answers a signature it cannot match with "The request signature we
calculated does not match the signature you provided", followed by the canonical
request and the string-to-sign it computed (docs/protocol.md#errors). A client
that knows what it signed (the harness does; another client's request can be
signed again from its headers) can then name the line that differs, which is
almost always one of a few known mistakes:

- the canonical URI: every Events request is signed over ``/event``; aws-amplify
  6.8.0 signed its WebSocket connect over ``/event/connect``;
- the payload hash: a subscribe signs ``{"channel":...}`` and a publish
  ``{"channel":...,"events":[...]}``, compact; 6.8.0 signed subscribes over
  ``[null]``; a connect signs ``{}``;
- a signed header's value (``host`` above all: the API's host, not the realtime
  one) or the list of signed headers;
- nothing in the canonical request, but the date or scope of the string-to-sign
  (a clock off by minutes, the wrong region), or else the secret key.

:func:`compare` does that; :func:`parse_expected` reads AppSync's text. Values of
``x-amz-security-token`` lines (a session token) are never shown: only their
length, and whether the two sides agree.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from harness.signing.sigv4 import (
    CANONICAL_URI,
    canonical_request,
    credential_scope,
    parse_authorization,
    sha256_hex,
    string_to_sign,
)
from harness.signing.wire import lower_keys

SECRET_HEADERS = frozenset({"x-amz-security-token", "authorization", "x-api-key"})
"""Headers whose values are secrets: shown by length only."""
_EXPECTED = re.compile(
    r"The Canonical String for this request should have been\n'(?P<canonical>.*?)'\n\n"
    r"The String-to-Sign should have been\n'(?P<to_sign>.*?)'",
    re.DOTALL,
)
KNOWN_BODIES = {
    sha256_hex(b"{}"): "{} (what a connect signs)",
    sha256_hex(b"[null]"): "[null] (aws-amplify 6.8.0's subscribe)",
    sha256_hex(b""): "an empty body",
    sha256_hex(b"null"): "null",
}
"""Payload hashes of bodies seen in wrongly signed requests, and what they are."""


@dataclass(frozen=True)
class SigningText:
    """What a request is signed over: its canonical request and string-to-sign."""

    canonical_request: str
    string_to_sign: str


def parse_expected(text: str) -> SigningText | None:
    """What AppSync's signature-mismatch text says the request should have been signed
    over; None when the text has none (another error, or only its first line)."""
    match = _EXPECTED.search(text)
    if match is None:
        return None
    return SigningText(match["canonical"], match["to_sign"])


def signed_text(
    headers: Mapping[str, str],
    body: bytes,
    *,
    uri: str = CANONICAL_URI,
    names: Sequence[str] | None = None,
) -> SigningText:
    """What a client signed, from the headers it sent (``authorization`` and
    ``x-amz-date`` among them) and the body it signed, over ``uri`` and the headers
    ``names`` (by default its ``SignedHeaders``); raises
    :class:`~harness.errors.AuthorizationRejected` for a malformed authorization."""
    sent = lower_keys(headers)
    parsed = parse_authorization(sent.get("authorization", ""))
    names = list(parsed.signed_headers if names is None else names)
    present = {name: sent.get(name, "") for name in names}
    canonical = canonical_request(present, names, sha256_hex(body), uri=uri)
    scope = credential_scope(parsed.date_stamp, parsed.region, parsed.service)
    return SigningText(canonical, string_to_sign(sent.get("x-amz-date", ""), scope, canonical))


@dataclass(frozen=True)
class Difference:
    """One line on which the signed and the expected text differ."""

    part: str
    """What the line is: ``method``, ``canonical URI``, ``query string``, ``header host``,
    ``signed headers``, ``payload hash``, ``date``, ``credential scope``..."""
    signed: str | None
    """The client's line (shown safely); None when it has no such line."""
    expected: str | None
    """AppSync's line (shown safely); None when it has no such line."""
    meaning: str
    """What such a difference usually means."""

    def describe(self) -> str:
        return (
            f"{self.part}:\n  signed:   {_shown(self.signed)}\n"
            f"  expected: {_shown(self.expected)}\n  {self.meaning}"
        )


def compare(signed: SigningText, expected: SigningText) -> list[Difference]:
    """Every difference between what a client signed and what AppSync expected, the
    canonical request's first; when the canonical requests and the string-to-sign's date
    and scope agree, one difference naming the key (the secret, or a key from another
    account)."""
    differences = _canonical_differences(signed.canonical_request, expected.canonical_request)
    differences += _string_to_sign_differences(signed.string_to_sign, expected.string_to_sign)
    if not differences:
        differences.append(
            Difference(
                "signature",
                None,
                None,
                "the canonical request and the string-to-sign are the ones AppSync expects, "
                "so the key differs: a wrong secret access key for this access key id (or a "
                "secret from another credential)",
            )
        )
    return differences


def explain(differences: list[Difference]) -> str:
    """The differences as text, one block each (no secret in it)."""
    count = len(differences)
    heading = f"{count} difference{'' if count == 1 else 's'} from what AppSync expects:"
    return "\n".join([heading, *(difference.describe() for difference in differences)])


# -- the canonical request -------------------------------------------------------------


def _parts(canonical: str) -> list[tuple[str, str]]:
    """``(part, line)`` of a canonical request: method, URI, query, one per header, the
    blank line, signed headers, payload hash."""
    lines = canonical.split("\n")
    parts = [("method", lines[0])] if lines else []
    if len(lines) > 1:
        parts.append(("canonical URI", lines[1]))
    if len(lines) > 2:
        parts.append(("query string", lines[2]))
    index = 3
    while index < len(lines) - 2 and lines[index]:
        name = lines[index].split(":", 1)[0]
        parts.append((f"header {name}", lines[index]))
        index += 1
    if len(lines) >= 2:
        parts.append(("signed headers", lines[-2]))
        parts.append(("payload hash", lines[-1]))
    return parts


def _canonical_differences(signed: str, expected: str) -> list[Difference]:
    mine = dict(_parts(signed))
    theirs = dict(_parts(expected))
    order = [part for part, _ in _parts(expected)]
    order += [part for part, _ in _parts(signed) if part not in theirs]
    return [
        Difference(
            part, _safe(mine.get(part)), _safe(theirs.get(part)), _meaning(part, mine, theirs)
        )
        for part in order
        if mine.get(part) != theirs.get(part)
    ]


def _meaning(part: str, mine: dict[str, str], theirs: dict[str, str]) -> str:
    signed, expected = mine.get(part), theirs.get(part)
    if part == "canonical URI":
        hint = (
            " (aws-amplify 6.8.0 signed its WebSocket connect over /event/connect)"
            if signed == "/event/connect"
            else ""
        )
        return (
            f"every AppSync Events request, WebSocket or HTTP, is signed over "
            f"{CANONICAL_URI}, whatever the URL it is sent to{hint}"
        )
    if part == "payload hash":
        known = KNOWN_BODIES.get(signed or "")
        what = f"the body signed was {known}" if known else "the body signed is not the one sent"
        return (
            f'{what}: a connect signs {{}}, a subscribe {{"channel":...}} and a publish '
            '{"channel":...,"events":[...]}, compact JSON, byte for byte'
        )
    if part == "signed headers":
        return (
            "the headers listed as signed differ: sign host, x-amz-date (and "
            "x-amz-security-token with temporary credentials) and the request's accept and "
            "content headers, and list them in the SignedHeaders of the authorization"
        )
    if part == "header host":
        return (
            "the host signed must be the API's HTTP host (appsync-api), also for the "
            "WebSocket, whose URL has the realtime host"
        )
    if part.startswith("header "):
        if signed is None or expected is None:
            return "a header is signed on one side only"
        return "a signed header's value differs from the one sent"
    if part == "method":
        return "every AppSync Events request is signed as POST"
    return "this line of the canonical request differs"


# -- the string-to-sign ----------------------------------------------------------------


def _string_to_sign_differences(signed: str, expected: str) -> list[Difference]:
    names = ("algorithm", "date", "credential scope", "canonical request hash")
    mine, theirs = signed.split("\n"), expected.split("\n")
    differences = []
    for index, name in enumerate(names[:3]):  # the hash differs whenever a line above did
        ours = mine[index] if index < len(mine) else None
        appsync = theirs[index] if index < len(theirs) else None
        if ours != appsync:
            differences.append(Difference(name, ours, appsync, _scope_meaning(name)))
    return differences


def _scope_meaning(name: str) -> str:
    if name == "date":
        return (
            "the x-amz-date differs from the one AppSync used: the request was changed "
            "after signing, or signed with another date"
        )
    if name == "credential scope":
        return (
            "the scope (date/region/service/aws4_request) differs: sign for the API's "
            "region and the service appsync"
        )
    return "sign with AWS4-HMAC-SHA256"


# -- showing lines safely --------------------------------------------------------------


def _safe(line: str | None) -> str | None:
    """A canonical line with a secret header's value replaced by its length."""
    if line is None:
        return None
    name, colon, value = line.partition(":")
    if colon and name in SECRET_HEADERS:
        return f"{name}:<{len(value)} characters, not shown>"
    return line


def _shown(line: str | None) -> str:
    return "(none)" if line is None else repr(line)
