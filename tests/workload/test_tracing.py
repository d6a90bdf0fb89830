"""Traced events: ``make_event`` writes one compact JSON object padded to
``--payload-bytes``; ``read_event`` gives its stamp back, and ``None`` for anything
that is not a well-formed traced event (another producer's events on a shared API)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.protocol import MAX_EVENT_BYTES
from harness.workload.tracing import PAD_CHARACTERS, TraceStamp, make_event, read_event

STAMP = TraceStamp("run-0123abcd", "pub-7", "/default/room-12", 7, 1_731_346_453_123_456_789)
AWKWARD = TraceStamp(
    'run "quoted" \\ back\\slash \n\t',
    "pub-é-日本語-🎉-\u2028-\x00",
    "/default/ümlaut",
    0,
    0,
)
FIELDS = ("run", "pub", "ch", "seq", "t")
PAD_FIELD_OVERHEAD = len(',"pad":""')
"""The bytes a ``pad`` field adds to a compact object beyond its padding."""


def size(event: str) -> int:
    return len(event.encode("utf-8"))


def unpadded_size(stamp: TraceStamp) -> int:
    return size(make_event(stamp))


def compact(value: object) -> str:
    return json.dumps(value, separators=(",", ":"))


def fields_of(stamp: TraceStamp) -> dict[str, object]:
    return {
        "run": stamp.run,
        "pub": stamp.publisher,
        "ch": stamp.channel,
        "seq": stamp.seq,
        "t": stamp.intended_ns,
    }


# -- the event -----------------------------------------------------------------------------


@pytest.mark.parametrize("stamp", [STAMP, AWKWARD], ids=["plain", "awkward"])
def test_an_unpadded_event_is_exactly_the_stamp_as_compact_json(stamp: TraceStamp) -> None:
    event = make_event(stamp)
    value = json.loads(event)
    assert value == fields_of(stamp)
    assert list(value) == list(FIELDS)
    assert event == compact(value)


@pytest.mark.parametrize("stamp", [STAMP, AWKWARD], ids=["plain", "awkward"])
def test_a_padded_event_is_compact_json_with_a_pad_of_x(stamp: TraceStamp) -> None:
    event = make_event(stamp, 1000)
    value = json.loads(event)
    assert list(value) == [*FIELDS, "pad"]
    pad = value.pop("pad")
    assert value == fields_of(stamp)
    assert pad and set(pad) == {"x"}
    assert event == compact({**value, "pad": pad})


@pytest.mark.parametrize("stamp", [STAMP, AWKWARD], ids=["plain", "awkward"])
@pytest.mark.parametrize("payload_bytes", [0, 200, 201, 1000, 4096])
def test_make_and_read_round_trip(stamp: TraceStamp, payload_bytes: int) -> None:
    assert read_event(make_event(stamp, payload_bytes)) == stamp


def test_quotes_and_unicode_survive_in_every_field() -> None:
    stamp = TraceStamp('"}', '{"run":"other"}', '","ch":"/evil"', 1, 2)
    event = make_event(stamp, 300)
    assert read_event(event) == stamp
    assert json.loads(event)["ch"] == '","ch":"/evil"'


# -- padding -------------------------------------------------------------------------------


@pytest.mark.parametrize("stamp", [STAMP, AWKWARD], ids=["plain", "awkward"])
def test_no_pad_when_payload_bytes_does_not_exceed_the_unpadded_size(stamp: TraceStamp) -> None:
    unpadded = make_event(stamp)
    full = size(unpadded)
    for payload_bytes in (0, 1, full // 2, full - 1, full):
        event = make_event(stamp, payload_bytes)
        assert event == unpadded, payload_bytes
        assert "pad" not in json.loads(event)


@pytest.mark.parametrize("stamp", [STAMP, AWKWARD], ids=["plain", "awkward"])
@pytest.mark.parametrize("extra", [*range(PAD_FIELD_OVERHEAD, 40), 100, 1000])
def test_padding_makes_the_event_exactly_payload_bytes(stamp: TraceStamp, extra: int) -> None:
    """``extra`` bytes over the unpadded size, from the smallest room a pad field needs."""
    payload_bytes = unpadded_size(stamp) + extra
    event = make_event(stamp, payload_bytes)
    assert size(event) == payload_bytes
    assert "pad" in json.loads(event)
    assert read_event(event) == stamp


def test_sizes_too_close_to_the_stamp_for_a_pad_field_stay_unpadded() -> None:
    """A ``pad`` field costs 9 bytes, so 1-8 bytes more than the stamp cannot be met
    exactly; the event stays unpadded, as the docstring says."""
    unpadded = unpadded_size(STAMP)
    sizes = {
        extra: size(make_event(STAMP, unpadded + extra)) for extra in range(1, PAD_FIELD_OVERHEAD)
    }
    assert sizes == dict.fromkeys(sizes, unpadded)
    assert size(make_event(STAMP, unpadded + PAD_FIELD_OVERHEAD)) == unpadded + PAD_FIELD_OVERHEAD


def test_padding_up_to_the_event_limit() -> None:
    event = make_event(STAMP, MAX_EVENT_BYTES)
    assert size(event) == MAX_EVENT_BYTES
    assert read_event(event) == STAMP


def test_padding_counts_utf8_bytes_not_characters() -> None:
    stamp = TraceStamp("ü" * 20, "日本" * 10, "/default/🎉", 3, 4)
    payload_bytes = unpadded_size(stamp) + 100
    event = make_event(stamp, payload_bytes)
    assert size(event) == payload_bytes
    assert read_event(event) == stamp


def test_a_longer_seq_leaves_a_padded_event_the_same_size() -> None:
    sizes = {
        size(make_event(TraceStamp("run", "pub", "/default/a", seq, 10**18), 500))
        for seq in (1, 10, 999, 10**9, 2**63)
    }
    assert sizes == {500}


# -- read_event: anything else is None --------------------------------------------------------

VALID = fields_of(STAMP)


def with_field(name: str, value: object) -> str:
    return compact({**VALID, name: value})


def without_field(name: str) -> str:
    return compact({k: v for k, v in VALID.items() if k != name})


def test_read_event_accepts_extra_fields_and_any_order() -> None:
    shuffled = dict(reversed([*VALID.items(), ("other", {"nested": [1, 2]})]))
    assert read_event(compact(shuffled)) == STAMP
    assert read_event(json.dumps(VALID, indent=2)) == STAMP


@pytest.mark.parametrize("name", FIELDS)
def test_read_event_rejects_a_missing_field(name: str) -> None:
    assert read_event(without_field(name)) is None


WRONG_TYPES = [
    ("run", 1),
    ("run", None),
    ("run", ["run"]),
    ("pub", 7),
    ("pub", {"id": "p"}),
    ("ch", None),
    ("ch", ["/default/a"]),
    ("seq", "7"),
    ("seq", 7.0),
    ("seq", True),
    ("seq", False),
    ("seq", None),
    ("seq", [7]),
    ("t", 1.5e18),
    ("t", "1731346453123456789"),
    ("t", True),
    ("t", None),
]


@pytest.mark.parametrize(("name", "value"), WRONG_TYPES, ids=[f"{n}={v!r}" for n, v in WRONG_TYPES])
def test_read_event_rejects_a_field_of_the_wrong_type(name: str, value: object) -> None:
    event = with_field(name, value)
    assert json.loads(event)[name] == value  # the event really carries that value
    assert read_event(event) is None


@pytest.mark.parametrize(
    "event",
    ['{"hello":"world"}', "{}", '{"message":"a chat line","seq":1,"t":2}'],
)
def test_read_event_ignores_events_of_other_producers(event: str) -> None:
    assert read_event(event) is None


@pytest.mark.parametrize("event", ["[]", "[1,2]", '"run"', "42", "null", "true", "3.5", "NaN"])
def test_read_event_rejects_json_that_is_not_an_object(event: str) -> None:
    json.loads(event)  # valid JSON (Python's parser accepts NaN)
    assert read_event(event) is None


@pytest.mark.parametrize(
    "event",
    [
        "",
        " ",
        "{",
        '{"run":',
        "not json",
        "{'run':'r'}",
        make_event(STAMP)[:-1],
        make_event(STAMP) + "x",
    ],
)
def test_read_event_rejects_invalid_json(event: str) -> None:
    with pytest.raises(ValueError):
        json.loads(event)
    assert read_event(event) is None


def test_read_event_accepts_large_and_negative_numbers() -> None:
    for seq, t in ((2**70, 2**80), (-1, -5), (0, 0)):
        stamp = TraceStamp("r", "p", "/c", seq, t)
        assert read_event(compact({**VALID, "seq": seq, "t": t})) == TraceStamp(
            STAMP.run, STAMP.publisher, STAMP.channel, seq, t
        )
        assert read_event(make_event(stamp)) == stamp


# -- property ------------------------------------------------------------------------------

TEXTS = st.text(st.characters(exclude_categories=()), max_size=40)  # lone surrogates too
STAMPS = st.builds(
    TraceStamp,
    TEXTS,
    TEXTS,
    TEXTS,
    st.integers(min_value=0, max_value=2**63 - 1),
    st.integers(min_value=0, max_value=2**64),
)


@settings(max_examples=400, deadline=None)
@given(stamp=STAMPS, payload_bytes=st.integers(min_value=0, max_value=2000))
def test_round_trip_property(stamp: TraceStamp, payload_bytes: int) -> None:
    event = make_event(stamp, payload_bytes)
    assert read_event(event) == stamp
    value = json.loads(event)
    assert event == compact(value)
    unpadded = unpadded_size(stamp)
    if payload_bytes <= unpadded:
        assert event == make_event(stamp)
    elif payload_bytes > unpadded + PAD_FIELD_OVERHEAD:
        # (the sizes just above the unpadded size have their own tests above)
        assert size(event) == payload_bytes
        assert set(value["pad"]) <= {"x"}


@pytest.mark.parametrize("extra", [PAD_FIELD_OVERHEAD, PAD_FIELD_OVERHEAD + 3, 100, 1001])
def test_html_padding_is_exact_and_holds_the_characters_appsync_escapes(extra: int) -> None:
    """``--payload-chars html``: every padded event holds ``<``, ``>`` and ``&`` (once the
    pad is long enough), still exactly ``payload_bytes``, still read as its stamp."""
    payload_bytes = unpadded_size(STAMP) + extra
    event = make_event(STAMP, payload_bytes, PAD_CHARACTERS["html"])
    assert size(event) == payload_bytes
    assert read_event(event) == STAMP
    pad = json.loads(event)["pad"]
    assert set(pad) <= set(PAD_CHARACTERS["html"])
    if len(pad) >= len(PAD_CHARACTERS["html"]):
        assert {"<", ">", "&"} <= set(pad)
    assert event == compact({**fields_of(STAMP), "pad": pad})
