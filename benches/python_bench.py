"""Benchmark (not a test): pieces_user from Python beside the official SDK, same server, same run.

    python benches/python_bench.py [--calls N] [--rounds R] [--seconds S] [--no-stream]

REST: per-call latency (p50, p99, calls/s) of snapshot() and update() for a 3 KB profile and the
maximal official fixture (~30 KB compact), against a constant loopback server (benches/python/
const_server.c, built here with cc; it answers fixed bytes, so only the clients differ). Three
clients, interleaved round by round so that machine drift hits all alike:
  - official: pieces-os-client 5.0.1 (UserApi; the update's model is built outside the timing)
  - ours: pieces_user.Client, dicts in and out
  - C ABI: the same library call through ctypes with the JSON text kept as bytes (no json.loads /
    dumps) — the floor that the dict API adds Python work to.

Stream: latency from a WebSocket server's send to the moment the iterator (and the callback form)
hands the event to user code, for 3 KB frames at 1000/s and 30 KB frames at 100/s. The server is a
separate Python process that writes its CLOCK_MONOTONIC send time into each profile.

The JSON codec is orjson when installed (pieces-user[fast]); PIECES_USER_JSON=stdlib forces json.

Needs: the package installed (or PYTHONPATH + PIECES_USER_LIB), pieces-os-client==5.0.1, cc.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from ctypes import byref, c_void_p
from pathlib import Path
from typing import Any, Callable, Dict, List, Tuple

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(os.environ.get("PIECES_FIXTURES", ROOT.parent / "shared" / "fixtures"))


def compact(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def percentile(samples: List[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def build_server(workdir: Path) -> Path:
    exe = workdir / "const_server"
    subprocess.run(
        [os.environ.get("CC", "cc"), "-O2", "-o", str(exe), str(ROOT / "benches" / "python" / "const_server.c"), "-lpthread"],
        check=True,
    )
    return exe


class ConstServer:
    def __init__(self, exe: Path, profile: bytes, workdir: Path) -> None:
        snap = workdir / "snapshot.json"
        upd = workdir / "update.json"
        snap.write_bytes(b'{"user":' + profile + b"}")
        upd.write_bytes(profile)
        self.proc = subprocess.Popen([str(exe), str(snap), str(upd)], stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        self.url = f"http://127.0.0.1:{int(self.proc.stdout.readline())}"

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait()


def timed(fn: Callable[[], Any], calls: int) -> List[float]:
    out = []
    clock = time.perf_counter_ns
    for _ in range(calls):
        t0 = clock()
        fn()
        out.append((clock() - t0) / 1000.0)
    return out


def rest(label: str, profile_obj: Any, exe: Path, workdir: Path, calls: int, rounds: int) -> List[Dict[str, Any]]:
    import pieces_user
    from pieces_user import _ffi
    from pieces_os_client.api.user_api import UserApi
    from pieces_os_client.api_client import ApiClient
    from pieces_os_client.configuration import Configuration
    from pieces_os_client.models.user_profile import UserProfile

    profile = compact(profile_obj)
    server = ConstServer(exe, profile, workdir)
    try:
        ours = pieces_user.Client(server.url, timeout=10)
        official = UserApi(ApiClient(Configuration(host=server.url)))
        model = UserProfile.from_dict(profile_obj)
        lib = ours._lib
        handle = ours._handle

        def raw_snapshot() -> bytes:
            out = c_void_p()
            rc = lib.pieces_user_snapshot(handle, byref(out))
            assert rc == _ffi.OK
            return lib.take_bytes(out)

        def raw_update() -> bytes:
            out = c_void_p()
            rc = lib.pieces_user_update(handle, profile, byref(out))
            assert rc == _ffi.OK
            return lib.take_bytes(out)

        cases: List[Tuple[str, str, Callable[[], Any]]] = [
            ("snapshot", "official", official.user_snapshot),
            ("snapshot", "ours", ours.snapshot),
            ("snapshot", "C ABI", raw_snapshot),
            ("update", "official", lambda: official.update_user(user_profile=model)),
            ("update", "ours", lambda: ours.update(profile_obj)),
            ("update", "C ABI", raw_update),
        ]
        # Correctness first: every client must get the document back.
        assert ours.snapshot()["user"] == profile_obj and ours.update(profile_obj) == profile_obj
        samples: Dict[Tuple[str, str], List[float]] = {(r, c): [] for r, c, _ in cases}
        for _, _, fn in cases:  # warm-up: connections, caches, pydantic's first-use costs
            timed(fn, max(20, calls // 10))
        for _ in range(rounds):
            for route, client, fn in cases:
                samples[(route, client)] += timed(fn, calls)
        ours.close()
    finally:
        server.close()
    rows = []
    for (route, client), s in samples.items():
        rows.append({
            "size": label, "route": route, "client": client,
            "p50_us": statistics.median(s), "p99_us": percentile(s, 99),
            "calls_per_s": 1e6 / statistics.mean(s), "n": len(s),
        })
    return rows


# --- stream ---------------------------------------------------------------------------------------

WS_SERVER = r'''
import base64, hashlib, socket, struct, sys, threading, time
template = open(sys.argv[1], "rb").read()
rate = float(sys.argv[2]); seconds = float(sys.argv[3])
MARK = b"ts:0000000000000000000"
assert template.count(MARK) == 1
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 0)); srv.listen(8)
print(srv.getsockname()[1], flush=True)
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

def frame(payload):
    n = len(payload)
    if n < 126: head = struct.pack("!BB", 0x81, n)
    elif n < 65536: head = struct.pack("!BBH", 0x81, 126, n)
    else: head = struct.pack("!BBQ", 0x81, 127, n)
    return head + payload

def handle(conn):
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk: return
        data += chunk
    head = data.split(b"\r\n\r\n")[0].decode()
    key = [l.split(":", 1)[1].strip() for l in head.split("\r\n") if l.lower().startswith("sec-websocket-key:")]
    if not key:
        body = b'{"user":null}'
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)
        conn.close(); return
    accept = base64.b64encode(hashlib.sha1(key[0].encode() + GUID).digest())
    conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n")
    time.sleep(0.5)  # let the client's post-connect GET /user settle
    interval = 1.0 / rate
    next_t = time.monotonic()
    end = next_t + seconds
    while next_t < end:
        while time.monotonic() < next_t:
            pass
        stamp = b"ts:%019d" % time.monotonic_ns()
        conn.sendall(frame(template.replace(MARK, stamp)))
        next_t += interval
    conn.sendall(b"\x88\x02\x03\xe8")
    time.sleep(0.2)
    conn.close()

while True:
    c, _ = srv.accept()
    threading.Thread(target=handle, args=(c,), daemon=True).start()
'''


def stream_case(label: str, profile_obj: Any, rate: float, seconds: float, workdir: Path, form: str) -> Dict[str, Any]:
    import pieces_user

    doc = dict(profile_obj)
    doc["name"] = "ts:0000000000000000000"
    template = workdir / f"stream-{label}.json"
    template.write_bytes(compact(doc))
    server = subprocess.Popen(
        [sys.executable, "-c", WS_SERVER, str(template), str(rate), str(seconds)],
        stdout=subprocess.PIPE, text=True,
    )
    assert server.stdout is not None
    url = f"http://127.0.0.1:{int(server.stdout.readline())}"
    lat: List[float] = []
    options = {"ping_interval_ms": 600000, "max_attempts": 1, "reconnect_min_ms": 100000, "reconnect_max_ms": 100000}

    def record(ev: Any) -> bool:
        now = time.monotonic_ns()
        if ev.kind != "user":
            return ev.kind in ("disconnected", "stopped")
        at = ev.raw.find(b'"ts:')
        if at >= 0:
            lat.append((now - int(ev.raw[at + 4: at + 23])) / 1000.0)
        return False

    try:
        with pieces_user.Client(url, timeout=10) as client:
            if form == "iterator":
                with client.user_stream(options, timeout=seconds + 10) as events:
                    for ev in events:
                        if record(ev):
                            break
            else:
                done = threading.Event()

                def cb(ev: Any) -> None:
                    if record(ev):
                        done.set()

                watcher = client.watch_user(cb, options)
                done.wait(seconds + 10)
                watcher.stop()
    finally:
        server.terminate()
        server.wait()
    lat = lat[len(lat) // 20:]  # drop the first 5 %: connection warm-up
    return {"size": label, "rate": rate, "form": form, "n": len(lat),
            "p50_us": statistics.median(lat) if lat else float("nan"),
            "p99_us": percentile(lat, 99) if lat else float("nan")}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, default=300, help="calls per client per round")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=5.0, help="stream run length per case")
    ap.add_argument("--no-stream", action="store_true")
    ap.add_argument("--json", action="store_true", help="print the rows as JSON too")
    args = ap.parse_args()

    import pieces_user
    from pieces_user import client as client_module

    profiles = {
        "3 KB": json.loads((ROOT / "benches" / "data" / "profile-3k.json").read_text()),
        "30 KB": json.loads((FIXTURES / "UserProfile.max.json").read_text()),
    }
    print(f"pieces_user {pieces_user.library_version()} (Python {sys.version.split()[0]}, "
          f"JSON codec {client_module.JSON_CODEC}), "
          f"official pieces-os-client 5.0.1; sizes: "
          + ", ".join(f"{k} = {len(compact(v))} B" for k, v in profiles.items()))
    rows: List[Dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        exe = build_server(work)
        for label, obj in profiles.items():
            rows += rest(label, obj, exe, work, args.calls, args.rounds)
        print(f"\nREST, {args.rounds} rounds x {args.calls} calls per client, interleaved")
        print(f"{'size':<6} {'route':<9} {'client':<9} {'p50 us':>9} {'p99 us':>9} {'calls/s':>9} "
              f"{'official/ours p50':>18} {'ours/C ABI p50':>15}")
        for r in rows:
            same = {x["client"]: x for x in rows if x["size"] == r["size"] and x["route"] == r["route"]}
            speedup = same["official"]["p50_us"] / r["p50_us"] if r["client"] == "ours" else None
            vs_c = r["p50_us"] / same["C ABI"]["p50_us"] if r["client"] == "ours" else None
            print(f"{r['size']:<6} {r['route']:<9} {r['client']:<9} {r['p50_us']:9.1f} {r['p99_us']:9.1f} "
                  f"{r['calls_per_s']:9.0f} {('%.1fx' % speedup) if speedup else '':>18} "
                  f"{('%.2fx' % vs_c) if vs_c else '':>15}")
        stream_rows: List[Dict[str, Any]] = []
        if not args.no_stream:
            for label, rate in (("3 KB", 1000.0), ("30 KB", 100.0)):
                for form in ("iterator", "callback"):
                    stream_rows.append(stream_case(label.replace(" ", ""), profiles[label], rate, args.seconds, work, form))
            print("\nStream: server send -> event in user code")
            print(f"{'size':<6} {'rate/s':>7} {'form':<9} {'n':>6} {'p50 us':>9} {'p99 us':>9}")
            for s in stream_rows:
                print(f"{s['size']:<6} {s['rate']:7.0f} {s['form']:<9} {s['n']:6d} {s['p50_us']:9.1f} {s['p99_us']:9.1f}")
    if args.json:
        print(json.dumps({"rest": rows, "stream": stream_rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
