"""``report.html``: one self-contained page about a run, readable offline.

No external resource, no script: inline CSS, and charts drawn here as inline
SVG (hover a point for its figure). A Content-Security-Policy forbids the page
any fetch, so what is seen is what the file holds. Every text from the run is
escaped.

Sections: the run (times, settings, verdict), totals, SLOs, baseline
regressions, per latency metric a percentile chart (x: percentile on a
"nines" scale up to 99.99 %, one line per channel template, from the run's
cumulative histograms) and an over-time chart (p50 and p99 per time slot and
template) with the templates' figures, delivery accounting, a per-channel
table, and the resilience figures (reconnect and retry policies, cleanup).
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from hdrh.histogram import HdrHistogram

from harness.channel_templates import parse_channel_templates
from harness.delivery import DELIVERY_FIGURES
from harness.errors import HarnessError
from harness.metrics import METRICS, SLOT_S, LatencyTimeline, new_histogram

COLOURS = (
    "#0072b2",
    "#d55e00",
    "#009e73",
    "#cc79a7",
    "#e69f00",
    "#56b4e9",
    "#000000",
    "#8c564b",
)
"""Okabe-Ito (without its yellow), distinguishable with the common colour deficiencies."""

NINES = 4.0
"""The percentile chart's x axis ends at 99.99 % (four nines)."""
NINES_STEPS = 50
"""Points per nine on the percentile chart."""
MAX_TIME_POINTS = 240
"""Per template and percentile on the over-time chart; longer runs merge adjacent slots."""
CHANNEL_TABLE_OPEN = 200
"""Channels up to which the per-channel table starts unfolded."""

WIDTH, HEIGHT = 720, 300
LEFT, RIGHT, TOP, BOTTOM = 70, 20, 14, 46

LATENCY_KEYS = ("count", "min", "mean", "p50", "p90", "p99", "p99.9", "max")
CHANNEL_LATENCY_KEYS = ("count", "p50", "p90", "p99", "p99.9", "max")
DELIVERY_KEYS = DELIVERY_FIGURES
DELIVERY_HEADERS = (
    "published",
    "delivered",
    "lost",
    "missed (down)",
    "duplicated",
    "out of order",
)
BAD_WHEN_POSITIVE = {"lost", "missed_during_reconnect", "duplicated", "out_of_order"}

_STYLE = """
:root { color-scheme: light; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: #1f2328; background: #fff; margin: 0 auto; padding: 16px 24px 48px; max-width: 1180px; }
h1 { font-size: 22px; margin: 8px 0 4px; }
h2 { font-size: 18px; margin: 28px 0 8px; border-bottom: 1px solid #d0d7de; padding-bottom: 4px; }
h3 { font-size: 15px; margin: 20px 0 6px; }
table { border-collapse: collapse; margin: 6px 0 12px; font-size: 13px; }
th, td { border: 1px solid #d0d7de; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f6f8fa; font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.bad { color: #b3261e; font-weight: 600; }
.pass { color: #116329; font-weight: 600; } .fail { color: #b3261e; font-weight: 600; }
.verdict { display: inline-block; padding: 6px 12px; border-radius: 6px; margin: 8px 0;
  border: 2px solid; font-size: 16px; }
.verdict.pass { background: #dafbe1; } .verdict.fail { background: #ffebe9; }
.muted { color: #59636e; } .empty { color: #59636e; font-style: italic; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
  font-size: 12.5px; }
.charts { display: flex; flex-wrap: wrap; gap: 12px 28px; }
figure { margin: 0; flex: 1 1 560px; max-width: 720px; }
figcaption { font-weight: 600; margin-bottom: 2px; }
svg.chart { width: 100%; height: auto; display: block; }
svg.chart text { font: 11px system-ui, sans-serif; fill: #1f2328; }
svg.chart .grid { stroke: #e6e8eb; } svg.chart .axis { stroke: #59636e; }
.legend { font-size: 12px; margin: 2px 0 0 70px; }
.legend .key { display: inline-block; margin-right: 14px; white-space: nowrap; }
.legend .swatch { display: inline-block; width: 22px; margin: 0 5px 3px 0; vertical-align: middle;
  border-top: 3px solid; }
.legend .swatch.dashed { border-top-style: dashed; }
details > summary { cursor: pointer; margin: 4px 0; }
.scroll { overflow-x: auto; }
"""


class Markup(str):
    """Text that is already HTML (not escaped again by the table helpers)."""


def render_report(summary: dict[str, Any], timeline: LatencyTimeline) -> str:
    """The whole page for one run (``summary`` as in docs/summary-schema.md)."""
    run = summary.get("run") or {}
    title = f"AppSync Events run {run.get('run_id', '')}".strip()
    body = [
        _run_section(summary),
        _totals_section(summary),
        _slo_section(summary),
        _baseline_section(summary),
        _latency_section(summary, timeline),
        _delivery_section(summary),
        _channels_section(summary, timeline),
        _resilience_section(summary),
    ]
    return "".join(
        [
            '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n',
            '<meta http-equiv="Content-Security-Policy" '
            "content=\"default-src 'none'; style-src 'unsafe-inline'\">\n",
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n',
            f"<title>{_e(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n",
            f"<h1>{_e(title)}</h1>\n",
            *body,
            "</body>\n</html>\n",
        ]
    )


# -- run, totals, SLOs, baseline -------------------------------------------------------


def _run_section(summary: dict[str, Any]) -> str:
    run = summary.get("run") or {}
    verdict = summary.get("verdict") or {}
    exit_code = verdict.get("exit_code")
    interrupted = run.get("interrupted")
    facts = [
        ("run id", run.get("run_id")),
        ("started", run.get("started_at")),
        ("ended", run.get("ended_at")),
        ("duration", None if run.get("duration_s") is None else f"{run['duration_s']:g} s"),
        ("interrupted", "yes (Ctrl-C or SIGTERM)" if interrupted else interrupted),
        ("schema", summary.get("schema")),
    ]
    parts = [_key_values(facts)]
    if exit_code is None:
        parts.append('<p class="empty">No verdict in this summary.</p>\n')
    else:
        passed = exit_code == 0
        label = "PASS" if passed else "FAIL"
        parts.append(
            f'<div class="verdict {"pass" if passed else "fail"}">Verdict: {label} '
            f"(exit code {_e(exit_code)})</div>\n"
        )
        reasons = verdict.get("reasons") or []
        if reasons:
            items = "".join(f"<li>{_e(reason)}</li>" for reason in reasons)
            parts.append(f"<ul>{items}</ul>\n")
    settings = run.get("settings") or {}
    parts.append("<h3>Settings</h3>\n")
    if settings:
        parts.append(_key_values([(name, _setting(value)) for name, value in settings.items()]))
    else:
        parts.append('<p class="empty">No settings recorded.</p>\n')
    return '<section id="run">\n<h2>Run</h2>\n' + "".join(parts) + "</section>\n"


def _setting(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return ", ".join(str(item) for item in value)
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    return value


def _totals_section(summary: dict[str, Any]) -> str:
    totals = summary.get("totals") or {}
    requests = totals.get("requests") or {}
    parts = ['<section id="totals">\n<h2>Totals</h2>\n']
    if requests:
        rows = [
            [name, counts.get("count"), _bad_if_positive(counts.get("failures"))]
            for name, counts in requests.items()
        ]
        parts.append(_table(["request type", "requests", "failures"], rows))
    else:
        parts.append('<p class="empty">No request was made.</p>\n')
    errors = totals.get("errors") or {}
    if errors:
        rate = errors.get("rate")
        rate_text = f"{rate:.3%}" if isinstance(rate, int | float) else "-"
        parts.append(
            f"<p>Failed requests: {_e(_fmt(errors.get('count')))} ({_e(rate_text)} of all).</p>\n"
        )
    events = totals.get("events") or {}
    if events:
        parts.append(_table(list(DELIVERY_HEADERS), [_delivery_cells(events)]))
    parts.append("</section>\n")
    return "".join(parts)


def _slo_section(summary: dict[str, Any]) -> str:
    slo = summary.get("slo") or {}
    results = slo.get("results") or []
    parts = ['<section id="slo">\n<h2>Service-level objectives</h2>\n']
    if not results:
        parts.append('<p class="empty">No SLO was set for this run.</p>\n')
    else:
        passed = sum(1 for result in results if result.get("passed"))
        parts.append(f"<p>{passed} of {len(results)} met.</p>\n")
        rows = [
            [
                _status(bool(result.get("passed"))),
                Markup(f"<code>{_e(result.get('slo', ''))}</code>"),
                result.get("where"),
                _number(result.get("observed")),
                _number(result.get("threshold")),
                result.get("unit"),
                result.get("detail"),
            ]
            for result in results
        ]
        headers = ["status", "SLO", "where", "observed", "threshold", "unit", "detail"]
        parts.append(_table(headers, rows))
    parts.append("</section>\n")
    return "".join(parts)


def _baseline_section(summary: dict[str, Any]) -> str:
    baseline = summary.get("baseline")
    parts = ['<section id="baseline">\n<h2>Baseline</h2>\n']
    if not baseline:
        parts.append('<p class="empty">No baseline was compared.</p>\n')
        return "".join([*parts, "</section>\n"])
    allowed = baseline.get("max_regression")
    allowed_text = f"+{allowed:.0%}" if isinstance(allowed, int | float) else "-"
    parts.append(
        f"<p>{_status(bool(baseline.get('passed')))} against "
        f"<code>{_e(baseline.get('path', ''))}</code>: {_e(_fmt(baseline.get('compared')))} "
        f"figures compared, at most {_e(allowed_text)} allowed.</p>\n"
    )
    regressions = baseline.get("regressions") or []
    if regressions:
        rows = [
            [
                Markup(f"<code>{_e(regression.get('figure', ''))}</code>"),
                regression.get("where"),
                _number(regression.get("baseline")),
                _number(regression.get("observed")),
                _percent_change(regression.get("change")),
                regression.get("unit"),
            ]
            for regression in regressions
        ]
        headers = ["figure", "where", "baseline", "observed", "change", "unit"]
        parts.append(_table(headers, rows))
    else:
        parts.append("<p>No figure regressed.</p>\n")
    parts.append("</section>\n")
    return "".join(parts)


# -- latency ------------------------------------------------------------------------------


def _latency_section(summary: dict[str, Any], timeline: LatencyTimeline) -> str:
    latency: dict[str, Any] = summary.get("latency") or {}
    charted = timeline.metrics()
    metrics = sorted(set(charted) | set(latency), key=metric_order)
    parts = ['<section id="latency">\n<h2>Latency</h2>\n']
    if not metrics:
        parts.append('<p class="empty">No latency sample was recorded in this run.</p>\n')
    else:
        parts.append(
            '<p class="muted">Milliseconds, from HdrHistograms (1 us to 1 h, 3 significant '
            "digits); only successful operations. Hover a point for its figure.</p>\n"
        )
    for metric in metrics:
        parts.append(f'<h3 id="latency-{_e(metric)}">{_e(metric)}</h3>\n')
        section = latency.get(metric) or {}
        if metric in charted:
            parts.append('<div class="charts">\n')
            parts.append(_percentile_figure(metric, timeline.by_template(metric)))
            parts.append(_over_time_figure(metric, timeline.intervals(metric), summary))
            parts.append("</div>\n")
        else:
            parts.append('<p class="empty">No histogram of this metric to chart.</p>\n')
        rows = []
        if section.get("overall"):
            rows.append([Markup("<strong>overall</strong>"), *_latency_cells(section["overall"])])
        for template, figures in (section.get("templates") or {}).items():
            rows.append([template, *_latency_cells(figures)])
        if rows:
            headers = ["template", *(_ms_header(key) for key in LATENCY_KEYS)]
            parts.append(_table(headers, rows, numeric_from=1))
    parts.append("</section>\n")
    return "".join(parts)


def _latency_cells(figures: dict[str, Any]) -> list[Any]:
    return [
        _fmt(figures.get(key)) if key == "count" else _ms(figures.get(key)) for key in LATENCY_KEYS
    ]


def _ms_header(key: str) -> str:
    return key if key == "count" else f"{key} ms"


@dataclass
class Series:
    """One line of a chart: segments of (x, y) points, and points with a tooltip."""

    colour: str
    dashed: bool = False
    segments: list[list[tuple[float, float]]] = field(default_factory=list)
    marks: list[tuple[float, float, str]] = field(default_factory=list)


def _percentile_figure(metric: str, by_template: dict[str, HdrHistogram]) -> str:
    caption = f"{metric}: latency by percentile"
    marked = {50.0: 0.30103, 90.0: 1.0, 99.0: 2.0, 99.9: 3.0, 99.99: 4.0}
    steps = [i / NINES_STEPS for i in range(int(NINES * NINES_STEPS) + 1)]
    levels = [100.0 * (1.0 - 10.0**-x) for x in steps]
    series: list[Series] = []
    keys: list[tuple[str, str, bool]] = []
    top = 0.0
    for index, (template, histogram) in enumerate(by_template.items()):
        count = histogram.get_total_count()
        if not count:
            continue
        colour = COLOURS[index % len(COLOURS)]
        found = histogram.get_percentile_to_value_dict([*levels, *marked])
        values = {
            level: found.get(level, histogram.get_max_value()) for level in [*levels, *marked]
        }
        points = [(x, values[level] / 1000.0) for x, level in zip(steps, levels, strict=True)]
        marks = [
            (x, values[level] / 1000.0, f"{template}: p{level:g} = "
             f"{_ms(values[level] / 1000.0)} ms ({_samples(count)})")
            for level, x in marked.items()
        ]  # fmt: skip
        top = max(top, max(y for _, y in points))
        series.append(Series(colour, segments=[points], marks=marks))
        keys.append((template, colour, False))
    if not series:
        return _no_chart(caption, "No sample to chart.")
    x_ticks = [(0.0, "0%"), (0.30103, "50%"), (1.0, "90%"), (2.0, "99%"), (3.0, "99.9%"),
               (4.0, "99.99%")]  # fmt: skip
    svg = _svg_chart(caption, NINES, x_ticks, "percentile", top, "latency (ms)", series)
    return _figure(caption, svg, _legend(keys))


def _over_time_figure(
    metric: str, intervals: list[tuple[int, str, HdrHistogram]], summary: dict[str, Any]
) -> str:
    caption = f"{metric}: p50 and p99 over time"
    if not intervals:
        return _no_chart(caption, "No interval to chart.")
    last_slot = max(slot for slot, _, _ in intervals)
    group = max(1, math.ceil((last_slot + 1) / MAX_TIME_POINTS))
    width_s = group * SLOT_S
    grouped: dict[str, dict[int, HdrHistogram]] = {}
    for slot, template, histogram in intervals:
        slots = grouped.setdefault(template, {})
        into = slots.get(slot // group)
        if into is None:
            into = slots[slot // group] = new_histogram()
        into.add(histogram)
    series: list[Series] = []
    keys: list[tuple[str, str, bool]] = []
    top = 0.0
    for index, (template, slots) in enumerate(grouped.items()):
        colour = COLOURS[index % len(COLOURS)]
        p99 = Series(colour)
        p50 = Series(colour, dashed=True)
        previous: int | None = None
        for number in sorted(slots):
            histogram = slots[number]
            found = histogram.get_percentile_to_value_dict([50.0, 99.0])
            values = {level: found.get(level, histogram.get_max_value()) for level in (50.0, 99.0)}
            start = number * width_s
            x = start + width_s / 2
            for line, level in ((p99, 99.0), (p50, 50.0)):
                y = values[level] / 1000.0
                if previous is None or number != previous + 1:
                    line.segments.append([])
                line.segments[-1].append((x, y))
                line.marks.append(
                    (x, y, f"{template}: p{level:g} = {_ms(y)} ms from {start:g} to "
                     f"{start + width_s:g} s ({_samples(histogram.get_total_count())})")
                )  # fmt: skip
                top = max(top, y)
            previous = number
        series += [p99, p50]
        keys.append((template, colour, False))
    duration = (summary.get("run") or {}).get("duration_s")
    end_s = max(max(numbers) + 1 for numbers in grouped.values()) * width_s
    ticks = _ticks(max(end_s, float(duration) if isinstance(duration, int | float) else 0.0))
    x_ticks = [(value, _tick(value)) for value in ticks]
    svg = _svg_chart(
        caption, ticks[-1], x_ticks, "time since the run's start (s)", top, "latency (ms)", series
    )
    note = f"one point per {width_s:g} s; solid: p99, dashed: p50"
    return _figure(caption, svg, _legend(keys, note))


def _svg_chart(
    label: str,
    x_max: float,
    x_ticks: Sequence[tuple[float, str]],
    x_label: str,
    y_max: float,
    y_label: str,
    series: Sequence[Series],
) -> str:
    """An inline SVG line chart with a linear y axis from 0."""
    y_ticks = _ticks(y_max)
    y_top = y_ticks[-1]
    x_max = x_max or 1.0
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM

    def sx(x: float) -> float:
        return LEFT + plot_w * x / x_max

    def sy(y: float) -> float:
        return TOP + plot_h * (1.0 - y / y_top)

    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{_e(label)}">'
        f"<title>{_e(label)}</title>\n"
    ]
    for value in y_ticks:
        y = sy(value)
        parts.append(
            f'<line class="grid" x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}"/>'
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{_e(_tick(value))}</text>\n'
        )
    for value, text in x_ticks:
        x = sx(value)
        parts.append(
            f'<line class="grid" x1="{x:.1f}" y1="{TOP}" x2="{x:.1f}" y2="{HEIGHT - BOTTOM}"/>'
            f'<text x="{x:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle">{_e(text)}</text>\n'
        )
    parts.append(
        f'<line class="axis" x1="{LEFT}" y1="{HEIGHT - BOTTOM}" x2="{WIDTH - RIGHT}" '
        f'y2="{HEIGHT - BOTTOM}"/><line class="axis" x1="{LEFT}" y1="{TOP}" x2="{LEFT}" '
        f'y2="{HEIGHT - BOTTOM}"/>\n'
        f'<text x="{LEFT + plot_w / 2:.1f}" y="{HEIGHT - 8}" text-anchor="middle">'
        f"{_e(x_label)}</text>\n"
        f'<text transform="translate(16 {TOP + plot_h / 2:.1f}) rotate(-90)" '
        f'text-anchor="middle">{_e(y_label)}</text>\n'
    )
    for line in series:
        dash = ' stroke-dasharray="5 3"' if line.dashed else ""
        for segment in line.segments:
            if len(segment) > 1:
                path = " ".join(
                    f"{'M' if i == 0 else 'L'}{sx(x):.1f},{sy(y):.1f}"
                    for i, (x, y) in enumerate(segment)
                )
                parts.append(
                    f'<path d="{path}" fill="none" stroke="{line.colour}" '
                    f'stroke-width="{1.6 if line.dashed else 2}"{dash}/>\n'
                )
        radius = 2.5 if len(line.marks) <= 60 else 1.5
        for x, y, tip in line.marks:
            parts.append(
                f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="{radius}" fill="{line.colour}">'
                f"<title>{_e(tip)}</title></circle>\n"
            )
    parts.append("</svg>")
    return "".join(parts)


def _ticks(top: float, target: int = 5) -> list[float]:
    """0 and evenly spaced round values (1, 2, 2.5 or 5 times a power of ten) up to >= top."""
    if not top > 0:
        top = 1.0
    raw = top / target
    magnitude = 10.0 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1.0, 2.0, 2.5, 5.0, 10.0) if m * magnitude >= raw)
    count = math.ceil(top / step - 1e-9)
    return [round(i * step, 12) for i in range(count + 1)]


def _tick(value: float) -> str:
    if value == int(value):
        return f"{int(value):,}"
    return f"{value:.6g}"


def _figure(caption: str, svg: str, legend: str) -> str:
    return f"<figure>\n<figcaption>{_e(caption)}</figcaption>\n{svg}\n{legend}</figure>\n"


def _no_chart(caption: str, sentence: str) -> str:
    return (
        f"<figure>\n<figcaption>{_e(caption)}</figcaption>\n"
        f'<p class="empty">{_e(sentence)}</p>\n</figure>\n'
    )


def _legend(keys: Iterable[tuple[str, str, bool]], note: str = "") -> str:
    items = "".join(
        f'<span class="key"><span class="swatch{" dashed" if dashed else ""}" '
        f'style="border-color: {colour}"></span>{_e(name)}</span>'
        for name, colour, dashed in keys
    )
    tail = f' <span class="muted">({_e(note)})</span>' if note else ""
    return f'<div class="legend">{items}{tail}</div>\n'


# -- delivery and channels -----------------------------------------------------------------


def _delivery_section(summary: dict[str, Any]) -> str:
    delivery = summary.get("delivery") or {}
    parts = ['<section id="delivery">\n<h2>Delivery</h2>\n']
    overall = delivery.get("overall")
    templates = delivery.get("templates") or {}
    if not overall and not templates:
        parts.append('<p class="empty">No event was published.</p>\n')
        return "".join([*parts, "</section>\n"])
    rows = []
    if overall:
        rows.append([Markup("<strong>overall</strong>"), *_delivery_cells(overall)])
    rows += [[name, *_delivery_cells(figures)] for name, figures in templates.items()]
    parts.append(_table(["template", *DELIVERY_HEADERS], rows, numeric_from=1))
    untracked = delivery.get("untracked")
    if untracked:
        parts.append(
            f"<p>{_e(_fmt(untracked))} events were past the per-process tracking cap and are "
            "not accounted for.</p>\n"
        )
    examples = delivery.get("lost_examples") or []
    if examples:
        parts.append("<h3>Examples of lost events</h3>\n")
        rows = [
            [
                example.get("channel"),
                example.get("publisher"),
                example.get("seq"),
                example.get("subscriber"),
                example.get("intended_ms"),
            ]
            for example in examples
        ]
        headers = ["channel", "publisher", "seq", "subscriber", "intended (ms since epoch)"]
        parts.append(_table(headers, rows))
    parts.append("</section>\n")
    return "".join(parts)


def _delivery_cells(figures: dict[str, Any]) -> list[Any]:
    return [
        _bad_if_positive(figures.get(key)) if key in BAD_WHEN_POSITIVE else figures.get(key)
        for key in DELIVERY_KEYS
    ]


def _channels_section(summary: dict[str, Any], timeline: LatencyTimeline) -> str:
    latency: dict[str, Any] = summary.get("latency") or {}
    delivery: dict[str, Any] = (summary.get("delivery") or {}).get("channels") or {}
    per_channel: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for metric in sorted(latency, key=metric_order):
        for channel, figures in (latency[metric].get("channels") or {}).items():
            per_channel.setdefault(channel, []).append((metric, figures))
    channels = sorted(set(per_channel) | set(delivery))
    template_of = TemplateLookup(summary, timeline)
    parts = ['<section id="channels">\n<h2>Channels</h2>\n']
    if not channels:
        parts.append('<p class="empty">No channel has figures.</p>\n')
        return "".join([*parts, "</section>\n"])
    headers = [
        "channel",
        "template",
        "metric",
        *(_ms_header(key) for key in CHANNEL_LATENCY_KEYS),
        *DELIVERY_HEADERS,
    ]
    head = "".join(
        f"<th{' class=num' if index >= 3 else ''}>{_e(text)}</th>"
        for index, text in enumerate(headers)
    )
    rows = []
    for channel in channels:
        metrics = per_channel.get(channel) or [("", {})]
        span = f' rowspan="{len(metrics)}"' if len(metrics) > 1 else ""
        accounts = delivery.get(channel)
        delivery_cells = _delivery_cells(accounts) if accounts else ["" for _ in DELIVERY_KEYS]
        for index, (metric, figures) in enumerate(metrics):
            cells = [metric or "-"]
            cells += [
                _fmt(figures.get(key)) if key == "count" else _ms(figures.get(key))
                for key in CHANNEL_LATENCY_KEYS
            ]
            row = "".join(_td(cell, numeric=i > 0) for i, cell in enumerate(cells))
            if index == 0:
                template = template_of(channel)
                row = (
                    f'<td{span} class="mono">{_e(channel)}</td><td{span}>{_e(template)}</td>'
                    + row
                    + "".join(_td(cell, numeric=True, span=span) for cell in delivery_cells)
                )
            rows.append(f"<tr>{row}</tr>\n")
    opened = " open" if len(channels) <= CHANNEL_TABLE_OPEN else ""
    parts.append(
        f"<details{opened}>\n<summary>{len(channels):,} channels (latency in ms; delivery "
        "accounting per channel)</summary>\n"
        f'<div class="scroll"><table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n'
        + "".join(rows)
        + "</tbody></table></div>\n</details>\n</section>\n"
    )
    return "".join(parts)


# -- resilience -------------------------------------------------------------------------


def _resilience_section(summary: dict[str, Any]) -> str:
    resilience = summary.get("resilience") or {}
    parts = ['<section id="resilience">\n<h2>Resilience</h2>\n']
    if not resilience:
        parts.append('<p class="empty">No resilience figures in this summary.</p>\n')
        return "".join([*parts, "</section>\n"])
    policies = resilience.get("policies") or []
    tolerance = resilience.get("backoff_tolerance_s")
    parts.append("<h3>Reconnect and retry policies</h3>\n")
    if tolerance is not None:
        parts.append(
            f'<p class="muted">An attempt is in bounds when it starts no earlier than its '
            f"policy's shortest delay and at most {_e(_fmt(tolerance))} s past its longest.</p>\n"
        )
    if policies:
        rows = [
            [
                policy.get("kind"),
                Markup(f"<code>{_e(policy.get('policy', ''))}</code>"),
                policy.get("losses"),
                policy.get("attempts"),
                _share(policy.get("conformance")),
                _recovery(policy.get("recovery_s")),
                _bad_if_positive(sum((policy.get("give_ups") or {}).values())),
                _herd(policy.get("herd")),
            ]
            for policy in policies
        ]
        headers = [
            "kind",
            "policy",
            "losses",
            "attempts",
            "in bounds",
            "recovery p50/p99/max s",
            "give-ups",
            "herd per 100 ms (predicted) of disconnected",
        ]
        parts.append(_table(headers, rows))
        violations = [
            [
                policy.get("policy"),
                violation.get("client"),
                violation.get("attempt"),
                _number(violation.get("observed_s")),
                f"{_fmt(violation.get('low_s'))} - {_fmt(violation.get('high_s'))}",
            ]
            for policy in policies
            for violation in (policy.get("violations") or [])[:5]
        ]
        if violations:
            parts.append("<h3>Attempts out of bounds (examples)</h3>\n")
            headers = ["policy", "client", "attempt", "waited s", "allowed s"]
            parts.append(_table(headers, violations))
    else:
        parts.append('<p class="empty">No connection was lost and nothing was retried.</p>\n')
    parts.append(_cleanup(resilience.get("cleanup")))
    parts.append(_server(resilience.get("server")))
    workers = resilience.get("workers")
    if workers:
        parts.append(
            f"<p>Workers: {_e(_fmt(workers.get('final_reports')))} of "
            f"{_e(_fmt(workers.get('count')))} sent their final report.</p>\n"
        )
    parts.append("</section>\n")
    return "".join(parts)


def _cleanup(cleanup: dict[str, Any] | None) -> str:
    if not cleanup:
        return ""
    leaks = cleanup.get("leaks") or 0
    by_kind = ", ".join(f"{count} {kind}" for kind, count in (cleanup.get("by_kind") or {}).items())
    status = _status(not leaks)
    parts = [
        "<h3>Cleanup</h3>\n",
        f"<p>{status} {_e(_fmt(cleanup.get('users_checked')))} stopped users checked, "
        f"{_e(_fmt(leaks))} leaks{_e(f' ({by_kind})' if by_kind else '')}.</p>\n",
    ]
    listed = cleanup.get("listed") or []
    if listed:
        rows = [
            [leak.get("kind"), leak.get("user"), leak.get("channel"), leak.get("id")]
            for leak in listed
        ]
        parts.append(_table(["kind", "user", "channel", "id"], rows))
    return "".join(parts)


def _server(server: dict[str, Any] | None) -> str:
    if not server:
        return ""
    if "error" in server:
        return f"<h3>Emulator checks</h3>\n<p>Skipped: {_e(server['error'])}</p>\n"
    backoff = server.get("backoff") or {}
    parts = [
        "<h3>Emulator checks</h3>\n",
        f"<p>After the run: {_e(_fmt(server.get('open_connections')))} open connections, "
        f"{_e(_fmt(server.get('live_subscriptions')))} live subscriptions. Emulator-side "
        f"backoff: {_e(_fmt(backoff.get('conforming')))} of {_e(_fmt(backoff.get('checked')))} "
        "gaps between retries no shorter than the policy allows.</p>\n",
    ]
    violations = backoff.get("violations") or []
    if violations:
        rows = [
            [
                violation.get("client"),
                violation.get("attempt"),
                violation.get("policy"),
                _number(violation.get("server_gap_s")),
                _number(violation.get("low_s")),
            ]
            for violation in violations
        ]
        headers = ["client", "attempt", "policy", "gap s", "policy minimum s"]
        parts.append(_table(headers, rows))
    return "".join(parts)


def _share(value: Any) -> str:
    return "-" if not isinstance(value, int | float) else f"{value:.1%}"


def _recovery(recovery: dict[str, Any] | None) -> str:
    if not recovery:
        return "-"
    return "/".join(f"{recovery.get(key, 0):.3f}" for key in ("p50", "p99", "max"))


def _herd(herd: dict[str, Any] | None) -> str:
    if not herd:
        return "-"
    return (
        f"{herd.get('peak_first_attempts')} ({_fmt(herd.get('predicted_peak'))}) "
        f"of {herd.get('disconnected')}"
    )


# -- cells and tables -----------------------------------------------------------------


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _fmt(value: Any) -> str:
    """A figure as text: thousands separators, at most three decimals."""
    if value is None or value == "":
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        text = f"{value:,.3f}".rstrip("0").rstrip(".")
        return "0" if text in ("-0", "") else text
    return str(value)


def _ms(value: Any) -> str:
    """A latency in ms to the microsecond, as recorded (HdrHistogram, 3 significant digits)."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return "-"
    return f"{value:,.3f}"


def _number(value: Any) -> str:
    return "-" if value is None else _fmt(value)


def _samples(count: int) -> str:
    return f"{count:,} sample{'' if count == 1 else 's'}"


def _percent_change(value: Any) -> str:
    return f"{value:+.1%}" if isinstance(value, int | float) else "-"


def _status(passed: bool) -> Markup:
    return Markup('<span class="pass">pass</span>' if passed else '<span class="fail">FAIL</span>')


def _bad_if_positive(value: Any) -> Any:
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return Markup(f'<span class="fail">{_e(_fmt(value))}</span>')
    return value


def _td(value: Any, *, numeric: bool = False, span: str = "") -> str:
    text = str(value) if isinstance(value, Markup) else _e(_fmt(value))
    numeric = numeric or (isinstance(value, int | float) and not isinstance(value, bool))
    return f"<td{span}{' class=num' if numeric else ''}>{text}</td>"


def _table(headers: Sequence[str], rows: Iterable[Sequence[Any]], numeric_from: int = -1) -> str:
    """A table; numbers are right-aligned (and every column from ``numeric_from`` on)."""
    head = "".join(
        f"<th{' class=num' if 0 <= numeric_from <= i else ''}>{_e(text)}</th>"
        for i, text in enumerate(headers)
    )
    body = "".join(
        "<tr>"
        + "".join(_td(cell, numeric=0 <= numeric_from <= i) for i, cell in enumerate(row))
        + "</tr>\n"
        for row in rows
    )
    return (
        f'<div class="scroll"><table>\n<thead><tr>{head}</tr></thead>\n'
        f"<tbody>\n{body}</tbody></table></div>\n"
    )


def _key_values(facts: Iterable[tuple[str, Any]]) -> str:
    rows = "".join(
        f"<tr><th>{_e(name)}</th><td>{_e(_fmt(value))}</td></tr>\n" for name, value in facts
    )
    return f"<table>\n<tbody>\n{rows}</tbody></table>\n"


def metric_order(metric: str) -> tuple[int, str]:
    """Sort key: the known metrics in their usual order, then any other by name."""
    return (METRICS.index(metric) if metric in METRICS else len(METRICS), metric)


class TemplateLookup:
    """A channel's template: as the histograms know it, else by expanding the summary's
    template names (a channel with delivery figures but no latency sample); else empty."""

    def __init__(self, summary: dict[str, Any], timeline: LatencyTimeline) -> None:
        self._known = timeline.templates
        self._summary = summary
        self._expanded: dict[str, str] | None = None

    def __call__(self, channel: str) -> str:
        template = self._known.get(channel)
        if template is not None:
            return template
        if self._expanded is None:
            self._expanded = self._expand()
        return self._expanded.get(channel, "")

    def _expand(self) -> dict[str, str]:
        names = set(self._known.values())
        for section in (self._summary.get("latency") or {}).values():
            names.update(section.get("templates") or {})
        names.update((self._summary.get("delivery") or {}).get("templates") or {})
        expanded: dict[str, str] = {}
        for name in sorted(names):
            try:
                templates = parse_channel_templates(name)
            except HarnessError:
                continue  # a wildcard or an odd name: no concrete channel to map
            for template in templates:
                for channel in template.channels:
                    expanded.setdefault(channel, template.name)
        return expanded
