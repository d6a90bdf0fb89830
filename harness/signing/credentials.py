"""AWS credentials for IAM signing: a frozen snapshot and a refreshing source.

:class:`CredentialSource` wraps botocore's credential chain (environment,
shared profile, assume-role, container and instance roles, SSO), or one identity of
a Cognito identity pool (:mod:`harness.signing.identity_pool`). Each call of
:meth:`CredentialSource.current` asks botocore for a frozen copy, which
refreshes temporary credentials shortly before they expire, so a soak test
that outlives a session token keeps signing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from harness.errors import SigningError

if TYPE_CHECKING:
    from harness.signing.identity_pool import LoginToken


@dataclass(frozen=True, slots=True)
class Credentials:
    """An access key pair and optional session token. ``repr`` hides the secrets."""

    access_key: str
    secret_key: str = field(repr=False)
    token: str | None = field(default=None, repr=False)


class CredentialSource:
    """Where IAM signers get credentials from, one frozen snapshot per signature."""

    def __init__(self, botocore_credentials: Any, *, identity_id: str | None = None) -> None:
        self._credentials = botocore_credentials
        self._identity_id = identity_id

    @property
    def identity_id(self) -> str | None:
        """The Cognito identity these credentials belong to (:meth:`from_identity_pool`);
        None for the other sources."""
        return self._identity_id

    @classmethod
    def static(cls, access_key: str, secret_key: str, token: str | None = None) -> CredentialSource:
        """Fixed credentials (the emulator's test keys, or keys from options)."""
        from botocore.credentials import Credentials as BotocoreCredentials

        return cls(BotocoreCredentials(access_key, secret_key, token))

    @classmethod
    def from_chain(cls, profile: str | None = None) -> CredentialSource:
        """botocore's default chain, optionally for a named shared-config profile.

        Raises :class:`SigningError` when the chain finds nothing or the profile
        does not exist.
        """
        import botocore.exceptions
        import botocore.session

        try:
            session = botocore.session.Session(profile=profile)
            credentials = session.get_credentials()
        except botocore.exceptions.ProfileNotFound as exc:
            raise SigningError(
                f"AWS profile {profile!r} was not found in the shared config"
            ) from exc
        except botocore.exceptions.BotoCoreError as exc:
            raise SigningError(
                f"AWS credentials could not be loaded: {type(exc).__name__}"
            ) from exc
        if credentials is None:
            raise SigningError(
                "no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
                "or name a profile with --aws-profile"
            )
        return cls(credentials)

    @classmethod
    def from_identity_pool(
        cls,
        pool_id: str,
        *,
        region: str,
        endpoint_url: str | None = None,
        logins: Mapping[str, LoginToken] | None = None,
        verify: str | bool | None = None,
    ) -> CredentialSource:
        """A new identity of Cognito identity pool ``pool_id`` (authenticated with
        ``logins``, provider name to token or token source, else unauthenticated) and its
        temporary credentials, refreshed before they expire. ``endpoint_url`` is the
        Cognito Identity API (the emulator's ``cognito_identity_url``; None: AWS's),
        ``verify`` botocore's (a CA bundle's path for the emulator's ``--tls``).

        Calls GetId and GetCredentialsForIdentity now; a failure raises
        :class:`~harness.errors.IdentityPoolError` (a :class:`SigningError`) naming
        the pool.
        """
        from harness.signing.identity_pool import IdentityPoolSession

        session = IdentityPoolSession(
            pool_id, region=region, endpoint_url=endpoint_url, logins=logins, verify=verify
        )
        return cls(session.credentials(), identity_id=session.identity_id)

    def current(self) -> Credentials:
        """A consistent snapshot; refreshes temporary credentials near their expiry."""
        import botocore.exceptions

        try:
            frozen = self._credentials.get_frozen_credentials()
        except (botocore.exceptions.BotoCoreError, RuntimeError) as exc:
            # botocore raises RuntimeError when a refresh returns expired credentials.
            raise SigningError(
                f"AWS credentials could not be refreshed: {type(exc).__name__}"
            ) from exc
        return Credentials(frozen.access_key, frozen.secret_key, frozen.token or None)
