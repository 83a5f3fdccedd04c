"""Scripted answers: "the next N matching calls get these responses, in this order".

Rules are tried in the order they were added; the first one that matches a call and still has
responses gives up its first response. Matching happens after authentication, so a forged
request is a 401 whatever the script says. A rule without `action` matches retweets and undos
but not `GET /2/users/me` or the token endpoint, so a worker's start-up identity check or token
refresh does not eat a scripted failure.

Rules with action "token" apply to `POST /2/oauth2/token` once the request is valid (the user is
known): an error status answers before anything is spent, so the same code or refresh token still
works on a retry; `hang_seconds` holds the answer *after* the new pair is issued and the old
refresh token is spent, which is how a client loses a rotated pair to a timeout.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

ACTIONS = ("retweet", "undo", "me", "token")
_RULE_KEYS = frozenset({"user_id", "tweet_id", "action", "responses"})
_RESPONSE_KEYS = frozenset({"status", "hang_seconds"})


class ScriptError(ValueError):
    """A rule in a posted script is malformed."""


@dataclass(frozen=True, slots=True)
class ScriptedResponse:
    status: int  # 200 means "behave normally"
    hang_seconds: float = 0.0


@dataclass(slots=True)
class ScriptRule:
    user_id: str | None
    tweet_id: str | None
    action: str | None
    responses: deque[ScriptedResponse] = field(default_factory=deque)

    def matches(self, user_id: str, tweet_id: str | None, action: str) -> bool:
        if self.action is None and action not in ("retweet", "undo"):
            return False
        return (
            (self.action is None or self.action == action)
            and (self.user_id is None or self.user_id == user_id)
            and (self.tweet_id is None or self.tweet_id == tweet_id)
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "user_id": self.user_id,
            "tweet_id": self.tweet_id,
            "action": self.action,
            "responses": [
                {"status": r.status, "hang_seconds": r.hang_seconds} for r in self.responses
            ],
        }


def _optional_str(rule: dict[str, Any], key: str) -> str | None:
    value = rule.get(key)
    if value is not None and not isinstance(value, str):
        raise ScriptError(f"{key} must be a string")
    return value


def _parse_response(raw: Any) -> ScriptedResponse:
    if not isinstance(raw, dict) or set(raw) - _RESPONSE_KEYS:
        raise ScriptError(f"a response is an object with keys {sorted(_RESPONSE_KEYS)}")
    status, hang = raw.get("status"), raw.get("hang_seconds", 0)
    if (
        isinstance(status, bool)
        or not isinstance(status, int)
        or not (status == 200 or 400 <= status <= 599)
    ):
        raise ScriptError("response status must be 200 (behave normally) or 400-599")
    if isinstance(hang, bool) or not isinstance(hang, int | float) or not hang >= 0:
        raise ScriptError("hang_seconds must be a number >= 0")
    return ScriptedResponse(status=status, hang_seconds=float(hang))


def parse_rule(raw: Any) -> ScriptRule:
    """Validate one rule from the admin API."""
    if not isinstance(raw, dict):
        raise ScriptError("a rule must be an object")
    unknown = set(raw) - _RULE_KEYS
    if unknown:
        raise ScriptError(f"unknown rule key {sorted(unknown)[0]}")
    action = _optional_str(raw, "action")
    if action is not None and action not in ACTIONS:
        raise ScriptError(f"action must be one of {', '.join(ACTIONS)}")
    responses = raw.get("responses")
    if not isinstance(responses, list) or not responses:
        raise ScriptError("responses must be a non-empty list")
    return ScriptRule(
        user_id=_optional_str(raw, "user_id"),
        tweet_id=_optional_str(raw, "tweet_id"),
        action=action,
        responses=deque(_parse_response(r) for r in responses),
    )


class Script:
    def __init__(self) -> None:
        self._rules: list[ScriptRule] = []

    def extend(self, rules: list[ScriptRule]) -> None:
        self._rules.extend(rules)

    def take(self, user_id: str, tweet_id: str | None, action: str) -> ScriptedResponse | None:
        """Consume the next scripted response for this call, if a rule matches."""
        for index, rule in enumerate(self._rules):
            if rule.matches(user_id, tweet_id, action):
                response = rule.responses.popleft()
                if not rule.responses:
                    del self._rules[index]
                return response
        return None

    def to_json(self) -> list[dict[str, Any]]:
        return [rule.to_json() for rule in self._rules]

    def clear(self) -> None:
        self._rules.clear()
