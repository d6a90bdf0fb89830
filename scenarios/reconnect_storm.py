"""Reconnect storm: every connection is dropped at once, 3 s into the run.

    locust -f scenarios/reconnect_storm.py --headless -u 50 -r 50 -t 10s --report-dir out

What to read in the report (``resilience.json``, and the table printed at the end):
every subscriber is back and resubscribed (``recoveries`` = ``losses``), each
attempt kept to its policy (``conformance``), and the herd figure: the busiest
100 ms of first reconnect attempts against what the policy predicts. The
jittered subscribers spread their reconnects; the publishers, on plain
exponential backoff, come back together, so their herd figure is all of them.
"""

from locust import events

from harness.loadtest import install, users
from harness.loadtest.scenario import inject_faults

install(events)
inject_faults(events, "disconnect-all:after=3s,code=1001")


class StormSubscriber(users.Subscriber):
    reconnect_policy = "full-jitter:base=1s,cap=10s"


class StormPublisher(users.Publisher):
    reconnect_policy = "exponential:base=500ms,cap=10s"
