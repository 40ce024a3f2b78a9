"""The user stream from Python: iterator and callback forms, timeouts, restart of the server,
garbage collection, and interpreter exit with streams still running."""

from __future__ import annotations

import copy
import gc
import os
import queue
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any, Callable, List, Optional

import pytest

import pieces_user
from pieces_user import Client, StreamEvent, UserStream
from support import Standin, load_fixture

FAST = {"reconnect_min_ms": 20, "reconnect_max_ms": 200}


def until(stream: UserStream, kind: str, timeout: float = 10.0,
          match: Optional[Callable[[StreamEvent], bool]] = None) -> List[StreamEvent]:
    """Events up to and including the first of ``kind`` (that ``match`` accepts)."""
    deadline = time.monotonic() + timeout
    seen: List[StreamEvent] = []
    while True:
        left = deadline - time.monotonic()
        event = stream.next_event(max(0.0, left))
        if event is None:
            raise AssertionError(f"no {kind} event within {timeout} s; saw {[e.kind for e in seen]}")
        seen.append(event)
        if event.kind == kind and (match is None or match(event)):
            return seen


def connected(stream: UserStream) -> List[StreamEvent]:
    """The events of a new connection, which come in a known order: connected, the user from
    GET /user, then the stand-in's push on connect. After them the stream is quiet."""
    seen = [stream.next_event(10.0) for _ in range(3)]
    assert [e.kind if e else None for e in seen] == ["connected", "user", "user"], seen
    return [e for e in seen if e is not None]


def profile_with_font(size: int) -> Any:
    p = load_fixture("UserProfile.max.json")
    p["aesthetics"]["font"]["size"] = size
    return p


def test_iterator_delivers_connect_state_and_changes_in_order(standin: Standin) -> None:
    with Client(standin.url, timeout=5) as c, c.user_stream(FAST, timeout=10) as events:
        first = connected(events)
        assert first[1].user == first[2].user == load_fixture("UserProfile.max.json")
        with Client(standin.url, timeout=5) as other:
            for size in (21, 22, 23):
                other.update(profile_with_font(size))
            sizes = []
            while len(sizes) < 3:
                ev = next(events)
                if ev.kind == "user":
                    assert ev.user is not None
                    sizes.append(ev.user["aesthetics"]["font"]["size"])
            assert sizes == [21, 22, 23]
            other.clear()
        signed_out = until(events, "signed_out")[-1]
        assert signed_out.data is None and signed_out.user is None


def test_iterator_timeout_raises_stream_timeout(standin: Standin) -> None:
    with Client(standin.url, timeout=5) as c, c.user_stream(FAST, timeout=0.3) as events:
        connected(events)
        start = time.monotonic()
        with pytest.raises(pieces_user.StreamTimeout) as e:
            next(events)
        # Not early (timers do not fire early, so -20 % is safe), and bounded at all.
        assert 0.25 <= time.monotonic() - start < 10.0
        assert isinstance(e.value, pieces_user.Timeout) and e.value.code == 30


def test_stop_drains_to_stopped_then_iteration_ends(standin: Standin) -> None:
    with Client(standin.url, timeout=5) as c:
        events = c.user_stream(FAST, timeout=10)
        until(events, "user")
        events.stop()
        rest = list(events)
        assert rest and rest[-1].kind == "stopped"
        with pytest.raises(pieces_user.StreamEnded):
            events.next_event(0.1)
        events.close()
        events.close()
        assert events.closed


def test_unknown_stream_option_is_named(standin: Standin) -> None:
    with Client(standin.url, timeout=5) as c, pytest.raises(pieces_user.InvalidArgument) as e:
        c.user_stream({"reconnect_min": 5})
    assert "reconnect_min" in e.value.message


def test_reconnects_after_a_standin_restart(standin: Standin) -> None:
    with Client(standin.url, timeout=5) as c, c.user_stream(FAST, timeout=15) as events:
        connected(events)
        standin.restart()
        seen = until(events, "user")
        kinds = [e.kind for e in seen]
        assert "disconnected" in kinds and "connected" in kinds, kinds
        assert kinds.index("disconnected") < kinds.index("connected")


def test_garbage_frame_is_an_error_event_and_the_stream_goes_on(standin: Standin) -> None:
    with Client(standin.url, timeout=5) as c, c.user_stream(FAST, timeout=10) as events:
        until(events, "user")
        standin.admin("stream/garbage")
        err = until(events, "error")[-1]
        assert isinstance(err.data, dict) and err.data.get("kind")
        with Client(standin.url, timeout=5) as other:
            other.update(profile_with_font(44))
        ev = until(events, "user", match=lambda e: e.user is not None
                   and e.user["aesthetics"]["font"]["size"] == 44)[-1]
        assert ev.user is not None


def test_overflow_when_the_reader_falls_behind(standin: Standin) -> None:
    with Client(standin.url, timeout=5) as c, c.user_stream({**FAST, "queue_size": 4}, timeout=10) as events:
        connected(events)
        with Client(standin.url, timeout=5) as other:
            for size in range(50, 70):
                other.update(profile_with_font(size))
        # Wait for the last change to be queued, then read: overflow first, newest state kept.
        seen = until(events, "user", match=lambda e: e.user is not None
                     and e.user["aesthetics"]["font"]["size"] == 69)
        kinds = [e.kind for e in seen]
        assert "overflow" in kinds, kinds


def test_callback_form_runs_on_a_python_thread(standin: Standin) -> None:
    got: "queue.Queue[StreamEvent]" = queue.Queue()
    threads = set()
    errors: List[BaseException] = []

    def on_event(ev: StreamEvent) -> None:
        threads.add(threading.current_thread().name)
        got.put(ev)
        if ev.kind == "user" and ev.user and ev.user["aesthetics"]["font"]["size"] == 13:
            raise RuntimeError("a failing callback must not end the stream")

    with Client(standin.url, timeout=5) as c:
        watcher = c.watch_user(on_event, FAST, on_error=errors.append)

        def wait_for(pred: Callable[[StreamEvent], bool]) -> StreamEvent:
            deadline = time.monotonic() + 10
            while True:
                ev = got.get(timeout=max(0.01, deadline - time.monotonic()))
                if pred(ev):
                    return ev

        wait_for(lambda e: e.kind == "user")
        with Client(standin.url, timeout=5) as other:
            other.update(profile_with_font(13))
            wait_for(lambda e: e.kind == "user" and e.user is not None
                     and e.user["aesthetics"]["font"]["size"] == 13)
            other.update(profile_with_font(14))
            wait_for(lambda e: e.kind == "user" and e.user is not None
                     and e.user["aesthetics"]["font"]["size"] == 14)
        assert len(errors) == 1 and isinstance(errors[0], RuntimeError)
        watcher.stop()
        assert not watcher.running
        last = None
        while not got.empty():
            last = got.get_nowait()
        assert last is not None and last.kind == "stopped"
    assert threads == {"pieces-user-stream"}


def test_stop_from_inside_the_callback(standin: Standin) -> None:
    done = threading.Event()
    kinds: List[str] = []
    holder: List[Any] = []

    ready = threading.Event()

    def on_event(ev: StreamEvent) -> None:
        kinds.append(ev.kind)
        if ev.kind == "user":
            ready.wait(10)  # the first event may arrive before watch_user() has returned
            holder[0].stop()
        if ev.kind == "stopped":
            done.set()

    with Client(standin.url, timeout=5) as c:
        holder.append(c.watch_user(on_event, FAST))
        ready.set()
        assert done.wait(10), kinds
        holder[0].join(5)
        assert not holder[0].running
    assert kinds[-1] == "stopped"


def _thread_count() -> int:
    """The library's stream threads in this process (Linux shows their names, cut to 15 bytes).
    Counting only these keeps other tests' helper threads, which end when they like, out of it."""
    count = 0
    for task in os.listdir("/proc/self/task"):
        try:
            name = Path(f"/proc/self/task/{task}/comm").read_text().strip()
        except OSError:  # the thread ended meanwhile
            continue
        count += name == "pieces-user-stream"[:15]
    return count


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc to count threads")
def test_a_garbage_collected_stream_stops(standin: Standin) -> None:
    with Client(standin.url, timeout=5) as c:
        gc.collect()
        baseline = _thread_count()
        stream = c.user_stream(FAST, timeout=10)
        until(stream, "user")
        assert _thread_count() > baseline
        del stream
        gc.collect()
        deadline = time.monotonic() + 10
        while _thread_count() > baseline and time.monotonic() < deadline:
            time.sleep(0.02)
        assert _thread_count() == baseline


def test_client_close_stops_its_streams(standin: Standin) -> None:
    c = Client(standin.url, timeout=5)
    stream = c.user_stream(FAST, timeout=10)
    until(stream, "user")
    c.close()
    assert stream.closed
    with pytest.raises(pieces_user.StreamEnded):
        stream.next_event(0.1)


EXIT_SCRIPT = textwrap.dedent(
    """
    import sys, threading
    import pieces_user

    client = pieces_user.Client(sys.argv[1], timeout=5)
    stream = client.user_stream({"reconnect_min_ms": 20})
    assert stream.next_event(10) is not None
    seen = threading.Event()
    watcher = client.watch_user(lambda ev: seen.set())
    assert seen.wait(10)
    # A third stream whose server goes away: it is reconnecting at exit.
    print("running", flush=True)
    if sys.argv[2] == "exception":
        raise SystemExit(0)
    """
)


@pytest.mark.parametrize("how", ["fall-off-the-end", "exception"])
def test_exit_with_streams_running_is_clean(standin: Standin, tmp_path: Path, how: str) -> None:
    script = tmp_path / "exit_with_streams.py"
    script.write_text(EXIT_SCRIPT)
    proc = subprocess.run(
        [sys.executable, str(script), standin.url, how],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert "running" in proc.stdout
    assert "panic" not in proc.stderr.lower() and "abort" not in proc.stderr.lower(), proc.stderr
