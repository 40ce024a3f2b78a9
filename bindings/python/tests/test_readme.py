"""The Python snippets of README.md and bindings/python/README.md run as written.

Each ```python block is taken from the README, pointed at a stand-in (its example URL replaced) and
run in a fresh interpreter with the installed package, signed in and signed out. A snippet that
raises, hangs or prints nothing fails here.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import List

import pytest

from support import REPO, Standin

EXAMPLE_URL = "http://127.0.0.1:39300"
READMES = [REPO / "README.md", REPO / "bindings" / "python" / "README.md"]


def python_snippets(readme: Path) -> List[str]:
    return re.findall(r"^```python\n(.*?)^```", readme.read_text(encoding="utf-8"), re.M | re.S)


def run_snippet(snippet: str, url: str) -> "subprocess.CompletedProcess[str]":
    assert EXAMPLE_URL in snippet, "the snippet no longer uses the example URL this test replaces"
    return subprocess.run(
        [sys.executable, "-c", snippet.replace(EXAMPLE_URL, url)],
        capture_output=True, text=True, timeout=30, cwd=REPO.parent,
    )


@pytest.mark.parametrize("readme", READMES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_readme_has_python_snippets(readme: Path) -> None:
    assert python_snippets(readme)


@pytest.mark.parametrize("signed_in", [True, False], ids=["signed_in", "signed_out"])
@pytest.mark.parametrize("readme", READMES, ids=lambda p: str(p.relative_to(REPO)))
def test_readme_python_snippets_run(readme: Path, signed_in: bool, standin: Standin, signed_out: Standin) -> None:
    server = standin if signed_in else signed_out
    for snippet in python_snippets(readme):
        done = run_snippet(snippet, server.url)
        assert done.returncode == 0, done.stderr
        # Every snippet follows the user stream until it has told the current state.
        assert ("user " if signed_in else "signed_out ") in done.stdout, done.stdout
