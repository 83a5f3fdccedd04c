"""`rtq metrics`: a Prometheus endpoint that reads Redis on each scrape, so one process covers
every worker. Started for real and scraped over HTTP after real jobs ran on a real worker."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from producers import JobRequest, Producer
from tests.holding import holding
from tests.support import Rtq, wait_for
from worker.core.settings import Settings
from worker.domain.lanes import FAST_LANE_SHARE, all_lanes
from worker.embedded.servers import WorkerProcess, free_port

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


class Exporter:
    """`rtq metrics --port 0` as a process; it prints its URL once listening."""

    def __init__(self, env: dict[str, str]) -> None:
        rtq_bin = os.path.join(os.path.dirname(sys.executable), "rtq")
        self.process = subprocess.Popen([rtq_bin, "metrics", "--port", "0"], env=env,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True)
        assert self.process.stdout is not None
        self.url = self.process.stdout.readline().strip()
        assert self.url.startswith("http://127.0.0.1:"), self._stderr()

    def _stderr(self) -> str:
        self.close()
        return self.process.stderr.read() if self.process.stderr else ""

    def scrape(self) -> Samples:
        with urllib.request.urlopen(self.url, timeout=10) as response:
            assert response.status == 200
            text = response.read().decode()
        return {(sample.name, frozenset(sample.labels.items())): sample.value
                for family in text_string_to_metric_families(text) for sample in family.samples}

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


@pytest.fixture(scope="module")
def exporter(rtq_env: dict[str, str]) -> Iterator[Exporter]:
    process = Exporter(rtq_env)
    yield process
    process.close()


def test_metrics_count_outcomes_calls_dead_letters_and_held_jobs_after_real_jobs(
    exporter: Exporter, rtq: Rtq, worker: WorkerProcess
) -> None:
    """Succeeded, retried, dead-lettered and held jobs show up as counters and gauges."""
    started = time.time()
    account, revoked = rtq.add_account(), rtq.add_account()
    a = account.account_id
    rtq.admin.configure(missing_tweets=["2"])
    rtq.admin.script([
        {"user_id": a, "tweet_id": "3", "responses": [{"status": 503}] * 3},
        {"user_id": a, "tweet_id": "4", "responses": [{"status": 503}]},
    ])
    # Given: 1 succeeds, 2 is not found, 3 fails 3 times (retries_exhausted), 4 fails once then
    # succeeds; the revoked account's first job is unauthorized and its second is held
    rtq.admin.revoke(revoked.account_id)
    ids = [rtq.producer.enqueue("retweet", a, t) for t in ("1", "2", "3", "4")]
    ids.append(rtq.producer.enqueue("retweet", revoked.account_id, "7"))
    rtq.wait_terminal(*ids)
    held = rtq.producer.enqueue("retweet", revoked.account_id, "8")
    rtq.wait_state(held, "deferred")
    # When Prometheus scrapes (once the session worker has renewed its heartbeat, which the test
    # set-up deleted with every rtq key)
    samples = wait_for(lambda: (s := exporter.scrape())
                       and value(s, "rtq_workers_alive") == 1 and s, 10, "the worker's heartbeat")
    # Then every delivery's outcome and every call's status is counted
    assert value(samples, "rtq_up") == 1
    assert value(samples, "rtq_jobs_total", outcome="succeeded") == 2
    assert value(samples, "rtq_jobs_total", outcome="dead") == 3
    assert value(samples, "rtq_jobs_total", outcome="deferred") == 4  # 3 retries and the held
    assert value(samples, "rtq_jobs_total", outcome="skipped") == 0
    assert value(samples, "rtq_x_calls_total", status="200") == 2
    assert value(samples, "rtq_x_calls_total", status="503") == 4
    assert value(samples, "rtq_x_calls_total", status="404") == 1
    assert value(samples, "rtq_x_calls_total", status="401") == 1
    # ... dead letters by reason, and how old the oldest is
    assert value(samples, "rtq_dead_letters", reason="not_found") == 1
    assert value(samples, "rtq_dead_letters", reason="retries_exhausted") == 1
    assert value(samples, "rtq_dead_letters", reason="unauthorized") == 1
    assert value(samples, "rtq_dead_letters", reason="malformed_message") == 0
    oldest = value(samples, "rtq_dead_letter_oldest_age_seconds")
    assert oldest is not None and 0 <= oldest <= time.time() - started
    # ... the held job, the accounts' states and what X said of the budget
    assert value(samples, "rtq_jobs_parked", reason="reauthorization") == 1
    assert value(samples, "rtq_jobs_parked", reason="retry") == 0
    assert value(samples, "rtq_accounts", state="needs_reauth") == 1
    assert value(samples, "rtq_accounts", state="active") == 1
    last_answer = [c for c in rtq.x_calls(a) if c["rate_remaining"] is not None][-1]
    assert value(samples, "rtq_budget_remaining", account=a, endpoint="retweet") == \
        last_answer["rate_remaining"]
    assert value(samples, "rtq_queue_depth") == 0
    assert value(samples, "rtq_jobs_running") == 0


def test_metrics_show_jobs_waiting_for_a_rate_window(exporter: Exporter, rtq: Rtq,
                                                     worker: WorkerProcess) -> None:
    """An account allowed 1 call per 15 minutes: after one call, the next jobs wait for its
    window, per (account, endpoint), with no budget left."""
    account = rtq.add_account()
    a = account.account_id
    rtq.admin.configure(user_rate_limits={a: 1})
    rtq.accounts.set_rate_limit(a, (1, 900))
    rtq.wait_terminal(rtq.producer.enqueue("retweet", a, "1"))
    rtq.producer.enqueue_many([JobRequest.create("retweet", a, t) for t in ("2", "3")])
    samples = exporter.scrape()
    assert value(samples, "rtq_jobs_parked", reason="rate_window") == 2
    assert value(samples, "rtq_rate_window_waiting_jobs", account=a, endpoint="retweet") == 2
    assert value(samples, "rtq_budget_remaining", account=a, endpoint="retweet") == 0
    assert value(samples, "rtq_budget_limit", account=a, endpoint="retweet") == 1


def test_metrics_count_expired_jobs_apart_from_dead_letters(exporter: Exporter, rtq: Rtq,
                                                            worker: WorkerProcess) -> None:
    """A job that waits for a rate window past its 1 s deadline is counted `expired`, in
    rtq_jobs_total and the latency histogram, and never as a dead letter."""
    account = rtq.add_account()
    a = account.account_id
    rtq.admin.configure(user_rate_limits={a: 1})
    rtq.accounts.set_rate_limit(a, (1, 900))
    rtq.wait_terminal(rtq.producer.enqueue("retweet", a, "1"))
    before = exporter.scrape()
    assert value(before, "rtq_jobs_total", outcome="expired") == 0
    expired = rtq.producer.enqueue("retweet", a, "2", max_delay=1)
    rtq.wait_state(expired, "expired", timeout=10)
    samples = exporter.scrape()
    assert value(samples, "rtq_jobs_total", outcome="expired") == 1
    assert value(samples, "rtq_job_latency_seconds_count", outcome="expired") == 1
    total = value(samples, "rtq_job_latency_seconds_sum", outcome="expired")
    assert total is not None and 1 <= total < 3
    assert value(samples, "rtq_dead_letters", reason="retries_exhausted") == 0
    assert sum(v for (name, _), v in samples.items() if name == "rtq_dead_letters") == 0
    assert value(samples, "rtq_jobs_parked", reason="rate_window") == 0


def test_metrics_show_a_job_running_while_its_call_is_in_flight(
    exporter: Exporter, rtq: Rtq, worker: WorkerProcess
) -> None:
    """While X takes a second to answer, the job counts as running; then it does not."""
    account = rtq.add_account()
    rtq.admin.script([{"user_id": account.account_id, "tweet_id": "1",
                       "responses": [{"status": 200, "hang_seconds": 1.0}]}])
    job_id = rtq.producer.enqueue("retweet", account.account_id, "1")
    wait_for(lambda: rtq.admin.in_flight() == 1, 10, "the call to be in flight")
    assert value(exporter.scrape(), "rtq_jobs_running") == 1
    rtq.wait_terminal(job_id)
    wait_for(lambda: value(exporter.scrape(), "rtq_jobs_running") == 0, 5, "the ack")


def test_metrics_show_account_states_held_apps_and_the_breaker(exporter: Exporter, rtq: Rtq
                                                               ) -> None:
    """Accounts in every state, held apps by reason, the jobs waiting for them, and the
    breaker as 0 closed, 1 half-open, 2 open; every series present at 0 when nothing is held."""
    quiet = exporter.scrape()
    for state in ("active", "needs_reauth", "locked", "suspended"):
        assert value(quiet, "rtq_accounts", state=state) == 0
    for reason in ("credits_depleted", "usage_capped", "app_forbidden"):
        assert value(quiet, "rtq_apps", state="held", reason=reason) == 0
    assert value(quiet, "rtq_app_held_jobs") == 0
    assert value(quiet, "rtq_breaker_state") == 0
    with holding(rtq) as held:
        # Given accounts in each state, two apps out of credits and one forbidden, with 3 jobs
        # waiting for them, and a breaker probing X
        active, reauth, locked, suspended = (rtq.add_account() for _ in range(4))
        rtq.accounts.mark_needs_reauth(reauth.account_id)
        held.hold_account(locked.account_id, "locked", "locked")
        held.hold_account(suspended.account_id, "suspended", "suspended")
        jobs = held.jobs(active.account_id, range(1, 4))
        first, second, third = ({job_id: jobs[job_id]} for job_id in jobs)
        held.hold_app("0000000000000001", "credits_depleted", "no credits", messages=first)
        held.hold_app("0000000000000002", "credits_depleted", "no credits", messages=second)
        held.hold_app("0000000000000003", "app_forbidden", "not permitted", messages=third,
                      http_status=403)
        held.open_breaker("half_open")
        probing = exporter.scrape()
        held.open_breaker("open")
        opened = exporter.scrape()
    # Then
    for state in ("active", "needs_reauth", "locked", "suspended"):
        assert value(probing, "rtq_accounts", state=state) == 1
    assert value(probing, "rtq_apps", state="held", reason="credits_depleted") == 2
    assert value(probing, "rtq_apps", state="held", reason="app_forbidden") == 1
    assert value(probing, "rtq_apps", state="held", reason="usage_capped") == 0
    assert value(probing, "rtq_app_held_jobs") == 3
    assert value(probing, "rtq_breaker_state") == 1
    assert value(opened, "rtq_breaker_state") == 2


def test_metrics_report_the_queue_depth(rtq: Rtq) -> None:
    """Jobs waiting in a queue no worker consumes are counted (LLEN of the queue), in all and
    per lane: an account's jobs beyond its share of the fast lane wait in the overflow lane."""
    env = {**rtq.env, "RTQ_QUEUE": "rtq-metrics-idle"}
    account = rtq.add_account()
    Producer(rtq.redis, Settings.from_env(env)).enqueue_many(
        [JobRequest.create("retweet", account.account_id, str(t)) for t in range(1, 7)])
    idle = Exporter(env)
    try:
        samples = idle.scrape()
    finally:
        idle.close()
        rtq.redis.delete(*all_lanes("rtq-metrics-idle"))
    assert value(samples, "rtq_queue_depth") == 6
    assert value(samples, "rtq_queue_lane_depth", lane="fast") == FAST_LANE_SHARE
    assert value(samples, "rtq_queue_lane_depth", lane="overflow") == 6 - FAST_LANE_SHARE
    assert value(samples, "rtq_queue_lane_depth", lane="released") == 0
    assert value(samples, "rtq_queue_lane_depth", lane="lowest") == 0


def test_metrics_say_redis_is_down_instead_of_failing(rtq_env: dict[str, str]) -> None:
    """With Redis unreachable a scrape still answers, with rtq_up 0 and nothing stale."""
    down = Exporter({**rtq_env, "RTQ_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"})
    try:
        samples: dict[Any, float] = down.scrape()
    finally:
        down.close()
    assert value(samples, "rtq_up") == 0
    assert value(samples, "rtq_queue_depth") is None
