"""AppSync Events load test: ``locust -f locustfile.py --headless -u 20 -r 20 -t 10s``.

With no ``--host`` the harness starts its own emulator on 127.0.0.1. Options: the
README's Options table, or "Custom parameters" in the web UI (Locust's ``--help``
prints before it loads a locustfile, so it does not list them).
"""

from harness.loadtest.users import Publisher, PubSubUser, Subscriber

__all__ = ["PubSubUser", "Publisher", "Subscriber"]
