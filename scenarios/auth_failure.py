"""An auth failure that must not be retried: 2 s in, every connection is dropped and
every reconnect is refused with ``UnauthorizedException``.

    locust -f scenarios/auth_failure.py --headless -u 20 -r 20 -t 6s --report-dir out

``UnauthorizedException`` is not retryable (protocol reference, §4), so each
user tries once, gives up (``give_ups``: "not retryable"), and stays down
instead of hammering the API in a loop: the report shows one attempt per user.
"""

from locust import events

from harness.loadtest import install, users
from harness.loadtest.scenario import inject_faults

install(events)
inject_faults(
    events,
    "disconnect-all:after=2s",
    "refuse:error=UnauthorizedException,after=2s",
)


class LockedOutSubscriber(users.Subscriber):
    reconnect_policy = "full-jitter:base=200ms,cap=5s"
