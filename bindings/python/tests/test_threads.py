"""One Client shared by many threads; the GIL is released while the library waits."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, List

import pieces_user
from pieces_user import Client
from support import RawServer, Standin, http_response, load_fixture


def test_many_threads_share_one_client(standin: Standin) -> None:
    expected = {"user": load_fixture("UserProfile.max.json")}
    with Client(standin.url, timeout=10) as c:

        def work(i: int) -> int:
            ok = 0
            for _ in range(40):
                assert c.snapshot() == expected
                ok += 1
            return ok

        with ThreadPoolExecutor(16) as pool:
            assert sum(pool.map(work, range(16))) == 16 * 40


def test_the_gil_is_released_during_a_blocking_call(raw_server: Callable[..., RawServer]) -> None:
    # The server is Python too: it can read the requests, and this thread can see them held, only
    # while the calls wait in the library without the GIL. A call that kept the GIL would stall
    # everything until its 10 s timeout, and fewer than 8 requests would ever be held at once.
    server = raw_server(http_response("200 OK", b'{"user":null}'), hold=True)
    with Client(server.url, timeout=10) as c, ThreadPoolExecutor(8) as pool:
        calls = [pool.submit(c.snapshot) for _ in range(8)]
        all_held = server.wait_held(8)
        server.release()
        results = [f.result() for f in calls]
    assert all_held, f"only {server.held} of 8 calls were in flight at once"
    assert results == [{"user": None}] * 8


def test_close_interrupts_calls_in_flight_and_waits_for_them(
    raw_server: Callable[..., RawServer],
) -> None:
    # The server holds the call until release(): a close() that waited for it would hang until the
    # call's 30 s timeout; one that did not wait would return before the call's outcome exists.
    server = raw_server(http_response("200 OK", b'{"user":null}'), hold=True)
    c = Client(server.url, timeout=30)
    results: List[Any] = []

    def call() -> None:
        try:
            results.append(c.snapshot())
        except pieces_user.PiecesError as e:
            results.append(e)

    caller = threading.Thread(target=call)
    caller.start()
    try:
        assert server.wait_held(1), "the call never reached the server"
        start = time.monotonic()
        c.close()
        took = time.monotonic() - start
        assert len(results) == 1, "close() returned before the call it interrupted"
        assert isinstance(results[0], pieces_user.Interrupted), results
        assert took < 10, f"close() took {took:.1f} s: it waited instead of interrupting"
    finally:
        server.release()
        caller.join(10)
