"""The emulator's whole mutable world, in one object the HTTP handlers share.

Everything runs on one asyncio loop, and no handler awaits between reading and writing this
state, so check-then-act sequences here are atomic without locks.
"""

from __future__ import annotations

import random

from fake_x.accounts import AccountRegistry
from fake_x.calls import CallLog
from fake_x.clock import ShiftableClock
from fake_x.conditions import Condition, Conditions
from fake_x.config import EmulatorConfig, merge_config
from fake_x.nonces import NonceCache
from fake_x.oauth2 import OAuth2Registry
from fake_x.ratelimit import FixedWindowLimiter
from fake_x.script import Script


class RetweetStore:
    """Which tweets each user has retweeted (insertion-ordered, like a timeline)."""

    def __init__(self) -> None:
        self._by_user: dict[str, dict[str, None]] = {}

    def is_retweeted(self, user_id: str, tweet_id: str) -> bool:
        return tweet_id in self._by_user.get(user_id, {})

    def set(self, user_id: str, tweet_id: str, retweeted: bool) -> bool:
        """Set the state; return whether it changed."""
        tweets = self._by_user.setdefault(user_id, {})
        if retweeted == (tweet_id in tweets):
            return False
        if retweeted:
            tweets[tweet_id] = None
        else:
            del tweets[tweet_id]
        return True

    def forget_tweet(self, tweet_id: str) -> int:
        """The tweet was deleted: nobody's retweet of it survives. Return how many went."""
        holders = [tweets for tweets in self._by_user.values() if tweet_id in tweets]
        for tweets in holders:
            del tweets[tweet_id]
        return len(holders)

    def to_json(self, user_id: str | None = None) -> dict[str, list[str]]:
        if user_id is not None:
            return {user_id: list(self._by_user.get(user_id, {}))}
        return {uid: list(tweets) for uid, tweets in self._by_user.items() if tweets}

    def clear(self) -> None:
        self._by_user.clear()


class Emulator:
    def __init__(self, config: EmulatorConfig) -> None:
        self.startup_config = merge_config(config, {})  # validates start-up values too
        self.config = self.startup_config
        self.clock = ShiftableClock()
        self.accounts = AccountRegistry()
        self.oauth2 = OAuth2Registry()
        self.retweets = RetweetStore()
        self.limiter = FixedWindowLimiter()
        self.nonces = NonceCache()
        self.script = Script()
        self.conditions = Conditions()
        self.calls = CallLog(config.call_log_limit)
        # Fault injection wants repeatable draws, not unpredictability.
        self.rng = random.Random(config.seed)
        self.in_flight = 0  # X API calls being handled now (lets tests see a hang has begun)

    def configure(self, config: EmulatorConfig, *, reseed: bool = False) -> None:
        """Swap in a new config; `reseed` (a seed was given) restarts the fault sequence, so
        setting the same seed again replays the same faults."""
        if reseed:
            self.rng.seed(config.seed)
        self.calls.resize(config.call_log_limit)
        self.config = config

    def reset(self, *, accounts: bool = False) -> None:
        """Back to the start-up state; registered accounts (and OAuth 2.0 clients and the
        tokens users granted them, which are credentials too) survive unless `accounts`."""
        self.retweets.clear()
        self.calls.clear()
        self.limiter.clear()
        self.script.clear()
        self.conditions.clear()
        self.nonces.clear()
        self.clock.reset()
        self.config = self.startup_config
        self.calls.resize(self.config.call_log_limit)
        self.rng.seed(self.config.seed)
        if accounts:
            self.accounts.clear()
            self.oauth2.clear()

    def add_condition(self, condition: Condition) -> Condition:
        """Put a condition in force (see conditions.py); a deleted tweet takes its retweets."""
        if condition.kind == "tweet_deleted" and condition.tweet_id is not None:
            self.retweets.forget_tweet(condition.tweet_id)
        return self.conditions.add(condition)

    def rate_limit_for(self, user_id: str) -> int:
        return self.config.user_rate_limits.get(user_id, self.config.rate_limit)
