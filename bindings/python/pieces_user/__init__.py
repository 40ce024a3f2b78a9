"""pieces_user: a fast client for the Pieces OS User API, over the pieces_user C library (ctypes).

    from pieces_user import Client, Conflict

    with Client("http://127.0.0.1:39300", timeout=5) as client:
        profile = client.snapshot()["user"]
        ...

Documents are plain dicts (typed as the TypedDicts in :mod:`pieces_user.types`); numbers stay exact
(a number a float cannot hold is a :class:`JsonNumber` that is written back as its text); failures
raise a subclass of :class:`PiecesError`. The native library is found, in order, at the ``library=``
argument, at ``$PIECES_USER_LIB``, inside this package, then where ``make install`` put it (the
system loader's search, by the soname ``libpieces_user.so.N`` on Linux).
"""

from ._codec import JsonNumber
from ._ffi import ABI_VERSION, LibraryLoadError
from .aio import AsyncClient, AsyncUserStream, AsyncUserWatcher
from .client import Client, Document, discover
from .errors import (
    AuthenticationRequired,
    ClientClosed,
    Conflict,
    ConnectionFailed,
    HttpError,
    HttpStatusError,
    InternalError,
    Interrupted,
    InvalidArgument,
    InvalidDocument,
    InvalidInput,
    InvalidResponse,
    MalformedJson,
    NotFound,
    NotImplementedLocally,
    NotRunning,
    PiecesError,
    ResponseTooLarge,
    ServerError,
    StreamEnded,
    StreamTimeout,
    Timeout,
    TlsError,
    TransportError,
    WrongProcess,
)
from .stream import StreamEvent, UserStream, UserWatcher
from .types import Auth0User, ReturnedUserProfile, UserBetaStatus, UserProfile

__version__ = "0.1.0"


def library_version(library: "str | None" = None) -> str:
    """``pieces_version()`` of the library that :class:`Client` would load."""
    from ._ffi import load

    return load(library).version


__all__ = [
    "ABI_VERSION",
    "AsyncClient",
    "AsyncUserStream",
    "AsyncUserWatcher",
    "Auth0User",
    "AuthenticationRequired",
    "Client",
    "ClientClosed",
    "Conflict",
    "ConnectionFailed",
    "Document",
    "HttpError",
    "HttpStatusError",
    "InternalError",
    "Interrupted",
    "InvalidArgument",
    "InvalidDocument",
    "InvalidInput",
    "InvalidResponse",
    "JsonNumber",
    "LibraryLoadError",
    "MalformedJson",
    "NotFound",
    "NotImplementedLocally",
    "NotRunning",
    "PiecesError",
    "ResponseTooLarge",
    "ReturnedUserProfile",
    "ServerError",
    "StreamEnded",
    "StreamEvent",
    "StreamTimeout",
    "Timeout",
    "TlsError",
    "TransportError",
    "UserBetaStatus",
    "UserProfile",
    "UserStream",
    "UserWatcher",
    "WrongProcess",
    "__version__",
    "discover",
    "library_version",
]
