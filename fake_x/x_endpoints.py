"""What each X endpoint checks and changes once a call has passed authentication, windows and
faults: `POST /2/users/{id}/retweets`, `DELETE /2/users/{id}/retweets/{tweet_id}` and
`GET /2/users/me`.

The order of checks is X's: write access and the path id (403, 400), the body against X's schema
(400, with its validator's messages), then the tweet itself (404, 403) and the state change.
"""

from __future__ import annotations

import json
import re
from typing import Any

from aiohttp import web

from fake_x import problems
from fake_x.state import Emulator
from fake_x.x_types import Answer, Caller, Reject, ok

_ID = re.compile(r"[0-9]{1,19}")  # ASCII only: str.isdigit() would accept other scripts' digits
_JSON_KINDS = {
    bool: "boolean",
    int: "integer",
    float: "number",
    str: "string",
    list: "array",
    dict: "object",
    type(None): "null",
}


def _peek_tweet_id(body: bytes) -> str | None:
    """The tweet id a retweet body names, if any: scripts and the call log match on it."""
    try:
        data = json.loads(body)
    except ValueError:
        return None
    value = data.get("tweet_id") if isinstance(data, dict) else None
    return value if isinstance(value, str) else None


def tweet_id_of(request: web.Request, action: str, body: bytes) -> str | None:
    """The tweet a call is about (unvalidated): the path's for an undo, the body's for a retweet."""
    if action == "undo":
        return request.match_info.get("tweet_id")
    return _peek_tweet_id(body) if action == "retweet" else None


def _body_tweet_id(body: bytes) -> str:
    """Validate the retweet body against X's schema: exactly `{"tweet_id": "<digits>"}`."""
    try:
        data: Any = json.loads(body)
    except ValueError:
        message = "Request body is not valid JSON"
        raise Reject(Answer(400, problems.invalid_request(message))) from None
    if not isinstance(data, dict):
        kind = _JSON_KINDS.get(type(data), "value")
        raise Reject(Answer(400, problems.invalid_request(f"$: {kind} found, object expected")))
    for key in data:
        if key != "tweet_id":
            message = (
                f"$.{key}: is not defined in the schema and the schema does not allow "
                "additional properties"
            )
            raise Reject(Answer(400, problems.invalid_request(message)))
    if "tweet_id" not in data:
        message = "$.tweet_id: is missing but it is required"
        raise Reject(Answer(400, problems.invalid_request(message)))
    value = data["tweet_id"]
    if not isinstance(value, str):
        kind = _JSON_KINDS.get(type(value), "value")
        message = f"$.tweet_id: {kind} found, string expected"
        raise Reject(Answer(400, problems.invalid_request(message)))
    if not _ID.fullmatch(value):
        raise Reject(Answer(400, problems.invalid_parameter("tweet_id", value)))
    return value


def _gone(emu: Emulator, tweet_id: str) -> bool:
    """The tweet does not exist (configured missing, or deleted by a condition)."""
    if tweet_id in emu.config.missing_tweets:
        return True
    return emu.conditions.tweet_deleted(tweet_id, emu.clock.now())


def _check_write_access(emu: Emulator, caller: Caller, path_id: str) -> None:
    if caller.consumer_key is not None and caller.consumer_key in emu.config.read_only_consumers:
        raise Reject(Answer(403, problems.OAUTH1_PERMISSIONS))
    if not _ID.fullmatch(path_id):
        raise Reject(Answer(400, problems.invalid_parameter("id", path_id)))
    if path_id != caller.user_id:
        detail = (
            f"The id in the path ({path_id}) is not the authenticated user "
            f"({caller.user_id}): you can only manage your own Retweets."
        )
        raise Reject(Answer(403, problems.generic(403, detail)))


def _retweet(emu: Emulator, caller: Caller, path_id: str, body: bytes) -> Answer:
    _check_write_access(emu, caller, path_id)
    tweet_id = _body_tweet_id(body)
    config = emu.config
    if _gone(emu, tweet_id):
        return Answer(404, problems.tweet_not_found(tweet_id))
    if tweet_id in config.protected_tweets:
        detail = "You cannot Retweet this Tweet: its author protects their Tweets."
        return Answer(403, problems.generic(403, detail))
    if emu.retweets.is_retweeted(caller.user_id, tweet_id):
        if config.already_retweeted == "403":
            return Answer(403, problems.generic(403, problems.ALREADY_RETWEETED))
        if config.already_retweeted == "legacy327":
            return Answer(403, problems.LEGACY_327, problems.JSON_TYPE)
        return ok(problems.RETWEETED)
    return ok(problems.RETWEETED, emu.retweets.set(caller.user_id, tweet_id, True))


def _undo(emu: Emulator, caller: Caller, path_id: str, tweet_id: str) -> Answer:
    _check_write_access(emu, caller, path_id)
    if not _ID.fullmatch(tweet_id):
        raise Reject(Answer(400, problems.invalid_parameter("source_tweet_id", tweet_id)))
    if _gone(emu, tweet_id):
        return Answer(404, problems.tweet_not_found(tweet_id))
    # Idempotent, as documented: undoing a retweet that does not exist is a quiet success.
    return ok(problems.NOT_RETWEETED, emu.retweets.set(caller.user_id, tweet_id, False))


def _me(caller: Caller) -> Answer:
    data = {"id": caller.user_id, "name": caller.name, "username": caller.username}
    return ok(problems.dump({"data": data}))


def serve_endpoint(
    emu: Emulator, request: web.Request, action: str, caller: Caller, body: bytes
) -> Answer:
    """The endpoint's own answer to a call that got this far (no rate headers yet)."""
    path_id = request.match_info.get("id", "")
    try:
        if action == "retweet":
            return _retweet(emu, caller, path_id, body)
        if action == "undo":
            return _undo(emu, caller, path_id, request.match_info.get("tweet_id") or "")
        return _me(caller)
    except Reject as reject:
        return reject.answer
