"""The /_emulator/ admin API: call log, accounts, config, reset, and robustness."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from urllib.parse import urlsplit

import pytest
import requests

from fake_x import EmulatorAdmin, EmulatorAdminError, EmulatorProcess

from .xclient import XUser


def test_call_log_records_changes_and_filters(
    make_user: Callable[[], XUser], admin: EmulatorAdmin
) -> None:
    """Each call is logged with whether it changed state; filters narrow the log."""
    alice, bob = make_user(), make_user()
    alice.retweet("1")
    alice.retweet("1")
    alice.undo("1")
    bob.retweet("2")

    calls = admin.calls(user_id=alice.user_id)
    assert [(c["action"], c["tweet_id"], c["status"], c["changed"]) for c in calls] == [
        ("retweet", "1", 200, True),
        ("retweet", "1", 200, False),
        ("undo", "1", 200, True),
    ]
    assert calls[0]["method"] == "POST"
    assert calls[0]["path"] == f"/2/users/{alice.user_id}/retweets"
    assert calls[0]["time"].endswith("+00:00")
    assert calls[2]["rate_remaining"] == 49
    assert [c["user_id"] for c in admin.calls(tweet_id="2")] == [bob.user_id]
    assert admin.calls(since=calls[1]["seq"], user_id=alice.user_id) == calls[2:]

    admin.clear_calls()
    assert admin.calls() == []


def test_no_secret_appears_in_the_call_log_or_admin_output(
    user: XUser, admin: EmulatorAdmin, emulator: EmulatorProcess
) -> None:
    """Secrets, signatures and Authorization headers never come back out."""
    user.retweet("1")
    user.me(auth=user.auth(timestamp="1"))  # a failed call is logged too
    outputs = [
        json.dumps(admin.calls()),
        json.dumps(admin.accounts()),
        json.dumps(admin.config()),
        json.dumps(admin.state()),
        requests.get(f"{emulator.url}/_emulator/script", timeout=5).text,
    ]
    forbidden = [
        user.credentials["consumer_secret"],
        user.credentials["access_token_secret"],
        "oauth_signature",
        "oauth_nonce",
        "OAuth ",
    ]
    for output in outputs:
        for secret in forbidden:
            assert secret not in output


def test_accounts_can_be_registered_listed_and_revoked(admin: EmulatorAdmin) -> None:
    """Known credentials register; the listing has tokens but no secrets."""
    token = "1234567-abcDEF"
    admin.register_account("app-key", "app-secret", token, "user-secret", username="alice")
    listed = {a["user_id"]: a for a in admin.accounts()}
    assert listed["1234567"]["access_token"] == token
    assert listed["1234567"]["username"] == "alice"
    assert "access_token_secret" not in listed["1234567"]

    with pytest.raises(EmulatorAdminError, match="409"):
        admin.register_account("app-key", "other-secret", "7654321-x", "s")
    with pytest.raises(EmulatorAdminError, match="400"):
        admin.register_account("app-key", "app-secret", "not-a-user-token", "s")

    admin.revoke("1234567")
    assert "1234567" not in {a["user_id"] for a in admin.accounts()}


def test_new_accounts_look_like_x_credentials(admin: EmulatorAdmin) -> None:
    """Generated tokens are `<15-19 digit id>-<alphanumerics>` and ids are unique."""
    first, second = admin.new_account(), admin.new_account()
    user_id, _, rest = first["access_token"].partition("-")
    assert user_id == first["user_id"] and 15 <= len(user_id) <= 19 and user_id.isdigit()
    assert rest.isalnum()
    assert first["consumer_key"] == second["consumer_key"]
    assert first["user_id"] != second["user_id"]


def test_unknown_config_key_is_400_naming_it(admin: EmulatorAdmin) -> None:
    """A typo in a fault name fails loudly instead of silently doing nothing."""
    with pytest.raises(EmulatorAdminError, match="server_eror_rate"):
        admin.configure(server_eror_rate=0.5)
    with pytest.raises(EmulatorAdminError, match="hang_rate"):
        admin.configure(hang_rate=2)
    assert admin.config()["server_error_rate"] == 0.0


def test_reset_restores_start_up_state_and_keeps_accounts(
    user: XUser, admin: EmulatorAdmin
) -> None:
    """Reset clears state, calls, windows, scripts and config; accounts only on request."""
    admin.configure(rate_limit=1)
    admin.script([{"responses": [{"status": 200}, {"status": 503}]}])
    user.retweet("1")
    admin.reset()
    assert admin.config()["rate_limit"] == 50
    assert (admin.state(), admin.calls()) == ({}, [])
    assert user.retweet("2").status_code == 200  # window and script are gone
    admin.reset(accounts=True)
    assert admin.accounts() == []
    assert user.me().status_code == 401


def test_bad_admin_input_is_400(emulator: EmulatorProcess, admin: EmulatorAdmin) -> None:
    """Malformed admin requests are refused with a JSON error."""
    url = f"{emulator.url}/_emulator"
    for path, body in [
        ("config", b"{bad"),
        ("script", b'[{"responses": []}]'),
        ("state", b'{"user_id": "1"}'),
        ("clock", b'{"advance": -1}'),
    ]:
        response = requests.post(f"{url}/{path}", data=body, timeout=5)
        assert response.status_code == 400, path
        assert "error" in response.json()


def test_server_survives_garbage(emulator: EmulatorProcess, admin: EmulatorAdmin) -> None:
    """Broken HTTP, binary headers and unknown routes leave the server serving."""
    address = urlsplit(emulator.url)
    for garbage in (
        b"\x00\x01\x02 nonsense\r\n\r\n",
        b"GET /2/users/me HTTP/1.1\r\nHost: x\r\nAuthorization: \xff\xfe\r\n\r\n",
        b"POST /2/users/1/retweets HTTP/1.1\r\nContent-Length: 99\r\n\r\n{",
    ):
        with socket.create_connection((address.hostname, address.port), timeout=5) as sock:
            sock.sendall(garbage)
            sock.shutdown(socket.SHUT_WR)
            sock.recv(4096)
    assert admin.health()


def test_unknown_routes_are_404_and_logged(emulator: EmulatorProcess, admin: EmulatorAdmin) -> None:
    """Paths and methods X does not serve answer 404 and show up as action "other"."""
    for method, path in [("GET", "/no/such/route"), ("GET", "/2/users/1/retweets")]:
        response = requests.request(method, emulator.url + path, timeout=5)
        assert response.status_code == 404
        assert response.json()["status"] == 404
    assert [(c["action"], c["status"]) for c in admin.calls()] == [("other", 404)] * 2
    assert requests.get(f"{emulator.url}/_emulator/nope", timeout=5).status_code == 404
