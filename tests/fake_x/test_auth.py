"""OAuth 1.0a verification: every way a request can fail to authenticate is a 401."""

from __future__ import annotations

import re
import time
from urllib.parse import urlsplit

import requests

from fake_x import EmulatorAdmin, EmulatorProcess

from .xclient import XUser

UNAUTHORIZED = {
    "title": "Unauthorized",
    "type": "about:blank",
    "status": 401,
    "detail": "Unauthorized",
}


def _assert_401(response: requests.Response) -> None:
    assert response.status_code == 401
    assert response.json() == UNAUTHORIZED
    assert "x-rate-limit-remaining" not in response.headers


def test_tampered_signature_is_401(user: XUser) -> None:
    """Changing one character of the signature fails verification."""
    prepared = user.prepare("GET", "/2/users/me")
    header = prepared.headers["Authorization"]
    header = header.decode() if isinstance(header, bytes) else header
    prepared.headers["Authorization"] = re.sub(
        r'oauth_signature="(.)', lambda m: f'oauth_signature="{"B" if m[1] == "A" else "A"}', header
    )
    _assert_401(user.send(prepared))


def test_request_signed_for_another_path_is_401(user: XUser) -> None:
    """The signature covers the path: moving a signed request elsewhere breaks it."""
    prepared = user.prepare("DELETE", f"/2/users/{user.user_id}/retweets/1")
    prepared.url = (prepared.url or "").replace("/retweets/1", "/retweets/2")
    _assert_401(user.send(prepared))


def test_replayed_nonce_is_401(user: XUser, admin: EmulatorAdmin) -> None:
    """The exact same signed request sent twice is accepted once."""
    prepared = user.prepare("POST", f"/2/users/{user.user_id}/retweets", json={"tweet_id": "3"})
    assert user.send(prepared).status_code == 200
    _assert_401(user.send(prepared))
    assert [c["status"] for c in admin.calls(user_id=user.user_id)] == [200, 401]


def test_stale_timestamp_is_401(user: XUser) -> None:
    """A timestamp more than 300 s from the server's clock is refused."""
    _assert_401(user.me(auth=user.auth(timestamp=str(int(time.time()) - 301))))
    _assert_401(user.me(auth=user.auth(timestamp=str(int(time.time()) + 400))))


def test_unknown_or_revoked_credentials_are_401(user: XUser, admin: EmulatorAdmin) -> None:
    """Unknown token, unknown consumer, wrong secret and a revoked account all fail."""
    creds = dict(user.credentials)
    variants = [
        {**creds, "access_token": "999-unknown"},
        {**creds, "consumer_key": "nobody"},
        {**creds, "access_token_secret": "wrong"},
    ]
    for variant in variants:
        _assert_401(XUser(user.base_url, variant, user.session).me())

    admin.revoke(user.user_id)
    _assert_401(user.me())


def test_missing_or_malformed_authorization_is_401(user: XUser) -> None:
    """No header, a Bearer token or garbage never authenticate."""
    url = f"{user.base_url}/2/users/me"
    _assert_401(user.session.get(url))
    _assert_401(user.session.get(url, headers={"Authorization": "Bearer AAAA"}))
    _assert_401(user.session.get(url, headers={"Authorization": 'OAuth x="1" y'}))


def test_unauthenticated_calls_do_not_use_the_rate_window(
    user: XUser, admin: EmulatorAdmin
) -> None:
    """401s never counted: the first good call still sees limit - 1 remaining."""
    admin.configure(rate_limit=2)
    for _ in range(3):
        _assert_401(user.me(auth=user.auth(timestamp="1")))
    assert user.me().headers["x-rate-limit-remaining"] == "1"


def _send_as_host(user: XUser, emulator: EmulatorProcess, signed_base: str, host: str) -> int:
    """Sign for `signed_base` (as the client would address X) but deliver to the emulator."""
    prepared = user.session.prepare_request(
        requests.Request("GET", f"{signed_base}/2/users/me", auth=user.auth())
    )
    prepared.url = f"{emulator.url}/2/users/me"
    prepared.headers["Host"] = host
    return user.send(prepared).status_code


def test_both_x_hosts_verify_against_the_host_header(
    user: XUser, emulator: EmulatorProcess
) -> None:
    """Requests signed for api.x.com or api.twitter.com verify when the Host header says so."""
    port = urlsplit(emulator.url).port
    assert _send_as_host(user, emulator, f"http://api.x.com:{port}", f"api.x.com:{port}") == 200
    assert _send_as_host(user, emulator, "http://api.twitter.com", "api.twitter.com") == 200
    # Default port dropped and host lower-cased, as RFC 5849 normalises them.
    assert _send_as_host(user, emulator, "http://api.x.com", "API.X.COM:80") == 200
    # The signature really depends on the Host header.
    assert _send_as_host(user, emulator, "http://api.x.com", "api.twitter.com") == 401


def test_form_encoded_parameters_are_signed(user: XUser) -> None:
    """Form bodies enter the signature: a valid form-signed request authenticates (then 400s)."""
    prepared = user.prepare("POST", f"/2/users/{user.user_id}/retweets", data={"tweet_id": "1"})
    response = user.send(prepared)
    assert response.status_code == 400  # authenticated, but the body is not JSON
    assert response.headers["x-rate-limit-remaining"]
