"""Account and tweet ids: 1-19 ASCII digits, and tweet status URLs."""

from __future__ import annotations

import re

# str.isdigit() accepts "²" and Arabic-Indic digits; X ids are ASCII only.
_ID_RE = re.compile(r"[0-9]{1,19}")
_STATUS_URL_RE = re.compile(
    r"https://(?:www\.|mobile\.)?(?:twitter|x)\.com/[A-Za-z0-9_]{1,15}/status/([0-9]{1,19})"
    r"(?:[/?#]\S*)?",
)


class InvalidId(ValueError):
    """An id is not 1-19 ASCII digits (or, for tweets, not a status URL)."""


def parse_id(value: object) -> str:
    """Return `value` as a canonical id string, accepting non-negative ints and digit strings."""
    if isinstance(value, bool):
        raise InvalidId(f"expected 1-19 digits, got a boolean ({value!r})")
    if isinstance(value, int):
        if value < 0:
            raise InvalidId(f"expected 1-19 digits, got a negative number ({value})")
        value = str(value)
    if not isinstance(value, str):
        raise InvalidId(f"expected a string of 1-19 digits, got {type(value).__name__}")
    if not _ID_RE.fullmatch(value):
        raise InvalidId(f"expected 1-19 ASCII digits, got {_shorten(value)!r}")
    # "007" and 7 name the same id: one canonical form keeps dedup and intents consistent.
    return value.lstrip("0") or "0"


def parse_account_id(value: object) -> str:
    return parse_id(value)


def parse_tweet_id(value: object) -> str:
    """A tweet id, or the id inside `https://(www.|mobile.)?(twitter|x).com/<handle>/status/<id>`."""
    if isinstance(value, str) and value.startswith("https://"):
        match = _STATUS_URL_RE.fullmatch(value)
        if match is None:
            raise InvalidId(
                "expected 1-19 ASCII digits or a status URL like "
                f"https://x.com/<handle>/status/<id>, got {_shorten(value)!r}"
            )
        return match.group(1)
    if isinstance(value, str) and "://" in value:
        raise InvalidId(f"only https:// x.com or twitter.com status URLs are accepted, got "
                        f"{_shorten(value)!r}")
    return parse_id(value)


def _shorten(value: str, limit: int = 60) -> str:
    return value if len(value) <= limit else value[:limit] + "..."
