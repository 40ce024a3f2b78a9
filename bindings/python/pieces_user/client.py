"""The client: plain dicts in, plain dicts out, one exception class per failure category."""

from __future__ import annotations

import math
import os
import signal
import sys
import threading
import weakref
from ctypes import byref, c_void_p
from typing import TYPE_CHECKING, Any, Callable, Dict, Mapping, Optional, Union, cast

from . import _ffi, _process
from . import errors as E
from ._codec import JSON_CODEC, JsonNumber, decode_document, encode_document
from .types import Auth0User, ReturnedUserProfile, UserBetaStatus, UserProfile

if TYPE_CHECKING:
    from .stream import StreamEvent, UserStream, UserWatcher

__all__ = ["Client", "Document", "JSON_CODEC", "JsonNumber", "decode_document", "discover", "encode_document"]

#: A request document: a dict shaped like the model, or JSON text (``str``/``bytes``) passed as is.
Document = Union[Mapping[str, Any], str, bytes]


def _seconds_to_ms(name: str, seconds: Optional[float]) -> Optional[int]:
    """Seconds (Python's unit for timeouts) to the library's milliseconds, rounding up so that a tiny
    positive timeout never becomes 0 (which the library rejects as a mistake)."""
    if seconds is None:
        return None
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise E.local(E.InvalidArgument, _ffi.INVALID_ARGUMENT, "invalid_argument",
                      f"{name} must be a number of seconds, not {type(seconds).__name__}")
    if not math.isfinite(seconds):
        raise E.local(E.InvalidArgument, _ffi.INVALID_ARGUMENT, "invalid_argument",
                      f"{name} must be finite")
    # Negative values pass through so the library's own range check names the key.
    return int(math.ceil(seconds * 1000))


def discover(
    options: Optional[Mapping[str, Any]] = None,
    *,
    library: Union[str, "os.PathLike[str]", None] = None,
) -> str:
    """Finds a running Pieces OS on this machine and returns its base URL.

    Order: ``$PIECES_BASE_URL``, the port file, a probe of ports 39300–39333, the legacy ports 1000
    and 5323. ``options``: ``ports`` (``[first, last]``), ``port_file`` (``""`` skips it),
    ``legacy_ports``, ``probe_timeout_ms``, ``host``. Raises :class:`NotRunning` when nothing answers.
    """
    lib = _ffi.load(library)
    data = None if options is None else encode_document(options, "discovery options")
    out = c_void_p()
    rc = lib.pieces_discover(data, byref(out))
    if rc != _ffi.OK:
        raise E.raise_for(lib, rc)
    return lib.take_string(out)


_MAIN_THREAD = threading.main_thread().ident


def _ctrl_c_needs_a_helper() -> bool:
    """True on the main thread while Ctrl-C raises KeyboardInterrupt (Python's default handler).

    Python runs signal handlers on the main thread only, and only between bytecodes: a Ctrl-C that
    arrives while the main thread is inside a C call is seen when the call returns (up to the
    timeout). So such calls run on a helper thread (:class:`_MainThreadCalls`) while the main thread
    waits on a lock, which a signal does interrupt. Other threads, and programs that handle SIGINT
    themselves, call directly.
    """
    return (
        threading.get_ident() == _MAIN_THREAD
        and signal.getsignal(signal.SIGINT) is signal.default_int_handler
    )


class _MainThreadCalls:
    """A helper thread that makes the main thread's calls, so that Ctrl-C can interrupt them.

    One per client, started by the first call on the main thread. A ``PiecesCancel`` stays bound on
    the helper thread; Ctrl-C triggers it (only that call is interrupted, not other threads' calls
    on the client), the main thread waits for the call to come back (promptly) and raises
    :class:`KeyboardInterrupt`. The helper then binds a fresh token before its next call. Costs one
    thread switch each way per main-thread call (see the README's measurements).
    """

    def __init__(self, lib: "_ffi.Library") -> None:
        self._lib = lib
        self._go = threading.Lock()
        self._go.acquire()
        self._done = threading.Lock()
        self._done.acquire()
        self._job: Any = None
        self._result: Any = None
        self._cancel = self._new_token()
        self._renew = False
        self._thread = threading.Thread(target=self._loop, name="pieces-user-calls", daemon=True)
        self._thread.start()

    def _new_token(self) -> Any:
        token = _ffi.CancelPtr()
        rc = self._lib.pieces_cancel_new(byref(token))
        if rc != _ffi.OK:
            raise E.raise_for(self._lib, rc)
        return token

    def alive(self) -> bool:
        # False in a child after fork(): the helper thread did not come along.
        return self._thread.is_alive()

    def _loop(self) -> None:
        lib = self._lib
        lib.pieces_cancel_bind(self._cancel)
        while True:
            self._go.acquire()
            job = self._job
            if job is None:
                break
            if self._renew:
                spent, self._cancel = self._cancel, self._new_token()
                lib.pieces_cancel_bind(self._cancel)
                lib.pieces_cancel_free(spent)
                self._renew = False
            fn, args = job
            try:
                rc = fn(*args)
                # The detail is per thread: read it here, on the thread that failed.
                self._result = None if rc == _ffi.OK else lib.last_error(rc)
            except BaseException as e:  # pragma: no cover - ctypes argument errors
                self._result = e
            self._done.release()
        lib.pieces_cancel_bind(None)
        lib.pieces_cancel_free(self._cancel)
        self._done.release()

    def call(self, fn: Callable[..., int], args: Any) -> Any:
        """Runs ``fn(*args)`` on the helper; returns None or the failure's detail dict."""
        self._job = (fn, args)
        try:
            # First in the try: Python raises KeyboardInterrupt only between instructions, and a C
            # call such as release() completes first, so any KeyboardInterrupt caught below comes
            # after the job was handed over and its result must be waited for.
            self._go.release()
            self._done.acquire()
        except KeyboardInterrupt:
            self._lib.pieces_cancel_trigger(self._cancel)
            self._renew = True
            self._wait_done()
            raise
        result = self._result
        if isinstance(result, BaseException):  # pragma: no cover
            raise result
        return result

    def _wait_done(self) -> None:
        while True:
            try:
                self._done.acquire()
                return
            except KeyboardInterrupt:
                pass  # already cancelling; the call is on its way back

    def stop(self) -> None:
        self._job = None
        self._go.release()
        self._wait_done()
        self._thread.join()


class Client:
    """A client for one Pieces OS.

    Thread-safe: share one ``Client`` between threads. Each call blocks its thread only — ctypes
    releases the GIL while the library waits on the network. Use it as a context manager or call
    :meth:`close` (idempotent); a client that is garbage-collected is closed too.

    Interrupting: Ctrl-C during a call on the main thread raises :class:`KeyboardInterrupt` at once
    (within milliseconds, not at the timeout); :meth:`interrupt` makes every call in flight on the
    client raise :class:`Interrupted`; :meth:`close` interrupts calls in flight instead of waiting.

    Timeouts are in seconds: ``timeout`` bounds a whole call (connect, send, wait, read),
    ``connect_timeout`` the connect alone. ``None`` keeps the library's defaults (30 s and 2 s), so a
    call can never block forever.

    ``base_url=None`` uses the library's default (``http://localhost:1000``) unless ``discovery`` is
    given: ``True`` (or a dict of options, see :func:`pieces_user.discover`) finds a running Pieces OS
    when the client is created (:class:`NotRunning` if there is none). An explicit ``base_url`` wins.
    """

    def __init__(
        self,
        base_url: Optional[str] = None,
        application_id: Optional[str] = None,
        access_token: Optional[str] = None,
        timeout: Optional[float] = None,
        *,
        connect_timeout: Optional[float] = None,
        user_agent: Optional[str] = None,
        max_response_bytes: Optional[int] = None,
        tls_ca_file: Union[str, "os.PathLike[str]", None] = None,
        discovery: Union[bool, Mapping[str, Any], None] = None,
        library: Union[str, "os.PathLike[str]", None] = None,
    ) -> None:
        # Set first so that __del__ and close() work even if the constructor fails below.
        self._handle: Any = None
        self._inherited = False  # set in a child after os.fork(): see _process.py
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._in_flight = 0
        self._closing = False
        self._streams: "weakref.WeakSet[UserStream]" = weakref.WeakSet()
        self._main_calls: Optional[_MainThreadCalls] = None
        self._lib = _ffi.load(library)
        config: Dict[str, Any] = {}
        if base_url is not None:
            config["base_url"] = base_url
        if application_id is not None:
            config["application_id"] = application_id
        if access_token is not None:
            config["access_token"] = access_token
        timeout_ms = _seconds_to_ms("timeout", timeout)
        if timeout_ms is not None:
            config["timeout_ms"] = timeout_ms
        connect_ms = _seconds_to_ms("connect_timeout", connect_timeout)
        if connect_ms is not None:
            config["connect_timeout_ms"] = connect_ms
        if user_agent is not None:
            config["user_agent"] = user_agent
        if max_response_bytes is not None:
            config["max_response_bytes"] = max_response_bytes
        if tls_ca_file is not None:
            config["tls_ca_file"] = os.fspath(tls_ca_file)
        if discovery is not None:
            config["discovery"] = discovery if isinstance(discovery, bool) else dict(discovery)
        handle = _ffi.ClientPtr()
        rc = self._lib.pieces_client_new(encode_document(config, "config"), byref(handle))
        if rc != _ffi.OK:
            raise E.raise_for(self._lib, rc)
        self._handle = handle
        _process.track(self)

    # --- lifetime ---------------------------------------------------------------------------------

    def close(self) -> None:
        """Stops this client's streams, interrupts calls in progress on other threads (they raise
        :class:`~pieces_user.Interrupted`), waits for them to return, and frees the client.

        Idempotent. Calls made after ``close`` raise :class:`~pieces_user.ClientClosed`. In a child
        process after ``fork()`` it only lets go of the parent's client.
        """
        if self._inherited:
            self._handle = None
            return
        with self._lock:
            if self._handle is None or self._closing:
                return
            self._closing = True
        # Streams first: the C contract says stop streams, then free their client.
        for stream in list(self._streams):
            stream.close()
        with self._lock:
            while self._in_flight:
                # Again on every round: a call that entered just before `_closing` was set may
                # reach the library only after an earlier interrupt.
                self._lib.pieces_client_interrupt(self._handle)
                self._idle.wait(0.05)
            handle, self._handle = self._handle, None
            main_calls, self._main_calls = self._main_calls, None
        # At interpreter exit the idle helper (a daemon thread) may no longer run: leave it.
        if main_calls is not None and main_calls.alive() and not sys.is_finalizing():
            main_calls.stop()
        self._lib.pieces_client_free(handle)

    def interrupt(self) -> None:
        """Makes every call in flight on this client, on any thread, raise
        :class:`~pieces_user.Interrupted` promptly. Later calls work as usual; streams go on.
        Callable from any thread; does nothing on a closed client."""
        with self._lock:
            # Under the lock: close() cannot free the handle meanwhile.
            if self._handle is not None:
                self._lib.pieces_client_interrupt(self._handle)

    @property
    def closed(self) -> bool:
        return self._handle is None or self._closing

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # pragma: no cover - interpreter shutdown may have torn modules down
            pass

    @property
    def library_version(self) -> str:
        """``pieces_version()`` of the loaded library."""
        return self._lib.version

    @property
    def library_path(self) -> str:
        return self._lib.path

    def _enter(self) -> Any:
        if self._inherited:
            raise E.wrong_process("client")
        with self._lock:
            if self._handle is None or self._closing:
                raise E.local(E.ClientClosed, _ffi.INVALID_ARGUMENT, "invalid_argument",
                              "the client is closed")
            self._in_flight += 1
            return self._handle

    def _leave(self) -> None:
        with self._lock:
            self._in_flight -= 1
            if self._in_flight == 0 and self._closing:
                self._idle.notify_all()

    # --- calls ------------------------------------------------------------------------------------

    def _call(self, fn: Callable[..., int], *args: Any) -> None:
        """``fn(handle, *args)``; raises the failure. Interruptible by Ctrl-C on the main thread."""
        handle = self._enter()
        try:
            if _ctrl_c_needs_a_helper():
                detail = self._main_thread_calls().call(fn, (handle,) + args)
            else:
                rc = fn(handle, *args)
                detail = None if rc == _ffi.OK else self._lib.last_error(rc)
        finally:
            self._leave()
        if detail is not None:
            raise E.from_detail(detail)

    def _call_out(self, fn: Callable[..., int], *args: Any) -> bytes:
        """:meth:`_call` for a function whose last argument is a ``char **`` result."""
        out = c_void_p()
        try:
            self._call(fn, *args, byref(out))
        except KeyboardInterrupt:
            self._lib.take_bytes(out)  # frees a result that arrived together with the Ctrl-C
            raise
        return self._lib.take_bytes(out)

    def _main_thread_calls(self) -> _MainThreadCalls:
        calls = self._main_calls
        if calls is None or not calls.alive():
            calls = self._main_calls = _MainThreadCalls(self._lib)
        return calls

    def _get(self, fn: Callable[..., int]) -> Any:
        return decode_document(self._call_out(fn))

    def _post(self, fn: Callable[..., int], doc: Any, what: str) -> Any:
        return decode_document(self._call_out(fn, encode_document(doc, what)))

    def snapshot(self) -> ReturnedUserProfile:
        """GET /user: ``{"user": {...}}``, or ``{"user": None}`` / ``{}`` when nobody is signed in."""
        return cast(ReturnedUserProfile, self._get(self._lib.pieces_user_snapshot))

    def refresh(self) -> UserProfile:
        """GET /user/refresh: the freshly fetched profile (:class:`ServerError` when signed out)."""
        return cast(UserProfile, self._get(self._lib.pieces_user_refresh))

    def providers(self) -> ReturnedUserProfile:
        """GET /user/providers (a local Pieces OS raises :class:`NotImplementedLocally`)."""
        return cast(ReturnedUserProfile, self._get(self._lib.pieces_user_providers))

    def select(self, auth0_user: Union[Auth0User, str, bytes]) -> UserProfile:
        """POST /user/select: makes the Auth0 user current; sends ``access_token`` as the bearer."""
        return cast(UserProfile, self._post(self._lib.pieces_user_select, auth0_user, "auth0_user"))

    def update(self, profile: Union[UserProfile, str, bytes]) -> UserProfile:
        """POST /user/update: stores the profile and returns it as Pieces OS has it."""
        return cast(UserProfile, self._post(self._lib.pieces_user_update, profile, "profile"))

    def update_vanity(self, profile: Union[UserProfile, str, bytes]) -> UserProfile:
        """POST /user/update/vanity: the profile's ``vanityname`` is the new name (:class:`Conflict` if taken)."""
        return cast(UserProfile, self._post(self._lib.pieces_user_update_vanity, profile, "profile"))

    def beta_status(self, status: Union[UserBetaStatus, str, bytes]) -> UserBetaStatus:
        """POST /user/beta/status: grants or revokes a beta; echoes the resulting status."""
        return cast(UserBetaStatus, self._post(self._lib.pieces_user_beta_status, status, "status"))

    def clear(self) -> None:
        """POST /user/clear: signs the current user out."""
        self._call(self._lib.pieces_user_clear)

    def stream_url(self) -> str:
        """The ``ws://``/``wss://`` URL of /user/stream for this client."""
        return self._call_out(self._lib.pieces_user_stream_url).decode("utf-8")

    # --- the user stream --------------------------------------------------------------------------

    def user_stream(
        self,
        options: Optional[Mapping[str, Any]] = None,
        *,
        timeout: Optional[float] = None,
    ) -> "UserStream":
        """Starts /user/stream and returns an iterator of :class:`StreamEvent` (use it in ``with``).

        ``options`` are the library's stream options (``reconnect_min_ms``, ``reconnect_max_ms``,
        ``max_attempts``, ``ping_interval_ms``, ``ping_timeout_ms``, ``queue_size``,
        ``max_frame_bytes``). With ``timeout`` (seconds), iteration raises :class:`StreamTimeout`
        when no event arrives in time; without it, iteration waits (Ctrl-C still works).
        """
        from .stream import UserStream

        return UserStream(self, options, timeout)

    def watch_user(
        self,
        callback: "Callable[[StreamEvent], object]",
        options: Optional[Mapping[str, Any]] = None,
        *,
        on_error: "Optional[Callable[[BaseException], object]]" = None,
    ) -> "UserWatcher":
        """Starts /user/stream and calls ``callback(event)`` for each event on a Python thread.

        The callback never runs on the library's own thread: a Python thread pulls events and calls
        it, so it may block or call this client. An exception from the callback goes to ``on_error``
        (default: logged) and the stream goes on. Stop with ``.stop()`` or a ``with`` block.
        """
        from .stream import UserWatcher

        return UserWatcher(self, callback, options, on_error)
