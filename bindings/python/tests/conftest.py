"""pytest fixtures; the helpers they use live in support.py (importable by the test modules)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable, Iterator, List, Optional

import pytest

# importlib import mode puts no test directory on sys.path; add this one (only) for support.py.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from support import RawServer, Standin, fixtures_dir  # noqa: E402


@pytest.fixture
def standin_factory() -> Iterator[Callable[..., Standin]]:
    started: List[Standin] = []

    def make(*args: str) -> Standin:
        s = Standin(*args)
        started.append(s)
        return s

    yield make
    for s in started:
        try:
            s.admin("reset")
        except Exception:
            pass
        s.stop()


@pytest.fixture
def standin(standin_factory: Callable[..., Standin]) -> Standin:
    """Signed in as the official maximal profile, so every field is exercised."""
    return standin_factory("--user", str(fixtures_dir() / "UserProfile.max.json"))


@pytest.fixture
def signed_out(standin_factory: Callable[..., Standin]) -> Standin:
    return standin_factory("--signed-out")


@pytest.fixture
def raw_server() -> Iterator[Callable[..., RawServer]]:
    servers: List[RawServer] = []

    def make(response: Optional[bytes], wait_for_head: bool = True, hold: bool = False) -> RawServer:
        s = RawServer(response, wait_for_head, hold)
        servers.append(s)
        return s

    yield make
    for s in servers:
        s.close()


