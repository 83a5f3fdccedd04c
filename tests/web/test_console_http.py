"""The console over HTTP, against a real `rtq web` process: sign-in, CSRF and Origin checks on
every POST, read-only logins, no secret on any page, every value escaped, nothing from
another site."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from tests.support import Rtq
from tests.web.conftest import (
    ADMIN_PASSWORD,
    FULL_TOKEN,
    READ_ONLY_TOKEN,
    SESSION_KEY,
    VIEWER_PASSWORD,
    Console,
    csrf_of,
)
from worker.core import clock
from worker.domain.dlq import DeadLetter, new_entry_id

SCRIPT = "<script>window.pwned = 1</script>"


def dead_letter(rtq: Rtq, account_id: str = "12", tweet_id: str = "34",
                detail: str = "Not Found", reason: str = "not_found") -> DeadLetter:
    """An entry and its job's record as the worker leaves them, written straight to Redis."""
    entry = DeadLetter(id=new_entry_id(), job_id=f"job-{new_entry_id()}", action="retweet",
                       account_id=account_id, tweet_id=tweet_id, reason=reason,
                       http_status=404, detail=detail, attempts=1, failed_at=clock.now_iso(),
                       history=({"attempt": 1, "at": clock.now_iso(), "outcome": reason,
                                 "http_status": 404, "detail": detail},))
    rtq.dead_letters.add(entry, clock.ms(clock.now()))
    assert entry.job_id is not None
    rtq.redis.hset(f"rtq:job:{entry.job_id}", mapping={
        "action": "retweet", "account_id": account_id, "tweet_id": tweet_id, "state": "dead",
        "attempts": "1", "reason": reason, "detail": detail, "updated_at": clock.now_iso()})
    return entry


def pages(entry: DeadLetter) -> list[str]:
    """Every page the console has, with the entry's own."""
    base = f"/dead-letters/entry/{entry.id}"
    return ["/", "/dead-letters", "/dead-letters?reason=not_found&since=1h", base,
            f"{base}/replay", f"{base}/purge", "/dead-letters/replay", "/dead-letters/purge",
            "/accounts", f"/accounts/{entry.account_id}/release", "/apps/default/release",
            "/lookup", f"/lookup/job?id={entry.job_id}",
            f"/lookup/pair?account={entry.account_id}&tweet={entry.tweet_id}"]


def posts(entry: DeadLetter) -> list[str]:
    """Every route that changes something."""
    base = f"/dead-letters/entry/{entry.id}"
    return [f"{base}/replay", f"{base}/purge", "/dead-letters/replay", "/dead-letters/purge",
            f"/accounts/{entry.account_id}/release", "/apps/default/release"]


def test_pages_need_a_login(rtq: Rtq, console: Console) -> None:
    """No session: GETs go to the login form, POSTs are 401; a wrong token is not echoed."""
    assert requests.get(f"{console.url}/healthz", timeout=5).json() == {"status": "ok"}
    anonymous = requests.get(f"{console.url}/dead-letters?reason=not_found", timeout=5,
                             allow_redirects=False)
    assert anonymous.status_code == 303
    where = urlsplit(anonymous.headers["Location"])
    assert (where.path, parse_qs(where.query)) == ("/login",
                                                   {"next": ["/dead-letters?reason=not_found"]})
    entry = dead_letter(rtq)
    for path in posts(entry):
        assert requests.post(console.url + path, timeout=5).status_code == 401
    session = requests.Session()
    session.headers["Origin"] = console.url
    form = session.get(f"{console.url}/login", timeout=5)
    wrong = session.post(f"{console.url}/login", timeout=5, data={
        "csrf": csrf_of(form.text), "token": "guessed-token-1234"})
    assert wrong.status_code == 401 and "guessed-token-1234" not in wrong.text
    assert "rtq_session" not in session.cookies
    assert rtq.dead_letters.get(entry.id) is not None


def test_tokens_and_basic_auth_pairs_sign_in(console: Console) -> None:
    """A token or a user and password on the form, or an Authorization: Basic header."""
    for session, label in ((console.session(FULL_TOKEN), "token 1"),
                           (console.session(READ_ONLY_TOKEN), "token 2 (read-only)"),
                           (console.session(user="admin", password=ADMIN_PASSWORD), "admin")):
        overview = session.get(f"{console.url}/", timeout=5)
        assert overview.status_code == 200 and f'<span class="who">{label} ' in overview.text
        cookie = next(c for c in session.cookies if c.name == "rtq_session")
        assert cookie.has_nonstandard_attr("HttpOnly") and cookie.expires is not None
    basic = requests.get(f"{console.url}/accounts", auth=("viewer", VIEWER_PASSWORD),
                         timeout=5)
    assert basic.status_code == 200 and "viewer (read-only)" in basic.text
    wrong = requests.get(f"{console.url}/accounts", auth=("viewer", "nope"), timeout=5)
    assert wrong.status_code == 401 and wrong.headers["WWW-Authenticate"].startswith("Basic")


def test_the_session_cookie_is_signed_strict_and_tamper_proof(console: Console) -> None:
    """SameSite=Strict, HttpOnly, Max-Age; a changed byte or a login id of another key: out."""
    session = requests.Session()
    form = session.get(f"{console.url}/login", timeout=5)
    answer = session.post(f"{console.url}/login", timeout=5, allow_redirects=False,
                          headers={"Origin": console.url},
                          data={"csrf": csrf_of(form.text), "token": FULL_TOKEN})
    header = answer.headers["Set-Cookie"]
    assert re.search(r"rtq_session=[^;]+;.*HttpOnly", header)
    assert "SameSite=Strict" in header and "Max-Age=28800" in header
    value = session.cookies["rtq_session"]
    assert FULL_TOKEN not in value and SESSION_KEY not in value
    for forged in (value[:-1] + ("0" if value[-1] != "0" else "1"),
                   value.replace(value.split(".")[2], "9999999999")):
        page = requests.get(f"{console.url}/", cookies={"rtq_session": forged}, timeout=5,
                            allow_redirects=False)
        assert page.status_code == 303


def test_every_post_needs_this_origin_and_the_session_csrf_token(rtq: Rtq,
                                                                 console: Console) -> None:
    """Missing or foreign CSRF token, another Origin, or neither Origin nor Referer: 403 and
    nothing changes; the right token from this origin purges."""
    entry = dead_letter(rtq)
    path = f"{console.url}/dead-letters/entry/{entry.id}/purge"
    session, other = console.session(FULL_TOKEN), console.session(FULL_TOKEN)
    token = csrf_of(session.get(path, timeout=5).text)
    foreign = csrf_of(other.get(path, timeout=5).text)
    assert token != foreign
    refused = [
        session.post(path, data={}, timeout=5),
        session.post(path, data={"csrf": foreign}, timeout=5),
        session.post(path, data={"csrf": token}, headers={"Origin": "http://evil.example"},
                     timeout=5),
        session.post(path, data={"csrf": token}, headers={"Origin": "null"}, timeout=5),
        requests.post(path, data={"csrf": token}, cookies=session.cookies, timeout=5),
    ]
    for response in refused:
        assert response.status_code == 403, response.text
        assert rtq.dead_letters.get(entry.id) is not None
    by_referer = requests.post(path, data={"csrf": token}, cookies=session.cookies,
                               headers={"Referer": f"{console.url}/dead-letters"}, timeout=5)
    assert by_referer.status_code == 200 and "was purged" in by_referer.text
    assert rtq.dead_letters.get(entry.id) is None


def test_read_only_logins_see_every_page_and_no_action(rtq: Rtq, console: Console) -> None:
    """No action button on any page, confirmations are 403, and every POST (with its valid
    CSRF token) is 403 and changes nothing."""
    account = rtq.add_account()
    entry = dead_letter(rtq, account_id=account.account_id)
    rtq.redis.hset(f"rtq:account:{account.account_id}", "state", "locked")
    full = console.session(FULL_TOKEN)
    assert "Release..." in full.get(f"{console.url}/accounts", timeout=5).text
    for session in (console.session(READ_ONLY_TOKEN),
                    console.session(user="viewer", password=VIEWER_PASSWORD)):
        for path in pages(entry):
            page = session.get(console.url + path, timeout=5)
            if path.endswith(("/replay", "/purge", "/release")):
                assert page.status_code == 403 and "read-only" in page.text, path
                continue
            assert page.status_code == 200, path
            assert re.findall(r'<form method="post" action="([^"]+)"', page.text) == \
                ["/logout"], path
            assert "Replay..." not in page.text and "Purge..." not in page.text
            assert "Release..." not in page.text
        token = csrf_of(session.get(f"{console.url}/", timeout=5).text)
        for path in posts(entry):
            answer = session.post(console.url + path, data={"csrf": token, "force": "1"},
                                  timeout=5)
            assert answer.status_code == 403 and "read-only" in answer.text, path
    assert rtq.dead_letters.get(entry.id) is not None
    assert rtq.redis.hget(f"rtq:account:{account.account_id}", "state") == "locked"


def test_no_page_shows_a_secret(rtq: Rtq, console: Console) -> None:
    """Accounts with their own keys, every page, full and read-only: no token secret, consumer
    secret, Fernet key, console token, password or session key in any HTML."""
    accounts = [rtq.add_account(), rtq.add_account()]
    entry = dead_letter(rtq, account_id=accounts[0].account_id)
    secrets = [rtq.settings.secret_keys[0], FULL_TOKEN, READ_ONLY_TOKEN, ADMIN_PASSWORD,
               VIEWER_PASSWORD, SESSION_KEY]
    for account in accounts:
        secrets += [account.credentials[name] for name in
                    ("access_token", "access_token_secret", "consumer_key", "consumer_secret")]
    seen = 0
    for session in (console.session(FULL_TOKEN), console.session(READ_ONLY_TOKEN)):
        for path in [*pages(entry), "/login"]:
            html = session.get(console.url + path, timeout=5).text
            seen += 1
            for secret in secrets:
                assert secret not in html, f"a secret shows on {path}"
        assert accounts[1].account_id in session.get(f"{console.url}/accounts", timeout=5).text
    assert seen == 2 * (len(pages(entry)) + 1)


def test_every_value_is_escaped(rtq: Rtq, console: Console) -> None:
    """A dead letter's detail, an account's held detail, a typed job id or filter holding
    markup show as text, never as markup."""
    account = rtq.add_account()
    entry = dead_letter(rtq, account_id=account.account_id, detail=SCRIPT)
    rtq.redis.hset(f"rtq:account:{account.account_id}",
                   mapping={"state": "locked", "held_detail": '<img src=x onerror="alert(1)">'})
    session = console.session(FULL_TOKEN)
    checks = {
        f"/dead-letters/entry/{entry.id}": SCRIPT,
        f"/dead-letters/entry/{entry.id}/replay": SCRIPT,
        "/dead-letters": SCRIPT,
        "/accounts": '<img src=x onerror="alert(1)">',
        "/lookup/job?id=" + requests.utils.quote(SCRIPT): SCRIPT,
        "/lookup/pair?account=1&tweet=" + requests.utils.quote(SCRIPT): SCRIPT,
        "/dead-letters?account=" + requests.utils.quote(SCRIPT): SCRIPT,
        "/dead-letters/entry/" + requests.utils.quote(SCRIPT, safe=""): SCRIPT,
    }
    for path, raw in checks.items():
        html = session.get(console.url + path, timeout=5).text
        assert raw not in html, path
        assert "<script" not in html.lower() and "onerror=\"" not in html, path
    detail = session.get(f"{console.url}/dead-letters/entry/{entry.id}", timeout=5).text
    assert "&lt;script&gt;window.pwned = 1&lt;/script&gt;" in detail


def test_no_page_loads_anything_from_another_site(rtq: Rtq, console: Console) -> None:
    """Every src, href and action is a path of the console; no URL of another host appears;
    the CSP allows this host only and no script."""
    entry = dead_letter(rtq)
    session = console.session(FULL_TOKEN)
    for path in [*pages(entry), "/login"]:
        response = session.get(console.url + path, timeout=5)
        assert "http://" not in response.text and "https://" not in response.text, path
        for target in re.findall(r'(?:src|href|action)="([^"]*)"', response.text):
            assert target.startswith("/") and not target.startswith("//"), (path, target)
        policy = response.headers["Content-Security-Policy"]
        assert "default-src 'none'" in policy and "script-src" not in policy
        assert response.headers["X-Frame-Options"] == "DENY"
    css = session.get(f"{console.url}/static/console.css", timeout=5)
    assert css.status_code == 200 and "url(" not in css.text and "@import" not in css.text


@pytest.mark.usefixtures("worker")
def test_replay_by_filter_follows_the_cli_rules(rtq: Rtq, console: Console) -> None:
    """"Replay these" takes the filtered selection less malformed messages; a permanent
    reason needs force and is listed as not replayed without it; the limit counts."""
    account = rtq.add_account()
    retry = [dead_letter(rtq, account.account_id, str(t), reason="retries_exhausted")
             for t in (51, 52)]
    permanent = dead_letter(rtq, account.account_id, "53")
    malformed = dead_letter(rtq, account.account_id, "54", reason="malformed_message")
    session = console.session(FULL_TOKEN)
    listed = session.get(f"{console.url}/dead-letters?account={account.account_id}&limit=1",
                         timeout=5).text
    assert listed.count("<tr><td>") == 1 and "1 entry." in listed
    confirm = session.get(f"{console.url}/dead-letters/replay?account={account.account_id}",
                          timeout=5).text
    assert "Replay 3 entries" in confirm and "1 of them failed for a permanent reason" in confirm
    done = session.post(f"{console.url}/dead-letters/replay", timeout=10,
                        data={"csrf": csrf_of(confirm), "account": account.account_id})
    assert done.status_code == 200 and "Replayed 2 of dead letters with account" in done.text
    assert "Not replayed (1)" in done.text and permanent.id in done.text
    assert [rtq.dead_letters.get(e.id) for e in retry] == [None, None]
    assert rtq.dead_letters.get(permanent.id) and rtq.dead_letters.get(malformed.id)
    job_ids = re.findall(r'/lookup/job\?id=([0-9a-f-]{36})"', done.text)
    assert len(job_ids) == 2
    assert {s.state for s in rtq.wait_terminal(*job_ids)} == {"succeeded"}


def test_the_pair_lookup_shows_why_its_job_waits(rtq: Rtq, console: Console) -> None:
    """What `rtq pair` says, in the console: the scheduled job waiting (with its due time), the
    pause holding the pair back, and when X said the known state."""
    account = rtq.add_account()
    pair = (account.account_id, "90")
    rtq.redis.set(f"rtq:known:{pair[0]}:{pair[1]}", "1", ex=rtq.settings.known_state_ttl - 60)
    due = clock.iso(int(clock.now()) + 7200)
    job = rtq.producer.enqueue("retweet", *pair, at=due)
    rtq.redis.set("rtq:pause:tweet:90", clock.now_iso())
    page = console.session(READ_ONLY_TOKEN).get(
        f"{console.url}/lookup/pair?account={pair[0]}&tweet=90", timeout=5)
    assert page.status_code == 200
    waiting = page.text.split("<h2>Waiting</h2>")[1].split("<h2>")[0]
    assert job in waiting and "schedule" in waiting and due in waiting
    held = page.text.split("<h2>Held back by</h2>")[1].split("<h2>")[0]
    assert "paused: tweet:90 (rtq resume)" in held
    assert "X said it at" in page.text
