"""Flapping connections: each connection is dropped at random, about once every 4 s.

    locust -f scenarios/flapping.py --headless -u 30 -r 30 -t 20s --report-dir out

Connections keep failing for the whole run, so each user reconnects many
times under decorrelated jitter. The report shows how many losses there were,
how long recoveries took (percentiles), and whether every attempt stayed
within the policy's bounds.
"""

from locust import events

from harness.loadtest import install, users
from harness.loadtest.scenario import inject_faults

install(events)
inject_faults(events, "drop:rate=0.25")

POLICY = "decorrelated-jitter:base=200ms,cap=5s"


class FlappingSubscriber(users.Subscriber):
    reconnect_policy = POLICY


class FlappingPubSub(users.PubSubUser):
    reconnect_policy = POLICY
