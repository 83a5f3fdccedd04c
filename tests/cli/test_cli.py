"""The CLI's contract: ids alone on stdout, diagnostics on stderr, non-zero exits on errors."""

from __future__ import annotations

import json
from pathlib import Path

from cryptography.fernet import Fernet

from tests.support import Rtq
from worker.domain.lanes import all_lanes, queue_depth


def test_keygen_prints_a_fernet_key(rtq: Rtq) -> None:
    """`rtq keygen` prints one usable key and nothing else."""
    result = rtq.cli("keygen")
    assert result.returncode == 0
    Fernet(result.stdout.strip().encode())
    assert result.stdout.count("\n") == 1


def test_accounts_add_reads_stdin_and_prints_the_id(rtq: Rtq) -> None:
    """The id is the token's digits before the dash; replacing an account keeps one entry."""
    document = {"access_token": "7588892-kagSNq", "access_token_secret": "sss"}
    result = rtq.cli("accounts", "add", input=json.dumps(document))
    assert result.returncode == 0, result.stderr
    assert result.stdout == "7588892\n"
    again = rtq.cli("accounts", "add", input=json.dumps({**document, "consumer_key": "k",
                                                           "consumer_secret": "c"}))
    assert again.stdout == "7588892\n"
    listed = [json.loads(x) for x in rtq.cli("accounts", "list", "--json").stdout.splitlines()]
    assert [(a["account_id"], a["own_consumer_key"]) for a in listed] == [("7588892", True)]


def test_accounts_add_from_file(rtq: Rtq, tmp_path: Path) -> None:
    """--file PATH reads the JSON object from a file."""
    path = tmp_path / "creds.json"
    path.write_text(json.dumps({"access_token": "42-abc", "access_token_secret": "s",
                                "consumer_key": "k", "consumer_secret": "c"}))
    result = rtq.cli("accounts", "add", "--file", str(path))
    assert (result.returncode, result.stdout) == (0, "42\n")


def test_accounts_add_rejects_bad_input_naming_the_field(rtq: Rtq) -> None:
    """Unknown fields, a bad access_token, missing fields and bad JSON: exit 1, field named."""
    cases = [
        ({"access_token": "1-a", "access_token_secret": "s", "password": "p"}, "password"),
        ({"access_token": "abc-def", "access_token_secret": "s"}, "access_token"),
        ({"access_token": "1-a"}, "access_token_secret"),
        ({"access_token": "1-a", "access_token_secret": "s", "consumer_key": "k"},
         "consumer_secret"),
    ]
    for document, field in cases:
        result = rtq.cli("accounts", "add", input=json.dumps(document))
        assert result.returncode == 1 and result.stdout == ""
        assert result.stderr.startswith(f"error: {field}: "), result.stderr
    bad_json = rtq.cli("accounts", "add", input="{not json")
    assert bad_json.returncode == 1 and "input: not valid JSON" in bad_json.stderr
    assert rtq.cli("accounts", "list", "--json").stdout == ""


def test_accounts_add_without_the_secret_key_names_the_variable(rtq: Rtq) -> None:
    """Encrypting needs RTQ_SECRET_KEY."""
    env = {k: v for k, v in rtq.env.items() if k != "RTQ_SECRET_KEY"}
    result = rtq.cli("accounts", "add", env=env,
                     input=json.dumps({"access_token": "1-a", "access_token_secret": "s"}))
    assert result.returncode == 1 and "RTQ_SECRET_KEY" in result.stderr


def test_accounts_remove(rtq: Rtq) -> None:
    """remove deletes the account; removing an unknown one is an error."""
    account = rtq.add_account()
    assert rtq.cli("accounts", "remove", account.account_id).returncode == 0
    assert rtq.cli("accounts", "list", "--json").stdout == ""
    missing = rtq.cli("accounts", "remove", account.account_id)
    assert missing.returncode == 1 and "unknown account" in missing.stderr


def test_status_of_an_unknown_job_is_an_error(rtq: Rtq) -> None:
    """An unknown id: exit 1, nothing on stdout."""
    result = rtq.cli("status", "no-such-job")
    assert (result.returncode, result.stdout) == (1, "")
    assert "unknown job no-such-job" in result.stderr


def test_retweet_with_a_bad_tweet_names_the_field(rtq: Rtq) -> None:
    """A tweet that is neither an id nor a status URL: exit 1, `tweet_id:` on stderr."""
    account = rtq.add_account()
    result = rtq.cli("retweet", account.account_id, "https://evil.com/a/status/1")
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.startswith("error: tweet_id: ")
    unknown = rtq.cli("undo", "31337", "1")
    assert unknown.returncode == 1 and "account_id: unknown account 31337" in unknown.stderr


def test_enqueue_validates_every_line_before_enqueuing_anything(rtq: Rtq, tmp_path: Path
                                                                ) -> None:
    """Bad lines are reported as `line N: field: reason` (blank lines counted); none enqueued."""
    account = rtq.add_account()
    good = {"action": "retweet", "account_id": account.account_id, "tweet_id": "1"}
    lines = [
        json.dumps(good),
        "",
        json.dumps({**good, "action": "like"}),
        "{broken",
        json.dumps({**good, "tweet_id": "12ab"}),
        json.dumps({**good, "account_id": "999999"}),
        json.dumps({**good, "extra": 1}),
        json.dumps(good),
    ]
    path = tmp_path / "jobs.jsonl"
    path.write_text("\n".join(lines) + "\n")
    result = rtq.cli("enqueue", str(path))
    assert result.returncode == 1 and result.stdout == ""
    reported = [line for line in result.stderr.splitlines() if line.startswith("line ")]
    assert [line.split(":")[0:2] for line in reported] == [
        ["line 3", " action"], ["line 4", " line"], ["line 5", " tweet_id"],
        ["line 6", " account_id"], ["line 7", " extra"],
    ]
    assert queue_depth(rtq.redis, rtq.settings.queue_key) == 0
    assert not list(rtq.redis.scan_iter("rtq:job:*"))


def test_enqueue_skip_invalid_enqueues_the_valid_lines_and_still_fails(
    rtq: Rtq, tmp_path: Path
) -> None:
    """--skip-invalid: valid lines are enqueued (ids printed), the exit status is still 1."""
    account = rtq.add_account()
    path = tmp_path / "jobs.jsonl"
    path.write_text("\n".join([
        json.dumps({"action": "retweet", "account_id": account.account_id, "tweet_id": "1"}),
        json.dumps({"action": "retweet", "account_id": account.account_id}),
        json.dumps({"action": "undo", "account_id": account.account_id, "tweet_id": "2"}),
    ]))
    result = rtq.cli("enqueue", "--skip-invalid", str(path))
    assert result.returncode == 1
    assert "line 2: tweet_id: missing" in result.stderr
    ids = result.stdout.split()
    assert len(ids) == 2 and all(rtq.jobs.get(i) is not None for i in ids)


def test_a_bad_setting_is_reported_naming_the_variable(rtq: Rtq) -> None:
    """RTQ_MAX_ATTEMPTS=zero: exit 1, the variable named."""
    result = rtq.cli("status", "x", env={**rtq.env, "RTQ_MAX_ATTEMPTS": "zero"})
    assert result.returncode == 1 and "RTQ_MAX_ATTEMPTS" in result.stderr


def test_account_ids_are_canonical(rtq: Rtq) -> None:
    """A token `007-abc` belongs to account 7, and `rtq retweet 007` finds it."""
    added = rtq.cli("accounts", "add", input=json.dumps(
        {"access_token": "007-abc", "access_token_secret": "s"}))
    assert added.stdout == "7\n"
    assert rtq.cli("retweet", "007", "1").returncode == 0


def test_enqueue_reports_a_line_that_is_not_utf8(rtq: Rtq, tmp_path: Path) -> None:
    """Bytes that are not UTF-8: reported by line, not a traceback."""
    account = rtq.add_account()
    good = json.dumps({"action": "retweet", "account_id": account.account_id, "tweet_id": "1"})
    path = tmp_path / "jobs.jsonl"
    path.write_bytes(good.encode() + b"\n\xff\xfe\n")
    result = rtq.cli("enqueue", str(path))
    assert result.returncode == 1 and "line 2: line: not valid UTF-8" in result.stderr
    assert "Traceback" not in result.stderr


def test_timeouts_that_could_outlive_the_task_limit_are_refused(rtq: Rtq) -> None:
    """connect + read timeouts must fit inside the hard time limit (visibility timeout - 5)."""
    env = {**rtq.env, "RTQ_HTTP_READ_TIMEOUT": "30", "RTQ_HTTP_CONNECT_TIMEOUT": "3"}
    result = rtq.cli("status", "x", env=env)
    assert result.returncode == 1 and "RTQ_HTTP_READ_TIMEOUT" in result.stderr


def test_enqueue_prints_the_jobs_that_went_in_when_redis_fails_part_way(
    rtq: Rtq, tmp_path: Path
) -> None:
    """Redis fails the second batch: the ids of the first are printed (so that a retry can
    leave them out), and the error says how many went in."""
    account = rtq.add_account()
    lines = [json.dumps({"action": "retweet", "account_id": account.account_id,
                         "tweet_id": str(i)}) for i in range(1500)]
    path = tmp_path / "jobs.jsonl"
    path.write_text("\n".join(lines) + "\n")
    rtq.redis.set(f"rtq:intent:{account.account_id}:1200", "not a hash")
    # On a queue no worker reads: the jobs that went in stay put.
    result = rtq.cli("enqueue", str(path), env={**rtq.env, "RTQ_QUEUE": "rtq-cli-partial"})
    assert result.returncode == 1
    ids = result.stdout.split()
    assert [rtq.redis.hget(f"rtq:job:{job_id}", "tweet_id") for job_id in ids] == [
        str(i) for i in range(1000)]
    assert "WRONGTYPE" in result.stderr
    assert "1000 of 1500 job(s) enqueued before it" in result.stderr
    assert queue_depth(rtq.redis, "rtq-cli-partial") == 1000
    rtq.redis.delete(*all_lanes("rtq-cli-partial"))
