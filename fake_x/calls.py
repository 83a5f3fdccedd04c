"""The call log: what each client asked and what the emulator answered.

Records hold only what tests need to assert on; the Authorization header, signatures, query
strings, request bodies and secrets (OAuth 2.0 codes, tokens and verifiers among them) are never
captured, so nothing can leak from here. The log is bounded so a
long benchmark cannot exhaust memory; sequence numbers keep counting across trims and clears.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class Call:
    seq: int
    time: float  # emulated clock, epoch seconds
    method: str
    path: str
    action: str  # "retweet" | "undo" | "me" | "token" | "authorize" | "other"
    user_id: str | None
    tweet_id: str | None
    status: int
    changed: bool
    rate_remaining: int | None
    auth: str | None = None  # "oauth1" | "oauth2": how an X API call authenticated, if it did
    grant_type: str | None = None  # token calls: "authorization_code" | "refresh_token"

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "time": datetime.fromtimestamp(self.time, UTC).isoformat(timespec="milliseconds"),
            "method": self.method,
            "path": self.path,
            "action": self.action,
            "user_id": self.user_id,
            "tweet_id": self.tweet_id,
            "status": self.status,
            "changed": self.changed,
            "rate_remaining": self.rate_remaining,
            "auth": self.auth,
            "grant_type": self.grant_type,
        }


class CallLog:
    def __init__(self, limit: int) -> None:
        self._calls: deque[Call] = deque(maxlen=limit)
        self._seq = 0

    def record(
        self,
        *,
        time: float,
        method: str,
        path: str,
        action: str,
        user_id: str | None,
        tweet_id: str | None,
        status: int,
        changed: bool,
        rate_remaining: int | None,
        auth: str | None = None,
        grant_type: str | None = None,
    ) -> None:
        self._seq += 1
        self._calls.append(
            Call(
                self._seq,
                time,
                method,
                path,
                action,
                user_id,
                tweet_id,
                status,
                changed,
                rate_remaining,
                auth,
                grant_type,
            )
        )

    def query(
        self,
        *,
        user_id: str | None = None,
        tweet_id: str | None = None,
        action: str | None = None,
        since: int = 0,
    ) -> list[dict[str, Any]]:
        """Calls with seq > `since`, optionally for one user, tweet or action, oldest first."""
        return [
            call.to_json()
            for call in self._calls
            if call.seq > since
            and (user_id is None or call.user_id == user_id)
            and (tweet_id is None or call.tweet_id == tweet_id)
            and (action is None or call.action == action)
        ]

    def resize(self, limit: int) -> None:
        if limit != self._calls.maxlen:
            self._calls = deque(self._calls, maxlen=limit)

    def clear(self) -> None:
        self._calls.clear()
