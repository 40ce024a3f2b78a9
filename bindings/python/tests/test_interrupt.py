"""Interrupting calls: Client.interrupt(), close() while calls are in flight, and Ctrl-C.

A loopback server here never answers GET /user/refresh (it holds the connection until the client
hangs up) and answers everything else with ``{"user":null}``. Each test interrupts only once the
server has the request, so the call is known to be blocked; bounds are generous (a 30 s timeout,
back within 5 s).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from typing import Any, List, Optional

import pytest

import pieces_user
from pieces_user import Client
from support import HoldingServer

BOUND = 5.0
@pytest.fixture
def holding() -> Any:
    server = HoldingServer()
    yield server
    server.close()


def _call_in_thread(fn: Any) -> "tuple[threading.Thread, List[Any]]":
    outcome: List[Any] = []

    def run() -> None:
        try:
            outcome.append(fn())
        except BaseException as e:  # noqa: BLE001 - the test inspects it
            outcome.append(e)
        outcome.append(time.monotonic())

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


def test_interrupt_wakes_a_blocked_call_and_the_client_goes_on(holding: HoldingServer) -> None:
    with Client(holding.url, timeout=30) as c:
        thread, outcome = _call_in_thread(c.refresh)
        holding.wait_held()
        at = time.monotonic()
        c.interrupt()
        thread.join(BOUND)
        assert not thread.is_alive()
        error, ended = outcome
        assert isinstance(error, pieces_user.Interrupted), error
        assert error.code == 26 and error.category == "interrupted"
        assert ended - at < BOUND
        assert c.snapshot() == {"user": None}
    c.interrupt()  # closed: nothing to do, no error


def test_close_interrupts_calls_in_flight_instead_of_waiting(holding: HoldingServer) -> None:
    c = Client(holding.url, timeout=30)
    thread, outcome = _call_in_thread(c.refresh)
    holding.wait_held()
    at = time.monotonic()
    c.close()
    assert time.monotonic() - at < BOUND
    thread.join(BOUND)
    assert isinstance(outcome[0], pieces_user.Interrupted), outcome
    with pytest.raises(pieces_user.ClientClosed):
        c.snapshot()


CHILD = r"""
import sys, time
import signal
# What an interactive Python has: a child started from a background job (as CI may run the tests)
# inherits SIGINT ignored, and Python then keeps it ignored.
signal.signal(signal.SIGINT, signal.default_int_handler)
from pieces_user import Client

c = Client(sys.argv[1], timeout=30)
try:
    c.refresh()
    print("returned", flush=True)
except KeyboardInterrupt:
    print("KeyboardInterrupt", flush=True)
print(c.snapshot(), flush=True)
c.close()
"""


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child is POSIX")
def test_ctrl_c_interrupts_a_blocked_call_on_the_main_thread(holding: HoldingServer) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, holding.url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        holding.wait_held()
        at = time.monotonic()
        os.kill(child.pid, signal.SIGINT)
        out, err = child.communicate(timeout=BOUND)
        took = time.monotonic() - at
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == 0, err
    assert out.splitlines() == ["KeyboardInterrupt", "{'user': None}"], (out, err)
    assert took < BOUND


def test_ctrl_c_interrupts_only_the_main_threads_call(holding: HoldingServer) -> None:
    """The token the main thread's helper triggers is its own: another thread's call on the same
    client goes on (here it is then ended by interrupt())."""
    child_code = r"""
import sys, threading, time
import signal
# What an interactive Python has: a child started from a background job (as CI may run the tests)
# inherits SIGINT ignored, and Python then keeps it ignored.
signal.signal(signal.SIGINT, signal.default_int_handler)
from pieces_user import Client, Interrupted

c = Client(sys.argv[1], timeout=30)
other = []
def run():
    try:
        c.refresh()
    except Interrupted as e:
        other.append("interrupted")
t = threading.Thread(target=run)
t.start()
try:
    c.refresh()
except KeyboardInterrupt:
    print("KeyboardInterrupt", flush=True)
print("other alive:", t.is_alive(), flush=True)
c.interrupt()
t.join(10)
print(other, flush=True)
c.close()
"""
    child = subprocess.Popen(
        [sys.executable, "-c", child_code, holding.url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        holding.wait_held()
        holding.wait_held()
        os.kill(child.pid, signal.SIGINT)
        out, err = child.communicate(timeout=BOUND)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert out.splitlines() == ["KeyboardInterrupt", "other alive: True", "['interrupted']"], (
        out,
        err,
    )


def test_calls_off_the_main_thread_or_with_a_custom_sigint_handler_call_directly(
    holding: HoldingServer,
) -> None:
    from pieces_user import client as client_module

    assert client_module._ctrl_c_needs_a_helper() is (
        threading.current_thread() is threading.main_thread()
        and signal.getsignal(signal.SIGINT) is signal.default_int_handler
    )
    seen: List[Optional[bool]] = [None]

    def probe() -> None:
        seen[0] = client_module._ctrl_c_needs_a_helper()

    t = threading.Thread(target=probe)
    t.start()
    t.join()
    assert seen[0] is False
