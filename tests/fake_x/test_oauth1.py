"""The signature code, against Twitter's documented example and against requests-oauthlib."""

from __future__ import annotations

from urllib.parse import urlsplit

import requests
from requests_oauthlib import OAuth1

from fake_x import oauth1

# https://developer.x.com/en/docs/authentication/oauth-1-0a/creating-a-signature
EXAMPLE_OAUTH = {
    "oauth_consumer_key": "xvz1evFS4wEEPTGEFPHBog",
    "oauth_nonce": "kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg",
    "oauth_signature_method": "HMAC-SHA1",
    "oauth_timestamp": "1318622958",
    "oauth_token": "370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb",
    "oauth_version": "1.0",
}
EXAMPLE_BASE_STRING = (
    "POST&https%3A%2F%2Fapi.twitter.com%2F1.1%2Fstatuses%2Fupdate.json&include_entities%3Dtrue"
    "%26oauth_consumer_key%3Dxvz1evFS4wEEPTGEFPHBog%26oauth_nonce%3DkYjzVBB8Y0ZFabxSWbWovY3uYSQ2"
    "pTgmZeNu2VS4cg%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D1318622958%26oauth"
    "_token%3D370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb%26oauth_version%3D1.0%26status"
    "%3DHello%2520Ladies%2520%252B%2520Gentlemen%252C%2520a%2520signed%2520OAuth%2520request%2521"
)


def test_twitter_example_gives_the_documented_base_string_and_signature() -> None:
    """Twitter's "Creating a signature" vector, end to end."""
    params = oauth1.request_parameters(
        EXAMPLE_OAUTH,
        "include_entities=true",
        "status=Hello%20Ladies%20%2B%20Gentlemen%2C%20a%20signed%20OAuth%20request%21",
    )
    uri = oauth1.base_string_uri("https", "api.twitter.com", "/1.1/statuses/update.json")
    base_string = oauth1.signature_base_string("POST", uri, params)

    assert base_string == EXAMPLE_BASE_STRING
    signature = oauth1.hmac_sha1_signature(
        base_string,
        "kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw",
        "LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE",
    )
    assert signature == "hCtSmYh+iHYCEqBWrE7C7hYmtUk="


def test_percent_encoding_leaves_only_unreserved_characters() -> None:
    """RFC 5849 §3.6: unreserved kept, everything else %XX (upper case) on UTF-8 bytes."""
    assert oauth1.percent_encode("AZaz09-._~") == "AZaz09-._~"
    assert oauth1.percent_encode("a b+c/d*e!") == "a%20b%2Bc%2Fd%2Ae%21"
    assert oauth1.percent_encode("☃") == "%E2%98%83"


def test_base_string_uri_lowercases_host_and_drops_default_ports() -> None:
    """§3.4.1.2: the URI is normalised, the path kept as sent."""
    assert oauth1.base_string_uri("HTTP", "API.X.com:80", "/2/Users") == "http://api.x.com/2/Users"
    assert oauth1.base_string_uri("https", "api.x.com:443", "/a") == "https://api.x.com/a"
    assert oauth1.base_string_uri("http", "api.x.com:8080", "/a") == "http://api.x.com:8080/a"
    assert oauth1.base_string_uri("http", "[::1]:80", "/a") == "http://[::1]/a"
    assert oauth1.base_string_uri("http", "[::1]:81", "") == "http://[::1]:81/"


def test_parameters_are_sorted_by_encoded_name_then_value() -> None:
    """§3.4.1.3.2: duplicates kept, sorted on the encoded forms."""
    normalized = oauth1.normalize_parameters([("b", "2"), ("a", "z"), ("a", "y"), ("a b", "1")])
    assert normalized == "a=y&a=z&a%20b=1&b=2"


def test_authorization_header_is_parsed_and_decoded() -> None:
    """Values are percent-decoded and the realm is not a signed parameter."""
    header = 'OAuth realm="x", oauth_token="1-a", oauth_signature="ab%2Bc%3D"'
    assert oauth1.parse_authorization_header(header) == {
        "oauth_token": "1-a",
        "oauth_signature": "ab+c=",
    }


def test_malformed_or_duplicated_headers_are_rejected() -> None:
    """Garbage never reaches the signature check."""
    for header in (None, "", "Bearer abc", 'OAuth a="1" b="2"', "OAuth a=1", 'OAuth a="1", a="2"'):
        try:
            oauth1.parse_authorization_header(header)
        except oauth1.OAuthHeaderError:
            continue
        raise AssertionError(f"accepted {header!r}")


def _text(value: str | bytes | None) -> str:
    return value.decode() if isinstance(value, bytes) else value or ""


def _recompute(prepared: requests.PreparedRequest, secrets: tuple[str, str]) -> tuple[str, str]:
    """(signature requests-oauthlib sent, signature this module computes for the same request)."""
    # requests-oauthlib leaves the headers it sets as bytes.
    params = oauth1.parse_authorization_header(_text(prepared.headers["Authorization"]))
    url = urlsplit(prepared.url or "")
    form = None
    if _text(prepared.headers.get("Content-Type")) == "application/x-www-form-urlencoded":
        form = _text(prepared.body)
    signed = oauth1.request_parameters(params, url.query, form)
    uri = oauth1.base_string_uri(url.scheme, url.netloc, url.path)
    base_string = oauth1.signature_base_string(prepared.method or "", uri, signed)
    return params["oauth_signature"], oauth1.hmac_sha1_signature(base_string, *secrets)


def test_signatures_match_requests_oauthlib() -> None:
    """The client library and this module agree on awkward inputs (query, form body, JSON body)."""
    secrets = ("consumer sec+ret/=", "token~secret&%")
    auth = OAuth1("ck", secrets[0], "123-tok", secrets[1])
    requests_to_sign = [
        requests.Request(
            "POST", "https://API.x.com:443/2/users/123/retweets", json={"tweet_id": "1"}, auth=auth
        ),
        requests.Request(
            "GET", "http://api.twitter.com:8080/2/users/me?b=2&a=1&a=%20x+y&c=", auth=auth
        ),
        requests.Request(
            "POST",
            "https://api.x.com/1.1/statuses/update.json?q=~*",
            data={"status": "Hello Ladies + Gentlemen, ☃!"},
            auth=auth,
        ),
        requests.Request("DELETE", "https://api.x.com/2/users/123/retweets/99%2F1", auth=auth),
    ]
    for request in requests_to_sign:
        sent, computed = _recompute(request.prepare(), secrets)
        assert sent == computed, request.url
