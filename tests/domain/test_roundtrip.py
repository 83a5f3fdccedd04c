"""Both actions reach X from every producer: Python, CLI, bulk file, and raw `send_task`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import producers
from tests.support import Rtq
from worker.embedded.servers import WorkerProcess

pytestmark = pytest.mark.usefixtures("worker")


def test_python_producer_retweets_and_undoes(rtq: Rtq, monkeypatch: pytest.MonkeyPatch) -> None:
    """enqueue_retweet then enqueue_undo change X's state, each with one signed call."""
    # Given an account and the module-level API configured from the environment
    account = rtq.add_account()
    monkeypatch.setattr(producers, "_default", rtq.producer)
    # When it retweets (by URL) and then undoes
    first = producers.enqueue_retweet(int(account.account_id), "https://x.com/jack/status/20?s=1")
    (done,) = rtq.wait_terminal(first)
    # Then X has the retweet
    assert done.state == "succeeded" and done.attempts == 1 and done.tweet_id == "20"
    assert rtq.admin.state(account.account_id) == {account.account_id: ["20"]}
    second = producers.enqueue_undo(account.account_id, 20)
    (undone,) = rtq.wait_terminal(second)
    assert undone.state == "succeeded"
    assert rtq.admin.state(account.account_id).get(account.account_id, []) == []
    assert [c["action"] for c in rtq.x_calls(account.account_id)] == ["retweet", "undo"]


def test_cli_retweet_and_undo_print_only_the_job_id(rtq: Rtq) -> None:
    """`rtq retweet` / `rtq undo` print the job id alone and the jobs reach X."""
    account = rtq.add_account()
    result = rtq.cli("retweet", account.account_id, "https://twitter.com/a_b/status/31")
    assert result.returncode == 0, result.stderr
    job_id = result.stdout.strip()
    assert result.stdout == job_id + "\n"
    assert rtq.wait_terminal(job_id)[0].state == "succeeded"
    undo = rtq.cli("undo", account.account_id, "31")
    assert undo.returncode == 0, undo.stderr
    assert rtq.wait_terminal(undo.stdout.strip())[0].state == "succeeded"
    assert rtq.admin.state(account.account_id).get(account.account_id, []) == []


def test_bulk_file_enqueues_every_line_in_order(rtq: Rtq, tmp_path: Path) -> None:
    """`rtq enqueue FILE` prints one job id per line and every job reaches X."""
    account = rtq.add_account()
    lines = [
        {"action": "retweet", "account_id": account.account_id, "tweet_id": "41"},
        {"action": "retweet", "account_id": int(account.account_id), "tweet_id": 42},
        {"action": "undo", "account_id": account.account_id,
         "tweet_id": "https://mobile.x.com/someone/status/43/photo/1"},
    ]
    rtq.admin.set_state(account.account_id, "43", True)
    path = tmp_path / "jobs.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n\n")
    result = rtq.cli("enqueue", str(path))
    assert result.returncode == 0, result.stderr
    ids = result.stdout.split()
    assert len(ids) == 3
    states = [s.state for s in rtq.wait_terminal(*ids)]
    assert states == ["succeeded", "succeeded", "succeeded"]
    assert sorted(rtq.admin.state(account.account_id)[account.account_id]) == ["41", "42"]


def test_bulk_from_stdin(rtq: Rtq) -> None:
    """`rtq enqueue -` reads JSON Lines from stdin."""
    account = rtq.add_account()
    line = json.dumps({"action": "retweet", "account_id": account.account_id, "tweet_id": "7"})
    result = rtq.cli("enqueue", "-", input=line + "\n")
    assert result.returncode == 0, result.stderr
    assert rtq.wait_terminal(result.stdout.strip())[0].state == "succeeded"


@pytest.mark.parametrize("action", ["retweet", "undo"])
def test_raw_send_task_by_name_works_like_our_producers(rtq: Rtq, action: str) -> None:
    """A foreign Celery client's `send_task("rtq.<action>")` is executed and tracked."""
    account = rtq.add_account()
    if action == "undo":
        rtq.admin.set_state(account.account_id, "55", True)
    job_id = rtq.send_task(f"rtq.{action}",
                           kwargs={"account_id": account.account_id, "tweet_id": "55"})
    (status,) = rtq.wait_terminal(job_id)
    assert (status.state, status.action, status.attempts) == ("succeeded", action, 1)
    expected = ["55"] if action == "retweet" else []
    assert rtq.admin.state(account.account_id).get(account.account_id, []) == expected


def test_status_json_has_the_contract_fields(rtq: Rtq) -> None:
    """`rtq status --json` gives the documented fields with ISO-8601 UTC times."""
    account = rtq.add_account()
    job_id = rtq.producer.enqueue("retweet", account.account_id, "9")
    rtq.wait_terminal(job_id)
    result = rtq.cli("status", job_id, "--json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert {"job_id", "action", "account_id", "tweet_id", "state", "attempts", "updated_at",
            "reason"} <= set(document)
    assert document["state"] == "succeeded" and document["reason"] is None
    assert document["updated_at"].endswith("+00:00")


def test_worker_command_is_celery_worker_with_our_defaults(
    rtq_env: dict[str, str], tmp_path: Path
) -> None:
    """`rtq worker` execs `celery -A worker worker` consuming the rtq queue."""
    log = str(tmp_path / "w.log")
    with WorkerProcess(rtq_env, log_path=log, extra_args=("--concurrency", "1")) as worker:
        text = worker.log()
    assert ".> rtq" in text and "rtq.retweet" in text and "rtq.undo" in text
