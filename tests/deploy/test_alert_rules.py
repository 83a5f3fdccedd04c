"""Prometheus alert rules (deploy/prometheus/rtq-alerts.yml): checked and unit-tested by
promtool itself (`make test` puts it in the virtualenv: Makefile, `$(BIN)/promtool`), every
rule with a case that fires and one that does not, over metrics rtq exports."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.exported_metrics import known_metrics, metric_names

PROMETHEUS = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"
RULES = PROMETHEUS / "rtq-alerts.yml"
TESTS = PROMETHEUS / "rtq-alerts.test.yml"
# Where jobs wait, as rtq_oldest_waiting_age_seconds labels them: the queue lanes, then parked.
WAITING = {"fast", "released", "overflow", "retry", "scheduled", "rate_window", "held"}


def promtool() -> str:
    beside = Path(sys.executable).parent / "promtool"
    found = str(beside) if beside.exists() else shutil.which("promtool")
    if found is None:
        pytest.fail("promtool not found: `make test` installs it (Makefile: $(BIN)/promtool)")
    return found


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([promtool(), *args], capture_output=True, text=True, check=False,
                          cwd=PROMETHEUS, timeout=120)


def rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(RULES.read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def cases() -> list[dict[str, Any]]:
    tests: list[dict[str, Any]] = yaml.safe_load(TESTS.read_text())["tests"]
    return [case for group in tests for case in group["alert_rule_test"]]


def test_promtool_check_rules_accepts_every_rule() -> None:
    """The file parses and every expression is valid PromQL, as Prometheus would load it."""
    result = run("check", "rules", RULES.name)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rules())} rules found" in result.stdout


def test_promtool_rule_unit_tests_pass() -> None:
    """Each case fires (with the labels and rendered annotations expected) or stays quiet."""
    result = run("test", "rules", TESTS.name)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout
    print(f"\n{promtool()}: {run('--version').stdout.splitlines()[0]}\n{result.stdout}")


def test_promtool_fails_a_case_that_expects_the_wrong_outcome(tmp_path: Path) -> None:
    """The unit tests can fail: a quiet case rewritten to expect an alert is reported."""
    document = yaml.safe_load(TESTS.read_text())
    document["rule_files"] = [str(RULES)]
    quiet = next(case for group in document["tests"] for case in group["alert_rule_test"]
                 if not case["exp_alerts"])
    quiet["exp_alerts"] = [{"exp_labels": {"severity": "warning"}}]
    broken = tmp_path / "broken.test.yml"
    broken.write_text(yaml.safe_dump(document))
    result = run("test", "rules", str(broken))
    assert result.returncode != 0 and quiet["alertname"] in result.stdout + result.stderr


def test_every_rule_has_a_case_that_fires_and_one_that_does_not() -> None:
    """For each alert, at least one case expects it and one expects silence."""
    names = [rule["alert"] for rule in rules()]
    assert len(names) == len(set(names)), "an alert name repeats"
    firing = {case["alertname"] for case in cases() if case["exp_alerts"]}
    quiet = {case["alertname"] for case in cases() if not case["exp_alerts"]}
    assert set(names) == firing, set(names) ^ firing
    assert set(names) == quiet, set(names) ^ quiet


def test_every_rule_has_a_severity_and_tells_the_operator_what_to_run() -> None:
    """critical or warning; a summary, and a description naming an rtq command."""
    for rule in rules():
        assert rule["labels"]["severity"] in ("critical", "warning"), rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
        assert re.search(r"`rtq [a-z]", rule["annotations"]["description"]), rule["alert"]


def test_rules_query_only_metrics_rtq_exports() -> None:
    """Each expression names metrics the collector exports (or the two being added)."""
    known = known_metrics()
    for rule in rules():
        used = metric_names(rule["expr"])
        assert used and used <= known, (rule["alert"], used - known)


def test_the_rules_cover_every_kind_of_trouble_the_issue_names() -> None:
    """No workers, Redis unreadable, dead letters, every waiting place, held accounts and
    apps, the breaker, a growing queue."""
    by_metric: dict[str, list[str]] = {}
    for rule in rules():
        for name in metric_names(rule["expr"]):
            by_metric.setdefault(name, []).append(rule["expr"])
    for name in ("rtq_workers_alive", "rtq_up", "rtq_jobs_total", "rtq_accounts", "rtq_apps",
                 "rtq_breaker_state", "rtq_queue_depth"):
        assert name in by_metric, name
    covered: set[str] = set()
    for expr in by_metric["rtq_oldest_waiting_age_seconds"]:
        (matcher,) = re.findall(r'waiting=~?"([^"]+)"', expr)
        covered |= {place for place in WAITING if re.fullmatch(matcher, place)}
    assert covered == WAITING, WAITING - covered
    held_states = " ".join(by_metric["rtq_accounts"])
    assert all(state in held_states for state in ("needs_reauth", "locked", "suspended"))


def test_the_documented_prometheus_rule_holds_exactly_these_rules() -> None:
    """deploy/README.md's command for the Prometheus Operator (without its `kubectl apply`)
    makes a PrometheusRule whose spec is the rules file."""
    readme = (PROMETHEUS.parent / "README.md").read_text()
    (command,) = re.findall(r"^(\{ printf 'apiVersion: monitoring.*) \| kubectl apply -f -$",
                            readme, re.MULTILINE)
    result = subprocess.run(["bash", "-c", command], capture_output=True, text=True,
                            check=True, cwd=PROMETHEUS.parents[1], timeout=30)
    document = yaml.safe_load(result.stdout)
    assert (document["apiVersion"], document["kind"]) == ("monitoring.coreos.com/v1",
                                                          "PrometheusRule")
    assert document["metadata"] == {"name": "rtq", "namespace": "rtq"}
    assert document["spec"] == yaml.safe_load(RULES.read_text())
