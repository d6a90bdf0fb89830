"""The files ``--report-dir DIR`` holds at the end of a run.

* ``summary.json``: the run summary (docs/summary-schema.md), indented;
* ``channels.csv``: one row per (channel, metric) with the latency figures and
  the channel's delivery accounting;
* ``<metric>.hlog``: the metric's interval histograms in the HdrHistogram
  interval log format (v1.3), one line per time slot and channel template,
  tagged with the template; values in microseconds;
* ``junit.xml``: one test case per SLO, and the baseline comparison, for CI;
* ``report.html``: a self-contained page (:mod:`harness.report.html`).

Every file is written atomically (a temporary file beside it, then a rename),
so a reader never sees half a report. Every writer raises :class:`OSError` when
its file cannot be written; the caller decides what a failed report means for
the run. :func:`check_report_dir` tells before a run whether the directory can
be written at all.
"""

from __future__ import annotations

import csv
import datetime
import io
import json
import os
import re
import tempfile
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from harness.measure.histogram import Histogram
from harness.measure.latency import SLOT_S, LatencyTimeline
from harness.measure.schema import (
    DELIVERY_FIGURES,
    BaselineSection,
    LatencyFigures,
    SloSection,
    Summary,
    figure_of,
    stat_of,
)
from harness.measure.texts import regression_sentence, relative_text
from harness.report.channels import channel_views
from harness.report.html import render_report

SUMMARY_FILE = "summary.json"
CHANNELS_FILE = "channels.csv"
JUNIT_FILE = "junit.xml"
HTML_FILE = "report.html"
HLOG_SUFFIX = ".hlog"

LATENCY_COLUMNS = (
    ("count", "count"),
    ("min_ms", "min"),
    ("mean_ms", "mean"),
    ("p50_ms", "p50"),
    ("p90_ms", "p90"),
    ("p99_ms", "p99"),
    ("p99_9_ms", "p99.9"),
    ("max_ms", "max"),
)
"""``channels.csv`` column and the key of the summary's latency figures it shows."""
CSV_HEADER = ("channel", "template", "metric", *(c for c, _ in LATENCY_COLUMNS), *DELIVERY_FIGURES)

HLOG_FORMAT_VERSION = "1.3"
HLOG_MAX_VALUE_UNIT_RATIO = 1000.0
"""Histogram values are microseconds; ``Interval_Max`` is written in milliseconds."""


def check_report_dir(directory: str | Path) -> None:
    """Create ``directory`` if needed and write (then remove) a file in it; raises
    :class:`OSError` when it cannot be written."""
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryFile(dir=root):
        pass


def write_atomically(path: Path, content: str | bytes) -> Path:
    """Write ``content`` (text as UTF-8, with a trailing newline added when missing) to a
    temporary file in the same directory, then rename it to ``path``."""
    data = content.encode("utf-8") if isinstance(content, str) else content
    if isinstance(content, str) and not content.endswith("\n"):
        data += b"\n"
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    # os.open, not mkstemp: the report gets the umask's permissions, not 0600.
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path


def write_reports(directory: str | Path, summary: Summary, timeline: LatencyTimeline) -> list[Path]:
    """Write every report file into ``directory`` (created if needed); return their paths.

    ``summary.json`` comes first, so a later failure still leaves the figures on disk.
    Raises :class:`OSError` when the directory or a file cannot be written."""
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    written = [
        write_summary_json(root / SUMMARY_FILE, summary),
        write_channels_csv(root / CHANNELS_FILE, summary, timeline),
    ]
    written += write_histogram_logs(root, timeline)
    written.append(write_junit_xml(root / JUNIT_FILE, summary))
    written.append(write_html(root / HTML_FILE, summary, timeline))
    return written


# -- summary.json --------------------------------------------------------------------


def write_summary_json(path: Path, summary: Summary) -> Path:
    """The summary as indented JSON with a trailing newline."""
    return write_atomically(path, json.dumps(summary, indent=2))


# -- channels.csv --------------------------------------------------------------------


def write_channels_csv(path: Path, summary: Summary, timeline: LatencyTimeline) -> Path:
    """One row per (channel, metric); a channel with delivery figures only has no metric."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    writer.writerows(channel_rows(summary, timeline))
    return write_atomically(path, buffer.getvalue())


def channel_rows(summary: Summary, timeline: LatencyTimeline) -> list[list[Any]]:
    """The rows of ``channels.csv``, by channel, then metric in the usual order.

    Every row of a channel repeats its delivery figures (empty when it has none)."""
    rows: list[list[Any]] = []
    for view in channel_views(summary, timeline):
        account = view.delivery
        tail = [figure_of(account, name) if account else "" for name in DELIVERY_FIGURES]
        latency: list[tuple[str, LatencyFigures | None]] = [*view.latency] or [("", None)]
        for metric, figures in latency:
            cells = [_csv_cell(figures, key) for _, key in LATENCY_COLUMNS]
            rows.append([view.channel, view.template, metric, *cells, *tail])
    return rows


def _csv_cell(figures: LatencyFigures | None, key: str) -> Any:
    if figures is None:
        return ""
    value = figures["count"] if key == "count" else stat_of(figures, key)
    return "" if value is None else value


# -- <metric>.hlog -------------------------------------------------------------------


def write_histogram_logs(directory: Path, timeline: LatencyTimeline) -> list[Path]:
    """One ``<metric>.hlog`` per metric with samples."""
    written = []
    for metric in timeline.metrics():
        path = directory / f"{_file_stem(metric)}{HLOG_SUFFIX}"
        written.append(write_atomically(path, "".join(histogram_log_lines(metric, timeline))))
    return written


def histogram_log_lines(metric: str, timeline: LatencyTimeline) -> Iterator[str]:
    """The interval log of one metric, format v1.3 as HdrHistogram's Java
    ``HistogramLogWriter`` writes it.

    hdrh's own ``HistogramLogWriter`` (0.10) writes neither tags nor a start time
    (its ``output_start_time`` raises), so the lines are written here. Timestamps
    are seconds relative to the ``BaseTime``, the run's start; slot ``n`` is
    ``[n * SLOT_S, (n + 1) * SLOT_S)``. A tag cannot hold a comma, a space or a
    line break, so those (and ``%``) are percent-encoded in the template's name."""
    started = timeline.started_at
    moment = datetime.datetime.fromtimestamp(started, tz=datetime.UTC)
    yield f"#[Histogram log format version {HLOG_FORMAT_VERSION}]\n"
    yield (
        f"#[appsync-events-harness {metric} latency: values in microseconds, Interval_Max in "
        f"milliseconds; one interval per {SLOT_S:g} s slot and channel template (Tag)]\n"
    )
    yield f"#[StartTime: {started:.3f} (seconds since epoch), {moment.isoformat()}]\n"
    yield f"#[BaseTime: {started:.3f} (seconds since epoch)]\n"
    yield '"StartTimestamp","Interval_Length","Interval_Max","Interval_Compressed_Histogram"\n'
    for slot, template, histogram in timeline.intervals(metric):
        yield _interval_line(hlog_tag(template), slot * SLOT_S, histogram)


def _interval_line(tag: str, start_s: float, histogram: Histogram) -> str:
    max_ms = histogram.get_max_value() / HLOG_MAX_VALUE_UNIT_RATIO
    payload = histogram.encode().decode("ascii")
    prefix = f"Tag={tag}," if tag else ""
    return f"{prefix}{start_s:.3f},{SLOT_S:.3f},{max_ms:.3f},{payload}\n"


_TAG_ESCAPES = {char: f"%{ord(char):02X}" for char in "%, \t\r\n"}


def hlog_tag(template: str) -> str:
    """A template's name as an interval log tag (no delimiter; reversible with unquote)."""
    return "".join(_TAG_ESCAPES.get(char, char) for char in template)


def _file_stem(metric: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", metric).lstrip(".") or "metric"


# -- junit.xml -----------------------------------------------------------------------


def write_junit_xml(path: Path, summary: Summary) -> Path:
    """The SLO results (and the baseline comparison) as JUnit test cases."""
    return write_atomically(path, junit_xml(summary))


def junit_xml(summary: Summary) -> bytes:
    """``<testsuites>`` with suite ``slo`` (a case per SLO) and, when a baseline was
    compared, suite ``baseline`` (a case per regression, or one passing case)."""
    run = summary["run"]
    root = ET.Element("testsuites", name=_xml_text(f"appsync-events-harness {run['run_id']}"))
    suites = [_slo_suite(summary["slo"])]
    if summary["baseline"] is not None:
        suites.append(_baseline_suite(summary["baseline"]))
    for suite in suites:
        suite.set("timestamp", _xml_text(run["started_at"]))
        root.append(suite)
    root.set("tests", str(sum(int(suite.get("tests", "0")) for suite in suites)))
    root.set("failures", str(sum(int(suite.get("failures", "0")) for suite in suites)))
    root.set("errors", "0")
    root.set("time", f"{run['duration_s']:.3f}")
    ET.indent(root)
    document: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return document + b"\n"


def _slo_suite(slo: SloSection) -> ET.Element:
    suite = _suite("slo")
    for result in slo["results"]:
        name = f"{result['slo']} @ {result['where']}"
        detail = result["detail"]
        _case(suite, "slo", name, None if result["passed"] else detail, detail)
    return suite


def _baseline_suite(baseline: BaselineSection) -> ET.Element:
    suite = _suite("baseline")
    allowed = baseline["max_regression"]
    path = baseline["path"]
    for regression in baseline["regressions"]:
        name = f"{regression['figure']} @ {regression['where']}"
        _case(suite, "baseline", name, f"{regression_sentence(regression, allowed)} against {path}")
    if not baseline["regressions"]:
        text = f"{baseline['compared']} figures compared with {path}; "
        text += f"at most +{relative_text(allowed)} allowed"
        _case(suite, "baseline", "baseline", None, text)
    return suite


def _suite(name: str) -> ET.Element:
    return ET.Element("testsuite", name=name, tests="0", failures="0", errors="0", skipped="0")


def _case(
    suite: ET.Element, classname: str, name: str, failure: str | None, output: str = ""
) -> None:
    case = ET.SubElement(suite, "testcase", classname=classname, name=_xml_text(name))
    suite.set("tests", str(int(suite.get("tests", "0")) + 1))
    if failure is not None:
        element = ET.SubElement(case, "failure", message=_xml_text(failure), type=classname)
        element.text = _xml_text(failure)
        suite.set("failures", str(int(suite.get("failures", "0")) + 1))
    elif output:
        ET.SubElement(case, "system-out").text = _xml_text(output)


_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml_text(text: str) -> str:
    """Text XML 1.0 can hold (ElementTree escapes markup, not control characters)."""
    return _NOT_XML.sub("\ufffd", text)


# -- report.html ---------------------------------------------------------------------


def write_html(path: Path, summary: Summary, timeline: LatencyTimeline) -> Path:
    """The self-contained HTML report."""
    return write_atomically(path, render_report(summary, timeline))
