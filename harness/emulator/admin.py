"""The admin API under ``/_emulator/``: statistics and faults at run time.

- ``GET stats[?attempts_since=SEQ]``: counters (see :mod:`.stats`); only the
  connection attempts after ``SEQ`` are listed, for polling.
- ``DELETE stats``: reset the counters (open connections stay open, and the identity
  pool's identities and credentials stay valid).
- ``GET filtered[?since=SEQ]``: the traced events namespace handlers filtered (not
  broadcast, yet acknowledged as successful), ``[seq, run, publisher, channel,
  sequence]`` each, after ``SEQ``: the harness counts them as filtered, not lost.
- ``GET faults``: the seed and every fault with its state.
- ``POST faults``: add faults; the body is ``{"spec": "..."}``, ``{"specs": [...]}``
  or a plain-text spec. Answers 201 with the faults added, or 400 naming what
  is wrong with a spec.
- ``DELETE faults``: remove every fault; ``DELETE faults/{id}``: one.

It is unauthenticated: the emulator listens on loopback for the harness only.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from aiohttp import web

from harness.emulator.faults import FaultSpec
from harness.errors import ConfigurationError

if TYPE_CHECKING:
    from harness.emulator.server import Emulator

PREFIX = "/_emulator/"


def add_routes(app: web.Application, emulator: Emulator) -> None:
    admin = _Admin(emulator)
    app.router.add_get(PREFIX + "stats", admin.get_stats)
    app.router.add_delete(PREFIX + "stats", admin.reset_stats)
    app.router.add_get(PREFIX + "filtered", admin.get_filtered)
    app.router.add_get(PREFIX + "faults", admin.get_faults)
    app.router.add_post(PREFIX + "faults", admin.add_faults)
    app.router.add_delete(PREFIX + "faults", admin.clear_faults)
    app.router.add_delete(PREFIX + "faults/{fault_id}", admin.remove_fault)


class _Admin:
    def __init__(self, emulator: Emulator) -> None:
        self._emulator = emulator

    async def get_stats(self, request: web.Request) -> web.Response:
        try:
            since = int(request.query.get("attempts_since", "0"))
        except ValueError:
            return _bad_request("attempts_since must be an integer")
        return web.json_response(self._emulator.stats_json(attempts_since=since))

    async def get_filtered(self, request: web.Request) -> web.Response:
        try:
            since = int(request.query.get("since", "0"))
        except ValueError:
            return _bad_request("since must be an integer")
        stats = self._emulator.handlers.stats
        return web.json_response(
            {"total": stats.filtered_seq, "events": stats.filtered_since(since)}
        )

    async def reset_stats(self, request: web.Request) -> web.Response:
        self._emulator.stats.reset()
        self._emulator.handlers.stats.reset()
        self._emulator.identity_pool.stats.reset()
        return web.json_response({"reset": True})

    async def get_faults(self, request: web.Request) -> web.Response:
        return web.json_response(self._faults_json())

    async def add_faults(self, request: web.Request) -> web.Response:
        text = await request.text()
        try:
            specs = [FaultSpec.parse(spec, option="spec") for spec in _spec_texts(text)]
        except ConfigurationError as exc:
            return _bad_request(str(exc))
        added = [self._emulator.faults.add(spec) for spec in specs]
        now = self._emulator.faults.clock()
        return web.json_response(
            {"added": [fault.describe(now) for fault in added], **self._faults_json()},
            status=201,
        )

    async def clear_faults(self, request: web.Request) -> web.Response:
        removed = self._emulator.faults.clear()
        return web.json_response({"removed": removed, **self._faults_json()})

    async def remove_fault(self, request: web.Request) -> web.Response:
        try:
            fault_id = int(request.match_info["fault_id"])
        except ValueError:
            return _bad_request("a fault id is an integer")
        if not self._emulator.faults.remove(fault_id):
            return web.json_response({"error": f"no fault with id {fault_id}"}, status=404)
        return web.json_response({"removed": 1, **self._faults_json()})

    def _faults_json(self) -> dict[str, Any]:
        faults = self._emulator.faults
        return {"seed": faults.seed, "faults": faults.describe()}


def _spec_texts(body: str) -> list[str]:
    """The specs in a POST body: JSON ``{"spec": ...}`` / ``{"specs": [...]}``, or plain text."""
    stripped = body.strip()
    if not stripped.startswith("{"):
        if not stripped:
            raise ConfigurationError("spec", "the body is empty; send a fault spec")
        return [stripped]
    try:
        document = json.loads(stripped)
    except ValueError:
        raise ConfigurationError("spec", "the body is not valid JSON") from None
    if isinstance(document.get("spec"), str):
        return [document["spec"]]
    specs = document.get("specs")
    if isinstance(specs, list) and specs and all(isinstance(spec, str) for spec in specs):
        return specs
    raise ConfigurationError("spec", 'send {"spec": "KIND:key=value,..."} or {"specs": [...]}')


def _bad_request(message: str) -> web.Response:
    return web.json_response({"error": message}, status=400)
