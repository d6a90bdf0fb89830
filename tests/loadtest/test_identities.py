"""Users as AppSync sees them: one identity per virtual user from files or a command,
tokens that refresh before they expire, and a mode per operation, each checked by a
real emulator process (its stats count the distinct identities it accepted)."""

from __future__ import annotations

import shlex
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from support.client import free_port
from support.emulator import LiveEmulator
from support.locust_runs import run_users
from support.timing import MS
from test_config import settings_with
from test_locust_cli import ROOT

from harness.emulator import defaults
from harness.errors import SigningError
from harness.loadtest.identities import Identities
from harness.loadtest.target import Target
from harness.loadtest.users import Publisher, PubSubUser, Subscriber
from harness.protocol import Endpoints
from harness.signing.jwt import mint_hs256
from harness.signing.token_command import CommandToken

Start = Callable[..., LiveEmulator]
COGNITO = "AMAZON_COGNITO_USER_POOLS"


def token(sub: str, lifetime_s: float = 3600) -> str:
    claims = {"sub": sub, "exp": int(time.time() + lifetime_s)}
    return mint_hs256(defaults.DEFAULT_JWT_SECRET, claims)


def no_failures(run: object, *request_types: str) -> None:
    for request_type in request_types:
        assert run.requests(request_type) > 0, request_type  # type: ignore[attr-defined]
        failures = run.failures(request_type)  # type: ignore[attr-defined]
        assert failures == 0, (request_type, run.error_texts())  # type: ignore[attr-defined]


def test_fifty_users_with_fifty_tokens_are_fifty_identities(
    start_emulator: Start, tmp_path: Path
) -> None:
    emulator = start_emulator()
    tokens = tmp_path / "tokens.txt"
    tokens.write_text("# one per user\n" + "\n".join(token(f"user-{n}") for n in range(50)))
    run = run_users(
        emulator, [Subscriber], users=50, seconds=1.0,
        auth_mode=COGNITO, auth_token_file=tokens, channels="/default/ids",
    )  # fmt: skip
    no_failures(run, "connect", "subscribe")
    assert run.emulator_stats["identities"][COGNITO] == 50


def test_users_share_api_keys_from_a_file_line_by_line(
    start_emulator: Start, tmp_path: Path
) -> None:
    keys = [f"da2-key-{n}" for n in range(3)]
    emulator = start_emulator(*(f"--api-key={key}" for key in keys))
    key_file = tmp_path / "keys.txt"
    key_file.write_text("\n".join(keys) + "\n")
    run = run_users(emulator, [Subscriber], users=7, seconds=1.0, api_key_file=key_file)
    no_failures(run, "connect", "subscribe")
    assert run.emulator_stats["identities"]["API_KEY"] == 3


def test_tokens_from_a_command_are_fetched_again_before_they_expire(
    start_emulator: Start, tmp_path: Path
) -> None:
    lifetime_s = 3
    emulator = start_emulator()
    runs = tmp_path / "runs.txt"
    script = tmp_path / "mint.py"
    script.write_text(
        "import os, sys, time\n"
        "from harness.signing.jwt import mint_hs256\n"
        f"open({str(runs)!r}, 'a').write(os.environ['HARNESS_USER_INDEX'] + '\\n')\n"
        f"claims = {{'sub': 'u' + os.environ['HARNESS_USER_INDEX'], "
        f"'exp': int(time.time()) + {lifetime_s}}}\n"
        f"print(mint_hs256({defaults.DEFAULT_JWT_SECRET!r}, claims))\n"
    )
    command = f"{shlex.quote(sys.executable)} {shlex.quote(str(script))}"
    run = run_users(
        emulator, [PubSubUser], users=4, seconds=4 * lifetime_s,
        auth_mode=COGNITO, auth_token_command=command,
        channels="/default/refresh", publish_rate=5,
    )  # fmt: skip
    # Publishes carry the current token all along: none was refused as expired.
    no_failures(run, "connect", "subscribe", "publish", "deliver")
    by_user = runs.read_text().split()
    assert set(by_user) == {"0", "1", "2", "3"}
    # Each token lived 3 s and the run 12 s: every user fetched at least four.
    assert all(by_user.count(index) >= 4 for index in set(by_user)), by_user


def test_a_failing_token_command_is_named() -> None:
    source = CommandToken("echo 'no such user' >&2; exit 3", 0)
    with pytest.raises(SigningError) as caught:
        source()
    assert str(caught.value) == "--auth-token-command failed (exit status 3): no such user"
    with pytest.raises(SigningError, match="no token printed"):
        CommandToken("true", 0)()


def test_each_operation_in_its_own_auth_mode(start_emulator: Start) -> None:
    emulator = start_emulator(
        "--connection-auth", "API_KEY",
        "--default-publish-auth", "AWS_IAM",
        "--default-subscribe-auth", "AWS_LAMBDA",
    )  # fmt: skip
    mixed = run_users(
        emulator, [Publisher, Subscriber], users=2, seconds=1.5,
        connect_auth_mode="API_KEY", publish_auth_mode="AWS_IAM",
        subscribe_auth_mode="AWS_LAMBDA", channels="/default/mixed", publish_rate=10,
    )  # fmt: skip
    no_failures(mixed, "connect", "subscribe", "publish", "deliver")
    assert set(mixed.emulator_stats["identities"]) == {"API_KEY", "AWS_IAM", "AWS_LAMBDA"}
    # The same users in one mode are refused where the API wants another.
    single = run_users(emulator, [Subscriber], users=1, seconds=0.5, channels="/default/mixed")
    assert single.failures("subscribe") > 0
    assert "UnauthorizedException" in " ".join(single.error_texts())


@pytest.mark.parametrize(("worker", "workers"), [(0, 1), (1, 3), (2, 3)])
def test_workers_interleave_the_lines_of_a_file(tmp_path: Path, worker: int, workers: int) -> None:
    keys = [f"da2-key-{n}" for n in range(10)]
    key_file = tmp_path / "keys.txt"
    key_file.write_text("\n".join(keys))
    settings = settings_with(api_key_file=str(key_file))
    target = Target(Endpoints.from_http_url("http://127.0.0.1:9/event"), embedded=True)
    identities = Identities(settings, target, worker=worker, workers=workers)
    used = [identities.for_user(f"tag-{n}").connect_headers()["x-api-key"] for n in (1, 2, 3)]
    # The n-th user of worker w of W takes line (n - 1) * W + w.
    assert used == [keys[(n - 1) * workers + worker] for n in (1, 2, 3)]
    assert identities.for_user("tag-1") is identities.for_user("tag-1")


def test_the_workers_of_a_distributed_run_take_different_lines(
    start_emulator: Start, tmp_path: Path
) -> None:
    keys = [f"da2-key-{n}" for n in range(4)]
    emulator = start_emulator(*(f"--api-key={key}" for key in keys))
    key_file = tmp_path / "keys.txt"
    key_file.write_text("\n".join(keys))
    port = str(free_port())
    common = [
        sys.executable, "-m", "locust", "-f", str(ROOT / "locustfile.py"),
        "--host", emulator.process.info.http_url, "--api-key-file", str(key_file),
    ]  # fmt: skip
    master = subprocess.Popen(
        [
            *common, "--headless", "--master", "--master-bind-host", "127.0.0.1",
            "--master-bind-port", port, "--expect-workers", "2",
            "--expect-workers-max-wait", str(round(30_000 * MS)),
            "-u", "4", "-r", "4", "-t", "3s", "--channels", "/default/workers",
        ],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    workers = [
        subprocess.Popen(
            [*common, "--worker", "--master-host", "127.0.0.1", "--master-port", port],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(2)
    ]
    try:
        output, _ = master.communicate(timeout=60_000 * MS)
        assert master.returncode == 0, output[-3000:]
    finally:
        for process in (master, *workers):
            if process.poll() is None:
                process.kill()
            process.communicate()
    # Two workers of two users each: lines 0, 2 and 1, 3, so four identities, not three.
    assert emulator.stats()["identities"]["API_KEY"] == 4


@pytest.mark.parametrize("login", [False, True], ids=["unauthenticated", "authenticated"])
def test_users_sign_with_their_own_identity_pool_credentials(
    start_emulator: Start, login: bool
) -> None:
    emulator = start_emulator()
    pool = {"identity_pool_id": defaults.DEFAULT_IDENTITY_POOL_ID}
    if login:
        pool["identity_pool_login"] = "cognito-idp.us-east-1.amazonaws.com/us-east-1_harness"
    run = run_users(
        emulator, [PubSubUser], users=20, seconds=2.0, auth_mode="AWS_IAM",
        channels="/default/pool", publish_rate=2, **pool,
    )  # fmt: skip
    no_failures(run, "connect", "subscribe", "publish", "deliver")
    stats = run.emulator_stats
    # Each user its own identity, and its own credentials: twenty IAM callers.
    assert stats["cognito_identity"]["identities"] == 20
    assert stats["cognito_identity"]["authenticated_identities"] == (20 if login else 0)
    assert stats["identities"]["AWS_IAM"] == 20
