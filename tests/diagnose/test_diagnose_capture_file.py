"""``python -m harness.diagnose --har FILE``: another client's requests, checked offline.

The HAR files are recorded from real sessions against the emulator (its answers
included), by clients that sign right, as aws-amplify 6.8.0 did, or with a wrong
secret (``support.captures``); the command runs as a user runs it, with the
credentials in the environment or none, and its exit status says whether it found a
fault."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from support.captures import WrongSigner, recorded_har
from support.emulator import LiveEmulator
from support.timing import MS

from harness.emulator import defaults
from harness.emulator.identity import emulator_authorizer
from harness.signing import AuthMode

RUN_TIMEOUT_S = 30_000 * MS
CHANNEL = "/default/captured"
REQUESTS = 4
"""A recorded session: the connect, a subscribe, a WebSocket publish, an HTTP publish."""
EMULATOR_KEYS = {
    "AWS_ACCESS_KEY_ID": defaults.DEFAULT_ACCESS_KEY_ID,
    "AWS_SECRET_ACCESS_KEY": defaults.DEFAULT_SECRET_ACCESS_KEY,
}


def check_file(
    path: Path, *arguments: str, credentials: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("AWS_") and not name.startswith("LOCUST_")
    }
    environment.update(credentials or {})
    return subprocess.run(
        [sys.executable, "-m", "harness.diagnose", "--har", str(path), *arguments],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        env=environment,
    )


def write(tmp_path: Path, document: Any, name: str = "session.har") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def block(output: str, heading: str) -> str:
    """The lines of the request whose heading line contains ``heading``."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if heading in line and "·" in line)
    end = next(
        (i for i in range(start + 1, len(lines)) if not lines[i].startswith(" ")), len(lines)
    )
    return "\n".join(lines[start:end])


def test_a_correct_client_passes(emulator: LiveEmulator, tmp_path: Path) -> None:
    authorizer = emulator_authorizer(AuthMode.AWS_IAM, emulator.http_host)
    path = write(tmp_path, recorded_har(emulator, authorizer, CHANNEL))
    result = check_file(path, "--region", defaults.DEFAULT_REGION, credentials=EMULATOR_KEYS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("signature: computed over the request AppSync expects") == REQUESTS
    assert f"{REQUESTS} AppSync Events request(s) checked, 0 with faults; 1 other" in result.stdout


def test_a_connect_signed_over_event_connect(emulator: LiveEmulator, tmp_path: Path) -> None:
    client = WrongSigner(emulator.http_host, connect_path="/event/connect")
    path = write(tmp_path, recorded_har(emulator, client, CHANNEL))
    result = check_file(path, credentials=EMULATOR_KEYS)
    assert result.returncode == 1, result.stdout + result.stderr
    connect = block(result.stdout, "entry 1 · connect")
    assert connect.startswith("FAIL")
    assert "signature: computed over the canonical URI /event/connect" in connect
    assert "signed:   '/event/connect'\n" in connect and "expected: '/event'\n" in connect
    # The refused connect's socket was closed: nothing else was recorded on it.
    assert "entry 1, message" not in result.stdout
    assert "1 with faults" in result.stdout


def test_a_subscribe_signed_over_null(emulator: LiveEmulator, tmp_path: Path) -> None:
    client = WrongSigner(emulator.http_host, subscribe_body=b"[null]")
    path = write(tmp_path, recorded_har(emulator, client, CHANNEL))
    result = check_file(path, "--region", defaults.DEFAULT_REGION, credentials=EMULATOR_KEYS)
    assert result.returncode == 1, result.stdout + result.stderr
    subscribe = block(result.stdout, "· subscribe /default/captured")
    assert subscribe.startswith("FAIL")
    assert "signature: computed over the body [null] (aws-amplify 6.8.0's subscribe)" in subscribe
    assert "payload hash:" in subscribe
    for fine in ("entry 1 · connect", "· publish /default/captured", "entry 2 · http_publish"):
        assert block(result.stdout, fine).startswith("ok"), fine


def test_a_wrong_secret(emulator: LiveEmulator, tmp_path: Path) -> None:
    wrong = "not-the-emulators-secret-key-0123456789"
    path = write(
        tmp_path, recorded_har(emulator, WrongSigner(emulator.http_host, secret_key=wrong), CHANNEL)
    )
    # Checked with the key the API knows: no variant reproduces the signature, and
    # the emulator's recorded answer shows the request itself was what it expected.
    result = check_file(path, credentials=EMULATOR_KEYS)
    assert result.returncode == 1, result.stdout + result.stderr
    connect = block(result.stdout, "entry 1 · connect")
    assert "no known variant reproduces it with the given secret key" in connect
    assert "so the key differs" in connect
    # Checked with the key the client used: its signing is right, its key is not.
    used = {**EMULATOR_KEYS, "AWS_SECRET_ACCESS_KEY": wrong}
    result = check_file(path, credentials=used)
    assert result.returncode == 1
    connect = block(result.stdout, "entry 1 · connect")
    assert "computed over the request AppSync expects" in connect
    assert "so the key differs" in connect
    assert wrong not in result.stdout + result.stderr


def test_without_credentials_the_structure_is_checked(
    emulator: LiveEmulator, tmp_path: Path
) -> None:
    authorizer = emulator_authorizer(AuthMode.AWS_IAM, emulator.http_host)
    path = write(tmp_path, recorded_har(emulator, authorizer, CHANNEL))
    result = check_file(path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("??    signature: not checked without the secret key") == REQUESTS
    assert result.stdout.count("ok    date: x-amz-date is ") == REQUESTS
    assert result.stdout.rstrip().endswith("not checked: region, signature")


def test_without_credentials_a_recorded_refusal_is_still_a_fault(
    emulator: LiveEmulator, tmp_path: Path
) -> None:
    client = WrongSigner(emulator.http_host, connect_path="/event/connect")
    result = check_file(write(tmp_path, recorded_har(emulator, client, CHANNEL)))
    assert result.returncode == 1, result.stdout + result.stderr
    connect = block(result.stdout, "entry 1 · connect")
    assert "??    signature: not checked without the secret key" in connect
    assert "FAIL  answer: the server refused it: The request signature we calculated" in connect
    assert "Canonical String" not in result.stdout  # only the error's first line is shown


def test_an_api_key_is_compared_without_being_shown(emulator: LiveEmulator, tmp_path: Path) -> None:
    authorizer = emulator_authorizer(AuthMode.API_KEY, emulator.http_host)
    path = write(tmp_path, recorded_har(emulator, authorizer, CHANNEL))
    right = check_file(path, "--api-key", defaults.DEFAULT_API_KEY)
    assert right.returncode == 0, right.stdout + right.stderr
    assert right.stdout.count("API key: the key given with --api-key") == REQUESTS
    wrong = check_file(path, credentials={"LOCUST_API_KEY": "da2-someotherkey"})
    assert wrong.returncode == 1
    assert wrong.stdout.count("x-api-key is not the key given with --api-key") == REQUESTS
    assert defaults.DEFAULT_API_KEY not in wrong.stdout + right.stdout


def test_a_plain_json_list_is_read_like_a_har(emulator: LiveEmulator, tmp_path: Path) -> None:
    har = recorded_har(emulator, WrongSigner(emulator.http_host, subscribe_body=b"[null]"), CHANNEL)
    realtime, http, _ = har["log"]["entries"]
    plain = [
        {
            "url": realtime["request"]["url"],
            "time": realtime["startedDateTime"],
            "headers": {h["name"]: h["value"] for h in realtime["request"]["headers"]},
            "messages": realtime["_webSocketMessages"],
        },
        {
            "url": http["request"]["url"],
            "headers": http["request"]["headers"],
            "body": http["request"]["postData"]["text"],
            "response": {"status": http["response"]["status"]},
        },
    ]
    result = check_file(write(tmp_path, plain, "requests.json"), credentials=EMULATOR_KEYS)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "request 1, message 3 · subscribe" in result.stdout
    assert "the body [null] (aws-amplify 6.8.0's subscribe)" in result.stdout
    http_publish = block(result.stdout, "request 2 · http_publish")
    assert "ok    signature: computed over the request AppSync expects" in http_publish
    assert "??    date: when it was sent is not recorded" in http_publish


@pytest.mark.parametrize(
    ("content", "error"),
    [
        (None, "--har: cannot read"),
        ("{not json", "is not JSON"),
        ('{"something": 1}', "is neither a HAR file (log.entries) nor a list"),
        ('{"log": {"entries": []}}', "holds no AppSync Events request"),
        ('[{"url": "https://example.test/other", "method": "GET"}]', "among 1 request(s)"),
    ],
)
def test_bad_input_is_named(tmp_path: Path, content: str | None, error: str) -> None:
    path = tmp_path / "capture.har"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    result = check_file(path)
    assert result.returncode == 2
    assert error in result.stderr and result.stdout == ""
