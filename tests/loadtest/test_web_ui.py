"""The Locust web UI with the harness's options, driven by a real headless Chromium.

``locust -f locustfile.py`` (no ``--headless``) runs as a user starts it: a
subprocess that starts the embedded emulator and serves the web UI on
127.0.0.1. Playwright drives Debian's Chromium (``/usr/bin/chromium``; no
``playwright install``): the start form shows the harness's options with their
defaults (secrets as password fields, ``--run-id`` hidden), the values typed
into it reach the users (the stats table names the channel template typed
in), the stats page can be screenshotted, and Stop stops the run.

Skipped without ``/usr/bin/chromium`` or the ``playwright`` package.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from support.client import port_is_closed
from support.timing import MS
from support.web_ui import LocustWebUI, check_png, require_chromium
from support.web_ui import browser_page as new_browser_page
from support.web_ui import locust_web_ui as start_locust_web_ui

from harness.emulator import defaults
from harness.loadtest.settings import OPTIONS

sync_api = require_chromium()
CHANNELS = "/default/webui-{1..2}"
STATS_TIMEOUT_S = 15_000 * MS
STOP_TIMEOUT_S = 10_000 * MS
pytestmark = [pytest.mark.chromium, pytest.mark.timeout(90)]


@pytest.fixture
def locust_web_ui(tmp_path: Path) -> Iterator[LocustWebUI]:
    with start_locust_web_ui(tmp_path) as locust:
        yield locust


@pytest.fixture
def browser_page() -> Iterator[Any]:
    with new_browser_page(sync_api) as page:
        yield page


# -- the page ------------------------------------------------------------------------


Rows = dict[tuple[str, str], tuple[int, int]]
"""``(request type, name) -> (# requests, # fails)``"""


def form_name(dest: str) -> str:
    """The start form's field name for an option: the web UI camel-cases ``dest``."""
    return re.sub(r"_([a-z0-9])", lambda m: m.group(1).upper(), dest)


def stats_rows(page: Any) -> Rows:
    """The statistics table on the page (the Aggregated row left out)."""
    rows: Rows = {}
    for cells in page.locator("table tbody tr").evaluate_all(
        "rows => rows.map(row => [...row.cells].map(cell => cell.innerText.trim()))"
    ):
        if len(cells) >= 4 and cells[0] and cells[2].replace(",", "").isdigit():
            rows[(cells[0], cells[1])] = (
                int(cells[2].replace(",", "")),
                int(cells[3].replace(",", "")),
            )
    return rows


class UserStartRefused(AssertionError):
    """The harness refused to start a user (its ``cannot start a user: ...`` log line)."""


def wait_for_stats(
    page: Any, locust: LocustWebUI, what: str, ready: Callable[[Rows], bool]
) -> Rows:
    """Until the table on the page is ``ready`` (bounded).

    Raises :class:`UserStartRefused` at once when a user could not start."""
    deadline = time.monotonic() + STATS_TIMEOUT_S
    rows: Rows = {}
    while time.monotonic() < deadline:
        refused = re.search(r"cannot start a user: .*", locust.log())
        if refused:
            raise UserStartRefused(refused.group(0))
        rows = stats_rows(page)
        if ready(rows):
            return rows
        page.wait_for_timeout(250)
    pytest.fail(
        f"the stats table did not show {what} within {STATS_TIMEOUT_S}s: {rows}\n"
        f"{locust.log()[-3000:]}"
    )


def request_count(rows: Rows, request_type: str, name: str) -> int:
    return rows.get((request_type, name), (0, 0))[0]


def check_start_form(page: Any) -> None:
    """Every web-UI harness option is in the form with its default; secrets are
    password fields; --run-id is not there."""
    page.get_by_role("button", name="Custom parameters").click()
    extra_options = page.evaluate("() => window.templateArgs.extra_options")
    assert "run_id" not in extra_options
    assert page.locator('input[name="runId"]').count() == 0
    assert "Run Id" not in page.inner_text("form")
    for spec in OPTIONS:
        if not spec.web_ui:
            continue
        field = page.locator(f'input[name="{form_name(spec.dest)}"]')
        sync_api.expect(field).to_have_count(1)
        sync_api.expect(field).to_be_visible()
        if spec.is_flag:  # a switch is a checkbox, unticked
            assert field.get_attribute("type") == "checkbox", spec.flag
            assert field.is_checked() is spec.default, spec.flag
            continue
        shown = field.input_value()
        if isinstance(spec.default, float):
            assert float(shown) == spec.default, (spec.flag, shown)
        else:
            assert shown == str(spec.default), (spec.flag, shown)
        kind = field.get_attribute("type")
        assert kind == ("password" if spec.secret else "text"), (spec.flag, kind)
    # The defaults the README promises, spelled out.
    assert page.locator('input[name="authMode"]').input_value() == "API_KEY"
    assert page.locator('input[name="channels"]').input_value() == "/default/room-{1..20}"
    assert page.locator('input[name="publishVia"]').input_value() == "ws"
    for secret in ("apiKey", "authToken"):
        assert page.locator(f'input[name="{secret}"]').get_attribute("type") == "password"


# -- the test ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "api_key",
    [
        pytest.param("", id="emulator-defaults"),
        pytest.param(defaults.DEFAULT_API_KEY, id="api-key-typed-in"),
    ],
)
def test_the_web_ui_start_form_runs_the_harness_with_its_values(
    locust_web_ui: LocustWebUI, browser_page: Any, tmp_path: Path, api_key: str
) -> None:
    page = browser_page
    emulator_url = locust_web_ui.emulator_url()
    page.goto(locust_web_ui.url)
    sync_api.expect(page.get_by_text("Start new load test")).to_be_visible()

    # (1) the form: Locust's fields, the harness's options under "Custom parameters"
    host_field = page.locator('input[name="host"]')
    assert host_field.input_value() == emulator_url
    check_start_form(page)

    # (2) fill it in and start; the host stays the emulator URL Locust shows
    page.locator('input[name="userCount"]').fill("4")
    page.locator('input[name="spawnRate"]').fill("4")
    page.locator('input[name="channels"]').fill(CHANNELS)
    if api_key:
        page.locator('input[name="apiKey"]').fill(api_key)
    with page.expect_response(re.compile(r"/swarm$")) as swarm:
        page.get_by_role("button", name="Start", exact=True).click()
    answer = swarm.value.json()
    assert answer["success"] is True, answer
    posted = parse_qs(swarm.value.request.post_data or "", keep_blank_values=True)
    assert posted["channels"] == [CHANNELS], posted
    assert "run_id" not in posted
    # /swarm copies a field into the options only under the option's own name (Locust's
    # form mangles names with a digit after a letter: sigv4_engine came back sigv_4engine).
    unposted = {spec.dest for spec in OPTIONS if spec.web_ui} - set(posted)
    assert not unposted, (unposted, sorted(posted))
    # Locust's /swarm reads a switch as the text "true".
    assert posted["allow_loss"] == ["false"], posted["allow_loss"]

    wanted = [
        ("connect", "/event/realtime"),
        ("subscribe", CHANNELS),
        ("publish", CHANNELS),
        ("deliver", CHANNELS),
    ]
    rows = wait_for_stats(
        page,
        locust_web_ui,
        f"requests for {wanted}",
        lambda rows: all(request_count(rows, *key) > 0 for key in wanted),
    )
    assert all(fails == 0 for _, fails in rows.values()), rows
    names = {name for _, name in rows}
    assert not any("room-" in name for name in names), rows  # not the default channels

    # (3) a screenshot of the running stats page
    screenshot = tmp_path / "web-ui-stats.png"
    page.screenshot(path=str(screenshot), full_page=True)
    check_png(screenshot)

    # Stop: the run stops, and every subscription is unsubscribed on the way out.
    with page.expect_response(re.compile(r"/stop$")) as stopped:
        page.get_by_role("button", name="Stop", exact=True).click()
    assert stopped.value.json()["success"] is True
    sync_api.expect(page.get_by_text(re.compile(r"^stopped$", re.IGNORECASE))).to_be_visible(
        timeout=STOP_TIMEOUT_S * 1000
    )

    def unsubscribed_all(rows: Rows) -> bool:
        subscribes = request_count(rows, "subscribe", CHANNELS)
        return request_count(rows, "unsubscribe", CHANNELS) == subscribes > 0

    wait_for_stats(page, locust_web_ui, "an unsubscribe for every subscribe", unsubscribed_all)

    # Locust quits on SIGTERM, stopping the embedded emulator, and reports a clean run.
    emulator_port = urlsplit(emulator_url).port
    assert emulator_port
    status = locust_web_ui.stop()
    log = locust_web_ui.log()
    assert status == 0, log[-3000:]
    assert "Shutting down (exit code 0)" in log
    assert "embedded emulator stopped (exit status 0)" in log
    assert port_is_closed(emulator_port)
