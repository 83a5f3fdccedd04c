"""The operator controls of `rtq api`, against a real `rtq api` process: each answers what the
CLI's command answers (the same service behind both), every write is audited as the token's
label, a read-only token is refused every write and changes nothing, and bad input is a
problem document naming the parameter."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis
import requests

from producers.openapi import OPENAPI
from tests.holding import holding
from tests.producers.test_http_api import READ_ONLY_TOKEN, TOKEN, _serve, _stop
from tests.support import Rtq, wait_for
from tests.web.test_console_http import dead_letter
from worker.core import clock
from worker.core.keys import Keys
from worker.domain.accounts import AccountStore, fernet_for
from worker.domain.dlq import DeadLetter, DeadLetters, new_entry_id
from worker.embedded.servers import RedisServer
from worker.ops import audit
from worker.x_api.credentials import Credentials

ACTOR = "api:token 2"  # TOKEN is the second entry of RTQ_API_TOKENS (tests/.../test_http_api)


class Client:
    """requests against the API with one token (None: no Authorization header)."""

    def __init__(self, url: str, token: str | None = TOKEN) -> None:
        self.url = url
        self.session = requests.Session()
        if token is not None:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def get(self, path: str, **params: Any) -> requests.Response:
        return self.session.get(self.url + path, params=params, timeout=10)

    def post(self, path: str, **params: Any) -> requests.Response:
        return self.session.post(self.url + path, params=params, timeout=10)

    def delete(self, path: str) -> requests.Response:
        return self.session.delete(self.url + path, timeout=10)


@pytest.fixture(scope="module")
def api(rtq_env: dict[str, str]) -> Iterator[str]:
    """`rtq api` on the suite's Redis."""
    process, url = _serve(rtq_env)
    try:
        yield url
    finally:
        _stop(process)


@dataclass
class Private:
    """`rtq api` on a redis-server of its own (no worker): for tests that count every dead
    letter or compare whole documents, which work left by earlier modules on the shared Redis
    could change."""

    redis: redis.Redis
    url: str
    env: dict[str, str]
    dead_letters: DeadLetters

    def entry(self, account_id: str | None, tweet_id: str, reason: str = "not_found"
              ) -> DeadLetter:
        entry = DeadLetter(
            id=new_entry_id(), job_id=f"job-{new_entry_id()}",
            action="retweet" if account_id else None, account_id=account_id,
            tweet_id=tweet_id if account_id else None, reason=reason, http_status=404,
            detail="Not Found", attempts=1, failed_at=clock.now_iso(),
            history=({"attempt": 1, "at": clock.now_iso(), "outcome": reason,
                      "http_status": 404},))
        self.dead_letters.add(entry, clock.ms(clock.now()))
        return entry

    def cli(self, rtq: Rtq, *args: str) -> str:
        result = rtq.cli(*args, env=self.env)
        assert result.returncode == 0, result.stderr
        return result.stdout


@pytest.fixture
def private(rtq_env: dict[str, str]) -> Iterator[Private]:
    with RedisServer() as server:
        env = {**rtq_env, "RTQ_REDIS_URL": server.url}
        process, url = _serve(env)
        try:
            yield Private(server.client(), url, env, DeadLetters(server.client(), Keys()))
        finally:
            _stop(process)


def audited(rtq: Rtq | Private) -> list[tuple[str, str, str, int | None]]:
    """The audit trail, newest first: (action, actor, target, jobs)."""
    return [(e.action, e.actor, e.target, e.jobs) for e in audit.entries(rtq.redis, Keys())]


def problem_of(response: requests.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/problem+json")
    document: dict[str, Any] = response.json()
    assert document["status"] == status
    return document


def fields_of(problem: dict[str, Any]) -> list[str]:
    return [error["field"] for error in problem["errors"]]


# Every write route, with values that would succeed for a full token.
def write_requests(account_id: str, entry_id: str, job_id: str
                   ) -> dict[tuple[str, str], str]:
    return {
        ("post", "/v1/jobs"): "/v1/jobs",
        ("post", "/v1/dlq/replay"): "/v1/dlq/replay?all=true&force=true",
        ("post", "/v1/dlq/purge"): "/v1/dlq/purge?all=true",
        ("delete", "/v1/dlq/{entry_id}"): f"/v1/dlq/{entry_id}",
        ("post", "/v1/dlq/{entry_id}/replay"): f"/v1/dlq/{entry_id}/replay?force=true",
        ("post", "/v1/pause"): "/v1/pause",
        ("post", "/v1/resume"): "/v1/resume",
        ("post", "/v1/accounts/{account_id}/release"): f"/v1/accounts/{account_id}/release",
        ("post", "/v1/apps/{app}/release"): "/v1/apps/default/release",
        ("post", "/v1/cancel"): f"/v1/cancel?account={account_id}",
        ("post", "/v1/jobs/{job_id}/cancel"): f"/v1/jobs/{job_id}/cancel",
    }


def test_a_read_only_token_is_refused_every_write_and_changes_nothing(rtq: Rtq,
                                                                      api: str) -> None:
    """Every operation of the document that is not a GET, asked with a `ro:` token: 403, a
    problem saying the token is read-only; no token or a wrong one: 401. Nothing changes:
    no job, no pause, the dead letter and the hold stay, no audit entry."""
    account = rtq.add_account()
    entry = dead_letter(rtq, account.account_id, reason="retries_exhausted")
    rtq.redis.hset(f"rtq:account:{account.account_id}", "state", "locked")
    pending = rtq.producer.enqueue("retweet", account.account_id, "4")
    writes = {(method, route) for route, operations in OPENAPI["paths"].items()
              for method in operations if method != "get"}
    asked = write_requests(account.account_id, entry.id, pending)
    assert writes == set(asked), "a write route without a read-only test"
    body = {"action": "retweet", "account_id": account.account_id, "tweet_id": "5"}
    for token, status in ((READ_ONLY_TOKEN, 403), (None, 401), ("wrong-token", 401)):
        session = Client(api, token).session
        for (method, _route), target in sorted(asked.items()):
            response = session.request(method, api + target, timeout=10,
                                       json=body if target == "/v1/jobs" else None)
            problem = problem_of(response, status)
            if status == 403:
                assert "read-only" in problem["detail"], (target, problem)
    assert rtq.dead_letters.get(entry.id) is not None
    assert rtq.redis.hget(f"rtq:account:{account.account_id}", "state") == "locked"
    assert not rtq.redis.exists("rtq:pauses") and audited(rtq) == []
    assert not rtq.redis.exists(f"rtq:intent:{account.account_id}:5")
    assert rtq.status(pending).state != "cancelled"
    # ...and the same token reads every GET route that needs no path value.
    reader = Client(api, READ_ONLY_TOKEN)
    for route, operations in OPENAPI["paths"].items():
        if "get" in operations and "{" not in route:
            assert reader.get(route).status_code == 200, route


@pytest.mark.usefixtures("worker")
def test_pause_and_resume_an_account_over_http(rtq: Rtq, api: str) -> None:
    """POST /v1/pause?account=A holds A's jobs (no call); GET /v1/pauses counts them;
    POST /v1/resume?account=A lets them go and they succeed. Both audited as the token."""
    a, b = rtq.add_account(), rtq.add_account()
    client = Client(api)
    paused = client.post("/v1/pause", account=a.account_id)
    assert paused.status_code == 200 and paused.json() == {
        "scope": f"account:{a.account_id}", "started": True}
    again = client.post("/v1/pause", account=a.account_id)
    assert again.json()["started"] is False
    held = [rtq.producer.enqueue("retweet", a.account_id, str(t)) for t in (1, 2, 3)]
    other = rtq.producer.enqueue("retweet", b.account_id, "1")
    rtq.wait_terminal(other)

    def listed() -> list[dict[str, Any]] | None:
        pauses: list[dict[str, Any]] = client.get("/v1/pauses").json()["pauses"]
        return pauses if pauses and pauses[0]["held_jobs"] == 3 else None

    (pause,) = wait_for(listed, 20, "A's three jobs held")
    assert pause["scope"] == f"account:{a.account_id}" and pause["since"]
    assert rtq.x_calls(a.account_id) == []
    resumed = client.post("/v1/resume", account=a.account_id)
    assert resumed.status_code == 200 and resumed.json() == {
        "scope": f"account:{a.account_id}", "released": 3}
    assert {s.state for s in rtq.wait_terminal(*held)} == {"succeeded"}
    assert client.get("/v1/pauses").json() == {"pauses": []}
    assert audited(rtq) == [("resume", ACTOR, f"account:{a.account_id}", 3),
                            ("pause", ACTOR, f"account:{a.account_id}", None)]


def test_pause_input_errors_name_the_parameter(rtq: Rtq, api: str) -> None:
    """Both scopes, a bad id, a misspelt parameter: 400 naming it and nothing paused;
    resuming what is not paused: 409."""
    client = Client(api)
    both = problem_of(client.post("/v1/pause", account="1", tweet="2"), 400)
    assert fields_of(both) == ["account", "tweet"] and "give one of them" in both["detail"]
    bad = problem_of(client.post("/v1/pause", account="abc"), 400)
    assert fields_of(bad) == ["account"] and bad["detail"].startswith("account: ")
    unknown = problem_of(client.post("/v1/pause", account="424242"), 404)
    assert fields_of(unknown) == ["account"] and "unknown account 424242" in unknown["detail"]
    misspelt = problem_of(client.post("/v1/pause", acount="7"), 400)
    assert fields_of(misspelt) == ["acount"] and "not a parameter" in misspelt["detail"]
    assert client.get("/v1/pauses").json() == {"pauses": []}
    not_paused = problem_of(client.post("/v1/resume", tweet="https://x.com/a/status/5"), 409)
    assert "tweet:5 is not paused" in not_paused["detail"]
    assert audited(rtq) == []


def test_show_purge_and_export_dead_letters_over_http(rtq: Rtq, private: Private) -> None:
    """GET one entry (with its history); export = `rtq dlq export -` byte for byte, streamed
    as JSON Lines; purge by filter, one entry, and all=true; each purge audited."""
    a, b = "11", "22"
    for tweet in ("1", "2"):
        private.entry(a, tweet)
    b_entries = [private.entry(b, tweet) for tweet in ("3", "4")]
    junk = private.entry(None, "0", "malformed_message")
    client = Client(private.url)
    shown = client.get(f"/v1/dlq/{b_entries[0].id}")
    assert shown.status_code == 200 and shown.json() == b_entries[0].as_dict()
    assert shown.json()["history"][0]["outcome"] == "not_found"
    missing = problem_of(client.get("/v1/dlq/0123456789abcdef"), 404)
    assert fields_of(missing) == ["entry_id"]

    exported = client.get("/v1/dlq/export")
    assert exported.headers["Content-Type"].startswith("application/x-ndjson")
    assert exported.headers.get("Transfer-Encoding") == "chunked"
    assert exported.text == private.cli(rtq, "dlq", "export", "-")
    assert len(exported.text.splitlines()) == 4 and junk.id not in exported.text
    only_a = client.get("/v1/dlq/export", account=a, limit=1).text
    assert only_a == private.cli(rtq, "dlq", "export", "-", "--account", a, "--limit", "1")
    (line,) = [json.loads(line) for line in only_a.splitlines()]
    assert line in ({"action": "retweet", "account_id": a, "tweet_id": t} for t in ("1", "2"))

    nothing = problem_of(client.post("/v1/dlq/purge"), 400)
    assert fields_of(nothing) == ["all"]
    misspelt = problem_of(client.post("/v1/dlq/purge", acount=a), 400)
    assert fields_of(misspelt) == ["acount"]
    both = problem_of(client.post("/v1/dlq/purge", all="true", account=a), 400)
    assert fields_of(both) == ["all"]
    bad = problem_of(client.post("/v1/dlq/purge", reason="nope"), 400)
    assert fields_of(bad) == ["reason"]
    assert private.dead_letters.count() == 5

    assert client.post("/v1/dlq/purge", account=a).json() == {"purged": 2}
    assert client.delete(f"/v1/dlq/{b_entries[0].id}").json() == {
        "entry_id": b_entries[0].id, "purged": 1}
    assert fields_of(problem_of(client.delete(f"/v1/dlq/{b_entries[0].id}"), 404)) == [
        "entry_id"]
    assert {e.id for e in private.dead_letters.list()} == {b_entries[1].id, junk.id}
    assert client.post("/v1/dlq/purge", all="true").json() == {"purged": 2}
    assert private.dead_letters.count() == 0
    assert audited(private) == [("dlq.purge", ACTOR, "dlq all", 2),
                                ("dlq.purge", ACTOR, b_entries[0].id, 1),
                                ("dlq.purge", ACTOR, f"dlq account={a}", 2)]


@pytest.mark.usefixtures("worker")
def test_replaying_a_selection_over_http_reports_each_entry(rtq: Rtq, api: str) -> None:
    """POST /v1/dlq/replay?account=A: the transient entry is replayed (and succeeds), the
    permanent one is refused (it needs force) and stays; audited once with the count and the
    refusals. (Filtered by the test's own account: work left by earlier modules may add
    entries to the shared Redis.)"""
    account = rtq.add_account()
    transient = dead_letter(rtq, account.account_id, "8", reason="retries_exhausted")
    permanent = dead_letter(rtq, account.account_id, "9")
    report = Client(api).post("/v1/dlq/replay", account=account.account_id)
    assert report.status_code == 200, report.text
    (done,) = report.json()["replayed"]
    (refused,) = report.json()["refused"]
    assert done["entry_id"] == transient.id
    assert refused["entry_id"] == permanent.id and "force" in refused["reason"]
    assert rtq.wait_terminal(done["job_id"])[0].state == "succeeded"
    assert [e.id for e in rtq.dead_letters.list(account_id=account.account_id)] == [
        permanent.id]
    (entry,) = audit.entries(rtq.redis, Keys(rtq.settings.key_prefix))
    assert (entry.action, entry.actor, entry.target, entry.jobs, entry.details) == (
        "dlq.replay", ACTOR, f"dlq account={account.account_id}", 1, {"refused": 1})


def test_stats_is_the_document_of_rtq_stats_json(rtq: Rtq, private: Private,
                                                 secret_key: str) -> None:
    """GET /v1/stats answers what `rtq stats --json` prints (read a moment apart, on a
    Redis where nothing else runs)."""
    AccountStore(private.redis, Keys(), fernet_for((secret_key,))).add(
        Credentials("31-a", "s", "k", "c"))
    private.entry("31", "1")
    private.redis.hset("rtq:account:31", "state", "suspended")
    over_http = Client(private.url, READ_ONLY_TOKEN).get("/v1/stats")
    assert over_http.status_code == 200
    document = over_http.json()
    cli = json.loads(private.cli(rtq, "stats", "--json"))
    assert {**document, "taken_at": None} == {**cli, "taken_at": None}
    assert document["dead_letters"]["by_reason"] == {"not_found": 1}
    assert document["accounts_by_state"]["suspended"] == 1


def test_audit_over_http_is_rtq_audit_json(rtq: Rtq, api: str) -> None:
    """GET /v1/audit lists what `rtq audit --json` lists, with its filters; bad filters are
    400s naming the parameter."""
    client = Client(api)
    assert client.post("/v1/pause", tweet="77").status_code == 200
    assert rtq.cli("resume", "--tweet", "77").returncode == 0
    assert client.post("/v1/pause").status_code == 200
    entries = client.get("/v1/audit").json()["entries"]
    cli = [json.loads(line) for line in rtq.cli("audit", "--json").stdout.splitlines()]
    assert entries == cli
    assert [(e["action"], e["actor"], e["target"]) for e in entries] == [
        ("pause", ACTOR, "all"), ("resume", entries[1]["actor"], "tweet:77"),
        ("pause", ACTOR, "tweet:77")]
    assert re.fullmatch(r"cli:.+", entries[1]["actor"])
    assert [e["target"] for e in client.get("/v1/audit", action="pause", limit=1).json()[
        "entries"]] == ["all"]
    assert len(client.get("/v1/audit", since="1h").json()["entries"]) == 3
    assert client.get("/v1/audit", since="2999-01-01T00:00:00Z").json() == {"entries": []}
    for name, value in (("action", "dlq.nope"), ("since", "yesterday"), ("limit", "0"),
                        ("limit", "ten")):
        assert fields_of(problem_of(client.get("/v1/audit", **{name: value}), 400)) == [name]
    assert client.post("/v1/resume").status_code == 200


def test_account_and_app_release_over_http(rtq: Rtq) -> None:
    """GET /v1/accounts and /v1/apps show the holds as `rtq accounts list --json` and
    `rtq apps list --json` do; POST .../release sends the held jobs back and is audited;
    unknown, not held and not-an-id are problems naming the parameter."""
    account = rtq.add_account()
    app = str(rtq.redis.hget(f"rtq:account:{account.account_id}", "app"))
    with holding(rtq) as held:
        held.hold_account(account.account_id, "locked", "Your account is locked",
                          messages=held.jobs(account.account_id, range(1, 3)))
        held.hold_app(app, "credits_depleted", "no credits",
                      messages=held.jobs(account.account_id, range(3, 6)))
        process, url = _serve(held.env)
        try:
            client = Client(url)
            accounts = client.get("/v1/accounts").json()["accounts"]
            cli_accounts = rtq.cli("accounts", "list", "--json", env=held.env).stdout
            assert accounts == [json.loads(line) for line in cli_accounts.splitlines()]
            assert (accounts[0]["state"], accounts[0]["held_jobs"]) == ("locked", 2)
            apps = client.get("/v1/apps").json()["apps"]
            cli_apps = rtq.cli("apps", "list", "--json", env=held.env).stdout
            assert apps == [json.loads(line) for line in cli_apps.splitlines()]
            assert [(a["app"], a["held_jobs"]) for a in apps] == [(app, 3)]

            released = client.post(f"/v1/accounts/{account.account_id}/release")
            assert released.json() == {"account_id": account.account_id, "released": 2}
            assert client.post(f"/v1/apps/{app.upper()}/release").json() == {
                "app": app, "released": 3}
            assert held.released() == 5
            assert "not held" in problem_of(client.post(f"/v1/apps/{app}/release"),
                                            409)["detail"]
            assert fields_of(problem_of(client.post("/v1/apps/nope/release"), 400)) == ["app"]
            assert fields_of(problem_of(client.post("/v1/accounts/4242/release"),
                                        404)) == ["account_id"]
            assert fields_of(problem_of(client.post("/v1/accounts/x1/release"),
                                        400)) == ["account_id"]
        finally:
            _stop(process)
    assert audited(rtq) == [("apps.release", ACTOR, app, 3),
                            ("accounts.release", ACTOR, account.account_id, 2)]


@pytest.mark.usefixtures("worker")
def test_cancel_over_http_is_rtq_cancel(rtq: Rtq, api: str) -> None:
    """POST /v1/cancel?account=A cancels A's paused jobs (the report rtq cancel --json
    prints); POST /v1/jobs/{id}/cancel one job; both audited; bad input names the
    parameter, an unknown account or job is a 404."""
    a, b = rtq.add_account(), rtq.add_account()
    client = Client(api)
    assert client.post("/v1/pause", account=a.account_id).status_code == 200
    a_jobs = [rtq.producer.enqueue("retweet", a.account_id, str(t)) for t in (1, 2, 3)]
    wait_for(lambda: rtq.redis.llen(f"rtq:paused:account:{a.account_id}") == 3, 20,
             "A's jobs held by the pause")
    answer = client.post("/v1/cancel", account=a.account_id)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"target": f"account:{a.account_id}", "cancelled": 3,
                             "finished": 0, "running": [], "missing": 0}
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    b_job = rtq.producer.enqueue("retweet", b.account_id, "9", at=tomorrow)
    one = client.post(f"/v1/jobs/{b_job}/cancel")
    assert one.status_code == 200 and one.json()["cancelled"] == 1, one.text
    assert rtq.status(b_job).state == "cancelled"
    assert client.post("/v1/resume", account=a.account_id).status_code == 200
    assert {s.state for s in rtq.wait_terminal(*a_jobs)} == {"cancelled"}
    assert rtq.x_calls(a.account_id) == []
    assert ("cancel", ACTOR, f"account:{a.account_id}", 3) in audited(rtq)
    assert fields_of(problem_of(client.post("/v1/cancel"), 400)) == ["job"]
    assert fields_of(problem_of(client.post("/v1/cancel", account="x1"), 400)) == ["account"]
    assert fields_of(problem_of(client.post("/v1/cancel", account="424242"), 404)) \
        == ["account"]
    assert fields_of(problem_of(client.post("/v1/jobs/nosuchjob/cancel"), 404)) == ["job"]
    both = client.post("/v1/cancel", job=a_jobs[0], account=a.account_id)
    assert problem_of(both, 400)["errors"]


@pytest.mark.usefixtures("worker")
def test_finding_jobs_over_http_is_rtq_jobs_and_rtq_pair(rtq: Rtq, api: str) -> None:
    """GET /v1/accounts/{A}/jobs answers what `rtq jobs --json` prints (pages, filters, waiting
    jobs with why); GET /v1/pairs/{A}/{T} what `rtq pair --json` prints; bad input names the
    parameter, an unknown account is a 404."""
    a = rtq.add_account()
    client = Client(api, READ_ONLY_TOKEN)
    assert rtq.cli("pause", "--account", a.account_id).returncode == 0
    ids = [rtq.producer.enqueue("retweet", a.account_id, str(t)) for t in range(1, 6)]
    wait_for(lambda: rtq.redis.llen(f"rtq:paused:account:{a.account_id}") == 5, 20,
             "A's jobs held by the pause")
    first = client.get(f"/v1/accounts/{a.account_id}/jobs", limit=3)
    assert first.status_code == 200, first.text
    page = first.json()
    assert [j["job_id"] for j in page["jobs"]] == ids[:-4:-1] and page["next_cursor"]
    cli = json.loads(rtq.cli("jobs", "--account", a.account_id, "--limit", "3",
                             "--json").stdout)
    assert [j["job_id"] for j in cli["jobs"]] == [j["job_id"] for j in page["jobs"]]
    rest = client.get(f"/v1/accounts/{a.account_id}/jobs", limit=3,
                      cursor=page["next_cursor"]).json()
    assert [j["job_id"] for j in rest["jobs"]] == ids[1::-1] and rest["next_cursor"] is None
    waiting = client.get(f"/v1/accounts/{a.account_id}/jobs", state="waiting",
                         tweet="3").json()["jobs"]
    assert [(j["job_id"], j["waiting_for"]) for j in waiting] == [(ids[2], "pause")]
    pair = client.get(f"/v1/pairs/{a.account_id}/3")
    assert pair.status_code == 200, pair.text
    document = pair.json()
    assert document["intent"]["job_id"] == ids[2]
    assert [c["kind"] for c in document["held_back_by"]] == ["pause"]
    assert document == json.loads(rtq.cli("pair", a.account_id, "3", "--json").stdout)
    jobs_of = f"/v1/accounts/{a.account_id}/jobs"
    assert fields_of(problem_of(client.get(jobs_of, state="lost"), 400)) == ["state"]
    assert fields_of(problem_of(client.get(jobs_of, cursor="x"), 400)) == ["cursor"]
    assert fields_of(problem_of(client.get(jobs_of, limit="0"), 400)) == ["limit"]
    assert fields_of(problem_of(client.get("/v1/accounts/424242/jobs"), 404)) == ["account_id"]
    assert fields_of(problem_of(client.get(f"/v1/pairs/{a.account_id}/x"), 400)) \
        == ["tweet_id"]
    assert fields_of(problem_of(client.get("/v1/pairs/424242/3"), 404)) == ["account_id"]
    assert Client(api).post("/v1/resume", account=a.account_id).status_code == 200
    assert {s.state for s in rtq.wait_terminal(*ids, timeout=30)} == {"succeeded"}


@pytest.mark.usefixtures("worker")
def test_cancelling_a_job_by_id_over_http_is_audited_as_the_token(rtq: Rtq, api: str) -> None:
    """POST /v1/jobs/{id}/cancel writes one audit entry: action cancel, the token's label as
    actor, the job as target, one job cancelled; the job ends cancelled without a call."""
    account = rtq.add_account()
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    job_id = rtq.producer.enqueue("retweet", account.account_id, "11", at=tomorrow)
    answer = Client(api).post(f"/v1/jobs/{job_id}/cancel")
    assert answer.status_code == 200, answer.text
    assert answer.json()["target"] == f"job {job_id}"
    (entry,) = audit.entries(rtq.redis, Keys(rtq.settings.key_prefix))
    assert (entry.action, entry.actor, entry.target, entry.jobs) == (
        "cancel", ACTOR, f"job {job_id}", 1)
    assert rtq.status(job_id).state == "cancelled"
    assert rtq.x_calls(account.account_id) == []
