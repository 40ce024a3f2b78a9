"""Each exception class raised by a real condition, with the fields the library reports."""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any, Callable

import pytest

import pieces_user
from pieces_user import Client, _ffi
from support import RawServer, Standin, free_port, http_response


def test_hierarchy_lets_callers_catch_families() -> None:
    E = pieces_user
    assert issubclass(E.NotFound, E.HttpError) and issubclass(E.HttpError, E.PiecesError)
    assert issubclass(E.InvalidDocument, E.InvalidInput) and issubclass(E.MalformedJson, E.InvalidInput)
    assert issubclass(E.Timeout, E.TransportError) and issubclass(E.ConnectionFailed, E.TransportError)
    assert issubclass(E.StreamTimeout, E.Timeout) and issubclass(E.ResponseTooLarge, E.InvalidResponse)
    assert issubclass(E.NotRunning, E.ConnectionFailed) and issubclass(E.ClientClosed, E.InvalidInput)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"base_url": "ftp://example"},
        {"base_url": "http://"},
        {"timeout": 0},
        {"timeout": -1},
        {"connect_timeout": 0},
        {"max_response_bytes": 0},
        {"access_token": "a\r\nX-Evil: 1"},
    ],
)
def test_bad_configuration_is_an_invalid_argument(kwargs: Any) -> None:
    with pytest.raises(pieces_user.InvalidArgument) as e:
        Client(**kwargs)
    assert e.value.code == 1 and e.value.category == "invalid_argument"
    assert e.value.name == "PIECES_ERR_INVALID_ARGUMENT"


def test_timeout_must_be_a_number() -> None:
    with pytest.raises(pieces_user.InvalidArgument):
        Client(timeout="5")  # type: ignore[arg-type]
    with pytest.raises(pieces_user.InvalidArgument):
        Client(timeout=float("inf"))


def test_secrets_never_appear_in_errors(signed_out: Standin) -> None:
    with Client(signed_out.url, application_id="app-secret-1", access_token="tok-secret-2", timeout=5) as c:
        with pytest.raises(pieces_user.ServerError) as e:
            c.refresh()
    text = repr(e.value) + str(e.value) + str(e.value.body)
    assert "app-secret-1" not in text and "tok-secret-2" not in text


def test_connection_refused() -> None:
    with Client(f"http://127.0.0.1:{free_port()}", timeout=5) as c:
        with pytest.raises(pieces_user.ConnectionFailed) as e:
            c.snapshot()
    assert e.value.code == 20 and e.value.category == "connection"


def test_timeout_on_a_server_that_never_answers(raw_server: Callable[[Any], RawServer]) -> None:
    server = raw_server(None)
    with Client(server.url, timeout=0.3) as c:
        with pytest.raises(pieces_user.Timeout) as e:
            c.snapshot()
    assert e.value.code == 21 and e.value.category == "timeout"


def test_timeout_on_a_hung_standin(standin: Standin) -> None:
    standin.admin("hang")
    with Client(standin.url, timeout=0.3) as c:
        with pytest.raises(pieces_user.Timeout):
            c.update({"id": "x", "aesthetics": {"theme": {"dark": False}, "font": {"size": 3}}})


def test_response_too_large(standin: Standin) -> None:
    with Client(standin.url, timeout=5, max_response_bytes=64) as c:
        with pytest.raises(pieces_user.ResponseTooLarge) as e:
            c.snapshot()
    assert e.value.code == 24


def test_invalid_response_html(raw_server: Callable[[Any], RawServer]) -> None:
    server = raw_server(http_response("200 OK", b"<html>captive portal</html>", "text/html"))
    with Client(server.url, timeout=5) as c, pytest.raises(pieces_user.InvalidResponse) as e:
        c.snapshot()
    assert e.value.code == 23


def test_invalid_response_not_json(raw_server: Callable[[Any], RawServer]) -> None:
    server = raw_server(http_response("200 OK", b"{not json"))
    with Client(server.url, timeout=5) as c, pytest.raises(pieces_user.InvalidResponse):
        c.refresh()


def test_other_http_status(raw_server: Callable[[Any], RawServer]) -> None:
    server = raw_server(http_response("418 I'm a teapot", b"short and stout", "text/plain"))
    with Client(server.url, timeout=5) as c, pytest.raises(pieces_user.HttpStatusError) as e:
        c.snapshot()
    assert e.value.status == 418 and e.value.body == "short and stout"
    assert e.value.code == 15 and e.value.category == "http_status"


def test_tls_failure(raw_server: Callable[[Any], RawServer]) -> None:
    # A plain-HTTP server behind an https:// URL: the TLS handshake cannot succeed.
    server = raw_server(http_response("400 Bad Request", b"plain http", "text/plain"), False)
    with Client(f"https://127.0.0.1:{server.port}", timeout=5) as c, pytest.raises(pieces_user.TlsError) as e:
        c.snapshot()
    assert e.value.code == 22


def test_missing_tls_ca_file_is_an_argument_error(tmp_path: Path) -> None:
    with pytest.raises(pieces_user.InvalidArgument):
        Client("https://127.0.0.1:1", tls_ca_file=tmp_path / "missing.pem")


def test_unknown_discovery_or_config_key_is_named() -> None:
    # discovery is passed through to the library, which names what it does not accept.
    try:
        Client(discovery={"no_such_option": 1})
    except pieces_user.InvalidArgument as e:
        assert "no_such_option" in e.message or "discovery" in e.message
    else:  # pragma: no cover - only if the library ever accepts unknown keys
        pytest.fail("an unknown discovery option was accepted")


# --- loading --------------------------------------------------------------------------------------


def test_library_is_loaded_once_with_the_abi_checked() -> None:
    lib = _ffi.load()
    assert lib is _ffi.load()
    assert lib.abi_version == pieces_user.ABI_VERSION == 1
    assert pieces_user.library_version()


def test_a_bad_explicit_path_warns_and_names_it(tmp_path: Path) -> None:
    bad = tmp_path / "nope.so"
    with pytest.warns(RuntimeWarning, match="nope.so"):
        lib = _ffi.load(bad)
    assert lib.abi_version == 1


def test_failure_lists_every_path_tried(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIECES_USER_LIB", str(tmp_path / "from-env.so"))
    monkeypatch.setattr(_ffi, "library_file_names", lambda: ["libpieces_user.missing"])
    monkeypatch.setattr(_ffi, "installed_candidates", lambda: [("libpieces_user.missing.1", "installed")])
    with pytest.raises(pieces_user.LibraryLoadError) as e:
        _ffi.load(tmp_path / "explicit.so")
    paths = [p for p, _ in e.value.tried]
    assert paths[0].endswith("explicit.so") and paths[1].endswith("from-env.so")
    assert paths[2].endswith("libpieces_user.missing") and paths[3] == "libpieces_user.missing.1"
    for p in paths:
        assert p in str(e.value)


def test_abi_mismatch_is_refused_with_a_clear_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = tmp_path / "fake.c"
    src.write_text("unsigned int pieces_abi_version(void) { return 2; }\n")
    so = tmp_path / "libfake.so"
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(so), str(src)], check=True)
    monkeypatch.delenv("PIECES_USER_LIB", raising=False)
    monkeypatch.setattr(_ffi, "library_file_names", lambda: ["libpieces_user.missing"])
    # This process has loaded the packaged library, so the loader would answer its soname with it.
    monkeypatch.setattr(_ffi, "installed_candidates", lambda: [])
    with pytest.raises(pieces_user.LibraryLoadError) as e:
        _ffi.load(so)
    assert "ABI version 2" in str(e.value) and "needs ABI version 1" in str(e.value)


def test_every_export_is_declared() -> None:
    lib = _ffi.load()
    names = set(_ffi.SIGNATURES)
    for name in names:
        fn = getattr(lib._dll, name)
        assert fn.argtypes is not None or name in ("pieces_version", "pieces_abi_version"), name
    # Returned strings are c_void_p so that the library's allocation can be freed.
    assert _ffi.SIGNATURES["pieces_user_snapshot"][0][1] is ctypes.POINTER(ctypes.c_void_p)


def test_status_names_come_from_the_library() -> None:
    lib = _ffi.load()
    assert lib.status_name(0).startswith("PIECES_OK")
    assert lib.status_name(11).startswith("PIECES_ERR_CONFLICT")


# --- discovery ------------------------------------------------------------------------------------


def _only(port: int) -> Any:
    return {"ports": [port, port], "port_file": "", "legacy_ports": [], "probe_timeout_ms": 200}


def test_discover_finds_the_standin(standin: Standin, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PIECES_BASE_URL", raising=False)
    assert pieces_user.discover(_only(standin.port)).rstrip("/") == standin.url
    with Client(discovery=_only(standin.port), timeout=5) as c:
        assert c.snapshot().get("user")


def test_nothing_running_raises_not_running(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PIECES_BASE_URL", raising=False)
    port = free_port()
    with pytest.raises(pieces_user.NotRunning) as e:
        pieces_user.discover(_only(port))
    assert e.value.code == 25 and e.value.category == "not_running"
    with pytest.raises(pieces_user.NotRunning):
        Client(discovery=_only(port))


def test_every_export_of_the_header_is_declared() -> None:
    import re

    header = (Path(__file__).resolve().parents[3] / "include" / "pieces_user.h").read_text()
    exports = set(re.findall(r"^\S[^\n(]*?\b(pieces_[a-z_]+)\(", header, re.M))
    assert exports and exports == set(_ffi.SIGNATURES), exports ^ set(_ffi.SIGNATURES)
