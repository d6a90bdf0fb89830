"""Micro-benchmark of authorization and protocol coding: what each message costs the harness.

Run from the project root with the project installed::

    python bench/bench_signing.py [--seconds S]

Each case is timed with :func:`time.perf_counter` over several batches of
repeated calls; the figure reported is the median batch's time per call, so a
noisy neighbour on a shared machine moves one batch, not the result. The
baseline, measured in the same run, is botocore signing the authorization of a
WebSocket publish of one ~200-byte event; every ratio is a case's time per call
divided by the baseline's (below 1 is faster). Figures only, no thresholds.

Before anything is timed, every signed output is checked by the emulator's
:class:`~harness.signing.verify.AuthVerifier`, and the fast engine is checked
byte-for-byte against botocore (signing at botocore's own instant), so the
benchmark never times broken code: a failed check ends the run with an error.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import botocore

from harness.errors import AuthorizationRejected
from harness.protocol import Data, Message, Publish, Sender, decode, encode
from harness.signing import (
    ApiKeyAuthorizer,
    AuthMode,
    AuthVerifier,
    CredentialSource,
    FastSigner,
    IamAuthorizer,
    IamKey,
    Operation,
    VerifierConfig,
    candidate_bodies,
)
from harness.signing.sigv4 import parse_amz_date

ACCESS_KEY = "AKIDEXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
SESSION_TOKEN = "session-token"
API_KEY = "da2-benchmarkexampleapikey000000"
REGION = "us-east-1"
HOST = "example1234567890000.appsync-api.us-east-1.amazonaws.com"
CHANNEL = "/default/room-1"
EVENT_BYTES = 200

BATCHES = 7
"""Timed batches per case; the median batch is reported."""
CALIBRATION_SHARE = 0.05
"""Share of a case's time budget spent finding how many calls fill a batch (also a warm-up)."""

IAM_ONLY = (AuthMode.AWS_IAM,)
API_KEY_ONLY = (AuthMode.API_KEY,)


class CheckFailed(Exception):
    """A pre-timing check found wrong output; the benchmark refuses to time it."""


@dataclass(frozen=True, slots=True)
class Case:
    name: str
    call: Callable[[], object]


@dataclass(frozen=True, slots=True)
class Result:
    name: str
    per_call_s: tuple[float, ...]
    """Seconds per call, one figure per batch."""

    @property
    def median_us(self) -> float:
        return statistics.median(self.per_call_s) * 1e6

    @property
    def spread_pct(self) -> float:
        """(slowest - fastest batch) / median, in percent: how noisy the run was."""
        low, high = min(self.per_call_s), max(self.per_call_s)
        return (high - low) / statistics.median(self.per_call_s) * 100


# ---------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------


def make_event(size: int, seq: int = 0) -> str:
    """A JSON event text of exactly ``size`` UTF-8 bytes."""
    skeleton = {"seq": seq, "kind": "chat", "body": ""}
    padding = size - len(json.dumps(skeleton, separators=(",", ":")))
    if padding < 0:
        raise ValueError(f"an event cannot be as small as {size} bytes")
    event = json.dumps({**skeleton, "body": "x" * padding}, separators=(",", ":"))
    if len(event.encode("utf-8")) != size:
        raise AssertionError(f"event is {len(event)} bytes, expected {size}")
    return event


def iam_authorizer(engine: str | FastSigner) -> IamAuthorizer:
    credentials = CredentialSource.static(ACCESS_KEY, SECRET_KEY, SESSION_TOKEN)
    return IamAuthorizer(HOST, REGION, credentials, engine)


def make_verifier() -> AuthVerifier:
    return AuthVerifier(
        VerifierConfig(
            region=REGION,
            api_keys=frozenset({API_KEY}),
            iam_keys={ACCESS_KEY: IamKey(SECRET_KEY, SESSION_TOKEN)},
            hosts=frozenset({HOST}),
        )
    )


# ---------------------------------------------------------------------------
# Checks (run once, before any timing)
# ---------------------------------------------------------------------------


def check_verifies(
    label: str,
    verifier: AuthVerifier,
    headers: Mapping[str, str],
    modes: Sequence[AuthMode],
    operation: Operation,
    bodies: Sequence[bytes],
) -> None:
    try:
        accepted = verifier.verify(headers, modes, operation, bodies)
    except AuthorizationRejected as exc:
        raise CheckFailed(f"{label}: the verifier rejected it: {exc}") from exc
    if accepted not in modes:
        raise CheckFailed(f"{label}: accepted by {accepted.value}, expected one of {modes}")


def check_fast_matches_botocore(
    label: str, sign: Callable[[IamAuthorizer], dict[str, str]]
) -> None:
    """Sign with botocore, then with the fast engine clocked at botocore's ``x-amz-date``:
    the two header maps must be identical."""
    reference = sign(iam_authorizer("botocore"))
    instant = parse_amz_date(reference["x-amz-date"])
    fast = sign(iam_authorizer(FastSigner(clock=lambda: instant)))
    if fast != reference:
        differing = sorted(
            k for k in reference.keys() | fast.keys() if reference.get(k) != fast.get(k)
        )
        raise CheckFailed(f"{label}: fast engine differs from botocore in {', '.join(differing)}")


def check_round_trip(label: str, message: Message, sender: Sender) -> None:
    decoded = decode(encode(message), sender=sender)
    if decoded != message:
        raise CheckFailed(f"{label}: decode(encode(m)) != m")


# ---------------------------------------------------------------------------
# Cases
# ---------------------------------------------------------------------------


def build_cases() -> list[Case]:
    """The cases, baseline first; raises :class:`CheckFailed` if any output is wrong."""
    verifier = make_verifier()
    botocore_iam = iam_authorizer("botocore")
    fast_iam = iam_authorizer("fast")
    api_key = ApiKeyAuthorizer(HOST, API_KEY)

    one_event = (make_event(EVENT_BYTES),)
    five_events = tuple(make_event(EVENT_BYTES, seq) for seq in range(5))
    publish_bodies = candidate_bodies(CHANNEL, one_event)
    subscribe_bodies = candidate_bodies(CHANNEL, None)
    connect_bodies = candidate_bodies(None, None)

    def publish_auth(authorizer: IamAuthorizer | ApiKeyAuthorizer) -> dict[str, str]:
        return authorizer.message_authorization(CHANNEL, one_event)

    def subscribe_auth(authorizer: IamAuthorizer) -> dict[str, str]:
        return authorizer.message_authorization(CHANNEL)

    def connect_auth(authorizer: IamAuthorizer) -> dict[str, str]:
        return authorizer.connect_headers()

    # Every signed output the cases produce must be accepted by the emulator's verifier.
    pub, sub, con = Operation.PUBLISH, Operation.SUBSCRIBE, Operation.CONNECT
    for engine, iam in (("botocore", botocore_iam), ("fast", fast_iam)):
        for label, signed, operation, bodies in (
            ("publish", publish_auth(iam), pub, publish_bodies),
            ("subscribe", subscribe_auth(iam), sub, subscribe_bodies),
            ("connect", connect_auth(iam), con, connect_bodies),
        ):
            check_verifies(f"IAM {label} [{engine}]", verifier, signed, IAM_ONLY, operation, bodies)
    check_verifies(
        "API key publish", verifier, publish_auth(api_key), API_KEY_ONLY, pub, publish_bodies
    )
    check_fast_matches_botocore("IAM publish", publish_auth)
    check_fast_matches_botocore("IAM subscribe", subscribe_auth)
    check_fast_matches_botocore("IAM connect", connect_auth)

    # Inputs of the verifier cases: one fresh signature, valid for the 5-minute skew window.
    signed_publish = publish_auth(fast_iam)
    api_key_publish = publish_auth(api_key)

    publish_message = Publish("bench-publish-1", CHANNEL, five_events, publish_auth(fast_iam))
    data_message = Data("bench-subscription-1", one_event[0])
    check_round_trip("Publish (5 events)", publish_message, "client")
    check_round_trip("Data", data_message, "server")
    publish_frame = encode(publish_message)
    data_frame = encode(data_message)

    return [
        Case(
            "IAM publish auth, botocore (baseline)",
            lambda: botocore_iam.message_authorization(CHANNEL, one_event),
        ),
        Case("IAM publish auth, fast", lambda: fast_iam.message_authorization(CHANNEL, one_event)),
        Case("IAM connect headers, botocore", botocore_iam.connect_headers),
        Case("IAM connect headers, fast", fast_iam.connect_headers),
        Case("IAM subscribe auth, fast", lambda: fast_iam.message_authorization(CHANNEL)),
        Case("API key publish auth", lambda: api_key.message_authorization(CHANNEL, one_event)),
        Case(
            "verify IAM publish (+candidate_bodies)",
            lambda: verifier.verify(
                signed_publish, IAM_ONLY, pub, candidate_bodies(CHANNEL, one_event)
            ),
        ),
        Case(
            "verify API key publish",
            lambda: verifier.verify(api_key_publish, API_KEY_ONLY, pub, publish_bodies),
        ),
        Case("encode Publish (5 events)", lambda: encode(publish_message)),
        Case("decode Publish (5 events)", lambda: decode(publish_frame, sender="client")),
        Case("encode Data", lambda: encode(data_message)),
        Case("decode Data", lambda: decode(data_frame, sender="server")),
    ]


# ---------------------------------------------------------------------------
# Timing
# ---------------------------------------------------------------------------


def time_batch(call: Callable[[], object], calls: int) -> float:
    """Seconds taken by ``calls`` calls of ``call``, with the garbage collector paused."""
    loop = range(calls)
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        start = time.perf_counter()
        for _ in loop:
            call()
        return time.perf_counter() - start
    finally:
        if gc_was_enabled:
            gc.enable()


def calls_per_batch(call: Callable[[], object], batch_s: float, calibrate_s: float) -> int:
    """How many calls fill ``batch_s``, found by doubling until a run takes ``calibrate_s``."""
    calls = 1
    while True:
        elapsed = time_batch(call, calls)
        if elapsed >= calibrate_s:
            return max(1, round(calls * batch_s / elapsed))
        calls *= 2 if elapsed <= 0 else min(10, max(2, round(calibrate_s / elapsed)))


def measure(case: Case, seconds: float) -> Result:
    calibrate_s = seconds * CALIBRATION_SHARE
    batch_s = (seconds - calibrate_s) / BATCHES
    calls = calls_per_batch(case.call, batch_s, calibrate_s)
    per_call = tuple(time_batch(case.call, calls) / calls for _ in range(BATCHES))
    return Result(case.name, per_call)


# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------


def header() -> str:
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    cpus = f"{os.cpu_count()} CPUs" + (f" ({usable} usable)" if usable is not None else "")
    return (
        f"Python {platform.python_version()} ({platform.python_implementation()}), "
        f"botocore {botocore.__version__}, {cpus}, {platform.machine()}"
    )


def print_table(results: Sequence[Result], seconds: float) -> None:
    baseline = results[0]
    width = max(len(result.name) for result in results)
    print(
        f"median of {BATCHES} batches, ~{seconds:g} s per case; "
        "ratio = time per op / baseline's time per op"
    )
    print()
    print(f"{'case':<{width}}  {'us/op':>9}  {'ops/s':>11}  {'ratio':>7}  {'spread':>7}")
    print(f"{'-' * width}  {'-' * 9}  {'-' * 11}  {'-' * 7}  {'-' * 7}")
    for result in results:
        us = result.median_us
        ratio = us / baseline.median_us
        print(
            f"{result.name:<{width}}  {us:>9.2f}  {1e6 / us:>11,.0f}  "
            f"{ratio:>7.3f}  {result.spread_pct:>6.1f}%"
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--seconds",
        type=float,
        default=1.5,
        metavar="S",
        help="time budget per case, calibration included (default: 1.5)",
    )
    args = parser.parse_args(argv)
    if args.seconds <= 0:
        parser.error("--seconds must be positive")

    print(header())
    try:
        cases = build_cases()
    except CheckFailed as exc:
        print(f"bench_signing: check failed, nothing timed: {exc}", file=sys.stderr)
        return 1
    print(
        f"checks passed: every signed output verified, fast engine == botocore; {len(cases)} cases"
    )
    results = [measure(case, args.seconds) for case in cases]
    print_table(results, args.seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
