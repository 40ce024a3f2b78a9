"""The asyncio client: :class:`AsyncClient` and its user stream.

Calls run on a small pool of worker threads owned by the client, never on the event loop. Each
worker keeps a ``PiecesCancel`` bound to itself; cancelling the awaiting task triggers the token of
the worker running that call, so the library abandons that call (and only that one) within
milliseconds instead of at the HTTP timeout. A token is one-shot: the worker binds a fresh one
after a triggered call.

The stream uses the library's callback mode: the library's stream thread hands each event to a
bounded queue (the same drop rules as the library's pull queue, see :class:`_EventQueue`) and wakes
the loop with ``call_soon_threadsafe`` only when a consumer waits. No Python thread polls.
"""

from __future__ import annotations

import asyncio
import atexit
import inspect
import itertools
import logging
import os
import queue
import threading
import weakref
from collections import deque
from ctypes import byref, c_void_p
from typing import Any, Callable, Deque, List, Mapping, Optional, Tuple, TypeVar, Union

from . import _ffi
from . import errors as E
from .client import Client, encode_document
from .stream import StreamEvent
from .types import Auth0User, ReturnedUserProfile, UserBetaStatus, UserProfile

__all__ = ["AsyncClient", "AsyncUserStream", "AsyncUserWatcher"]

_log = logging.getLogger("pieces_user")

T = TypeVar("T")

#: Worker threads per client unless ``max_workers`` says otherwise: as many calls as this run at
#: once, the others wait their turn in the client's queue.
DEFAULT_MAX_WORKERS = 8


# --- the worker pool ------------------------------------------------------------------------------


class _Job:
    """One call handed to the pool; its state changes under the pool's lock."""

    __slots__ = ("fn", "args", "loop", "future", "token", "running", "cancelled", "triggered")

    def __init__(self, fn: Callable[..., Any], args: Tuple[Any, ...],
                 loop: asyncio.AbstractEventLoop, future: "asyncio.Future[Any]") -> None:
        self.fn = fn
        self.args = args
        self.loop = loop
        self.future = future
        self.token: Any = None
        self.running = False
        self.cancelled = False
        self.triggered = False


def _settle(future: "asyncio.Future[Any]", result: Any, error: Optional[BaseException]) -> None:
    # On the loop. A cancelled awaiter has gone: its result (or failure) is dropped.
    if future.done():
        return
    if error is None:
        future.set_result(result)
    else:
        future.set_exception(error)


class _Pool:
    """Up to ``size`` worker threads, started on demand and ended by :meth:`shutdown`.

    Job states change under the lock: queued, running (in ``_running``, with its worker's token),
    finished. A ``SimpleQueue`` hands jobs over: the cheapest wake-up of a waiting thread.
    """

    def __init__(self, lib: "_ffi.Library", size: int) -> None:
        self._lib = lib
        self._size = size
        self._jobs: "queue.SimpleQueue[Optional[_Job]]" = queue.SimpleQueue()
        self._running: "set[_Job]" = set()
        self._lock = threading.Lock()
        self._threads: List[threading.Thread] = []
        self._idle = 0  # workers waiting for a job
        self._unpicked = 0  # jobs queued that no worker has taken yet
        self._closed = False
        _pools.add(self)

    def _after_fork_in_child(self) -> None:
        # The workers did not come along, and the lock may have been held by one of them: start
        # from nothing. The parent's queued jobs belong to the parent's loops.
        self._lock = threading.Lock()
        self._jobs = queue.SimpleQueue()
        self._running = set()
        self._threads = []
        self._idle = 0
        self._unpicked = 0

    def submit(self, job: _Job) -> None:
        with self._lock:
            if self._closed:
                raise _closed_error()
            self._unpicked += 1
            if self._unpicked > self._idle and len(self._threads) < self._size:
                self._start_worker()
        self._jobs.put(job)

    def cancel(self, job: _Job) -> None:
        """Ends ``job``: skipped if it has not started, interrupted in the library if it runs."""
        with self._lock:
            job.cancelled = True
            if job.running:
                self._trigger(job)

    def _trigger(self, job: _Job) -> None:
        if not job.triggered:
            job.triggered = True
            self._lib.pieces_cancel_trigger(job.token)

    def _start_worker(self) -> None:
        thread = threading.Thread(target=self._work, name="pieces-user-aio", daemon=True)
        self._threads.append(thread)
        thread.start()

    def _new_token(self) -> Any:
        token = _ffi.CancelPtr()
        rc = self._lib.pieces_cancel_new(byref(token))
        if rc != _ffi.OK:
            raise E.raise_for(self._lib, rc)
        self._lib.pieces_cancel_bind(token)
        return token

    def _next(self, token: Any) -> Optional[_Job]:
        """The next job to run, marked running under ``token``; None: the pool is shut down."""
        while True:
            with self._lock:
                self._idle += 1
            job = self._jobs.get()
            with self._lock:
                self._idle -= 1
                if job is None:
                    return None
                self._unpicked -= 1
                if job.cancelled:
                    continue
                if self._closed:
                    job.cancelled = True
                    _hand_over(job.loop, job.future, None, _closed_error())
                    continue
                job.token = token
                job.running = True
                self._running.add(job)
                return job

    def _finish(self, job: _Job) -> "tuple[bool, bool]":
        """Marks ``job`` finished; returns (its token was triggered, its awaiter still waits)."""
        with self._lock:
            job.running = False
            self._running.discard(job)
            return job.triggered, not job.cancelled

    def _work(self) -> None:
        lib = self._lib
        token = self._new_token()
        try:
            while True:
                job = self._next(token)
                if job is None:
                    return
                result: Any = None
                error: Optional[BaseException] = None
                try:
                    result = job.fn(*job.args)
                except BaseException as e:  # handed to the awaiting task
                    error = e
                triggered, waited_for = self._finish(job)
                if triggered:
                    # One-shot: a triggered token would fail every later call at once.
                    spent, token = token, self._new_token()
                    lib.pieces_cancel_free(spent)
                if waited_for:
                    _hand_over(job.loop, job.future, result, error)
                del job, result, error
        finally:
            lib.pieces_cancel_bind(None)
            lib.pieces_cancel_free(token)

    def shutdown(self) -> List[threading.Thread]:
        """Takes no more jobs: queued ones fail with ClientClosed, running ones are interrupted
        (they fail with Interrupted). Returns the worker threads, which end promptly."""
        with self._lock:
            if self._closed:
                return []
            self._closed = True
            for job in self._running:
                self._trigger(job)
            threads, self._threads = self._threads, []
        # Behind every queued job: the workers fail those first, then end.
        for _ in threads:
            self._jobs.put(None)
        return threads

    @property
    def threads(self) -> List[threading.Thread]:
        with self._lock:
            return list(self._threads)


_pools: "weakref.WeakSet[_Pool]" = weakref.WeakSet()


def _reset_pools_in_child() -> None:
    for pool in list(_pools):
        pool._after_fork_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_pools_in_child)


def _hand_over(loop: asyncio.AbstractEventLoop, future: "asyncio.Future[Any]", result: Any,
               error: Optional[BaseException]) -> None:
    try:
        loop.call_soon_threadsafe(_settle, future, result, error)
    except RuntimeError:
        pass  # the loop is closed: nobody is waiting any more


def _closed_error() -> E.PiecesError:
    return E.local(E.ClientClosed, _ffi.INVALID_ARGUMENT, "invalid_argument", "the client is closed")


# --- the client -----------------------------------------------------------------------------------


class AsyncClient:
    """:class:`~pieces_user.Client` for asyncio: the same options and methods, each awaitable.

    ``await client.snapshot()``, ``await client.update(doc)``, … run on the client's own worker
    threads (at most ``max_workers``, started on demand), so the event loop never blocks on the
    network and many tasks may await calls on one client at once. Cancelling an awaiting task (or
    ``asyncio.timeout``) interrupts that call in the library at once; other calls go on.

    Use ``async with AsyncClient(...) as client`` or ``await client.aclose()``: closing stops the
    client's streams, interrupts calls in flight and ends the worker threads.

    The constructor creates the library client on the calling thread: with ``discovery`` that probes
    local ports (bounded by the discovery probe timeout).
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
        max_workers: int = DEFAULT_MAX_WORKERS,
    ) -> None:
        self._pool: Optional[_Pool] = None
        self._streams: "weakref.WeakSet[AsyncUserStream]" = weakref.WeakSet()
        if isinstance(max_workers, bool) or not isinstance(max_workers, int) or max_workers < 1:
            raise E.local(E.InvalidArgument, _ffi.INVALID_ARGUMENT, "invalid_argument",
                          "max_workers must be a positive integer")
        self._client = Client(
            base_url, application_id, access_token, timeout,
            connect_timeout=connect_timeout, user_agent=user_agent,
            max_response_bytes=max_response_bytes, tls_ca_file=tls_ca_file,
            discovery=discovery, library=library,
        )
        self._pool = _Pool(self._client._lib, max_workers)

    # --- lifetime ---------------------------------------------------------------------------------

    async def aclose(self) -> None:
        """Stops the streams, interrupts calls in flight (their tasks raise
        :class:`~pieces_user.Interrupted`), waits for the worker threads to end without blocking the
        loop, and frees the client. Idempotent."""
        threads = self._begin_close()
        while any(t.is_alive() for t in threads):
            # Interrupted calls come back within milliseconds; poll rather than block the loop.
            await asyncio.sleep(0.002)
        self._client.close()

    def close(self) -> None:
        """:meth:`aclose` for synchronous code: blocks until the worker threads have ended."""
        for thread in self._begin_close():
            thread.join()
        self._client.close()

    def _begin_close(self) -> List[threading.Thread]:
        # Stopped, not closed: their consumers still get the queued events, ending with `stopped`.
        for stream in list(self._streams):
            stream.stop()
        pool = self._pool
        if pool is None:
            return []
        return pool.shutdown()

    def interrupt(self) -> None:
        """Makes every call in flight on this client raise :class:`~pieces_user.Interrupted`."""
        self._client.interrupt()

    @property
    def closed(self) -> bool:
        return self._client.closed

    @property
    def library_version(self) -> str:
        return self._client.library_version

    @property
    def library_path(self) -> str:
        return self._client.library_path

    @property
    def worker_threads(self) -> List[threading.Thread]:
        """The client's worker threads now running (for diagnostics and tests)."""
        return [] if self._pool is None else self._pool.threads

    async def __aenter__(self) -> "AsyncClient":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __del__(self) -> None:
        try:
            if self._pool is not None:
                self._pool.shutdown()
        except Exception:  # pragma: no cover - interpreter shutdown may have torn modules down
            pass

    # --- calls ------------------------------------------------------------------------------------

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        pool = self._pool
        if pool is None or self._client.closed:
            raise _closed_error()
        loop = asyncio.get_running_loop()
        future: "asyncio.Future[T]" = loop.create_future()
        job = _Job(fn, args, loop, future)
        pool.submit(job)
        try:
            return await future
        except asyncio.CancelledError:
            pool.cancel(job)
            raise

    async def snapshot(self) -> ReturnedUserProfile:
        """GET /user: ``{"user": {...}}``, or ``{"user": None}`` / ``{}`` when nobody is signed in."""
        return await self._run(self._client.snapshot)

    async def refresh(self) -> UserProfile:
        """GET /user/refresh: the freshly fetched profile (:class:`ServerError` when signed out)."""
        return await self._run(self._client.refresh)

    async def providers(self) -> ReturnedUserProfile:
        """GET /user/providers (a local Pieces OS raises :class:`NotImplementedLocally`)."""
        return await self._run(self._client.providers)

    async def select(self, auth0_user: Union[Auth0User, str, bytes]) -> UserProfile:
        """POST /user/select: makes the Auth0 user current; sends ``access_token`` as the bearer."""
        return await self._run(self._client.select, auth0_user)

    async def update(self, profile: Union[UserProfile, str, bytes]) -> UserProfile:
        """POST /user/update: stores the profile and returns it as Pieces OS has it."""
        return await self._run(self._client.update, profile)

    async def update_vanity(self, profile: Union[UserProfile, str, bytes]) -> UserProfile:
        """POST /user/update/vanity: the profile's ``vanityname`` is the new name."""
        return await self._run(self._client.update_vanity, profile)

    async def beta_status(self, status: Union[UserBetaStatus, str, bytes]) -> UserBetaStatus:
        """POST /user/beta/status: grants or revokes a beta; echoes the resulting status."""
        return await self._run(self._client.beta_status, status)

    async def clear(self) -> None:
        """POST /user/clear: signs the current user out."""
        await self._run(self._client.clear)

    async def stream_url(self) -> str:
        """The ``ws://``/``wss://`` URL of /user/stream for this client (no connection is made)."""
        return self._client.stream_url()

    # --- the user stream --------------------------------------------------------------------------

    def user_stream(
        self,
        options: Optional[Mapping[str, Any]] = None,
        *,
        timeout: Optional[float] = None,
    ) -> "AsyncUserStream":
        """Starts /user/stream: ``async for event in client.user_stream(): ...``.

        ``options`` as for :meth:`Client.user_stream` (``queue_size`` bounds the events waiting for
        the loop). With ``timeout`` (seconds), iteration raises :class:`StreamTimeout` when no event
        arrives in time. The stream stops and is freed when iteration ends, when the ``async for``
        is left (``break``, an exception, the task cancelled), on ``aclose()``/``async with`` exit,
        and when the client closes.
        """
        stream = AsyncUserStream(self._client, options, timeout)
        self._streams.add(stream)
        return stream

    def watch_user(
        self,
        callback: "Callable[[StreamEvent], object]",
        options: Optional[Mapping[str, Any]] = None,
        *,
        on_error: "Optional[Callable[[BaseException], object]]" = None,
    ) -> "AsyncUserWatcher":
        """Starts /user/stream and calls ``callback(event)`` for each event, on the loop, in a task
        of its own; a coroutine function's result is awaited before the next event.

        An exception from the callback goes to ``on_error`` (default: logged) and the stream goes
        on. Stop with ``await watcher.stop()`` or ``async with``.
        """
        return AsyncUserWatcher(self.user_stream(options), callback, on_error)


# --- the stream -----------------------------------------------------------------------------------

_STATE_EVENTS = (2, 3)  # user, signed_out: the events that carry the user's state
_DEFAULT_QUEUE_SIZE = 64  # the library's default queue_size


class _EventQueue:
    """The library's pull-queue rules (src/stream/queue.rs), for events handed over by callback.

    Bounded: when the loop falls behind, the oldest state event (``user``/``signed_out``) that a newer
    one supersedes goes first, then the oldest other event; the newest state and ``stopped`` never
    go. The number dropped comes out first as one ``overflow`` event ``{"dropped":n}``.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.events: Deque[Tuple[int, bytes]] = deque()
        self.dropped = 0

    def push(self, kind: int, raw: bytes) -> None:
        events = self.events
        events.append((kind, raw))
        while len(events) > self.capacity and self._drop_one():
            self.dropped += 1

    def pop(self) -> Optional[Tuple[int, bytes]]:
        if self.dropped:
            dropped, self.dropped = self.dropped, 0
            return (7, b'{"dropped":%d}' % dropped)
        if self.events:
            return self.events.popleft()
        return None

    def _drop_one(self) -> bool:
        events = self.events
        newest_state = None
        for i in range(len(events) - 1, -1, -1):
            if events[i][0] in _STATE_EVENTS:
                newest_state = i
                break
        for i, (kind, _) in enumerate(events):
            if kind in _STATE_EVENTS and i != newest_state:
                del events[i]
                return True
        for i, (kind, _) in enumerate(events):
            if i != newest_state and kind != _ffi.EVENT_STOPPED:
                del events[i]
                return True
        return False


# Streams by the key passed to the library as user_data; removed by the release callback. The two
# callbacks are module-level and live forever, so the library can never call a freed thunk.
# Weak: a stream the consumer dropped (``break`` out of ``async for``) is collected and so closed.
_sinks: "weakref.WeakValueDictionary[int, AsyncUserStream]" = weakref.WeakValueDictionary()
_sink_keys = itertools.count(1)
_live_async_streams: "weakref.WeakSet[AsyncUserStream]" = weakref.WeakSet()


def _on_event(user_data: Optional[int], kind: int, json: Optional[bytes]) -> None:
    # On the library's stream thread. Must not raise: there is nobody to catch it.
    stream = _sinks.get(user_data or 0)
    if stream is not None:
        stream._deliver(kind, json or b"")


def _on_release(user_data: Optional[int]) -> None:
    _sinks.pop(user_data or 0, None)


_EVENT_CALLBACK = _ffi.StreamCallback(_on_event)
_RELEASE_CALLBACK = _ffi.ReleaseCallback(_on_release)


class AsyncUserStream:
    """An async iterator of :class:`StreamEvent`; create it with :meth:`AsyncClient.user_stream`.

    Iteration ends after the ``stopped`` event. Events wait in a bounded queue (``queue_size``,
    default 64) with the same overflow rules as :class:`UserStream`.
    """

    def __init__(self, client: Client, options: Optional[Mapping[str, Any]],
                 timeout: Optional[float]) -> None:
        self._handle: Any = None
        self._lib = client._lib
        self._timeout = timeout
        self._loop = asyncio.get_running_loop()
        self._lock = threading.Lock()
        size = (options or {}).get("queue_size")
        self._queue = _EventQueue(size if isinstance(size, int) and size >= 2 else _DEFAULT_QUEUE_SIZE)
        # One future per waiting consumer: cancelling one consumer's wait leaves the others'.
        self._waiters: "List[asyncio.Future[None]]" = []
        self._wake_pending = False
        self._ended = False
        self._key = next(_sink_keys)
        opts = None if options is None else encode_document(options, "stream options")
        handle = _ffi.StreamPtr()
        client_handle = client._enter()
        _sinks[self._key] = self
        try:
            rc = self._lib.pieces_user_stream_start(
                client_handle, opts, _EVENT_CALLBACK, c_void_p(self._key), _RELEASE_CALLBACK,
                byref(handle),
            )
        finally:
            client._leave()
        if rc != _ffi.OK:
            _sinks.pop(self._key, None)  # the library never took it: no release will come
            raise E.raise_for(self._lib, rc)
        self._handle = handle
        _live_async_streams.add(self)

    # --- the library's side (stream thread) -------------------------------------------------------

    def _deliver(self, kind: int, raw: bytes) -> None:
        with self._lock:
            self._queue.push(kind, raw)
            if not self._waiters or self._wake_pending:
                return
            self._wake_pending = True
        try:
            self._loop.call_soon_threadsafe(self._wake)
        except RuntimeError:
            pass  # the loop is closed; close() (atexit at the latest) stops the stream

    # --- the loop's side --------------------------------------------------------------------------

    def _wake(self) -> None:
        with self._lock:
            self._wake_pending = False
            waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    def _take(self) -> "Tuple[Optional[Tuple[int, bytes]], Optional[asyncio.Future[None]]]":
        """The next queued event, or else a future that the next delivery completes."""
        with self._lock:
            item = self._queue.pop()
            if item is not None:
                return item, None
            waiter = self._loop.create_future()
            self._waiters.append(waiter)
            return None, waiter

    def __aiter__(self) -> "AsyncUserStream":
        return self

    async def __anext__(self) -> StreamEvent:
        try:
            event = await self.next_event()
        except E.StreamEnded:
            raise StopAsyncIteration from None
        except asyncio.CancelledError:
            # The consuming task is cancelled: nobody will read the stream any more.
            self.close()
            raise
        return event

    async def next_event(self) -> StreamEvent:
        """The next event; raises :class:`StreamEnded` after ``stopped``, :class:`StreamTimeout`
        when the stream's ``timeout`` passes without one."""
        while True:
            if self._ended:
                raise E.local(E.StreamEnded, _ffi.STREAM_ENDED, "stream_ended", "the stream has ended")
            item, waiter = self._take()
            if item is not None:
                event = StreamEvent(*item)
                if event.code == _ffi.EVENT_STOPPED:
                    self._ended = True
                    self.stop()
                return event
            assert waiter is not None
            if self._handle is None:
                self._ended = True
                continue
            try:
                if self._timeout is None:
                    await waiter
                else:
                    await asyncio.wait_for(waiter, self._timeout)
            except asyncio.TimeoutError:
                raise E.local(E.StreamTimeout, _ffi.STREAM_TIMEOUT, "stream_timeout",
                              f"no stream event within {self._timeout} s") from None
            finally:
                with self._lock:
                    if waiter in self._waiters:
                        self._waiters.remove(waiter)

    # --- lifetime ---------------------------------------------------------------------------------

    def stop(self) -> None:
        """Stops and frees the library's stream; the events already queued, ending with
        ``stopped``, can still be read. Idempotent. No callback runs after this returns.

        Blocks only while the library's stream thread winds down: at once when it is idle or backing
        off; a connect or a ``GET /user`` in progress can hold it up to the client's timeouts."""
        with self._lock:
            handle, self._handle = self._handle, None
        if handle is None:
            return
        self._lib.pieces_stream_free(handle)
        self._wake_threadsafe()

    def close(self) -> None:
        """Stops and frees the stream and drops what is queued: iteration ends. Idempotent."""
        self.stop()
        with self._lock:
            self._ended = True
            self._queue = _EventQueue(self._queue.capacity)
        self._wake_threadsafe()

    def _wake_threadsafe(self) -> None:
        if self._waiters and not self._loop.is_closed():
            try:
                self._loop.call_soon_threadsafe(self._wake)
            except RuntimeError:
                pass

    async def aclose(self) -> None:
        self.close()

    @property
    def closed(self) -> bool:
        return self._handle is None

    async def __aenter__(self) -> "AsyncUserStream":
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # pragma: no cover - interpreter shutdown may have torn modules down
            pass


class AsyncUserWatcher:
    """Calls a function for every stream event in a task on the loop; see
    :meth:`AsyncClient.watch_user`."""

    def __init__(
        self,
        stream: AsyncUserStream,
        callback: Callable[[StreamEvent], object],
        on_error: Optional[Callable[[BaseException], object]],
    ) -> None:
        self._stream = stream
        self._callback = callback
        self._on_error = on_error
        self._task = asyncio.get_running_loop().create_task(self._run())

    def _report(self, exc: BaseException) -> None:
        if self._on_error is not None:
            try:
                self._on_error(exc)
                return
            except Exception as nested:
                exc = nested
        _log.error("pieces_user: stream callback failed", exc_info=exc)

    async def _run(self) -> None:
        async for event in self._stream:
            try:
                result = self._callback(event)
                if inspect.isawaitable(result):
                    await result
            except Exception as exc:
                self._report(exc)

    async def stop(self) -> None:
        """Stops the stream, lets the callback see the events still queued (``stopped`` last) and
        waits for it."""
        self._stream.stop()
        if asyncio.current_task() is not self._task:
            await self._task

    async def join(self) -> None:
        """Waits for the watcher to end (after ``stopped``)."""
        await asyncio.shield(self._task)

    @property
    def running(self) -> bool:
        return not self._task.done()

    async def __aenter__(self) -> "AsyncUserWatcher":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


@atexit.register
def _close_async_streams_at_exit() -> None:
    # Before the interpreter finalizes: a stream thread calling into Python after that would hang.
    for stream in list(_live_async_streams):
        try:
            stream.close()
        except Exception:
            pass
