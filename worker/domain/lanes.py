"""Fair lanes: the queue's kombu priority lists, so that no account's backlog delays another's.

kombu's Redis transport keeps a queue as four lists, one per priority step: the queue itself
(priority 0), then "<queue>\\x06\\x163", "\\x06\\x166" and "\\x06\\x169". A worker BRPOPs them in
that order, so a list is served only while every list before it is empty, and kombu restores an
unacked message to the list its `properties.priority` names. rtq uses three of them:

    FAST      the queue itself: each account's first FAST_LANE_SHARE jobs not yet delivered,
              new ones (enqueue.lua) or retries and scheduled jobs coming due (move_due.lua),
              and raw `send_task` messages (priority 0)
    RELEASED  jobs let out by their rate window (release.lua) or by new credentials
              (release_held.lua): one account's whole backlog can come out at once, and it
              has waited its turn already, so it goes behind fresh jobs of other accounts
    OVERFLOW  an account's jobs beyond its share of the fast lane, in the order enqueued

A job for an idle account therefore waits behind at most (busy accounts x FAST_LANE_SHARE) jobs
plus what workers have prefetched, never behind a backlog. The share is counted per account in
`rtq:lane:{account}`: enqueue.lua and move_due.lua increment it when they put a job in the fast
lane and mark the job record (`lane`); deliver.lua, run by the worker's main process right after
BRPOP, removes that mark and decrements the count, once per job however often the message is
redelivered.
The count can drift (a purged queue, a flushed record, a delivery note Redis did not get, its
own expiry while jobs still wait), and that only ever costs fairness, never a job: a job in any
lane is taken as soon as the lanes before it are empty. It expires LANE_COUNT_TTL seconds after
it was created (adding to it keeps that expiry, so drift heals even while the account stays
busy), and a decrement to zero or below deletes it.
"""

from __future__ import annotations

import redis

# kombu's Redis transport: `sep` and `priority_steps` (kombu.transport.redis), whose lists it
# BRPOPs in this order.
SEP = "\x06\x16"
PRIORITY_STEPS = (0, 3, 6, 9)

FAST = 0
RELEASED = 3
OVERFLOW = 6

# What operators call each list (rtq stats, the console); priority 9 is only ever a foreign
# send_task's own priority.
LANE_NAMES = {FAST: "fast", RELEASED: "released", OVERFLOW: "overflow", 9: "lowest"}

# Jobs of one account allowed in the fast lane at once. An idle account (a job now and then)
# never reaches it, so its jobs always go first; a busy account's jobs beyond it wait in the
# overflow lane and lose nothing when the fast lane is empty. 4, not 1: an account enqueueing a
# few jobs a second must not fall behind a backlog just because one of its jobs was not yet
# taken; small, because an idle account's job waits behind (busy accounts x 4) jobs.
FAST_LANE_SHARE = 4

# A count lives this many seconds from its creation, so drift heals within a minute even for an
# account that never stops sending. The fast lane holds a few jobs per account and drains within
# seconds, so a count that outlives a minute is drift; one that expires while its jobs still
# wait only lets the account have a few more jobs in the fast lane for a while.
LANE_COUNT_TTL = 60


def lane(queue_key: str, priority: int) -> str:
    """The Redis list kombu keeps for messages of `priority` in the queue `queue_key`."""
    return queue_key if priority == 0 else f"{queue_key}{SEP}{priority}"


def all_lanes(queue_key: str) -> list[str]:
    """Every list of the queue, in the order workers take from them."""
    return [lane(queue_key, priority) for priority in PRIORITY_STEPS]


def queue_depth(client: redis.Redis, queue_key: str) -> int:
    """Messages waiting in every lane of the queue (what kombu's own `_size` counts)."""
    pipe = client.pipeline(transaction=False)
    for name in all_lanes(queue_key):
        pipe.llen(name)
    return sum(int(n) for n in pipe.execute())
