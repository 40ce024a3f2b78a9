"""Every ctypes declaration of the C ABI, and the one place that loads the library.

Nothing else in the package touches ctypes function objects directly: the rest goes through
:class:`Library`, so a change in the C contract is a change in this file only.

Strings the library returns (``char **out``) are declared as ``c_void_p``, not ``c_char_p``: ctypes
would copy a ``c_char_p`` into ``bytes`` and drop the pointer, leaking the library's allocation.
:meth:`Library.take_string` copies the text and then hands the pointer back to
``pieces_string_free``. Static strings (``pieces_version``, ``pieces_status_str``) are never freed.

The library is loaded with :class:`ctypes.CDLL`, not ``PyDLL``: ctypes releases the GIL for the
duration of every foreign call, so a call blocked on the network does not stop other Python threads.
"""

from __future__ import annotations

import ctypes
import os
import sys
import threading
import warnings
from ctypes import (
    CFUNCTYPE,
    POINTER,
    byref,
    c_char_p,
    c_int32,
    c_uint32,
    c_void_p,
)
from pathlib import Path
from typing import Any, Dict, Iterator, List, Sequence, Tuple, Union

#: The ABI this package was written against (``pieces_abi_version()``).
ABI_VERSION = 1

#: Environment variable naming a library file to load instead of the packaged one.
ENV_VAR = "PIECES_USER_LIB"

# Status codes of the C ABI (stable, never reused).
OK = 0
INVALID_ARGUMENT = 1
NULL_POINTER = 2
INVALID_UTF8 = 3
MALFORMED_JSON = 4
INVALID_DOCUMENT = 5
NOT_FOUND = 10
CONFLICT = 11
SERVER_ERROR = 12
NOT_IMPLEMENTED = 13
AUTHENTICATION_REQUIRED = 14
HTTP_STATUS = 15
CONNECTION = 20
TIMEOUT = 21
TLS = 22
INVALID_RESPONSE = 23
RESPONSE_TOO_LARGE = 24
NOT_RUNNING = 25
INTERRUPTED = 26
WRONG_PROCESS = 27
STREAM_TIMEOUT = 30
STREAM_ENDED = 31
PANIC = 90

# Stream event kinds (``pieces_stream_next``'s ``*kind``).
EVENT_KINDS: Dict[int, str] = {
    1: "connected",
    2: "user",
    3: "signed_out",
    4: "error",
    5: "disconnected",
    6: "reconnecting",
    7: "overflow",
    8: "stopped",
}
EVENT_STOPPED = 8


class PiecesClientStruct(ctypes.Structure):
    """Opaque ``PiecesClient``; only pointers to it exist."""


class PiecesStreamStruct(ctypes.Structure):
    """Opaque ``PiecesStream``; only pointers to it exist."""


class PiecesCancelStruct(ctypes.Structure):
    """Opaque ``PiecesCancel``; only pointers to it exist."""


ClientPtr = POINTER(PiecesClientStruct)
StreamPtr = POINTER(PiecesStreamStruct)
CancelPtr = POINTER(PiecesCancelStruct)

#: ``void (*)(void *user_data, int32_t kind, const char *json)``. Python never passes one (it uses the
#: pull API so that user code never runs on the library's thread), but the type is declared so that
#: ``pieces_user_stream_start``'s signature is exact.
StreamCallback = CFUNCTYPE(None, c_void_p, c_int32, c_char_p)
#: ``void (*)(void *user_data)``
ReleaseCallback = CFUNCTYPE(None, c_void_p)
# NULL function pointers of those types (ctypes refuses None for a CFUNCTYPE argument).
NULL_CALLBACK = StreamCallback()
NULL_RELEASE = ReleaseCallback()

_OUT_STR = POINTER(c_void_p)

# name -> (argtypes, restype): every export of include/pieces_user.h.
SIGNATURES: Dict[str, Tuple[List[Any], Any]] = {
    "pieces_version": ([], c_char_p),
    "pieces_abi_version": ([], c_uint32),
    "pieces_status_str": ([c_int32], c_char_p),
    "pieces_last_error": ([_OUT_STR], c_int32),
    "pieces_string_free": ([c_void_p], None),
    "pieces_client_new": ([c_char_p, POINTER(ClientPtr)], c_int32),
    "pieces_client_free": ([ClientPtr], None),
    "pieces_client_interrupt": ([ClientPtr], c_int32),
    "pieces_cancel_new": ([POINTER(CancelPtr)], c_int32),
    "pieces_cancel_trigger": ([CancelPtr], c_int32),
    "pieces_cancel_bind": ([CancelPtr], c_int32),
    "pieces_cancel_free": ([CancelPtr], None),
    "pieces_user_snapshot": ([ClientPtr, _OUT_STR], c_int32),
    "pieces_user_refresh": ([ClientPtr, _OUT_STR], c_int32),
    "pieces_user_providers": ([ClientPtr, _OUT_STR], c_int32),
    "pieces_user_select": ([ClientPtr, c_char_p, _OUT_STR], c_int32),
    "pieces_user_update": ([ClientPtr, c_char_p, _OUT_STR], c_int32),
    "pieces_user_update_vanity": ([ClientPtr, c_char_p, _OUT_STR], c_int32),
    "pieces_user_beta_status": ([ClientPtr, c_char_p, _OUT_STR], c_int32),
    "pieces_user_clear": ([ClientPtr], c_int32),
    "pieces_user_stream_url": ([ClientPtr, _OUT_STR], c_int32),
    "pieces_discover": ([c_char_p, _OUT_STR], c_int32),
    "pieces_user_stream_start": (
        [ClientPtr, c_char_p, StreamCallback, c_void_p, ReleaseCallback, POINTER(StreamPtr)],
        c_int32,
    ),
    "pieces_stream_next": ([StreamPtr, c_int32, POINTER(c_int32), _OUT_STR], c_int32),
    "pieces_stream_stop": ([StreamPtr], c_int32),
    "pieces_stream_free": ([StreamPtr], None),
}


class LibraryLoadError(ImportError):
    """The native library could not be found or loaded, or has the wrong ABI version.

    ``tried`` lists ``(path, reason)`` for every candidate, in the order they were tried.
    """

    def __init__(self, message: str, tried: Sequence[Tuple[str, str]]) -> None:
        super().__init__(message)
        self.tried: List[Tuple[str, str]] = list(tried)


def library_file_names(platform: str = sys.platform) -> List[str]:
    """The file name cargo gives the cdylib on ``platform``: the one in the wheel and the build tree."""
    if platform == "darwin":
        return ["libpieces_user.dylib"]
    if platform == "win32" or platform == "cygwin":
        return ["pieces_user.dll"]
    return ["libpieces_user.so"]


def installed_library_names(platform: str = sys.platform, abi: int = ABI_VERSION) -> List[str]:
    """The names under which ``make install`` puts the library for the system's loader to find.

    On ELF systems and macOS that is the soname (install name) of ABI ``abi``, so a library of another
    ABI is never picked up by name; a Windows DLL has no such name.
    """
    if platform == "darwin":
        return [f"libpieces_user.{abi}.dylib"]
    if platform == "win32" or platform == "cygwin":
        return ["pieces_user.dll"]
    return [f"libpieces_user.so.{abi}"]


def installed_candidates(platform: str = sys.platform) -> List[Tuple[str, str]]:
    """``(name or path, "installed")`` for an installed library, found by the system's own search.

    A bare name goes to the loader as it is: ``LD_LIBRARY_PATH``, the ``ldconfig`` cache and the
    system directories on Linux; ``DYLD_LIBRARY_PATH`` and ``/usr/local/lib`` on macOS. On macOS and
    Windows ``ctypes.util.find_library`` adds a path the loader would not search by itself (``PATH``
    for a DLL); on Linux it only ever answers with a soname, so it is not asked (it runs ldconfig
    and the compiler to find out).
    """
    found = [(name, "installed") for name in installed_library_names(platform)]
    if platform in ("darwin", "win32"):
        import ctypes.util

        located = ctypes.util.find_library("pieces_user")
        if located and all(located != name for name, _ in found):
            found.append((located, "installed"))
    return found


def candidate_paths(explicit: Union[str, "os.PathLike[str]", None] = None) -> List[Tuple[str, str]]:
    """``(path, origin)`` in loading order: explicit argument, ``PIECES_USER_LIB``, the packaged file.

    :func:`load` falls back to :func:`installed_candidates` after these.
    """
    found: List[Tuple[str, str]] = []
    if explicit is not None:
        found.append((os.fspath(explicit), "argument"))
    env = os.environ.get(ENV_VAR)
    if env:
        found.append((env, ENV_VAR))
    here = Path(__file__).resolve().parent
    for name in library_file_names():
        found.append((str(here / name), "package"))
    return found


def _all_candidates(explicit: Union[str, "os.PathLike[str]", None]) -> Iterator[Tuple[str, str]]:
    """:func:`candidate_paths`, then the installed library, looked for only when those all failed."""
    yield from candidate_paths(explicit)
    yield from installed_candidates()


class Library:
    """One loaded copy of the native library with every export declared."""

    def __init__(self, path: str) -> None:
        self.path = path
        # OSError here (missing file, wrong architecture…) is turned into a LibraryLoadError by load().
        self._dll = ctypes.CDLL(path)
        try:
            abi_fn = self._dll.pieces_abi_version
        except AttributeError as e:
            raise _CandidateError("no pieces_abi_version export: not a pieces_user library") from e
        abi_fn.argtypes = []
        abi_fn.restype = c_uint32
        abi = int(abi_fn())
        if abi != ABI_VERSION:
            raise _CandidateError(
                f"ABI version {abi}, but this package needs ABI version {ABI_VERSION}; "
                "rebuild the library from the same source tree as the package"
            )
        missing = []
        for name, (argtypes, restype) in SIGNATURES.items():
            try:
                fn = getattr(self._dll, name)
            except AttributeError:
                missing.append(name)
                continue
            fn.argtypes = argtypes
            fn.restype = restype
        if missing:
            raise _CandidateError("missing exports: " + ", ".join(missing))
        d = self._dll
        # Bound once: attribute look-ups on a CDLL go through __getattr__, which costs on hot paths.
        self.version: str = (d.pieces_version() or b"").decode("utf-8")
        self.abi_version = abi
        self.pieces_status_str = d.pieces_status_str
        self.pieces_last_error = d.pieces_last_error
        self.pieces_string_free = d.pieces_string_free
        self.pieces_client_new = d.pieces_client_new
        self.pieces_client_free = d.pieces_client_free
        self.pieces_client_interrupt = d.pieces_client_interrupt
        self.pieces_cancel_new = d.pieces_cancel_new
        self.pieces_cancel_trigger = d.pieces_cancel_trigger
        self.pieces_cancel_bind = d.pieces_cancel_bind
        self.pieces_cancel_free = d.pieces_cancel_free
        self.pieces_user_snapshot = d.pieces_user_snapshot
        self.pieces_user_refresh = d.pieces_user_refresh
        self.pieces_user_providers = d.pieces_user_providers
        self.pieces_user_select = d.pieces_user_select
        self.pieces_user_update = d.pieces_user_update
        self.pieces_user_update_vanity = d.pieces_user_update_vanity
        self.pieces_user_beta_status = d.pieces_user_beta_status
        self.pieces_user_clear = d.pieces_user_clear
        self.pieces_user_stream_url = d.pieces_user_stream_url
        self.pieces_discover = d.pieces_discover
        self.pieces_user_stream_start = d.pieces_user_stream_start
        self.pieces_stream_next = d.pieces_stream_next
        self.pieces_stream_stop = d.pieces_stream_stop
        self.pieces_stream_free = d.pieces_stream_free

    def take_bytes(self, ptr: c_void_p) -> bytes:
        """Copies a library-owned string and frees it. A NULL pointer gives ``b""``.

        Bytes rather than str: ``json.loads`` reads UTF-8 bytes directly, which saves a decode copy
        of every response on the hot path.
        """
        address = ptr.value
        if not address:
            return b""
        try:
            return ctypes.string_at(address)
        finally:
            self.pieces_string_free(address)

    def take_string(self, ptr: c_void_p) -> str:
        return self.take_bytes(ptr).decode("utf-8")

    def status_name(self, code: int) -> str:
        raw = self.pieces_status_str(code)
        return raw.decode("utf-8") if raw else f"PIECES_STATUS_{code}"

    def last_error(self, code: int) -> Dict[str, Any]:
        """The calling thread's last failure as a dict; falls back to the code alone.

        Must be called on the thread that saw ``code`` and before any other library call there: the
        detail is thread-local. ctypes runs foreign calls on the calling OS thread, so this holds.
        """
        import json

        out = c_void_p()
        if self.pieces_last_error(byref(out)) == OK:
            text = self.take_string(out)
            try:
                detail = json.loads(text)
            except ValueError:
                detail = None
            if isinstance(detail, dict) and detail.get("code") == code:
                return detail
        # pieces_status_str reads "PIECES_ERR_X: description".
        text = self.status_name(code)
        return {
            "code": code,
            "name": text.split(":", 1)[0],
            "category": None,
            "status": None,
            "message": text,
            "body": None,
            "path": None,
        }


class _CandidateError(Exception):
    """Why one candidate file was not usable (collected into LibraryLoadError)."""


_loaded: Dict[str, Library] = {}
_load_lock = threading.Lock()


def load(path: Union[str, "os.PathLike[str]", None] = None) -> Library:
    """Loads (once per file) the first usable library: :func:`candidate_paths`, then an installed one.

    Candidates are tried in order and the first that loads with the right ABI wins; if an earlier
    one failed, a warning names it, so a broken ``PIECES_USER_LIB`` is never silently ignored. A
    package without a library of its own (a source checkout) is expected, not warned about.
    """
    tried: List[Tuple[str, str]] = []
    expected_misses = 0
    with _load_lock:
        for candidate, origin in _all_candidates(path):
            # A bare name is the loader's to search for; a path must exist.
            by_name = os.path.basename(candidate) == candidate
            key = candidate if by_name else os.path.realpath(candidate)
            if key in _loaded:
                lib = _loaded[key]
            else:
                if not by_name and not os.path.exists(candidate):
                    tried.append((candidate, f"{origin}: no such file"))
                    expected_misses += origin == "package"
                    continue
                try:
                    lib = Library(candidate)
                except OSError as e:
                    tried.append((candidate, f"{origin}: {e}"))
                    continue
                except _CandidateError as e:
                    tried.append((candidate, f"{origin}: {e}"))
                    continue
                _loaded[key] = lib
            if len(tried) > expected_misses:
                warnings.warn(
                    "pieces_user: using "
                    + candidate
                    + " after "
                    + "; ".join(f"{p} ({why})" for p, why in tried),
                    RuntimeWarning,
                    stacklevel=3,
                )
            return lib
    lines = "\n".join(f"  {p}: {why}" for p, why in tried)
    raise LibraryLoadError(
        "pieces_user: could not load the native library; tried, in order:\n"
        + lines
        + f"\nSet {ENV_VAR} to the path of libpieces_user, reinstall the package, or install the "
        + "library (make install) where the system's loader finds it.",
        tried,
    )

