"""Benchmark (not a test): what ``await AsyncClient.snapshot()`` adds over ``Client.snapshot()``.

    python benches/python_async_bench.py [--calls N] [--rounds R]

Both against the same constant loopback server (benches/python/const_server.c, answering the 3 KB
profile of benches/data/profile-3k.json), in the same run, interleaved round by round so that
machine drift hits all alike; per-call latency, median over every call. Three cases:
  - sync, main thread: ``Client.snapshot()`` as a script calls it (with Python's default SIGINT
    handler, so the call goes through the Ctrl-C helper thread);
  - sync, direct: the same call without that hand-off (as from any other thread, or with a SIGINT
    handler of the program's own);
  - async: ``await AsyncClient.snapshot()``, one call at a time inside ``asyncio.run``;
  - run_in_executor: ``await loop.run_in_executor(pool, client.snapshot)`` on a
    ``ThreadPoolExecutor``, what an asyncio program did without AsyncClient (for reference);
  - hand-off floor: ``await`` of a job that does nothing on the AsyncClient's own pool: the loop
    wakes a worker and the worker wakes the loop, the two thread hand-offs every call off the loop
    pays whatever it runs. On an idle VM each hand-off waits for a halted vCPU to wake, which is
    most of the async overhead; with the cores busy it costs a third as much.
The overhead reported is async minus each sync case (medians), and what async adds beyond the
hand-off floor: the AsyncClient's own work. Also: how long a cancelled call to a
server that never answers takes to end (the task's CancelledError, then the worker free again).

Needs: the package importable (installed, or PYTHONPATH=bindings/python with PIECES_USER_LIB), cc.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List

sys.path.insert(0, str(Path(__file__).resolve().parent))
from python_bench import ROOT, ConstServer, build_server, percentile, timed  # noqa: E402

# The tests' loopback server that holds GET /user/refresh unanswered.
sys.path.insert(0, str(ROOT / "bindings" / "python" / "tests"))
from support import HoldingServer  # noqa: E402


async def timed_async(fn: Callable[[], Any], calls: int) -> List[float]:
    out = []
    clock = time.perf_counter_ns
    for _ in range(calls):
        t0 = clock()
        await fn()
        out.append((clock() - t0) / 1000.0)
    return out


def rest(url: str, calls: int, rounds: int) -> Dict[str, List[float]]:
    import pieces_user

    from concurrent.futures import ThreadPoolExecutor

    samples: Dict[str, List[float]] = {
        "sync, main thread": [], "sync, direct": [], "async": [], "run_in_executor": [],
        "hand-off floor": [],
    }
    sync = pieces_user.Client(url, timeout=10)
    default_handler = signal.getsignal(signal.SIGINT)

    def direct() -> None:
        signal.signal(signal.SIGINT, lambda *_: None)  # a program's own handler: no hand-off
        try:
            samples["sync, direct"] += timed(sync.snapshot, calls)
        finally:
            signal.signal(signal.SIGINT, default_handler)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        executor = ThreadPoolExecutor(4)

        def in_executor() -> "asyncio.Future[Any]":
            return loop.run_in_executor(executor, sync.snapshot)

        async with pieces_user.AsyncClient(url, timeout=10) as client:
            assert (await client.snapshot()) == sync.snapshot()

            def nothing() -> "asyncio.Future[Any]":
                return client._run(lambda: None)

            for _ in range(3):  # warm-up: connections, threads, caches
                timed(sync.snapshot, calls // 10 + 1)
                await timed_async(client.snapshot, calls // 10 + 1)
                await timed_async(in_executor, calls // 10 + 1)
            for _ in range(rounds):
                samples["sync, main thread"] += timed(sync.snapshot, calls)
                direct()
                samples["async"] += await timed_async(client.snapshot, calls)
                samples["run_in_executor"] += await timed_async(in_executor, calls)
                samples["hand-off floor"] += await timed_async(nothing, calls)
        executor.shutdown()

    asyncio.run(main())
    sync.close()
    return samples


def cancellation(runs: int) -> Dict[str, List[float]]:
    """Cancel a call the server holds: time to the task's CancelledError and until the (only)
    worker has finished the call and is free again (measured by a no-op job behind it)."""
    import pieces_user

    server = HoldingServer()
    out: Dict[str, List[float]] = {"CancelledError": [], "worker free": []}

    async def main() -> None:
        async with pieces_user.AsyncClient(server.url, timeout=30, max_workers=1) as client:
            loop = asyncio.get_running_loop()
            for _ in range(runs):
                task = asyncio.create_task(client.refresh())
                await loop.run_in_executor(None, server.wait_held)
                t0 = time.perf_counter()
                task.cancel()
                try:
                    await task
                except asyncio.CancelledError:
                    pass
                out["CancelledError"].append((time.perf_counter() - t0) * 1e3)
                await client._run(lambda: None)  # queued behind the cancelled call on the one worker
                out["worker free"].append((time.perf_counter() - t0) * 1e3)

    asyncio.run(main())
    server.close()
    return out


def placements() -> List[bool]:
    """Pinned (when the machine can) first, then where the scheduler puts things."""
    can_pin = hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) >= 2
    return [True, False] if can_pin else [False]


@contextlib.contextmanager
def placed(pinned: bool, server_pid: int) -> Iterator[None]:
    """Pinned: this process (the event loop, and the threads it starts from now on: the
    AsyncClient's workers, the executor's, the Ctrl-C helper) on the first CPU, the server on the
    last, as bench_rest.sh places its clients and server. A hand-off between the loop and a
    worker is then a switch on one CPU instead of a wake-up of another, which on a VM that halts
    idle vCPUs (this one) costs a VM exit; the server's answer wakes the client across CPUs in
    every case alike."""
    if not pinned:
        yield
        return
    cpus = sorted(os.sched_getaffinity(0))
    os.sched_setaffinity(server_pid, {cpus[-1]})
    os.sched_setaffinity(0, {cpus[0]})
    try:
        yield
    finally:
        os.sched_setaffinity(0, set(cpus))


def report(samples: Dict[str, List[float]], pinned: bool) -> None:
    print("pinned: client on the first CPU, server on the last" if pinned
          else "unpinned: client threads and server where the scheduler puts them")
    print(f"{'case':<20} {'p50 us':>9} {'p99 us':>9}")
    medians = {}
    for case, s in samples.items():
        medians[case] = statistics.median(s)
        print(f"{case:<20} {medians[case]:>9.1f} {percentile(s, 99):>9.1f}")
    for base in ("sync, main thread", "sync, direct"):
        for case in ("async", "run_in_executor"):
            print(f"{case} overhead over {base}: {medians[case] - medians[base]:+.1f} us (median)")
    print(f"async overhead over sync, main thread, beyond the hand-off floor: "
          f"{medians['async'] - medians['sync, main thread'] - medians['hand-off floor']:+.1f} us")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--cancels", type=int, default=50)
    args = parser.parse_args()
    import pieces_user

    profile = json.loads((ROOT / "benches" / "data" / "profile-3k.json").read_text())
    body = json.dumps(profile, separators=(",", ":")).encode()
    print(f"pieces_user {pieces_user.library_version()} ({pieces_user.client.JSON_CODEC}), "
          f"snapshot() of a {len(body)} B profile, {args.rounds} interleaved rounds x {args.calls} calls")
    for pinned in placements():
        with tempfile.TemporaryDirectory() as tmp:
            workdir = Path(tmp)
            server = ConstServer(build_server(workdir), body, workdir)
            try:
                with placed(pinned, server.proc.pid):
                    samples = rest(server.url, args.calls, args.rounds)
            finally:
                server.close()
        report(samples, pinned)
    cancels = cancellation(args.cancels)
    for what, s in cancels.items():
        print(f"cancel -> {what}: median {statistics.median(s):.2f} ms, max {max(s):.2f} ms "
              f"({len(s)} runs, server never answers, timeout 30 s)")


if __name__ == "__main__":
    main()
