"""bench_peers.py's ``locust-websocket-client`` mode: what people hand-write today.

    locust -f bench/peers_wsclient_locustfile.py --headless --host <emulator> ...

A Locust user on the ``websocket-client`` package (``import websocket``), one connection per
user, a receive loop in a greenlet (``gevent.spawn``) that fires one Locust
``events.request`` per delivery (``deliver``) and per publish acknowledgement
(``publish``); subscribers and publishers are two user classes with ``fixed_count``.
bench/bench_peers.py starts it with the load in the environment (peers_common.ENV_VAR).
Publishers publish one traced event (``harness.workload.tracing.make_event``, the same
events as the other modes) per publish, on a fixed schedule inside the publish window,
each waiting for its ``publish_success``. Locust's table rounds to milliseconds, so the
user also keeps every latency (microseconds; each delivery's with its arrival time) and
writes exact figures at quit, the delivery p99 of each 5-s interval of the window too.

The harness is used only to build the connection's authorization and the events, never on
the path of a delivery.
"""

from __future__ import annotations

import json
import random
import time
from array import array
from collections import defaultdict
from typing import Any

import bench_support as support
import gevent
import peers_common as common
import websocket
from gevent.event import AsyncResult, Event
from locust import User, constant, events, task

from harness.protocol import Endpoints
from harness.workload.tracing import TraceStamp, make_event

LOAD = common.PeerLoad.from_env()
CHANNELS = LOAD.channels
NAME = LOAD.channel_template  # one stats row, as the harness names its rows
ENDPOINTS = Endpoints.from_http_url(LOAD.http_url)
AUTHORIZER = support.emulator_authorizer(ENDPOINTS.http_host)

deliver_us = array("q")
deliver_at_ns = array("q")  # each delivery's arrival, time.time_ns()
ack_us: list[int] = []
counts: dict[str, int] = defaultdict(int)
_window: list[common.Window] = []
_window_known = Event()
_subscriber_numbers = iter(range(LOAD.subscribers))


class WebSocketUser(User):
    abstract = True
    wait_time = constant(0)

    def on_start(self) -> None:
        self.ws = websocket.create_connection(
            ENDPOINTS.realtime_url,
            subprotocols=AUTHORIZER.connect_subprotocols(),
            timeout=common.CONNECT_TIMEOUT_S,
            skip_utf8_validation=LOAD.skip_utf8_validation,
        )
        self.ws.send(json.dumps({"type": "connection_init"}))
        self.expect("connection_ack")

    def expect(self, kind: str) -> dict[str, Any]:
        for _ in range(20):
            message = json.loads(self.ws.recv())
            if message.get("type") == kind:
                return message
            if message.get("type") != "ka":
                raise RuntimeError(f"expected {kind}, got {message}")
        raise RuntimeError(f"no {kind}")

    def start_receiving(self) -> None:
        self.ws.settimeout(None)
        self.receiver = gevent.spawn(self.receive_loop)

    def receive_loop(self) -> None:
        while True:
            try:
                message = self.ws.recv()
            except (websocket.WebSocketException, OSError):
                counts["connections_lost"] += 1
                return
            self.on_message(message, time.time_ns())

    def on_message(self, message: str, received_ns: int) -> None: ...

    def on_stop(self) -> None:
        receiver = getattr(self, "receiver", None)
        if receiver is not None:
            receiver.kill(block=False)
        if getattr(self, "ws", None) is not None:
            self.ws.close()


class WsSubscriber(WebSocketUser):
    fixed_count = LOAD.subscribers

    def on_start(self) -> None:
        super().on_start()
        channel = CHANNELS[next(_subscriber_numbers) % len(CHANNELS)]
        subscribe = {
            "type": "subscribe",
            "id": "s1",
            "channel": channel,
            "authorization": AUTHORIZER.message_authorization(channel),
        }
        self.ws.send(json.dumps(subscribe))
        self.expect("subscribe_success")
        counts["subscribed"] += 1
        self.start_receiving()

    def on_message(self, message: str, received_ns: int) -> None:
        data = json.loads(message)
        if data.get("type") != "data":
            return
        latency_ns = received_ns - json.loads(data["event"])["t"]
        deliver_us.append(latency_ns // 1000)
        deliver_at_ns.append(received_ns)
        events.request.fire(
            request_type="deliver",
            name=NAME,
            response_time=latency_ns / 1e6,
            response_length=len(message),
            exception=None,
            context={},
        )

    @task
    def idle(self) -> None:
        gevent.sleep(common.IDLE_S)


class WsPublisher(WebSocketUser):
    fixed_count = LOAD.publishers

    def on_start(self) -> None:
        super().on_start()
        self.publisher_id = f"wsclient-{id(self):x}"
        self.pending: dict[str, tuple[int, AsyncResult]] = {}
        self.sequences: dict[str, int] = defaultdict(int)
        self.done = False
        self.start_receiving()

    def on_message(self, message: str, received_ns: int) -> None:
        answer = json.loads(message)
        waiting = self.pending.pop(answer.get("id"), None)
        if waiting is None:
            return
        intended_ns, result = waiting
        latency_ns = received_ns - intended_ns
        ok = answer.get("type") == "publish_success" and not answer.get("failed")
        if ok:
            ack_us.append(latency_ns // 1000)
            counts["published"] += len(answer.get("successful") or ())
        else:
            counts["publish_failures"] += 1
        events.request.fire(
            request_type="publish",
            name=NAME,
            response_time=latency_ns / 1e6,
            response_length=len(message),
            exception=None if ok else RuntimeError(message[:200]),
            context={},
        )
        result.set(ok)

    @task
    def publish_in_window(self) -> None:
        if self.done:  # the window is over
            gevent.sleep(common.IDLE_S)
            return
        if not _window_known.wait(common.IDLE_S):
            return
        self.done = True
        slots = common.slot_times_ns(_window[0], LOAD.publish_rate, random.random())
        for index, intended_ns in enumerate(slots):
            delay_ns = intended_ns - time.time_ns()
            if delay_ns > 0:
                gevent.sleep(delay_ns / 1e9)
            channel = random.choice(CHANNELS)
            self.sequences[channel] += 1
            stamp = TraceStamp(
                LOAD.run_id, self.publisher_id, channel, self.sequences[channel], intended_ns
            )
            event = make_event(stamp, LOAD.payload_bytes)
            publish_id = f"p{index}"
            message = {
                "type": "publish",
                "id": publish_id,
                "channel": channel,
                "events": [event],
                "authorization": AUTHORIZER.message_authorization(channel, [event]),
            }
            result = AsyncResult()
            self.pending[publish_id] = (intended_ns, result)
            self.ws.send(json.dumps(message))
            try:
                result.get(timeout=common.ACK_TIMEOUT_S)
            except gevent.Timeout:
                self.pending.pop(publish_id, None)
                counts["ack_timeouts"] += 1


def _watch(environment: Any) -> None:
    def known(window: common.Window) -> None:
        _window.append(window)
        _window_known.set()

    window_counts = common.watch_window(LOAD, gevent.sleep, lambda: len(deliver_us), known)
    if window_counts is not None:
        counts.update(window_counts)


@events.test_start.add_listener
def _on_test_start(environment: Any, **_: Any) -> None:
    gevent.spawn(_watch, environment)


@events.quitting.add_listener
def _on_quitting(environment: Any, **_: Any) -> None:
    result = {
        **counts,
        "delivered": len(deliver_us),
        "deliver_ms": common.latency_figures(deliver_us),
        "deliver_intervals": (
            common.interval_figures(deliver_at_ns, deliver_us, _window[0]) if _window else []
        ),
        "publish_ms": common.latency_figures(ack_us),
    }
    common.write_json(LOAD.result_file, result)
