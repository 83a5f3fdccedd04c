"""Secrets never leave the account store in plaintext: not in Redis, task arguments, logs,
dead-letter entries, CLI output or process arguments."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support import Rtq, dump_redis, wait_for
from worker.domain.lanes import all_lanes
from worker.domain.messages import body_text
from worker.embedded.servers import WorkerProcess


def _secrets(rtq: Rtq, credentials: dict[str, str]) -> list[str]:
    return [credentials["access_token"], credentials["access_token_secret"],
            credentials["consumer_secret"], rtq.settings.secret_keys[0]]


def _decoded_messages(rtq: Rtq) -> str:
    """send_task's message bodies are base64 (ours are plain JSON text): decode them so a scan
    can see inside."""
    texts = []
    queued = [raw for lane in all_lanes(rtq.settings.queue_key)
              for raw in rtq.redis.lrange(lane, 0, -1)]
    for raw in queued + list(rtq.redis.hvals("unacked")):
        message = json.loads(raw if raw.startswith("{") else json.loads(raw)[0])
        body = body_text(message)
        texts.append(body.decode(errors="replace") if isinstance(body, bytes) else body)
    return "\n".join(texts)


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_no_secret_in_redis_logs_dead_letters_or_process_arguments(
    rtq: Rtq, rtq_env: dict[str, str], tmp_path: Path, log_format: str
) -> None:
    """Run successes and failures through a DEBUG-logging worker, then look everywhere."""
    # Given a worker logging at DEBUG, and an account with known secrets
    log_path = tmp_path / "worker.log"
    env = {**rtq_env, "RTQ_LOG_FORMAT": log_format}
    account = rtq.add_account()
    secrets = _secrets(rtq, account.credentials)
    with WorkerProcess(env, log_path=str(log_path),
                       extra_args=("--concurrency", "1", "--loglevel", "DEBUG")) as worker:
        cmdlines = [Path(f"/proc/{worker.pid}/cmdline").read_bytes().decode(errors="replace")]
        # When jobs succeed, retry, fail permanently, and arrive malformed
        rtq.admin.configure(missing_tweets=["2"])
        rtq.admin.script([{"user_id": account.account_id, "tweet_id": "3",
                           "responses": [{"status": 503}]}])
        ids = [rtq.producer.enqueue("retweet", account.account_id, t) for t in ("1", "2", "3")]
        ids.append(rtq.send_task("rtq.retweet", kwargs={
            "account_id": account.account_id, "tweet_id": "4",
            "note": "x"}))
        rtq.wait_terminal(*ids)
        rtq.admin.revoke(account.account_id)
        rtq.wait_terminal(rtq.producer.enqueue("undo", account.account_id, "1"))
        children = Path(f"/proc/{worker.pid}/task/{worker.pid}/children").read_text().split()
        cmdlines += [Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
                     for pid in children]
    # Then no secret appears anywhere
    places = {
        "redis": dump_redis(rtq.redis),
        "messages": _decoded_messages(rtq),
        "worker log": log_path.read_text(),
        "dead letters": json.dumps([e.as_dict() for e in rtq.dead_letters.list()]),
        "process arguments": "\n".join(cmdlines),
        "accounts list": rtq.cli("accounts", "list", "--json").stdout,
        "emulator call log": json.dumps(rtq.admin.calls()),
    }
    assert rtq.dead_letters.count() >= 2
    assert "DEBUG" in places["worker log"] or '"debug"' in places["worker log"]
    for where, text in places.items():
        for secret in secrets:
            assert secret not in text, f"a secret leaked into {where}"


def test_task_messages_carry_only_ids(rtq: Rtq) -> None:
    """What Flower and any broker reader see: account_id and tweet_id, nothing else."""
    from producers import Producer
    from worker.core.settings import Settings

    account = rtq.add_account()
    producer = Producer(rtq.redis, Settings.from_env({**rtq.env, "RTQ_QUEUE": "rtq-peek"}))
    producer.enqueue("retweet", account.account_id, "9")
    (raw,) = rtq.redis.lrange("rtq-peek", 0, -1)
    message = json.loads(raw)
    args, kwargs, _ = json.loads(body_text(message))
    assert args == [] and set(kwargs) == {"account_id", "tweet_id"}
    assert message["headers"]["kwargsrepr"] == repr(kwargs)
    for secret in _secrets(rtq, account.credentials):
        assert secret not in raw
    rtq.redis.delete("rtq-peek")


@pytest.mark.parametrize("field", ["access_token", "access_token_secret", "consumer_secret"])
def test_credential_errors_never_echo_a_secret(rtq: Rtq, field: str) -> None:
    """A rejected `accounts add` names the field, never the value."""
    # Given a value that is rejected (a token without its user id; a secret with a control
    # character) and that carries a recognisable secret
    secret = "Zz9" + "q" * 30
    document = {"access_token": "1-a", "access_token_secret": "s", "consumer_key": "k",
                "consumer_secret": "c"}
    document[field] = "bad" + secret if field == "access_token" else secret + "\n"
    result = rtq.cli("accounts", "add", input=json.dumps(document))
    assert result.returncode == 1
    assert secret not in result.stderr + result.stdout


def test_credentials_are_encrypted_at_rest(rtq: Rtq) -> None:
    """The accounts hash holds Fernet tokens that only RTQ_SECRET_KEY opens."""
    account = rtq.add_account()
    stored = rtq.redis.hget("rtq:accounts", account.account_id)
    assert stored.startswith("gAAAAA")
    assert account.credentials["access_token_secret"] not in stored
    assert wait_for(lambda: rtq.accounts.get(account.account_id), 1, "decryption"
                    ).access_token_secret == account.credentials["access_token_secret"]
