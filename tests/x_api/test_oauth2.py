"""OAuth 2.0 user-context accounts: authorize with PKCE, use bearer tokens, refresh them once
across racing workers, and hold jobs when a refresh is refused."""

from __future__ import annotations

import os
import subprocess
import sys
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from tests.support import Deployment, Rtq, wait_for
from worker.x_api.oauth2 import OAuth2Credentials


def authorize(rtq: Rtq, client_id: str, user_id: str | None = None) -> str:
    """Run `rtq accounts authorize` for real; play the user's browser against the emulator."""
    env = {**rtq.env, "RTQ_OAUTH2_AUTHORIZE_URL": f"{rtq.admin.base_url}/i/oauth2/authorize"}
    process = subprocess.Popen(
        [os.path.join(os.path.dirname(sys.executable), "rtq"), "accounts", "authorize",
         "--client-id", client_id, "--timeout", "30"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert process.stderr is not None
    url = ""
    while not url.startswith("http"):
        url = process.stderr.readline().strip()
        assert url or process.poll() is None, "authorize exited before printing a URL"
    query = parse_qs(urlsplit(url).query)
    assert query["scope"] == ["tweet.read users.read tweet.write offline.access"]
    assert query["code_challenge_method"] == ["S256"] and query["state"]
    if user_id:
        url += f"&x_user_id={user_id}"
    consent = requests.get(url, allow_redirects=False, timeout=10)
    assert consent.status_code == 302
    callback = requests.get(consent.headers["Location"], timeout=10)
    assert callback.status_code == 200
    out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    return out.strip()


@pytest.mark.usefixtures("worker")
def test_an_authorized_account_retweets_with_a_bearer_token(rtq: Rtq) -> None:
    """authorize -> account id printed -> a retweet goes out over OAuth 2.0."""
    client = rtq.admin.oauth2_client()
    account_id = authorize(rtq, client["client_id"])
    assert account_id.isdigit()
    credentials = rtq.accounts.get(account_id)
    assert isinstance(credentials, OAuth2Credentials) and credentials.refresh_token
    (status,) = rtq.wait_terminal(rtq.producer.enqueue("retweet", account_id, "1"))
    assert status.state == "succeeded"
    (call,) = rtq.x_calls(account_id)
    assert call["auth"] == "oauth2"
    stored = rtq.redis.hget("rtq:accounts", account_id)
    assert credentials.access_token not in stored and stored.startswith("gAAAAA")


def test_a_forged_callback_is_refused(rtq: Rtq) -> None:
    """A redirect whose state does not match ends the command with an error, storing nothing."""
    client = rtq.admin.oauth2_client()
    env = {**rtq.env, "RTQ_OAUTH2_AUTHORIZE_URL": f"{rtq.admin.base_url}/i/oauth2/authorize"}
    process = subprocess.Popen(
        [os.path.join(os.path.dirname(sys.executable), "rtq"), "accounts", "authorize",
         "--client-id", client["client_id"], "--timeout", "30"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert process.stderr is not None
    url = ""
    while not url.startswith("http"):
        url = process.stderr.readline().strip()
    redirect_uri = parse_qs(urlsplit(url).query)["redirect_uri"][0]
    requests.get(f"{redirect_uri}?code=stolen&state=forged", timeout=10)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 1 and "state" in err and out == ""
    assert rtq.accounts.list() == []


def test_racing_workers_refresh_the_tokens_once(deployment: Deployment) -> None:
    """Two workers, 20 jobs at once for an account whose token is about to expire: exactly one
    refresh (refresh tokens are single use), and every job succeeds."""
    rtq = deployment.rtq
    rtq.admin.configure(oauth2_access_ttl=3)
    client = rtq.admin.oauth2_client()
    account_id = authorize(rtq, client["client_id"])
    deployment.start_worker(2)
    deployment.start_worker(2)
    wait_for(lambda: rtq.accounts.get(account_id).needs_refresh(), 10,  # type: ignore[union-attr]
             "the access token to near its expiry")
    ids = [rtq.producer.enqueue("retweet", account_id, str(t)) for t in range(20)]
    statuses = rtq.wait_terminal(*ids, timeout=30)
    assert {s.state for s in statuses} == {"succeeded"}
    refreshes = [c for c in rtq.admin.token_calls() if c["grant_type"] == "refresh_token"]
    assert [c["status"] for c in refreshes] == [200]
    assert rtq.accounts.list()[0].state == "active"


def test_a_refused_refresh_holds_jobs_until_reauthorized(deployment: Deployment) -> None:
    """The user revoked the app: the refresh is refused, the account needs re-authorization,
    its job is held (not dead-lettered), and authorizing again releases it."""
    rtq = deployment.rtq
    rtq.admin.configure(oauth2_access_ttl=2)
    client = rtq.admin.oauth2_client()
    account_id = authorize(rtq, client["client_id"])
    deployment.start_worker()
    rtq.admin.oauth2_revoke(account_id)
    wait_for(lambda: rtq.accounts.get(account_id).needs_refresh(), 10,  # type: ignore[union-attr]
             "the access token to near its expiry")
    job_id = rtq.producer.enqueue("retweet", account_id, "9")
    wait_for(lambda: "re-authorization" in (rtq.status(job_id).detail or ""), 20,
             "the job to be held")
    assert rtq.accounts.list()[0].state == "needs_reauth"
    assert rtq.dead_letters.count() == 0
    assert authorize(rtq, client["client_id"], user_id=account_id) == account_id
    assert rtq.wait_terminal(job_id, timeout=20)[0].state == "succeeded"
    assert rtq.accounts.list()[0].state == "active"
