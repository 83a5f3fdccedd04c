"""The Grafana dashboard (deploy/grafana/rtq-dashboard.json): what Grafana needs to import it
(panels with targets, a Prometheus datasource variable, a grid without overlaps), queries
promtool parses, and only metrics rtq exports."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.deploy.exported_metrics import exported_families, known_metrics, metric_names
from tests.deploy.test_alert_rules import promtool
from worker.ops import metrics

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "rtq-dashboard.json"
# What an operator looks at first, as the issue lists it.
SHOWN = {"rtq_queue_lane_depth", "rtq_jobs_running", "rtq_jobs_parked",
         "rtq_oldest_waiting_age_seconds", "rtq_job_latency_seconds_bucket", "rtq_jobs_total",
         "rtq_x_calls_total", "rtq_dead_letters", "rtq_workers_alive", "rtq_accounts",
         "rtq_apps", "rtq_breaker_state"}


def dashboard() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return document


def panels() -> list[dict[str, Any]]:
    return [panel for panel in dashboard()["panels"] if panel["type"] != "row"]


def expressions() -> list[str]:
    return [target["expr"] for panel in panels() for target in panel["targets"]]


def test_the_dashboard_is_an_importable_grafana_dashboard() -> None:
    """A title, a uid, a schema version, unique panel ids and a Prometheus datasource
    variable that every panel and query uses (so it imports into any Grafana)."""
    document = dashboard()
    assert document["title"] and re.fullmatch(r"[a-z0-9-]{1,40}", document["uid"])
    assert isinstance(document["schemaVersion"], int) and document["schemaVersion"] >= 30
    ids = [panel["id"] for panel in document["panels"]]
    assert len(ids) == len(set(ids))
    (variable,) = [v for v in document["templating"]["list"] if v["type"] == "datasource"]
    assert variable["query"] == "prometheus"
    used = {"type": "prometheus", "uid": f"${{{variable['name']}}}"}
    for panel in panels():
        assert panel["datasource"] == used, panel["title"]
        assert all(target["datasource"] == used for target in panel["targets"]), panel["title"]


def test_every_panel_has_queries_on_the_grid_without_overlapping() -> None:
    """Each panel has a title, a type Grafana ships, at least one target with an expression
    and its own refId, and a place on the 24-column grid no other panel takes."""
    taken: set[tuple[int, int]] = set()
    for panel in dashboard()["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["w"] > 0 and grid["x"] + grid["w"] <= 24, panel["title"]
        cells = {(x, y) for x in range(grid["x"], grid["x"] + grid["w"])
                 for y in range(grid["y"], grid["y"] + grid["h"])}
        assert not cells & taken, f"{panel['title']} overlaps another panel"
        taken |= cells
    for panel in panels():
        assert panel["title"] and panel["type"] in ("timeseries", "stat"), panel
        refs = [target["refId"] for target in panel["targets"]]
        assert refs and len(refs) == len(set(refs)), panel["title"]
        assert all(target["expr"].strip() for target in panel["targets"]), panel["title"]


def test_every_query_names_only_metrics_rtq_exports() -> None:
    """A query naming a metric that neither the collector nor the two being added export
    fails here."""
    known = known_metrics()
    for expr in expressions():
        used = metric_names(expr)
        assert used and used <= known, (expr, used - known)


def test_the_check_catches_an_unknown_metric() -> None:
    """The name extraction sees metrics inside functions, ranges and aggregations, and not
    functions, labels or Grafana variables."""
    expr = ('histogram_quantile(0.95, sum by (le, outcome) (rate('
            'rtq_made_up_bucket{outcome=~"dead|x"}[$__rate_interval]))) and on (job) rtq_up')
    assert metric_names(expr) == {"rtq_made_up_bucket", "rtq_up"}
    assert metric_names(expr) - known_metrics() == {"rtq_made_up_bucket"}


def test_the_dashboard_shows_what_the_issue_asks_for() -> None:
    """Lanes, running, parked, oldest waiting, latency quantiles, outcomes, calls, dead
    letters, workers, held accounts and apps, and the breaker each have a query."""
    used = {name for expr in expressions() for name in metric_names(expr)}
    assert used >= SHOWN, SHOWN - used
    quantiles = [expr for expr in expressions() if "rtq_job_latency_seconds_bucket" in expr]
    assert quantiles and all("histogram_quantile(" in expr and "le" in expr
                             for expr in quantiles)
    counters = [expr for expr in expressions()
                if metric_names(expr) & {"rtq_jobs_total", "rtq_x_calls_total"}]
    assert counters and all("rate(" in expr for expr in counters)


def test_promtool_parses_every_query(tmp_path: Path) -> None:
    """Each query is valid PromQL: promtool checks them as recording rules (Grafana's
    $__rate_interval as 5m)."""
    recorded = [{"record": f"rtq:dashboard:{number}",
                 "expr": expr.replace("$__rate_interval", "5m")}
                for number, expr in enumerate(expressions())]
    rules = tmp_path / "dashboard-queries.yml"
    rules.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": recorded}]}))
    result = subprocess.run([promtool(), "check", "rules", str(rules)], capture_output=True,
                            text=True, check=False, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(recorded)} rules found" in result.stdout


def test_the_exporters_docstring_lists_every_family_it_exports() -> None:
    """worker/ops/metrics.py's docstring, which the docs point to, names each family."""
    doc = metrics.__doc__ or ""
    for family, samples in exported_families().items():
        (shown,) = samples if len(samples) == 1 else {family}
        assert re.search(rf"\b{shown}\b", doc), shown
