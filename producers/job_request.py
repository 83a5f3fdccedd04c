"""Validating what producers are given: actions, ids, tweet URLs, JSON Lines records."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from producers.errors import InvalidJob
from worker.ids import InvalidId, parse_account_id, parse_tweet_id
from worker.messages import ACTIONS

_RECORD_FIELDS = ("action", "account_id", "tweet_id")


@dataclass(frozen=True)
class JobRequest:
    """A validated job: canonical ids, a known action."""

    action: str
    account_id: str
    tweet_id: str

    @classmethod
    def create(cls, action: object, account_id: object, tweet_id: object) -> JobRequest:
        if action not in ACTIONS:
            raise InvalidJob("action", f"expected one of {', '.join(ACTIONS)}, got {action!r}")
        try:
            account = parse_account_id(account_id)
        except InvalidId as exc:
            raise InvalidJob("account_id", str(exc)) from None
        try:
            tweet = parse_tweet_id(tweet_id)
        except InvalidId as exc:
            raise InvalidJob("tweet_id", str(exc)) from None
        return cls(str(action), account, tweet)

    @classmethod
    def from_record(cls, record: object) -> JobRequest:
        """One `rtq enqueue` line, already parsed from JSON."""
        if not isinstance(record, Mapping):
            raise InvalidJob("line", "expected a JSON object")
        unknown = sorted(str(k) for k in record if k not in _RECORD_FIELDS)
        if unknown:
            raise InvalidJob(unknown[0], "unknown field (allowed: action, account_id, tweet_id)")
        for name in _RECORD_FIELDS:
            if name not in record:
                raise InvalidJob(name, "missing")
        return cls.create(record["action"], record["account_id"], record["tweet_id"])

    def as_record(self) -> dict[str, Any]:
        return {"action": self.action, "account_id": self.account_id, "tweet_id": self.tweet_id}
