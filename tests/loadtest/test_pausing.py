"""How the harness's background work gives way to its users (``loadtest/pausing.py``):
a frame that is ready to read is read before the work goes on, and a loop that is never
idle still lets the work go on."""

from __future__ import annotations

import socket

import gevent
from gevent.event import Event
from support.timing import MS

from harness.loadtest import pausing
from harness.loadtest.pausing import let_users_run


def test_a_ready_connection_is_read_before_the_work_goes_on() -> None:
    """A readable socket's watcher (as the users' connections have) runs first; with
    ``gevent.sleep(0)`` the work would resume before the loop polled for it."""
    reader, writer = socket.socketpair()
    read: list[bytes] = []
    watcher = gevent.get_hub().loop.io(reader.fileno(), 1)
    watcher.start(lambda: read.append(reader.recv(16)))
    try:
        gevent.sleep(0)  # the watcher is armed in the loop
        writer.send(b"frame")
        let_users_run()
        assert read == [b"frame"]
    finally:
        watcher.stop()
        reader.close()
        writer.close()


def test_a_loop_that_is_never_idle_still_lets_the_work_go_on() -> None:
    """A greenlet that never lets the loop idle (it yields with sleep(0) forever, until
    told to stop): the pause ends after its longest wait anyway."""
    stop = Event()

    def busy() -> None:
        while not stop.is_set():
            gevent.sleep(0)

    spinner = gevent.spawn(busy)
    try:
        gevent.sleep(0)
        with gevent.Timeout(2_000 * MS):  # bounded: a pause that never ends fails here
            for _ in range(3):
                let_users_run()
        assert not spinner.dead  # the loop was busy the whole time
    finally:
        stop.set()
        spinner.join(timeout=1)
    assert pausing.LONGEST_WAIT_S * 3 < 2_000 * MS
