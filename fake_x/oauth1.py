"""OAuth 1.0a HMAC-SHA1 signatures (RFC 5849), written independently of oauthlib.

The rest of the project signs with requests-oauthlib; the emulator verifies with this module, so the
two implementations cross-check each other instead of agreeing by construction.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Iterable
from urllib.parse import parse_qsl, quote, unquote

SIGNATURE_METHOD = "HMAC-SHA1"
_DEFAULT_PORTS = {"http": "80", "https": "443"}
# One `name="value"` pair of an Authorization header (RFC 5849 §3.5.1).
_PARAM = re.compile(r'\s*([A-Za-z0-9_.~%-]+)\s*=\s*"([^"]*)"\s*(?:,|$)')


class OAuthHeaderError(ValueError):
    """The Authorization header is absent, not OAuth, or not well formed."""


def percent_encode(value: str) -> str:
    """RFC 5849 §3.6: UTF-8, then escape everything except ALPHA, DIGIT, '-', '.', '_', '~'.

    `quote(safe="")` leaves exactly the RFC 3986 unreserved set alone (Python >= 3.7) and emits
    upper-case hex, which is what §3.6 requires.
    """
    return quote(value, safe="")


def base_string_uri(scheme: str, host: str, path: str) -> str:
    """RFC 5849 §3.4.1.2: lower-case scheme and host, default port dropped, path as sent."""
    scheme = scheme.lower()
    host = host.lower()
    if host.startswith("["):  # IPv6 literal: the port, if any, follows the closing bracket
        name, _, rest = host.partition("]")
        name, port = name + "]", rest.removeprefix(":")
    else:
        name, _, port = host.partition(":")
    if port and port != _DEFAULT_PORTS.get(scheme):
        name = f"{name}:{port}"
    return f"{scheme}://{name}{path or '/'}"


def normalize_parameters(params: Iterable[tuple[str, str]]) -> str:
    """RFC 5849 §3.4.1.3.2: encode each name and value, sort by name then value, join."""
    encoded = sorted((percent_encode(k), percent_encode(v)) for k, v in params)
    return "&".join(f"{k}={v}" for k, v in encoded)


def signature_base_string(method: str, uri: str, params: Iterable[tuple[str, str]]) -> str:
    """RFC 5849 §3.4.1.1: METHOD & encoded base string URI & encoded normalized parameters."""
    return "&".join(
        (method.upper(), percent_encode(uri), percent_encode(normalize_parameters(params)))
    )


def hmac_sha1_signature(base_string: str, consumer_secret: str, token_secret: str) -> str:
    """RFC 5849 §3.4.2: base64(HMAC-SHA1(key = encoded secrets joined by '&', base string))."""
    key = f"{percent_encode(consumer_secret)}&{percent_encode(token_secret)}"
    digest = hmac.new(key.encode(), base_string.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def signatures_match(expected: str, received: str) -> bool:
    """Constant-time comparison, so the emulator does not teach timing attacks by example."""
    return hmac.compare_digest(expected.encode(), received.encode())


def parse_authorization_header(header: str | None) -> dict[str, str]:
    """Parse `OAuth k="v", ...` into decoded parameters (`realm` dropped).

    Raises OAuthHeaderError for anything that is not a well-formed OAuth header, including a
    parameter given twice (§3.5.1 forbids it, and silently picking one would hide client bugs).
    """
    if not header:
        raise OAuthHeaderError("missing Authorization header")
    scheme, _, rest = header.strip().partition(" ")
    if scheme.lower() != "oauth":
        raise OAuthHeaderError("not an OAuth Authorization header")
    params: dict[str, str] = {}
    pos, rest = 0, rest.strip()
    while pos < len(rest):
        match = _PARAM.match(rest, pos)
        if match is None:
            raise OAuthHeaderError("malformed OAuth parameter list")
        name, value = unquote(match.group(1)), unquote(match.group(2))
        if name in params:
            raise OAuthHeaderError("duplicate OAuth parameter")
        params[name] = value
        pos = match.end()
    params.pop("realm", None)
    return params


def query_parameters(raw_query: str) -> list[tuple[str, str]]:
    """Decode a query string or form body the way §3.4.1.3.1 says (form-urlencoded rules)."""
    return parse_qsl(raw_query, keep_blank_values=True)


def request_parameters(
    oauth_params: dict[str, str], raw_query: str, form_body: str | None
) -> list[tuple[str, str]]:
    """All parameters that enter the signature: query, form body, oauth_* (not the signature).

    A JSON body never appears here: only `application/x-www-form-urlencoded` bodies are signed.
    """
    params = [(k, v) for k, v in oauth_params.items() if k != "oauth_signature"]
    params += query_parameters(raw_query)
    if form_body:
        params += query_parameters(form_body)
    return params
