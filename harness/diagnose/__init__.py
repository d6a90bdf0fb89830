"""Is this Event API, and this client's signing, working? (docs/diagnose.md)

- :mod:`~harness.diagnose.live`: one pass through every operation, each step judged;
- :mod:`~harness.diagnose.capture_file`: another client's requests, from a HAR file or
  a JSON list;
- :mod:`~harness.diagnose.checks`: what a request is checked for, and why a signature
  was refused (with :mod:`harness.signing.variants` and :mod:`harness.signing.mismatch`);
- :mod:`~harness.diagnose.output` and :mod:`~harness.diagnose.cli`: the command.

Blocking and Locust-free: it imports neither gevent nor Locust.
"""
