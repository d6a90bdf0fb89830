"""Channel templates (``--channels``): brace expansion as a shell does it, splitting,
de-duplication, the wildcard that covers a template, and every error, which must be a
``ConfigurationError`` for ``--channels`` naming the template or channel at fault."""

from __future__ import annotations

import pytest

from harness.errors import ConfigurationError
from harness.protocol import (
    MAX_CHANNEL_SEGMENTS,
    MAX_SEGMENT_CHARS,
    parse_channel,
    parse_channel_pattern,
)
from harness.workload.channels import (
    MAX_CHANNELS,
    ChannelTemplate,
    parse_channel_templates,
    template_of_channels,
)


def only_template(text: str) -> ChannelTemplate:
    templates = parse_channel_templates(text)
    assert len(templates) == 1, templates
    return templates[0]


def channels_of(text: str) -> tuple[str, ...]:
    return only_template(text).channels


def config_error(text: str) -> ConfigurationError:
    with pytest.raises(ConfigurationError) as info:
        parse_channel_templates(text)
    assert info.value.option == "--channels"
    assert str(info.value).startswith("--channels: ")
    return info.value


def assert_consistent(template: ChannelTemplate) -> None:
    """Every channel is a valid publish channel; the wildcard, if any, is a valid
    subscription that matches every one of them."""
    assert template.channels, template
    parsed = [parse_channel(channel) for channel in template.channels]
    if template.wildcard is not None:
        pattern = parse_channel_pattern(template.wildcard)
        assert pattern.wildcard
        unmatched = [str(c) for c in parsed if not pattern.matches(c)]
        assert not unmatched, (template.wildcard, unmatched)


# -- ranges --------------------------------------------------------------------------------


def test_a_range_expands_in_order() -> None:
    template = only_template("/default/room-{1..20}")
    assert template.name == "/default/room-{1..20}"
    assert template.channels == tuple(f"/default/room-{n}" for n in range(1, 21))


def test_a_zero_padded_range_keeps_its_width() -> None:
    assert channels_of("/default/room-{01..20}") == tuple(
        f"/default/room-{n:02d}" for n in range(1, 21)
    )


def test_a_padded_range_pads_to_the_widest_bound() -> None:
    assert channels_of("/default/r{1..010}") == tuple(f"/default/r{n:03d}" for n in range(1, 11))
    assert channels_of("/default/r{00..3}") == (
        "/default/r00",
        "/default/r01",
        "/default/r02",
        "/default/r03",
    )


def test_a_descending_range_counts_down() -> None:
    assert channels_of("/default/room-{5..1}") == tuple(
        f"/default/room-{n}" for n in (5, 4, 3, 2, 1)
    )
    assert channels_of("/default/room-{10..08}") == (
        "/default/room-10",
        "/default/room-09",
        "/default/room-08",
    )


def test_a_one_value_range() -> None:
    assert channels_of("/default/room-{7..7}") == ("/default/room-7",)


def test_a_range_inside_a_segment_and_between_segments() -> None:
    assert channels_of("/default/r{1..3}x/end") == (
        "/default/r1x/end",
        "/default/r2x/end",
        "/default/r3x/end",
    )


def test_negative_numbers_inside_a_segment_are_valid_channel_characters() -> None:
    assert channels_of("/default/x{-1..1}") == ("/default/x-1", "/default/x0", "/default/x1")


@pytest.mark.parametrize(
    ("text", "channel"),
    [
        ("/default/{-3..-1}", "/default/-3"),
        ("/default/{-1..1}", "/default/-1"),
        ("/default/{2..-2}", "/default/-1"),
    ],
)
def test_a_negative_number_at_a_segment_start_is_an_invalid_channel(
    text: str, channel: str
) -> None:
    error = config_error(text)
    assert f"{channel!r} (from {text!r})" in error.reason
    assert "must be letters, digits and '-'" in error.reason


# What bash prints for ``echo {range}`` (GNU bash 5): the module promises shell expansion.
SHELL_RANGES = [
    ("{1..3}", ["1", "2", "3"]),
    ("{3..1}", ["3", "2", "1"]),
    ("{01..03}", ["01", "02", "03"]),
    ("{00..3}", ["00", "01", "02", "03"]),
    ("{1..010}", [f"{n:03d}" for n in range(1, 11)]),
    ("{10..08}", ["10", "09", "08"]),
    ("{0..5}", ["0", "1", "2", "3", "4", "5"]),
    ("{5..0}", ["5", "4", "3", "2", "1", "0"]),
    ("{0..10}", [str(n) for n in range(11)]),
    ("{-3..03}", ["-3", "-2", "-1", "00", "01", "02", "03"]),
    ("{-05..05}", ["-05", "-04", "-03", "-02", "-01", "000", "001", "002", "003", "004", "005"]),
    ("{-05..5}", ["-05", "-04", "-03", "-02", "-01", "000", "001", "002", "003", "004", "005"]),
]


@pytest.mark.parametrize(("group", "values"), SHELL_RANGES, ids=[g for g, _ in SHELL_RANGES])
def test_ranges_expand_as_the_shell_does(group: str, values: list[str]) -> None:
    assert channels_of(f"/default/x{group}") == tuple(f"/default/x{v}" for v in values)


# -- lists and several groups --------------------------------------------------------------


def test_a_list_expands_in_order() -> None:
    assert channels_of("/default/{red,green,blue}") == (
        "/default/red",
        "/default/green",
        "/default/blue",
    )


def test_a_list_inside_a_segment() -> None:
    assert channels_of("/default/room-{a,b}-x") == ("/default/room-a-x", "/default/room-b-x")


def test_a_one_choice_list_is_that_choice() -> None:
    assert channels_of("/default/{solo}") == ("/default/solo",)


def test_several_groups_multiply_in_order() -> None:
    assert channels_of("/default/{a,b}/{1..3}") == (
        "/default/a/1",
        "/default/a/2",
        "/default/a/3",
        "/default/b/1",
        "/default/b/2",
        "/default/b/3",
    )


def test_three_groups_make_the_product() -> None:
    channels = channels_of("/default/{1..4}-{1..5}-{a,b,c}")
    assert len(channels) == 4 * 5 * 3
    assert len(set(channels)) == len(channels)
    assert channels[0] == "/default/1-1-a"
    assert channels[-1] == "/default/4-5-c"


def test_groups_in_the_namespace_expand_too() -> None:
    assert channels_of("/{ns1,ns2}/room-{1..2}") == (
        "/ns1/room-1",
        "/ns1/room-2",
        "/ns2/room-1",
        "/ns2/room-2",
    )


def test_a_plain_channel_is_a_template_of_one() -> None:
    template = only_template("/default/lobby")
    assert template.name == "/default/lobby"
    assert template.channels == ("/default/lobby",)


# -- de-duplication -----------------------------------------------------------------------


def test_repeated_choices_give_each_channel_once_in_first_order() -> None:
    assert channels_of("/default/{b,a,b,a}") == ("/default/b", "/default/a")


def test_groups_that_produce_the_same_channel_give_it_once() -> None:
    # 1+11 and 11+1 both give "111".
    assert channels_of("/default/x{1,11}{1,11}") == (
        "/default/x11",
        "/default/x111",
        "/default/x1111",
    )


def test_a_repeated_template_is_kept_once() -> None:
    templates = parse_channel_templates(
        "/default/a /default/b,/default/a /default/{1..2} /default/{1..2}"
    )
    assert [t.name for t in templates] == ["/default/a", "/default/b", "/default/{1..2}"]


# -- splitting -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "/default/a,/default/b,/default/c",
        "/default/a /default/b /default/c",
        "  /default/a ,\t/default/b\n/default/c,, ",
        "/default/a, /default/b ,/default/c",
    ],
)
def test_templates_split_on_commas_and_whitespace(text: str) -> None:
    templates = parse_channel_templates(text)
    assert [t.name for t in templates] == ["/default/a", "/default/b", "/default/c"]
    assert [t.channels for t in templates] == [("/default/a",), ("/default/b",), ("/default/c",)]


def test_commas_inside_braces_do_not_split() -> None:
    templates = parse_channel_templates("/default/{a,b},/default/room-{1..2} /x/{c,d}")
    assert [t.name for t in templates] == ["/default/{a,b}", "/default/room-{1..2}", "/x/{c,d}"]
    assert [t.channels for t in templates] == [
        ("/default/a", "/default/b"),
        ("/default/room-1", "/default/room-2"),
        ("/x/c", "/x/d"),
    ]


# -- wildcards -----------------------------------------------------------------------------

WILDCARDS = [
    ("/default/room-{1..3}", "/default/*"),
    ("/default/rooms/{1..3}", "/default/rooms/*"),
    ("/default/lobby", "/default/*"),
    ("/default/a/b", "/default/a/*"),
    ("/default/{a,b}/x", "/default/*"),
    ("/default/rooms/x{1..2}/y", "/default/rooms/*"),
    ("/default/a/b/c/d{1..2}", "/default/a/b/c/*"),
    ("/default/a/b/c/d", "/default/a/b/c/*"),
    ("/{a,b}/room", None),
    ("/ns{1..2}/room-{1..3}", None),
    ("/default", None),
    ("/{a,b}", None),
]


@pytest.mark.parametrize(("text", "wildcard"), WILDCARDS, ids=[t for t, _ in WILDCARDS])
def test_the_wildcard_of_a_template(text: str, wildcard: str | None) -> None:
    template = only_template(text)
    assert template.wildcard == wildcard
    assert_consistent(template)


def test_a_wildcard_is_the_narrowest_one() -> None:
    template = only_template("/default/rooms/{1..3}")
    pattern = parse_channel_pattern(template.wildcard or "")
    assert not pattern.matches(parse_channel("/default/lobby"))
    assert not pattern.matches(parse_channel("/default/rooms"))
    assert pattern.matches(parse_channel("/default/rooms/other"))


VALID_TEMPLATES = [
    "/default/room-{1..20}",
    "/default/room-{01..20}",
    "/default/{a,b}/{1..3}",
    "/default/x{-1..1}",
    "/{ns1,ns2}/room-{1..2}",
    "/default/lobby",
    "/default",
    "/default/a/b/c/{x,y}",
    "/default/" + "a" * MAX_SEGMENT_CHARS,
    "/default/{1..4}-{1..5}-{a,b,c}",
    "/default/room-{1..20}/",
]


@pytest.mark.parametrize("text", VALID_TEMPLATES)
def test_every_channel_parses_and_the_wildcard_matches_it(text: str) -> None:
    assert_consistent(only_template(text))


def test_several_templates_are_each_consistent() -> None:
    templates = parse_channel_templates(" ".join(VALID_TEMPLATES))
    assert [t.name for t in templates] == VALID_TEMPLATES
    for template in templates:
        assert_consistent(template)


# -- the channel limit ---------------------------------------------------------------------


def test_exactly_max_channels_is_allowed() -> None:
    assert len(channels_of(f"/default/r{{1..{MAX_CHANNELS}}}")) == MAX_CHANNELS
    templates = parse_channel_templates(
        f"/default/a{{1..{MAX_CHANNELS // 2}}} /default/b{{1..{MAX_CHANNELS // 2}}}"
    )
    assert sum(len(t.channels) for t in templates) == MAX_CHANNELS


def test_a_range_over_the_limit_fails_fast() -> None:
    text = f"/default/room-{{1..{MAX_CHANNELS + 1}}}"
    error = config_error(text)
    assert repr(text) in error.reason
    assert f"{MAX_CHANNELS + 1:,} values" in error.reason


def test_a_huge_range_fails_fast() -> None:
    error = config_error("/default/room-{1..10000000000}")
    assert "'/default/room-{1..10000000000}'" in error.reason


def test_groups_whose_product_is_over_the_limit() -> None:
    text = "/default/{1..400}-{1..400}"
    error = config_error(text)
    assert repr(text) in error.reason
    assert f"more than {MAX_CHANNELS:,} channels" in error.reason


def test_templates_whose_sum_is_over_the_limit() -> None:
    half = MAX_CHANNELS // 2 + 1
    error = config_error(f"/default/a{{1..{half}}} /default/b{{1..{half}}}")
    assert f"expands to {2 * half:,} channels" in error.reason
    assert f"the limit is {MAX_CHANNELS:,}" in error.reason


# -- errors --------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "   ", ",", " , ,\n\t"])
def test_no_template_is_an_error(text: str) -> None:
    assert "at least one channel template" in config_error(text).reason


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("default/room", "default/room"),
        ("room-{1..3}", "room-{1..3}"),
        ("/default/a default/b", "default/b"),
    ],
)
def test_a_template_must_start_with_a_slash(text: str, named: str) -> None:
    error = config_error(text)
    assert f"{named!r} must start with '/'" in error.reason


@pytest.mark.parametrize(
    "text", ["/default/{a", "/default/a}", "/default/{{a}", "/default/{1..3}}"]
)
def test_unbalanced_braces(text: str) -> None:
    error = config_error(text)
    assert f"{text!r} has unbalanced braces" in error.reason


def test_a_stray_closing_brace_glues_the_rest_into_one_bad_template() -> None:
    text = "/default/a}, /default/b"
    assert repr(text) in config_error(text).reason


@pytest.mark.parametrize("text", ["/default/{a,{b,c}}", "/default/{{a,b}}", "/default/{x{1..2}}"])
def test_nested_braces(text: str) -> None:
    error = config_error(text)
    assert f"{text!r} nests braces" in error.reason


def test_braces_in_the_wrong_order() -> None:
    assert "'/default/}a{'" in config_error("/default/}a{").reason


@pytest.mark.parametrize(
    ("text", "group"),
    [
        ("/default/{}", "{}"),
        ("/default/{a,,b}", "{a,,b}"),
        ("/default/{a,}", "{a,}"),
        ("/default/{,a}", "{,a}"),
    ],
)
def test_an_empty_choice(text: str, group: str) -> None:
    error = config_error(text)
    assert f"{group} in {text!r} has an empty choice" in error.reason


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("/default/room_{1..3}", "'/default/room_1' (from '/default/room_{1..3}')"),
        ("/default/room-{a,b-}", "'/default/room-b-' (from '/default/room-{a,b-}')"),
        ("/default/{1..3} x", "'x' must start"),
        ("/default/{a, b}", "'/default/ b' (from '/default/{a, b}')"),
        ("/default/*", "'/default/*' a wildcard channel can only be subscribed to"),
        ("/default//a", "'/default//a' has an empty segment"),
        ("/", "'/' has an empty segment"),
        ("/default/ok /default/bad.name", "'/default/bad.name' segment 'bad.name'"),
        ("/default/" + "a" * (MAX_SEGMENT_CHARS + 1), f"longer than {MAX_SEGMENT_CHARS}"),
    ],
)
def test_an_invalid_channel_is_named(text: str, fragment: str) -> None:
    assert fragment in config_error(text).reason


def test_a_plain_invalid_channel_is_named_without_a_template() -> None:
    error = config_error("/default/bad_name")
    assert error.reason.startswith("'/default/bad_name' segment 'bad_name'")
    assert "(from" not in error.reason


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("/a/b/c/d/e/f", "'/a/b/c/d/e/f' has 6 segments"),
        ("/a/b/c/d/{e,f}/g", "'/a/b/c/d/e/g' (from '/a/b/c/d/{e,f}/g') has 6 segments"),
        ("/a/b/c/d/e{1..2}/f/g", "has 7 segments"),
    ],
)
def test_too_many_segments(text: str, fragment: str) -> None:
    error = config_error(text)
    assert fragment in error.reason
    assert f"at most {MAX_CHANNEL_SEGMENTS}" in error.reason


def test_max_segments_is_allowed() -> None:
    text = "/" + "/".join(f"s{n}" for n in range(MAX_CHANNEL_SEGMENTS))
    assert channels_of(text) == (text,)


def test_the_error_names_the_option_it_was_given() -> None:
    with pytest.raises(ConfigurationError) as info:
        parse_channel_templates("nope", option="--other-channels")
    assert info.value.option == "--other-channels"
    assert str(info.value).startswith("--other-channels: 'nope'")


def test_a_channel_named_twice_belongs_to_the_first_template() -> None:
    templates = parse_channel_templates("/default/x-{1..2}, /default/x-{2..3} /other/y")
    assert template_of_channels(templates) == {
        "/default/x-1": "/default/x-{1..2}",
        "/default/x-2": "/default/x-{1..2}",  # named by both: the first wins
        "/default/x-3": "/default/x-{2..3}",
        "/default/*": "/default/*",
        "/other/y": "/other/y",
        "/other/*": "/other/*",
    }
