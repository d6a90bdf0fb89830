"""The per-channel view of a run, shared by ``channels.csv`` and ``report.html``: each
channel with its template, its latency figures per metric, and its delivery account."""

from __future__ import annotations

from dataclasses import dataclass

from harness.errors import HarnessError
from harness.measure.latency import LatencyTimeline
from harness.measure.schema import DeliveryFigures, LatencyFigures, Summary, metric_order
from harness.workload.channels import parse_channel_templates


@dataclass(frozen=True)
class ChannelView:
    """One channel: its template, ``(metric, figures)`` in metric order, its account."""

    channel: str
    template: str
    latency: list[tuple[str, LatencyFigures]]
    delivery: DeliveryFigures | None


def channel_views(summary: Summary, timeline: LatencyTimeline) -> list[ChannelView]:
    """Every channel with figures, by name."""
    latency: dict[str, list[tuple[str, LatencyFigures]]] = {}
    for metric in sorted(summary["latency"], key=metric_order):
        for channel, figures in summary["latency"][metric]["channels"].items():
            latency.setdefault(channel, []).append((metric, figures))
    delivery = summary["delivery"]["channels"]
    template_of = TemplateLookup(summary, timeline)
    return [
        ChannelView(channel, template_of(channel), latency.get(channel, []), delivery.get(channel))
        for channel in sorted(set(latency) | set(delivery))
    ]


class TemplateLookup:
    """A channel's template: as the histograms know it, else by expanding the summary's
    template names (a channel with delivery figures but no latency sample); else empty."""

    def __init__(self, summary: Summary, timeline: LatencyTimeline) -> None:
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
        for section in self._summary["latency"].values():
            names.update(section["templates"])
        names.update(self._summary["delivery"]["templates"])
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
