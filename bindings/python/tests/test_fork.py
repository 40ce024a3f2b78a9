"""os.fork(): a Client and its streams belong to the process that created them.

The child inherits a client with a pooled connection, a pull stream and a watcher. Every call on them
must raise WrongProcess (the library is not reached for Python objects; the C ABI says the same
for the raw handle), closing and collecting them must be harmless, and a new client in the child
works. The parent must not notice. The child reports through a pipe and leaves with os._exit.
"""

from __future__ import annotations

import gc
import os
import select
import signal
import threading
import time
import traceback
from ctypes import byref, c_void_p
from typing import Callable, List

import pytest

import pieces_user
from pieces_user import Client, StreamEvent, WrongProcess
from support import Standin

PROFILE = {"id": "u-fork", "vanityname": "before", "aesthetics": {"font": {"size": 14}, "theme": {"dark": True}}}


class Unreachable:
    """Stands in for the library in the child: calling any of its functions is a failure."""

    def __getattr__(self, name: str) -> Callable[..., object]:
        def call(*args: object) -> object:
            raise AssertionError(f"the library was called: {name}")

        return call


def first_user(events: pieces_user.UserStream) -> bool:
    for _ in range(100):
        event = events.next_event(0.1)
        if event is not None and event.kind == "user":
            return True
    return False


def run_in_child(checks: Callable[[], None], deadline_s: float = 20.0) -> List[str]:
    """Runs ``checks`` in a forked child; returns its failures (empty when all held). A child that
    hangs is killed after ``deadline_s`` and reported."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        os.close(read_end)
        try:
            checks()
            report = ""
        except BaseException:
            report = traceback.format_exc()
        os.write(write_end, report.encode() or b"ok")
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        if select.select([pipe], [], [], deadline_s)[0]:
            report = pipe.read().decode()
        else:
            os.kill(pid, signal.SIGKILL)
            report = f"the child hung for {deadline_s} s"
    _, status = os.waitpid(pid, 0)
    failures = [] if report == "ok" else [report or "the child reported nothing"]
    if not (os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0):
        failures.append(f"child exit status {status:#x}")
    return failures


def expect_wrong_process(call: Callable[[], object]) -> None:
    with pytest.raises(WrongProcess) as e:
        call()
    assert e.value.code == 27 and e.value.category == "wrong_process", repr(e.value)
    assert "another process" in e.value.message and "create a new one" in e.value.message


def test_a_forked_child_cannot_use_inherited_objects_and_the_parent_is_unaffected(standin: Standin) -> None:
    client = Client(standin.url, timeout=5)
    client.update(PROFILE)  # a pooled keep-alive connection
    stream = client.user_stream(timeout=10)
    assert first_user(stream)
    seen: List[StreamEvent] = []
    got_user = threading.Event()

    def on_event(event: StreamEvent) -> None:
        seen.append(event)
        if event.kind == "user":
            got_user.set()

    watcher = client.watch_user(on_event)
    assert got_user.wait(10)

    def in_child() -> None:
        # The raw handle, past the Python layer: the library refuses it too.
        out = c_void_p()
        assert client._lib.pieces_user_snapshot(client._handle, byref(out)) == 27
        assert out.value is None
        # From here on, the library must not be reached at all.
        client._lib = stream._lib = Unreachable()
        expect_wrong_process(client.snapshot)
        expect_wrong_process(lambda: client.update(PROFILE))
        expect_wrong_process(client.clear)
        expect_wrong_process(client.stream_url)
        expect_wrong_process(client.user_stream)
        expect_wrong_process(lambda: stream.next_event(0))
        expect_wrong_process(lambda: next(stream))
        expect_wrong_process(stream.stop)
        expect_wrong_process(watcher.stop)
        # Closing and collecting inherited objects is harmless, also in a with block.
        with watcher:
            pass
        stream.close()
        client.close()
        gc.collect()
        # A client made in the child works.
        with Client(standin.url, timeout=5) as own:
            assert own.snapshot()["user"]["id"] == "u-fork"  # type: ignore[index]

    assert run_in_child(in_child) == []

    # The parent's client, pool, stream and watcher carry on.
    got_user.clear()
    client.update({**PROFILE, "vanityname": "after"})
    assert first_user(stream)
    assert got_user.wait(10)
    kinds_before_stop = [e.kind for e in seen]
    assert "disconnected" not in kinds_before_stop and "reconnecting" not in kinds_before_stop
    watcher.stop()
    stream.close()
    client.close()


def test_a_call_in_flight_in_the_parent_does_not_hold_up_the_child(standin: Standin) -> None:
    """close() waits for calls in flight; the child must not wait for a call of a parent thread."""
    client = Client(standin.url, timeout=10)
    standin.admin("delay?ms=3000")
    caller = threading.Thread(target=client.snapshot)
    caller.start()
    deadline = time.monotonic() + 10
    while client._in_flight == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert client._in_flight == 1

    def in_child() -> None:
        client.close()  # would wait forever for the parent thread's call
        expect_wrong_process(client.snapshot)

    try:
        assert run_in_child(in_child, deadline_s=10) == []
    finally:
        standin.admin("reset")
        caller.join(15)
        client.close()


def test_objects_made_after_the_fork_in_the_child_are_usable_there(standin: Standin) -> None:
    """Only inherited objects are marked: a fork before any client exists changes nothing."""

    def in_child() -> None:
        with Client(standin.url, timeout=5) as c, c.user_stream(timeout=10) as events:
            assert c.snapshot()["user"] is not None
            assert first_user(events)

    assert run_in_child(in_child) == []


def test_wrong_process_is_mapped_from_the_c_status() -> None:
    from pieces_user import errors

    e = errors.from_detail({"code": 27, "name": "PIECES_ERR_WRONG_PROCESS", "category": "wrong_process",
                            "message": "m"})
    assert isinstance(e, WrongProcess) and isinstance(e, pieces_user.PiecesError)
