"""``python -m harness.emulator``: the command line, an optional TOML file, and the
serving loop.

Every option is declared once, in :data:`OPTIONS` (flag, default, help, check, as
the load test's options are), and can be given on the command line or in the
TOML file of ``--config``, under the option's name without the leading dashes
(``api-key = ["..."]``, ``keepalive-interval-s = 5``); the command line wins over
the file, and both pass through the option's check. With no credentials at all the
emulator uses the fixed test credentials of :mod:`harness.emulator.defaults`,
which the harness also uses by default. docs/emulator.md documents every option.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
import tomllib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from harness.config.options import (
    OptionSpec,
    boolean,
    choice,
    int_range,
    non_negative_float,
    optional_int,
    optional_text,
    positive_float,
    strings,
    text,
)
from harness.emulator import defaults
from harness.emulator.faults import FaultSpec
from harness.emulator.handlers.namespace import HandlerSpec
from harness.emulator.identity_pool import DEFAULT_CREDENTIALS_TTL_S
from harness.emulator.quotas import Quotas
from harness.emulator.server import Emulator
from harness.emulator.settings import (
    DEFAULT_HANDLER_TIME_LIMIT_MS,
    DEFAULT_MAX_QUEUED_FRAMES,
    EmulatorSettings,
    NamespaceSettings,
)
from harness.errors import ConfigurationError
from harness.protocol import (
    DEFAULT_CONNECTION_TIMEOUT_MS,
    DEFAULT_KEEPALIVE_INTERVAL_S,
    MAX_CONNECTION_DURATION_S,
)
from harness.signing import AuthMode, IamKey

logger = logging.getLogger("harness.emulator")

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
_LARGEST_INT = 2**31 - 1


def _iam_keys(option: str, value: Any) -> dict[str, IamKey]:
    keys: dict[str, IamKey] = {}
    for item in strings(option, value):
        parts = item.split(":")
        if len(parts) not in (2, 3) or not all(parts):
            raise ConfigurationError(
                option, "expected ACCESS_KEY_ID:SECRET_ACCESS_KEY[:SESSION_TOKEN]"
            )
        keys[parts[0]] = IamKey(parts[1], parts[2] if len(parts) == 3 else None)
    return keys


def _namespaces(option: str, value: Any) -> tuple[NamespaceSettings, ...]:
    given = tuple(NamespaceSettings.parse(item, option=option) for item in strings(option, value))
    return given or (NamespaceSettings(defaults.DEFAULT_NAMESPACE),)


def _auth_modes(option: str, value: Any) -> tuple[AuthMode, ...] | None:
    modes = optional_text(option, value)
    return AuthMode.parse_list(modes, option=option) if modes else None


def _quotas(option: str, value: Any) -> Quotas:
    return Quotas.parse(strings(option, value), option=option)


def _handlers(option: str, value: Any) -> tuple[HandlerSpec, ...]:
    return tuple(HandlerSpec.parse(item, option=option) for item in strings(option, value))


def _faults(option: str, value: Any) -> tuple[FaultSpec, ...]:
    return tuple(FaultSpec.parse(item, option=option) for item in strings(option, value))


OPTIONS: tuple[OptionSpec, ...] = (
    OptionSpec("--host", "127.0.0.1", "address to listen on", text, metavar="ADDRESS"),
    OptionSpec("--port", 0, "port to listen on; 0 picks a free one", int_range(0, 65535)),
    OptionSpec(
        "--tls",
        False,
        "serve https:// and wss:// with a certificate generated at start (trustme); the CA "
        "certificate's path is ca_cert in the ready line",
        boolean,
    ),
    OptionSpec("--api-key", [], "an accepted API key", strings, metavar="KEY", repeatable=True),
    OptionSpec(
        "--iam",
        [],
        "an accepted IAM credential; with a token, requests must carry that session token",
        _iam_keys,
        metavar="ACCESS_KEY_ID:SECRET_ACCESS_KEY[:SESSION_TOKEN]",
        repeatable=True,
    ),
    OptionSpec(
        "--jwt-secret",
        "",
        "HS256 secret of the JWTs accepted for AMAZON_COGNITO_USER_POOLS and OPENID_CONNECT "
        "(exp required and exact, nbf with 60 s leeway)",
        optional_text,
        metavar="SECRET",
    ),
    OptionSpec(
        "--lambda-token",
        [],
        "a token the AWS_LAMBDA authorizer accepts",
        strings,
        metavar="TOKEN",
        repeatable=True,
    ),
    OptionSpec(
        "--region", defaults.DEFAULT_REGION, "the API's region, checked in SigV4 scopes", text
    ),
    OptionSpec(
        "--namespace",
        [],
        f"a channel namespace, optionally with its own auth modes, MODES a comma- or "
        f"+-separated list (default: one namespace, {defaults.DEFAULT_NAMESPACE})",
        _namespaces,
        metavar="NAME[:publish=MODES][:subscribe=MODES]",
        repeatable=True,
    ),
    OptionSpec(
        "--connection-auth",
        "",
        "auth modes accepted for connect, and the default of the default publish and "
        "subscribe modes (default: every "
        "mode with credentials)",
        _auth_modes,
        metavar="MODES",
    ),
    OptionSpec(
        "--default-publish-auth",
        "",
        "the API's default auth modes for publishing, for namespaces without their own "
        "(default: the connection auth modes)",
        _auth_modes,
        metavar="MODES",
    ),
    OptionSpec(
        "--default-subscribe-auth",
        "",
        "the API's default auth modes for subscribing, for namespaces without their own "
        "(default: the connection auth modes)",
        _auth_modes,
        metavar="MODES",
    ),
    OptionSpec(
        "--lenient-signed-bodies",
        False,
        "also accept an IAM WebSocket publish whose events hold <, > or & signed over the "
        "compact body; AppSync accepts only the HTML-escaped one (aws-appsync-community#400)",
        boolean,
    ),
    OptionSpec(
        "--keepalive-interval-s",
        DEFAULT_KEEPALIVE_INTERVAL_S,
        "seconds between ka messages",
        positive_float,
        metavar="SECONDS",
    ),
    OptionSpec(
        "--connection-timeout-ms",
        DEFAULT_CONNECTION_TIMEOUT_MS,
        "connectionTimeoutMs in connection_ack",
        int_range(1, _LARGEST_INT),
        metavar="MS",
    ),
    OptionSpec(
        "--max-connection-duration-s",
        MAX_CONNECTION_DURATION_S,
        "connections are closed (code 1000) after this long",
        positive_float,
        metavar="SECONDS",
    ),
    OptionSpec(
        "--max-queued-frames",
        DEFAULT_MAX_QUEUED_FRAMES,
        "frames queued for a client that does not read before it is disconnected with close "
        "code 1013 (a slow consumer)",
        int_range(1, _LARGEST_INT),
        metavar="N",
    ),
    OptionSpec(
        "--quota",
        [],
        "an API quota: connect-rate (default 2000/s), inbound-events (10000/s), "
        "outbound-messages (1000000/s in 5 KB units), request-bytes (1258291) or "
        "subscriptions-per-connection (200), set to a number or off (see docs/emulator.md)",
        _quotas,
        metavar="NAME=LIMIT|off",
        repeatable=True,
    ),
    OptionSpec(
        "--handlers",
        [],
        "run a namespace's onPublish and onSubscribe handlers from a JavaScript file, as "
        "AppSync does (needs the quickjs package; see docs/emulator.md#handlers)",
        _handlers,
        metavar="NAMESPACE=FILE.js",
        repeatable=True,
    ),
    OptionSpec(
        "--handler-time-limit-ms",
        DEFAULT_HANDLER_TIME_LIMIT_MS,
        "CPU time one handler invocation may take before it fails (HandlerRuntimeError)",
        positive_float,
        metavar="MS",
    ),
    OptionSpec(
        "--handler-latency-ms",
        0.0,
        "service-side delay added to every handler invocation, before the answer and the fan-out",
        non_negative_float,
        metavar="MS",
    ),
    OptionSpec(
        "--identity-pool-id",
        defaults.DEFAULT_IDENTITY_POOL_ID,
        "the Cognito identity pool served on its own port (cognito_identity_url in the ready "
        "line): GetId and GetCredentialsForIdentity, whose credentials AWS_IAM accepts "
        "(see docs/emulator.md#cognito-identity)",
        text,
        metavar="REGION:GUID",
    ),
    OptionSpec(
        "--identity-pool-port",
        0,
        "port of the Cognito Identity API; 0 picks a free one",
        int_range(0, 65535),
        metavar="PORT",
    ),
    OptionSpec(
        "--identity-credentials-ttl-s",
        DEFAULT_CREDENTIALS_TTL_S,
        "seconds the identity pool's credentials stay valid",
        positive_float,
        metavar="SECONDS",
    ),
    OptionSpec(
        "--fault",
        [],
        "a fault in force from the start, e.g. drop:rate=0.1 (see docs/emulator.md)",
        _faults,
        metavar="SPEC",
        repeatable=True,
    ),
    OptionSpec(
        "--seed",
        None,
        "seed of every fault decision (default: random; the seed in use is in the stats "
        "and the log)",
        optional_int,
    ),
    OptionSpec(
        "--log-level",
        "INFO",
        "log level on stderr; DEBUG logs every refusal with its reason (never a secret)",
        choice(LOG_LEVELS),
        metavar="LEVEL",
    ),
)
"""Every option of the emulator, in ``--help`` order."""
_CREDENTIALS = ("api_key", "iam", "jwt_secret", "lambda_token")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m harness.emulator",
        description=(
            "A local AWS AppSync Events API: POST /event and GET /event/realtime on one "
            "port, SigV4 and token verification as AppSync does it, an admin API under "
            "/_emulator/ and injectable faults. Prints one JSON line when ready."
        ),
    )
    parser.add_argument(
        "--config", type=Path, metavar="FILE", help="TOML file with any of these options"
    )
    for spec in OPTIONS:
        action = "append" if spec.repeatable else "store_true" if spec.is_flag else "store"
        extra = {} if spec.is_flag else {"metavar": spec.metavar or spec.dest.upper()}
        parser.add_argument(
            spec.flag,
            action=action,
            default=None,
            help=_help(spec),
            **extra,  # type: ignore[arg-type]
        )
    return parser


def _help(spec: OptionSpec) -> str:
    if spec.default in ("", None, [], False):
        return spec.help.replace("%", "%%")
    return f"{spec.help} (default {spec.default})".replace("%", "%%")


def parse_settings(argv: Sequence[str] | None = None) -> tuple[EmulatorSettings, str]:
    """Settings and log level from the command line and the ``--config`` file."""
    arguments = vars(build_parser().parse_args(argv))
    config_path = arguments.pop("config")
    raw = _read_config(config_path) if config_path else {}
    raw.update({name: value for name, value in arguments.items() if value is not None})
    values = {
        spec.dest: spec.check(spec.flag, raw.get(spec.dest, spec.default)) for spec in OPTIONS
    }
    log_level: str = values.pop("log_level")
    return _settings_from(values), log_level


def _read_config(path: Path) -> dict[str, Any]:
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigurationError("--config", f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigurationError("--config", f"{path} is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError("--config", f"{path} is not valid TOML: {exc}") from None
    known = {spec.dest for spec in OPTIONS}
    options: dict[str, Any] = {}
    for key, value in document.items():
        name = key.replace("-", "_")
        if name not in known:
            raise ConfigurationError("--config", f"unknown option {key!r} in {path}")
        options[name] = value
    return options


def _settings_from(values: dict[str, Any]) -> EmulatorSettings:
    settings = dict(
        host=values["host"] or "127.0.0.1",
        port=values["port"],
        tls=values["tls"],
        region=values["region"] or defaults.DEFAULT_REGION,
        namespaces=values["namespace"],
        connection_auth=values["connection_auth"],
        default_publish_auth=values["default_publish_auth"],
        default_subscribe_auth=values["default_subscribe_auth"],
        lenient_signed_bodies=values["lenient_signed_bodies"],
        keepalive_interval_s=values["keepalive_interval_s"],
        connection_timeout_ms=values["connection_timeout_ms"],
        max_connection_duration_s=values["max_connection_duration_s"],
        faults=values["fault"],
        seed=values["seed"],
        max_queued_frames=values["max_queued_frames"],
        quotas=values["quota"],
        handlers=values["handlers"],
        handler_time_limit_ms=values["handler_time_limit_ms"],
        handler_latency_ms=values["handler_latency_ms"],
        identity_pool_id=values["identity_pool_id"] or defaults.DEFAULT_IDENTITY_POOL_ID,
        identity_pool_port=values["identity_pool_port"],
        identity_credentials_ttl_s=values["identity_credentials_ttl_s"],
    )
    if any(values[name] for name in _CREDENTIALS):
        built = EmulatorSettings(
            api_keys=values["api_key"],
            iam_keys=values["iam"],
            jwt_secret=values["jwt_secret"],
            lambda_tokens=values["lambda_token"],
            **settings,
        )
    else:
        built = EmulatorSettings.with_default_credentials(**settings)
    built.validate()
    return built


def main(argv: Sequence[str] | None = None) -> int:
    try:
        settings, log_level = parse_settings(argv)
    except ConfigurationError as exc:
        print(f"python -m harness.emulator: error: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=log_level, stream=sys.stderr, format="%(asctime)s emulator %(levelname)s %(message)s"
    )
    loop_factory = _uvloop_factory()
    try:
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            runner.run(serve(settings))
    except ConfigurationError as exc:  # a handler file that cannot be loaded
        print(f"python -m harness.emulator: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"python -m harness.emulator: error: cannot listen: {exc}", file=sys.stderr)
        return 1
    return 0


async def serve(settings: EmulatorSettings) -> None:
    """Run until SIGINT or SIGTERM, then close every connection and return."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):  # before the ready line: a parent
        loop.add_signal_handler(signum, stop.set)  # may signal as soon as it reads it
    emulator = Emulator(settings)
    info = await emulator.start()
    print(info.to_json(), flush=True)
    logger.info(
        "listening on %s (seed %d, event loop %s)",
        info.http_url,
        emulator.faults.seed,
        type(asyncio.get_running_loop()).__module__.split(".")[0],
    )
    await stop.wait()
    logger.info("stopping: closing %d connection(s)", len(emulator.sessions))
    await emulator.stop()


def _uvloop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop
