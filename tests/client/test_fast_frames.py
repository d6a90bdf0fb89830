"""The reader's fast path for whole text frames (``FastFrames``) against websockets' own
parser, the reference: the same payloads from any split of the same bytes, and every
frame it does not handle left, from that frame on, for websockets."""

from __future__ import annotations

import os

from hypothesis import given, settings
from hypothesis import strategies as st
from websockets.frames import Close, Frame, Opcode
from websockets.protocol import Protocol, Side, State

from harness.client.websocket import FastFrames

MAX_BYTES = 70_000

TEXTS = st.text(max_size=300) | st.text(min_size=126, max_size=70_100)


def server_frame(frame: Frame) -> bytes:
    return frame.serialize(mask=False, extensions=[])


def reference(data: bytes) -> tuple[list[bytes], bool]:
    """websockets' reading of ``data`` as a client: the text payloads, and whether it
    stopped being OPEN (a close, or a frame it refused)."""
    protocol = Protocol(Side.CLIENT, state=State.OPEN, max_size=MAX_BYTES)
    protocol.receive_data(data)
    frames = [e for e in protocol.events_received() if isinstance(e, Frame)]
    texts = [bytes(f.data) for f in frames if f.opcode is Opcode.TEXT]
    return texts, protocol.state is not State.OPEN


def fast_reading(data: bytes, cuts: list[int]) -> tuple[list[bytes], bytes | None]:
    fast = FastFrames(MAX_BYTES)
    payloads: list[bytes] = []
    for start, end in zip([0, *cuts], [*cuts, len(data)], strict=True):
        payloads += fast.feed(data[start:end])
        if fast.rest is not None:
            return payloads, fast.rest + data[end:]
    return payloads, None


@settings(max_examples=150, deadline=None)
@given(st.lists(TEXTS, max_size=8), st.data())
def test_text_frames_read_as_websockets_reads_them(texts: list[str], data: st.DataObject) -> None:
    stream = b"".join(server_frame(Frame(Opcode.TEXT, t.encode())) for t in texts)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=6)))
    payloads, rest = fast_reading(stream, cuts)
    expected, closed = reference(stream)
    oversized = [t for t in texts if len(t.encode()) > MAX_BYTES]
    if oversized:
        assert rest is not None and closed  # websockets refuses it (1009)
        assert payloads == expected
    else:
        assert rest is None and payloads == expected


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.text(max_size=200), max_size=5),
    st.sampled_from(["close", "ping", "binary", "fragment", "masked", "bad-utf8"]),
    st.lists(st.text(max_size=50), max_size=3),
    st.data(),
)
def test_another_frame_and_all_after_it_go_to_websockets(
    before: list[str], kind: str, after: list[str], data: st.DataObject
) -> None:
    head = b"".join(server_frame(Frame(Opcode.TEXT, t.encode())) for t in before)
    other = {
        "close": server_frame(Frame(Opcode.CLOSE, Close(1000, "bye").serialize())),
        "ping": server_frame(Frame(Opcode.PING, b"hi")),
        "binary": server_frame(Frame(Opcode.BINARY, b"\x00\x01")),
        "fragment": server_frame(Frame(Opcode.TEXT, b'{"a":', fin=False)),
        "masked": Frame(Opcode.TEXT, b"{}").serialize(mask=True, extensions=[]),
        "bad-utf8": server_frame(Frame(Opcode.TEXT, b"\xff\xfe")),
    }[kind]
    tail = b"".join(server_frame(Frame(Opcode.TEXT, t.encode())) for t in after)
    stream = head + other + tail
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=4)))
    payloads, rest = fast_reading(stream, cuts)
    assert payloads == [t.encode() for t in before]
    assert rest == other + tail


def test_a_frame_split_inside_its_length_waits_for_the_rest() -> None:
    payload = os.urandom(40_000).hex().encode()[:70_000]
    frame = server_frame(Frame(Opcode.TEXT, payload))
    fast = FastFrames(MAX_BYTES)
    assert fast.feed(frame[:1]) == [] and fast.feed(frame[1:3]) == []
    assert fast.feed(frame[3:9]) == [] and fast.feed(frame[9:]) == [payload]
    assert fast.rest is None and fast.buffer == b""
