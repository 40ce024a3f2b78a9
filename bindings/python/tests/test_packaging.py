"""The package as a user gets it: the wheel installed into a venv and imported from outside the
source tree, carrying the library, py.typed and TypedDicts that match the official schemas."""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path

import pytest

import pieces_user
from pieces_user import _ffi
from support import REPO, fixtures_dir

PACKAGE = Path(pieces_user.__file__).resolve().parent
SOURCE = REPO / "bindings" / "python" / "pieces_user"


def test_imported_from_the_installed_wheel_not_the_source_tree() -> None:
    assert PACKAGE != SOURCE.resolve(), f"tests imported the source tree at {PACKAGE}"
    assert "site-packages" in PACKAGE.parts or "dist-packages" in PACKAGE.parts, PACKAGE


def test_the_wheel_carries_the_library_and_py_typed() -> None:
    names = {p.name for p in PACKAGE.iterdir()}
    assert set(_ffi.library_file_names()) <= names
    assert "py.typed" in names
    files = {str(f) for f in importlib.metadata.files("pieces-user") or []}
    assert any(f.endswith(_ffi.library_file_names()[0]) for f in files), files


def test_the_packaged_library_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PIECES_USER_LIB", raising=False)
    lib = _ffi.load()
    assert Path(lib.path).resolve().parent == PACKAGE


def test_the_wheel_is_platform_specific_but_any_python3() -> None:
    dist = importlib.metadata.distribution("pieces-user")
    wheel = dist.read_text("WHEEL") or ""
    assert "Root-Is-Purelib: false" in wheel
    tags = [line.split(": ", 1)[1] for line in wheel.splitlines() if line.startswith("Tag: ")]
    assert tags and all(t.startswith("py3-none-") and not t.endswith("-any") for t in tags), tags


def test_types_match_the_official_schemas() -> None:
    out = subprocess.run(
        [sys.executable, str(REPO / "bindings" / "python" / "tools" / "gen_types.py"), str(fixtures_dir())],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert out == (PACKAGE / "types.py").read_text(encoding="utf-8"), (
        "pieces_user/types.py is stale: run tools/gen_types.py ../../../shared/fixtures > pieces_user/types.py"
    )


def test_a_fresh_interpreter_imports_it_from_anywhere(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PIECES_USER_LIB")}
    proc = subprocess.run(
        [sys.executable, "-c", "import pieces_user; print(pieces_user.library_version())"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert proc.stdout.strip()
