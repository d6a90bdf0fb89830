"""Every message path of the emulator, driven over loopback (protocol reference §2.5, §3, §5)."""

from __future__ import annotations

import json

from emulator_support import LiveEmulator

from harness.protocol import (
    ConnectionAck,
    Data,
    PublishSuccess,
    SubscribeSuccess,
    UnsubscribeSuccess,
)


def test_connection_init_is_acknowledged_with_top_level_timeout(emulator: LiveEmulator) -> None:
    client = emulator.client(init=False)
    client.send({"type": "connection_init"})
    raw = client.recv_raw()
    assert json.loads(raw) == {"type": "connection_ack", "connectionTimeoutMs": 300000}
    client.close()


def test_subscribe_publish_deliver_unsubscribe(emulator: LiveEmulator) -> None:
    with emulator.clients(2) as (subscriber, publisher):
        assert subscriber.subscribe("sub-1", "/default/room") == SubscribeSuccess("sub-1")
        publisher.publish("pub-1", "/default/room", ['{"n":1}', '"two"'])
        ack = publisher.recv()
        assert isinstance(ack, PublishSuccess) and ack.id == "pub-1"
        assert [entry.index for entry in ack.successful] == [0, 1]
        assert ack.failed == ()
        assert subscriber.recv() == Data("sub-1", '{"n":1}')
        assert subscriber.recv() == Data("sub-1", '"two"')
        assert subscriber.unsubscribe("sub-1") == UnsubscribeSuccess("sub-1")
        publisher.publish("pub-2", "/default/room", ['{"n":3}'])
        assert isinstance(publisher.recv(), PublishSuccess)
        assert subscriber.recv_all() == []
