"""One Client shared by many threads; the GIL is released while the library waits."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, List

import pieces_user
from pieces_user import Client
from support import Standin, load_fixture


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


def test_the_gil_is_released_during_a_blocking_call(standin: Standin) -> None:
    standin.admin("delay?ms=400")
    with Client(standin.url, timeout=10) as c:
        # 8 calls of 400 ms each: serialized they would take 3.2 s.
        start = time.monotonic()
        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(lambda _: c.snapshot(), range(8)))
        elapsed = time.monotonic() - start
        assert all(r.get("user") for r in results)
        assert elapsed < 1.6, f"8 concurrent calls took {elapsed:.2f} s"

        # And pure-Python work runs meanwhile: a counter thread advances during one blocked call.
        count = [0]
        stop = threading.Event()

        def spin() -> None:
            while not stop.is_set():
                count[0] += 1

        t = threading.Thread(target=spin)
        t.start()
        before = count[0]
        c.snapshot()
        during = count[0] - before
        stop.set()
        t.join()
        assert during > 1000, f"the counter advanced only {during} times during a 400 ms call"


def test_close_interrupts_calls_in_flight_and_waits_for_them(standin: Standin) -> None:
    standin.admin("delay?ms=3000")
    c = Client(standin.url, timeout=10)
    results: List[Any] = []
    started = threading.Event()

    def call() -> None:
        started.set()
        try:
            results.append(c.snapshot())
        except pieces_user.PiecesError as e:
            results.append(e)

    t = threading.Thread(target=call)
    t.start()
    started.wait()
    time.sleep(0.05)  # let the call enter the library; close() must then interrupt it
    at = time.monotonic()
    c.close()
    # close() returned only once the call had: its outcome is already there.
    assert len(results) == 1, results
    assert time.monotonic() - at < 2.5, "close() waited for the 3 s answer"
    t.join()
    # Interrupted; ClientClosed only if the call had not reached the library in 50 ms.
    assert isinstance(results[0], (pieces_user.Interrupted, pieces_user.ClientClosed)), results
