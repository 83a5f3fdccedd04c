"""Account, tweet and X-wide conditions, and the `/_emulator/conditions` admin API itself."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from fake_x import EmulatorAdmin, EmulatorAdminError, EmulatorProcess

from .conditions_support import RATE_HEADERS, oauth2_user, wait_until
from .xclient import XUser

LOCKED_326 = {
    "errors": [
        {
            "code": 326,
            "message": "To protect our users from spam and other malicious activity, this account "
            "is temporarily locked. Please log in to https://x.com to unlock your account.",
        }
    ]
}
SUSPENDED_64 = {
    "errors": [
        {
            "code": 64,
            "message": "Your account is suspended and is not permitted to access this feature.",
        }
    ]
}


def v2_forbidden(detail: str) -> dict[str, Any]:
    return {"title": "Forbidden", "detail": detail, "type": "about:blank", "status": 403}


def unavailable(status: int = 503, title: str = "Service Unavailable") -> dict[str, Any]:
    return {"title": title, "detail": title, "type": "about:blank", "status": status}


def not_found(tweet_id: str) -> dict[str, Any]:
    return {
        "title": "Not Found Error",
        "detail": f"Could not find tweet with tweet_id: [{tweet_id}].",
        "type": "https://api.twitter.com/2/problems/resource-not-found",
        "status": 404,
        "resource_type": "tweet",
        "parameter": "tweet_id",
        "value": tweet_id,
        "resource_id": tweet_id,
    }


@pytest.mark.parametrize(
    ("kind", "form", "body", "content_type"),
    [
        ("account_locked", "legacy", LOCKED_326, "application/json"),
        ("account_suspended", "legacy", SUSPENDED_64, "application/json"),
        (
            "account_locked",
            "v2",
            v2_forbidden("This account is temporarily locked."),
            "application/problem+json",
        ),
        (
            "account_suspended",
            "v2",
            v2_forbidden("This account is suspended."),
            "application/problem+json",
        ),
    ],
)
def test_a_locked_or_suspended_account_fails_every_call(
    kind: str,
    form: str,
    body: dict[str, Any],
    content_type: str,
    make_user: Callable[[], XUser],
    admin: EmulatorAdmin,
) -> None:
    """Retweet, undo and users/me are X's 403 for that user; a user of the same app is fine."""
    user, neighbour = make_user(), make_user()
    admin.add_condition(kind, user_id=user.user_id, form=form)
    for response in (user.retweet("1"), user.undo("1"), user.me()):
        assert response.status_code == 403
        assert response.headers["Content-Type"].startswith(content_type)
        assert response.json() == body
        assert all(name in response.headers for name in RATE_HEADERS)
    assert neighbour.retweet("1").status_code == 200
    assert [c["status"] for c in admin.calls(user_id=user.user_id)] == [403, 403, 403]


def test_an_account_condition_follows_the_user_to_oauth2(
    user: XUser, admin: EmulatorAdmin, emulator: EmulatorProcess, http: requests.Session
) -> None:
    """The lock is on the account, whichever app or kind of token the user calls with."""
    _, bearer = oauth2_user(emulator.url, admin, http, x_user_id=user.user_id)
    condition = admin.add_condition("account_locked", user_id=user.user_id)
    response = bearer.retweet(user.user_id, "1")
    assert (response.status_code, response.json()) == (403, LOCKED_326)
    admin.remove_condition(condition["id"])
    assert bearer.retweet(user.user_id, "1").status_code == 200


def test_a_deleted_tweet_is_404_for_retweet_and_undo_and_its_retweets_are_gone(
    make_user: Callable[[], XUser], admin: EmulatorAdmin
) -> None:
    """X's resource-not-found body both ways; stored retweets of it vanish; other tweets work."""
    alice, bob = make_user(), make_user()
    assert alice.retweet("5").status_code == 200
    assert bob.retweet("5").status_code == 200
    assert bob.retweet("6").status_code == 200
    before = admin.calls()[-1]["seq"]
    condition = admin.add_condition("tweet_deleted", tweet_id="5")
    assert admin.state() == {bob.user_id: ["6"]}

    for response in (alice.retweet("5"), alice.undo("5")):
        assert response.status_code == 404
        assert response.headers["Content-Type"].startswith("application/problem+json")
        assert response.json() == not_found("5")
    assert alice.retweet("6").status_code == 200
    assert [c["status"] for c in admin.calls(tweet_id="5", since=before)] == [404, 404]

    admin.remove_condition(condition["id"])
    assert alice.retweet("5").status_code == 200


def test_an_outage_answers_every_call_before_authentication(
    make_user: Callable[[], XUser], admin: EmulatorAdmin
) -> None:
    """503 with X's body for every user and endpoint, forged signatures too, until removed."""
    alice, bob = make_user(), make_user()
    forged = XUser(alice.base_url, {**alice.credentials, "consumer_secret": "x"}, alice.session)
    condition = admin.add_condition("outage")
    assert condition["status"] == 503
    for response in (alice.retweet("1"), bob.undo("1"), bob.me(), forged.retweet("1")):
        assert response.status_code == 503
        assert response.json() == unavailable()
    assert [c["status"] for c in admin.calls()] == [503, 503, 503, 503]

    admin.remove_condition(condition["id"])
    assert alice.retweet("1").status_code == 200


def test_an_outage_can_answer_another_5xx(user: XUser, admin: EmulatorAdmin) -> None:
    """`status` picks the 5xx, with its own status phrase in the body."""
    admin.add_condition("outage", status=502)
    response = user.retweet("1")
    assert (response.status_code, response.json()) == (502, unavailable(502, "Bad Gateway"))


def test_an_outage_with_seconds_ends_when_the_clock_passes_it(
    user: XUser, admin: EmulatorAdmin
) -> None:
    """`seconds` runs on the emulator's clock: advancing it past the end ends the outage."""
    condition = admin.add_condition("outage", seconds=600)
    assert condition["ends_at"] == pytest.approx(admin.now() + 600, abs=5)
    admin.advance_clock(590)
    assert user.retweet("1").status_code == 503
    admin.advance_clock(11)
    assert user.retweet("1").status_code == 200
    assert admin.conditions() == []


def test_a_timeout_outage_holds_the_call_then_answers_503(
    user: XUser, admin: EmulatorAdmin
) -> None:
    """mode "timeout" holds each call for delay_seconds, then answers 503."""
    admin.add_condition("outage", mode="timeout", delay_seconds=0.3)
    started = time.monotonic()
    response = user.retweet("1")
    assert time.monotonic() - started >= 0.3
    assert (response.status_code, response.json()) == (503, unavailable())


def test_a_timeout_outage_outlasts_a_client_timeout_and_is_logged(
    user: XUser, admin: EmulatorAdmin
) -> None:
    """The default hold (30 s) outlasts a client's timeout; the call is in the log meanwhile."""
    condition = admin.add_condition("outage", mode="timeout")
    assert condition["delay_seconds"] == 30
    path = f"/2/users/{user.user_id}/retweets"
    with pytest.raises(requests.ReadTimeout):
        user.session.send(user.prepare("POST", path, json={"tweet_id": "1"}), timeout=0.5)
    assert [c["status"] for c in admin.calls(user_id=user.user_id)] == [503]
    admin.clear_conditions()
    wait_until(lambda: admin.in_flight() == 0, "the abandoned call to be let go")


def test_removing_a_timeout_outage_lets_held_calls_answer_at_once(
    user: XUser, admin: EmulatorAdmin
) -> None:
    """A call held by the outage answers its 503 as soon as the outage is removed."""
    condition = admin.add_condition("outage", mode="timeout")
    with ThreadPoolExecutor(max_workers=1) as pool:
        held = pool.submit(user.retweet, "1")
        wait_until(lambda: admin.in_flight() == 1, "the call to be held")
        assert not held.done()
        admin.remove_condition(condition["id"])
        response = held.result(timeout=5)
    assert (response.status_code, response.json()) == (503, unavailable())
    assert admin.in_flight() == 0


def test_conditions_are_listed_removed_one_by_one_cleared_and_reset(
    user: XUser, admin: EmulatorAdmin
) -> None:
    """GET lists them oldest first; DELETE one (404 if unknown), DELETE all, reset all clear."""
    first = admin.add_condition("tweet_deleted", tweet_id="9")
    second = admin.add_condition("account_suspended", user_id=user.user_id)
    assert first["id"] != second["id"]
    assert second == {
        "id": second["id"],
        "kind": "account_suspended",
        "user_id": user.user_id,
        "form": "legacy",
        "seconds": None,
        "ends_at": None,
    }
    assert admin.conditions() == [first, second]
    admin.remove_condition(first["id"])
    assert admin.conditions() == [second]
    with pytest.raises(EmulatorAdminError, match="404"):
        admin.remove_condition(first["id"])
    admin.clear_conditions()
    assert admin.conditions() == []
    admin.add_condition("outage")
    admin.reset()
    assert admin.conditions() == []
    assert user.retweet("1").status_code == 200


@pytest.mark.parametrize(
    ("body", "key"),
    [
        ({}, "kind"),
        ({"kind": "meteor"}, "kind"),
        ({"kind": "credits_depleted"}, "consumer_key"),
        ({"kind": "credits_depleted", "consumer_key": "a", "client_id": "b"}, "client_id"),
        ({"kind": "credits_depleted", "consumer_key": ""}, "consumer_key"),
        ({"kind": "credits_depleted", "consumer_key": "a", "title": 7}, "title"),
        ({"kind": "usage_capped", "client_id": "a", "period": "Weekly"}, "period"),
        ({"kind": "app_forbidden", "consumer_key": "a"}, "reason"),
        ({"kind": "app_forbidden", "consumer_key": "a", "reason": "454"}, "reason"),
        ({"kind": "account_locked"}, "user_id"),
        ({"kind": "account_locked", "user_id": "12x"}, "user_id"),
        ({"kind": "account_suspended", "user_id": "12", "form": "v1"}, "form"),
        ({"kind": "account_suspended", "user_id": "12", "tweet_id": "1"}, "tweet_id"),
        ({"kind": "tweet_deleted", "tweet_id": 5}, "tweet_id"),
        ({"kind": "outage", "status": 429}, "status"),
        ({"kind": "outage", "status": True}, "status"),
        ({"kind": "outage", "mode": "slow"}, "mode"),
        ({"kind": "outage", "delay_seconds": 3}, "delay_seconds"),
        ({"kind": "outage", "mode": "timeout", "delay_seconds": -1}, "delay_seconds"),
        ({"kind": "outage", "seconds": 0}, "seconds"),
        ({"kind": "outage", "seconds": "60"}, "seconds"),
    ],
)
def test_a_malformed_condition_is_400_naming_the_field(
    body: dict[str, Any], key: str, emulator: EmulatorProcess, admin: EmulatorAdmin
) -> None:
    """The error names the field at fault, and nothing is put in force."""
    response = requests.post(f"{emulator.url}/_emulator/conditions", json=body, timeout=10)
    assert response.status_code == 400
    assert response.json()["key"] == key
    assert response.json()["error"].startswith(f"{key}: ")
    assert admin.conditions() == []


def test_a_condition_body_must_be_a_json_object(emulator: EmulatorProcess) -> None:
    """A list or broken JSON is a 400 like the other admin endpoints'."""
    url = f"{emulator.url}/_emulator/conditions"
    for data in (b"[]", b"{"):
        response = requests.post(url, data=data, timeout=10)
        assert response.status_code == 400
        assert "error" in response.json()
