"""Where the package looks for the native library: the file names per platform, and the fallback to
an installed library (``make install``) when the package has none of its own."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

import pytest

import pieces_user
from pieces_user import _ffi
from support import Standin, load_fixture

PACKAGE = Path(pieces_user.__file__).resolve().parent


@pytest.mark.parametrize(
    "platform, built, installed",
    [
        ("linux", "libpieces_user.so", "libpieces_user.so.1"),
        ("freebsd14", "libpieces_user.so", "libpieces_user.so.1"),
        ("darwin", "libpieces_user.dylib", "libpieces_user.1.dylib"),
        ("win32", "pieces_user.dll", "pieces_user.dll"),
        ("cygwin", "pieces_user.dll", "pieces_user.dll"),
    ],
)
def test_file_names_per_platform(platform: str, built: str, installed: str) -> None:
    assert _ffi.library_file_names(platform) == [built]
    assert _ffi.installed_library_names(platform) == [installed]
    assert [name for name, _ in _ffi.installed_candidates("linux")] == ["libpieces_user.so.1"]


def test_the_installed_name_follows_the_abi_version() -> None:
    assert _ffi.installed_library_names("linux", abi=2) == ["libpieces_user.so.2"]
    assert _ffi.installed_library_names("darwin", abi=2) == ["libpieces_user.2.dylib"]


def test_the_packaged_library_carries_the_soname_the_fallback_asks_for() -> None:
    if not sys.platform.startswith("linux"):
        pytest.skip("ELF sonames are a Linux matter; this suite runs on Linux")
    dynamic = subprocess.run(
        ["readelf", "-d", str(PACKAGE / _ffi.library_file_names()[0])],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert f"Library soname: [{_ffi.installed_library_names()[0]}]" in dynamic, dynamic


# Run in a fresh interpreter: the loader's search path is read at process start, and a process that
# has loaded the packaged library would answer a request for its soname with that copy.
LOAD_INSTALLED = """
import sys, warnings
from pieces_user import _ffi
warnings.simplefilter("error")
_ffi.library_file_names = lambda: ["not-in-this-package.so"]
from pieces_user import Client
lib = _ffi.load()
with open("/proc/self/maps") as f:
    maps = f.read()
assert sys.argv[1] in maps, maps
with Client(sys.argv[2], timeout=5) as client:
    print(lib.path, client.snapshot()["user"]["name"])
"""


def _run_with_library_dir(libdir: Path, *args: str) -> "subprocess.CompletedProcess[str]":
    env: Dict[str, str] = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PIECES_USER_LIB")}
    env["LD_LIBRARY_PATH"] = str(libdir)
    return subprocess.run(
        [sys.executable, "-c", LOAD_INSTALLED, *args], env=env, capture_output=True, text=True, cwd=libdir
    )


def _install_copy(tmp_path: Path, name: str) -> Path:
    """A copy of the packaged library under ``name`` in a directory of its own, as make install puts it."""
    libdir = tmp_path / "lib"
    libdir.mkdir()
    copy = libdir / name
    shutil.copyfile(PACKAGE / _ffi.library_file_names()[0], copy)
    return copy


def test_a_package_without_a_library_loads_the_installed_one(tmp_path: Path, standin: Standin) -> None:
    if not sys.platform.startswith("linux"):
        pytest.skip("LD_LIBRARY_PATH and /proc/self/maps: this suite runs on Linux")
    soname = _ffi.installed_library_names()[0]
    copy = _install_copy(tmp_path, soname)
    proc = _run_with_library_dir(copy.parent, str(copy), standin.url)
    assert proc.returncode == 0, proc.stderr
    name = load_fixture("UserProfile.max.json")["name"]
    assert proc.stdout.split(maxsplit=1) == [soname, name + "\n"], proc.stdout


def test_an_installed_library_of_another_abi_is_not_found(tmp_path: Path, standin: Standin) -> None:
    if not sys.platform.startswith("linux"):
        pytest.skip("LD_LIBRARY_PATH: this suite runs on Linux")
    other: List[str] = _ffi.installed_library_names(abi=_ffi.ABI_VERSION + 1)
    copy = _install_copy(tmp_path, other[0])
    proc = _run_with_library_dir(copy.parent, str(copy), standin.url)
    assert proc.returncode != 0
    assert "LibraryLoadError" in proc.stderr and _ffi.installed_library_names()[0] in proc.stderr, proc.stderr
