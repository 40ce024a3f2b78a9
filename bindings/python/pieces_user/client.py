"""The client: plain dicts in, plain dicts out, one exception class per failure category."""

from __future__ import annotations

import math
import os
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


class Client:
    """A client for one Pieces OS.

    Thread-safe: share one ``Client`` between threads. Each call blocks its thread only — ctypes
    releases the GIL while the library waits on the network. Use it as a context manager or call
    :meth:`close` (idempotent); a client that is garbage-collected is closed too.

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
        """Stops this client's streams, waits for calls in progress on other threads, frees the client.

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
                self._idle.wait()
            handle, self._handle = self._handle, None
        self._lib.pieces_client_free(handle)

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

    def _get(self, fn: Callable[..., int]) -> Any:
        out = c_void_p()
        handle = self._enter()
        try:
            rc = fn(handle, byref(out))
        finally:
            self._leave()
        if rc != _ffi.OK:
            raise E.raise_for(self._lib, rc)
        return decode_document(self._lib.take_bytes(out))

    def _post(self, fn: Callable[..., int], doc: Any, what: str) -> Any:
        data = encode_document(doc, what)
        out = c_void_p()
        handle = self._enter()
        try:
            rc = fn(handle, data, byref(out))
        finally:
            self._leave()
        if rc != _ffi.OK:
            raise E.raise_for(self._lib, rc)
        return decode_document(self._lib.take_bytes(out))

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
        handle = self._enter()
        try:
            rc = self._lib.pieces_user_clear(handle)
        finally:
            self._leave()
        if rc != _ffi.OK:
            raise E.raise_for(self._lib, rc)

    def stream_url(self) -> str:
        """The ``ws://``/``wss://`` URL of /user/stream for this client."""
        out = c_void_p()
        handle = self._enter()
        try:
            rc = self._lib.pieces_user_stream_url(handle, byref(out))
        finally:
            self._leave()
        if rc != _ffi.OK:
            raise E.raise_for(self._lib, rc)
        return self._lib.take_string(out)

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
