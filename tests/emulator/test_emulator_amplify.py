"""The real Amplify JS Events client against the emulator.

``tests/emulator/amplify/`` pins two releases of aws-amplify under npm aliases: a current
one (``amplify-current``) and 6.8.0 (``amplify-680``), whose IAM WebSocket connect
signs ``POST /event/connect`` instead of ``POST /event`` (docs/protocol.md#amplify-680,
fixed in 6.8.1). ``events_client.mjs`` configures Amplify against an emulator
started with ``--tls`` (Amplify always opens ``wss://``), subscribes, publishes over
the WebSocket and over HTTP, and prints JSON lines.

The current release must work for API_KEY and AWS_IAM; 6.8.0 with AWS_IAM must be
refused at connect with AppSync's own BadRequestException, as the real service did.

Needs node and npm. ``npm ci`` runs once per session, unless node_modules is
already installed as locked (the npm registry must be reachable, or npm's cache
warm); a cold ``npm ci`` takes about a minute. Without node or npm the module is
skipped.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from support.emulator import LiveEmulator
from support.timing import FACTOR, MS

from harness.emulator import defaults
from harness.signing.sigv4 import (
    canonical_request,
    sha256_hex,
    signature,
    signing_key,
    string_to_sign,
)

AMPLIFY_DIR = Path(__file__).parent / "amplify"
CLIENT_SCRIPT = AMPLIFY_DIR / "events_client.mjs"
NPM_CI_TIMEOUT_S = 600_000 * MS
CLIENT_TIMEOUT_MS = round(20_000 * FACTOR)
CLIENT_PROCESS_TIMEOUT_S = CLIENT_TIMEOUT_MS / 1000 + 20.0
SIGNATURE_MISMATCH = "The request signature we calculated does not match"
TEMP_ACCESS_KEY_ID = "ASIAHARNESSAMPLIFY01"
TEMP_SECRET_ACCESS_KEY = "amplifyTemporarySecret/NotAnAwsSecret000"
TEMP_SESSION_TOKEN = "amplify-session-token-for-the-emulator"

NODE = shutil.which("node")
NPM = shutil.which("npm")

pytestmark = [
    pytest.mark.node,
    pytest.mark.skipif(
        NODE is None or NPM is None,
        reason="node and npm are needed to run the Amplify JS client (tests/emulator/amplify/)",
    ),
    # The first test also pays for `npm ci`; every subprocess has its own timeout.
    pytest.mark.timeout(NPM_CI_TIMEOUT_S + 2 * CLIENT_PROCESS_TIMEOUT_S),
]


@pytest.fixture(scope="session")
def amplify_installed() -> Path:
    """``npm ci`` in tests/emulator/amplify, once per session, unless node_modules already holds
    exactly what package-lock.json locks (npm's own record of it, as left by an
    earlier ``npm ci``); the script to run."""
    assert NPM is not None
    if _installed_as_locked():
        return CLIENT_SCRIPT
    try:
        completed = subprocess.run(
            [NPM, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=AMPLIFY_DIR,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=NPM_CI_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"npm ci in {AMPLIFY_DIR} took more than {NPM_CI_TIMEOUT_S:g} s")
    if completed.returncode != 0:
        pytest.fail(
            f"npm ci in {AMPLIFY_DIR} failed ({completed.returncode}):\n"
            f"{completed.stdout[-3000:]}\n{completed.stderr[-3000:]}"
        )
    return CLIENT_SCRIPT


def _installed_as_locked() -> bool:
    """Whether npm's hidden lockfile in node_modules lists the very packages of
    package-lock.json (npm writes it on every install)."""
    try:
        locked = json.loads((AMPLIFY_DIR / "package-lock.json").read_text(encoding="utf-8"))
        hidden = json.loads(
            (AMPLIFY_DIR / "node_modules" / ".package-lock.json").read_text(encoding="utf-8")
        )
    except (OSError, ValueError):
        return False
    wanted = {path: entry for path, entry in locked.get("packages", {}).items() if path}
    return bool(wanted) and hidden.get("packages") == wanted


@dataclass
class ClientRun:
    """What one run of events_client.mjs printed."""

    returncode: int
    lines: list[dict[str, Any]]
    stdout: str
    stderr: str
    done: dict[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        finals = self.of_kind("done")
        assert len(finals) == 1, f"no summary line from the client:\n{self}"
        self.done = finals[0]

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [line for line in self.lines if line.get("kind") == kind]

    def frames(self, frame_type: str) -> list[dict[str, Any]]:
        return [
            line["frame"]
            for line in self.of_kind("frame")
            if isinstance(line["frame"], dict) and line["frame"].get("type") == frame_type
        ]

    def __str__(self) -> str:
        return (
            f"exit {self.returncode}\nstdout:\n{self.stdout[-6000:]}\n"
            f"stderr:\n{self.stderr[-3000:]}"
        )


@pytest.fixture
def run_amplify(amplify_installed: Path) -> Callable[..., ClientRun]:
    def run(
        emulator: LiveEmulator,
        package: str,
        auth_mode: str,
        *,
        channel: str = "default/amplify",
        env: dict[str, str] | None = None,
    ) -> ClientRun:
        assert NODE is not None
        info = emulator.process.info
        assert info.ca_cert is not None, "Amplify opens wss:// only: start the emulator with --tls"
        child_env = {
            **os.environ,
            "NODE_EXTRA_CA_CERTS": info.ca_cert,
            "EVENTS_API_KEY": defaults.DEFAULT_API_KEY,
            "AWS_ACCESS_KEY_ID": defaults.DEFAULT_ACCESS_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": defaults.DEFAULT_SECRET_ACCESS_KEY,
            **(env or {}),
        }
        if "AWS_SESSION_TOKEN" not in (env or {}):
            child_env.pop("AWS_SESSION_TOKEN", None)
        command = [
            NODE,
            str(amplify_installed),
            "--package",
            package,
            "--endpoint",
            info.http_url,
            "--region",
            info.region,
            "--auth-mode",
            auth_mode,
            "--channel",
            channel,
            "--timeout-ms",
            str(CLIENT_TIMEOUT_MS),
        ]
        try:
            completed = subprocess.run(
                command,
                cwd=AMPLIFY_DIR,
                env=child_env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=CLIENT_PROCESS_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired as expired:
            pytest.fail(
                f"events_client.mjs ran past {CLIENT_PROCESS_TIMEOUT_S:g} s; "
                f"stdout so far:\n{expired.stdout!r}"
            )
        return ClientRun(
            completed.returncode,
            _json_lines(completed.stdout),
            completed.stdout,
            completed.stderr,
        )

    return run


def _json_lines(stdout: str) -> list[dict[str, Any]]:
    """The client's JSON lines; anything else Amplify printed is skipped."""
    lines = []
    for text in stdout.splitlines():
        if not text.startswith("{"):
            continue
        try:
            line = json.loads(text)
        except ValueError:
            continue
        if isinstance(line, dict) and "kind" in line:
            lines.append(line)
    return lines


@pytest.fixture
def tls_emulator(start_emulator: Callable[..., LiveEmulator]) -> Iterator[LiveEmulator]:
    yield start_emulator("--tls")


def _assert_round_trip(run: ClientRun, emulator: LiveEmulator) -> None:
    done = run.done
    assert run.returncode == 0, run
    assert done["ok"], run
    assert done["connected"] and done["subscribed"], run
    assert done["publish_ws"] == "ok" and done["publish_http"] == "ok", run
    assert sorted(done["received_via"]) == ["http", "websocket"], run
    assert run.of_kind("info")[0]["amplify"] != "6.8.0"
    stats = emulator.stats()
    assert stats["auth_failures"] == {}, stats
    assert stats["errors_sent"] == {}, stats
    assert [a["outcome"] for a in stats["connection_attempts"]] == ["accepted"], stats
    assert stats["publishes"]["ws"] == 1 and stats["publishes"]["http"] == 1, stats
    assert stats["publishes"]["events"] == 2, stats
    assert stats["deliveries"]["sent"] == 2, stats
    assert stats["subscriptions"]["total"] == 1, stats


def test_current_amplify_api_key_round_trip(
    tls_emulator: LiveEmulator, run_amplify: Callable[..., ClientRun]
) -> None:
    run = run_amplify(tls_emulator, "amplify-current", "apiKey", channel="default/amplify/key")
    _assert_round_trip(run, tls_emulator)
    opened = run.of_kind("ws_open")
    assert len(opened) == 1, run
    assert opened[0]["url"] == tls_emulator.process.info.realtime_url
    assert opened[0]["protocols"] == ["aws-appsync-event-ws", "header-…"]
    assert {"host", "x-api-key"} <= set(opened[0]["auth"]["keys"])
    assert opened[0]["auth"]["values"]["host"] == tls_emulator.http_host
    assert "/default/amplify/key" in tls_emulator.stats()["channels"]


def test_current_amplify_iam_round_trip(
    tls_emulator: LiveEmulator, run_amplify: Callable[..., ClientRun]
) -> None:
    run = run_amplify(tls_emulator, "amplify-current", "iam", channel="default/amplify/iam")
    _assert_round_trip(run, tls_emulator)
    auth = run.of_kind("ws_open")[0]["auth"]
    assert auth["signed_headers"] == "accept;content-encoding;content-type;host;x-amz-date"
    assert auth["credential_scope"].endswith(f"/{defaults.DEFAULT_REGION}/appsync/aws4_request")
    # What the fix in 6.8.1 changed: the connect is signed over POST /event.
    assert auth["signature"] == _connect_signature(auth, "/event")


def test_current_amplify_iam_with_temporary_credentials(
    start_emulator: Callable[..., LiveEmulator], run_amplify: Callable[..., ClientRun]
) -> None:
    emulator = start_emulator(
        "--tls", "--iam", f"{TEMP_ACCESS_KEY_ID}:{TEMP_SECRET_ACCESS_KEY}:{TEMP_SESSION_TOKEN}"
    )
    run = run_amplify(
        emulator,
        "amplify-current",
        "iam",
        env={
            "AWS_ACCESS_KEY_ID": TEMP_ACCESS_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": TEMP_SECRET_ACCESS_KEY,
            "AWS_SESSION_TOKEN": TEMP_SESSION_TOKEN,
        },
    )
    _assert_round_trip(run, emulator)
    auth = run.of_kind("ws_open")[0]["auth"]
    assert "x-amz-security-token" in auth["keys"]
    assert "x-amz-security-token" in auth["signed_headers"].split(";")


def test_amplify_680_iam_connect_is_refused_with_the_services_error(
    tls_emulator: LiveEmulator, run_amplify: Callable[..., ClientRun]
) -> None:
    run = run_amplify(tls_emulator, "amplify-680", "iam", channel="default/amplify/old")
    assert run.of_kind("info")[0]["amplify"] == "6.8.0"
    done = run.done
    assert run.returncode == 3, run
    assert not done["connected"] and not done["subscribed"], run
    assert done["received"] == 0, run

    # The client saw AppSync's connection_error, quoting the canonical request for /event.
    errors = run.frames("connection_error")
    assert len(errors) == 1, run
    [detail] = errors[0]["errors"]
    assert detail["errorType"] == "BadRequestException", run
    assert SIGNATURE_MISMATCH in detail["message"], run
    assert "should have been\n'POST\n/event\n\naccept:application/json" in detail["message"]
    assert f"\nhost:{tls_emulator.http_host}\n" in detail["message"]
    assert sha256_hex(b"{}") in detail["message"]
    assert run.of_kind("ws_close")[0]["code"] == 1000

    # The bug itself: 6.8.0 signed POST /event/connect, everything else being right.
    auth = run.of_kind("ws_open")[0]["auth"]
    assert auth["values"]["host"] == tls_emulator.http_host
    assert auth["signature"] == _connect_signature(auth, "/event/connect")
    assert auth["signature"] != _connect_signature(auth, "/event")

    # The emulator's side: one attempt, rejected, counted as a BadRequestException.
    stats = tls_emulator.stats()
    assert stats["auth_failures"] == {"BadRequestException": 1}, stats
    attempts = stats["connection_attempts"]
    assert [(a["outcome"], a["detail"]) for a in attempts] == [
        ("rejected", "BadRequestException")
    ], stats
    assert stats["connections"]["accepted"] == 0, stats
    assert stats["subscriptions"]["total"] == 0, stats

    # HTTP publishing signs POST /event correctly even in 6.8.0.
    assert done["publish_http"] == "ok", run
    assert done["publish_ws"] == "unsupported", run  # 6.8.0 had no channel.publish
    assert stats["publishes"]["http"] == 1, stats


def test_amplify_680_api_key_still_connects(
    tls_emulator: LiveEmulator, run_amplify: Callable[..., ClientRun]
) -> None:
    """The control for the test above: with an API key 6.8.0 connects and receives."""
    run = run_amplify(tls_emulator, "amplify-680", "apiKey")
    done = run.done
    assert done["connected"] and done["subscribed"], run
    assert done["publish_ws"] == "unsupported" and done["publish_http"] == "ok", run
    assert done["received_via"] == ["http"], run
    assert run.frames("connection_error") == []
    stats = tls_emulator.stats()
    assert stats["auth_failures"] == {}, stats
    assert [a["outcome"] for a in stats["connection_attempts"]] == ["accepted"], stats


def _connect_signature(auth: dict[str, Any], uri: str) -> str:
    """The SigV4 signature of an IAM connect (body ``{}``) with canonical URI ``uri``,
    from the header values the client sent and the emulator's default secret key."""
    signed = auth["signed_headers"].split(";")
    canonical = canonical_request(auth["values"], signed, sha256_hex(b"{}"), uri=uri)
    scope = auth["credential_scope"]
    date_stamp, region, service, _ = scope.split("/")
    key = signing_key(defaults.DEFAULT_SECRET_ACCESS_KEY, date_stamp, region, service)
    return signature(key, string_to_sign(auth["values"]["x-amz-date"], scope, canonical))
