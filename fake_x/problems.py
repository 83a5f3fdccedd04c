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


# Billing and usage: app-wide (see docs/x-api.md, "What the emulator reproduces", for sources).


def credits_depleted(title: str, detail: str) -> bytes:
    """402: the app's pay-per-use credits (or its spending limit) ran out."""
    return dump(
        {"title": title, "detail": detail, "type": _PROBLEMS + "credits-depleted", "status": 402}
    )


def credits_depleted_detail(account_id: str) -> str:
    return (
        f"Your enrolled account [{account_id}] does not have any credits to fulfill this request."
    )


def usage_capped(account_id: str, period: str) -> bytes:
    """429 that is not the 15-minute window: the app's product cap. X sends no `status` here."""
    return dump(
        {
            "account_id": account_id,
            "product_name": "standard-basic",
            "title": "UsageCapExceeded",
            "period": period,
            "scope": "Product",
            "detail": f"Usage cap exceeded: {period} product cap",
            "type": _PROBLEMS + "usage-capped",
        }
    )


# App-permission 403s: the app, not the user or the tweet, is refused.


def client_not_enrolled(client_id: str) -> bytes:
    return dump(
        {
            "client_id": client_id,
            "detail": "When authenticating requests to the Twitter API v2 endpoints, you must use "
            "keys and tokens from a Twitter developer App that is attached to a Project. You can "
            "create a project via the developer portal.",
            "registration_url": "https://developer.twitter.com/en/docs/projects/overview",
            "title": "Client Forbidden",
            "required_enrollment": "Appropriate Level of API Access",
            "reason": "client-not-enrolled",
            "type": _PROBLEMS + "client-forbidden",
        }
    )


UNSUPPORTED_AUTHENTICATION = dump(
    {
        "title": "Unsupported Authentication",
        # Two spaces after "endpoint.", as X sends it.
        "detail": "Authenticating with OAuth 2.0 Application-Only is forbidden for this endpoint.  "
        "Supported authentication types are [OAuth 1.0a User Context, OAuth 2.0 User Context].",
        "type": _PROBLEMS + "unsupported-authentication",
        "status": 403,
    }
)
LEGACY_453 = dump(
    {
        "errors": [
            {
                "message": "You currently have access to a subset of X API V2 endpoints and "
                "limited v1.1 endpoints (e.g. media post, oauth) only. If you need access to this "
                "endpoint, you may need a different access level. You can learn more here: "
                "https://developer.x.com/en/portal/product",
                "code": 453,
            }
        ]
    }
)

# Account-level 403s. X documents only the legacy bodies; the v2 shapes are the emulator's guess.
LEGACY_LOCKED_326 = dump(
    {
        "errors": [
            {
                "code": 326,
                "message": "To protect our users from spam and other malicious activity, this "
                "account is temporarily locked. Please log in to https://x.com to unlock your "
                "account.",
            }
        ]
    }
)
LEGACY_SUSPENDED_64 = dump(
    {
        "errors": [
            {
                "code": 64,
                "message": "Your account is suspended and is not permitted to access this feature.",
            }
        ]
    }
)
ACCOUNT_LOCKED = generic(403, "This account is temporarily locked.")
ACCOUNT_SUSPENDED = generic(403, "This account is suspended.")


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
