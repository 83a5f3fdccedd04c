"""The audit trail through the real `rtq` command: each operator action leaves exactly one
entry (action, target, job count) and one `rtq.audit` line; `rtq audit` lists and filters
them; the stream stays capped; neither holds a secret."""

from __future__ import annotations

import json

import pytest

from tests.holding import holding
from tests.support import Rtq, dump_redis
from tests.web.test_console_http import dead_letter
from worker.core.keys import Keys
from worker.ops import audit
from worker.ops.audit import AuditEntry

FIELDS = ("access_token", "access_token_secret", "consumer_key", "consumer_secret")


def new_credentials(rtq: Rtq) -> dict[str, str]:
    """A fresh set from the emulator, as `rtq accounts add` reads it."""
    creds = rtq.admin.new_account()
    return {name: creds[name] for name in FIELDS}


def audited(rtq: Rtq) -> list[AuditEntry]:
    """Every audit entry, newest first."""
    return audit.entries(rtq.redis, Keys(rtq.settings.key_prefix))


def only_entry(rtq: Rtq, action: str, target: str, jobs: int | None) -> AuditEntry:
    """The one entry there is, checked against what the action should have recorded."""
    (entry,) = audited(rtq)
    assert (entry.action, entry.target, entry.jobs) == (action, target, jobs)
    assert entry.actor.startswith("cli:") and len(entry.actor) > 4
    assert entry.at.endswith("+00:00")
    rtq.redis.delete("rtq:audit")
    return entry


def test_each_account_and_app_action_leaves_one_entry(rtq: Rtq) -> None:
    """add, limit, rotate-keys, release (with its held jobs), apps release, remove."""
    creds = new_credentials(rtq)
    added = rtq.cli("accounts", "add", input=json.dumps(creds))
    assert added.returncode == 0, added.stderr
    account_id = added.stdout.strip()
    assert only_entry(rtq, "accounts.add", account_id, None).details == {}
    assert rtq.cli("accounts", "limit", account_id, "5/900").returncode == 0
    assert only_entry(rtq, "accounts.limit", account_id, None).details == {"limit": "5/900"}
    assert rtq.cli("accounts", "rotate-keys").returncode == 0
    assert only_entry(rtq, "accounts.rotate-keys", "accounts", None).details == {"accounts": 1}
    with holding(rtq) as held:
        held.hold_account(account_id, "locked", "locked",
                          messages=held.jobs(account_id, range(1, 3)))
        assert rtq.cli("accounts", "release", account_id, env=held.env).returncode == 0
        only_entry(rtq, "accounts.release", account_id, 2)
    with holding(rtq) as held:
        app = str(rtq.redis.hget(f"rtq:account:{account_id}", "app"))
        held.hold_app(app, "credits_depleted", "no credits",
                      messages=held.jobs(account_id, range(5, 8)))
        assert rtq.cli("apps", "release", app, env=held.env).returncode == 0
        only_entry(rtq, "apps.release", app, 3)
    assert rtq.cli("accounts", "remove", account_id).returncode == 0
    only_entry(rtq, "accounts.remove", account_id, None)


def test_a_failed_action_records_nothing(rtq: Rtq) -> None:
    """An unknown account or an app not held: an error, and no entry."""
    assert rtq.cli("accounts", "release", "31337").returncode == 1
    assert rtq.cli("accounts", "remove", "31337").returncode == 1
    assert rtq.cli("apps", "release", "0123456789abcdef").returncode == 1
    assert audited(rtq) == []


def test_dlq_replay_and_purge_record_how_many_and_what(rtq: Rtq) -> None:
    """Replay by ids names the ids; by filters names the filters; purge counts what went."""
    account = rtq.add_account()
    entries = [dead_letter(rtq, account.account_id, str(t), reason="retries_exhausted")
               for t in (1, 2, 3)]
    others = [dead_letter(rtq, account.account_id, str(t)) for t in (4, 5)]
    with holding(rtq) as held:
        by_id = rtq.cli("dlq", "replay", entries[0].id, entries[1].id, env=held.env)
        assert by_id.returncode == 0, by_id.stderr
        only_entry(rtq, "dlq.replay", f"{entries[0].id},{entries[1].id}", 2)
        by_filter = rtq.cli("dlq", "replay", "--reason", "retries_exhausted", env=held.env)
        assert by_filter.returncode == 0, by_filter.stderr
        only_entry(rtq, "dlq.replay", "dlq reason=retries_exhausted", 1)
        refused = rtq.cli("dlq", "replay", others[0].id, "nope", env=held.env)
        assert refused.returncode == 1 and audited(rtq) == []
    purged = rtq.cli("dlq", "purge", "--yes", "--account", account.account_id)
    assert purged.returncode == 0, purged.stderr
    only_entry(rtq, "dlq.purge", f"dlq account={account.account_id}", 2)


def test_rtq_audit_lists_newest_first_and_filters(rtq: Rtq) -> None:
    """--limit, --action, --since and --json; bad input names the option."""
    keys = Keys(rtq.settings.key_prefix)
    for n in range(3):
        audit.record(rtq.redis, keys, "dlq.purge", actor="cli:test", target=f"dlq {n}", jobs=n)
    audit.record(rtq.redis, keys, "accounts.remove", actor="web:admin", target="42")
    listed = rtq.cli("audit", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [r["target"] for r in rows] == ["42", "dlq 2", "dlq 1", "dlq 0"]
    assert (rows[0]["action"], rows[0]["actor"], rows[0]["jobs"]) == ("accounts.remove",
                                                                      "web:admin", None)
    purges = rtq.cli("audit", "--json", "--action", "dlq.purge", "--limit", "2", "--since", "1h")
    assert [json.loads(line)["jobs"] for line in purges.stdout.splitlines()] == [2, 1]
    assert rtq.cli("audit", "--since", "2030-01-01T00:00:00Z").stdout.splitlines() == [
        "AT  ACTION  ACTOR  TARGET  JOBS  DETAILS"]
    table = rtq.cli("audit").stdout.splitlines()
    assert table[0].split() == ["AT", "ACTION", "ACTOR", "TARGET", "JOBS", "DETAILS"]
    assert table[1].split()[1:] == ["accounts.remove", "web:admin", "42", "-", "-"]
    bad_action = rtq.cli("audit", "--action", "accounts.explode")
    assert bad_action.returncode == 2 and "--action" in bad_action.stderr
    bad_since = rtq.cli("audit", "--since", "yesterday")
    assert bad_since.returncode == 2 and bad_since.stderr.startswith("error: since:")


def test_the_stream_is_capped(rtq: Rtq) -> None:
    """Past its cap the oldest entries go (trimmed approximately: whole stream nodes)."""
    keys = Keys(rtq.settings.key_prefix)
    cap, node = 150, int(rtq.redis.config_get("stream-node-max-entries")
                         ["stream-node-max-entries"])
    for n in range(1000):
        audit.record(rtq.redis, keys, "dlq.purge", actor="cli:test", target=str(n), jobs=n,
                     max_entries=cap)
    assert cap <= rtq.redis.xlen(keys.audit) <= cap + node
    assert audited(rtq)[0].target == "999"
    assert audit.AUDIT_MAX == 10_000


@pytest.mark.parametrize("log_format", ["json", "text"])
def test_no_secret_in_the_stream_or_the_log_line(rtq: Rtq, log_format: str) -> None:
    """Adding an account with known secrets: its one log line (a JSON object with
    RTQ_LOG_FORMAT=json) and the whole of Redis's audit stream hold none of them."""
    creds = new_credentials(rtq)
    env = {**rtq.env, "RTQ_LOG_FORMAT": log_format}
    added = rtq.cli("accounts", "add", input=json.dumps(creds), env=env)
    assert added.returncode == 0, added.stderr
    account_id = added.stdout.strip()
    lines = [line for line in added.stderr.splitlines() if "accounts.add" in line]
    assert len(lines) == 1
    if log_format == "json":
        line = json.loads(lines[0])
        assert (line["logger"], line["action"], line["target"]) == ("rtq.audit", "accounts.add",
                                                                     account_id)
        assert line["actor"].startswith("cli:") and line["at"].endswith("+00:00")
    audit.record(rtq.redis, Keys(rtq.settings.key_prefix), "accounts.limit", actor="cli:test",
                 target=account_id, access_token_secret=creds["access_token_secret"],
                 note=f"password={creds['consumer_secret']}")
    stream = json.dumps(rtq.redis.xrange("rtq:audit"))
    assert account_id in stream
    secrets = [creds[k] for k in ("access_token", "access_token_secret", "consumer_secret")]
    secrets.append(rtq.settings.secret_keys[0])
    for secret in secrets:
        assert secret not in stream and secret not in added.stderr
        assert secret not in dump_redis(rtq.redis).replace(str(rtq.redis.hget(
            "rtq:accounts", account_id)), "")
