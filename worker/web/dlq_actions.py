"""Replay and purge dead letters, one entry or a filtered selection, each behind a confirmation
page. The rules are the CLI's, through the same functions: `replay_one` and `bulk_selection`
(producers/replay.py: malformed messages are never replayed, permanent reasons and vanished
accounts need force) and DeadLetters' `remove` / `count_matching` / `purge_matching`."""

from __future__ import annotations

from aiohttp import web

from producers.errors import InvalidJob
from producers.replay import Refused, Replayed, bulk_selection, replay_each, replay_one
from worker.domain.dlq import PERMANENT, BadFilter, DeadLetter
from worker.ops.audit import describe_filter
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
from worker.web.dead_letters import describe, entry_fields, parse_filters
from worker.web.html import Markup, action_form, link, render, table, url

_FORCE = ('<label class="force"><input type="checkbox" name="force" value="1"> Force: also '
          "replay entries that failed for a permanent reason, or whose account rtq no longer "
          "has</label>")
CURRENT = "/dead-letters"


def _target(given: dict[str, str]) -> str:
    """The audit target of a selection: its filters, as the CLI names them."""
    return describe_filter(reason=given.get("reason"), account=given.get("account"),
                           since=given.get("since"), limit=given.get("limit"))


def _force(value: object) -> bool:
    return str(value or "").lower() in ("1", "true", "yes", "on")


def _confirm(request: web.Request, title: str, question: Markup, action: str, button: str,
             values: dict[str, str], *, danger: bool = False, force: bool = False,
             back: str = CURRENT) -> web.Response:
    if not can_act(request):
        return read_only_page(request)
    form = action_form(action, identity(request).csrf, button, values, danger=danger,
                       extra=Markup(_FORCE) if force else Markup(""))
    body = render('$question<div class="confirm">$form <a href="$back">Cancel</a></div>',
                  question=question, form=form, back=back)
    return respond(request, title, body, current=CURRENT)


async def _entry_or_404(request: web.Request) -> DeadLetter | web.Response:
    entry_id = request.match_info["entry_id"]
    entry = await in_thread(console(request).dead_letters.get, entry_id)
    if entry is None:
        return problem_page(request, 404, "Dead letter not found",
                            f"No dead-letter entry {entry_id} (replayed, purged or trimmed).",
                            back=CURRENT)
    return entry


def _job_link(job_id: str) -> Markup:
    return link(url("/lookup/job", id=job_id), job_id)


async def confirm_replay_entry(request: web.Request) -> web.Response:
    entry = await _entry_or_404(request)
    if isinstance(entry, web.Response):
        return entry
    warning = (render('<p class="error">It failed for a permanent reason ($r): replaying it '
                      "alone changes nothing unless its cause is fixed; tick force to replay "
                      "it anyway.</p>", r=entry.reason) if entry.reason in PERMANENT else "")
    question = render("<p>Enqueue this entry's $action again as a new job (the newest intent "
                      "for its pair)? The entry is removed once the job is in.</p>$warning"
                      "$fields", action=entry.action or "job", warning=warning,
                      fields=entry_fields(entry))
    return _confirm(request, "Replay a dead letter?", question, request.path, "Replay", {},
                    force=True, back=f"/dead-letters/entry/{entry.id}")


async def replay_entry(request: web.Request) -> web.Response:
    entry = await _entry_or_404(request)
    if isinstance(entry, web.Response):
        return entry
    form = await request.post()
    try:
        done = await in_thread(replay_one, console(request).producer, entry,
                               force=_force(form.get("force")))
    except InvalidJob as exc:
        return problem_page(request, 409, "Not replayed", str(exc),
                            back=f"/dead-letters/entry/{entry.id}/replay")
    await in_thread(audit, request, "dlq.replay", entry.id, 1, job_id=done.job_id,
                    force=_force(form.get("force")) or None)
    body = render("<p>Entry $entry was replayed as job $job.</p><p>$back</p>", entry=entry.id,
                  job=_job_link(done.job_id), back=link(CURRENT, "Back to the dead letters"))
    return respond(request, "Replayed", body, current=CURRENT)


async def confirm_purge_entry(request: web.Request) -> web.Response:
    entry = await _entry_or_404(request)
    if isinstance(entry, web.Response):
        return entry
    question = render("<p>Delete this dead letter for good?</p>$fields",
                      fields=entry_fields(entry))
    return _confirm(request, "Purge a dead letter?", question, request.path, "Purge", {},
                    danger=True, back=f"/dead-letters/entry/{entry.id}")


async def purge_entry(request: web.Request) -> web.Response:
    entry_id = request.match_info["entry_id"]
    removed = await in_thread(console(request).dead_letters.remove, [entry_id])
    if not removed:
        return problem_page(request, 404, "Dead letter not found",
                            f"No dead-letter entry {entry_id} (replayed, purged or trimmed).",
                            back=CURRENT)
    await in_thread(audit, request, "dlq.purge", entry_id, removed)
    body = render("<p>Entry $entry was purged.</p><p>$back</p>", entry=entry_id,
                  back=link(CURRENT, "Back to the dead letters"))
    return respond(request, "Purged", body, current=CURRENT)


async def confirm_replay_selected(request: web.Request) -> web.Response:
    try:
        where, limit, given = parse_filters(request.query)
    except BadFilter as exc:
        return problem_page(request, 400, "Invalid filter", str(exc), back=CURRENT)
    entries = await in_thread(bulk_selection, console(request).dead_letters, where, limit)
    permanent = sum(1 for entry in entries if entry.reason in PERMANENT)
    question = render(
        "<p>Replay $n entr$ies ($what, malformed messages left out) as new jobs?</p>$warning",
        n=len(entries), ies="y" if len(entries) == 1 else "ies", what=describe(given),
        warning=render('<p class="error">$p of them failed for a permanent reason: without '
                       "force they are not replayed.</p>", p=permanent) if permanent else "")
    return _confirm(request, "Replay dead letters?", question, "/dead-letters/replay",
                    "Replay", given, force=True, back=url(CURRENT, **given))


async def replay_selected(request: web.Request) -> web.Response:
    form = await request.post()
    try:
        where, limit, given = parse_filters({k: str(v) for k, v in form.items()})
    except BadFilter as exc:
        return problem_page(request, 400, "Invalid filter", str(exc), back=CURRENT)
    state = console(request)
    force = _force(form.get("force"))

    def run() -> tuple[list[Replayed], list[tuple[str, str]]]:
        done, refused = [], []
        for result in replay_each(state.producer, bulk_selection(state.dead_letters, where,
                                                                 limit), force=force):
            if isinstance(result, Refused):
                refused.append((result.entry_id, result.reason))
            else:
                done.append(result)
        return done, refused

    done, refused = await in_thread(run)
    if done or not refused:
        await in_thread(audit, request, "dlq.replay", _target(given), len(done),
                        refused=len(refused) or None, force=force or None)
    body = render(
        "<p>Replayed $n of $what.</p>$jobs$refused<p>$back</p>", n=len(done),
        what=describe(given),
        jobs=table(["entry", "new job"], [[r.entry_id, _job_link(r.job_id)] for r in done],
                   empty="No entry was replayed."),
        refused=render("<h2>Not replayed ($n)</h2>$t", n=len(refused),
                       t=table(["entry", "why"], refused)) if refused else "",
        back=link(CURRENT, "Back to the dead letters"))
    return respond(request, "Replayed", body, current=CURRENT,
                   status=409 if refused and not done else 200)


async def confirm_purge_selected(request: web.Request) -> web.Response:
    try:
        where, limit, given = parse_filters(request.query)
    except BadFilter as exc:
        return problem_page(request, 400, "Invalid filter", str(exc), back=CURRENT)
    count = await in_thread(console(request).dead_letters.count_matching, where, limit)
    question = render("<p>Delete $n dead letter(s) ($what) for good?</p>", n=count,
                      what=describe(given))
    return _confirm(request, "Purge dead letters?", question, "/dead-letters/purge", "Purge",
                    given, danger=True, back=url(CURRENT, **given))


async def purge_selected(request: web.Request) -> web.Response:
    form = await request.post()
    try:
        where, limit, given = parse_filters({k: str(v) for k, v in form.items()})
    except BadFilter as exc:
        return problem_page(request, 400, "Invalid filter", str(exc), back=CURRENT)
    removed = await in_thread(console(request).dead_letters.purge_matching, where, limit)
    await in_thread(audit, request, "dlq.purge", _target(given), removed)
    body = render("<p>Purged $n dead letter(s) ($what).</p><p>$back</p>", n=removed,
                  what=describe(given), back=link(CURRENT, "Back to the dead letters"))
    return respond(request, "Purged", body, current=CURRENT)

