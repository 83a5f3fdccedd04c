"""Why a `deferred` job waits, and until when: read from where it waits, not from its words.

A waiting job is in exactly one of the wait indexes the scripts keep for
`rtq_oldest_waiting_age_seconds` (`rtq:age:{where}`, docs/redis-keys.md): begin.lua adds it
to `rate_window`, `paused`, `held_account`, `held_app` or (the breaker) `retry`; settle.lua to
`retry` (a 5xx, a timeout, a 429's reset), `held_account` or `held_app`; enqueue.lua to
`scheduled` or `rate_window`; the mover and the releases take it out. The record's `detail`
alone would mislead: a job paused, resumed and then out of budget still carries the pause's
words. So the index names the reason, and the record, the parked set or the app's hold the
due time:

    where          reason       due time                          detail
    rate_window    rate_window  the record's due_at_ms (the turn  the (account, endpoint)
                                begin/enqueue computed for it)
    paused         pause        none: until `rtq resume`          the record's (its scope)
    held_account   hold         none: until released / new keys   the record's (X's words)
    held_app       hold         the app's until_ms (a usage cap)  the record's
    scheduled      schedule     its score in the parked set       -
    retry          retry        its score in the parked set       the record's (X's words)
    retry          breaker      its score in the parked set       the record's (`waiting: ...`)

A deferred job in none of them is on its way back to the queue (the mover or a release has
just published it): reason None. Reading costs 7 commands per deferred job (pipelined, with
the page's other reads), nothing per job in any other state.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import redis

from worker.core import clock
from worker.core.keys import Keys

WHERE = ("paused", "held_account", "held_app", "rate_window", "scheduled", "retry")
REASONS = ("rate_window", "pause", "hold", "schedule", "retry", "breaker")
_REASON_OF = {"paused": "pause", "held_account": "hold", "held_app": "hold",
              "rate_window": "rate_window", "scheduled": "schedule", "retry": "retry"}
# begin.lua's words for a job the breaker holds back ("waiting: calls to X are paused ...").
_BREAKER_DETAIL = "waiting: "
_APP_DETAIL_RE = re.compile(r"held: app ([0-9a-f]{16}) ")


@dataclass(frozen=True)
class Wait:
    """Why a deferred job waits (one of REASONS, or None: on its way back to the queue),
    until when (None: until an operator or X's answer lets it go) and in whose words."""

    reason: str | None
    due_at: str | None
    detail: str | None

    def as_dict(self) -> dict[str, Any]:
        return {"reason": self.reason, "due_at": self.due_at, "detail": self.detail}


def queue_wait_reads(pipe: Any, keys: Keys, job_id: str) -> None:
    """Queue on `pipe` the reads `wait_of` needs for one job (len(WHERE) + 1 replies)."""
    for where in WHERE:
        pipe.zscore(keys.age(where), job_id)
    pipe.zscore(keys.parked, job_id)


def wait_of(record: Mapping[str, str | None], replies: Sequence[Any],
            app_until: Mapping[str, int | None] | None = None) -> Wait:
    """The wait of a deferred job from its record and `queue_wait_reads`' replies;
    `app_until` maps a held app to the end of its hold (ms), where one is known."""
    found = [where for where, score in zip(WHERE, replies, strict=False) if score is not None]
    parked = replies[len(WHERE)]
    detail = record.get("detail") or None
    if not found:
        return Wait(None, None, "on its way back to the queue")
    where = found[0]
    reason = _REASON_OF[where]
    if where == "rate_window":
        return Wait(reason, _ms_iso(record.get("due_at_ms")),
                    f"the rate window of {record.get('account_id')}:{record.get('action')}")
    if where in ("paused", "held_account"):
        return Wait(reason, None, detail)
    if where == "held_app":
        app = held_app(detail)
        until = (app_until or {}).get(app) if app else None
        return Wait(reason, clock.iso_ms(until) if until else None, detail)
    due = clock.iso_ms(int(parked)) if parked is not None else (
        record.get("due_at") or _ms_iso(record.get("due_at_ms")))
    if where == "scheduled":
        return Wait(reason, due, None)
    if detail and detail.startswith(_BREAKER_DETAIL):
        return Wait("breaker", due, detail)
    return Wait(reason, due, detail or record.get("reason") or None)


def held_app(detail: str | None) -> str | None:
    """The app a job waits for, from begin.lua's words (`held: app <id> <reason> ...`)."""
    match = _APP_DETAIL_RE.match(detail or "")
    return match.group(1) if match else None


def app_hold_ends(client: redis.Redis, keys: Keys, apps: set[str]) -> dict[str, int | None]:
    """When each held app's hold ends by itself (ms; None: until released)."""
    if not apps:
        return {}
    pipe = client.pipeline(transaction=False)
    ordered = sorted(apps)
    for app in ordered:
        pipe.hget(keys.app(app), "until_ms")
    ends = [v.decode() if isinstance(v, bytes) else v for v in pipe.execute()]
    return {app: int(v) if v and str(v).isdigit() else None
            for app, v in zip(ordered, ends, strict=True)}


def _ms_iso(value: str | None) -> str | None:
    return clock.iso_ms(int(value)) if value and value.isdigit() else None
