"""The Locust face of the harness: the only package that imports ``locust``.

A locustfile installs the harness's listeners explicitly, then exposes users::

    from locust import events

    from harness.loadtest import install
    from harness.loadtest.users import Publisher, PubSubUser, Subscriber

    install(events)

Modules: ``settings`` (options and the checked settings), ``target`` and
``runtime`` (what a run talks to, and what its users share), ``state`` (one
environment's run state), ``users``, ``listeners`` (``install``), ``startup``
and ``ending`` (the start and end of a run), ``server_checks`` (the embedded
emulator's view at the end), ``scenario`` (helpers for scenario files), ``shapes``
(load shapes for them), ``selection`` (``--scenario``: which users a locustfile runs),
``live`` and ``web_ui`` (the run's figures while it goes on, and the web UI's views of
them), ``options_doc`` (the generated option tables of the docs).
"""

from harness.loadtest.listeners import install

__all__ = ["install"]
