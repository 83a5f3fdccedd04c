"""`worker.domain.accounts`: validating credentials input, token ids, repr hygiene, Fernet key
lists."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet, InvalidToken

from worker.domain.accounts import fernet_for
from worker.x_api.credentials import (
    Credentials,
    InvalidCredentials,
    account_id_from_token,
    parse_credentials,
)

ACCESS_TOKEN = "7588892-kagSNqGEvC8wEXyG9kZ0PC1GGxXKc8S1Ta1cUvvO"
ACCESS_SECRET = "atsSECRETvalue0123456789abcdefghijklmnop"
CONSUMER_KEY = "ckPUBLICish0123456789"
CONSUMER_SECRET = "csSECRETvalue0123456789abcdefghijklmnopqrstuv"
SECRETS = (ACCESS_TOKEN, ACCESS_SECRET, CONSUMER_KEY, CONSUMER_SECRET)


def valid(**overrides: object) -> dict[str, object]:
    document: dict[str, object] = {
        "access_token": ACCESS_TOKEN, "access_token_secret": ACCESS_SECRET,
    }
    document.update(overrides)
    return document


def assert_no_secret_in(message: str) -> None:
    for secret in SECRETS:
        assert secret not in message


def test_valid_credentials_without_consumer_pair_are_parsed():
    """An access token and secret alone are valid credentials (the app's consumer is used)."""
    credentials = parse_credentials(valid())
    assert credentials == Credentials(ACCESS_TOKEN, ACCESS_SECRET, None, None)
    assert credentials.account_id == "7588892"


def test_valid_credentials_with_their_own_consumer_pair_are_parsed():
    """An account may bring its own consumer key and secret."""
    credentials = parse_credentials(
        valid(consumer_key=CONSUMER_KEY, consumer_secret=CONSUMER_SECRET)
    )
    assert (credentials.consumer_key, credentials.consumer_secret) == (
        CONSUMER_KEY, CONSUMER_SECRET,
    )


def test_surrounding_whitespace_is_stripped_from_values():
    """Values pasted with spaces or a trailing space are stored stripped."""
    credentials = parse_credentials(valid(access_token=f"  {ACCESS_TOKEN} "))
    assert credentials.access_token == ACCESS_TOKEN


def test_explicit_null_consumer_fields_mean_no_consumer_pair():
    """`consumer_key: null, consumer_secret: null` is the same as leaving them out."""
    credentials = parse_credentials(valid(consumer_key=None, consumer_secret=None))
    assert credentials.consumer_key is None
    assert credentials.consumer_secret is None


@pytest.mark.parametrize("unknown", ["user_id", "token", "Access_Token", "password"])
def test_an_unknown_field_is_rejected_naming_the_field(unknown):
    """A field we do not know is refused, named, with the allowed fields listed."""
    with pytest.raises(InvalidCredentials) as caught:
        parse_credentials(valid(**{unknown: CONSUMER_SECRET}))
    assert caught.value.field == unknown
    assert str(caught.value).startswith(f"{unknown}:")
    assert "access_token_secret" in str(caught.value)
    assert_no_secret_in(str(caught.value))


@pytest.mark.parametrize("missing", ["access_token", "access_token_secret"])
def test_a_missing_required_field_is_named(missing):
    """Without access_token or access_token_secret the error names the missing field."""
    document = valid()
    del document[missing]
    with pytest.raises(InvalidCredentials) as caught:
        parse_credentials(document)
    assert caught.value.field == missing
    assert "missing" in str(caught.value)
    assert_no_secret_in(str(caught.value))


@pytest.mark.parametrize("missing", ["access_token", "access_token_secret"])
def test_a_null_required_field_is_reported_missing(missing):
    """An explicit null for a required field is as missing as leaving it out."""
    with pytest.raises(InvalidCredentials) as caught:
        parse_credentials(valid(**{missing: None}))
    assert caught.value.field == missing


@pytest.mark.parametrize(
    ("given", "named"),
    [
        ({"consumer_key": CONSUMER_KEY}, "consumer_secret"),
        ({"consumer_secret": CONSUMER_SECRET}, "consumer_key"),
    ],
)
def test_half_a_consumer_pair_is_rejected_naming_the_missing_half(given, named):
    """consumer_key without consumer_secret (or the reverse) names the missing one."""
    with pytest.raises(InvalidCredentials) as caught:
        parse_credentials(valid(**given))
    assert caught.value.field == named
    assert_no_secret_in(str(caught.value))


@pytest.mark.parametrize(
    "field_name", ["access_token", "access_token_secret", "consumer_key", "consumer_secret"]
)
@pytest.mark.parametrize(
    "bad",
    [12345, 1.5, True, ["x"], {"x": "y"}, b"bytes", "", "   "],
    ids=["int", "float", "bool", "list", "dict", "bytes", "empty", "blank"],
)
def test_a_non_string_or_empty_value_is_rejected_naming_the_field(field_name, bad):
    """Every field must be a non-empty string; anything else names the field."""
    document = valid(consumer_key=CONSUMER_KEY, consumer_secret=CONSUMER_SECRET)
    document[field_name] = bad
    with pytest.raises(InvalidCredentials) as caught:
        parse_credentials(document)
    assert caught.value.field == field_name
    assert "non-empty string" in str(caught.value)


@pytest.mark.parametrize(
    "field_name", ["access_token", "access_token_secret", "consumer_key", "consumer_secret"]
)
@pytest.mark.parametrize(
    "bad",
    ["a" * 513, "sécret", "line\nbreak", "tab\there", "nul\x00byte"],
    ids=["too-long", "non-ascii", "newline", "tab", "nul"],
)
def test_an_over_long_or_non_printable_ascii_value_is_rejected_without_echoing_it(
    field_name, bad
):
    """Values over 512 chars or outside printable ASCII are refused, and never echoed."""
    document = valid(consumer_key=CONSUMER_KEY, consumer_secret=CONSUMER_SECRET)
    document[field_name] = bad
    with pytest.raises(InvalidCredentials) as caught:
        parse_credentials(document)
    assert caught.value.field == field_name
    assert bad not in str(caught.value)
    assert_no_secret_in(str(caught.value))


@pytest.mark.parametrize(
    "token",
    [
        "kagSNqGEvC8wEXyG9kZ0PC1GGxXKc8S1Ta1cUvvO",
        "7588892",
        "7588892-",
        "-kagSNq",
        "abc-kagSNq",
        "7588892_kagSNq",
        "7588892-kag-SNq",
        "7588892-kag_SNq",
        "1" * 20 + "-kagSNq",
        "\u0663-kagSNq",
    ],
    ids=repr,
)
def test_an_access_token_not_of_the_form_digits_dash_alnum_is_rejected_naming_access_token(token):
    """The access token must be `<user id>-<letters and digits>`; the error never echoes it."""
    with pytest.raises(InvalidCredentials) as caught:
        parse_credentials(valid(access_token=token))
    assert caught.value.field == "access_token"
    assert str(caught.value).startswith("access_token:")
    assert token not in str(caught.value)
    assert_no_secret_in(str(caught.value))


@pytest.mark.parametrize("payload", [None, "text", ["access_token"], 42])
def test_input_that_is_not_an_object_is_rejected(payload):
    """The input must be one JSON object."""
    with pytest.raises(InvalidCredentials) as caught:
        parse_credentials(payload)
    assert caught.value.field == "input"


def test_invalid_credentials_is_a_value_error():
    """`InvalidCredentials` is a ValueError."""
    assert issubclass(InvalidCredentials, ValueError)


@pytest.mark.parametrize(
    ("token", "account_id"),
    [
        ("7588892-kagSNq", "7588892"),
        ("1-a", "1"),
        ("9" * 19 + "-Z9", "9" * 19),
        (ACCESS_TOKEN, "7588892"),
    ],
)
def test_account_id_from_token_is_the_digits_before_the_dash(token, account_id):
    """An OAuth 1.0a access token begins with the id of the user it belongs to."""
    assert account_id_from_token(token) == account_id


def test_account_id_from_a_malformed_token_names_access_token():
    """A token without `<digits>-` raises InvalidCredentials for `access_token`."""
    with pytest.raises(InvalidCredentials) as caught:
        account_id_from_token("no-digits-here")
    assert caught.value.field == "access_token"


def test_credentials_repr_shows_no_secret():
    """repr(Credentials) leaves out every token and secret."""
    credentials = Credentials(ACCESS_TOKEN, ACCESS_SECRET, CONSUMER_KEY, CONSUMER_SECRET)
    text = repr(credentials)
    assert_no_secret_in(text)
    assert text.startswith("Credentials(")


def test_fernet_for_two_keys_decrypts_a_token_made_with_the_second_key():
    """With keys (new, old), a token encrypted under the old key still decrypts."""
    # Given two keys, the second being the one the token was made with
    new_key, old_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    token = Fernet(old_key.encode()).encrypt(b"credentials")
    # When decrypting through the key list
    fernet = fernet_for((new_key, old_key))
    # Then it works
    assert fernet.decrypt(token) == b"credentials"


def test_fernet_for_two_keys_encrypts_with_the_first_key():
    """New tokens are encrypted with the first key only."""
    new_key, old_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    token = fernet_for((new_key, old_key)).encrypt(b"credentials")
    assert Fernet(new_key.encode()).decrypt(token) == b"credentials"
    with pytest.raises(InvalidToken):
        Fernet(old_key.encode()).decrypt(token)


def test_fernet_for_rejects_a_token_from_an_unknown_key():
    """A token made with a key that is not configured does not decrypt."""
    stranger = Fernet(Fernet.generate_key()).encrypt(b"credentials")
    with pytest.raises(InvalidToken):
        fernet_for((Fernet.generate_key().decode(),)).decrypt(stranger)
