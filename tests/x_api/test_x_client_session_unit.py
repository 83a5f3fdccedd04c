"""The per-process HTTP session reads proxy and CA settings from the environment once."""

from __future__ import annotations

import pytest

from worker.x_api.client import XClient


def test_proxies_and_ca_bundle_come_from_the_environment_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """HTTPS_PROXY and REQUESTS_CA_BUNDLE still apply; requests no longer rescans per call."""
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    session = XClient("https://api.x.com")._session_for_this_process()
    assert session.proxies.get("https") == "http://proxy.internal:3128"
    assert session.verify == "/etc/ssl/certs/ca-certificates.crt"
    assert session.trust_env is False


def test_no_proxy_excludes_the_api_host(monkeypatch: pytest.MonkeyPatch) -> None:
    """NO_PROXY naming X's host means no proxy for it."""
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    monkeypatch.setenv("NO_PROXY", "api.x.com")
    session = XClient("https://api.x.com")._session_for_this_process()
    assert "https" not in session.proxies
