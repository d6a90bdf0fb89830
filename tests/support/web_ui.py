"""Locust's web UI as a user starts it, and a headless Chromium to drive it.

``locust -f FILE`` (no ``--headless``) runs in a subprocess that starts the
embedded emulator and serves the web UI on 127.0.0.1; Playwright drives Debian's
Chromium (``/usr/bin/chromium``; no ``playwright install``). Modules that use this
skip themselves without the browser or the ``playwright`` package
(:func:`require_chromium`).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from support.client import free_port
from support.timing import FACTOR, MS

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
EMULATOR_LINE = re.compile(r"embedded AppSync Events emulator at (http://127\.0\.0\.1:(\d+)/event)")
STARTUP_TIMEOUT_S = 20_000 * MS
EXIT_TIMEOUT_S = 15_000 * MS
UI_TIMEOUT_MS = round(10_000 * FACTOR)
_LOOPBACK = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def require_chromium() -> Any:
    """Skip the calling module without Chromium or Playwright; Playwright's sync API."""
    if not CHROMIUM.is_file():
        pytest.skip(
            f"{CHROMIUM} is missing (apt-get install chromium): no browser for the web UI test",
            allow_module_level=True,
        )
    return pytest.importorskip(
        "playwright.sync_api",
        reason="playwright is not installed (pip install playwright): no web UI test",
    )


@dataclass
class LocustWebUI:
    process: subprocess.Popen[bytes]
    url: str
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def emulator_url(self) -> str:
        match = EMULATOR_LINE.search(self.log())
        assert match, self.log()[-3000:]
        return match.group(1)

    def get(self, path: str) -> bytes:
        """GET a path of the web UI (loopback, no proxy)."""
        with _LOOPBACK.open(self.url + path.lstrip("/"), timeout=10 * FACTOR) as answer:
            body: bytes = answer.read()
            return body

    def stop(self) -> int:
        """SIGTERM, a bounded wait, then SIGKILL; the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=EXIT_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        return self.process.returncode


def wait_for_web_ui(locust: LocustWebUI) -> None:
    """Until the web UI answers 200 and the embedded emulator is up (bounded)."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        assert locust.process.poll() is None, f"Locust exited early:\n{locust.log()[-3000:]}"
        try:
            with _LOOPBACK.open(locust.url, timeout=1.0) as answer:
                if answer.status == 200 and EMULATOR_LINE.search(locust.log()):
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    pytest.fail(f"the web UI did not answer within {STARTUP_TIMEOUT_S}s:\n{locust.log()[-3000:]}")


@contextlib.contextmanager
def locust_web_ui(
    tmp_path: Path, locustfile: str = "locustfile.py", *args: str
) -> Iterator[LocustWebUI]:
    """``locust -f locustfile ARGS`` with its web UI on a free loopback port, stopped after."""
    port = free_port()
    log_path = tmp_path / "locust.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOCUST_")}
    env["PYTHONUNBUFFERED"] = "1"
    command = [sys.executable, "-m", "locust", "-f", locustfile, "--web-host", "127.0.0.1"]
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [*command, "--web-port", str(port), *args],
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=env,
        )
    locust = LocustWebUI(process, f"http://127.0.0.1:{port}/", log_path)
    try:
        wait_for_web_ui(locust)
        yield locust
    finally:
        locust.stop()  # no-op when the test already stopped it


@contextlib.contextmanager
def browser_page(sync_api: Any) -> Iterator[Any]:
    """A page of a fresh headless Chromium."""
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900}, accept_downloads=True)
            page.set_default_timeout(UI_TIMEOUT_MS)
            yield page
        finally:
            browser.close()


def check_png(path: Path) -> None:
    """``path`` is a PNG screenshot of some size."""
    png = path.read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and png[12:16] == b"IHDR", png[:16]
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert width > 0 and height > 0 and len(png) > 10_000, (width, height, len(png))
