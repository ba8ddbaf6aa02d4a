"""Small native callees inlined at every call site (jit/native/inlining.py).

A non-recursive function of a native group called from several places is
marked `alwaysinline` when it is small, and LLVM folds a copy into each
caller. The tests check that this really happens (the module's marks, and
no call of the callee left after LLVM's passes; with the limit at 0 the
calls stay, so the checks would fail if the feature were lost), and that
nothing observable changes: an exit (deopt) and a throw inside an inlined
callee rebuild every frame (identical traces on the three tiers), fuel
totals and fuel limits stop at the same instruction, and the native depth
still overflows exactly where the interpreter does.
"""

from __future__ import annotations

import re

import pytest

llvmlite = pytest.importorskip("llvmlite")

from native_helpers import agree_log, cli, module_texts, outcome, used  # noqa: E402

from tinyvm.jit.native import inlining, selfinline  # noqa: E402

# Towers-like: `put` is called from `build` (a loop) and from `move_one`,
# `move_one` twice from the recursive `go`; `take` once. `put` throws for a
# negative disk and its `top * 2 + d` overflows for a huge one.
HANOI = """
class Hanoi {
  var piles: [int] = [0, 0, 0]
  var moves: int = 0

  fn put(pile: int, d: int) {
    let top = self.piles[pile]
    if d < 0 {
      throw Error("negative: " + str(d))
    }
    self.piles[pile] = top * 2 + d
  }

  fn take(pile: int) -> int {
    let top = self.piles[pile]
    self.piles[pile] = top / 2
    return top % 2 + 1
  }

  fn build(pile: int, n: int) {
    var i = n
    while i > 0 {
      self.put(pile, i % 2)
      i -= 1
    }
  }

  fn move_one(a: int, b: int, bump: int) {
    self.put(b, self.take(a) + bump)
    self.moves += 1
  }

  fn go(n: int, a: int, b: int, bump: int) {
    if n == 1 {
      self.move_one(a, b, bump)
    } else {
      let c = 3 - a - b
      self.go(n - 1, a, c, bump)
      self.move_one(a, b, bump)
      self.go(n - 1, c, b, bump)
    }
  }
}

fn run(n: int, bump: int) -> int {
  let h = Hanoi()
  h.build(0, n)
  h.go(n, 0, 1, bump)
  return h.moves + h.piles[1] + h.piles[0]
}

print(run(10, 0))
try { print(run(8, -5)) } catch e { print("caught " + str(e)) }
print(run(12, 0))
"""
OVERFLOW = HANOI + "print(run(6, 4611686018427387904))\n"


def _group(monkeypatch: pytest.MonkeyPatch) -> str:
    """The LLVM IR text (before LLVM's passes) of the module holding `go`,
    with TinyVM's own inlining of leaf methods off (selfinline.py would
    splice `put` and `take` into their callers' IR: then LLVM has no call
    of them left to inline, which these tests are about)."""
    monkeypatch.setattr(selfinline, "candidates", lambda fn, code: [])
    texts = [t for t in module_texts(HANOI, monkeypatch) if "alwaysinline" in t or t.count("define internal") > 2]
    (text,) = [t for t in texts if t.count("define internal") >= 4]
    return text


def _sites(text: str) -> dict[str, int]:
    calls, _ = inlining.call_graph(text)
    n: dict[str, int] = {}
    for cs in calls.values():
        for c in cs:
            n[c] = n.get(c, 0) + 1
    return n


def test_a_small_callee_is_inlined_at_its_every_pass_sites(monkeypatch: pytest.MonkeyPatch) -> None:
    from tinyvm.jit.native.codegen import Codegen

    text = _group(monkeypatch)
    sites = _sites(text)
    inlined = {m.group(1) for m in re.finditer(r"call \{[^}]*\} @(f\d+)\(.*\) #90$", text, re.M)}
    # put, at both sites (build's loop body, move_one's straight line);
    # move_one (go, twice) is too big with put and take inlined into it
    # (inlining.MULTI_LINES), and its sites are conditional anyway.
    assert len(inlined) == 1 and all(sites[f] == 2 for f in inlined), (sites, inlined)
    assert "attributes #90 = { alwaysinline }" in text
    after = Codegen().object_code(text, {}, keep_text=True)[1]
    for f in inlined:
        assert f"@{f}(" not in after, f  # (every site inlined, the function dropped: globaldce)
    # With the limit at 0 only the once-called functions are marked: the
    # calls stay (this test would fail if the feature were lost).
    plain = text.replace(" #90\n", inlining.SITE + "\n").replace("attributes #90 = { alwaysinline }\n", "")
    plain = inlining.mark_inline(plain.replace(" alwaysinline {", " {"), multi=0)
    assert "#90" not in plain
    kept = Codegen().object_code(plain, {}, keep_text=True)[1]
    assert all(f"@{f}(" in kept for f in inlined)


COND = """
fn tiny(x: int) -> int { return x * 3 + 1 }
fn f(n: int) -> int {
  var s = 0
  for i in 0..n {
    s += tiny(i)
    if i % 3 == 0 { s += tiny(s % 7) }
  }
  return s
}
print(f(100))
print(f(1000))
"""


def test_a_call_on_a_conditional_path_stays_a_call(monkeypatch: pytest.MonkeyPatch) -> None:
    # tiny runs on every pass of the loop at its first site, on a third of
    # them at the second: only the first is inlined.
    from tinyvm.jit.native.codegen import Codegen

    (text,) = [t for t in module_texts(COND, monkeypatch) if "define internal" in t]
    tiny = [f for f, k in _sites(text).items() if k == 2]
    assert len(tiny) == 1 and text.count(f"@{tiny[0]}(") == 3, text  # (its definition and two calls)
    assert len(re.findall(rf"@{tiny[0]}\(.*\) #90$", text, re.M)) == 1, text
    after = Codegen().object_code(text, {}, keep_text=True)[1]
    assert len(re.findall(rf"call .*@{tiny[0]}\(", after)) == 1, after
    agree_log(COND, "f")


def test_an_exit_and_a_throw_inside_an_inlined_callee_rebuild_every_frame() -> None:
    want, log = agree_log(OVERFLOW, "run")
    assert want[0] != 0 and "OverflowError" in want[2] and "at Hanoi.put" in want[2], want
    assert 'caught Error(message: "negative: -3", stack: "at Hanoi.put' in want[1], want
    assert "at Hanoi.move_one" in want[1] and "at Hanoi.go" in want[1]
    # Both left native code from inside the inlined put, deep in go's recursion.
    throw = [x for x in log if "Hanoi.put, " in x and "a throw" in x]
    fails = [x for x in log if "Hanoi.put, " in x and "mul fails" in x]
    assert throw and fails, log
    assert all(int(re.search(r"(\d+) native frames", x).group(1)) >= 5 for x in throw + fails), log


def test_fuel_totals_are_identical_with_inlined_callees() -> None:
    want = used(HANOI, "off")[:2]
    assert used(HANOI, "eager")[:2] == want
    n, out, log = used(HANOI, "native-eager")
    assert (n, out) == want and any(x.startswith("jit: native run in ") for x in log), log


@pytest.mark.parametrize(("fuel", "where"), [(189288, "Hanoi.put"), (156934, "Hanoi.move_one"), (200001, "Hanoi.go")])
def test_fuel_limits_stop_inside_inlined_callees_at_the_same_instruction(fuel: int, where: str) -> None:
    # (the limits picked so that native code runs out inside put, inlined
    # at its two sites, inside move_one, which put is inlined into, and in
    # go's own code: "(pc N, <where>, K native frames)")
    want = cli(["run", f"--fuel={fuel}", "-e", HANOI])
    code, out, err = cli(["run", "--jit=native-eager", "--jit-log", f"--fuel={fuel}", "-e", HANOI])
    rest = "".join(x + "\n" for x in err.splitlines() if not x.startswith("jit: "))
    assert (code, out, rest) == want and want[0] == 3 and "out of fuel" in want[2]
    first = [x for x in err.splitlines() if "out of fuel in native code" in x][0]
    assert f", {where}, " in first and " native frames)" in first, err


DEEP = """
fn bump(x: int) -> int { return x %% 5 + 1 }
fn down(n: int) -> int {
  let a = bump(n)
  let b = bump(n + 1)
  if n == 0 { return a + b }
  return down(n - 1) + a + b + bump(n + 2)
}
fn go(n: int) -> int { return down(n) }
print(go(50))
print(go(%d))
"""


@pytest.mark.parametrize("n", [150, 5000])
def test_the_native_depth_stays_exact_through_inlined_callees(n: int, monkeypatch: pytest.MonkeyPatch) -> None:
    # bump is inlined at two of its three sites in down (a machine frame of
    # down holds down and two bumps); the recursion deeper than the guest limit
    # must overflow at the same frame with the same trace as the interpreter.
    src = DEEP % n
    (text,) = [t for t in module_texts(DEEP % 60, monkeypatch) if t.count("define internal") >= 2]
    sites = _sites(text)
    assert [f for f, k in sites.items() if k == 3 and len(re.findall(rf"@{f}\(.*\) #90$", text, re.M)) == 2], text  # (a and b: the third site is on one path)
    got = {"off": outcome(src, "off", max_depth=120)[0]}
    got["native-eager"], log = outcome(src, "native-eager", max_depth=120)
    assert got["off"] == got["native-eager"], got
    assert got["off"][0] == "453\n" and "StackOverflow" in got["off"][1], got
    assert any(x.startswith("jit: native go in ") for x in log) and any("native depth at a call" in x for x in log), log


def _fn(name: str, lines: int, calls: list[str] = ()) -> str:  # type: ignore[assignment]
    """A function of `lines` lines calling `calls` ("!": at an every-pass site)."""
    body = [f"  %c{k} = call {{i64, i64}} @{c.rstrip('!')}(i64* %ctx, i64 0)" + (inlining.SITE if c.endswith("!") else "") for k, c in enumerate(calls)]
    body += ["  %x = add i64 0, 0"] * (lines - len(body) - 2)
    return "\n".join([f"define internal {{i64, i64}} @{name}(i64* %ctx, i64 %cd) {{", "entry:", *body, "  ret {i64, i64} zeroinitializer", "}", ""])


def test_the_marks_leave_recursion_big_chains_and_conditional_sites_alone() -> None:
    text = "\n".join(
        [
            "define i32 @entry(i64* %ctx) {\nentry:\n  %r = call {i64, i64} @f0(i64* %ctx, i64 0)\n  ret i32 0\n}\n",
            _fn("f0", 30, ["f1!", "f1", "f2!", "f2!", "f3!", "f3!", "f5!", "f5!"]),
            _fn("f1", 50),  # (small, two sites: the every-pass one marked)
            _fn("f2", 40, ["f2", "f4!"]),  # (recursive: never at several sites)
            _fn("f3", 300, ["f4!", "f4!"]),  # (300 + 2 x 300 with f4 inlined: too big at 700)
            _fn("f4", 300),  # (three sites, 300 lines: marked)
            _fn("f5", 200, ["f6"]),  # (200 + f6 inlined once)
            _fn("f6", 100),  # (one site: marked by the once rule)
        ]
    )
    assert inlining.inline_marks(text, multi=700) == ({"f0", "f6"}, {"f1", "f4", "f5"})
    assert inlining.inline_marks(text, multi=1000) == ({"f0", "f6"}, {"f1", "f3", "f4", "f5"})
    assert inlining.inline_marks(text, multi=0) == ({"f0", "f6"}, set())  # (the once rule alone, as before)
    assert inlining.recursive(inlining.call_graph(text)[0]) == {"f2"}
    out = inlining.mark_inline(text, multi=700)
    assert out.count(" #90\n") == 1 + 3 + 2 and "%c1 = call {i64, i64} @f1(i64* %ctx, i64 0)\n" in out  # (f1's second site: not every pass)
