"""The login syntax shared by `rtq api` and `rtq web`: bare tokens stay full access, `ro:` makes
one read-only, and errors name the variable without its value."""

from __future__ import annotations

import pytest

from worker.core.errors import SettingsError
from worker.core.logins import find, parse_basic_auth, parse_tokens


def test_a_bare_token_is_full_access_and_ro_is_read_only() -> None:
    """`a, ro:b, rw:c`: a and c full, b read-only; the prefix is not part of the token."""
    a, b, c = parse_tokens(" a-token , ro:b-token,rw:c-token,, ")
    assert (a.secret, a.read_only) == (b"a-token", False)
    assert (b.secret, b.read_only) == (b"b-token", True)
    assert (c.secret, c.read_only) == (b"c-token", False)
    assert [login.label for login in (a, b, c)] == ["token 1", "token 2 (read-only)", "token 3"]


def test_a_token_that_begins_with_a_prefix_is_written_with_rw() -> None:
    """`rw:ro:x` is the full-access token `ro:x`."""
    (login,) = parse_tokens("rw:ro:x")
    assert (login.secret, login.read_only) == (b"ro:x", False)


def test_basic_auth_logins_take_the_same_scope_prefix() -> None:
    """`alice:pw:with:colons,ro:bob:pw2`: a password may hold colons; bob is read-only."""
    alice, bob = parse_basic_auth("alice:pw:with:colons,ro:bob:pw2")
    assert (alice.secret, alice.read_only, alice.label) == (b"alice:pw:with:colons", False,
                                                             "alice")
    assert (bob.secret, bob.read_only, bob.label) == (b"bob:pw2", True, "bob (read-only)")


@pytest.mark.parametrize("text", ["alice", "alice:", ":pw", "ro:alice"])
def test_a_malformed_basic_auth_login_names_the_variable_not_the_value(text: str) -> None:
    """The error says which login is wrong and never echoes it."""
    with pytest.raises(SettingsError) as raised:
        parse_basic_auth(f"ok:fine,{text}")
    assert "RTQ_WEB_BASIC_AUTH: login 2 of 2" in str(raised.value)
    assert "alice" not in str(raised.value) and "pw" not in str(raised.value)


def test_an_empty_token_after_its_prefix_is_an_error() -> None:
    """`ro:` alone is a mistake, not an empty secret anyone could present."""
    with pytest.raises(SettingsError, match="RTQ_API_TOKENS: token 1 of 1 is empty"):
        parse_tokens("ro:")


def test_find_matches_only_logins_of_the_kind_asked() -> None:
    """A basic-auth pair presented as a bearer token (or the reverse) matches nothing."""
    logins = parse_tokens("tok,ro:other") + parse_basic_auth("u:p")
    assert find(b"other", logins, "token") == logins[1]
    assert find(b"tok", logins, "token") == logins[0]
    assert find(b"u:p", logins, "token") is None
    assert find(b"u:p", logins, "basic") == logins[2]
    assert find(b"", logins, "token") is None
    assert "other" not in repr(logins[1])
