"""Temporary credentials from a Cognito identity pool, one identity per session, as an
app's users get theirs: ``GetId`` once, then ``GetCredentialsForIdentity``, called again
before the credentials expire (botocore's ``RefreshableCredentials``).

The calls go through botocore's ``cognito-identity`` client, unsigned (both are public
calls on AWS), to ``endpoint_url`` (AWS's regional endpoint when None). The client is
shared by every session with the same region, endpoint and ``verify``: making one
costs milliseconds, and botocore clients are safe to share.
"""

from __future__ import annotations

import functools
import ipaddress
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from harness.errors import IdentityPoolError
from harness.signing.botocore_logs import redact_botocore_bodies

LoginToken = str | Callable[[], str]
"""A login provider's token, or a callable returning the current one."""

ADVISORY_REFRESH_S = 15 * 60
MANDATORY_REFRESH_S = 10 * 60
"""botocore's refresh windows; shorter lifetimes get a share of theirs instead."""
TIMEOUT_S = 10
MAX_ATTEMPTS = 3
"""botocore's standard retry mode: throttling and connection errors are tried again."""
MAX_POOL_CONNECTIONS = 50
"""Connections to the endpoint kept by the shared client (users refresh concurrently)."""


class IdentityPoolSession:
    """One identity of pool ``pool_id``: :attr:`identity_id` from ``GetId`` (with
    ``logins``, an authenticated identity, else a new unauthenticated one), and
    :meth:`credentials`, which stay fresh.

    A failing call raises :class:`~harness.errors.IdentityPoolError` (a
    ``SigningError``) naming the pool, the operation and the service's error code.
    """

    def __init__(
        self,
        pool_id: str,
        *,
        region: str,
        endpoint_url: str | None = None,
        logins: Mapping[str, LoginToken] | None = None,
        verify: str | bool | None = None,
    ) -> None:
        self.pool_id = pool_id
        self._logins = dict(logins or {})
        self._client = _client(region, endpoint_url, verify)
        answer = self._call("GetId", IdentityPoolId=pool_id, **self._logins_parameter())
        self.identity_id: str = answer["IdentityId"]

    def fetch(self) -> dict[str, str]:
        """New credentials, as botocore's refresh metadata."""
        answer = self._call(
            "GetCredentialsForIdentity", IdentityId=self.identity_id, **self._logins_parameter()
        )
        credentials = answer["Credentials"]
        return {
            "access_key": credentials["AccessKeyId"],
            "secret_key": credentials["SecretKey"],
            "token": credentials["SessionToken"],
            "expiry_time": credentials["Expiration"].isoformat(),
        }

    def credentials(self) -> Any:
        """botocore ``RefreshableCredentials`` that call :meth:`fetch` before they
        expire: in botocore's windows (15 and 10 minutes before), or for credentials
        that live less than an hour, a third and a sixth of their lifetime before."""
        from botocore.credentials import RefreshableCredentials

        metadata = self.fetch()
        lifetime_s = datetime.fromisoformat(metadata["expiry_time"]).timestamp() - time.time()
        lifetime_s = max(lifetime_s, 0.0)
        # botocore compares these with float seconds; its type stubs say int.
        return RefreshableCredentials.create_from_metadata(
            metadata,
            refresh_using=self.fetch,
            method="cognito-identity",
            advisory_timeout=min(ADVISORY_REFRESH_S, lifetime_s / 3),  # type: ignore[arg-type]
            mandatory_timeout=min(MANDATORY_REFRESH_S, lifetime_s / 6),  # type: ignore[arg-type]
        )

    def _logins_parameter(self) -> dict[str, dict[str, str]]:
        if not self._logins:
            return {}
        return {
            "Logins": {
                provider: token() if callable(token) else token
                for provider, token in self._logins.items()
            }
        }

    def _call(self, operation: str, **parameters: Any) -> dict[str, Any]:
        import botocore.exceptions
        from botocore import xform_name

        method = getattr(self._client, xform_name(operation))
        try:
            answer: dict[str, Any] = method(**parameters)
        except botocore.exceptions.ClientError as exc:
            error = exc.response.get("Error", {})
            raise IdentityPoolError(
                self.pool_id, operation, str(error.get("Code") or "ClientError")
            ) from exc
        except botocore.exceptions.BotoCoreError as exc:
            raise IdentityPoolError(self.pool_id, operation, type(exc).__name__) from exc
        return answer


@functools.lru_cache(maxsize=16)
def _client(region: str, endpoint_url: str | None, verify: str | bool | None) -> Any:
    """An unsigned ``cognito-identity`` client; a loopback endpoint bypasses the
    environment's proxies, as the harness's other connections to the emulator do."""
    import botocore.session
    from botocore import UNSIGNED
    from botocore.config import Config

    redact_botocore_bodies()  # its DEBUG lines would echo tokens and secret keys
    config = Config(
        signature_version=UNSIGNED,
        connect_timeout=TIMEOUT_S,
        read_timeout=TIMEOUT_S,
        max_pool_connections=MAX_POOL_CONNECTIONS,
        retries={"mode": "standard", "max_attempts": MAX_ATTEMPTS},
        proxies={} if _is_loopback(endpoint_url) else None,
    )
    return botocore.session.get_session().create_client(
        "cognito-identity",
        region_name=region,
        endpoint_url=endpoint_url,
        verify=verify,
        config=config,
    )


def _is_loopback(url: str | None) -> bool:
    host = urlsplit(url).hostname if url else None
    if host is None:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
