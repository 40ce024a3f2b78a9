"""Exceptions: one base class, one subclass per failure category, grouped so that a caller can catch
exactly what they mean (``except Conflict``) or a whole family (``except HttpError``).

Every exception carries the library's detail for the failure: ``code`` (the C ABI status),
``name`` (``PIECES_ERR_…``), ``category`` (stable snake_case), ``status`` (HTTP status or None),
``message``, ``body`` (the server's text or None) and ``path`` (JSON path of an invalid value or None).
"""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Type

from . import _ffi

__all__ = [
    "PiecesError",
    "InvalidInput",
    "InvalidArgument",
    "MalformedJson",
    "InvalidDocument",
    "ClientClosed",
    "HttpError",
    "NotFound",
    "Conflict",
    "ServerError",
    "NotImplementedLocally",
    "AuthenticationRequired",
    "HttpStatusError",
    "TransportError",
    "ConnectionFailed",
    "Timeout",
    "TlsError",
    "NotRunning",
    "InvalidResponse",
    "ResponseTooLarge",
    "StreamTimeout",
    "StreamEnded",
    "InternalError",
    "WrongProcess",
    "LibraryLoadError",
]

LibraryLoadError = _ffi.LibraryLoadError


class PiecesError(Exception):
    """Base of every failure the library reports."""

    code: int
    name: str
    category: str
    status: Optional[int]
    message: str
    body: Optional[str]
    path: Optional[str]

    def __init__(
        self,
        message: str,
        *,
        code: int,
        name: str = "",
        category: str = "",
        status: Optional[int] = None,
        body: Optional[str] = None,
        path: Optional[str] = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.name = name
        self.category = category
        self.status = status
        self.message = message
        self.body = body
        self.path = path

    def __str__(self) -> str:
        return f"{self.message} ({self.category or self.name or self.code})"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(code={self.code}, category={self.category!r}, "
            f"status={self.status!r}, message={self.message!r}, path={self.path!r})"
        )


# --- caller's input -------------------------------------------------------------------------------


class InvalidInput(PiecesError):
    """Something the caller passed is wrong; nothing was sent."""


class InvalidArgument(InvalidInput):
    """A configuration or option value is wrong (unknown key, bad URL, zero timeout, NUL in text…)."""


class MalformedJson(InvalidInput):
    """A document given as text is not JSON."""


class InvalidDocument(InvalidInput):
    """A document does not fit its model; ``path`` names the offending value (``$.aesthetics.font.size``)."""


class ClientClosed(InvalidArgument):
    """The client was closed; create a new one."""


# --- the server answered with an error status -----------------------------------------------------


class HttpError(PiecesError):
    """Pieces OS answered with a non-2xx status; ``status`` and ``body`` hold its answer."""


class NotFound(HttpError):
    """HTTP 404 (e.g. update_vanity with nobody signed in)."""


class Conflict(HttpError):
    """HTTP 409 (e.g. the vanity name is taken)."""


class ServerError(HttpError):
    """HTTP 500."""


class NotImplementedLocally(HttpError):
    """HTTP 501: the route exists only in the cloud (``providers`` on a local Pieces OS)."""


class AuthenticationRequired(HttpError):
    """HTTP 511: the user must be signed in / connected to the cloud."""


class HttpStatusError(HttpError):
    """Any other non-2xx status."""


# --- the conversation failed ----------------------------------------------------------------------


class TransportError(PiecesError):
    """Pieces OS could not be reached or did not answer in time."""


class ConnectionFailed(TransportError):
    """Refused, unreachable, reset, or closed before the answer was complete."""


class Timeout(TransportError):
    """The connect timeout or the whole-call timeout expired."""


class TlsError(TransportError):
    """TLS handshake or certificate failure (https/wss base URLs only)."""


class NotRunning(ConnectionFailed):
    """Discovery found no running Pieces OS."""


class Interrupted(PiecesError):
    """The call was interrupted: :meth:`Client.interrupt`, or :meth:`Client.close` on another thread.

    (Ctrl-C on the main thread raises :class:`KeyboardInterrupt` instead.) The client still works.
    """


class InvalidResponse(PiecesError):
    """Pieces OS answered 2xx with something that is not the expected document."""


class ResponseTooLarge(InvalidResponse):
    """The answer is larger than ``max_response_bytes``."""


# --- the user stream ------------------------------------------------------------------------------


class StreamTimeout(Timeout):
    """No stream event arrived within the timeout the caller gave."""


class StreamEnded(PiecesError):
    """The stream has stopped and delivered its last event."""


class WrongProcess(PiecesError):
    """The client or stream was created by another process and inherited across ``fork()``.

    It belongs to the process that created it (its connections are that process's); create a new
    one in this process. Closing or dropping an inherited object is harmless and does nothing.
    """


class InternalError(PiecesError):
    """A bug in the library (a caught panic). Please report it with the message."""


_BY_CODE: Dict[int, Type[PiecesError]] = {
    _ffi.INVALID_ARGUMENT: InvalidArgument,
    _ffi.NULL_POINTER: InvalidArgument,
    _ffi.INVALID_UTF8: InvalidArgument,
    _ffi.MALFORMED_JSON: MalformedJson,
    _ffi.INVALID_DOCUMENT: InvalidDocument,
    _ffi.NOT_FOUND: NotFound,
    _ffi.CONFLICT: Conflict,
    _ffi.SERVER_ERROR: ServerError,
    _ffi.NOT_IMPLEMENTED: NotImplementedLocally,
    _ffi.AUTHENTICATION_REQUIRED: AuthenticationRequired,
    _ffi.HTTP_STATUS: HttpStatusError,
    _ffi.CONNECTION: ConnectionFailed,
    _ffi.TIMEOUT: Timeout,
    _ffi.TLS: TlsError,
    _ffi.INVALID_RESPONSE: InvalidResponse,
    _ffi.RESPONSE_TOO_LARGE: ResponseTooLarge,
    _ffi.NOT_RUNNING: NotRunning,
    _ffi.INTERRUPTED: Interrupted,
    _ffi.STREAM_TIMEOUT: StreamTimeout,
    _ffi.STREAM_ENDED: StreamEnded,
    _ffi.WRONG_PROCESS: WrongProcess,
    _ffi.PANIC: InternalError,
}


def _opt_str(value: Any) -> Optional[str]:
    return value if isinstance(value, str) else None


def from_detail(detail: Mapping[str, Any]) -> PiecesError:
    """Builds the exception for a ``pieces_last_error`` document."""
    code = int(detail.get("code") or 0)
    cls = _BY_CODE.get(code, PiecesError)
    status = detail.get("status")
    return cls(
        str(detail.get("message") or detail.get("name") or f"error {code}"),
        code=code,
        name=str(detail.get("name") or ""),
        category=str(detail.get("category") or ""),
        status=status if isinstance(status, int) else None,
        body=_opt_str(detail.get("body")),
        path=_opt_str(detail.get("path")),
    )


def raise_for(lib: _ffi.Library, code: int) -> PiecesError:
    """The exception for a failed call's ``code``; reads the thread's last-error detail."""
    return from_detail(lib.last_error(code))


def local(cls: Type[PiecesError], code: int, category: str, message: str) -> PiecesError:
    """An exception for a failure found in Python before any library call (same fields as the rest)."""
    return cls(message, code=code, name=f"PIECES_ERR_{category.upper()}", category=category)


def wrong_process(what: str) -> PiecesError:
    """For a client or stream used in a child process after ``fork()``."""
    return local(WrongProcess, _ffi.WRONG_PROCESS, "wrong_process",
                 f"this {what} was created by another process and inherited across fork(); "
                 f"it cannot be used here: create a new one in this process")
