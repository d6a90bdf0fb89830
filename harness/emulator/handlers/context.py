"""The ``ctx`` a handler is called with, as the AppSync Events context reference
describes it: ``identity`` (by auth mode), ``request`` (headers), ``info`` (channel,
namespace, operation), ``stash``, and for ``onPublish`` the ``events``.

Built as JSON text: the published events are JSON texts already (validated before a
handler runs), so each goes in as it came, without being parsed and written again.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.emulator.identity_pool import AuthType, CognitoIdentity
from harness.signing import AuthMode
from harness.signing.jwt import unverified_claims
from harness.signing.sigv4 import ALGORITHM, parse_authorization

EMULATOR_ACCOUNT_ID = "123456789012"
"""The account the emulator's IAM identities belong to (AWS's documentation account)."""
COGNITO_ROLES = {
    AuthType.UNAUTHENTICATED: ("Cognito_EmulatorUnauth_Role", "AROAEMULATORUNAUTH000"),
    AuthType.AUTHENTICATED: ("Cognito_EmulatorAuth_Role", "AROAEMULATORAUTH00000"),
}
"""The role (name, role id) an identity pool's credentials are for, by identity type."""
COGNITO_SESSION = "CognitoIdentityCredentials"


@dataclass(frozen=True, slots=True)
class Caller:
    """Who made an authorized request: the accepting mode, the request's headers (the
    message's ``authorization`` over the WebSocket), the client's address, and for IAM
    credentials the emulator's identity pool issued, their Cognito identity."""

    mode: AuthMode
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    source_ip: str | None = None
    cognito: CognitoIdentity | None = None


def identity_of(caller: Caller) -> dict[str, Any] | None:
    """``ctx.identity``: null for an API key, else what the credential says."""
    headers = {name.lower(): value for name, value in caller.headers.items()}
    source_ip = [caller.source_ip] if caller.source_ip else []
    authorization = headers.get("authorization", "")
    if caller.mode is AuthMode.API_KEY:
        return None
    if caller.mode is AuthMode.AWS_IAM and authorization.startswith(ALGORITHM):
        if caller.cognito is not None:
            return _cognito_identity(caller.cognito, source_ip)
        access_key = parse_authorization(authorization).access_key
        return {
            "accountId": EMULATOR_ACCOUNT_ID,
            "sourceIp": source_ip,
            "username": access_key,
            "userArn": f"arn:aws:iam::{EMULATOR_ACCOUNT_ID}:user/{access_key}",
            "cognitoIdentityPoolId": None,
            "cognitoIdentityId": None,
            "cognitoIdentityAuthType": None,
            "cognitoIdentityAuthProvider": None,
        }
    if caller.mode is AuthMode.AWS_LAMBDA:
        return {"handlerContext": {}}
    claims = unverified_claims(authorization) or {}
    identity: dict[str, Any] = {
        "sub": claims.get("sub"),
        "issuer": claims.get("iss"),
        "claims": claims,
    }
    if caller.mode is AuthMode.AMAZON_COGNITO_USER_POOLS:
        identity.update(
            username=claims.get("cognito:username") or claims.get("username") or claims.get("sub"),
            groups=claims.get("cognito:groups"),
            sourceIp=source_ip,
            defaultAuthStrategy="ALLOW",
        )
    return identity


def _cognito_identity(cognito: CognitoIdentity, source_ip: list[str]) -> dict[str, Any]:
    """An identity pool's credentials: an assumed role's session, as STS names it."""
    role, role_id = COGNITO_ROLES[cognito.auth_type]
    providers = ",".join(
        f'"{provider}","{provider}:CognitoSignIn:{subject}"' for provider, subject in cognito.logins
    )
    return {
        "accountId": EMULATOR_ACCOUNT_ID,
        "sourceIp": source_ip,
        "username": f"{role_id}:{COGNITO_SESSION}",
        "userArn": f"arn:aws:sts::{EMULATOR_ACCOUNT_ID}:assumed-role/{role}/{COGNITO_SESSION}",
        "cognitoIdentityPoolId": cognito.pool_id,
        "cognitoIdentityId": cognito.identity_id,
        "cognitoIdentityAuthType": cognito.auth_type.value,
        "cognitoIdentityAuthProvider": providers or None,
    }


def context_json(
    operation: str,
    path: str,
    caller: Caller,
    events: Sequence[tuple[str, str]] = (),
) -> str:
    """The context's JSON text; ``events`` are ``(id, event JSON text)`` pairs."""
    segments = [segment for segment in path.split("/") if segment]
    document = {
        "channel": path,
        "identity": identity_of(caller),
        "request": {"headers": dict(caller.headers), "domainName": None},
        "info": {
            "channel": {"path": path, "segments": segments},
            "channelNamespace": {"name": segments[0] if segments else ""},
            "operation": operation,
        },
        "stash": {},
        "error": None,
    }
    text = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
    if operation != "PUBLISH":
        return text
    listed = ",".join(
        f'{{"id":{json.dumps(event_id)},"payload":{event}}}' for event_id, event in events
    )
    return f'{{"events":[{listed}],{text[1:]}'
