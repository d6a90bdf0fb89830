"""``report.html``: one self-contained page about a run, readable offline.

No external resource, no script: inline CSS, and charts drawn as inline SVG by
:mod:`harness.report.charts` (hover a point for its figure). A
Content-Security-Policy forbids the page any fetch, so what is seen is what the
file holds. Every text from the run is escaped.

Sections: the run (times, settings, verdict), totals, SLOs, baseline
regressions, per latency metric a percentile chart (x: percentile on a
"nines" scale up to 99.99 %, one line per channel template, from the run's
cumulative histograms) and an over-time chart (p50 and p99 per time slot and
template) with the templates' figures, delivery accounting, a per-channel
table, and the resilience figures (reconnect and retry policies, cleanup).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from typing import Any

from harness.errors import HarnessError
from harness.measure.delivery import DELIVERY_FIGURES
from harness.measure.latency import METRICS, LatencyTimeline
from harness.report.charts import (
    esc,
    ms_text,
    over_time_figure,
    percentile_figure,
)
from harness.workload.channels import parse_channel_templates

CHANNEL_TABLE_OPEN = 200
"""Channels up to which the per-channel table starts unfolded."""


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
            f"<title>{esc(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n",
            f"<h1>{esc(title)}</h1>\n",
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
            f"(exit code {esc(exit_code)})</div>\n"
        )
        reasons = verdict.get("reasons") or []
        if reasons:
            items = "".join(f"<li>{esc(reason)}</li>" for reason in reasons)
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
            f"<p>Failed requests: {esc(_fmt(errors.get('count')))} ({esc(rate_text)} of all).</p>\n"
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
                Markup(f"<code>{esc(result.get('slo', ''))}</code>"),
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
        f"<code>{esc(baseline.get('path', ''))}</code>: {esc(_fmt(baseline.get('compared')))} "
        f"figures compared, at most {esc(allowed_text)} allowed.</p>\n"
    )
    regressions = baseline.get("regressions") or []
    if regressions:
        rows = [
            [
                Markup(f"<code>{esc(regression.get('figure', ''))}</code>"),
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
        parts.append(f'<h3 id="latency-{esc(metric)}">{esc(metric)}</h3>\n')
        section = latency.get(metric) or {}
        if metric in charted:
            parts.append('<div class="charts">\n')
            parts.append(percentile_figure(metric, timeline.by_template(metric)))
            parts.append(over_time_figure(metric, timeline.intervals(metric), summary))
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
        _fmt(figures.get(key)) if key == "count" else ms_text(figures.get(key))
        for key in LATENCY_KEYS
    ]


def _ms_header(key: str) -> str:
    return key if key == "count" else f"{key} ms"


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
            f"<p>{esc(_fmt(untracked))} events were past the per-process tracking cap and are "
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
        f"<th{' class=num' if index >= 3 else ''}>{esc(text)}</th>"
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
                _fmt(figures.get(key)) if key == "count" else ms_text(figures.get(key))
                for key in CHANNEL_LATENCY_KEYS
            ]
            row = "".join(_td(cell, numeric=i > 0) for i, cell in enumerate(cells))
            if index == 0:
                template = template_of(channel)
                row = (
                    f'<td{span} class="mono">{esc(channel)}</td><td{span}>{esc(template)}</td>'
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
            f"policy's shortest delay and at most {esc(_fmt(tolerance))} s past its longest.</p>\n"
        )
    if policies:
        rows = [
            [
                policy.get("kind"),
                Markup(f"<code>{esc(policy.get('policy', ''))}</code>"),
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
            f"<p>Workers: {esc(_fmt(workers.get('final_reports')))} of "
            f"{esc(_fmt(workers.get('count')))} sent their final report.</p>\n"
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
        f"<p>{status} {esc(_fmt(cleanup.get('users_checked')))} stopped users checked, "
        f"{esc(_fmt(leaks))} leaks{esc(f' ({by_kind})' if by_kind else '')}.</p>\n",
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
        return f"<h3>Emulator checks</h3>\n<p>Skipped: {esc(server['error'])}</p>\n"
    backoff = server.get("backoff") or {}
    parts = [
        "<h3>Emulator checks</h3>\n",
        f"<p>After the run: {esc(_fmt(server.get('open_connections')))} open connections, "
        f"{esc(_fmt(server.get('live_subscriptions')))} live subscriptions. Emulator-side "
        f"backoff: {esc(_fmt(backoff.get('conforming')))} of {esc(_fmt(backoff.get('checked')))} "
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


def _number(value: Any) -> str:
    return "-" if value is None else _fmt(value)


def _percent_change(value: Any) -> str:
    return f"{value:+.1%}" if isinstance(value, int | float) else "-"


def _status(passed: bool) -> Markup:
    return Markup('<span class="pass">pass</span>' if passed else '<span class="fail">FAIL</span>')


def _bad_if_positive(value: Any) -> Any:
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return Markup(f'<span class="fail">{esc(_fmt(value))}</span>')
    return value


def _td(value: Any, *, numeric: bool = False, span: str = "") -> str:
    text = str(value) if isinstance(value, Markup) else esc(_fmt(value))
    numeric = numeric or (isinstance(value, int | float) and not isinstance(value, bool))
    return f"<td{span}{' class=num' if numeric else ''}>{text}</td>"


def _table(headers: Sequence[str], rows: Iterable[Sequence[Any]], numeric_from: int = -1) -> str:
    """A table; numbers are right-aligned (and every column from ``numeric_from`` on)."""
    head = "".join(
        f"<th{' class=num' if 0 <= numeric_from <= i else ''}>{esc(text)}</th>"
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
        f"<tr><th>{esc(name)}</th><td>{esc(_fmt(value))}</td></tr>\n" for name, value in facts
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
