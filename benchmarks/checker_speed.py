"""Front-end speed: ``python -m benchmarks.checker_speed [--lines N] [--repeat N] [--seed S] [--keep FILE] [--run]``.

Generates a realistic TinyLang program of about N lines (default 10 000) --
classes with typed fields and methods (some with subclasses, `super` calls and
optional links), typed and untyped functions, loops with `break`/`continue`,
closures and lambdas (`map`/`filter`/`reduce`/`sort`), arrays, maps and records,
optionals with `nil` checks, `try`/`catch`/`finally`, string methods and calls
from later code to earlier functions -- from a fixed seed, so the same options
always give the same program. It writes the program to a temporary file (or to
FILE with ``--keep``), then times each front-end pass on it separately, best of
``--repeat`` runs (default 5), through the driver's own functions:

* parse   -- ``compiler.driver.parse_source`` (lexing included);
* resolve -- ``sema.resolver.Resolver(...).resolve_module``;
* check   -- ``sema.checker.check_module`` (the gradual type checker);
* emit    -- ``compiler.emitter.ModuleEmitter(...).module_code`` (assembling included).

Each run starts from a fresh parse, since the passes annotate the tree. Speeds
are in source lines per second; "front end" is the sum of the four best times.
The program must come through every pass with no diagnostic (the script exits
with status 1 otherwise); ``--run`` also runs it on the VM (``tvm run``) and
reports the time and the exit status.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import io
import math
import os
import platform
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Optional

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"
if SRC.is_dir() and str(SRC) not in sys.path:
    sys.path.insert(0, str(SRC))

from tinyvm.lang.tinylang.pipeline import STD_MODULES, parse_source  # noqa: E402
from tinyvm.lang.tinylang.emitter import ModuleEmitter  # noqa: E402
from tinyvm.lang.diagnostics import DiagnosticBag  # noqa: E402
from tinyvm.lang.tinylang.checker import check_module  # noqa: E402
from tinyvm.lang.tinylang.resolver import ModuleInfo, Resolver  # noqa: E402

IMPORTS = ("math",)  # standard modules the generated program imports


# --------------------------------------------------------------------------- generator
#
# Each unit is a template filled with its own number K (so names never clash)
# and random constants, plus a few top-level lines that call it and print the
# result, so the program also runs (quickly: every loop is small). Templates
# use @NAME@ placeholders, since TinyLang uses braces and "${...}" itself.


def fill(text: str, values: dict[str, object]) -> str:
    for k, v in values.items():
        text = text.replace(f"@{k}@", str(v))
    assert "@" not in text, text  # an unfilled placeholder
    return text


class Generator:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.leaf_fns: list[str] = []  # typed `fn(int, int) -> int` that call nothing: safe to call anywhere
        self.value_classes: list[str] = []  # classes with `init(int)` and `value() -> int`
        self.units = 0
        self.temps = 0  # numbers the `let` temporaries (unique names, as one scope may hold several)

    # ----------------------------------------------------------------- helpers

    def r(self, lo: int, hi: int) -> int:
        return self.rng.randint(lo, hi)

    def word(self) -> str:
        return self.rng.choice("alpha beta gamma delta kappa omega sigma theta zeta lambda".split())

    def int_stmt(self, depth: int, vars_: tuple[str, str]) -> list[str]:
        """One statement over two int locals; values stay small (every store is reduced mod a prime)."""
        x, y = vars_ if self.rng.random() < 0.5 else vars_[::-1]
        c, m = self.r(2, 9), self.rng.choice([8191, 9973, 10007, 65521])
        pad = "  " * depth
        kind = self.r(0, 7 if depth < 3 else 3)
        if kind == 0:
            return [f"{pad}{x} = ({x} * {c} + {y}) % {m}"]
        if kind == 1:
            return [f"{pad}{y} += {x} % {c} - {self.r(0, 5)}"]
        if kind == 2 and self.leaf_fns:
            fn = self.rng.choice(self.leaf_fns)
            return [f"{pad}{x} = ({x} + {fn}({x} % 50, {y} % 50)) % {m}"]
        if kind in (2, 3):
            return [f"{pad}{x} = abs({x} - {y} * {c}) % {m}"]
        if kind == 4:
            body = self.int_stmt(depth + 1, vars_)
            other = self.int_stmt(depth + 1, vars_)
            return [f"{pad}if {x} > {y} {{", *body, f"{pad}}} else {{", *other, f"{pad}}}"]
        if kind == 5:
            i = f"i{depth}"
            return [f"{pad}for {i} in 0..{self.r(2, 5)} {{", f"{pad}  {x} = ({x} + {i} * {c}) % {m}", f"{pad}}}"]
        if kind == 6:
            return [f"{pad}while {y} > {self.r(100, 900)} {{", f"{pad}  {y} = {y} / {c}", f"{pad}}}"]
        self.temps += 1
        t = f"t{self.temps}"
        return [f"{pad}let {t} = {x} * {c} - {y}", f"{pad}{y} = ({t} % {m} + {m}) % {m}"]

    # ----------------------------------------------------------------- units

    def u_calc(self, k: int) -> str:
        """A typed int function with a generated body; it becomes a leaf others call."""
        body: list[str] = []
        for _ in range(self.r(4, 12)):
            body += self.int_stmt(1, ("x", "y"))
        text = fill(
            """// calc@K@: integer arithmetic on typed locals.
fn calc@K@(a: int, b: int) -> int {
  var x: int = a
  var y = b + @C@
@BODY@
  return (x + y) % 100003
}
print("calc@K@", calc@K@(@A@, @B@))
""",
            {"K": k, "C": self.r(1, 99), "A": self.r(0, 40), "B": self.r(0, 40), "BODY": "\n".join(body)},
        )
        self.leaf_fns.append(f"calc{k}")
        return text

    def u_class(self, k: int) -> str:
        """A typed class, a subclass overriding a method with super, an optional parent link."""
        text = fill(
            """// Acc@K@: a typed class with an optional link, and a subclass.
class Acc@K@ {
  var name: string
  var total: int = 0
  var items: [int] = []
  var parent: Acc@K@? = nil
  fn init(name: string, seed: int) {
    self.name = name
    for i in 0..@N@ {
      self.items.push((seed * i + @C@) % @M@)
    }
  }
  fn sum() -> int {
    var s = 0
    for x in self.items { s += x }
    return s + self.total
  }
  fn add(v: int) -> Acc@K@ {
    self.total += v
    self.items.push(v % @M@)
    return self
  }
  fn depth() -> int {
    var d = 0
    var p: Acc@K@? = self.parent
    while p != nil {
      d += 1
      p = p.parent
    }
    return d
  }
  fn value() -> int { return self.sum() % 1000 }
  fn str() -> string { return "Acc@K@(${self.name}, ${self.total})" }
}

class Special@K@ extends Acc@K@ {
  var bonus: float = @F@
  var tags: [string] = []
  fn init(name: string, seed: int, bonus: float) {
    super.init(name, seed)
    self.bonus = bonus
    self.tags.push("@W@")
  }
  fn sum() -> int { return super.sum() + int(self.bonus * 10.0) }
}

fn use_acc@K@(n: int) -> int {
  let a = Acc@K@("a@K@", n)
  let b = Special@K@("b@K@", n + 1, @F@)
  b.parent = a
  a.add(n).add(@C@)
  var best: Acc@K@ = a
  if b.sum() > a.sum() { best = b }
  return best.sum() + b.depth() + len(str(a)) + b.tags.len()
}
print("acc@K@", use_acc@K@(@S@))
""",
            {"K": k, "N": self.r(3, 12), "C": self.r(1, 50), "M": self.r(50, 500), "F": f"{self.r(1, 99) / 10}",
             "W": self.word(), "S": self.r(1, 30)},
        )
        self.value_classes.append(f"Acc{k}")
        return text

    def u_untyped(self, k: int) -> str:
        """Untyped functions and an untyped class: `any` everywhere."""
        return fill(
            """// mix@K@: untyped code.
fn mix@K@(a, b) {
  var out = []
  for i in 0..@N@ {
    if i % 2 == 0 { out.push(a + i) } else { out.push(b * i) }
  }
  return out
}

class Bag@K@ {
  var items = []
  var label
  fn init(label) { self.label = label }
  fn put(x) {
    self.items.push(x)
    return self
  }
  fn size() { return len(self.items) }
  fn describe() { return "${self.label}:${self.size()}" }
}

fn fill_bag@K@(n) {
  let bag = Bag@K@("bag@K@")
  for v in mix@K@(n, @C@) { bag.put(v) }
  bag.put("@W@").put(nil)
  return bag.describe()
}
print(fill_bag@K@(@A@), mix@K@(1, 2)[1])
""",
            {"K": k, "N": self.r(3, 9), "C": self.r(1, 9), "A": self.r(1, 9), "W": self.word()},
        )

    def u_closures(self, k: int) -> str:
        """Closures over mutable variables and lambdas passed to array methods."""
        return fill(
            """// pipeline@K@: closures and lambdas.
fn make_counter@K@(step: int) -> fn() -> int {
  var n = 0
  return fn() -> int {
    n += step
    return n
  }
}

fn compose@K@(f: fn(int) -> int, g: fn(int) -> int) -> fn(int) -> int {
  return fn(x: int) -> int => f(g(x))
}

fn pipeline@K@(xs: [int]) -> int {
  let doubled = xs.map(fn(x) => x * @C@)
  let odd = doubled.filter(fn(x: int) -> bool => x % 2 == 1)
  let total = odd.reduce(fn(acc, x) => acc + x, 0)
  let c = make_counter@K@(@D@)
  c()
  let h = compose@K@(fn(v) => v + 1, fn(v) => v * @D@)
  return total + c() + h(@A@)
}
print("pipeline@K@", pipeline@K@([1, 2, 3, @N@, @A@]))
""",
            {"K": k, "C": self.rng.choice([1, 3, 5, 7]), "D": self.r(1, 9), "A": self.r(1, 20), "N": self.r(4, 30)},
        )

    def u_maps(self, k: int) -> str:
        """Maps and records: word counts and the most frequent word."""
        words = " ".join(self.word() for _ in range(self.r(4, 12)))
        return fill(
            """// words@K@: maps and records.
fn count_words@K@(text: string) -> [string: int] {
  var counts: [string: int] = [:]
  for w in text.split(" ") {
    counts[w] = counts.get(w, 0) + 1
  }
  return counts
}

fn top@K@(counts: [string: int]) -> {word: string, n: int} {
  var best = {word: "", n: 0}
  for k in counts {
    if counts[k] > best.n { best = {word: k, n: counts[k]} }
  }
  return best
}

fn spread@K@(counts: [string: int]) -> [string] {
  var out: [string] = []
  for kv in counts.items() {
    out.push("${kv[0]}=${kv[1]}")
  }
  if counts.has("@W@") { out.push("has @W@") }
  return out
}
let r@K@ = top@K@(count_words@K@("@TEXT@"))
print(r@K@.word, r@K@.n, spread@K@(count_words@K@("@TEXT@")).len())
""",
            {"K": k, "TEXT": words, "W": self.word()},
        )

    def u_optionals(self, k: int) -> str:
        """Optional values: a linked list, a search returning int?, nil checks."""
        return fill(
            """// list@K@: optionals and nil checks.
class Node@K@ {
  var value: int
  var next: Node@K@? = nil
  fn init(value: int, next: Node@K@?) {
    self.value = value
    self.next = next
  }
}

fn build@K@(n: int) -> Node@K@? {
  var head: Node@K@? = nil
  for i in 0..n {
    head = Node@K@(i * @C@, head)
  }
  return head
}

fn total@K@(head: Node@K@?) -> int {
  var s = 0
  var cur = head
  while cur != nil {
    s += cur.value
    cur = cur.next
  }
  return s
}

fn find@K@(xs: [int], v: int) -> int? {
  for i in 0..len(xs) {
    if xs[i] == v { return i }
  }
  return nil
}

fn first_value@K@(head: Node@K@?) -> int {
  if head == nil { return -1 }
  return head.value
}
let idx@K@ = find@K@([3, 1, 4, 1, 5, 9, 2, 6], @D@)
if idx@K@ != nil {
  print("found", idx@K@ + 1)
} else {
  print("missing")
}
print(total@K@(build@K@(@N@)), first_value@K@(build@K@(@D@)), first_value@K@(nil))
""",
            {"K": k, "C": self.r(1, 9), "D": self.r(0, 9), "N": self.r(2, 20)},
        )

    def u_errors(self, k: int) -> str:
        """Exceptions: a user error class, try/catch/finally, built-in errors."""
        return fill(
            """// risky@K@: errors.
class Err@K@ extends Error {
  var code: int = @C@
}

fn safe_div@K@(a: int, b: int) -> int {
  try {
    return a / b
  } catch e {
    return -1
  }
}

fn risky@K@(n: int) -> string {
  var log: [string] = []
  try {
    if n % 3 == 0 { throw Err@K@("bad ${n}") }
    log.push("ok")
  } catch e {
    if e is Err@K@ {
      log.push("err ${e.code}")
    } else {
      log.push("other")
    }
  } finally {
    log.push("done")
  }
  return ", ".join(log)
}
print(risky@K@(@A@), risky@K@(@B@), safe_div@K@(@A@, 0), safe_div@K@(@B@, 3))
""",
            {"K": k, "C": self.r(100, 999), "A": self.r(0, 30), "B": self.r(0, 30)},
        )

    def u_records(self, k: int) -> str:
        """Arrays of records, sorting with a key, map to another array."""
        return fill(
            """// rank@K@: arrays of records.
fn rank@K@(n: int) -> [string] {
  var people: [{name: string, age: int}] = []
  for i in 0..n {
    people.push({name: "p${i}", age: (i * @C@) % 50})
  }
  people.sort(fn(p) => p.age)
  return people.map(fn(p) => p.name)
}

fn oldest@K@(people: [{name: string, age: int}]) -> {name: string, age: int}? {
  var best: {name: string, age: int}? = nil
  for p in people {
    if best == nil or p.age > best.age { best = p }
  }
  return best
}
print(rank@K@(@N@).join(","), oldest@K@([{name: "a", age: @A@}, {name: "b", age: @B@}]))
""",
            {"K": k, "C": self.r(3, 17), "N": self.r(3, 10), "A": self.r(1, 90), "B": self.r(1, 90)},
        )

    def u_strings(self, k: int) -> str:
        """String methods and interpolation."""
        return fill(
            """// shout@K@: strings.
fn shout@K@(s: string) -> string {
  var parts: [string] = []
  for ch in s.chars() {
    if ch == "@L@" { parts.push(ch.upper()) } else { parts.push(ch) }
  }
  return "".join(parts).replace("a", "4").trim()
}

fn initials@K@(names: [string]) -> string {
  var out = ""
  for n in names {
    if n.len() == 0 { continue }
    out = out + n.slice(0, 1).upper()
    if out.len() > @N@ { break }
  }
  return out
}
print(shout@K@(" @W1@ @W2@ "), initials@K@("@W1@ @W2@ @W3@".split(" ")), "@W1@".starts_with("@L@"))
""",
            {"K": k, "L": self.rng.choice("aeiou"), "N": self.r(2, 5), "W1": self.word(), "W2": self.word(), "W3": self.word()},
        )

    def u_gradual(self, k: int) -> str:
        """Typed functions called from untyped code and the other way round."""
        cls = self.rng.choice(self.value_classes) if self.value_classes else None
        extra = f"  let obj: {cls} = {cls}(\"g{k}\", n % 7)\n  r += obj.value()\n" if cls else ""
        return fill(
            """// gradual@K@: typed and untyped code calling each other.
fn typed_sq@K@(x: int) -> int { return x * x }

fn dyn@K@(v) { return typed_sq@K@(v) + 1 }

fn apply@K@(f, v: int) -> int {
  let r: int = f(v)
  return r
}

fn gradual@K@(n: int) -> int {
  var r = apply@K@(dyn@K@, n) + apply@K@(fn(z) => z - 1, n)
@EXTRA@  return r
}
print("gradual@K@", gradual@K@(@A@))
""",
            {"K": k, "A": self.r(1, 40), "EXTRA": extra},
        )

    def u_matrix(self, k: int) -> str:
        """Nested arrays, while loops with break and continue, float math."""
        return fill(
            """// matrix@K@: nested arrays and float math.
fn matrix@K@(n: int) -> [[int]] {
  var m: [[int]] = []
  for i in 0..n {
    var row: [int] = []
    for j in 0..n {
      row.push((i * j + @C@) % 10)
    }
    m.push(row)
  }
  return m
}

fn trace@K@(m: [[int]]) -> int {
  var t = 0
  var i = 0
  while true {
    if i >= len(m) { break }
    if m[i][i] % 2 == 0 {
      i += 1
      continue
    }
    t += m[i][i]
    i += 1
  }
  return t
}

fn norm@K@(m: [[int]]) -> float {
  var s: float = 0
  for row in m {
    for v in row { s += float(v * v) }
  }
  return math.sqrt(s)
}
let m@K@ = matrix@K@(@N@)
print("matrix@K@", trace@K@(m@K@), floor(norm@K@(m@K@) * 100.0), max(m@K@[0]))
""",
            {"K": k, "C": self.r(0, 9), "N": self.r(2, 6)},
        )

    def u_main(self, k: int) -> str:
        """A driver function calling several earlier leaf functions."""
        picks = self.rng.sample(self.leaf_fns, min(len(self.leaf_fns), self.r(2, 5)))
        lines = [f"  acc = (acc + {fn}(acc % 30, {self.r(0, 30)})) % 99991" for fn in picks]
        return fill(
            """// driver@K@: calls earlier functions.
fn driver@K@(rounds: int) -> int {
  var acc = @A@
  for r in 0..rounds {
@LINES@
  }
  return acc
}
print("driver@K@", driver@K@(@R@))
""",
            {"K": k, "A": self.r(0, 30), "R": self.r(1, 3), "LINES": "\n".join(lines)},
        )

    UNITS: list[tuple[Callable[["Generator", int], str], int]] = [
        (u_calc, 4),
        (u_class, 2),
        (u_untyped, 2),
        (u_closures, 2),
        (u_maps, 1),
        (u_optionals, 2),
        (u_errors, 1),
        (u_records, 1),
        (u_strings, 1),
        (u_gradual, 1),
        (u_matrix, 1),
        (u_main, 1),
    ]

    def unit(self, k: int) -> str:
        if k < 2:
            fn = Generator.u_calc  # leaf functions first: drivers and bodies call them
        else:
            fns, weights = zip(*self.UNITS)
            fn = self.rng.choices(fns, weights)[0]
        self.units += 1
        return fn(self, k)

    def program(self, lines: int) -> str:
        head = [
            f"// Generated by benchmarks/checker_speed.py (about {lines} lines): a mix of",
            "// typed and untyped TinyLang for timing the front end.",
            *(f"import {m}" for m in IMPORTS),
        ]
        parts = ["\n".join(head) + "\n"]
        count = len(head) + 1
        k = 0
        while count < lines:
            text = self.unit(k)  # ends with a newline; the join adds a blank line
            parts.append(text)
            count += text.count("\n") + 1
            k += 1
        return "\n".join(parts)


def generate(lines: int, seed: int) -> str:
    return Generator(seed).program(lines)


# --------------------------------------------------------------------------- timing

PASSES = ("parse", "resolve", "check", "emit")


def std_imports() -> dict[str, ModuleInfo]:
    return {m: ModuleInfo(m, {n: None for n in STD_MODULES[m]}) for m in IMPORTS}


def time_passes(source: str, path: str) -> tuple[dict[str, float], list[str]]:
    """One run of the four passes on a fresh tree; returns seconds per pass and
    the diagnostics (as text) of the first pass that reported any."""
    out: dict[str, float] = {}
    bag = DiagnosticBag(path, source)
    imports = std_imports()

    def timed(name: str, fn: Callable[[], object]) -> object:
        gc.collect()
        t0 = time.perf_counter()
        result = fn()
        out[name] = time.perf_counter() - t0
        return result

    mod = timed("parse", lambda: parse_source(source, path, bag))
    if not bag:
        resolver = Resolver(bag, imports, False, ())
        scope = timed("resolve", lambda: resolver.resolve_module(mod))
        if not bag:
            timed("check", lambda: check_module(mod, scope, bag, imports, resolver.globals))
            if not bag:
                timed("emit", lambda: ModuleEmitter(path, bag).module_code(mod, scope))
    errors = [d.render(source) for d in bag.items[:10]]
    if len(bag.items) > 10:
        errors.append(f"... and {len(bag.items) - 10} more")
    return out, errors


def run_program(path: str) -> tuple[float, int, str]:
    from tinyvm.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    t0 = time.perf_counter()
    try:
        code = main(["run", path], stdout=out, stderr=err)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    return time.perf_counter() - t0, code or 0, err.getvalue()


def fmt_rate(lines: int, seconds: float) -> str:
    return f"{lines / seconds:,.0f}".replace(",", " ") if seconds > 0 else "-"


def parse_args(argv: Optional[list[str]]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks.checker_speed",
        description="Time the TinyLang front end (parse, resolve, type check, emit) on a generated program.",
    )
    ap.add_argument("--lines", type=int, default=10_000, metavar="N", help="size of the generated program (default 10000)")
    ap.add_argument("--repeat", type=int, default=5, metavar="N", help="runs of each pass; the best is reported (default 5)")
    ap.add_argument("--seed", type=int, default=1, help="random seed of the generator (default 1)")
    ap.add_argument("--keep", metavar="FILE", help="save the generated program to FILE")
    ap.add_argument("--run", action="store_true", help="also run the program on the VM and report its time")
    args = ap.parse_args(argv)
    if args.lines < 1 or args.repeat < 1:
        ap.error("--lines and --repeat must be at least 1")
    return args


def main(argv: Optional[list[str]] = None) -> int:
    args = parse_args(argv)
    gen = Generator(args.seed)
    source = gen.program(args.lines)
    nlines = source.count("\n") + (0 if source.endswith("\n") else 1)

    with contextlib.ExitStack() as stack:
        if args.keep:
            path = os.path.abspath(args.keep)
        else:
            tmp = stack.enter_context(tempfile.TemporaryDirectory())
            path = os.path.join(tmp, "generated.tl")
        Path(path).write_text(source, encoding="utf-8")

        best = {p: math.inf for p in PASSES}
        for _ in range(args.repeat):
            times, errors = time_passes(source, path)
            if errors:
                print(f"the generated program has errors (seed {args.seed}, {nlines} lines):")
                for e in errors:
                    print(e)
                if not args.keep:
                    print("(rerun with --keep FILE to look at it)")
                return 1
            for p in PASSES:
                best[p] = min(best[p], times[p])

        print(f"TinyLang front end on a generated program: {nlines} lines, {gen.units} units, "
              f"seed {args.seed}, best of {args.repeat} (CPython {platform.python_version()})")
        header = f"{'pass':<12} {'best s':>9} {'lines/s':>12}"
        print(header)
        print("-" * len(header))
        for p in PASSES:
            print(f"{p:<12} {best[p]:>9.3f} {fmt_rate(nlines, best[p]):>12}")
        print("-" * len(header))
        total = sum(best.values())
        print(f"{'front end':<12} {total:>9.3f} {fmt_rate(nlines, total):>12}")
        if args.keep:
            print(f"wrote {path}")

        if args.run:
            seconds, code, err = run_program(path)
            status = "ok" if code == 0 else f"FAILED (exit status {code})"
            print(f"tvm run: {seconds:.3f} s, {status}")
            if code != 0:
                for line in err.rstrip().splitlines()[:10]:
                    print(f"    {line}")
                return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
