"""Entry point of ``locust -f locustfile.py``.

The Locust users (signed connects, subscriptions and publishes against the
embedded emulator or a real API) are not built yet; this checkout holds the
foundation they stand on: the wire protocol (``harness/protocol/``) and
authorization (``harness/signing/``). See README.md, "Status".
"""

raise SystemExit(
    "appsync-events-harness: the Locust users are not built yet; this version has the "
    "protocol and signing foundation only (see README.md, 'Status')."
)
