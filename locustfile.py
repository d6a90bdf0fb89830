"""AppSync Events load test: ``locust -f locustfile.py --headless -u 20 -r 20 -t 10s``.

With no ``--host`` the harness starts its own emulator on 127.0.0.1. Options:
``locust -f locustfile.py --help`` (group "AppSync Events harness") or README.
"""

from harness.users import Publisher, PubSubUser, Subscriber

__all__ = ["PubSubUser", "Publisher", "Subscriber"]
