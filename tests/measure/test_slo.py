"""SLOs, baseline regressions and the verdict (harness/measure/slo.py, baseline.py,
verdict.py), on summaries shaped as docs/summary-schema.md describes them."""

from __future__ import annotations

import copy
import json
import operator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from support.summaries import empty_summary, usage_of
from support.typed import mismatches

from harness.errors import ConfigurationError
from harness.measure.baseline import (
    LATENCY_NOISE_FLOOR_MS,
    RATE_NOISE_FLOOR,
    compare_to_baseline,
    load_baseline,
    parse_max_regression,
)
from harness.measure.schema import DELIVERY_FIGURES, LATENCY_STATS, METRICS, Summary
from harness.measure.slo import (
    OPERATORS,
    RATIOS,
    RUN_COUNTS,
    Slo,
    evaluate_slos,
    load_slo_file,
    parse_slo,
)
from harness.measure.verdict import EXIT_REGRESSION, EXIT_SLO, verdict

ROOMS = "/default/room-{1..20}"
LOBBY = "/default/lobby"
SETTINGS = settings(max_examples=300, deadline=None)
RESULT_KEYS = {"slo", "figure", "where", "observed", "threshold", "unit", "passed", "detail"}
PY_OPERATORS = {
    "<=": operator.le,
    "<": operator.lt,
    ">=": operator.ge,
    ">": operator.gt,
    "==": operator.eq,
}


def latency(p50: float, p99: float, **overrides: float) -> dict[str, float]:
    figures = {
        "count": 100,
        "min": 0.5,
        "mean": p50,
        "p50": p50,
        "p90": (p50 + p99) / 2,
        "p99": p99,
        "p99.9": p99 + 1,
        "max": p99 + 2,
    }
    figures.update(overrides)
    return figures


def accounts(**counts: int) -> dict[str, int]:
    base = dict.fromkeys(DELIVERY_FIGURES, 0)
    base.update(counts)
    return base


def make_summary() -> dict[str, Any]:
    """A clean run: every SLO one would write for it holds."""
    summary: dict[str, Any] = empty_summary()
    summary["totals"]["requests"] = {"connect": {"count": 20, "failures": 0}}
    summary["totals"]["events"] = accounts(published=120, delivered=480)
    summary["latency"] = {
        "deliver": {
            "overall": latency(2.0, 3.1),
            "templates": {ROOMS: latency(2.0, 3.5), LOBBY: latency(1.0, 2.0)},
            "channels": {"/default/room-1": latency(2.0, 3.0)},
        },
        "connect": {
            "overall": latency(10.0, 20.0),
            "templates": {"/event/realtime": latency(10.0, 20.0)},
            "channels": {},
        },
    }
    summary["delivery"].update(
        overall=accounts(published=120, delivered=480),
        templates={
            ROOMS: accounts(published=100, delivered=400),
            LOBBY: accounts(published=20, delivered=80),
        },
    )
    summary["resilience"]["policies"] = [
        {
            "kind": "reconnect",
            "policy": "exponential:base=100ms,cap=2s",
            "losses": 10,
            "attempts": 12,
            "conforming": 12,
            "conformance": 1.0,
            "violations": [],
            "recoveries": 10,
            "recovery_s": {"p50": 0.1, "p90": 0.2, "p99": 0.3, "max": 0.3},
            "give_ups": {},
            "herd": None,
        },
    ]
    summary["resilience"]["cleanup"]["users_checked"] = 20
    summary["resilience"]["server"] = {
        "open_connections": 0,
        "live_subscriptions": 0,
        "backoff": {"checked": 0, "conforming": 0, "conformance": None, "violations": []},
    }
    return summary


def test_the_clean_run_has_the_schemas_shape() -> None:
    assert mismatches(make_summary(), Summary) == []


def evaluate(text: str, summary: dict[str, Any]) -> list[dict[str, Any]]:
    outcome = evaluate_slos([parse_slo(text)], summary)
    assert outcome["passed"] == all(result["passed"] for result in outcome["results"])
    return outcome["results"]


def only(results: list[dict[str, Any]]) -> dict[str, Any]:
    assert len(results) == 1, results
    return results[0]


def reason_of(call: Any) -> ConfigurationError:
    with pytest.raises(ConfigurationError) as caught:
        call()
    return caught.value


# -- parsing -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "figure", "op", "threshold", "unit"),
    [
        ("delivery.p99<=250ms", "deliver.p99", "<=", 250.0, "ms"),
        ("connect.p99.9<2s", "connect.p99.9", "<", 2000.0, "ms"),
        ("lost==0", "lost", "==", 0.0, "count"),
        ("errors.rate<0.1%", "errors.rate", "<", 0.001, "ratio"),
        ("leaks==0", "leaks", "==", 0.0, "count"),
        ("backoff.conformance>=99%", "backoff.conformance", ">=", 0.99, "ratio"),
        ("http_publish.max>1500us", "http_publish.max", ">", 1.5, "ms"),
        ("reconnect.mean<=1.5m", "reconnect.mean", "<=", 90000.0, "ms"),
        ("unsubscribe.min>=.5s", "unsubscribe.min", ">=", 500.0, "ms"),
        ("subscribe.p50<=0.25ms", "subscribe.p50", "<=", 0.25, "ms"),
        ("publish.p90<=40ms", "publish.p90", "<=", 40.0, "ms"),
        ("give_ups<=3", "give_ups", "<=", 3.0, "count"),
        ("errors<10", "errors", "<", 10.0, "count"),
        ("lost.rate<=0.001", "lost.rate", "<=", 0.001, "ratio"),
        ("errors.rate<=100%", "errors.rate", "<=", 1.0, "ratio"),
        ("errors.rate<=1", "errors.rate", "<=", 1.0, "ratio"),
        ("delivered>=1000", "delivered", ">=", 1000.0, "count"),
        ("usage.outbound_units<=5000", "usage.outbound_units", "<=", 5000.0, "count"),
        ("quota.headroom>=50%", "quota.headroom", ">=", 0.5, "ratio"),
        ("Quota.Headroom > 0", "quota.headroom", ">", 0.0, "ratio"),
    ],
)
def test_parse_reads_each_kind_of_figure(
    text: str, figure: str, op: str, threshold: float, unit: str
) -> None:
    assert parse_slo(text) == Slo(text, figure, op, threshold, unit)


def test_parse_allows_spaces_and_keeps_the_text_as_written() -> None:
    slo = parse_slo("  Delivery.P99  <=  250 ms \n")
    assert slo == Slo("Delivery.P99  <=  250 ms", "deliver.p99", "<=", 250.0, "ms")


@pytest.mark.parametrize("op", OPERATORS)
def test_parse_reads_every_operator(op: str) -> None:
    assert parse_slo(f"lost {op} 2").op == op


@pytest.mark.parametrize(
    ("percent", "fraction"),
    [("0.1%", "0.001"), ("99%", "0.99"), ("100%", "1"), ("0%", "0"), ("12.5%", ".125")],
)
def test_a_percent_and_its_fraction_are_the_same_threshold(percent: str, fraction: str) -> None:
    assert (
        parse_slo(f"errors.rate<{percent}").threshold
        == parse_slo(f"errors.rate<{fraction}").threshold
    )


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("stat", LATENCY_STATS)
def test_every_latency_figure_parses(metric: str, stat: str) -> None:
    slo = parse_slo(f"{metric}.{stat}<=1s")
    assert (slo.figure, slo.unit, slo.threshold) == (f"{metric}.{stat}", "ms", 1000.0)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "an SLO is empty: expected FIGURE OP VALUE"),
        ("   ", "an SLO is empty"),
        ("deliver.p99 250ms", "'deliver.p99 250ms' has no operator"),
        ("deliver.p99=<250ms", "'=<' in 'deliver.p99=<250ms' is not an operator"),
        ("lost=0", "'=' in 'lost=0' is not an operator: use one of <=, <, >=, >, =="),
        ("lost!=0", "'!=' in 'lost!=0' is not an operator"),
        ("lost<<0", "'<<' in 'lost<<0' is not an operator"),
        ("<=250ms", "'<=250ms' has no figure before <="),
        ("lost==", "'lost==' has no value after =="),
        ("latency<=2ms", "unknown figure 'latency' in 'latency<=2ms': known figures are METRIC"),
        ("foo.p99<=2ms", "unknown figure 'foo.p99'"),
        ("deliver<=2ms", "unknown figure 'deliver'"),
        ("lost.p99<=2ms", "unknown figure 'lost.p99'"),
        ("deliver.p95<=2ms", "unknown statistic 'p95' of deliver in 'deliver.p95<=2ms': use one"),
        ("delivery.p99.99<=2ms", "unknown statistic 'p99.99' of deliver"),
        ("deliver.p99<=250", "'250' in 'deliver.p99<=250' has no unit: write it with us, ms"),
        ("deliver.p99<=250h", "unit 'h' in 'deliver.p99<=250h' is not a unit of time"),
        ("deliver.p99<=250%", "unit '%' in 'deliver.p99<=250%' is not a unit of time"),
        ("deliver.p99<=fast", "'fast' in 'deliver.p99<=fast' is not a duration"),
        ("deliver.p99<=-1ms", "'-1ms' in 'deliver.p99<=-1ms' is not a duration"),
        ("deliver.p99<=1e3ms", "unit 'e3ms' in 'deliver.p99<=1e3ms' is not a unit of time"),
        ("lost==1.5", "'1.5' in 'lost==1.5' is not a whole number"),
        ("lost==1.0", "'1.0' in 'lost==1.0' is not a whole number"),
        ("lost==3ms", "'3ms' in 'lost==3ms' is not a whole number (a count takes no unit)"),
        ("lost==many", "'many' in 'lost==many' is not a whole number"),
        ("errors.rate<2", "'2' in 'errors.rate<2' is not a percent from 0% to 100%"),
        ("errors.rate<101%", "'101%' in 'errors.rate<101%' is not a percent"),
        ("errors.rate<1ms", "'1ms' in 'errors.rate<1ms' is not a percent"),
        ("errors.rate<nan", "'nan' in 'errors.rate<nan' is not a percent"),
    ],
)
def test_parse_refuses_bad_input_saying_what_is_wrong(text: str, expected: str) -> None:
    error = reason_of(lambda: parse_slo(text))
    assert error.option == "--slo"
    assert expected in error.reason


def test_an_unknown_figure_lists_the_known_ones() -> None:
    reason = reason_of(lambda: parse_slo("p99<=1ms")).reason
    for name in (*METRICS, *LATENCY_STATS, *DELIVERY_FIGURES, *RUN_COUNTS, *RATIOS):
        assert name in reason
    assert "delivery" in reason


def test_parse_errors_name_the_option_given() -> None:
    assert reason_of(lambda: parse_slo("nope", option="--slo-file")).option == "--slo-file"


LATENCY_FIGURES = [f"{metric}.{stat}" for metric in METRICS for stat in LATENCY_STATS]


@st.composite
def slos(draw: st.DrawFn) -> Slo:
    kind = draw(st.sampled_from(["ms", "count", "ratio"]))
    op = draw(st.sampled_from(OPERATORS))
    if kind == "ms":
        figure = draw(st.sampled_from(LATENCY_FIGURES))
        threshold = draw(st.floats(min_value=0, max_value=1e10, allow_nan=False))
    elif kind == "count":
        figure = draw(st.sampled_from(DELIVERY_FIGURES + RUN_COUNTS))
        threshold = float(draw(st.integers(min_value=0, max_value=2**53)))
    else:
        figure = draw(st.sampled_from(RATIOS))
        threshold = draw(st.floats(min_value=0, max_value=1))
    return Slo("", figure, op, threshold, kind)


@SETTINGS
@given(slos())
def test_parse_reads_back_the_canonical_text_of_any_slo(slo: Slo) -> None:
    text = slo.canonical_text()
    assert parse_slo(text) == Slo(text, slo.figure, slo.op, slo.threshold, slo.unit)


@SETTINGS
@given(st.integers(min_value=0, max_value=10**9), st.sampled_from(OPERATORS))
def test_the_same_duration_in_any_unit_is_the_same_threshold(count: int, op: str) -> None:
    spellings = [f"{count * 60}s", f"{count * 60_000}ms", f"{count * 60_000_000}us", f"{count}m"]
    thresholds = {parse_slo(f"deliver.p99 {op} {spelling}").threshold for spelling in spellings}
    assert thresholds == {count * 60_000.0}


# -- the SLO file --------------------------------------------------------------------------


def test_slo_file_skips_comments_and_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "slos.txt"
    path.write_text(
        "# the nightly gate\n\n   \ndelivery.p99 <= 250ms\n  # indented comment\n"
        "lost==0   # nothing may be lost\nerrors.rate<0.1%\n",
        encoding="utf-8",
    )
    assert load_slo_file(str(path)) == [
        Slo("delivery.p99 <= 250ms", "deliver.p99", "<=", 250.0, "ms"),
        Slo("lost==0", "lost", "==", 0.0, "count"),
        Slo("errors.rate<0.1%", "errors.rate", "<", 0.001, "ratio"),
    ]


def test_slo_file_names_the_file_and_line_of_a_bad_slo(tmp_path: Path) -> None:
    path = tmp_path / "slos.txt"
    path.write_text("# gate\nlost==0\n\ndeliver.p99<=250\n", encoding="utf-8")
    error = reason_of(lambda: load_slo_file(str(path)))
    assert error.option == "--slo-file"
    assert error.reason.startswith(f"{path} line 4: '250' in 'deliver.p99<=250' has no unit")


def test_slo_file_that_is_missing_is_named(tmp_path: Path) -> None:
    path = tmp_path / "absent.txt"
    error = reason_of(lambda: load_slo_file(str(path)))
    assert (error.option, error.reason) == (
        "--slo-file",
        f"cannot read {path}: No such file or directory",
    )


def test_slo_file_without_any_slo_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "slos.txt"
    path.write_text("# nothing yet\n\n", encoding="utf-8")
    assert "has no SLO" in reason_of(lambda: load_slo_file(str(path))).reason


# -- evaluation: latency ---------------------------------------------------------------------


def test_a_latency_slo_is_checked_overall_and_on_every_template() -> None:
    results = evaluate("delivery.p99<=250ms", make_summary())
    assert [(r["where"], r["observed"], r["passed"]) for r in results] == [
        ("overall", 3.1, True),
        (ROOMS, 3.5, True),
        (LOBBY, 2.0, True),
    ]
    assert all(set(result) == RESULT_KEYS for result in results)
    assert results[0] == {
        "slo": "delivery.p99<=250ms",
        "figure": "deliver.p99",
        "where": "overall",
        "observed": 3.1,
        "threshold": 250.0,
        "unit": "ms",
        "passed": True,
        "detail": "deliver.p99 is 3.1 ms overall; at most 250 ms allowed",
    }
    assert results[2]["detail"] == f"deliver.p99 is 2 ms on {LOBBY}; at most 250 ms allowed"


def test_a_template_that_breaks_the_slo_is_named() -> None:
    summary = make_summary()
    summary["latency"]["deliver"]["templates"][ROOMS]["p99"] = 412.3
    outcome = evaluate_slos([parse_slo("delivery.p99<=250ms")], summary)
    assert not outcome["passed"]
    failed = [result for result in outcome["results"] if not result["passed"]]
    assert failed == [
        {
            "slo": "delivery.p99<=250ms",
            "figure": "deliver.p99",
            "where": ROOMS,
            "observed": 412.3,
            "threshold": 250.0,
            "unit": "ms",
            "passed": False,
            "detail": f"deliver.p99 is 412.3 ms on {ROOMS}; at most 250 ms allowed (65% over)",
        }
    ]


@pytest.mark.parametrize(
    ("op", "observed", "passed"),
    [
        ("<=", 249.999, True),
        ("<=", 250.0, True),
        ("<=", 250.001, False),
        ("<", 249.999, True),
        ("<", 250.0, False),
        ("<", 250.001, False),
        (">=", 249.999, False),
        (">=", 250.0, True),
        (">=", 250.001, True),
        (">", 249.999, False),
        (">", 250.0, False),
        (">", 250.001, True),
        ("==", 249.999, False),
        ("==", 250.0, True),
        ("==", 250.001, False),
    ],
)
def test_every_operator_at_and_around_its_threshold(op: str, observed: float, passed: bool) -> None:
    summary = make_summary()
    summary["latency"]["deliver"] = {"overall": latency(1.0, observed), "templates": {}}
    assert only(evaluate(f"deliver.p99 {op} 250ms", summary))["passed"] is passed


@pytest.mark.parametrize(
    ("text", "observed", "detail"),
    [
        (
            "deliver.p99<250ms",
            250.0,
            "deliver.p99 is 250 ms overall; less than 250 ms allowed (at the limit)",
        ),
        (
            "deliver.p99>=250ms",
            200.0,
            "deliver.p99 is 200 ms overall; at least 250 ms required (20% under)",
        ),
        (
            "deliver.p99>1s",
            999.5,
            "deliver.p99 is 999.5 ms overall; more than 1000 ms required (0.05% under)",
        ),
        (
            "deliver.p99==0ms",
            2.5,
            "deliver.p99 is 2.5 ms overall; exactly 0 ms required (2.5 ms over)",
        ),
        (
            "deliver.p99<=1500us",
            1.6,
            "deliver.p99 is 1.6 ms overall; at most 1.5 ms allowed (6.7% over)",
        ),
    ],
)
def test_the_detail_says_by_how_much_a_latency_missed(
    text: str, observed: float, detail: str
) -> None:
    summary = make_summary()
    summary["latency"]["deliver"] = {"overall": latency(1.0, observed), "templates": {}}
    assert only(evaluate(text, summary))["detail"] == detail


def test_a_latency_slo_on_a_metric_without_samples_fails() -> None:
    result = only(evaluate("http_publish.p99<=250ms", make_summary()))
    assert result["observed"] is None
    assert not result["passed"]
    assert result["detail"] == (
        "http_publish.p99 has no samples overall; at most 250 ms allowed, and a run that "
        "measured nothing cannot pass"
    )


def test_a_latency_slo_fails_when_the_summary_has_no_latency_at_all() -> None:
    summary = make_summary()
    summary["latency"] = {}
    result = only(evaluate("deliver.p50<=1s", summary))
    assert (result["where"], result["observed"], result["passed"]) == ("overall", None, False)


def test_a_template_without_the_statistic_fails_on_that_template() -> None:
    summary = make_summary()
    del summary["latency"]["deliver"]["templates"][LOBBY]["p99.9"]
    results = evaluate("deliver.p99.9<=1s", summary)
    assert [(r["where"], r["passed"]) for r in results] == [
        ("overall", True),
        (ROOMS, True),
        (LOBBY, False),
    ]
    assert results[2]["detail"].startswith(f"deliver.p99.9 has no samples on {LOBBY};")


def test_a_latency_slo_reads_its_own_statistic() -> None:
    summary = make_summary()
    summary["latency"]["connect"]["templates"] = {}
    for stat, value in latency(10.0, 20.0).items():
        if stat == "count":
            continue
        assert only(evaluate(f"connect.{stat}=={value}ms", summary))["passed"], stat
        assert not only(evaluate(f"connect.{stat}=={value + 1}ms", summary))["passed"], stat


@SETTINGS
@given(
    st.floats(min_value=0, max_value=1e6, allow_nan=False),
    st.floats(min_value=0, max_value=1e6, allow_nan=False),
    st.sampled_from(OPERATORS),
)
@example(observed=1.0, threshold=1.3861599457227487e-307, op="<=")  # overflowed the "% over"
def test_a_latency_slo_passes_exactly_when_its_comparison_holds(
    observed: float, threshold: float, op: str
) -> None:
    slo = Slo("x", "deliver.p99", op, threshold, "ms")
    summary = {"latency": {"deliver": {"overall": {"p99": observed}, "templates": {}}}}
    outcome = evaluate_slos([slo], summary)
    assert outcome["passed"] is PY_OPERATORS[op](observed, threshold)
    assert outcome["results"][0]["detail"].endswith(" over)") is (
        not outcome["passed"] and observed > threshold
    )


# -- evaluation: counts and ratios -------------------------------------------------------


@pytest.mark.parametrize("figure", DELIVERY_FIGURES)
def test_every_delivery_count_is_checked_overall_and_per_template(figure: str) -> None:
    summary = make_summary()
    summary["delivery"]["overall"][figure] = 7
    summary["delivery"]["templates"][ROOMS][figure] = 6
    summary["delivery"]["templates"][LOBBY][figure] = 7
    results = evaluate(f"{figure}<=6", summary)
    assert [(r["where"], r["observed"], r["passed"]) for r in results] == [
        ("overall", 7, False),
        (ROOMS, 6, True),
        (LOBBY, 7, False),
    ]
    assert results[2]["detail"] == f"{figure} is 7 on {LOBBY}; at most 6 allowed (1 over)"


def test_lost_zero_fails_on_the_template_that_lost_events() -> None:
    summary = make_summary()
    summary["delivery"]["overall"]["lost"] = 3
    summary["delivery"]["templates"][ROOMS]["lost"] = 3
    outcome = evaluate_slos([parse_slo("lost==0")], summary)
    assert not outcome["passed"]
    assert [r["where"] for r in outcome["results"] if not r["passed"]] == ["overall", ROOMS]
    assert outcome["results"][1]["detail"] == f"lost is 3 on {ROOMS}; exactly 0 required (3 over)"


def test_a_count_below_its_minimum_says_by_how_much() -> None:
    summary = make_summary()
    result = evaluate("delivered>=450", summary)[0]
    assert result["passed"]
    result = evaluate("delivered>=500", summary)[0]
    assert result["detail"] == "delivered is 480 overall; at least 500 required (20 under)"


def test_errors_count_and_rate_come_from_the_totals() -> None:
    summary = make_summary()
    summary["totals"]["errors"] = {"count": 5, "rate": 0.0025}
    assert only(evaluate("errors<=5", summary))["passed"]
    assert only(evaluate("errors<5", summary))["observed"] == 5
    assert only(evaluate("errors.rate<=0.25%", summary))["passed"]
    result = only(evaluate("errors.rate<0.1%", summary))
    assert result == {
        "slo": "errors.rate<0.1%",
        "figure": "errors.rate",
        "where": "overall",
        "observed": 0.0025,
        "threshold": 0.001,
        "unit": "ratio",
        "passed": False,
        "detail": "errors.rate is 0.25% overall; less than 0.1% allowed "
        "(0.15 percentage points over)",
    }


def test_lost_rate_is_lost_over_delivered_plus_lost_per_template() -> None:
    summary = make_summary()
    summary["delivery"]["overall"].update(delivered=495, lost=5)
    summary["delivery"]["templates"][ROOMS].update(delivered=395, lost=5)
    summary["delivery"]["templates"][LOBBY].update(delivered=0, lost=0)
    results = evaluate("lost.rate<=1%", summary)
    assert [(r["where"], r["observed"], r["passed"]) for r in results] == [
        ("overall", 0.01, True),
        (ROOMS, 0.0125, False),
        (LOBBY, 0.0, True),
    ]
    assert results[1]["detail"] == (
        f"lost.rate is 1.25% on {ROOMS}; at most 1% allowed (0.25 percentage points over)"
    )


def test_leaks_add_client_leaks_and_what_the_server_still_holds() -> None:
    summary = make_summary()
    resilience = summary["resilience"]
    resilience["cleanup"]["leaks"] = 2
    resilience["server"].update(open_connections=1, live_subscriptions=3)
    result = only(evaluate("leaks==0", summary))
    assert (result["observed"], result["passed"]) == (6, False)
    assert result["detail"] == (
        "leaks is 6 overall (2 left by stopped clients; 1 connections and 3 subscriptions "
        "still open on the server); exactly 0 required (6 over)"
    )


def test_leaks_without_server_checks_are_the_client_leaks() -> None:
    summary = make_summary()
    summary["resilience"]["cleanup"]["leaks"] = 1
    summary["resilience"]["server"] = {"error": "admin endpoint unreachable"}
    assert only(evaluate("leaks<=1", summary))["observed"] == 1
    del summary["resilience"]["server"]
    result = only(evaluate("leaks==0", summary))
    assert result["detail"] == (
        "leaks is 1 overall (1 left by stopped clients); exactly 0 required (1 over)"
    )


def test_leaks_pass_on_a_clean_run() -> None:
    assert only(evaluate("leaks==0", make_summary()))["passed"]


def test_give_ups_sum_over_policies_and_reasons() -> None:
    summary = make_summary()
    summary["resilience"]["policies"] = [
        {
            "kind": "reconnect",
            "policy": "a",
            "attempts": 4,
            "conformance": 1.0,
            "give_ups": {"max-attempts": 2, "deadline": 1},
        },
        {
            "kind": "publish",
            "policy": "b",
            "attempts": 0,
            "conformance": None,
            "give_ups": {"not-retryable": 4},
        },
    ]
    result = only(evaluate("give_ups<=6", summary))
    assert (result["observed"], result["passed"]) == (7, False)
    summary["resilience"]["policies"] = []
    assert only(evaluate("give_ups==0", summary))["passed"]


def test_backoff_conformance_is_the_lowest_over_policies_with_attempts() -> None:
    summary = make_summary()
    summary["resilience"]["policies"] = [
        {
            "kind": "reconnect",
            "policy": "exponential:base=100ms",
            "attempts": 40,
            "conformance": 0.975,
            "give_ups": {},
        },
        {
            "kind": "publish",
            "policy": "constant:base=50ms",
            "attempts": 10,
            "conformance": 1.0,
            "give_ups": {},
        },
        {"kind": "subscribe", "policy": "off", "attempts": 0, "conformance": None, "give_ups": {}},
    ]
    result = only(evaluate("backoff.conformance>=99%", summary))
    assert (result["observed"], result["threshold"], result["passed"]) == (0.975, 0.99, False)
    assert result["detail"] == (
        "backoff.conformance is 97.5% overall (reconnect policy exponential:base=100ms, the "
        "lowest); at least 99% required (1.5 percentage points under)"
    )
    assert only(evaluate("backoff.conformance>=97.5%", summary))["passed"]


def test_backoff_conformance_is_not_applicable_when_nothing_was_retried() -> None:
    summary = make_summary()
    summary["resilience"]["policies"] = [
        {"kind": "reconnect", "policy": "a", "attempts": 0, "conformance": None, "give_ups": {}}
    ]
    result = only(evaluate("backoff.conformance>=99%", summary))
    assert (result["observed"], result["passed"]) == (None, True)
    assert result["detail"] == (
        "backoff.conformance is not applicable overall: nothing was retried (at least 99% required)"
    )


def test_backoff_conformance_ignores_a_policy_without_attempts_whatever_it_says() -> None:
    summary = make_summary()
    summary["resilience"]["policies"].append(
        {"kind": "publish", "policy": "b", "attempts": 0, "conformance": 0.0, "give_ups": {}}
    )
    assert only(evaluate("backoff.conformance>=99%", summary))["observed"] == 1.0


def test_outbound_units_are_the_usage_sections() -> None:
    summary = make_summary()
    summary["usage"] = usage_of(publishes=100, event_bytes=6000, fan_out=3)  # 2 units each
    result = only(evaluate("usage.outbound_units<=500", summary))
    assert (result["observed"], result["where"], result["passed"]) == (600, "overall", False)
    assert result["detail"] == (
        "usage.outbound_units is 600 overall; at most 500 allowed (100 over)"
    )
    assert only(evaluate("usage.outbound_units<=600", summary))["passed"]


def test_quota_headroom_is_the_share_left_of_the_nearest_quota() -> None:
    summary = make_summary()
    summary["usage"] = usage_of(connects=1_500, publishes=10, open_s=1.0)  # 75% of 2,000/s
    result = only(evaluate("quota.headroom>=50%", summary))
    assert (result["observed"], result["passed"]) == (pytest.approx(0.25), False)
    assert result["detail"] == (
        "quota.headroom is 25% overall (connect-rate, the nearest its limit); at least 50% "
        "required (25 percentage points under)"
    )
    summary["usage"] = usage_of(connects=2_500)
    result = only(evaluate("quota.headroom>=0", summary))
    assert (result["observed"], result["passed"]) == (pytest.approx(-0.25), False)
    summary["usage"] = usage_of()
    assert only(evaluate("quota.headroom==100%", summary))["passed"]


def test_all_slos_of_a_clean_run_pass_and_one_failure_fails_the_lot() -> None:
    texts = [
        "delivery.p99<=250ms",
        "connect.p99.9<2s",
        "lost==0",
        "errors.rate<0.1%",
        "leaks==0",
        "backoff.conformance>=99%",
        "give_ups==0",
        "lost.rate==0",
    ]
    slos = [parse_slo(text) for text in texts]
    outcome = evaluate_slos(slos, make_summary())
    assert outcome["passed"]
    assert [r["slo"] for r in outcome["results"]].count("delivery.p99<=250ms") == 3
    outcome = evaluate_slos([*slos, parse_slo("duplicated>0")], make_summary())
    assert not outcome["passed"]


def test_no_slos_pass() -> None:
    assert evaluate_slos([], make_summary()) == {"passed": True, "results": []}


def test_evaluation_does_not_change_the_summary() -> None:
    summary = make_summary()
    before = copy.deepcopy(summary)
    evaluate_slos([parse_slo("lost.rate<1%"), parse_slo("leaks==0")], summary)
    assert summary == before


def test_results_are_json() -> None:
    summary = make_summary()
    del summary["latency"]["connect"]
    outcome = evaluate_slos([parse_slo("connect.p99<1s"), parse_slo("lost==0")], summary)
    assert json.loads(json.dumps(outcome, allow_nan=False)) == outcome


# -- baseline ----------------------------------------------------------------------------


def write_json(path: Path, data: Any) -> str:
    path.write_text(json.dumps(data), encoding="utf-8")
    return str(path)


def test_load_baseline_reads_a_summary(tmp_path: Path) -> None:
    summary = make_summary()
    assert load_baseline(write_json(tmp_path / "summary.json", summary)) == summary


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{not json", "is not valid JSON"),
        ("\xff\xfe", "is not valid JSON"),
        ("[1, 2]", "is not a harness run summary"),
        ('{"schema": 1, "kind": "locust-stats"}', "is not a harness run summary"),
        ('{"schema": 1}', "is not a harness run summary"),
        (
            '{"schema": 2, "kind": "appsync-events-harness-summary"}',
            "is a summary of schema 2; this harness reads schema 1",
        ),
    ],
)
def test_load_baseline_refuses_what_is_not_a_summary(
    tmp_path: Path, content: str, expected: str
) -> None:
    path = tmp_path / "summary.json"
    path.write_bytes(content.encode("latin-1"))
    error = reason_of(lambda: load_baseline(str(path)))
    assert error.option == "--baseline"
    assert error.reason.startswith(str(path))
    assert expected in error.reason


def test_load_baseline_names_a_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nightly" / "summary.json"
    error = reason_of(lambda: load_baseline(str(path)))
    assert (error.option, error.reason) == (
        "--baseline",
        f"cannot read {path}: No such file or directory",
    )


@pytest.mark.parametrize(
    ("text", "value"),
    [("10%", 0.1), ("0.1", 0.1), (" 5 % ", 0.05), ("150%", 1.5), ("1", 1.0), (".25", 0.25)],
)
def test_max_regression_reads_a_percent_or_a_fraction(text: str, value: float) -> None:
    assert parse_max_regression(text) == value


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", "is not a percent such as 10% or a fraction such as 0.1, above 0"),
        ("0%", "above 0"),
        ("-5%", "above 0"),
        ("ten", "above 0"),
        ("10ms", "above 0"),
        ("", "above 0"),
        ("10", "'10' is a fraction above 1; write 10% for a percent"),
    ],
)
def test_max_regression_refuses_bad_values(text: str, expected: str) -> None:
    error = reason_of(lambda: parse_max_regression(text))
    assert error.option == "--max-regression"
    assert expected in error.reason


def lean_summary(
    deliver: dict[str, dict[str, float]] | None = None,
    errors_rate: float = 0.0,
    delivery: dict[str, dict[str, int]] | None = None,
) -> dict[str, Any]:
    """Only what the comparison reads: deliver's overall p50..p99.9 and templates."""
    deliver = deliver if deliver is not None else {"overall": 10.0}
    entries = {where: {"p50": v, "p90": v, "p99": v, "p99.9": v} for where, v in deliver.items()}
    summary: dict[str, Any] = {
        "latency": {
            "deliver": {
                "overall": entries.pop("overall"),
                "templates": entries,
            }
        },
        "totals": {"errors": {"count": 0, "rate": errors_rate}},
    }
    if delivery is not None:
        summary["delivery"] = {
            "overall": delivery.pop("overall"),
            "templates": delivery,
        }
    return summary


def compare(now: dict[str, Any], before: dict[str, Any], max_regression: float = 0.1) -> Any:
    return compare_to_baseline(
        now, before, max_regression=max_regression, path="nightly/last/summary.json"
    )


def test_a_real_regression_is_flagged_with_its_figure_place_and_change() -> None:
    before = make_summary()
    now = make_summary()
    now["latency"]["deliver"]["templates"][ROOMS]["p99"] = 5.0  # 3.5 -> 5.0: +43 %, +1.5 ms
    outcome = compare(now, before)
    assert outcome == {
        "path": "nightly/last/summary.json",
        "max_regression": 0.1,
        "passed": False,
        "compared": outcome["compared"],
        "regressions": [
            {
                "figure": "deliver.p99",
                "where": ROOMS,
                "baseline": 3.5,
                "observed": 5.0,
                "change": 0.4286,
                "unit": "ms",
            }
        ],
    }


def test_the_same_run_does_not_regress_and_every_figure_is_compared() -> None:
    summary = make_summary()
    outcome = compare(summary, copy.deepcopy(summary))
    # deliver: overall + 2 templates, connect: overall + 1 template; 4 percentiles each;
    # errors.rate overall; lost.rate overall + 2 templates.
    assert outcome == {
        "path": "nightly/last/summary.json",
        "max_regression": 0.1,
        "passed": True,
        "compared": (3 + 2) * 4 + 1 + 3,
        "regressions": [],
    }


def test_an_improvement_is_not_a_regression() -> None:
    before = lean_summary({"overall": 40.0, ROOMS: 40.0}, errors_rate=0.05)
    now = lean_summary({"overall": 10.0, ROOMS: 4.0}, errors_rate=0.0)
    outcome = compare(now, before)
    assert (outcome["passed"], outcome["regressions"], outcome["compared"]) == (True, [], 9)


def test_a_change_within_the_allowed_regression_is_not_flagged() -> None:
    before = lean_summary({"overall": 10.0})
    assert compare(lean_summary({"overall": 15.0}), before, max_regression=0.5)["passed"]
    outcome = compare(lean_summary({"overall": 15.001}), before, max_regression=0.5)
    assert [(r["figure"], r["change"]) for r in outcome["regressions"]] == [
        ("deliver.p50", 0.5001),
        ("deliver.p90", 0.5001),
        ("deliver.p99", 0.5001),
        ("deliver.p99.9", 0.5001),
    ]


def test_sub_millisecond_wobble_is_below_the_noise_floor() -> None:
    assert LATENCY_NOISE_FLOOR_MS == 1.0
    before = lean_summary({"overall": 0.2})
    assert compare(lean_summary({"overall": 1.19}), before)["passed"]  # +495 %, +0.99 ms
    outcome = compare(lean_summary({"overall": 1.2}), before)  # +500 %, +1.0 ms
    assert [r["change"] for r in outcome["regressions"]] == [5.0] * 4


@SETTINGS
@given(
    st.floats(min_value=0, max_value=1e6, allow_nan=False),
    st.floats(min_value=0, max_value=1e6, allow_nan=False),
    st.floats(min_value=0.001, max_value=2),
)
def test_a_latency_regresses_exactly_when_worse_by_the_share_and_the_floor(
    before: float, after: float, max_regression: float
) -> None:
    outcome = compare(
        lean_summary({"overall": after}), lean_summary({"overall": before}), max_regression
    )
    flagged = after > before * (1 + max_regression) and after - before >= 1.0
    assert len(outcome["regressions"]) == (4 if flagged else 0)
    assert outcome["passed"] is not flagged
    assert json.loads(json.dumps(outcome, allow_nan=False)) == outcome


def test_a_change_from_a_baseline_near_zero_is_not_infinite() -> None:
    outcome = compare(lean_summary({"overall": 5.0}), lean_summary({"overall": 5e-324}))
    assert [r["change"] for r in outcome["regressions"]] == [None] * 4


def test_the_min_mean_and_max_are_not_compared() -> None:
    before = lean_summary({"overall": 10.0})
    now = copy.deepcopy(before)
    now["latency"]["deliver"]["overall"].update(min=100.0, mean=100.0, max=100.0)
    before["latency"]["deliver"]["overall"].update(min=1.0, mean=1.0, max=1.0)
    assert compare(now, before)["passed"]


def test_metrics_and_templates_in_only_one_run_are_skipped() -> None:
    before = lean_summary({"overall": 10.0, ROOMS: 10.0})
    now = lean_summary({"overall": 10.0, LOBBY: 500.0})
    now["latency"]["connect"] = {"overall": {"p50": 900.0, "p99": 900.0}, "templates": {}}
    before["latency"]["subscribe"] = {"overall": {"p50": 1.0}, "templates": {}}
    outcome = compare(now, before)
    assert (outcome["passed"], outcome["compared"]) == (True, 4 + 1)


def test_a_percentile_missing_in_one_run_is_skipped() -> None:
    before = lean_summary({"overall": 10.0})
    now = lean_summary({"overall": 50.0})
    del before["latency"]["deliver"]["overall"]["p99.9"]
    outcome = compare(now, before)
    assert outcome["compared"] == 3 + 1
    assert [r["figure"] for r in outcome["regressions"]] == [
        "deliver.p50",
        "deliver.p90",
        "deliver.p99",
    ]


def test_an_error_rate_regression_is_flagged_and_from_zero_has_no_relative_change() -> None:
    outcome = compare(lean_summary(errors_rate=0.004), lean_summary(errors_rate=0.002))
    assert outcome["regressions"] == [
        {
            "figure": "errors.rate",
            "where": "overall",
            "baseline": 0.002,
            "observed": 0.004,
            "change": 1.0,
            "unit": "ratio",
        }
    ]
    outcome = compare(lean_summary(errors_rate=0.01), lean_summary(errors_rate=0.0))
    assert outcome["regressions"][0]["change"] is None


def test_a_rate_change_below_a_tenth_of_a_percent_is_noise() -> None:
    assert RATE_NOISE_FLOOR == 0.001
    assert compare(lean_summary(errors_rate=0.0009), lean_summary(errors_rate=0.0))["passed"]
    assert not compare(lean_summary(errors_rate=0.001), lean_summary(errors_rate=0.0))["passed"]


def test_lost_rate_regressions_are_found_per_template() -> None:
    before = lean_summary(
        delivery={
            "overall": accounts(delivered=1000, lost=0),
            ROOMS: accounts(delivered=500, lost=0),
            LOBBY: accounts(delivered=500, lost=0),
        }
    )
    now = lean_summary(
        delivery={
            "overall": accounts(delivered=998, lost=2),
            ROOMS: accounts(delivered=498, lost=2),
            LOBBY: accounts(delivered=500, lost=0),
        }
    )
    outcome = compare(now, before)
    assert [(r["figure"], r["where"], r["observed"]) for r in outcome["regressions"]] == [
        ("lost.rate", "overall", 0.002),
        ("lost.rate", ROOMS, 0.004),
    ]
    assert outcome["compared"] == 4 + 1 + 3


def test_a_comparison_is_json() -> None:
    outcome = compare(lean_summary(errors_rate=0.01), lean_summary(errors_rate=0.0))
    assert json.loads(json.dumps(outcome, allow_nan=False)) == outcome


# -- verdict -----------------------------------------------------------------------------


def judged(
    slo_failures: list[str] | None = None, regressions: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    results = [{"slo": "x", "passed": True, "detail": "fine"}]
    results += [{"slo": "x", "passed": False, "detail": d} for d in slo_failures or []]
    return {
        "slo": {"passed": not slo_failures, "results": results},
        "baseline": None
        if regressions is None
        else {
            "path": "b.json",
            "max_regression": 0.1,
            "passed": not regressions,
            "compared": 10,
            "regressions": regressions,
        },
    }


REGRESSION = {
    "figure": "deliver.p99",
    "where": ROOMS,
    "baseline": 3.0,
    "observed": 4.2,
    "change": 0.4,
    "unit": "ms",
}
REGRESSION_REASON = (
    f"deliver.p99 on {ROOMS} regressed from 3 ms to 4.2 ms (+40%; at most +10% allowed)"
)


def judge(summary: dict[str, Any], locust_exit_code: int) -> Any:
    """The verdict of a summary with SLO results and perhaps a baseline comparison."""
    return verdict(summary["slo"], summary["baseline"], None, locust_exit_code)


def test_exit_codes_are_documented_values() -> None:
    assert (EXIT_SLO, EXIT_REGRESSION) == (3, 4)


def test_a_clean_run_exits_with_locusts_code() -> None:
    assert judge(judged(regressions=[]), 0) == {"exit_code": 0, "reasons": []}
    assert judge(judged(), 0) == {"exit_code": 0, "reasons": []}


@pytest.mark.parametrize(
    ("code", "reason"),
    [(1, "Locust's exit code is 1: some requests failed"), (2, "Locust's exit code is 2")],
)
def test_locusts_own_code_is_kept_when_nothing_else_failed(code: int, reason: str) -> None:
    assert judge(judged(regressions=[]), code) == {"exit_code": code, "reasons": [reason]}


def test_a_regression_exits_4_over_locusts_code() -> None:
    for code in (0, 1):
        outcome = judge(judged(regressions=[REGRESSION]), code)
        assert outcome["exit_code"] == EXIT_REGRESSION
        assert outcome["reasons"][0] == REGRESSION_REASON


def test_a_failed_slo_exits_3_over_a_regression_and_locusts_code() -> None:
    outcome = judge(judged(["lost is 3 overall; exactly 0 required (3 over)"], [REGRESSION]), 1)
    assert outcome == {
        "exit_code": EXIT_SLO,
        "reasons": [
            "lost is 3 overall; exactly 0 required (3 over)",
            REGRESSION_REASON,
            "Locust's exit code is 1: some requests failed",
        ],
    }


def test_a_regression_of_a_rate_from_zero_is_worded() -> None:
    regression = {
        "figure": "errors.rate",
        "where": "overall",
        "baseline": 0.0,
        "observed": 0.005,
        "change": None,
        "unit": "ratio",
    }
    assert judge(judged(regressions=[regression]), 0)["reasons"] == [
        "errors.rate overall regressed from 0% to 0.5% (from zero; at most +10% allowed)"
    ]


def test_the_verdict_of_a_whole_run() -> None:
    """Parse, evaluate, compare and judge one run the way the end-of-run hook does."""
    before = make_summary()
    now = make_summary()
    now["latency"]["deliver"]["templates"][ROOMS]["p99"] = 412.3
    now["latency"]["deliver"]["templates"][ROOMS]["p99.9"] = 413.3
    now["slo"] = evaluate_slos([parse_slo("delivery.p99<=250ms")], now)
    now["baseline"] = compare(now, before)
    outcome = judge(now, 0)
    assert outcome["exit_code"] == EXIT_SLO
    assert outcome["reasons"][0] == (
        f"deliver.p99 is 412.3 ms on {ROOMS}; at most 250 ms allowed (65% over)"
    )
    assert [reason.split(" regressed")[0] for reason in outcome["reasons"][1:]] == [
        f"deliver.p99 on {ROOMS}",
        f"deliver.p99.9 on {ROOMS}",
    ]
    now["slo"] = evaluate_slos([parse_slo("delivery.p99<=500ms")], now)
    assert judge(now, 0)["exit_code"] == EXIT_REGRESSION
