"""Fixtures: one real emulator process per session, reset before every test."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import requests

from fake_x import EmulatorAdmin, EmulatorProcess

from .xclient import XUser


@pytest.fixture(scope="session")
def emulator() -> Iterator[EmulatorProcess]:
    with EmulatorProcess() as process:
        yield process


@pytest.fixture(scope="session")
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


@pytest.fixture
def admin(emulator: EmulatorProcess) -> EmulatorAdmin:
    """The admin client, on an emulator back at its start-up state (accounts kept)."""
    emulator.admin.reset()
    return emulator.admin


@pytest.fixture
def make_user(
    emulator: EmulatorProcess, admin: EmulatorAdmin, http: requests.Session
) -> Callable[[], XUser]:
    def make() -> XUser:
        return XUser(emulator.url, admin.new_account(), http)

    return make


@pytest.fixture
def user(make_user: Callable[[], XUser]) -> XUser:
    return make_user()
