"""An account's OAuth 1.0a credentials: the values X signs with, and how input is checked.

The user id is the access token's digits before the first `-` (X's rule), so a token names
its own account; consumer key and secret are optional (the deployment's app is the default).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from worker.core.ids import parse_account_id

_TOKEN_RE = re.compile(r"([0-9]{1,19})-[A-Za-z0-9]+")
_REQUIRED = ("access_token", "access_token_secret")
_OPTIONAL = ("consumer_key", "consumer_secret")
_MAX_FIELD = 512


class InvalidCredentials(ValueError):
    """Credentials input is unusable; the message names the field, never its value."""

    def __init__(self, field_name: str, problem: str) -> None:
        super().__init__(f"{field_name}: {problem}")
        self.field = field_name


@dataclass(frozen=True)
class Credentials:
    """One account's OAuth 1.0a credentials. Secrets are kept out of repr."""

    access_token: str = field(repr=False)
    access_token_secret: str = field(repr=False)
    consumer_key: str | None = field(default=None, repr=False)
    consumer_secret: str | None = field(default=None, repr=False)

    @property
    def account_id(self) -> str:
        return account_id_from_token(self.access_token)


def account_id_from_token(access_token: str) -> str:
    """The user id an OAuth 1.0a access token belongs to: its digits before the first `-`."""
    match = _TOKEN_RE.fullmatch(access_token)
    if match is None:
        raise InvalidCredentials(
            "access_token",
            "expected '<user id>-<token>' (1-19 digits, a dash, letters and digits)",
        )
    return parse_account_id(match.group(1))


def parse_credentials(payload: object) -> Credentials:
    """Validate an `rtq accounts add` document."""
    if not isinstance(payload, Mapping):
        raise InvalidCredentials("input", "expected one JSON object")
    unknown = sorted(set(payload) - set(_REQUIRED) - set(_OPTIONAL))
    if unknown:
        raise InvalidCredentials(unknown[0], "unknown field (allowed: "
                                 + ", ".join(_REQUIRED + _OPTIONAL) + ")")
    values: dict[str, str | None] = {}
    for name in _REQUIRED + _OPTIONAL:
        value = payload.get(name)
        if value is None and name in _OPTIONAL:
            values[name] = None
            continue
        if value is None:
            raise InvalidCredentials(name, "missing")
        if not isinstance(value, str) or not value.strip():
            raise InvalidCredentials(name, "expected a non-empty string")
        if len(value) > _MAX_FIELD or not value.isascii() or not value.isprintable():
            raise InvalidCredentials(name, f"expected at most {_MAX_FIELD} printable ASCII chars")
        values[name] = value.strip()
    if (values["consumer_key"] is None) != (values["consumer_secret"] is None):
        missing = "consumer_secret" if values["consumer_secret"] is None else "consumer_key"
        raise InvalidCredentials(missing, "consumer_key and consumer_secret go together")
    credentials = Credentials(
        access_token=values["access_token"] or "",
        access_token_secret=values["access_token_secret"] or "",
        consumer_key=values["consumer_key"],
        consumer_secret=values["consumer_secret"],
    )
    account_id_from_token(credentials.access_token)
    return credentials
