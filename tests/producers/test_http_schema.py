"""`rtq api` against its own OpenAPI document, with schemathesis: every operation, generated
valid and invalid requests, once with a full token and once with a read-only one. No answer
is a 5xx, and every answer conforms to the document (status, content type, headers, schema).

It runs against a real `rtq api` process on a private redis-server of its own: the fuzzer
purges dead letters, pauses everything and enqueues jobs, and none of that may reach the
suite's shared Redis (where the shared worker runs). The examples per operation are bounded
so the test stays quick (see docs/http-api.md for its time)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from tests.producers.test_http_api import READ_ONLY_TOKEN, TOKEN, _serve, _stop
from worker.core import clock
from worker.core.keys import Keys
from worker.core.settings import Settings
from worker.domain.accounts import AccountStore, fernet_for
from worker.domain.dlq import DeadLetter, DeadLetters, new_entry_id
from worker.domain.pauses import Pauses
from worker.embedded.servers import RedisServer
from worker.ops import audit
from worker.x_api.credentials import Credentials

MAX_EXAMPLES = 25


def _seed(settings: Settings, server: RedisServer) -> None:
    """Something behind every list: an account, dead letters of each kind, a pause and an
    audit entry, so answers with content are checked too."""
    client, keys = server.client(), Keys(settings.key_prefix)
    AccountStore(client, keys, fernet_for(settings.secret_keys)).add(
        Credentials("7588892-a", "s", "k", "c"))
    dead_letters = DeadLetters(client, keys)
    for reason, action in (("retries_exhausted", "retweet"), ("not_found", "undo"),
                           ("malformed_message", None)):
        dead_letters.add(DeadLetter(
            id=new_entry_id(), job_id=None, action=action,
            account_id="7588892" if action else None, tweet_id="20" if action else None,
            reason=reason, http_status=None, detail=reason, attempts=1,
            failed_at=clock.now_iso(),
            history=({"attempt": 1, "at": clock.now_iso(), "outcome": reason},)),
            clock.ms(clock.now()))
    Pauses(client, keys).pause("tweet:20")
    audit.record(client, keys, "pause", actor="cli:test", target="tweet:20")


def _schemathesis(url: str, token: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "schemathesis"), "run",
         f"{url}/openapi.json", "--url", url, "--header", f"Authorization: Bearer {token}",
         "--checks", "all", "--exclude-checks", "positive_data_acceptance",
         "--max-examples", str(MAX_EXAMPLES), "--seed", "1", "--workers", "1"],
        capture_output=True, text=True, timeout=300, check=False,
    )


def test_the_api_conforms_to_its_openapi_document(rtq_env: dict[str, str]) -> None:
    """Both tokens, every operation: no 5xx, every answer as documented (403s included)."""
    with RedisServer() as private:
        env = {**rtq_env, "RTQ_REDIS_URL": private.url}
        _seed(Settings.from_env(env), private)
        process, url = _serve(env)
        try:
            for token in (TOKEN, READ_ONLY_TOKEN):
                started = time.monotonic()
                result = _schemathesis(url, token)
                # The failures come first, the summary last.
                assert result.returncode == 0, (result.stdout[:6000] + "\n...\n"
                                                + result.stdout[-1500:] + result.stderr[-2000:])
                scope = "full" if token == TOKEN else "read-only"
                print(f"schemathesis ({scope} token): {time.monotonic() - started:.1f} s")
        finally:
            _stop(process)
