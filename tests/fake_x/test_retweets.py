"""Manage Retweets and users/me over real HTTP: answers, bodies and state."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from fake_x import EmulatorAdmin

from .xclient import XUser

PROBLEM = "application/problem+json"
INVALID_REQUEST = "https://api.twitter.com/2/problems/invalid-request"


def test_retweet_then_undo_round_trip_changes_state(user: XUser, admin: EmulatorAdmin) -> None:
    """Given a user, retweeting then undoing shows up in the emulator's state each time."""
    response = user.retweet("1460323737035677698")
    assert (response.status_code, response.json()) == (200, {"data": {"retweeted": True}})
    assert admin.state(user.user_id) == {user.user_id: ["1460323737035677698"]}

    response = user.undo("1460323737035677698")
    assert (response.status_code, response.json()) == (200, {"data": {"retweeted": False}})
    assert admin.state(user.user_id) == {user.user_id: []}


def test_undo_without_a_retweet_is_a_quiet_success(user: XUser, admin: EmulatorAdmin) -> None:
    """Undo is idempotent: nothing to undo is still 200 and changes nothing."""
    response = user.undo("42")
    assert (response.status_code, response.json()) == (200, {"data": {"retweeted": False}})
    assert admin.calls(user_id=user.user_id)[-1]["changed"] is False


def test_users_me_names_the_token_owner(user: XUser) -> None:
    """GET /2/users/me answers with the id taken from the access token."""
    response = user.me()
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["id"] == user.user_id == user.credentials["access_token"].split("-")[0]
    assert data["username"] and data["name"]


def test_state_set_outside_rtq_is_seen_by_the_api(user: XUser, admin: EmulatorAdmin) -> None:
    """A retweet made "on X" via the admin API is undone by the client like any other."""
    admin.set_state(user.user_id, "7", retweeted=True)
    assert admin.state(user.user_id) == {user.user_id: ["7"]}
    user.undo("7")
    assert admin.state(user.user_id) == {user.user_id: []}


def test_path_id_of_another_user_is_forbidden(make_user: Callable[[], XUser]) -> None:
    """Signing as one user while addressing another's retweets is a 403 with a clear detail."""
    alice, bob = make_user(), make_user()
    response = alice.retweet("1", user_id=bob.user_id)
    assert response.status_code == 403
    assert response.headers["Content-Type"].startswith(PROBLEM)
    assert bob.user_id in response.json()["detail"]


def test_non_digit_tweet_id_is_400_with_xs_body(user: XUser) -> None:
    """X's invalid-request body names the parameter and echoes the bad value."""
    response = user.retweet("abc")
    assert response.status_code == 400
    assert response.headers["Content-Type"].startswith(PROBLEM)
    assert response.json() == {
        "errors": [
            {
                "parameters": {"tweet_id": ["abc"]},
                "message": "The `tweet_id` query parameter value [abc] is not valid",
            }
        ],
        "title": "Invalid Request",
        "detail": "One or more parameters to your request was invalid.",
        "type": INVALID_REQUEST,
    }


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"tweet_id": "1", "user_id": "2"}', "$.user_id: is not defined in the schema"),
        (b"{}", "$.tweet_id: is missing but it is required"),
        (b'{"tweet_id": 1}', "$.tweet_id: integer found, string expected"),
        (b'["1"]', "$: array found, object expected"),
        (b"{not json", "Request body is not valid JSON"),
        (b'{"tweet_id": "12345678901234567890"}', "The `tweet_id` query parameter value"),
    ],
)
def test_malformed_retweet_bodies_are_400(user: XUser, body: bytes, message: str) -> None:
    """Only exactly {"tweet_id": "<1-19 digits>"} is accepted."""
    response = user.post_raw(body)
    assert response.status_code == 400
    problem = response.json()
    assert problem["type"] == INVALID_REQUEST
    assert problem["errors"][0]["message"].startswith(message)


def test_non_digit_source_tweet_id_is_400(user: XUser) -> None:
    """The undo path's tweet id is validated like the body's."""
    response = user.undo("12a")
    assert response.status_code == 400
    assert response.json()["errors"][0]["parameters"] == {"source_tweet_id": ["12a"]}


def test_missing_tweet_is_404(user: XUser, admin: EmulatorAdmin) -> None:
    """A deleted or unknown tweet answers resource-not-found, for retweet and undo."""
    admin.configure(missing_tweets=["404"])
    for response in (user.retweet("404"), user.undo("404")):
        assert response.status_code == 404
        problem = response.json()
        assert problem["type"] == "https://api.twitter.com/2/problems/resource-not-found"
        assert problem["value"] == "404"
    assert admin.state(user.user_id) == {user.user_id: []}


def test_protected_tweet_is_403(user: XUser, admin: EmulatorAdmin) -> None:
    """A protected author's tweet cannot be retweeted."""
    admin.configure(protected_tweets=["5"])
    response = user.retweet("5")
    assert response.status_code == 403
    assert response.json()["title"] == "Forbidden"
    assert admin.state(user.user_id) == {user.user_id: []}


@pytest.mark.parametrize(
    ("mode", "status", "body"),
    [
        ("200", 200, {"data": {"retweeted": True}}),
        (
            "403",
            403,
            {
                "title": "Forbidden",
                "detail": "You have already retweeted this Tweet.",
                "type": "about:blank",
                "status": 403,
            },
        ),
        (
            "legacy327",
            403,
            {"errors": [{"code": 327, "message": "You have already retweeted this Tweet."}]},
        ),
    ],
)
def test_already_retweeted_variants(
    user: XUser, admin: EmulatorAdmin, mode: str, status: int, body: object
) -> None:
    """Retweeting twice answers as configured and leaves the state retweeted."""
    admin.configure(already_retweeted=mode)
    assert user.retweet("9").status_code == 200
    response = user.retweet("9")
    assert (response.status_code, response.json()) == (status, body)
    assert admin.state(user.user_id) == {user.user_id: ["9"]}
    assert admin.calls(user_id=user.user_id)[-1]["changed"] is False


def test_read_only_app_gets_oauth1_permissions(user: XUser, admin: EmulatorAdmin) -> None:
    """A read-only consumer can read users/me but not retweet."""
    admin.configure(read_only_consumers=[user.credentials["consumer_key"]])
    assert user.me().status_code == 200
    response = user.retweet("1")
    assert response.status_code == 403
    problem = response.json()
    assert problem["type"] == "https://api.twitter.com/2/problems/oauth1-permissions"
    assert "permissions" in problem["detail"]
