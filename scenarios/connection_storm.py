"""Connection storm: connects ramped up to a target rate, ``-r`` per second.

    locust -f scenarios/connection_storm.py --headless -u 1500 -r 150 -t 20s --report-dir out

A load shape (:class:`harness.loadtest.shapes.ConnectRamp`) raises the connect rate in
five one-second steps to ``-r`` per second and holds it until ``-u`` users are up;
each user connects (upgrade, ``connection_init``, ``connection_ack``), subscribes to
one channel, and keeps its connection until ``-t``. ``-u``, ``-r`` and ``-t`` keep
their meaning for the shape.

What it measures: connect latency under the storm (``connect`` in Locust's table and
``latency.connect`` of summary.json: TCP connect to ``connection_ack``, the upgrade and
the ack together; the harness does not time them apart), subscribe latency right
after, refusals (failed ``connect`` rows, with the server's error in Locust's error
report), and the rate reached: a "Connect rate" table after the run, each second's
target against the connects Locust counted in it.

AppSync allows 2,000 connection requests per second per API (adjustable,
docs/protocol.md#channels), and the embedded emulator enforces it (docs/emulator.md#quotas).
One process on two cores reaches a few hundred connects a second, so to see a storm
past the quota locally, lower the emulator's: ``--emulator-args="--quota
connect-rate=10"`` (refused connects are failed ``connect`` rows, retried under the
reconnect policy). To go past 2,000/s against a real API, spread the storm over
processes or machines (every worker holds its share of the connections; mind the
open-files limit)::

    locust -f scenarios/connection_storm.py --headless -u 40000 -r 2500 -t 1m \\
        --processes 16 --host https://<id>.appsync-api.<region>.amazonaws.com/event \\
        --api-key <key> --report-dir out
"""

from locust import events

from harness.loadtest import install, shapes, users

install(events)
shapes.report_connect_rates(events)


class StormSubscriber(users.Subscriber):
    pass


class StormRamp(shapes.ConnectRamp):
    ramp_s = 5
