"""The emulator's Cognito identity pool, as state: identities, and the temporary
credentials it issues to them (the JSON API in front of it is :mod:`.cognito_identity`).

- :meth:`IdentityPool.get_id`: without logins, a new unauthenticated identity each
  call (as GetId creates one per call); with logins, each token verified as the
  emulator verifies Cognito's JWTs (HS256 with ``--jwt-secret``), the identity of
  that login, the same one every time.
- :meth:`IdentityPool.credentials_for`: a fresh access key (``ASIA...``), secret key
  and session token, valid for the pool's TTL.
- :meth:`IdentityPool.get`: the verifier's live lookup of an issued access key
  (:class:`~harness.signing.verify.IamKeyLookup`); the verifier refuses it once expired.

Bounded, so a long run cannot grow without limit: at most :data:`MAX_IDENTITIES`
identities and :data:`MAX_CREDENTIALS` credential sets, the oldest dropped first;
credentials expired for :data:`EXPIRED_KEPT_S` are dropped (a request signed with
them is then refused as one with an unknown key).
"""

from __future__ import annotations

import dataclasses
import secrets
import string
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from harness.errors import AuthorizationRejected, HarnessError
from harness.signing import IamKey
from harness.signing.jwt import verify_hs256

DEFAULT_CREDENTIALS_TTL_S = 3600.0
"""GetCredentialsForIdentity's credentials last an hour on AWS."""
MAX_IDENTITIES = 100_000
MAX_CREDENTIALS = 100_000
EXPIRED_KEPT_S = 600.0
"""How long expired credentials stay known, so their use is refused as expired."""
MAX_LOGINS = 10
"""The Logins map's size limit in botocore's service model."""
LOGINS_DO_NOT_MATCH = (
    "Logins don't match. Please include at least one valid login for this identity "
    "or identity pool."
)
_KEY_ALPHABET = string.ascii_uppercase + string.digits


class AuthType(StrEnum):
    UNAUTHENTICATED = "unauthenticated"
    AUTHENTICATED = "authenticated"


@dataclass(frozen=True, slots=True)
class CognitoIdentity:
    """One identity of the pool; ``logins`` are ``(provider, subject)`` pairs."""

    pool_id: str
    identity_id: str
    logins: tuple[tuple[str, str], ...] = ()

    @property
    def auth_type(self) -> AuthType:
        return AuthType.AUTHENTICATED if self.logins else AuthType.UNAUTHENTICATED


@dataclass(frozen=True, slots=True)
class IssuedCredentials:
    """A credential set issued to an identity; ``expiration`` in epoch seconds."""

    access_key: str
    secret_key: str = field(repr=False)
    session_token: str = field(repr=False)
    expiration: float
    identity: CognitoIdentity


class IdentityPoolRefused(HarnessError):
    """A call the pool refuses: ``error_type`` is the service's ``__type``, ``message``
    its text (never a token)."""

    def __init__(self, error_type: str, message: str) -> None:
        self.error_type = error_type
        self.message = message
        super().__init__(f"{error_type}: {message}")


@dataclass
class IdentityPoolStats:
    """What the pool did, for the admin stats (``cognito_identity``)."""

    identities: int = 0
    """Distinct identities created (an authenticated login's second GetId is not one)."""
    authenticated_identities: int = 0
    credentials_issued: int = 0
    expired_refusals: int = 0
    """Requests refused because they were signed with expired credentials."""
    errors: Counter[str] = field(default_factory=Counter)

    def reset(self) -> None:
        self.__dict__.update(IdentityPoolStats().__dict__)


@dataclass(frozen=True, slots=True)
class _Issued:
    key: IamKey
    identity: CognitoIdentity


class IdentityPool:
    """One identity pool: ``pool_id`` (``REGION:GUID``), the JWT secrets its logins are
    verified with (none: every login is refused), and the credentials' lifetime."""

    def __init__(
        self,
        pool_id: str,
        *,
        jwt_secrets: tuple[str, ...] = (),
        credentials_ttl_s: float = DEFAULT_CREDENTIALS_TTL_S,
        clock: Callable[[], float] = time.time,
        max_identities: int = MAX_IDENTITIES,
        max_credentials: int = MAX_CREDENTIALS,
    ) -> None:
        self.pool_id = pool_id
        self.region = pool_id.partition(":")[0]
        self.credentials_ttl_s = credentials_ttl_s
        self.stats = IdentityPoolStats()
        self._jwt_secrets = jwt_secrets
        self._clock = clock
        self._max_identities = max_identities
        self._max_credentials = max_credentials
        # Insertion order is age order: the oldest are dropped first. Credentials all
        # live for the same TTL, so it is also expiry order.
        self._identities: dict[str, CognitoIdentity] = {}
        self._by_login: dict[tuple[str, str], str] = {}
        self._issued: dict[str, _Issued] = {}

    # -- the API -------------------------------------------------------------------

    def get_id(self, pool_id: str, logins: Mapping[str, str]) -> str:
        """GetId: the identity id for ``logins``, or a new unauthenticated one."""
        if pool_id != self.pool_id:
            raise IdentityPoolRefused("ResourceNotFoundException", _pool_not_found(pool_id))
        verified = self._verify_logins(logins)
        if not verified:
            return self._add(CognitoIdentity(self.pool_id, self._new_id())).identity_id
        known = {self._by_login[login] for login in verified if login in self._by_login}
        if len(known) > 1:
            raise IdentityPoolRefused(
                "ResourceConflictException", "The logins are linked to different identities."
            )
        if not known:
            identity = CognitoIdentity(self.pool_id, self._new_id(), verified)
            self.stats.authenticated_identities += 1
            return self._add(identity).identity_id
        (identity_id,) = known
        identity = self._identities[identity_id]
        new = tuple(login for login in verified if login not in identity.logins)
        if new:  # another login of the same user is linked to its identity
            identity = dataclasses.replace(identity, logins=identity.logins + new)
            self._identities[identity_id] = identity
            self._by_login.update(dict.fromkeys(new, identity_id))
        return identity_id

    def credentials_for(self, identity_id: str, logins: Mapping[str, str]) -> IssuedCredentials:
        """GetCredentialsForIdentity: a fresh credential set. An authenticated identity
        must present one of its logins; an unauthenticated one none (linking a login
        to it is not emulated)."""
        identity = self._identities.get(identity_id)
        if identity is None:
            raise IdentityPoolRefused(
                "ResourceNotFoundException", f"Identity '{identity_id[:60]}' not found."
            )
        verified = self._verify_logins(logins)
        if bool(verified) != bool(identity.logins) or (
            verified and not set(verified) & set(identity.logins)
        ):
            raise IdentityPoolRefused("NotAuthorizedException", LOGINS_DO_NOT_MATCH)
        now = self._clock()
        self._drop_old_credentials(now)
        issued = IssuedCredentials(
            access_key="ASIA" + "".join(secrets.choice(_KEY_ALPHABET) for _ in range(16)),
            secret_key=secrets.token_urlsafe(30),
            session_token=secrets.token_urlsafe(96),
            expiration=now + self.credentials_ttl_s,
            identity=identity,
        )
        key = IamKey(issued.secret_key, issued.session_token, issued.expiration)
        self._issued[issued.access_key] = _Issued(key, identity)
        self.stats.credentials_issued += 1
        return issued

    # -- what the verifier and the handlers ask --------------------------------------

    def get(self, access_key: str, /) -> IamKey | None:
        """The issued credential of ``access_key`` (expired ones too, for a while)."""
        issued = self._issued.get(access_key)
        return None if issued is None else issued.key

    def identity_of(self, access_key: str) -> CognitoIdentity | None:
        """The identity ``access_key`` was issued to, if this pool issued it."""
        issued = self._issued.get(access_key)
        return None if issued is None else issued.identity

    def to_json(self) -> dict[str, Any]:
        stats = self.stats
        return {
            "pool_id": self.pool_id,
            "identities": stats.identities,
            "authenticated_identities": stats.authenticated_identities,
            "credentials_issued": stats.credentials_issued,
            "expired_refusals": stats.expired_refusals,
            "errors": dict(stats.errors),
            "identities_kept": len(self._identities),
            "credentials_kept": len(self._issued),
        }

    # -- internals -------------------------------------------------------------------

    def _new_id(self) -> str:
        return f"{self.region}:{uuid.uuid4()}"

    def _add(self, identity: CognitoIdentity) -> CognitoIdentity:
        while len(self._identities) >= self._max_identities:
            oldest = self._identities.pop(next(iter(self._identities)))
            for login in oldest.logins:
                del self._by_login[login]
        self._identities[identity.identity_id] = identity
        self._by_login.update(dict.fromkeys(identity.logins, identity.identity_id))
        self.stats.identities += 1
        return identity

    def _drop_old_credentials(self, now: float) -> None:
        issued = self._issued
        while issued:
            oldest = next(iter(issued))
            expires_at = issued[oldest].key.expires_at or 0.0
            if len(issued) < self._max_credentials and expires_at + EXPIRED_KEPT_S > now:
                return
            del issued[oldest]

    def _verify_logins(self, logins: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
        """``(provider, subject)`` of each login, its token verified; or
        NotAuthorizedException (the reason names the problem, never the token)."""
        if len(logins) > MAX_LOGINS:
            raise IdentityPoolRefused(
                "InvalidParameterException", f"At most {MAX_LOGINS} logins are allowed."
            )
        verified = []
        now = self._clock()
        for provider, token in sorted(logins.items()):
            if not self._jwt_secrets:
                raise IdentityPoolRefused(
                    "NotAuthorizedException",
                    "Invalid login token. This identity pool has no login provider "
                    "(give the emulator --jwt-secret).",
                )
            try:
                claims = verify_hs256(token, self._jwt_secrets, now)
            except AuthorizationRejected as exc:
                raise IdentityPoolRefused(
                    "NotAuthorizedException", f"Invalid login token. {exc.reason}"
                ) from None
            subject = claims.get("sub")
            if not isinstance(subject, str) or not subject:
                raise IdentityPoolRefused(
                    "NotAuthorizedException", "Invalid login token. Missing a required claim: sub"
                )
            verified.append((provider, subject))
        return tuple(verified)


def _pool_not_found(pool_id: str) -> str:
    return f"IdentityPool '{pool_id[:60]}' not found."
