"""The `re` standard module (1.1, spec section 13): regular expressions on a
linear-time engine, RE2 (the `google-re2` binding, the `re` extra): no pattern
can make matching take more than time linear in the text, so none can hang
the VM.

* `re.compile(p)` -> a pattern (`typeof` "Pattern"); a bad pattern is a guest
  `ValueError` carrying RE2's message ("invalid pattern: missing ): (").
* `pat.match(s)` (anchored at the start) and `pat.search(s)` -> nil or a
  match (`typeof` "Match") with `group(i)` (nil for a group that did not
  take part; `group()` is group 0) and `span()`: the tuple `(start, end)` of
  group 0 in code points.
* `pat.find_all(s)` -> the texts of the non-overlapping matches (group 0).
* `pat.replace(s, repl)` replaces every match; `\\1`..`\\9` (and `\\0`) in
  repl name groups, as in RE2's `Replace` (write `"\\\\1"` in TinyLang).
* `pat.split(s)` -> the texts between matches (groups are not included).
The syntax is RE2's (https://github.com/google/re2/wiki/Syntax): no
backreferences or lookaround, which is what keeps matching linear.
Without the extra, `import re` is an `ImportError`-like guest error naming
`pip install 'tinyvm[re]'`.
The checker types patterns and matches as the opaque types `Pattern` and
`Match` (lang/tinylang/signatures.py RE_METHODS; library_generics.py);
parameters of those types check a value's `type_name` (vm/typecheck.py).
"""

from __future__ import annotations

from typing import Any

from ..heap.objects import HEADER, SLOT, Array, HeapObject, Native, Tuple
from ..runtime.builtins import arg_count_error
from ..runtime.errors import RtError
from ..runtime.values import typeof

__all__ = ["MISSING", "make_re_module"]

MISSING = "the re module needs google-re2: pip install 'tinyvm[re]'"


class Pattern(HeapObject):
    __slots__ = ("regex", "source")
    type_name = "Pattern"

    def __init__(self, regex: Any, source: str) -> None:
        self.regex = regex
        self.source = source

    def size(self) -> int:
        return HEADER + 2 * SLOT + 4 * len(self.source)

    def host_label(self) -> str:
        from ..runtime.values import quote_string

        return f"<Pattern {quote_string(self.source)}>"


class Match(HeapObject):
    __slots__ = ("m",)
    type_name = "Match"

    def __init__(self, m: Any) -> None:
        self.m = m

    def size(self) -> int:
        return HEADER + SLOT


def _str(name: str, v: Any) -> str:
    if type(v) is not str:
        raise RtError("TypeError", f"{name} expects a string, got {typeof(v)}")
    return v


def _one(name: str, args: tuple) -> str:
    if len(args) != 1:
        raise arg_count_error(name, 1, len(args))
    return _str(name, args[0])


def make_re_module(vm: Any) -> dict[str, Any]:
    try:
        import re2
    except ImportError:
        raise RtError("ValueError", MISSING) from None
    heap = vm.heap
    alloc = heap.alloc
    charge = vm.limits.charge_items
    options = re2.Options()
    options.log_errors = False  # (the message goes into the guest error instead)

    def compile_(*args: Any) -> Pattern:
        src = _one("re.compile", args)
        try:
            rx = re2.compile(src, options=options)
        except re2.error as e:
            msg = e.args[0] if e.args else str(e)
            if isinstance(msg, bytes):
                msg = msg.decode("utf-8", "replace")
            raise RtError("ValueError", f"invalid pattern: {msg}") from None
        heap.reserve(HEADER + 4 * len(src))
        return alloc(Pattern(rx, src))

    def matched(m: Any) -> Any:
        return None if m is None else alloc(Match(m))

    def p_match(p: Pattern, *args: Any) -> Any:
        s = _one("Pattern.match", args)
        charge(len(s))
        return matched(p.regex.match(s))

    def p_search(p: Pattern, *args: Any) -> Any:
        s = _one("Pattern.search", args)
        charge(len(s))
        return matched(p.regex.search(s))

    def p_find_all(p: Pattern, *args: Any) -> Array:
        s = _one("Pattern.find_all", args)
        charge(len(s))
        found = [m.group(0) for m in p.regex.finditer(s)]
        heap.charge(sum(heap_str(x) for x in found))
        return alloc(Array(found))

    def heap_str(x: str) -> int:
        return 2 * SLOT + len(x)

    def p_replace(p: Pattern, *args: Any) -> str:
        if len(args) != 2:
            raise arg_count_error("Pattern.replace", 2, len(args))
        s = _str("Pattern.replace", args[0])
        repl = _str("Pattern.replace", args[1])
        charge(len(s))
        try:
            out = p.regex.sub(repl, s)
        except (re2.error, IndexError) as e:
            raise RtError("ValueError", f"invalid replacement: {e}") from None
        return heap.charge_str(out)

    def p_split(p: Pattern, *args: Any) -> Array:
        s = _one("Pattern.split", args)
        charge(len(s))
        parts = []
        last = 0
        for m in p.regex.finditer(s):
            a, b = m.span()
            parts.append(s[last:a])
            last = b
        parts.append(s[last:])
        heap.charge(sum(heap_str(x) for x in parts))
        return alloc(Array(parts))

    def m_group(m: Match, *args: Any) -> Any:
        if len(args) > 1:
            raise arg_count_error("Match.group", "0 or 1", len(args))
        i = args[0] if args else 0
        if type(i) is not int:
            raise RtError("TypeError", f"Match.group expects an int, got {typeof(i)}")
        if not 0 <= i <= m.m.re.groups:
            raise RtError("IndexError", f"no group {i} (the pattern has {m.m.re.groups})")
        return m.m.group(i)

    def m_span(m: Match, *args: Any) -> Tuple:
        if args:
            raise arg_count_error("Match.span", 0, len(args))
        a, b = m.m.span()
        return alloc(Tuple((a, b)))

    vm.methods["Pattern"] = {"match": p_match, "search": p_search, "find_all": p_find_all, "replace": p_replace, "split": p_split}
    vm.methods["Match"] = {"group": m_group, "span": m_span}
    return {"compile": alloc(Native("compile", compile_, 1))}
