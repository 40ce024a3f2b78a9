"""Every User API route through pieces_user, against a Pieces OS (or the stand-in) at argv[1].

    python examples/python/user.py http://127.0.0.1:PORT
    python examples/python/user.py            # no URL: discover a running Pieces OS
"""

from __future__ import annotations

import json
import sys
from typing import Any

import pieces_user
from pieces_user import Auth0User, Client, UserBetaStatus


def show(route: str, value: Any) -> None:
    text = json.dumps(value, ensure_ascii=False)
    print(f"{route:<22} {text[:110]}{'…' if len(text) > 110 else ''}")


def main() -> int:
    if len(sys.argv) > 2:
        print(__doc__, file=sys.stderr)
        return 2
    url = sys.argv[1] if len(sys.argv) == 2 else pieces_user.discover()
    with Client(url, timeout=10, access_token="example-token") as client:
        print(f"pieces_user {client.library_version} at {client.library_path}")
        snapshot = client.snapshot()
        show("snapshot", snapshot)
        user = snapshot.get("user")
        if user is None:
            # Nobody signed in: select one, as a sign-in flow would after Auth0.
            auth0: Auth0User = {"user_id": "auth0|example", "name": "Example User", "email": "ex@example.com"}
            user = client.select(auth0)
            show("select", user)
        show("refresh", client.refresh())

        user["aesthetics"]["font"]["size"] = user["aesthetics"]["font"]["size"] + 1
        show("update", client.update(user)["aesthetics"])

        user["vanityname"] = "example-vanity"
        show("update_vanity", client.update_vanity(user).get("vanityname"))
        user["vanityname"] = "taken"
        try:
            client.update_vanity(user)
        except pieces_user.Conflict as e:
            show("update_vanity taken", {"status": e.status, "body": e.body})

        status: UserBetaStatus = {"user": user["id"], "auth0": {"vision": {"from": {"value": "2024-01-01T00:00:00Z"}}}}
        try:
            show("beta_status", client.beta_status(status))
        except pieces_user.AuthenticationRequired as e:
            show("beta_status", {"status": e.status, "body": e.body})

        try:
            show("providers", client.providers())
        except pieces_user.NotImplementedLocally as e:
            show("providers", {"status": e.status, "body": e.body})

        show("stream_url", client.stream_url())
        client.clear()
        show("clear, then snapshot", client.snapshot())
    return 0


if __name__ == "__main__":
    sys.exit(main())
