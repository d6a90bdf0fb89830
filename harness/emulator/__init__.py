"""The AppSync Events emulator: the harness's embedded default target.

A real server in its own process (asyncio, aiohttp): ``POST /event`` and
``GET /event/realtime`` on one port, authorization verified as AppSync does it
(:mod:`harness.signing.verify`), an admin API and injectable faults.

- :mod:`.cli`: ``python -m harness.emulator``, options and the TOML file.
- :mod:`.settings`: credentials, namespaces, timings.
- :mod:`.server`: the HTTP/WebSocket server, keep-alives, lifetime, fault timing.
- :mod:`.session`: one WebSocket connection and the messages it handles.
- :mod:`.operations`: subscribe and publish rules, shared by WebSocket and HTTP.
- :mod:`.broker`: subscriptions and the pre-serialised fan-out.
- :mod:`.faults`: fault specs and seeded decisions.
- :mod:`.stats`, :mod:`.admin`: counters and the ``/_emulator/`` API.
- :mod:`.identity_pool`, :mod:`.cognito_identity`: a Cognito identity pool (its
  identities and credentials) and its JSON API, on a port of its own.
- :mod:`.tls`: the generated certificate for ``--tls``.
- :mod:`.defaults`: the fixed test credentials.
- :mod:`.process`: start one as a child process and read its address.
"""
