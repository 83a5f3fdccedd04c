"""The console in a real headless Chromium (Debian's, driven by Playwright): an operator signs
in, replays and purges real dead letters through the confirmations, releases a held account
and app, and a read-only login sees no action. Each page is saved as a screenshot under the
test's tmp dir; with RTQ_UPDATE_SCREENSHOTS=1 the overview and dead letters go to
docs/screenshots/ for the README."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.holding import IDLE_QUEUE, holding
from tests.support import Rtq, wait_for
from tests.web.conftest import (
    FULL_TOKEN,
    READ_ONLY_TOKEN,
    Console,
    start_console,
    stop_console,
)
from tests.web.test_console_http import SCRIPT, dead_letter
from worker.core import clock
from worker.core.keys import Keys

CHROMIUM = "/usr/bin/chromium"
# Chromium as CI runs it: as root (no sandbox), no GPU, and never calling home.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
DOCS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
FOR_THE_README = {"overview": "console-overview.png", "dead-letters": "console-dead-letters.png"}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not os.path.exists(CHROMIUM):
        message = f"{CHROMIUM} is missing: `make test` installs Debian's chromium"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


class Shots:
    """Saves each page's screenshot; the README's ones also to docs/ when asked."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def take(self, page: Page, name: str) -> Path:
        path = self.folder / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        if os.environ.get("RTQ_UPDATE_SCREENSHOTS") == "1" and name in FOR_THE_README:
            DOCS.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, DOCS / FOR_THE_README[name])
        return path


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Shots:
    folder = tmp_path_factory.mktemp("screenshots")
    print(f"screenshots: {folder}")
    return Shots(folder)


def open_console(browser: Browser, console: Console, token: str) -> tuple[Page, list[str]]:
    """A fresh browser context signed in through the login form; the list collects every URL
    the page requests."""
    page = browser.new_context(viewport={"width": 1280, "height": 860}).new_page()
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(f"{console.url}/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("Token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    return page, requested


def forge_post(page: Page, path: str, fields: dict[str, str]) -> int:
    """Submit a form the console never rendered (built in the page, as a user fiddling with
    devtools would) and return the answer's status."""
    with page.expect_response(lambda response: response.request.method == "POST") as answer:
        page.evaluate("""([path, fields]) => {
            const form = document.createElement('form');
            form.method = 'post';
            form.action = path;
            for (const [name, value] of Object.entries(fields)) {
                const input = document.createElement('input');
                input.type = 'hidden';
                input.name = name;
                input.value = value;
                form.appendChild(input);
            }
            document.body.appendChild(form);
            form.submit();
        }""", [path, fields])
    return answer.value.status


def seed_last_hour(rtq: Rtq) -> None:
    """Per-minute outcome counts as settle.lua writes them (HINCRBY, 2-hour expiry), so the
    chart has an hour to draw."""
    keys, now = Keys(rtq.settings.key_prefix), int(clock.now() // 60)
    pipe = rtq.redis.pipeline()
    for ago in range(0, 60):
        key = keys.minute_outcomes(now - ago)
        for outcome, count in (("succeeded", 20 + (ago * 7) % 15), ("skipped", ago % 4),
                               ("deferred", (ago * 3) % 5), ("dead", 1 if ago % 9 == 0 else 0)):
            if count:
                pipe.hincrby(key, outcome, count)
        pipe.expire(key, 7200)
    pipe.execute()


@pytest.mark.usefixtures("worker")
def test_an_operator_replays_and_purges_dead_letters_in_a_browser(
    rtq: Rtq, console: Console, browser: Browser, shots: Shots
) -> None:
    """Real dead letters (tweets X reports missing): replay one (refused without force, then
    forced), purge one, purge the rest by filter; a POST without the CSRF token is 403."""
    # Given three dead letters and some successes
    account = rtq.add_account()
    rtq.admin.configure(missing_tweets=["901", "902", "903"])
    rtq.wait_terminal(*[rtq.producer.enqueue("retweet", account.account_id, str(tweet))
                        for tweet in range(901, 907)])
    entries = rtq.dead_letters.list()
    assert len(entries) == 3
    seed_last_hour(rtq)
    # (the test set-up deleted the worker's heartbeat; it is back within 2 s)
    wait_for(lambda: list(rtq.redis.scan_iter("rtq:worker:*")), 10, "the worker's heartbeat")
    page, requested = open_console(browser, console, FULL_TOKEN)
    expect(page.locator(".card", has_text="Workers alive").locator(".value")).to_have_text("1")
    expect(page.locator(".card", has_text="Dead letters").locator(".value")).to_have_text("3")
    expect(page.locator("svg.chart rect")).not_to_have_count(0)
    shots.take(page, "overview")

    # When the operator replays the first one, with force once refused without it
    page.get_by_role("link", name="Dead letters", exact=True).click()
    expect(page.locator("tbody tr")).to_have_count(3)
    shots.take(page, "dead-letters")
    first, second, _third = entries
    page.get_by_role("link", name=first.id).click()
    expect(page.get_by_role("heading", name=f"Dead letter {first.id}")).to_be_visible()
    shots.take(page, "dead-letter")
    page.get_by_role("link", name="Replay...").click()
    shots.take(page, "replay-confirm")
    page.get_by_role("button", name="Replay", exact=True).click()
    expect(page.get_by_role("heading", name="Not replayed")).to_be_visible()
    expect(page.locator("p.error")).to_contain_text("force")
    assert rtq.dead_letters.get(first.id) is not None
    rtq.admin.configure(missing_tweets=[])
    page.go_back()
    page.locator("input[name=force]").check()
    page.get_by_role("button", name="Replay", exact=True).click()
    expect(page.get_by_role("heading", name="Replayed")).to_be_visible()
    job_id = page.locator("main a").first.inner_text()
    # Then the entry is gone and its new job succeeds
    assert rtq.dead_letters.get(first.id) is None
    assert rtq.wait_terminal(job_id)[0].state == "succeeded"

    # A POST without the session's CSRF token is refused, and changes nothing
    assert forge_post(page, "/dead-letters/purge", {}) == 403
    expect(page.locator("p.error")).to_contain_text("CSRF token is missing")
    assert rtq.dead_letters.count() == 2

    # When the operator purges the second entry, then the rest by filter
    page.goto(f"{console.url}/dead-letters/entry/{second.id}")
    page.get_by_role("link", name="Purge...").click()
    page.get_by_role("button", name="Purge", exact=True).click()
    expect(page.get_by_role("heading", name="Purged")).to_be_visible()
    assert rtq.dead_letters.get(second.id) is None
    page.goto(f"{console.url}/dead-letters")
    page.get_by_label("Account", exact=True).fill(account.account_id)
    page.get_by_role("button", name="Filter").click()
    page.get_by_role("link", name="Purge these...").click()
    expect(page.locator("main")).to_contain_text("Delete 1 dead letter(s)")
    shots.take(page, "purge-confirm")
    page.get_by_role("button", name="Purge", exact=True).click()
    expect(page.locator("main")).to_contain_text("Purged 1 dead letter(s)")
    assert rtq.dead_letters.count() == 0

    # And the replayed job and its pair can be looked up
    page.get_by_role("link", name="Lookup").click()
    page.get_by_label("Job id").fill(job_id)
    page.locator("form", has_text="Job id").get_by_role("button").click()
    expect(page.locator("dl.fields")).to_contain_text("succeeded")
    shots.take(page, "job")
    page.get_by_role("link", name=f"{account.account_id} / {first.tweet_id}").click()
    expect(page.locator("main")).to_contain_text("retweeted")
    shots.take(page, "pair")
    assert all(url.startswith(console.url) for url in requested), requested


def test_an_operator_releases_a_held_account_and_app_in_a_browser(
    rtq: Rtq, console: Console, browser: Browser, shots: Shots
) -> None:
    """The accounts page shows a locked account and an app out of credits with their held
    jobs; releasing each (confirmed) sends those jobs back to the queue."""
    with holding(rtq) as held:
        # Given a locked account with 2 held jobs and a held app with 3
        locked, other = rtq.add_account(), rtq.add_account()
        held.hold_account(locked.account_id, "locked", "Your account is temporarily locked",
                          messages=held.jobs(locked.account_id, range(1, 3)))
        app = rtq.redis.hget(f"rtq:account:{other.account_id}", "app")
        assert app is not None
        held.hold_app(app, "credits_depleted", "Your enrolled account does not have credits",
                      messages=held.jobs(other.account_id, range(1, 4)))
        # A console on the queue no worker takes, so the released jobs can be counted
        process, url = start_console({**console.env, "RTQ_QUEUE": IDLE_QUEUE})
        try:
            page, _ = open_console(browser, Console(url, console.env), FULL_TOKEN)
            page.get_by_role("link", name="Accounts").click()
            row = page.locator("tr", has_text=locked.account_id)
            expect(row).to_contain_text("locked")
            shots.take(page, "accounts")
            # When the operator releases the account, then the app
            row.get_by_role("link", name="Release...").click()
            page.get_by_role("button", name="Release").click()
            expect(page.locator("main")).to_contain_text("2 held job(s) are back in the queue")
            assert rtq.redis.hget(f"rtq:account:{locked.account_id}", "state") == "active"
            page.get_by_role("link", name="Back to the accounts").click()
            page.locator("tr", has_text="credits_depleted").get_by_role(
                "link", name="Release...").click()
            page.get_by_role("button", name="Release").click()
            expect(page.locator("main")).to_contain_text("3 held job(s) are back in the queue")
        finally:
            stop_console(process)
        # Then every held job is back in the queue, and nothing is held any more
        assert held.released() == 5
        assert not rtq.redis.zrange("rtq:app_holds", 0, -1)


def test_a_read_only_login_sees_no_action_and_a_forged_post_is_refused(
    rtq: Rtq, console: Console, browser: Browser, shots: Shots
) -> None:
    """No action on the entry page, its markup-laden detail shown as text (no script ran), and
    a POST forged with the page's own CSRF token is 403 and changes nothing."""
    entry = dead_letter(rtq, detail=SCRIPT)
    page, requested = open_console(browser, console, READ_ONLY_TOKEN)
    expect(page.locator(".who")).to_contain_text("token 2 (read-only)")
    page.goto(f"{console.url}/dead-letters/entry/{entry.id}")
    expect(page.locator("pre.detail")).to_have_text(SCRIPT)
    assert page.evaluate("window.pwned") is None
    expect(page.locator("form[method=post]")).to_have_count(1)  # signing out only
    expect(page.locator("a.button")).to_have_count(0)
    shots.take(page, "read-only-dead-letter")
    csrf = page.locator("input[name=csrf]").get_attribute("value")
    assert csrf
    assert forge_post(page, f"/dead-letters/entry/{entry.id}/purge", {"csrf": csrf}) == 403
    expect(page.locator("p.error")).to_contain_text("read-only login")
    assert rtq.dead_letters.get(entry.id) is not None
    assert all(url.startswith(console.url) for url in requested), requested


def test_rtq_web_refuses_to_start_without_a_login(rtq: Rtq, console: Console) -> None:
    """Neither RTQ_API_TOKENS nor RTQ_WEB_BASIC_AUTH: exit 1 naming both."""
    env = {k: v for k, v in console.env.items()
           if k not in ("RTQ_API_TOKENS", "RTQ_WEB_BASIC_AUTH")}
    result = rtq.cli("web", "--port", "0", env=env)
    assert result.returncode == 1
    assert "RTQ_API_TOKENS or RTQ_WEB_BASIC_AUTH" in result.stderr

