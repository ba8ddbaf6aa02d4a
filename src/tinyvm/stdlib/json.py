r"""The `json` standard module (spec section 11): `parse` and `stringify`.

`make_json_module(vm)` returns the module's exports, name -> Native.

`parse(text)` reads one JSON value (RFC 8259) surrounded by optional whitespace:

* objects become maps (keys in document order; a repeated key keeps its first
  position and its last value), arrays become arrays, strings strings,
  `true`/`false` bools, `null` nil;
* a number written without fraction or exponent is an int (`-0` is the int 0);
  any other number is a float (`1.0`, `1e2`, and `1e999`, which is inf). An
  integer outside int64 is read as a float, as JavaScript reads it (a valid
  document is never rejected for its numbers);
* `\uD83D\uDE00` surrogate pairs are joined; a lone surrogate escape becomes
  U+FFFD (guest strings are always valid Unicode);
* anything else -- including NaN/Infinity, comments, trailing commas, control
  characters inside strings, trailing text -- is ValueError
  `invalid JSON: <what> at line L, column C` (1-based, columns count code
  points). A non-string argument is TypeError.

`stringify(value)` returns compact JSON text (no spaces, like Python's
`json.dumps(v, separators=(",", ":"), ensure_ascii=False)`):

* nil -> `null`, bools, ints in decimal, floats in TinyLang's float form
  (`2.5`, `3.0`, `1e+20` -- all valid JSON numbers, and floats stay floats when
  parsed back); nan and +-inf are ValueError "cannot convert nan to JSON";
* strings are quoted; `"` `\` and control characters U+0000-001F are escaped
  (`\n \r \t \b \f`, else `\u00XX`), everything else is written as itself;
* arrays and tuples -> arrays; maps and records -> objects in insertion/field
  order. A map key that is not a string is written in its `str` form (`1`,
  `1.5`, `true`, `nil`, `(1, "a")`);
* a container met again inside itself is ValueError "cannot convert a cyclic
  structure to JSON" (a container merely shared twice is written twice); any
  other value (instance, function, class, range, task...) is ValueError
  "cannot convert Point to JSON" (its typeof name).

Both directions are iterative (explicit stacks), so nesting depth is limited
only by memory, never by Python's recursion limit. Every container is built
completely in Python and then allocated with `vm.heap.alloc`, so its accounted
size is right; collections never run inside a native, so the unfinished result
needs no GC root.
"""

from __future__ import annotations

import re
from typing import Any

from ..heap.objects import INT_MAX, INT_MIN, Array, Map, Native, Record, Tuple, map_key, str_bytes, unmap_key
from ..runtime.builtins import arg_count_error
from ..runtime.errors import RtError
from ..heap.packed import PackedArray
from ..runtime.values import format_float, repr_value, to_str, typeof

__all__ = ["make_json_module", "json_parse", "json_stringify"]

# ---------------------------------------------------------------------------
# parse

_WS = re.compile(r"[ \t\n\r]*")
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?")
_STR_CHUNK = re.compile(r'[^"\\\x00-\x1f]*')
_HEX4 = re.compile(r"[0-9a-fA-F]{4}")
_SIMPLE_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


class _JsonError(Exception):
    def __init__(self, what: str, pos: int) -> None:
        super().__init__(what)
        self.what = what
        self.pos = pos


def _describe(text: str, pos: int) -> str:
    if pos >= len(text):
        return "end of input"
    c = text[pos]
    if c.isprintable() and c not in "'\\":
        return f"character '{c}'"
    return f"character U+{ord(c):04X}"


def _location(text: str, pos: int) -> str:
    line = text.count("\n", 0, pos) + 1
    col = pos - (text.rfind("\n", 0, pos) + 1) + 1
    return f"line {line}, column {col}"


def _parse_string(text: str, pos: int) -> tuple[str, int]:
    """text[pos] is just after the opening quote; returns (value, pos after the closing quote)."""
    parts: list[str] = []
    n = len(text)
    while True:
        m = _STR_CHUNK.match(text, pos)
        assert m is not None
        end = m.end()
        if end > pos:
            parts.append(text[pos:end])
        pos = end
        if pos >= n:
            raise _JsonError("unterminated string", pos)
        c = text[pos]
        if c == '"':
            return "".join(parts), pos + 1
        if c != "\\":
            raise _JsonError("control character U+%04X in string" % ord(c), pos)
        # An escape.
        if pos + 1 >= n:
            raise _JsonError("unterminated string", pos + 1)
        e = text[pos + 1]
        simple = _SIMPLE_ESCAPES.get(e)
        if simple is not None:
            parts.append(simple)
            pos += 2
            continue
        if e != "u":
            raise _JsonError("invalid escape '\\%s'" % e if e.isprintable() else "invalid escape", pos)
        cp, pos = _hex4(text, pos)
        if 0xD800 <= cp <= 0xDBFF and text.startswith("\\u", pos):
            m2 = _HEX4.match(text, pos + 2)
            if m2 is not None:
                low = int(m2.group(), 16)
                if 0xDC00 <= low <= 0xDFFF:
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00)
                    pos += 6
        if 0xD800 <= cp <= 0xDFFF:
            cp = 0xFFFD  # lone surrogate
        parts.append(chr(cp))


def _hex4(text: str, pos: int) -> tuple[int, int]:
    """text[pos:pos+2] is `\\u`; returns (code unit, pos after the 4 hex digits)."""
    m = _HEX4.match(text, pos + 2)
    if m is None:
        raise _JsonError("invalid \\u escape", pos)
    return int(m.group(), 16), pos + 6


def _parse_number(text: str, pos: int) -> tuple[Any, int]:
    m = _NUMBER.match(text, pos)
    if m is None:
        raise _JsonError(f"unexpected {_describe(text, pos)}", pos)
    s = m.group()
    if m.group(1) is None and m.group(2) is None and len(s) <= 20:
        i = int(s)
        if INT_MIN <= i <= INT_MAX:
            return i, m.end()
    return float(s), m.end()


# Parser states for containers on the stack.
_ARRAY = 0
_OBJECT = 1


def json_parse(text: str, alloc: Any) -> Any:
    """Parse `text`; containers are allocated with `alloc`. Raises _JsonError."""
    n = len(text)
    pos = _WS.match(text, 0).end()
    # Each stack entry: [kind, python list or dict, pending key (objects)].
    stack: list[list[Any]] = []
    while True:
        # ---- read a value at pos (whitespace already skipped)
        if pos >= n:
            raise _JsonError("unexpected end of input, expected a value", pos)
        c = text[pos]
        value: Any
        if c == "{":
            pos = _WS.match(text, pos + 1).end()
            if pos < n and text[pos] == "}":
                value = alloc(Map({}))
                pos += 1
            else:
                key, pos = _object_key(text, pos)
                stack.append([_OBJECT, {}, key])
                continue
        elif c == "[":
            pos = _WS.match(text, pos + 1).end()
            if pos < n and text[pos] == "]":
                value = alloc(Array([]))
                pos += 1
            else:
                stack.append([_ARRAY, [], None])
                continue
        elif c == '"':
            value, pos = _parse_string(text, pos + 1)
        elif c == "-" or "0" <= c <= "9":
            value, pos = _parse_number(text, pos)
        elif text.startswith("true", pos):
            value, pos = True, pos + 4
        elif text.startswith("false", pos):
            value, pos = False, pos + 5
        elif text.startswith("null", pos):
            value, pos = None, pos + 4
        else:
            raise _JsonError(f"unexpected {_describe(text, pos)}, expected a value", pos)
        # ---- store the value in the enclosing containers, closing them as needed
        while True:
            pos = _WS.match(text, pos).end()
            if not stack:
                if pos < n:
                    raise _JsonError(f"unexpected {_describe(text, pos)} after the value", pos)
                return value
            top = stack[-1]
            if top[0] == _ARRAY:
                top[1].append(value)
                close = "]"
            else:
                top[1][map_key(top[2])] = value  # keys are strings: map_key is the identity
                close = "}"
            if pos < n and text[pos] == ",":
                pos = _WS.match(text, pos + 1).end()
                if top[0] == _OBJECT:
                    top[2], pos = _object_key(text, pos)
                break  # read the next element
            if pos < n and text[pos] == close:
                pos += 1
                stack.pop()
                value = alloc(Array(top[1]) if top[0] == _ARRAY else Map(top[1]))
                continue
            expected = "',' or ']'" if close == "]" else "',' or '}'"
            raise _JsonError(f"unexpected {_describe(text, pos)}, expected {expected}", pos)


def _object_key(text: str, pos: int) -> tuple[str, int]:
    """Read `"key" :` at pos; returns (key, pos of the value after whitespace)."""
    if pos >= len(text) or text[pos] != '"':
        raise _JsonError(f"unexpected {_describe(text, pos)}, expected a string key", pos)
    key, pos = _parse_string(text, pos + 1)
    pos = _WS.match(text, pos).end()
    if pos >= len(text) or text[pos] != ":":
        raise _JsonError(f"unexpected {_describe(text, pos)}, expected ':'", pos)
    return key, _WS.match(text, pos + 1).end()


# ---------------------------------------------------------------------------
# stringify

_ESC = {i: "\\u%04x" % i for i in range(0x20)}
_ESC.update({ord('"'): '\\"', ord("\\"): "\\\\", ord("\n"): "\\n", ord("\r"): "\\r", ord("\t"): "\\t", 8: "\\b", 12: "\\f"})
_NEEDS_ESC = re.compile(r'["\\\x00-\x1f]')


def _quote(s: str) -> str:
    if _NEEDS_ESC.search(s) is None:
        return '"' + s + '"'
    return '"' + s.translate(_ESC) + '"'


def _scalar(v: Any) -> str | None:
    """JSON text of a scalar, or None when v is not a scalar."""
    t = type(v)
    if t is str:
        return _quote(v)
    if t is int:
        return int.__repr__(v)
    if t is bool:
        return "true" if v else "false"
    if v is None:
        return "null"
    if t is float:
        if v != v or v in (float("inf"), float("-inf")):
            raise RtError("ValueError", f"cannot convert {format_float(v)} to JSON")
        return format_float(v)
    return None


def _key_text(k: Any) -> str:
    k = unmap_key(k)
    if type(k) is str:
        return _quote(k)
    return _quote(to_str(k))  # int, float, bool, nil: never needs the guest formatter


def json_stringify(root: Any) -> str:
    out: list[str] = []
    s = _scalar(root)
    if s is not None:
        return s
    # Stack of (container, iterator over its entries, is_object); `active` holds
    # the ids of containers being written, to detect cycles.
    active: set[int] = set()
    stack: list[tuple[Any, Any, bool]] = []

    def open_(v: Any) -> None:
        t = type(v)
        if t is Array or t is Tuple:  # (a tuple is written as an array: 1.1)
            entries: Any = iter(v.items)
            is_obj = False
            out.append("[")
        elif t is PackedArray:  # (read without unpacking it: heap/packed.py)
            entries = iter(v.values())
            is_obj = False
            out.append("[")
        elif t is Map:
            entries = iter(v.items.items())
            is_obj = True
            out.append("{")
        elif t is Record:
            entries = iter(v.fields.items())
            is_obj = True
            out.append("{")
        else:
            raise RtError("ValueError", f"cannot convert {typeof(v)} to JSON")
        if id(v) in active:
            raise RtError("ValueError", "cannot convert a cyclic structure to JSON")
        active.add(id(v))
        stack.append((v, entries, is_obj))

    open_(root)
    first = True
    while stack:
        v, entries, is_obj = stack[-1]
        item = next(entries, _END)
        if item is _END:
            out.append("}" if is_obj else "]")
            stack.pop()
            active.discard(id(v))
            first = False
            continue
        if not first:
            out.append(",")
        if is_obj:
            k, item = item
            out.append(_key_text(k) if type(v) is Map else _quote(k))
            out.append(":")
        s = _scalar(item)
        if s is not None:
            out.append(s)
            first = False
        else:
            open_(item)
            first = True
    return "".join(out)


_END = object()


def json_indent(text: str, indent: int) -> str:
    """Compact JSON text (json_stringify's) laid out as Python's
    `json.dumps(v, indent=n)` does: one entry a line, `": "` after keys,
    empty containers as `[]` / `{}` (1.1: `json.stringify(v, indent)`)."""
    out: list[str] = []
    depth = 0
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == '"':  # copy the string as it is, escapes included
            j = i + 1
            while text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append(text[i : j + 1])
            i = j + 1
            continue
        if ch in "[{":
            if text[i + 1] in "]}":
                out.append(text[i : i + 2])
                i += 2
                continue
            depth += 1
            out.append(ch + "\n" + " " * (indent * depth))
        elif ch in "]}":
            depth -= 1
            out.append("\n" + " " * (indent * depth) + ch)
        elif ch == ",":
            out.append(",\n" + " " * (indent * depth))
        elif ch == ":":
            out.append(": ")
        else:
            out.append(ch)
        i += 1
    return "".join(out)


# ---------------------------------------------------------------------------
# the module


def make_json_module(vm: Any) -> dict[str, Any]:
    """The exports of `import json`, functions allocated on vm.heap."""
    alloc = vm.heap.alloc

    def parse(*args: Any) -> Any:
        if len(args) != 1:
            raise arg_count_error("json.parse", 1, len(args))
        text = args[0]
        if type(text) is not str:
            raise RtError("TypeError", f"json.parse expects a string, got {typeof(text)}")
        vm.limits.charge_items(len(text))  # fuel for the text (docs/limits.md)
        # The strings of the result hold at most the text's characters:
        # charged first (the containers are charged as they are allocated).
        vm.heap.charge(str_bytes(text))
        try:
            return json_parse(text, alloc)
        except _JsonError as e:
            raise RtError("ValueError", f"invalid JSON: {e.what} at {_location(text, e.pos)}") from None

    def stringify(*args: Any) -> str:
        if len(args) not in (1, 2):
            raise arg_count_error("json.stringify", "1 or 2", len(args))
        indent = args[1] if len(args) == 2 else None
        if indent is not None and (type(indent) is not int or not 0 <= indent <= 16):
            raise RtError("TypeError" if type(indent) is not int else "ValueError", f"json.stringify indent must be an int from 0 to 16, got {repr_value(indent)}")
        text = json_stringify(args[0])
        if indent is not None:
            vm.limits.charge_items(len(text))
            text = json_indent(text, indent)
        vm.limits.charge_items(len(text))  # fuel for the text made (docs/limits.md)
        return vm.heap.charge_str(text)

    return {
        "parse": alloc(Native("parse", parse, 1)),
        "stringify": alloc(Native("stringify", stringify, -1)),
    }
