"""Keeping OAuth 2.0 accounts' access tokens fresh, safely across workers.

X's refresh tokens are single use: two workers refreshing at once would burn the account (the
loser's refresh token is already dead). So one worker refreshes under a per-account lock with a
TTL, stores the new pair (compare-and-set on the account's credential version) before using it,
and the others do not wait in place: their jobs come back a moment later and read the new pair.
"""

from __future__ import annotations

import redis
import requests

from worker.core.keys import Keys
from worker.domain.accounts import AccountStore
from worker.x_api.oauth2 import LOCK_TTL_MS, OAuth2Credentials, new_lock_token, refresh

_RELEASE = ("if redis.call('GET', KEYS[1]) == ARGV[1] then "
            "return redis.call('DEL', KEYS[1]) end return 0")


class RefreshBusy(Exception):
    """Another worker is refreshing this account's tokens right now."""


class TokenRefresher:
    def __init__(self, client: redis.Redis, keys: Keys, accounts: AccountStore,
                 token_url: str) -> None:
        self._redis = client
        self._keys = keys
        self._accounts = accounts
        self._token_url = token_url
        self._session = requests.Session()

    def fresh(self, account_id: str, credentials: OAuth2Credentials) -> OAuth2Credentials:
        """Credentials good for the next call. Raises RefreshBusy (come back shortly) or
        oauth2.TokenError (refused: re-authorize; or unreachable: retry later)."""
        if not credentials.needs_refresh():
            return credentials
        lock, token = self._keys.refresh_lock(account_id), new_lock_token()
        if not self._redis.set(lock, token, nx=True, px=LOCK_TTL_MS):
            raise RefreshBusy(account_id)
        try:
            # Read again under the lock: another worker may have refreshed a moment ago.
            version = self._accounts.version(account_id)
            current = self._accounts.get(account_id)
            if not isinstance(current, OAuth2Credentials):
                raise RefreshBusy(account_id)  # replaced meanwhile: the next try reads it
            if not current.needs_refresh():
                return current
            renewed = refresh(self._token_url, current, self._session)
            if not self._accounts.replace_oauth2(account_id, renewed, version):
                raise RefreshBusy(account_id)  # re-authorized meanwhile: use what is stored
            return renewed
        finally:
            self._redis.eval(_RELEASE, 1, lock, token)
