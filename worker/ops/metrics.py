"""Prometheus metrics Flower lacks, read from Redis on each scrape (`rtq metrics`).

A custom collector turns a `worker.ops.stats.Snapshot` into metric families, so one endpoint covers
every worker on every host without prometheus_client's multiprocess mode. The counters are
Redis hashes every process increments; Prometheus sees them as ordinary counters (they reset
only if Redis loses its data).

    rtq_up                                    1 if the last scrape could read Redis, else 0
    rtq_queue_depth                           messages waiting in the Celery queue (every
                                              lane: worker/domain/lanes.py)
    rtq_queue_lane_depth{lane}                the same per lane: fast, released, overflow
                                              (and lowest, kombu's priority 9, unused by rtq)
    rtq_jobs_running                          delivered to a worker and not yet finished
    rtq_jobs_parked{reason}                   retry | rate_window | reauthorization
    rtq_rate_window_waiting_jobs{account,endpoint}   per group waiting for its rate window *
    rtq_rate_window_waiting_accounts{endpoint}  accounts with jobs waiting for their rate window
    rtq_dead_letters{reason}                  dead-letter entries
    rtq_dead_letter_oldest_age_seconds        age of the oldest entry (0 when there is none)
    rtq_jobs_total{outcome}                   deliveries that ended in each outcome (a job
                                              retried twice counts `deferred` twice; an
                                              operator's cancel counts `cancelled`)
    rtq_x_calls_total{status}                 calls to X by HTTP status ("none": no answer)
    rtq_budget_remaining{account,endpoint}    calls left in the current window, as rtq knows it *
    rtq_budget_limit{account,endpoint}        the window's size *
    rtq_budget_exhausted_accounts{endpoint}   accounts with no call left in the current window
                                              (endpoint retweet, undo, or day: the 24-hour cap)
    rtq_accounts{state}                       accounts by state (active, needs_reauth,
                                              locked, suspended)
    rtq_apps{state,reason}                    held apps (state "held") by reason:
                                              credits_depleted | usage_capped | app_forbidden
    rtq_app_held_jobs                         jobs waiting for held apps
    rtq_breaker_state                         the circuit breaker for calls to X: 0 closed,
                                              1 half-open, 2 open
    rtq_paused_jobs{kind}                     jobs held by operators' pauses (`rtq pause`), by
                                              kind of scope: all | account | tweet
    rtq_pauses{kind}                          pauses in force, by kind of scope
    rtq_pause_oldest_age_seconds{kind}        how long the oldest pause of each kind has been in
                                              force (0 when none)
    rtq_workers_alive                         workers whose heartbeat has not expired
    rtq_job_latency_seconds{outcome}          enqueue to outcome (a histogram: ops/latency.py)
    rtq_oldest_waiting_age_seconds{waiting}   the oldest waiting job per lane, and held
    rtq_parked_overdue_seconds                the most overdue parked job
    rtq_scrape_duration_seconds               how long reading Redis took
    rtq_metrics_per_account                   1 if this scrape carries the series marked *

* Per-account series (labelled `account`): one per account and endpoint, so they are exported
only while the deployment has at most RTQ_METRICS_ACCOUNT_LIMIT accounts (100), or always or
never (RTQ_METRICS_PER_ACCOUNT=auto|on|off: `MetricsSettings`). Every other family has a fixed
number of series whatever the number of accounts; `rtq_jobs_parked{reason="rate_window"}` is
the total of the waiting jobs.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import redis
from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from worker.core.settings import MetricsSettings
from worker.domain import lanes
from worker.domain.account_info import ACCOUNT_STATES
from worker.domain.dlq import REASONS
from worker.domain.holds import APP_REASONS, BREAKER_STATES
from worker.ops.latency import LatencyReader, latency_families
from worker.ops.stats import PARKED_REASONS, Snapshot, StatsReader

log = logging.getLogger("rtq.metrics")

# Every outcome is exported from the start (at 0), so rate() sees its first increment.
OUTCOMES = ("succeeded", "skipped", "superseded", "deferred", "dead", "cancelled",
            "expired")
# The endpoints jobs wait for, and the budgets rtq keeps per account ("day": the 24-hour cap).
ENDPOINTS = ("retweet", "undo")
BUDGETS = (*ENDPOINTS, "day")


class RtqCollector:
    """Reads Redis on every scrape (prometheus_client's `Collector` protocol)."""

    def __init__(self, reader: StatsReader, metrics: MetricsSettings | None = None,
                 latency: LatencyReader | None = None) -> None:
        self._reader = reader
        self._metrics = metrics or MetricsSettings()
        self._latency = latency
        self._failing = False

    def collect(self) -> Iterator[Metric]:
        started = time.monotonic()
        try:
            snapshot = self._reader.snapshot()
            latency = self._latency.read() if self._latency is not None else None
        except redis.RedisError as exc:
            if not self._failing:
                log.warning("metrics: Redis unavailable (%s)", type(exc).__name__)
                self._failing = True
            yield GaugeMetricFamily("rtq_up", "1 if the last scrape could read Redis, else 0",
                                    value=0)
            return
        self._failing = False
        yield GaugeMetricFamily("rtq_up", "1 if the last scrape could read Redis, else 0",
                                value=1)
        yield from families(snapshot, self._metrics)
        if latency is not None:
            yield from latency_families(latency)
        yield GaugeMetricFamily("rtq_scrape_duration_seconds",
                                "How long reading rtq's state from Redis took",
                                value=time.monotonic() - started)


def families(snapshot: Snapshot, metrics: MetricsSettings | None = None) -> Iterator[Metric]:
    """The metric families for one snapshot; per-account ones as `metrics` says."""
    per_account = (metrics or MetricsSettings()).exports_per_account(len(snapshot.accounts))
    yield GaugeMetricFamily("rtq_queue_depth", "Messages waiting in the Celery queue",
                            value=snapshot.queue_depth)
    by_lane = GaugeMetricFamily("rtq_queue_lane_depth",
                                "Messages waiting in each lane of the Celery queue",
                                labels=["lane"])
    for lane in (lanes.LANE_NAMES[priority] for priority in lanes.PRIORITY_STEPS):
        by_lane.add_metric([lane], snapshot.lanes.get(lane, 0))
    yield by_lane
    yield GaugeMetricFamily("rtq_jobs_running",
                            "Jobs delivered to a worker and not yet finished (kombu unacked)",
                            value=snapshot.running)

    parked = GaugeMetricFamily(
        "rtq_jobs_parked", "Jobs waiting outside the queue: retry (backoff or a busy pair), "
        "rate_window (the account's budget), reauthorization (held for new credentials)",
        labels=["reason"])
    for reason in PARKED_REASONS:
        parked.add_metric([reason], snapshot.parked.get(reason, 0))
    yield parked

    yield from _waiting_families(snapshot, per_account)

    dead = GaugeMetricFamily("rtq_dead_letters", "Dead-letter entries by reason",
                             labels=["reason"])
    for reason in sorted(set(REASONS) | set(snapshot.dead_letters)):
        dead.add_metric([reason], snapshot.dead_letters.get(reason, 0))
    yield dead
    yield GaugeMetricFamily("rtq_dead_letter_oldest_age_seconds",
                            "Seconds since the oldest dead letter failed (0 when there is none)",
                            value=snapshot.dead_letter_oldest_age or 0.0)

    outcomes = CounterMetricFamily("rtq_jobs", "Deliveries that ended in each outcome",
                                   labels=["outcome"])
    for outcome in sorted(set(OUTCOMES) | set(snapshot.outcomes)):
        outcomes.add_metric([outcome], snapshot.outcomes.get(outcome, 0))
    yield outcomes

    calls = CounterMetricFamily("rtq_x_calls", "Calls to X by HTTP status (none: no answer)",
                                labels=["status"])
    for status, count in sorted(snapshot.calls.items()):
        calls.add_metric([status], count)
    yield calls

    yield from _budget_families(snapshot, per_account)

    accounts = GaugeMetricFamily(
        "rtq_accounts", "Accounts by state: active, needs_reauth (new credentials needed), "
        "locked or suspended (by X; rtq accounts release once it accepts them)",
        labels=["state"])
    by_state = snapshot.accounts_by_state
    for state in sorted({*ACCOUNT_STATES, *by_state}):
        accounts.add_metric([state], by_state.get(state, 0))
    yield accounts
    yield from _hold_families(snapshot)
    yield from _pause_families(snapshot)
    yield GaugeMetricFamily("rtq_workers_alive", "Workers whose heartbeat has not expired",
                            value=len(snapshot.workers))
    yield GaugeMetricFamily(
        "rtq_metrics_per_account", "1 if this scrape carries the per-account series "
        "(RTQ_METRICS_PER_ACCOUNT, RTQ_METRICS_ACCOUNT_LIMIT), else 0", value=int(per_account))


def _waiting_families(snapshot: Snapshot, per_account: bool) -> Iterator[Metric]:
    """Jobs waiting for a rate window: per (account, endpoint) if asked, and how many
    accounts wait per endpoint always."""
    accounts = dict.fromkeys(ENDPOINTS, 0)
    for (_, endpoint), count in snapshot.waiting.items():
        if count:
            accounts[endpoint] = accounts.get(endpoint, 0) + 1
    by_endpoint = GaugeMetricFamily("rtq_rate_window_waiting_accounts",
                                    "Accounts with jobs waiting for their rate window",
                                    labels=["endpoint"])
    for endpoint, count in sorted(accounts.items()):
        by_endpoint.add_metric([endpoint], count)
    yield by_endpoint
    if not per_account:
        return
    waiting = GaugeMetricFamily("rtq_rate_window_waiting_jobs",
                                "Jobs waiting for the rate window of (account, endpoint)",
                                labels=["account", "endpoint"])
    for (account_id, endpoint), count in sorted(snapshot.waiting.items()):
        waiting.add_metric([account_id, endpoint], count)
    yield waiting


def _budget_families(snapshot: Snapshot, per_account: bool) -> Iterator[Metric]:
    """Each account's budgets if asked, and how many accounts have none left always."""
    exhausted = dict.fromkeys(BUDGETS, 0)
    remaining = GaugeMetricFamily("rtq_budget_remaining",
                                  "Calls left in the current rate window, as rtq knows it",
                                  labels=["account", "endpoint"])
    limit = GaugeMetricFamily("rtq_budget_limit", "Calls allowed per rate window",
                              labels=["account", "endpoint"])
    for info in snapshot.accounts:
        for endpoint, budget in sorted(info.budgets.items()):
            if budget.remaining is not None and budget.remaining <= 0:
                exhausted[endpoint] = exhausted.get(endpoint, 0) + 1
            if not per_account:
                continue
            if budget.remaining is not None:
                remaining.add_metric([info.account_id, endpoint], budget.remaining)
            if budget.limit is not None:
                limit.add_metric([info.account_id, endpoint], budget.limit)
    family = GaugeMetricFamily("rtq_budget_exhausted_accounts",
                               "Accounts with no call left in the current rate window, as rtq "
                               "knows it (day: the 24-hour cap)", labels=["endpoint"])
    for endpoint, count in sorted(exhausted.items()):
        family.add_metric([endpoint], count)
    yield family
    if per_account:
        yield remaining
        yield limit


def _hold_families(snapshot: Snapshot) -> Iterator[Metric]:
    """Held apps, the jobs waiting for them, and the circuit breaker."""
    apps = GaugeMetricFamily(
        "rtq_apps", "Apps X refuses as a whole (state held), by reason: credits_depleted, "
        "usage_capped, app_forbidden (rtq apps list, rtq apps release)",
        labels=["state", "reason"])
    by_reason = snapshot.apps_by_reason
    for reason in sorted({*APP_REASONS, *by_reason}):
        apps.add_metric(["held", reason], by_reason.get(reason, 0))
    yield apps
    yield GaugeMetricFamily("rtq_app_held_jobs", "Jobs waiting for held apps",
                            value=snapshot.app_held_jobs)
    yield GaugeMetricFamily(
        "rtq_breaker_state",
        "The circuit breaker for calls to X: 0 closed, 1 half-open (probing), 2 open (paused)",
        value=BREAKER_STATES.index(snapshot.breaker.state))


def _pause_families(snapshot: Snapshot) -> Iterator[Metric]:
    """Operators' pauses by kind of scope: three series each, however many accounts or tweets
    are paused."""
    jobs = GaugeMetricFamily("rtq_paused_jobs", "Jobs held by operators' pauses (rtq pause), "
                             "by kind of scope: all, account, tweet", labels=["kind"])
    for kind, count in snapshot.paused_jobs.items():
        jobs.add_metric([kind], count)
    yield jobs
    pauses = GaugeMetricFamily("rtq_pauses", "Pauses in force (rtq pause --list), by kind of "
                               "scope", labels=["kind"])
    for kind, count in snapshot.pauses_by_kind.items():
        pauses.add_metric([kind], count)
    yield pauses
    oldest = GaugeMetricFamily("rtq_pause_oldest_age_seconds", "How long the oldest pause of "
                               "each kind has been in force (0 when none)", labels=["kind"])
    for kind, age in snapshot.oldest_pause_age().items():
        oldest.add_metric([kind], age)
    yield oldest


def registry(reader: StatsReader, metrics: MetricsSettings | None = None) -> CollectorRegistry:
    """A registry holding only rtq's collector (no process metrics of the exporter itself)."""
    result = CollectorRegistry(auto_describe=False)
    result.register(RtqCollector(reader, metrics, reader.latency_reader()))
    return result
