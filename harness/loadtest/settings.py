"""The load test's options and the one settings object built from them.

Every option is a field of :class:`HarnessSettings`, declared once with
:func:`~harness.config.options.option` (flag, default, help, check), and
registered on Locust's parser (:func:`register_options`), so it works on the
command line, in ``locust.conf``, in ``[tool.locust]`` of ``pyproject.toml``,
as a ``LOCUST_*`` environment variable, and in the web UI's start form. Parsed
values stay plain ``str``/``int``/``float`` (the web UI converts form fields
back with ``type(default)(text)``); :func:`settings_from_options` checks them
and builds :class:`HarnessSettings`, raising
:class:`~harness.errors.ConfigurationError` naming the option. docs/options.md
documents every option.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import dataclasses
import ipaddress
import os
import re
import tempfile
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from harness.config.options import (
    OptionSpec,
    boolean,
    choice,
    int_range,
    non_negative_float,
    option,
    option_fields,
    optional_text,
    positive_float,
    text,
)
from harness.config.retry import RetryPolicy
from harness.config.secret_lines import secret_lines
from harness.emulator import defaults as emulator_defaults
from harness.errors import ConfigurationError, MessageValidationError
from harness.loadtest.selection import check_scenario
from harness.measure.baseline import load_baseline, parse_max_regression
from harness.measure.prices import PriceTable, load_prices
from harness.measure.slo import Slo, load_slo_file, parse_slo
from harness.protocol import (
    MAX_EVENT_BYTES,
    MAX_EVENTS_PER_REQUEST,
    MAX_PUBLISHES_PER_SECOND_PER_CONNECTION,
    MAX_SUBSCRIPTIONS_PER_CONNECTION,
    Endpoints,
)
from harness.signing import AuthMode
from harness.signing.sigv4 import ENGINES
from harness.workload.channels import ChannelTemplate, parse_channel_templates
from harness.workload.tracing import PAD_CHARACTERS

PUBLISH_VIA = ("ws", "http")
DEFAULT_RECONNECT_POLICY = "full-jitter:base=500ms,cap=30s"
_IDENTITY_POOL_ID = re.compile(r"[a-z]{2}(?:-[a-z]+)+-\d:[0-9a-fA-F-]{1,64}")
_POOL_EXAMPLE = "us-east-1:00000000-0000-4000-8000-000000000000"
TOKEN_MODES = (AuthMode.AMAZON_COGNITO_USER_POOLS, AuthMode.OPENID_CONNECT, AuthMode.AWS_LAMBDA)
MAX_PAYLOAD_BYTES = 2 * MAX_EVENT_BYTES
"""The largest ``--payload-bytes``: twice AppSync's per-event limit, so that over-limit
events can be driven (the service refuses each one in the publish's ``failed`` list)."""


# -- checks of this file's options (the general ones are in harness.config.options) -------


def _auth_mode(option: str, value: Any) -> AuthMode:
    return AuthMode.parse(str(value), option=option)


def _operation_auth_mode(option: str, value: Any) -> AuthMode | None:
    text = str(value or "").strip()
    return AuthMode.parse(text, option=option) if text else None


def _lines_file(option: str, value: Any) -> str:
    """A file of one credential per line: checked readable and not empty (its lines are
    secrets, read again where they are used: harness.loadtest.identities)."""
    path = str(value or "").strip()
    if path:
        secret_lines(path, option)
    return path


def _identity_pool_id(option: str, value: Any) -> str:
    pool = str(value or "").strip()
    if pool and not _IDENTITY_POOL_ID.fullmatch(pool):
        raise ConfigurationError(option, f"{pool!r} is not REGION:GUID, e.g. {_POOL_EXAMPLE}")
    return pool


def _channels(option: str, value: Any) -> tuple[ChannelTemplate, ...]:
    return parse_channel_templates(str(value), option=option)


def _retry_policy(option: str, value: Any) -> RetryPolicy:
    return RetryPolicy.parse(str(value), option=option)


def _slos(option: str, value: Any) -> tuple[Slo, ...]:
    texts = value if isinstance(value, list | tuple) else ([value] if value else [])
    return tuple(parse_slo(str(text), option) for text in texts)


def _slo_file(option: str, value: Any) -> tuple[Slo, ...]:
    path = str(value or "").strip()
    return tuple(load_slo_file(path)) if path else ()


def _baseline(option: str, value: Any) -> str:
    path = str(value or "").strip()
    if path:
        load_baseline(path)  # a missing or foreign file stops the run before it starts
    return path


def _price_file(option: str, value: Any) -> PriceTable:
    return load_prices(str(value or "").strip())


def _max_regression(option: str, value: Any) -> float:
    return parse_max_regression(str(value), option)


def _emulator_arguments(option: str, value: Any) -> tuple[str, ...]:
    arguments = tuple(str(value or "").split())
    for argument in arguments:
        if argument.split("=", 1)[0] in ("--host", "--port"):
            raise ConfigurationError(
                option,
                f"{argument.split('=', 1)[0]} is set by --emulator-bind ADDR[:PORT], not here",
            )
    return arguments


@dataclass(frozen=True, slots=True)
class ListenAddress:
    """Where the embedded emulator listens: an IP address or host name, and a port (0:
    a free one)."""

    host: str
    port: int = 0

    @property
    def loopback(self) -> bool:
        """Reachable from this machine only (127.0.0.0/8, ::1, localhost)."""
        if self.host.lower() == "localhost" or self.host.lower().endswith(".localhost"):
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False  # a host name: it may resolve to anything

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


DEFAULT_EMULATOR_BIND = ListenAddress("127.0.0.1")
_BRACKETED = re.compile(r"\[([^\]]*)\](?::(.*))?")
_HOST_NAME = re.compile(
    r"(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?"
)


def parse_listen_address(option: str, value: Any) -> ListenAddress | None:
    """``ADDR[:PORT]`` (``[IPv6]:PORT`` with a port); None when empty."""
    written = str(value or "").strip()
    if not written:
        return None
    bracketed = _BRACKETED.fullmatch(written)
    if bracketed:
        host, port_text = bracketed.group(1), bracketed.group(2)
        if ":" not in host:
            raise ConfigurationError(option, f"brackets are for IPv6 addresses, not {written!r}")
    elif written.count(":") > 1:
        host, port_text = written, None  # a bare IPv6 address: no port
    else:
        host, _, port_text = written.partition(":")
        port_text = port_text if ":" in written else None
    return ListenAddress(_listen_host(option, host), _listen_port(option, port_text))


def _listen_host(option: str, host: str) -> str:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        if not _HOST_NAME.fullmatch(host) or host.rstrip(".").rsplit(".", 1)[-1].isdigit():
            raise ConfigurationError(
                option, f"{host!r} is neither an IP address nor a host name"
            ) from None
        return host.rstrip(".")
    if address.is_unspecified:
        raise ConfigurationError(
            option,
            f"{host} listens everywhere, but its URL is what workers connect to: give the "
            "address of the interface they reach",
        )
    if isinstance(address, ipaddress.IPv6Address) and address.scope_id:
        raise ConfigurationError(option, f"{host}: an address with a zone is not supported")
    if address.is_multicast:
        raise ConfigurationError(option, f"{host} is not an address to listen on")
    return str(address)


def _listen_port(option: str, text: str | None) -> int:
    if text is None:
        return 0
    if not text.isdigit() or int(text) > 65535:
        raise ConfigurationError(
            option, f"the port must be a whole number from 0 to 65535 (0: a free one), not {text!r}"
        )
    return int(text)


def _host(option: str, value: Any) -> str:
    address = str(value or "").strip()
    if not address:
        return ""
    try:
        return Endpoints.from_http_url(address).http_url
    except MessageValidationError as exc:
        raise ConfigurationError(option, exc.reason) from None


@dataclass(frozen=True, slots=True)
class HarnessSettings:
    """Everything a run needs, checked; each field but ``host`` is an option."""

    host: str
    """The API's HTTP endpoint (Locust's ``--host``); empty for the embedded emulator."""
    scenario: str = option(
        "--scenario",
        "",
        "run the users (and load shape) of scenarios/NAME.py instead of locustfile.py's own: "
        "read by locustfile.py when Locust imports it, so give it to every worker too (see "
        "docs/scenarios.md)",
        check_scenario,
        metavar="NAME",
        web_ui=False,
        in_summary=True,
    )
    auth_mode: AuthMode = option(
        "--auth-mode",
        "API_KEY",
        "how connects, subscribes and publishes are authorized: API_KEY, AWS_IAM, "
        "AMAZON_COGNITO_USER_POOLS, OPENID_CONNECT or AWS_LAMBDA (case-insensitive)",
        _auth_mode,
        metavar="MODE",
        in_summary=True,
    )
    api_key: str = option(
        "--api-key",
        "",
        "the API key for API_KEY (default against the embedded emulator: its test key)",
        text,
        metavar="KEY",
        secret=True,
    )
    auth_token: str = option(
        "--auth-token",
        "",
        "the JWT (Cognito, OIDC) or Lambda authorizer token; against the embedded "
        "emulator a token is minted when this is empty",
        text,
        metavar="TOKEN",
        secret=True,
    )
    connect_auth_mode: AuthMode | None = option(
        "--connect-auth-mode",
        "",
        "the auth mode of connects when it differs from --auth-mode (AppSync's connection "
        "auth modes)",
        _operation_auth_mode,
        metavar="MODE",
        in_summary=True,
    )
    subscribe_auth_mode: AuthMode | None = option(
        "--subscribe-auth-mode",
        "",
        "the auth mode of subscribes when it differs from --auth-mode (a namespace's "
        "subscribe auth modes)",
        _operation_auth_mode,
        metavar="MODE",
        in_summary=True,
    )
    publish_auth_mode: AuthMode | None = option(
        "--publish-auth-mode",
        "",
        "the auth mode of publishes, WebSocket and HTTP, when it differs from --auth-mode "
        "(a namespace's publish auth modes)",
        _operation_auth_mode,
        metavar="MODE",
        in_summary=True,
    )
    api_key_file: str = option(
        "--api-key-file",
        "",
        "a file of API keys, one per line: virtual user i uses line i mod N (instead of --api-key)",
        _lines_file,
        metavar="FILE",
    )
    auth_token_file: str = option(
        "--auth-token-file",
        "",
        "a file of tokens (JWTs, Lambda tokens), one per line: virtual user i uses line "
        "i mod N (instead of --auth-token)",
        _lines_file,
        metavar="FILE",
    )
    auth_token_command: str = option(
        "--auth-token-command",
        "",
        "a command that prints a token, run by the shell for each virtual user (with "
        "HARNESS_USER_INDEX set) and again before the token's exp, or every "
        "--token-refresh seconds for a token without exp",
        text,
        metavar="COMMAND",
        secret=True,
    )
    token_refresh_s: float = option(
        "--token-refresh",
        0.0,
        "seconds between runs of --auth-token-command for tokens without an exp claim "
        "(0: never again)",
        non_negative_float,
        metavar="SECONDS",
    )
    identity_pool_id: str = option(
        "--identity-pool-id",
        "",
        "a Cognito identity pool (REGION:GUID): every virtual user gets an identity of its "
        "own and signs AWS_IAM operations with its temporary credentials, refreshed before "
        "they expire (the embedded emulator's pool: "
        f"{emulator_defaults.DEFAULT_IDENTITY_POOL_ID})",
        _identity_pool_id,
        metavar="ID",
        in_summary=True,
    )
    identity_pool_login: str = option(
        "--identity-pool-login",
        "",
        "with --identity-pool-id, authenticated identities: the login provider (e.g. "
        "cognito-idp.REGION.amazonaws.com/POOL) whose token is each user's --auth-token, "
        "--auth-token-file line or --auth-token-command token (minted per user against "
        "the embedded emulator)",
        text,
        metavar="PROVIDER",
    )
    region: str | None = option(
        "--region",
        "",
        "the API's AWS region for AWS_IAM signing; derived from a standard "
        "*.appsync-api.<region>.amazonaws.com host when empty, so needed with a custom domain",
        optional_text,
        metavar="REGION",
        in_summary=True,
    )
    aws_profile: str | None = option(
        "--aws-profile",
        "",
        "a named profile of the AWS shared config for AWS_IAM credentials; empty: "
        "botocore's default chain (environment, profiles, assume-role, SSO, instance roles; "
        "temporary credentials are refreshed)",
        optional_text,
        metavar="PROFILE",
    )
    channels: tuple[ChannelTemplate, ...] = option(
        "--channels",
        "/default/room-{1..20}",
        "channel templates, separated by commas or spaces; {1..20} is a range ({01..20} "
        "zero-padded), {a,b} a list, and several groups multiply; stats are named after the "
        "template",
        _channels,
        metavar="TEMPLATES",
        in_summary=True,
    )
    subscriptions_per_user: int = option(
        "--subscriptions-per-user",
        1,
        f"channels each subscribing user subscribes to, picked at random from --channels "
        f"(0 to {MAX_SUBSCRIPTIONS_PER_CONNECTION})",
        int_range(0, MAX_SUBSCRIPTIONS_PER_CONNECTION),
        metavar="N",
        in_summary=True,
    )
    wildcard_subscriptions: int = option(
        "--wildcard-subscriptions",
        0,
        "wildcard subscriptions each subscribing user adds: the /ns/prefix/* covering a "
        "template, one per distinct wildcard",
        int_range(0, MAX_SUBSCRIPTIONS_PER_CONNECTION),
        metavar="N",
        in_summary=True,
    )
    publish_rate: float = option(
        "--publish-rate",
        1.0,
        f"events per second each publishing user sends, on a fixed schedule (AppSync allows "
        f"{MAX_PUBLISHES_PER_SECOND_PER_CONNECTION} WebSocket publishes per second per "
        "connection; the harness warns above that)",
        positive_float,
        metavar="EVENTS_PER_S",
        in_summary=True,
    )
    events_per_publish: int = option(
        "--events-per-publish",
        1,
        f"events per publish request, 1 to {MAX_EVENTS_PER_REQUEST}",
        int_range(1, MAX_EVENTS_PER_REQUEST),
        metavar="N",
        in_summary=True,
    )
    payload_bytes: int = option(
        "--payload-bytes",
        200,
        f"size of each event's JSON text; padding is added beyond the trace fields (about "
        f"100 bytes). Above {MAX_EVENT_BYTES:,} (AppSync's 240 KB) the service refuses each "
        "event with EventTooLargeException, which fails its publish",
        int_range(0, MAX_PAYLOAD_BYTES),
        metavar="BYTES",
        in_summary=True,
    )
    payload_chars: str = option(
        "--payload-chars",
        "ascii",
        "what pads each event: ascii (x) or html (<, > and &, which an IAM-signed WebSocket "
        "publish must sign escaped: docs/protocol.md#sigv4); needs room to pad (see "
        "--payload-bytes)",
        choice(tuple(PAD_CHARACTERS)),
        metavar="KIND",
        in_summary=True,
    )
    publish_via: str = option(
        "--publish-via",
        "ws",
        "publish over the WebSocket (ws) or with POST /event (http)",
        choice(PUBLISH_VIA),
        metavar="ws|http",
        in_summary=True,
    )
    ca_file: str | None = option(
        "--ca-file",
        "",
        "PEM file of CAs to trust for https:// and wss:// (default: the system store)",
        optional_text,
        metavar="PEM",
    )
    iam_signer: str = option(
        "--iam-signer",
        "fast",
        "AWS_IAM signer: fast (caches the day's signing key; tested byte-identical to "
        "botocore) or botocore (its SigV4Auth itself)",
        choice(tuple(ENGINES)),
        metavar="ENGINE",
    )
    connect_timeout_s: float = option(
        "--connect-timeout",
        15.0,
        "seconds a connect (TCP, TLS, upgrade, connection_ack) may take",
        positive_float,
        metavar="SECONDS",
    )
    operation_timeout_s: float = option(
        "--operation-timeout",
        10.0,
        "seconds to wait for the answer to a subscribe, unsubscribe or publish",
        positive_float,
        metavar="SECONDS",
    )
    reconnect_policy: RetryPolicy = option(
        "--reconnect-policy",
        DEFAULT_RECONNECT_POLICY,
        "how a lost connection is retried: STRATEGY[:base=,cap=,multiplier=,max-attempts=,"
        "max-elapsed=] with STRATEGY none, constant, exponential, full-jitter, equal-jitter or "
        "decorrelated-jitter, or off (see docs/resilience.md)",
        _retry_policy,
        metavar="POLICY",
        in_summary=True,
    )
    publish_retry_policy: RetryPolicy = option(
        "--publish-retry-policy",
        "off",
        "how a publish refused with a retryable error (throttle, timeout, lost connection) is "
        "retried, e.g. exponential:base=100ms,cap=2s,max-attempts=5; the event keeps its "
        "sequence number",
        _retry_policy,
        metavar="POLICY",
        in_summary=True,
    )
    backoff_tolerance_s: float = option(
        "--backoff-tolerance",
        0.1,
        "seconds an attempt may start after the longest delay its policy allows before it "
        "counts as non-conforming (scheduling slack on a busy machine)",
        non_negative_float,
        metavar="SECONDS",
        in_summary=True,
    )
    report_dir: str = option(
        "--report-dir",
        "",
        "directory for the end-of-run reports (summary.json, report.html, ...), written "
        "also after Ctrl-C and SIGTERM; created if missing",
        text,
        metavar="DIR",
    )
    slo: tuple[Slo, ...] = option(
        "--slo",
        [],
        "a service-level objective the run must meet (repeatable), e.g. deliver.p99<=250ms, "
        "connect.p99.9<2s, lost==0, errors.rate<0.1%, leaks==0, backoff.conformance>=99%; "
        "a broken SLO makes the exit status 3 (see docs/reports.md)",
        _slos,
        metavar="SLO",
        web_ui=False,
        repeatable=True,
    )
    slo_file: tuple[Slo, ...] = option(
        "--slo-file",
        "",
        "file of SLOs, one per line (# comments)",
        _slo_file,
        metavar="FILE",
    )
    baseline: str = option(
        "--baseline",
        "",
        "summary.json of an earlier run to compare with: a percentile or rate worse by more "
        "than --max-regression makes the exit status 4",
        _baseline,
        metavar="SUMMARY_JSON",
    )
    max_regression: float = option(
        "--max-regression",
        "10%",
        "how much worse than --baseline a figure may be (a percent, or a fraction)",
        _max_regression,
        metavar="SHARE",
    )
    price_file: PriceTable = option(
        "--price-file",
        "",
        "TOML price table for the run's cost estimate, in the format of the built-in one "
        "(harness/measure/appsync_events_prices.toml: AWS's AppSync Events list prices, "
        "us-east-1); default: that one (see docs/usage-and-cost.md)",
        _price_file,
        metavar="FILE",
        in_summary=True,
    )
    max_clock_offset_s: float = option(
        "--max-clock-offset",
        0.0,
        "seconds a worker's clock may be off from the master's (offset plus uncertainty, "
        "measured over Locust's connection) before a distributed run fails with exit status "
        "5: delivery latencies across processes are off by as much; 0: not checked (a "
        "worker off by more than 5 ms is still flagged in the report; see docs/distributed.md)",
        non_negative_float,
        metavar="SECONDS",
        in_summary=True,
    )
    allow_loss: bool = option(
        "--allow-loss",
        False,
        "lost events alone do not fail the run; without it a run that loses events exits 1 "
        "unless an SLO on lost or lost.rate judges them (see docs/reports.md)",
        boolean,
        in_summary=True,
    )
    prometheus: bool = option(
        "--prometheus",
        False,
        "serve the run's live figures at /metrics on the web UI's port, in the Prometheus "
        "exposition format (counters, latency histograms, gauges; see docs/web-ui.md)",
        boolean,
        web_ui=False,
    )
    prometheus_port: int = option(
        "--prometheus-port",
        0,
        "also serve /metrics on 127.0.0.1:PORT, in headless runs too (on the master of a "
        "distributed run); 0: not served",
        int_range(0, 65535),
        metavar="PORT",
        web_ui=False,
    )
    emulator_bind: ListenAddress | None = option(
        "--emulator-bind",
        "",
        "address (and port) the embedded emulator listens on, and that the workers receive in "
        "its URL: ADDR, ADDR:PORT or [IPv6]:PORT; default 127.0.0.1 and a free port. An "
        "address other than loopback makes the emulator, a test server with well-known "
        "credentials, reachable from the network (see docs/distributed.md)",
        parse_listen_address,
        metavar="ADDR[:PORT]",
    )
    emulator_args: tuple[str, ...] = option(
        "--emulator-args",
        "",
        'extra options for the embedded emulator, e.g. --emulator-args="--fault '
        'drop:rate=0.5 --seed 7" (with = when the value starts with --; see docs/emulator.md)',
        _emulator_arguments,
        metavar="ARGS",
    )
    run_id: str = option(
        "--run-id",
        "",
        "tag stamped on every event (default: generated); events of other runs are ignored, "
        "so set it when several Locust runs share one API",
        text,
        metavar="ID",
        web_ui=False,
        in_summary=True,
    )

    @property
    def embedded(self) -> bool:
        return not self.host

    @property
    def publishes_per_second(self) -> float:
        return self.publish_rate / self.events_per_publish

    @property
    def slos(self) -> tuple[Slo, ...]:
        """``--slo`` and the SLOs of ``--slo-file``."""
        return self.slo + self.slo_file

    def describe(self) -> dict[str, Any]:
        """The settings without secrets, for logs and reports: the options marked
        ``in_summary``, by field name."""
        described: dict[str, Any] = {"host": self.host or "(embedded emulator)"}
        for name, _ in _SUMMARISED:
            described[name] = _shown(getattr(self, name))
        return described


OPTIONS: tuple[OptionSpec, ...] = tuple(spec for _, spec in option_fields(HarnessSettings))
"""Every option, in the order of the settings' fields (and of docs/options.md)."""
_SUMMARISED = tuple(
    (name, spec) for name, spec in option_fields(HarnessSettings) if spec.in_summary
)


def _shown(value: Any) -> Any:
    """A setting as JSON shows it: enums by value, policies by label, templates by name."""
    if isinstance(value, AuthMode):
        return value.value
    if isinstance(value, RetryPolicy):
        return value.label
    if isinstance(value, PriceTable):
        return value.origin
    if isinstance(value, tuple) and all(isinstance(item, ChannelTemplate) for item in value):
        return [template.name for template in value]
    return value


def register_options(parser: Any) -> None:
    """Add every option to Locust's (configargparse) parser.

    Each value is checked as it is parsed, so a bad one stops Locust with
    ``argument --option: reason`` before anything starts.
    """
    for spec in OPTIONS:
        extra: dict[str, Any] = {"action": "append"} if spec.repeatable else {}
        if spec.is_flag:
            extra = {"action": "store_true"}
        else:
            extra.update(type=_argparse_type(spec), metavar=spec.metavar)
        parser.add_argument(
            spec.flag,
            default=spec.default,  # argparse copies a list default before appending
            help=spec.help.replace("%", "%%") + _default_note(spec),
            env_var=spec.env_var,
            include_in_web_ui=spec.web_ui,
            is_secret=spec.secret,
            **extra,
        )


def _default_note(spec: OptionSpec) -> str:
    if spec.secret or spec.is_flag or spec.default in ("", None):
        return ""
    return f" (default {spec.default})".replace("%", "%%")


def _argparse_type(spec: OptionSpec) -> Callable[[str], Any]:
    kind = type(spec.default)

    def parse(text: str) -> Any:
        try:
            spec.check(spec.flag, [text] if spec.repeatable else text)
            return text if spec.repeatable or kind is str else kind(text.strip())
        except (ConfigurationError, ValueError) as exc:
            reason = exc.reason if isinstance(exc, ConfigurationError) else str(exc)
            raise argparse.ArgumentTypeError(reason) from None

    parse.__name__ = spec.dest  # argparse names the type in some messages
    return parse


_EMBEDDED_ATTRIBUTE = "harness_embedded_emulator"


@dataclass(frozen=True, slots=True)
class EmbeddedEmulator:
    """Where the embedded emulator of a run is.

    The master that started it records it on the parsed options (one attribute, not
    an option: the web UI's form neither shows nor resets it), and workers receive it
    with the other custom values of the spawn message."""

    http_url: str
    ca_file: str | None
    admin_url: str
    ca_pem: str | None = None
    cognito_identity_url: str | None = None
    """The emulator's Cognito Identity API (``--identity-pool-id``)."""
    """The CA certificate itself (``--tls``): a worker on another machine has no file at
    ``ca_file``, so it trusts a copy of its own (:func:`local_ca_file`)."""

    def attach(self, options: Any) -> None:
        recorded = [
            self.http_url, self.ca_file, self.admin_url, self.ca_pem, self.cognito_identity_url
        ]  # fmt: skip
        setattr(options, _EMBEDDED_ATTRIBUTE, recorded)

    @classmethod
    def of(cls, options: Any) -> EmbeddedEmulator | None:
        """The embedded emulator recorded on ``options``; None against a real API."""
        recorded = getattr(options, _EMBEDDED_ATTRIBUTE, None)
        return None if not recorded else cls(*recorded)


def configured_host(options: Any) -> str:
    """``--host`` as the user meant it: empty when it is the embedded emulator's URL
    (Locust's web UI puts the URL it shows back into ``options.host``)."""
    host = str(getattr(options, "host", "") or "")
    embedded = EmbeddedEmulator.of(options)
    return "" if embedded is not None and host == embedded.http_url else host


def settings_from_options(options: Any, *, host: str | None = None) -> HarnessSettings:
    """Check every option and the combinations; ``host`` overrides ``--host``."""
    values = {
        name: spec.check(spec.flag, getattr(options, spec.dest, spec.default))
        for name, spec in option_fields(HarnessSettings)
    }
    http_url = _host("--host", host if host is not None else configured_host(options))
    _check_subscriptions(values["channels"], values)
    if values["region"] is None and http_url:
        values["region"] = Endpoints.from_http_url(http_url).region
    if values["ca_file"] is None and not http_url:
        values["ca_file"] = _embedded_ca(options)
    values["run_id"] = values["run_id"] or new_run_id()
    settings = HarnessSettings(host=http_url, **values)
    if not settings.embedded:
        _check_real_target(settings)
    return settings


PER_USER_OPTIONS = (
    "subscriptions_per_user",
    "wildcard_subscriptions",
    "publish_rate",
    "events_per_publish",
    "payload_bytes",
    "publish_via",
)
"""The options a user class may set for its own users (``user_options``, by field name)."""


def check_user_options(owner: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """A user class's own option values (``{"publish_rate": 30}``), each checked as its
    option is; raises :class:`ConfigurationError` naming ``<owner>.user_options``."""
    specs = dict(option_fields(HarnessSettings))
    checked: dict[str, Any] = {}
    for name, value in values.items():
        if name not in PER_USER_OPTIONS:
            raise ConfigurationError(
                f"{owner}.user_options",
                f"{name!r} is not an option a user class can set; these are "
                f"{', '.join(PER_USER_OPTIONS)}",
            )
        checked[name] = specs[name].check(f"{owner}.user_options[{name!r}]", value)
    return checked


def settings_for_users(
    settings: HarnessSettings, owner: str, values: Mapping[str, Any]
) -> HarnessSettings:
    """``settings`` with a user class's own option values, and its subscriptions checked
    against the run's channels again."""
    if not values:
        return settings
    updated = dataclasses.replace(settings, **check_user_options(owner, values))
    counts = ("subscriptions_per_user", "wildcard_subscriptions")
    try:
        _check_subscriptions(updated.channels, {name: getattr(updated, name) for name in counts})
    except ConfigurationError as exc:
        raise ConfigurationError(f"{owner}.user_options", str(exc)) from None
    return updated


def _check_subscriptions(templates: tuple[ChannelTemplate, ...], values: dict[str, Any]) -> None:
    """Wildcards that cover every template, and no more subscriptions than AppSync allows."""
    wildcards_wanted = values["wildcard_subscriptions"]
    if wildcards_wanted:
        uncovered = [t.name for t in templates if t.wildcard is None]
        if uncovered:
            raise ConfigurationError(
                "--wildcard-subscriptions",
                f"no wildcard covers {', '.join(uncovered)} (a wildcard needs /namespace/... "
                "before the first brace group)",
            )
    wildcards = {t.wildcard for t in templates if t.wildcard}
    if wildcards_wanted > len(wildcards):
        raise ConfigurationError(
            "--wildcard-subscriptions",
            f"is {wildcards_wanted}, but --channels has only {len(wildcards)} "
            f"distinct wildcard(s): {', '.join(sorted(wildcards))}",
        )
    per_connection = values["subscriptions_per_user"] + wildcards_wanted
    if per_connection > MAX_SUBSCRIPTIONS_PER_CONNECTION:
        raise ConfigurationError(
            "--subscriptions-per-user",
            f"with --wildcard-subscriptions makes {per_connection} subscriptions per "
            f"connection; AppSync allows {MAX_SUBSCRIPTIONS_PER_CONNECTION}",
        )


def _embedded_ca(options: Any) -> str | None:
    embedded = EmbeddedEmulator.of(options)
    return local_ca_file(embedded) if embedded is not None else None


_CA_COPIES: dict[str, str] = {}
"""CA certificates received from a master, by content, to their file in this process."""


def local_ca_file(embedded: EmbeddedEmulator) -> str | None:
    """A file of the embedded emulator's CA that this process can read: the master's own
    (same machine), else a copy of the certificate it sent, written once per process."""
    path, pem = embedded.ca_file, embedded.ca_pem
    if path is None or pem is None or os.path.exists(path):
        return path
    copy = _CA_COPIES.get(pem)
    if copy is None:
        with tempfile.NamedTemporaryFile(
            "w", prefix="appsync-emulator-ca-", suffix=".pem", delete=False
        ) as file:
            file.write(pem)
        copy = _CA_COPIES[pem] = file.name
        atexit.register(_remove, copy)
    return copy


def _remove(path: str) -> None:
    with contextlib.suppress(OSError):
        os.remove(path)


def _check_real_target(settings: HarnessSettings) -> None:
    """Each auth mode the run uses has its credential (against a real API there is no
    test identity to fall back on)."""
    modes = {settings.auth_mode}
    modes.update(
        mode
        for mode in (
            settings.connect_auth_mode,
            settings.subscribe_auth_mode,
            settings.publish_auth_mode,
        )
        if mode is not None
    )
    tokens = settings.auth_token or settings.auth_token_file or settings.auth_token_command
    for mode in sorted(modes, key=lambda mode: mode.value):
        if mode is AuthMode.API_KEY and not (settings.api_key or settings.api_key_file):
            raise ConfigurationError(
                "--api-key", "(or --api-key-file) is required for API_KEY against --host"
            )
        if mode in TOKEN_MODES and not tokens:
            raise ConfigurationError(
                "--auth-token",
                f"(or --auth-token-file, --auth-token-command) is required for {mode.value} "
                "against --host",
            )
        if mode is AuthMode.AWS_IAM and not settings.region:
            raise ConfigurationError(
                "--region",
                "is required for AWS_IAM when the host is not *.appsync-api.<region>...",
            )


def publish_rate_warning(settings: HarnessSettings) -> str | None:
    """A warning when WebSocket publishing would exceed AppSync's per-connection rate
    (docs/protocol.md#channels)."""
    rate = settings.publishes_per_second
    if settings.publish_via == "ws" and rate > MAX_PUBLISHES_PER_SECOND_PER_CONNECTION:
        return (
            f"--publish-rate {settings.publish_rate:g} with --events-per-publish "
            f"{settings.events_per_publish} is {rate:g} publishes/s per connection; AppSync "
            f"throttles above {MAX_PUBLISHES_PER_SECOND_PER_CONNECTION}/s"
        )
    return None


def new_run_id() -> str:
    return uuid.uuid4().hex[:12]
