"""Prints user stream events from a Pieces OS (or the stand-in) at argv[1].

    python examples/python/stream.py http://127.0.0.1:PORT [N] [--demo]
    python examples/python/stream.py            # no URL: discover a running Pieces OS

Stops after N events (default 10) or Ctrl-C. With --demo, a second client changes the profile a
few times so that events arrive without anyone touching Pieces OS.
"""

from __future__ import annotations

import sys
import threading
import time

import pieces_user
from pieces_user import Client, StreamTimeout


def poke(url: str) -> None:
    """Changes the font size three times, as another app would (signing someone in if needed)."""
    with Client(url, timeout=5) as other:
        for _ in range(3):
            time.sleep(0.3)
            user = other.snapshot().get("user")
            if user is None:
                user = other.select({"user_id": "auth0|demo", "name": "Demo User"})
            user["aesthetics"]["font"]["size"] = user["aesthetics"]["font"]["size"] + 1
            other.update(user)


def main() -> int:
    args = [a for a in sys.argv[1:] if a != "--demo"]
    url = args.pop(0) if args and args[0].startswith("http") else pieces_user.discover()
    limit = int(args[0]) if args else 10
    with Client(url, timeout=5) as client, client.user_stream(timeout=30) as events:
        if "--demo" in sys.argv:
            threading.Thread(target=poke, args=(url,), daemon=True).start()
        try:
            for count, event in enumerate(events, 1):
                if event.kind == "user" and event.user is not None:
                    font = event.user["aesthetics"]["font"]["size"]
                    print(f"{event.kind:<12} id={event.user['id']} font.size={font}")
                else:
                    print(f"{event.kind:<12} {event.data}")
                if count >= limit:
                    break
        except StreamTimeout:
            print("no event for 30 s; stopping")
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
