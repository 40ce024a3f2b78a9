"""Numbers survive a read and an unchanged write with both codecs (orjson and the stdlib json).

The C library passes JSON text through byte for byte; the Python layer must not round what it reads:
integers of any size stay exact ints, and a number a double cannot hold exactly (1e309, 1e-400,
0.10000000000000000000001) is a float that remembers its text and is written back as that text.
"""

from __future__ import annotations

import copy
import json
import math
import pickle
import urllib.request
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterator

import pytest

import pieces_user
from pieces_user import Client, JsonNumber
from pieces_user import _codec
from support import Standin

# Numbers orjson (or a plain float) would change, in the places a number can stand in JSON: an object
# value, the first and a later array element, after whitespace, negative, and at the start of a line.
PROFILE = (
    '{"aesthetics":{"font":{"size":14},"theme":{"dark":true}},'
    '"id":"2667d2bb-87be-51c0-a859-d7c1ea154eb0",'
    '"futureNumbers":{"big":12345678901234567890123,"u64":18446744073709551615,'
    '"beyondU64":18446744073709551616,"belowI64":-9223372036854775809,'
    '"huge":1e309,"negHuge":-1E+309,"tiny":1e-400,"subnormal":1.4e-323,'
    '"precise":0.10000000000000000000001,"precise2":1234567890.12345678901,'
    '"list":[12345678901234567890123, 1e309,\n-1e-400],'
    '"plain":1.5,"small":7,"text":"12345678901234567890123 1e309","longDigits":"pk_00000000000000000000"}}'
)

# The same without numbers past a double's range: orjson reads this one without an error, so only
# the scan for long and tiny numbers keeps it from rounding.
PROFILE_IN_RANGE = (
    PROFILE.replace('"huge":1e309,"negHuge":-1E+309,', "").replace(" 1e309,", " 2,")
)


def exact(text: "str | bytes") -> Any:
    """The document with every number as an exact int or Decimal: equal only if nothing was rounded."""
    return json.loads(text, parse_float=Decimal, parse_int=Decimal)


def stored_user(standin: Standin) -> bytes:
    """What the stand-in stores, as text: GET /user straight from the server, past the bindings."""
    with urllib.request.urlopen(standin.url + "/user", timeout=5) as resp:
        body: bytes = resp.read()
    return body


@pytest.fixture(params=["orjson", "stdlib"])
def codec(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    if request.param == "stdlib":
        monkeypatch.setattr(_codec, "_orjson", None)
    else:
        # orjson is a dependency and run_tests.sh installs it: its absence is a failure, not a skip.
        import orjson  # noqa: F401

        assert _codec._orjson is not None
    yield request.param


def start_with(standin_factory: Any, tmp_path: Path, profile: str) -> Standin:
    path = tmp_path / "profile.json"
    path.write_text(profile, encoding="utf-8")
    s: Standin = standin_factory("--user", str(path))
    return s


@pytest.fixture
def numbers_user(standin_factory: Any, tmp_path: Path) -> Standin:
    return start_with(standin_factory, tmp_path, PROFILE)


def test_reading_keeps_every_number_exact(codec: str, numbers_user: Standin) -> None:
    with Client(numbers_user.url, timeout=5) as c:
        me = c.snapshot()["user"]
    assert me is not None
    n = me["futureNumbers"]  # type: ignore[typeddict-item]
    assert type(n["big"]) is int and n["big"] == 12345678901234567890123
    assert type(n["beyondU64"]) is int and n["beyondU64"] == 18446744073709551616
    assert type(n["belowI64"]) is int and n["belowI64"] == -9223372036854775809
    assert n["list"][0] == 12345678901234567890123 and type(n["list"][0]) is int
    assert isinstance(n["huge"], JsonNumber) and math.isinf(n["huge"]) and n["huge"].text == "1e309"
    assert n["negHuge"] == -math.inf and n["negHuge"].text == "-1E+309"
    assert isinstance(n["tiny"], JsonNumber) and n["tiny"] == 0.0 and str(n["tiny"]) == "1e-400"
    assert isinstance(n["precise"], JsonNumber) and n["precise"] == 0.1
    assert isinstance(n["subnormal"], JsonNumber)
    # Numbers a double holds are plain floats, as before.
    assert type(n["plain"]) is float and type(n["small"]) is int


def test_saving_a_profile_unchanged_writes_every_number_back_as_it_was(
    codec: str, numbers_user: Standin
) -> None:
    with Client(numbers_user.url, timeout=5) as c:
        me = c.snapshot()["user"]
        assert me is not None
        returned = c.update(me)
        assert exact(stored_user(numbers_user))["user"] == exact(PROFILE)
        # What update() returned writes back unchanged too, and so does a deep copy of it.
        c.update(copy.deepcopy(returned))
        assert exact(stored_user(numbers_user))["user"] == exact(PROFILE)
        c.update(pickle.loads(pickle.dumps(returned)))
        assert exact(stored_user(numbers_user))["user"] == exact(PROFILE)


def test_a_profile_orjson_reads_without_error_round_trips_unchanged(
    codec: str, standin_factory: Any, tmp_path: Path
) -> None:
    assert ", 1e309" not in PROFILE_IN_RANGE and "\"huge\"" not in PROFILE_IN_RANGE
    standin = start_with(standin_factory, tmp_path, PROFILE_IN_RANGE)
    with Client(standin.url, timeout=5) as c:
        me = c.snapshot()["user"]
        assert me is not None
        assert type(me["futureNumbers"]["big"]) is int  # type: ignore[typeddict-item]
        c.update(me)
    assert exact(stored_user(standin))["user"] == exact(PROFILE_IN_RANGE)


def test_a_changed_profile_keeps_the_numbers_it_did_not_change(codec: str, numbers_user: Standin) -> None:
    with Client(numbers_user.url, timeout=5) as c:
        me = c.snapshot()["user"]
        assert me is not None
        me["aesthetics"]["font"]["size"] = 20
        c.update(me)
    want = exact(PROFILE)
    want["aesthetics"]["font"]["size"] = 20
    assert exact(stored_user(numbers_user))["user"] == want


def test_stream_events_keep_numbers_exact(codec: str, numbers_user: Standin) -> None:
    with Client(numbers_user.url, timeout=5) as c, c.user_stream(timeout=10) as events:
        for event in events:
            if event.kind == "user":
                assert event.user is not None
                n = event.user["futureNumbers"]  # type: ignore[typeddict-item]
                assert n["big"] == 12345678901234567890123 and n["huge"].text == "1e309"
                return
    raise AssertionError("no user event")


@pytest.mark.parametrize(
    "text",
    [
        "12345678901234567890123",
        "[12345678901234567890123]",
        "[1,\t-12345678901234567890123]",
        '{"a" :\r\n 1e-400}',
        '{"a":[0.5, 2.5e-999]}',
        "1" * 5000,  # beyond Python's int-from-text limit: kept as its text, never rounded
        '{"a":"x","b":-0.00000000000000000000000000000000000001234567890123456789}',
    ],
)
def test_numbers_in_every_position_decode_exactly_and_encode_back(codec: str, text: str) -> None:
    decoded = _codec.decode_document(text.encode())
    assert exact(_codec.encode_document(decoded)) == exact(text)


def test_json_number_behaves_as_its_float_and_remembers_its_text() -> None:
    n = JsonNumber("1e309")
    assert n == math.inf and n > 1e308 and n.text == "1e309" and str(n) == "1e309"
    assert repr(n) == "JsonNumber('1e309')"
    assert copy.copy(n).text == "1e309" and pickle.loads(pickle.dumps(n)).text == "1e309"
    assert type(n + 1) is float
    # A JsonNumber built in code writes its text, with either codec.
    assert _codec.encode_document({"n": n}) == b'{"n":1e309}'


def test_the_stdlib_codec_keeps_numbers_in_a_fresh_interpreter() -> None:
    """PIECES_USER_JSON=stdlib chooses the codec at import; the guarantees hold there too."""
    import os
    import subprocess
    import sys

    code = (
        "import pieces_user.client as m, json\n"
        "assert m.JSON_CODEC == 'json'\n"
        f"doc = m.decode_document({PROFILE!r}.encode())\n"
        "print(m.encode_document(doc).decode())\n"
    )
    env = dict(os.environ, PIECES_USER_JSON="stdlib")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert exact(out.stdout) == exact(PROFILE)


def test_a_text_document_is_still_sent_as_given(codec: str, numbers_user: Standin) -> None:
    with Client(numbers_user.url, timeout=5) as c:
        c.update(PROFILE)
    assert exact(stored_user(numbers_user))["user"] == exact(PROFILE)
    assert pieces_user.JsonNumber is JsonNumber


def test_generated_documents_round_trip_exactly(codec: str) -> None:
    """Numbers of every kind, next to strings that look like numbers, in generated documents."""
    import random

    rng = random.Random(20261130)

    def number() -> str:
        digits = "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 30))).lstrip("0") or "0"
        text = rng.choice(["", "-"]) + digits
        if rng.random() < 0.5:
            text += "." + "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 25)))
        if rng.random() < 0.4:
            text += rng.choice("eE") + rng.choice(["", "-", "+"]) + str(rng.randint(0, 450))
        return text

    def string() -> str:
        return json.dumps(rng.choice(["", "x", "pk_", "e", " "]) + number() + rng.choice(["", "e", " ", ","]))

    def value(depth: int) -> str:
        pick = rng.random()
        if depth > 2 or pick < 0.5:
            return number() if rng.random() < 0.6 else string()
        ws = rng.choice(["", " ", "\n  ", "\t"])
        if pick < 0.75:
            return "[" + ws + ("," + ws).join(value(depth + 1) for _ in range(rng.randint(1, 4))) + "]"
        items = (f'"k{i}"{ws}:{ws}{value(depth + 1)}' for i in range(rng.randint(1, 4)))
        return "{" + ("," + ws).join(items) + "}"

    for _ in range(400):
        text = "[" + value(0) + "]"  # a str is JSON text to encode_document: wrap every value
        decoded = _codec.decode_document(text.encode())
        assert exact(_codec.encode_document(decoded)) == exact(text), text


def test_a_number_outlives_an_equal_one(codec: str) -> None:
    """Two JsonNumbers of one value (both inf): when the first is collected the second still counts."""
    import gc

    first = JsonNumber("1e309")
    doc = {"n": JsonNumber("2e309")}
    del first
    gc.collect()
    assert _codec.encode_document(doc) == b'{"n":2e309}'


@pytest.mark.parametrize(
    "name", ["UserProfile.max.json", "ReturnedUserProfile.max.json", "Auth0User.max.json", "UserBetaStatus.max.json"]
)
def test_typical_documents_take_orjsons_fast_path(name: str) -> None:
    """The scan must not send ordinary profiles (UUIDs, timestamps, digits in strings) to the stdlib."""
    from support import fixtures_dir

    text = (fixtures_dir() / name).read_bytes()
    compact = json.dumps(json.loads(text), separators=(",", ":"), ensure_ascii=False).encode()
    assert not _codec._may_hold_inexact_number(text)
    assert not _codec._may_hold_inexact_number(compact)
    bench = Path(__file__).resolve().parents[3] / "benches" / "data" / "profile-3k.json"
    assert not _codec._may_hold_inexact_number(bench.read_bytes())
