"""What the console reads beyond `rtq stats`: the last hour's outcomes minute by minute (as
settle.lua counts them in Keys.minute_outcomes) and one pair's keys (known state, intent,
claim, scheduled jobs)."""

from __future__ import annotations

import redis

from worker.core import clock
from worker.core.keys import Keys
from worker.ops.history import OUTCOMES, last_minutes
from worker.ops.lookup import read_pair

KEYS = Keys()


def test_the_minute_key_is_the_epoch_minute_under_the_prefix() -> None:
    """`{prefix}:stats:minute:{int(epoch // 60)}`, the key settle.lua writes."""
    assert Keys("p").minute_outcomes(29_000_000) == "p:stats:minute:29000000"


def test_the_last_hour_reads_sixty_minutes_with_zeros_where_nothing_was_written(
    redis_client: redis.Redis,
) -> None:
    """60 minutes, oldest first, ending with the current one; unwritten minutes are zeros and
    an unknown outcome name is kept."""
    now = 1_800_000_000.0
    current = int(now // 60)
    redis_client.hset(KEYS.minute_outcomes(current), mapping={"succeeded": "4", "dead": "1"})
    redis_client.hset(KEYS.minute_outcomes(current - 59), mapping={"skipped": "2", "new": "3"})
    redis_client.hset(KEYS.minute_outcomes(current - 60), mapping={"succeeded": "99"})
    history = last_minutes(redis_client, KEYS, now=now)
    assert [m.minute for m in history] == list(range(current - 59, current + 1))
    assert history[-1].counts == {**dict.fromkeys(OUTCOMES, 0), "succeeded": 4, "dead": 1}
    assert history[0].counts["skipped"] == 2 and history[0].counts["new"] == 3
    assert sum(m.total for m in history) == 10
    assert all(m.total == 0 for m in history[1:-1])


def test_an_empty_redis_reads_as_an_empty_hour(redis_client: redis.Redis) -> None:
    """No counters at all (a Redis older than the writer): 60 zero minutes, no error."""
    history = last_minutes(redis_client, KEYS)
    assert len(history) == 60 and all(m.total == 0 for m in history)


def test_a_pair_reads_its_known_state_intent_claim_and_scheduled_jobs(
    redis_client: redis.Redis,
) -> None:
    """The keys begin.lua and settle.lua decide on, as they hold them; absent ones as None."""
    redis_client.set(KEYS.known("7", "20"), "1", ex=3600)
    redis_client.hset(KEYS.intent("7", "20"), mapping={"seq": "12", "job": "j-1",
                                                        "action": "retweet"})
    redis_client.set(KEYS.claim("7", "20"), "j-1", px=20_000)
    due = clock.ms(clock.now()) + 60_000
    redis_client.zadd(KEYS.scheduled("7", "20"), {"j-2": due})
    pair = read_pair(redis_client, KEYS, "7", "20")
    assert (pair.known, pair.intent["job"], pair.claim) == ("retweeted", "j-1", "j-1")
    assert pair.known_ttl is not None and 3500 < pair.known_ttl <= 3600
    assert pair.claim_ttl_ms is not None and 0 < pair.claim_ttl_ms <= 20_000
    assert pair.scheduled == [("j-2", clock.iso(due / 1000))]
    unknown = read_pair(redis_client, KEYS, "7", "21")
    assert (unknown.known, unknown.known_ttl, unknown.intent, unknown.claim,
            unknown.claim_ttl_ms, unknown.scheduled) == (None, None, {}, None, None, [])
