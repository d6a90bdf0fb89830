"""Keep-alives stop arriving: from 2 s on the emulator sends no ``ka`` messages.

    locust -f scenarios/keepalive_loss.py --headless -u 20 -r 20 -t 10s --report-dir out

The emulator advertises a 1.5 s ``connectionTimeoutMs`` (instead of AppSync's
5 minutes), so each client's watchdog declares the connection dead 1.5 s after
the last frame and reconnects. Keep-alives stay withheld on the new connections
too, for 4 s, so the clients keep losing them until the fault ends.
"""

from locust import events

from harness.loadtest import install, users
from harness.loadtest.scenario import inject_faults, option_defaults

install(events)
option_defaults(events, emulator_args="--keepalive-interval-s 0.5 --connection-timeout-ms 1500")
inject_faults(events, "withhold-ka:after=2s,duration=4s")


class SilentSubscriber(users.Subscriber):
    reconnect_policy = "equal-jitter:base=200ms,cap=2s"
