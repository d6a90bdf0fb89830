"""``python -m harness.emulator``: the command line, an optional TOML file, and the
serving loop.

Every option can also be set in the TOML file given with ``--config``, under
the option's name without the leading dashes (``api-key = ["..."]``,
``keepalive-interval-s = 5``); the command line wins over the file. With no
credentials at all the emulator uses the fixed test credentials of
:mod:`harness.emulator.defaults`, which the harness also uses by default.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import signal
import sys
import tomllib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from harness.emulator import defaults
from harness.emulator.faults import FaultSpec
from harness.emulator.server import Emulator
from harness.emulator.settings import (
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
_CREDENTIAL_OPTIONS = ("api_key", "iam", "jwt_secret", "lambda_token")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m harness.emulator",
        description=(
            "A local AWS AppSync Events API: POST /event and GET /event/realtime on one "
            "port, SigV4 and token verification as AppSync does it, an admin API under "
            "/_emulator/ and injectable faults. Prints one JSON line when ready."
        ),
        argument_default=None,
    )
    add = parser.add_argument
    add("--config", type=Path, metavar="FILE", help="TOML file with any of these options")
    add("--host", help="address to listen on (default 127.0.0.1)")
    add("--port", type=int, help="port to listen on; 0 picks a free one (default 0)")
    add(
        "--tls",
        action="store_true",
        default=None,
        help="serve https:// and wss:// with a generated certificate; the CA file is printed",
    )
    add("--api-key", action="append", metavar="KEY", help="an accepted API key (repeatable)")
    add(
        "--iam",
        action="append",
        metavar="ACCESS_KEY_ID:SECRET_ACCESS_KEY[:SESSION_TOKEN]",
        help="an accepted IAM credential (repeatable)",
    )
    add(
        "--jwt-secret",
        metavar="SECRET",
        help="HS256 secret of the JWTs accepted for AMAZON_COGNITO_USER_POOLS and OPENID_CONNECT",
    )
    add(
        "--lambda-token",
        action="append",
        metavar="TOKEN",
        help="a token the AWS_LAMBDA authorizer accepts (repeatable)",
    )
    add(
        "--region",
        help=f"the API's region, checked in SigV4 scopes (default {defaults.DEFAULT_REGION})",
    )
    add(
        "--namespace",
        action="append",
        metavar="NAME[:publish=MODES][:subscribe=MODES]",
        help=f"a channel namespace, optionally with its own auth modes (repeatable; "
        f"default: one namespace {defaults.DEFAULT_NAMESPACE!r})",
    )
    add(
        "--connection-auth",
        metavar="MODES",
        help="auth modes accepted for connect and as the default for namespaces "
        "(default: every mode with credentials)",
    )
    add(
        "--keepalive-interval-s",
        type=float,
        help=f"seconds between ka messages (default {DEFAULT_KEEPALIVE_INTERVAL_S:g})",
    )
    add(
        "--connection-timeout-ms",
        type=int,
        help=f"connectionTimeoutMs in connection_ack (default {DEFAULT_CONNECTION_TIMEOUT_MS})",
    )
    add(
        "--max-connection-duration-s",
        type=float,
        help=f"connections are closed after this long (default {MAX_CONNECTION_DURATION_S:g})",
    )
    add(
        "--max-queued-frames",
        type=int,
        help="frames queued for one slow client before it is disconnected with code 1013 "
        f"(default {DEFAULT_MAX_QUEUED_FRAMES})",
    )
    add(
        "--fault",
        action="append",
        metavar="SPEC",
        help="a fault in force from the start, e.g. 'drop:rate=0.1' (repeatable; see README)",
    )
    add("--seed", type=int, help="seed for every fault decision (default: random, reported)")
    add(
        "--log-level",
        choices=LOG_LEVELS,
        help="log level on stderr (default INFO)",
    )
    return parser


def parse_settings(argv: Sequence[str] | None = None) -> tuple[EmulatorSettings, str]:
    """Settings and log level from the command line and the ``--config`` file."""
    parser = build_parser()
    arguments = vars(parser.parse_args(argv))
    config_path = arguments.pop("config")
    options = _read_config(config_path, set(arguments)) if config_path else {}
    options.update({name: value for name, value in arguments.items() if value is not None})
    log_level = str(options.pop("log_level", "INFO")).upper()
    if log_level not in LOG_LEVELS:
        raise ConfigurationError("--log-level", f"must be one of {', '.join(LOG_LEVELS)}")
    return _settings_from(options), log_level


def _read_config(path: Path, known: set[str]) -> dict[str, Any]:
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigurationError("--config", f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigurationError("--config", f"{path} is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError("--config", f"{path} is not valid TOML: {exc}") from None
    options: dict[str, Any] = {}
    for key, value in document.items():
        name = key.replace("-", "_")
        if name not in known or name == "config":
            raise ConfigurationError("--config", f"unknown option {key!r} in {path}")
        options[name] = value
    return options


def _settings_from(options: dict[str, Any]) -> EmulatorSettings:
    reader = _OptionReader(options)
    credentials: dict[str, Any] = {
        "api_keys": tuple(reader.strings("api_key")),
        "iam_keys": dict(_parse_iam(text) for text in reader.strings("iam")),
        "jwt_secret": reader.optional(str, "jwt_secret"),
        "lambda_tokens": tuple(reader.strings("lambda_token")),
    }
    namespaces = tuple(NamespaceSettings.parse(text) for text in reader.strings("namespace")) or (
        NamespaceSettings(defaults.DEFAULT_NAMESPACE),
    )
    connection_auth = reader.optional(str, "connection_auth")
    settings = dict(
        host=reader.optional(str, "host") or "127.0.0.1",
        port=reader.number(int, "port", 0),
        tls=bool(reader.optional(bool, "tls")),
        region=reader.optional(str, "region") or defaults.DEFAULT_REGION,
        namespaces=namespaces,
        connection_auth=(
            AuthMode.parse_list(connection_auth, option="--connection-auth")
            if connection_auth
            else None
        ),
        keepalive_interval_s=reader.number(
            float, "keepalive_interval_s", DEFAULT_KEEPALIVE_INTERVAL_S
        ),
        connection_timeout_ms=reader.number(
            int, "connection_timeout_ms", DEFAULT_CONNECTION_TIMEOUT_MS
        ),
        max_connection_duration_s=reader.number(
            float, "max_connection_duration_s", MAX_CONNECTION_DURATION_S
        ),
        faults=tuple(FaultSpec.parse(text) for text in reader.strings("fault")),
        seed=reader.optional(int, "seed"),
        max_queued_frames=reader.number(int, "max_queued_frames", DEFAULT_MAX_QUEUED_FRAMES),
    )
    if any(options.get(name) for name in _CREDENTIAL_OPTIONS):
        built = EmulatorSettings(**credentials, **settings)
    else:
        built = EmulatorSettings.with_default_credentials(**settings)
    built.validate()
    return built


def _parse_iam(text: str) -> tuple[str, IamKey]:
    parts = text.split(":")
    if len(parts) not in (2, 3) or not all(parts):
        raise ConfigurationError(
            "--iam", "expected ACCESS_KEY_ID:SECRET_ACCESS_KEY[:SESSION_TOKEN]"
        )
    return parts[0], IamKey(parts[1], parts[2] if len(parts) == 3 else None)


class _OptionReader:
    """Typed reads of merged options; a TOML value of the wrong type names its option."""

    def __init__(self, options: dict[str, Any]) -> None:
        self._options = options

    def _fail(self, name: str, expected: str) -> ConfigurationError:
        return ConfigurationError("--" + name.replace("_", "-"), f"must be {expected}")

    def optional(self, kind: type, name: str) -> Any:
        value = self._options.get(name)
        wrong_bool = isinstance(value, bool) and kind is not bool
        if value is not None and (wrong_bool or not isinstance(value, kind)):
            raise self._fail(name, f"a {kind.__name__}")
        return value

    def number(self, kind: Callable[[Any], Any], name: str, default: float) -> Any:
        value = self._options.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self._fail(name, "a number")
        if not math.isfinite(value):
            raise self._fail(name, "a finite number")
        if kind is int and value != int(value):
            raise self._fail(name, "a whole number")
        return kind(value)

    def strings(self, name: str) -> list[str]:
        value = self._options.get(name) or []
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise self._fail(name, "a string or a list of strings")
        return value


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
