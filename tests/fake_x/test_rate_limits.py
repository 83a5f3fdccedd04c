"""Rate limits: fixed windows per user and endpoint, headers on every answer, 24-hour caps."""

from __future__ import annotations

from collections.abc import Callable

from fake_x import EmulatorAdmin

from .xclient import XUser

TOO_MANY = {
    "title": "Too Many Requests",
    "detail": "Too Many Requests",
    "type": "about:blank",
    "status": 429,
}


def test_call_over_the_limit_is_429_until_the_window_ends(
    user: XUser, admin: EmulatorAdmin
) -> None:
    """Given a limit of 3, the 4th call is 429 with remaining 0; past the reset it works again."""
    admin.configure(rate_limit=3, rate_window=900)
    now = admin.now()
    remaining = [user.retweet(str(n)).headers["x-rate-limit-remaining"] for n in range(3)]
    assert remaining == ["2", "1", "0"]

    response = user.retweet("4")
    assert response.status_code == 429
    assert response.json() == TOO_MANY
    assert response.headers["x-rate-limit-limit"] == "3"
    assert response.headers["x-rate-limit-remaining"] == "0"
    reset = int(response.headers["x-rate-limit-reset"])
    assert now + 899 <= reset <= now + 902
    assert admin.state(user.user_id) == {user.user_id: ["0", "1", "2"]}

    admin.advance_clock(reset - now + 1)
    response = user.retweet("4")
    assert response.status_code == 200
    assert response.headers["x-rate-limit-remaining"] == "2"
    assert int(response.headers["x-rate-limit-reset"]) > reset


def test_retweet_undo_and_me_have_separate_buckets(user: XUser, admin: EmulatorAdmin) -> None:
    """Exhausting POST retweets leaves DELETE and users/me untouched."""
    admin.configure(rate_limit=1)
    assert user.retweet("1").status_code == 200
    assert user.retweet("2").status_code == 429
    undo = user.undo("1")
    assert (undo.status_code, undo.headers["x-rate-limit-remaining"]) == (200, "0")
    assert user.me().status_code == 200
    assert user.undo("1").status_code == 429


def test_limits_are_per_user_and_configurable_per_user(
    make_user: Callable[[], XUser], admin: EmulatorAdmin
) -> None:
    """One user's override does not affect another, who keeps the global limit."""
    basic, pro = make_user(), make_user()
    admin.configure(rate_limit=50, user_rate_limits={basic.user_id: 1})
    assert basic.retweet("1").headers["x-rate-limit-limit"] == "1"
    assert basic.retweet("2").status_code == 429
    response = pro.retweet("1")
    assert (response.status_code, response.headers["x-rate-limit-limit"]) == (200, "50")


def test_every_authenticated_answer_carries_rate_headers(user: XUser, admin: EmulatorAdmin) -> None:
    """Errors after authentication (400, 403, 404) still report the window."""
    admin.configure(missing_tweets=["8"])
    for response in (user.retweet("x"), user.retweet("1", user_id="2"), user.retweet("8")):
        assert response.status_code in (400, 403, 404)
        assert {"x-rate-limit-limit", "x-rate-limit-remaining", "x-rate-limit-reset"} <= set(
            h.lower() for h in response.headers
        )


def test_24_hour_user_limit_when_configured(user: XUser, admin: EmulatorAdmin) -> None:
    """With a daily cap of 2 over retweets and undos, the third write is 429 with its headers."""
    assert "x-user-limit-24hour-limit" not in user.retweet("1").headers
    admin.configure(user_limit_24h=2)
    first = user.retweet("2")
    assert first.headers["x-user-limit-24hour-limit"] == "2"
    assert first.headers["x-user-limit-24hour-remaining"] == "1"
    assert user.undo("2").headers["x-user-limit-24hour-remaining"] == "0"

    response = user.retweet("3")
    assert response.status_code == 429
    assert response.headers["x-user-limit-24hour-remaining"] == "0"
    assert int(response.headers["x-rate-limit-remaining"]) > 0  # the 15-minute window is fine
    assert user.me().status_code == 200  # reads are not capped

    admin.advance_clock(86_401)
    assert user.retweet("3").status_code == 200


def test_scripted_429_reports_the_window_end(user: XUser, admin: EmulatorAdmin) -> None:
    """A forced 429 carries remaining 0 and the real window's reset."""
    first = user.retweet("1")
    admin.script([{"user_id": user.user_id, "responses": [{"status": 429}]}])
    response = user.retweet("2")
    assert response.status_code == 429
    assert response.json() == TOO_MANY
    assert response.headers["x-rate-limit-remaining"] == "0"
    assert response.headers["x-rate-limit-reset"] == first.headers["x-rate-limit-reset"]
