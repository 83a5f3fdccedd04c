"""Running the emulator as a program: CLI options, start-up accounts, clean shutdown."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from requests_oauthlib import OAuth1

from fake_x import EmulatorProcess


def test_cli_options_and_accounts_file_apply_at_start(tmp_path: Path) -> None:
    """--rate-limit, --already-retweeted, --oauth2-access-ttl and --accounts configure the
    child; exit reaps it."""
    creds = {
        "consumer_key": "ck",
        "consumer_secret": "cs",
        "access_token": "5550001-tok",
        "access_token_secret": "ts",
    }
    accounts = tmp_path / "accounts.jsonl"
    accounts.write_text(json.dumps(creds) + "\n\n")
    args = (
        "--rate-limit",
        "1/60",
        "--already-retweeted",
        "legacy327",
        "--accounts",
        str(accounts),
        "--seed",
        "3",
        "--oauth2-access-ttl",
        "30",
    )
    with EmulatorProcess(*args) as emulator, requests.Session() as http:
        config = emulator.admin.config()
        assert (config["rate_limit"], config["rate_window"]) == (1, 60.0)
        assert (config["already_retweeted"], config["seed"]) == ("legacy327", 3)
        assert config["oauth2_access_ttl"] == 30
        auth = OAuth1(
            creds["consumer_key"],
            creds["consumer_secret"],
            creds["access_token"],
            creds["access_token_secret"],
        )
        response = http.get(f"{emulator.url}/2/users/me", auth=auth, timeout=5)
        assert response.json()["data"]["id"] == "5550001"
        pid = emulator.pid
    with pytest.raises(ProcessLookupError):  # reaped, not a zombie
        os.kill(pid, 0)


def test_bad_option_fails_fast_without_printing_a_url() -> None:
    """A malformed --rate-limit exits non-zero with the reason on stderr, nothing on stdout."""
    result = subprocess.run(
        [sys.executable, "-m", "fake_x", "--port", "0", "--rate-limit", "fifty"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode != 0
    assert result.stdout == ""
    assert "rate_limit" in result.stderr
