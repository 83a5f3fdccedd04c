"""OAuth 2.0 Authorization Code with PKCE over real HTTP: authorize, exchange, refresh, bearer."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import pytest
import requests

from fake_x import EmulatorAdmin, EmulatorAdminError, EmulatorConfig, EmulatorProcess
from fake_x.config import ConfigError, merge_config
from fake_x.oauth2 import Grant, OAuth2Registry, User
from fake_x.oauth2_rules import OAuth2Error, challenge_method, pkce_matches
from fake_x.script import Script, parse_rule

from .oauth2flow import REDIRECT_URI, Bearer, OAuth2App, pkce_pair, query_of
from .xclient import XUser

UNAUTHORIZED = {
    "title": "Unauthorized",
    "type": "about:blank",
    "status": 401,
    "detail": "Unauthorized",
}
FORBIDDEN = {"title": "Forbidden", "type": "about:blank", "status": 403, "detail": "Forbidden"}
USED_REFRESH = {
    "error": "invalid_request",
    "error_description": "Value passed for the token was invalid.",
}
INVALID_CODE = "Value passed for the authorization code was invalid."


@pytest.fixture
def make_app(
    emulator: EmulatorProcess, admin: EmulatorAdmin, http: requests.Session
) -> Callable[..., OAuth2App]:
    def make(confidential: bool = False) -> OAuth2App:
        client = admin.oauth2_client(confidential=confidential)
        return OAuth2App(emulator.url, http, client["client_id"], client.get("client_secret"))

    return make


@pytest.fixture
def app(make_app: Callable[..., OAuth2App]) -> OAuth2App:
    return make_app()


@pytest.fixture
def bearer(emulator: EmulatorProcess, http: requests.Session) -> Callable[[str], Bearer]:
    return lambda access_token: Bearer(emulator.url, http, access_token)


def _user_id(bearer: Bearer) -> str:
    response = bearer.me()
    assert response.status_code == 200, response.text
    user_id: str = response.json()["data"]["id"]
    return user_id


def test_full_pkce_flow_then_retweet_with_the_bearer_token(
    app: OAuth2App, admin: EmulatorAdmin, bearer: Callable[[str], Bearer]
) -> None:
    """authorize -> 302 to the callback with state and code -> token -> retweet and undo."""
    verifier, challenge = pkce_pair()
    response = app.authorize(challenge, state="xyz 42")
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith(REDIRECT_URI + "?state=")
    params = query_of(location)
    assert params["state"] == "xyz 42" and params["code"]

    response = app.exchange(params["code"], verifier)
    assert response.status_code == 200, response.text
    tokens = response.json()
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.headers["Cache-Control"] == "no-store"
    assert list(tokens) == ["token_type", "expires_in", "access_token", "scope", "refresh_token"]
    assert (tokens["token_type"], tokens["expires_in"]) == ("bearer", 7200)
    assert tokens["scope"] == "tweet.read users.read tweet.write offline.access"
    assert tokens["access_token"] != tokens["refresh_token"]

    x = bearer(tokens["access_token"])
    user_id = _user_id(x)
    assert user_id in {a["user_id"] for a in admin.accounts()}  # registered like new_account
    response = x.retweet(user_id, "1460323737035677698")
    assert (response.status_code, response.json()) == (200, {"data": {"retweeted": True}})
    assert response.headers["x-rate-limit-remaining"] == "49"
    assert admin.state(user_id) == {user_id: ["1460323737035677698"]}
    assert x.undo(user_id, "1460323737035677698").json() == {"data": {"retweeted": False}}

    calls = admin.calls(user_id=user_id)
    assert [(c["action"], c["status"], c["auth"], c["grant_type"]) for c in calls] == [
        ("authorize", 302, None, None),
        ("token", 200, None, "authorization_code"),
        ("me", 200, "oauth2", None),
        ("retweet", 200, "oauth2", None),
        ("undo", 200, "oauth2", None),
    ]


def test_bearer_and_oauth1_are_the_same_user_and_share_rate_windows(
    user: XUser, app: OAuth2App, admin: EmulatorAdmin, bearer: Callable[[str], Bearer]
) -> None:
    """x_user_id approves as an existing OAuth 1.0a user: same id, profile, state and window."""
    x = bearer(app.login(x_user_id=user.user_id)["access_token"])
    assert x.me().json()["data"] == user.me().json()["data"]
    admin.configure(rate_limit=2)
    assert user.retweet("1").status_code == 200
    assert x.retweet(user.user_id, "2").status_code == 200
    assert x.retweet(user.user_id, "3").status_code == 429
    assert admin.state(user.user_id) == {user.user_id: ["1", "2"]}

    other = bearer(app.login(x_user_id="4242")["access_token"])  # a new id is registered
    assert _user_id(other) == "4242"
    assert "4242" in {a["user_id"] for a in admin.accounts()}


def test_path_id_of_another_user_is_forbidden_with_a_bearer_token(
    user: XUser, app: OAuth2App, bearer: Callable[[str], Bearer]
) -> None:
    x = bearer(app.login()["access_token"])
    response = x.retweet(user.user_id, "1")
    assert response.status_code == 403
    assert user.user_id in response.json()["detail"]


def test_wrong_verifier_is_refused_and_does_not_spend_the_code(app: OAuth2App) -> None:
    code, verifier = app.code()
    response = app.exchange(code, verifier + "x")
    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_request",
        "error_description": "Value passed for the code verifier did not match the code challenge.",
    }
    assert app.exchange(code, verifier).status_code == 200


def test_codes_are_single_use_short_lived_and_bound(
    make_app: Callable[..., OAuth2App], admin: EmulatorAdmin
) -> None:
    """Reuse, expiry (10 minutes), another client or another redirect_uri: all refused."""
    app, other = make_app(), make_app()
    code, verifier = app.code()
    assert app.exchange(code, verifier).status_code == 200
    reused = app.exchange(code, verifier)
    assert (reused.status_code, reused.json()["error_description"]) == (400, INVALID_CODE)

    code, verifier = app.code()
    assert other.exchange(code, verifier).json()["error_description"] == INVALID_CODE
    response = app.token(
        grant_type="authorization_code",
        code=code,
        redirect_uri=REDIRECT_URI + "/elsewhere",
        code_verifier=verifier,
    )
    assert (response.status_code, response.json()["error"]) == (400, "invalid_request")
    admin.advance_clock(600)
    assert app.exchange(code, verifier).json()["error_description"] == INVALID_CODE


def test_plain_and_lowercase_s256_challenges(app: OAuth2App) -> None:
    """`plain` compares the verifier itself; X's own SDK sends `s256` in lower case."""
    response = app.authorize("just-a-plain-challenge", code_challenge_method="plain")
    code = query_of(response.headers["Location"])["code"]
    assert app.exchange(code, "just-a-plain-challenge").status_code == 200
    verifier, challenge = pkce_pair()
    response = app.authorize(challenge, code_challenge_method="s256")
    assert app.exchange(query_of(response.headers["Location"])["code"], verifier).ok


def test_access_tokens_expire_on_the_emulator_clock(
    app: OAuth2App, admin: EmulatorAdmin, bearer: Callable[[str], Bearer]
) -> None:
    """oauth2_access_ttl sets expires_in; moving the clock past it makes the token a 401."""
    admin.configure(oauth2_access_ttl=5)
    tokens = app.login()
    assert tokens["expires_in"] == 5
    x = bearer(tokens["access_token"])
    user_id = _user_id(x)
    admin.advance_clock(4)
    assert x.retweet(user_id, "1").status_code == 200
    admin.advance_clock(1)
    for response in (x.retweet(user_id, "2"), x.undo(user_id, "1"), x.me()):
        assert (response.status_code, response.json()) == (401, UNAUTHORIZED)
    assert admin.calls(user_id=user_id)[-1]["auth"] is None  # unauthenticated, filed by path id


def test_refresh_rotates_the_pair_and_kills_the_old_refresh_token(
    app: OAuth2App, admin: EmulatorAdmin, bearer: Callable[[str], Bearer]
) -> None:
    """Each refresh returns a new access AND refresh token; the old refresh token is dead, the
    old access token lives until it expires."""
    admin.configure(oauth2_access_ttl=60)
    first = app.login()
    user_id = _user_id(bearer(first["access_token"]))
    admin.advance_clock(30)
    response = app.refresh(first["refresh_token"])
    assert response.status_code == 200, response.text
    second = response.json()
    assert second["access_token"] != first["access_token"]
    assert second["refresh_token"] != first["refresh_token"]
    assert second["expires_in"] == 60

    reused = app.refresh(first["refresh_token"])
    assert (reused.status_code, reused.json()) == (400, USED_REFRESH)
    assert bearer(first["access_token"]).retweet(user_id, "1").status_code == 200
    admin.advance_clock(30)
    assert bearer(first["access_token"]).me().status_code == 401
    assert bearer(second["access_token"]).me().status_code == 200
    assert app.refresh(second["refresh_token"]).status_code == 200
    assert [(c["grant_type"], c["status"], c["user_id"]) for c in admin.token_calls()] == [
        ("authorization_code", 200, user_id),
        ("refresh_token", 200, user_id),
        ("refresh_token", 400, None),
        ("refresh_token", 200, user_id),
    ]


def test_confidential_client_authenticates_with_basic_auth(
    make_app: Callable[..., OAuth2App], http: requests.Session, bearer: Callable[[str], Bearer]
) -> None:
    app = make_app(confidential=True)
    assert app.client_secret
    tokens = app.login()
    assert _user_id(bearer(tokens["access_token"]))
    assert app.refresh(tokens["refresh_token"]).status_code == 200

    code, verifier = app.code()
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "code_verifier": verifier,
        "client_id": app.client_id,
    }
    url = f"{app.base_url}/2/oauth2/token"
    response = http.post(url, data=form, timeout=10)  # no Basic header
    assert response.status_code == 401
    assert response.json() == {
        "error": "unauthorized_client",
        "error_description": "Missing valid authorization header",
    }
    response = http.post(url, data=form, auth=(app.client_id, "wrong"), timeout=10)
    assert (response.status_code, response.json()["error"]) == (401, "invalid_client")
    assert response.headers["WWW-Authenticate"].startswith("Basic")
    del form["client_id"]  # with Basic auth the body need not repeat it
    assert http.post(url, data=form, auth=(app.client_id, app.client_secret), timeout=10).ok


def test_scopes_decide_refresh_tokens_and_endpoints(
    app: OAuth2App, bearer: Callable[[str], Bearer]
) -> None:
    """No offline.access: no refresh token. No tweet.write: 403 on writes; users/me needs
    tweet.read as well as users.read, as on X."""
    tokens = app.login(scope="tweet.read users.read")
    assert "refresh_token" not in tokens
    assert tokens["scope"] == "tweet.read users.read"
    x = bearer(tokens["access_token"])
    user_id = _user_id(x)
    for response in (x.retweet(user_id, "1"), x.undo(user_id, "1")):
        assert (response.status_code, response.json()) == (403, FORBIDDEN)
    only_users = bearer(app.login(scope="users.read")["access_token"])
    assert only_users.me().status_code == 403


def test_revoke_kills_access_and_refresh_tokens(
    app: OAuth2App, admin: EmulatorAdmin, bearer: Callable[[str], Bearer]
) -> None:
    tokens = app.login()
    x = bearer(tokens["access_token"])
    user_id = _user_id(x)
    assert admin.oauth2_revoke(user_id) == 2
    assert (x.me().status_code, x.me().json()) == (401, UNAUTHORIZED)
    response = app.refresh(tokens["refresh_token"])
    assert (response.status_code, response.json()) == (400, USED_REFRESH)
    assert admin.oauth2_revoke(user_id) == 0
    # Reset keeps OAuth 2.0 credentials, like accounts; reset(accounts=True) drops them.
    tokens = app.login(x_user_id=user_id)
    admin.reset()
    assert bearer(tokens["access_token"]).me().status_code == 200
    admin.reset(accounts=True)
    assert bearer(tokens["access_token"]).me().status_code == 401
    assert admin.oauth2_clients() == []


def test_call_log_and_admin_output_hold_no_oauth2_secrets(
    make_app: Callable[..., OAuth2App], admin: EmulatorAdmin, bearer: Callable[[str], Bearer]
) -> None:
    app = make_app(confidential=True)
    verifier, challenge = pkce_pair()
    code = query_of(app.authorize(challenge, state="s3cret-state").headers["Location"])["code"]
    app.exchange(code + "x", verifier)
    tokens = app.exchange(code, verifier).json()
    bearer(tokens["access_token"]).me()
    refreshed = app.refresh(tokens["refresh_token"]).json()
    app.refresh(tokens["refresh_token"])
    outputs = json.dumps([admin.calls(), admin.accounts(), admin.oauth2_clients(), admin.config()])
    assert app.client_secret
    for value in (
        code,
        verifier,
        challenge,
        "s3cret-state",
        app.client_secret,
        tokens["access_token"],
        tokens["refresh_token"],
        refreshed["access_token"],
        refreshed["refresh_token"],
    ):
        assert value not in outputs
    assert [c["status"] for c in admin.token_calls()] == [400, 200, 200, 400]


def test_authorize_errors_are_pages_or_redirects(
    app: OAuth2App, admin: EmulatorAdmin, emulator: EmulatorProcess, http: requests.Session
) -> None:
    """Unknown client or missing parameters: a 400 page, never a redirect. A bad scope or a
    denial goes back to the client with the state."""
    _, challenge = pkce_pair()
    unknown = OAuth2App(emulator.url, http, "no-such-client").authorize(challenge)
    assert unknown.status_code == 400 and "Location" not in unknown.headers
    assert unknown.json()["error"] == "invalid_request"
    missing = app.authorize("")
    assert missing.status_code == 400
    assert "code_challenge" in missing.json()["error_description"]
    assert app.authorize(challenge, state="x" * 501).status_code == 400

    bad_scope = app.authorize(challenge, scope="tweet.read retweet.everything", state="s1")
    assert bad_scope.status_code == 302
    assert query_of(bad_scope.headers["Location"]) == {"error": "invalid_scope", "state": "s1"}
    denied = app.authorize(challenge, x_deny="1", state="s2")
    assert query_of(denied.headers["Location"]) == {"error": "access_denied", "state": "s2"}

    strict = admin.oauth2_client(redirect_uris=["https://rtq.example/cb"])
    strict_app = OAuth2App(emulator.url, http, strict["client_id"])
    assert strict_app.authorize(challenge).status_code == 400
    strict_app.redirect_uri = "https://rtq.example/cb"
    assert strict_app.authorize(challenge).status_code == 302
    assert {c["status"] for c in admin.calls(action="authorize")} == {302, 400}


def test_token_endpoint_errors(app: OAuth2App, emulator: EmulatorProcess) -> None:
    """OAuth JSON errors: missing parameters, unknown grant types, unknown clients, bad bodies."""
    cases = [
        (app.token(grant_type="password"), 400, "unsupported_grant_type"),
        (app.token(grant_type="authorization_code"), 400, "invalid_request"),
        (app.token(grant_type="refresh_token", refresh_token="nope"), 400, "invalid_request"),
        (app.token(), 400, "invalid_request"),
    ]
    stranger = OAuth2App(app.base_url, app.session, "no-such-client")
    cases.append(
        (stranger.token(grant_type="refresh_token", refresh_token="x"), 401, "invalid_client")
    )
    as_json = requests.post(
        f"{emulator.url}/2/oauth2/token",
        json={"grant_type": "refresh_token", "client_id": app.client_id},
        timeout=10,
    )
    cases.append((as_json, 400, "invalid_request"))
    for response, status, error in cases:
        assert (response.status_code, response.json()["error"]) == (status, error), response.text
        assert set(response.json()) == {"error", "error_description"}


def test_client_registration(admin: EmulatorAdmin) -> None:
    """Generated public and confidential clients, exact values, and conflicts."""
    public = admin.oauth2_client()
    assert set(public) == {"client_id", "confidential"} and public["confidential"] is False
    confidential = admin.oauth2_client(confidential=True)
    assert len(confidential["client_secret"]) == 50
    given = admin.oauth2_client(client_id="rtq-client", client_secret="rtq-secret")
    assert (given["client_id"], given["client_secret"]) == ("rtq-client", "rtq-secret")
    assert admin.oauth2_client(client_id="rtq-client", client_secret="rtq-secret") == given
    with pytest.raises(EmulatorAdminError, match="409"):
        admin.oauth2_client(client_id="rtq-client", client_secret="other")
    listed = {c["client_id"]: c for c in admin.oauth2_clients()}
    assert listed["rtq-client"]["confidential"] is True
    assert "rtq-secret" not in json.dumps(listed)


def _wait_for_token_call(admin: EmulatorAdmin, since: int) -> dict[str, object]:
    deadline = time.monotonic() + 5
    while not (calls := admin.token_calls(since=since)):
        assert time.monotonic() < deadline, "the token call never reached the emulator"
    return calls[0]


def test_a_refresh_answer_lost_to_a_timeout_has_still_rotated_the_pair(
    app: OAuth2App, admin: EmulatorAdmin
) -> None:
    """A scripted 5xx spends nothing; a scripted hang answers after the new pair is issued, so
    a client that gives up has lost it and its old refresh token is dead."""
    tokens = app.login()
    admin.script([{"action": "token", "responses": [{"status": 503}]}])
    assert app.refresh(tokens["refresh_token"]).status_code == 503
    response = app.refresh(tokens["refresh_token"])
    assert response.status_code == 200
    tokens = response.json()

    admin.script([{"action": "token", "responses": [{"status": 200, "hang_seconds": 0.5}]}])
    seq = admin.calls()[-1]["seq"]
    with pytest.raises(requests.Timeout):
        app.refresh(tokens["refresh_token"], timeout=0.1)
    assert _wait_for_token_call(admin, seq)["status"] == 200
    response = app.refresh(tokens["refresh_token"])
    assert (response.status_code, response.json()) == (400, USED_REFRESH)
    deadline = time.monotonic() + 5
    while admin.in_flight():  # let the held answer go before the next test
        assert time.monotonic() < deadline


def test_pkce_s256_matches_the_rfc_7636_example() -> None:
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    assert pkce_matches(verifier, challenge, "S256")
    assert not pkce_matches(challenge, challenge, "S256")
    assert pkce_matches(challenge, challenge, "plain")
    assert (challenge_method("s256"), challenge_method("PLAIN"), challenge_method("S512")) == (
        "S256",
        "plain",
        None,
    )


def test_two_refreshes_with_one_token_get_one_pair() -> None:
    """Check and spend happen without an await between them: the second check fails."""
    registry = OAuth2Registry()
    client = registry.register_client()
    grant = Grant(client.client_id, User("1", "One", "one"), ("tweet.read", "offline.access"))
    code = registry.issue_code(grant, REDIRECT_URI, "c", "plain", now=0.0, ttl=30)
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI}
    tokens = registry.redeem(registry.check(client, {**form, "code_verifier": "c"}, 1.0), 1.0, 10)
    refresh = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    checked = registry.check(client, refresh, 2.0)
    registry.redeem(checked, 2.0, 10)
    with pytest.raises(OAuth2Error, match="token was invalid"):
        registry.check(client, refresh, 2.0)
    assert registry.bearer(tokens["access_token"], 10.9) == grant
    assert registry.bearer(tokens["access_token"], 11.0) is None


def test_oauth2_config_and_script_validation() -> None:
    """TTLs are whole seconds >= 1; a rule without an action never eats a token call."""
    assert merge_config(EmulatorConfig(), {"oauth2_access_ttl": 5}).oauth2_access_ttl == 5
    for bad in (0, True, 1.5, "5"):
        with pytest.raises(ConfigError):
            merge_config(EmulatorConfig(), {"oauth2_access_ttl": bad})
    script = Script()
    script.extend([parse_rule({"responses": [{"status": 503}]})])
    assert script.take("1", None, "token") is None
    script.extend([parse_rule({"action": "token", "responses": [{"status": 503}]})])
    taken = script.take("1", None, "token")
    assert taken is not None and taken.status == 503
