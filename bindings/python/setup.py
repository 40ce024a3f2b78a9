"""Build hook: compile the Rust library with cargo and put it inside the package.

Everything else (metadata, package data) is in pyproject.toml. The wheel is tagged
``py3-none-<platform>``: it carries a native library but no CPython extension, so any Python 3 on
that platform can load it.

Environment:
  PIECES_USER_SOURCE       the Rust repository root (default: two levels above this file)
  PIECES_USER_PREBUILT_LIB use this already-built library instead of running cargo
  CARGO, CARGO_TARGET_DIR  as cargo itself reads them
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

try:  # setuptools >= 70 ships bdist_wheel itself
    from setuptools.command.bdist_wheel import bdist_wheel
except ImportError:  # pragma: no cover - older setuptools
    from wheel.bdist_wheel import bdist_wheel  # type: ignore[no-redef]

HERE = Path(__file__).resolve().parent


def library_name() -> str:
    if sys.platform == "darwin":
        return "libpieces_user.dylib"
    if sys.platform == "win32":
        return "pieces_user.dll"
    return "libpieces_user.so"


def repo_root() -> Path:
    env = os.environ.get("PIECES_USER_SOURCE")
    root = Path(env) if env else HERE.parent.parent
    if not (root / "Cargo.toml").is_file():
        raise SystemExit(
            f"pieces-user: no Cargo.toml at {root}; build from a checkout of the repository "
            "(pip install ./bindings/python) or set PIECES_USER_SOURCE to its root"
        )
    return root


def build_native() -> Path:
    prebuilt = os.environ.get("PIECES_USER_PREBUILT_LIB")
    if prebuilt:
        path = Path(prebuilt)
        if not path.is_file():
            raise SystemExit(f"pieces-user: PIECES_USER_PREBUILT_LIB={prebuilt} does not exist")
        return path
    root = repo_root()
    cargo = os.environ.get("CARGO", "cargo")
    try:
        subprocess.run(
            [cargo, "build", "--release", "--lib", "--features", "log-off"], cwd=root, check=True
        )
        meta = subprocess.run(
            [cargo, "metadata", "--no-deps", "--format-version", "1"],
            cwd=root,
            check=True,
            stdout=subprocess.PIPE,
        )
    except FileNotFoundError:
        raise SystemExit("pieces-user: cargo not found; install Rust or set CARGO") from None
    except subprocess.CalledProcessError as e:
        raise SystemExit(f"pieces-user: cargo failed with status {e.returncode}") from None
    # cargo metadata knows the real target directory (CARGO_TARGET_DIR, .cargo/config…).
    target = Path(json.loads(meta.stdout)["target_directory"])
    lib = target / "release" / library_name()
    if not lib.is_file():
        raise SystemExit(f"pieces-user: cargo succeeded but {lib} is missing")
    return lib


class BuildPyWithLibrary(build_py):
    def run(self) -> None:
        super().run()
        lib = build_native()
        dest = Path(self.build_lib) / "pieces_user" / library_name()
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(lib, dest)


class PlatformWheel(bdist_wheel):
    def finalize_options(self) -> None:
        super().finalize_options()
        self.root_is_pure = False

    def get_tag(self) -> tuple[str, str, str]:
        _, _, plat = super().get_tag()
        return "py3", "none", plat


setup(cmdclass={"build_py": BuildPyWithLibrary, "bdist_wheel": PlatformWheel})
