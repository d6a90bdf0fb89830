"""Fan-in: many publishers on few channels, at, below and past AppSync's 25 publishes/s
per connection.

    locust -f scenarios/fan_in.py --headless -u 31 -r 31 -t 30s --report-dir out

Three kinds of publisher, one WebSocket connection each, each kind on its own two
channels so every report tells them apart by channel template:

=====================  ===========  ===============================
user class             publishes/s  channels
=====================  ===========  ===============================
``UnderLimitPublisher``         10  ``/default/rate-10/ch-{1..2}``
``AtLimitPublisher``            25  ``/default/rate-25/ch-{1..2}``
``PastLimitPublisher``          30  ``/default/rate-30/ch-{1..2}``
=====================  ===========  ===============================

and one subscriber (``FanInSubscriber``) on the three wildcards, so every event is
also delivered. AppSync refuses a connection's publishes beyond 25 in a second with
``LimitExceededError`` (docs/protocol.md#channels); the embedded emulator does the same
over any one-second window. Publish retries are off, so a throttled publish is a
failed ``publish`` of its template.

What it measures: publish acknowledgement latency per kind (``publish`` rows,
``latency.publish.templates``), measured from each publish's intended send time;
throttling (the failures of each ``publish`` row, all ``LimitExceededError``): none
at 10/s, about one in six at 30/s, and at exactly 25/s whatever the jitter of the
arrivals pushes into a one-second window; delivery of what was acknowledged (no
loss). The run exits 1: the throttled publishes are failures.

Against a real API::

    locust -f scenarios/fan_in.py --headless -u 31 -r 31 -t 2m \\
        --host https://<id>.appsync-api.<region>.amazonaws.com/event --api-key <key> \\
        --report-dir out
"""

from locust import events

from harness.loadtest import install, users
from harness.loadtest.scenario import option_defaults, per_user

install(events)
option_defaults(
    events,
    channels="/default/rate-10/ch-{1..2} /default/rate-25/ch-{1..2} /default/rate-30/ch-{1..2}",
)


class FanInSubscriber(users.Subscriber):
    fixed_count = 1
    user_options = per_user(subscriptions_per_user=0, wildcard_subscriptions=3)


class UnderLimitPublisher(users.Publisher):
    channel_pattern = "/default/rate-10/*"
    user_options = per_user(publish_rate=10)


class AtLimitPublisher(users.Publisher):
    channel_pattern = "/default/rate-25/*"
    user_options = per_user(publish_rate=25)


class PastLimitPublisher(users.Publisher):
    channel_pattern = "/default/rate-30/*"
    user_options = per_user(publish_rate=30)
