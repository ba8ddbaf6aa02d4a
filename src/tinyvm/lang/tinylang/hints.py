"""What the message for an undeclared name adds, for new users (spec section
13; issue 18 item 4):

* a standard module used without its import (`math.sqrt(2)` with no
  `import math`): "add 'import math'";
* a distinctive name a standard module exports (`pi`, `now_ms`): "add
  'from math import pi'";
* otherwise the closest name in scope, built-ins included: "did you mean
  'count'?", by edit distance (a transposition counts as one edit, so
  `pritn` finds `print`). Short names need a closer match: one edit up to
  five characters, two beyond, and never as many edits as the name is long
  (`x` does not suggest `y`).
"""

from __future__ import annotations

from collections.abc import Iterable

from . import signatures as S


def edit_distance(a: str, b: str, limit: int) -> int:
    """Damerau-Levenshtein distance (optimal string alignment) of a and b,
    or limit + 1 once it is sure to exceed limit."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        if min(cur) > limit:
            return limit + 1
        prev2, prev = prev, cur
    return prev[-1]


def closest(name: str, candidates: Iterable[str]) -> str | None:
    """The candidate nearest to name (the first of equals: candidates come
    innermost scope first), if it is near enough."""
    limit = 1 if len(name) <= 5 else 2
    limit = min(limit, len(name) - 1)
    if limit < 1:
        return None
    best, best_d = None, limit + 1
    seen = set()
    for c in candidates:
        if c in seen or c == name or c.startswith("__"):
            continue
        seen.add(c)
        d = edit_distance(name, c, limit)
        if d < best_d:
            best, best_d = c, d
    return best


# Exports distinctive enough to name their module (not `e`, `int`, `args`...).
_DISTINCTIVE = frozenset(
    ["pi", "inf", "nan", "sin", "cos", "tan", "atan2", "exp", "log", "pow", "now_ms", "monotonic_ms", "monotonic_us", "stringify", "read_text", "write_text", "list_dir"]
)


def _exporters() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for module, mt in S.STD_MODULE_TYPES.items():
        for n, _ in mt.exports:
            if n in _DISTINCTIVE:
                out.setdefault(n, []).append(module)
    return out


_EXPORTED_BY = _exporters()


def undeclared(name: str, candidates: Iterable[str]) -> str:
    """The message for an undeclared name."""
    base = f"undeclared name '{name}'"
    if name in S.STD_MODULE_TYPES:
        return f"{base}; to use the standard module, add 'import {name}'"
    modules = _EXPORTED_BY.get(name)
    if modules:
        return f"{base}; it is in the {modules[0]} module: add 'from {modules[0]} import {name}'"
    # (not the hidden `v?` of an `if let`, which no program can write)
    near = closest(name, (c for c in candidates if not c.endswith("?")))
    return f"{base}; did you mean '{near}'?" if near is not None else base
