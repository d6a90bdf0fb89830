"""``--auth-token-command``: a token printed by a command, run again before it expires.

A JWT is fetched again :data:`REFRESH_MARGIN` of its life before its ``exp`` (at most
60 s before); a token without ``exp`` every ``refresh_s`` seconds (0: never again). The
command runs through the shell with ``HARNESS_USER_INDEX`` set, so one command can hand
each virtual user its own identity. Under gevent the wait for it blocks only the greenlet
that asked.
"""

from __future__ import annotations

import os
import subprocess
import time

from harness.errors import SigningError
from harness.signing.jwt import unverified_claims

OPTION = "--auth-token-command"
TIMEOUT_S = 30.0
REFRESH_MARGIN = 0.25
"""The share of a token's remaining life left when it is fetched again."""
MAX_MARGIN_S = 60.0


class CommandToken:
    """A token source (:data:`harness.signing.authorizers.TokenSource`) for one user."""

    def __init__(self, command: str, user_index: int, refresh_s: float = 0.0) -> None:
        self._command = command
        self._user_index = user_index
        self._refresh_s = refresh_s
        self._token = ""
        self._renew_at = 0.0
        self.runs = 0

    def __call__(self) -> str:
        now = time.time()
        if not self._token or now >= self._renew_at:
            self._token = self._run()
            self._renew_at = self._renewal(now)
        return self._token

    def _run(self) -> str:
        self.runs += 1
        env = {**os.environ, "HARNESS_USER_INDEX": str(self._user_index)}
        try:
            done = subprocess.run(
                self._command, shell=True, env=env, capture_output=True, text=True,
                timeout=TIMEOUT_S, check=False, stdin=subprocess.DEVNULL,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            raise SigningError(f"{OPTION} did not finish within {TIMEOUT_S:g} s") from None
        except OSError as exc:
            raise SigningError(f"{OPTION} could not run: {exc.strerror}") from None
        token = done.stdout.strip().splitlines()[0].strip() if done.stdout.strip() else ""
        if done.returncode != 0 or not token:
            # stderr is the command's own message; the token is never shown.
            reason = done.stderr.strip().splitlines()[-1][:200] if done.stderr.strip() else ""
            status = f"exit status {done.returncode}" if done.returncode else "no token printed"
            raise SigningError(f"{OPTION} failed ({status})" + (f": {reason}" if reason else ""))
        return token

    def _renewal(self, now: float) -> float:
        claims = unverified_claims(self._token) or {}
        expires = claims.get("exp")
        if isinstance(expires, int | float) and not isinstance(expires, bool):
            left = max(0.0, float(expires) - now)
            return now + left - min(MAX_MARGIN_S, left * REFRESH_MARGIN)
        return now + self._refresh_s if self._refresh_s > 0 else float("inf")
