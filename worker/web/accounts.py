"""Accounts and held apps: each account's state, app, budgets, held and waiting jobs, and the
apps X refuses as a whole; releasing either, behind a confirmation, through the CLI's own
calls (`AccountStore.release`, `Holds.release_app` with `parse_app_id`)."""

from __future__ import annotations

from aiohttp import web

from worker.core.ids import InvalidId, parse_account_id
from worker.domain.account_info import AccountInfo
from worker.domain.holds import parse_app_id
from worker.web.context import (
    audit,
    can_act,
    console,
    identity,
    in_thread,
    problem_page,
    read_only_page,
    respond,
)
from worker.web.html import Markup, action_form, button_link, link, render, table

CURRENT = "/accounts"


def _budget(info: AccountInfo, name: str) -> str:
    budget = info.budgets.get(name)
    if budget is None or budget.limit is None:
        return "-"
    until = f" until {budget.reset_at[11:19]}" if budget.reset_at else ""
    return f"{budget.remaining}/{budget.limit}{until}"


async def accounts_page(request: web.Request) -> web.Response:
    state = console(request)
    snapshot = await in_thread(state.stats.snapshot)
    act = can_act(request)
    waiting: dict[str, int] = {}
    for (account_id, _endpoint), count in snapshot.waiting.items():
        waiting[account_id] = waiting.get(account_id, 0) + count
    default_rate = f"{state.settings.rate_limit}/{state.settings.rate_window} (default)"
    rows = []
    for info in snapshot.accounts:
        release: Markup | str = ""
        if act and (info.state != "active" or info.held):
            release = button_link(f"/accounts/{info.account_id}/release", "Release...")
        rows.append([info.account_id, render('<span class="state $s">$s</span>', s=info.state),
                     info.app, info.rate_limit or default_rate, _budget(info, "retweet"),
                     _budget(info, "undo"), _budget(info, "day"), info.held,
                     waiting.get(info.account_id, 0), info.held_since, info.detail, release])
    apps = []
    for hold in snapshot.apps:
        name = f"{hold.app} (default)" if hold.app == state.default_app != "default" \
            else hold.app
        release = button_link(f"/apps/{hold.app}/release", "Release...") if act else ""
        apps.append([name, hold.reason, hold.since, hold.until or "until released",
                     hold.held_jobs, hold.detail, release])
    body = render(
        "<h2>Accounts</h2>$accounts<h2>Held apps</h2>$apps",
        accounts=table(["account", "state", "app", "rate limit", "retweet left", "undo left",
                        "day left", "held", "waiting", "held since", "detail", ""], rows,
                       empty="No account yet: rtq accounts add."),
        apps=table(["app", "reason", "since", "until", "held jobs", "detail", ""], apps,
                   empty="No app is held."))
    return respond(request, "Accounts", body, current=CURRENT)


def _confirm(request: web.Request, title: str, question: Markup) -> web.Response:
    if not can_act(request):
        return read_only_page(request)
    form = action_form(request.path, identity(request).csrf, "Release")
    body = render('$q<div class="confirm">$form <a href="/accounts">Cancel</a></div>',
                  q=question, form=form)
    return respond(request, title, body, current=CURRENT)


def _account_id(request: web.Request) -> str | web.Response:
    try:
        return parse_account_id(request.match_info["account_id"])
    except InvalidId as exc:
        return problem_page(request, 400, "Not an account id", f"account_id: {exc}",
                            back=CURRENT)


async def confirm_release_account(request: web.Request) -> web.Response:
    account_id = _account_id(request)
    if isinstance(account_id, web.Response):
        return account_id
    question = render("<p>Make account $a active again and send its held jobs back to the "
                      "queue? Do it once X accepts the account again (unlocked, reinstated); "
                      "an account that needs re-authorization wants new credentials instead "
                      "(rtq accounts add).</p>", a=account_id)
    return _confirm(request, f"Release account {account_id}?", question)


async def release_account(request: web.Request) -> web.Response:
    account_id = _account_id(request)
    if isinstance(account_id, web.Response):
        return account_id
    released = await in_thread(console(request).accounts.release, account_id)
    if released is None:
        return problem_page(request, 404, "Unknown account",
                            f"account_id: unknown account {account_id}", back=CURRENT)
    await in_thread(audit, request, "accounts.release", account_id, released)
    body = render("<p>Account $a is active; $n held job(s) are back in the queue.</p>"
                  "<p>$back</p>", a=account_id, n=released,
                  back=link(CURRENT, "Back to the accounts"))
    return respond(request, "Released", body, current=CURRENT)


def _app(request: web.Request) -> str | web.Response:
    try:
        return parse_app_id(request.match_info["app"], console(request).default_app)
    except ValueError as exc:
        return problem_page(request, 400, "Not an app id", f"app: {exc}", back=CURRENT)


async def confirm_release_app(request: web.Request) -> web.Response:
    app = _app(request)
    if isinstance(app, web.Response):
        return app
    question = render("<p>Let app $a call X again and send the jobs held for it back to the "
                      "queue? Do it once its cause is fixed (credits bought, permissions "
                      "changed).</p>", a=app)
    return _confirm(request, f"Release app {app}?", question)


async def release_app(request: web.Request) -> web.Response:
    app = _app(request)
    if isinstance(app, web.Response):
        return app
    released, was_held = await in_thread(console(request).holds.release_app, app)
    if not was_held and not released:
        return problem_page(request, 409, "Not held",
                            f"app: app {app} is not held (the accounts page lists held apps)",
                            back=CURRENT)
    await in_thread(audit, request, "apps.release", app, released)
    body = render("<p>App $a is released; $n held job(s) are back in the queue.</p>"
                  "<p>$back</p>", a=app, n=released, back=link(CURRENT, "Back to the accounts"))
    return respond(request, "Released", body, current=CURRENT)

