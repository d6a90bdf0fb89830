"""The harness's options and the one settings object built from them.

Every option is declared once, in :data:`OPTIONS`, and registered on Locust's
parser (:func:`register_options`), so it works on the command line, in
``locust.conf``, in ``[tool.locust]`` of ``pyproject.toml``, as a ``LOCUST_*``
environment variable, and in the web UI's start form. Parsed values stay
plain ``str``/``int``/``float`` (the web UI converts form fields back with
``type(default)(text)``); :func:`settings_from_options` checks them and
builds :class:`HarnessSettings`, raising
:class:`~harness.errors.ConfigurationError` naming the option.
"""

from __future__ import annotations

import argparse
import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from harness.config.retry import RetryPolicy
from harness.errors import ConfigurationError, MessageValidationError
from harness.measure.baseline import load_baseline, parse_max_regression
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

PUBLISH_VIA = ("ws", "http")
DEFAULT_RECONNECT_POLICY = "full-jitter:base=500ms,cap=30s"


@dataclass(frozen=True, slots=True)
class HarnessSettings:
    """Everything a run needs, checked. Secrets are kept out of ``repr``."""

    host: str
    """The API's HTTP endpoint; empty for the embedded emulator."""
    auth_mode: AuthMode
    api_key: str = field(repr=False)
    auth_token: str = field(repr=False)
    region: str | None
    aws_profile: str | None
    channels: tuple[ChannelTemplate, ...]
    subscriptions_per_user: int
    wildcard_subscriptions: int
    publish_rate: float
    events_per_publish: int
    payload_bytes: int
    publish_via: str
    ca_file: str | None
    iam_signer: str
    connect_timeout_s: float
    operation_timeout_s: float
    emulator_args: tuple[str, ...]
    run_id: str
    reconnect_policy: RetryPolicy
    publish_retry_policy: RetryPolicy
    backoff_tolerance_s: float
    report_dir: str
    slos: tuple[Slo, ...]
    baseline: str
    max_regression: float

    @property
    def embedded(self) -> bool:
        return not self.host

    @property
    def publishes_per_second(self) -> float:
        return self.publish_rate / self.events_per_publish

    def describe(self) -> dict[str, Any]:
        """The settings without secrets, for logs and reports."""
        return {
            "host": self.host or "(embedded emulator)",
            "auth_mode": self.auth_mode.value,
            "region": self.region,
            "channels": [t.name for t in self.channels],
            "subscriptions_per_user": self.subscriptions_per_user,
            "wildcard_subscriptions": self.wildcard_subscriptions,
            "publish_rate": self.publish_rate,
            "events_per_publish": self.events_per_publish,
            "payload_bytes": self.payload_bytes,
            "publish_via": self.publish_via,
            "reconnect_policy": self.reconnect_policy.label,
            "publish_retry_policy": self.publish_retry_policy.label,
            "backoff_tolerance_s": self.backoff_tolerance_s,
            "run_id": self.run_id,
        }


# -- checks: raw option value -> checked value (ConfigurationError on failure) --


def _int_range(low: int, high: int) -> Callable[[str, Any], int]:
    def check(option: str, value: Any) -> int:
        try:
            number = int(str(value).strip())
        except ValueError:
            raise ConfigurationError(option, f"must be a whole number, not {value!r}") from None
        if not low <= number <= high:
            raise ConfigurationError(option, f"must be between {low} and {high}, not {number}")
        return number

    return check


def _positive_float(option: str, value: Any) -> float:
    try:
        number = float(str(value).strip())
    except ValueError:
        raise ConfigurationError(option, f"must be a number, not {value!r}") from None
    if not (math.isfinite(number) and number > 0):
        raise ConfigurationError(option, f"must be a finite number above 0, not {value!r}")
    return number


def _non_negative_float(option: str, value: Any) -> float:
    try:
        number = float(str(value).strip())
    except ValueError:
        raise ConfigurationError(option, f"must be a number, not {value!r}") from None
    if not (math.isfinite(number) and number >= 0):
        raise ConfigurationError(option, f"must be a finite number of at least 0, not {value!r}")
    return number


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


def _max_regression(option: str, value: Any) -> float:
    return parse_max_regression(str(value), option)


def _text(option: str, value: Any) -> str:
    return str(value or "").strip()


def _choice(choices: tuple[str, ...]) -> Callable[[str, Any], str]:
    def check(option: str, value: Any) -> str:
        text = str(value).strip().lower()
        if text not in choices:
            raise ConfigurationError(option, f"must be one of {', '.join(choices)}, not {value!r}")
        return text

    return check


def _host(option: str, value: Any) -> str:
    text = str(value or "").strip()
    if not text:
        return ""
    try:
        return Endpoints.from_http_url(text).http_url
    except MessageValidationError as exc:
        raise ConfigurationError(option, exc.reason) from None


@dataclass(frozen=True, slots=True)
class OptionSpec:
    """One harness option: its flag, default, help and check."""

    flag: str
    default: str | int | float | list[str]
    help: str
    check: Callable[[str, Any], Any]
    metavar: str | None = None
    secret: bool = False
    web_ui: bool = True
    repeatable: bool = False
    """Given once per value (``--slo A --slo B``); the check receives the list."""

    @property
    def dest(self) -> str:
        return self.flag.lstrip("-").replace("-", "_")

    @property
    def env_var(self) -> str:
        return "LOCUST_" + self.dest.upper()


OPTIONS: tuple[OptionSpec, ...] = (
    OptionSpec(
        "--auth-mode",
        "API_KEY",
        "how connects, subscribes and publishes are authorized: API_KEY, AWS_IAM, "
        "AMAZON_COGNITO_USER_POOLS, OPENID_CONNECT or AWS_LAMBDA (case-insensitive)",
        lambda option, value: AuthMode.parse(str(value), option=option),
        metavar="MODE",
    ),
    OptionSpec(
        "--api-key",
        "",
        "the API key for API_KEY (default against the embedded emulator: its test key)",
        _text,
        metavar="KEY",
        secret=True,
    ),
    OptionSpec(
        "--auth-token",
        "",
        "the JWT (Cognito, OIDC) or Lambda authorizer token; against the embedded "
        "emulator a token is minted when this is empty",
        _text,
        metavar="TOKEN",
        secret=True,
    ),
    OptionSpec(
        "--region",
        "",
        "the API's AWS region for AWS_IAM signing; derived from a standard "
        "*.appsync-api.<region>.amazonaws.com host when empty",
        _text,
        metavar="REGION",
    ),
    OptionSpec(
        "--aws-profile",
        "",
        "a named profile of the AWS shared config for AWS_IAM credentials; empty: "
        "botocore's default chain (environment, profile, role)",
        _text,
        metavar="PROFILE",
    ),
    OptionSpec(
        "--channels",
        "/default/room-{1..20}",
        "channel templates, separated by commas or spaces; {1..20} is a range, "
        "{a,b} a list; stats are named after the template",
        lambda option, value: parse_channel_templates(str(value), option=option),
        metavar="TEMPLATES",
    ),
    OptionSpec(
        "--subscriptions-per-user",
        1,
        "channels each subscribing user subscribes to, picked at random from --channels",
        _int_range(0, MAX_SUBSCRIPTIONS_PER_CONNECTION),
        metavar="N",
    ),
    OptionSpec(
        "--wildcard-subscriptions",
        0,
        "wildcard subscriptions (/ns/prefix/*) each subscribing user adds, one per template",
        _int_range(0, MAX_SUBSCRIPTIONS_PER_CONNECTION),
        metavar="N",
    ),
    OptionSpec(
        "--publish-rate",
        1.0,
        "events per second each publishing user sends, on a fixed schedule",
        _positive_float,
        metavar="EVENTS_PER_S",
    ),
    OptionSpec(
        "--events-per-publish",
        1,
        f"events per publish request, 1 to {MAX_EVENTS_PER_REQUEST}",
        _int_range(1, MAX_EVENTS_PER_REQUEST),
        metavar="N",
    ),
    OptionSpec(
        "--payload-bytes",
        200,
        "size of each event's JSON text; padding is added beyond the trace fields",
        _int_range(0, MAX_EVENT_BYTES),
        metavar="BYTES",
    ),
    OptionSpec(
        "--publish-via",
        "ws",
        "publish over the WebSocket (ws) or with POST /event (http)",
        _choice(PUBLISH_VIA),
        metavar="ws|http",
    ),
    OptionSpec(
        "--ca-file",
        "",
        "PEM file of CAs to trust for https:// and wss:// (default: the system store)",
        _text,
        metavar="PEM",
    ),
    OptionSpec(
        "--iam-signer",
        "fast",
        "AWS_IAM signer: fast (cached signing keys, proven identical to botocore) or botocore",
        _choice(tuple(ENGINES)),
        metavar="ENGINE",
    ),
    OptionSpec(
        "--connect-timeout",
        15.0,
        "seconds a connect (TCP, TLS, upgrade, connection_ack) may take",
        _positive_float,
        metavar="SECONDS",
    ),
    OptionSpec(
        "--operation-timeout",
        10.0,
        "seconds to wait for the answer to a subscribe, unsubscribe or publish",
        _positive_float,
        metavar="SECONDS",
    ),
    OptionSpec(
        "--reconnect-policy",
        DEFAULT_RECONNECT_POLICY,
        "how a lost connection is retried: STRATEGY[:base=,cap=,multiplier=,max-attempts=,"
        "max-elapsed=] with STRATEGY none, constant, exponential, full-jitter, equal-jitter or "
        "decorrelated-jitter, or off (see harness/config/retry.py)",
        _retry_policy,
        metavar="POLICY",
    ),
    OptionSpec(
        "--publish-retry-policy",
        "off",
        "how a publish refused with a retryable error (throttle, timeout, lost connection) is "
        "retried, e.g. exponential:base=100ms,cap=2s,max-attempts=5; the event keeps its "
        "sequence number",
        _retry_policy,
        metavar="POLICY",
    ),
    OptionSpec(
        "--backoff-tolerance",
        0.1,
        "seconds an attempt may start after the longest delay its policy allows before it "
        "counts as non-conforming (scheduling slack on a busy machine)",
        _non_negative_float,
        metavar="SECONDS",
    ),
    OptionSpec(
        "--report-dir",
        "",
        "directory for the end-of-run reports (resilience.json); created if missing",
        _text,
        metavar="DIR",
    ),
    OptionSpec(
        "--slo",
        [],
        "a service-level objective the run must meet (repeatable), e.g. deliver.p99<=250ms, "
        "connect.p99.9<2s, lost==0, errors.rate<0.1%, leaks==0, backoff.conformance>=99%; "
        "a broken SLO makes the exit status 3 (see harness/measure/slo.py)",
        _slos,
        metavar="SLO",
        web_ui=False,
        repeatable=True,
    ),
    OptionSpec(
        "--slo-file",
        "",
        "file of SLOs, one per line (# comments)",
        _slo_file,
        metavar="FILE",
    ),
    OptionSpec(
        "--baseline",
        "",
        "summary.json of an earlier run to compare with: a percentile or rate worse by more "
        "than --max-regression makes the exit status 4",
        _baseline,
        metavar="SUMMARY_JSON",
    ),
    OptionSpec(
        "--max-regression",
        "10%",
        "how much worse than --baseline a figure may be (a percent, or a fraction)",
        _max_regression,
        metavar="SHARE",
    ),
    OptionSpec(
        "--emulator-args",
        "",
        'extra options for the embedded emulator, e.g. "--fault drop:rate=0.5" '
        "(see python -m harness.emulator --help)",
        lambda option, value: tuple(str(value or "").split()),
        metavar="ARGS",
    ),
    OptionSpec(
        "--run-id",
        "",
        "tag stamped on every event (default: generated); events of other runs are ignored",
        _text,
        metavar="ID",
        web_ui=False,
    ),
)


def register_options(parser: Any) -> None:
    """Add every option to Locust's (configargparse) parser.

    Each value is checked as it is parsed, so a bad one stops Locust with
    ``argument --option: reason`` before anything starts.
    """
    for spec in OPTIONS:
        extra: dict[str, Any] = {"action": "append"} if spec.repeatable else {}
        parser.add_argument(
            spec.flag,
            type=_argparse_type(spec),
            default=spec.default,  # argparse copies a list default before appending
            metavar=spec.metavar,
            help=spec.help.replace("%", "%%") + _default_note(spec),
            env_var=spec.env_var,
            include_in_web_ui=spec.web_ui,
            is_secret=spec.secret,
            **extra,
        )


def _default_note(spec: OptionSpec) -> str:
    if spec.secret or spec.default in ("", None):
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

    def attach(self, options: Any) -> None:
        setattr(options, _EMBEDDED_ATTRIBUTE, [self.http_url, self.ca_file, self.admin_url])

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
        spec.dest: spec.check(spec.flag, getattr(options, spec.dest, spec.default))
        for spec in OPTIONS
    }
    http_url = _host("--host", host if host is not None else configured_host(options))
    templates: tuple[ChannelTemplate, ...] = values["channels"]
    if values["wildcard_subscriptions"]:
        uncovered = [t.name for t in templates if t.wildcard is None]
        if uncovered:
            raise ConfigurationError(
                "--wildcard-subscriptions",
                f"no wildcard covers {', '.join(uncovered)} (a wildcard needs /namespace/... "
                "before the first brace group)",
            )
    wildcards = {t.wildcard for t in templates if t.wildcard}
    if values["wildcard_subscriptions"] > len(wildcards):
        raise ConfigurationError(
            "--wildcard-subscriptions",
            f"is {values['wildcard_subscriptions']}, but --channels has only {len(wildcards)} "
            f"distinct wildcard(s): {', '.join(sorted(wildcards))}",
        )
    per_connection = values["subscriptions_per_user"] + values["wildcard_subscriptions"]
    if per_connection > MAX_SUBSCRIPTIONS_PER_CONNECTION:
        raise ConfigurationError(
            "--subscriptions-per-user",
            f"with --wildcard-subscriptions makes {per_connection} subscriptions per "
            f"connection; AppSync allows {MAX_SUBSCRIPTIONS_PER_CONNECTION}",
        )
    region = values["region"] or None
    if region is None and http_url:
        region = Endpoints.from_http_url(http_url).region
    settings = HarnessSettings(
        host=http_url,
        auth_mode=values["auth_mode"],
        api_key=values["api_key"],
        auth_token=values["auth_token"],
        region=region,
        aws_profile=values["aws_profile"] or None,
        channels=templates,
        subscriptions_per_user=values["subscriptions_per_user"],
        wildcard_subscriptions=values["wildcard_subscriptions"],
        publish_rate=values["publish_rate"],
        events_per_publish=values["events_per_publish"],
        payload_bytes=values["payload_bytes"],
        publish_via=values["publish_via"],
        ca_file=values["ca_file"] or (_embedded_ca(options) if not http_url else None),
        iam_signer=values["iam_signer"],
        connect_timeout_s=values["connect_timeout"],
        operation_timeout_s=values["operation_timeout"],
        emulator_args=values["emulator_args"],
        run_id=values["run_id"] or new_run_id(),
        reconnect_policy=values["reconnect_policy"],
        publish_retry_policy=values["publish_retry_policy"],
        backoff_tolerance_s=values["backoff_tolerance"],
        report_dir=values["report_dir"],
        slos=values["slo"] + values["slo_file"],
        baseline=values["baseline"],
        max_regression=values["max_regression"],
    )
    if not settings.embedded:
        _check_real_target(settings)
    return settings


def _embedded_ca(options: Any) -> str | None:
    embedded = EmbeddedEmulator.of(options)
    return embedded.ca_file if embedded is not None else None


def _check_real_target(settings: HarnessSettings) -> None:
    mode = settings.auth_mode
    if mode is AuthMode.API_KEY and not settings.api_key:
        raise ConfigurationError("--api-key", "is required for API_KEY against --host")
    if (
        mode
        in (
            AuthMode.AMAZON_COGNITO_USER_POOLS,
            AuthMode.OPENID_CONNECT,
            AuthMode.AWS_LAMBDA,
        )
        and not settings.auth_token
    ):
        raise ConfigurationError("--auth-token", f"is required for {mode.value} against --host")
    if mode is AuthMode.AWS_IAM and not settings.region:
        raise ConfigurationError(
            "--region", "is required for AWS_IAM when the host is not *.appsync-api.<region>..."
        )


def publish_rate_warning(settings: HarnessSettings) -> str | None:
    """A warning when WebSocket publishing would exceed AppSync's per-connection rate (§6)."""
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
