"""The emulator server: ``POST /event`` and ``GET /event/realtime`` on one port (the
custom-domain layout, docs/protocol.md#endpoints), the admin API under
``/_emulator/``, keep-alives, connection lifetime and fault timing; and, on a port of
its own, the Cognito Identity API of its identity pool (:mod:`.cognito_identity`).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import math
import ssl
import tempfile
import time
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web

from harness.emulator import admin, cognito_identity, tls
from harness.emulator.broker import Broker
from harness.emulator.faults import FaultKind, FaultSet
from harness.emulator.handlers.namespace import NamespaceHandlers
from harness.emulator.identity_pool import IdentityPool
from harness.emulator.operations import Operations
from harness.emulator.quotas import bucket
from harness.emulator.ready import ReadyInfo
from harness.emulator.refusals import OperationRefused
from harness.emulator.session import (
    CLOSE_TIMEOUT_S,
    KEEPALIVE_FRAME,
    MAX_FRAME_BYTES,
    READ_LIMIT_BYTES,
    Session,
    SessionContext,
    frame_bytes,
)
from harness.emulator.settings import EmulatorSettings
from harness.emulator.stats import AttemptOutcome, ConnectionAttempt, EmulatorStats
from harness.protocol import (
    HTTP_PATH,
    REALTIME_PATH,
    SUBPROTOCOL,
    ConnectionErrorMessage,
    ErrorDetail,
    compact_json,
)
from harness.signing import AuthVerifier, Operation
from harness.signing.wire import JSON_SURROGATE_ERRORS, SUBPROTOCOL_PREFIX

logger = logging.getLogger(__name__)

HOUSEKEEPING_INTERVAL_S = 0.05
CLIENT_ID_HEADER = "x-harness-client-id"


class Emulator:
    """One AppSync Events API on 127.0.0.1. ``await start()``, later ``await stop()``."""

    def __init__(self, settings: EmulatorSettings) -> None:
        settings.validate()
        self.settings = settings
        self.stats = EmulatorStats()
        self.faults = FaultSet() if settings.seed is None else FaultSet(seed=settings.seed)
        for spec in settings.faults:
            self.faults.add(spec)
        self.broker = Broker(self.stats, self.faults, bucket(settings.quotas.outbound_messages))
        self.handlers = NamespaceHandlers(
            settings.handlers,
            self.faults,
            time_limit_s=settings.handler_time_limit_ms / 1000,
            latency_s=settings.handler_latency_ms / 1000,
        )
        self.identity_pool = IdentityPool(
            settings.identity_pool_id,
            jwt_secrets=(settings.jwt_secret,) if settings.jwt_secret else (),
            credentials_ttl_s=settings.identity_credentials_ttl_s,
        )
        self._connects = bucket(settings.quotas.connect_rate)
        self.sessions: dict[int, Session] = {}
        self._numbers = itertools.count(1)
        self._context: SessionContext | None = None
        self._runner: web.AppRunner | None = None
        self._identity_runner: web.AppRunner | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._tempdir: tempfile.TemporaryDirectory[str] | None = None
        self.info: ReadyInfo | None = None

    # -- life cycle ---------------------------------------------------------------

    def build_app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_FRAME_BYTES)
        app.router.add_post(HTTP_PATH, self.handle_http_publish)
        app.router.add_get(REALTIME_PATH, self.handle_websocket)
        admin.add_routes(app, self)
        return app

    async def start(self) -> ReadyInfo:
        """Listen, then build the verifier for the port actually bound."""
        settings = self.settings
        names = tuple(dict.fromkeys((settings.host, "127.0.0.1", "localhost")))
        ssl_context = None
        ca_cert: str | None = None
        if settings.tls:
            self._tempdir = tempfile.TemporaryDirectory(prefix="appsync-emulator-")
            ca_path = Path(self._tempdir.name) / "emulator-ca.pem"
            ssl_context = tls.server_context(ca_path, names)
            ca_cert = str(ca_path)
        self._runner = web.AppRunner(self.build_app(), access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, settings.host, settings.port, ssl_context=ssl_context)
        await site.start()
        port = self._runner.addresses[0][1]
        identity_port = await self._start_identity_api(ssl_context)
        # The auth "host" is the URL's authority: an IPv6 address is in brackets.
        hosts = frozenset(f"{_url_host(name)}:{port}" for name in names)
        verifier = AuthVerifier(settings.verifier_config(hosts, self.identity_pool))
        operations = Operations(
            settings,
            verifier,
            self.broker,
            self.stats,
            self.faults,
            self.handlers,
            identity_pool=self.identity_pool,
        )
        self._context = SessionContext(
            operations,
            self.broker,
            self.faults,
            self.stats,
            settings.connection_timeout_ms,
            settings.max_queued_frames,
            settings.quotas.subscriptions_per_connection,
        )
        self._tasks = [
            asyncio.get_running_loop().create_task(loop())
            for loop in (self._keepalive_loop, self._housekeeping_loop)
        ]
        authority = f"{_url_host(settings.host)}:{port}"
        http_scheme, ws_scheme = ("https", "wss") if settings.tls else ("http", "ws")
        self.info = ReadyInfo(
            http_url=f"{http_scheme}://{authority}{HTTP_PATH}",
            realtime_url=f"{ws_scheme}://{authority}{REALTIME_PATH}",
            admin_url=f"{http_scheme}://{authority}{admin.PREFIX}",
            region=settings.region,
            ca_cert=ca_cert,
            cognito_identity_url=f"{http_scheme}://{_url_host(settings.host)}:{identity_port}/",
            identity_pool_id=self.identity_pool.pool_id,
        )
        return self.info

    async def _start_identity_api(self, ssl_context: ssl.SSLContext | None) -> int:
        """Serve the Cognito Identity API on its own port; the port bound."""
        app = cognito_identity.build_app(self.identity_pool)
        self._identity_runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._identity_runner.setup()
        settings = self.settings
        site = web.TCPSite(
            self._identity_runner,
            settings.host,
            settings.identity_pool_port,
            ssl_context=ssl_context,
        )
        await site.start()
        port: int = self._identity_runner.addresses[0][1]
        return port

    async def stop(self) -> None:
        """Close every connection (1001, going away), stop the loops and the listener."""
        for task in self._tasks:
            task.cancel()
        closes = [
            session.close(1001, "emulator shutting down", cause="shutdown")
            for session in list(self.sessions.values())
        ]
        await asyncio.gather(*(task for task in closes if task is not None))
        for runner in (self._runner, self._identity_runner):
            if runner is not None:
                await runner.cleanup()
        if self._tempdir is not None:
            self._tempdir.cleanup()

    @property
    def context(self) -> SessionContext:
        if self._context is None:
            raise RuntimeError("the emulator has not started")
        return self._context

    @property
    def operations(self) -> Operations:
        return self.context.operations

    # -- HTTP publish (docs/protocol.md#http-publish) ----------------------------------------------

    async def handle_http_publish(self, request: web.Request) -> web.Response:
        self.stats.http_publishes += 1
        body = await request.read()
        try:
            channel, events = _parse_http_publish(body)
            outcome = self.operations.publish(
                channel,
                events,
                request.headers,
                Operation.HTTP_PUBLISH,
                raw_body=body,
                request_bytes=len(body),
                source_ip=request.remote,
            )
        except OperationRefused as refused:
            if refused.delay_s:
                await asyncio.sleep(refused.delay_s)
            self.stats.errors_sent[refused.error_type] += 1
            return _json_error(refused.http_status, refused.error_type, refused.message)
        if outcome.delay_s:
            await asyncio.sleep(outcome.delay_s)
        self.operations.broadcast(outcome)
        return _json_response(
            {
                "successful": [entry.to_wire() for entry in outcome.successful],
                "failed": [entry.to_wire() for entry in outcome.failed],
            }
        )

    # -- WebSocket (docs/protocol.md#connecting) ---------------------------------------------------

    async def handle_websocket(self, request: web.Request) -> web.StreamResponse:
        client_id = request.query.get("client_id") or request.headers.get(CLIENT_ID_HEADER)
        attempt = self.stats.record_attempt(str(request.remote), client_id)
        if self._connects is not None and not self._connects.take():
            self.stats.connects_throttled += 1
            attempt.outcome = AttemptOutcome.THROTTLED
            attempt.detail = "LimitExceededError (connect-rate quota)"
            return _json_error(
                429,
                "LimitExceededError",
                f"Rate exceeded: at most {self._connects.rate:g} connection requests per second",
            )
        refuse = self.faults.fires(FaultKind.REFUSE, lambda spec: spec.error_type is None)
        if refuse is not None:
            attempt.outcome = AttemptOutcome.REFUSED
            attempt.detail = f"HTTP {refuse.spec.status} (injected fault)"
            status = refuse.spec.status
            return _json_error(
                status, _error_type_for(status), "Handshake refused (injected fault)"
            )
        offered = [
            token.strip()
            for value in request.headers.getall("Sec-WebSocket-Protocol", [])
            for token in value.split(",")
        ]
        ws = web.WebSocketResponse(
            protocols=(SUBPROTOCOL,),
            autoping=True,
            heartbeat=None,
            compress=False,
            max_msg_size=READ_LIMIT_BYTES,
            timeout=CLOSE_TIMEOUT_S,
        )
        if SUBPROTOCOL not in offered or not ws.can_prepare(request).ok:
            attempt.outcome = AttemptOutcome.BAD_REQUEST
            attempt.detail = f"not a WebSocket upgrade offering {SUBPROTOCOL!r}"
            return _json_error(400, "BadRequestException", attempt.detail)
        await ws.prepare(request)
        refusal = self._connect_refusal(request, offered, attempt)
        if refusal is not None:
            self.stats.errors_sent[refusal.error_type] += 1
            await ws.send_frame(frame_bytes(ConnectionErrorMessage((refusal,))), WSMsgType.TEXT)
            await ws.close(code=1000, message=b"connection refused")
            return ws
        session = Session(next(self._numbers), ws, request, self.context)
        self.sessions[session.number] = session
        self.stats.connections_accepted += 1
        try:
            await session.run()
        finally:
            del self.sessions[session.number]
            self.stats.connections_closed += 1
        return ws

    def _connect_refusal(
        self, request: web.Request, offered: list[str], attempt: ConnectionAttempt
    ) -> ErrorDetail | None:
        """Why a connect is refused (a fault, or its authorization), or None.

        Auth comes from the ``header-`` subprotocol or, as the Swift and Kotlin
        SDKs send it, from the upgrade request's own headers (docs/protocol.md#upgrade-headers)."""
        refuse = self.faults.fires(FaultKind.REFUSE, lambda spec: spec.error_type is not None)
        if refuse is not None and refuse.spec.error_type is not None:
            attempt.outcome = AttemptOutcome.REFUSED
            attempt.detail = f"{refuse.spec.error_type} (injected fault)"
            return ErrorDetail(refuse.spec.error_type, "Connection refused (injected fault)")
        token = next((p for p in offered if p.startswith(SUBPROTOCOL_PREFIX)), None)
        try:
            self.operations.authorize_connect(token, request.headers)
        except OperationRefused as refused:
            attempt.outcome = AttemptOutcome.REJECTED
            attempt.detail = refused.error_type
            code = 401 if refused.error_type == "UnauthorizedException" else 400
            return ErrorDetail(refused.error_type, refused.message, code)
        return None

    # -- background loops --------------------------------------------------------------

    async def _keepalive_loop(self) -> None:
        """``ka`` to every connection each interval, unless a fault withholds it
        (docs/protocol.md#keep-alive)."""
        while True:
            await asyncio.sleep(self.settings.keepalive_interval_s)
            if self.faults.fires(FaultKind.WITHHOLD_KA):
                continue
            for session in list(self.sessions.values()):
                session.deliver(KEEPALIVE_FRAME)
            self.stats.keepalives_sent += len(self.sessions)

    async def _housekeeping_loop(self) -> None:
        """Apply due faults and end connections past the maximum lifetime
        (docs/protocol.md#channels)."""
        loop = asyncio.get_running_loop()
        last = loop.time()
        while True:
            await asyncio.sleep(HOUSEKEEPING_INTERVAL_S)
            now = loop.time()
            self.apply_faults(now - last)
            last = now
            self._expire_connections()

    def apply_faults(self, elapsed_s: float) -> None:
        """Run one-shot drops that are due, and rate drops for ``elapsed_s`` seconds.
        Connections are visited in the order they opened, so a seeded run repeats."""
        due = self.faults.due_one_shots()
        rate_drops = self.faults.active(FaultKind.DROP)
        if not due and not rate_drops:
            return
        sessions = list(self.sessions.values())  # insertion order is opening order
        for fault in due:
            spec = fault.spec
            for session in sessions:
                if spec.kind is FaultKind.DISCONNECT_ALL or self.faults.chance(spec.fraction):
                    fault.fired += 1
                    session.close(spec.close_code, f"injected fault: {spec.text}", cause="fault")
        for rate_drop in rate_drops:  # lasting drops are the rate ones
            spec = rate_drop.spec
            assert spec.rate_per_s is not None
            probability = 1.0 - math.exp(-spec.rate_per_s * elapsed_s)
            for session in sessions:
                if not session.closing and self.faults.chance(probability):
                    rate_drop.fired += 1
                    session.close(spec.close_code, f"injected fault: {spec.text}", cause="fault")

    def _expire_connections(self) -> None:
        """Close connections past the maximum duration: the oldest come first in
        ``sessions`` (opening order), so the scan stops at the first young one."""
        oldest_allowed = time.monotonic() - self.settings.max_connection_duration_s
        expired = []
        for session in self.sessions.values():
            if session.opened_at > oldest_allowed:
                break
            if not session.closing:
                expired.append(session)
        for session in expired:
            session.close(1000, "maximum connection duration reached", cause="lifetime")

    # -- admin ------------------------------------------------------------------

    def stats_json(self, attempts_since: int = 0) -> dict[str, Any]:
        document = self.stats.to_json(
            open_connections=len(self.sessions),
            live_subscriptions=len(self.broker),
            attempts_since=attempts_since,
        )
        document["seed"] = self.faults.seed
        document["handlers"] = self.handlers.stats.to_json()
        document["quotas"]["limits"] = self.settings.quotas.describe()
        document["cognito_identity"] = self.identity_pool.to_json()
        return document


def _parse_http_publish(body: bytes) -> tuple[str, list[str]]:
    """``{"channel": "...", "events": ["...", ...]}`` (docs/protocol.md#http-publish), or
    BadRequestException."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        raise OperationRefused("BadRequestException", "The request body is not JSON") from None
    if not isinstance(document, dict):
        raise OperationRefused("BadRequestException", "The request body must be a JSON object")
    channel = document.get("channel")
    events = document.get("events")
    if not isinstance(channel, str):
        raise OperationRefused("BadRequestException", "channel must be a string")
    if not isinstance(events, list) or not all(isinstance(event, str) for event in events):
        raise OperationRefused("BadRequestException", "events must be a list of strings")
    return channel, events


def _json_error(status: int, error_type: str, message: str) -> web.Response:
    return _json_response({"errors": [{"errorType": error_type, "message": message}]}, status)


def _json_response(document: object, status: int = 200) -> web.Response:
    """Compact JSON; a lone surrogate echoed from the client becomes an escape."""
    body = compact_json(document).encode("utf-8", JSON_SURROGATE_ERRORS)
    return web.Response(body=body, status=status, content_type="application/json")


def _error_type_for(status: int) -> str:
    named = {
        401: "UnauthorizedException",
        403: "ForbiddenException",
        429: "TooManyRequestsException",
    }
    return named.get(
        status, "BadRequestException" if status < 500 else "ServiceUnavailableException"
    )


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
