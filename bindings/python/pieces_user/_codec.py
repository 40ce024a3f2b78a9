"""The JSON codec for documents: orjson when installed, else the stdlib json; both exact for numbers.

orjson (a dependency) parses and writes documents several times faster than the stdlib; for a
30 KB profile the stdlib's json is most of a call's time. ``PIECES_USER_JSON=stdlib`` forces the
stdlib (for comparisons). One difference, orjson's own rule: a plain NaN/Infinity float is written as
``null``, where the stdlib path raises InvalidArgument.

Numbers: the library passes JSON text through byte for byte, so reading a document and writing it
back unchanged must not change a number either. Integers of any size are exact ``int``s. A number a
double cannot hold exactly (``1e309``, ``1e-400``, ``0.10000000000000000000001``) becomes a
:class:`JsonNumber`: the nearest float, which remembers its text and is written back as that text.
orjson reads integers past 64 bits as floats and small exponents as 0.0, so its result is kept only
when it provably holds every number exactly (it writes back as the same bytes, or a cheap scan of the
bytes finds no long or tiny number); the rare rest goes to the stdlib parser, with hooks.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import re
import uuid
import weakref
from decimal import Decimal
from typing import Any, List, Mapping

from . import _ffi
from . import errors as E

__all__ = ["JSON_CODEC", "JsonNumber", "decode_document", "encode_document"]

_orjson: Any
try:
    import orjson as _orjson  # type: ignore[import-not-found, unused-ignore]
except ImportError:  # pragma: no cover - depends on the environment
    _orjson = None
if os.environ.get("PIECES_USER_JSON") == "stdlib":
    _orjson = None

#: Which JSON codec the client uses: "orjson" or "json".
JSON_CODEC = "orjson" if _orjson is not None else "json"

_JSON_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?")


class JsonNumber(float):
    """A JSON number that a float cannot hold exactly, e.g. ``1e309``, ``1e-400`` or
    ``0.10000000000000000000001`` (also an integer too long for Python to read from text).

    It is the nearest float, so it compares and computes like one (``JsonNumber("1e309") == inf``;
    arithmetic gives plain floats), and ``text`` keeps the number as it was written: both codecs write
    it back as that text, so saving a document unchanged never rounds it. ``str()`` gives the text.
    """

    __slots__ = ("text", "__weakref__")
    text: str

    def __new__(cls, text: str) -> "JsonNumber":
        if not isinstance(text, str) or not _JSON_NUMBER.fullmatch(text):
            raise ValueError(f"not a JSON number: {text!r}")
        self = super().__new__(cls, float(text))
        self.text = text
        _live_numbers[next(_number_ids)] = self
        return self

    def __repr__(self) -> str:
        return f"JsonNumber({self.text!r})"

    def __str__(self) -> str:
        return self.text

    def __reduce__(self) -> Any:
        return (JsonNumber, (self.text,))


# Every JsonNumber alive in the process. While there is none, no document can hold one, and the
# stdlib encoder (which would write one as a plain float) runs without looking for them. Keyed by a
# serial number: a WeakSet would merge two JsonNumbers of equal value (both inf, say) into one entry.
_live_numbers: "weakref.WeakValueDictionary[int, JsonNumber]" = weakref.WeakValueDictionary()
_number_ids = itertools.count()


# --- decoding -------------------------------------------------------------------------------------


def _shapes_table() -> bytes:
    table = bytearray(b"x" * 256)
    for char in b"0123456789.":
        table[char] = ord("0")
    for char in b"eE":
        table[char] = ord("e")
    for char in b"+-":
        table[char] = ord("-")
    for char in b":,[]} \t\r\n":
        table[char] = ord("d")
    return bytes(table)


# Each byte's shape: '0' for a digit or '.', 'e' for e/E, '-' for a sign, 'd' for what stands around
# a value (':' ',' '[' ']' '}' and whitespace), 'x' for the rest. A number needs the stdlib when it
# has 16 or more digits (an integer past 64 bits, or more digits than a double keeps) or a negative
# exponent of three or more digits (it may fall below what a double holds). A big positive exponent
# needs nothing: orjson refuses a number that overflows, and the stdlib then reads the document.
_SHAPES = _shapes_table()
_LONG = b"d" + b"0" * 16
_LONG_NEGATIVE = b"d-" + b"0" * 16
_BARE_LONG = (b"0" * 16, b"-" + b"0" * 16)
_TINY = b"e-000"
# Bounds the Python-level work on hostile input; past it the stdlib decides (exactly).
_MAX_HITS = 64


def _may_hold_inexact_number(data: bytes) -> bool:
    """True when orjson might not read a number of ``data`` exactly.

    One translate and three searches in C (rfind: the needles start with rarer shapes than they end
    with). Text in a string with the same shapes (a space, then 16 digits) is a false positive that
    costs time only. "e-000" also occurs in UUIDs ("…e-0000-…"), so each hit is checked: an exponent
    ends where the value ends, at a delimiter, whitespace or the end of the document.
    """
    shapes = data.translate(_SHAPES)
    if shapes.rfind(_LONG) >= 0 or shapes.rfind(_LONG_NEGATIVE) >= 0 or shapes.startswith(_BARE_LONG):
        return True
    end = len(shapes)
    for _ in range(_MAX_HITS):
        at = shapes.rfind(_TINY, 0, end)
        if at < 0:
            return False
        after = shapes[at + 2:at + 64].lstrip(b"0")[:1]
        if after in (b"d", b""):
            return True
        end = at
    return True


def _read_float(text: str) -> float:
    """The stdlib's parse_float: a plain float when it writes back as the same number."""
    value = float(text)
    if math.isfinite(value) and Decimal(repr(value)) == Decimal(text):
        return value
    return JsonNumber(text)


def _read_int(text: str) -> Any:
    """The stdlib's parse_int, for integers longer than Python reads from text by default."""
    try:
        return int(text)
    except ValueError:
        return JsonNumber(text)


def _decode_stdlib(data: bytes) -> Any:
    try:
        return json.loads(data, parse_float=_read_float)
    except json.JSONDecodeError:
        raise
    except ValueError:
        # An integer past sys.get_int_max_str_digits(): keep its text rather than lift a
        # process-wide limit.
        return json.loads(data, parse_float=_read_float, parse_int=_read_int)


def _writes_back_unchanged(doc: Any, data: bytes) -> bool:
    """Whether orjson writes ``doc`` back as exactly ``data``: then every number was read exactly (a
    float orjson made of an integer or a tiny number would be written differently). Compact JSON as
    orjson writes it (and as Pieces OS and the stand-in return it) passes; this costs less than the
    scan, which decides for the rest."""
    try:
        return bool(_orjson.dumps(doc) == data)
    except TypeError:  # nesting past orjson's limit for writing
        return False


def decode_document(data: bytes) -> Any:
    if _orjson is not None:
        try:
            doc = _orjson.loads(data)
        except ValueError:
            # orjson is stricter than the JSON the library passes through (a lone surrogate escape,
            # a number out of a double's range); the stdlib reads those.
            return _decode_stdlib(data)
        if _writes_back_unchanged(doc, data) or not _may_hold_inexact_number(data):
            return doc
    return _decode_stdlib(data)


# --- encoding -------------------------------------------------------------------------------------


def _json_default(value: Any) -> Any:
    # Mappings that are not dicts (MappingProxyType, custom classes) are JSON objects too.
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"{type(value).__name__} is not JSON-serializable")


def _orjson_default(value: Any) -> Any:
    # orjson hands float subclasses to default; a Fragment is written as it is.
    if isinstance(value, JsonNumber):
        return _orjson.Fragment(value.text)  # an orjson without Fragment fails: the stdlib writes it
    return _json_default(value)


def encode_document(doc: Any, what: str = "document") -> bytes:
    """A request document as the UTF-8 bytes the C ABI takes.

    ``str``/``bytes`` are taken as JSON text and left to the library to parse and validate; anything
    else is serialized compactly (a list or a number too: the library then says, with the JSON path,
    why it is not the expected document). Text with a NUL byte is refused here: a C string would end
    at it and the library would validate a different, shorter document than the caller gave.
    """
    if isinstance(doc, str):
        try:
            data = doc.encode("utf-8")
        except UnicodeEncodeError as e:
            raise E.local(E.InvalidArgument, _ffi.INVALID_ARGUMENT, "invalid_argument",
                          f"{what}: not encodable as UTF-8 ({e.reason})") from None
    elif isinstance(doc, (bytes, bytearray, memoryview)):
        data = bytes(doc)
    else:
        data = b""
        if _orjson is not None:
            try:
                data = _orjson.dumps(doc, default=_orjson_default)
            except (TypeError, AttributeError):
                pass  # the stdlib below either manages (int keys, huge ints, old orjson) or says why not
        if not data:
            data = _encode_stdlib(doc, what)
    if b"\x00" in data:
        raise E.local(E.InvalidArgument, _ffi.INVALID_ARGUMENT, "invalid_argument",
                      f"{what} contains a NUL byte")
    return data


def _dumps(doc: Any) -> str:
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":"), allow_nan=False,
                      default=_json_default)


def _dumps_with_numbers(doc: Any) -> str:
    """json.dumps, writing each JsonNumber as its text.

    The stdlib encoder writes a float subclass as a float and has no hook for it, so each JsonNumber
    goes in as a marker string (a NUL and a random nonce: no caller's string can match it) and its
    text replaces the quoted marker afterwards.
    """
    texts: List[str] = []
    marker = f"\x00pieces_user.JsonNumber.{uuid.uuid4().hex}."

    def swap(value: Any) -> Any:
        if isinstance(value, JsonNumber):
            texts.append(value.text)
            return f"{marker}{len(texts) - 1}"
        if isinstance(value, Mapping):
            return {key: swap(item) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return [swap(item) for item in value]
        return value

    text = _dumps(swap(doc))
    if not texts:
        return text
    quoted = re.compile(re.escape(_dumps(marker)[:-1]) + r'([0-9]+)"')
    return quoted.sub(lambda m: texts[int(m.group(1))], text)


def _encode_stdlib(doc: Any, what: str) -> bytes:
    try:
        text = _dumps_with_numbers(doc) if _live_numbers else _dumps(doc)
        return text.encode("utf-8")
    except (TypeError, ValueError, RecursionError) as e:
        # TypeError: a value JSON cannot hold (a set, a datetime…); ValueError: NaN/Infinity,
        # circular references, lone surrogates (UnicodeEncodeError); RecursionError: absurd depth.
        raise E.local(E.InvalidArgument, _ffi.INVALID_ARGUMENT, "invalid_argument",
                      f"{what}: not representable as JSON ({e})") from None
