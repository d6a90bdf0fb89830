"""``python -m harness.emulator``: TLS, the ready line, signals, ``--config`` TOML files,
option errors, credentials, the region and per-namespace auth modes. Each test runs
the real command as a child process and talks to it over loopback."""

from __future__ import annotations

import http.client
import json
import select
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support.emulator import RECV_TIMEOUT_S, LiveEmulator, WsClient, default_authorizer
from support.emulator_checks import (
    CLI_TIMEOUT_S,
    REPO_ROOT,
    connect_client,
    connection_refusal,
    round_trip,
    run_cli,
    unique,
)
from support.timing import MS
from websockets.sync.client import connect

from harness.emulator import defaults
from harness.emulator.process import EmulatorProcess, EmulatorStartError
from harness.protocol import (
    ConnectionAck,
    Data,
    KeepAlive,
    PublishError,
    PublishSuccess,
    SubscribeError,
    SubscribeSuccess,
)
from harness.signing import (
    ApiKeyAuthorizer,
    AuthMode,
    Authorizer,
    CredentialSource,
    make_authorizer,
)

StartEmulator = Callable[..., LiveEmulator]
READY_KEYS = {
    "http_url",
    "realtime_url",
    "admin_url",
    "region",
    "ca_cert",
    "cognito_identity_url",
    "identity_pool_id",
}
EXIT_TIMEOUT_S = 15_000 * MS


def iam_authorizer(live: LiveEmulator, region: str) -> Authorizer:
    """An IAM authorizer holding the default test credentials, scoped to ``region``."""
    return make_authorizer(
        AuthMode.AWS_IAM,
        live.http_host,
        region=region,
        credentials=CredentialSource.static(
            defaults.DEFAULT_ACCESS_KEY_ID, defaults.DEFAULT_SECRET_ACCESS_KEY
        ),
        sigv4_engine="fast",
    )


def api_key_authorizer(live: LiveEmulator, key: str) -> ApiKeyAuthorizer:
    return ApiKeyAuthorizer(live.http_host, key)


# -- --tls ---------------------------------------------------------------------------


def test_tls_serves_https_and_wss_with_a_generated_ca(start_emulator: StartEmulator) -> None:
    live = start_emulator("--tls")
    info = live.process.info
    assert info.http_url.startswith("https://127.0.0.1:") and info.http_url.endswith("/event")
    assert info.realtime_url == info.http_url.replace("https://", "wss://") + "/realtime"
    assert info.admin_url.startswith("https://127.0.0.1:")
    assert info.ca_cert is not None
    ca_cert = Path(info.ca_cert)
    pem = ca_cert.read_text(encoding="ascii")
    assert pem.startswith("-----BEGIN CERTIFICATE-----"), pem[:80]
    assert pem.rstrip().endswith("-----END CERTIFICATE-----")

    with live.clients(2) as (subscriber, publisher):  # they trust the CA (live.ssl_context)
        channel = f"/default/{unique()}"
        assert subscriber.subscribe("s1", channel) == SubscribeSuccess("s1")
        publisher.publish("p1", channel, ['{"over":"wss"}'])
        assert isinstance(publisher.recv(), PublishSuccess)
        assert subscriber.recv() == Data("s1", '{"over":"wss"}')
        status, body = live.http_publish(channel, ['{"over":"https"}'])
        assert status == 200 and len(body["successful"]) == 1, body
        assert subscriber.recv() == Data("s1", '{"over":"https"}')
    assert live.stats()["connections"]["accepted"] >= 2  # the admin API is on https too

    # TLS 1.2 is accepted (as on AppSync custom domains), and the certificate names
    # localhost too, which is also a valid auth host.
    port = live.http_host.rsplit(":", 1)[1]
    tls12 = ssl.create_default_context(cafile=info.ca_cert)
    tls12.maximum_version = ssl.TLSVersion.TLSv1_2
    for host, context in ((f"127.0.0.1:{port}", tls12), (f"localhost:{port}", None)):
        authorizer = default_authorizer(AuthMode.API_KEY, host)
        ws = connect(
            f"wss://{host}/event/realtime",
            subprotocols=authorizer.connect_subprotocols(),  # type: ignore[arg-type]
            ssl=context or live.ssl_context(),
            proxy=None,
            open_timeout=10,
            legacy=True,
        )
        client = WsClient(ws, authorizer)
        assert isinstance(client.init(), ConnectionAck)
        client.close()

    assert live.process.stop() == 0
    assert not ca_cert.exists(), "the generated CA file outlived the emulator"


def test_tls_is_refused_by_a_client_that_does_not_trust_the_ca(
    start_emulator: StartEmulator,
) -> None:
    live = start_emulator("--tls")
    untrusting = ssl.create_default_context()  # the system's CAs only
    with pytest.raises(ssl.SSLCertVerificationError):
        connect(
            live.process.info.realtime_url,
            ssl=untrusting,
            subprotocols=live.authorizer().connect_subprotocols(),  # type: ignore[arg-type]
            proxy=None,
            open_timeout=RECV_TIMEOUT_S,
        )
    connection = http.client.HTTPSConnection(
        live.http_host, timeout=RECV_TIMEOUT_S, context=untrusting
    )
    with pytest.raises(ssl.SSLCertVerificationError):
        connection.request("POST", "/event", b'{"channel":"/default/a","events":["1"]}')
    connection.close()
    round_trip(live)  # and it still serves clients that trust it


# -- the ready line -----------------------------------------------------------------------


def spawn_emulator(*arguments: str) -> subprocess.Popen[str]:
    """``python -m harness.emulator ARGUMENTS`` with its output piped, not waited for."""
    return subprocess.Popen(
        [sys.executable, "-m", "harness.emulator", *arguments],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO_ROOT,
    )


def _read_ready_line(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    deadline = time.monotonic() + 30_000 * MS
    while time.monotonic() < deadline:
        readable, _, _ = select.select([process.stdout], [], [], 0.5)
        if readable:
            return process.stdout.readline()
        assert process.poll() is None, f"exited with {process.returncode}"
    raise AssertionError("no ready line within 30 s")


@pytest.mark.parametrize("tls", [False, True], ids=["plain", "tls"])
def test_the_ready_line_is_one_json_line_with_exactly_the_documented_keys(tls: bool) -> None:
    arguments = ["--log-level", "INFO", *(["--tls"] if tls else [])]
    process = spawn_emulator(*arguments)
    try:
        line = _read_ready_line(process)
        assert line.endswith("\n") and line.count("\n") == 1, repr(line)
        document = json.loads(line)
        assert set(document) == READY_KEYS, document
        http_scheme, ws_scheme = ("https", "wss") if tls else ("http", "ws")
        authority = document["http_url"].split("/")[2]
        host, _, port = authority.rpartition(":")
        assert host == "127.0.0.1" and 0 < int(port) < 65536, authority
        identity_port = document["cognito_identity_url"].split("/")[2].rpartition(":")[2]
        assert identity_port != port  # the Cognito Identity API has a port of its own
        assert document == {
            "http_url": f"{http_scheme}://{authority}/event",
            "realtime_url": f"{ws_scheme}://{authority}/event/realtime",
            "admin_url": f"{http_scheme}://{authority}/_emulator/",
            "region": defaults.DEFAULT_REGION,
            "ca_cert": document["ca_cert"] if tls else None,
            "cognito_identity_url": f"{http_scheme}://127.0.0.1:{identity_port}/",
            "identity_pool_id": defaults.DEFAULT_IDENTITY_POOL_ID,
        }
        if tls:
            assert isinstance(document["ca_cert"], str) and Path(document["ca_cert"]).is_file()
        context = ssl.create_default_context(cafile=document["ca_cert"]) if tls else None
        with urllib.request.urlopen(
            document["admin_url"] + "stats", timeout=RECV_TIMEOUT_S, context=context
        ) as response:  # it serves what it announced
            assert response.status == 200
    finally:
        process.send_signal(signal.SIGTERM)
        rest, stderr = process.communicate(timeout=EXIT_TIMEOUT_S)
    assert process.returncode == 0, stderr
    assert rest == "", f"more than one line on stdout: {rest!r}"
    assert "listening on" in stderr  # the logs go to stderr, not stdout


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_right_after_the_ready_line_still_exits_0(signum: signal.Signals) -> None:
    """Whoever reads the ready line may stop the emulator at once (a harness run that
    fails fast): the signal handlers must be in place before the line is printed.
    Five emulators, each signalled the moment its ready line arrives."""
    statuses = []
    for _ in range(5):
        process = spawn_emulator("--log-level", "INFO")
        try:
            assert json.loads(_read_ready_line(process))["http_url"]
        finally:
            process.send_signal(signum)
            process.communicate(timeout=EXIT_TIMEOUT_S)
        statuses.append(process.returncode)
    assert statuses == [0] * 5, f"exit statuses {statuses} (-N: killed by signal N)"


# -- signals ------------------------------------------------------------------------------


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_closes_every_connection_with_1001_and_exits_0(
    start_emulator: StartEmulator, signum: signal.Signals
) -> None:
    live = start_emulator()
    subscribed = live.client()
    assert subscribed.subscribe("s1", f"/default/{unique()}") == SubscribeSuccess("s1")
    initialised = live.client()
    bare = WsClient(live.open(live.authorizer().connect_subprotocols()), None)  # no init

    live.process.process.send_signal(signum)
    for client in (subscribed, initialised, bare):
        assert client.closed_with(timeout=10) == 1001  # going away
    assert live.process.process.wait(timeout=EXIT_TIMEOUT_S) == 0, live.process.stderr_text()
    with pytest.raises(OSError):
        socket.create_connection(tuple(live.http_host.rsplit(":", 1)), timeout=RECV_TIMEOUT_S)


# -- --config --------------------------------------------------------------------------


@pytest.fixture
def write_config(tmp_path: Path) -> Iterator[Callable[[str], Path]]:
    def write(text: str) -> Path:
        path = tmp_path / f"{unique('emulator')}.toml"
        path.write_text(text, encoding="utf-8")
        return path

    yield write


def test_a_config_file_sets_options(
    start_emulator: StartEmulator, write_config: Callable[[str], Path]
) -> None:
    config = write_config(
        """
        keepalive-interval-s = 0.2
        connection-timeout-ms = 123456
        api-key = ["da2-fromfile-one", "da2-fromfile-two"]
        namespace = ["chat", "news:publish=API_KEY"]
        region = "eu-west-2"
        """.replace("\n        ", "\n")
    )
    live = start_emulator("--config", str(config))
    assert live.process.info.region == "eu-west-2"

    client = WsClient(
        live.open(api_key_authorizer(live, "da2-fromfile-one").connect_subprotocols()), None
    )
    assert client.init() == ConnectionAck(123456)
    assert isinstance(client.recv(5, skip_ka=False), KeepAlive)  # every 0.2 s, not every 60 s
    client.close()
    round_trip(live, api_key_authorizer(live, "da2-fromfile-two"), namespace="chat")
    round_trip(live, api_key_authorizer(live, "da2-fromfile-one"), namespace="news")
    assert connection_refusal(live, live.authorizer()) == (["UnauthorizedException"], 1000)

    client = connect_client(live, api_key_authorizer(live, "da2-fromfile-one"))
    reply = client.subscribe("s1", f"/default/{unique()}")
    assert isinstance(reply, SubscribeError) and reply.errors[0].error_type == "ResourceNotFound"
    client.close()


def test_the_command_line_overrides_the_config_file(
    start_emulator: StartEmulator, write_config: Callable[[str], Path]
) -> None:
    config = write_config(
        'keepalive-interval-s = 3600\nconnection-timeout-ms = 123456\napi-key = ["da2-fromfile"]\n'
        'namespace = ["chat"]\nregion = "eu-west-2"\n'
    )
    live = start_emulator(
        "--config",
        str(config),
        "--keepalive-interval-s",
        "0.2",
        "--api-key",
        "da2-fromcli",
        "--namespace",
        "news",
        "--region",
        "ap-south-1",
    )
    assert live.process.info.region == "ap-south-1"
    client = WsClient(
        live.open(api_key_authorizer(live, "da2-fromcli").connect_subprotocols()), None
    )
    assert client.init() == ConnectionAck(123456)  # from the file: not overridden
    assert isinstance(client.recv(5, skip_ka=False), KeepAlive)
    client.close()
    round_trip(live, api_key_authorizer(live, "da2-fromcli"), namespace="news")
    refused = connection_refusal(live, api_key_authorizer(live, "da2-fromfile"))
    assert refused == (["UnauthorizedException"], 1000)
    client = connect_client(live, api_key_authorizer(live, "da2-fromcli"))
    reply = client.subscribe("s1", "/chat/room")
    assert isinstance(reply, SubscribeError) and reply.errors[0].error_type == "ResourceNotFound"
    client.close()


def test_config_keys_may_be_written_with_underscores(
    start_emulator: StartEmulator, write_config: Callable[[str], Path]
) -> None:
    live = start_emulator("--config", str(write_config('api_key = "da2-underscored"\n')))
    round_trip(live, api_key_authorizer(live, "da2-underscored"))


# -- option errors ----------------------------------------------------------------------

BAD_OPTIONS: dict[str, tuple[list[str], str | None, str]] = {
    # name: (arguments, TOML text or None, the option the message must name)
    "fault-kind": (["--fault", "nope"], None, "--fault"),
    "namespace-name": (["--namespace", "bad_name!"], None, "--namespace"),
    "namespace-mode": (["--namespace", "chat:publish=NOPE"], None, "--namespace"),
    "namespace-twice": (["--namespace", "a", "--namespace", "a"], None, "--namespace"),
    "namespace-mode-without-credentials": (
        ["--api-key", "X", "--namespace", "chat:subscribe=AWS_LAMBDA"],
        None,
        "--namespace",
    ),
    "iam-one-part": (["--iam", "onlyonepart"], None, "--iam"),
    "iam-empty-secret": (["--iam", "AKID:"], None, "--iam"),
    "connection-auth-without-credentials": (
        ["--connection-auth", "AWS_IAM", "--api-key", "X"],
        None,
        "--connection-auth",
    ),
    "keepalive-zero": (["--keepalive-interval-s", "0"], None, "--keepalive-interval-s"),
    "keepalive-text": (["--keepalive-interval-s", "abc"], None, "--keepalive-interval-s"),
    "keepalive-nan": (["--keepalive-interval-s", "nan"], None, "--keepalive-interval-s"),
    "lifetime-nan": (["--max-connection-duration-s", "nan"], None, "--max-connection-duration-s"),
    "port-range": (["--port", "70000"], None, "--port"),
    "port-just-over": (["--port", "65536"], None, "--port"),
    "queued-frames-zero": (["--max-queued-frames", "0"], None, "--max-queued-frames"),
    "namespace-51-chars": (["--namespace", "n" * 51], None, "--namespace"),
    "namespace-publish-twice": (
        ["--namespace", "chat:publish=API_KEY:publish=API_KEY"],
        None,
        "--namespace",
    ),
    "toml-seed-bool": ([], "seed = true\n", "--seed"),
    "toml-config-key": ([], 'config = "other.toml"\n', "--config"),
    "log-level": (["--log-level", "LOUD"], None, "--log-level"),
    "unknown-option": (["--no-such-option"], None, "--no-such-option"),
    "config-missing": (["--config", "/nonexistent/emulator.toml"], None, "--config"),
    "toml-unknown-key": ([], "bogus-option = 1\n", "--config"),
    "toml-syntax": ([], "keepalive-interval-s = \n", "--config"),
    "toml-not-utf8": ([], None, "--config"),  # written as bytes below
    "toml-keepalive-type": ([], 'keepalive-interval-s = "fast"\n', "--keepalive-interval-s"),
    "toml-api-key-item": ([], 'api-key = ["da2-ok", 5]\n', "--api-key"),
    "toml-port-fraction": ([], "port = 1.5\n", "--port"),
    "toml-port-inf": ([], "port = inf\n", "--port"),
    "toml-timeout-nan": ([], "connection-timeout-ms = nan\n", "--connection-timeout-ms"),
    "toml-tls-type": ([], 'tls = "yes"\n', "--tls"),
    "toml-log-level": ([], 'log-level = "LOUD"\n', "--log-level"),
}


@pytest.fixture(scope="module")
def bad_option_runs(
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, tuple[int, str, str]]:
    """Every BAD_OPTIONS case run at once (they are independent): exit status, stdout
    and stderr by case name. A case that prints a ready line (it accepted the bad
    value and started serving) is stopped at once."""
    directory = tmp_path_factory.mktemp("bad-options")
    processes: dict[str, subprocess.Popen[str]] = {}
    for name, (arguments, toml_text, _) in BAD_OPTIONS.items():
        command = list(arguments)
        if toml_text is not None or name == "toml-not-utf8":
            path = directory / f"{name}.toml"
            if toml_text is None:
                path.write_bytes(b'region = "\xff\xfe"\n')
            else:
                path.write_text(toml_text, encoding="utf-8")
            command = ["--config", str(path), *command]
        processes[name] = spawn_emulator(*command)
    ready_lines = dict.fromkeys(processes, "")
    pending = dict(processes)
    deadline = time.monotonic() + CLI_TIMEOUT_S
    while pending and time.monotonic() < deadline:
        streams = {process.stdout: name for name, process in pending.items()}
        readable, _, _ = select.select(list(streams), [], [], 0.2)
        for stream in readable:
            name = streams[stream]
            ready_lines[name] = stream.readline()  # type: ignore[union-attr]
            if ready_lines[name]:  # it accepted the option and is serving: stop it
                pending[name].send_signal(signal.SIGTERM)
            del pending[name]
    results: dict[str, tuple[int, str, str]] = {}
    for name, process in processes.items():
        try:
            stdout, stderr = process.communicate(timeout=EXIT_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            stdout, stderr = process.communicate()
        results[name] = (process.returncode, ready_lines[name] + stdout, stderr)
    return results


@pytest.mark.parametrize("case", list(BAD_OPTIONS))
def test_a_bad_option_exits_2_naming_the_option(
    bad_option_runs: dict[str, tuple[int, str, str]], case: str
) -> None:
    status, stdout, stderr = bad_option_runs[case]
    option = BAD_OPTIONS[case][2]
    assert status == 2, f"exit status {status}; stdout {stdout!r}; stderr:\n{stderr}"
    assert stdout == "", "a ready line was printed"
    assert "Traceback" not in stderr, stderr
    assert option in stderr, stderr
    assert stderr.startswith(("python -m harness.emulator: error:", "usage:")), stderr


def test_an_unknown_toml_key_is_named_in_the_message(
    bad_option_runs: dict[str, tuple[int, str, str]],
) -> None:
    assert "'bogus-option'" in bad_option_runs["toml-unknown-key"][2]


def test_a_busy_port_is_a_cannot_listen_error() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli("--port", str(port), "--log-level", "WARNING")
    assert result.returncode != 0 and result.returncode == 1, result
    assert result.stdout == ""
    assert "cannot listen" in result.stderr and str(port) in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


# -- credentials, region, namespaces -------------------------------------------------------


def test_a_lambda_token_alone_replaces_the_default_credentials(
    start_emulator: StartEmulator,
) -> None:
    live = start_emulator("--lambda-token", "my-lambda-token")
    assert connection_refusal(live, live.authorizer())[0] == ["UnauthorizedException"]
    token = make_authorizer(AuthMode.AWS_LAMBDA, live.http_host, token="my-lambda-token")
    round_trip(live, token)


def test_api_key_replaces_the_default_credentials(start_emulator: StartEmulator) -> None:
    live = start_emulator("--api-key", "da2-custom-key-0001")
    custom = api_key_authorizer(live, "da2-custom-key-0001")
    assert connection_refusal(live, live.authorizer()) == (["UnauthorizedException"], 1000)
    refused = connection_refusal(live, live.authorizer(AuthMode.AWS_IAM))
    assert refused == (["UnauthorizedException"], 1000)
    round_trip(live, custom)

    channel = f"/default/{unique()}"
    status, body = live.http_publish(channel, ['{"a":1}'])  # the default key
    assert status == 401 and body["errors"][0]["errorType"] == "UnauthorizedException", body
    payload = json.dumps({"channel": channel, "events": ['{"a":1}']}).encode()
    status, body = live.request("POST", "/event", payload, custom.http_headers(payload))
    assert status == 200, body


def test_region_scopes_iam_signatures(start_emulator: StartEmulator) -> None:
    live = start_emulator("--region", "eu-west-1")
    assert live.process.info.region == "eu-west-1"
    us_east_1 = live.authorizer(AuthMode.AWS_IAM)  # the default region, us-east-1
    eu_west_1 = iam_authorizer(live, "eu-west-1")

    errors, code = connection_refusal(live, us_east_1)
    assert errors == ["BadRequestException"] and code == 1000
    round_trip(live, eu_west_1)

    client = live.client()  # an API-key connection; the subscribe itself is IAM-signed
    client.authorizer = us_east_1
    reply = client.subscribe("s1", f"/default/{unique()}")
    assert isinstance(reply, SubscribeError), reply
    assert reply.errors[0].error_type == "BadRequestException"
    assert "region" in reply.errors[0].message
    client.close()

    channel = f"/default/{unique()}"
    status, body = live.http_publish(channel, ['{"a":1}'], AuthMode.AWS_IAM)
    assert status == 400 and body["errors"][0]["errorType"] == "BadRequestException", body
    payload = json.dumps({"channel": channel, "events": ['{"a":1}']}).encode()
    headers = {"content-type": "application/json", **eu_west_1.http_headers(payload)}
    status, body = live.request("POST", "/event", payload, headers)
    assert status == 200, body


def test_namespace_auth_modes_are_enforced_per_namespace(start_emulator: StartEmulator) -> None:
    live = start_emulator(
        "--namespace", "chat:publish=API_KEY:subscribe=AWS_IAM", "--namespace", "default"
    )
    api_key, iam = live.authorizer(), live.authorizer(AuthMode.AWS_IAM)
    with live.clients(2) as (subscriber, publisher):  # both connect with the API key
        reply = subscriber.subscribe("by-key", "/chat/room")
        assert isinstance(reply, SubscribeError), reply
        assert reply.errors[0].error_type == "UnauthorizedException"
        subscriber.authorizer = iam
        assert subscriber.subscribe("by-iam", "/chat/room") == SubscribeSuccess("by-iam")

        publisher.publish("p1", "/chat/room", ['{"by":"key"}'])
        assert isinstance(publisher.recv(), PublishSuccess)
        assert subscriber.recv() == Data("by-iam", '{"by":"key"}')
        publisher.authorizer = iam
        publisher.publish("p2", "/chat/room", ['{"by":"iam"}'])
        reply = publisher.recv()
        assert isinstance(reply, PublishError), reply
        assert reply.errors[0].error_type == "UnauthorizedException"

        publisher.authorizer = api_key  # a namespace without modes of its own takes both
        assert publisher.subscribe("d1", "/default/room") == SubscribeSuccess("d1")
        subscriber.authorizer = iam
        assert subscriber.subscribe("d2", "/default/room") == SubscribeSuccess("d2")

    status, body = live.http_publish("/chat/room", ['{"a":1}'])
    assert status == 200, body
    status, body = live.http_publish("/chat/room", ['{"a":1}'], AuthMode.AWS_IAM)
    assert status == 401 and body["errors"][0]["errorType"] == "UnauthorizedException", body
    round_trip(live, iam)  # connecting with IAM works: connect takes every configured mode


def test_an_ipv6_loopback_address_serves_and_authorizes(start_emulator: StartEmulator) -> None:
    """The auth ``host`` of an IPv6 endpoint is its bracketed authority, ``[::1]:PORT``."""
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        pytest.skip("this machine has no IPv6 loopback")
    live = start_emulator("--host", "::1")
    assert live.process.info.http_url.startswith("http://[::1]:")
    assert live.http_host.startswith("[::1]:")
    for mode in (AuthMode.API_KEY, AuthMode.AWS_IAM):
        with live.clients(1, mode) as (client,):
            assert client.subscribe("s", "/default/v6") == SubscribeSuccess("s")


def test_log_level_from_the_config_file_in_any_case(write_config: Callable[[str], Path]) -> None:
    from harness.emulator.cli import parse_settings

    _, level = parse_settings(["--config", str(write_config('log-level = "debug"\n'))])
    assert level == "DEBUG"


def test_a_start_failure_names_the_exit_status_and_the_option() -> None:
    with pytest.raises(EmulatorStartError, match="exited with status 2") as failed:
        EmulatorProcess.start(["--port", "70000"])
    assert "--port" in str(failed.value)
