"""Every producer path sets a deadline (`expires_at` or `max_delay`) the worker then holds the
job to: the Python API, `rtq retweet` / `rtq undo`, `rtq enqueue` lines and `POST /v1/jobs`;
bad deadlines are refused naming the field, and nothing is enqueued."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import requests

from tests.support import Rtq, serve, stop_server
from worker.core import clock
from worker.core.keys import Keys
from worker.domain.lanes import queue_depth

pytestmark = pytest.mark.usefixtures("worker")
TOKEN = "deadline-t0ken-" + "z" * 16


def seconds(iso: str | None) -> float:
    assert iso is not None
    return datetime.fromisoformat(iso).timestamp()


def ahead(delay: float) -> str:
    return datetime.fromtimestamp(clock.now() + delay, UTC).isoformat()


def test_the_python_producer_sets_expires_at_or_max_delay(rtq: Rtq) -> None:
    """enqueue(expires_at=...), enqueue(max_delay=...) and a boost's two jobs: each record
    keeps its deadline, and a job in time succeeds."""
    account = rtq.add_account().account_id
    until = ahead(3600)
    fixed = rtq.producer.enqueue("retweet", account, "1", expires_at=until)
    relative = rtq.producer.enqueue("undo", account, "2", max_delay="10m")
    retweet, undo = rtq.producer.enqueue_boost(account, "3", "1h", max_delay=60)
    assert abs(seconds(rtq.status(fixed).expires_at) - seconds(until)) < 0.001
    assert 599 < seconds(rtq.status(relative).expires_at) - clock.now() <= 600
    undo_status = rtq.status(undo)
    assert seconds(undo_status.expires_at) - seconds(undo_status.due_at) == pytest.approx(60, 0.01)
    assert {s.state for s in rtq.wait_terminal(fixed, relative, retweet)} == {"succeeded"}


def test_rtq_retweet_and_undo_take_a_deadline(rtq: Rtq) -> None:
    """`--expires-at TIME` and `--max-delay DURATION`; both together, or a past time, is an
    error naming them, and nothing is enqueued."""
    account = rtq.add_account().account_id
    until = ahead(3600)
    done = rtq.cli("retweet", account, "11", "--expires-at", until)
    assert done.returncode == 0, done.stderr
    assert abs(seconds(rtq.status(done.stdout.strip()).expires_at) - seconds(until)) < 0.001
    undone = rtq.cli("undo", account, "12", "--max-delay", "2h")
    assert undone.returncode == 0, undone.stderr
    assert 7190 < seconds(rtq.status(undone.stdout.strip()).expires_at) - clock.now() <= 7200
    both = rtq.cli("retweet", account, "13", "--expires-at", until, "--max-delay", "1h")
    assert both.returncode == 2 and "--expires-at and --max-delay" in both.stderr
    past = rtq.cli("undo", account, "14", "--expires-at", "2020-01-01T00:00:00Z")
    assert past.returncode == 1 and "expires_at: already past" in past.stderr
    bad = rtq.cli("retweet", account, "15", "--max-delay", "whenever")
    assert bad.returncode == 1 and "max_delay: expected a duration" in bad.stderr
    rtq.wait_terminal(done.stdout.strip(), undone.stdout.strip())
    assert rtq.redis.zcard(Keys().deadlines) == 0


def test_rtq_enqueue_lines_take_a_deadline_and_bad_ones_name_the_field(rtq: Rtq) -> None:
    """JSON Lines with `expires_at` or `max_delay` keep them; a bad deadline is reported as
    `line N: <field>: <reason>` and nothing is enqueued."""
    account = rtq.add_account().account_id
    until = ahead(1800)
    lines = [{"action": "retweet", "account_id": account, "tweet_id": "21", "expires_at": until},
             {"action": "retweet", "account_id": account, "tweet_id": "22", "max_delay": 300}]
    good = rtq.cli("enqueue", "-", input="".join(json.dumps(line) + "\n" for line in lines))
    assert good.returncode == 0, good.stderr
    first, second = good.stdout.split()
    assert abs(seconds(rtq.status(first).expires_at) - seconds(until)) < 0.001
    assert 299 < seconds(rtq.status(second).expires_at) - clock.now() <= 300
    rtq.wait_terminal(first, second)
    bad_lines = [{**lines[0], "max_delay": "5m"},
                 {"action": "undo", "account_id": account, "tweet_id": "23",
                  "expires_at": "2020-01-01T00:00:00Z"}]
    bad = rtq.cli("enqueue", "-", input="".join(json.dumps(line) + "\n" for line in bad_lines))
    assert bad.returncode == 1
    assert "line 1: max_delay: give expires_at or max_delay, not both" in bad.stderr
    assert "line 2: expires_at: already past" in bad.stderr
    assert bad.stdout == "" and queue_depth(rtq.redis, rtq.settings.queue_key) == 0


@pytest.fixture(scope="module")
def api(rtq_env: dict[str, str]) -> Iterator[str]:
    process, url = serve("api", {**rtq_env, "RTQ_API_TOKENS": TOKEN})
    try:
        yield url
    finally:
        stop_server(process)


def test_post_v1_jobs_takes_a_deadline_and_answers_it(rtq: Rtq, api: str) -> None:
    """`expires_at` and `max_delay` in the JSON body: the 202 answer and the job's status
    carry `expires_at`; both in one job is a 422 naming `max_delay`."""
    account = rtq.add_account().account_id
    auth = {"Authorization": f"Bearer {TOKEN}"}
    until = ahead(900)
    response = requests.post(f"{api}/v1/jobs", headers=auth, timeout=10, json=[
        {"action": "retweet", "account_id": account, "tweet_id": "31", "expires_at": until},
        {"action": "undo", "account_id": account, "tweet_id": "32", "max_delay": "90s"},
        {"action": "retweet", "account_id": account, "tweet_id": "33"}])
    assert response.status_code == 202, response.text
    fixed, relative, plain = response.json()["jobs"]
    assert abs(seconds(fixed["expires_at"]) - seconds(until)) < 0.001
    assert 89 < seconds(relative["expires_at"]) - clock.now() <= 90
    assert plain["expires_at"] is None
    shown = requests.get(f"{api}/v1/jobs/{relative['job_id']}", headers=auth, timeout=10).json()
    assert shown["expires_at"] == relative["expires_at"]
    refused = requests.post(f"{api}/v1/jobs", headers=auth, timeout=10, json={
        "action": "retweet", "account_id": account, "tweet_id": "34", "expires_at": until,
        "max_delay": "1m"})
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "max_delay"
    rtq.wait_terminal(fixed["job_id"], relative["job_id"], plain["job_id"])
