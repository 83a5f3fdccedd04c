"""The HTTP producer (`rtq api`): auth, validation as problem details, and accepted jobs per
second on loopback (the operator controls: test_http_controls.py; the OpenAPI document checked
by schemathesis: test_http_schema.py)."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from tests.support import Rtq, serve, stop_server
from worker.core.keys import Keys
from worker.core.settings import Settings
from worker.domain.accounts import AccountStore, fernet_for
from worker.domain.lanes import queue_depth
from worker.embedded.servers import RedisServer
from worker.x_api.credentials import Credentials

TOKEN = "t0ken-for-tests-" + "x" * 16
READ_ONLY_TOKEN = "read-only-t0ken-" + "y" * 16


def _serve(env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    """`rtq api` started for real on a free port; returns the process and its URL."""
    return serve("api", {**env, "RTQ_API_TOKENS": f"other-token,{TOKEN},ro:{READ_ONLY_TOKEN}"})


_stop = stop_server


@pytest.fixture(scope="module")
def api(rtq_env: dict[str, str]) -> Iterator[str]:
    """`rtq api` on the suite's Redis (where the shared worker runs the jobs)."""
    process, url = _serve(rtq_env)
    try:
        yield url
    finally:
        _stop(process)


def _post(url: str, body: Any, token: str | None = TOKEN) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.post(f"{url}/v1/jobs", json=body, headers=headers, timeout=10)


@pytest.mark.usefixtures("worker")
def test_a_job_posted_over_http_runs(rtq: Rtq, api: str) -> None:
    """POST /v1/jobs (202), then GET /v1/jobs/{id} shows it succeeded."""
    account = rtq.add_account()
    response = _post(api, {"action": "retweet", "account_id": account.account_id,
                           "tweet_id": "https://x.com/a/status/11"})
    assert response.status_code == 202, response.text
    (job,) = response.json()["jobs"]
    assert (job["tweet_id"], job["due_at"]) == ("11", None)
    rtq.wait_terminal(job["job_id"])
    status = requests.get(f"{api}/v1/jobs/{job['job_id']}", timeout=5,
                          headers={"Authorization": f"Bearer {TOKEN}"})
    assert status.status_code == 200 and status.json()["state"] == "succeeded"


def test_auth_is_required_and_checked(rtq: Rtq, api: str) -> None:
    """No token or a wrong one: 401 problem with WWW-Authenticate; /healthz stays open."""
    account = rtq.add_account()
    body = {"action": "retweet", "account_id": account.account_id, "tweet_id": "1"}
    for token in (None, "wrong", TOKEN[:-1]):
        response = _post(api, body, token)
        assert response.status_code == 401
        assert response.headers["Content-Type"].startswith("application/problem+json")
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert requests.get(f"{api}/healthz", timeout=5).status_code == 200
    assert _post(api, body, "other-token").status_code == 202


@pytest.mark.usefixtures("worker")
def test_a_read_only_token_reads_and_is_refused_every_write(rtq: Rtq, api: str) -> None:
    """`ro:TOKEN`: GETs answer; POST /v1/jobs and POST replay are 403 and change nothing."""
    account = rtq.add_account()
    rtq.admin.configure(missing_tweets=["45"])
    job_id = rtq.producer.enqueue("retweet", account.account_id, "45")
    rtq.wait_terminal(job_id)
    read_only = {"Authorization": f"Bearer {READ_ONLY_TOKEN}"}
    assert requests.get(f"{api}/v1/jobs/{job_id}", headers=read_only, timeout=5).ok
    entries = requests.get(f"{api}/v1/dlq", headers=read_only, timeout=5).json()["entries"]
    (entry,) = [e for e in entries if e["job_id"] == job_id]
    refused = [_post(api, {"action": "retweet", "account_id": account.account_id,
                           "tweet_id": "46"}, READ_ONLY_TOKEN),
               requests.post(f"{api}/v1/dlq/{entry['id']}/replay?force=true",
                             headers=read_only, timeout=5)]
    for response in refused:
        assert response.status_code == 403, response.text
        assert response.headers["Content-Type"].startswith("application/problem+json")
        assert "read-only" in response.json()["detail"]
    assert rtq.dead_letters.get(entry["id"]) is not None
    assert not list(rtq.redis.scan_iter(f"rtq:intent:{account.account_id}:46"))
    # The prefix is a scope, not part of the token: `ro:` itself is not a bearer token.
    assert _post(api, {}, f"ro:{READ_ONLY_TOKEN}").status_code == 401


def test_invalid_jobs_are_problem_details_naming_the_field(rtq: Rtq, api: str) -> None:
    """A list with bad entries: 422, every bad entry named by index and field; nothing queued."""
    account = rtq.add_account()
    good = {"action": "retweet", "account_id": account.account_id, "tweet_id": "1"}
    response = _post(api, [good, {**good, "tweet_id": "x1"}, {**good, "extra": True},
                           {**good, "account_id": "424242"}])
    assert response.status_code == 422
    problem = response.json()
    assert problem["status"] == 422 and problem["detail"].startswith("tweet_id: ")
    assert [(e["index"], e["field"]) for e in problem["errors"]] == [(1, "tweet_id"),
                                                                     (2, "extra")]
    unknown = _post(api, [good, {**good, "account_id": "424242"}])
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "account_id"
    assert not list(rtq.redis.scan_iter(f"rtq:intent:{account.account_id}:*"))
    not_json = requests.post(f"{api}/v1/jobs", data=b"{nope", timeout=5,
                             headers={"Authorization": f"Bearer {TOKEN}"})
    assert not_json.status_code == 400 and not_json.json()["errors"][0]["field"] == "body"


def test_bodies_have_a_size_limit(api: str) -> None:
    """Over 1 MiB: 413; over 1,000 jobs: 422 naming the body."""
    big = requests.post(f"{api}/v1/jobs", data=b"[" + b" " * (1024 * 1024 + 10) + b"]",
                        headers={"Authorization": f"Bearer {TOKEN}",
                                 "Content-Type": "application/json"}, timeout=10)
    assert big.status_code == 413
    many = _post(api, [{"action": "retweet", "account_id": "1", "tweet_id": "1"}] * 1001)
    assert many.status_code == 422 and many.json()["errors"][0]["field"] == "body"


@pytest.mark.usefixtures("worker")
def test_dead_letters_can_be_listed_and_replayed(rtq: Rtq, api: str) -> None:
    """GET /v1/dlq lists the entry; POST replay needs force for a permanent reason."""
    account = rtq.add_account()
    rtq.admin.configure(missing_tweets=["44"])
    rtq.wait_terminal(rtq.producer.enqueue("retweet", account.account_id, "44"))
    auth = {"Authorization": f"Bearer {TOKEN}"}
    (entry,) = requests.get(f"{api}/v1/dlq?reason=not_found", headers=auth,
                            timeout=5).json()["entries"]
    rtq.admin.configure(missing_tweets=[])
    refused = requests.post(f"{api}/v1/dlq/{entry['id']}/replay", headers=auth, timeout=5)
    assert refused.status_code == 409 and "force" in refused.json()["detail"]
    replayed = requests.post(f"{api}/v1/dlq/{entry['id']}/replay?force=true", headers=auth,
                             timeout=5)
    assert replayed.status_code == 202
    assert rtq.wait_terminal(replayed.json()["job_id"])[0].state == "succeeded"
    missing = requests.post(f"{api}/v1/dlq/nope/replay", headers=auth, timeout=5)
    assert missing.status_code == 404


def test_scheduled_jobs_over_http(rtq: Rtq, api: str) -> None:
    """`at` and `undo_after` work over HTTP as they do in the CLI."""
    account = rtq.add_account()
    response = _post(api, {"action": "retweet", "account_id": account.account_id,
                           "tweet_id": "7", "at": "2099-01-01T00:00:00Z"})
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "at"
    boost = _post(api, {"action": "retweet", "account_id": account.account_id,
                        "tweet_id": "7", "undo_after": "24h"})
    assert boost.status_code == 202
    retweet, undo = boost.json()["jobs"]
    assert retweet["due_at"] is None and undo["action"] == "undo" and undo["due_at"]


def test_accepted_jobs_per_second_on_loopback(rtq_env: dict[str, str]) -> None:
    """A bounded load test: 8 clients posting lists of 50 jobs for 2 s; prints jobs/s.
    (Its own Redis and no worker: tens of thousands of jobs must not reach the shared one.)"""
    with RedisServer() as private:
        env = {**rtq_env, "RTQ_REDIS_URL": private.url}
        settings = Settings.from_env(env)
        AccountStore(private.client(), Keys(settings.key_prefix),
                     fernet_for(settings.secret_keys)).add(Credentials("77-a", "s", "k", "c"))
        process, api = _serve(env)
        try:
            total, rate = _load(api, "77")
        finally:
            _stop(process)
        assert queue_depth(private.client(), settings.queue_key) == total
    print(f"HTTP producer: {rate:,.0f} jobs/s accepted on loopback ({total} jobs)")
    assert rate > 500


def _load(api: str, account_id: str) -> tuple[int, float]:
    body = [{"action": "retweet", "account_id": account_id, "tweet_id": str(t)}
            for t in range(50)]
    deadline = time.monotonic() + 2.0

    def client() -> int:
        session, accepted = requests.Session(), 0
        session.headers["Authorization"] = f"Bearer {TOKEN}"
        while time.monotonic() < deadline:
            response = session.post(f"{api}/v1/jobs", data=json.dumps(body), timeout=10,
                                    headers={"Content-Type": "application/json"})
            assert response.status_code == 202
            accepted += len(body)
        return accepted

    started = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        total = sum(pool.map(lambda _: client(), range(8)))
    return total, total / (time.monotonic() - started)
