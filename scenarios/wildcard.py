"""Wildcard subscriptions: ``/default/*`` subscribers receiving from channels at three
depths.

    locust -f scenarios/wildcard.py --headless -u 20 -r 20 -t 30s --report-dir out

Publishers publish to channels two, three and five segments deep (five is AppSync's
most)::

    /default/lobby-{1..2}
    /default/game/room-{1..2}
    /default/game/room/table/seat-{1..2}

and every ``WildcardSubscriber`` holds one subscription, ``/default/*``, which covers
all of them (a wildcard covers every deeper level, docs/protocol.md#channels).

What it measures: deliveries through the one wildcard subscription per depth (the
``deliver`` rows and ``delivery.templates`` of summary.json are per channel template,
so per depth: ``delivered`` about ``published`` times the subscribers, ``lost`` 0),
delivery latency per depth, and the wildcard subscribe itself (a ``subscribe`` row
named ``/default/*``).

Against a real API::

    locust -f scenarios/wildcard.py --headless -u 100 -r 20 -t 5m \\
        --host https://<id>.appsync-api.<region>.amazonaws.com/event --api-key <key> \\
        --report-dir out
"""

from locust import events

from harness.loadtest import install, users
from harness.loadtest.scenario import option_defaults, per_user

install(events)
option_defaults(
    events,
    channels="/default/lobby-{1..2} /default/game/room-{1..2} /default/game/room/table/seat-{1..2}",
    publish_rate=4,
)


class WildcardSubscriber(users.Subscriber):
    weight = 3
    # The first template's wildcard: /default/*.
    user_options = per_user(subscriptions_per_user=0, wildcard_subscriptions=1)


class DepthPublisher(users.Publisher):
    weight = 1
