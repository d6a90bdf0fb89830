"""Namespace handlers (``--handlers``): real JavaScript handler files run by an emulator
process, observed by clients over loopback as AppSync's clients would see them."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import TEST_EMULATOR_ARGS
from support.emulator import LiveEmulator, wait_until
from support.emulator_checks import run_cli
from support.timing import MS

from harness.emulator.handlers.engine import MAX_CODE_CHARS
from harness.emulator.process import EmulatorProcess
from harness.protocol import Data, PublishError, PublishSuccess, SubscribeError, SubscribeSuccess
from harness.signing import AuthMode
from harness.workload.tracing import TraceStamp, make_event

pytest.importorskip("quickjs")

HANDLERS = Path(__file__).parent / "handlers"
TIME_LIMIT_MS = 100
Start = Callable[..., LiveEmulator]


@pytest.fixture(scope="module")
def live() -> Iterator[LiveEmulator]:
    """One emulator with three handled namespaces and one without a handler."""
    arguments = [*TEST_EMULATOR_ARGS, "--handler-time-limit-ms", str(TIME_LIMIT_MS)]
    for namespace, handler in (("default", "filter"), ("broken", "broken"), ("echo", "echo")):
        arguments += [
            "--namespace",
            namespace,
            "--handlers",
            f"{namespace}={HANDLERS}/{handler}.js",
        ]
    arguments += ["--namespace", "plain"]
    process = EmulatorProcess.start(arguments)
    yield LiveEmulator(process)
    assert process.stop() == 0, process.stderr_text()


def unique() -> str:
    return uuid.uuid4().hex[:8]


def publish_answer(client: object, channel: str, events: list[str]) -> object:
    pub_id = unique()
    client.publish(pub_id, channel, events)  # type: ignore[attr-defined]
    answer = client.recv()  # type: ignore[attr-defined]
    assert answer.id == pub_id, answer
    return answer


def error_of(message: object) -> tuple[str, str]:
    (error,) = message.errors  # type: ignore[attr-defined]
    return error.error_type, error.message


def test_on_publish_filters_and_transforms_and_lists_filtered_events_as_successful(
    live: LiveEmulator,
) -> None:
    channel = f"/default/room-{unique()}"
    events = ['{"n":1}', '{"n":2,"drop":true}', '{"n":3}']
    with live.clients(2) as (subscriber, publisher):
        assert isinstance(subscriber.subscribe("s", channel), SubscribeSuccess)
        answer = publish_answer(publisher, channel, events)
        assert isinstance(answer, PublishSuccess)
        assert [entry.index for entry in answer.successful] == [0, 1, 2]
        assert answer.failed == ()
        received = subscriber.recv_all()
    assert [json.loads(message.event) for message in received if isinstance(message, Data)] == [
        {"n": 1, "checked": True},
        {"n": 3, "checked": True},
    ]
    # Over HTTP too, and the filtered events are counted.
    before = live.stats()["handlers"]
    status, body = live.http_publish(channel, ['{"drop":true}', '{"n":4}'])
    assert status == 200 and [entry["index"] for entry in body["successful"]] == [0, 1]
    after = live.stats()["handlers"]
    assert after["events_filtered"] - before["events_filtered"] == 1
    assert after["invocations"] - before["invocations"] == 1


def test_filtered_traced_events_are_listed_for_the_harness(live: LiveEmulator) -> None:
    channel = f"/default/traced-{unique()}"
    run = unique()
    kept = make_event(TraceStamp(run, "p1", channel, 1, time.time_ns()))
    dropped = json.dumps(
        {**json.loads(make_event(TraceStamp(run, "p1", channel, 2, 0))), "drop": True}
    )
    dropped = dropped.replace(", ", ",").replace(": ", ":")
    since = live.request("GET", "/_emulator/filtered")[1]["total"]
    status, _ = live.http_publish(channel, [kept, dropped])
    assert status == 200
    status, document = live.request("GET", f"/_emulator/filtered?since={since}")
    assert status == 200
    assert [entry[1:] for entry in document["events"]] == [[run, "p1", channel, 2]]
    assert document["total"] == since + 1


def test_on_subscribe_rejects_with_unauthorized(live: LiveEmulator) -> None:
    with live.clients(1) as (client,):
        refused = client.subscribe("private", "/default/private/inbox")
        allowed = client.subscribe("public", "/default/public/news")
        wildcard = client.subscribe("all-private", "/default/private/*")
    assert isinstance(refused, SubscribeError)
    assert error_of(refused) == (
        "UnauthorizedException",
        "You are not authorized to make this call.",
    )
    assert isinstance(wildcard, SubscribeError)
    assert isinstance(allowed, SubscribeSuccess)


def test_a_handler_that_throws_is_named_with_its_line_and_the_emulator_keeps_serving(
    live: LiveEmulator,
) -> None:
    with live.clients(1) as (client,):
        answer = publish_answer(client, "/broken/a", ['{"mode":"throw"}'])
        assert isinstance(answer, PublishError)
        error_type, message = error_of(answer)
        assert error_type == "HandlerRuntimeError"
        assert "broken.js:7: TypeError: cannot read property 'field' of undefined" in message
        # The same connection and handler still work.
        assert isinstance(publish_answer(client, "/broken/a", ['{"mode":"fine"}']), PublishSuccess)
    status, body = live.http_publish("/broken/a", ['{"mode":"throw"}'])
    assert status == 500 and body["errors"][0]["errorType"] == "HandlerRuntimeError"
    assert "broken.js:7" in live.process.stderr_text()


def test_a_handler_that_loops_forever_is_stopped_by_the_time_limit(live: LiveEmulator) -> None:
    before = live.stats()["handlers"]
    with live.clients(1) as (client,):
        answer = publish_answer(client, "/broken/b", ['{"mode":"loop"}'])
        assert isinstance(answer, PublishError)
        error_type, message = error_of(answer)
        assert error_type == "HandlerRuntimeError"
        # The line is where QuickJS stopped it: near the loop, not always on it.
        assert re.search(rf"broken\.js:\d+: onPublish ran longer than {TIME_LIMIT_MS} ms", message)
        assert isinstance(publish_answer(client, "/broken/b", ['{"mode":"fine"}']), PublishSuccess)
    after = live.stats()["handlers"]
    assert after["timeouts"] - before["timeouts"] == 1
    assert after["failures"] - before["failures"] == 1


def test_util_error_fails_the_request_and_per_event_errors_go_to_failed(live: LiveEmulator) -> None:
    with live.clients(2) as (subscriber, publisher):
        assert isinstance(subscriber.subscribe("s", "/broken/c"), SubscribeSuccess)
        refused = publish_answer(publisher, "/broken/c", ['{"mode":"refuse"}'])
        assert isinstance(refused, PublishError)
        assert error_of(refused) == ("ValidationError", "refused by the handler")
        partial = publish_answer(publisher, "/broken/c", ['{"n":1}', '{"n":2,"bad":true}'])
        assert isinstance(partial, PublishSuccess)
        assert [entry.index for entry in partial.successful] == [0]
        ((failed),) = partial.failed
        assert (failed.index, failed.code, failed.message) == (1, "HandlerError", "bad event")
        not_an_array = publish_answer(publisher, "/broken/c", ['{"mode":"not-an-array"}'])
        assert error_of(not_an_array)[0] == "HandlerRuntimeError"
        assert "onPublish must return an array of events" in error_of(not_an_array)[1]
        received = [m for m in subscriber.recv_all() if isinstance(m, Data)]
    assert [json.loads(message.event) for message in received] == [{"n": 1}]
    status, body = live.http_publish("/broken/c", ['{"mode":"refuse"}'])
    assert (status, body["errors"][0]["errorType"]) == (403, "ValidationError")


@pytest.mark.parametrize(
    ("mode", "identity"),
    [
        (AuthMode.API_KEY, None),
        (AuthMode.AWS_IAM, {"username": "AKIAHARNESSEMULATOR1", "accountId": "123456789012"}),
        (AuthMode.AMAZON_COGNITO_USER_POOLS, {"defaultAuthStrategy": "ALLOW"}),
        (AuthMode.AWS_LAMBDA, {"handlerContext": {}}),
    ],
)
def test_handlers_see_the_documented_context(
    live: LiveEmulator, mode: AuthMode, identity: dict[str, object] | None
) -> None:
    channel = f"/echo/a/{unique()}"
    with live.clients(2, mode) as (subscriber, publisher):
        assert isinstance(subscriber.subscribe("s", channel), SubscribeSuccess)
        assert isinstance(publish_answer(publisher, channel, ['{"hello":"world"}']), PublishSuccess)
        (data,) = [m for m in subscriber.recv_all() if isinstance(m, Data)]
    seen = json.loads(data.event)
    assert seen["original"] == {"hello": "world"}
    assert seen["channel"] == channel
    assert seen["info"] == {
        "channel": {"path": channel, "segments": channel.strip("/").split("/")},
        "channelNamespace": {"name": "echo"},
        "operation": "PUBLISH",
    }
    if identity is None:
        assert seen["identity"] is None
    else:
        assert identity.items() <= seen["identity"].items()
    assert "host" in seen["headers"]
    assert len(seen["autoId"]) == 36 and len(seen["ulid"]) == 26
    assert abs(seen["now"] - time.time() * 1000) < 60_000
    assert seen["base64"] == "é&<>"
    wait_until(
        lambda: f"subscribing to {channel} as SUBSCRIBE" in live.process.stderr_text(),
        what="the handler's console.warn line in the emulator's log",
    )


def test_a_namespace_without_a_handler_is_untouched(live: LiveEmulator) -> None:
    with live.clients(2) as (subscriber, publisher):
        assert isinstance(subscriber.subscribe("s", "/plain/a"), SubscribeSuccess)
        assert isinstance(publish_answer(publisher, "/plain/a", ['{"drop":true}']), PublishSuccess)
        (data,) = [m for m in subscriber.recv_all() if isinstance(m, Data)]
    assert json.loads(data.event) == {"drop": True}


def test_handler_latency_delays_the_answer_and_the_fan_out(start_emulator: Start) -> None:
    latency_ms = 300
    live = start_emulator(
        "--handlers", f"default={HANDLERS}/filter.js", "--handler-latency-ms", str(latency_ms)
    )
    with live.clients(2) as (subscriber, publisher):
        started = time.monotonic()
        assert isinstance(subscriber.subscribe("s", "/default/a"), SubscribeSuccess)
        subscribed_after = time.monotonic() - started
        started = time.monotonic()
        answer = publish_answer(publisher, "/default/a", ['{"n":1}'])
        acked_after = time.monotonic() - started
        assert isinstance(answer, PublishSuccess)
        assert isinstance(subscriber.recv(), Data)
    # Lower bounds only: a busy machine may add time, never remove it.
    assert subscribed_after >= latency_ms / 1000 * 0.9
    assert acked_after >= latency_ms / 1000 * 0.9


def test_the_handler_error_fault_fails_invocations_even_without_a_handler(
    start_emulator: Start,
) -> None:
    live = start_emulator("--fault", "handler-error:fraction=1")
    with live.clients(1) as (client,):
        answer = publish_answer(client, "/default/a", ['{"n":1}'])
        refused = client.subscribe("s", "/default/a")
    assert error_of(answer) == (
        "HandlerRuntimeError",
        "The onPublish handler failed (injected fault)",
    )
    assert error_of(refused)[0] == "HandlerRuntimeError"
    handlers = live.stats()["handlers"]
    assert handlers["injected_failures"] == handlers["failures"] == 2


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (None, "cannot read"),
        ("export function onPublish(ctx) {\n  return ctx.events.map((e) => )\n}\n",
         ".js:2: SyntaxError"),
        ("\nimport { put } from '@aws-appsync/utils/dynamodb'\n",
         ".js:2: imports '@aws-appsync/utils/dynamodb'"),
        ("export const onPublish = { request: (ctx) => ({}), response: (ctx) => ctx.events }\n",
         "onPublish is an object"),
        ("//" + "x" * MAX_CODE_CHARS, "AppSync takes at most 32,768"),
    ],
)  # fmt: skip
def test_a_handler_file_that_cannot_run_stops_the_emulator_with_its_name(
    tmp_path: Path, source: str | None, expected: str
) -> None:
    path = tmp_path / "handler.js"
    if source is not None:
        path.write_text(source, encoding="utf-8")
    result = run_cli("--handlers", f"default={path}", timeout=10_000 * MS)
    assert result.returncode == 2, result.stderr
    assert "--handlers" in result.stderr and expected in result.stderr, result.stderr


def test_handlers_of_an_unknown_namespace_are_refused() -> None:
    result = run_cli("--handlers", f"chat={HANDLERS}/filter.js", timeout=10_000 * MS)
    assert result.returncode == 2
    assert "namespace 'chat' is not one of this API's (default; see --namespace)" in result.stderr


def test_the_javascript_engine_is_loaded_only_for_handlers() -> None:
    code = (
        "import sys, harness.emulator.cli, harness.emulator.server;"
        "assert 'quickjs' not in sys.modules, 'quickjs imported without handlers'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=30_000 * MS)
