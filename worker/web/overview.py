"""The overview page: the queue by lane, running and parked jobs, dead letters, workers, holds,
the circuit breaker, the pauses in force (one `rtq stats` snapshot), and the last hour's
outcomes as a chart."""

from __future__ import annotations

from aiohttp import web

from worker.ops.history import last_minutes
from worker.ops.stats import PARKED_REASONS, Snapshot
from worker.web.chart import outcome_chart
from worker.web.context import console, in_thread, respond
from worker.web.html import Markup, join, link, render, table, url

# The page reloads itself this often (seconds): a wall display stays current without script.
REFRESH = 30
HELD_STATES = ("needs_reauth", "locked", "suspended")
SHOWN_LANES = ("fast", "released", "overflow")
PAUSES_SHOWN = 5


def _card(title: str, value: object, detail: Markup | str = "", *, alert: bool = False
          ) -> Markup:
    return render('<section class="card$alert"><h2>$title</h2><p class="value">$value</p>'
                  '<div class="detail">$detail</div></section>',
                  alert=" alert" if alert else "", title=title, value=value, detail=detail)


def _counts(counts: dict[str, int], href: str | None = None, *, zeros: bool = False
            ) -> Markup:
    """`name: n` lines (the zero ones left out unless `zeros`); each a link filtering `href`
    when given."""
    lines = [render("<li>$name: $n</li>",
                    name=link(url(href, reason=name), name) if href else name, n=count)
             for name, count in counts.items() if count or zeros]
    return render("<ul>$lines</ul>", lines=join(lines)) if lines else Markup("none")


def cards(snapshot: Snapshot) -> Markup:
    dead = snapshot.dead_letter_total
    oldest = snapshot.as_dict()["dead_letters"]["oldest_failed_at"]
    held_accounts = {state: snapshot.accounts_by_state.get(state, 0) for state in HELD_STATES}
    breaker = snapshot.breaker
    workers = sorted(snapshot.workers)
    return join([
        # The spare lane only ever holds a foreign client's prioritised messages.
        _card("Queue", snapshot.queue_depth,
              _counts({name: n for name, n in snapshot.lanes.items()
                       if n or name in SHOWN_LANES}, zeros=True)),
        _card("Running", snapshot.running, "delivered to a worker, not yet finished"),
        _card("Parked", sum(snapshot.parked.values()),
              _counts({r: snapshot.parked.get(r, 0) for r in PARKED_REASONS}, zeros=True)),
        _card("Dead letters", dead,
              render("$by$oldest", by=_counts(snapshot.dead_letters, "/dead-letters"),
                     oldest=render("<p>oldest $t</p>", t=oldest) if oldest else ""),
              alert=dead > 0),
        _card("Workers alive", len(workers),
              render("<ul>$w</ul>", w=join(render("<li>$n</li>", n=n) for n in workers))
              if workers else "none", alert=not workers),
        _card("Held apps", len(snapshot.apps),
              link("/accounts", f"{snapshot.app_held_jobs} job(s) waiting"),
              alert=bool(snapshot.apps)),
        _card("Held accounts", sum(held_accounts.values()), _counts(held_accounts),
              alert=any(held_accounts.values())),
        _card("Circuit breaker", breaker.state,
              f"until {breaker.until}" if breaker.until else "", alert=breaker.state != "closed"),
        _card("Paused", len(snapshot.pauses), _pauses(snapshot), alert=bool(snapshot.pauses)),
    ])


def _pauses(snapshot: Snapshot) -> Markup:
    """The jobs each kind of pause holds, and the first few pauses with their start."""
    if not snapshot.pauses:
        return Markup("nothing paused")
    held = _counts(snapshot.paused_jobs)
    first = [render("<li>$scope since $since: $n</li>", scope=p.scope, since=p.since or "?",
                    n=p.held_jobs) for p in snapshot.pauses[:PAUSES_SHOWN]]
    more = len(snapshot.pauses) - PAUSES_SHOWN
    if more > 0:
        first.append(render("<li>$n more (rtq pause --list)</li>", n=more))
    return render("<p>held jobs by kind</p>$held<ul>$first</ul>", held=held, first=join(first))


async def overview(request: web.Request) -> web.Response:
    state = console(request)
    snapshot = await in_thread(state.stats.snapshot)
    history = await in_thread(last_minutes, state.redis, state.keys)
    totals = table(["outcome", "jobs"], sorted(snapshot.outcomes.items()),
                   empty="No outcome counted yet.")
    calls = table(["HTTP status", "calls"], sorted(snapshot.calls.items()),
                  empty="No call to X counted yet.")
    body = render(
        '<div class="cards">$cards</div>'
        "<h2>Outcomes per minute, last hour</h2>$chart"
        '<div class="columns"><section><h2>Outcomes since the counters began</h2>$totals'
        "</section><section><h2>Calls to X</h2>$calls</section></div>"
        '<p class="hint">Read from Redis at $at; this page reloads every $refresh s.</p>',
        cards=cards(snapshot), chart=outcome_chart(history), totals=totals, calls=calls,
        at=snapshot.as_dict()["taken_at"], refresh=REFRESH)
    return respond(request, "Overview", body, current="/", refresh=REFRESH)
