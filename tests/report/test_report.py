"""The ``--report-dir`` files, from a real LatencyTimeline fed by LatencyRecorders with
known samples (values under 2,048 us are exact in an HdrHistogram of 3 significant
digits, so every percentile below is exact), and a summary as docs/summary-schema.md
describes it: summary.json, channels.csv, the .hlog interval logs (read back with
hdrh's own reader), junit.xml and the self-contained report.html."""

from __future__ import annotations

import copy
import csv
import json
import os
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from hdrh.log import HistogramLogReader
from support.summaries import usage_of
from support.typed import mismatches

from harness.measure.histogram import Histogram
from harness.measure.latency import SLOT_S, LatencyRecorder, LatencyTimeline
from harness.measure.schema import Summary
from harness.measure.summary import latency_section
from harness.report.charts import BOTTOM, HEIGHT, LEFT, RIGHT, TOP, WIDTH
from harness.report.files import (
    CSV_HEADER,
    check_report_dir,
    hlog_tag,
    junit_xml,
    write_atomically,
    write_reports,
)
from harness.report.html import render_report

STARTED = 1_764_162_000.0
ROOMS = "/default/room-{1..2}"
COLOURS = "/default/{red,green}"
HOSTILE = "</script><b>"


def recorded(samples: list[tuple[str, str, str, int]]) -> list[list[Any]]:
    """What a recorder drains after recording ``(metric, channel, template, us)`` samples."""
    recorder = LatencyRecorder()
    for metric, channel, template, latency_us in samples:
        recorder.record(metric, channel, template, latency_us)
    return recorder.drain()


def make_timeline() -> LatencyTimeline:
    """deliver on room-1: 1..1000 us, half in slot 0 and half in slot 2; connect: ten of
    5 ms in slot 0; subscribe on /default/red (template with a comma): 3 in slot 1."""
    timeline = LatencyTimeline(started_at=STARTED)
    first = [("deliver", "/default/room-1", ROOMS, us) for us in range(1, 501)]
    first += [("connect", "/event/realtime", "/event/realtime", 1500)] * 10
    timeline.merge(recorded(first), STARTED + 1.0)
    timeline.merge(
        recorded([("subscribe", "/default/red", COLOURS, us) for us in (100, 200, 300)]),
        STARTED + SLOT_S + 0.5,
    )
    second = [("deliver", "/default/room-1", ROOMS, us) for us in range(501, 1001)]
    timeline.merge(recorded(second), STARTED + 2 * SLOT_S + 2.0)
    return timeline


def account(published: int, delivered: int, lost: int = 0) -> dict[str, int]:
    return {
        "published": published,
        "skipped": 0,
        "delivered": delivered,
        "filtered": 0,
        "lost": lost,
        "missed_during_reconnect": 0,
        "unaccounted": 0,
        "duplicated": 0,
        "out_of_order": 0,
    }


def make_summary(timeline: LatencyTimeline, **changes: Any) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "schema": 1,
        "kind": "appsync-events-harness-summary",
        "run": {
            "run_id": "3f2a9c1b7d4e",
            "started_at": "2025-11-26T13:00:00.000Z",
            "ended_at": "2025-11-26T13:00:15.000Z",
            "duration_s": 15.0,
            "interrupted": False,
            "settings": {
                "host": "(embedded emulator)",
                "auth_mode": "API_KEY",
                "channels": [ROOMS, COLOURS],
                "publish_rate": 2.0,
            },
        },
        "totals": {
            "requests": {
                "connect": {"count": 10, "failures": 0},
                "deliver": {"count": 1000, "failures": 0},
            },
            "errors": {"count": 0, "rate": 0.0},
            "events": account(1001, 1000, lost=1),
        },
        "latency": latency_section(timeline),
        "delivery": {
            "overall": account(1001, 1000, lost=1),
            "templates": {ROOMS: account(1001, 1000, lost=1)},
            "channels": {
                "/default/room-1": account(1000, 1000),
                "/default/room-2": account(1, 0, lost=1),
            },
            "lost_examples": [
                {
                    "channel": "/default/room-2",
                    "publisher": "user-1",
                    "seq": 7,
                    "subscriber": "user-2",
                    "subscription": "/default/room-2",
                    "intended_ms": 1764162003000,
                }
            ],
            "channels_total": 2,
            "untracked": 0,
        },
        "resilience": {
            "schema": 1,
            "backoff_tolerance_s": 0.25,
            "policies": [
                {
                    "kind": "reconnect",
                    "policy": "full-jitter:base=0.1,cap=5",
                    "losses": 4,
                    "attempts": 5,
                    "conforming": 5,
                    "conformance": 1.0,
                    "violations": [],
                    "recoveries": 4,
                    "recovery_s": {"p50": 0.2, "p90": 0.4, "p99": 0.5, "max": 0.5},
                    "give_ups": {},
                    "herd": None,
                }
            ],
            "cleanup": {"users_checked": 3, "leaks": 0, "by_kind": {}, "listed": []},
        },
        "usage": usage_of(connects=10, publishes=1001, fan_out=1, open_s=15.0, duration_s=15.0),
        "workers": None,
        "slo": {
            "passed": False,
            "results": [
                slo("deliver.p99<=250ms", "overall", 0.99, 250.0, True),
                slo("deliver.p99<=0.5ms", ROOMS, 0.99, 0.5, False),
                slo("connect.p50<=100ms", "overall", 1.5, 100.0, True),
            ],
        },
        "baseline": {
            "path": "nightly/last/summary.json",
            "max_regression": 0.1,
            "passed": False,
            "compared": 42,
            "regressions": [
                {
                    "figure": "deliver.p99",
                    "where": ROOMS,
                    "baseline": 0.5,
                    "observed": 0.99,
                    "change": 0.98,
                    "unit": "ms",
                }
            ],
        },
        "verdict": {"exit_code": 3, "reasons": ["SLO deliver.p99<=0.5ms broken"]},
    }
    summary.update(changes)
    return summary


def slo(text: str, where: str, observed: float, threshold: float, passed: bool) -> dict[str, Any]:
    figure = text.split("<=")[0]
    verb = "at most"
    return {
        "slo": text,
        "figure": figure,
        "where": where,
        "observed": observed,
        "threshold": threshold,
        "unit": "ms",
        "passed": passed,
        "detail": f"{figure} is {observed:g} ms at {where}; {verb} {threshold:g} ms allowed",
    }


def empty_summary() -> dict[str, Any]:
    return {
        "schema": 1,
        "kind": "appsync-events-harness-summary",
        "run": {
            "run_id": "empty",
            "started_at": "2025-11-26T13:00:00.000Z",
            "ended_at": "2025-11-26T13:00:00.500Z",
            "duration_s": 0.5,
            "interrupted": None,
            "settings": {},
        },
        "totals": {"requests": {}, "errors": {"count": 0, "rate": 0.0}, "events": account(0, 0)},
        "latency": {},
        "delivery": {
            "overall": account(0, 0),
            "templates": {},
            "channels": {},
            "channels_total": 0,
            "lost_examples": [],
            "untracked": 0,
        },
        "resilience": {
            "schema": 1,
            "backoff_tolerance_s": 0.25,
            "policies": [],
            "cleanup": {"users_checked": 0, "leaks": 0, "by_kind": {}, "listed": []},
        },
        "usage": usage_of(duration_s=0.5),
        "workers": None,
        "slo": {"passed": True, "results": []},
        "baseline": None,
        "verdict": {"exit_code": 0, "reasons": []},
    }


def test_the_hand_built_summaries_have_the_schemas_shape() -> None:
    """The summaries these tests render are what the harness writes (measure/schema.py)."""
    assert mismatches(make_summary(make_timeline()), Summary) == []
    assert mismatches(empty_summary(), Summary) == []


@pytest.fixture(scope="module")
def base() -> tuple[LatencyTimeline, dict[str, Any]]:
    """The run, built once: the summary's means (hdrh's get_mean_value) take a while."""
    timeline = make_timeline()
    return timeline, make_summary(timeline)


@pytest.fixture
def timeline() -> LatencyTimeline:
    """A fresh copy of the run's timeline, for tests that add to it."""
    return make_timeline()


@pytest.fixture
def summary(base: tuple[LatencyTimeline, dict[str, Any]]) -> dict[str, Any]:
    """A copy of the run's summary, for tests that change it."""
    return copy.deepcopy(base[1])


@pytest.fixture(scope="module")
def written(
    tmp_path_factory: pytest.TempPathFactory, base: tuple[LatencyTimeline, dict[str, Any]]
) -> tuple[Path, list[Path]]:
    directory = tmp_path_factory.mktemp("run") / "nested" / "reports"
    timeline, summary = base
    return directory, write_reports(str(directory), copy.deepcopy(summary), timeline)


# -- the files ------------------------------------------------------------------------


def test_every_file_is_written_into_a_new_directory(written: tuple[Path, list[Path]]) -> None:
    directory, paths = written
    names = [path.name for path in paths]
    assert names == [
        "summary.json",
        "channels.csv",
        "connect.hlog",
        "subscribe.hlog",
        "deliver.hlog",
        "junit.xml",
        "report.html",
    ]
    assert sorted(path.name for path in directory.iterdir()) == sorted(names)
    assert all(path.parent == directory and path.stat().st_size > 0 for path in paths)


def test_summary_json_round_trips(
    written: tuple[Path, list[Path]], base: tuple[LatencyTimeline, dict[str, Any]]
) -> None:
    directory, _ = written
    text = (directory / "summary.json").read_text(encoding="utf-8")
    assert text.endswith("}\n")
    assert text.startswith('{\n  "schema": 1,')  # indented by 2
    assert json.loads(text) == base[1]


def test_unwritable_directory_raises_oserror(
    tmp_path: Path, base: tuple[LatencyTimeline, dict[str, Any]]
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    timeline, summary = base
    with pytest.raises(OSError):
        write_reports(blocker / "reports", summary, timeline)


# -- channels.csv -----------------------------------------------------------------------


def read_csv(directory: Path) -> list[dict[str, str]]:
    with (directory / "channels.csv").open(encoding="utf-8", newline="") as file:
        rows = list(csv.reader(file))
    assert tuple(rows[0]) == CSV_HEADER
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


def test_channels_csv_has_a_row_per_channel_and_metric(written: tuple[Path, list[Path]]) -> None:
    directory, _ = written
    rows = read_csv(directory)
    assert [(row["channel"], row["metric"]) for row in rows] == [
        ("/default/red", "subscribe"),
        ("/default/room-1", "deliver"),
        ("/default/room-2", ""),  # delivery figures only
        ("/event/realtime", "connect"),
    ]
    by_channel = {row["channel"]: row for row in rows}
    room = by_channel["/default/room-1"]
    assert room == {
        "channel": "/default/room-1",
        "template": ROOMS,
        "metric": "deliver",
        "count": "1000",
        "min_ms": "0.001",
        "mean_ms": str(round(500.5 / 1000, 3)),
        "p50_ms": "0.5",
        "p90_ms": "0.9",
        "p99_ms": "0.99",
        "p99_9_ms": "0.999",
        "max_ms": "1.0",
        "published": "1000",
        "skipped": "0",
        "delivered": "1000",
        "filtered": "0",
        "lost": "0",
        "missed_during_reconnect": "0",
        "unaccounted": "0",
        "duplicated": "0",
        "out_of_order": "0",
    }
    connect = by_channel["/event/realtime"]
    assert (connect["count"], connect["p50_ms"], connect["max_ms"]) == ("10", "1.5", "1.5")
    assert connect["published"] == connect["lost"] == ""  # no delivery figures
    subscribe = by_channel["/default/red"]
    assert (subscribe["template"], subscribe["p50_ms"], subscribe["max_ms"]) == (
        COLOURS,
        "0.2",
        "0.3",
    )
    lost_only = by_channel["/default/room-2"]
    assert lost_only["template"] == ROOMS  # from the summary's template names
    assert (lost_only["count"], lost_only["p99_ms"]) == ("", "")
    assert (lost_only["published"], lost_only["lost"]) == ("1", "1")


def test_channels_csv_of_an_empty_run_is_its_header(tmp_path: Path) -> None:
    paths = write_reports(tmp_path, empty_summary(), LatencyTimeline(started_at=STARTED))
    assert [path.name for path in paths] == [
        "summary.json",
        "channels.csv",
        "junit.xml",
        "report.html",
    ]
    assert (tmp_path / "channels.csv").read_text(encoding="utf-8") == ",".join(CSV_HEADER) + "\n"


# -- .hlog ------------------------------------------------------------------------------


def read_hlog(path: Path) -> list[tuple[str | None, float, float, int]]:
    """(tag, start s, end s, count) of every interval, by hdrh's HistogramLogReader."""
    reader = HistogramLogReader(str(path), Histogram().to_hdr())
    intervals = []
    try:
        for _ in range(1000):  # bounded
            histogram = reader.get_next_interval_histogram()
            if histogram is None:
                break
            intervals.append(
                (
                    histogram.get_tag(),
                    histogram.get_start_time_stamp() / 1000.0,
                    histogram.get_end_time_stamp() / 1000.0,
                    histogram.get_total_count(),
                )
            )
    finally:
        reader.close()
    return intervals


def test_hlog_intervals_read_back_with_hdrh(written: tuple[Path, list[Path]]) -> None:
    directory, _ = written
    deliver = read_hlog(directory / "deliver.hlog")
    assert deliver == [
        (ROOMS, STARTED, STARTED + SLOT_S, 500),
        (ROOMS, STARTED + 2 * SLOT_S, STARTED + 3 * SLOT_S, 500),
    ]
    assert read_hlog(directory / "connect.hlog") == [
        ("/event/realtime", STARTED, STARTED + SLOT_S, 10)
    ]
    (subscribe,) = read_hlog(directory / "subscribe.hlog")
    assert unquote(subscribe[0] or "") == COLOURS  # the comma is percent-encoded in the tag
    assert subscribe[1:] == (STARTED + SLOT_S, STARTED + 2 * SLOT_S, 3)


def test_hlog_header_and_interval_lines(written: tuple[Path, list[Path]]) -> None:
    directory, _ = written
    lines = (directory / "deliver.hlog").read_text(encoding="utf-8").splitlines()
    assert lines[0] == "#[Histogram log format version 1.3]"
    assert any(
        line.startswith(f"#[StartTime: {STARTED:.3f} (seconds since epoch), ") for line in lines
    )
    assert f"#[BaseTime: {STARTED:.3f} (seconds since epoch)]" in lines
    assert (
        '"StartTimestamp","Interval_Length","Interval_Max","Interval_Compressed_Histogram"' in lines
    )
    intervals = [line for line in lines if line.startswith("Tag=")]
    # relative start, length, max in ms (values are microseconds), payload
    assert [line.split(",")[1:4] for line in intervals] == [
        ["0.000", "5.000", "0.500"],
        ["10.000", "5.000", "1.000"],
    ]


def test_hlog_tag_has_no_delimiter_and_reverses() -> None:
    for name in (COLOURS, "/a b/c\td", "/100%/x\ny", HOSTILE):
        tag = hlog_tag(name)
        assert not re.search(r"[, \t\r\n]", tag)
        assert unquote(tag) == name


# -- junit.xml ------------------------------------------------------------------------


def test_junit_xml_has_a_case_per_slo_and_per_regression(
    written: tuple[Path, list[Path]], summary: dict[str, Any]
) -> None:
    directory, _ = written
    root = ET.parse(directory / "junit.xml").getroot()
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("4", "2", "0")
    suites = {suite.get("name"): suite for suite in root.findall("testsuite")}
    assert list(suites) == ["slo", "baseline"]
    slo_suite = suites["slo"]
    assert (slo_suite.get("tests"), slo_suite.get("failures")) == ("3", "1")
    cases = slo_suite.findall("testcase")
    assert [case.get("name") for case in cases] == [
        "deliver.p99<=250ms @ overall",
        f"deliver.p99<=0.5ms @ {ROOMS}",
        "connect.p50<=100ms @ overall",
    ]
    failures = [case.find("failure") for case in cases]
    assert failures[0] is None and failures[2] is None
    assert failures[1] is not None
    assert failures[1].get("message") == summary["slo"]["results"][1]["detail"]
    baseline_suite = suites["baseline"]
    assert (baseline_suite.get("tests"), baseline_suite.get("failures")) == ("1", "1")
    (case,) = baseline_suite.findall("testcase")
    assert case.get("name") == f"deliver.p99 @ {ROOMS}"
    failure = case.find("failure")
    assert failure is not None
    assert failure.get("message") == (
        f"deliver.p99 on {ROOMS} regressed from 0.5 ms to 0.99 ms (+98%; at most +10% "
        "allowed) against nightly/last/summary.json"
    )


def test_junit_xml_baseline_without_regression_is_one_passing_case(
    summary: dict[str, Any],
) -> None:
    summary["baseline"] = {
        "path": "base.json",
        "max_regression": 0.1,
        "passed": True,
        "compared": 12,
        "regressions": [],
    }
    root = ET.fromstring(junit_xml(summary))
    suite = root.find("testsuite[@name='baseline']")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures")) == ("1", "0")
    (case,) = suite.findall("testcase")
    assert case.get("name") == "baseline" and case.find("failure") is None
    assert (root.get("tests"), root.get("failures")) == ("4", "1")


def test_junit_xml_without_baseline_or_slo(summary: dict[str, Any]) -> None:
    summary["baseline"] = None
    root = ET.fromstring(junit_xml(summary))
    assert [suite.get("name") for suite in root.findall("testsuite")] == ["slo"]
    empty = ET.fromstring(junit_xml(empty_summary()))
    assert (empty.get("tests"), empty.get("failures")) == ("0", "0")
    assert [suite.get("tests") for suite in empty.findall("testsuite")] == ["0"]


def test_junit_xml_escapes_markup_and_control_characters(summary: dict[str, Any]) -> None:
    nasty = f'{HOSTILE} & "quoted" \x01 <![CDATA[x]]>'
    results = [dict(slo("deliver.p99<=1ms", HOSTILE, 2.0, 1.0, False), detail=nasty)]
    summary["slo"] = {"passed": False, "results": results}
    document = junit_xml(summary)
    root = ET.fromstring(document)
    case = root.find("testsuite/testcase")
    assert case is not None and case.get("name") == f"deliver.p99<=1ms @ {HOSTILE}"
    failure = case.find("failure")
    assert failure is not None
    assert failure.get("message") == nasty.replace("\x01", "\ufffd")
    assert failure.text == nasty.replace("\x01", "\ufffd")


# -- report.html ----------------------------------------------------------------------


class Tags(HTMLParser):
    """Every start tag with its attributes, and the text of <script> elements."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def parse(page: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = Tags()
    parser.feed(page)
    parser.close()
    return parser.tags


def test_report_html_is_self_contained(written: tuple[Path, list[Path]]) -> None:
    directory, _ = written
    page = (directory / "report.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    tags = parse(page)
    assert not [attrs for _, attrs in tags if {"src", "href", "xlink:href"} & set(attrs)]
    assert not [tag for tag, _ in tags if tag in ("script", "link", "img", "iframe", "object")]
    assert "http://" not in page and "https://" not in page  # the summary holds no URL
    assert "url(" not in page and "@import" not in page
    csp = [attrs for tag, attrs in tags if tag == "meta" and attrs.get("http-equiv")]
    assert csp and "default-src 'none'" in (csp[0].get("content") or "")


def test_report_html_url_only_inside_summary_text(
    base: tuple[LatencyTimeline, dict[str, Any]], summary: dict[str, Any]
) -> None:
    timeline, _ = base
    host = "https://example.appsync-api.eu-west-1.amazonaws.com/event?a=1&b=2"
    summary["run"]["settings"]["host"] = host
    page = render_report(summary, timeline)
    escaped = host.replace("&", "&amp;")
    assert escaped in page
    assert "https://" not in page.replace(escaped, "") and "http://" not in page
    assert not [attrs for _, attrs in parse(page) if {"src", "href"} & set(attrs)]


def test_report_html_has_two_charts_per_metric(
    written: tuple[Path, list[Path]], base: tuple[LatencyTimeline, dict[str, Any]]
) -> None:
    directory, _ = written
    timeline, _ = base
    page = (directory / "report.html").read_text(encoding="utf-8")
    svgs = [attrs for tag, attrs in parse(page) if tag == "svg"]
    assert len(svgs) == 2 * len(timeline.metrics()) == 6
    labels = [attrs.get("aria-label") for attrs in svgs]
    assert labels == [
        f"{metric}: {chart}"
        for metric in ("connect", "subscribe", "deliver")
        for chart in ("latency by percentile", "p50 and p99 over time")
    ]
    for text in ("percentile", "99.99%", "latency (ms)", "time since the run&#x27;s start (s)"):
        assert text in page
    assert_points_inside_the_plots(page)
    # hover figures of the known samples: deliver p99 is 0.99 ms, the slots' p50s 0.25/0.75
    assert f"{ROOMS}: p99 = 0.990 ms (1,000 samples)" in page
    assert f"{ROOMS}: p50 = 0.250 ms from 0 to 5 s (500 samples)" in page
    assert f"{ROOMS}: p50 = 0.750 ms from 10 to 15 s (500 samples)" in page


def assert_points_inside_the_plots(page: str) -> None:
    circles = [attrs for tag, attrs in parse(page) if tag == "circle"]
    assert circles
    for attrs in circles:
        x, y = float(attrs["cx"] or "nan"), float(attrs["cy"] or "nan")
        assert LEFT <= x <= WIDTH - RIGHT and TOP <= y <= HEIGHT - BOTTOM, attrs


def test_report_html_shows_run_verdict_slos_baseline_channels_and_resilience(
    written: tuple[Path, list[Path]],
) -> None:
    directory, _ = written
    page = (directory / "report.html").read_text(encoding="utf-8")
    for text in (
        "3f2a9c1b7d4e",
        "2025-11-26T13:00:00.000Z",
        "Verdict: FAIL (exit code 3)",
        "SLO deliver.p99&lt;=0.5ms broken",
        "API_KEY",
        "2 of 3 met.",
        "deliver.p99&lt;=0.5ms",
        "nightly/last/summary.json",
        "+98.0%",
        "4 channels",
        "/default/room-2",
        "full-jitter:base=0.1,cap=5",
        "0.200/0.500/0.500",
        "3 stopped users checked, 0 leaks",
        "user-2",
    ):
        assert text in page, text
    for section in ("run", "totals", "slo", "baseline", "latency", "delivery", "channels"):
        assert f'<section id="{section}">' in page
    assert '<section id="resilience">' in page


def test_report_html_shows_usage_quotas_and_cost(summary: dict[str, Any]) -> None:
    """The hand-built run: 10 connections held 15 s, 1,001 one-event publishes of 200
    bytes each delivered once, in 15 s: (10 + 1,001 + 1,001) operations at $1 a million
    and 2.5 connection minutes at $0.08 a million."""
    page = render_report(summary, LatencyTimeline(started_at=STARTED))
    section = page[page.index('<section id="usage">') : page.index('<section id="slo">')]
    cells = [
        [re.sub(r"<[^>]+>", "", cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", row)]
        for row in re.findall(r"<tr>(.*?)</tr>", section)
    ]
    rows = {row[0]: row[1:] for row in cells if row}  # the header row has no td
    assert rows["connection requests"] == ["10", "10", "a second", "2,000", "99.50%", "$0.00001"]
    assert rows["outbound messages, 5 KB units"] == [
        "1,001", "1,001", "a second", "1,000,000", "99.90%", "$0.001001"
    ]  # fmt: skip
    assert rows["connection minutes"] == ["2.5", "-", "-", "-", "-", "$0.0000002"]
    total = 2012 / 1e6 + 2.5 * 0.08 / 1e6
    assert rows["total"][-1] == f"${total:.4g}"
    assert f"Estimated cost: ${total:.4g} at AWS list prices (us-east-1, USD, read" in section
    assert f"${total * 3600 / 15:.4g} an hour" in section
    assert "Unconfirmed for AppSync Events: the connection_minute price" in section
    assert "Quota exceeded" not in section


def test_report_html_says_which_quota_a_run_went_over(summary: dict[str, Any]) -> None:
    summary["usage"] = usage_of(connects=2_500, open_s=1.0)
    page = render_report(summary, LatencyTimeline(started_at=STARTED))
    assert 'class="verdict fail">Quota exceeded: the run peaked at 2,500 connection' in page
    assert '<span class="fail">-25.00%</span>' in page


def test_report_html_escapes_hostile_names(timeline: LatencyTimeline) -> None:
    timeline.merge(
        recorded([("deliver", "/evil/<i>1</i>", HOSTILE, 700)]), STARTED + 3 * SLOT_S + 1.0
    )
    summary = make_summary(timeline)
    summary["run"]["run_id"] = HOSTILE
    summary["run"]["settings"]["note"] = '"><script>alert(1)</script>'
    summary["verdict"]["reasons"].append(HOSTILE)
    page = render_report(summary, timeline)
    assert HOSTILE not in page and "<script>" not in page and "<i>" not in page
    assert "&lt;/script&gt;&lt;b&gt;" in page
    assert "/evil/&lt;i&gt;1&lt;/i&gt;" in page
    tags = {tag for tag, _ in parse(page)}
    assert not tags & {"script", "b", "i"}
    legends = re.findall(r'<div class="legend">(.*?)</div>', page)
    assert any("&lt;/script&gt;&lt;b&gt;" in legend for legend in legends)


def test_report_html_of_an_empty_run(tmp_path: Path) -> None:
    timeline = LatencyTimeline(started_at=STARTED)
    page = render_report(empty_summary(), timeline)
    assert "<svg" not in page
    for text in (
        "No latency sample was recorded in this run.",
        "No SLO was set for this run.",
        "No baseline was compared.",
        "No channel has figures.",
        "No connection was lost and nothing was retried.",
        "Verdict: PASS (exit code 0)",
    ):
        assert text in page, text


def test_report_html_metric_in_summary_without_histograms(summary: dict[str, Any]) -> None:
    page = render_report(summary, LatencyTimeline(started_at=STARTED))
    assert "<svg" not in page
    assert page.count("No histogram of this metric to chart.") == 3


def test_report_html_long_run_merges_slots(
    timeline: LatencyTimeline, summary: dict[str, Any]
) -> None:
    timeline.merge(recorded([("deliver", "/default/room-1", ROOMS, 400)]), STARTED + 2000 * SLOT_S)
    page = render_report(summary, timeline)
    assert "one point per 45 s" in page  # 2001 slots in at most 240 points
    assert_points_inside_the_plots(page)
    assert f"{ROOMS}: p50 = 0.500 ms from 0 to 45 s (1,000 samples)" in page
    assert f"{ROOMS}: p99 = 0.400 ms from 9990 to 10035 s (1 sample)" in page


# -- writing files -------------------------------------------------------------------------


def test_a_report_file_is_replaced_whole_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    path = tmp_path / "summary.json"
    path.write_text("old\n")
    before = os.umask(0o022)
    try:
        write_atomically(path, '{"new": true}')
    finally:
        os.umask(before)
    assert path.read_text() == '{"new": true}\n'  # a trailing newline added to text
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]
    assert path.stat().st_mode & 0o777 == 0o644  # the umask's permissions, not 0600
    write_atomically(path, b"\x00bytes")
    assert path.read_bytes() == b"\x00bytes"  # bytes as given


def test_a_write_that_fails_at_the_rename_removes_its_temporary_file(tmp_path: Path) -> None:
    """The last step fails for real: a directory (not empty) is in the way of the rename."""
    path = tmp_path / "report.html"
    path.mkdir()
    (path / "keep").write_text("kept\n")
    with pytest.raises(OSError):
        write_atomically(path, "a new report")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]
    assert (path / "keep").read_text() == "kept\n"


def test_the_report_dir_check_creates_it_or_says_why_not(tmp_path: Path) -> None:
    check_report_dir(tmp_path / "new" / "dir")
    assert (tmp_path / "new" / "dir").is_dir() and not list((tmp_path / "new" / "dir").iterdir())
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(NotADirectoryError):
        check_report_dir(blocker / "below")
    with pytest.raises(FileExistsError):
        check_report_dir(blocker)
