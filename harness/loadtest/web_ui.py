"""The harness in Locust's web UI: live tabs, its own page, JSON endpoints, reports, metrics.

:func:`install_web_ui` uses Locust's own extension points (``environment.web_ui``):

- four tabs in Locust's page (``extended_tabs`` and ``extended_tables``), fed by
  an ``extended_stats`` entry added to each ``/stats/requests`` answer: *Harness
  channels*, *Harness resilience*, *Harness SLOs*, *Harness usage* (what AWS meters,
  the quotas, the estimated cost);
- links in Locust's *Download Data* tab (``extended_csv_files``) to the harness
  page and to the last run's report files;
- a Flask blueprint under ``/harness/``: the harness page (charts drawn on the
  server by :mod:`harness.report.charts`, no script from the network) and the
  JSON endpoints it reads (docs/web-ui.md lists them);
- with ``--prometheus``, ``/metrics`` in the Prometheus exposition format; with
  ``--prometheus-port``, :func:`serve_metrics` serves it on a port of its own,
  in headless runs too.

Every view reads one :class:`~harness.loadtest.live.LiveFigures` snapshot, so
any number of browsers and scrapers cost one summary per refresh.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Flask, Response, abort, request, send_from_directory
from gevent.pywsgi import WSGIServer
from jinja2 import Environment, PackageLoader, select_autoescape

from harness.emulator.admin_client import AdminClient, AdminError
from harness.errors import ConfigurationError
from harness.loadtest.live import LiveFigures, LiveSnapshot
from harness.loadtest.pausing import let_users_run
from harness.loadtest.settings import EmbeddedEmulator
from harness.loadtest.state import run_state
from harness.measure.latency import LatencyTimeline
from harness.report.live_charts import LiveCharts
from harness.report.live_tables import (
    CHANNEL_COLUMNS,
    POLICY_COLUMNS,
    SLO_COLUMNS,
    channel_rows,
    locust_structure,
    policy_rows,
    slo_rows,
    verdict_row,
)
from harness.report.prometheus import CONTENT_TYPE, exposition
from harness.report.usage import USAGE_COLUMNS, usage_view

logger = logging.getLogger("harness")
View = Callable[..., Response]

TABS = (
    ("harness-channels", "Harness channels", CHANNEL_COLUMNS),
    ("harness-resilience", "Harness resilience", POLICY_COLUMNS),
    ("harness-slos", "Harness SLOs", SLO_COLUMNS),
    ("harness-usage", "Harness usage", USAGE_COLUMNS),
)
CHART_METRICS = ("deliver", "publish", "subscribe", "connect", "http_publish", "reconnect")
_templates = Environment(
    loader=PackageLoader("harness.report", "templates"), autoescape=select_autoescape()
)


class HarnessViews:
    """What the views show, built once per live snapshot."""

    def __init__(self, environment: Any) -> None:
        self.environment = environment
        self.live = LiveFigures(environment)
        self._built_for: LiveSnapshot | None = None
        self._views: dict[str, Any] = {}
        self.charts = LiveCharts()
        self._charts_for: LiveSnapshot | None = None
        self._drawn: dict[tuple[str, str, str], str] = {}
        self._metrics_for: LiveSnapshot | None = None
        self._metrics = b""

    def views(self) -> dict[str, Any]:
        """The page's JSON: the live block, every table, cleanup, emulator, workers, reports."""
        snapshot = self.live.snapshot()
        if snapshot is None:
            return {"live": {"state": "ready", "final": False}, "summary": None}
        if snapshot is not self._built_for:
            self._views = self._build(snapshot)
            self._built_for = snapshot
        return {**self._views, "live": snapshot.describe()}  # its age as of now

    def _build(self, snapshot: LiveSnapshot) -> dict[str, Any]:
        summary = snapshot.summary
        resilience = summary["resilience"]
        views: dict[str, Any] = {
            "run": summary["run"],
            "totals": summary["totals"],
            "verdict": summary["verdict"],
            "channels": channel_rows(summary, self.timeline()),
            "channels_total": summary["delivery"]["channels_total"],
            "policies": policy_rows(summary),
            "cleanup": resilience["cleanup"],
            "server": resilience.get("server"),
            "emulator": self.emulator_now(),
            "slos": [*slo_rows(summary), verdict_row(summary)],
            "usage": usage_view(summary["usage"]),
            "workers": summary["workers"],
            "reports": self.report_files(),
            "summary": summary,
        }
        rows = {
            "harness-channels": views["channels"],
            "harness-resilience": views["policies"],
            "harness-slos": views["slos"],
            "harness-usage": views["usage"]["rows"],
        }
        views["extended_stats"] = [{"key": key, "data": _display(rows[key])} for key, _, _ in TABS]
        return views

    def chart(self, kind: str, metric: str, channel: str = "") -> str:
        """A chart of the snapshot's run, drawn once per snapshot (``over-time`` or
        ``percentiles``)."""
        snapshot = self.live.snapshot()
        if snapshot is None:
            return ""
        if snapshot is not self._charts_for:
            self._charts_for, self._drawn = snapshot, {}
        key = (kind, metric, channel)
        drawn = self._drawn.get(key)
        if drawn is None:
            timeline = self.timeline()
            if kind == "over-time":
                duration_s = snapshot.summary["run"]["duration_s"]
                drawn = self.charts.over_time(timeline, metric, duration_s, let_users_run)
            else:
                drawn = self.charts.percentiles(timeline, metric, channel, let_users_run)
            self._drawn[key] = drawn
        return drawn

    def metrics(self) -> bytes:
        """The snapshot as Prometheus text, rendered once per snapshot (empty before a run)."""
        snapshot = self.live.snapshot()
        if snapshot is None:
            return b""
        if snapshot is not self._metrics_for:
            views = self.views()
            text = exposition(
                snapshot.summary, self.timeline(), views.get("emulator"), let_users_run
            )
            self._metrics_for, self._metrics = snapshot, text
        return self._metrics

    def timeline(self) -> LatencyTimeline:
        return run_state(self.environment).results.timeline

    def emulator_now(self) -> dict[str, Any] | None:
        """The embedded emulator's counts now (none against a real API)."""
        emulator = EmbeddedEmulator.of(self.environment.parsed_options)
        if emulator is None:
            return None
        try:
            stats = AdminClient(emulator.admin_url, emulator.ca_file).stats(
                attempts_since=2**62  # counts only, not the attempt log
            )
        except AdminError as exc:
            return {"error": str(exc)}
        return {
            "open_connections": stats["connections"]["open"],
            "live_subscriptions": stats["subscriptions"]["live"],
            "connections_accepted": stats["connections"]["accepted"],
            "disconnects": stats["connections"]["disconnects"],
            "events_published": stats["publishes"]["events"],
            "publishes_throttled": stats["publishes"]["throttled"],
            "deliveries_sent": stats["deliveries"]["sent"],
            "deliveries_dropped": stats["deliveries"]["dropped"],
        }

    def report_files(self) -> list[dict[str, str]]:
        """The last run's report files, once written."""
        return [
            {"name": path.name, "href": f"reports/{path.name}"}
            for path in run_state(self.environment).reports
        ]

    def extended_stats(self) -> list[dict[str, Any]]:
        """Locust's ``extended_stats``: the rows of each harness tab."""
        return self.views().get("extended_stats") or [
            {"key": key, "data": []} for key, _, _ in TABS
        ]


def install_web_ui(environment: Any, web_ui: Any) -> HarnessViews:
    """Add the harness's tabs, page, endpoints and (``--prometheus``) ``/metrics``."""
    views = HarnessViews(environment)
    web_ui.template_args["extended_tabs"] = [{"key": key, "title": title} for key, title, _ in TABS]
    web_ui.template_args["extended_tables"] = [
        {"key": key, "structure": locust_structure(columns)} for key, _, columns in TABS
    ]
    web_ui.template_args["extended_csv_files"] = [
        {"href": "./harness/", "title": "Harness live view (charts, resilience, reports)"},
        {"href": "./harness/reports/summary.json", "title": "Harness summary.json (last run)"},
        {"href": "./harness/reports/report.html", "title": "Harness report.html (last run)"},
    ]
    web_ui.app.register_blueprint(_blueprint(views, web_ui.auth_required_if_enabled))

    def add_extended_stats(response: Response) -> Response:
        if request.path != "/stats/requests" or response.status_code != 200:
            return response
        answer = response.get_json(silent=True)
        if isinstance(answer, dict):
            answer["extended_stats"] = views.extended_stats()
            response.set_data(json.dumps(answer))
        return response

    web_ui.app.after_request(add_extended_stats)

    if getattr(environment.parsed_options, "prometheus", False):
        web_ui.app.add_url_rule(
            "/metrics", "harness_metrics", web_ui.auth_required_if_enabled(views_metrics(views))
        )
    return views


def views_metrics(views: HarnessViews) -> View:
    """The ``/metrics`` view: the live figures as Prometheus text (empty before a run)."""

    def metrics() -> Response:
        return Response(views.metrics(), content_type=CONTENT_TYPE)

    return metrics


def _blueprint(views: HarnessViews, guard: Any) -> Blueprint:
    blueprint = Blueprint("harness", __name__, url_prefix="/harness")

    def route(rule: str) -> Callable[[View], View]:
        def register(view: View) -> View:
            blueprint.add_url_rule(rule, view.__name__, guard(view))
            return view

        return register

    @route("/")
    def page() -> Response:
        html = _templates.get_template("live.html.j2").render(
            channel_columns=CHANNEL_COLUMNS,
            policy_columns=POLICY_COLUMNS,
            slo_columns=SLO_COLUMNS,
            usage_columns=USAGE_COLUMNS,
        )
        return Response(html, mimetype="text/html")

    @route("/api/live")
    def live() -> Response:
        answer = views.views()
        answer.pop("summary", None)  # /harness/api/summary has it
        answer.pop("extended_stats", None)  # Locust's tabs have them
        return _json(answer)

    @route("/api/summary")
    def summary() -> Response:
        answer = views.views()
        return _json({"live": answer["live"], "summary": answer.get("summary")})

    @route("/api/channels")
    def channels() -> Response:
        return _json(_part(views, "channels", "channels_total"))

    @route("/api/resilience")
    def resilience() -> Response:
        return _json(_part(views, "policies", "cleanup", "server", "emulator"))

    @route("/api/slo")
    def slo() -> Response:
        return _json(_part(views, "slos", "verdict"))

    @route("/api/usage")
    def usage() -> Response:
        return _json(_part(views, "usage"))

    @route("/api/chart/over-time")
    def over_time() -> Response:
        return Response(views.chart("over-time", _metric()), mimetype="text/html")

    @route("/api/chart/percentiles")
    def percentiles() -> Response:
        channel = request.args.get("channel", "")
        return Response(views.chart("percentiles", _metric(), channel), mimetype="text/html")

    @route("/reports/")
    def report_list() -> Response:
        return _json({"reports": views.report_files()})

    @route("/reports/<name>")
    def report_file(name: str) -> Response:
        reports = run_state(views.environment).reports
        for path in reports:
            if path.name == name:
                return send_from_directory(path.parent, path.name, as_attachment=True)
        abort(404, description=f"{name}: no such report of the last run (is it over?)")

    return blueprint


def _metric() -> str:
    metric = request.args.get("metric", "deliver")
    if metric not in CHART_METRICS:
        abort(400, description=f"metric must be one of {', '.join(CHART_METRICS)}")
    return metric


def _part(views: HarnessViews, *keys: str) -> dict[str, Any]:
    answer = views.views()
    return {"live": answer["live"], **{key: answer.get(key) for key in keys}}


def _json(data: Any) -> Response:
    return Response(json.dumps(data, default=str), mimetype="application/json")


def _display(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows for Locust's tables: empty cells instead of nulls."""
    return [{key: ("" if value is None else value) for key, value in row.items()} for row in rows]


def serve_metrics(views: HarnessViews, port: int) -> WSGIServer:
    """Serve ``/metrics`` on 127.0.0.1:``port`` (``--prometheus-port``), in any run;
    raises :class:`ConfigurationError` when the port cannot be had."""
    app = Flask("harness_metrics")
    app.add_url_rule("/metrics", "metrics", views_metrics(views))
    server = WSGIServer(("127.0.0.1", port), app, log=None, error_log=logger)
    try:
        server.start()
    except OSError as exc:
        raise ConfigurationError(
            "--prometheus-port", f"cannot listen on 127.0.0.1:{port}: {exc.strerror or exc}"
        ) from None
    logger.info("Prometheus metrics at http://127.0.0.1:%d/metrics", server.server_port)
    return server
