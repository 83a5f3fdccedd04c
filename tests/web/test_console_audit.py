"""Operator actions in the console and `rtq api` are audited like the CLI's: one entry each,
naming the login (never its secret), the target and the job count."""

from __future__ import annotations

import json

import requests

from tests.holding import holding
from tests.producers.test_http_api import TOKEN, _serve, _stop
from tests.support import Rtq
from tests.web.conftest import ADMIN_PASSWORD, FULL_TOKEN, SESSION_KEY, Console, csrf_of
from tests.web.test_console_http import dead_letter
from worker.core.keys import Keys
from worker.ops import audit


def test_console_purge_and_release_are_audited_as_the_login(rtq: Rtq, console: Console) -> None:
    """A purge by filter and an account release: one entry each, as web:<login name>."""
    account = rtq.add_account()
    for tweet in ("1", "2"):
        dead_letter(rtq, account.account_id, tweet)
    session = console.session(user="admin", password=ADMIN_PASSWORD)
    token = csrf_of(session.get(f"{console.url}/", timeout=5).text)
    purged = session.post(f"{console.url}/dead-letters/purge", timeout=5,
                          data={"csrf": token, "account": account.account_id})
    assert purged.status_code == 200 and "Purged 2" in purged.text
    rtq.redis.hset(f"rtq:account:{account.account_id}", "state", "locked")
    released = session.post(f"{console.url}/accounts/{account.account_id}/release", timeout=5,
                            data={"csrf": token})
    assert released.status_code == 200
    found = audit.entries(rtq.redis, Keys(rtq.settings.key_prefix))
    assert [(e.action, e.actor, e.target, e.jobs) for e in found] == [
        ("accounts.release", "web:admin", account.account_id, 0),
        ("dlq.purge", "web:admin", f"dlq account={account.account_id}", 2)]
    stream = json.dumps(rtq.redis.xrange("rtq:audit"))
    for secret in (ADMIN_PASSWORD, FULL_TOKEN, SESSION_KEY):
        assert secret not in stream


def test_api_replay_is_audited_as_its_token(rtq: Rtq) -> None:
    """POST /v1/dlq/{id}/replay: one entry as api:<token label>; a refused one records none."""
    account = rtq.add_account()
    entry = dead_letter(rtq, account.account_id, reason="retries_exhausted")
    permanent = dead_letter(rtq, account.account_id, "9")
    with holding(rtq) as held:
        process, url = _serve(held.env)
        try:
            auth = {"Authorization": f"Bearer {TOKEN}"}
            refused = requests.post(f"{url}/v1/dlq/{permanent.id}/replay", headers=auth,
                                    timeout=5)
            assert refused.status_code == 409
            done = requests.post(f"{url}/v1/dlq/{entry.id}/replay", headers=auth, timeout=5)
            assert done.status_code == 202
        finally:
            _stop(process)
    (found,) = audit.entries(rtq.redis, Keys(rtq.settings.key_prefix))
    assert (found.action, found.actor, found.target, found.jobs) == (
        "dlq.replay", "api:token 2", entry.id, 1)
    assert found.details == {"job_id": done.json()["job_id"]}
    assert TOKEN not in json.dumps(rtq.redis.xrange("rtq:audit"))
