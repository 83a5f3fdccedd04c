"""Who may use rtq's HTTP surfaces (`rtq api`, `rtq web`), and with what scope.

    RTQ_API_TOKENS       comma-separated bearer tokens; each is `TOKEN` (full access),
                         `rw:TOKEN` (the same, spelt out) or `ro:TOKEN` (read-only)
    RTQ_WEB_BASIC_AUTH   comma-separated `user:password` logins for the console, each
                         optionally `ro:user:password` (read-only)

A bare token keeps meaning full access, so existing deployments change nothing; a token that
itself begins with `ro:` or `rw:` is written `rw:ro:...`. Read-only logins see everything the
surface shows and change nothing. Errors name the variable and the entry's position, never a
value.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from worker.core.errors import SettingsError

TOKENS_VARIABLE = "RTQ_API_TOKENS"
BASIC_AUTH_VARIABLE = "RTQ_WEB_BASIC_AUTH"
READ_ONLY_PREFIX = "ro:"
FULL_PREFIX = "rw:"


@dataclass(frozen=True)
class Login:
    """One accepted secret: a bearer token, or a basic-auth `user:password` pair. `label` names
    it for people (the user, or the token's position) without saying anything of the secret."""

    secret: bytes = field(repr=False)
    read_only: bool
    label: str
    kind: str  # "token" or "basic"


def _split_scope(entry: str) -> tuple[str, bool]:
    if entry.startswith(READ_ONLY_PREFIX):
        return entry[len(READ_ONLY_PREFIX):], True
    if entry.startswith(FULL_PREFIX):
        return entry[len(FULL_PREFIX):], False
    return entry, False


def parse_tokens(text: str, variable: str = TOKENS_VARIABLE) -> tuple[Login, ...]:
    """The bearer tokens of `text` (RTQ_API_TOKENS' syntax)."""
    logins = []
    entries = [entry.strip() for entry in text.split(",") if entry.strip()]
    for position, entry in enumerate(entries, 1):
        token, read_only = _split_scope(entry)
        if not token:
            raise SettingsError(f"{variable}: token {position} of {len(entries)} is empty "
                                "after its scope prefix")
        scope = " (read-only)" if read_only else ""
        logins.append(Login(token.encode(), read_only, f"token {position}{scope}", "token"))
    return tuple(logins)


def parse_basic_auth(text: str, variable: str = BASIC_AUTH_VARIABLE) -> tuple[Login, ...]:
    """The `user:password` logins of `text` (RTQ_WEB_BASIC_AUTH's syntax)."""
    logins = []
    entries = [entry.strip() for entry in text.split(",") if entry.strip()]
    for position, entry in enumerate(entries, 1):
        pair, read_only = (entry[len(READ_ONLY_PREFIX):], True) \
            if entry.startswith(READ_ONLY_PREFIX) else (entry, False)
        user, colon, password = pair.partition(":")
        if not colon or not user or not password:
            raise SettingsError(f"{variable}: login {position} of {len(entries)} is not "
                                "[ro:]user:password")
        scope = " (read-only)" if read_only else ""
        logins.append(Login(pair.encode(), read_only, f"{user}{scope}", "basic"))
    return tuple(logins)


def tokens_from_env(env: Mapping[str, str]) -> tuple[Login, ...]:
    return parse_tokens(env.get(TOKENS_VARIABLE, ""))


def basic_auth_from_env(env: Mapping[str, str]) -> tuple[Login, ...]:
    return parse_basic_auth(env.get(BASIC_AUTH_VARIABLE, ""))


def find(presented: bytes, logins: Iterable[Login], kind: str) -> Login | None:
    """The login whose secret is `presented`, compared in constant time with every one of
    `kind`: digests of equal length, and no early exit, so timing tells neither which login is
    near nor how long the secrets are."""
    wanted = hashlib.sha256(presented).digest()
    found = None
    for login in logins:
        if login.kind != kind:
            continue
        if hmac.compare_digest(wanted, hashlib.sha256(login.secret).digest()) and found is None:
            found = login
    return found
