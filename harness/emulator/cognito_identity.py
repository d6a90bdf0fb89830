"""A minimal Cognito Identity API on its own port: ``GetId`` and
``GetCredentialsForIdentity`` in the AWS JSON 1.1 protocol that botocore's
``cognito-identity`` client speaks (``POST /``, ``X-Amz-Target:
AWSCognitoIdentityService.<Operation>``, ``application/x-amz-json-1.1``), over the
state of :class:`~harness.emulator.identity_pool.IdentityPool`.

Both calls are unsigned on AWS for these uses, and are not checked here. Errors are
the protocol's shape, ``{"__type": ..., "message": ...}`` with HTTP 400, which botocore
raises as a ``ClientError`` carrying that code.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from aiohttp import web

from harness.emulator.identity_pool import IdentityPool, IdentityPoolRefused

logger = logging.getLogger(__name__)

TARGET_PREFIX = "AWSCognitoIdentityService."
CONTENT_TYPE = "application/x-amz-json-1.1"
MAX_BODY_BYTES = 256 * 1024


def build_app(pool: IdentityPool) -> web.Application:
    """The aiohttp application serving ``POST /`` for ``pool``."""
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app.router.add_post("/", _CognitoIdentity(pool).handle)
    return app


class _CognitoIdentity:
    def __init__(self, pool: IdentityPool) -> None:
        self._pool = pool
        self._operations: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "GetId": self._get_id,
            "GetCredentialsForIdentity": self._get_credentials_for_identity,
        }

    async def handle(self, request: web.Request) -> web.Response:
        target = request.headers.get("X-Amz-Target", "")
        name = target.removeprefix(TARGET_PREFIX) if target.startswith(TARGET_PREFIX) else ""
        try:
            operation = self._operations.get(name)
            if operation is None:
                raise IdentityPoolRefused(
                    "UnknownOperationException", f"Unknown operation {target[:100]!r}"
                )
            return _answer(200, operation(_parameters(await request.read())))
        except IdentityPoolRefused as refused:
            self._pool.stats.errors[refused.error_type] += 1
            logger.debug("cognito-identity %s refused: %s", name or "?", refused)
            return _answer(400, {"__type": refused.error_type, "message": refused.message})

    def _get_id(self, parameters: dict[str, Any]) -> dict[str, Any]:
        pool_id = _required_text(parameters, "IdentityPoolId")
        return {"IdentityId": self._pool.get_id(pool_id, _logins(parameters))}

    def _get_credentials_for_identity(self, parameters: dict[str, Any]) -> dict[str, Any]:
        identity_id = _required_text(parameters, "IdentityId")
        issued = self._pool.credentials_for(identity_id, _logins(parameters))
        return {
            "IdentityId": issued.identity.identity_id,
            "Credentials": {
                "AccessKeyId": issued.access_key,
                "SecretKey": issued.secret_key,
                "SessionToken": issued.session_token,
                "Expiration": round(issued.expiration, 3),  # epoch seconds, as AWS sends
            },
        }


def _parameters(body: bytes) -> dict[str, Any]:
    try:
        document = json.loads(body or b"{}")
    except (ValueError, RecursionError):
        raise IdentityPoolRefused(
            "SerializationException", "The request body is not JSON"
        ) from None
    if not isinstance(document, dict):
        raise IdentityPoolRefused("SerializationException", "The request body must be an object")
    return document


def _required_text(parameters: Mapping[str, Any], name: str) -> str:
    value = parameters.get(name)
    if not isinstance(value, str) or not value:
        raise IdentityPoolRefused("InvalidParameterException", f"{name} is required")
    return value


def _logins(parameters: Mapping[str, Any]) -> dict[str, str]:
    logins = parameters.get("Logins") or {}
    if not isinstance(logins, dict) or not all(
        isinstance(provider, str) and provider and isinstance(token, str) and token
        for provider, token in logins.items()
    ):
        raise IdentityPoolRefused(
            "InvalidParameterException", "Logins must map provider names to tokens"
        )
    return logins


def _answer(status: int, document: Mapping[str, Any]) -> web.Response:
    headers = {"x-amzn-RequestId": str(uuid.uuid4())}
    if status >= 400:
        headers["x-amzn-ErrorType"] = str(document["__type"])
    return web.Response(
        body=json.dumps(document).encode(),
        status=status,
        content_type=CONTENT_TYPE,
        headers=headers,
    )
