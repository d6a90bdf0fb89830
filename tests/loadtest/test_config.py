"""The harness's options: the checks of ``settings_from_options`` and their cross checks,
the same options through Locust's real parser (command line, ``LOCUST_*`` environment
variables, ``locust.conf``, ``[tool.locust]`` in ``pyproject.toml``, the web UI's view
of them), and their documentation."""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import locust
import pytest
from locust.argument_parser import LocustArgumentParser, get_parser

from harness.config.options import OptionSpec
from harness.errors import ConfigurationError
from harness.loadtest import install, users
from harness.loadtest.options_doc import BEGIN, END, PAGES, options_table
from harness.loadtest.runtime import HarnessRuntime
from harness.loadtest.scenario import per_user
from harness.loadtest.settings import (
    MAX_PAYLOAD_BYTES,
    OPTIONS,
    PER_USER_OPTIONS,
    EmbeddedEmulator,
    HarnessSettings,
    ListenAddress,
    check_user_options,
    configured_host,
    publish_rate_warning,
    settings_for_users,
    settings_from_options,
)
from harness.measure.schema_doc import replace_generated
from harness.protocol import (
    MAX_EVENT_BYTES,
    MAX_EVENTS_PER_REQUEST,
    MAX_PUBLISHES_PER_SECOND_PER_CONNECTION,
    MAX_SUBSCRIPTIONS_PER_CONNECTION,
)
from harness.signing import AuthMode

install(locust.events)  # the harness options on Locust's parser, as a locustfile does

REPO_ROOT = Path(__file__).resolve().parents[2]
SPECS = {spec.flag: spec for spec in OPTIONS}
STANDARD_HOST = "https://abcdefghijklmnopqrstuvwxyz.appsync-api.eu-west-2.amazonaws.com/event"
CUSTOM_HOST = "https://events.example.com/event"
SECRET_API_KEY = "da2-SECRETAPIKEY7f3a9c1e5b"
SECRET_TOKEN = "eyJSECRET.TOKEN.e8d2b6a4c0"
TOKEN_MODES = (AuthMode.AMAZON_COGNITO_USER_POOLS, AuthMode.OPENID_CONNECT, AuthMode.AWS_LAMBDA)


def namespace(**values: Any) -> argparse.Namespace:
    """Every option at its default, as Locust parses them, with ``values`` on top
    (keys are option dests, plus ``host``)."""
    defaults: dict[str, Any] = {spec.dest: spec.default for spec in OPTIONS}
    return argparse.Namespace(**{**defaults, "host": "", **values})


def distinct_wildcards(count: int) -> str:
    """Templates with ``count`` different wildcards: ``/default/wN/x`` under ``/default/wN/*``."""
    return " ".join(f"/default/w{number}/x" for number in range(1, count + 1))


def settings_with(**values: Any) -> HarnessSettings:
    return settings_from_options(namespace(**values))


def refused(options: argparse.Namespace, **kwargs: Any) -> ConfigurationError:
    with pytest.raises(ConfigurationError) as info:
        settings_from_options(options, **kwargs)
    assert str(info.value) == f"{info.value.option}: {info.value.reason}"
    return info.value


# -- defaults ------------------------------------------------------------------------------


@pytest.mark.parametrize("options", [namespace(), argparse.Namespace()], ids=["defaults", "empty"])
def test_the_defaults_make_valid_settings(options: argparse.Namespace) -> None:
    settings = settings_from_options(options)
    assert settings.embedded
    assert settings.host == ""
    assert settings.auth_mode is AuthMode.API_KEY
    assert settings.api_key == ""
    assert settings.auth_token == ""
    assert settings.region is None
    assert settings.aws_profile is None
    assert [t.name for t in settings.channels] == ["/default/room-{1..20}"]
    assert settings.channels[0].channels == tuple(f"/default/room-{n}" for n in range(1, 21))
    assert settings.subscriptions_per_user == 1
    assert settings.wildcard_subscriptions == 0
    assert settings.publish_rate == 1.0
    assert settings.events_per_publish == 1
    assert settings.payload_bytes == 200
    assert settings.publish_via == "ws"
    assert settings.ca_file is None
    assert settings.iam_signer == "fast"
    assert settings.connect_timeout_s == 15.0
    assert settings.operation_timeout_s == 10.0
    assert settings.emulator_args == ()
    assert re.fullmatch(r"[0-9a-f]{12}", settings.run_id)
    assert settings.publishes_per_second == 1.0
    assert publish_rate_warning(settings) is None


def test_values_are_checked_and_normalised() -> None:
    settings = settings_with(
        auth_mode=" aws-iam ",
        region=" eu-west-1 ",
        aws_profile=" load ",
        channels="/default/a, /x/{b,c}",
        subscriptions_per_user=" 7 ",
        wildcard_subscriptions="0",
        publish_rate="2.5",
        events_per_publish=str(MAX_EVENTS_PER_REQUEST),
        payload_bytes=str(MAX_EVENT_BYTES),
        publish_via="HTTP",
        ca_file=" /etc/ca.pem ",
        iam_signer="BOTOCORE",
        connect_timeout="1e-3",
        operation_timeout=30,
        emulator_args="  --fault drop:rate=0.5   --seed 3 ",
        run_id=" my-run ",
    )
    assert settings.auth_mode is AuthMode.AWS_IAM
    assert settings.region == "eu-west-1"
    assert settings.aws_profile == "load"
    assert [t.name for t in settings.channels] == ["/default/a", "/x/{b,c}"]
    assert settings.subscriptions_per_user == 7
    assert settings.publish_rate == 2.5
    assert settings.events_per_publish == MAX_EVENTS_PER_REQUEST
    assert settings.payload_bytes == MAX_EVENT_BYTES
    assert settings.publish_via == "http"
    assert settings.ca_file == "/etc/ca.pem"
    assert settings.iam_signer == "botocore"
    assert settings.connect_timeout_s == 0.001
    assert settings.operation_timeout_s == 30.0
    assert settings.emulator_args == ("--fault", "drop:rate=0.5", "--seed", "3")
    assert settings.run_id == "my-run"
    assert settings.publishes_per_second == 2.5 / MAX_EVENTS_PER_REQUEST


@pytest.mark.parametrize(
    ("dest", "value"),
    [
        ("subscriptions_per_user", "0"),
        ("subscriptions_per_user", str(MAX_SUBSCRIPTIONS_PER_CONNECTION)),
        ("wildcard_subscriptions", str(MAX_SUBSCRIPTIONS_PER_CONNECTION)),
        ("events_per_publish", "1"),
        ("payload_bytes", "0"),
        ("payload_bytes", str(MAX_EVENT_BYTES + 1)),  # over AppSync's limit, to drive it
        ("payload_bytes", str(MAX_PAYLOAD_BYTES)),
        ("publish_rate", "0.001"),
    ],
)
def test_the_bounds_are_allowed(dest: str, value: str) -> None:
    extra = (
        {"subscriptions_per_user": 0, "channels": distinct_wildcards(int(value))}
        if dest == "wildcard_subscriptions"
        else {}
    )
    settings = settings_with(**{dest: value, **extra})
    assert getattr(settings, dest) == type(SPECS["--" + dest.replace("_", "-")].default)(value)


# -- bad values ----------------------------------------------------------------------------

BAD_VALUES = [
    ("--auth-mode", "API", "unknown auth mode 'API'"),
    ("--auth-mode", "IAM", "unknown auth mode 'IAM'"),
    ("--auth-mode", "", "unknown auth mode ''"),
    ("--channels", "", "at least one channel template"),
    ("--channels", "default/room", "'default/room' must start with '/'"),
    ("--channels", "/default/{a", "'/default/{a' has unbalanced braces"),
    ("--channels", "/default/room_{1..2}", "'/default/room_1' (from '/default/room_{1..2}')"),
    ("--subscriptions-per-user", "-1", "must be between 0 and 200, not -1"),
    ("--subscriptions-per-user", "201", "must be between 0 and 200, not 201"),
    ("--subscriptions-per-user", "1.5", "must be a whole number, not '1.5'"),
    ("--subscriptions-per-user", "many", "must be a whole number, not 'many'"),
    ("--subscriptions-per-user", "", "must be a whole number, not ''"),
    ("--wildcard-subscriptions", "-1", "must be between 0 and 200, not -1"),
    ("--wildcard-subscriptions", "201", "must be between 0 and 200, not 201"),
    ("--wildcard-subscriptions", "two", "must be a whole number, not 'two'"),
    ("--publish-rate", "0", "must be a finite number above 0, not '0'"),
    ("--publish-rate", "-1", "must be a finite number above 0, not '-1'"),
    ("--publish-rate", "nan", "must be a finite number above 0, not 'nan'"),
    ("--publish-rate", "inf", "must be a finite number above 0, not 'inf'"),
    ("--publish-rate", "-inf", "must be a finite number above 0, not '-inf'"),
    ("--publish-rate", "fast", "must be a number, not 'fast'"),
    ("--publish-rate", "", "must be a number, not ''"),
    ("--events-per-publish", "0", f"must be between 1 and {MAX_EVENTS_PER_REQUEST}, not 0"),
    ("--events-per-publish", "6", f"must be between 1 and {MAX_EVENTS_PER_REQUEST}, not 6"),
    ("--events-per-publish", "2.0", "must be a whole number, not '2.0'"),
    ("--payload-bytes", "-1", f"must be between 0 and {MAX_PAYLOAD_BYTES}, not -1"),
    (
        "--payload-bytes",
        str(MAX_PAYLOAD_BYTES + 1),
        f"must be between 0 and {MAX_PAYLOAD_BYTES}, not {MAX_PAYLOAD_BYTES + 1}",
    ),
    ("--payload-bytes", "1k", "must be a whole number, not '1k'"),
    ("--publish-via", "wss", "must be one of ws, http, not 'wss'"),
    ("--publish-via", "https", "must be one of ws, http, not 'https'"),
    ("--publish-via", "", "must be one of ws, http, not ''"),
    ("--payload-chars", "emoji", "must be one of ascii, html, not 'emoji'"),
    ("--iam-signer", "slow", "must be one of botocore, fast, not 'slow'"),
    ("--iam-signer", "", "not ''"),
    ("--connect-timeout", "0", "must be a finite number above 0, not '0'"),
    ("--connect-timeout", "-5", "must be a finite number above 0, not '-5'"),
    ("--connect-timeout", "nan", "must be a finite number above 0, not 'nan'"),
    ("--connect-timeout", "soon", "must be a number, not 'soon'"),
    ("--operation-timeout", "0", "must be a finite number above 0, not '0'"),
    ("--operation-timeout", "inf", "must be a finite number above 0, not 'inf'"),
    ("--operation-timeout", "x", "must be a number, not 'x'"),
    ("--reconnect-policy", "linear", "unknown strategy 'linear'"),
    ("--reconnect-policy", "full-jitter:base=fast", "base='fast' must be a duration"),
    ("--reconnect-policy", "exponential:base=2s,cap=1s", "cap= must be at least base="),
    ("--reconnect-policy", "constant:max-attempts=-1", "must be a whole number of at least 0"),
    ("--reconnect-policy", "none:jitter=1", "none does not take jitter"),
    ("--publish-retry-policy", "exponential:multiplier=0.5", "must be a number of at least 1"),
    ("--publish-retry-policy", "", "unknown strategy ''"),
    ("--backoff-tolerance", "-0.1", "must be a finite number of at least 0, not '-0.1'"),
    ("--backoff-tolerance", "soon", "must be a number, not 'soon'"),
    ("--slo", "latency<1ms", "unknown figure 'latency'"),
    ("--slo", "deliver.p99<=250", "has no unit"),
    ("--slo-file", "/nonexistent/slos.txt", "/nonexistent/slos.txt"),
    ("--baseline", "/nonexistent/summary.json", "/nonexistent/summary.json"),
    ("--price-file", "/nonexistent/prices.toml", "cannot read /nonexistent/prices.toml"),
    ("--max-regression", "10", "write 10%"),
    ("--max-regression", "-5%", "'-5%' is not a percent"),
    ("--emulator-bind", "0.0.0.0", "0.0.0.0 listens everywhere"),
    ("--emulator-bind", "::", ":: listens everywhere"),
    ("--emulator-bind", "10.0.0.1:http", "from 0 to 65535 (0: a free one), not 'http'"),
    ("--emulator-bind", "10.0.0.1:65536", "not '65536'"),
    ("--emulator-bind", "10.0.0.1:", "not ''"),
    ("--emulator-bind", "[10.0.0.1]:80", "brackets are for IPv6 addresses"),
    ("--emulator-bind", "10.0.0.300", "'10.0.0.300' is neither an IP address nor a host name"),
    ("--emulator-bind", "bad_host", "'bad_host' is neither an IP address nor a host name"),
    ("--emulator-bind", "224.0.0.1", "224.0.0.1 is not an address to listen on"),
    ("--emulator-bind", "fe80::1%eth0", "an address with a zone is not supported"),
    ("--allow-loss", "yes", "must be true or false, not 'yes'"),
    ("--prometheus", "maybe", "must be true or false, not 'maybe'"),
    ("--prometheus-port", "65536", "must be between 0 and 65535, not 65536"),
    ("--prometheus-port", "http", "must be a whole number"),
    ("--max-clock-offset", "-0.001", "must be a finite number of at least 0"),
    ("--max-clock-offset", "5ms", "must be a number"),
    ("--emulator-args", "--tls --port 8000", "--port is set by --emulator-bind ADDR[:PORT]"),
    ("--emulator-args", "--host=10.0.0.1", "--host is set by --emulator-bind ADDR[:PORT]"),
    ("--connect-auth-mode", "KEY", "unknown auth mode 'KEY'"),
    ("--subscribe-auth-mode", "iam", "unknown auth mode 'iam'"),
    ("--publish-auth-mode", "LAMBDA", "unknown auth mode 'LAMBDA'"),
    ("--api-key-file", "/nonexistent/keys.txt", "cannot read /nonexistent/keys.txt"),
    ("--auth-token-file", "/nonexistent/tokens.txt", "cannot read /nonexistent/tokens.txt"),
    ("--token-refresh", "-1", "must be a finite number of at least 0"),
    ("--identity-pool-id", "my-pool", "'my-pool' is not REGION:GUID"),
    ("--scenario", "fanout", "unknown scenario 'fanout'; choose one of auth_failure, "),
    ("--scenario", "../locustfile", "unknown scenario '../locustfile'"),
]
BAD_HOSTS = [
    ("ftp://example.com/event", "must be an http(s) URL"),
    ("example.com", "must be an http(s) URL"),
    ("https://", "must be an http(s) URL"),
    ("https://events.example.com/graphql", "path must be '/event'"),
    ("https://events.example.com/event?x=1", "must not have a query or fragment"),
]
FREE_TEXT = {
    "--api-key",
    "--auth-token",
    "--region",
    "--aws-profile",
    "--ca-file",
    "--run-id",
    "--report-dir",
    "--auth-token-command",
    "--identity-pool-login",
}
"""Options that take any text, so no value of theirs is bad on its own."""


def test_every_checked_option_has_bad_values_here() -> None:
    assert {flag for flag, _, _ in BAD_VALUES} | FREE_TEXT == set(SPECS)


@pytest.mark.parametrize(
    ("flag", "value", "reason"), BAD_VALUES, ids=[f"{f}={v!r}" for f, v, _ in BAD_VALUES]
)
def test_a_bad_value_names_its_option(flag: str, value: str, reason: str) -> None:
    error = refused(namespace(**{SPECS[flag].dest: value}))
    assert error.option == flag
    assert reason in error.reason


@pytest.mark.parametrize(("host", "reason"), BAD_HOSTS, ids=[h for h, _ in BAD_HOSTS])
def test_a_bad_host_names_host(host: str, reason: str) -> None:
    for options, kwargs in ((namespace(host=host), {}), (namespace(), {"host": host})):
        error = refused(options, **kwargs)
        assert error.option == "--host"
        assert reason in error.reason


@pytest.mark.parametrize(
    ("written", "host", "port", "loopback"),
    [
        ("10.1.2.3", "10.1.2.3", 0, False),
        (" 10.1.2.3:8000 ", "10.1.2.3", 8000, False),
        ("127.0.0.2:0", "127.0.0.2", 0, True),
        ("::1", "::1", 0, True),
        ("[fd00::5]:443", "fd00::5", 443, False),
        ("[fd00:0::5]", "fd00::5", 0, False),
        ("localhost:9000", "localhost", 9000, True),
        ("master-0.loadtest.svc.", "master-0.loadtest.svc", 0, False),
    ],
)
def test_the_emulators_listen_address(written: str, host: str, port: int, loopback: bool) -> None:
    bind = settings_with(emulator_bind=written).emulator_bind
    assert bind == ListenAddress(host, port)
    assert bind.loopback is loopback
    assert settings_with().emulator_bind is None  # 127.0.0.1 and a free port


@pytest.mark.parametrize(
    ("dest", "value"),
    [("publish_rate", 0.0), ("payload_bytes", -1), ("subscriptions_per_user", True)],
)
def test_non_text_bad_values_are_refused_too(dest: str, value: object) -> None:
    assert refused(namespace(**{dest: value})).option == "--" + dest.replace("_", "-")


# -- a user class's own options -------------------------------------------------------------


def test_a_user_class_sets_its_own_per_user_options() -> None:
    settings = settings_with(channels=distinct_wildcards(3))
    own = {"publish_rate": "30", "payload_bytes": MAX_PAYLOAD_BYTES, "publish_via": "HTTP"}
    mine = settings_for_users(settings, "Mine", {**own, "wildcard_subscriptions": 3})
    assert (mine.publish_rate, mine.payload_bytes, mine.publish_via) == (
        30.0,
        MAX_PAYLOAD_BYTES,
        "http",
    )
    assert mine.wildcard_subscriptions == 3
    assert (settings.publish_rate, settings.publish_via) == (1.0, "ws")  # the run's stay
    assert settings_for_users(settings, "Mine", {}) is settings
    assert set(PER_USER_OPTIONS) <= {spec.dest for spec in OPTIONS}


@pytest.mark.parametrize(
    ("values", "option", "reason"),
    [
        ({"run_id": "x"}, "Mine.user_options", "'run_id' is not an option a user class can set"),
        ({"publish_rate": 0}, "Mine.user_options['publish_rate']", "finite number above 0"),
        ({"publish_via": "wss"}, "Mine.user_options['publish_via']", "one of ws, http"),
        ({"payload_bytes": MAX_PAYLOAD_BYTES + 1}, "Mine.user_options['payload_bytes']", "between"),
    ],
)
def test_a_bad_user_class_option_names_the_class(
    values: dict[str, object], option: str, reason: str
) -> None:
    with pytest.raises(ConfigurationError) as info:
        check_user_options("Mine", values)
    assert info.value.option == option and reason in info.value.reason


def test_a_user_classs_wildcards_are_checked_against_the_runs_channels() -> None:
    settings = settings_with(channels=distinct_wildcards(2))
    with pytest.raises(ConfigurationError) as info:
        settings_for_users(settings, "Mine", {"wildcard_subscriptions": 3})
    assert info.value.option == "Mine.user_options"
    assert "--channels has only 2 distinct wildcard(s)" in info.value.reason


def test_a_user_classs_options_and_channel_pattern_are_checked_when_it_is_defined() -> None:
    with pytest.raises(ConfigurationError) as info:

        class TooFast(users.Publisher):
            user_options = per_user(publish_rate=0)

    assert info.value.option == "TooFast.user_options['publish_rate']"
    with pytest.raises(ConfigurationError) as info:

        class Starred(users.Subscriber):
            channel_pattern = "/default/room*"

    assert info.value.option == "Starred.channel_pattern"
    assert "'*' is only allowed as the whole last segment" in info.value.reason


def test_a_channel_pattern_keeps_a_class_to_the_channels_it_covers() -> None:
    settings = settings_with(channels="/default/a/x-{1..2} /default/b/y-{1..3} /other/c/z")
    runtime = HarnessRuntime(settings, target=None, identities=None)  # type: ignore[arg-type]
    everything = runtime.channels_for(None, "Mine")
    assert everything.channels == runtime.all_channels
    assert everything.wildcards == ["/default/a/*", "/default/b/*", "/other/c/*"]
    b_only = runtime.channels_for("/default/b/*", "Mine")
    assert b_only.channels == ["/default/b/y-1", "/default/b/y-2", "/default/b/y-3"]
    assert b_only.wildcards == ["/default/b/*"]
    assert runtime.channels_for("/default/*", "Mine").channels == runtime.all_channels[:5]
    one = runtime.channels_for("/other/c/z", "Mine")
    assert (one.channels, one.wildcards) == (["/other/c/z"], ["/other/c/*"])
    with pytest.raises(ConfigurationError) as info:
        runtime.channels_for("/default/c/*", "Mine")
    assert info.value.option == "Mine.channel_pattern"
    assert "'/default/c/*' covers none of --channels" in info.value.reason


# -- the target and its authorization ------------------------------------------------------


def test_a_host_is_normalised_to_its_event_url() -> None:
    settings = settings_with(host="HTTPS://Events.Example.COM", api_key="k")
    assert settings.host == CUSTOM_HOST
    assert not settings.embedded


def test_the_host_argument_overrides_the_options() -> None:
    options = namespace(host=CUSTOM_HOST)
    assert settings_from_options(options, host="").embedded
    assert settings_from_options(namespace(api_key="k"), host=CUSTOM_HOST).host == CUSTOM_HOST
    error = refused(options)  # API_KEY without a key, against --host
    assert error.option == "--api-key"


def test_api_key_is_required_against_a_host() -> None:
    error = refused(namespace(host=CUSTOM_HOST))
    assert error.option == "--api-key"
    assert "API_KEY" in error.reason
    assert settings_with(host=CUSTOM_HOST, api_key=SECRET_API_KEY).api_key == SECRET_API_KEY


def test_no_api_key_is_needed_for_the_embedded_emulator() -> None:
    assert settings_with(api_key="").api_key == ""


@pytest.mark.parametrize("mode", TOKEN_MODES)
def test_a_token_is_required_for_token_modes_against_a_host(mode: AuthMode) -> None:
    error = refused(namespace(host=CUSTOM_HOST, auth_mode=mode.value))
    assert error.option == "--auth-token"
    assert mode.value in error.reason
    # No API key is asked for, and the token is enough.
    settings = settings_with(host=CUSTOM_HOST, auth_mode=mode.value, auth_token=SECRET_TOKEN)
    assert settings.auth_mode is mode
    assert settings.auth_token == SECRET_TOKEN
    assert settings_with(auth_mode=mode.value).embedded  # the emulator mints one


def test_each_operations_mode_needs_its_credential_against_a_host(tmp_path: Path) -> None:
    options = {"host": CUSTOM_HOST, "api_key": SECRET_API_KEY, "publish_auth_mode": "AWS_LAMBDA"}
    error = refused(namespace(**options))
    assert error.option == "--auth-token" and "AWS_LAMBDA" in error.reason
    tokens = tmp_path / "tokens.txt"
    tokens.write_text("token-1\ntoken-2\n")
    settings = settings_with(**options, auth_token_file=str(tokens))
    assert settings.publish_auth_mode is AuthMode.AWS_LAMBDA
    keys_instead = {"host": CUSTOM_HOST, "api_key_file": str(tokens)}
    assert settings_with(**keys_instead).api_key_file == str(tokens)
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing\n\n")
    error = refused(namespace(auth_token_file=str(empty)))
    assert (error.option, error.reason) == (
        "--auth-token-file",
        f"{empty} holds no credential (one per line)",
    )


def test_aws_iam_needs_a_region_for_a_custom_domain() -> None:
    error = refused(namespace(host=CUSTOM_HOST, auth_mode="AWS_IAM"))
    assert error.option == "--region"
    settings = settings_with(host=CUSTOM_HOST, auth_mode="AWS_IAM", region="ap-south-1")
    assert settings.region == "ap-south-1"


@pytest.mark.parametrize(
    ("host", "region"),
    [
        (STANDARD_HOST, "eu-west-2"),
        (STANDARD_HOST.removesuffix("/event"), "eu-west-2"),
        (
            "https://abcdefghijklmnopqrstuvwxyz.appsync-api.cn-north-1.amazonaws.com.cn/event",
            "cn-north-1",
        ),
    ],
)
def test_the_region_comes_from_a_standard_host(host: str, region: str) -> None:
    settings = settings_with(host=host, auth_mode="AWS_IAM")
    assert settings.region == region
    assert settings.host.endswith(".amazonaws.com/event") or settings.host.endswith(".cn/event")
    assert settings_with(host=host, api_key="k").region == region


def test_a_given_region_wins_over_the_hosts() -> None:
    assert settings_with(host=STANDARD_HOST, auth_mode="AWS_IAM", region="us-east-1").region == (
        "us-east-1"
    )


def test_a_host_that_is_almost_standard_is_a_custom_domain() -> None:
    host = "https://abcdefghijklmnopqrstuvwxy.appsync-api.eu-west-2.amazonaws.com/event"  # 25
    assert refused(namespace(host=host, auth_mode="AWS_IAM")).option == "--region"


def test_aws_iam_against_the_embedded_emulator_needs_no_region() -> None:
    settings = settings_with(auth_mode="AWS_IAM")
    assert settings.embedded
    assert settings.region is None


# -- subscriptions -------------------------------------------------------------------------


def test_subscriptions_and_wildcards_share_the_per_connection_limit() -> None:
    limit = MAX_SUBSCRIPTIONS_PER_CONNECTION
    channels = distinct_wildcards(limit)
    settings = settings_with(
        channels=channels, subscriptions_per_user=str(limit - 50), wildcard_subscriptions="50"
    )
    assert settings.subscriptions_per_user + settings.wildcard_subscriptions == limit
    error = refused(
        namespace(
            channels=channels, subscriptions_per_user=str(limit - 50), wildcard_subscriptions="51"
        )
    )
    assert error.option == "--subscriptions-per-user"
    assert f"makes {limit + 1} subscriptions" in error.reason
    assert f"allows {limit}" in error.reason
    error = refused(
        namespace(channels=channels, subscriptions_per_user="1", wildcard_subscriptions=str(limit))
    )
    assert error.option == "--subscriptions-per-user"


def test_wildcard_subscriptions_need_every_template_covered() -> None:
    channels = "/default/room-{1..3} /{a,b}/x /solo"
    error = refused(namespace(channels=channels, wildcard_subscriptions="1"))
    assert error.option == "--wildcard-subscriptions"
    assert "/{a,b}/x" in error.reason
    assert "/solo" in error.reason
    assert "room" not in error.reason
    # Without wildcard subscriptions the same templates are fine.
    assert len(settings_with(channels=channels).channels) == 3


def test_no_more_wildcard_subscriptions_than_distinct_wildcards() -> None:
    settings = settings_with(channels="/default/a /default/b-{1..3}", wildcard_subscriptions="1")
    assert {t.wildcard for t in settings.channels} == {"/default/*"}
    error = refused(namespace(channels="/default/a /default/b-{1..3}", wildcard_subscriptions="2"))
    assert error.option == "--wildcard-subscriptions"
    assert "only 1 distinct wildcard(s): /default/*" in error.reason


def test_wildcard_subscriptions_with_covered_templates() -> None:
    settings = settings_with(
        channels="/default/room-{1..3} /chat/x/{a,b}", wildcard_subscriptions="2"
    )
    assert [t.wildcard for t in settings.channels] == ["/default/*", "/chat/x/*"]


# -- the run id ----------------------------------------------------------------------------


def test_a_run_id_is_generated_when_empty() -> None:
    first, second = settings_with(run_id="").run_id, settings_with(run_id="  ").run_id
    assert re.fullmatch(r"[0-9a-f]{12}", first)
    assert re.fullmatch(r"[0-9a-f]{12}", second)
    assert first != second


def test_a_given_run_id_is_kept() -> None:
    assert settings_with(run_id="soak-2024-11-11").run_id == "soak-2024-11-11"


# -- no secrets in logs --------------------------------------------------------------------


@pytest.mark.parametrize("mode", [AuthMode.API_KEY, *TOKEN_MODES])
def test_describe_and_repr_hold_no_secrets(mode: AuthMode) -> None:
    settings = settings_with(
        host=CUSTOM_HOST,
        auth_mode=mode.value,
        api_key=SECRET_API_KEY,
        auth_token=SECRET_TOKEN,
        run_id="run-7",
    )
    assert settings.api_key == SECRET_API_KEY
    assert settings.auth_token == SECRET_TOKEN
    texts = [
        json.dumps(settings.describe()),
        str(settings.describe()),
        repr(settings),
        str(settings),
    ]
    for text in texts:
        assert SECRET_API_KEY not in text
        assert SECRET_TOKEN not in text
        assert "SECRET" not in text
    assert "run-7" in repr(settings)  # repr does show the rest


def test_describe_shows_the_settings() -> None:
    settings = settings_with(
        host=STANDARD_HOST,
        auth_mode="AWS_IAM",
        channels="/default/a /default/b{1..2}",
        subscriptions_per_user="2",
        wildcard_subscriptions="1",
        publish_rate="3",
        events_per_publish="2",
        payload_bytes="300",
        publish_via="http",
        reconnect_policy="decorrelated-jitter:cap=5s,base=0.1,max-attempts=3",
        backoff_tolerance="0.25",
        run_id="r1",
        scenario="wildcard",
        publish_auth_mode="api_key",
        api_key=SECRET_API_KEY,
    )
    assert settings.describe() == {
        "host": STANDARD_HOST,
        "scenario": "wildcard",
        "auth_mode": "AWS_IAM",
        "connect_auth_mode": None,
        "subscribe_auth_mode": None,
        "publish_auth_mode": "API_KEY",
        "identity_pool_id": "",
        "region": "eu-west-2",
        "channels": ["/default/a", "/default/b{1..2}"],
        "subscriptions_per_user": 2,
        "wildcard_subscriptions": 1,
        "publish_rate": 3.0,
        "events_per_publish": 2,
        "payload_bytes": 300,
        "payload_chars": "ascii",
        "publish_via": "http",
        "reconnect_policy": "decorrelated-jitter:base=100ms,cap=5s,max-attempts=3",
        "publish_retry_policy": "off",
        "backoff_tolerance_s": 0.25,
        "price_file": "built-in",
        "max_clock_offset_s": 0.0,
        "allow_loss": False,
        "run_id": "r1",
    }
    assert settings_with().describe()["host"] == "(embedded emulator)"
    assert settings_with(price_file=str(PRICE_FILE)).describe()["price_file"] == str(PRICE_FILE)


# -- the publish rate warning --------------------------------------------------------------

LIMIT = MAX_PUBLISHES_PER_SECOND_PER_CONNECTION


@pytest.mark.parametrize(
    ("rate", "events", "warns"),
    [
        (LIMIT, 1, False),
        (LIMIT + 1, 1, True),
        (LIMIT + 0.5, 1, True),
        (LIMIT * 5, 5, False),
        (LIMIT * 5 + 5, 5, True),
        (1000, 5, True),
        (0.1, 1, False),
    ],
)
def test_the_publish_rate_warning_over_websocket(rate: float, events: int, warns: bool) -> None:
    settings = settings_with(publish_rate=str(rate), events_per_publish=str(events))
    warning = publish_rate_warning(settings)
    if not warns:
        assert warning is None
        return
    assert warning is not None
    assert f"--publish-rate {rate:g}" in warning
    assert f"--events-per-publish {events}" in warning
    assert f"{rate / events:g} publishes/s" in warning
    assert f"above {LIMIT}/s" in warning


@pytest.mark.parametrize("rate", [LIMIT + 1, 1000, 10_000])
def test_no_publish_rate_warning_over_http(rate: float) -> None:
    settings = settings_with(publish_rate=str(rate), publish_via="http")
    assert settings.publishes_per_second > LIMIT
    assert publish_rate_warning(settings) is None


# -- Locust's parser -------------------------------------------------------------------------------

SAMPLE_REPORT = Path(__file__).resolve().parents[2] / "docs" / "sample-report"
PRICE_FILE = REPO_ROOT / "harness" / "measure" / "appsync_events_prices.toml"
"""A valid --price-file: a copy of the built-in table would do as well."""
# A valid value other than the default for every option, and what it parses to.
SAMPLES: dict[str, tuple[str, object]] = {
    "--auth-mode": ("AWS_IAM", "AWS_IAM"),
    "--api-key": ("da2-sample-key", "da2-sample-key"),
    "--auth-token": ("sample-token", "sample-token"),
    "--region": ("eu-west-2", "eu-west-2"),
    "--aws-profile": ("load-test", "load-test"),
    "--channels": ("/default/a,/chat/{b,c}", "/default/a,/chat/{b,c}"),
    "--subscriptions-per-user": ("7", 7),
    "--wildcard-subscriptions": ("2", 2),
    "--publish-rate": ("2.5", 2.5),
    "--events-per-publish": ("3", 3),
    "--payload-bytes": ("512", 512),
    "--payload-chars": ("html", "html"),
    "--publish-via": ("http", "http"),
    "--ca-file": ("/tmp/ca.pem", "/tmp/ca.pem"),
    "--iam-signer": ("botocore", "botocore"),
    "--connect-timeout": ("3.5", 3.5),
    "--operation-timeout": ("4", 4.0),
    "--emulator-args": ("--seed 7 --tls", "--seed 7 --tls"),
    "--emulator-bind": ("10.0.0.5:8000", "10.0.0.5:8000"),
    "--run-id": ("run-42", "run-42"),
    "--reconnect-policy": ("exponential:base=1s", "exponential:base=1s"),
    "--publish-retry-policy": ("constant:base=50ms", "constant:base=50ms"),
    "--backoff-tolerance": ("0.5", 0.5),
    "--max-clock-offset": ("0.002", 0.002),
    "--report-dir": ("/tmp/reports", "/tmp/reports"),
    "--slo": ("lost==0", ["lost==0"]),
    "--slo-file": (str(SAMPLE_REPORT / "slos.txt"), str(SAMPLE_REPORT / "slos.txt")),
    "--baseline": (str(SAMPLE_REPORT / "summary.json"), str(SAMPLE_REPORT / "summary.json")),
    "--price-file": (str(PRICE_FILE), str(PRICE_FILE)),
    "--max-regression": ("25%", "25%"),
    "--prometheus-port": ("9464", 9464),
    "--scenario": ("wildcard", "wildcard"),
    "--connect-auth-mode": ("API_KEY", "API_KEY"),
    "--subscribe-auth-mode": ("AWS_LAMBDA", "AWS_LAMBDA"),
    "--publish-auth-mode": ("AWS_IAM", "AWS_IAM"),
    "--api-key-file": (str(SAMPLE_REPORT / "slos.txt"), str(SAMPLE_REPORT / "slos.txt")),
    "--auth-token-file": (str(SAMPLE_REPORT / "slos.txt"), str(SAMPLE_REPORT / "slos.txt")),
    "--auth-token-command": ("echo token", "echo token"),
    "--token-refresh": ("30", 30.0),
    "--identity-pool-id": ("eu-west-1:1f2e3d4c-0000-4000-8000-000000000001",) * 2,
    "--identity-pool-login": ("cognito-idp.eu-west-1.amazonaws.com/eu-west-1_abc",) * 2,
}
FLAGS = {"--allow-loss", "--prometheus"}
"""Switches: given without a value (``--allow-loss``), true when given."""
SECRET_DESTS = {"api_key", "auth_token", "auth_token_command"}


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No harness option comes from the environment of the test run."""
    for spec in OPTIONS:
        monkeypatch.delenv(spec.env_var, raising=False)
    monkeypatch.delenv("LOCUST_HOST", raising=False)


@pytest.fixture
def parser(clean_environment: None) -> LocustArgumentParser:
    return get_parser(default_config_files=[])


def actions_of(parser: LocustArgumentParser) -> dict[str, Any]:
    return {action.dest: action for action in parser._actions}


def parse_error(
    parser: LocustArgumentParser, arguments: list[str], capsys: pytest.CaptureFixture[str]
) -> str:
    capsys.readouterr()
    with pytest.raises(SystemExit) as info:
        parser.parse_args(arguments)
    assert info.value.code == 2
    return capsys.readouterr().err


def test_the_samples_cover_every_option_with_non_defaults() -> None:
    assert set(SAMPLES) | FLAGS == set(SPECS)
    assert {flag for flag, spec in SPECS.items() if spec.is_flag} == FLAGS
    for flag, (_, value) in SAMPLES.items():
        assert value != SPECS[flag].default, flag


def test_every_option_is_registered_with_its_env_var(parser: LocustArgumentParser) -> None:
    actions = actions_of(parser)
    defaults = parser.parse_args([])
    for spec in OPTIONS:
        action = actions[spec.dest]
        assert action.option_strings == [spec.flag]
        assert action.env_var == "LOCUST_" + spec.flag.removeprefix("--").replace("-", "_").upper()
        assert action.env_var == spec.env_var
        assert getattr(defaults, spec.dest) == spec.default


@pytest.mark.parametrize("flag", list(SAMPLES))
def test_an_option_on_the_command_line(parser: LocustArgumentParser, flag: str) -> None:
    text, value = SAMPLES[flag]
    parsed = getattr(parser.parse_args([f"{flag}={text}"]), SPECS[flag].dest)
    assert parsed == value
    assert type(parsed) is type(SPECS[flag].default)  # the web UI relies on this


@pytest.mark.parametrize("flag", list(SAMPLES))
def test_an_option_from_its_env_var(
    parser: LocustArgumentParser, monkeypatch: pytest.MonkeyPatch, flag: str
) -> None:
    spec = SPECS[flag]
    text, value = SAMPLES[flag]
    monkeypatch.setenv(spec.env_var, text)
    parsed = getattr(parser.parse_args([]), spec.dest)
    assert parsed == value
    assert type(parsed) is type(spec.default)
    # The command line wins over the environment.
    if spec.repeatable:
        assert getattr(parser.parse_args([f"{flag}=errors==0"]), spec.dest) == ["errors==0"]
    else:
        assert getattr(parser.parse_args([f"{flag}={spec.default}"]), spec.dest) == spec.default


@pytest.mark.parametrize("flag", sorted(FLAGS))
def test_a_switch_is_off_by_default_and_on_when_given(
    parser: LocustArgumentParser, monkeypatch: pytest.MonkeyPatch, flag: str
) -> None:
    spec = SPECS[flag]
    assert getattr(parser.parse_args([]), spec.dest) is False
    assert getattr(parser.parse_args([flag]), spec.dest) is True
    monkeypatch.setenv(spec.env_var, "true")
    assert getattr(parser.parse_args([]), spec.dest) is True
    settings = settings_from_options(parser.parse_args([flag]))
    assert getattr(settings, spec.dest) is True


NOT_IN_THE_FORM = {"--run-id", "--slo", "--prometheus", "--prometheus-port", "--scenario"}
"""--slo is repeatable (a list the form cannot show; SLOs gate headless runs); /metrics is
served from the start, so the form could not change it; the users of a --scenario are
loaded with the locustfile, before the form exists."""


def test_every_option_but_the_run_id_is_in_the_web_ui(parser: LocustArgumentParser) -> None:
    in_ui = parser.args_included_in_web_ui
    for spec in OPTIONS:
        assert (spec.dest in in_ui) is (spec.flag not in NOT_IN_THE_FORM), spec.flag


def test_the_api_key_and_token_are_secret_in_the_web_ui(parser: LocustArgumentParser) -> None:
    secret = set(parser.secret_args_included_in_web_ui)
    harness_dests = {spec.dest for spec in OPTIONS}
    assert secret & harness_dests == SECRET_DESTS


def test_help_shows_defaults_except_for_secrets(parser: LocustArgumentParser) -> None:
    actions = actions_of(parser)
    assert actions["publish_rate"].help.endswith("(default 1.0)")
    assert actions["channels"].help.endswith("(default /default/room-{1..20})")
    assert actions["publish_via"].help.endswith("(default ws)")
    for dest in (*SECRET_DESTS, "run_id", "region"):
        assert actions[dest].help == SPECS["--" + dest.replace("_", "-")].help, dest
    text = parser.format_help()
    for spec in OPTIONS:
        assert spec.flag in text


@pytest.mark.parametrize(
    ("flag", "value", "reason"), BAD_VALUES, ids=[f"{f}={v!r}" for f, v, _ in BAD_VALUES]
)
def test_a_bad_value_stops_the_parser(
    parser: LocustArgumentParser,
    capsys: pytest.CaptureFixture[str],
    flag: str,
    value: str,
    reason: str,
) -> None:
    err = parse_error(parser, [f"{flag}={value}"], capsys)
    assert f"argument {flag}: " in err
    # A switch takes no value on the command line (argparse says so); a config file's
    # text for it is refused with the check's reason (test_a_bad_value_names_its_option).
    assert (f"ignored explicit argument {value!r}" if flag in FLAGS else reason) in err


@pytest.mark.parametrize(
    ("flag", "value"), [("--publish-rate", "0"), ("--channels", "nope"), ("--publish-via", "udp")]
)
def test_a_bad_env_var_stops_the_parser(
    parser: LocustArgumentParser,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    flag: str,
    value: str,
) -> None:
    monkeypatch.setenv(SPECS[flag].env_var, value)
    err = parse_error(parser, [], capsys)
    assert f"argument {flag}: " in err
    assert repr(value) in err


def test_parsed_options_make_settings(parser: LocustArgumentParser) -> None:
    arguments = [f"{flag}={text}" for flag, (text, _) in SAMPLES.items()] + sorted(FLAGS)
    options = parser.parse_args(["--host", STANDARD_HOST, *arguments])
    settings = settings_from_options(options)
    assert settings.host == STANDARD_HOST
    assert settings.auth_mode is AuthMode.AWS_IAM
    assert settings.region == "eu-west-2"
    assert [t.name for t in settings.channels] == ["/default/a", "/chat/{b,c}"]
    assert settings.subscriptions_per_user == 7
    assert settings.wildcard_subscriptions == 2
    assert settings.publish_rate == 2.5
    assert settings.emulator_args == ("--seed", "7", "--tls")
    assert settings.run_id == "run-42"
    assert settings.price_file.origin == str(PRICE_FILE)
    assert settings.price_file.prices == settings_with().price_file.prices


# -- config files --------------------------------------------------------------------------

LOCUST_CONF = """\
# harness settings
publish-rate = 3
channels = /default/a /default/b{1..2}
subscriptions-per-user = 2
auth-mode = aws_iam
api-key = key-from-the-file
emulator-args = --tls
"""

PYPROJECT = """\
[project]
name = "load-test"

[tool.locust]
publish-rate = 4
payload-bytes = 500
channels = "/x/{a,b}"
publish-via = "http"
events-per-publish = 2
auth-token = "token-from-toml"
"""


def check_locust_conf(options: argparse.Namespace) -> None:
    assert options.publish_rate == 3.0
    assert options.channels == "/default/a /default/b{1..2}"
    assert options.subscriptions_per_user == 2
    assert options.auth_mode == "aws_iam"
    assert options.api_key == "key-from-the-file"
    assert options.emulator_args == "--tls"
    assert options.payload_bytes == SPECS["--payload-bytes"].default
    settings = settings_from_options(options)
    assert settings.auth_mode is AuthMode.AWS_IAM
    assert [t.channels for t in settings.channels] == [
        ("/default/a",),
        ("/default/b1", "/default/b2"),
    ]


def check_pyproject(options: argparse.Namespace) -> None:
    assert options.publish_rate == 4.0
    assert type(options.publish_rate) is float
    assert options.payload_bytes == 500
    assert options.channels == "/x/{a,b}"
    assert options.publish_via == "http"
    assert options.events_per_publish == 2
    assert options.auth_token == "token-from-toml"
    assert options.subscriptions_per_user == SPECS["--subscriptions-per-user"].default
    assert settings_from_options(options).publishes_per_second == 2.0


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


ParserAndArguments = tuple[LocustArgumentParser, list[str]]


def given_with_config(path: Path) -> ParserAndArguments:
    return get_parser(default_config_files=[]), ["--config", str(path)]


def as_a_default_config_file(path: Path) -> ParserAndArguments:
    return get_parser(default_config_files=[str(path)]), []


CONFIG_FILE_WAYS = (given_with_config, as_a_default_config_file)
"""The two ways Locust reads a config file: a parser and its arguments for each."""


@pytest.mark.parametrize("way", CONFIG_FILE_WAYS, ids=lambda way: way.__name__)
@pytest.mark.parametrize(
    ("name", "text", "check"),
    [
        ("locust.conf", LOCUST_CONF, check_locust_conf),
        ("pyproject.toml", PYPROJECT, check_pyproject),
    ],
    ids=["locust-conf", "pyproject"],
)
def test_a_config_file_is_read(
    clean_environment: None,
    tmp_path: Path,
    name: str,
    text: str,
    check: Callable[[argparse.Namespace], None],
    way: Callable[[Path], ParserAndArguments],
) -> None:
    parser, arguments = way(write(tmp_path / name, text))
    check(parser.parse_args(arguments))


def test_a_pyproject_without_tool_locust_changes_nothing(
    clean_environment: None, tmp_path: Path
) -> None:
    toml = write(tmp_path / "pyproject.toml", '[project]\nname = "x"\n')
    options = get_parser(default_config_files=[str(toml)]).parse_args([])
    for spec in OPTIONS:
        assert getattr(options, spec.dest) == spec.default


def test_the_environment_and_command_line_win_over_a_file(
    clean_environment: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conf = write(tmp_path / "locust.conf", "publish-rate = 3\npayload-bytes = 300\n")
    parser = get_parser(default_config_files=[str(conf)])
    monkeypatch.setenv("LOCUST_PUBLISH_RATE", "5")
    options = parser.parse_args([])
    assert (options.publish_rate, options.payload_bytes) == (5.0, 300)
    options = parser.parse_args(["--publish-rate", "7", "--payload-bytes=400"])
    assert (options.publish_rate, options.payload_bytes) == (7.0, 400)


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("locust.conf", "publish-rate = 0\n"),
        ("pyproject.toml", "[tool.locust]\npublish-rate = 0\n"),
        ("pyproject.toml", "[tool.locust]\npublish-rate = -2.5\n"),
    ],
)
def test_a_bad_value_in_a_file_stops_the_parser(
    clean_environment: None,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    name: str,
    text: str,
) -> None:
    path = write(tmp_path / name, text)
    for way in CONFIG_FILE_WAYS:
        parser, arguments = way(path)
        err = parse_error(parser, arguments, capsys)
        assert "argument --publish-rate: must be a finite number above 0" in err


# -- documentation -------------------------------------------------------------------------


@pytest.mark.parametrize("spec", OPTIONS, ids=[spec.flag for spec in OPTIONS])
def test_every_option_has_help(spec: OptionSpec) -> None:
    assert spec.help.strip()
    assert spec.help == spec.help.strip()
    assert spec.metavar or spec.is_flag


@pytest.mark.parametrize("flag", [spec.flag for spec in OPTIONS])
def test_every_option_is_documented_in_docs_options(flag: str) -> None:
    page = (REPO_ROOT / "docs" / "options.md").read_text(encoding="utf-8")
    assert re.search(re.escape(flag) + r"(?![\w-])", page), f"{flag} is not in docs/options.md"


@pytest.mark.parametrize("path", list(PAGES), ids=str)
def test_the_option_tables_are_generated_from_the_declarations(path: Path) -> None:
    """docs/options.md and docs/emulator.md show what the code declares."""
    page = (REPO_ROOT / path).read_text(encoding="utf-8")
    table = options_table(PAGES[path])
    assert replace_generated(page, table, BEGIN, END) == page, (
        f"{path} is stale: python -m harness.loadtest.options_doc --write"
    )


# -- the embedded emulator seen through the web UI -----------------------------------------


def test_the_embedded_emulators_url_in_host_still_means_the_embedded_emulator() -> None:
    """Locust's web UI writes the host it shows (the emulator's URL) into options.host."""
    url = "http://127.0.0.1:40001/event"
    options = namespace(host=url)
    EmbeddedEmulator(url, None, "http://127.0.0.1:40001/_emulator/").attach(options)
    assert configured_host(options) == ""
    settings = settings_from_options(options)
    assert settings.embedded
    # Another host is a real API, with its requirements.
    other = namespace(host="http://127.0.0.1:40002/event")
    EmbeddedEmulator(url, None, "http://127.0.0.1:40001/_emulator/").attach(other)
    assert configured_host(other) == "http://127.0.0.1:40002/event"
    assert refused(other).option == "--api-key"


def test_the_embedded_emulators_ca_is_trusted_unless_ca_file_is_given() -> None:
    url = "https://127.0.0.1:40001/event"
    embedded = EmbeddedEmulator(url, "/tmp/emulator-ca.pem", "https://127.0.0.1:40001/_emulator/")

    def with_embedded(options: argparse.Namespace) -> argparse.Namespace:
        embedded.attach(options)
        return options

    assert settings_from_options(with_embedded(namespace(host=url))).ca_file == (
        "/tmp/emulator-ca.pem"
    )
    mine = with_embedded(namespace(host=url, ca_file="/tmp/mine.pem"))
    assert settings_from_options(mine).ca_file == "/tmp/mine.pem"
    # A real API never gets the emulator's CA.
    real = with_embedded(namespace(host="https://api.example.com/event", api_key="k"))
    assert settings_from_options(real).ca_file is None


def test_a_worker_on_another_machine_trusts_a_copy_of_the_emulators_ca() -> None:
    """The master's CA file is not on a worker's machine: the worker writes the certificate
    it received to a file of its own, once."""
    url = "https://10.0.0.5:40001/event"
    pem = "-----BEGIN CERTIFICATE-----\nMIIBtest\n-----END CERTIFICATE-----\n"
    embedded = EmbeddedEmulator(url, "/nonexistent/emulator-ca.pem", url + "/_emulator/", pem)
    options = namespace(host=url)
    embedded.attach(options)
    copy = settings_from_options(options).ca_file
    assert copy is not None and copy != embedded.ca_file
    assert Path(copy).read_text() == pem
    assert settings_from_options(options).ca_file == copy
    # On the master's machine, its own file.
    here = EmbeddedEmulator(url, __file__, url + "/_emulator/", pem)
    here.attach(options)
    assert settings_from_options(options).ca_file == __file__
