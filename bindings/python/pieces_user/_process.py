"""Clients and streams belong to the process that created them (as libcurl's handles do).

After ``os.fork()`` the child has copies of their handles, whose connections are the parent's and
whose stream threads exist only in the parent. A hook run in the child marks every live one
inherited: its calls then raise :class:`~pieces_user.WrongProcess` without reaching the library,
and closing or collecting it does nothing (no library call, no lock a parent thread may have held
at the fork).
"""

from __future__ import annotations

import os
import weakref
from typing import Any

# Clients and streams alive in this process (weak: tracking keeps nothing alive).
_owned: "weakref.WeakSet[Any]" = weakref.WeakSet()


def track(obj: Any) -> None:
    """Marks ``obj`` (which has an ``_inherited`` attribute) inherited in a forked child."""
    _owned.add(obj)


def _mark_inherited() -> None:
    for obj in list(_owned):
        obj._inherited = True
    _owned.clear()


if hasattr(os, "register_at_fork"):  # not on Windows, which has no fork
    os.register_at_fork(after_in_child=_mark_inherited)
