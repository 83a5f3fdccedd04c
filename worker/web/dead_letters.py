"""Dead letters: the list with its filters (reason, account, since, limit: those of `rtq dlq
list`) and one entry with its attempt history. Replay and purge are in dlq_actions.py."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from aiohttp import web

from worker.domain.dlq import (
    NOT_REPLAYABLE,
    PERMANENT,
    REASONS,
    BadFilter,
    DeadLetter,
    Filter,
    parse_filter,
)
from worker.web.context import can_act, console, in_thread, problem_page, respond
from worker.web.html import Markup, button_link, fields, join, link, render, table, url

# Rows the list shows at most; actions on a selection count every entry it takes.
DISPLAY = 500
MAX_LIMIT = 100_000


def parse_filters(values: Mapping[str, str]) -> tuple[Filter, int | None, dict[str, str]]:
    """The Filter and limit of `values` (the list's form, or a confirmation's hidden fields),
    and the filters as given, to carry to the next page. A form sends empty fields for the
    filters left blank: those are not given. Raises BadFilter (domain/dlq.py)."""
    given = {name: values.get(name, "").strip() for name in ("reason", "account", "since",
                                                             "limit")}
    given = {name: value for name, value in given.items() if value}
    where = parse_filter(given.get("reason"), given.get("account"), given.get("since"))
    limit = None
    if "limit" in given:
        if not given["limit"].isdigit() or not 1 <= int(given["limit"]) <= MAX_LIMIT:
            raise BadFilter("limit", f"a whole number from 1 to {MAX_LIMIT}")
        limit = int(given["limit"])
    return where, limit, given


def describe(given: Mapping[str, str]) -> str:
    """The selection in words, for confirmations."""
    if not given:
        return "every dead letter"
    parts = [f"{name} {given[name]}" for name in ("reason", "account", "since") if name in given]
    text = "dead letters with " + ", ".join(parts) if parts else "dead letters"
    return f"the oldest {given['limit']} {text}" if "limit" in given else text


def history_table(history: Iterable[Mapping[str, Any]]) -> Markup:
    """Each attempt as a row; the columns are the fields the attempts have, in order."""
    calls = list(history)
    columns: list[str] = []
    for call in calls:
        columns.extend(name for name in call if name not in columns)
    return table(columns, ([call.get(name) for name in columns] for call in calls),
                 empty="No attempt recorded.")


def _short(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _filter_form(given: Mapping[str, str]) -> Markup:
    options = join(render('<option value="$r"$sel>$r</option>', r=reason,
                          sel=Markup(" selected") if given.get("reason") == reason else "")
                   for reason in REASONS)
    return render(
        '<form method="get" action="/dead-letters" class="filters">'
        '<label>Reason <select name="reason"><option value="">any</option>$options</select>'
        '</label><label>Account <input name="account" value="$account" inputmode="numeric">'
        '</label><label>Since <input name="since" value="$since" placeholder="2h, 7d or an '
        'ISO time"></label><label>Limit <input name="limit" value="$limit" '
        'inputmode="numeric" placeholder="all"></label>'
        '<button type="submit" class="primary">Filter</button></form>',
        options=options, account=given.get("account", ""), since=given.get("since", ""),
        limit=given.get("limit", ""))


def _entry_link(entry_id: str) -> str:
    return f"/dead-letters/entry/{entry_id}"


async def list_page(request: web.Request) -> web.Response:
    state = console(request)
    try:
        where, limit, given = parse_filters(request.query)
    except BadFilter as exc:
        body = render('<p class="error">$m</p>$form', m=str(exc), form=_filter_form({}))
        return respond(request, "Dead letters", body, current="/dead-letters", status=400)
    shown = DISPLAY if limit is None else min(limit, DISPLAY)
    # One entry past what is shown tells whether the selection goes on beyond the page.
    capped = limit is None or limit > DISPLAY
    entries = await in_thread(state.dead_letters.list, where=where,
                              limit=shown + 1 if capped else shown)
    more = len(entries) > shown
    rows = [[link(_entry_link(e.id), e.id), e.failed_at, e.reason, e.http_status, e.action,
             e.account_id, e.tweet_id, e.attempts, _short(e.detail)] for e in entries[:shown]]
    summary = (f"The oldest {shown} shown; actions take every entry selected."
               if more else f"{len(rows)} entr{'y' if len(rows) == 1 else 'ies'}.")
    actions = Markup("")
    if can_act(request) and rows:
        actions = render('<div class="actions">$replay $purge</div>',
                         replay=button_link(url("/dead-letters/replay", **given),
                                            "Replay these..."),
                         purge=button_link(url("/dead-letters/purge", **given),
                                           "Purge these...", danger=True))
    body = render(
        "$form<p>$summary</p>$actions$table", form=_filter_form(given), summary=summary,
        actions=actions,
        table=table(["id", "failed at", "reason", "HTTP", "action", "account", "tweet",
                     "attempts", "detail"], rows, empty="No dead letter matches."))
    return respond(request, "Dead letters", body, current="/dead-letters")


def entry_fields(entry: DeadLetter) -> Markup:
    pair = (link(url("/lookup/pair", account=entry.account_id, tweet=entry.tweet_id),
                 f"{entry.account_id} / {entry.tweet_id}")
            if entry.account_id and entry.tweet_id else "-")
    return fields([
        ("id", entry.id),
        ("job", link(url("/lookup/job", id=entry.job_id), entry.job_id)
         if entry.job_id else None),
        ("action", entry.action), ("account / tweet", pair), ("reason", entry.reason),
        ("HTTP status", entry.http_status),
        ("detail", render('<pre class="detail">$d</pre>', d=entry.detail or "-")),
        ("attempts", entry.attempts), ("failed at", entry.failed_at),
    ])


async def entry_page(request: web.Request) -> web.Response:
    state = console(request)
    entry_id = request.match_info["entry_id"]
    entry = await in_thread(state.dead_letters.get, entry_id)
    if entry is None:
        return problem_page(request, 404, "Dead letter not found",
                            f"No dead-letter entry {entry_id} (replayed, purged or trimmed).",
                            back="/dead-letters")
    notes: list[Markup] = []
    if entry.reason in NOT_REPLAYABLE:
        notes.append(render('<p class="hint">A $r cannot be replayed: the message itself is '
                            "unusable.</p>", r=entry.reason))
    elif entry.reason in PERMANENT:
        notes.append(render('<p class="hint">X refused this for a permanent reason ($r): fix '
                            "the cause, then replay with force.</p>", r=entry.reason))
    actions = Markup("")
    if can_act(request):
        replay = (button_link(f"{_entry_link(entry.id)}/replay", "Replay...")
                  if entry.reason not in NOT_REPLAYABLE else Markup(""))
        actions = render('<div class="actions">$replay $purge</div>', replay=replay,
                         purge=button_link(f"{_entry_link(entry.id)}/purge", "Purge...",
                                           danger=True))
    body = render("$fields$notes$actions<h2>Attempts</h2>$history", fields=entry_fields(entry),
                  notes=join(notes), actions=actions, history=history_table(entry.history))
    return respond(request, f"Dead letter {entry.id}", body, current="/dead-letters")
