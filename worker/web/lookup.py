"""Look one thing up: a job by id (its status record and history, what `rtq status --history`
shows) or an (account, tweet) pair (what `rtq pair` shows: its known state and when X said it,
latest intent, claim, waiting jobs and why, what holds it back, scheduled jobs; read from the
key schema by worker/ops/lookup.py)."""

from __future__ import annotations

from aiohttp import web

from worker.core.ids import InvalidId, parse_account_id, parse_tweet_id
from worker.ops.lookup import read_pair
from worker.web.context import console, in_thread, respond
from worker.web.dead_letters import history_table
from worker.web.html import Markup, fields, link, render, table, url

CURRENT = "/lookup"
# Longer than any id rtq makes; a longer one is a mistake, not a key worth a Redis read.
MAX_JOB_ID = 200

_FORMS = """<div class="columns"><form method="get" action="/lookup/job" class="lookup">
<h2>Job</h2><label>Job id <input name="id" value="$job_id" required></label>
<button type="submit" class="primary">Look up</button></form>
<form method="get" action="/lookup/pair" class="lookup"><h2>Account and tweet</h2>
<label>Account <input name="account" value="$account" inputmode="numeric" required></label>
<label>Tweet <input name="tweet" value="$tweet" placeholder="id or status URL" required></label>
<button type="submit" class="primary">Look up</button></form></div>"""


def _forms(job_id: str = "", account: str = "", tweet: str = "") -> Markup:
    return render(_FORMS, job_id=job_id, account=account, tweet=tweet)


async def lookup_page(request: web.Request) -> web.Response:
    return respond(request, "Lookup", _forms(), current=CURRENT)


def _job_link(job_id: str | None) -> Markup | None:
    return link(url("/lookup/job", id=job_id), job_id) if job_id else None


async def job_page(request: web.Request) -> web.Response:
    job_id = request.query.get("id", "").strip()
    forms = _forms(job_id=job_id)
    if not job_id or len(job_id) > MAX_JOB_ID:
        body = render('$forms<p class="error">id: give a job id (at most $n characters)</p>',
                      forms=forms, n=MAX_JOB_ID)
        return respond(request, "Job", body, current=CURRENT, status=400)
    status = await in_thread(console(request).jobs.get, job_id)
    if status is None:
        body = render('$forms<p class="error">Unknown job $id (or its record expired).</p>',
                      forms=forms, id=job_id)
        return respond(request, "Job", body, current=CURRENT, status=404)
    record = status.as_dict()
    pair = (link(url("/lookup/pair", account=status.account_id, tweet=status.tweet_id),
                 f"{status.account_id} / {status.tweet_id}")
            if status.account_id and status.tweet_id else None)
    rows = [(name, value) for name, value in record.items()
            if name not in ("account_id", "tweet_id")]
    rows.insert(2, ("account / tweet", pair))
    body = render("$forms<h2>Status</h2>$fields<h2>History</h2>$history", forms=forms,
                  fields=fields(rows), history=history_table(status.history))
    return respond(request, f"Job {job_id}", body, current=CURRENT)


async def pair_page(request: web.Request) -> web.Response:
    account, tweet = request.query.get("account", "").strip(), request.query.get("tweet", "")
    forms = _forms(account=account, tweet=tweet.strip())
    try:
        account_id = parse_account_id(account)
        tweet_id = parse_tweet_id(tweet.strip())
    except InvalidId as exc:
        body = render('$forms<p class="error">$m</p>', forms=forms, m=str(exc))
        return respond(request, "Account and tweet", body, current=CURRENT, status=400)
    state = console(request)
    pair = await in_thread(read_pair, state.redis, state.keys, account_id, tweet_id,
                           known_state_ttl=state.settings.known_state_ttl,
                           default_app=state.default_app)
    intent = pair.intent
    known = ("unknown: rtq will ask X" if pair.known is None else
             f"{pair.known} (trusted for {pair.known_ttl} s more)" if pair.known_ttl is not None
             else pair.known)
    latest = pair.latest
    body = render(
        "$forms<h2>Known state</h2>$known<h2>Latest intent</h2>$intent<h2>Claim</h2>$claim"
        "<h2>Waiting</h2>$waiting<h2>Held back by</h2>$conditions<h2>Scheduled</h2>$scheduled",
        forms=forms,
        known=fields([("account", account_id), ("tweet", tweet_id),
                      ("as X last said", known), ("X said it at", pair.known_said_at)]),
        intent=fields([("action", intent.get("action")), ("job", _job_link(intent.get("job"))),
                       ("sequence", intent.get("seq")),
                       ("its state", latest.state if latest else None)]) if intent else
        Markup('<p class="empty">No intent recorded (or it expired).</p>'),
        claim=fields([("held by", _job_link(pair.claim_job)),
                      ("worker", pair.running.worker if pair.running else None),
                      ("lease left", f"{pair.claim_ttl_ms} ms"
                       if pair.claim_ttl_ms is not None else None)]) if pair.claim else
        Markup('<p class="empty">No job holds this pair now.</p>'),
        waiting=table(["job", "action", "why", "due", "detail"],
                      [[_job_link(j.job_id), j.action, j.wait.reason if j.wait else None,
                        (j.wait.due_at if j.wait else None) or "until released",
                        j.wait.detail if j.wait else None] for j in pair.waiting],
                      empty="No job of this pair waits."),
        conditions=table(["what", "detail", "until"],
                         [[c.kind, c.detail, c.until or "until released"]
                          for c in pair.conditions],
                         empty="Nothing holds this pair's jobs back now."),
        scheduled=table(["job", "due"], [[_job_link(job), due] for job, due in pair.scheduled],
                        empty="No scheduled job."))
    return respond(request, f"Account {account_id}, tweet {tweet_id}", body, current=CURRENT)
