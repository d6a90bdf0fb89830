"""Credentials come from botocore's real chain and refresh before they expire.

The chain is isolated from this machine: config files point into tmp_path, the
instance-metadata provider is disabled, and assume-role talks to an STS stand-in
on 127.0.0.1, so nothing leaves loopback.
"""

import datetime
import http.server
import json
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import botocore.exceptions
import botocore.session
import pytest
from botocore.credentials import ReadOnlyCredentials, RefreshableCredentials
from support.constants import HOST, NOW, REGION

from harness.errors import SigningError
from harness.signing import (
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

CHAIN_VARIABLES = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
)


@pytest.fixture
def isolated_chain(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """An empty credential chain: no variables, empty config files, no metadata service."""
    for name in CHAIN_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    config = tmp_path / "config"
    credentials = tmp_path / "credentials"
    config.write_text("")
    credentials.write_text("")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return tmp_path


def test_environment_credentials(isolated_chain: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDFROMENV")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret-from-env")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "token-from-env")
    current = CredentialSource.from_chain().current()
    assert (current.access_key, current.secret_key, current.token) == (
        "AKIDFROMENV",
        "secret-from-env",
        "token-from-env",
    )


def test_shared_profile_credentials(isolated_chain: Path) -> None:
    (isolated_chain / "credentials").write_text(
        "[load-test]\naws_access_key_id = AKIDFROMPROFILE\naws_secret_access_key = profile-secret\n"
    )
    current = CredentialSource.from_chain(profile="load-test").current()
    assert (current.access_key, current.secret_key, current.token) == (
        "AKIDFROMPROFILE",
        "profile-secret",
        None,
    )


def test_an_unknown_profile_is_a_clear_error(isolated_chain: Path) -> None:
    with pytest.raises(SigningError, match="'nope' was not found"):
        CredentialSource.from_chain(profile="nope")


def test_no_credentials_anywhere_is_a_clear_error(isolated_chain: Path) -> None:
    with pytest.raises(SigningError, match="no AWS credentials found"):
        CredentialSource.from_chain()


def test_credential_process_credentials_refresh_before_expiry(isolated_chain: Path) -> None:
    """A credential_process profile hands out keys that expire in 5 minutes, inside
    botocore's mandatory refresh window, so each snapshot fetches fresh keys, as a
    soak test outliving its session token needs."""
    counter = isolated_chain / "issued"
    script = isolated_chain / "issue_credentials.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import datetime, json, pathlib
            counter = pathlib.Path({str(counter)!r})
            issued = int(counter.read_text()) + 1 if counter.exists() else 1
            counter.write_text(str(issued))
            expires = datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=5)
            print(json.dumps({{
                "Version": 1,
                "AccessKeyId": f"ASIAROTATED{{issued:05d}}",
                "SecretAccessKey": f"rotated-secret-{{issued}}",
                "SessionToken": f"rotated-token-{{issued}}",
                "Expiration": expires.isoformat(),
            }}))
            """
        )
    )
    (isolated_chain / "config").write_text(
        f"[profile rotating]\ncredential_process = {sys.executable} {script}\n"
    )
    source = CredentialSource.from_chain(profile="rotating")
    first = source.current()
    second = source.current()
    assert first.access_key != second.access_key
    assert second.secret_key.startswith("rotated-secret-")
    assert second.token is not None and second.token.startswith("rotated-token-")
    assert int(counter.read_text()) >= 2


def test_signatures_follow_refreshed_credentials() -> None:
    """An IAM authorizer signs each request with the current keys: after a refresh
    the verifier sees the new key id, and both keys verify."""
    issued = iter(range(1, 100))

    def refresh() -> dict[str, str]:
        number = next(issued)
        # Inside botocore's mandatory refresh window (10 min): every use refreshes.
        expiry = datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=5)
        return {
            "access_key": f"ASIAREFRESH{number:05d}",
            "secret_key": f"secret-{number}",
            "token": f"token-{number}",
            "expiry_time": expiry.isoformat(),
        }

    credentials = RefreshableCredentials.create_from_metadata(refresh(), refresh, "test")
    authorizer = IamAuthorizer(HOST, REGION, CredentialSource(credentials), FastSigner(lambda: NOW))
    verifier = AuthVerifier(
        VerifierConfig(
            region=REGION,
            iam_keys={
                f"ASIAREFRESH{n:05d}": IamKey(f"secret-{n}", f"token-{n}") for n in range(1, 10)
            },
        ),
        clock=lambda: NOW,
    )
    first = authorizer.connect_headers()
    second = authorizer.connect_headers()
    assert first["authorization"].split("/")[0] != second["authorization"].split("/")[0]
    for headers in (first, second):
        assert verifier.verify(
            headers, [AuthMode.AWS_IAM], Operation.CONNECT, candidate_bodies(None, None)
        )
    assert json.dumps(first) != json.dumps(second)


def test_a_refresh_that_returns_expired_credentials_is_a_signing_error() -> None:
    def refresh() -> dict[str, str]:
        return {
            "access_key": "ASIAEXPIRED",
            "secret_key": "expired-secret",
            "token": "expired-token",
            "expiry_time": "2000-01-01T00:00:00Z",
        }

    source = CredentialSource(RefreshableCredentials.create_from_metadata(refresh(), refresh, "t"))
    with pytest.raises(SigningError, match="could not be refreshed") as caught:
        source.current()
    assert "expired-secret" not in str(caught.value)


class FakeSts(http.server.BaseHTTPRequestHandler):
    """A loopback STS that answers AssumeRole with fresh keys expiring in 5 minutes."""

    issued: list[str]

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["content-length"]))
        self.issued.append(self.headers.get("authorization", ""))
        number = len(self.issued)
        expires = datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=5)
        body = (
            '<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
            "<AssumeRoleResult><Credentials>"
            f"<AccessKeyId>ASIAASSUMED{number:05d}</AccessKeyId>"
            f"<SecretAccessKey>assumed-secret-{number}</SecretAccessKey>"
            f"<SessionToken>assumed-token-{number}</SessionToken>"
            f"<Expiration>{expires:%Y-%m-%dT%H:%M:%SZ}</Expiration>"
            "</Credentials><AssumedRoleUser><AssumedRoleId>AROAEXAMPLE:load</AssumedRoleId>"
            "<Arn>arn:aws:sts::123456789012:assumed-role/load-test/load</Arn></AssumedRoleUser>"
            f"</AssumeRoleResult><ResponseMetadata><RequestId>r{number}</RequestId>"
            "</ResponseMetadata></AssumeRoleResponse>"
        ).encode()
        self.send_response(200)
        self.send_header("content-type", "text/xml")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def local_sts(isolated_chain: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """STS on 127.0.0.1 for botocore's assume-role provider; yields the Authorization
    header of each AssumeRole call."""
    issued: list[str] = []
    handler = type("Sts", (FakeSts,), {"issued": issued})
    server = http.server.HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", f"http://127.0.0.1:{server.server_port}")
    try:
        yield issued
    finally:
        server.shutdown()
        server.server_close()


def test_assume_role_profile_credentials_refresh_through_sts(
    isolated_chain: Path, local_sts: list[str]
) -> None:
    (isolated_chain / "config").write_text(
        "[profile source]\naws_access_key_id = AKIDSOURCE\naws_secret_access_key = source-secret\n"
        "[profile assumed]\nrole_arn = arn:aws:iam::123456789012:role/load-test\n"
        "source_profile = source\nregion = us-east-1\n"
    )
    source = CredentialSource.from_chain(profile="assumed")
    first = source.current()
    second = source.current()
    assert first.access_key == "ASIAASSUMED00001"
    assert second.access_key == "ASIAASSUMED00002"
    assert second.token == "assumed-token-2"
    assert len(local_sts) == 2
    assert all("Credential=AKIDSOURCE/" in header for header in local_sts)


class ScriptedBotocoreCredentials:
    """Stands in for a botocore credentials object: returns a token or raises."""

    def __init__(self, token: str | None = None, error: Exception | None = None) -> None:
        self.token = token
        self.error = error

    def get_frozen_credentials(self) -> ReadOnlyCredentials:
        if self.error is not None:
            raise self.error
        return ReadOnlyCredentials("AKIDSCRIPTED", "scripted-secret", self.token)


def test_an_empty_session_token_counts_as_none() -> None:
    assert CredentialSource(ScriptedBotocoreCredentials(token="")).current().token is None


def test_credential_errors_do_not_quote_what_the_provider_said(
    isolated_chain: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A provider's message may carry what it read (a process's output, say).
    leaked = "LEAKED-SECRET-VALUE"
    with pytest.raises(SigningError) as refresh:
        CredentialSource(ScriptedBotocoreCredentials(error=RuntimeError(leaked))).current()
    assert leaked not in str(refresh.value)

    def failing_chain(self: botocore.session.Session) -> None:
        raise botocore.exceptions.CredentialRetrievalError(provider="process", error_msg=leaked)

    monkeypatch.setattr(botocore.session.Session, "get_credentials", failing_chain)
    with pytest.raises(SigningError) as chain:
        CredentialSource.from_chain()
    assert leaked not in str(chain.value)
    assert "CredentialRetrievalError" in str(chain.value)
