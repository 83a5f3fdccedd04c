"""The metric names rtq exports, taken from the collector itself (every family, per-account ones
included), for the tests that check what the alert rules and the dashboard query; and the
names PromQL expressions use."""

from __future__ import annotations

import re

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from worker.core.settings import MetricsSettings
from worker.domain.account_info import AccountInfo, Budget
from worker.ops.latency import FINISHED, LATENCY_BOUNDS_S, Latency, LatencyReader
from worker.ops.metrics import registry
from worker.ops.stats import Snapshot, StatsReader


class _OneLatency(LatencyReader):
    """Made-up waits and latencies, so the latency families are exported too."""

    def __init__(self) -> None:  # no Redis
        pass

    def read(self, now: float | None = None) -> Latency:
        buckets = [1] * (len(LATENCY_BOUNDS_S) + 1)
        return Latency(histograms={outcome: (buckets, 1.0) for outcome in FINISHED},
                       oldest={"fast": 1.0, "released": 0.0, "overflow": 0.0, "held": 0.0},
                       parked_overdue=0.0)


class _OneSnapshot(StatsReader):
    """A reader that returns one made-up snapshot with a value in every family."""

    def __init__(self) -> None:  # no Redis
        pass

    def latency_reader(self) -> LatencyReader:
        return _OneLatency()

    def snapshot(self) -> Snapshot:
        budget = Budget(limit=50, remaining=3, reset_at=None)
        account = AccountInfo("1", None, None, "active", False,
                              budgets={"retweet": budget, "undo": budget})
        return Snapshot(taken_at=0.0, queue_depth=1, running=1, parked={},
                        waiting={("1", "retweet"): 2}, dead_letters={}, dead_letter_oldest=None,
                        outcomes={}, calls={"200": 1}, workers={"w@h": "now"},
                        accounts=[account])


def exported_families() -> dict[str, set[str]]:
    """Family name -> the sample names it exposes (a counter `rtq_jobs` exposes rtq_jobs_total)."""
    text = generate_latest(registry(_OneSnapshot(), MetricsSettings(per_account="on"))).decode()
    return {family.name: {sample.name for sample in family.samples}
            for family in text_string_to_metric_families(text)}


def known_metrics() -> set[str]:
    """Every sample name a PromQL expression may use."""
    return {name for samples in exported_families().values() for name in samples}


_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"')
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_BRACKETS = re.compile(r"\{[^}]*\}|\[[^\]]*\]")
_VARIABLES = re.compile(r"\$\{[^}]*\}|\$\w+")
_IDENTIFIER = re.compile(r"(?<![\w.])([A-Za-z_:][\w:]*)(?![\w:])(?!\s*\()")
KEYWORDS = {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring",
            "group_left", "group_right", "inf", "nan"}


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (functions, labels, strings, ranges and
    Grafana variables left out)."""
    bare = _VARIABLES.sub(" ", _BRACKETS.sub(" ", _GROUPING.sub(" ", _STRINGS.sub(" ", expr))))
    return {name for name in _IDENTIFIER.findall(bare) if name.lower() not in KEYWORDS}
