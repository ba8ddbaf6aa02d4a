r"""The global built-in functions of TinyLang (spec section 11), as `Native` objects.

`make_builtins(vm)` returns name -> Native for `print len str int float typeof
assert input abs min max sqrt floor ceil round`, plus the `__`-prefixed helpers
that the guest prelude (runtime/prelude.tl) needs to format values containing
instances with a `str` method (see PRELUDE_NATIVES). `sleep`, `yield_now` and
`Chan` belong to the scheduler and are not made here; the error classes are made
by the VM.

Calling convention: `native.fn(*guest_args)`. Every function checks its own
argument count (raising TypeError "len expects 1 argument, got 2"), so it is
correct whether or not the VM also checks `Native.arity` (the true count, or -1
for natives with optional or variadic arguments).

NeedsGuest protocol: `print`, `str`, `assert` (for a non-string message) and
`input` (for a non-string prompt) format values with `to_str`, which raises
`NeedsGuest` when it meets an instance whose class defines `str`. They raise it
before any output, so the VM can then call the prelude function named in
GUEST_FALLBACKS with the same arguments (for `print`: one array holding them).

Decisions where the spec is silent:
* `int("...")`: ASCII digits only, optional sign, surrounding whitespace; no
  underscores, no other bases. Out of int64 is OverflowError "integer overflow".
* `float("...")`: decimal forms ("1", "-1.5", ".5", "1.", "2e-3") and
  inf/infinity/nan in any case with optional sign; "1e999" is inf.
* `int(true)` / `float(true)` are TypeError (bool is not a number).
* `assert(false, msg)`: a nil msg gives "assertion failed"; a non-string msg is
  converted with to_str.
* `input()`: strips "\n" or "\r\n"; returns nil at EOF or without stdin; the
  prompt (converted with to_str) is flushed before reading. A stdin that
  cannot be read (a directory, an I/O error, bytes that are not valid in its
  encoding) raises a guest `IOError: stdin: REASON`, which the program can
  catch. When stdin is a pipe or a terminal, the scheduler replaces `input`
  with a blocking native: the calling fiber parks until a line is there and
  the others keep running (sched/concurrency.py, sched/io.py StdinReader).
* Output that cannot be written (`print`, `input`'s prompt) raises
  `HostIOError` (runtime/errors.py): not a guest error, it ends the run, and
  `tvm` reports `error: cannot write to stdout: REASON` (exit status 74).
* `min`/`max`: one array argument, or 2+ arguments; all numbers (int and float
  mixed, compared as floats) or all strings; on ties the first wins, and its
  type is kept (`min(1, 1.0)` is the int 1). `min(5)` is a TypeError.
* `sqrt` of a negative number (or -inf) is nan, never an error (IEEE 754).
* `abs(INT_MIN)` is OverflowError; `floor/ceil/round` of nan/inf are
  ValueError "cannot convert nan to int", of a too-large float OverflowError.
* `round` takes one argument and rounds half away from zero.
* `len` of a range counts its elements (0 when empty); a range of more than
  INT_MAX elements is OverflowError "integer overflow", like every built-in
  whose int result would not fit in 64 bits.
"""

from __future__ import annotations

import math
from typing import Any, Callable

from ..bytecode.code import PRIVATE_BUILTIN_PREFIX
from ..heap.heap import FREED
from ..heap.objects import INT_MAX, INT_MIN, Array, Instance, Map, Native, Range, Record
from ..heap.layout import SlotInstance
from ..heap.packed import PackedArray
from .enums import is_enum_value
from .errors import STREAM_ERRORS, HostIOError, RtError, host_reason
from .methods import sort_by_keys
from .tuples import Tuple, enumerate_array, zip_arrays
from .values import (
    _instance_fields,
    format_float,
    is_array,
    quote_string,
    repr_value,
    to_str,
    typeof,
)

__all__ = [
    "make_builtins",
    "arg_count_error",
    "to_int",
    "to_float",
    "float_to_int",
    "INT_MIN",
    "INT_MAX",
    "GUEST_FALLBACKS",
    "PRELUDE_NATIVES",
]


# Builtin -> prelude function to call instead when the builtin raised NeedsGuest.
# `print_guest` takes one array holding print's arguments; the others take the
# builtin's own arguments.
GUEST_FALLBACKS: dict[str, str] = {
    "print": "print_guest",
    "str": "format_value",
    "assert": "assert_guest",
    "input": "input_guest",
    # 1.1 (runtime/library.py): built-ins that call guest functions; eprint,
    # like print, gets its arguments as one array.
    "sorted": "sorted_key",
    "any_of": "any_of_guest",
    "all_of": "all_of_guest",
    "eprint": "eprint_guest",
}

# Helpers only the prelude may call: their names carry the private prefix, so
# the verifier rejects them in .tvm files and the VM resolves them for the
# prelude only (bytecode/code.py PRIVATE_BUILTIN_PREFIX).
PRELUDE_NATIVES = frozenset({"__kind", "__id", "__repr_scalar", "__fields", "__sort_by_keys"})
assert all(name.startswith(PRIVATE_BUILTIN_PREFIX) for name in PRELUDE_NATIVES)


class Identities:
    """`__id(v)`: a per-VM serial number standing for v's identity (the prelude's
    formatter keys the containers on the current path by it, to print a cycle as
    `[...]`). Never the host's address of the object: that would show the
    host's memory layout, and differ from run to run.

    The table maps id(v) to (v, number). Holding v keeps its id from being
    reused while the entry lives; once the table has grown, entries of objects
    the collector has freed since are dropped (heap/heap.py: a sweep marks
    what it frees FREED), so it holds about as many entries as there are live
    objects that were ever formatted. Numbers are handed out in call order, so
    a program's run is the same every time."""

    def __init__(self, heap: Any) -> None:
        self.heap = heap
        self.table: dict[int, tuple[Any, int]] = {}
        self.serial = 0
        self.pruned_at = (heap.sweeps, 0)  # (sweeps, entries kept) at the last pruning

    def __call__(self, v: Any) -> int:
        entry = self.table.get(id(v))
        if entry is not None:
            return entry[1]
        epoch, kept = self.pruned_at
        if len(self.table) > 2 * kept + 256 and self.heap.sweeps != epoch:
            now = self.heap.sweeps
            self.table = {k: e for k, e in self.table.items() if getattr(e[0], "mark", None) != FREED}
            self.pruned_at = (now, len(self.table))
        self.serial += 1
        self.table[id(v)] = (v, self.serial)
        return self.serial


def arg_count_error(name: str, expected: int | str, got: int) -> RtError:
    """TypeError for a wrong argument count; expected is a count or a phrase
    such as "1 or 2" or "at least 1"."""
    if expected == 1 or expected == "at least 1":
        noun = "argument"
    else:
        noun = "arguments"
    return RtError("TypeError", f"{name} expects {expected} {noun}, got {got}")


def _number_error(name: str, v: Any) -> RtError:
    return RtError("TypeError", f"{name} expects a number, got {typeof(v)}")


def _overflow() -> RtError:
    return RtError("OverflowError", "integer overflow")


# ---------------------------------------------------------------------------
# Conversions (shared with stdlib/math.py and usable by the VM)


def float_to_int(f: float) -> int:
    """Truncate toward zero; nan is ValueError, inf and values outside int64
    OverflowError (as Python does)."""
    if f != f:
        raise RtError("ValueError", f"cannot convert {format_float(f)} to int")
    if f == math.inf or f == -math.inf:
        raise _overflow()
    i = int(f)
    if i < INT_MIN or i > INT_MAX:
        raise _overflow()
    return i


def _check_int64(i: int) -> int:
    if i < INT_MIN or i > INT_MAX:
        raise _overflow()
    return i


_ASCII_DIGITS = frozenset("0123456789")


def _parse_int(s: str) -> int | None:
    """Base-10 int with optional sign and surrounding whitespace, else None.

    Python's int() also takes underscores and non-ASCII digits: those are not
    TinyLang, so the digits are checked first."""
    t = s.strip()
    body = t[1:] if t[:1] in ("+", "-") else t
    if not body or not _ASCII_DIGITS.issuperset(body):
        return None
    digits = body.lstrip("0")
    if len(digits) > 19:
        # More digits than any int64 has: overflow, said from the length
        # alone (Python's int() refuses over 4300 digits with its own error,
        # and converting a long string is quadratic anyway).
        raise _overflow()
    return -int(digits or "0") if t[0] == "-" else int(digits or "0")


_FLOAT_CHARS = frozenset("0123456789+-.eE")
_FLOAT_WORDS = frozenset({"inf", "infinity", "nan"})


def _parse_float(s: str) -> float | None:
    """A decimal float ("1.5", "-2", ".5", "1e-9", "inf", "nan", with optional
    sign and surrounding whitespace), else None. Underscores, hex and non-ASCII
    digits, which Python's float() would take, are rejected."""
    t = s.strip()
    if not t:
        return None
    if not _FLOAT_CHARS.issuperset(t):
        body = t[1:] if t[0] in "+-" else t
        if body.lower() not in _FLOAT_WORDS:
            return None
    try:
        return float(t)
    except ValueError:
        return None


def to_int(x: Any) -> int:
    """The `int(x)` conversion."""
    t = type(x)
    if t is int:
        return x
    if t is float:
        return float_to_int(x)
    if t is str:
        i = _parse_int(x)
        if i is None:
            raise RtError("ValueError", f"cannot convert {quote_string(x)} to int")
        return _check_int64(i)
    raise RtError("TypeError", f"cannot convert {typeof(x)} to int")


def to_float(x: Any) -> float:
    """The `float(x)` conversion."""
    t = type(x)
    if t is float:
        return x
    if t is int:
        return float(x)
    if t is str:
        f = _parse_float(x)
        if f is None:
            raise RtError("ValueError", f"cannot convert {quote_string(x)} to float")
        return f
    raise RtError("TypeError", f"cannot convert {typeof(x)} to float")


def num_floor(name: str, x: Any) -> int:
    t = type(x)
    if t is int:
        return x
    if t is float:
        float_to_int(x)  # nan/inf/overflow checks (floor and trunc agree on those)
        return _check_int64(math.floor(x))
    raise _number_error(name, x)


def num_ceil(name: str, x: Any) -> int:
    t = type(x)
    if t is int:
        return x
    if t is float:
        float_to_int(x)
        return _check_int64(math.ceil(x))
    raise _number_error(name, x)


def num_round(name: str, x: Any) -> int:
    """Round half away from zero. Computed from the truncation: x - trunc(x) is
    exact for every float, so 0.49999999999999994 rounds to 0 (adding 0.5 first
    would round it up)."""
    t = type(x)
    if t is int:
        return x
    if t is not float:
        raise _number_error(name, x)
    i = float_to_int(x)
    if x >= 0.0:
        if x - i >= 0.5:
            i += 1
    elif i - x >= 0.5:
        i -= 1
    return _check_int64(i)


def num_sqrt(name: str, x: Any) -> float:
    t = type(x)
    if t is not float:
        if t is not int:
            raise _number_error(name, x)
        x = float(x)
    if x < 0.0:
        return math.nan  # IEEE 754: floats never raise
    return math.sqrt(x)


# ---------------------------------------------------------------------------
# min / max


def _extreme(name: str, args: tuple, want_max: bool) -> Any:
    n = len(args)
    if n == 1:
        a = args[0]
        ta = type(a)
        if ta is PackedArray:
            buf = a.packed
            if not buf:
                raise RtError("ValueError", f"{name} of empty array")
            if buf.typecode != "b":
                # One kind of number: Python's max/min keep the first of
                # equal values and replace on a strict > / <, as the loop
                # below does (-0.0 against 0.0, nan first or later alike).
                return max(buf) if want_max else min(buf)
            vals = a.values()  # (bools: the loop's TypeError)
        elif ta is not Array:
            raise RtError("TypeError", f"{name} expects an array or at least 2 arguments, got {typeof(a)}")
        else:
            vals = a.items
            if not vals:
                raise RtError("ValueError", f"{name} of empty array")
    elif n == 0:
        raise arg_count_error(name, "at least 1", 0)
    else:
        vals = args
    best = vals[0]
    tb = type(best)
    if tb is str:
        for x in vals:
            if type(x) is not str:
                raise RtError("TypeError", f"cannot compare {typeof(x)} and string")
            if (x > best) if want_max else (x < best):
                best = x
        return best
    if tb is not int and tb is not float:
        raise RtError("TypeError", f"{name} expects numbers or strings, got {typeof(best)}")
    fb = float(best)
    for x in vals:
        tx = type(x)
        if tx is int or tx is float:
            if tx is tb:
                better = (x > best) if want_max else (x < best)
            else:  # mixed int/float: compare as floats, like the `<` operator
                fx = float(x)
                better = (fx > fb) if want_max else (fx < fb)
            if better:
                best = x
                tb = tx
                fb = float(x)
        else:
            raise RtError("TypeError", f"cannot compare {typeof(x)} and {typeof(best)}")
    return best


# ---------------------------------------------------------------------------
# The builtins


def make_builtins(vm: Any) -> dict[str, Any]:
    """Native objects for the global built-in functions, allocated on vm.heap."""
    alloc = vm.heap.alloc

    def print_(*args: Any) -> None:
        # Everything is formatted before anything is written, so a NeedsGuest
        # (raised by to_str) leaves no partial line behind for the fallback.
        n = len(args)
        if n == 1:
            a = args[0]
            line = (a if type(a) is str else to_str(a)) + "\n"
        elif n == 0:
            line = "\n"
        else:
            line = " ".join([a if type(a) is str else to_str(a) for a in args]) + "\n"
        try:
            vm.stdout.write(line)
        except STREAM_ERRORS as e:
            raise HostIOError("stdout", "write to", e) from e
        return None

    def len_(*args: Any) -> int:
        if len(args) != 1:
            raise arg_count_error("len", 1, len(args))
        x = args[0]
        t = type(x)
        if t is str:
            return len(x)
        if t is Array or t is Map:
            return len(x.items)
        if t is PackedArray:
            return x.length()
        if t is Record:
            return len(x.fields)
        if t is Tuple:
            return len(x.items)
        if t is Range:
            # A range may count more elements than an int holds (`INT_MIN..INT_MAX`).
            st = x.step  # (1.1 steps: counted without a Python range, which overflows past 2**63)
            n = x.stop - x.start if st == 1 else (x.stop - x.start + st - 1) // st if st > 0 else (x.start - x.stop - st - 1) // -st
            return _check_int64(n) if n > 0 else 0
        if t.__name__ == "SetObject":  # (1.1, runtime/sets.py, which imports this module)
            return len(x.items)
        raise RtError("TypeError", f"len expects a string, array, map, record or range, got {typeof(x)}")

    def str_(*args: Any) -> str:
        if len(args) != 1:
            raise arg_count_error("str", 1, len(args))
        x = args[0]
        return x if type(x) is str else to_str(x)

    def int_(*args: Any) -> int:
        if len(args) != 1:
            raise arg_count_error("int", 1, len(args))
        return to_int(args[0])

    def float_(*args: Any) -> float:
        if len(args) != 1:
            raise arg_count_error("float", 1, len(args))
        return to_float(args[0])

    def typeof_(*args: Any) -> str:
        if len(args) != 1:
            raise arg_count_error("typeof", 1, len(args))
        return typeof(args[0])

    def assert_(*args: Any) -> None:
        n = len(args)
        if n != 1 and n != 2:
            raise arg_count_error("assert", "1 or 2", n)
        cond = args[0]
        if cond is True:
            return None
        if cond is not False:
            raise RtError("TypeError", f"assert expects a bool condition, got {typeof(cond)}")
        msg = args[1] if n == 2 else None
        if msg is None:
            raise RtError("Error", "assertion failed")
        raise RtError("Error", msg if type(msg) is str else to_str(msg))

    def input_(*args: Any) -> str | None:
        write_prompt(vm, args)
        stdin = vm.stdin
        if stdin is None:
            return None
        # At most what the memory limit leaves room for (a line without an end,
        # from /dev/zero say, must not read forever): a longer one is a MemoryError.
        room = max(vm.heap.limit - vm.heap.used, 0) // 4 + 1
        try:
            line = vm.inputs.take("stdin", stdin.readline, room)  # (recorded runs log it: runtime/inputs.py)
            if len(line) >= room and line[-1:] != "\n":
                raise MemoryError(f"input: a line longer than the memory limit leaves room for ({room - 1} characters)")
            vm.heap.charge_str(line)
        except STREAM_ERRORS as e:  # (UnicodeDecodeError is a ValueError)
            # Unlike output, a read fails at the call that made it: the program may catch it.
            raise RtError("IOError", f"stdin: {host_reason(e)}") from None
        if not line:
            return None  # EOF
        if line[-1:] == "\n":
            line = line[:-1]
            if line[-1:] == "\r":
                line = line[:-1]
        return line

    def abs_(*args: Any) -> Any:
        if len(args) != 1:
            raise arg_count_error("abs", 1, len(args))
        x = args[0]
        t = type(x)
        if t is int:
            if x == INT_MIN:
                raise _overflow()
            return -x if x < 0 else x
        if t is float:
            return abs(x)
        raise _number_error("abs", x)

    def min_(*args: Any) -> Any:
        return _extreme("min", args, False)

    def max_(*args: Any) -> Any:
        return _extreme("max", args, True)

    def unary(name: str, fn: Callable[[str, Any], Any]) -> Callable[..., Any]:
        def call(*args: Any) -> Any:
            if len(args) != 1:
                raise arg_count_error(name, 1, len(args))
            return fn(name, args[0])

        return call

    # --- helpers for the prelude's guest-level formatter -------------------

    def kind_(v: Any) -> str:
        """How format_value must treat v: "array", "map", "record", "instance",
        "strinst" (instance with a str method) or "leaf" (print with __repr_scalar)."""
        t = type(v)
        if t is Array or t is PackedArray:
            return "array"
        if t is Map:
            return "map"
        if t is Record:
            return "record"
        if t is Tuple:
            return "tuple"
        if t is Instance or t.__base__ is SlotInstance:  # (a laid-out instance: heap/layout.py)
            if is_enum_value(v):  # printed as `Color.Red` (runtime/enums.py)
                return "leaf"
            return "strinst" if "str" in v.cls.methods else "instance"
        return "leaf"

    id_ = Identities(vm.heap)

    def repr_scalar(v: Any) -> str:
        # Only called on leaves (kind "leaf") and map keys: never NeedsGuest.
        return repr_value(v)

    def fields_(v: Any) -> Array:
        """[[name, value], ...] of a record or (in template order) an instance."""
        t = type(v)
        if t is Record:
            pairs = list(v.fields.items())
        elif t is Instance or t.__base__ is SlotInstance:
            names, values = _instance_fields(v)
            pairs = list(zip(names, values))
        else:
            raise RtError("TypeError", f"__fields expects a record or instance, got {typeof(v)}")
        return alloc(Array([alloc(Array([k, x])) for k, x in pairs]))

    def sort_by_keys_(*args: Any) -> None:
        if len(args) != 2:
            raise arg_count_error("__sort_by_keys", 2, len(args))
        arr, keys = args
        if not is_array(arr) or not is_array(keys):
            raise RtError("TypeError", "__sort_by_keys expects two arrays")
        sort_by_keys(arr, keys)
        heap = vm.heap
        if arr.mark == heap.watch:  # (values moved inside arr: the write barrier, docs/gc.md)
            heap.barrier_all(arr)
        return None

    def zip_(*args: Any) -> Array:
        if len(args) != 2:
            raise arg_count_error("zip", 2, len(args))
        return zip_arrays(args[0], args[1], alloc)

    def enumerate_(*args: Any) -> Array:
        if len(args) != 1:
            raise arg_count_error("enumerate", 1, len(args))
        return enumerate_array(args[0], alloc)

    table: list[tuple[str, Callable[..., Any], int]] = [
        ("print", print_, -1),
        ("len", len_, 1),
        ("str", str_, 1),
        ("int", int_, 1),
        ("float", float_, 1),
        ("typeof", typeof_, 1),
        ("assert", assert_, -1),
        ("input", input_, -1),
        ("abs", abs_, 1),
        ("min", min_, -1),
        ("max", max_, -1),
        ("sqrt", unary("sqrt", num_sqrt), 1),
        ("floor", unary("floor", num_floor), 1),
        ("ceil", unary("ceil", num_ceil), 1),
        ("round", unary("round", num_round), 1),
        # Issue 18, helper tltuple (runtime/tuples.py).
        ("zip", zip_, 2),
        ("enumerate", enumerate_, 1),
        ("__kind", _fixed("__kind", kind_), 1),
        ("__id", _fixed("__id", id_), 1),
        ("__repr_scalar", _fixed("__repr_scalar", repr_scalar), 1),
        ("__fields", _fixed("__fields", fields_), 1),
        ("__sort_by_keys", sort_by_keys_, 2),
    ]
    return {name: alloc(Native(name, fn, arity)) for name, fn, arity in table}


def write_prompt(vm: Any, args: tuple | list) -> None:
    """`input`'s argument check and prompt: written (converted with to_str,
    which may raise NeedsGuest) and flushed before anything is read."""
    n = len(args)
    if n > 1:
        raise arg_count_error("input", "0 or 1", n)
    if n == 1 and args[0] is not None:
        p = args[0]
        text = p if type(p) is str else to_str(p)
        out = vm.stdout
        try:
            out.write(text)
            flush = getattr(out, "flush", None)
            if flush is not None:
                flush()  # the prompt must show before we block on input
        except STREAM_ERRORS as e:
            raise HostIOError("stdout", "write to", e) from e


def _fixed(name: str, fn: Callable[[Any], Any]) -> Callable[..., Any]:
    """Wrap a one-argument helper with the argument-count check."""

    def call(*args: Any) -> Any:
        if len(args) != 1:
            raise arg_count_error(name, 1, len(args))
        return fn(args[0])

    return call
