"""Payload sizes: events from the trace fields alone to AppSync's 240 KB limit, and
one byte over it.

    locust -f scenarios/payload_sizes.py --headless -u 12 -r 12 -t 30s --report-dir out

One publisher class per size, each on its own channels so that every report gives
each size its own rows (names are channel templates):

======================  =================  ==================================
user class              event (bytes)      channels
======================  =================  ==================================
``TinyPublisher``       ~110 (no padding)  ``/default/tiny/ch-{1..2}``
``KilobytePublisher``   1,024              ``/default/1kb/ch-{1..2}``
``LargePublisher``      65,536             ``/default/64kb/ch-{1..2}``
``LimitPublisher``      245,760 (240 KB)   ``/default/240kb/ch-{1..2}``
``OverLimitPublisher``  245,761            ``/default/over-240kb/ch-{1..2}``
======================  =================  ==================================

Two subscribers hold the five wildcards. Every publisher sends one event per second.

What it measures: publish and delivery latency per size (``publish`` and ``deliver``
rows, ``latency.*.templates`` of summary.json), delivery of every event up to the
limit (``delivery.templates``: ``lost`` 0), and the over-limit events: AppSync
answers such a publish with the event in its ``failed`` list
(``EventTooLargeException``, docs/protocol.md#http-publish) rather than refusing the
request or closing the connection, and the harness counts it so: a failed ``publish``
of ``/default/over-240kb/ch-{1..2}`` naming the refused event, never acknowledged,
so never expected of a subscriber. The run exits 1, because those publishes fail
as they must.

Against a real API::

    locust -f scenarios/payload_sizes.py --headless -u 12 -r 12 -t 2m \\
        --host https://<id>.appsync-api.<region>.amazonaws.com/event --api-key <key> \\
        --report-dir out
"""

from locust import events

from harness.loadtest import install, users
from harness.loadtest.scenario import option_defaults, per_user
from harness.protocol import MAX_EVENT_BYTES

install(events)
option_defaults(
    events,
    channels="/default/tiny/ch-{1..2} /default/1kb/ch-{1..2} /default/64kb/ch-{1..2} "
    "/default/240kb/ch-{1..2} /default/over-240kb/ch-{1..2}",
    publish_rate=1,
)


class SizesSubscriber(users.Subscriber):
    fixed_count = 2
    user_options = per_user(subscriptions_per_user=0, wildcard_subscriptions=5)


class TinyPublisher(users.Publisher):
    channel_pattern = "/default/tiny/*"
    user_options = per_user(payload_bytes=0)


class KilobytePublisher(users.Publisher):
    channel_pattern = "/default/1kb/*"
    user_options = per_user(payload_bytes=1024)


class LargePublisher(users.Publisher):
    channel_pattern = "/default/64kb/*"
    user_options = per_user(payload_bytes=64 * 1024)


class LimitPublisher(users.Publisher):
    channel_pattern = "/default/240kb/*"
    user_options = per_user(payload_bytes=MAX_EVENT_BYTES)


class OverLimitPublisher(users.Publisher):
    channel_pattern = "/default/over-240kb/*"
    user_options = per_user(payload_bytes=MAX_EVENT_BYTES + 1)
