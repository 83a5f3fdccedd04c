"""Account and tweet ids (`worker.core.ids`): 1-19 ASCII digits, and tweet status URLs."""

from __future__ import annotations

import pytest

from worker.core.ids import InvalidId, parse_account_id, parse_tweet_id

BOTH_PARSERS = pytest.mark.parametrize(
    "parse", [parse_account_id, parse_tweet_id], ids=["account", "tweet"]
)


@BOTH_PARSERS
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0", "0"),
        ("1", "1"),
        ("7588892", "7588892"),
        ("1" * 19, "1" * 19),
        ("9" * 19, "9" * 19),
    ],
)
def test_digit_strings_of_one_to_nineteen_ascii_digits_are_accepted_unchanged(
    parse, value, expected
):
    """Strings of 1-19 ASCII digits are ids and come back as they were given."""
    assert parse(value) == expected


@BOTH_PARSERS
@pytest.mark.parametrize(
    ("value", "expected"),
    [(0, "0"), (1, "1"), (7588892, "7588892"), (10**18, "1" + "0" * 18), (10**19 - 1, "9" * 19)],
)
def test_non_negative_ints_are_canonicalised_to_strings(parse, value, expected):
    """A non-negative int of at most 19 digits becomes its decimal string."""
    result = parse(value)
    assert result == expected
    assert type(result) is str


@BOTH_PARSERS
@pytest.mark.parametrize(
    "value",
    [
        "",
        "\u00b2",  # superscript two: str.isdigit() says True
        "\u0663",  # Arabic-Indic three
        "\uff11",  # fullwidth one
        "1\u0663",
        "1" * 20,
        " 1",
        "1 ",
        "1\n",
        "\n1",
        "-1",
        "+1",
        "1.0",
        "1e3",
        "0x1",
        "1_000",
        "abc",
    ],
    ids=repr,
)
def test_strings_that_are_not_one_to_nineteen_ascii_digits_are_rejected(parse, value):
    """Unicode digits, signs, spaces, decimals, hex and over-long strings are not ids."""
    with pytest.raises(InvalidId, match="expected"):
        parse(value)


@BOTH_PARSERS
@pytest.mark.parametrize(
    "value",
    [None, 1.0, 0.0, float("nan"), True, False, b"1", ["1"], {"id": "1"}, -1, -7588892, 10**19],
    ids=repr,
)
def test_values_that_are_not_digit_strings_or_small_non_negative_ints_are_rejected(parse, value):
    """None, floats, bools, bytes, containers, negative ints and 20-digit ints are not ids."""
    with pytest.raises(InvalidId, match="expected"):
        parse(value)


def test_invalid_id_is_a_value_error():
    """`InvalidId` is a ValueError, so callers that only know ValueError still catch it."""
    assert issubclass(InvalidId, ValueError)


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (True, "boolean"),
        (-1, "negative"),
        (1.0, "float"),
        (None, "NoneType"),
        ("abc", "ASCII digits"),
    ],
    ids=repr,
)
def test_rejection_message_says_what_was_expected_and_what_was_given(value, words):
    """The error names the expected form (1-19 digits) and describes the bad input."""
    with pytest.raises(InvalidId) as caught:
        parse_account_id(value)
    message = str(caught.value)
    assert "1-19" in message
    assert words in message


def test_rejection_message_shortens_a_very_long_input():
    """A huge bad value is not echoed in full into the error message."""
    value = "a" * 10_000
    with pytest.raises(InvalidId) as caught:
        parse_account_id(value)
    assert len(str(caught.value)) < 200
    assert "..." in str(caught.value)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://x.com/jack/status/20", "20"),
        ("https://twitter.com/jack/status/20", "20"),
        ("https://www.x.com/jack/status/20", "20"),
        ("https://www.twitter.com/jack/status/20", "20"),
        ("https://mobile.x.com/jack/status/20", "20"),
        ("https://mobile.twitter.com/jack/status/20", "20"),
        ("https://x.com/Some_User_99/status/1234567890123456789", "1234567890123456789"),
        ("https://x.com/jack/status/20/", "20"),
        ("https://x.com/jack/status/20/photo/1", "20"),
        ("https://x.com/jack/status/20?s=20&t=abc", "20"),
        ("https://x.com/jack/status/20#fragment", "20"),
        ("https://x.com/jack/status/20/analytics?x=1#y", "20"),
    ],
)
def test_status_urls_resolve_to_their_tweet_id(url, expected):
    """A status URL on x.com or twitter.com (www./mobile. too) yields the id it points at."""
    assert parse_tweet_id(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        "https://x.com/jack/status/20",
        "https://x.com/jack/status/20?s=20",
    ],
)
def test_account_ids_never_accept_status_urls(url):
    """Only tweets may be given as URLs; an account id must be digits."""
    with pytest.raises(InvalidId):
        parse_account_id(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.com/jack/status/20",
        "https://x.com.evil.com/jack/status/20",
        "https://evilx.com/jack/status/20",
        "https://twitter.com.evil.com/jack/status/20",
        "https://evil.com/x.com/jack/status/20",
        "https://user@x.com/jack/status/20",
        "https://x.com:443/jack/status/20",
        "https://api.x.com/jack/status/20",
        "https://x.com/jack/statuses/20",
        "https://x.com/jack/status/",
        "https://x.com/jack/status",
        "https://x.com/status/20",
        "https://x.com//status/20",
        "https://x.com/jack/status/abc",
        "https://x.com/jack/status/20abc",
        "https://x.com/jack/status/-1",
        "https://x.com/jack/status/\u0663",
        "https://x.com/jack/status/" + "1" * 20,
        "https://x.com/jack/status/20 ",
        "https://x.com/a/status/1\nfoo",
        "https://x.com/jack/status/20\r\n",
        "https://",
    ],
    ids=repr,
)
def test_https_strings_that_are_not_status_urls_are_rejected(url):
    """Other hosts, other paths, missing or malformed ids and junk after the id are refused."""
    with pytest.raises(InvalidId) as caught:
        parse_tweet_id(url)
    assert "https://x.com/<handle>/status/<id>" in str(caught.value)


@pytest.mark.parametrize(
    "url",
    [
        "http://x.com/jack/status/20",
        "http://twitter.com/jack/status/20",
        "ftp://x.com/jack/status/20",
        "HTTPS://x.com/jack/status/20",
        " https://x.com/jack/status/20",
        "javascript://x.com/jack/status/20",
    ],
    ids=repr,
)
def test_urls_without_a_leading_lowercase_https_scheme_are_rejected(url):
    """Only https:// URLs are accepted, and the message says so."""
    with pytest.raises(InvalidId) as caught:
        parse_tweet_id(url)
    assert "https://" in str(caught.value)


def test_rejected_url_message_is_shortened():
    """A long bad URL is not echoed in full."""
    url = "https://evil.com/" + "a" * 5_000
    with pytest.raises(InvalidId) as caught:
        parse_tweet_id(url)
    assert len(str(caught.value)) < 300


@pytest.mark.parametrize(
    "pasted",
    [
        "https://x.com/a/status/1/\nhttps://x.com/b/status/2",
        "https://x.com/a/status/1?s=20 https://x.com/b/status/2",
        "https://x.com/a/status/1#\nfoo",
    ],
    ids=["newline-after-slash", "space-in-query", "newline-in-fragment"],
)
def test_whitespace_inside_the_trailing_part_of_a_status_url_is_rejected(pasted):
    """Two pasted URLs (or a URL with whitespace in its tail) are not one status URL."""
    with pytest.raises(InvalidId):
        parse_tweet_id(pasted)
