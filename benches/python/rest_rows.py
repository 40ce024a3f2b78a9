"""Python figures for `make bench` (benches/bench_rest.sh), against the server of bench_rest --serve.

    python3 benches/python/rest_rows.py URL PROFILE_JSON_FILE ROUNDS CALLS

Three ways to make the same calls, interleaved round by round (ABCABC...): the dict API
(`Client.snapshot()`, `Client.update(dict)`), the JSON-text API (the library call through ctypes with
the text kept as bytes, no decoding), and that same raw call with the package's codec around it
(encoding the dict for update, decoding the answer): the dict API costs what the raw call plus the
codec costs when the Python layer adds nothing of its own. Prints, per route, the median over the
rounds of each way's p50 as a line "PYROW ROUTE DICT_US TEXT_US TEXT_PLUS_CODEC_US".
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from ctypes import byref, c_void_p
from typing import Any, Callable, Dict, List

import pieces_user
from pieces_user import _ffi
from pieces_user.client import decode_document, encode_document


def p50_of(fn: Callable[[], Any], calls: int) -> float:
    clock = time.perf_counter_ns
    samples = []
    for _ in range(calls):
        t0 = clock()
        fn()
        samples.append((clock() - t0) / 1000.0)
    return statistics.median(samples)


def main() -> int:
    url, profile_path, rounds, calls = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    profile = open(profile_path, "rb").read()
    profile_obj = json.loads(profile)
    client = pieces_user.Client(url, timeout=10)
    lib, handle = client._lib, client._handle

    def text_snapshot() -> bytes:
        out = c_void_p()
        if lib.pieces_user_snapshot(handle, byref(out)) != _ffi.OK:
            raise RuntimeError("snapshot failed")
        return lib.take_bytes(out)

    def text_update(text: bytes = profile) -> bytes:
        out = c_void_p()
        if lib.pieces_user_update(handle, text, byref(out)) != _ffi.OK:
            raise RuntimeError("update failed")
        return lib.take_bytes(out)

    ways: Dict[str, Dict[str, Callable[[], Any]]] = {
        "GET": {
            "dict": client.snapshot,
            "text": text_snapshot,
            "text+codec": lambda: decode_document(text_snapshot()),
        },
        "update": {
            "dict": lambda: client.update(profile_obj),
            "text": text_update,
            "text+codec": lambda: decode_document(text_update(encode_document(profile_obj))),
        },
    }
    assert client.snapshot()["user"] == profile_obj and client.update(profile_obj) == profile_obj
    for route in ways.values():  # warm-up
        for fn in route.values():
            p50_of(fn, 100)
    p50s: Dict[str, Dict[str, List[float]]] = {r: {w: [] for w in ws} for r, ws in ways.items()}
    for _ in range(rounds):
        for route, route_ways in ways.items():
            for way, fn in route_ways.items():
                p50s[route][way].append(p50_of(fn, calls))
    client.close()
    for route, by_way in p50s.items():
        mid = {way: statistics.median(v) for way, v in by_way.items()}
        print(f"PYROW {route} {mid['dict']:.1f} {mid['text']:.1f} {mid['text+codec']:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
