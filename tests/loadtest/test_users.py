"""The harness's Locust users in real Locust environments against a real emulator process."""

from __future__ import annotations

import itertools
import json
import re
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path

import gevent
import pytest
from locust.env import Environment
from locust.event import Events
from locust.runners import STATE_STOPPED
from support.client import ScriptedPeer, scripted_server, silent_port
from support.emulator import LiveEmulator, wait_until
from support.locust_runs import local_environment, parse_options, run_users, running

from harness.client.websocket import ClientOptions, EventsClient
from harness.emulator import defaults
from harness.emulator.identity import EmulatorToken
from harness.loadtest.users import Publisher, PubSubUser, Subscriber
from harness.signing import AuthMode
from harness.signing.jwt import verify_hs256
from harness.workload.tracing import TraceStamp, make_event, read_event

REQUEST_TYPES = ("connect", "subscribe", "publish", "deliver", "unsubscribe")


@pytest.fixture
def fresh_emulator(start_emulator: Callable[..., LiveEmulator]) -> LiveEmulator:
    """An emulator of the test's own, so its stats count this test's users only."""
    return start_emulator()


def test_publishers_and_subscribers_exchange_events_and_clean_up(
    fresh_emulator: LiveEmulator,
) -> None:
    run = run_users(
        fresh_emulator,
        [Publisher, Subscriber],
        users=4,
        seconds=1.5,
        channels="/default/pair-{1..2}",
        subscriptions_per_user=2,
        publish_rate=20,
    )
    for request_type in REQUEST_TYPES:
        assert run.requests(request_type) > 0, request_type
        assert run.failures(request_type) == 0, (request_type, run.error_texts())
    # One publisher and three subscribers of both channels: every event reaches all three.
    # All users stop at once, so at the end one publish may be in flight (never
    # acknowledged, delivered to some) or acknowledged with deliveries still on the way.
    published = run.entry("publish", "/default/pair-{1..2}").num_requests
    delivered = run.entry("deliver", "/default/pair-{1..2}").num_requests
    assert published >= 15
    assert 3 * (published - 1) <= delivered <= 3 * (published + 1)
    # What the emulator sent, the subscribers received, but for what was on the wire.
    sent = run.emulator_stats["deliveries"]["sent"]
    assert delivered <= sent <= delivered + 3
    assert run.entry("connect", "/event/realtime").num_requests == 4
    assert run.entry("subscribe", "/default/pair-{1..2}").num_requests == 6
    assert run.entry("unsubscribe", "/default/pair-{1..2}").num_requests == 6
    assert run.left_open() == (0, 0)
    assert run.emulator_stats["subscriptions"]["total"] == 6


def test_delivery_latency_is_measured_from_the_intended_send_time(
    fresh_emulator: LiveEmulator,
) -> None:
    fresh_emulator.add_fault("delay-deliveries:delay=0.25")
    run = run_users(
        fresh_emulator,
        [PubSubUser],
        users=2,
        seconds=1.5,
        channels="/default/late",
        publish_rate=10,
    )
    deliver = run.entry("deliver", "/default/late")
    assert deliver.num_requests > 0
    # A publish may leave a few microseconds before its slot (gevent wakes early).
    assert deliver.min_response_time >= 249
    assert deliver.max_response_time < 2000
    # The publish acknowledgement is not delayed by a delivery fault.
    assert run.entry("publish", "/default/late").min_response_time < 250


@pytest.mark.parametrize("mode", list(AuthMode))
def test_each_auth_mode_works_end_to_end(fresh_emulator: LiveEmulator, mode: AuthMode) -> None:
    run = run_users(
        fresh_emulator,
        [PubSubUser],
        users=2,
        seconds=1.0,
        auth_mode=mode.value.lower(),
        channels="/default/auth",
        publish_rate=10,
    )
    for request_type in REQUEST_TYPES:
        assert run.requests(request_type) > 0, (mode, request_type)
        assert run.failures(request_type) == 0, (mode, request_type, run.error_texts())
    assert run.left_open() == (0, 0)


@pytest.mark.parametrize("mode", list(AuthMode))
def test_each_auth_mode_publishes_over_http(fresh_emulator: LiveEmulator, mode: AuthMode) -> None:
    run = run_users(
        fresh_emulator,
        [PubSubUser],
        users=2,
        seconds=1.0,
        auth_mode=mode.value,
        publish_via="http",
        channels="/default/http",
        publish_rate=10,
        events_per_publish=5,
    )
    http = run.entry("http_publish", "/default/http")
    assert http.num_requests > 0 and http.num_failures == 0, run.error_texts()
    assert run.requests("publish") == 0
    # The server may also have taken a publish per user that was in flight at the stop
    # (it completes, but its answer reaches no user).
    taken = run.emulator_stats["publishes"]["http"]
    assert http.num_requests <= taken <= http.num_requests + 2
    # Two subscribers each get all five events of both users' publishes.
    delivered = run.entry("deliver", "/default/http").num_requests
    assert 2 * 5 * http.num_requests <= delivered <= 2 * 5 * taken


def test_iam_publishes_of_events_holding_html_characters_pass_a_strict_emulator(
    fresh_emulator: LiveEmulator,
) -> None:
    """``--payload-chars html``: every event holds ``<``, ``>`` and ``&``, which AppSync
    expects signed escaped (aws-appsync-community#400); the emulator refuses the compact
    form, so a harness signing it would fail every publish here."""
    run = run_users(
        fresh_emulator,
        [PubSubUser],
        users=2,
        seconds=1.0,
        auth_mode="AWS_IAM",
        channels="/default/html",
        publish_rate=10,
        payload_chars="html",
    )
    assert run.requests("publish") > 0 and run.failures("publish") == 0, run.error_texts()
    assert run.requests("deliver") > 0 and run.failures("deliver") == 0
    assert run.emulator_stats["auth_failures"] == {}
    assert run.environment.parsed_options.payload_chars == "html"


@pytest.mark.parametrize("mode", list(AuthMode), ids=lambda mode: mode.value)
def test_each_auth_mode_uses_its_own_credential_against_the_embedded_defaults(
    start_emulator: Callable[..., LiveEmulator], mode: AuthMode
) -> None:
    """An emulator that accepts only ``mode``: the credential the harness brings for it
    when none is given (the emulator's default test key, token, or IAM key) is that
    mode's, not one another mode would accept."""
    only = start_emulator("--connection-auth", mode.value)
    run = run_users(
        only,
        [PubSubUser],
        users=1,
        seconds=0.6,
        auth_mode=mode.value,
        channels="/default/only",
        publish_rate=10,
    )
    assert run.requests("connect") == 1
    for request_type in ("connect", "subscribe", "publish"):
        assert run.requests(request_type) > 0, request_type
        assert run.failures(request_type) == 0, (request_type, run.error_texts())


def test_a_wrong_api_key_shows_up_as_failed_connects_with_the_servers_text(
    fresh_emulator: LiveEmulator,
) -> None:
    run = run_users(
        fresh_emulator,
        [PubSubUser],
        users=2,
        seconds=1.2,
        api_key="da2-not-the-right-key",
        channels="/default/denied",
    )
    connect = run.entry("connect", "/event/realtime")
    assert connect.num_requests >= 2
    assert connect.num_failures == connect.num_requests
    assert run.requests("subscribe") == run.requests("publish") == 0
    assert any(
        "UnauthorizedException" in text and "You are not authorized to make this call." in text
        for text in run.error_texts()
    ), run.error_texts()
    assert not any("da2-not-the-right-key" in text for text in run.error_texts())


def test_a_wrong_iam_secret_fails_with_the_signature_mismatch_and_leaks_nothing(
    start_emulator: Callable[..., LiveEmulator], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # The emulator knows the session token, so the refusal is the signature mismatch,
    # whose full text echoes the canonical request with the token in it (docs/protocol.md#errors).
    emulator = start_emulator(
        "--iam",
        f"{defaults.DEFAULT_ACCESS_KEY_ID}:{defaults.DEFAULT_SECRET_ACCESS_KEY}"
        ":session-token-distinctive-4567",
    )
    config = tmp_path / "credentials"
    config.write_text(
        "[wrong]\naws_access_key_id = AKIAHARNESSEMULATOR1\n"
        "aws_secret_access_key = not-the-secret-distinctive-0123\n"
        "aws_session_token = session-token-distinctive-4567\n"
    )
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(config))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config) + ".absent")
    run = run_users(
        emulator,
        [Subscriber],
        users=1,
        seconds=0.5,
        auth_mode="AWS_IAM",
        aws_profile="wrong",
        channels="/default/iam",
    )
    assert run.failures("connect") == run.requests("connect") >= 1
    texts = run.error_texts()
    assert any("The request signature we calculated does not match" in text for text in texts), (
        texts
    )
    for text in texts:
        assert "Canonical String" not in text
        assert "distinctive" not in text


def test_wildcard_subscriptions_receive_every_channel_of_the_template(
    fresh_emulator: LiveEmulator,
) -> None:
    run = run_users(
        fresh_emulator,
        [Publisher, Subscriber],
        users=2,
        seconds=1.2,
        channels="/default/rooms/{1..5}",
        subscriptions_per_user=0,
        wildcard_subscriptions=1,
        publish_rate=20,
    )
    assert run.entry("subscribe", "/default/rooms/*").num_requests == 1
    published = run.entry("publish", "/default/rooms/{1..5}").num_requests
    assert published > 5
    delivered = run.entry("deliver", "/default/rooms/{1..5}").num_requests
    # At the stop, one publish may be in flight or acknowledged but not yet delivered.
    assert published - 1 <= delivered <= published + 1
    assert run.entry("unsubscribe", "/default/rooms/*").num_requests == 1


def test_users_stopped_mid_run_leave_no_connection_or_subscription(
    fresh_emulator: LiveEmulator,
) -> None:
    run = run_users(
        fresh_emulator,
        [Subscriber],
        users=10,
        seconds=0.8,
        channels="/default/many-{1..50}",
        subscriptions_per_user=20,
    )
    assert run.entry("subscribe", "/default/many-{1..50}").num_requests == 200
    assert run.entry("unsubscribe", "/default/many-{1..50}").num_requests == 200
    assert run.left_open() == (0, 0)


def test_events_of_another_run_are_not_counted_as_deliveries(
    fresh_emulator: LiveEmulator,
) -> None:
    foreign = make_event(TraceStamp("another-run", "p", "/default/shared", 1, 0))
    assert read_event(foreign) is not None

    def publish_foreign_events() -> None:
        for _ in range(5):
            gevent.sleep(0.2)
            status, _answer = fresh_emulator.http_publish("/default/shared", [foreign] * 5)
            assert status == 200

    publisher = gevent.spawn(publish_foreign_events)
    run = run_users(
        fresh_emulator,
        [PubSubUser],
        users=1,
        seconds=1.5,
        channels="/default/shared",
        run_id="this-run",
        publish_rate=10,
    )
    publisher.get(timeout=5)
    published = run.requests("publish")
    assert published > 0
    # Only the user's own events count: one subscriber, so one delivery per publish
    # (and one more if a publish was in flight when the user stopped).
    own_events = fresh_emulator.stats()["publishes"]["events"] - 25
    assert published <= run.requests("deliver") <= own_events <= published + 1


def test_events_that_are_not_traced_events_are_ignored(fresh_emulator: LiveEmulator) -> None:
    """Another producer's plain events on the same channel count as nothing and leave the
    user's connection working."""

    def publish_plain_events() -> None:
        for _ in range(5):
            gevent.sleep(0.2)
            status, _answer = fresh_emulator.http_publish(
                "/default/mixed", ['{"hello":"world"}', '"text"', "42", "[1,2]"]
            )
            assert status == 200

    other = gevent.spawn(publish_plain_events)
    run = run_users(
        fresh_emulator,
        [PubSubUser],
        users=1,
        seconds=1.5,
        channels="/default/mixed",
        publish_rate=10,
    )
    other.get(timeout=5)
    published = run.requests("publish")
    assert published >= 10, "10 publishes a second for 1.5 s"
    assert run.failures("publish") == 0, run.error_texts()
    assert published <= run.requests("deliver") <= published + 1


def test_a_lost_connection_is_reconnected_and_resubscribed(fresh_emulator: LiveEmulator) -> None:
    fresh_emulator.add_fault("disconnect-all:after=0.5")
    run = run_users(fresh_emulator, [Subscriber], users=2, seconds=2.5, channels="/default/again")
    assert run.entry("connect", "/event/realtime").num_requests == 4
    assert run.entry("subscribe", "/default/again").num_requests == 4
    assert run.left_open() == (0, 0)


def test_publishers_stamp_their_events_and_spread_them_at_the_publish_rate(
    fresh_emulator: LiveEmulator,
) -> None:
    """What two Publishers send, read back by a wildcard subscriber of the test's own:
    requests at --publish-rate / --events-per-publish per second each, to every channel of
    --channels, every event stamped with the run id, its publisher, its channel, a sequence
    from 1 per publisher and channel and its slot's intended time (one per request, so
    shared by the request's events), and padded to exactly --payload-bytes."""
    received: list[str] = []
    watcher = EventsClient(
        fresh_emulator.endpoints,
        fresh_emulator.authorizer(),
        ClientOptions(connect_timeout_s=3.0, operation_timeout_s=2.0),
        on_data=lambda _sub_id, event, _ns: received.append(event),
    )
    watcher.connect()
    try:
        watcher.subscribe("/default/spread/*")
        run = run_users(
            fresh_emulator,
            [Publisher],
            users=2,
            seconds=1.5,
            channels="/default/spread/{1..3}",
            publish_rate=20,
            events_per_publish=2,
            payload_bytes=300,
            run_id="spread-run",
        )
        accepted = run.emulator_stats["publishes"]["events"]
        wait_until(lambda: len(received) == accepted, what=f"{accepted} events")
    finally:
        watcher.close()
    publish = run.entry("publish", "/default/spread/{1..3}")
    assert publish.num_failures == 0, run.error_texts()
    # 20 events/s in requests of 2: 10 requests a second per user, 15 in 1.5 s.
    assert 22 <= publish.num_requests <= 34, publish.num_requests
    stamps = [stamp for stamp in map(read_event, received) if stamp is not None]
    assert len(stamps) == len(received), "every event is a traced event"
    assert {len(event.encode()) for event in received} == {300}
    assert {stamp.run for stamp in stamps} == {"spread-run"}
    assert {stamp.channel for stamp in stamps} == {f"/default/spread/{n}" for n in (1, 2, 3)}
    publishers = {stamp.publisher for stamp in stamps}
    assert len(publishers) == 2
    assert all(re.fullmatch(r"[0-9a-f]{6}-\d+", publisher) for publisher in publishers)
    sequences: dict[tuple[str, str], list[int]] = defaultdict(list)
    slots: dict[str, set[int]] = defaultdict(set)
    for stamp in stamps:
        sequences[stamp.publisher, stamp.channel].append(stamp.seq)
        slots[stamp.publisher].add(stamp.intended_ns)
    for key, seqs in sequences.items():
        assert sorted(seqs) == list(range(1, len(seqs) + 1)), key
    per_request = Counter((s.publisher, s.channel, s.intended_ns) for s in stamps)
    assert set(per_request.values()) == {2}
    for publisher, times in slots.items():
        gaps = {b - a for a, b in itertools.pairwise(sorted(times))}
        assert all(abs(gap - 100_000_000) <= 2 for gap in gaps), (publisher, gaps)


def test_latency_counts_from_the_schedule_when_a_publisher_falls_behind(
    fresh_emulator: LiveEmulator,
) -> None:
    """Coordinated omission: acks held for 0.3 s let a publisher of 10 a second fall
    further behind at every publish. Publish and delivery latency are measured from each
    publish's intended time, so they grow (0.3 s + 0.2 s per publish, and 0.2 s per
    publish); measured from when the late publish went out they would not."""
    fresh_emulator.add_fault("delay-acks:delay=300ms,ack=publish")
    run = run_users(
        fresh_emulator,
        [PubSubUser],
        users=1,
        seconds=1.5,
        channels="/default/behind",
        publish_rate=10,
    )
    publish = run.entry("publish", "/default/behind")
    deliver = run.entry("deliver", "/default/behind")
    assert publish.num_failures == 0, run.error_texts()
    assert 3 <= publish.num_requests <= 5
    assert publish.min_response_time >= 290
    assert publish.max_response_time >= 700
    assert deliver.num_requests >= 3
    assert deliver.max_response_time >= 400


def test_a_publisher_over_http_opens_no_websocket(fresh_emulator: LiveEmulator) -> None:
    run = run_users(
        fresh_emulator,
        [Publisher],
        users=2,
        seconds=1.0,
        channels="/default/http-only",
        publish_via="http",
        publish_rate=10,
    )
    http = run.entry("http_publish", "/default/http-only")
    assert http.num_requests > 0 and http.num_failures == 0, run.error_texts()
    assert run.requests("connect") == 0
    assert run.emulator_stats["connections"]["attempts"] == 0


def test_a_channel_of_two_templates_is_one_channel_and_is_subscribed_once(
    fresh_emulator: LiveEmulator,
) -> None:
    """Both templates name /default/d; a user asked for more subscriptions than there are
    channels subscribes to each channel once. Stats use the first template naming it."""
    run = run_users(
        fresh_emulator,
        [Subscriber],
        users=2,
        seconds=0.5,
        channels="/default/d /default/{d}",
        subscriptions_per_user=3,
    )
    subscribe = run.entry("subscribe", "/default/d")
    assert subscribe.num_failures == 0, run.error_texts()
    assert subscribe.num_requests == run.requests("subscribe") == 2
    assert run.emulator_stats["subscriptions"]["total"] == 2


def test_wildcard_subscriptions_take_one_wildcard_of_each_template(
    fresh_emulator: LiveEmulator,
) -> None:
    run = run_users(
        fresh_emulator,
        [Subscriber],
        users=1,
        seconds=0.5,
        channels="/default/wa/{1..2} /default/wb/{1..2}",
        subscriptions_per_user=0,
        wildcard_subscriptions=2,
    )
    subscribed = {
        name: entry.num_requests
        for (name, method), entry in run.environment.stats.entries.items()
        if method == "subscribe"
    }
    assert subscribed == {"/default/wa/*": 1, "/default/wb/*": 1}
    assert run.failures("subscribe") == 0


def test_stopping_gives_up_unsubscribing_after_the_operation_timeout(
    fresh_emulator: LiveEmulator,
) -> None:
    """Unsubscribes that get no answer: the user stops after one operation timeout in all
    (the connection's close ends the rest on the server), not one per subscription."""
    fresh_emulator.add_fault("delay-acks:delay=5s,ack=unsubscribe")
    run = run_users(
        fresh_emulator,
        [Subscriber],
        users=1,
        seconds=0.5,
        channels="/default/slow-{1..5}",
        subscriptions_per_user=5,
        operation_timeout=0.3,
    )
    assert run.requests("subscribe") == 5
    unsubscribe = run.entry("unsubscribe", "/default/slow-{1..5}")
    assert (unsubscribe.num_requests, unsubscribe.num_failures) == (1, 1)
    assert run.left_open() == (0, 0)


def test_a_connection_lost_while_resubscribing_is_not_published_on(
    fresh_emulator: LiveEmulator,
) -> None:
    """Lost at 0.2 s, reconnected a second later (constant 1 s policy), and lost again at
    1.6 s while the resubscribe waits for its (delayed) answer: the publisher waits for the
    next reconnect instead of publishing on the lost connection. A loss wakes the user
    waiting for its next slot, so no publish is ever tried on a lost connection."""
    for spec in (
        "disconnect-all:after=0.2",
        "delay-acks:delay=800ms,ack=subscribe,after=0.5",
        "disconnect-all:after=1.6",
    ):
        fresh_emulator.add_fault(spec)
    run = run_users(
        fresh_emulator,
        [PubSubUser],
        users=1,
        seconds=2.0,
        channels="/default/twice",
        publish_rate=10,
        reconnect_policy="constant:base=1s",
    )
    assert run.requests("connect") == 2
    assert run.failures("subscribe") == 1, "the resubscribe was cut off by the second loss"
    assert run.requests("publish") > 1
    # A publish in flight when the first disconnect lands fails with it (now and then: the
    # 10-per-second schedule has a random phase); that is the server's doing.
    # Publishing on the connection lost during the resubscribe would fail every slot
    # from 1.6 s to the stop, four or more.
    assert run.failures("publish") <= 1, run.error_texts()


def test_a_user_stopped_while_its_connection_is_lost_does_not_unsubscribe(
    fresh_emulator: LiveEmulator,
) -> None:
    """The connection is gone at the stop (and the reconnect not due yet): there is
    nothing to unsubscribe, and no failed unsubscribes to report."""
    fresh_emulator.add_fault("disconnect-all:after=0.3")
    run = run_users(
        fresh_emulator,
        [Subscriber],
        users=1,
        seconds=0.7,
        channels="/default/gone",
        reconnect_policy="constant:base=1s",
    )
    assert run.requests("connect") == 1
    assert run.requests("subscribe") == 1
    assert run.requests("unsubscribe") == 0
    assert run.failures("unsubscribe") == 0
    assert run.left_open() == (0, 0)


# -- runs started again (the web UI) -------------------------------------------------------


def test_a_run_started_again_uses_the_options_as_they_are_then(
    fresh_emulator: LiveEmulator,
) -> None:
    """The web UI's start form may change the options between two runs of one Locust
    process: the second run's users use the new values."""
    environment = local_environment(
        fresh_emulator.process.info.http_url, [Subscriber], channels="/default/first-run"
    )

    def subscribes(name: str) -> int:
        return int(environment.stats.get(name, "subscribe").num_requests)

    with running(environment, users=1) as runner:
        wait_until(lambda: subscribes("/default/first-run") == 1, what="the first run")
        runner.stop()
        environment.parsed_options.channels = "/default/second-run"
        runner.start(1, spawn_rate=1)
        wait_until(lambda: subscribes("/default/second-run") == 1, what="the second run")
        assert subscribes("/default/first-run") == 0


def test_a_run_whose_options_went_bad_is_stopped_as_it_starts(
    fresh_emulator: LiveEmulator,
) -> None:
    """The web UI converts a form field with type(default)(text), so 0 reaches the options
    as it is; the run stops instead of every user failing on its own."""
    environment = local_environment(
        fresh_emulator.process.info.http_url, [Publisher], channels="/default/bad-run"
    )
    environment.parsed_options.publish_rate = 0.0
    with running(environment, users=2) as runner:
        wait_until(lambda: runner.state == STATE_STOPPED, what="the run stopped")
    assert fresh_emulator.stats()["connections"]["attempts"] == 0


def test_a_user_with_no_host_to_talk_to_says_why(caplog: pytest.LogCaptureFixture) -> None:
    """Users run without ``locust -f`` (so no embedded emulator) and without --host."""
    with running(local_environment("", [Subscriber]), users=1):
        wait_until(lambda: "cannot start a user" in caplog.text, what="the user's error")
    assert "cannot start a user: --host: is empty and no embedded emulator was started" in (
        caplog.text
    )


def test_a_user_in_a_locustfile_that_did_not_install_the_harness_says_so(
    emulator: LiveEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    """Importing the users adds no listener; a locustfile must call install(events)."""
    environment = Environment(
        user_classes=[Subscriber],
        events=Events(),  # a Locust whose events the harness was never installed on
        host=emulator.process.info.http_url,
        parsed_options=parse_options(),
    )
    with running(environment, users=1):
        wait_until(lambda: "cannot start a user" in caplog.text, what="the user's error")
    assert "the harness is not installed: call harness.loadtest.install(events)" in caplog.text


# -- the embedded emulator's credentials ------------------------------------------------------


def test_the_emulator_token_lives_an_hour_and_is_minted_once() -> None:
    """The token minted for Cognito/OIDC against the embedded emulator: signed with the
    emulator's secret, an hour long, and the same token for every call until shortly
    before it expires (minting per message would cost every subscribe and publish)."""
    token = EmulatorToken()
    before = time.time()
    first = token()
    claims = verify_hs256(first, [defaults.DEFAULT_JWT_SECRET], time.time())
    assert int(before) + 3600 <= claims["exp"] <= time.time() + 3600
    assert [token() for _ in range(3)] == [first] * 3


# -- outages ---------------------------------------------------------------------------------


def test_slots_missed_without_a_connection_are_skipped_not_sent_late(
    fresh_emulator: LiveEmulator,
) -> None:
    """Connected, then cut off at 0.4 s with handshakes refused until 1 s, retried once a
    second: the slots of the outage are skipped (users.AppSyncUser._skip,
    schedule.PublishSchedule.skip_missed), each a ``skipped`` request and a skipped figure
    of its channel, so every slot is accounted for; once reconnected the publisher is on
    schedule. A publish sent after the reconnect must not be a slot of the outage, which
    would be late by up to the retry pause."""
    fresh_emulator.add_fault("disconnect-all:after=0.4s")
    fresh_emulator.add_fault("refuse:after=0.4s,duration=0.6s")
    run = run_users(
        fresh_emulator,
        [Publisher],
        users=1,
        seconds=2.0,
        channels="/default/outage",
        publish_rate=10,
        reconnect_policy="constant:base=1s",
    )
    publish = run.entry("publish", "/default/outage")
    sent = publish.num_requests
    assert sent >= 3 and publish.num_failures == 0, run.error_texts()
    skipped = run.entry("skipped", "/default/outage").num_requests
    assert skipped >= 5 and run.failures("skipped") == 0, run.error_texts()
    assert run.summary()["delivery"]["overall"]["skipped"] == skipped
    # 2 s at 10 a second is at least 19 slots; the last may be cut short by the stop.
    assert sent + skipped >= 18, (sent, skipped)
    assert publish.max_response_time < 250, (
        f"a publish went out {publish.max_response_time:.0f} ms after its slot: "
        "slots missed while disconnected were sent in a burst after the reconnect"
    )


def test_an_http_publish_gives_up_after_the_operation_timeout() -> None:
    """--operation-timeout bounds HTTP publishes too: against a server that never answers
    (no emulator can be made to hold an HTTP answer), each fails after it."""
    with silent_port() as port:
        environment = local_environment(
            f"http://127.0.0.1:{port}/event",
            [Publisher],
            channels="/default/unanswered",
            publish_via="http",
            publish_rate=10,
            operation_timeout=0.3,
        )
        with running(environment, users=1):
            gevent.sleep(1.0)
    entry = environment.stats.get("/default/unanswered", "http_publish")
    assert 2 <= entry.num_failures == entry.num_requests <= 4
    errors = [str(error.error) for error in environment.stats.errors.values()]
    assert errors == ["http_publish failed: Timeout: no answer within 0.3 s"], errors


def test_a_publish_whose_answer_refuses_events_is_a_failure() -> None:
    """A 200 answer may refuse single events (docs/protocol.md#http-publish); such a publish counts
    as failed, with
    the refused event's code. No emulator refuses an event the harness would publish
    (--payload-bytes stays within the limit), so this server refuses every event."""
    refusal = json.dumps(
        {
            "successful": [{"index": 1}],
            "failed": [{"index": 0, "code": "EventTooLargeException", "message": "too big\nmore"}],
        }
    ).encode()
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(refusal), refusal)

    def refuse_events(peer: ScriptedPeer) -> None:
        while True:
            try:
                peer.http_request()
            except ConnectionError:
                return  # the publisher closed its connection
            peer.send(answer)

    with scripted_server(refuse_events) as port:
        environment = local_environment(
            f"http://127.0.0.1:{port}/event",
            [Publisher],
            channels="/default/refused",
            publish_via="http",
            publish_rate=20,
            events_per_publish=2,
        )
        with running(environment, users=1):
            gevent.sleep(0.5)
    entry = environment.stats.get("/default/refused", "http_publish")
    assert entry.num_requests >= 2
    assert entry.num_failures == entry.num_requests
    errors = [str(error.error) for error in environment.stats.errors.values()]
    assert errors == [
        "http_publish failed: EventTooLargeException: 1 of 2 events refused; event 0: too big"
    ], errors


# -- every stopped user is checked; one channel, one template -----------------------------


def test_every_stopped_user_has_a_cleanup_row_http_publishers_too(
    emulator: LiveEmulator,
) -> None:
    """Publishers over HTTP hold no connection and leave nothing; each still gets its
    ``cleanup clean`` row, as every stopped user does (docs/resilience.md)."""
    run = run_users(
        emulator,
        [Publisher, Subscriber],
        users=6,
        seconds=0.8,
        channels="/default/cleanup-rows",
        publish_via="http",
        publish_rate=5,
    )
    assert run.entry("cleanup", "clean").num_requests == 6, run.error_texts()
    assert run.requests("cleanup") == 6
    assert run.resilience()["cleanup"]["users_checked"] == 6


def test_a_channel_named_by_two_templates_belongs_to_the_first_everywhere(
    emulator: LiveEmulator,
) -> None:
    """``/default/x-2`` is in both templates: Locust's names, the latency figures and the
    delivery accounting all credit it to the first (workload.channels.template_of_channels)."""
    first, second = "/default/x-{1..2}", "/default/x-{2..3}"
    run = run_users(
        emulator,
        [PubSubUser],
        users=3,
        seconds=1.5,
        channels=f"{first},{second}",
        subscriptions_per_user=3,
        publish_rate=20,
    )
    summary = run.summary()
    names = {name for (name, method) in run.environment.stats.entries if method == "publish"}
    assert names <= {first, second}, names
    shared = "/default/x-2"
    assert shared in summary["delivery"]["channels"], summary["delivery"]["channels"]
    published_on_shared = summary["delivery"]["channels"][shared]["published"]
    assert published_on_shared > 0
    delivered = {t: a["published"] for t, a in summary["delivery"]["templates"].items()}
    only_first = summary["delivery"]["channels"].get("/default/x-1", {"published": 0})
    assert delivered[first] == only_first["published"] + published_on_shared, delivered
    latency = summary["latency"]["deliver"]
    per_channel = latency["channels"]
    first_channels = [c for c in ("/default/x-1", shared) if c in per_channel]
    counted_first = sum(per_channel[channel]["count"] for channel in first_channels)
    assert latency["templates"][first]["count"] == counted_first, latency["templates"]
    counted_second = per_channel.get("/default/x-3", {"count": 0})["count"]
    assert latency["templates"].get(second, {"count": 0})["count"] == counted_second


def test_broadcast_errors_from_the_service_are_named_in_the_run(
    start_emulator: Callable[..., LiveEmulator],
) -> None:
    emulator = start_emulator("--fault", "broadcast-error:fraction=0.3")
    run = run_users(
        emulator,
        [Publisher, Subscriber],
        users=3,
        seconds=1.5,
        channels="/default/b-{1..2}",
        subscriptions_per_user=2,
        publish_rate=20,
    )
    sent = run.emulator_stats["deliveries"]["broadcast_errors"]
    assert sent > 0
    # Every broadcast_error the emulator sent is a failed request of its own type.
    assert run.requests("broadcast_error") == run.failures("broadcast_error") == sent
    assert any("deliver failed: MessageProcessingError" in text for text in run.error_texts())
    summary = run.summary()
    assert summary["totals"]["requests"]["broadcast_error"]["failures"] == sent
