"""Who each virtual user is to AppSync.

By default every user of a run signs alike and shares one authorizer (an IAM signer
caches its signing key per day, so sharing saves work). With ``--api-key-file`` or
``--auth-token-file`` virtual user *i* takes line *i* mod N; with
``--auth-token-command`` each user runs the command for its own token; with
``--identity-pool-id`` each user gets an identity of a Cognito identity pool and signs
IAM operations with its credentials. With
``--connect-auth-mode``, ``--subscribe-auth-mode`` or ``--publish-auth-mode`` the
operations are authorized in their own modes (docs/load-test.md#identities).

User *i* is numbered across the run: the users of one process count 1, 2, 3...; in a
distributed run the worker's index interleaves them (worker *w* of *W* gives its
*n*-th user the index ``(n - 1) * W + w``), *W* being what the master recorded when
the run started.
"""

from __future__ import annotations

from typing import Any

from gevent.lock import Semaphore

from harness.config.secret_lines import secret_lines
from harness.emulator import defaults as emulator_defaults
from harness.emulator.identity import EmulatorToken, signer_for
from harness.errors import ConfigurationError
from harness.loadtest.settings import HarnessSettings
from harness.loadtest.target import Target
from harness.signing import (
    AuthMode,
    Authorizer,
    CredentialSource,
    PerOperationAuthorizer,
    make_authorizer,
)
from harness.signing.authorizers import TokenSource
from harness.signing.token_command import CommandToken

OPERATIONS = ("connect", "subscribe", "publish")
_WORKERS_ATTRIBUTE = "_harness_worker_count"


def record_worker_count(options: Any, count: int) -> None:
    """On the master, at a run's start: how many workers share the users (sent to the
    workers with the options, as the embedded emulator's address is)."""
    setattr(options, _WORKERS_ATTRIBUTE, count)


def worker_count_of(options: Any) -> int:
    return max(1, int(getattr(options, _WORKERS_ATTRIBUTE, 1) or 1))


class Identities:
    """The authorizer of each virtual user (see the module docstring)."""

    def __init__(
        self,
        settings: HarnessSettings,
        target: Target,
        *,
        worker: int = 0,
        workers: int = 1,
        identity_endpoint: str | None = None,
    ) -> None:
        """``identity_endpoint``: the embedded emulator's Cognito Identity API."""
        self._settings = settings
        self._target = target
        self._identity_endpoint = identity_endpoint
        self._worker = worker
        self._workers = max(1, workers)
        self._api_keys = _lines(settings.api_key_file, "--api-key-file")
        self._tokens = _lines(settings.auth_token_file, "--auth-token-file")
        self._modes = {
            operation: getattr(settings, f"{operation}_auth_mode") or settings.auth_mode
            for operation in OPERATIONS
        }
        self._shared_by_mode: dict[AuthMode, Authorizer] = {}
        self._by_index: dict[int, Authorizer] = {}
        self.per_user = any(self._varies(mode) for mode in self._modes.values())
        self._shared: Authorizer | None = None
        self._building = Semaphore()
        """Held while the shared authorizer is built: that can yield (a token command, an
        identity pool's calls), and the users starting meanwhile must wait for it."""

    def for_user(self, user_id: str) -> Authorizer:
        """The authorizer of the user with ``user_id`` (``<process tag>-<n>``)."""
        if not self.per_user:
            if self._shared is None:
                with self._building:
                    if self._shared is None:
                        self._shared = self._build(0)
            return self._shared
        number = int(user_id.rpartition("-")[2])
        index = (number - 1) * self._workers + self._worker
        authorizer = self._by_index.get(index)
        if authorizer is None:  # each index is one user's: no other builds it meanwhile
            authorizer = self._by_index[index] = self._build(index)
        return authorizer

    def check(self) -> None:
        """Build the first user's authorizer, so bad settings stop the run before it
        starts (this runs ``--auth-token-command`` once)."""
        authorizer = self._build(0)
        authorizer.connect_headers()

    def _build(self, index: int) -> Authorizer:
        by_mode = {mode: self._authorizer(mode, index) for mode in set(self._modes.values())}
        connect, subscribe, publish = (by_mode[self._modes[op]] for op in OPERATIONS)
        if connect is subscribe is publish:
            return connect
        return PerOperationAuthorizer(connect, subscribe, publish)

    def _varies(self, mode: AuthMode) -> bool:
        """Whether users differ in ``mode``'s credential."""
        if mode is AuthMode.API_KEY:
            return self._api_keys is not None
        if mode is AuthMode.AWS_IAM:
            return bool(self._settings.identity_pool_id)
        return self._tokens is not None or bool(self._settings.auth_token_command)

    def _authorizer(self, mode: AuthMode, index: int) -> Authorizer:
        if not self._varies(mode):
            shared = self._shared_by_mode.get(mode)
            if shared is None:
                shared = self._shared_by_mode[mode] = self._signed(mode, index)
            return shared
        return self._signed(mode, index)

    def _signed(self, mode: AuthMode, index: int) -> Authorizer:
        settings = self._settings
        if mode is AuthMode.AWS_IAM and settings.identity_pool_id:
            return self._pool_signed(index)
        return signer_for(
            mode,
            self._target.endpoints.http_host,
            embedded=self._target.embedded,
            api_key=_pick(self._api_keys, index) or settings.api_key,
            token=self._token(index),
            region=settings.region or self._target.endpoints.region,
            aws_profile=settings.aws_profile,
            sigv4_engine=settings.iam_signer,
        ).authorizer

    def _pool_signed(self, index: int) -> Authorizer:
        """IAM with the credentials of user ``index``'s own identity-pool identity."""
        settings = self._settings
        pool = settings.identity_pool_id
        logins = None
        if settings.identity_pool_login:
            token = self._token(index)
            if not token and self._target.embedded:
                token = EmulatorToken(subject=f"harness-user-{index}")
            if not token:
                raise ConfigurationError(
                    "--identity-pool-login",
                    "needs each user's token: --auth-token, --auth-token-file or "
                    "--auth-token-command",
                )
            logins = {settings.identity_pool_login: token}
        credentials = CredentialSource.from_identity_pool(
            pool,
            region=pool.partition(":")[0],
            endpoint_url=self._identity_endpoint,
            logins=logins,
            verify=self._target.ca_file or None,
        )
        endpoints = self._target.endpoints
        region = settings.region or endpoints.region or emulator_defaults.DEFAULT_REGION
        return make_authorizer(
            AuthMode.AWS_IAM,
            endpoints.http_host,
            region=region,
            credentials=credentials,
            sigv4_engine=settings.iam_signer,
        )

    def _token(self, index: int) -> TokenSource:
        settings = self._settings
        if self._tokens is not None:
            return _pick(self._tokens, index)
        if settings.auth_token_command:
            return CommandToken(settings.auth_token_command, index, settings.token_refresh_s)
        return settings.auth_token


def _lines(path: str, option: str) -> list[str] | None:
    return secret_lines(path, option) if path else None


def _pick(lines: list[str] | None, index: int) -> str:
    return lines[index % len(lines)] if lines else ""
