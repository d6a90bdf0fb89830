"""``python -m harness.diagnose`` live: every step against the emulator for the five
auth modes, and clients that sign as aws-amplify 6.8.0 did (or with a wrong secret)
diagnosed with the exact differing line named.

The command runs as a user runs it (a subprocess starting its own emulator); the
wrong clients go through :class:`~harness.diagnose.live.LiveDiagnosis` with their own
authorizer against the shared emulator."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest
from support.captures import WrongSigner
from support.emulator import LiveEmulator
from support.timing import MS

from harness.diagnose.checks import ApiFacts, Finding, Verdict
from harness.diagnose.live import LiveDiagnosis, StepResult
from harness.emulator import defaults
from harness.emulator.identity import emulator_authorizer
from harness.signing import AuthMode, Authorizer, Credentials

RUN_TIMEOUT_S = 60_000 * MS
STEPS = (
    "connect",
    "subscribe",
    "publish (WebSocket)",
    "receive (WebSocket publish)",
    "publish (HTTP)",
    "receive (HTTP publish)",
    "unsubscribe",
)


def run_diagnose(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness.diagnose", *arguments],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
    )


@pytest.mark.parametrize("mode", list(AuthMode))
def test_every_step_passes_against_the_embedded_emulator(mode: AuthMode) -> None:
    result = run_diagnose("--auth-mode", mode.value, "--timeout", str(5_000 * MS))
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"AppSync Events diagnose: {mode.value} against the embedded")
    for step in STEPS:
        assert any(line.startswith("ok") and f" {step} " in line for line in lines), step
    assert lines[-1] == "7 steps: 7 ok, 0 failed, 0 skipped"
    received = [line for line in lines if "got:  data on subscription s1" in line]
    assert len(received) == 2  # the WebSocket publish's event and the HTTP publish's


def diagnose(
    emulator: LiveEmulator,
    authorizer: Authorizer,
    secret_key: str = defaults.DEFAULT_SECRET_ACCESS_KEY,
) -> dict[str, StepResult]:
    """The steps of one live diagnosis, by name, checked with the client's own key."""
    api = ApiFacts(
        http_host=emulator.http_host,
        region=defaults.DEFAULT_REGION,
        credentials=Credentials(defaults.DEFAULT_ACCESS_KEY_ID, secret_key),
    )
    diagnosis = LiveDiagnosis(
        emulator.endpoints,
        authorizer,
        api,
        channel="/default/diagnosed",
        timeout_s=5_000 * MS,
        ca_file=emulator.process.info.ca_cert,
    )
    steps = diagnosis.run()
    assert [step.step for step in steps] == list(STEPS)
    return {step.step: step for step in steps}


def only_signature_finding(step: StepResult) -> Finding:
    assert step.verdict is Verdict.FAULT, step
    faults = [f for f in step.findings if f.verdict is Verdict.FAULT]
    assert [f.check for f in faults] == ["signature"], step.findings
    return faults[0]


def test_the_harness_signer_passes_every_step(emulator: LiveEmulator) -> None:
    authorizer = emulator_authorizer(AuthMode.AWS_IAM, emulator.http_host)
    steps = diagnose(emulator, authorizer)
    assert all(step.verdict is Verdict.OK for step in steps.values()), steps
    assert all(step.findings == [] for step in steps.values())


def test_a_connect_signed_over_event_connect(emulator: LiveEmulator) -> None:
    steps = diagnose(emulator, WrongSigner(emulator.http_host, connect_path="/event/connect"))
    connect = steps["connect"]
    assert connect.answer.startswith(
        "connection_error BadRequestException: The request signature we calculated"
    )
    finding = only_signature_finding(connect)
    assert finding.text.startswith(
        "computed over the canonical URI /event/connect (aws-amplify 6.8.0's connect)\n"
        "1 difference from what AppSync expects:\ncanonical URI:\n"
        "  signed:   '/event/connect'\n  expected: '/event'\n"
    )
    for needs_connect in ("subscribe", "publish (WebSocket)", "unsubscribe"):
        assert steps[needs_connect].verdict is Verdict.SKIPPED
    # HTTP publishing needs no connection, and this client signs it right.
    assert steps["publish (HTTP)"].verdict is Verdict.OK


def test_a_subscribe_signed_over_null(emulator: LiveEmulator) -> None:
    steps = diagnose(emulator, WrongSigner(emulator.http_host, subscribe_body=b"[null]"))
    assert steps["connect"].verdict is Verdict.OK
    subscribe = steps["subscribe"]
    assert subscribe.answer.startswith("subscribe_error BadRequestException: The request signature")
    text = only_signature_finding(subscribe).text
    assert text.startswith("computed over the body [null] (aws-amplify 6.8.0's subscribe)\n")
    assert "\npayload hash:\n" in text and "the body signed was [null]" in text
    assert steps["publish (WebSocket)"].verdict is Verdict.OK
    assert steps["receive (WebSocket publish)"].verdict is Verdict.SKIPPED
    assert steps["unsubscribe"].verdict is Verdict.SKIPPED


def test_a_wrong_secret(emulator: LiveEmulator) -> None:
    wrong = "not-the-emulators-secret-key-0123456789"
    steps = diagnose(emulator, WrongSigner(emulator.http_host, secret_key=wrong), wrong)
    text = only_signature_finding(steps["connect"]).text
    assert text.startswith("computed over the request AppSync expects\n1 difference")
    assert "\nsignature:\n" in text and "so the key differs" in text
    http = steps["publish (HTTP)"]
    assert http.answer.startswith("HTTP 400") or http.answer.startswith("HTTP 401"), http
    assert "so the key differs" in only_signature_finding(http).text
    shown = repr(steps)
    assert wrong not in shown and defaults.DEFAULT_SECRET_ACCESS_KEY not in shown


@pytest.mark.parametrize(
    ("arguments", "error"),
    [
        (("--auth-mode", "bogus"), "error: --auth-mode: unknown auth mode 'bogus'"),
        (("--host", "ftp://x"), "error: --host: host: must be an http(s) URL"),
        (("--timeout", "0"), "error: --timeout: must be more than 0 seconds"),
        (("--host", "http://127.0.0.1:9/event"), "error: --api-key: is required"),
    ],
)
def test_a_bad_option_is_named(arguments: tuple[str, ...], error: str) -> None:
    result = run_diagnose(*arguments)
    assert result.returncode == 2
    assert result.stderr.startswith(error) and result.stdout == ""


def test_an_api_that_cannot_be_reached_fails_every_step_it_needs() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    host = f"http://127.0.0.1:{port}/event"
    result = run_diagnose("--host", host, "--api-key", "da2-any", "--timeout", str(2_000 * MS))
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    failed = [line.split()[1] for line in lines if line.startswith("FAIL")]
    assert failed == ["connect", "publish"]  # the connect and the HTTP publish
    assert lines[-1] == "7 steps: 0 ok, 2 failed, 5 skipped"
    assert "da2-any" not in result.stdout
