"""The user stream (/user/stream) over the library's pull API.

The library runs the WebSocket (reconnects, pings, backoff) on its own thread and queues events;
Python pulls them with ``pieces_stream_next``. No Python code ever runs on the library's thread, so
a slow or failing callback cannot stall or break the connection, and no ctypes callback can fire
while the interpreter is shutting down.

Pulls wait in short slices so that Ctrl-C reaches the main thread while it iterates: a signal
handler only runs when the foreign call returns to the interpreter.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
import weakref
from ctypes import byref, c_int32, c_void_p
from typing import TYPE_CHECKING, Any, Callable, Mapping, Optional, cast

from . import _ffi, _process
from . import errors as E
from .client import decode_document
from .types import UserProfile

if TYPE_CHECKING:
    from .client import Client

__all__ = ["StreamEvent", "UserStream", "UserWatcher"]

_log = logging.getLogger("pieces_user")

# Longest single wait inside the library; bounds how late Ctrl-C and close() from another thread land.
_SLICE_S = 0.2

# Streams and watchers still alive, closed by the atexit hook below.
_live_streams: "weakref.WeakSet[UserStream]" = weakref.WeakSet()
_live_watchers: "weakref.WeakSet[UserWatcher]" = weakref.WeakSet()


class StreamEvent:
    """One event of the user stream.

    ``kind`` is one of ``connected``, ``user``, ``signed_out``, ``error``, ``disconnected``,
    ``reconnecting``, ``overflow``, ``stopped``; ``code`` is its number in the C ABI. ``data`` is the
    event's JSON document, parsed on first access (``None`` if the event carries none). For ``user``
    events :attr:`user` is the profile.
    """

    __slots__ = ("code", "kind", "raw", "_data", "_parsed")

    def __init__(self, code: int, raw: bytes) -> None:
        self.code = code
        self.kind = _ffi.EVENT_KINDS.get(code, f"unknown_{code}")
        #: The event's JSON text exactly as the library delivered it.
        self.raw = raw
        self._data: Any = None
        self._parsed = False

    @property
    def data(self) -> Any:
        # Parsed lazily: a host that only reacts to the kind (or hands the text on) pays nothing.
        if not self._parsed:
            self._data = decode_document(self.raw) if self.raw else None
            self._parsed = True
        return self._data

    @property
    def user(self) -> Optional[UserProfile]:
        """The profile of a ``user`` event; ``None`` for every other kind."""
        if self.code != 2:
            return None
        data = self.data
        # Accept both shapes a library may deliver: the profile itself or an envelope {"user": …}.
        if isinstance(data, dict) and "id" not in data and isinstance(data.get("user"), dict):
            return cast(UserProfile, data["user"])
        return cast(Optional[UserProfile], data)

    def __repr__(self) -> str:
        return f"StreamEvent(kind={self.kind!r}, bytes={len(self.raw)})"


class UserStream:
    """An iterator of :class:`StreamEvent`; create it with :meth:`Client.user_stream`.

    Iteration ends after the ``stopped`` event. :meth:`stop` asks the library to stop (iteration
    then drains what is queued and ends); :meth:`close` stops and frees. Leaving a ``with`` block,
    garbage collection and interpreter exit all close the stream.
    """

    def __init__(
        self,
        client: "Client",
        options: Optional[Mapping[str, Any]],
        timeout: Optional[float],
    ) -> None:
        from .client import encode_document

        self._handle: Any = None
        self._inherited = False  # set in a child after os.fork(): see _process.py
        # RLock: close() may be called from the thread that is iterating (between two pulls).
        self._pull_lock = threading.RLock()
        self._state_lock = threading.Lock()
        self._stopping = False
        self._ended = False
        self._client = client  # keeps the client alive while the stream runs
        self._lib = client._lib
        self._timeout = timeout
        opts = None if options is None else encode_document(options, "stream options")
        handle = _ffi.StreamPtr()
        client_handle = client._enter()
        try:
            # NULL callback = pull mode; no user data, no release.
            rc = self._lib.pieces_user_stream_start(
                client_handle, opts, _ffi.NULL_CALLBACK, None, _ffi.NULL_RELEASE, byref(handle)
            )
        finally:
            client._leave()
        if rc != _ffi.OK:
            raise E.raise_for(self._lib, rc)
        self._handle = handle
        client._streams.add(self)
        _live_streams.add(self)
        _process.track(self)

    # --- pulling ----------------------------------------------------------------------------------

    def next_event(self, timeout: Optional[float] = None) -> Optional[StreamEvent]:
        """The next event, waiting at most ``timeout`` seconds (``None``: as long as it takes).

        Returns ``None`` when the timeout expires; raises :class:`StreamEnded` once the stream has
        delivered ``stopped`` or was closed.
        """
        if self._inherited:
            raise E.wrong_process("stream")
        deadline = None if timeout is None else time.monotonic() + max(0.0, timeout)
        lib = self._lib
        kind = c_int32()
        out = c_void_p()
        with self._pull_lock:
            while True:
                handle = self._handle
                if handle is None or self._ended:
                    raise E.local(E.StreamEnded, _ffi.STREAM_ENDED, "stream_ended", "the stream has ended")
                if deadline is None:
                    wait = _SLICE_S
                else:
                    wait = min(_SLICE_S, max(0.0, deadline - time.monotonic()))
                rc = lib.pieces_stream_next(handle, int(wait * 1000), byref(kind), byref(out))
                if rc == _ffi.OK:
                    event = StreamEvent(kind.value, lib.take_bytes(out))
                    if event.code == _ffi.EVENT_STOPPED:
                        self._ended = True
                    return event
                if rc == _ffi.STREAM_TIMEOUT:
                    if deadline is not None and time.monotonic() >= deadline:
                        return None
                    continue
                if rc == _ffi.STREAM_ENDED:
                    self._ended = True
                raise E.raise_for(lib, rc)

    def __iter__(self) -> "UserStream":
        return self

    def __next__(self) -> StreamEvent:
        try:
            event = self.next_event(self._timeout)
        except E.StreamEnded:
            raise StopIteration from None
        if event is None:
            raise E.local(E.StreamTimeout, _ffi.STREAM_TIMEOUT, "stream_timeout",
                          f"no stream event within {self._timeout} s")
        return event

    # --- lifetime ---------------------------------------------------------------------------------

    def stop(self) -> None:
        """Asks the library to stop; queued events and the final ``stopped`` can still be read."""
        if self._inherited:
            raise E.wrong_process("stream")
        with self._state_lock:
            handle = self._handle
            if handle is None or self._stopping:
                return
            self._stopping = True
        rc = self._lib.pieces_stream_stop(handle)
        if rc != _ffi.OK:
            raise E.raise_for(self._lib, rc)

    def close(self) -> None:
        """Stops and frees the stream. Idempotent; safe from any thread. In a child process after
        ``fork()`` it only lets go of the parent's stream (whose thread is not in this process)."""
        if self._inherited:
            self._handle = None
            self._ended = True
            return
        with self._state_lock:
            handle = self._handle
            if handle is None:
                return
            stopping, self._stopping = self._stopping, True
        if not stopping:
            self._lib.pieces_stream_stop(handle)
        # Wait until no thread is inside pieces_stream_next with this handle, then free it.
        with self._pull_lock:
            with self._state_lock:
                handle, self._handle = self._handle, None
            if handle is not None:
                self._lib.pieces_stream_free(handle)
        self._ended = True

    @property
    def closed(self) -> bool:
        return self._handle is None

    def __enter__(self) -> "UserStream":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # pragma: no cover - interpreter shutdown may have torn modules down
            pass


class UserWatcher:
    """Calls a function for every stream event, on a Python thread of its own.

    Create it with :meth:`Client.watch_user`. :meth:`stop` stops the stream, lets the thread deliver
    the remaining events (``stopped`` last) and waits for it, unless called from the callback itself.
    """

    def __init__(
        self,
        client: "Client",
        callback: Callable[[StreamEvent], object],
        options: Optional[Mapping[str, Any]],
        on_error: Optional[Callable[[BaseException], object]],
    ) -> None:
        self._stream = UserStream(client, options, None)
        self._callback = callback
        self._on_error = on_error
        # Daemon: a watcher must never keep the interpreter alive; the atexit hook stops it cleanly.
        self._thread = threading.Thread(target=self._run, name="pieces-user-stream", daemon=True)
        _live_watchers.add(self)
        self._thread.start()

    def _report(self, exc: BaseException) -> None:
        if self._on_error is not None:
            try:
                self._on_error(exc)
                return
            except Exception as nested:
                exc = nested
        _log.error("pieces_user: stream callback failed", exc_info=exc)

    def _run(self) -> None:
        stream = self._stream
        try:
            while True:
                try:
                    event = stream.next_event(None)
                except E.StreamEnded:
                    return
                except E.PiecesError as exc:
                    self._report(exc)
                    return
                if event is None:  # pragma: no cover - next_event(None) waits until an event
                    continue
                try:
                    self._callback(event)
                except Exception as exc:
                    self._report(exc)
                if event.code == _ffi.EVENT_STOPPED:
                    return
        finally:
            stream.close()

    def stop(self, timeout: Optional[float] = 10.0) -> None:
        """Stops the stream and waits (up to ``timeout`` seconds) for the last callback to return."""
        self._stream.stop()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    def join(self, timeout: Optional[float] = None) -> None:
        """Waits for the watcher's thread to end (after ``stopped`` or a failure)."""
        self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def __enter__(self) -> "UserWatcher":
        return self

    def __exit__(self, *exc: object) -> None:
        if not self._stream._inherited:  # a child after fork(): nothing of ours to stop
            self.stop()


@atexit.register
def _close_all_at_exit() -> None:
    """Stops every stream before the interpreter finalizes.

    Without this, a watcher thread blocked in ``pieces_stream_next`` would return into an
    interpreter that is being torn down, and the library's threads would still be running while
    the process exits. atexit runs before daemon threads are abandoned.
    """
    for watcher in list(_live_watchers):
        try:
            watcher.stop(timeout=2.0)
        except Exception:
            pass
    for stream in list(_live_streams):
        try:
            stream.close()
        except Exception:
            pass
