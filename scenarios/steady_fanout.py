"""Steady fan-out: many subscribers on every channel, publishers at a fixed rate.

    locust -f scenarios/steady_fanout.py --headless -u 40 -r 40 -t 30s --report-dir out

Four channels (``/default/fanout-{1..4}``); every subscriber subscribes to all four,
so each event is delivered to every subscriber, and each publisher sends 4 events a
second on a fixed schedule (open loop, random phase per user). With ``-u 40``: 32
subscribers, 8 publishers, 32 events/s, about 1,000 deliveries/s.

What it measures: delivery latency from each event's intended send time to its
arrival (``deliver`` in Locust's table; ``latency.deliver`` of summary.json, overall,
per template and per channel), and loss (``delivery.overall``: ``delivered`` is about
``published`` times the subscribers, less the events published while a subscriber
was still subscribing or already unsubscribing; ``lost``, ``duplicated`` and
``out_of_order`` must be 0; a lost event fails the run).

Against a real API::

    locust -f scenarios/steady_fanout.py --headless -u 400 -r 50 -t 5m --processes 4 \\
        --host https://<id>.appsync-api.<region>.amazonaws.com/event --api-key <key> \\
        --channels "/default/fanout-{1..4}" --slo "deliver.p99<=500ms" --report-dir out

(``--processes``: at high fan-out one process spends its time working through its own
deliveries, docs/load-test.md#at-high-fan-out.)
"""

from locust import events

from harness.loadtest import install, users
from harness.loadtest.scenario import option_defaults

install(events)
option_defaults(events, channels="/default/fanout-{1..4}", subscriptions_per_user=4, publish_rate=4)


class FanoutSubscriber(users.Subscriber):
    weight = 4


class FanoutPublisher(users.Publisher):
    weight = 1
