"""The SVG charts of ``report.html`` (drawn here, no script) and the text helpers they share.

A percentile chart puts the percentile on a "nines" scale (x) up to 99.99 %
against latency in ms (y), one line per channel template; an over-time chart
shows p50 (dashed) and p99 (solid) per time slot and template. Points carry a
``<title>`` so hovering shows the figure.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.measure.histogram import Histogram
from harness.measure.latency import SLOT_S

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


WIDTH, HEIGHT = 720, 300


LEFT, RIGHT, TOP, BOTTOM = 70, 20, 14, 46


@dataclass
class Series:
    """One line of a chart: segments of (x, y) points, and points with a tooltip."""

    colour: str
    dashed: bool = False
    segments: list[list[tuple[float, float]]] = field(default_factory=list)
    marks: list[tuple[float, float, str]] = field(default_factory=list)


def percentile_figure(metric: str, by_template: dict[str, Histogram]) -> str:
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
        highest = histogram.get_max_value()
        values = {level: found.get(level, highest) for level in [*levels, *marked]}
        points = [(x, values[level] / 1000.0) for x, level in zip(steps, levels, strict=True)]
        marks = [
            (x, values[level] / 1000.0, f"{template}: p{level:g} = "
             f"{ms_text(values[level] / 1000.0)} ms ({samples_text(count)})")
            for level, x in marked.items()
        ]  # fmt: skip
        top = max(top, max(y for _, y in points))
        series.append(Series(colour, segments=[points], marks=marks))
        keys.append((template, colour, False))
    if not series:
        return no_chart(caption, "No sample to chart.")
    x_ticks = [(0.0, "0%"), (0.30103, "50%"), (1.0, "90%"), (2.0, "99%"), (3.0, "99.9%"),
               (4.0, "99.99%")]  # fmt: skip
    svg = _svg_chart(caption, NINES, x_ticks, "percentile", top, "latency (ms)", series)
    return chart_figure(caption, svg, legend(keys))


@dataclass(frozen=True)
class SlotFigures:
    """One point pair of the over-time chart: a slot's (or group's) p50 and p99."""

    p50_ms: float
    p99_ms: float
    count: int


def slot_figures(histogram: Histogram) -> SlotFigures:
    found = histogram.get_percentile_to_value_dict([50.0, 99.0])
    highest = histogram.get_max_value()
    return SlotFigures(
        found.get(50.0, highest) / 1000.0, found.get(99.0, highest) / 1000.0, histogram.total
    )


def over_time_figure(
    metric: str, intervals: list[tuple[int, str, Histogram]], duration_s: float
) -> str:
    """The over-time chart of a run's ``(slot, template, histogram)`` intervals; a long
    run's adjacent slots are merged, so at most :data:`MAX_TIME_POINTS` points a line."""
    if not intervals:
        return over_time_chart(metric, {}, SLOT_S, duration_s)
    last_slot = max(slot for slot, _, _ in intervals)
    group = max(1, math.ceil((last_slot + 1) / MAX_TIME_POINTS))
    grouped: dict[str, dict[int, Histogram]] = {}
    for slot, template, histogram in intervals:
        slots = grouped.setdefault(template, {})
        into = slots.get(slot // group)
        if into is None:
            into = slots[slot // group] = Histogram()
        into.add(histogram)
    points = {
        template: {number: slot_figures(histogram) for number, histogram in slots.items()}
        for template, slots in grouped.items()
    }
    return over_time_chart(metric, points, group * SLOT_S, duration_s)


def over_time_chart(
    metric: str,
    points: dict[str, dict[int, SlotFigures]],
    width_s: float,
    duration_s: float,
) -> str:
    """p50 (dashed) and p99 (solid) per template: ``points[template][n]`` covers
    ``[n * width_s, (n + 1) * width_s)`` of the run."""
    caption = f"{metric}: p50 and p99 over time"
    if not any(points.values()):
        return no_chart(caption, "No interval to chart.")
    series: list[Series] = []
    keys: list[tuple[str, str, bool]] = []
    top = 0.0
    for index, (template, numbered) in enumerate(points.items()):
        colour = COLOURS[index % len(COLOURS)]
        p99 = Series(colour)
        p50 = Series(colour, dashed=True)
        previous: int | None = None
        for number in sorted(numbered):
            figures = numbered[number]
            start = number * width_s
            x = start + width_s / 2
            for line, level, y in ((p99, 99.0, figures.p99_ms), (p50, 50.0, figures.p50_ms)):
                if previous is None or number != previous + 1:
                    line.segments.append([])
                line.segments[-1].append((x, y))
                line.marks.append(
                    (x, y, f"{template}: p{level:g} = {ms_text(y)} ms from {start:g} to "
                     f"{start + width_s:g} s ({samples_text(figures.count)})")
                )  # fmt: skip
                top = max(top, y)
            previous = number
        series += [p99, p50]
        keys.append((template, colour, False))
    end_s = max(max(numbered) + 1 for numbered in points.values() if numbered) * width_s
    ticks = _ticks(max(end_s, duration_s))
    x_ticks = [(value, _tick(value)) for value in ticks]
    svg = _svg_chart(
        caption, ticks[-1], x_ticks, "time since the run's start (s)", top, "latency (ms)", series
    )
    note = f"one point per {width_s:g} s; solid: p99, dashed: p50"
    return chart_figure(caption, svg, legend(keys, note))


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
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{esc(label)}">'
        f"<title>{esc(label)}</title>\n"
    ]
    for value in y_ticks:
        y = sy(value)
        parts.append(
            f'<line class="grid" x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}"/>'
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{esc(_tick(value))}</text>\n'
        )
    for value, text in x_ticks:
        x = sx(value)
        parts.append(
            f'<line class="grid" x1="{x:.1f}" y1="{TOP}" x2="{x:.1f}" y2="{HEIGHT - BOTTOM}"/>'
            f'<text x="{x:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle">'
            f"{esc(text)}</text>\n"
        )
    parts.append(
        f'<line class="axis" x1="{LEFT}" y1="{HEIGHT - BOTTOM}" x2="{WIDTH - RIGHT}" '
        f'y2="{HEIGHT - BOTTOM}"/><line class="axis" x1="{LEFT}" y1="{TOP}" x2="{LEFT}" '
        f'y2="{HEIGHT - BOTTOM}"/>\n'
        f'<text x="{LEFT + plot_w / 2:.1f}" y="{HEIGHT - 8}" text-anchor="middle">'
        f"{esc(x_label)}</text>\n"
        f'<text transform="translate(16 {TOP + plot_h / 2:.1f}) rotate(-90)" '
        f'text-anchor="middle">{esc(y_label)}</text>\n'
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
                f"<title>{esc(tip)}</title></circle>\n"
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


def chart_figure(caption: str, svg: str, legend: str) -> str:
    return f"<figure>\n<figcaption>{esc(caption)}</figcaption>\n{svg}\n{legend}</figure>\n"


def no_chart(caption: str, sentence: str) -> str:
    return (
        f"<figure>\n<figcaption>{esc(caption)}</figcaption>\n"
        f'<p class="empty">{esc(sentence)}</p>\n</figure>\n'
    )


def legend(keys: Iterable[tuple[str, str, bool]], note: str = "") -> str:
    items = "".join(
        f'<span class="key"><span class="swatch{" dashed" if dashed else ""}" '
        f'style="border-color: {colour}"></span>{esc(name)}</span>'
        for name, colour, dashed in keys
    )
    tail = f' <span class="muted">({esc(note)})</span>' if note else ""
    return f'<div class="legend">{items}{tail}</div>\n'


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def ms_text(value: Any) -> str:
    """A latency in ms to the microsecond, as recorded (HdrHistogram, 3 significant digits)."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return "-"
    return f"{value:,.3f}"


def samples_text(count: int) -> str:
    return f"{count:,} sample{'' if count == 1 else 's'}"
