"""``python -m harness.diagnose`` (also ``appsync-events-diagnose``): is this Event API,
and this client's signing, working? See docs/diagnose.md.

Without ``--har``, one pass through every operation against ``--host`` (by default
a fresh embedded emulator) with the harness's signer. With ``--har FILE``, the
AppSync Events requests another client sent, read from a browser's HAR file or a
JSON list, checked without the network.

Exit status: 0 when every step passed or no fault was found, 1 when one failed or
a fault was found, 2 for bad options or an unreadable file.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import uuid
from collections.abc import Sequence

from harness.diagnose.capture_file import Malformed, read_capture_file
from harness.diagnose.checks import (
    ApiFacts,
    CapturedRequest,
    Finding,
    Verdict,
    check,
    recorded_refusal,
)
from harness.diagnose.live import LiveDiagnosis
from harness.diagnose.output import format_capture, format_steps
from harness.emulator import defaults
from harness.emulator.identity import signer_for
from harness.emulator.process import EmulatorProcess, EmulatorStartError
from harness.errors import ConfigurationError, HarnessError, SigningError
from harness.protocol import Endpoints
from harness.signing import AuthMode, Credentials, CredentialSource
from harness.signing.sigv4 import ENGINES

EXIT_OK, EXIT_FAULT, EXIT_USAGE = 0, 1, 2
SECRET_ENVIRONMENT = {"api_key": "LOCUST_API_KEY", "auth_token": "LOCUST_AUTH_TOKEN"}
"""Secrets may come from the environment, under the load test's names, rather than
from the command line (where other users of the machine can read them)."""
EMULATOR_ARGUMENTS = ("--log-level", "WARNING")


TEXT_OPTIONS = (
    (
        "--host",
        "URL",
        "the API's HTTP endpoint, https://<id>.appsync-api.<region>.amazonaws.com/event "
        "(default: a fresh embedded emulator on 127.0.0.1); with --har, the API the "
        "requests were meant for (default: each request's own host)",
    ),
    (
        "--auth-mode",
        "MODE",
        "API_KEY (the default), AWS_IAM, AMAZON_COGNITO_USER_POOLS, OPENID_CONNECT or "
        "AWS_LAMBDA; not used with --har, where each request shows its own",
    ),
    ("--api-key", "KEY", "the API key (or LOCUST_API_KEY); with --har, compared with the one sent"),
    (
        "--auth-token",
        "TOKEN",
        "the JWT or Lambda token (or LOCUST_AUTH_TOKEN); against the emulator one is minted",
    ),
    ("--region", "REGION", "the API's region (default: from a standard host)"),
    (
        "--aws-profile",
        "PROFILE",
        "AWS_IAM credentials from this shared-config profile (default: botocore's chain "
        "live, the AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY environment with --har, the "
        "emulator's test key pair against the emulator)",
    ),
    ("--ca-file", "PEM", "CAs to trust for https:// and wss:// (default: the system store)"),
    ("--channel", "CHANNEL", "the channel of the steps (default: /default/diagnose-<random>)"),
    ("--har", "FILE", "check the AppSync Events requests in this HAR file or JSON list instead"),
)
"""``(flag, metavar, help)`` of the options that take text (default: empty, but API_KEY)."""


def parser() -> argparse.ArgumentParser:
    parse = argparse.ArgumentParser(
        prog="python -m harness.diagnose",
        description=(
            "Check an AppSync Events API and its signing: one connect, subscribe, publish "
            "(WebSocket and HTTP), receive and unsubscribe, each judged and explained; or, "
            "with --har, the requests another client sent. See docs/diagnose.md."
        ),
    )
    for flag, metavar, text in TEXT_OPTIONS:
        parse.add_argument(flag, default="", metavar=metavar, help=text)
    parse.set_defaults(auth_mode=AuthMode.API_KEY.value)
    parse.add_argument(
        "--iam-signer", default="botocore", choices=tuple(ENGINES), help="the SigV4 engine"
    )
    parse.add_argument(
        "--timeout",
        default=10.0,
        type=float,
        metavar="SECONDS",
        help="how long each step waits for its answer (default: 10)",
    )
    return parse


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    options = parser().parse_args(argv)
    for name, variable in SECRET_ENVIRONMENT.items():
        if not getattr(options, name):
            setattr(options, name, os.environ.get(variable, ""))
    try:
        if options.har:
            return _check_file(options)
        return _diagnose_live(options)
    except (ConfigurationError, SigningError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (EmulatorStartError, HarnessError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAULT


def _diagnose_live(options: argparse.Namespace) -> int:
    if options.timeout <= 0:
        raise ConfigurationError("--timeout", "must be more than 0 seconds")
    mode = AuthMode.parse(options.auth_mode)
    if options.host:
        return _diagnose(
            options, mode, _endpoints(options.host), embedded=False, ca_file=options.ca_file
        )
    emulator = EmulatorProcess.start(EMULATOR_ARGUMENTS)
    try:
        return _diagnose(
            options,
            mode,
            Endpoints.from_http_url(emulator.info.http_url),
            embedded=True,
            ca_file=emulator.info.ca_cert,
        )
    finally:
        emulator.stop()


def _diagnose(
    options: argparse.Namespace,
    mode: AuthMode,
    endpoints: Endpoints,
    *,
    embedded: bool,
    ca_file: str | None,
) -> int:
    region = options.region or endpoints.region or (defaults.DEFAULT_REGION if embedded else None)
    signer = signer_for(
        mode,
        endpoints.http_host,
        embedded=embedded,
        api_key=options.api_key,
        token=options.auth_token,
        region=region,
        aws_profile=options.aws_profile or None,
        sigv4_engine=options.iam_signer,
    )
    authorizer = signer.authorizer
    credentials = signer.credentials.current() if signer.credentials else None
    api = ApiFacts(
        http_host=endpoints.http_host,
        region=region,
        credentials=credentials,
        api_key=options.api_key or (defaults.DEFAULT_API_KEY if embedded else None),
    )
    channel = options.channel or f"/{defaults.DEFAULT_NAMESPACE}/diagnose-{uuid.uuid4().hex[:8]}"
    target = "the embedded emulator" if embedded else endpoints.http_url
    print(f"AppSync Events diagnose: {mode.value} against {target}, channel {channel}\n")
    diagnosis = LiveDiagnosis(
        endpoints, authorizer, api, channel=channel, timeout_s=options.timeout, ca_file=ca_file
    )
    steps = diagnosis.run()
    print(format_steps(steps))
    return EXIT_FAULT if any(step.verdict is not Verdict.OK for step in steps) else EXIT_OK


def _check_file(options: argparse.Namespace) -> int:
    found = read_capture_file(options.har)
    endpoints = _endpoints(options.host) if options.host else None
    api = ApiFacts(
        http_host=endpoints.http_host if endpoints else None,
        region=options.region or (endpoints.region if endpoints else None),
        credentials=_file_credentials(options.aws_profile),
        api_key=options.api_key or None,
    )
    checked: list[tuple[CapturedRequest | Malformed, list[Finding]]] = []
    for item in found.requests:
        if isinstance(item, Malformed):
            findings = [item.finding]
        else:
            refusal = recorded_refusal(item)
            findings = [*check(item, api), *([refusal] if refusal else [])]
        checked.append((item, findings))
    print(f"AppSync Events requests in {options.har}\n")
    print(format_capture(found, checked))
    faulty = any(f.verdict is Verdict.FAULT for _, findings in checked for f in findings)
    return EXIT_FAULT if faulty else EXIT_OK


def _endpoints(host: str) -> Endpoints:
    try:
        return Endpoints.from_http_url(host)
    except HarnessError as exc:
        raise ConfigurationError("--host", str(exc)) from None


def _file_credentials(profile: str) -> Credentials | None:
    """The identity a captured client signed with: a profile, else the environment's
    keys; None without either. No credential provider that needs the network is asked."""
    if profile:
        return CredentialSource.from_chain(profile).current()
    access_key = os.environ.get("AWS_ACCESS_KEY_ID")
    secret_key = os.environ.get("AWS_SECRET_ACCESS_KEY")
    if not access_key or not secret_key:
        return None
    return Credentials(access_key, secret_key, os.environ.get("AWS_SESSION_TOKEN") or None)
