"""The same load published over the WebSocket and with ``POST /event``, in one run.

    locust -f scenarios/http_vs_ws_publish.py --headless -u 20 -r 20 -t 30s --report-dir out

As many ``WebSocketPublisher`` users as ``HttpPublisher`` users, each publishing 5
events/s, the first over its WebSocket connection to ``/default/ws/room-{1..5}``,
the second with HTTP POSTs (no connection) to ``/default/http/room-{1..5}``; every
subscriber holds the two wildcards ``/default/ws/*`` and ``/default/http/*``, so it
receives both.

What it measures, side by side in one report: publish latency, from the intended send
time to the answer (request type ``publish`` for the WebSocket, ``http_publish`` for
HTTP; ``latency.publish`` and ``latency.http_publish`` of summary.json); delivery
latency and loss of the events each way (``deliver`` and ``delivery.templates`` for
``/default/ws/room-{1..5}`` against ``/default/http/room-{1..5}``); the failures of
each kind.

Against a real API::

    locust -f scenarios/http_vs_ws_publish.py --headless -u 40 -r 20 -t 5m \\
        --host https://<id>.appsync-api.<region>.amazonaws.com/event --api-key <key> \\
        --report-dir out
"""

from locust import events

from harness.loadtest import install, users
from harness.loadtest.scenario import option_defaults, per_user

install(events)
option_defaults(
    events, channels="/default/ws/room-{1..5} /default/http/room-{1..5}", publish_rate=5
)


class BothWaysSubscriber(users.Subscriber):
    weight = 2
    user_options = per_user(subscriptions_per_user=0, wildcard_subscriptions=2)


class WebSocketPublisher(users.Publisher):
    weight = 1
    channel_pattern = "/default/ws/*"
    user_options = per_user(publish_via="ws")


class HttpPublisher(users.Publisher):
    weight = 1
    channel_pattern = "/default/http/*"
    user_options = per_user(publish_via="http")
