"""Every official fixture: valid documents round-trip equal, invalid ones are refused before any
byte is sent, with an InvalidInput exception naming the JSON path."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Dict, Tuple

import pytest

import pieces_user
from pieces_user import Client
from support import RawServer, Standin, fixtures_dir, load_fixture

VALID = sorted(
    p.name
    for p in fixtures_dir().glob("*.json")
    if not p.name.endswith(".schema.json")
    and p.name.split(".")[0] in ("UserProfile", "Auth0User", "UserBetaStatus")
)
INVALID = sorted(p.name for p in (fixtures_dir() / "invalid").glob("*.json"))

# Where the README of the fixtures says the fault is; for a missing key either the object or the key.
EXPECTED_PATH: Dict[str, Tuple[str, ...]] = {
    "UserProfile.1.json": ("$", "$.id"),
    "UserProfile.2.json": ("$", "$.aesthetics"),
    "UserProfile.3.json": ("$.id",),
    "UserProfile.5.json": ("$.aesthetics.font.size",),
    "UserProfile.7.json": ("$.aesthetics.theme.dark",),
    "UserProfile.9.json": ("$.apiKeys",),
    "UserBetaStatus.1.json": ("$", "$.user"),
    "UserBetaStatus.2.json": ("$.user",),
    "UserBetaStatus.4.json": ("$",),
    "UserBetaStatus.5.json": ("$.schema.migration",),
    "UserBetaStatus.7.json": ("$.auth0",),
    "UserBetaStatus.10.json": ("$.descope.vision.to", "$.descope.vision.to.value"),
}


def test_every_fixture_is_covered() -> None:
    assert len(VALID) >= 6 and len(INVALID) >= 12
    assert set(INVALID) <= set(EXPECTED_PATH)


def route_for(name: str, c: Client) -> Callable[[Any], Any]:
    model = name.split(".")[0]
    return {"UserProfile": c.update, "Auth0User": c.select, "UserBetaStatus": c.beta_status}[model]


@pytest.mark.parametrize("name", VALID)
def test_valid_documents_are_accepted_and_sent_whole(name: str, standin: Standin) -> None:
    doc = load_fixture(name)
    with Client(standin.url, timeout=5) as c:
        answer = route_for(name, c)(doc)
        if name.startswith("Auth0User"):
            # select answers with the profile the stand-in derives from the Auth0 user.
            assert isinstance(answer.get("id"), str)
        else:
            assert answer == doc


@pytest.mark.parametrize("name", INVALID)
def test_invalid_documents_raise_invalid_input_naming_the_path(
    name: str, raw_server: Callable[[Any], RawServer]
) -> None:
    doc = json.loads((fixtures_dir() / "invalid" / name).read_text(encoding="utf-8"))
    # A server that never answers: if the library sent anything, the call would time out instead.
    server = raw_server(None)
    with Client(server.url, timeout=2) as c, pytest.raises(pieces_user.InvalidInput) as e:
        route_for(name, c)(doc)
    assert isinstance(e.value, pieces_user.InvalidDocument), repr(e.value)
    assert e.value.path in EXPECTED_PATH[name], repr(e.value)
    assert e.value.code == 5 and e.value.category == "invalid_document"
    assert server.connections() == 0, "an invalid document must be refused before connecting"


def test_malformed_json_text(raw_server: Callable[[Any], RawServer]) -> None:
    server = raw_server(None)
    with Client(server.url, timeout=2) as c, pytest.raises(pieces_user.MalformedJson) as e:
        c.update('{"id": ')
    assert e.value.code == 4


@pytest.mark.parametrize(
    "doc",
    [{"id": {1, 2}}, "{\x00}", {"id": "\ud800"}, object()],
    ids=["set", "nul", "surrogate", "object"],
)
def test_unencodable_input_is_an_argument_error(doc: Any, raw_server: Callable[[Any], RawServer]) -> None:
    server = raw_server(None)
    with Client(server.url, timeout=2) as c, pytest.raises(pieces_user.InvalidArgument):
        c.update(doc)


@pytest.mark.parametrize("doc", [["a", "list"], 42, None], ids=["list", "int", "null"])
def test_json_that_is_not_an_object_is_an_invalid_document(
    doc: Any, raw_server: Callable[[Any], RawServer]
) -> None:
    server = raw_server(None)
    with Client(server.url, timeout=2) as c, pytest.raises(pieces_user.InvalidDocument) as e:
        c.update(doc)
    assert e.value.path == "$"


def test_non_finite_floats_follow_the_codec(raw_server: Callable[[Any], RawServer]) -> None:
    """stdlib json refuses NaN (InvalidArgument); orjson writes null, which the library then judges."""
    from pieces_user import client as client_module

    server = raw_server(None)
    with Client(server.url, timeout=2) as c:
        if client_module.JSON_CODEC == "orjson":
            with pytest.raises(pieces_user.InvalidDocument) as e:
                c.update({"id": float("nan"), "aesthetics": {}})
            assert e.value.path == "$.id"
        else:
            with pytest.raises(pieces_user.InvalidArgument):
                c.update({"id": float("nan")})


def test_the_stdlib_codec_refuses_nan_before_sending() -> None:
    import subprocess
    import sys
    import os

    code = (
        "import pieces_user, pieces_user.client as m\n"
        "assert m.JSON_CODEC == 'json'\n"
        "try:\n"
        "    m.encode_document({'x': float('nan')})\n"
        "except pieces_user.InvalidArgument:\n"
        "    print('refused')\n"
    )
    env = dict(os.environ, PIECES_USER_JSON="stdlib")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "refused"
