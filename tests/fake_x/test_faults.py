"""Fault injection: scripted answers, random 5xx with a seed, latency and hangs."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from fake_x import EmulatorAdmin

from .xclient import XUser


def test_scripted_answers_are_consumed_in_order(user: XUser, admin: EmulatorAdmin) -> None:
    """503, then 429, then normal behaviour, then the default again."""
    admin.script(
        [
            {
                "user_id": user.user_id,
                "tweet_id": "1",
                "action": "retweet",
                "responses": [{"status": 503}, {"status": 429}, {"status": 200}],
            }
        ]
    )
    statuses = [user.retweet("1").status_code for _ in range(4)]
    assert statuses == [503, 429, 200, 200]
    assert admin.calls(user_id=user.user_id)[0]["changed"] is False
    assert [c["changed"] for c in admin.calls(user_id=user.user_id)] == [False, False, True, False]


def test_scripted_503_has_xs_body(user: XUser, admin: EmulatorAdmin) -> None:
    """Forced failures answer with the canonical problem body for their status."""
    admin.script([{"responses": [{"status": 503}]}])
    response = user.undo("1")
    assert response.status_code == 503
    assert response.json() == {
        "title": "Service Unavailable",
        "detail": "Service Unavailable",
        "type": "about:blank",
        "status": 503,
    }


def test_script_only_matches_its_filters(
    make_user: Callable[[], XUser], admin: EmulatorAdmin
) -> None:
    """Other users, other tweets, other actions and users/me pass through untouched."""
    alice, bob = make_user(), make_user()
    admin.script([{"user_id": alice.user_id, "tweet_id": "7", "responses": [{"status": 500}]}])
    assert bob.retweet("7").status_code == 200
    assert alice.retweet("8").status_code == 200
    assert alice.me().status_code == 200
    assert alice.undo("7").status_code == 500
    assert admin.calls(user_id=alice.user_id)[-1]["status"] == 500


def test_forged_request_is_401_and_leaves_the_script(user: XUser, admin: EmulatorAdmin) -> None:
    """Scripted failures apply only after the signature is verified."""
    admin.script([{"responses": [{"status": 503}]}])
    forged = XUser(user.base_url, {**user.credentials, "consumer_secret": "x"}, user.session)
    assert forged.retweet("1").status_code == 401
    assert user.retweet("1").status_code == 503


def test_server_error_rate_is_repeatable_with_a_seed(user: XUser, admin: EmulatorAdmin) -> None:
    """The same seed gives the same sequence of 5xx answers."""
    admin.configure(server_error_rate=0.5, server_error_status=502, seed=7, rate_limit=100)
    first = [user.me().status_code for _ in range(20)]
    admin.configure(seed=7)
    second = [user.me().status_code for _ in range(20)]
    assert first == second
    assert set(first) == {200, 502}


def test_latency_is_added(user: XUser, admin: EmulatorAdmin) -> None:
    """latency_ms delays every X API answer."""
    admin.configure(latency_ms=150)
    started = time.monotonic()
    assert user.me().status_code == 200
    assert time.monotonic() - started >= 0.15


def _wait_for_in_flight(admin: EmulatorAdmin, count: int) -> None:
    deadline = time.monotonic() + 5
    while admin.in_flight() < count:
        assert time.monotonic() < deadline, "the hung request never reached the emulator"


def test_a_hang_does_not_block_other_requests(
    make_user: Callable[[], XUser], admin: EmulatorAdmin
) -> None:
    """While one request is held for 1.5 s, another user's call is answered at once."""
    slow, fast = make_user(), make_user()
    admin.script(
        [
            {
                "user_id": slow.user_id,
                "tweet_id": "1",
                "responses": [{"status": 500, "hang_seconds": 1.5}],
            }
        ]
    )
    with ThreadPoolExecutor(max_workers=1) as pool:
        started = time.monotonic()
        hung = pool.submit(slow.retweet, "1")
        _wait_for_in_flight(admin, 1)
        assert fast.retweet("1").status_code == 200
        assert not hung.done()
        assert time.monotonic() - started < 1.5
        assert hung.result().status_code == 500
    assert time.monotonic() - started >= 1.5


def test_random_hangs_hold_the_answer(user: XUser, admin: EmulatorAdmin) -> None:
    """hang_rate 1 holds every call for hang_seconds, then answers normally."""
    admin.configure(hang_rate=1.0, hang_seconds=0.2)
    started = time.monotonic()
    assert user.retweet("1").status_code == 200
    assert time.monotonic() - started >= 0.2
