"""pieces_user from asyncio: calls awaited from several tasks, a timeout that interrupts a call, and
the user stream read with ``async for`` while another task updates the profile.

    python examples/python/async_user.py http://127.0.0.1:PORT
    python examples/python/async_user.py            # no URL: discover a running Pieces OS
"""

from __future__ import annotations

import asyncio
import sys

import pieces_user
from pieces_user import AsyncClient


async def main(url: str) -> int:
    async with AsyncClient(url, timeout=10) as client:
        # Many awaits at once on one client: they run on the client's worker threads.
        snapshots = await asyncio.gather(*(client.snapshot() for _ in range(10)))
        user = snapshots[0].get("user")
        if user is None:
            print("nobody is signed in")
            return 0
        print("signed in as", user.get("name") or user["id"])

        # A timeout (or cancelling the task) interrupts the call in the library at once.
        try:
            profile = await asyncio.wait_for(client.refresh(), timeout=2)
            print("refreshed", profile["id"])
        except asyncio.TimeoutError:
            print("refresh took longer than 2 s: abandoned")

        target = user["aesthetics"]["font"]["size"] + 1

        async def bump_font() -> None:
            user["aesthetics"]["font"]["size"] = target
            await client.update(user)

        # Leaving the async for (break, an exception, the task cancelled) stops and frees the stream.
        writer = None
        async for event in client.user_stream({"reconnect_max_ms": 2000}, timeout=10):
            print("event", event.kind)
            if event.kind == "connected" and writer is None:
                writer = asyncio.create_task(bump_font())
            elif event.user is not None and event.user["aesthetics"]["font"]["size"] == target:
                print("saw our update: font size", target)
                break
        if writer is not None:
            await writer
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(asyncio.run(main(sys.argv[1] if len(sys.argv) == 2 else pieces_user.discover())))
