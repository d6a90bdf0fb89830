"""Run the emulator as a child process, as the harness and the tests do.

::

    with EmulatorProcess.start(["--keepalive-interval-s", "1"]) as emulator:
        emulator.info.http_url   # e.g. http://127.0.0.1:41237/event
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from types import TracebackType
from typing import IO

from harness.emulator.ready import ReadyInfo
from harness.errors import HarnessError

START_TIMEOUT_S = 30.0


class EmulatorStartError(HarnessError):
    """The emulator process exited or stayed silent instead of printing its address."""


class EmulatorProcess:
    """A running ``python -m harness.emulator``; stop it with :meth:`stop` or ``with``."""

    def __init__(self, process: subprocess.Popen[str], stderr: IO[bytes], info: ReadyInfo) -> None:
        self.process = process
        self.info = info
        self._stderr = stderr
        self._stderr_at_exit = ""
        self._terminate_sent = False

    @classmethod
    def start(
        cls,
        arguments: Sequence[str] = (),
        *,
        timeout_s: float = START_TIMEOUT_S,
        env: dict[str, str] | None = None,
    ) -> EmulatorProcess:
        """Start the emulator with ``arguments`` and wait for its ready line."""
        stderr = tempfile.TemporaryFile()  # noqa: SIM115 (kept open while it runs)
        process = subprocess.Popen(
            [sys.executable, "-m", "harness.emulator", *arguments],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            env=env if env is not None else os.environ.copy(),
            preexec_fn=_terminate_with_parent if sys.platform == "linux" else None,
        )
        try:
            line = _read_line(process, timeout_s)
            info = ReadyInfo(**json.loads(line))
        except (EmulatorStartError, ValueError, TypeError) as exc:
            _kill(process)
            said = _tail(stderr)
            stderr.close()
            raise EmulatorStartError(
                f"the emulator did not start: {exc}; its stderr said:\n{said}"
            ) from None
        except BaseException:  # Ctrl-C while waiting: leave no orphan behind
            _kill(process)
            stderr.close()
            raise
        return cls(process, stderr, info)

    @property
    def pid(self) -> int:
        return self.process.pid

    def stderr_text(self) -> str:
        """What the emulator wrote on stderr (its last megabyte), also after :meth:`stop`."""
        if self._stderr.closed:
            return self._stderr_at_exit
        return _tail(self._stderr, limit=1_000_000)

    def stop(self, timeout_s: float = 10.0) -> int:
        """SIGTERM, wait, and SIGKILL if it does not exit; returns the exit status.

        A second call while the first waits sends no second SIGTERM (which
        would interrupt the emulator's clean shutdown) and just waits too.
        """
        if self.process.poll() is None:
            if not self._terminate_sent:
                self._terminate_sent = True
                self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()
        if not self._stderr.closed:
            self._stderr_at_exit = _tail(self._stderr, limit=1_000_000)
            self._stderr.close()
        return self.process.returncode

    def __enter__(self) -> EmulatorProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def _read_line(process: subprocess.Popen[str], timeout_s: float) -> str:
    assert process.stdout is not None
    deadline = time.monotonic() + timeout_s
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise EmulatorStartError(f"no ready line within {timeout_s:g} s")
        readable, _, _ = select.select([process.stdout], [], [], min(remaining, 0.5))
        if readable:
            line = process.stdout.readline()
            if line:
                return line
            raise EmulatorStartError(f"it exited with status {process.wait()}")
        if process.poll() is not None:
            raise EmulatorStartError(f"it exited with status {process.returncode}")


def _terminate_with_parent() -> None:
    """In the child, before exec: SIGTERM when the parent dies (Linux ``PR_SET_PDEATHSIG``),
    so a Locust killed with SIGKILL leaves no emulator behind."""
    import ctypes

    pr_set_pdeathsig = 1
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(pr_set_pdeathsig, signal.SIGTERM, 0, 0, 0)


def _kill(process: subprocess.Popen[str]) -> None:
    """End a child that did not start."""
    process.kill()
    process.wait()
    if process.stdout is not None:
        process.stdout.close()


def _tail(stream: IO[bytes], limit: int = 4000) -> str:
    stream.flush()
    stream.seek(0)
    text = stream.read().decode("utf-8", "replace")
    return text[-limit:]
