"""AWS credentials for IAM signing: a frozen snapshot and a refreshing source.

:class:`CredentialSource` wraps botocore's credential chain (environment,
shared profile, assume-role, container and instance roles, SSO). Each call of
:meth:`CredentialSource.current` asks botocore for a frozen copy, which
refreshes temporary credentials shortly before they expire, so a soak test
that outlives a session token keeps signing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness.errors import SigningError


@dataclass(frozen=True, slots=True)
class Credentials:
    """An access key pair and optional session token. ``repr`` hides the secrets."""

    access_key: str
    secret_key: str = field(repr=False)
    token: str | None = field(default=None, repr=False)


class CredentialSource:
    """Where IAM signers get credentials from, one frozen snapshot per signature."""

    def __init__(self, botocore_credentials: Any) -> None:
        self._credentials = botocore_credentials

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
