"""AppSync Events load test: ``locust -f locustfile.py --headless -u 20 -r 20 -t 10s``.

With no ``--host`` the harness starts its own emulator on 127.0.0.1. Options:
docs/options.md, or "Custom parameters" in the web UI (Locust's ``--help`` prints
before it loads a locustfile, so it does not list them).

Without ``--scenario`` this file runs the three users below; ``--scenario NAME`` (or
``LOCUST_SCENARIO``) runs the users and load shape of ``scenarios/NAME.py`` instead
(docs/scenarios.md). An unknown name stops Locust with status 2, listing the names.
"""

from locust import events

from harness.loadtest import install, users
from harness.loadtest.selection import locustfile_classes

install(events)
# Locust runs the user classes (and the load shape) it finds in this module's namespace.
OWN_USERS = (users.PubSubUser, users.Publisher, users.Subscriber)
globals().update(locustfile_classes({user.__name__: user for user in OWN_USERS}))
