"""AppSync Events load test: ``locust -f locustfile.py --headless -u 20 -r 20 -t 10s``.

With no ``--host`` the harness starts its own emulator on 127.0.0.1. Options:
docs/options.md, or "Custom parameters" in the web UI (Locust's ``--help`` prints
before it loads a locustfile, so it does not list them).
"""

from locust import events

from harness.loadtest import install
from harness.loadtest.users import Publisher, PubSubUser, Subscriber

install(events)

__all__ = ["PubSubUser", "Publisher", "Subscriber"]
