"""Test helpers: the stand-in Pieces OS, the official fixtures, and raw loopback servers.

The stand-in binary comes from $PIECES_STANDIN or <repo>/target/debug/pieces-standin; the fixtures
from $PIECES_FIXTURES or <repo>/../shared/fixtures. A missing binary or fixture directory is an
error, never a skip: a test run that silently tests nothing is worse than a red one.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any, Callable, Iterator, List, Optional

REPO = Path(__file__).resolve().parents[3]


def standin_path() -> Path:
    env = os.environ.get("PIECES_STANDIN")
    path = Path(env) if env else REPO / "target" / "debug" / "pieces-standin"
    if not path.is_file():
        raise RuntimeError(
            f"stand-in binary not found at {path}: build it (cargo build -p pieces-standin) "
            "or set PIECES_STANDIN"
        )
    return path


def fixtures_dir() -> Path:
    env = os.environ.get("PIECES_FIXTURES")
    path = Path(env) if env else REPO.parent / "shared" / "fixtures"
    if not (path / "UserProfile.max.json").is_file():
        raise RuntimeError(f"official fixtures not found at {path}; set PIECES_FIXTURES")
    return path


def load_fixture(name: str) -> Any:
    return json.loads((fixtures_dir() / name).read_text(encoding="utf-8"))


class Standin:
    """One pieces-standin process; restartable on the same port."""

    def __init__(self, *args: str) -> None:
        self.args = list(args)
        self.proc: Optional[subprocess.Popen[str]] = None
        self.port = 0
        self.url = ""
        self.start()

    def start(self) -> None:
        # The port may linger for a moment after a restart; retry rather than sleep blindly.
        deadline = time.monotonic() + 10
        while True:
            proc = subprocess.Popen(
                [str(standin_path()), "--port", str(self.port), "--exit-on-stdin-eof", *self.args],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            assert proc.stdout is not None
            line = proc.stdout.readline().strip()
            if line.startswith("http://"):
                break
            proc.kill()
            err = proc.communicate()[1]
            if time.monotonic() > deadline:
                raise RuntimeError(f"pieces-standin did not start: {line!r} {err}")
            time.sleep(0.05)
        self.proc = proc
        self.url = line
        self.port = int(line.rsplit(":", 1)[1])

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for pipe in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                pipe.close()
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def admin(self, path: str) -> None:
        req = urllib.request.Request(self.url + "/__admin/" + path, data=b"", method="POST")
        with urllib.request.urlopen(req, timeout=5) as resp:
            resp.read()


class RawServer:
    """A loopback server that answers every request with fixed bytes (or never answers).

    With ``hold=True`` it keeps every request it has read unanswered until ``release()``, and
    ``wait_held(n)`` waits for the event "n requests are in the server's hands": the way a test
    knows that calls are in flight, without sleeping and hoping they are.
    """

    def __init__(self, response: Optional[bytes], wait_for_head: bool = True,
                 hold: bool = False) -> None:
        self.response = response
        # False: answer as soon as any bytes arrive (e.g. a TLS ClientHello, which has no HTTP head).
        self.wait_for_head = wait_for_head
        self.hold = hold
        self.held = 0
        self.released = False
        self.changed = threading.Condition()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.conns: List[socket.socket] = []
        self.peers: List[Any] = []
        self.knocks: List[Any] = []
        self.closed = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.closed:
            try:
                conn, peer = self.sock.accept()
            except OSError:
                return
            with self.changed:
                self.conns.append(conn)
                self.peers.append(peer)
                self.changed.notify_all()
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        try:
            data = b""
            while b"\r\n\r\n" not in data and (self.wait_for_head or not data):
                chunk = conn.recv(65536)
                if not chunk:
                    return
                data += chunk
            if self.hold:
                self._hold_until_released()
            if self.response is not None:
                conn.sendall(self.response)
                conn.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def _hold_until_released(self) -> None:
        with self.changed:
            self.held += 1
            self.changed.notify_all()
            self.changed.wait_for(lambda: self.released)

    def wait_held(self, n: int, timeout: float = 10.0) -> bool:
        """True once ``n`` requests are held; False if that did not happen within ``timeout``."""
        with self.changed:
            return self.changed.wait_for(lambda: self.held >= n, timeout)

    def connections(self) -> int:
        """Every connection ever made to this server, counted without a time window: a knock
        queues behind any client connection still waiting to be accepted, and once the knock is
        accepted they all have been."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as knock:
            me = knock.getsockname()
            self.knocks.append(me)
            with self.changed:
                assert self.changed.wait_for(lambda: me in self.peers, 10), "knock not accepted"
                before = self.peers[: self.peers.index(me)]
                return sum(1 for p in before if p not in self.knocks)

    def release(self) -> None:
        with self.changed:
            self.released = True
            self.changed.notify_all()

    def close(self) -> None:
        self.release()
        self.closed = True
        self.sock.close()
        for c in self.conns:
            try:
                c.close()
            except OSError:
                pass


NULL_USER_ANSWER = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 13\r\n\r\n"
    b'{"user":null}'
)


class HoldingServer:
    """Holds every GET /user/refresh unanswered; answers other requests with ``{"user":null}``."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.held = threading.Semaphore(0)
        self.conns: List[socket.socket] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        data = b""
        try:
            while True:
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    data += chunk
                head, _, data = data.partition(b"\r\n\r\n")
                if head.startswith(b"GET /user/refresh "):
                    self.held.release()
                    while conn.recv(65536):
                        pass
                    return
                conn.sendall(NULL_USER_ANSWER)
        except OSError:
            pass

    def wait_held(self) -> None:
        assert self.held.acquire(timeout=10), "the call never reached the server"

    def close(self) -> None:
        self.sock.close()
        for c in self.conns:
            try:
                c.close()
            except OSError:
                pass


def http_response(status: str, body: bytes, content_type: str = "application/json") -> bytes:
    head = (
        f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + body


def free_port() -> int:
    """A port with nothing listening (bound, then released)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port: int = s.getsockname()[1]
    s.close()
    return port
