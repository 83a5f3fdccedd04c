"""The account store: per-account OAuth 1.0a credentials, encrypted at rest with Fernet.

Credentials live in one Redis hash (account_id -> Fernet token); non-secret facts about an
account (when added, its health) live beside it. `RTQ_SECRET_KEY` may hold several keys: the
first encrypts, all decrypt, and `rotate()` re-encrypts everything under the first.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import redis
from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from worker.core import clock
from worker.core.keys import Keys
from worker.domain import lanes
from worker.domain.account_info import AccountInfo, list_accounts
from worker.x_api.credentials import Credentials
from worker.x_api.oauth2 import OAuth2Credentials


class CredentialsUnreadable(Exception):
    """Stored credentials cannot be decrypted with any configured key."""


def app_id(consumer_key: str) -> str:
    """A short, non-reversible name for an app (its consumer key), for budget keys."""
    return hashlib.sha256(consumer_key.encode()).hexdigest()[:16]


def default_app_id(consumer_key: str | None) -> str:
    """The app of accounts that bring no keys of their own: RTQ_CONSUMER_KEY's id, or
    "default" when none is set (the name begin.lua and settle.lua hold it under)."""
    return app_id(consumer_key) if consumer_key else "default"


def fernet_for(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key.encode("ascii")) for key in keys])


class AccountStore:
    """Reads and writes accounts. `fernet` may be None for read-only uses (list, exists)."""

    def __init__(self, client: redis.Redis, keys: Keys, fernet: MultiFernet | None = None,
                 *, queue_key: str | None = None) -> None:
        self._redis = client
        self._keys = keys
        self._fernet = fernet
        self._queue_key = queue_key
        # token ciphertext -> credentials: decrypting costs more than the Redis read, and a
        # replaced account has a new ciphertext, so the cache never serves stale secrets.
        self._cache: dict[str, Credentials | OAuth2Credentials] = {}

    def add(self, credentials: Credentials) -> str:
        fernet = self._require_fernet()
        account_id = credentials.account_id
        document = json.dumps({
            "access_token": credentials.access_token,
            "access_token_secret": credentials.access_token_secret,
            "consumer_key": credentials.consumer_key,
            "consumer_secret": credentials.consumer_secret,
        })
        token = fernet.encrypt(document.encode()).decode("ascii")
        now = clock.now_iso()
        meta_key = self._keys.account_meta(account_id)
        pipe = self._redis.pipeline(transaction=True)
        pipe.hset(self._keys.accounts, account_id, token)
        pipe.hsetnx(meta_key, "added_at", now)
        pipe.hset(meta_key, mapping={
            "updated_at": now,
            "own_consumer_key": "1" if credentials.consumer_key else "0",
            "app": app_id(credentials.consumer_key) if credentials.consumer_key else "default",
        })
        pipe.hincrby(meta_key, "cred_version", 1)
        pipe.hdel(meta_key, "auth")
        pipe.execute()
        self._activate(account_id)
        return account_id

    def add_oauth2(self, account_id: str, credentials: OAuth2Credentials) -> str:
        """Store an OAuth 2.0 account (from `rtq accounts authorize`)."""
        token = self._encrypt(credentials.document())
        now = clock.now_iso()
        meta_key = self._keys.account_meta(account_id)
        pipe = self._redis.pipeline(transaction=True)
        pipe.hset(self._keys.accounts, account_id, token)
        pipe.hsetnx(meta_key, "added_at", now)
        pipe.hset(meta_key, mapping={"updated_at": now, "own_consumer_key": "1",
                                     "auth": "oauth2", "app": app_id(credentials.client_id)})
        pipe.hincrby(meta_key, "cred_version", 1)
        pipe.execute()
        self._activate(account_id)
        return account_id

    def version(self, account_id: str) -> str:
        """Changes whenever the account's credentials are replaced (compare-and-set token)."""
        return str(self._redis.hget(self._keys.account_meta(account_id), "cred_version") or "0")

    def replace_oauth2(self, account_id: str, credentials: OAuth2Credentials,
                       expected_version: str) -> bool:
        """Store refreshed tokens only if nothing replaced the account since `expected_version`
        was read; the old pair is forgotten in the same step."""
        script = (
            "if (redis.call('HGET', KEYS[2], 'cred_version') or '0') ~= ARGV[1] then return 0 end "
            "redis.call('HSET', KEYS[1], ARGV[2], ARGV[3]) "
            "redis.call('HINCRBY', KEYS[2], 'cred_version', 1) "
            "redis.call('HSET', KEYS[2], 'updated_at', ARGV[4]) return 1"
        )
        stored = self._redis.eval(script, 2, self._keys.accounts,
                                  self._keys.account_meta(account_id), expected_version,
                                  account_id, self._encrypt(credentials.document()),
                                  clock.now_iso())
        return bool(stored)

    def mark_needs_reauth(self, account_id: str) -> None:
        self._redis.hset(self._keys.account_meta(account_id), "state", "needs_reauth")

    def release(self, account_id: str) -> int | None:
        """An operator says the account may call X again (unlocked or reinstated): it is active
        and its held jobs go back to the queue. None if there is no such account."""
        if not self._redis.hexists(self._keys.accounts, account_id):
            return None
        return self._activate(account_id)

    def _encrypt(self, document: dict[str, Any]) -> str:
        return self._require_fernet().encrypt(json.dumps(document).encode()).decode("ascii")

    def _activate(self, account_id: str) -> int:
        """New credentials: the account is active again and its held jobs go back to the
        queue (in the order they were held). Returns how many were released."""
        self._redis.hdel(self._keys.account_meta(account_id), "held_detail", "held_since")
        if self._queue_key is None:
            self._redis.hset(self._keys.account_meta(account_id), "state", "active")
            return 0
        from worker.domain.scripts import Scripts
        from worker.domain.scripts.contract import call_of
        from worker.domain.scripts.queueing import ReleaseHeldInput, count

        call = call_of(ReleaseHeldInput(
            account_meta=self._keys.account_meta(account_id), held=self._keys.held(account_id),
            parked_messages=self._keys.parked_messages,
            released_lane=lanes.lane(self._queue_key, lanes.RELEASED),
            job_key_prefix=self._keys.job(""), now_iso=clock.now_iso(),
            released_priority=lanes.RELEASED, age_key=self._keys.age("held_account")))
        return count(Scripts(self._redis).release_held(keys=call.keys, args=call.args))

    def set_rate_limit(self, account_id: str, rate: tuple[int, int] | None) -> None:
        """This account's calls per window (None: back to RTQ_RATE_LIMIT). Its learned budgets
        are dropped so the next call starts from the new figure."""
        meta = self._keys.account_meta(account_id)
        pipe = self._redis.pipeline(transaction=True)
        if rate is None:
            pipe.hdel(meta, "rate_limit", "rate_window")
        else:
            pipe.hset(meta, mapping={"rate_limit": rate[0], "rate_window": rate[1]})
        pipe.delete(self._keys.budget(account_id, "retweet"),
                    self._keys.budget(account_id, "undo"))
        pipe.execute()

    def get(self, account_id: str) -> Credentials | OAuth2Credentials | None:
        return self.unseal(account_id, self._redis.hget(self._keys.accounts, account_id))

    def unseal(self, account_id: str, token: str | None
               ) -> Credentials | OAuth2Credentials | None:
        """The credentials in `token`, the account's encrypted entry in the accounts hash as
        the caller read it (begin.lua returns it with the claim). Decrypted once per process
        and ciphertext, then cached."""
        if not token:
            return None
        cached = self._cache.get(token)
        if cached is not None:
            return cached
        fernet = self._require_fernet()
        try:
            document = json.loads(fernet.decrypt(token.encode("ascii")))
        except InvalidToken:
            raise CredentialsUnreadable(
                f"credentials of account {account_id} cannot be decrypted with RTQ_SECRET_KEY "
                "(was the key that encrypted them removed?)"
            ) from None
        credentials: Credentials | OAuth2Credentials
        if document.pop("type", "oauth1") == "oauth2":
            credentials = OAuth2Credentials(**document)
        else:
            credentials = Credentials(**document)
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[token] = credentials
        return credentials

    def exists(self, account_id: str) -> bool:
        return bool(self._redis.hexists(self._keys.accounts, account_id))

    def remove(self, account_id: str) -> bool:
        """Forget the account and its held jobs (they could never run); jobs still queued for
        it are dead-lettered as unknown_account when a worker meets them."""
        held = self._redis.lrange(self._keys.held(account_id), 0, -1)
        pipe = self._redis.pipeline(transaction=True)
        pipe.hdel(self._keys.accounts, account_id)
        pipe.delete(self._keys.account_meta(account_id), self._keys.held(account_id))
        if held:
            pipe.hdel(self._keys.parked_messages, *held)
            pipe.zrem(self._keys.age("held_account"), *held)
        removed = pipe.execute()[0]
        return bool(removed)

    def list(self) -> list[AccountInfo]:
        return list_accounts(self._redis, self._keys)

    def rotate(self) -> int:
        """Re-encrypt every account under the first key; returns how many were rewritten."""
        fernet = self._require_fernet()
        count = 0
        for account_id, token in self._redis.hgetall(self._keys.accounts).items():
            try:
                rotated = fernet.rotate(token.encode("ascii")).decode("ascii")
            except InvalidToken:
                raise CredentialsUnreadable(
                    f"credentials of account {account_id} cannot be decrypted with RTQ_SECRET_KEY"
                ) from None
            # Only replace what we read: an `accounts add` in between wins.
            script = "if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then " \
                     "return redis.call('HSET', KEYS[1], ARGV[1], ARGV[3]) end return -1"
            if self._redis.eval(script, 1, self._keys.accounts, account_id, token, rotated) != -1:
                count += 1
        return count

    def _require_fernet(self) -> MultiFernet:
        if self._fernet is None:
            raise CredentialsUnreadable("RTQ_SECRET_KEY is needed to read or write credentials")
        return self._fernet
