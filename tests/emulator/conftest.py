"""Fixtures of the emulator's self-tests: one emulator process for the whole session,
reset before every test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .selftest import Server, control


@pytest.fixture(scope="session")
def server() -> Iterator[Server]:
    s = Server()
    yield s
    s.stop()


@pytest.fixture(autouse=True)
def fresh(server: Server) -> None:
    control(server, "POST", "reset")
