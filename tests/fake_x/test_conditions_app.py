"""App-level conditions: credits depleted (402), usage cap (429), app-permission 403s."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from fake_x import EmulatorAdmin, EmulatorProcess

from .conditions_support import RATE_HEADERS, oauth2_user, user_of_new_app
from .xclient import XUser

PROBLEM_JSON = "application/problem+json"
PROBLEMS = "https://api.twitter.com/2/problems/"


def credits_body(account_id: str, title: str = "CreditsDepleted") -> dict[str, Any]:
    return {
        "title": title,
        "detail": f"Your enrolled account [{account_id}] does not have any credits to fulfill "
        "this request.",
        "type": PROBLEMS + "credits-depleted",
        "status": 402,
    }


def capped_body(account_id: str, period: str = "Monthly") -> dict[str, Any]:
    return {
        "account_id": account_id,
        "product_name": "standard-basic",
        "title": "UsageCapExceeded",
        "period": period,
        "scope": "Product",
        "detail": f"Usage cap exceeded: {period} product cap",
        "type": PROBLEMS + "usage-capped",
    }


def forbidden_body(reason: str, app_id: str) -> dict[str, Any]:
    if reason == "oauth1-permissions":
        return {
            "title": "Forbidden",
            "detail": "Your client app is not configured with the appropriate oauth1 app "
            "permissions for this endpoint.",
            "type": PROBLEMS + "oauth1-permissions",
            "status": 403,
        }
    if reason == "client-not-enrolled":
        return {
            "client_id": app_id,
            "detail": "When authenticating requests to the Twitter API v2 endpoints, you must "
            "use keys and tokens from a Twitter developer App that is attached to a Project. "
            "You can create a project via the developer portal.",
            "registration_url": "https://developer.twitter.com/en/docs/projects/overview",
            "title": "Client Forbidden",
            "required_enrollment": "Appropriate Level of API Access",
            "reason": "client-not-enrolled",
            "type": PROBLEMS + "client-forbidden",
        }
    if reason == "unsupported-authentication":
        return {
            "title": "Unsupported Authentication",
            "detail": "Authenticating with OAuth 2.0 Application-Only is forbidden for this "
            "endpoint.  Supported authentication types are [OAuth 1.0a User Context, OAuth 2.0 "
            "User Context].",
            "type": PROBLEMS + "unsupported-authentication",
            "status": 403,
        }
    message = (
        "You currently have access to a subset of X API V2 endpoints and limited v1.1 endpoints "
        "(e.g. media post, oauth) only. If you need access to this endpoint, you may need a "
        "different access level. You can learn more here: https://developer.x.com/en/portal/product"
    )
    return {"errors": [{"message": message, "code": 453}]}


def _key(user: XUser) -> str:
    key: str = user.credentials["consumer_key"]
    return key


def _has_rate_headers(response: requests.Response) -> bool:
    return all(name in response.headers for name in RATE_HEADERS)


def test_credits_depleted_is_402_for_every_call_of_that_app_only(
    user: XUser, admin: EmulatorAdmin, emulator: EmulatorProcess, http: requests.Session
) -> None:
    """Every call signed by the app is X's 402, with rate headers; another app's user is fine."""
    other = user_of_new_app(emulator.url, admin, http)
    condition = admin.add_condition("credits_depleted", consumer_key=_key(user))
    for response in (user.retweet("1"), user.undo("1"), user.me()):
        assert response.status_code == 402
        assert response.headers["Content-Type"].startswith(PROBLEM_JSON)
        assert response.json() == credits_body(_key(user))
        assert _has_rate_headers(response)
    assert other.retweet("1").status_code == 200
    assert [c["status"] for c in admin.calls(user_id=user.user_id)] == [402, 402, 402]

    admin.remove_condition(condition["id"])
    assert user.retweet("1").status_code == 200


def test_credits_depleted_title_and_account_id_can_be_given(
    user: XUser, admin: EmulatorAdmin
) -> None:
    """A title override (reported as "Payment Required") and the developer account's id."""
    admin.add_condition(
        "credits_depleted", consumer_key=_key(user), title="Payment Required", account_id="42"
    )
    response = user.retweet("1")
    assert response.json() == credits_body("42", "Payment Required")


def test_an_oauth2_client_can_run_out_of_credits(
    user: XUser, admin: EmulatorAdmin, emulator: EmulatorProcess, http: requests.Session
) -> None:
    """A client_id condition covers that client's bearer tokens, not other clients or OAuth 1.0a."""
    client_id, bearer = oauth2_user(emulator.url, admin, http)
    _, other_bearer = oauth2_user(emulator.url, admin, http)
    admin.add_condition("credits_depleted", client_id=client_id)
    response = bearer.me()
    assert (response.status_code, response.json()) == (402, credits_body(client_id))
    assert other_bearer.me().status_code == 200
    assert user.me().status_code == 200
    assert admin.calls(action="me")[0]["auth"] == "oauth2"


@pytest.mark.parametrize("period", ["Monthly", "Daily"])
def test_usage_cap_is_429_while_the_window_shows_plenty_left(
    period: str, user: XUser, admin: EmulatorAdmin
) -> None:
    """X's usage-capped body on a 429 whose x-rate-limit-remaining is not 0."""
    admin.configure(rate_limit=50)
    assert user.retweet("1").headers["x-rate-limit-remaining"] == "49"
    admin.add_condition("usage_capped", consumer_key=_key(user), period=period)
    response = user.retweet("2")
    assert response.status_code == 429
    assert response.headers["Content-Type"].startswith(PROBLEM_JSON)
    assert response.json() == capped_body(_key(user), period)
    assert response.headers["x-rate-limit-limit"] == "50"
    assert response.headers["x-rate-limit-remaining"] == "49"


@pytest.mark.parametrize(
    "reason", ["oauth1-permissions", "client-not-enrolled", "unsupported-authentication", "453"]
)
def test_app_forbidden_answers_xs_403_for_each_reason(
    reason: str,
    user: XUser,
    admin: EmulatorAdmin,
    emulator: EmulatorProcess,
    http: requests.Session,
) -> None:
    """Each reason's body on retweet and undo; another app is unaffected."""
    other = user_of_new_app(emulator.url, admin, http)
    admin.add_condition("app_forbidden", consumer_key=_key(user), reason=reason)
    for response in (user.retweet("1"), user.undo("1")):
        assert response.status_code == 403
        assert response.json() == forbidden_body(reason, _key(user))
        legacy = reason == "453"
        expected_type = "application/json" if legacy else PROBLEM_JSON
        assert response.headers["Content-Type"].startswith(expected_type)
    assert other.retweet("1").status_code == 200


@pytest.mark.parametrize(
    ("reason", "me_status"),
    [
        ("oauth1-permissions", 200),
        ("453", 200),
        ("client-not-enrolled", 403),
        ("unsupported-authentication", 403),
    ],
)
def test_write_permission_refusals_still_let_the_app_read_users_me(
    reason: str, me_status: int, user: XUser, admin: EmulatorAdmin
) -> None:
    """A read-only or free-subset app can read users/me; an unenrolled one cannot."""
    admin.add_condition("app_forbidden", consumer_key=_key(user), reason=reason)
    assert user.me().status_code == me_status


@pytest.mark.parametrize(
    "condition",
    [
        {"kind": "credits_depleted"},
        {"kind": "usage_capped"},
        {"kind": "app_forbidden", "reason": "client-not-enrolled"},
        {"kind": "account_locked"},
        {"kind": "account_suspended", "form": "v2"},
    ],
)
def test_app_and_account_conditions_do_not_spend_the_window(
    condition: dict[str, str], user: XUser, admin: EmulatorAdmin
) -> None:
    """Limit 2, one call made: refused calls keep reporting 1 left, and that 1 is still there."""
    admin.configure(rate_limit=2)
    assert user.retweet("1").status_code == 200
    target = {"user_id": user.user_id} if condition["kind"].startswith("account") else {
        "consumer_key": _key(user)
    }
    added = admin.add_condition(**condition, **target)
    for _ in range(3):
        response = user.retweet("2")
        assert response.status_code in (402, 403, 429)
        assert response.headers["x-rate-limit-remaining"] == "1"
    assert [c["rate_remaining"] for c in admin.calls(user_id=user.user_id)] == [1, 1, 1, 1]

    admin.remove_condition(added["id"])
    response = user.retweet("2")
    assert (response.status_code, response.headers["x-rate-limit-remaining"]) == (200, "0")


def test_a_bad_signature_is_still_401_under_an_app_condition(
    user: XUser, admin: EmulatorAdmin
) -> None:
    """Conditions apply after authentication: a forged call is 401 and logged as such."""
    admin.add_condition("credits_depleted", consumer_key=_key(user))
    forged = XUser(user.base_url, {**user.credentials, "consumer_secret": "x"}, user.session)
    assert forged.retweet("1").status_code == 401
    assert user.retweet("1").status_code == 402
    assert [c["status"] for c in admin.calls(user_id=user.user_id)] == [401, 402]


def test_an_app_condition_wins_over_an_account_condition(
    user: XUser, admin: EmulatorAdmin
) -> None:
    """A locked user of an app without credits gets the 402: X refuses the app first."""
    admin.add_condition("account_locked", user_id=user.user_id)
    admin.add_condition("credits_depleted", consumer_key=_key(user))
    assert user.retweet("1").status_code == 402
