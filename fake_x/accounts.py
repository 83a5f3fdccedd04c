"""Registered OAuth 1.0a credentials: consumer apps and the users' access tokens."""

from __future__ import annotations

import re
import secrets
import string
from dataclasses import dataclass
from typing import Any

_ALNUM = string.ascii_letters + string.digits
# X access tokens look like `<numeric user id>-<random>`; the id part is what the API trusts.
_USER_IDS = range(10**14, 2**63)
_ACCESS_TOKEN = re.compile(r"^([0-9]{1,19})-[A-Za-z0-9]+$")


CREDENTIAL_KEYS = frozenset(
    {"consumer_key", "consumer_secret", "access_token", "access_token_secret"}
)
PROFILE_KEYS = frozenset({"name", "username"})


class AccountError(ValueError):
    """A registration was refused (bad token shape, conflicting consumer secret)."""


class ConsumerConflictError(AccountError):
    """The consumer key is already registered with another secret."""


@dataclass(frozen=True, slots=True)
class Credentials:
    """One user's full OAuth 1.0a credential set, as registered through the admin API."""

    consumer_key: str
    consumer_secret: str
    access_token: str
    access_token_secret: str

    @classmethod
    def from_json(cls, data: Any) -> Credentials:
        """Validate a JSON object holding the four credential keys (and nothing unknown)."""
        if not isinstance(data, dict):
            raise AccountError("a credential set must be a JSON object")
        unknown = set(data) - CREDENTIAL_KEYS - PROFILE_KEYS
        if unknown:
            raise AccountError(f"unknown key {sorted(unknown)[0]}")
        for key in sorted(CREDENTIAL_KEYS):
            if not isinstance(data.get(key), str) or not data[key]:
                raise AccountError(f"{key} must be a non-empty string")
        for key in sorted(PROFILE_KEYS & set(data)):
            if not isinstance(data[key], str):
                raise AccountError(f"{key} must be a string")
        return cls(
            data["consumer_key"],
            data["consumer_secret"],
            data["access_token"],
            data["access_token_secret"],
        )


@dataclass(frozen=True, slots=True)
class Account:
    """One user's access token, bound to the consumer app that obtained it."""

    user_id: str
    consumer_key: str
    access_token: str
    access_token_secret: str
    name: str
    username: str

    def public(self) -> dict[str, str]:
        """What the admin API may show: never the secrets."""
        return {
            "user_id": self.user_id,
            "access_token": self.access_token,
            "consumer_key": self.consumer_key,
            "username": self.username,
            "name": self.name,
        }


def user_id_of(access_token: str) -> str:
    """The digits before the first '-' of an access token; AccountError if it has another shape."""
    match = _ACCESS_TOKEN.match(access_token)
    if match is None:
        raise AccountError("access_token must look like '<1-19 digit user id>-<alphanumerics>'")
    return match.group(1)


def _random(alphabet: str, length: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def random_consumer() -> tuple[str, str]:
    """A consumer key and secret shaped like X's (25 and 50 alphanumerics)."""
    return _random(_ALNUM, 25), _random(_ALNUM, 50)


class AccountRegistry:
    """Consumer secrets by key, accounts by access token."""

    def __init__(self) -> None:
        self.default_consumer_key, secret = random_consumer()
        self._consumers: dict[str, str] = {self.default_consumer_key: secret}
        self._accounts: dict[str, Account] = {}

    def consumer_secret(self, consumer_key: str) -> str | None:
        return self._consumers.get(consumer_key)

    def by_token(self, access_token: str) -> Account | None:
        return self._accounts.get(access_token)

    def register(
        self, credentials: Credentials, name: str | None = None, username: str | None = None
    ) -> Account:
        """Add or replace a user's token. Several users may share a consumer key, but only with
        the same secret: a second secret would silently break every other user of that app."""
        user_id = user_id_of(credentials.access_token)
        consumer_key, consumer_secret = credentials.consumer_key, credentials.consumer_secret
        known = self._consumers.get(consumer_key)
        if known is not None and known != consumer_secret:
            raise ConsumerConflictError("consumer_key is already registered with another secret")
        self._consumers[consumer_key] = consumer_secret
        account = Account(
            user_id=user_id,
            consumer_key=consumer_key,
            access_token=credentials.access_token,
            access_token_secret=credentials.access_token_secret,
            name=name or f"Emulated User {user_id[-4:]}",
            username=username or f"user{user_id}",
        )
        self._accounts[credentials.access_token] = account
        return account

    def by_user(self, user_id: str) -> Account | None:
        """One of the user's accounts (the first registered), or None."""
        return next((a for a in self._accounts.values() if a.user_id == user_id), None)

    def generate(self, user_id: str | None = None) -> dict[str, Any]:
        """Register a fresh, realistic credential set for the default consumer and return it;
        for `user_id` if given (e.g. a user who first appears through OAuth 2.0)."""
        if user_id is None:
            # 15 to 19 digits, below 2**63 like real X ids (Snowflakes are signed 64-bit).
            user_id = str(secrets.choice(_USER_IDS))
            while self.by_user(user_id) is not None:
                user_id = str(secrets.choice(_USER_IDS))
        credentials = Credentials(
            consumer_key=self.default_consumer_key,
            consumer_secret=self._consumers[self.default_consumer_key],
            access_token=f"{user_id}-{_random(_ALNUM, 31)}",
            access_token_secret=_random(_ALNUM, 45),
        )
        account = self.register(credentials)
        return {
            "consumer_key": account.consumer_key,
            "consumer_secret": self._consumers[account.consumer_key],
            "access_token": account.access_token,
            "access_token_secret": account.access_token_secret,
            "user_id": account.user_id,
            "name": account.name,
            "username": account.username,
        }

    def revoke(self, user_id: str) -> int:
        """Drop every token of `user_id` (the user revoked the app); return how many."""
        tokens = [t for t, a in self._accounts.items() if a.user_id == user_id]
        for token in tokens:
            del self._accounts[token]
        return len(tokens)

    def public(self) -> list[dict[str, str]]:
        return [a.public() for a in self._accounts.values()]

    def clear(self) -> None:
        """Forget every account and every consumer except the default one."""
        self._accounts.clear()
        default_secret = self._consumers[self.default_consumer_key]
        self._consumers = {self.default_consumer_key: default_secret}
