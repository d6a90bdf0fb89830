"""A throttled publisher: from 1 s on, half of all publishes are refused with
``LimitExceededError`` and retried with exponential backoff.

    locust -f scenarios/throttled_publisher.py --headless -u 10 -r 10 -t 10s --report-dir out

The ``publish`` rows of the report show the retries (attempts, conformance)
and the publishes given up after five retries; each retried event keeps its
sequence number, so a subscriber sees it once.
"""

from locust import events

from harness.loadtest import install, users
from harness.loadtest.scenario import inject_faults

install(events)
inject_faults(events, "throttle:fraction=0.5,after=1s")

RETRY = "exponential:base=50ms,cap=1s,max-attempts=5"


class ThrottledPublisher(users.Publisher):
    publish_retry_policy = RETRY


class ThrottledSubscriber(users.Subscriber):
    pass
