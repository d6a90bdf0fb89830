"""Soak: a long run at moderate load, with keep-alives checked, connections ended at
their maximum life, and every reconnect signed again.

    locust -f scenarios/soak.py --headless -u 20 -r 20 -t 50s --report-dir out

Subscribers (each on one of ``/default/soak/room-{1..5}``) and publishers (2 events/s
each, to any of those) sign every connect, subscribe and publish with SigV4
(``--auth-mode AWS_IAM``). The embedded emulator sends a keep-alive every second and
advertises a 4 s ``connectionTimeoutMs``, so each client's watchdog is checking all the
time. Any frame resets a watchdog, so on a busy connection keep-alives hardly matter;
``IdleSubscriber`` holds a channel nobody publishes to (``/default/idle/room-1``), so
only keep-alives keep it up, and a keep-alive that does not come (or a watchdog that
misses it) shows as extra losses. The emulator closes every connection after 20 s,
AppSync's 24-hour maximum connection life compressed, so every user reconnects (with
fresh signatures) and resubscribes under its policy, and a publish cut off by the
close is retried on the new connection.

What it measures: the drift of latency over the run (the over-time charts of
report.html and the ``.hlog`` files: p50 and p99 per 5-second slot); reconnects at
end of life (resilience.json: ``losses`` about one per connection per 20 s and no
more, ``recoveries`` equal to them, every attempt within the policy); delivery across
them (``lost`` 0; what was published while a subscriber was reconnecting is
``missed_during_reconnect``, not lost); what users leave behind (``cleanup``).

Credentials: the harness reads credentials for every signature from botocore, which
refreshes temporary credentials (an assumed role, SSO, an instance role) before they
expire, so a soak against a real API outlives them (``--aws-profile``). Against the
embedded emulator the credentials are its static test keys: refresh is not exercised,
and the emulator cannot issue expiring ones. A ``--auth-token`` (Cognito, OIDC, Lambda)
is used as given and never refreshed; against the emulator the harness mints a JWT
valid for an hour and mints another a minute before it expires.

Against a real API (the lifetime and keep-alive settings are AppSync's own there)::

    locust -f scenarios/soak.py --headless -u 200 -r 20 -t 26h \\
        --host https://<id>.appsync-api.<region>.amazonaws.com/event \\
        --aws-profile load-test-role --report-dir out
"""

from locust import events

from harness.loadtest import install, users
from harness.loadtest.scenario import option_defaults

install(events)
option_defaults(
    events,
    auth_mode="AWS_IAM",
    channels="/default/soak/room-{1..5} /default/idle/room-1",
    publish_rate=2,
    emulator_args="--keepalive-interval-s 1 --connection-timeout-ms 4000 "
    "--max-connection-duration-s 20",
)

RECONNECT = "full-jitter:base=200ms,cap=5s"


class SoakSubscriber(users.Subscriber):
    weight = 2
    channel_pattern = "/default/soak/*"
    reconnect_policy = RECONNECT


class IdleSubscriber(users.Subscriber):
    weight = 1
    channel_pattern = "/default/idle/*"
    reconnect_policy = RECONNECT


class SoakPublisher(users.Publisher):
    weight = 1
    channel_pattern = "/default/soak/*"
    reconnect_policy = RECONNECT
    publish_retry_policy = "exponential:base=100ms,cap=2s,max-attempts=3"
