"""One (account, tweet) pair as the keys say it is: what X last told rtq (the known state),
the latest intent, the claim a running job holds, and the pair's scheduled jobs.

The console's pair lookup reads these; they are the keys begin.lua and settle.lua decide on
(worker/core/keys.py, docs/redis-keys.md). Reading never changes them.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis

from worker.core import clock
from worker.core.keys import Keys


@dataclass(frozen=True)
class PairState:
    account_id: str
    tweet_id: str
    known: str | None          # "retweeted", "not retweeted", or None: rtq does not know
    known_ttl: int | None      # seconds rtq keeps trusting it
    intent: dict[str, str]     # {seq, job, action} of the latest intent; empty: none
    claim: str | None          # the job id holding the pair
    claim_ttl_ms: int | None   # what is left of its lease
    scheduled: list[tuple[str, str]]  # (job id, due ISO time), soonest first


def read_pair(client: redis.Redis, keys: Keys, account_id: str, tweet_id: str) -> PairState:
    pipe = client.pipeline(transaction=False)
    pipe.get(keys.known(account_id, tweet_id))
    pipe.ttl(keys.known(account_id, tweet_id))
    pipe.hgetall(keys.intent(account_id, tweet_id))
    pipe.get(keys.claim(account_id, tweet_id))
    pipe.pttl(keys.claim(account_id, tweet_id))
    pipe.zrange(keys.scheduled(account_id, tweet_id), 0, -1, withscores=True)
    known, known_ttl, intent, claim, claim_ttl, scheduled = pipe.execute()
    return PairState(
        account_id=account_id, tweet_id=tweet_id,
        known={"1": "retweeted", "0": "not retweeted"}.get(known or ""),
        # TTL answers -1 (no expiry) or -2 (no key): neither is a time left.
        known_ttl=int(known_ttl) if known is not None and int(known_ttl) >= 0 else None,
        intent=dict(intent),
        claim=claim,
        claim_ttl_ms=int(claim_ttl) if claim is not None and int(claim_ttl) >= 0 else None,
        scheduled=[(job_id, clock.iso(due / 1000)) for job_id, due in scheduled],
    )
