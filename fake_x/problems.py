"""X's answer bodies: RFC 7807 problems (`application/problem+json`) and the success bodies.

Shapes and wording follow docs/x-api.md: X's `type` URIs still use the api.twitter.com
host, the generic 401/403/429/5xx problems use `about:blank`, and `invalid-request` has no
`status` member. The JSON-schema messages are those of X's validator for malformed bodies.
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

PROBLEM_TYPE = "application/problem+json"
JSON_TYPE = "application/json"
_PROBLEMS = "https://api.twitter.com/2/problems/"


def dump(body: dict[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


RETWEETED = dump({"data": {"retweeted": True}})
NOT_RETWEETED = dump({"data": {"retweeted": False}})
ALREADY_RETWEETED = "You have already retweeted this Tweet."
LEGACY_327 = dump({"errors": [{"code": 327, "message": ALREADY_RETWEETED}]})


def generic(status: int, detail: str | None = None) -> bytes:
    """`about:blank` problem whose title is the status phrase (401, 403, 429, 5xx...)."""
    try:
        title = HTTPStatus(status).phrase
    except ValueError:
        title = "Error"
    detail = detail or title
    return dump({"title": title, "detail": detail, "type": "about:blank", "status": status})


UNAUTHORIZED = generic(401)
FORBIDDEN = generic(403)
TOO_MANY_REQUESTS = generic(429)
ROUTE_NOT_FOUND = generic(404, "Sorry, that page does not exist.")
OAUTH1_PERMISSIONS = dump(
    {
        "title": "Forbidden",
        "detail": "Your client app is not configured with the appropriate oauth1 app "
        "permissions for this endpoint.",
        "type": _PROBLEMS + "oauth1-permissions",
        "status": 403,
    }
)


def invalid_request(message: str, parameter: str | None = None, value: str | None = None) -> bytes:
    """400 `invalid-request`; with a parameter it names the offending value, as X does."""
    error: dict[str, Any] = {"message": message}
    if parameter is not None:
        error = {"parameters": {parameter: [value]}, "message": message}
    return dump(
        {
            "errors": [error],
            "title": "Invalid Request",
            "detail": "One or more parameters to your request was invalid.",
            "type": _PROBLEMS + "invalid-request",
        }
    )


def invalid_parameter(parameter: str, value: str) -> bytes:
    return invalid_request(
        f"The `{parameter}` query parameter value [{value}] is not valid", parameter, value
    )


def tweet_not_found(tweet_id: str) -> bytes:
    return dump(
        {
            "title": "Not Found Error",
            "detail": f"Could not find tweet with tweet_id: [{tweet_id}].",
            "type": _PROBLEMS + "resource-not-found",
            "status": 404,
            "resource_type": "tweet",
            "parameter": "tweet_id",
            "value": tweet_id,
            "resource_id": tweet_id,
        }
    )


def canonical(status: int, tweet_id: str | None = None) -> tuple[bytes, str]:
    """X's usual body for a status, for scripted and injected failures: (body, content type)."""
    if status == 400:
        return invalid_request("One or more parameters to your request was invalid."), PROBLEM_TYPE
    if status == 404 and tweet_id is not None:
        return tweet_not_found(tweet_id), PROBLEM_TYPE
    return generic(status), PROBLEM_TYPE
